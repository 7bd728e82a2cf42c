"""Hidden checks for Part 1 (오차역전파법, why backprop): numerical gradients, the SGD step, the four steps.

A numerical gradient is judged against the exact gradient of functions whose derivative is known by
formula, so only a central difference with h near 1e-4 is accurate enough.  A probe records where the
student's code evaluates ``f`` (which offsets, on which array) to name the mistake: a forward difference,
an h far from 1e-4, nudging a copy, entries not restored.
"""
import sys

import numpy as np

from course import gradcheck
from course.checks import _StopChecking, checklist, fresh, rng

_array = np.array
_asarray = np.asarray
_array_equal = np.array_equal
_abs = np.abs
_exp = np.exp
_log = np.log
_sin = np.sin
_zeros = np.zeros
_arange = np.arange
_polyfit = np.polyfit

# A central difference with h = 1e-4 is within ~1e-8 of these functions' exact gradients; a forward
# difference is ~1e-4 off, and h = 1e-10 leaves ~1e-6 of round-off noise.
ACCURACY = dict(rtol=1e-6, atol=1e-8)
# Judging only where each entry's gradient lands: any reasonable difference formula passes.
PLACEMENT = dict(rtol=1e-3, atol=1e-4)

BORROWED = ("numerical_gradient uses the course's own helper (course.gradcheck): that one is for the tests. "
            "Write the loop over the entries of x yourself.")


# ---------------------------------------------------------------------------------------------------
# Is the student's function really theirs?

_COURSE_CODES = {gradcheck.numerical_gradient.__code__, gradcheck.numerical_gradients.__code__}


def _borrowed(fn):
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


# ---------------------------------------------------------------------------------------------------
# Where does the student's code evaluate f?  (for hints only, never for the verdict)

def _probe(numerical_gradient):
    """Where ``f`` saw a changed entry: ``(offsets, caller_changed, x_before, x_after)``, or None if it raised.

    The input is a strided view, so a reshape that silently copies shows up as "f never saw x change".
    """
    base = fresh([0.7, 9.0, -1.3, 9.0, 2.1, 9.0])
    x = base[::2]
    x0 = fresh(x)
    offsets = []
    caller_changed = [False]

    def f(v):
        current = fresh(x)  # what a closure such as lambda W: net.loss(x, t) reads
        given = _array(v, dtype=float).reshape(-1) if _asarray(v).size == x0.size else current
        for arr in (current, given):
            diff = arr - x0
            moved = (diff != 0).nonzero()[0]
            if len(moved):
                caller_changed[0] = caller_changed[0] or arr is current
                offsets.append(float(diff[moved[-1]]))
        return float((_sin(given) * 2).sum())

    try:
        numerical_gradient(f, x)
    except Exception:  # a crash is reported by the check itself
        return None
    return offsets, caller_changed[0], x0, fresh(x)


def _hints(numerical_gradient):
    """Student-readable guesses at what is wrong, from the probe."""
    probe = _probe(numerical_gradient)
    if probe is None:
        return []
    offsets, caller_changed, x0, x_after = probe
    hints = []
    if not offsets:
        hints.append("f always saw the original x: your code never changes the entries of x before calling f")
    elif not caller_changed:
        hints.append("you nudge a copy of x (x.copy(), np.array(x), x.flatten() or a reshape that copies), "
                     "not x itself: change x in place, so that f sees the change even when it reads the "
                     "array through a closure, like lambda W: net.loss(x, t)")
    big = [o for o in offsets if abs(o) > 1e-14]
    if big:
        sizes = sorted({float(f"{abs(o):.1e}") for o in big})
        positive = any(o > 0 for o in big)
        negative = any(o < 0 for o in big)
        if not (positive and negative):
            hints.append("f is evaluated on one side only (x + h and x): that is a forward difference, whose "
                         "error shrinks only like h. Use the central difference (f(x+h) - f(x-h)) / (2h)")
        step = max(sizes)
        if step < 1e-6:
            hints.append(f"your h is about {step:.0e}: so small that f(x+h) and f(x-h) agree in almost all "
                         "their digits and round-off error dominates. Use h = 1e-4")
        elif step > 1e-3 and not any(1e-5 < s < 1e-3 for s in sizes):
            hints.append(f"your h is about {step:.0e}: too large, the difference quotient is then far from "
                         "the derivative. Use h = 1e-4")
    if not _array_equal(x_after, x0):
        hints.append(_restore_hint(x0, x_after))
    return hints


