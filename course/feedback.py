"""Keep hidden tests secret in the feedback a student receives, but keep their verdict.

nbgrader's feedback shows the whole autograded notebook: hidden test source and tracebacks that
quote it (nbgrader issues #917, #1363).  This preprocessor, run by ``nbgrader generate_feedback``
(see nbgrader_config.py), replaces the hidden lines with a note and each test cell's traceback with its
last line: the check's diagnostic message.
"""
import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from course.i18n import t

HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def hide_hidden_source(source):
    """The cell source without its hidden blocks (an unterminated block hides the rest of the cell)."""
    note = hidden_note()
    source = HIDDEN_BLOCK.sub(lambda _: note, source)
    start = source.find("### BEGIN HIDDEN TESTS")
    if start >= 0:
        source = source[:start] + note
    return source


def hidden_note():
    """What replaces a hidden test's code in the feedback, in the edition's language."""
    return t("# (hidden test: its code is not shown; its result is below)") + "\n"


def short_error(output):
    """An error output reduced to ``Name: message`` (no frames, so no quoted test lines)."""
    message = ANSI.sub("", str(output.get("evalue", "")))
    return {
        "output_type": "error",
        "ename": output.get("ename", "Error"),
        "evalue": message,
        "traceback": [f"{output.get('ename', 'Error')}: {message}"],
    }


def is_test_cell(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


class HideHiddenTests(Preprocessor):
    """Hidden test code out, diagnostic messages in, for every test cell of a feedback notebook."""

    enabled = Bool(True)  # nbconvert registers configured preprocessors disabled unless they say otherwise

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_test_cell(cell):
            cell.source = hide_hidden_source(cell.source)
            cell.outputs = [short_error(o) if o.get("output_type") == "error" else o for o in cell.outputs]
        return cell, resources
