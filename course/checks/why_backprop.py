"""Part 1's hidden tests (오차역전파법, why backprop), the kernel half: numerical gradients, the SGD step, the
four steps and the log-log slope.

Each object is named after the grade id it serves and only exercises the student's code on the cases below,
recording what it returned and what it did (where ``f`` saw ``x`` nudged, what ``x`` holds afterwards, which
mini-batches the model was given); :mod:`course.judge.why_backprop` judges the record in the grader, rebuilding
these same cases.  The loss functions here give values only: their exact gradients, the truth, live in the judge.
"""
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from course import gradcheck
from course.checks import fresh, rng
from course.checks.exercises import FunctionExercise, key
from course.checks.record import recording

_array = np.array
_asarray = np.asarray
_exp = np.exp
_log = np.log
_sin = np.sin
_zeros = np.zeros
_arange = np.arange


# ---------------------------------------------------------------------------------------------------
# The scalar functions numerical_gradient is called on (values only)

def _cross_entropy(z, labels):
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - _log(_exp(shifted).sum(axis=1, keepdims=True))
    return -float(log_p[_arange(len(z)), labels.astype(int)].sum()) / len(z)


LOSSES = {
    "sum_squares": lambda x: float((x ** 2).sum()),
    "cubic": lambda x: float((x ** 3 - 2 * x).sum()),
    "steep_exp": lambda x: float(_exp(3 * x).sum() / 3),
    "cross_entropy": _cross_entropy,
    "least_squares": lambda w, a, b: 0.5 * float(((a @ w - b) ** 2).sum()),
    # little curvature: only where each entry's gradient lands matters
    "weighted": lambda x, weights: float((weights * x).sum() + 0.05 * (x * x).sum()),
    "wavy": lambda x, weights: float((weights * _sin(x)).sum() + (x * x).sum()),
}


@dataclass(frozen=True)
class GradientCase:
    """``numerical_gradient(f, x)`` with f = LOSSES[loss](x, *data).

    ``x`` is ``base[view]`` (``view`` None: ``base`` itself), so a non-contiguous view is a case; ``closure``:
    f ignores its argument and reads x itself, like the book's ``lambda W: net.loss(x, t)``.
    """
    label: str
    loss: str
    base: np.ndarray
    data: tuple = ()
    view: tuple = None
    closure: bool = False

    def x(self, base):
        return base if self.view is None else base[self.view]


def accuracy_cases(seed):
    """Functions whose exact gradient is known by formula, with large curvature, on 1-D and 2-D arrays."""
    g = rng(seed)
    labels = g.integers(0, 4, size=3).astype(float)
    inputs, targets = g.normal(size=(5, 3)), g.normal(size=(5, 2))
    return [
        GradientCase("f(x) = sum(x**2), the book's function_2, on a 1-D x", "sum_squares", g.normal(size=6) * 3),
        GradientCase("f(x) = sum(x**3 - 2x) on a 1-D x", "cubic", g.uniform(-2, 2, size=7)),
        GradientCase("f(x) = sum(exp(3x)) / 3 (large curvature) on a 1-D x", "steep_exp", g.uniform(-1, 1, size=6)),
        GradientCase("softmax cross-entropy of 3×4 logits (a 2-D x)", "cross_entropy", g.normal(size=(3, 4)),
                     (labels,)),
        GradientCase("0.5·||A W - B||² as a function of a 3×2 W", "least_squares", g.normal(size=(3, 2)),
                     (inputs, targets)),
    ]


LAYOUTS = ("a 0-d array (a scalar)", "a 1-D array of shape (5,)", "a 2-D array of shape (3, 4)",
           "a 3-D array of shape (2, 3, 4)", "a non-contiguous view big[::2, 1::3]",
           "a transposed array (Fortran order)", "a column view m[:, 1] (strided 1-D)")


def layout_cases(seed):
    """Every shape and memory layout; then f = lambda _: loss(x) (reading x itself) on three of them."""
    g = rng(seed)
    shapes = [((), None), ((5,), None), ((3, 4), None), ((2, 3, 4), None),
              ((6, 9), (slice(None, None, 2), slice(1, None, 3))), ((5, 3), "T"), ((4, 3), (slice(None), 1))]
    cases = []
    for closure in (False, True):
        for k, (label, (shape, view)) in enumerate(zip(LAYOUTS, shapes)):
            if closure and k not in (2, 4, 6):
                continue
            base = g.normal(size=shape) if shape else _array(1.3)
            if view == "T":
                base, view = _array(base.T, order="C").T, None  # a Fortran-ordered array
            x = base if view is None else base[view]
            name = f"f = lambda _: loss(x) (reads x itself) on {label}" if closure else label
            cases.append(GradientCase(name, "weighted", base, (g.normal(size=x.shape) * 2,), view, closure))
    return cases


