"""Part 3's hidden tests (계층), the kernel half: Sigmoid, Relu, Affine, softmax, SoftmaxWithLoss, TwoLayerNet
and gradient_check.

Each object is named after the grade id it serves and only exercises the student's code on the cases below;
:mod:`course.judge.layers` judges the record in the grader, rebuilding these same cases.  No case needs a
forward pass to be built: ReLU's inputs and the networks' hidden pre-activations stay clear of the kink by
construction, and the networks' labels are drawn at random.
"""
import io
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Callable

import numpy as np

from course.checks import rng
from course.checks.exercises import LayerCase, LayerExercise, _method, key
from course.checks.record import recording

_array = np.array
_eye = np.eye
_int = np.int64
_prod = np.prod
_ndarray = np.ndarray
_sign = np.sign

SHAPES = [(1, 5), (4, 3), (7,), (2, 3, 2)]
PARAMS = ("W1", "b1", "W2", "b2")


def labels_as(kind, labels, classes):
    """Class indices in the requested format: the indices themselves, or one-hot rows (an input, not a truth)."""
    return _eye(classes)[labels] if kind == "one-hot" else _array(labels, dtype=_int, copy=True)


# ---------------------------------------------------------------------------------------------------
# Sigmoid and Relu

def sigmoid_cases(seed):
    """Random inputs and upstream gradients of every shape."""
    cases = []
    for k, shape in enumerate(SHAPES):
        g = rng(seed + k)
        x, dout = g.normal(size=shape) * 2, g.normal(size=shape)
        cases.append(LayerCase(f"shape {shape} with a random dout", (x,), dout))
    return cases


def relu_cases(seed):
    """Inputs at least 0.05 away from the kink at 0, of every shape; and inputs near ±1e13."""
    cases = []
    for k, shape in enumerate(SHAPES):
        g = rng(seed + k)
        x = g.normal(size=shape)
        x = x + 0.05 * _sign(x)
        cases.append(LayerCase(f"shape {shape} with a random dout", (x,), g.normal(size=shape)))
    # Near 1e13, x ± h rounds back to x: a difference quotient posing as a backward pass gets 0 there.
    g = rng(seed + 99)
    x = g.choice([-1.0, 1.0], size=(3, 4)) * g.uniform(1, 2, size=(3, 4)) * 1e13
    cases.append(LayerCase("inputs near ±1e13", (x,), g.normal(size=(3, 4)), exact=True))
    return cases


test_sigmoid_random = LayerExercise("test_sigmoid_random", lambda: sigmoid_cases(3100))
test_relu_random = LayerExercise("test_relu_random", lambda: relu_cases(3200))


# ---------------------------------------------------------------------------------------------------
# Affine

# (N, D, M): batch sizes 1 and more; first a square W, so that a missing transpose is named before a later
# shape error stops the case.
AFFINE_CASES = [(3, 3, 3), (1, 4, 3), (5, 4, 3), (6, 2, 5)]
IMAGE_SHAPES = [(2, 3, 2, 2), (1, 2, 5), (3, 2, 1, 4)]
SHARED = "W and b changed in place after Affine(W, b)"


def affine_cases(seed):
    """2-D batches with a random dout, and a batch whose inputs are near 1e13."""
    cases = []
    for k, (n, d, m) in enumerate(AFFINE_CASES):
        g = rng(seed + k)
        x, W, b, dout = g.normal(size=(n, d)), g.normal(size=(d, m)), g.normal(size=m), g.normal(size=(n, m))
        cases.append(LayerCase(f"N={n}, x {x.shape}, W {W.shape}", (x,), dout, init=(W, b), batch=n))
    g = rng(seed + 99)
    x, W, b, dout = g.uniform(1, 2, size=(3, 4)) * 1e13, g.normal(size=(4, 2)), g.normal(size=2), g.normal(size=(3, 2))
    cases.append(LayerCase("x near 1e13", (x,), dout, init=(W, b), batch=3, exact=True))
    return cases


