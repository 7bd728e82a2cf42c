"""The catalogue of realistic wrong implementations, one module per notebook.

Each module defines ``MISTAKES``: answer cells as a student who made that mistake would write them,
and the test cells that must lose points because of it.  tests/test_catalogue.py runs every mistake
through the notebook's test cells and proves each one loses exactly there; tests/test_grading.py
autogrades a spread of them with the real nbgrader pipeline (all of them with COURSE_PIPELINE_MISTAKES=all).
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    name: str
    description: str
    cells: dict  # answer grade_id -> the whole replacement cell code
    loses: list = field(default_factory=list)  # test grade_ids that must score below full marks
