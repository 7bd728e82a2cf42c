"""The catalogue of realistic wrong implementations, one module per notebook.

Each module defines ``MISTAKES``: answer cells as a student who made that mistake would write them,
and the test cells that must lose points because of it.  tests/test_catalogue.py runs every mistake
through the notebook's test cells and proves each one loses exactly there; tests/test_grading.py
autogrades a spread of them with the real nbgrader pipeline (all of them with COURSE_PIPELINE_MISTAKES=all).
"""
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.submissions import solution_code

SOURCE = Path(__file__).resolve().parents[1] / "source"


@dataclass(frozen=True)
class Mistake:
    name: str
    description: str
    cells: dict  # answer grade_id -> the whole replacement cell code
    loses: list = field(default_factory=list)  # test grade_ids that must score below full marks


class SolutionEdits:
    """Mistakes written as small edits of a notebook's own solution cells.

    The catalogue then follows the notebook: an edit that no longer applies fails loudly at import
    instead of testing stale code.
    """

    def __init__(self, notebook):
        self.path = SOURCE / notebook
        self.solutions = solution_code(nbformat.read(self.path, as_version=4))

    def edit(self, grade_id, *changes):
        """The solution of ``grade_id`` with each (old, new) replacement applied; ``old`` must occur exactly once."""
        text = self.solutions[grade_id]
        for old, new in changes:
            if text.count(old) != 1:
                raise ValueError(f"{grade_id}: {old!r} occurs {text.count(old)} times in the notebook's solution")
            text = text.replace(old, new)
        return {grade_id: text}
