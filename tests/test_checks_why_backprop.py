"""Part 1's checks beyond the catalogue (tests/test_catalogue.py runs the notebook with every mistake): the
notebook's grading cells, other correct styles pass the hidden checks, and the judge's messages name the
mistake where the evidence supports it and no mistake where it does not."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.checks import record
from course.checks import why_backprop as exercises
from course.judge.engine import Verdict, judge
from course.submissions import solution_code
from mistakes.why_backprop import MISTAKES
from tests.notebook_runner import run_once

SOURCE = Path(__file__).resolve().parent.parent / "source" / "01-why-backprop" / "why_backprop.ipynb"
NOTEBOOK = nbformat.read(SOURCE, as_version=4)


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


SOLUTIONS = solution_code(NOTEBOOK)
TEST_CELLS = {_meta(c)["grade_id"]: c.source for c in NOTEBOOK.cells
              if c.cell_type == "code" and _meta(c).get("grade") and not _meta(c).get("solution")}
HIDDEN = [gid for gid, src in TEST_CELLS.items() if "### BEGIN HIDDEN TESTS" in src]
MISTAKE = {m.name: m for m in MISTAKES}


def test_notebook_grade_cells_visible_tests_earn_nothing_and_hidden_cells_only_call_an_exercise():
    points = {_meta(c)["grade_id"]: _meta(c)["points"] for c in NOTEBOOK.cells if _meta(c).get("grade")}
    assert set(SOLUTIONS) == {"numerical_gradient", "sgd_step", "train", "loglog_slope"}
    assert HIDDEN and len(HIDDEN) < len(TEST_CELLS), "visible tests beside the hidden ones"
    assert all(points[gid] == 0 for gid in TEST_CELLS if gid not in HIDDEN)
    assert all(points[gid] > 0 for gid in HIDDEN)
    for gid in HIDDEN:
        block = TEST_CELLS[gid].split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
        imports, call = block.strip().splitlines()
        assert imports == "from course.checks import why_backprop as checks" and call.startswith(f"checks.{gid}(")
        assert hasattr(exercises, gid)


def _define(code, name, ns=None):
    ns = {"np": np, **(ns or {})}
    exec(code, ns)
    return ns[name]


def _verdict(test, fn, earlier=None):
    """The judge's verdict on what the exercise ``test`` recorded of ``fn``."""
    with record.capture() as bundles:
        getattr(exercises, test)(fn)
    return judge(test, [b[record.MIME] for b in bundles], earlier)


def _sgd():
    return _define(SOLUTIONS["sgd_step"], "sgd_step")


# ---------------------------------------------------------------------------------------------------
# Other correct ways to write the answers get full marks

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

GRADIENT_TESTS = ("numerical_gradient_accuracy", "numerical_gradient_any_array", "numerical_gradient_restores")


@pytest.mark.parametrize("style", CORRECT_GRADIENTS)
def test_other_correct_gradients_pass(style):
    fn = _define(CORRECT_GRADIENTS[style], "numerical_gradient")
    for test in GRADIENT_TESTS:
        verdict = _verdict(test, fn)
        assert verdict.ok, verdict.message


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
    verdict = _verdict("sgd_step_in_place", _define(CORRECT_SGD[style], "sgd_step"))
    assert verdict.ok, verdict.message


CORRECT_TRAIN = {
    # with replacement, its own update loop, the losses as an array
    "with_replacement": '''
def train(model, params, x, t, lr, batch_size, steps, rng):
    losses = []
    for _ in range(steps):
        mask = rng.choice(x.shape[0], batch_size)
        loss, grad = model(params, x[mask], t[mask])
        for key in grad:
            params[key] -= lr * grad[key]
        losses.append(loss)
    return np.array(losses)
''',
    # epochs: shuffle with rng once per pass over the data, then take consecutive pieces of that order
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
    "integers": '''
def train(model, params, x, t, lr, batch_size, steps, rng):
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, len(x), size=batch_size)
        loss, grads = model(params, x[idx], t[idx])
        sgd_step(params, grads, lr)
        losses.append(loss)
    return losses
''',
}


@pytest.mark.parametrize("style", CORRECT_TRAIN)
def test_other_correct_trainings_pass(style):
    verdict = _verdict("train_four_steps", _define(CORRECT_TRAIN[style], "train", {"sgd_step": _sgd()}))
    assert verdict.ok, verdict.message


# ---------------------------------------------------------------------------------------------------
# The messages name the mistake

