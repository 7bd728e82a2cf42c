"""Autograde an assignment in several worker processes, with every result in the one gradebook.

nbgrader has no parallel autograde (its issue #174) and SQLite does not like concurrent writers, so
the course does it this way:

* **SQLite gradebook** (the default): the parent copies the gradebook once (a consistent snapshot
  through SQLite's backup API); each worker starts from that copy, its own *shard*, and autogrades
  its share of the students with the ordinary :class:`~course.grading.Grader`.  After each
  submission the worker reads back what nbgrader wrote to the shard (student, submission,
  notebooks, grades, comments) and the parent writes it into the main gradebook.  Only the parent
  ever writes the main gradebook, and no two processes ever write one file.
* **Server gradebook** (PostgreSQL, ``COURSE_DB_URL=postgresql+psycopg://...``): the database takes
  concurrent writers, so the workers write straight into it, like several graders or grading
  machines sharing one gradebook (docs/scaling.md).

Each submission is graded exactly as ``course grade`` grades it one after the other: the same
nbgrader code on the same files, so the same scores and the same messages.  Workers write their
autograded notebooks to autograded/<student>/ as usual (one folder per student, so no clashes).
"""
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing
from pathlib import Path

from course.grading import NOT_GRADED, Grader, Result
from course.layout import Course

# Workers are forked where that is safe (Linux), so they start with nbgrader already imported (importing
# it costs seconds); elsewhere they are spawned.
_CONTEXT = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")

# The worker process's grader and, with an SQLite gradebook, whether it grades into its own shard.
_worker = {}


def grade_parallel(course, assignment, students, jobs, progress=None, sandbox=True):
    """Autograde ``students``' submissions of ``assignment`` in ``jobs`` worker processes.

    Returns one :class:`Result` per student, in the order of ``students``.  ``progress(i, n, text)``
    is called as each submission is done (in the order they finish).  Each worker's kernels run in the
    sandbox unless ``sandbox`` is False.
    """
    course.check_assignment(assignment)
    students = list(dict.fromkeys(students))
    if not students:
        return []
    grader = Grader(course, log=lambda *a: None, sandbox=sandbox)
    main_url = grader.api.coursedir.db_url
    # Opening the gradebook creates its tables and course row, so that workers never race to create them.
    grader.api.gradebook.close()
    results = {}
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        seed = _seed(main_url, Path(tmp))
        with ProcessPoolExecutor(min(jobs, len(students)), mp_context=_CONTEXT, initializer=_start_worker,
                                 initargs=(str(course.root), seed and str(seed), sandbox)) as pool:
            futures = {pool.submit(_grade_one, student, assignment): student for student in students}
            # Opened once the workers exist, so that none of them inherits the connection.
            with closing(grader.api.gradebook) as main:
                for i, future in enumerate(as_completed(futures), 1):
                    student = futures[future]
                    try:
                        result, rec = future.result()
                    except Exception as exc:  # a worker process died (a student's kernel dying is a Result)
                        result, rec = Result(student, assignment, NOT_GRADED, sandboxed=sandbox,
                                             reason=f"grading worker failed: {type(exc).__name__}: {exc}"), None
                    if rec is not None:
                        restore(main, rec)
                    results[student] = result
                    if progress:
                        progress(i, len(students),
                                 f"{assignment} / {student}: {result.summary()} ({result.seconds:.1f} s)")
    return [results[s] for s in students]


def _seed(db_url, folder):
    """A copy of an SQLite gradebook for the workers to start from; None for a server database."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if not url.drivername.startswith("sqlite"):
        return None
    seed = folder / "seed.db"
    with closing(sqlite3.connect(Path(url.database).resolve())) as src, closing(sqlite3.connect(seed)) as dst:
        src.backup(dst)
    return seed


def _start_worker(root, seed, sandbox):
    grader = Grader(Course(Path(root)), log=lambda *a: None, sandbox=sandbox)
    if seed:
        shard = Path(seed).with_name(f"shard-{os.getpid()}.db")
        shutil.copy(seed, shard)
        # The gradebook nbgrader's autograde (and Grader.result) open is the coursedir's.
        grader.api.coursedir.db_url = f"sqlite:///{shard}"
    _worker.update(grader=grader, shard=bool(seed))


def _grade_one(student, assignment):
    """Worker: autograde one submission; with a shard, also return what nbgrader recorded for it."""
    grader = _worker["grader"]
    result = grader.autograde(student, assignment)
    if not _worker["shard"]:
        return result, None
    with closing(grader.api.gradebook) as gb:
        return result, record(gb, assignment, student)


# -- moving one submission from a gradebook to another -------------------------------------------
def record(gb, assignment, student):
    """Everything a gradebook holds about one submission, as plain values (None if it has none)."""
    from nbgrader.api import MissingEntry

    try:
        sub = gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    return {
        "assignment": assignment,
        "student": (student, _values(sub.student)),
        "submission": _values(sub),
        "notebooks": {nb.name: (_values(nb),
                                {g.name: _values(g) for g in nb.grades},
                                {c.name: _values(c) for c in nb.comments})
                      for nb in sub.notebooks},
    }


def restore(gb, rec):
    """Write a :func:`record` into ``gb``: the submission ends up as it was where it was recorded."""
    from sqlalchemy.exc import SAWarning

    assignment = rec["assignment"]
    student, student_values = rec["student"]
    gb.update_or_create_student(student, **student_values)
    with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush warnings
        warnings.simplefilter("ignore", SAWarning)
        sub = gb.update_or_create_submission(assignment, student)
    _assign(sub, rec["submission"])
    for nb in sub.notebooks:
        nb_values, grades, comments = rec["notebooks"][nb.name]
        _assign(nb, nb_values)
        for grade in nb.grades:
            _assign(grade, grades[grade.name])
        for comment in nb.comments:
            _assign(comment, comments[comment.name])
    gb.db.commit()


def _values(row):
    """A row's own column values: not its id, not the ids linking it to other rows (they differ per gradebook)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if not (c.primary_key or c.foreign_keys)}


def _assign(row, values):
    for key, value in values.items():
        setattr(row, key, value)
