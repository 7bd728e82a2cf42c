"""Build student submissions from the release notebook: the perfect one, the untouched one, and mistakes.

Used by the demo (example submissions) and by the tests (the mistake catalogue).  A submission is the
release notebook with some answer cells filled in, exactly what a student would hand in.
"""
import re

import nbformat

from course import cells

SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


answer_ids = cells.answer_ids


def solution_code(source_nb):
    """The instructor's answers: each answer cell of the source notebook without the solution markers."""
    return {cells.grade_id(c): SOLUTION_MARKER.sub("", c.source) for c in source_nb.cells if cells.is_answer(c)}


def fill(release_nb, answers):
    """A copy of the release notebook whose answer cells (by grade_id) hold ``answers``."""
    nb = nbformat.from_dict(release_nb)
    unknown = set(answers) - set(answer_ids(nb))
    if unknown:
        raise KeyError(f"no answer cell with grade_id {', '.join(sorted(unknown))} in the notebook")
    for cell in nb.cells:
        if cells.grade_id(cell) in answers:
            cell.source = answers[cells.grade_id(cell)]
    return nb


def perfect(source_nb, release_nb):
    return fill(release_nb, solution_code(source_nb))


def with_mistake(source_nb, release_nb, mistake):
    """Everything right except the cells the mistake replaces."""
    return fill(release_nb, {**solution_code(source_nb), **mistake.cells})
