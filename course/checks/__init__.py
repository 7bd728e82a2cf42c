"""What the notebooks' test cells call.

A hidden test cell stays one or two lines (``checks.test_mul_layer_random(MulLayer)``), so the feedback a
student receives shows a call and a diagnostic message, never the test logic or its inputs.  A converted
hidden test only exercises the student's code and records the results (:mod:`course.checks.exercises`,
:mod:`course.checks.record`); the grader judges them outside the kernel (:mod:`course.judge`).  This package
holds no expected values for those tests, and never imports ``course.judge``.

Every check runs all of its parts and reports every failure at once (not only the first), through
:class:`Checklist`.  Student code is always called on copies of the test's inputs, and tests draw their
inputs from their own seeded generators, whatever the student's code does to numpy's global state.
"""
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from course.gradcheck import compare, likely, type_name
from course.i18n import t

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


@dataclass(frozen=True)
class Failure:
    """One failed check: the message the student reads, and what it diagnoses for the instructor's report.

    ``mistake``: the likely mistake the message names ("" when it names none); ``raised``: the type of the
    exception the student's code raised instead of returning ("" when it returned); ``not_answered``: that
    exception is the stub's NotImplementedError.
    """
    message: str
    mistake: str = ""
    raised: str = ""
    not_answered: bool = False


class Checklist:
    """Collects the verdicts of one test; every comparison takes (name, expected, actual).

    In the kernel (a visible test) :meth:`verdict` prints the result or raises :class:`CheckFailed`; the
    grader's judge (:mod:`course.judge`) collects into a Checklist too and reads :attr:`ok`,
    :meth:`summary` and :attr:`failed` (each a :class:`Failure`) instead.
    """

    def __init__(self, title):
        self.title = title
        self.passed = []  # the messages of the checks that passed
        self.failed = []  # a Failure per failed check

    @property
    def ok(self):
        return not self.failed

    def expect(self, ok, message, mistake=""):
        """Record a check; ``mistake``: the likely mistake a failure's message names."""
        if ok:
            self.passed.append(message)
        else:
            self.failed.append(Failure(message, mistake))
        return bool(ok)

    def comparison(self, result):
        """Record a :class:`course.gradcheck.Comparison` (and the mistake it names, if it failed)."""
        return self.expect(result.ok, result.message, result.mistake)

    def name_mistake(self, hint):
        """Name the likely mistake under the failure just recorded."""
        self.amend(likely(hint), hint)

    def amend(self, text, mistake=None):
        """Add ``text`` to the message of the failure just recorded (and name its mistake, if given)."""
        last = self.failed[-1]
        self.failed[-1] = replace(last, message=last.message + text,
                                  mistake=last.mistake if mistake is None else mistake)

    def gradient(self, name, expected, actual, **options):
        """Record the comparison of a gradient with the expected one (see :func:`course.gradcheck.compare`)."""
        return self.comparison(compare(name, expected, actual, **options))

    def close(self, name, expected, actual, rtol=1e-7):
        """Record whether a value equals the expected number(s)."""
        if actual is None:
            return self.expect(False, t("{name}: got None (a missing value or a missing `return`?)", name=name))
        try:
            act = _asarray(actual, dtype=float)
        except (TypeError, ValueError):
            return self.expect(False, t("{name}: expected a number, got {type}", name=name, type=type_name(actual)))
        exp = _asarray(expected, dtype=float)
        ok = act.shape == exp.shape and bool(_isclose(act, exp, rtol=rtol, atol=1e-12).all())
        if ok:
            return self.expect(True, t("{name} = {value}", name=name, value=_fmt(act)))
        return self.expect(False, t("{name}: expected {expected}, got {actual}", name=name, expected=_fmt(exp),
                                    actual=_fmt(act)))

    def call(self, what, fn, *args, **kwargs):
        """Call student code; if it raises, record that and stop this check (its other parts need the result)."""
        try:
            return _plain(fn(*args, **kwargs))
        except Exception as exc:  # the student's code may raise anything
            self.raised_instead(what, type(exc).__name__, exc, isinstance(exc, NotImplementedError))
            raise _StopChecking from None

    def raised_instead(self, what, error, message, stub=False):
        """Record that ``what`` raised the exception type named ``error`` (``stub``: the stub's
        NotImplementedError) instead of returning."""
        self.failed.append(Failure(raised(what, error, message, stub), raised=error, not_answered=stub))

    def summary(self):
        """The verdict in words: one line if every check passed, else a line per failed check."""
        if not self.failed:
            return t("✓ {title}: all {n} checks passed", title=self.title, n=len(self.passed))
        shown = self.failed[:MAX_LINES]
        lines = [t("{title}: {failed} problem(s), {passed} check(s) passed", title=self.title,
                   failed=len(self.failed), passed=len(self.passed))]
        lines += [f"  ✗ {f.message}" for f in shown]
        if len(self.failed) > len(shown):
            lines.append(t("  ... and {n} more", n=len(self.failed) - len(shown)))
        return "\n".join(lines)

    def verdict(self):
        if self.failed:
            raise CheckFailed(self.summary())
        print(self.summary())


def raised(what, error, message, stub=False):
    """The message for student code that raised instead of returning."""
    hint = t(" (the cell still has `raise NotImplementedError()`: replace it with your code)") if stub else ""
    return t("{what} raised {error}: {message}{hint}", what=what, error=error, message=message, hint=hint)


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


def expect_close(name, expected, actual, rtol=1e-7):
    """A visible-test helper: assert that ``actual`` equals ``expected`` with a readable message."""
    c = Checklist(name)
    if not c.close(name, expected, actual, rtol):
        raise CheckFailed(f"✗ {c.failed[0].message}")
    print(f"✓ {c.passed[0]}")
