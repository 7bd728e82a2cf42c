"""Keep hidden tests secret in the feedback a student receives, but keep their verdict.

nbgrader's feedback shows the whole autograded notebook: hidden test source and tracebacks that
quote it (nbgrader issues #917, #1363).  This preprocessor, run by ``nbgrader generate_feedback``
(see nbgrader_config.py), replaces the hidden lines with a note and each test cell's traceback with its
last line: the check's diagnostic message.
"""
import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from course import cells
from course.i18n import t

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def hide_hidden_source(source):
    """The cell source without its hidden blocks (an unterminated block hides the rest of the cell)."""
    return cells.without_hidden(source, hidden_note())


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


class HideHiddenTests(Preprocessor):
    """Hidden test code out, diagnostic messages in, for every test cell of a feedback notebook."""

    enabled = Bool(True)  # nbconvert registers configured preprocessors disabled unless they say otherwise

    def preprocess_cell(self, cell, resources, index):
        if cells.is_test(cell):
            cell.source = hide_hidden_source(cell.source)
            cell.outputs = [short_error(o) if o.get("output_type") == "error" else o for o in cell.outputs]
        return cell, resources
