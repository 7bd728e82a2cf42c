"""Part 1's checks beyond the catalogue (tests/test_catalogue.py runs the notebook with every mistake): the
notebook's grading cells, other correct styles pass the hidden checks, and the messages name the mistake."""
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.checks import CheckFailed
from course.checks import numerical as checks
from course.submissions import solution_code
from tests.mistakes.why_backprop import MISTAKES

NOTEBOOK = nbformat.read(Path(__file__).resolve().parent.parent / "source" / "01-why-backprop" / "why_backprop.ipynb",
                         as_version=4)


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


SOLUTIONS = solution_code(NOTEBOOK)
TEST_CELLS = {_meta(c)["grade_id"]: c.source for c in NOTEBOOK.cells
              if c.cell_type == "code" and _meta(c).get("grade") and not _meta(c).get("solution")}
HIDDEN = [gid for gid, src in TEST_CELLS.items() if "### BEGIN HIDDEN TESTS" in src]


def test_notebook_grade_cells():
    points = {_meta(c)["grade_id"]: _meta(c)["points"] for c in NOTEBOOK.cells if _meta(c).get("grade")}
    assert set(SOLUTIONS) == {"numerical_gradient", "sgd_step", "train", "loglog_slope"}
    assert len(HIDDEN) == 6 and len(TEST_CELLS) == 10
    assert sum(points.values()) == 17
    for gid in HIDDEN:
        block = TEST_CELLS[gid].split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
        assert 1 <= len(block.strip().splitlines()) <= 2, block


# ---------------------------------------------------------------------------------------------------
# Other correct ways to write the answers get full marks

def _define(code, name, ns=None):
    ns = {"np": np, **(ns or {})}
    exec(code, ns)
    return ns[name]


CORRECT_GRADIENTS = {
    "nditer": '''
def numerical_gradient(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        keep = float(x[i])
        x[i] = keep + h
        a = float(f(x))
        x[i] = keep - h
        b = float(f(x))
        x[i] = keep
        grad[i] = (a - b) / (2 * h)
        it.iternext()
    return grad
''',
    "flat": '''
def numerical_gradient(f, x):
    h = 1e-4
    grad = np.zeros(x.shape)
    for i in range(x.size):
        keep = x.flat[i]
        x.flat[i] = keep + h
        up = f(x)
        x.flat[i] = keep - h
        down = f(x)
        x.flat[i] = keep
        grad.flat[i] = (up - down) / h / 2
    return grad
''',
}


@pytest.mark.parametrize("style", CORRECT_GRADIENTS)
def test_other_correct_gradients_pass(style):
    fn = _define(CORRECT_GRADIENTS[style], "numerical_gradient")
    checks.numerical_gradient_accuracy(fn)
    checks.numerical_gradient_any_array(fn)
    checks.numerical_gradient_restores(fn)


CORRECT_SGD = {
    "keys": "def sgd_step(params, grads, lr):\n"
            "    for k in params.keys():\n        params[k] -= lr * grads[k]\n",
    "out": "def sgd_step(params, grads, lr):\n"
           "    for k, p in params.items():\n        np.subtract(p, lr * grads[k], out=p)\n    return params\n",
    "ellipsis": "def sgd_step(params, grads, lr):\n"
                "    for k, p in params.items():\n        p[...] = p - grads[k] * lr\n",
}


@pytest.mark.parametrize("style", CORRECT_SGD)
def test_other_correct_sgd_steps_pass(style):
    checks.sgd_step_in_place(_define(CORRECT_SGD[style], "sgd_step"))


