"""Part 3's checks beyond the catalogue (tests/test_catalogue.py runs the notebook with every mistake): the
book's code gets full marks, the messages name the mistake, and they do not depend on numpy's global state.
"""
import contextlib
import io

import nbformat
import numpy as np
import pytest

from tests.mistakes.layers import MISTAKES, NOTEBOOK
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

# What the feedback must say for some mistakes: (test grade_id, words in its message).
HINTS = {
    "sigmoid_uses_x": ("test_sigmoid_random", "x used where the output belongs"),
    "sigmoid_ignores_dout": ("test_sigmoid_random", "dout is ignored"),
    "sigmoid_forward_in_place": ("test_sigmoid_random", "changed its input x in place"),
    "relu_no_mask": ("test_relu_random", "no mask"),
    "relu_mask_from_dout": ("test_relu_random", "not from the sign of dout"),
    "affine_dW_transposed": ("test_affine_random", "transposed"),
    "affine_dx_no_transpose": ("test_affine_random", "the transpose is missing"),
    "affine_db_not_summed": ("test_affine_random", "sum dout over the batch"),
    "affine_db_mean": ("test_affine_random", "mean instead of sum"),
    "affine_dx_not_reshaped": ("test_affine_any_shape", "not reshaped back"),
    "affine_copies_params": ("test_affine_any_shape", "not copies"),
    "softmax_no_max": ("test_softmax_with_loss_extreme", "Subtract each row's maximum"),
    "softmax_in_place": ("test_softmax_with_loss_random", "changed its input x in place"),
    "cross_entropy_sum": ("test_softmax_with_loss_random", "not the mean"),
    "softmax_loss_no_batch_division": ("test_softmax_with_loss_random", "missing from a division"),
    "softmax_loss_sign_flipped": ("test_softmax_with_loss_random", "sign is flipped"),
    "softmax_loss_indices_as_one_hot": ("test_softmax_with_loss_random", "as if they were one-hot"),
    "net_gradient_is_numerical": ("test_two_layer_net_backprop", "numerical gradient"),
    "net_without_relu": ("test_two_layer_net_gradient", "no ReLU layer"),
    "gradient_check_self": ("test_gradient_check", "relative error"),
}


def test_book_code_gets_full_marks():
    assert run_notebook(NOTEBOOK, BOOK).failed == {}


@pytest.mark.parametrize("name", HINTS)
def test_message_names_the_mistake(name):
    mistake = next(m for m in MISTAKES if m.name == name)
    grade_id, words = HINTS[name]
    message = run_once(NOTEBOOK, mistake.cells)[grade_id]
    assert message and words in message, message


def test_messages_do_not_depend_on_global_random_state():
    mistake = next(m for m in MISTAKES if m.name == "affine_db_mean")
    np.random.seed(0)
    first = run_notebook(NOTEBOOK, mistake.cells)
    np.random.seed(12345)
    np.random.rand(1000)
    assert run_notebook(NOTEBOOK, mistake.cells) == first


def test_hidden_tests_are_short_calls():
    for cell in CELLS:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
            assert 1 <= len(hidden.strip().splitlines()) <= 2, hidden


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


def test_points_per_cell():
    assert all(1 <= points <= 3 for points in TESTS.values())
