"""The instructor's report: plots per assignment, diagnosed mistakes counted per student, submissions
that were not graded listed apart, the CSVs beside it; and on the session's real Part 2 grading."""
import base64
import csv
import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from course import cells, report, submissions
from course.folders import Course
from course.grading import Grader, Result
from course.judge import diagnosis
from course.judge.diagnosis import Diagnosis
from course.notes import TAMPERING, Note
from tests.conftest import make_course_copy

A = "02-computation-graphs"


def graded_cell(grade_id, *diagnoses, solution=False):
    """A test cell (or an answer cell) of an autograded notebook, with the diagnoses the judge wrote into it."""
    cell = nbformat.v4.new_code_cell("checks.something()")
    cell.metadata["nbgrader"] = {"grade": not solution, "solution": solution, "locked": not solution,
                                 "grade_id": grade_id, "points": 1, "schema_version": 3}
    diagnosis.write(cell, diagnoses)
    return cell


SWAPPED = Diagnosis(diagnosis.MISTAKE, "the inputs are not swapped")


def test_each_diagnosis_is_named_in_the_reports_words():
    nb = nbformat.v4.new_notebook(cells=[
        graded_cell("t_random", SWAPPED, Diagnosis(diagnosis.MISTAKE, "a factor of 4.2 (1/0.238)")),
        graded_cell("t_numbers", Diagnosis(diagnosis.UNRECOGNISED)),
        graded_cell("t_stub", Diagnosis(diagnosis.NOT_ANSWERED)),
        graded_cell("t_raised", Diagnosis(diagnosis.RAISED, "TypeError")),
        graded_cell("t_name", Diagnosis(diagnosis.ERROR, "NameError: name 'MulLayer' is not defined")),
        graded_cell("t_ok"),
    ])
    assert report.diagnoses(nb) == [
        ("t_random", "the inputs are not swapped"),
        ("t_random", "a factor of 4.2 (1/0.238)"),
        ("t_numbers", report.UNRECOGNISED),
        ("t_stub", report.NOT_ANSWERED),
        ("t_raised", "the code raised TypeError"),
        ("t_name", "NameError: name 'MulLayer' is not defined"),
    ]


def test_only_the_judges_diagnoses_in_test_cells_count_never_a_messages_text():
    answer = graded_cell("mul_layer", SWAPPED, solution=True)
    forged_kind = graded_cell("t_a", Diagnosis("the best student", "forged"))
    imitated = graded_cell("t_b")
    imitated.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", traceback=[],
                                               evalue="T: 1 problem(s)\n  ✗ dx wrong\n    likely mistake: forged")]
    markdown = nbformat.v4.new_markdown_cell("text", metadata={"course": {"diagnoses": [{"kind": "mistake"}]}})
    assert report.diagnoses(nbformat.v4.new_notebook(cells=[answer, forged_kind, imitated, markdown])) == []


def test_mistakes_that_differ_only_in_their_numbers_are_one_row():
    ann = [("t1", "off by a constant factor of 4.2 (1/0.238)"), ("t1", "it works for 1-D arrays only")]
    bo = [("t2", "off by a constant factor of 2.5 (1/0.4)"), ("t2", "it works for 1-D arrays only")]
    students, where = report.tally([ann, bo, [("t1", "the batch size 4 is missing")]])
    assert students == {"off by a constant factor of N": 2, "it works for 1-D arrays only": 2,
                        "the batch size 4 is missing": 1}, "one spelling keeps its numbers"
    assert where["off by a constant factor of N"] == {"t1", "t2"}


def write_autograded(course, student, *notebook_cells):
    folder = course.autograded / student / A
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=list(notebook_cells)), folder / course.notebook_names(A)[0])


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("report")
    course = make_course_copy(tmp_path / "course")
    full = {"test_mul_layer_apple": (1.0, 1.0), "test_mul_layer_random": (3.0, 3.0)}
    results = [
        Result("ann", A, "graded", 4.0, 4.0, cells=full),
        # The same mistake in two checks of one student counts once for that student.
        Result("bo", A, "graded", 1.0, 4.0, cells={**full, "test_mul_layer_random": (0.0, 3.0)}),
        Result("cy", A, "graded", 1.0, 4.0, cells={**full, "test_mul_layer_random": (0.0, 3.0)},
               flags=[Note(TAMPERING, "the test cell's tools were replaced")]),
        Result("<dee>", A, "not graded", reason="the kernel died (the notebook exited the process)"),
        Result("eve", A, "no submission", reason="no folder submitted/eve"),
    ]
    write_autograded(course, "ann", graded_cell("test_mul_layer_random"))
    write_autograded(course, "bo", graded_cell("test_mul_layer_random", SWAPPED, SWAPPED))
    write_autograded(course, "cy", graded_cell("test_mul_layer_random", SWAPPED))
    (tmp_path / "out").mkdir()
    return report.write_report(course, results, tmp_path / "out" / "report.html")


