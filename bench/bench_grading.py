#!/usr/bin/env python3
"""Benchmark: grading on the Dask engine, and what autograding costs over running the notebooks (issues #8, #15).

Builds K synthetic Part 2 submissions (correct, mistaken and adversarial, mixed) and measures, in one run:

* **speed-up**: all K graded by plain ``nbgrader autograde`` one kernel at a time (spare kernels off:
  truly sequential), by plain ``nbgrader autograde`` as configured (its spare kernel starts while a
  notebook runs, so one process already uses a second core), and by ``course grade --jobs N`` (a local
  Dask cluster of N workers, course/cluster.py, in a fresh process, cluster start-up included), and by
  ``course grade --jobs N --draw-figures`` (every kernel draws the course's figures itself instead of
  showing the release notebook's recording, course/figure_record.py: what the parallel engine alone gives);
  every grading must give every submission the same score.  The **ceiling** is what N cores give with no
  engine at all: N sequential ``nbgrader autograde`` processes at once, each on its own 1/N of the
  submissions in its own course copy (an instructor splitting the class by hand).  Above both is the
  machine's: N copies of a CPU-bound loop at once against one alone (a virtual machine's N cores need not
  do N times the work);
* **overhead**: the honest submissions (correct and mistaken) autograded by ``course grade`` in one
  process (the guarded kernel, the scan, the notes: everything the course adds) and by plain ``nbgrader
  autograde``, against bare execution of the same notebooks with nbclient (NBGRADER_EXECUTION set as
  nbgrader sets it, so heavy demo cells shrink the same way).  Adversarial notebooks are left out of
  this ratio: the grading guard runs them differently on purpose (it cuts a million-line print short,
  caps memory, ...), and bare execution of some of them is not safe;
* **the whole course** (``--course C``, 0 to skip): the four notebooks of C students each (correct and
  mistaken alternating) graded end to end by ``course grade --jobs N``, one cluster for all four as in
  ``course demo``: seconds per student.

Every timing includes its process start-up.  The load average is printed before and after: on a busy
machine the figures mean little (--repeat R keeps the best of R interleaved runs of each).

    python bench/bench_grading.py [-k 24] [--jobs 2] [--repeat R] [--course C] [--keep DIR]

Adversarial cases that wait out a time limit (an infinite loop, a loop that ignores interrupts) are left
out: they would measure the limit, not the grading.
"""
import argparse
import importlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course import submissions  # noqa: E402
from course.grading import Grader  # noqa: E402
from course.folders import Course  # noqa: E402
from tests.adversarial import CASES  # noqa: E402
from mistakes.computation_graphs import MISTAKES  # noqa: E402

ASSIGNMENT = "02-computation-graphs"
WAITS_FOR_A_LIMIT = {"infinite-loop", "ignores-interrupt"}

GRADE_COURSE = """
import sys
from pathlib import Path
from course import cluster
from course.folders import Course
course = Course(Path(sys.argv[1]))
with cluster.connect(jobs=int(sys.argv[2])) as client:
    for assignment in course.assignments():
        list(cluster.grade(client, course, assignment, course.students()))
"""

EXECUTE = """
import os, shutil, sys, tempfile
from pathlib import Path
import nbformat
from nbclient import NotebookClient
os.environ["NBGRADER_EXECUTION"] = "autograde"
for path in sorted(Path(sys.argv[1]).glob(sys.argv[2] + "/*/*.ipynb")):
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(shutil.copytree(path.parent, Path(scratch) / "nb"))
        NotebookClient(nbformat.read(path, as_version=4), timeout=60, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(folder)}}).execute()
"""
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
PLAIN = [NBGRADER, "autograde", ASSIGNMENT, "--force"]  # plain nbgrader autograde, spare kernels on
SEQUENTIAL = PLAIN + ["--GuardedExecute.spare_kernels=False"]  # one kernel at a time
COURSE_GRADE = [sys.executable, "-m", "course", "grade", ASSIGNMENT]
HONEST = "h*"  # student ids: h... for correct and mistaken submissions, a... for adversarial ones
CATALOGUES = {"01-why-backprop": "why_backprop", "02-computation-graphs": "computation_graphs",
              "03-layers": "layers", "04-homework": "homework"}


def build_course(folder, k):
    """A course folder with Part 2 generated and k submissions in submitted/; returns (course, kinds)."""
    course = Course(Path(folder))
    course.root.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course.root)
    shutil.copytree(ROOT / "source" / ASSIGNMENT, course.source / ASSIGNMENT)
    Grader(course, log=lambda *a: None).generate(ASSIGNMENT)
    source = nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4)
    release = nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
    solution = submissions.solution_code(source)
    filename = course.notebook_names(ASSIGNMENT)[0]
    mistakes = itertools.cycle(MISTAKES)
    attacks = itertools.cycle([c for c in CASES if c.name not in WAITS_FOR_A_LIMIT and c.name != "perfect"])
    kinds = {}
    for i in range(k):
        kind = ("correct", "mistaken", "adversarial")[i % 3]
        if kind == "correct":
            name, nb = "perfect", submissions.perfect(source, release)
        elif kind == "mistaken":
            mistake = next(mistakes)
            name, nb = mistake.name, submissions.with_mistake(source, release, mistake)
        else:
            case, nb = next(attacks), None
            name = case.name
        student = f"{'a' if kind == 'adversarial' else 'h'}{i:03d}-{name}"
        folder = course.submitted / student / ASSIGNMENT
        if nb is None:
            case.build(solution, release, folder, filename)
        else:
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / filename)
        kinds[student] = kind
    return course, kinds


