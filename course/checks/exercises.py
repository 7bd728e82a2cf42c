"""The kernel half of a hidden test: call the student's code on deterministic cases and record what it did.

An exercise object is named after the grade id it serves, and the hidden test cell calls it
(``checks.test_mul_layer_random(MulLayer)``).  It holds no expected value: its ``cases`` builder makes the
inputs from a seeded generator of its own, and the judge (:mod:`course.judge`, in the grader's process) calls
the same builder to rebuild them, so a record can only ever report what the student's code returned.

Record keys are ``"<case label>: <step>"`` (:func:`key`); the judge reads them with the same function.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from course.checks.record import recording

_array = np.array
_ndarray = np.ndarray


def key(label, step):
    """The record key of one step of one case."""
    return f"{label}: {step}"


def _arrays(values):
    return tuple(_array(v, dtype=float, copy=True) for v in values)


@dataclass(frozen=True)
class LayerCase:
    """One fresh layer, ``forward(*inputs)`` then ``backward(dout)``; every input is a float64 array.

    ``numbers``: 0-d inputs are handed over as Python floats (the way the book's examples use the layers).
    ``exact``: the judge uses the exact local derivative, not a numerical gradient (inputs near 1e13, where a
    difference quotient posing as a backward pass breaks down).  ``other``: the forward arguments of a second
    layer of the same class, run between this layer's forward and its backward (layers must not share state).
    ``batch``: the batch size, for the diagnosis of a missing or extra division by it.
    """
    label: str
    inputs: tuple
    dout: object
    init: tuple = ()
    numbers: bool = False
    exact: bool = False
    other: tuple = ()
    batch: int = None

    def __post_init__(self):
        for name in ("inputs", "init", "other"):
            object.__setattr__(self, name, _arrays(getattr(self, name)))
        object.__setattr__(self, "dout", _array(self.dout, dtype=float, copy=True))

    def given(self, value):
        """A copy of one input for the student's code (which may change it in place)."""
        return float(value) if self.numbers and value.ndim == 0 else _array(value, dtype=float, copy=True)


@dataclass(frozen=True)
class LayerExercise:
    """A layer class on every case: constructor, forward, the inputs after forward, backward, and the
    attributes ``params`` (``dW``, ``db``) read after backward."""
    test: str
    cases: Callable[[], list]
    params: tuple = ()

    def __call__(self, layer_class):
        with recording(self.test) as r:
            for case in self.cases():
                with r.case():
                    self._exercise(r, layer_class, case)

    def _exercise(self, r, layer_class, case):
        layer = r.call(key(case.label, "construct"), layer_class, *map(case.given, case.init), keep=False)
        given = [case.given(x) for x in case.inputs]
        r.call(key(case.label, "forward"), _method(layer, "forward"), *given)
        for i, value in enumerate(given):
            if isinstance(value, _ndarray):
                r.value(key(case.label, f"input {i} after forward"), value)
        if case.other:
            second = r.call(key(case.label, "second layer"), layer_class, *map(case.given, case.init), keep=False)
            r.call(key(case.label, "second forward"), _method(second, "forward"), *map(case.given, case.other),
                   keep=False)
        r.call(key(case.label, "backward"), _method(layer, "backward"), case.given(case.dout))
        for name in self.params:
            r.call(key(case.label, f"self.{name}"), getattr, layer, name, None)


def _method(obj, name):
    """``obj.name`` looked up only when called, inside the recorder (a lookup that raises is recorded)."""
    return lambda *args: getattr(obj, name)(*args)


@dataclass(frozen=True)
class FunctionExercise:
    """A function of numbers (a graph wired from the student's layers) called on every argument tuple."""
    test: str
    cases: Callable[[], list] = field(repr=False)

    def __call__(self, fn):
        with recording(self.test) as r:
            for k, args in enumerate(self.cases()):
                with r.case():
                    r.call(key(f"case {k}", "call"), fn, *args)