def image_cases(seed):
    """Inputs of rank 1 to 4 per sample, flattened by the layer."""
    cases = []
    for k, shape in enumerate(IMAGE_SHAPES):
        g = rng(seed + k)
        n, d = shape[0], int(_prod(shape[1:]))
        x, W, b, dout = g.normal(size=shape), g.normal(size=(d, 4)), g.normal(size=4), g.normal(size=(n, 4))
        cases.append(LayerCase(f"x of shape {shape}", (x,), dout, init=(W, b), batch=n))
    return cases


def shared_case(seed):
    """(W, b, x): the layer is built on W and b, which then change in place, as training changes them."""
    g = rng(seed)
    return g.normal(size=(3, 2)), g.normal(size=2), g.normal(size=(2, 3))


@dataclass(frozen=True)
class SharedParamsExercise(LayerExercise):
    """The layer cases, then: ``Affine(W, b)``, ``W *= 2; b += 1`` in place, ``forward(x)`` (must see the change)."""
    shared: Callable = None

    def exercise(self, r, layer_class):
        super().exercise(r, layer_class)
        with r.case():
            W, b, x = self.shared()
            layer = r.call(key(SHARED, "construct"), layer_class, W, b, keep=False)
            W *= 2.0
            b += 1.0
            r.call(key(SHARED, "forward"), _method(layer, "forward"), _array(x, dtype=float, copy=True))


test_affine_random = LayerExercise("test_affine_random", lambda: affine_cases(3300), params=("dW", "db"))
test_affine_any_shape = SharedParamsExercise("test_affine_any_shape", lambda: image_cases(3400), params=("dW", "db"),
                                             shared=lambda: shared_case(3450))


# ---------------------------------------------------------------------------------------------------
# softmax and cross_entropy_error

SOFTMAX_SHAPES = [(1, 3), (4, 5), (3, 10)]


def softmax_function_cases(seed):
    """(label, logits) for softmax: random rows, and rows of ±1000 that overflow a naive exp."""
    cases = []
    for k, shape in enumerate(SOFTMAX_SHAPES):
        cases.append((f"logits of shape {shape}", rng(seed + k).normal(size=shape) * 3))
    cases.append(("logits of ±1000", _array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])))
    return cases


def cross_entropy_cases(seed):
    """(label, probabilities, labels) for cross_entropy_error, both label formats; some correct classes get a
    probability of 1e-6 or 0, where the 1e-7 inside the log decides the value."""
    cases = []
    for k, (n, classes, kind) in enumerate([(1, 3, "indices"), (5, 4, "one-hot"), (6, 3, "indices")]):
        g = rng(seed + k)
        y = g.uniform(0.05, 1, size=(n, classes))
        y /= y.sum(axis=1, keepdims=True)
        cases.append((f"{n}×{classes} probabilities with {kind} labels", y,
                      labels_as(kind, g.integers(0, classes, size=n), classes)))
    tiny = _array([[1e-6, 0.5, 0.5 - 1e-6], [0.0, 0.25, 0.75], [0.2, 0.3, 0.5]])
    for kind in ("indices", "one-hot"):
        cases.append((f"correct classes of probability 1e-6 and 0, {kind} labels", tiny,
                      labels_as(kind, _array([0, 0, 2]), 3)))
    return cases


@dataclass(frozen=True)
class SoftmaxFunctionsExercise:
    """``softmax(x)`` on every logits case and ``cross_entropy_error(y, t)`` on every probabilities case, with
    the arrays they were given after the call."""
    test: str

    def __call__(self, softmax, cross_entropy_error):
        with recording(self.test) as r:
            for label, x in softmax_function_cases(3550):
                with r.case():
                    given = _array(x, dtype=float, copy=True)
                    r.call(key(label, "softmax"), softmax, given)
                    r.value(key(label, "input 0 after softmax"), given)
            for label, y, labels in cross_entropy_cases(3560):
                with r.case():
                    given = _array(y, dtype=float, copy=True)
                    r.call(key(label, "cross_entropy_error"), cross_entropy_error, given, labels.copy())
                    r.value(key(label, "input 0 after cross_entropy_error"), given)


