#!/usr/bin/env python3
"""The scoreboard: every catalogued mistake and every adversarial case graded by the real pipeline, as JSON.

It is the instrument for a refactoring's proof that behaviour stays the same (issue 16): run it before and
after, then compare.

    .venv/bin/python tools/scoreboard.py --out scores-before.json [--jobs 2] [--part catalogue ...]
    .venv/bin/python tools/scoreboard.py --compare scores-before.json scores-after.json

Grading is what ``course grade --jobs N`` does (course.cluster.grade: nbgrader autograde with the course's
nbgrader_config.py, each kernel in the sandbox), in throw-away course copies, never in this checkout:

* ``catalogue``: every assignment's perfect and untouched submissions and every mistake of its catalogue
  (``mistakes.<stem>``, or ``tests.mistakes.<stem>`` before the catalogue moved), with the course's config;
* ``adversarial``: every case of tests/adversarial (with during.py's), under tests/test_adversarial.py's limits;
* ``wall``: the attacks on the sandbox of tests/adversarial/wall.py with the honest students around them, under
  tests/test_sandbox.py's limits.

Each case records its status and reason, total and per-cell points, whether it was sandboxed, and the kinds
of its notes and flags.  ``--compare`` prints every difference, or "identical: N cases, M cells", and exits 1
on a difference.  The adversarial cases marked ``racy`` (threads racing the hidden tests) score differently
from run to run on the same commit: their differences are printed but do not count.
"""
import argparse
import importlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' catalogues are imported from the checkout, not from the venv
# The course's modules load nbgrader (seconds): they are imported where grading needs them, so that --compare
# answers at once.

# The limits the adversarial tests grade under, fixed here so that both runs of a comparison use the same
# ones even if the tests change theirs (a short per-cell timeout keeps loops cheap, 2 GiB keeps the 20 GB
# allocation safe; a small scratch and process cap keep the disk filler and the fork bomb quick).
ADVERSARIAL_LIMITS = "\nc.Execute.timeout = 5\nc.LimitedKernelManager.memory_limit = 2 * 2**30\n"
WALL_LIMITS = ("\nc.Execute.timeout = 30\nc.LimitedKernelManager.scratch_limit = 64 * 2**20"
               "\nc.LimitedKernelManager.process_limit = 128\n")


def catalogue(stem):
    """A notebook's catalogued mistakes, wherever the catalogue lives; none if it has no catalogue."""
    for package in ("mistakes", "tests.mistakes"):
        try:
            return importlib.import_module(f"{package}.{stem}").MISTAKES
        except ModuleNotFoundError as exc:
            if exc.name not in (package.split(".")[0], package, f"{package}.{stem}"):
                raise  # the catalogue exists but something it imports does not: that must not pass silently
    return []


def record(result, racy):
    """What must stay the same about one graded submission (timings and full texts of notes excluded)."""
    def kinds(items):  # strings "kind: detail" today; typed records with a .kind perhaps after the refactor
        return sorted({getattr(item, "kind", None) or str(item).split(":")[0].strip() for item in items})

    return {"status": result.status, "reason": str(result.reason), "score": result.score,
            "max_score": result.max_score, "cells": {cell: list(points) for cell, points in result.cells.items()},
            "sandboxed": getattr(result, "sandboxed", None),
            "notes": kinds(getattr(result, "notes", [])), "flags": kinds(getattr(result, "flags", [])),
            "racy": racy}


def grade(client, part, course, assignment, students, board, racy=()):
    """Grade as `course grade --jobs N` does; ``racy``: the cases whose score a race decides (see compare)."""
    from course import cluster

    for result in cluster.grade(client, course, assignment, students):
        board[f"{part}/{assignment}/{result.student}"] = record(result, result.student in racy)
        print(f"  {part}/{assignment}/{result.student}: {result.summary()} ({result.seconds:.0f} s)", flush=True)


def catalogue_part(client, tmp, board):
    import nbformat

    from course import submissions
    from course.grading import Grader
    from tests.conftest import make_course_copy, write_submission

    course = make_course_copy(tmp / "catalogue")
    grader = Grader(course, log=lambda *a: None)
    for assignment in course.assignments():
        grader.generate(assignment)
        source = nbformat.read(course.source_notebook(assignment), as_version=4)
        release = nbformat.read(course.release_notebook(assignment), as_version=4)
        subs = {"perfect": submissions.perfect(source, release), "untouched": release}
        for mistake in catalogue(course.source_notebook(assignment).stem):
            subs[f"mistake-{mistake.name}"] = submissions.with_mistake(source, release, mistake)
        for student, nb in subs.items():
            write_submission(course, student, assignment, nb)
        grade(client, "catalogue", course, assignment, list(subs), board)


