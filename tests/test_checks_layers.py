"""Part 3's checks beyond the catalogue (tests/test_catalogue.py runs the notebook with every mistake): the
book's code gets full marks, the judge's messages name the mistake where the evidence shows it and no mistake
where it does not, a failure that builds on a failed layer says so, and the kernel's half holds nothing a
submission could copy the right answer from.
"""
import contextlib
import gc
import io
import sys

import nbformat
import numpy as np
import pytest

from course.checks import layers as exercises
from course.checks import record
from course.judge import layers as checks
from course.judge import reference as R
from course.judge.engine import judge
from mistakes.layers import MISTAKES, NOTEBOOK
from tests.notebook_runner import run_notebook, run_once

CELLS = nbformat.read(NOTEBOOK, as_version=4).cells
TESTS = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in CELLS
         if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


# The book's code, in the book's style: Relu changes dout in place (as the lecture shows), SoftmaxWithLoss
# ignores dout, softmax transposes, accuracy counts with np.sum, gradient reverses a list.
BOOK = {
    "sigmoid_layer": '''
class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx
''',
    "relu_layer": '''
class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0

        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout

        return dx
''',
    "affine_layer": '''
class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        dx = dx.reshape(*self.original_x_shape)
        return dx
''',
    "softmax_functions": '''
def softmax(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size
''',
    "softmax_with_loss_layer": '''
class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx
''',
    "two_layer_net": '''
class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {}
        self.params["W1"] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    def numerical_gradient(self, x, t):
        loss_W = lambda W: self.loss(x, t)
        grads = {}
        for key in ("W1", "b1", "W2", "b2"):
            grads[key] = numerical_gradient(loss_W, self.params[key])
        return grads

    def gradient(self, x, t):
        self.loss(x, t)

        dout = 1
        dout = self.lastLayer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        grads = {}
        grads["W1"] = self.layers["Affine1"].dW
        grads["b1"] = self.layers["Affine1"].db
        grads["W2"] = self.layers["Affine2"].dW
        grads["b2"] = self.layers["Affine2"].db
        return grads
''',
}

# (test grade_id, the likely mistake the judge must name, a word of it).
NAMED = {
    "sigmoid_uses_x": ("test_sigmoid_random", "x used where the output belongs"),
    "sigmoid_ignores_dout": ("test_sigmoid_random", "dout is ignored"),
    "relu_no_mask": ("test_relu_random", "no mask"),
    "relu_mask_from_dout": ("test_relu_random", "not from the sign of dout"),
    "relu_difference_quotient": ("test_relu_random", "a difference quotient posing as a backward pass"),
    "affine_dW_transposed": ("test_affine_random", "transposed"),
    "affine_dx_no_transpose": ("test_affine_random", "the transpose is missing"),
    "affine_db_not_summed": ("test_affine_random", "sum dout over the batch"),
    "affine_db_mean": ("test_affine_random", "mean instead of sum"),
    "affine_dx_not_reshaped": ("test_affine_any_shape", "not reshaped back"),
    "softmax_no_max": ("test_softmax_functions_random", "subtract each row's maximum"),
    "cross_entropy_no_epsilon": ("test_softmax_functions_random", "the 1e-7 inside the log is missing"),
    "cross_entropy_sum": ("test_softmax_with_loss_random", "not the mean"),
    "softmax_loss_no_batch_division": ("test_softmax_with_loss_random", "missing from a division"),
    "softmax_loss_sign_flipped": ("test_softmax_with_loss_random", "sign is flipped"),
    "softmax_loss_indices_as_one_hot": ("test_softmax_with_loss_random", "as if they were one-hot"),
    "softmax_loss_difference_quotient": ("test_softmax_with_loss_random", "a numerical gradient of the loss"),
    "net_without_relu": ("test_two_layer_net_gradient", "no ReLU layer"),
    "net_gradient_is_numerical": ("test_two_layer_net_backprop", "a numerical gradient posing as backpropagation"),
    "net_predict_softmax": ("test_two_layer_net_forward", "returns probabilities"),
}

