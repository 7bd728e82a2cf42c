"""The `course` command as an instructor uses it, on Part 2, with good and bad submissions."""
import csv
import hashlib
import shutil
import subprocess
import sys

import nbformat
import pytest

from tests.conftest import make_course_copy, points, submission_notebooks, write_submission

pytestmark = pytest.mark.pipeline

ASSIGNMENT = "02-computation-graphs"
FULL_MARKS = sum(points(ASSIGNMENT).values())


def course_cmd(course, *args):
    return subprocess.run([sys.executable, "-m", "course", *args], cwd=course.root,
                          capture_output=True, text=True, timeout=600)


def _tree_digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course_copy(tmp_path_factory.mktemp("cli"))
    for other in course.assignments():
        if other != ASSIGNMENT:
            shutil.rmtree(course.source / other)
    done = course_cmd(course, "generate")
    assert done.returncode == 0, done.stderr
    subs = submission_notebooks(course, ASSIGNMENT)
    write_submission(course, "alice", ASSIGNMENT, subs["perfect"])
    write_submission(course, "bob", ASSIGNMENT, subs["perfect"])
    nb_name = course.notebook_names(ASSIGNMENT)[0]
    (course.submitted / "bob" / ASSIGNMENT / nb_name).write_text('{"cells": [ {"cell_type": "co')
    (course.submitted / "carol" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(subs["perfect"], course.submitted / "carol" / ASSIGNMENT / "Untitled1.ipynb")
    (course.submitted / "dave" / ASSIGNMENT).mkdir(parents=True)
    stripped = nbformat.from_dict(subs["perfect"])
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    write_submission(course, "erin", ASSIGNMENT, stripped)
    before = _tree_digest(course.submitted)
    graded = course_cmd(course, "grade", ASSIGNMENT)
    return course, graded, before


def test_generate_writes_the_release_and_makes_the_exchange_folder(course):
    course, _, _ = course
    assert course.release_notebook(ASSIGNMENT).exists()
    assert (course.root / "exchange").is_dir()


def test_grade_reports_a_status_for_every_submission(course):
    course, graded, _ = course
    out = graded.stdout
    assert graded.returncode == 1, "some submissions could not be graded: the command says so"
    assert "alice" in out and f"{FULL_MARKS}/{FULL_MARKS}" in out
    assert "bob/02-computation-graphs/computation_graphs.ipynb is corrupt" in out
    assert "found Untitled1.ipynb: the notebook must keep its name" in out
    assert "the folder holds no notebook" in out
    assert "lost its nbgrader cell metadata" in out
    assert "Not graded (never counted as 0)" in out


def test_grading_never_modifies_submitted(course):
    course, _, before = course
    assert _tree_digest(course.submitted) == before


def test_export_keeps_not_graded_apart_from_zero(course):
    course, _, _ = course
    done = course_cmd(course, "export")
    assert done.returncode == 0, done.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(course.root / "grades.csv"))}
    assert rows["alice"]["status"] == "graded" and float(rows["alice"]["score"]) == FULL_MARKS
    for student in ("bob", "carol", "dave", "erin"):
        assert rows[student]["status"] == "not graded" and rows[student]["score"] == ""
        assert rows[student]["reason"]


def test_feedback_for_what_was_graded(course):
    course, _, _ = course
    done = course_cmd(course, "feedback", ASSIGNMENT)
    assert done.returncode == 0, done.stderr
    assert (course.feedback / "alice" / ASSIGNMENT / "computation_graphs.html").exists()
    assert not (course.feedback / "bob").exists()


@pytest.mark.parametrize("args,message", [
    (["grade", "02-graphs"], "unknown assignment '02-graphs'"),
    (["grade", ASSIGNMENT, "--student", "nobody"], "unknown student"),
    (["feedback", "99-nothing"], "unknown assignment"),
])
def test_bad_names_get_a_clear_message(course, args, message):
    course, _, _ = course
    done = course_cmd(course, *args)
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
