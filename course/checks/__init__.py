"""What the notebooks' test cells call.

A hidden test cell stays one or two lines (``checks.mul_layer_backward(MulLayer)``), so the feedback a
student receives shows a call and a diagnostic message, never the test logic or its inputs.

Every check runs all of its parts and reports every failure at once (not only the first), through
:class:`Checklist`.  Student code is always called on copies of the test's inputs, and tests draw their
inputs from their own seeded generators, whatever the student's code does to numpy's global state.
"""
import warnings
from contextlib import contextmanager

import numpy as np

from course.gradcheck import compare

_Generator = np.random.Generator
_PCG64 = np.random.PCG64
_array = np.array
_asarray = np.asarray
_isclose = np.isclose
_ndarray = np.ndarray


MAX_LINES = 8


class CheckFailed(AssertionError):
    """A test cell's verdict: the message lists each failed part with its likely mistake."""


class _StopChecking(Exception):
    """Student code raised: the remaining parts of this check cannot run."""


def rng(seed):
    """A private random generator (immune to ``np.random.seed`` in student code)."""
    return _Generator(_PCG64(seed))


def fresh(value):
    """A float64 copy of a test input, so the student's code can change it without affecting the test."""
    return _array(value, dtype=float, copy=True)


def _plain(value):
    """Numbers returned by student code as plain float arrays, converted at once.

    An object that is converted only later, while the check holds its expected values, could read them
    from the check's frames (through ``__array__``) and return them; converting here leaves it nothing to
    read.  Containers keep their shape; objects that are not numbers (a layer, a string) pass unchanged.
    """
    if value is None or isinstance(value, (str, bytes, bool)):
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    try:
        return _array(value, dtype=float, copy=True)
    except Exception:  # not numbers: a layer object, say
        return value


def _implementation_hint(exc):
    if isinstance(exc, NotImplementedError):
        return " (the cell still has `raise NotImplementedError()`: replace it with your code)"
    return ""


class Checklist:
    """Collects the verdicts of one test cell; raises :class:`CheckFailed` at the end if any failed."""

    def __init__(self, title):
        self.title = title
        self.passed = []
        self.failed = []

    def expect(self, ok, message):
        (self.passed if ok else self.failed).append(message)
        return bool(ok)

    def gradient(self, name, expected, actual, **options):
        """Record the comparison of a gradient with the expected one (see :func:`course.gradcheck.compare`)."""
        result = compare(name, expected, actual, **options)
        return self.expect(result.ok, result.message)

    def close(self, name, actual, expected, rtol=1e-7):
        """Record whether a value equals the expected number(s)."""
        if actual is None:
            return self.expect(False, f"{name}: got None (a missing value or a missing `return`?)")
        try:
            act = _asarray(actual, dtype=float)
        except (TypeError, ValueError):
            return self.expect(False, f"{name}: expected a number, got {type(actual).__name__}")
        exp = _asarray(expected, dtype=float)
        ok = act.shape == exp.shape and bool(_isclose(act, exp, rtol=rtol, atol=1e-12).all())
        if ok:
            return self.expect(True, f"{name} = {_fmt(act)}")
        return self.expect(False, f"{name}: expected {_fmt(exp)}, got {_fmt(act)}")

    def call(self, what, fn, *args, **kwargs):
        """Call student code; if it raises, record that and stop this check (its other parts need the result)."""
        try:
            return _plain(fn(*args, **kwargs))
        except Exception as exc:  # the student's code may raise anything
            self.failed.append(f"{what} raised {type(exc).__name__}: {exc}{_implementation_hint(exc)}")
            raise _StopChecking from None

    def verdict(self):
        if self.failed:
            shown = self.failed[:MAX_LINES]
            lines = [f"{self.title}: {len(self.failed)} problem(s), {len(self.passed)} check(s) passed"]
            lines += [f"  ✗ {m}" for m in shown]
            if len(self.failed) > len(shown):
                lines.append(f"  ... and {len(self.failed) - len(shown)} more")
            raise CheckFailed("\n".join(lines))
        print(f"✓ {self.title}: all {len(self.passed)} checks passed")


@contextmanager
def checklist(title):
    """``with checklist("MulLayer backward") as c: ...`` runs every part and reports them together."""
    c = Checklist(title)
    # nbgrader scores a test cell that wrote to stderr as 0: a warning from correct code (an overflow in
    # exp, say) must not cost the points its values earned.  The verdict speaks for the values.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield c
        except _StopChecking:
            pass
    c.verdict()


def _fmt(a):
    if a.ndim == 0:
        return f"{float(a):.10g}"
    return np.array2string(a, precision=6, separator=", ", threshold=12)


def expect_close(name, actual, expected, rtol=1e-7):
    """A visible-test helper: assert that ``actual`` equals ``expected`` with a readable message."""
    c = Checklist(name)
    if not c.close(name, actual, expected, rtol):
        raise CheckFailed(f"✗ {c.failed[0]}")
    print(f"✓ {c.passed[0]}")
