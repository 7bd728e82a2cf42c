"""Every source notebook is a valid, clean nbgrader notebook, and release/ is exactly what nbgrader makes of it."""
import json
import re

import nbformat
import pytest

from course import cells
from course.grading import Grader
from tests.conftest import ASSIGNMENTS, ROOT, make_course_copy
from course.folders import Course

COURSE = Course(ROOT)
ALLOWED_KEYS = {"schema_version", "grade", "solution", "locked", "grade_id", "points"}


def _source(assignment):
    return nbformat.read(COURSE.source_notebook(assignment), as_version=4)


def _hidden_lines(nb):
    """Lines that only hidden tests contain (the code between the HIDDEN TESTS markers)."""
    lines = set()
    for cell in nb.cells:
        for block in cells.hidden_code(cell.source):
            lines |= {line.strip() for line in block.splitlines() if line.strip()}
    return lines


def _solution_lines(nb):
    lines = set()
    for cell in nb.cells:
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.DOTALL):
            lines |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12}
    return lines


def test_course_has_every_part():
    assert ASSIGNMENTS[:1] == ["01-why-backprop"] or "02-computation-graphs" in ASSIGNMENTS
    assert all(re.fullmatch(r"\d\d-[a-z-]+", a) for a in ASSIGNMENTS), ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_is_valid_schema_3_without_outputs(assignment):
    nb = _source(assignment)
    nbformat.validate(nb)
    ids = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "source notebooks are stored without outputs"
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        assert meta["schema_version"] == 3
        assert set(meta) <= ALLOWED_KEYS, set(meta) - ALLOWED_KEYS
        assert ("points" in meta) == bool(meta["grade"]), meta
        ids.append(meta["grade_id"])
        if cells.BEGIN_HIDDEN in cell.source:
            assert meta["grade"], f"hidden tests outside a grade cell: {meta['grade_id']}"
    assert len(ids) == len(set(ids)), "duplicate grade_ids"
    assert any(c.metadata.get("nbgrader", {}).get("solution") for c in nb.cells)
    assert _hidden_lines(nb), "every notebook has hidden tests"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_answer_cell_has_a_visible_and_a_hidden_test(assignment):
    nb = _source(assignment)
    roles = [cells.role(c) for c in nb.cells]
    assert cells.Role.VISIBLE_TEST in roles
    assert roles.count(cells.Role.HIDDEN_TEST) >= 2


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    course = make_course_copy(tmp_path_factory.mktemp("regenerate"))
    grader = Grader(course, log=lambda *a: None)
    for assignment in ASSIGNMENTS:
        grader.generate(assignment)
    return course


def _normalised(path):
    nb = json.loads(path.read_text())
    return json.dumps(nb, sort_keys=True, indent=1)


@pytest.mark.pipeline
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_matches_a_fresh_generate(regenerated, assignment):
    committed = COURSE.release / assignment
    fresh = regenerated.release / assignment
    assert committed.exists(), f"release/{assignment} is missing: run `python3 run.py course generate`"
    names = sorted(p.name for p in fresh.rglob("*") if p.is_file())
    assert sorted(p.name for p in committed.rglob("*") if p.is_file()) == names
    for name in names:
        if name.endswith(".ipynb"):
            assert _normalised(committed / name) == _normalised(fresh / name), (
                f"release/{assignment}/{name} is out of date: run `python3 run.py course generate {assignment}`")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    source = _source(assignment)
    text = COURSE.release_notebook(assignment).read_text()
    release_lines = {line.strip() for cell in json.loads(text)["cells"]
                     for line in "".join(cell["source"]).splitlines()}
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert not (_hidden_lines(source) & release_lines)
    assert not (_solution_lines(source) & release_lines)
