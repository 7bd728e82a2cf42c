"""The one layer check: forward and backward of a layer class on every case of its exercise.

The truth is the layer's forward function ``f(*inputs, *init)``: the expected output is ``f`` itself, the
expected gradients are numerical gradients of ``sum(f(...) * dout)`` with respect to each input (what
backward returns) and each constructor argument (the attributes ``params`` read after backward: Affine's
``dW`` and ``db``).  Cases marked ``exact`` (inputs near 1e13) are judged by ``exact`` instead, the exact
local rule, since there a numerical gradient is as wrong as the difference quotient it is to catch.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from course.checks.exercises import LayerExercise, key
from course.gradcheck import compare, likely, numerical_gradient
from course.i18n import t
from course.judge.engine import Missing, describe, lookup


def _no_mistakes(name, case):
    return {}


@dataclass(frozen=True)
class LayerCheck:
    """How the grader judges what a :class:`LayerExercise` recorded.

    grads: the names of what backward returns, in order (one name: a single value; two: a pair).
    mistakes(name, case): {description of a known mistake: what it would give for gradient ``name``}.
    unchanged: forward must leave its array inputs unchanged.
    skip(name, case): a mask of entries not to judge (inputs within h of a kink), or None.
    subject, builds_on: for the dependency note ({"MulLayer": "test_mul_layer_random"}).
    tolerance: rtol/atol for :func:`course.gradcheck.compare`.
    exact_note: what a message about an ``exact`` case adds (the default suits inputs near 1e13).
    forward(c, what, case, out): judges the forward output instead of ``c.close(what, f(...), out)`` (a loss with
    two right values, or messages of its own).
    """
    exercise: LayerExercise
    title: str
    f: Callable
    grads: tuple = ("dx",)
    exact: Callable = None
    mistakes: Callable = _no_mistakes
    unchanged: bool = False
    skip: Callable = None
    subject: str = ""
    builds_on: dict = field(default_factory=dict)
    tolerance: dict = field(default_factory=dict)
    two_layers_hint: str = ""
    exact_note: str = t(" (use the local derivative, not a difference quotient)")
    forward: Callable = None

    @property
    def test(self):
        return self.exercise.test

    def judge(self, entries, c):
        for case in self.exercise.cases():
            try:
                self._case(entries, case, c)
            except Missing:
                continue

    def _case(self, entries, case, c):
        label, name = case.label, self.subject
        lookup(entries, key(label, "construct"), t("{layer}() for {case}", layer=name, case=label), c)
        out = lookup(entries, key(label, "forward"), t("forward for {case}", case=label), c)
        what = t("forward output for {case}", case=label)
        if self.forward is None:
            c.close(what, self.f(*case.inputs, *case.init), out)
        else:
            self.forward(c, what, case, out)
        if self.unchanged:
            self._unchanged(entries, case, c)
        if case.other:
            lookup(entries, key(label, "second layer"), t("a second {layer}()", layer=name), c)
            lookup(entries, key(label, "second forward"), t("forward of a second {layer}", layer=name), c)
        returned = lookup(entries, key(label, "backward"), t("backward for {case}", case=label), c)
        grads = self._unpack(returned, case, c)
        expected = self._expected(case)
        for name, exp, act in zip(self.grads, expected, grads):
            self._compare(c, t("{grad} for {case}", grad=name, case=label), name, exp, act, case)
        for param, exp in zip(self.exercise.params, expected[len(self.grads):]):
            act = lookup(entries, key(label, f"self.{param}"), t("self.{param} after backward", param=param), c)
            self._compare(c, t("self.{param} for {case}", param=param, case=label), param, exp, act, case)

    def _unpack(self, returned, case, c):
        if len(self.grads) == 1:
            return (returned,)
        pair = ", ".join(self.grads)
        if isinstance(returned, (tuple, list)) and len(returned) == len(self.grads):
            return returned
        c.expect(False, t("backward for {case} must return ({pair}); it returned {got}", case=case.label, pair=pair,
                          got=describe(returned)))
        raise Missing

    def _expected(self, case):
        if case.exact:
            return [np.asarray(g, dtype=float) for g in self.exact(*case.inputs, *case.init, case.dout)]
        dout, args = case.dout, [np.array(v, dtype=float) for v in case.inputs + case.init]
        free = [a for i, a in enumerate(args) if i not in case.fixed]  # labels are data: nothing to differentiate
        return [numerical_gradient(lambda _: float((self.f(*args) * dout).sum()), a) for a in free]

    def _compare(self, c, what, name, expected, actual, case):
        if case.exact:
            what += self.exact_note
        options = dict(self.tolerance, alternatives=self.mistakes(name, case), batch_size=case.batch)
        if self.skip is not None:
            options["skip"] = self.skip(name, case)
        result = compare(what, expected, actual, **options)
        if not result.ok and case.other and self.two_layers_hint and not (result.mistake or result.problem):
            result.message += likely(self.two_layers_hint)
            result.mistake = self.two_layers_hint
        c.comparison(result)

    def _unchanged(self, entries, case, c):
        for i, original in enumerate(case.inputs):
            k = key(case.label, f"input {i} after forward")
            if k in entries:
                after = entries[k]
                same = isinstance(after, np.ndarray) and after.shape == original.shape and bool(
                    np.array_equal(after, original, equal_nan=True))
                c.expect(same, t("forward leaves its input unchanged for {case}", case=case.label) if same else
                         t("forward for {case} changed its input in place: work on a copy, or compute a new array",
                           case=case.label))