def _restore_hint(before, after):
    drift = float(_abs(_asarray(after) - _asarray(before)).max())
    if drift < 1e-9 * max(1.0, float(_abs(_asarray(before)).max())):
        return (f"x is back only up to round-off (off by up to {drift:.1e}): adding and subtracting h does not "
                "return exactly to the original number in floating point. Save the original value "
                "(tmp = x[idx]) and assign it back (x[idx] = tmp)")
    return (f"x was not restored (entries off by up to {drift:.2g}): after evaluating f(x+h) and f(x-h), "
            "put the original value back (x[idx] = tmp) before moving to the next entry")


def _attempt(c, what, fn, *args):
    """``c.call`` that lets the check go on with its next case: ``(True, result)``, or ``(False, None)`` if
    the student's code raised (the failure is recorded)."""
    try:
        return True, c.call(what, fn, *args)
    except _StopChecking:
        return False, None


def _accurate(c, name, expected, actual):
    """Record whether ``actual`` is within ACCURACY of the exact gradient.

    Small errors come from the numerics (a one-sided difference, an odd h, entries left nudged), which the
    probe names; the generic diagnosis would call them "a constant factor of 1", so it is left out.
    """
    result = gradcheck.compare(name, expected, actual, **ACCURACY)
    message = result.message
    if not result.ok and result.error < 1e-2 and result.mistake:
        message = message.replace(f" Likely mistake: {result.mistake}.", "")
    return c.expect(result.ok, message)


def _fail_with_hints(c, numerical_gradient):
    for hint in _hints(numerical_gradient):
        c.expect(False, f"Likely mistake: {hint}.")


# ---------------------------------------------------------------------------------------------------
# Functions with known gradients

def _sum_squares(x):
    return float((x ** 2).sum()), 2 * x


def _cubic(x):
    return float((x ** 3 - 2 * x).sum()), 3 * x ** 2 - 2


def _steep_exp(x):
    return float(_exp(3 * x).sum() / 3), _exp(3 * x)


def _cross_entropy(labels):
    """Mean softmax cross-entropy of the logits ``z`` (N, C) for integer labels."""
    def f(z):
        shifted = z - z.max(axis=1, keepdims=True)
        p = _exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        n = len(z)
        loss = -float(_log(p[_arange(n), labels]).sum()) / n
        grad = p.copy()
        grad[_arange(n), labels] -= 1
        return loss, grad / n
    return f


def _least_squares(inputs, targets):
    """0.5 * ||inputs @ W - targets||² as a function of W."""
    def f(w):
        r = inputs @ w - targets
        return 0.5 * float((r * r).sum()), inputs.T @ r
    return f


def _accuracy_cases(seed):
    g = rng(seed)
    labels = g.integers(0, 4, size=3)
    inputs, targets = g.normal(size=(5, 3)), g.normal(size=(5, 2))
    return [
        ("f(x) = sum(x**2), the book's function_2, on a 1-D x", _sum_squares, g.normal(size=6) * 3),
        ("f(x) = sum(x**3 - 2x) on a 1-D x", _cubic, g.uniform(-2, 2, size=7)),
        ("f(x) = sum(exp(3x)) / 3 (large curvature) on a 1-D x", _steep_exp, g.uniform(-1, 1, size=6)),
        ("softmax cross-entropy of 3×4 logits (a 2-D x)", _cross_entropy(labels), g.normal(size=(3, 4))),
        ("0.5·||A W - B||² as a function of a 3×2 W", _least_squares(inputs, targets), g.normal(size=(3, 2))),
    ]


def numerical_gradient_accuracy(numerical_gradient):
    """Central differences with h = 1e-4 against exact gradients (forward differences and tiny h fail)."""
    with checklist("numerical_gradient against exact gradients") as c:
        if _borrowed(numerical_gradient):
            c.expect(False, BORROWED)
            return
        all_ok = True
        for name, fn, x in _accuracy_cases(3100):
            expected = fn(fresh(x))[1]
            actual = c.call(f"numerical_gradient on {name}", numerical_gradient,
                            lambda v, fn=fn: fn(_asarray(v, dtype=float))[0], fresh(x))
            all_ok &= _accurate(c, name, expected, actual)
        if not all_ok:
            _fail_with_hints(c, numerical_gradient)


