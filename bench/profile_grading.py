#!/usr/bin/env python3
"""Where the time of autograding one submission goes (cProfile), in the grader's process.

Builds a course copy with Part 2 and the perfect submission, grades it once to warm up (imports), then
profiles ``Grader.autograde`` R times and prints the mean time of each phase: running the notebook (the
kernel's start and stop, and its cells, in which the grader waits for the kernel), the grading guard's
calls into the kernel, nbgrader's sanitizing steps and gradebook work, reading notebooks, the static
scan.  Phases nest (the guard runs inside the cells' time), so the lines do not add up.

    python bench/profile_grading.py [--repeat R] [--top N] [--draw-figures]
"""
import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course import figure_record, submissions  # noqa: E402
from course.grading import Grader  # noqa: E402
from course.folders import Course  # noqa: E402

ASSIGNMENT = "02-computation-graphs"


def phases():
    """(label, function): the cumulative time of that function is the phase's."""
    from nbformat import read
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import CheckCellMetadata, OverwriteCells, SaveAutoGrades

    from course.guarded_execute import GuardedExecute

    return [
        ("autograde, in all", Grader.autograde),
        ("running the notebook (GuardedExecute.preprocess)", GuardedExecute.preprocess),
        ("  its cells (GuardedExecute.preprocess_cell)", GuardedExecute.preprocess_cell),
        ("  of which the guard's calls into the kernel", GuardedExecute._guard),
        ("nbgrader OverwriteCells / RestoreCells", OverwriteCells.preprocess),
        ("nbgrader CheckCellMetadata (jsonschema)", CheckCellMetadata.preprocess),
        ("nbgrader SaveAutoGrades", SaveAutoGrades.preprocess),
        ("opening gradebooks (nbgrader Gradebook())", Gradebook.__init__),
        ("reading notebooks (nbformat.read)", read),
        ("static scan", Grader.scan),
        ("structure notes", Grader.structure),
        ("reading the result back (Grader.result)", Grader.result),
    ]


def cumulative(stats, function):
    code = getattr(function, "__wrapped__", function).__code__
    entry = stats.stats.get((code.co_filename, code.co_firstlineno, code.co_name))
    return entry[3] if entry else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=0, help="also print the N functions with the most own time")
    parser.add_argument("--draw-figures", action="store_true",
                        help="every kernel draws the course's figures (as `course grade --draw-figures`)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="profile-grading-"))
    try:
        course = Course(work / "course")
        course.root.mkdir()
        shutil.copy(ROOT / "nbgrader_config.py", course.root)
        shutil.copytree(ROOT / "source" / ASSIGNMENT, course.source / ASSIGNMENT)
        grader = Grader(course, log=lambda *a: None)
        grader.generate(ASSIGNMENT)
        source = nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4)
        release = nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
        folder = course.submitted / "perfect" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(submissions.perfect(source, release), folder / course.notebook_names(ASSIGNMENT)[0])
        if not args.draw_figures:  # as `course grade` does for a class: the course's figures recorded once
            record = work / "figures.json"
            record.write_bytes(figure_record.record(course, ASSIGNMENT))
            grader.figures = str(record)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        grader.autograde("perfect", ASSIGNMENT)  # imports, caches
        profile = cProfile.Profile()
        start = time.perf_counter()
        for _ in range(args.repeat):
            profile.enable()
            result = grader.autograde("perfect", ASSIGNMENT)
            profile.disable()
        wall = (time.perf_counter() - start) / args.repeat
        stats = pstats.Stats(profile)
        times = {label: cumulative(stats, function) / args.repeat for label, function in phases()}
        figures = "drawn in the kernel" if args.draw_figures else "shown from the record"
        print(f"Part 2, perfect submission ({result.summary()}), figures {figures}, mean of {args.repeat}: "
              f"{wall:.2f} s wall")
        for label, seconds in times.items():
            print(f"  {label:48}{seconds:6.2f} s")
        run, cells = times["running the notebook (GuardedExecute.preprocess)"], times["  its cells (GuardedExecute.preprocess_cell)"]
        print(f"  {'  kernel start and stop (the difference)':48}{run - cells:6.2f} s")
        print(f"  {'everything but running the notebook':48}{times['autograde, in all'] - run:6.2f} s")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.top:
            stats.sort_stats("tottime").print_stats(args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
