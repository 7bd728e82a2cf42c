"""The one cell model (course/cells.py): every module reads a cell's role the same way."""
import nbformat
import pytest

from course import cells
from course.feedback import hide_hidden_source
from tests.conftest import ASSIGNMENTS, ROOT
from course.folders import Course


def _cell(source="x = 1", kind="code", **marks):
    meta = {"nbgrader": {"schema_version": 3, "grade": False, "solution": False, "locked": False, **marks}} if marks else {}
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata=meta)


HIDDEN = "# visible part\nassert True\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\n"


def test_each_role_is_decided_by_the_metadata_and_the_hidden_block():
    assert cells.role(_cell(kind="markdown")) is cells.Role.MARKDOWN
    assert cells.role(_cell()) is cells.Role.GIVEN
    assert cells.role(_cell(locked=True, grade_id="setup")) is cells.Role.GIVEN
    assert cells.role(_cell(solution=True, grade_id="a")) is cells.Role.ANSWER
    assert cells.role(_cell(grade=True, locked=True, grade_id="t", points=1)) is cells.Role.VISIBLE_TEST
    assert cells.role(_cell(HIDDEN, grade=True, locked=True, grade_id="h", points=1)) is cells.Role.HIDDEN_TEST
    # a graded answer is an answer, not a test; a markdown cell is never a test
    assert not cells.is_test(_cell(grade=True, solution=True, grade_id="m", points=1))
    assert not cells.is_test(_cell(kind="markdown", grade=True, grade_id="md", points=1))


def test_plain_dicts_and_cells_without_metadata_work():
    assert cells.marks({"cell_type": "code", "source": ""}) == {}
    assert cells.grade_id({"cell_type": "code", "metadata": {"nbgrader": None}}) is None
    assert cells.label(_cell(), 4) == "cell #4" and cells.label(None) == "a cell"
    assert cells.label(_cell(grade=True, grade_id="t", points=1)) == "cell t"


@pytest.mark.parametrize("source,code,left", [
    (HIDDEN, ["secret()\n"], "# visible part\nassert True\n<note>"),
    ("a\n### BEGIN HIDDEN TESTS\nsecret()", ["secret()"], "a\n<note>"),          # unterminated: to the end
    ("### BEGIN HIDDEN TESTS   \nx()\n### END HIDDEN TESTS", ["x()\n"], "<note>"),  # trailing spaces, no newline
    ("### BEGIN HIDDEN TESTS\na()\n### END HIDDEN TESTS\nb\n### BEGIN HIDDEN TESTS\nc()\n### END HIDDEN TESTS\n",
     ["a()\n", "c()\n"], "<note>b\n<note>"),
])
def test_hidden_blocks_are_found_and_removed_alike(source, code, left):
    assert cells.hidden_code(source) == code
    assert cells.without_hidden(source, "<note>") == left
    assert "secret" not in hide_hidden_source(source) and "x()" not in hide_hidden_source(source)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_notebook_has_answers_visible_and_hidden_tests(assignment):
    nb = nbformat.read(Course(ROOT).source_notebook(assignment), as_version=4)
    roles = {cells.role(c) for c in nb.cells}
    assert roles == set(cells.Role)
    assert len(cells.test_ids(nb)) == len(set(cells.test_ids(nb)))