test_softmax_functions_random = SoftmaxFunctionsExercise("test_softmax_functions_random")


# ---------------------------------------------------------------------------------------------------
# SoftmaxWithLoss

# (N, classes, label format): batch sizes 1 and more, both label formats.
SOFTMAX_CASES = [(1, 3, "indices"), (1, 4, "one-hot"), (5, 3, "indices"), (6, 10, "one-hot"), (4, 5, "indices")]


def _loss_case(label, scores, labels, kind, **options):
    """forward(scores, labels) then backward(1), the way a network calls its last layer."""
    classes = scores.shape[1]
    return LayerCase(label, (scores, labels_as(kind, labels, classes)), 1.0, numbers=True, fixed=(1,),
                     integer=(1,) if kind == "indices" else (), batch=len(scores), **options)


def softmax_loss_cases(seed):
    """Random logits in both label formats."""
    cases = []
    for k, (n, classes, kind) in enumerate(SOFTMAX_CASES):
        g = rng(seed + k)
        cases.append(_loss_case(f"{n}×{classes} logits with {kind} labels", g.normal(size=(n, classes)) * 3,
                                g.integers(0, classes, size=n), kind))
    return cases


def extreme_loss_cases(seed):
    """Logits of ±1000 in both label formats (a naive exp overflows, a log of 0 is infinite), and logits near
    1e13 whose differences are of order 1: ±h rounds away there, so a difference quotient gets 0."""
    scores = _array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [1000.0, 1000.0, -1000.0]])
    cases = [_loss_case(f"logits of ±1000 with {kind} labels", scores, _array([1, 2, 0]), kind)
             for kind in ("indices", "one-hot")]
    g = rng(seed)
    cases.append(_loss_case("4×5 logits near 1e13 with indices labels", 1e13 + g.normal(size=(4, 5)) * 3,
                            g.integers(0, 5, size=4), "indices", exact=True))
    return cases


test_softmax_with_loss_random = LayerExercise("test_softmax_with_loss_random", lambda: softmax_loss_cases(3500))
test_softmax_with_loss_extreme = LayerExercise("test_softmax_with_loss_extreme", lambda: extreme_loss_cases(3599))


# ---------------------------------------------------------------------------------------------------
# TwoLayerNet

# (input, hidden, output, batch size, label format)
NET_CASES = [(5, 4, 3, 3, "indices"), (6, 5, 4, 1, "one-hot"), (4, 6, 3, 4, "one-hot")]


@dataclass(frozen=True)
class NetProblem:
    label: str
    params: dict
    x: object
    labels: object   # class indices
    kind: str        # the format handed to the student: "indices" or "one-hot"
    huge: bool = False  # hidden units near ±1e12

    @property
    def sizes(self):
        d, h = self.params["W1"].shape
        return d, h, self.params["W2"].shape[1]

    def t(self):
        return labels_as(self.kind, self.labels, self.sizes[2])


def net_problem(seed, d, h, m, n, kind, scale=1.0):
    """Parameters, inputs and random labels; every hidden pre-activation is 0.1 or more away from ReLU's kink
    (times ``scale``), with at least 4 inputs.

    By construction: each sample's inputs share one sign, each hidden unit's weights another, and the bias
    is smaller than the product's smallest possible size, so no forward pass is needed to know it.
    """
    g = rng(seed)
    sample_sign, unit_sign = g.choice([-1.0, 1.0], size=(n, 1)), g.choice([-1.0, 1.0], size=(1, h))
    x = sample_sign * g.uniform(0.5, 1, size=(n, d))
    params = {"W1": unit_sign * g.uniform(0.1, 0.3, size=(d, h)) * scale, "b1": g.uniform(-0.1, 0.1, size=h) * scale,
              "W2": g.normal(size=(h, m)) * 0.7, "b2": g.normal(size=m) * 0.3}
    label = f"{d}-{h}-{m} net, N={n}, {kind} labels"
    if scale > 1:
        label += ", hidden units near ±1e12"
    return NetProblem(label, params, x, g.integers(0, m, size=n), kind, huge=scale > 1)