# ---------------------------------------------------------------------------------------------------
# Any shape, any layout, f reading the array in place

def _weighted(weights):
    """sum(weights * x) + 0.05 * sum(x**2): little curvature, so only where each entry lands matters."""
    def f(x):
        x = _asarray(x, dtype=float)
        return float((weights * x).sum() + 0.05 * (x * x).sum()), weights + 0.1 * x
    return f


def _layouts(seed):
    g = rng(seed)
    big = g.normal(size=(6, 9))
    column = g.normal(size=(4, 3))
    wide = g.normal(size=(3, 5))
    return [
        ("a 0-d array (a scalar)", fresh(1.3)),
        ("a 1-D array of shape (5,)", g.normal(size=5)),
        ("a 2-D array of shape (3, 4)", g.normal(size=(3, 4))),
        ("a 3-D array of shape (2, 3, 4)", g.normal(size=(2, 3, 4))),
        ("a non-contiguous view big[::2, 1::3]", big[::2, 1::3]),
        ("a transposed array (Fortran order)", wide.T),
        ("a column view m[:, 1] (strided 1-D)", column[:, 1]),
    ]


def numerical_gradient_any_array(numerical_gradient):
    """Every shape and memory layout, and functions that ignore their argument and read x in place."""
    with checklist("numerical_gradient on arrays of any shape") as c:
        if _borrowed(numerical_gradient):
            c.expect(False, BORROWED)
            return
        g = rng(3200)
        results = {}
        for name, x in _layouts(3201):
            fn = _weighted(g.normal(size=x.shape) * 2)
            expected = fn(x)[1]
            ran, actual = _attempt(c, f"numerical_gradient on {name}", numerical_gradient,
                                   lambda v, fn=fn: fn(v)[0], x)
            results[name] = ran and c.gradient(f"gradient for {name}", expected, actual, **PLACEMENT)
        # The book's lambda W: net.loss(x, t): f ignores its argument and reads the parameter array itself.
        for name, x in _layouts(3202)[2::2]:
            fn = _weighted(g.normal(size=x.shape) * 2)
            expected = fn(x)[1]
            ran, actual = _attempt(c, f"numerical_gradient with f = lambda _: loss(x) on {name}",
                                   numerical_gradient, lambda _, fn=fn, x=x: fn(x)[0], x)
            ok = ran and c.gradient(f"gradient for f = lambda _: loss(x) (reads x itself) on {name}",
                                    expected, actual, **PLACEMENT)
            results["closure"] = results.get("closure", True) and ok
        if all(results.values()):
            return
        names = list(results)
        if results[names[1]] and not all(results[n] for n in names[2:4]):
            c.expect(False, "Likely mistake: it works for 1-D arrays only. Loop over every index of an array of "
                            "any shape, e.g. with np.ndindex(x.shape) or np.nditer(x, flags=['multi_index']).")
        elif all(results[n] for n in names[:4]) and not all(results[n] for n in names[4:7]):
            c.expect(False, "Likely mistake: it works for contiguous arrays only. x.reshape(-1) and x.ravel() "
                            "return a copy when x is a strided view, so your changes never reach x: index x "
                            "itself with a tuple of indices (np.ndindex(x.shape)).")
        _fail_with_hints(c, numerical_gradient)


# ---------------------------------------------------------------------------------------------------
# Every entry restored exactly

def numerical_gradient_restores(numerical_gradient):
    """After the call x holds exactly its original values (and so does the array a view belongs to)."""
    with checklist("numerical_gradient restores x") as c:
        if _borrowed(numerical_gradient):
            c.expect(False, BORROWED)
            return
        g = rng(3300)
        big = g.normal(size=(5, 6)) * 3
        cases = [("a 1-D x", g.normal(size=8) * 3, None),
                 ("a 2-D x", g.normal(size=(4, 5)) * 3, None),
                 ("a view big[1:, ::2] (and the array big it belongs to)", big[1:, ::2], big)]
        for name, x, base in cases:
            before = fresh(x if base is None else base)
            weights = g.normal(size=x.shape)

            def f(v, weights=weights):
                v = _asarray(v, dtype=float)
                return float((weights * _sin(v)).sum() + (v * v).sum())

            c.call(f"numerical_gradient on {name}", numerical_gradient, f, x)
            after = fresh(x if base is None else base)
            restored = _array_equal(after, before)
            c.expect(restored, f"{name} holds exactly its original values afterwards" if restored
                     else f"{name}: {_restore_hint(before, after)}.")


