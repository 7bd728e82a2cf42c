"""The catalogue of realistic wrong implementations, one module per notebook.

Each module defines ``MISTAKES``: answer cells as a student who made that mistake would write them,
and the test cells that must lose points because of it.  tests/test_mistakes.py autogrades every
mistake with the real nbgrader pipeline and proves each one loses exactly where it should.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    name: str
    description: str
    cells: dict  # answer grade_id -> the whole replacement cell code
    loses: list = field(default_factory=list)  # test grade_ids that must score below full marks
