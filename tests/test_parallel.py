"""`course grade --jobs N` (a local Dask cluster, course/cluster.py) gives what sequential grading gives:
the same results, the same gradebook rows and the same messages in the autograded notebooks, for every
Part 2 submission of the session's sequential grading (perfect, untouched, every catalogued mistake) plus
adversarial ones (not graded, or graded and flagged); regrading keeps what a grader entered by hand."""
import dataclasses
import shutil

import nbformat
import pytest

from course import cluster, records, submissions
from course.grading import Grader
from tests.adversarial import CASES
from tests.conftest import make_course_copy, write_submission

pytestmark = pytest.mark.pipeline

ASSIGNMENT = "02-computation-graphs"
# A kernel that exits, a misnamed and a corrupt notebook (not graded), and patched numpy (graded, flagged).
ADVERSARIAL = ("os-exit", "wrong-name", "corrupt-json", "patch-numpy")


def comparable(result):
    """A Result without its timing."""
    values = dataclasses.asdict(result)
    del values["seconds"]
    return values


def scores(result):
    """What the gradebook alone tells of a result (notes and flags come from grading, not from it)."""
    return {k: result[k] for k in ("status", "score", "max_score", "cells")}


def messages(course, student):
    """What each graded cell of a student's autograded notebook printed and raised (None if there is none).

    Printed text is compared whole: how the kernel cut it into stream messages depends on timing."""
    folder = course.autograded / student / ASSIGNMENT
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        return None
    said = {}
    for cell in nbformat.read(paths[0], as_version=4).cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id:
            printed = "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream")
            raised = [f"{o['ename']}: {o['evalue']}" for o in cell.outputs if o["output_type"] == "error"]
            said[grade_id] = (printed, raised)
    return said


def gradebook_rows(course, students):
    """Every value the gradebook holds about these students' submissions (no ids: they differ per gradebook)."""
    with Grader(course).api.gradebook as gb:
        return {s: records.record(gb, ASSIGNMENT, s) for s in students}


def clean_copy(graded_course, dest):
    """A course copy with the same release and gradebook, minus every student and submission."""
    course = make_course_copy(dest)
    shutil.copytree(graded_course.release, course.release)
    shutil.copy(graded_course.root / "gradebook.db", course.root)
    with Grader(course).api.gradebook as gb:
        for student in [s.id for s in gb.students]:
            gb.remove_student(student)
    return course


def write_adversarial(course):
    """Submissions of the adversarial catalogue that end not graded, or graded with flags: their student ids."""
    release = nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
    solution = submissions.solution_code(nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4))
    filename = course.notebook_names(ASSIGNMENT)[0]
    for case in CASES:
        if case.name in ADVERSARIAL:
            case.build(solution, release, course.submitted / case.name / ASSIGNMENT, filename)
    return list(ADVERSARIAL)


def grade_on(client, course, students, **kwargs):
    return list(cluster.grade(client, course, ASSIGNMENT, students, **kwargs))


@pytest.fixture(scope="module")
def client():
    """A local cluster of two worker processes, as `course grade --jobs 2` starts."""
    with cluster.connect(jobs=2) as client:
        yield client


@pytest.fixture(scope="module")
def both(graded, client, tmp_path_factory):
    """Sequential and parallel grading of the same submissions, each captured right after it ran."""
    seq_course, seq_results = graded[ASSIGNMENT]
    course = clean_copy(seq_course, tmp_path_factory.mktemp("parallel"))
    shutil.copytree(seq_course.submitted, course.submitted)

    # The adversarial submissions are graded sequentially here, captured, then forgotten.
    extra = write_adversarial(course)
    grader = Grader(course, log=lambda *a: None)
    seq = {s: comparable(r) for s, r in seq_results.items()}
    seq.update({s: comparable(grader.autograde(s, ASSIGNMENT)) for s in extra})
    seq_messages = {s: messages(seq_course, s) for s in seq_results}
    seq_messages.update({s: messages(course, s) for s in extra})
    seq_rows = {**gradebook_rows(seq_course, list(seq_results)), **gradebook_rows(course, extra)}
    with grader.api.gradebook as gb:
        for student in extra:
            if seq_rows[student] is not None:
                gb.remove_student(student)
    shutil.rmtree(course.autograded)

    students = sorted(seq)
    lines = []
    results = grade_on(client, course, students, progress=lambda i, n, text: lines.append((i, n, text)))
    return {
        "course": course, "students": students, "progress": lines,
        "sequential": (seq, seq_messages, seq_rows),
        "parallel": ({r.student: comparable(r) for r in results},
                     {s: messages(course, s) for s in students},
                     gradebook_rows(course, students)),
        "main": {s: comparable(Grader(course).result(s, ASSIGNMENT)) for s in students},
    }


def test_every_submission_gets_the_sequential_result(both):
    seq, par = both["sequential"][0], both["parallel"][0]
    assert sorted(par) == both["students"] and len(par) == len(seq), "one result per student"
    assert {r["status"] for r in seq.values()} >= {"graded", "not graded"}
    assert seq["patch-numpy"]["flags"], "flags are compared too"
    for student in both["students"]:
        assert par[student] == seq[student], student
    assert [i for i, _, _ in both["progress"]] == list(range(1, len(seq) + 1))


def test_the_main_gradebook_holds_every_result_as_sequential_grading_wrote_it(both):
    seq_results, seq_rows = both["sequential"][0], both["sequential"][2]
    par_rows = both["parallel"][2]
    for student in both["students"]:
        assert par_rows[student] == seq_rows[student], student
        if seq_results[student]["status"] == "graded":
            assert scores(both["main"][student]) == scores(seq_results[student]), student


def test_autograded_notebooks_carry_the_same_messages(both):
    seq_messages, par_messages = both["sequential"][1], both["parallel"][1]
    assert any(seq_messages[s] for s in both["students"] if s.startswith("mistake-")), "messages to compare"
    for student in both["students"]:
        assert par_messages[student] == seq_messages[student], student


def test_regrading_replaces_the_earlier_result_and_keeps_manual_grading(both, client):
    course = both["course"]
    student = next(s for s in both["students"] if s.startswith("mistake-"))
    assert both["main"][student]["score"] < both["main"][student]["max_score"]
    with Grader(course).api.gradebook as gb:  # a grader's comment in the formgrader, before the regrade
        comment = gb.find_submission(ASSIGNMENT, student).notebooks[0].comments[0]
        comment.manual_comment, commented = "see me after class", comment.name
        gb.db.commit()
    source = nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4)
    release = nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
    write_submission(course, student, ASSIGNMENT, submissions.perfect(source, release))
    [result] = grade_on(client, course, [student])
    in_gradebook = Grader(course).result(student, ASSIGNMENT)
    assert result.status == in_gradebook.status == "graded"
    assert result.score == in_gradebook.score == in_gradebook.max_score
    with Grader(course).api.gradebook as gb:
        kept = {c.name: c.manual_comment for c in gb.find_submission(ASSIGNMENT, student).notebooks[0].comments}
    assert kept[commented] == "see me after class"
