"""The `course` command: the instructor's workflow around nbgrader.

    course demo                         generate everything, grade the example submissions, show the table
    course generate [ASSIGNMENT ...]    source/ -> release/ (nbgrader generate_assignment)
    course grade ASSIGNMENT [--student S ...] [--jobs N | --scheduler tcp://HOST:8786] [--no-sandbox]
                                        autograde submitted/ (on N local workers, or on a Dask cluster)
    course feedback ASSIGNMENT          feedback/ HTML without hidden test code
    course export [--csv grades.csv]    scores and statuses of everything graded so far
    course report [--html report.html]  the instructor's report with plots, and the CSVs beside it
    course scan ASSIGNMENT [--student S ...]    list submissions whose code matches known exploit patterns
    course i18n update                  refresh the translation catalogues from the English sources
    course bundle [--output FILE]       the archive students get: release notebooks, helpers, no solutions

Every command takes --lang ko for the Korean edition (the course folder ko/, built by `course generate --lang ko`).
Every grading kernel runs in a sandbox (bubblewrap, see course/sandbox.py); `course grade` refuses to
grade without it unless you pass --no-sandbox.

Run it from the course folder (the one with nbgrader_config.py), e.g. `python3 run.py course grade 02-computation-graphs`.
"""
import argparse
import dataclasses
import functools
import json
import os
import sys
import time

from course import i18n, sandbox
from course.i18n import t
from course.folders import Course, CourseError

# nbgrader, nbformat and matplotlib take seconds to import: each command imports what it needs, so that
# `course --help` and a mistyped name answer at once.

STATUS_FILE = "grading_status.json"
DEFAULT_JOBS = min(2, os.cpu_count() or 1)


def _progress(i, n, text):
    print(f"  [{i}/{n}] {text}", flush=True)


def _load_status(course):
    path = course.root / STATUS_FILE
    if not path.exists():
        return {}
    from course.grading import Result

    return {(r["student"], r["assignment"]): Result.from_dict(r) for r in json.loads(path.read_text())}


def _save_status(course, results):
    known = _load_status(course)
    known.update({(r.student, r.assignment): r for r in results})
    rows = [dataclasses.asdict(r) for _, r in sorted(known.items())]
    (course.root / STATUS_FILE).write_text(json.dumps(rows, indent=1))


def generate(grader, assignments):
    from course import edition

    for i, name in enumerate(assignments, 1):
        start = time.perf_counter()
        grader.generate(name)
        release = grader.course.release.relative_to(edition.english(grader.course).root)
        _progress(i, len(assignments), f"{name} -> {release}/{name}/ ({time.perf_counter() - start:.1f} s)")


def grader_options(grader):
    """Keyword arguments for every Grader the cluster's workers make: the same settings as ``grader``'s."""
    return {"sandbox": grader.sandbox}


def grade(grader, assignment, students, client=None, options=None, figures=True):
    """Autograde here, one after the other, or on the Dask cluster of ``client``; each result is saved at once
    (if the cluster is lost half-way, what was graded stays graded).  ``figures``: see cluster.grade."""
    if client is None:
        from course import figure_record

        with figure_record.recorded(grader.course, assignment, len(students), figures) as grader.figures:
            try:
                return _saved(grader.course, (_autograde_here(grader, assignment, student, i, len(students))
                                              for i, student in enumerate(students, 1)))
            finally:
                grader.figures = ""  # the record's file goes with the block
    from course import cluster

    return _saved(grader.course, cluster.grade(client, grader.course, assignment, students, options,
                                               progress=_progress, figures=figures))


def _saved(course, graded):
    results = []
    for result in graded:
        _save_status(course, [result])
        results.append(result)
    return results


def _autograde_here(grader, assignment, student, i, n):
    result = grader.autograde(student, assignment)
    _progress(i, n, f"{assignment} / {student}: {result.summary()} ({result.seconds:.1f} s)")
    return result


