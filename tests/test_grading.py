"""The real nbgrader pipeline on every notebook: the solution gets full marks, the untouched release copy
gets 0 (graded, not crashed), each catalogued mistake loses the points of the right cells, the solution
runs top to bottom without an error, and the feedback keeps hidden tests secret."""
import html
import re

import nbformat
import pytest

from course.notes import CELLS_CHANGED, TAMPERING
from tests.conftest import ASSIGNMENTS, pipeline_mistakes

CASES = [(a, m) for a in ASSIGNMENTS for m in pipeline_mistakes(a)]


def _text(html_path):
    """What a reader sees in a feedback page: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_path.read_text()))


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_gets_full_marks_and_runs_without_errors(graded, assignment):
    course, results = graded[assignment]
    perfect = results["perfect"]
    assert perfect.status == "graded", perfect.reason
    assert perfect.score == perfect.max_score > 0, perfect.cells
    autograded = nbformat.read(next((course.autograded / "perfect" / assignment).glob("*.ipynb")), as_version=4)
    errors = [c.source[:80] for c in autograded.cells if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.outputs)]
    assert not errors, f"cells that raised in the solution notebook: {errors}"


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_is_graded_and_scores_zero(graded, assignment):
    untouched = graded[assignment][1]["untouched"]
    assert untouched.status == "graded", untouched.reason
    assert untouched.score == 0 and untouched.max_score > 0


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment,mistake", CASES, ids=[f"{a}:{m.name}" for a, m in CASES])
def test_each_mistake_loses_points_where_it_should(graded, assignment, mistake):
    course, results = graded[assignment]
    result = results[f"mistake-{mistake.name}"]
    assert result.status == "graded", result.reason
    assert mistake.loses, "a catalogued mistake names the cells it must lose"
    failed = _failed_cells(course, result)
    for cell in mistake.loses:
        score, max_score = result.cells[cell]
        if max_score == 0:  # a visible test earns nothing either way: it must still tell the student
            assert cell in failed, f"{mistake.description}: the visible test {cell} passed"
        else:
            assert score < max_score, f"{mistake.description}: {cell} still earned {score}/{max_score}"
    assert result.score < result.max_score


def _failed_cells(course, result):
    """The test cells of an autograded notebook with an error output."""
    path = next((course.autograded / result.student / result.assignment).glob("*.ipynb"))
    return {c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(path, as_version=4).cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade")
            and any(o.get("output_type") == "error" for o in c.get("outputs", []))}


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_shows_messages_but_no_hidden_test_line(graded, assignment):
    from tests.test_notebooks import _hidden_lines, _source

    course, results = graded[assignment]
    hidden = _hidden_lines(_source(assignment))
    pages = sorted(course.feedback.rglob("*.html"))
    assert len(pages) == sum(r.status == "graded" for r in results.values())
    for page in pages:
        text = _text(page)
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{page} shows hidden test lines: {leaked}"
        assert "vnd.backprop.record" not in text and '"entries"' not in text, f"{page} shows a raw record"
        assert "Hidden test" in text
    failing = [p for p in pages if "mistake-" in str(p)]
    if failing:
        assert any("✗" in _text(p) for p in failing), "feedback keeps the diagnostic messages"


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment,mistake", [(a, m) for a, m in CASES if m.name.endswith("_hard_coded")],
                         ids=lambda v: getattr(v, "name", v))
def test_hard_coding_the_printed_numbers_earns_nothing(graded, assignment, mistake):
    """Visible tests check the numbers printed in the notebook and earn 0 points: all points sit in hidden
    tests judged outside the kernel, on inputs a hard-coded answer cannot know."""
    result = graded[assignment][1][f"mistake-{mistake.name}"]
    tests = _tests_of(graded[assignment][0].source_notebook(assignment), mistake.cells)
    assert tests and sum(result.cells[cell][0] for cell in tests) == 0, {c: result.cells[c] for c in tests}


def _tests_of(source, answers):
    """The test cells that follow each of the answer cells ``answers``, up to the next answer cell."""
    tests, current = [], None
    for cell in nbformat.read(source, as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            current = meta["grade_id"]
        elif meta.get("grade") and current in answers:
            tests.append(meta["grade_id"])
    return tests


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_guard_raises_no_false_alarm_on_the_mistake_catalogues(graded, assignment):
    """Honest work, right or wrong, is never reported as tampering (the guard would void its tests)."""
    course, results = graded[assignment]
    assert {"perfect", "untouched"} <= set(results)
    for student, result in results.items():
        assert not [f for f in result.flags if f.kind == TAMPERING], (student, result.flags)
        assert not [n for n in result.notes if n.kind != CELLS_CHANGED], (student, result.notes)
