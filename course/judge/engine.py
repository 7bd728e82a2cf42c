"""The judge's engine: one hidden test's record in, a :class:`Verdict` out.

A check (a :class:`course.judge.layer.LayerCheck`, a :class:`course.judge.function.FunctionCheck`, ...) is
registered under the grade id of the test cell it judges; :func:`judge` validates the record, lets the check
compare what the student's code returned with what the check computes itself, and adds what a failure of an
earlier test it builds on means for this one.
"""
import importlib
from dataclasses import dataclass

import numpy as np

from course.checks import Checklist
from course.checks.record import Raised, Record, RecordError
from course.gradcheck import type_name
from course.i18n import t
from course.judge import diagnosis

# The modules that define the checks of each notebook (each has CHECKS, a list).
PARTS = ("course.judge.why_backprop", "course.judge.computation_graphs", "course.judge.layers", "course.judge.homework")


@dataclass(frozen=True)
class Verdict:
    """What the grader writes into a judged test cell: the message as its outputs, the diagnoses as its metadata."""
    test: str
    ok: bool
    message: str
    diagnoses: tuple = ()   # a course.judge.diagnosis.Diagnosis per failed check
    depends_on: tuple = ()  # earlier tests this one builds on that failed

    @property
    def mistakes(self):
        """The likely mistakes the failed checks named, each once."""
        return tuple(dict.fromkeys(d.text for d in self.diagnoses if d.kind == diagnosis.MISTAKE))


def registry():
    """{grade id: check} for every judged hidden test."""
    checks = {}
    for part in PARTS:
        for check in importlib.import_module(part).CHECKS:
            if check.test in checks:
                raise ValueError(f"two checks judge {check.test}")
            checks[check.test] = check
    return checks


class Missing(Exception):
    """A step the check needs was not recorded or raised: that case cannot be judged further."""


def lookup(entries, key, what, c):
    """The recorded result of ``key``; a raise or a missing entry is recorded in ``c`` as a failure."""
    if key not in entries:
        c.expect(False, t("{what}: the test recorded no result", what=what))
        raise Missing
    value = entries[key]
    if isinstance(value, Raised):
        c.raised_instead(what, value.type_name, value.message, value.type_name == "NotImplementedError")
        raise Missing
    return value


def describe(value):
    """What a recorded value is, for a message: "None", "a single array of shape (3,)", "a tuple of 3"."""
    if value is None:
        return t("None")
    if isinstance(value, np.ndarray):
        return t("a single number") if value.ndim == 0 else t("a single array of shape {shape}", shape=value.shape)
    if isinstance(value, (tuple, list, dict)):
        return t("a {kind} of {n}", kind=type(value).__name__, n=len(value))
    return type_name(value)


def failed(test, message):
    """The verdict on a test whose record cannot be judged."""
    return Verdict(test, False, message, (diagnosis.unjudged(message),))


def judge(test, records, earlier=None, checks=None):
    """Judge the record data ``records`` (each the MIME payload of one output) found in test cell ``test``.

    ``earlier``: {grade id: Verdict} of the tests judged before this one in the same notebook.
    """
    check = (checks or registry())[test]
    if not records:
        return failed(test, t("the test did not finish: it left no record of your code's results"))
    if len(records) > 1:
        return failed(test, t("more than one record: {n} results claim to come from this test, "
                              "so none can be trusted", n=len(records)))
    try:
        record = Record.from_data(records[0])
    except RecordError as exc:
        return failed(test, t("the test's record cannot be read ({why})", why=exc))
    if record.test != test:
        return failed(test, t("the record comes from another test ({other})", other=record.test[:80]))
    if not record.complete:
        return failed(test, t("the test did not finish: it stopped at {why}", why=record.stopped or "an unknown point"))
    c = Checklist(check.title)
    check.judge(record.entries, c)
    if c.ok:
        return Verdict(test, True, c.summary())
    blockers = tuple((name, dep) for name, dep in check.builds_on.items() if dep in (earlier or {}) and not earlier[dep].ok)
    notes = [t("`{subject}` uses your `{name}`, whose own test failed: fix it first.", subject=check.subject, name=name)
             for name, _ in blockers]
    return Verdict(test, False, "\n".join(notes + [c.summary()]), tuple(map(diagnosis.of_failure, c.failed)),
                   tuple(dep for _, dep in blockers))
