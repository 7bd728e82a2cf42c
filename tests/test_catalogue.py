"""The whole mistake catalogue, proven in-process on every notebook that has one: the solution passes every
test cell, each catalogued mistake fails exactly the test cells it lists, and the catalogue is well formed
and leaves no answer cell without a mistake.  (tests/test_grading.py autogrades a few of the same
submissions with the real nbgrader, which shows this in-process run is faithful.)"""
import functools
import os
import sys

import matplotlib.pyplot as plt
import nbformat
import pytest

from course import cells
from course.folders import Course
from tests.conftest import ASSIGNMENTS, ROOT, catalogue, selected
from tests.notebook_runner import run_ahead, run_notebook, run_once

CATALOGUED = [a for a in ASSIGNMENTS if catalogue(a)]
CASES = [(a, m) for a in CATALOGUED for m in catalogue(a)]


def _notebook(assignment):
    return Course(ROOT).source_notebook(assignment)


@functools.lru_cache(maxsize=None)
def _grade_ids(assignment):
    """(answer grade_ids, test grade_ids) of the assignment's source notebook."""
    nb = nbformat.read(_notebook(assignment), as_version=4)
    return set(cells.answer_ids(nb)), set(cells.test_ids(nb))


@pytest.fixture(scope="module", autouse=True)
def _selected_mistakes_run_ahead(request):
    """The selected catalogue cases run first on every core (the tests below then read their results)."""
    run_ahead([(_notebook(assignment), mistake.cells)
               for assignment, mistake in selected(request, "assignment", "mistake")])


# The issues ask for at least this many realistic mistakes per notebook.
MINIMUM = {"01-why-backprop": 8, "02-computation-graphs": 8, "03-layers": 15, "04-homework": 8}


def test_every_part_has_a_catalogue_of_the_promised_size():
    assert CATALOGUED == ASSIGNMENTS
    for assignment in ASSIGNMENTS:
        assert len(catalogue(assignment)) >= MINIMUM.get(assignment, 8), assignment


@pytest.mark.parametrize("assignment", CATALOGUED)
def test_solution_passes_every_test_cell_and_runs_without_errors(assignment):
    run = run_once(_notebook(assignment))
    assert set(run) == _grade_ids(assignment)[1]
    assert run.failed == {}
    assert run.errors == {}, "cells that raised with the solution"


@pytest.mark.parametrize("assignment,mistake", CASES, ids=[f"{a}:{m.name}" for a, m in CASES])
def test_mistake_fails_exactly_the_cells_it_lists(assignment, mistake):
    failed = run_once(_notebook(assignment), mistake.cells).failed
    still_passing = set(mistake.loses) - set(failed)
    not_listed = {cell: message for cell, message in failed.items() if cell not in mistake.loses}
    assert not still_passing, f"{mistake.description}: these cells still pass"
    assert not not_listed, f"{mistake.description}: these cells fail too, add them to loses"


@pytest.mark.parametrize("assignment", CATALOGUED)
def test_catalogue_is_well_formed(assignment):
    mistakes, (answers, tests) = catalogue(assignment), _grade_ids(assignment)
    names = [m.name for m in mistakes]
    assert len(set(names)) == len(names), f"names used twice: {sorted({n for n in names if names.count(n) > 1})}"
    for m in mistakes:
        assert m.description and m.cells and m.loses, m.name
        assert set(m.cells) <= answers, f"{m.name}: not answer cells: {set(m.cells) - answers}"
        assert set(m.loses) <= tests, f"{m.name}: not test cells: {set(m.loses) - tests}"


@pytest.mark.parametrize("assignment", CATALOGUED)
def test_every_answer_cell_has_a_mistake(assignment):
    uncovered = _grade_ids(assignment)[0] - {grade_id for m in catalogue(assignment) for grade_id in m.cells}
    assert not uncovered, f"answer cells without a mistake: {uncovered}"


def test_runner_carries_on_after_an_error_and_leaves_no_state_behind():
    environ, limit = dict(os.environ), sys.getrecursionlimit()
    broken = (f"import os, sys\nseen = os.environ.get('NBGRADER_EXECUTION')\nos.environ['LEFT_BEHIND'] = '1'\n"
              f"sys.setrecursionlimit({limit + 1000})\nraise ValueError('broken')\n")
    run = run_notebook(_notebook("02-computation-graphs"), {"mul_layer": broken})
    assert run.errors["mul_layer"] == "ValueError: broken" and run.namespace["seen"] == "autograde"
    assert "test_mul_layer_apple" in run.failed and run["test_add_layer_numbers"] is None
    assert dict(os.environ) == environ and sys.getrecursionlimit() == limit and not plt.get_fignums()