def restore_cases(seed):
    g = rng(seed)
    big = g.normal(size=(5, 6)) * 3
    cases = [("a 1-D x", g.normal(size=8) * 3, None), ("a 2-D x", g.normal(size=(4, 5)) * 3, None),
             ("a view big[1:, ::2] (and the array big it belongs to)", big, (slice(1, None), slice(None, None, 2)))]
    return [GradientCase(label, "wavy", base, (g.normal(size=(base if view is None else base[view]).shape),), view)
            for label, base, view in cases]


# The probe: a strided 1-D x whose f reports every entry it saw changed (for the judge's hints only).
PROBE_BASE = (0.7, 9.0, -1.3, 9.0, 2.1, 9.0)


def probe_x(base):
    return base[::2]


# ---------------------------------------------------------------------------------------------------
# Is the student's function really theirs?

_COURSE_CODES = {gradcheck.numerical_gradient.__code__, gradcheck.numerical_gradients.__code__}


def borrowed(fn):
    """True if ``fn`` is, or runs, the course's numerical gradient (imported, aliased or wrapped)."""
    if fn is gradcheck.numerical_gradient or getattr(fn, "__code__", None) in _COURSE_CODES:
        return True
    if str(getattr(fn, "__module__", "") or "").startswith("course"):
        return True
    seen = []

    def spy(frame, event, arg):
        if event == "call" and frame.f_code in _COURSE_CODES:
            seen.append(True)

    previous = sys.getprofile()
    sys.setprofile(spy)
    try:
        fn(lambda v: float((_asarray(v) ** 2).sum()), fresh([1.0, 2.0]))
    except Exception:  # a broken implementation is judged by the checks, not here
        pass
    finally:
        sys.setprofile(previous)
    return bool(seen)


@dataclass(frozen=True)
class GradientExercise:
    """``numerical_gradient`` on every case: its result, how often it called f, and the array afterwards;
    with ``probe``, also where f saw x change on :data:`PROBE_BASE`."""
    test: str
    cases: Callable[[], list] = field(repr=False)
    probe: bool = True

    def __call__(self, numerical_gradient):
        with recording(self.test) as r:
            r.fact("borrowed", borrowed(numerical_gradient))
            for case in self.cases():
                with r.case():
                    self._case(r, numerical_gradient, case)
            if self.probe:
                with r.case():
                    _probe(r, numerical_gradient)

    def _case(self, r, numerical_gradient, case):
        base = fresh(case.base)
        x = case.x(base)
        loss, calls = LOSSES[case.loss], [0]

        def f(v):
            calls[0] += 1
            return loss(_asarray(x if case.closure else v, dtype=float), *case.data)

        try:
            r.call(key(case.label, "gradient"), numerical_gradient, f, x)
        finally:
            r.fact(key(case.label, "calls of f"), calls[0])
            r.value(key(case.label, "array after"), base)


def _probe(r, numerical_gradient):
    base = fresh(PROBE_BASE)
    x = probe_x(base)
    x0 = fresh(x)
    offsets, caller_changed = [], [False]

    def f(v):
        current = fresh(x)  # what a closure such as lambda W: net.loss(x, t) reads
        given = _array(v, dtype=float).reshape(-1) if _asarray(v).size == x0.size else current
        for arr in (current, given):
            moved = ((arr - x0) != 0).nonzero()[0]
            if len(moved):
                caller_changed[0] = caller_changed[0] or arr is current
                offsets.append(float((arr - x0)[moved[-1]]))
        return float((_sin(given) * 2).sum())

    r.call(key("probe", "call"), numerical_gradient, f, x, keep=False)
    r.value(key("probe", "offsets"), _array(offsets[:2000], dtype=float))
    r.fact(key("probe", "caller changed"), caller_changed[0])
    r.value(key("probe", "x after"), x)


numerical_gradient_accuracy = GradientExercise("numerical_gradient_accuracy", lambda: accuracy_cases(3100))
numerical_gradient_any_array = GradientExercise("numerical_gradient_any_array", lambda: layout_cases(3200))
numerical_gradient_restores = GradientExercise("numerical_gradient_restores", lambda: restore_cases(3300), probe=False)


# ---------------------------------------------------------------------------------------------------
# One SGD step, in place

def sgd_cases(seed):
    """(label, params, grads, lr); the last case lists the gradients in another key order."""
    g = rng(seed)

    def arrays(shapes):
        return {name: g.normal(size=shape) for name, shape in shapes}

    two = arrays((("W", (3, 4)), ("b", (4,))))
    four = arrays((("W1", (4, 3)), ("b1", (3,)), ("W2", (3, 2)), ("b2", (2,))))
    square = arrays((("W1", (3, 3)), ("W2", (3, 3)), ("b", (3,))))
    return [("params {'W', 'b'}, lr = 0.1", two, arrays((k, v.shape) for k, v in two.items()), 0.1),
            ("params {'W1', 'b1', 'W2', 'b2'}, lr = 0.01", four,
             arrays((k, v.shape) for k, v in four.items()), 0.01),
            ("params {'W1', 'W2', 'b'} with grads listed as {'W2', 'W1', 'b'}, lr = 0.05", square,
             arrays((k, square[k].shape) for k in ("W2", "W1", "b")), 0.05)]