# (test grade_id, words of the message) for failures where no pattern names a mistake: the message says what
# is wrong, and no "likely mistake" is guessed.
UNNAMED = {
    "sigmoid_forward_in_place": ("test_sigmoid_random", "changed its input in place"),
    "softmax_in_place": ("test_softmax_functions_random", "changed its input in place"),
    "affine_copies_params": ("test_affine_any_shape", "not copies"),
    "net_gradient_updates_params": ("test_two_layer_net_backprop", "gradient changed the parameters"),
    "net_not_reversed": ("test_two_layer_net_gradient", "raised ValueError"),
    "gradient_check_self": ("test_gradient_check", "expected the relative error"),
    "gradient_check_silent": ("test_gradient_check", "must print the relative error"),
}

# (test grade_id, the earlier test whose failure the message must name first)
BUILDS_ON = {
    "relu_no_mask": ("test_two_layer_net_gradient", "test_relu_random", "`TwoLayerNet` uses your `Relu`"),
    "softmax_no_max": ("test_softmax_with_loss_extreme", "test_softmax_functions_random",
                       "`SoftmaxWithLoss` uses your `softmax`"),
}


def _mistake(name):
    return next(m for m in MISTAKES if m.name == name)


def _verdict(name, grade_id):
    return run_once(NOTEBOOK, _mistake(name).cells).verdicts[grade_id]


def test_book_code_gets_full_marks():
    """The seed's Relu writes into dout, its SoftmaxWithLoss ignores dout: both are right and earn every point."""
    run = run_notebook(NOTEBOOK, BOOK)
    hidden = {c.metadata["nbgrader"]["grade_id"] for c in CELLS if "### BEGIN HIDDEN TESTS" in c.source}
    assert run.failed == {} and all(v.ok for v in run.verdicts.values()) and set(run.verdicts) == hidden


@pytest.mark.parametrize("name", NAMED)
def test_the_judge_names_the_mistake(name):
    grade_id, words = NAMED[name]
    verdict = _verdict(name, grade_id)
    assert not verdict.ok and any(words in m for m in verdict.mistakes), verdict.mistakes
    assert "likely mistake: " in verdict.message and words in verdict.message


@pytest.mark.parametrize("name", UNNAMED)
def test_no_mistake_is_named_without_evidence(name):
    grade_id, words = UNNAMED[name]
    verdict = _verdict(name, grade_id)
    assert not verdict.ok and words in verdict.message, verdict.message
    assert verdict.mistakes == () and "likely mistake" not in verdict.message, verdict.message


@pytest.mark.parametrize("name", BUILDS_ON)
def test_a_task_built_on_a_failed_answer_says_so_first(name):
    grade_id, earlier, words = BUILDS_ON[name]
    verdict = _verdict(name, grade_id)
    assert verdict.depends_on == (earlier,) and verdict.message.startswith(words), verdict.message


def test_messages_do_not_depend_on_global_random_state():
    mistake = _mistake("affine_db_mean")
    np.random.seed(0)
    first = run_notebook(NOTEBOOK, mistake.cells)
    np.random.seed(12345)
    np.random.rand(1000)
    assert run_notebook(NOTEBOOK, mistake.cells) == first


def test_hidden_tests_are_short_calls_of_the_exercise_named_after_their_cell():
    for cell in CELLS:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
            assert 1 <= len(hidden.strip().splitlines()) <= 2, hidden
            assert f"checks.{cell.metadata['nbgrader']['grade_id']}(" in hidden, hidden


def test_relu_check_skips_entries_next_to_the_kink():
    """A correct ReLU must not fail where ±h crosses 0: those entries are skipped, and the message says so."""
    from course.checks import checklist
    from course.gradcheck import kinks_crossed, numerical_gradient

    x = np.array([-1.0, -3e-5, 2e-5, 0.5])
    dout = np.array([1.0, 2.0, 3.0, 4.0])
    expected = numerical_gradient(lambda v: float((np.maximum(v, 0) * dout).sum()), x.copy())
    with contextlib.redirect_stdout(io.StringIO()) as out:
        with checklist("kink") as c:
            c.gradient("dx", expected, dout * (x > 0), skip=kinks_crossed(x))
    assert "2 entries next to a kink not judged" in c.passed[0], out.getvalue()


