"""What a notebook cell is, for every module that asks: one answer, decided here.

nbgrader marks cells with metadata (``solution``, ``grade``, ``locked``, ``grade_id``, ``points``); the
course reads those marks as one of five roles:

* ``ANSWER``: the student's code (nbgrader's solution cell);
* ``VISIBLE_TEST``: a test cell the student sees in full;
* ``HIDDEN_TEST``: a test cell with a ``### BEGIN HIDDEN TESTS`` block, removed from the student's copy;
* ``GIVEN``: any other code cell (imports, demonstrations, figures);
* ``MARKDOWN``: prose.

Cells are nbformat nodes or plain dicts (a gradebook copy, a notebook read as JSON): both work.
"""
import re
from enum import Enum

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
# An unterminated block runs to the end of the cell: nbgrader's ClearHiddenTests removes that much too.
_HIDDEN_BLOCK = re.compile(rf"{BEGIN_HIDDEN}[^\n]*\n?(.*?)(?:{END_HIDDEN}[^\n]*\n?|\Z)", re.DOTALL)


class Role(Enum):
    ANSWER = "answer"
    VISIBLE_TEST = "visible test"
    HIDDEN_TEST = "hidden test"
    GIVEN = "given code"
    MARKDOWN = "markdown"


def marks(cell):
    """The cell's nbgrader metadata ({} when it has none)."""
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def grade_id(cell):
    return marks(cell).get("grade_id")


def is_answer(cell):
    return bool(marks(cell).get("solution"))


def is_test(cell):
    """A graded cell that is not an answer: its outputs decide its points."""
    m = marks(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def is_locked(cell):
    """Instructor's code the student may not change (locked, and neither a test nor an answer)."""
    m = marks(cell)
    return bool(m.get("locked")) and not m.get("grade") and not m.get("solution")


def role(cell):
    if cell.get("cell_type") != "code":
        return Role.MARKDOWN
    if is_answer(cell):
        return Role.ANSWER
    if is_test(cell):
        return Role.HIDDEN_TEST if BEGIN_HIDDEN in cell.get("source", "") else Role.VISIBLE_TEST
    return Role.GIVEN


def label(cell, index=None):
    """How messages name a cell: by its grade_id, else by its position."""
    gid = grade_id(cell) if cell else None
    if gid:
        return f"cell {gid}"
    return f"cell #{index}" if index is not None else "a cell"


def hidden_code(source):
    """The code inside a cell's hidden blocks, block by block."""
    return _HIDDEN_BLOCK.findall(source)


def without_hidden(source, note=""):
    """The source with every hidden block replaced by ``note``."""
    return _HIDDEN_BLOCK.sub(lambda _: note, source)


def test_ids(nb):
    """grade_ids of the test cells, in notebook order."""
    return [grade_id(c) for c in nb.cells if is_test(c)]


def answer_ids(nb):
    return [grade_id(c) for c in nb.cells if is_answer(c)]


def scrub_hidden_lines(cell):
    """Student code can print a hidden test's source (from IPython's history) or raise it as a message;
    the feedback a student receives must not show it, so no output of the test keeps those lines."""
    hidden = sorted({line.strip() for block in hidden_code(cell.source)
                     for line in block.splitlines() if line.strip()}, key=len, reverse=True)
    if not hidden:
        return

    def scrub(text):
        for line in hidden:
            text = text.replace(line, "[hidden test]")
        return text

    for out in cell.outputs:
        if "text" in out:
            out.text = scrub(out.text)
        if "evalue" in out:
            out.evalue = scrub(out.evalue)
            out.traceback = [scrub(line) for line in out.traceback]
        if isinstance(out.get("data", {}).get("text/plain"), str):
            out.data["text/plain"] = scrub(out.data["text/plain"])