def feedback(grader, results):
    from course.grading import GRADED

    graded = [r for r in results if r.status == GRADED]
    for i, r in enumerate(graded, 1):
        files = grader.feedback(r.student, r.assignment)
        _progress(i, len(graded), f"feedback/{r.student}/{r.assignment}/{files[0].name if files else '?'}")


def cmd_demo(grader, args):
    from course import examples as example_submissions
    from course import report
    from course.grading import table

    course = grader.course
    names = course.assignments()
    t0 = time.perf_counter()
    print(t("1. Generating {n} assignments from source/ (nbgrader generate_assignment)", n=len(names)), flush=True)
    generate(grader, names)

    print(t("2. Example submissions in submitted/ (existing folders are never overwritten)"), flush=True)
    todo = {}
    for ex in example_submissions.examples(course):
        written = example_submissions.put_in_place(course, ex)
        print("     " + (t("wrote submitted/{student}/{assignment}: {what}", student=ex.student, assignment=ex.assignment,
                            what=ex.what) if written else
                          t("kept  submitted/{student}/{assignment}: {what}", student=ex.student, assignment=ex.assignment,
                            what=ex.what)))
        todo.setdefault(ex.assignment, []).append(ex.student)

    jobs = args.jobs or DEFAULT_JOBS
    walled = sandbox.available()
    grader.sandbox = walled.ok
    if not walled.ok:  # the course's own examples are safe to run as they are; real submissions are not
        print(f"   No sandbox ({walled.why.split(':')[0]}): grading only these examples without it; "
              "real submissions need bubblewrap (`course grade` refuses without it).", flush=True)
    print(t("3. Autograding ({jobs} worker processes)", jobs=jobs) if jobs > 1 else
          t("3. Autograding (1 worker process)"), flush=True)
    results = []
    from course import cluster

    with cluster.connect(jobs=jobs) as client:
        for assignment in names:
            results += grade(grader, assignment, todo.get(assignment, []), client, grader_options(grader))

    print(t("4. Feedback (hidden tests removed, diagnostic messages kept)"), flush=True)
    feedback(grader, results)

    html_path, csv_path, _ = report.write_report(course, results, course.root / "report.html")
    print(t("5. Grades exported to {csv}, the instructor's report to {html}", csv=csv_path.name, html=html_path.name)
          + "\n")
    print(table(results, names))
    print("\n" + t("Done in {seconds:.0f} s. Feedback: feedback/<student>/<assignment>/*.html",
                   seconds=time.perf_counter() - t0))
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
        raise CourseError(t("nothing to grade: {folder} holds no student folders", folder=grader.course.submitted))
    from course.grading import GRADED, NO_SUBMISSION, table

    if args.jobs or args.scheduler:
        from course import cluster

        with cluster.connect(jobs=args.jobs, scheduler=args.scheduler) as client:
            results = grade(grader, assignment, students, client, grader_options(grader),
                            figures=not args.draw_figures)
    else:
        results = grade(grader, assignment, students, figures=not args.draw_figures)
    print()
    print(table(results, [assignment]))
    return 0 if all(r.status in (GRADED, NO_SUBMISSION) for r in results) else 1


def cmd_bundle(grader, args):
    from course import bundle

    path = bundle.write_bundle(grader.course, grader.course.root / args.output if args.output else None)
    print(f"Wrote {path}: give this file to students (it holds no solution and no hidden test)")
    return 0


def cmd_feedback(grader, args):
    assignment = grader.course.check_assignment(args.assignment)
    results = [r for (s, a), r in _load_status(grader.course).items() if a == assignment]
    if not results:
        raise CourseError(t("nothing graded yet for {assignment}: run `course grade {assignment}` first",
                            assignment=assignment))
    feedback(grader, results)
    return 0


def cmd_export(grader, args):
    from course.grading import table, write_csv

    results = list(_load_status(grader.course).values())
    path = write_csv(results, grader.course.root / args.csv)
    print(table(results, grader.course.assignments()))
    print("\n" + t("Wrote {paths}", paths=path))
    return 0


