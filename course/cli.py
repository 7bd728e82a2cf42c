"""The `course` command: the instructor's workflow around nbgrader.

    course demo                         generate everything, grade the example submissions, show the table
    course generate [ASSIGNMENT ...]    source/ -> release/ (nbgrader generate_assignment)
    course grade ASSIGNMENT [--student S ...] [--jobs N] [--no-sandbox]   autograde submitted/ (in N worker processes)
    course feedback ASSIGNMENT          feedback/ HTML without hidden test code
    course export [--csv grades.csv]    scores and statuses of everything graded so far
    course report [--html report.html]  the instructor's report with plots, and the CSVs beside it
    course scan ASSIGNMENT [--student S ...]    list submissions whose code matches known exploit patterns
    course bundle [--output FILE]       the archive students get: release notebooks, helpers, no solutions

Every grading kernel runs in a sandbox (bubblewrap, see course/sandbox.py); `course grade` refuses to
grade without it unless you pass --no-sandbox.

Run it from the course folder (the one with nbgrader_config.py), e.g. `python3 run.py course grade 02-computation-graphs`.
"""
import argparse
import json
import os
import sys
import time

from course import bundle, parallel, report, sandbox
from course import examples as example_submissions
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


def grade(grader, assignment, students, jobs=1):
    if jobs > 1 and len(students) > 1:
        results = parallel.grade_parallel(grader.course, assignment, students, jobs, progress=_progress,
                                          sandbox=grader.sandbox)
    else:
        results = []
        for i, student in enumerate(students, 1):
            result = grader.autograde(student, assignment)
            _progress(i, len(students), f"{assignment} / {student}: {result.summary()} ({result.seconds:.1f} s)")
            results.append(result)
    _save_status(grader.course, results)
    return results


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
    walled = sandbox.available()
    grader.sandbox = walled.ok
    if not walled.ok:  # the course's own examples are safe to run as they are; real submissions are not
        print(f"   No sandbox ({walled.why.split(':')[0]}): grading only these examples without it; "
              "real submissions need bubblewrap (`course grade` refuses without it).", flush=True)
    print(f"3. Autograding ({jobs} worker process{'es' if jobs > 1 else ''})", flush=True)
    results = []
    for assignment in names:
        results += grade(grader, assignment, todo.get(assignment, []), jobs)

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
    grader.sandbox = not args.no_sandbox
    walled = sandbox.available()
    if grader.sandbox and not walled.ok:
        raise CourseError(f"refusing to grade without the sandbox that keeps submissions away from the course "
                          f"folder. {walled.why}")
    students = args.student or grader.course.students()
    if not students:
        raise CourseError(f"nothing to grade: {grader.course.submitted} holds no student folders")
    results = grade(grader, assignment, students, args.jobs)
    print()
    print(table(results, [assignment]))
    return 0 if all(r.status in (GRADED, NO_SUBMISSION) for r in results) else 1


def cmd_bundle(grader, args):
    path = bundle.write_bundle(grader.course, grader.course.root / args.output if args.output else None)
    print(f"Wrote {path}: give this file to students (it holds no solution and no hidden test)")
    return 0


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
    p.add_argument("--jobs", type=int, default=1, help="grade in this many worker processes")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run submissions' code without the sandbox (it can then read and change the course folder)")
    p = sub.add_parser("feedback", help="write feedback HTML for what was graded")
    p.add_argument("assignment")
    p = sub.add_parser("export", help="write the grades CSV")
    p.add_argument("--csv", default="grades.csv")
    p = sub.add_parser("report", help="write the instructor's HTML report and CSVs")
    p.add_argument("--html", default="report.html")
    p = sub.add_parser("scan", help="list submissions that match known exploit patterns")
    p.add_argument("assignment")
    p.add_argument("--student", action="append")
    p = sub.add_parser("bundle", help="write the students' archive (release notebooks and helpers)")
    p.add_argument("--output", help="archive path (default: backprop-course-student.zip in the course folder)")
    args = parser.parse_args(argv)
    grader = Grader(Course.here())
    try:
        return globals()[f"cmd_{args.command}"](grader, args)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