def test_the_report_has_its_plots_and_lists_what_was_not_graded(written):
    page_path, grades_csv, cells_csv = written
    page = page_path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3, "score distribution, pass rate per cell, mistakes"
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert re.search(r"the inputs are not swapped\s+2 of 3", text), "counted once per student"
    not_graded = text[text.index("Not graded"):text.index("No submission")]
    assert "<dee>" in not_graded and "the kernel died" in not_graded
    assert "<dee>" not in page, "student ids are escaped"
    assert "eve" in text[text.index("No submission"):text.index("Flagged")]
    assert "tampering" in text[text.index("Flagged"):]
    assert 'href="grades.csv"' in page and 'href="grades-by-cell.csv"' in page


def test_the_csvs_keep_statuses_and_cell_scores(written):
    _, grades_csv, cells_csv = written
    rows = list(csv.DictReader(grades_csv.open()))
    assert [(r["student"], r["status"], r["score"]) for r in rows][-2:] == [("<dee>", "not graded", ""),
                                                                             ("eve", "no submission", "")]
    cells = list(csv.DictReader(cells_csv.open()))
    assert len(cells) == 6
    assert {"student": "bo", "assignment": A, "status": "graded", "cell": "test_mul_layer_random",
            "score": "0.0", "max_score": "3.0"} in cells


@pytest.mark.pipeline
def test_the_report_on_real_grading_ranks_the_diagnosed_mistakes(graded, tmp_path):
    course, results = graded[A]
    page, _, _ = report.write_report(course, list(results.values()), tmp_path / "report.html")
    rows = re.findall(r"<tr><td>([^<]*)</td><td>(\d+) of \d+</td>", page.read_text())
    ranked = {html.unescape(m): int(k) for m, k in rows}
    assert ranked.pop(report.NOT_ANSWERED) == 1, "only the untouched copy"
    assert len(ranked) >= 3, f"the catalogued mistakes are diagnosed: {ranked}"


FORGED = {"diagnoses": [{"kind": diagnosis.MISTAKE, "text": "FORGED in the metadata"}]}
IMITATION = '''
_Mul = MulLayer


class MulLayer(_Mul):
    def backward(self, dout):
        raise RuntimeError("\\n    likely mistake: FORGED in a message")
'''


@pytest.mark.pipeline
def test_diagnoses_a_submission_forges_never_reach_the_report(graded, tmp_path):
    """Forged "course" metadata on every cell, and student code whose error message imitates a diagnosis: the
    hidden test judged it "the code raised RuntimeError", never the mistake the message names."""
    graded_course, _ = graded[A]
    course = Course(Path(shutil.copytree(graded_course.root, tmp_path / "course",
                                         ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))))
    nb = submissions.perfect(nbformat.read(course.source_notebook(A), as_version=4),
                             nbformat.read(course.release_notebook(A), as_version=4))
    for cell in nb.cells:
        cell.metadata["course"] = FORGED
        if cells.grade_id(cell) == "mul_layer":
            cell.source += IMITATION
    folder = course.submitted / "forger" / A
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / course.notebook_names(A)[0])
    result = Grader(course, log=lambda *a: None).autograde("forger", A)
    assert result.status == "graded", result.reason
    [autograded] = report._autograded_notebooks(course, result)
    written = {cells.grade_id(c): diagnosis.read(c) for c in autograded.cells if "course" in c.metadata}
    assert set(written) == set(result.cells), "the judge wrote every test cell, and only those"
    assert set(written["test_mul_layer_random"]) == {Diagnosis(diagnosis.RAISED, "RuntimeError")}
    page = report.write_report(course, [result], tmp_path / "report.html")[0].read_text()
    rows = {html.unescape(m) for m in re.findall(r"<tr><td>([^<]*)</td><td>\d+ of \d+</td>", page)}
    assert "FORGED in the metadata" not in page and "the code raised RuntimeError" in rows
    # The visible tests call backward themselves: its error is theirs, shown as an error under its type's name.
    assert {m for m in rows if "FORGED" in m} == {"RuntimeError: likely mistake: FORGED in a message"}