def cmd_report(grader, args):
    results = list(_load_status(grader.course).values())
    if not results:
        raise CourseError(t("nothing graded yet: run `course grade ASSIGNMENT` first"))
    from course import report

    paths = report.write_report(grader.course, results, grader.course.root / args.html)
    print(t("Wrote {paths}", paths=", ".join(str(p) for p in paths)))
    return 0


def cmd_scan(grader, args):
    assignment = grader.course.check_assignment(args.assignment)
    for student in args.student or grader.course.students():
        flags = grader.scan(student, assignment)
        print(t("{student}: {n} to review", student=student, n=len(flags)) if flags else
              t("{student}: nothing to review", student=student))
        for flag in flags:
            print(f"    {flag}")
    return 0


def cmd_i18n(grader, args):
    from course import edition

    for path, (entries, untranslated) in edition.update_catalogues(grader.course).items():
        print(t("{path}: {entries} entries, {untranslated} untranslated or fuzzy", path=path, entries=entries,
                untranslated=untranslated))
    return 0


class _Grader:
    """A :class:`course.grading.Grader` made on first use: commands that fail on a bad name never import nbgrader."""

    def __init__(self, course):
        self.course = course
        self._grader = None

    def _real(self):
        if self._grader is None:
            from course.grading import Grader

            object.__setattr__(self, "_grader", Grader(self.course))
        return self._grader

    def __getattr__(self, name):
        return getattr(self._real(), name)

    def __setattr__(self, name, value):
        if name in ("course", "_grader"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._real(), name, value)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=sorted(i18n.LANGUAGES), help="the edition (default: en, or COURSE_LANG)")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser = functools.partial(sub.add_parser, parents=[common])
    p = add_parser("demo", help="generate everything and grade the example submissions")
    p.add_argument("--jobs", type=int, default=0, help=f"worker processes (default {DEFAULT_JOBS})")
    p = add_parser("generate", help="source/ -> release/")
    p.add_argument("assignments", nargs="*")
    p = add_parser("grade", help="autograde submitted/")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, help="grade on a local Dask cluster of this many worker processes")
    where.add_argument("--scheduler", metavar="tcp://HOST:8786",
                       help="grade on the Dask cluster of this scheduler (docs/cluster.md)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run submissions' code without the sandbox (it can then read and change the course folder)")
    p.add_argument("--draw-figures", action="store_true",
                   help="draw the course's figures in every submission's kernel (by default they are drawn once, "
                        "from the release notebook, and each kernel shows that recording)")
    p = add_parser("feedback", help="write feedback HTML for what was graded")
    p.add_argument("assignment")
    p = add_parser("export", help="write the grades CSV")
    p.add_argument("--csv", default="grades.csv")
    p = add_parser("report", help="write the instructor's HTML report and CSVs")
    p.add_argument("--html", default="report.html")
    p = add_parser("scan", help="list submissions that match known exploit patterns")
    p.add_argument("assignment")
    p.add_argument("--student", action="append")
    p = add_parser("i18n", help="refresh the translation catalogues (course/locale) from the English sources")
    p.add_argument("action", choices=["update"])
    p = add_parser("bundle", help="write the students' archive (release notebooks and helpers)")
    p.add_argument("--output", help="archive path (default: backprop-course-student.zip in the course folder)")
    args = parser.parse_args(argv)
    here = Course.here()
    lang = args.lang or i18n.edition_of(here.root) or i18n.language()
    if lang != i18n.language():
        i18n.edition(lang)
    try:
        course = here
        if lang != i18n.ENGLISH or args.command == "i18n":
            from course import edition

            course = edition.folder(here, lang)
            if args.command in ("generate", "demo"):
                course, untranslated = edition.build(course, lang)
                if untranslated:
                    print(t("warning: {n} texts have no current translation and stay in English "
                            "(run `course i18n update`, then translate them)", n=len(untranslated)), file=sys.stderr)
            elif args.command != "i18n" and lang != i18n.ENGLISH:
                edition.require_built(course)
        return globals()[f"cmd_{args.command}"](_Grader(course), args)
    except CourseError as exc:
        print(t("error: {message}", message=exc), file=sys.stderr)
        return 2