CORRECT_TRAIN = {
    # the book's style: the global generator, with replacement, a loss list as an array
    "global_random": '''
def train(model, params, x, t, lr, batch_size, steps, rng):
    losses = []
    for _ in range(steps):
        mask = np.random.choice(x.shape[0], batch_size)
        loss, grad = model(params, x[mask], t[mask])
        for key in grad:
            params[key] -= lr * grad[key]
        losses.append(loss)
    return np.array(losses)
''',
    # epochs: shuffle once per pass over the data, then take consecutive slices
    "epochs": '''
def train(model, params, x, t, lr, batch_size, steps, rng):
    losses, order = [], []
    for _ in range(steps):
        if len(order) < batch_size:
            order = list(rng.permutation(len(x)))
        idx, order = order[:batch_size], order[batch_size:]
        loss, grads = model(params, x[idx], t[idx])
        sgd_step(params, grads, lr)
        losses.append(float(loss))
    return losses
''',
}


@pytest.mark.parametrize("style", CORRECT_TRAIN)
def test_other_correct_trainings_pass(style):
    sgd = _define(SOLUTIONS["sgd_step"], "sgd_step")
    checks.train_four_steps(_define(CORRECT_TRAIN[style], "train", {"sgd_step": sgd}))


# ---------------------------------------------------------------------------------------------------
# The messages name the mistake

def _message(check, code, name):
    fn = _define(code, name)
    with pytest.raises(CheckFailed) as failure:
        check(fn)
    return str(failure.value)


def _mistake(name):
    return next(m for m in MISTAKES if m.name == name)


@pytest.mark.parametrize("name, check, phrase", [
    ("forward_difference", checks.numerical_gradient_accuracy, "forward difference"),
    ("h_too_small", checks.numerical_gradient_accuracy, "round-off"),
    ("not_restored", checks.numerical_gradient_restores, "was not restored"),
    ("restored_by_arithmetic", checks.numerical_gradient_restores, "Save the original value"),
    ("one_dimensional_loop", checks.numerical_gradient_any_array, "1-D"),
    ("reshape_copies_views", checks.numerical_gradient_any_array, "reshape"),
    ("nudges_a_copy", checks.numerical_gradient_any_array, "copy"),
    ("flatten_copy", checks.numerical_gradient_any_array, "copy"),
    ("borrowed_helper", checks.numerical_gradient_accuracy, "course's own helper"),
    ("imported_helper", checks.numerical_gradient_restores, "course's own helper"),
    ("sgd_new_arrays", checks.sgd_step_in_place, "new array"),
    ("sgd_loop_variable", checks.sgd_step_in_place, "loop variable"),
    ("sgd_uphill", checks.sgd_step_in_place, "uphill"),
    ("sgd_paired_by_position", checks.sgd_step_in_place, "another parameter's gradient"),
    ("slope_from_the_ends", checks.loglog_slope_fit, "least-squares"),
])
def test_messages_name_the_mistake(name, check, phrase):
    (gid, code), = _mistake(name).cells.items()
    names = {"numerical_gradient": "numerical_gradient", "sgd_step": "sgd_step", "loglog_slope": "loglog_slope"}
    assert phrase in _message(check, code, names[gid])


@pytest.mark.parametrize("name, phrase", [
    ("train_same_batch", "at random"),
    ("train_unpaired_batch", "labels belong to its images"),
    ("train_full_batch", "whole data set"),
    ("train_no_update", "-lr * its gradient"),
])
def test_train_messages(name, phrase):
    sgd = _define(SOLUTIONS["sgd_step"], "sgd_step")
    fn = _define(_mistake(name).cells["train"], "train", {"sgd_step": sgd})
    with pytest.raises(CheckFailed) as failure:
        checks.train_four_steps(fn)
    assert phrase in str(failure.value)


def test_unimplemented_stub_is_reported():
    def numerical_gradient(f, x):
        raise NotImplementedError("replace this line with your code")
    with pytest.raises(CheckFailed, match="NotImplementedError"):
        checks.numerical_gradient_accuracy(numerical_gradient)


def test_probe_leaves_no_profiler_behind():
    before = sys.getprofile()
    fn = _define(SOLUTIONS["numerical_gradient"], "numerical_gradient")
    assert not checks._borrowed(fn)
    assert sys.getprofile() is before