def test_points_sit_in_the_hidden_tests():
    hidden = {c.metadata["nbgrader"]["grade_id"] for c in CELLS if "### BEGIN HIDDEN TESTS" in c.source}
    assert all((points > 0) == (grade_id in hidden) for grade_id, points in TESTS.items()), TESTS
    assert all(points <= 4 for points in TESTS.values()), TESTS


def test_the_cases_discriminate_and_stay_clear_of_the_kink_by_construction():
    """No case is built with a forward pass, so check here what the construction promises: hidden units away from
    the kink, accuracies that are neither 0 nor 1, and a gradient near 1e12 that a difference quotient cannot fake."""
    problems = (exercises.forward_problems(3600) + exercises.gradient_problems(3700)
                + exercises.backprop_problems(3800))
    for problem in problems:
        p = problem.params
        assert np.abs(problem.x @ p["W1"] + p["b1"]).min() > 0.1
    for problem in exercises.forward_problems(3600):
        accuracy = (checks._scores(problem.params, problem.x).argmax(axis=1) == problem.labels).mean()
        assert 0 < accuracy < 1
    huge = exercises.backprop_problems(3800)[1]
    assert huge.huge and all(np.abs(g).max() > 0 for g in checks._backprop(huge.params, huge.x, huge.labels).values())
    assert all(case.exact for case in exercises.relu_cases(3200) if "1e13" in case.label)


class _Relu:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)


def _records(exercise, subject):
    with record.capture() as bundles:
        exercise(subject)
    return [b[record.MIME] for b in bundles]


def _arrays_up_the_stack():
    """Every float array in the locals of every frame above the caller: what a snooping result can reach."""
    frames, frame = [], sys._getframe(2)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return [v.copy() for f in frames for v in list(f.f_locals.values())
            if isinstance(v, np.ndarray) and v.dtype == float]


def test_a_frame_reading_result_finds_only_inputs_and_earns_nothing():
    """An __array__ that searches every frame above it for an array of the right shape (the attack that beat the
    in-kernel checks) finds the inputs, never an expected gradient: the kernel holds none."""
    found = []

    class SnoopingRelu(_Relu):
        def backward(self, dout):
            shape = np.shape(dout)

            class Result:
                def __array__(self, dtype=None, copy=None):
                    found.extend(a for a in _arrays_up_the_stack() if a.shape == shape)
                    return found[-1] if found else np.zeros(shape)
            return Result()

    verdict = judge("test_relu_random", _records(exercises.test_relu_random, SnoopingRelu))
    truths = [case.dout * (case.inputs[0] > 0) for case in exercises.relu_cases(3200)]
    assert not verdict.ok and found
    assert not any(np.array_equal(f, truth) for f in found for truth in truths if f.shape == truth.shape)


def test_gc_holds_no_right_answer_while_a_check_runs():
    """A backward pass that hunts gc.get_objects() for the gradient it should return finds nothing to copy."""
    hits = []

    class Hunting(_Relu):
        def backward(self, dout):
            truth = np.where(self.mask, 0.0, dout)
            hits.extend(o for o in gc.get_objects() if isinstance(o, np.ndarray) and o is not truth
                        and o.shape == truth.shape and np.array_equal(o, truth))
            return super().backward(dout)

    assert judge("test_relu_random", _records(exercises.test_relu_random, Hunting)).ok
    assert not hits


def test_hard_coded_lecture_numbers_earn_nothing():
    run = run_once(NOTEBOOK, _mistake("relu_hard_coded").cells)
    assert "test_relu_lecture_example" not in run.failed and TESTS["test_relu_lecture_example"] == 0
    assert "test_relu_random" in run.failed


def test_reference_math_agrees_with_itself():
    scores, labels = np.array([[1.0, 2.0, 3.0], [1000.0, -1000.0, 0.0]]), np.array([2, 1])
    assert np.allclose(R.softmax(scores).sum(axis=1), 1)
    assert R.softmax_cross_entropy(scores, labels) == pytest.approx((-np.log(R.softmax(scores[:1])[0, 2]) + 2000) / 2)
    assert R.softmax_cross_entropy(scores, R.one_hot(labels, 3), eps=1e-7) == pytest.approx(
        R.cross_entropy(R.softmax(scores), labels))
    assert np.allclose(R.softmax_cross_entropy_gradient(scores, labels), (R.softmax(scores) - R.one_hot(labels, 3)) / 2)