# ---------------------------------------------------------------------------------------------------
# One SGD step, in place

def _sgd_cases(seed):
    """(description, params, grads, lr); the last case lists the gradients in another key order."""
    g = rng(seed)

    def arrays(shapes):
        return {key: g.normal(size=shape) for key, shape in shapes}

    two = arrays((("W", (3, 4)), ("b", (4,))))
    four = arrays((("W1", (4, 3)), ("b1", (3,)), ("W2", (3, 2)), ("b2", (2,))))
    square = arrays((("W1", (3, 3)), ("W2", (3, 3)), ("b", (3,))))
    return [("params {'W', 'b'}, lr = 0.1", two, arrays((k, v.shape) for k, v in two.items()), 0.1),
            ("params {'W1', 'b1', 'W2', 'b2'}, lr = 0.01", four,
             arrays((k, v.shape) for k, v in four.items()), 0.01),
            ("params {'W1', 'W2', 'b'} with grads listed as {'W2', 'W1', 'b'}, lr = 0.05", square,
             arrays((k, square[k].shape) for k in ("W2", "W1", "b")), 0.05)]


def sgd_step_in_place(sgd_step):
    """Each parameter array (the same object, shared with the model's layers) becomes p - lr * grad."""
    with checklist("sgd_step") as c:
        for name, params0, grads0, lr in _sgd_cases(3400):
            params = {k: fresh(v) for k, v in params0.items()}
            grads = {k: fresh(v) for k, v in grads0.items()}
            shared = dict(params)  # what a layer holding references to the parameter arrays sees
            ran, _ = _attempt(c, f"sgd_step with {name}", sgd_step, params, grads, lr)
            if not ran:
                if "raised KeyError" in c.failed[-1]:
                    c.failed[-1] += " (loop over the keys params has, for key in params, not a fixed list of names)"
                continue
            c.expect(set(params) == set(params0), f"{name}: params keeps its keys {sorted(params0)}")
            by_position = dict(zip(params0, grads0.values()))
            for key in params0:
                p0, g0 = params0[key], grads0[key]
                if params.get(key) is not shared[key]:
                    c.expect(False, f"{name}: params['{key}'] is a new array, so a layer that holds the old "
                                    "one never sees the update. Change the array in place: "
                                    "params[key] -= lr * grads[key]")
                    continue
                wrong = {
                    "the parameter did not change: assigning to a loop variable (p = p - lr * g) "
                    "only renames the result; write into the array with -=": p0,
                    "moved uphill: subtract lr * grad (gradient descent), do not add it": p0 + lr * g0,
                    "the learning rate is missing: subtract lr * grad, not grad": p0 - g0,
                }
                if by_position[key] is not g0:
                    wrong["paired with another parameter's gradient: take grads[key] for params[key] (the two "
                          "dicts may list their keys in different orders)"] = p0 - lr * by_position[key]
                c.gradient(f"{name}: params['{key}'] after the step", p0 - lr * g0, shared[key],
                           rtol=1e-12, atol=1e-14, alternatives=wrong)
                c.expect(_array_equal(grads[key], g0), f"{name}: grads['{key}'] is left unchanged")


# ---------------------------------------------------------------------------------------------------
# The four steps: mini-batch, gradient, update, repeat

class _Recorder:
    """A softmax-regression model that records every mini-batch it is given (the four steps' step 2)."""

    def __init__(self, x):
        self.rows = {row.tobytes(): i for i, row in enumerate(x)}
        self.calls = []

    def __call__(self, params, x_batch, t_batch):
        xb = _array(x_batch, dtype=float)
        tb = _array(t_batch, dtype=float)
        index = [self.rows.get(row.tobytes(), -1) for row in xb] if xb.ndim == 2 else []
        w, b = fresh(params["W"]), fresh(params["b"])
        z = xb @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = _exp(z)
        p /= p.sum(axis=1, keepdims=True)
        n = len(xb)
        loss = -float((tb * _log(p + 1e-7)).sum()) / n
        grads = {"W": xb.T @ (p - tb) / n, "b": (p - tb).sum(axis=0) / n}
        self.calls.append(dict(index=index, t=tb, W=w, b=b, loss=loss,
                               grads={key: fresh(v) for key, v in grads.items()}))
        return loss, grads


