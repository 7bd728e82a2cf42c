"""Numerical gradients and the comparison of a backward pass with them (기울기 확인, gradient check).

Conventions follow the CS231n notes: central differences, float64, and the relative error
``|a - b| / max(1e-8, |a| + |b|)``.  Rough guide: below 1e-7 is a correct backward pass, around 1e-4
happens only near a kink (ReLU at 0), above 1e-2 is a wrong one.
"""
from dataclasses import dataclass

import numpy as np

from course.diagnose import diagnose
from course.i18n import t

# Keep our own references: a notebook runs student code in the same process, and a test must not
# use a numpy function the student has replaced after `course` was imported.
_asarray = np.asarray
_abs = np.abs
_maximum = np.maximum
_isfinite = np.isfinite
_unravel_index = np.unravel_index
_argmax = np.argmax
_ndindex = np.ndindex

DEFAULT_H = 1e-4
# A backward pass within RTOL of the numerical gradient (or within ATOL of the gradient's scale,
# for entries that are essentially zero) is correct.  Realistic mistakes are off by far more.
RTOL = 1e-5
ATOL = 1e-7


def numerical_gradient(f, x, h=DEFAULT_H):
    """Central-difference gradient of the scalar function ``f`` at the float array ``x``.

    ``f`` is called as ``f(x)`` while single entries of ``x`` are nudged by ±h in place, so it may
    also ignore its argument and read ``x`` through a closure (the book's ``lambda W: net.loss(x, t)``).
    Every entry is restored to its exact original value.  Returns an array of ``x``'s shape.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError("numerical_gradient needs a float ndarray to nudge in place, "
                        f"got {type(x).__name__}{'' if not hasattr(x, 'dtype') else ' of ' + str(x.dtype)}")
    grad = np.zeros(x.shape, dtype=float)
    for idx in _ndindex(x.shape):
        original = x[idx]
        try:
            x[idx] = original + h
            f_plus = float(f(x))
            x[idx] = original - h
            f_minus = float(f(x))
        finally:
            x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradients(f, *arrays, h=DEFAULT_H):
    """Numerical gradients of ``f(*arrays)`` with respect to each array, as a list."""
    return [numerical_gradient(lambda _: f(*arrays), a, h) for a in arrays]


def relative_error(expected, actual):
    """The largest CS231n relative error between two arrays of the same shape."""
    a = _asarray(expected, dtype=float)
    b = _asarray(actual, dtype=float)
    if a.size == 0:
        return 0.0
    return float((_abs(a - b) / _maximum(1e-8, _abs(a) + _abs(b))).max())


def kinks_crossed(x, h=DEFAULT_H, kink=0.0):
    """Mask of entries whose ±h nudge crosses ``kink`` (where a numerical gradient of ReLU is wrong)."""
    return _abs(_asarray(x, dtype=float) - kink) < h


@dataclass
class Comparison:
    """Outcome of comparing an analytic gradient with the expected one.

    ``mistake``: the likely mistake named under the message ("" when none is); ``problem``: what else is
    wrong, when it is not (only) the values: "returned None", "not numbers", "shape" or "not finite".
    """
    name: str
    ok: bool
    message: str
    error: float = float("nan")
    mistake: str = ""
    problem: str = ""

    def __bool__(self):
        return self.ok


def type_name(value):
    """What a value is, in a message; a value recorded as not numbers (course.checks.record.Opaque) names
    the type it was in the student's kernel."""
    if type(value).__module__ == "course.checks.record":
        return str(value.type_name)
    return type(value).__name__


def _as_float_array(value):
    try:
        arr = _asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def compare(name, expected, actual, *, alternatives=None, skip=None, batch_size=None, rtol=RTOL, atol=ATOL,
            diagnosis=True):
    """Compare the gradient ``actual`` (from a student's backward pass) with ``expected``.

    ``alternatives`` maps a description of a known mistake to the array that mistake would produce,
    for example ``{"dx computed with x instead of out": ...}``; a match names the mistake.
    ``skip`` is a boolean mask of entries not to judge (inputs within h of a kink).
    ``batch_size`` lets the diagnosis recognise a missing or extra division by it.
    ``diagnosis=False``: name no mistake (the caller diagnoses across several comparisons instead).
    Returns a :class:`Comparison` whose ``message`` is written for the student.
    """
    exp = _asarray(expected, dtype=float)
    if actual is None:
        return Comparison(name, False, t("{name}: your code returned None. Did you forget `return`?", name=name),
                          problem="returned None")
    act = _as_float_array(actual)
    if act is None:
        return Comparison(name, False, t("{name}: expected an array of numbers, got {type}.", name=name,
                                         type=type_name(actual)),
                          problem="not numbers")
    if act.shape != exp.shape:
        hint = diagnose(exp, act, alternatives, batch_size) if diagnosis else ""
        msg = t("{name}: expected shape {expected}, got {actual}", name=name, expected=exp.shape, actual=act.shape)
        return Comparison(name, False, msg + likely(hint), mistake=hint, problem="shape")
    if not _isfinite(act).all():
        return Comparison(name, False, t("{name}: contains nan or inf.", name=name), problem="not finite")
    judged = np.ones(exp.shape, dtype=bool) if skip is None else ~_asarray(skip, dtype=bool)
    diff = _abs(exp - act)
    scale = max(1.0, float(_abs(exp).max())) if exp.size else 1.0
    bad = (diff > atol * scale + rtol * _maximum(_abs(exp), _abs(act))) & judged
    rel = _abs(exp - act) / _maximum(1e-8, _abs(exp) + _abs(act))
    error = float(rel[judged].max()) if judged.any() else 0.0
    if not bad.any():
        skipped = int((~judged).sum())
        note = t(" ({n} entries next to a kink not judged)", n=skipped) if skipped else ""
        return Comparison(name, True, t("{name}: correct (max relative error {error:.1e}){note}.", name=name,
                                        error=error, note=note), error)
    worst = _unravel_index(_argmax(_asarray(rel * bad)), exp.shape) if exp.ndim else ()
    where = t(" at {index}", index=tuple(int(i) for i in worst)) if exp.ndim else ""
    hint = diagnose(exp, act, alternatives, batch_size) if diagnosis else ""
    msg = t("{name}: {wrong} of {size} entries wrong (max relative error {error:.1e}{where}: "
            "expected {expected:.6g}, got {actual:.6g})", name=name, wrong=int(bad.sum()), size=exp.size,
            error=error, where=where, expected=exp[worst], actual=act[worst])
    return Comparison(name, False, msg + likely(hint), error, hint)


def likely(hint):
    """The diagnosis line under a failed comparison (the failure's ``mistake`` is what the report counts)."""
    return t("\n    likely mistake: {hint}", hint=hint) if hint else ""