def _mistaken(name):
    (gid, code), = MISTAKE[name].cells.items()
    return _define(code, gid, {"sgd_step": _sgd()} if gid == "train" else None)


@pytest.mark.parametrize("name, test, phrase", [
    ("forward_difference", "numerical_gradient_accuracy", "forward difference"),
    ("h_too_small", "numerical_gradient_accuracy", "round-off"),
    ("h_too_large", "numerical_gradient_accuracy", "too large"),
    ("not_restored", "numerical_gradient_restores", "was not restored"),
    ("restored_by_arithmetic", "numerical_gradient_restores", "Save the original value"),
    ("one_dimensional_loop", "numerical_gradient_any_array", "1-D"),
    ("reshape_copies_views", "numerical_gradient_any_array", "reshape"),
    ("nudges_a_copy", "numerical_gradient_any_array", "copy"),
    ("flatten_copy", "numerical_gradient_any_array", "copy"),
    ("divided_by_h", "numerical_gradient_accuracy", "constant factor of 2"),
    ("borrowed_helper", "numerical_gradient_accuracy", "course's own helper"),
    ("numerical_gradient_hard_coded", "numerical_gradient_restores", "f was called 0 times"),
    ("sgd_new_arrays", "sgd_step_in_place", "new array"),
    ("sgd_loop_variable", "sgd_step_in_place", "loop variable"),
    ("sgd_uphill", "sgd_step_in_place", "uphill"),
    ("sgd_paired_by_position", "sgd_step_in_place", "another parameter's gradient"),
    ("sgd_hard_coded_keys", "sgd_step_in_place", "not a fixed list of names"),
    ("sgd_scales_grads_in_place", "sgd_step_in_place", "grads is only read"),
    ("train_same_batch", "train_four_steps", "at random"),
    ("train_unpaired_batch", "train_four_steps", "labels belong to its images"),
    ("train_full_batch", "train_four_steps", "whole data set"),
    ("train_no_update", "train_four_steps", "-lr * its gradient"),
    ("train_consecutive_slices", "train_four_steps", "runs of consecutive rows"),
    ("train_ignores_rng", "train_four_steps", "not with np.random"),
    ("train_own_seeded_rng", "train_four_steps", "not a generator of your own with a fixed seed"),
    ("slope_from_the_ends", "loglog_slope_fit", "least-squares"),
    ("slope_mixed_logs", "loglog_slope_fit", "same log"),
])
def test_the_judge_names_the_mistake(name, test, phrase):
    verdict = _verdict(test, _mistaken(name))
    assert not verdict.ok and phrase in verdict.message, verdict.message


@pytest.mark.parametrize("name", ["h_too_large", "forward_difference", "h_too_small"])
def test_a_near_miss_is_blamed_on_the_numerics_not_on_a_constant_factor(name):
    """exp(3x) with h = 1e-2 (or a forward difference) is off by the same factor 1.00015 in every entry: the
    probe names the step, and "off by a constant factor of 1.0002" would send the student after a bug."""
    verdict = _verdict("numerical_gradient_accuracy", _mistaken(name))
    assert not verdict.ok and "Likely mistake" in verdict.message
    assert "constant factor" not in verdict.message, verdict.message


def test_ignoring_the_rng_costs_exactly_one_check():
    verdict = _verdict("train_four_steps", _mistaken("train_ignores_rng"))
    assert verdict.message.count("✗") == 1, verdict.message  # the batches are random, paired and of the right size


def test_train_says_when_the_sgd_step_it_builds_on_failed():
    failed_sgd = {"sgd_step_in_place": Verdict("sgd_step_in_place", False, "...")}
    wrong_sgd = _define(MISTAKE["sgd_uphill"].cells["sgd_step"], "sgd_step")
    train = _define(SOLUTIONS["train"], "train", {"sgd_step": wrong_sgd})
    verdict = _verdict("train_four_steps", train, failed_sgd)
    assert verdict.message.startswith("`train` uses your `sgd_step`, whose own test failed: fix it first.")


def test_unimplemented_stub_is_reported():
    def numerical_gradient(f, x):
        raise NotImplementedError("replace this line with your code")
    assert "NotImplementedError" in _verdict("numerical_gradient_accuracy", numerical_gradient).message


def test_probe_leaves_no_profiler_behind():
    before = sys.getprofile()
    assert not exercises.borrowed(_define(SOLUTIONS["numerical_gradient"], "numerical_gradient"))
    assert sys.getprofile() is before


