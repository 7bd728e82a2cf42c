#!/usr/bin/env python3
"""Benchmark: what the sandbox around each grading kernel costs (issue #11).

Builds K synthetic Part 2 submissions (as bench_grading.py does) and autogrades all of them with
``course.grading.Grader`` one after the other, with the sandbox and without it (``--no-sandbox``), in
the same run and interleaved, each in a fresh process from a fresh gradebook, without spare kernels (they need
the sandbox, so they would count for it).  Reports the time per submission both ways and their ratio; the two
gradings must give every submission the same score.

    python bench/bench_sandbox.py [-k 8] [--repeat R]
"""
import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench_grading import ASSIGNMENT, _keep_best, build_course, fresh_start, scores, timed

from course import sandbox

GRADE = """
import sys
from pathlib import Path
from course.grading import Grader
from course.folders import Course
course = Course(Path(sys.argv[1]))
grader = Grader(course, log=lambda *a: None, sandbox=sys.argv[2] == "on")
grader.api.config.GuardedExecute.spare_kernels = False  # spares need the sandbox: off both ways, the wall alone
for student in course.students():
    grader.autograde(student, sys.argv[3])
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", type=int, default=8, help="number of submissions (default 8)")
    parser.add_argument("--repeat", type=int, default=1, help="measure R times, keep the best of each (default 1)")
    args = parser.parse_args(argv)
    if not sandbox.available().ok:
        print(f"no sandbox here: {sandbox.available().why}")
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    try:
        course, kinds = build_course(work / "course", args.k)
        generated = work / "generated.db"
        shutil.copy(course.root / "gradebook.db", generated)
        print(f"Part 2 ({ASSIGNMENT}), {args.k} submissions graded one after the other; {os.cpu_count()} CPUs")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        best, graded = {}, {}
        for _ in range(args.repeat):
            for mode in ("on", "off"):
                fresh_start(course, generated)
                _keep_best(best, mode, timed([sys.executable, "-c", GRADE, str(course.root), mode, ASSIGNMENT],
                                             course.root))
                graded[mode] = scores(course)
        k = args.k
        print(f"\n{'':30}{'total':>8}{'per submission':>16}")
        for mode, label in (("off", "without the sandbox"), ("on", "in the sandbox")):
            print(f"{label:30}{best[mode]:7.1f}s{best[mode] / k:15.2f}s")
        print(f"\nsandbox cost per submission: {best['on'] / best['off']:.2f}x the unsandboxed time "
              f"({(best['on'] - best['off']) / k:+.2f} s)")
        same = graded["on"] == graded["off"]
        print(f"same score for every submission both ways: {'yes' if same else 'NO'}")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
