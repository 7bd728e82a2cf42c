"""The `course` command: the instructor's workflow around nbgrader.

    course demo                         generate everything, grade the example submissions, show the table
    course generate [ASSIGNMENT ...]    source/ -> release/ (nbgrader generate_assignment)
    course grade ASSIGNMENT [--student S ...] [--jobs N | --scheduler tcp://HOST:8786]
                                        autograde submitted/ (on N local workers, or on a Dask cluster)
    course feedback ASSIGNMENT          feedback/ HTML without hidden test code
    course export [--csv grades.csv]    scores and statuses of everything graded so far
    course report [--html report.html]  the instructor's report with plots, and the CSVs beside it
    course scan ASSIGNMENT [--student S ...]    list submissions whose code matches known exploit patterns

Run it from the course folder (the one with nbgrader_config.py), e.g. `python3 run.py course grade 02-computation-graphs`.
"""
import argparse
import json
import os
import sys
import time

from course import examples as example_submissions
from course import cluster, report
from course.grading import GRADED, NO_SUBMISSION, Grader, Result, table, write_csv
from course.layout import Course, CourseError

STATUS_FILE = "grading_status.json"
DEFAULT_JOBS = min(2, os.cpu_count() or 1)


def _progress(i, n, text):
    print(f"  [{i}/{n}] {text}", flush=True)


def _load_status(course):
    path = course.root / STATUS_FILE
    if not path.exists():
        return {}
    return {(r["student"], r["assignment"]): Result(**r) for r in json.loads(path.read_text())}


def _save_status(course, results):
    known = _load_status(course)
    known.update({(r.student, r.assignment): r for r in results})
    rows = [vars(r) for _, r in sorted(known.items())]
    (course.root / STATUS_FILE).write_text(json.dumps(rows, indent=1))


def generate(grader, assignments):
    for i, name in enumerate(assignments, 1):
        start = time.perf_counter()
        grader.generate(name)
        _progress(i, len(assignments), f"{name} -> release/{name}/ ({time.perf_counter() - start:.1f} s)")


def grader_options(args):
    """Keyword arguments for every Grader this command makes, here and on the cluster's workers."""
    return {}


def grade(grader, assignment, students, client=None, options=None):
    """Autograde here, one after the other, or on the Dask cluster of ``client``; each result is saved at once
    (if the cluster is lost half-way, what was graded stays graded)."""
    if client is None:
        graded = (_autograde_here(grader, assignment, student, i, len(students))
                  for i, student in enumerate(students, 1))
    else:
        graded = cluster.grade(client, grader.course, assignment, students, options, progress=_progress)
    results = []
    for result in graded:
        _save_status(grader.course, [result])
        results.append(result)
    return results


def _autograde_here(grader, assignment, student, i, n):
    result = grader.autograde(student, assignment)
    _progress(i, n, f"{assignment} / {student}: {result.summary()} ({result.seconds:.1f} s)")
    return result


def feedback(grader, results):
    graded = [r for r in results if r.status == GRADED]
    for i, r in enumerate(graded, 1):
        files = grader.feedback(r.student, r.assignment)
        _progress(i, len(graded), f"feedback/{r.student}/{r.assignment}/{files[0].name if files else '?'}")


def cmd_demo(grader, args):
    course = grader.course
    names = course.assignments()
    t0 = time.perf_counter()
    print(f"1. Generating {len(names)} assignments from source/ (nbgrader generate_assignment)", flush=True)
    generate(grader, names)

    print("2. Example submissions in submitted/ (existing folders are never overwritten)", flush=True)
    todo = {}
    for ex in example_submissions.examples(course):
        written = example_submissions.put_in_place(course, ex)
        print(f"     {'wrote' if written else 'kept '} submitted/{ex.student}/{ex.assignment}: {ex.what}")
        todo.setdefault(ex.assignment, []).append(ex.student)

    jobs = args.jobs or DEFAULT_JOBS
    print(f"3. Autograding ({jobs} worker process{'es' if jobs > 1 else ''})", flush=True)
    results = []
    with cluster.connect(jobs=jobs) as client:
        for assignment in names:
            results += grade(grader, assignment, todo.get(assignment, []), client, grader_options(args))

    print("4. Feedback (hidden tests removed, diagnostic messages kept)", flush=True)
    feedback(grader, results)

    html_path, csv_path, _ = report.write_report(course, results, course.root / "report.html")
    print(f"5. Grades exported to {csv_path.name}, the instructor's report to {html_path.name}\n")
    print(table(results, names))
    print(f"\nDone in {time.perf_counter() - t0:.0f} s. Feedback: feedback/<student>/<assignment>/*.html")
    return 0


def cmd_generate(grader, args):
    generate(grader, [grader.course.check_assignment(a) for a in args.assignments] or grader.course.assignments())
    return 0


def cmd_grade(grader, args):
    assignment = grader.course.check_assignment(args.assignment)
    students = args.student or grader.course.students()
    if not students:
        raise CourseError(f"nothing to grade: {grader.course.submitted} holds no student folders")
    if args.jobs or args.scheduler:
        with cluster.connect(jobs=args.jobs, scheduler=args.scheduler) as client:
            results = grade(grader, assignment, students, client, grader_options(args))
    else:
        results = grade(grader, assignment, students)
    print()
    print(table(results, [assignment]))
    return 0 if all(r.status in (GRADED, NO_SUBMISSION) for r in results) else 1


def cmd_feedback(grader, args):
    assignment = grader.course.check_assignment(args.assignment)
    results = [r for (s, a), r in _load_status(grader.course).items() if a == assignment]
    if not results:
        raise CourseError(f"nothing graded yet for {assignment}: run `course grade {assignment}` first")
    feedback(grader, results)
    return 0


def cmd_export(grader, args):
    results = list(_load_status(grader.course).values())
    path = write_csv(results, grader.course.root / args.csv)
    print(table(results, grader.course.assignments()))
    print(f"\nWrote {path}")
    return 0


def cmd_report(grader, args):
    results = list(_load_status(grader.course).values())
    if not results:
        raise CourseError("nothing graded yet: run `course grade ASSIGNMENT` first")
    paths = report.write_report(grader.course, results, grader.course.root / args.html)
    print("Wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_scan(grader, args):
    assignment = grader.course.check_assignment(args.assignment)
    for student in args.student or grader.course.students():
        flags = grader.scan(student, assignment)
        print(f"{student}: {len(flags) or 'nothing'} to review")
        for flag in flags:
            print(f"    {flag}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="generate everything and grade the example submissions")
    p.add_argument("--jobs", type=int, default=0, help=f"worker processes (default {DEFAULT_JOBS})")
    p = sub.add_parser("generate", help="source/ -> release/")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("grade", help="autograde submitted/")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, help="grade on a local Dask cluster of this many worker processes")
    where.add_argument("--scheduler", metavar="tcp://HOST:8786",
                       help="grade on the Dask cluster of this scheduler (docs/cluster.md)")
    p = sub.add_parser("feedback", help="write feedback HTML for what was graded")
    p.add_argument("assignment")
    p = sub.add_parser("export", help="write the grades CSV")
    p.add_argument("--csv", default="grades.csv")
    p = sub.add_parser("report", help="write the instructor's HTML report and CSVs")
    p.add_argument("--html", default="report.html")
    p = sub.add_parser("scan", help="list submissions that match known exploit patterns")
    p.add_argument("assignment")
    p.add_argument("--student", action="append")
    args = parser.parse_args(argv)
    grader = Grader(Course.here(), **grader_options(args))
    try:
        return globals()[f"cmd_{args.command}"](grader, args)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