def build_whole_course(folder, students):
    """A course folder with all four assignments generated and each student's four notebooks submitted."""
    course = Course(Path(folder))
    course.root.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course.root)
    shutil.copytree(ROOT / "source", course.source)
    grader = Grader(course, log=lambda *a: None)
    for assignment in course.assignments():
        grader.generate(assignment)
        source = nbformat.read(course.source_notebook(assignment), as_version=4)
        release = nbformat.read(course.release_notebook(assignment), as_version=4)
        mistakes = importlib.import_module(f"mistakes.{CATALOGUES[assignment]}").MISTAKES
        for i in range(students):
            nb = (submissions.perfect(source, release) if i % 2 == 0
                  else submissions.with_mistake(source, release, mistakes[i // 2 % len(mistakes)]))
            folder = course.submitted / f"s{i:03d}" / assignment
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / course.notebook_names(assignment)[0])
    return course


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}


def timed(cmd, cwd):
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def scores(course):
    """student -> score, or None where grading did not finish, from the course's gradebook."""
    grader = Grader(course, log=lambda *a: None)
    graded = {}
    for student in course.students():
        result = grader.result(student, ASSIGNMENT)
        graded[student] = result.score if result.status == "graded" else None
    return graded


def _keep_best(best, name, seconds):
    best[name] = min(seconds, best.get(name, seconds))


def fresh_start(course, gradebook):
    shutil.copy(gradebook, course.root / "gradebook.db")
    shutil.rmtree(course.autograded, ignore_errors=True)


def split_course(course, parts, folder):
    """``parts`` copies of the course, each holding every parts-th student's submissions (for the ceiling)."""
    students = course.students()
    copies = []
    for i in range(parts):
        copy = Course(folder / f"part{i}")
        shutil.copytree(course.root, copy.root, ignore=shutil.ignore_patterns("submitted", "autograded"))
        for student in students[i::parts]:
            shutil.copytree(course.submitted / student, copy.submitted / student)
        copies.append(copy)
    return copies


def timed_at_once(cmd, folders):
    """Seconds until ``cmd`` has finished in every folder, all started at once."""
    env = _env()
    start = time.perf_counter()
    running = [subprocess.Popen(cmd, cwd=f, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for f in folders]
    for process in running:
        process.wait()
    return time.perf_counter() - start


LOOP = "s = 0\nfor i in range(30_000_000):\n    s += i"


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_ceiling(jobs, repeat=3):
    """Throughputs of ``jobs`` copies of a CPU-bound loop at once against one alone, ``repeat`` times;
    prints their range."""
    ratios = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", LOOP], check=True)
        alone = time.perf_counter() - start
        start = time.perf_counter()
        for copy in [subprocess.Popen([sys.executable, "-c", LOOP]) for _ in range(jobs)]:
            copy.wait()
        ratios.append(jobs * alone / (time.perf_counter() - start))
    print(f"the machine: {jobs} CPU-bound loops at once do {min(ratios):.2f}x to {max(ratios):.2f}x "
          f"the work of one in the same time ({repeat} tries)", flush=True)
    return ratios


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", type=int, default=24, help="number of submissions (default 24)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for course grade (default 2)")
    parser.add_argument("--course", type=int, default=4, metavar="C",
                        help="students for the whole-course run (default 4; 0 skips it)")
    parser.add_argument("--repeat", type=int, default=1, help="measure R times, keep the best of each (default 1)")
    parser.add_argument("--keep", help="build the course in this folder and keep it")
    args = parser.parse_args(argv)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        course, kinds = build_course(work / "course", args.k)
        generated = work / "generated.db"
        shutil.copy(course.root / "gradebook.db", generated)
        counts = {k: list(kinds.values()).count(k) for k in ("correct", "mistaken", "adversarial")}
        print(f"Part 2 ({ASSIGNMENT}), {args.k} submissions: " + ", ".join(f"{n} {k}" for k, n in counts.items())
              + f"; {os.cpu_count()} CPUs")
        print(f"load average before: {load_average()}", flush=True)
        ratios = machine_ceiling(args.jobs)

        honest_students = [s for s in sorted(kinds) if kinds[s] != "adversarial"]
        honest = len(honest_students)
        whole = build_whole_course(work / "whole", args.course) if args.course else None
        if whole:
            shutil.copy(whole.root / "gradebook.db", work / "whole-generated.db")
        best = {}
        parts = split_course(course, args.jobs, work / "ceiling")
        for _ in range(args.repeat):  # interleaved, so that a busy spell does not favour one way
            fresh_start(course, generated)
            _keep_best(best, "sequential", timed(SEQUENTIAL, course.root))
            sequential_scores = scores(course)
            for part in parts:
                fresh_start(part, generated)
            _keep_best(best, "ceiling", timed_at_once(SEQUENTIAL, [p.root for p in parts]))
            ceiling_scores = {s: v for part in parts for s, v in scores(part).items()}
            fresh_start(course, generated)
            _keep_best(best, "plain", timed(PLAIN, course.root))
            plain_scores = scores(course)
            fresh_start(course, generated)
            _keep_best(best, "cluster", timed(COURSE_GRADE + ["--jobs", str(args.jobs)], course.root))
            cluster_scores = scores(course)
            fresh_start(course, generated)
            _keep_best(best, "drawing", timed(COURSE_GRADE + ["--jobs", str(args.jobs), "--draw-figures"], course.root))
            drawing_scores = scores(course)
            fresh_start(course, generated)
            _keep_best(best, "course_honest", timed(COURSE_GRADE + [a for s in honest_students
                                                                   for a in ("--student", s)], course.root))
            fresh_start(course, generated)
            _keep_best(best, "plain_honest", timed(PLAIN + [f"--student={HONEST}"], course.root))
            _keep_best(best, "bare_honest", timed([sys.executable, "-c", EXECUTE, str(course.submitted), HONEST],
                                                  course.root))
            if whole:
                fresh_start(whole, work / "whole-generated.db")
                _keep_best(best, "whole", timed([sys.executable, "-c", GRADE_COURSE, str(whole.root),
                                                 str(args.jobs)], whole.root))

        k, (sequential, ceiling, plain, clustered, course_honest, plain_honest, bare_honest) = args.k, (
            best[x] for x in ("sequential", "ceiling", "plain", "cluster", "course_honest", "plain_honest",
                              "bare_honest"))
        jobs = args.jobs
        print(f"\n{f'best of {args.repeat}' if args.repeat > 1 else '':48}{'total':>8}{'per submission':>16}")
        print(f"{f'all {k}: nbgrader autograde, one kernel at a time':48}{sequential:7.1f}s{sequential / k:15.2f}s")
        print(f"{f'all {k}: {jobs} of those at once, on {k}/{jobs} each':48}{ceiling:7.1f}s{ceiling / k:15.2f}s"
              f"   ceiling {sequential / ceiling:.2f}x (the machine's {min(ratios):.2f}x to {max(ratios):.2f}x)")
        print(f"{f'all {k}: nbgrader autograde, spare kernels on':48}{plain:7.1f}s{plain / k:15.2f}s"
              f"   {sequential / plain:.2f}x")
        print(f"{f'all {k}: course grade --jobs {jobs}':48}{clustered:7.1f}s{clustered / k:15.2f}s"
              f"   speed-up {sequential / clustered:.2f}x (target >= 1.9 with 2 jobs on 2 cores), "
              f"{ceiling / clustered:.0%} of the ceiling, {plain / clustered:.2f}x spare kernels alone")
        print(f"{f'all {k}: course grade --jobs {jobs} --draw-figures':48}{best['drawing']:7.1f}s"
              f"{best['drawing'] / k:15.2f}s   {sequential / best['drawing']:.2f}x (every kernel draws every figure: "
              f"the record of course/figure_record.py makes the rest)")
        print(f"{f'{honest} honest: course grade, one process':48}{course_honest:7.1f}s{course_honest / honest:15.2f}s"
              f"   {course_honest / bare_honest:.2f}x bare (target <= 1.2)")
        print(f"{f'{honest} honest: plain nbgrader autograde':48}{plain_honest:7.1f}s{plain_honest / honest:15.2f}s"
              f"   {plain_honest / bare_honest:.2f}x bare")
        print(f"{f'{honest} honest: nbclient execution only':48}{bare_honest:7.1f}s{bare_honest / honest:15.2f}s")
        if whole:
            n = len(whole.assignments())
            print(f"{f'whole course: {n} notebooks x {args.course} students, --jobs {args.jobs}':48}"
                  f"{best['whole']:7.1f}s{best['whole'] / (n * args.course):15.2f}s"
                  f"   {best['whole'] / args.course:.1f} s per student")
        others = {"spare kernels": plain_scores, "the ceiling's": ceiling_scores, "course grade": cluster_scores,
                  "course grade --draw-figures": drawing_scores}
        same = all(other == sequential_scores for other in others.values())
        print(f"\nsame score for every submission in all five gradings of all {k}: {'yes' if same else 'NO'}")
        for name, other in others.items():
            for student in sorted(sequential_scores):
                if sequential_scores[student] != other.get(student):
                    print(f"  {student}: {sequential_scores[student]} one at a time, {other.get(student)} in {name}")
        print(f"load average after: {load_average()}")
        return 0 if same else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