def test_the_notebook_run_judges_part_1_outside_the_kernel():
    run = run_once(SOURCE, MISTAKE["sgd_uphill"].cells)
    assert run.verdicts["train_four_steps"].depends_on == ("sgd_step_in_place",)
    assert "uphill" in run.failed["sgd_step_in_place"]


# ---------------------------------------------------------------------------------------------------
# Attacks from inside the kernel find no expected value there to copy or to rewrite

# Run in a fresh interpreter, as small as a kernel: in the test session's own process the hunt would wade through
# every object of the session.  numpy arrays are no objects the garbage collector tracks, so the hunt looks inside
# the containers it does track (lists, dicts, frames, closures): where an expected gradient would be held.
HUNT = '''
import gc, json
import numpy as np
from course.checks import record
from course.checks import why_backprop as exercises
from course.gradcheck import numerical_gradient as central_difference
from course.judge.engine import judge

HELD = []    # an array held the way an expected gradient would be: the hunt must find it
hunt = {"found the held array": [], "closest to the truth": [], "verdicts": []}

def numerical_gradient(f, x):
    """Returns the float array of x's shape the process holds that is nearest the true gradient."""
    HELD.append(np.full(x.shape, 42.0))
    held = [r for o in gc.get_objects() for r in gc.get_referents(o)
            if type(r) is np.ndarray and r is not x and r.shape == x.shape and r.dtype == float]
    hunt["found the held array"].append(any(r is HELD[-1] for r in held))
    truth = central_difference(f, x.copy())
    held = [r.copy() for r in held if r is not HELD[-1]]
    if not held:
        return np.zeros(x.shape)
    best = min(held, key=lambda r: float(np.abs(r - truth).max()))
    hunt["closest to the truth"].append(float(np.abs(best - truth).max() / max(np.abs(truth).max(), 1e-8)))
    return best

for test in ("numerical_gradient_accuracy", "numerical_gradient_any_array"):
    with record.capture() as bundles:
        getattr(exercises, test)(numerical_gradient)
    hunt["verdicts"].append(judge(test, [b[record.MIME] for b in bundles]).ok)
print(json.dumps(hunt))
'''


PATCHER = '''
import course.gradcheck, course.checks

def numerical_gradient(f, x):
    """A forward difference that also makes every comparison it can reach in the kernel pass."""
    course.gradcheck.compare = lambda *a, **k: course.gradcheck.Comparison("x", True, "ok")
    course.checks.Checklist.close = lambda *a, **k: True
    h = 1e-4
    grad = np.zeros(x.shape)
    fx = f(x)
    for idx in np.ndindex(x.shape):
        keep = x[idx]
        x[idx] = keep + h
        grad[idx] = (f(x) - fx) / h
        x[idx] = keep
    return grad
'''


def test_hunting_the_kernels_objects_finds_no_expected_gradient():
    done = subprocess.run([sys.executable, "-c", HUNT], capture_output=True, text=True, timeout=300,
                          cwd=SOURCE.parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    hunt = json.loads(done.stdout.splitlines()[-1])
    assert hunt["found the held array"] and all(hunt["found the held array"]), "the hunt sees held arrays"
    assert hunt["closest to the truth"] and min(hunt["closest to the truth"]) > 1e-3, hunt["closest to the truth"]
    assert hunt["verdicts"] == [False, False]
    assert not hasattr(exercises, "GRADIENTS")  # the truth lives in the judge only


def test_patching_the_kernels_checks_changes_nothing_the_judge_decides(monkeypatch):
    import course.checks
    import course.gradcheck
    # the kernel's modules, patched by the submission, are given back before judging, as the grader's own
    # process never had them patched
    monkeypatch.setattr(course.gradcheck, "compare", course.gradcheck.compare)
    monkeypatch.setattr(course.checks.Checklist, "close", course.checks.Checklist.close)
    patcher = _define(PATCHER, "numerical_gradient")
    with record.capture() as bundles:
        exercises.numerical_gradient_accuracy(patcher)
    monkeypatch.undo()
    verdict = judge("numerical_gradient_accuracy", [b[record.MIME] for b in bundles])
    assert not verdict.ok and "forward difference" in verdict.message


def test_a_wrong_shape_is_still_diagnosed():
    transposed = _define("def numerical_gradient(f, x):\n    return np.zeros(x.shape).T + 1\n", "numerical_gradient")
    assert "transposed" in _verdict("numerical_gradient_accuracy", transposed).message