def forward_problems(seed):
    return [net_problem(seed + k, d, h, m, 12, kind) for k, (d, h, m, _, kind) in enumerate(NET_CASES)]


def gradient_problems(seed):
    return [net_problem(seed + k, d, h, m, n, kind) for k, (d, h, m, n, kind) in enumerate(NET_CASES)]


def backprop_problems(seed):
    """One ordinary net, and one whose hidden units sit near ±1e12: there the loss does not move when a
    parameter is nudged by h, so a numerical gradient posing as backpropagation gets 0."""
    return [net_problem(seed, 5, 4, 3, 3, "indices"), net_problem(seed + 1, 5, 4, 3, 3, "indices", scale=1e12)]


def _set(arrays, values):
    for k in PARAMS:
        arrays[k][...] = values[k]  # in place, as training does: the layers hold these same arrays


def _install(r, label, TwoLayerNet, problem):
    """A student's net with its parameters set, in place, to the problem's, and those parameter arrays; None
    if it has no such params."""
    d, h, m = problem.sizes
    net = r.call(key(label, "construct"), TwoLayerNet, d, h, m, keep=False)
    params = r.call(key(label, "params"), getattr, net, "params", None, keep=False)
    ok = isinstance(params, dict) and all(
        isinstance(params.get(k), _ndarray) and params[k].shape == problem.params[k].shape for k in PARAMS)
    r.fact(key(label, "params fit"), ok)
    if not ok:
        return None
    arrays = {k: params[k] for k in PARAMS}
    r.call(key(label, "set params"), _set, arrays, problem.params, keep=False)
    return net, arrays


@dataclass(frozen=True)
class NetExercise:
    """A TwoLayerNet class on every problem; ``steps(r, label, net, problem)`` calls it and records."""
    test: str
    problems: Callable
    steps: Callable

    def __call__(self, TwoLayerNet):
        with recording(self.test) as r:
            for problem in self.problems():
                with r.case():
                    installed = _install(r, problem.label, TwoLayerNet, problem)
                    if installed is not None:
                        self.steps(r, problem.label, *installed, problem)


def _forward_steps(r, label, net, arrays, problem):
    x = _array(problem.x, dtype=float, copy=True)
    r.call(key(label, "predict"), _method(net, "predict"), x.copy())
    r.call(key(label, "loss"), _method(net, "loss"), x.copy(), problem.t())
    for kind in ("indices", "one-hot"):
        labels = labels_as(kind, problem.labels, problem.sizes[2])
        r.call(key(label, f"accuracy with {kind} labels"), _method(net, "accuracy"), x.copy(), labels)


def _gradient_steps(r, label, net, arrays, problem):
    r.call(key(label, "gradient"), _method(net, "gradient"), _array(problem.x, dtype=float, copy=True), problem.t())


def _count_calls(obj, names, counts):
    """Make the instance ``obj`` count the calls of its methods ``names`` in ``counts["Class.method"]``."""
    for name in names:
        found = getattr(obj, name, None)
        if not callable(found):
            continue
        counter = f"{type(obj).__name__}.{name}"
        counts.setdefault(counter, 0)

        def counting(*args, _method=found, _key=counter, **kwargs):
            counts[_key] += 1
            return _method(*args, **kwargs)
        try:
            setattr(obj, name, counting)
        except (AttributeError, TypeError):
            pass