@dataclass(frozen=True)
class SgdExercise:
    """``sgd_step(params, grads, lr)`` on copies; then the dict, the arrays a layer holding the original
    parameter arrays sees, whether the dict still holds those arrays, and the gradients."""
    test: str
    cases: Callable[[], list] = field(repr=False)

    def __call__(self, sgd_step):
        with recording(self.test) as r:
            for label, params0, grads0, lr in self.cases():
                with r.case():
                    params = {name: fresh(v) for name, v in params0.items()}
                    grads = {name: fresh(v) for name, v in grads0.items()}
                    shared = dict(params)  # what a layer holding references to the parameter arrays sees
                    r.call(key(label, "call"), sgd_step, params, grads, lr, keep=False)
                    r.value(key(label, "params"), params)
                    for name in params0:
                        r.value(key(label, f"array of {name}"), shared[name])
                        r.fact(key(label, f"same array {name}"), params.get(name) is shared[name])
                    r.value(key(label, "grads"), grads)


sgd_step_in_place = SgdExercise("sgd_step_in_place", lambda: sgd_cases(3400))


# ---------------------------------------------------------------------------------------------------
# The four steps: mini-batch, gradient, update, repeat

def softmax_model(w, b, x_batch, t_batch):
    """The model train is given: softmax regression's loss and gradient, (loss, {"W": dW, "b": db})."""
    z = x_batch @ w + b
    z = z - z.max(axis=1, keepdims=True)
    p = _exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(x_batch)
    loss = -float((t_batch * _log(p + 1e-7)).sum()) / n
    return loss, {"W": x_batch.T @ (p - t_batch) / n, "b": (p - t_batch).sum(axis=0) / n}


@dataclass(frozen=True)
class TrainSetting:
    x: np.ndarray
    t: np.ndarray
    params: dict
    lr: float = 0.3
    batch_size: int = 8
    steps: int = 12
    # (run label, seed of the rng train is given): the second run repeats the first seed, the third changes it
    runs: tuple = (("the first run", 3501), ("a second run with the same seed", 3501),
                   ("a run with another seed", 3502))


def train_setting(seed):
    g = rng(seed)
    n, d, k = 60, 5, 3
    x = g.normal(size=(n, d))
    labels = (x @ g.normal(size=(d, k))).argmax(axis=1)
    t = _zeros((n, k))
    t[_arange(n), labels] = 1.0
    return TrainSetting(x, t, {"W": g.normal(size=(d, k)) * 0.01, "b": _zeros(k)})


class _Model:
    """softmax_model that records every mini-batch and the parameters it is given (the four steps' step 2)."""

    def __init__(self, r, run, limit):
        self.r, self.run, self.limit, self.calls = r, run, limit, 0

    def __call__(self, params, x_batch, t_batch):
        xb, tb = _array(x_batch, dtype=float), _array(t_batch, dtype=float)
        w, b = fresh(params["W"]), fresh(params["b"])
        if self.calls < self.limit:
            for name, value in (("x", xb), ("t", tb), ("W", w), ("b", b)):
                self.r.value(key(self.run, f"call {self.calls}: {name}"), value)
        self.calls += 1
        return softmax_model(w, b, xb, tb)


@dataclass(frozen=True)
class TrainExercise:
    """``train(model, params, x, t, lr, batch_size, steps, rng)`` three times (two seeds, one repeated)."""
    test: str
    setting: Callable[[], TrainSetting] = field(repr=False)

    def __call__(self, train):
        s = self.setting()
        with recording(self.test) as r:
            for run, seed in s.runs:
                with r.case():
                    params = {name: fresh(v) for name, v in s.params.items()}
                    shared = dict(params)
                    model = _Model(r, run, s.steps + 1)
                    try:
                        r.call(key(run, "train"), train, model, params, fresh(s.x), fresh(s.t), s.lr, s.batch_size,
                               s.steps, rng(seed))
                    finally:
                        r.fact(key(run, "model calls"), model.calls)
                    for name in s.params:
                        r.value(key(run, f"array of {name}"), shared[name])
                        r.fact(key(run, f"same array {name}"), params.get(name) is shared[name])


train_four_steps = TrainExercise("train_four_steps", lambda: train_setting(3500))


# ---------------------------------------------------------------------------------------------------
# The slope of a log-log plot

def slope_cases(seed):
    """(sizes, times): exact power laws as lists, two points only, and noisy timings as arrays."""
    g = rng(seed)
    sizes = [10, 20, 40, 80, 160, 320]
    cases = [(list(sizes), [3e-6 * s ** power for s in sizes]) for power in (1.0, 2.0, 0.5)]
    cases.append(([30, 300], [0.2, 6.4]))
    noisy_sizes = _asarray([16, 32, 64, 128, 256, 512], dtype=float)
    cases.append((noisy_sizes, 2e-5 * noisy_sizes ** 1.7 * _exp(g.normal(size=6) * 0.3)))
    return cases


loglog_slope_fit = FunctionExercise("loglog_slope_fit", lambda: slope_cases(3600))