def train_four_steps(train):
    """``train(model, params, x, t, lr, batch_size, steps, rng)``: random paired mini-batches, one update each."""
    with checklist("train: the four steps") as c:
        g = rng(3500)
        n, d, k = 60, 5, 3
        x = g.normal(size=(n, d))
        labels = (x @ g.normal(size=(d, k))).argmax(axis=1)
        t = _zeros((n, k))
        t[_arange(n), labels] = 1.0
        params = {"W": g.normal(size=(d, k)) * 0.01, "b": _zeros(k)}
        shared = dict(params)
        start = {key: fresh(v) for key, v in params.items()}
        model = _Recorder(x)
        lr, batch_size, steps = 0.3, 8, 12
        losses = c.call("train(model, params, x, t, lr=0.3, batch_size=8, steps=12, rng=...)", train,
                        model, params, fresh(x), fresh(t), lr, batch_size, steps, rng(3501))
        calls = model.calls
        if not c.expect(len(calls) == steps, f"the model (step 2, the gradient) is called once per step: "
                                             f"{steps} times (it was called {len(calls)} times)"):
            return
        sizes = {len(call["index"]) for call in calls}
        c.expect(sizes == {batch_size}, f"every mini-batch has batch_size = {batch_size} rows of x (got "
                                        f"{sorted(sizes)}; {n} rows is the whole data set, not a mini-batch)")
        c.expect(all(i >= 0 for call in calls for i in call["index"]),
                 "every row of a mini-batch is a row of x (x[idx] for an array idx of row numbers)")
        paired = all(_array_equal(call["t"], t[call["index"]]) for call in calls
                     if len(call["index"]) and min(call["index"]) >= 0)
        c.expect(paired, "each mini-batch's labels belong to its images: use the same row numbers for x and t "
                         "(x[idx], t[idx] with one idx)")
        distinct = {tuple(call["index"]) for call in calls}
        c.expect(len(distinct) > steps // 2, "the mini-batches are drawn at random each step (step 1): "
                                            f"only {len(distinct)} different batches in {steps} steps")
        # step 3: between two calls of the model, params moved by -lr * the gradient the model returned
        updated = True
        for before, after in zip(calls, calls[1:] + [None]):
            now = ({"W": after["W"], "b": after["b"]} if after is not None
                   else {key: fresh(shared[key]) for key in ("W", "b")})
            for key in ("W", "b"):
                expected = before[key] - lr * before["grads"][key]
                if not gradcheck.compare(key, expected, now[key], rtol=1e-9, atol=1e-12):
                    updated = False
        c.expect(updated, "after each gradient, every parameter moves by -lr * its gradient (step 3) before the "
                          "next mini-batch")
        c.expect(all(params.get(key) is shared[key] for key in shared),
                 "params holds the same arrays after training (updated in place, so layers sharing them see it)")
        c.expect(not all(_array_equal(shared[key], start[key]) for key in shared), "training changes the parameters")
        try:
            got = [float(v) for v in losses]
        except (TypeError, ValueError):
            got = None
        c.expect(got is not None and len(got) == steps and got == [call["loss"] for call in calls],
                 "train returns the list of the mini-batch losses the model returned, one per step, in order")


# ---------------------------------------------------------------------------------------------------
# The slope of a log-log plot

def loglog_slope_fit(loglog_slope):
    """The least-squares slope of log(time) against log(size), any log base used consistently."""
    with checklist("loglog_slope") as c:
        g = rng(3600)
        sizes = [10, 20, 40, 80, 160, 320]
        for power in (1.0, 2.0, 0.5):
            times = [3e-6 * s ** power for s in sizes]
            got = c.call("loglog_slope", loglog_slope, list(sizes), list(times))
            c.close(f"slope of exact times ∝ n^{power:g}", power, got, rtol=1e-9)
        noisy_sizes = _asarray([16, 32, 64, 128, 256, 512], dtype=float)
        noisy = 2e-5 * noisy_sizes ** 1.7 * _exp(g.normal(size=6) * 0.3)
        expected = float(_polyfit(_log(noisy_sizes), _log(noisy), 1)[0])
        got = c.call("loglog_slope on noisy timings", loglog_slope, fresh(noisy_sizes), fresh(noisy))
        c.close("least-squares slope of noisy timings (a line through all points, not just the two ends)",
                expected, got, rtol=1e-6)