def _layer_names(net):
    """(the names in net.layers joined by ", ", its layers), whatever net.layers is."""
    try:
        layers = net.layers
        return ", ".join(str(name) for name in layers.keys()), list(layers.values())
    except Exception:  # no layers, or no OrderedDict: judged from the recorded names
        return "", []


def _backprop_steps(r, label, net, arrays, problem):
    names, layers = _layer_names(net)
    r.fact(key(label, "layer names"), names)
    last = r.call(key(label, "lastLayer"), getattr, net, "lastLayer", None, keep=False)
    r.fact(key(label, "has lastLayer"), last is not None)
    counts = {}
    for layer in layers + ([last] if last is not None else []):
        _count_calls(layer, ["forward"], counts)
    _count_calls(net, ["loss", "predict"], counts)
    _gradient_steps(r, label, net, arrays, problem)
    r.fact(key(label, "forward passes"), max(counts.values(), default=0))
    r.value(key(label, "params after gradient"), arrays)


test_two_layer_net_forward = NetExercise("test_two_layer_net_forward", lambda: forward_problems(3600), _forward_steps)
test_two_layer_net_gradient = NetExercise("test_two_layer_net_gradient", lambda: gradient_problems(3700),
                                          _gradient_steps)
test_two_layer_net_backprop = NetExercise("test_two_layer_net_backprop", lambda: backprop_problems(3800),
                                          _backprop_steps)


# ---------------------------------------------------------------------------------------------------
# The student's gradient check

CHECKED_NETS = ("a correct network", "a network whose W2 gradient is doubled",
                "a network whose b1 gradient has the wrong sign")


def gradient_pairs(seed):
    """(what, numerical gradients, backprop gradients) of three stand-in networks: one whose two gradients
    agree to rounding, two with a planted bug in one parameter's backprop gradient."""
    g = rng(seed)
    shapes = {"W1": (6, 5), "b1": (5,), "W2": (5, 4), "b2": (4,)}
    pairs = []
    for what in CHECKED_NETS:
        numerical = {k: g.normal(size=shape) for k, shape in shapes.items()}
        backprop = {k: v * (1 + 1e-9 * g.normal(size=v.shape)) for k, v in numerical.items()}
        if "doubled" in what:
            backprop["W2"] = backprop["W2"] * 2
        if "wrong sign" in what:
            backprop["b1"] = -backprop["b1"]
        pairs.append((what, numerical, backprop))
    return pairs


class StandInNet:
    """A network for gradient_check: the book's API, with gradients decided by the test, and a count of calls."""

    def __init__(self, numerical, backprop):
        self.params = {k: _array(v, dtype=float, copy=True) for k, v in numerical.items()}
        self._numerical, self._backprop = numerical, backprop
        self.calls = {"numerical_gradient": 0, "gradient": 0}

    def numerical_gradient(self, x, t):
        self.calls["numerical_gradient"] += 1
        return {k: _array(v, dtype=float, copy=True) for k, v in self._numerical.items()}

    def gradient(self, x, t):
        self.calls["gradient"] += 1
        return {k: _array(v, dtype=float, copy=True) for k, v in self._backprop.items()}


@dataclass(frozen=True)
class GradientCheckExercise:
    """``gradient_check(net, x, t)`` on every stand-in network, and which parameters its printed table names."""
    test: str

    def __call__(self, gradient_check):
        g = rng(3950)
        x, t = g.normal(size=(3, 6)), g.integers(0, 4, size=3)
        with recording(self.test) as r:
            for what, numerical, backprop in gradient_pairs(3900):
                with r.case():
                    net, printed = StandInNet(numerical, backprop), io.StringIO()
                    with redirect_stdout(printed):
                        r.call(key(what, "gradient_check"), gradient_check, net, _array(x, copy=True), t.copy())
                    r.fact(key(what, "printed"), ", ".join(k for k in PARAMS if k in printed.getvalue()))
                    for name, count in net.calls.items():
                        r.fact(key(what, f"{name} calls"), count)


test_gradient_check = GradientCheckExercise("test_gradient_check")