def adversarial_part(client, tmp, board):
    from tests.adversarial import ASSIGNMENT, CASES, attack_course

    course, _, submit = attack_course(tmp / "adversarial", ADVERSARIAL_LIMITS)
    for case in CASES:
        submit(case.build, case.name)
    racy = {case.name for case in CASES if getattr(case, "racy", False)}
    grade(client, "adversarial", course, ASSIGNMENT, [case.name for case in CASES], board, racy)


def wall_part(client, tmp, board):
    from tests.adversarial import ALL_WRONG, ASSIGNMENT, answers, attack_course
    from tests.adversarial.wall import NEIGHBOUR, cases

    course, _, submit = attack_course(tmp / "wall", WALL_LIMITS)
    # What the attacks aim at: a listening port (never answered: the wall must keep them off it), a canary
    # file outside the course (in the temporary folder, not the real home), the file lingering processes write.
    with socket.create_server(("127.0.0.1", 0)) as server:
        canary = tmp / "instructor-home-canary.txt"
        canary.write_text("instructor's private note")
        attacks = cases(course.root, server.getsockname()[1], canary, course.root / "lingering.txt")
        honest = {"baseline-wrong": answers(ALL_WRONG), "next-wrong": answers(ALL_WRONG), NEIGHBOUR: answers()}
        for name, build in honest.items():
            submit(build, name)
        for case in attacks:
            submit(case.build, case.name)
        # tests/test_sandbox.py's order: the honest wrong baseline, the attacks, then the students after them.
        order = ["baseline-wrong", *(case.name for case in attacks), "next-wrong", NEIGHBOUR]
        grade(client, "wall", course, ASSIGNMENT, order, board)


PARTS = {"catalogue": catalogue_part, "adversarial": adversarial_part, "wall": wall_part}


def run(out, parts, jobs):
    from course import cluster

    start = time.perf_counter()
    board = {}
    with tempfile.TemporaryDirectory(prefix="scoreboard-") as tmp, cluster.connect(jobs=jobs) as client:
        for part in parts:
            PARTS[part](client, Path(tmp), board)
    seconds = time.perf_counter() - start
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {"commit": commit, "parts": parts, "jobs": jobs, "seconds": round(seconds)}
    Path(out).write_text(json.dumps({"meta": meta, "cases": board}, indent=1, sort_keys=True) + "\n")
    print(f"{out}: {len(board)} cases, {sum(len(c['cells']) for c in board.values())} cells, {seconds:.0f} s")


def compare(old_path, new_path):
    boards = [json.loads(Path(p).read_text()) for p in (old_path, new_path)]
    # A run of some parts (say, the adversarial ones again) is compared with a full run on those parts only.
    parts = [p for p in boards[0]["meta"]["parts"] if p in boards[1]["meta"]["parts"]]
    old, new = ({k: v for k, v in board["cases"].items() if k.split("/")[0] in parts} for board in boards)
    differences, races = [], []
    for key in sorted(old.keys() | new.keys()):
        if key not in new or key not in old:
            differences.append(f"{key}: only in {old_path if key in old else new_path}")
            continue
        a, b = old[key], new[key]
        # A race's outcome differs from run to run on the same commit (the tests bound it, cell by cell, by
        # its honest mistake): its differences are shown, but they prove nothing either way.
        found = races if a.get("racy") or b.get("racy") else differences
        for field in sorted((a.keys() | b.keys()) - {"cells"}):
            if a.get(field) != b.get(field):
                found.append(f"{key}: {field} {a.get(field)!r} -> {b.get(field)!r}")
        for cell in sorted(a.get("cells", {}).keys() | b.get("cells", {}).keys()):
            before, after = a.get("cells", {}).get(cell), b.get("cells", {}).get(cell)
            if before != after:
                found.append(f"{key}: cell {cell} {before} -> {after}")
    for line in races:
        print(f"(a race, not counted) {line}")
    print("\n".join(differences) if differences else
          f"identical: {len(old)} cases, {sum(len(c.get('cells', {})) for c in old.values())} cells "
          f"({', '.join(parts)}; {sum(1 for c in old.values() if c.get('racy'))} racing cases not counted)")
    return 1 if differences else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the scores to this JSON file")
    parser.add_argument("--jobs", type=int, default=2, help="local Dask worker processes (default 2)")
    parser.add_argument("--part", action="append", choices=PARTS, help="grade only this part (repeatable)")
    parser.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"), help="compare two scoreboards")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if not args.out:
        parser.error("--out or --compare is required")
    run(args.out, args.part or list(PARTS), args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
