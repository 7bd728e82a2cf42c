"""The graph-function check: a function of numbers returning (result, {argument name: gradient}).

The truth is the function ``f`` of the numbers: the expected result is ``f(*args)``, the expected gradients
are its numerical gradients.  Every gradient is a single number per case, and any two single numbers differ
by some factor, so a mistake is named only from the same gradient across all the cases (one factor in every
case is evidence; a different one each time is not).
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from course.checks.exercises import FunctionExercise, key
from course.diagnose import diagnose
from course.gradcheck import compare, likely, numerical_gradients
from course.i18n import t
from course.judge.engine import Missing, describe, lookup


@dataclass(frozen=True)
class FunctionCheck:
    """How the grader judges what a :class:`FunctionExercise` recorded.

    subject: the function's name; names: its arguments' names, the keys of the gradient dict;
    result: what the first returned value is called in messages; builds_on: {"MulLayer": grade id}.
    """
    exercise: FunctionExercise
    title: str
    subject: str
    names: tuple
    f: Callable
    result: str = "total"
    builds_on: dict = field(default_factory=dict)

    @property
    def test(self):
        return self.exercise.test

    def judge(self, entries, c):
        found = []  # (args, result, gradient dict, expected gradients) of every case that returned its pair
        for k, args in enumerate(self.exercise.cases()):
            at = _args(args)
            try:
                value = lookup(entries, key(f"case {k}", "call"), f"{self.subject}{at}", c)
            except Missing:
                continue
            if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict)):
                c.expect(False, t("{fn} must return ({result}, a dict of gradients); it returned {got}",
                                  fn=self.subject, result=self.result, got=describe(value)))
                return
            expected = numerical_gradients(lambda *a: self.f(*(float(v) for v in a)),
                                           *(np.array(v, dtype=float) for v in args))
            found.append((args, value[0], value[1], expected))
        hints = {name: self._across_cases(i, name, found) for i, name in enumerate(self.names)}
        for args, result, grads, expected in found:
            at = _args(args)
            c.close(t("{result} for {args}", result=self.result, args=at), self.f(*args), result, rtol=1e-9)
            for name, exp in zip(self.names, expected):
                if name not in grads:
                    c.expect(False, t("the gradient '{name}' is missing from the dict", name=name))
                    continue
                outcome = compare(t("d {result} / d {name} at {args}", result=self.result, name=name, args=at),
                                  exp, grads[name], diagnosis=False)
                if not outcome.ok and hints.get(name):
                    hint = hints.pop(name)  # said once, under the first case it explains
                    outcome.message += likely(t("{hint} (the same in every case)", hint=hint))
                    outcome.mistake = hint
                c.comparison(outcome)

    def _across_cases(self, i, name, found):
        """The mistake that turns the expected gradient into the student's in every case, or ""."""
        pairs = [(exp[i], grads.get(name)) for _, _, grads, exp in found]
        if len(pairs) < 2 or not all(isinstance(a, np.ndarray) and a.shape == () for _, a in pairs):
            return ""
        return diagnose(np.array([e for e, _ in pairs], dtype=float), np.array([a for _, a in pairs]))


def _args(args):
    return "(" + ", ".join(f"{v:.4g}" for v in args) + ")"

