"""Part 4's hidden tests (과제), the judge's half: the true graph, node by node, and the known mistakes.

The true graph is written out here once, node by node.  The expected gradient at a node is a numerical
derivative: nudge that node's value by ±h, run only the part of the true graph downstream of it, and watch L.
A node that feeds two others (fan-out) is nudged once for both, so its expected gradient is the total.

Feedback names the first wrong node in backward order (역전파 순서): the nodes after it usually inherit its
error, so that is where the bug is, in the backward of the node(s) it feeds.

The sigmoid here is four primitive nodes, so this module needs no softmax or sigmoid reference of its own.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from course.checks import homework as exercises
from course.checks.exercises import key
from course.gradcheck import Comparison, compare, likely, numerical_gradient
from course.i18n import t
from course.judge.engine import Missing, describe, lookup
from course.judge.layer import LayerCheck

INPUTS, NAMES = exercises.INPUTS, exercises.NAMES

# (name, formula shown in feedback, forward of the node, its inputs), in a topological order.
NODES = (
    ("h", "h = max(x, y)", lambda x, y: x if x >= y else y, ("x", "y")),
    ("a", "a = h × w", lambda h, w: h * w, ("h", "w")),
    ("n", "n = a × (−1)", lambda a: -a, ("a",)),
    ("e", "e = exp(n)", math.exp, ("n",)),
    ("d", "d = e + 1", lambda e: e + 1.0, ("e",)),
    ("s", "s = 1/d", lambda d: 1.0 / d, ("d",)),
    ("q", "q = s × h", lambda s, h: s * h, ("s", "h")),
    ("r", "r = w²", lambda w: w * w, ("w",)),
    ("L", "L = q + r", lambda q, r: q + r, ("q", "r")),
)
assert tuple(name for name, *_ in NODES) == NAMES[len(INPUTS):]
# A backward pass completes the gradients in this order (reverse topological): where an error enters first.
BACKWARD_ORDER = tuple(reversed(NAMES))
FORMULA = {name: formula for name, formula, *_ in NODES}
CONSUMERS = {name: tuple(node for node, _, _, args in NODES if name in args) for name in NAMES}
FAN_OUT = tuple(name for name in NAMES if len(CONSUMERS[name]) > 1)       # ("w", "h")
INTERMEDIATE = tuple(name for name in NAMES if name not in INPUTS)
LAYERS = {"MaxLayer": "test_max_layer_random", "ExpLayer": "test_exp_layer_random",
          "ReciprocalLayer": "test_reciprocal_layer_random", "SquareLayer": "test_square_layer_random"}


def forward(inputs, nudge=None):
    """Every node's value; ``nudge = {node: value}`` replaces a node's value and recomputes what follows it."""
    nudge = nudge or {}
    values = {name: float(nudge.get(name, inputs[name])) for name in INPUTS}
    for name, _, op, args in NODES:
        values[name] = float(nudge[name]) if name in nudge else op(*(values[a] for a in args))
    return values


def expected_gradients(inputs):
    """dL/d(node) for every node, by nudging each node's value and re-running the graph downstream of it."""
    values = forward(inputs)
    return {name: float(numerical_gradient(lambda v: forward(inputs, {name: float(v)})["L"],
                                           np.array(values[name])))
            for name in NAMES}


def _inputs(args):
    return dict(zip(INPUTS, (float(v) for v in args)))


def _where(inputs):
    return "(x, y, w) = (" + ", ".join(f"{inputs[n]:.3g}" for n in INPUTS) + ")"


def _number(value):
    """A recorded value as a finite float, or None (not a number, several numbers, nan)."""
    if not isinstance(value, np.ndarray) or value.size != 1:
        return None
    number = float(value.reshape(()))
    return number if math.isfinite(number) else None


def _alternatives(name, v, g):
    """What specific mistakes would report as dL/d(name), given the true values v and true gradients g."""
    def only(branch, other):
        return t("only the gradient from {branch} ({name} also feeds {other}: add both, don't overwrite)",
                 branch=FORMULA[branch], name=name, other=FORMULA[other])

    if name in ("x", "y"):
        return {t("max sent its upstream gradient to both inputs"): g["h"],
                t("max sent its upstream gradient to the smaller input"): g["h"] - g[name]}
    return {
        "w": {only("r", "a"): 2 * v["w"] * g["r"], only("a", "r"): v["h"] * g["a"],
              t("the square's backward forgot the factor 2"): v["h"] * g["a"] + v["w"] * g["r"]},
        "h": {only("q", "a"): v["s"] * g["q"], only("a", "q"): v["w"] * g["a"]},
        "n": {t("exp's backward used its input n instead of its output exp(n)"): v["n"] * g["e"],
              t("exp's backward ignored dout"): v["e"]},
        "d": {t("1/x's backward used the output where the input belongs (−dout / s²)"): -g["s"] / v["s"] ** 2,
              t("1/x's backward lost the minus sign of −1/x²"): -g["d"],
              t("1/x's backward ignored dout"): -v["s"] ** 2},
        "s": {t("the multiply node q = s × h did not swap its inputs (ds must use h)"): v["s"] * g["q"]},
    }.get(name, {})


def _hint(name):
    """Where to look when ``name`` is the first wrong node in backward order."""
    if name == "L":
        return t("the backward pass starts with dL/dL = 1")
    consumers = CONSUMERS[name]
    if len(consumers) > 1:
        return t("{name} feeds {consumers}: its gradient is the sum of what both send back, each with its own "
                 "local derivative", name=name, consumers=t(" and ").join(FORMULA[c] for c in consumers))
    (consumer,) = consumers
    if consumer in FAN_OUT:
        return t("dL/d{consumer} is right, so look at the backward of {formula} (its local derivative, dout, or "
                 "whether it ran before dL/d{consumer} was complete: backward order)", consumer=consumer,
                 formula=FORMULA[consumer])
    return t("dL/d{consumer} is right, so look at the backward of {formula} (its local derivative, dout)",
             consumer=consumer, formula=FORMULA[consumer])


def _verdict(expected, actual, alternatives=None):
    """(ok, "expected …, got …" or the number, likely mistake) for one recorded number.

    Any two single numbers differ by "a constant factor", so only the alternatives (and a flipped sign) name
    a mistake here.
    """
    number = _number(actual)
    if number is None:
        got = t("None (a missing `return`?)") if actual is None else describe(actual)
        return False, t("expected a number, got {got}", got=got), ""
    if compare("", expected, number, diagnosis=False).ok:
        return True, f"{number:.6g}", ""
    alternatives = {**(alternatives or {}), t("the sign is flipped"): -expected}
    mistake = next((label for label, wrong in alternatives.items() if compare("", wrong, number).ok), "")
    return False, t("expected {expected:.6g}, got {got:.6g}", expected=expected, got=number), mistake


def _scalar(what, expected, actual, alternatives=None, hint=""):
    """The :class:`Comparison` of one recorded number with the expected one, its mistake or else ``hint``."""
    ok, text, mistake = _verdict(expected, actual, alternatives)
    if ok:
        return Comparison(what, True, t("{what} = {value}", what=what, value=text))
    advice = likely(mistake) if mistake else (t("\n    hint: {hint}", hint=hint) if hint else "")
    return Comparison(what, False, t("{what}: {text}", what=what, text=text) + advice, mistake=mistake)


def _call(entries, k, args, c):
    """(inputs, grads dict) that case ``k`` returned, its L judged; :class:`Missing` if it cannot be judged."""
    inputs = _inputs(args)
    call = t("graph_forward_backward({args})", args=", ".join(f"{v:.3g}" for v in args))
    value = lookup(entries, key(f"case {k}", "call"), call, c)
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict)):
        c.expect(False, t("graph_forward_backward must return (L, grads) with grads a dict; it returned {got}",
                          got=describe(value)))
        raise Missing
    L, grads = value
    c.comparison(_scalar(t("L at {where}", where=_where(inputs)), forward(inputs)["L"], L))
    return inputs, grads


class _Check:
    """A check of this notebook: judges the record of ``self.exercise``, registered under its grade id."""

    @property
    def test(self):
        return self.exercise.test


@dataclass(frozen=True)
class GraphCheck(_Check):
    """The gradients at the nodes ``nodes``, at every case; a failure is shown once per first wrong node."""
    exercise: object
    title: str
    nodes: tuple
    subject: str = "graph_forward_backward"
    builds_on: dict = field(default_factory=lambda: dict(LAYERS))

    def judge(self, entries, c):
        repeats = {}
        for k, args in enumerate(self.exercise.cases()):
            try:
                inputs, grads = _call(entries, k, args, c)
            except Missing:
                continue
            result = self._verdict(inputs, grads)
            if result.ok or result.name not in repeats:
                repeats.setdefault(result.name, 0)
                c.comparison(result)
            else:
                repeats[result.name] += 1
        for blamed, count in repeats.items():
            if count:
                c.expect(False, t("the same at {count} more random input(s): first wrong node {node}",
                                  count=count, node=blamed))

    def _verdict(self, inputs, grads):
        """One Comparison about the nodes judged here, named after the first wrong node of the whole pass."""
        where = _where(inputs)
        missing = [name for name in self.nodes if name not in grads]
        if missing:
            return Comparison("", False, t("at {where}: the gradient dict has no entry for {missing} (it needs one "
                                           "for every node: {names})", where=where, missing=", ".join(missing),
                                           names=", ".join(NAMES)))
        values, expected = forward(inputs), expected_gradients(inputs)
        judged = {name: _verdict(expected[name], grads[name], _alternatives(name, values, expected))
                  for name in NAMES if name in grads}
        bad = [name for name in BACKWARD_ORDER if name in self.nodes and not judged[name][0]]
        if not bad:
            return Comparison(None, True, t("at {where}: {names} correct", where=where,
                                            names=", ".join(n for n in NAMES if n in self.nodes)))
        first = next(name for name in BACKWARD_ORDER if name in judged and not judged[name][0])
        _, text, mistake = judged[first]
        advice = likely(mistake) if mistake else t("\n    hint: {hint}", hint=_hint(first))
        return Comparison(first, False, t("at {where}: wrong {bad}\n    the first wrong node in backward order is "
                                          "{first}: {text}", where=where, bad=", ".join("dL/d" + n for n in bad),
                                          first=first, text=text) + advice, mistake=mistake)


def _local_derivatives(v):
    """d(consumer)/d(node) for each edge leaving a fan-out node, from the true forward values."""
    return {("h", "a"): v["w"], ("h", "q"): v["s"], ("w", "a"): v["h"], ("w", "r"): 2 * v["w"]}


@dataclass(frozen=True)
class FanOutCheck(_Check):
    """h and w feed two nodes each: their gradients must be the sum of what both send back, and h's must be
    complete before the max node passes it on.

    Judged with the student's own gradients at the nodes around them, so a wrong layer elsewhere costs
    little here: this is the accumulation, and the backward order that makes it complete in time.
    """
    exercise: object
    title: str
    subject: str = "graph_forward_backward"
    builds_on: dict = field(default_factory=dict)

    def judge(self, entries, c):
        for k, args in enumerate(self.exercise.cases()):
            try:
                inputs, grads = _call(entries, k, args, c)
            except Missing:
                continue
            numbers = {name: _number(grads.get(name)) for name in NAMES}
            # Where the pass starts: without it, gradients that are all zero would "add up" as well.
            for name in ("L", "q", "r"):
                c.comparison(_scalar(t("at {where}: dL/d{name}", where=_where(inputs), name=name), 1.0,
                                     grads.get(name), hint=t("the backward pass starts with dL/dL = 1, and the add "
                                                             "node L = q + r passes it on unchanged to q and r")))
            local = _local_derivatives(forward(inputs))
            for name in FAN_OUT:
                consumers = CONSUMERS[name]
                if not self._have_numbers(c, inputs, numbers, (name, *consumers)):
                    continue
                branches = {b: numbers[b] * local[name, b] for b in consumers}
                c.comparison(_scalar(
                    t("at {where}: dL/d{name}, the sum of what {formulas} send back (with your own {grads})",
                      where=_where(inputs), name=name, formulas=t(" and ").join(FORMULA[b] for b in consumers),
                      grads=t(" and ").join("dL/d" + b for b in consumers)),
                    sum(branches.values()), grads[name],
                    {t("only the gradient from {formula}: the other branch was overwritten or never added",
                       formula=FORMULA[b]): branch for b, branch in branches.items()},
                    hint=t("add both branches, each times its node's local derivative")))
            winner = "x" if inputs["x"] >= inputs["y"] else "y"
            if self._have_numbers(c, inputs, numbers, ("h", winner)):
                c.comparison(_scalar(
                    t("at {where}: dL/d{winner}, your complete dL/dh passed on by {formula}", where=_where(inputs),
                      winner=winner, formula=FORMULA["h"]), numbers["h"], grads[winner],
                    hint=t("did max's backward run before both branches had been added into dL/dh? (backward order)")))

    @staticmethod
    def _have_numbers(c, inputs, numbers, names):
        return c.expect(all(numbers[n] is not None for n in names),
                        t("at {where}: grads has a number for each of {names}", where=_where(inputs),
                          names=", ".join(names)))


# ------------------------------------------------------------------------------------------ node layers

TWO_LAYERS = t("the layers share what forward remembers: keep what backward needs on self, not on the class")
IGNORES_DOUT = t("dout is ignored: multiply the local derivative by the upstream gradient")


def _max_mistakes(name, case):
    (x, y), dout = case.inputs, case.dout
    wins = (x >= y) if name == "dx" else (x < y)
    if x == y:
        return {t("at a tie dout goes to x (the notebook's rule): compare with >=, not >"): dout * (name == "dy")}
    return {t("dout went to both inputs: only the larger input gets it"): dout + 0 * x,
            t("dout went to the smaller input instead of the larger"): dout * ~wins}


def _reciprocal_mistakes(x, dout):
    return {t("backward used the output where the input belongs (−dout / out² instead of −dout / x²)"): -dout * x * x,
            t("the minus sign of −1/x² is missing"): dout / (x * x),
            t("the square is missing: −dout / x"): -dout / x,
            IGNORES_DOUT: -1.0 / (x * x)}


def _layer(exercise, title, subject, f, mistakes, **options):
    return LayerCheck(exercise, title, f, mistakes=mistakes, subject=subject, two_layers_hint=TWO_LAYERS, **options)


# ---------------------------------------------------------------------------------------------- bonus

def _built(entries, label, where, c):
    """The homework graph was built with Value and ``L.backward()`` ran (else :class:`Missing`)."""
    lookup(entries, key(label, "build"), t("building the homework graph with Value at {where}", where=where), c)
    lookup(entries, key(label, "backward"), t("L.backward() at {where}", where=where), c)


class _ValueCheck(_Check):
    """What the Value checks share: the subject, and no earlier test they build on."""
    subject = "Value"
    builds_on = {}


@dataclass(frozen=True)
class ValueGraphCheck(_ValueCheck):
    """Every node's data and grad on the homework graph (the first wrong grad in backward order, only), and
    the grads of u and v in small expressions, a tie of max included."""
    exercise: object
    title: str

    def judge(self, entries, c):
        for k, args in enumerate(self.exercise.graphs()):
            try:
                self._graph(entries, f"graph {k}", _inputs(args), c)
            except Missing:
                continue
        for label, u, v in self.exercise.expressions():
            try:
                self._expression(entries, label, u, v, c)
            except Missing:
                continue

    def _graph(self, entries, label, inputs, c):
        where = _where(inputs)
        _built(entries, label, where, c)
        values, expected = forward(inputs), expected_gradients(inputs)
        for name in BACKWARD_ORDER:
            data = lookup(entries, key(label, f"{name}.data"), t("{name}.data", name=name), c)
            c.close(t("{name}.data at {where}", name=name, where=where), values[name], data, rtol=1e-9)
        for name in BACKWARD_ORDER:
            grad = lookup(entries, key(label, f"{name}.grad"), t("{name}.grad", name=name), c)
            if not c.comparison(_scalar(t("{name}.grad at {where}", name=name, where=where), expected[name], grad,
                                        _alternatives(name, values, expected), hint=_hint(name))):
                return      # the nodes after the first wrong one inherit its error

    def _expression(self, entries, label, u, v, c):
        at = t("at u = {u:.4g}, v = {v:.4g}", u=u, v=v)
        for step in ("Value(u), Value(v)", "build", "backward"):
            lookup(entries, key(label, step), t("{step} for {label}", step=step, label=label), c)
        value, du, dv = EXPRESSION_TRUTH[label](u, v)
        data = lookup(entries, key(label, "data"), t("({label}).data", label=label), c)
        c.close(t("({label}).data {at}", label=label, at=at), value, data, rtol=1e-9)
        tie = {t("a tie counts as self being larger: u.max(v) with u == v sends the gradient to u, not to v "
                 "(compare with >=, not >)"): (0.0, 1.0)} if label == exercises.TIE else {}
        for name, exp, which in (("u", du, 0), ("v", dv, 1)):
            grad = lookup(entries, key(label, f"{name}.grad"), t("{name}.grad", name=name), c)
            c.comparison(_scalar(t("d({label})/d{name} {at}", label=label, name=name, at=at), exp, grad,
                                 {mistake: wrong[which] for mistake, wrong in tie.items()}))


# (value, d/du, d/dv) of each expression of course.checks.homework.EXPRESSIONS, worked out by hand.
EXPRESSION_TRUTH = {
    "u * u": lambda u, v: (u * u, 2 * u, 0.0),
    "u + u": lambda u, v: (2 * u, 2.0, 0.0),
    "u * v + u": lambda u, v: (u * v + u, v + 1, u),
    "u - v": lambda u, v: (u - v, 1.0, -1.0),
    "u / v": lambda u, v: (u / v, 1 / v, -u / v ** 2),
    "u ** 3": lambda u, v: (u ** 3, 3 * u ** 2, 0.0),
    "2 * u + 3": lambda u, v: (2 * u + 3, 2.0, 0.0),
    "(u ** 2).exp()": lambda u, v: (math.exp(u * u), 2 * u * math.exp(u * u), 0.0),
    "u.max(v)": lambda u, v: (max(u, v), float(u >= v), float(u < v)),
    "v.max(u)": lambda u, v: (max(u, v), float(u > v), float(v >= u)),
    exercises.TIE: lambda u, v: (u, 1.0, 0.0),
}


@dataclass(frozen=True)
class ValueChainCheck(_ValueCheck):
    """backward() through the chain under the default recursion limit, and the start's gradient."""
    exercise: object
    title: str

    def judge(self, entries, c):
        try:
            lookup(entries, key("chain", "Value(0.5)"), t("Value(0.5)"), c)
            lookup(entries, key("chain", "build"), t("building the chain y = x · {f} · {f} ⋯", f=exercises.CHAIN_FACTOR), c)
            lookup(entries, key("chain", "backward"),
                   t("backward() through {n:,} nodes (Python's default recursion limit of {limit}: a recursive "
                     "topological sort cannot go that deep)", n=self.exercise.length,
                     limit=exercises.DEFAULT_RECURSION_LIMIT), c)
            grad = lookup(entries, key("chain", "start.grad"), t("x.grad"), c)
        except Missing:
            return
        c.close(t("dy/dx for y = x · {f}^{n}", f=exercises.CHAIN_FACTOR, n=self.exercise.length),
                exercises.CHAIN_FACTOR ** self.exercise.length, grad, rtol=1e-9)


@dataclass(frozen=True)
class ValueTwiceCheck(_ValueCheck):
    """The notebook's design: backward() starts from zero, so a second call gives the same gradients.

    Judged against the student's own first call (test_value_graph judges that one), with dL/dL = 1 both times.
    """
    exercise: object
    title: str

    def judge(self, entries, c):
        for k, args in enumerate(self.exercise.graphs()):
            try:
                self._graph(entries, f"graph {k}", _where(_inputs(args)), c)
            except Missing:
                continue

    def _graph(self, entries, label, where, c):
        _built(entries, label, where, c)
        once = {name: _number(lookup(entries, key(label, f"{name}.grad after the first backward()"),
                                     t("{name}.grad", name=name), c)) for name in NAMES}
        c.close(t("L.grad after the first backward() at {where}", where=where), 1.0, once["L"])
        lookup(entries, key(label, "second backward"), t("L.backward() a second time at {where}", where=where), c)
        added = t("the second backward() added onto the first one's gradients: reset every .grad in the graph to 0 "
                  "before accumulating")
        for name in BACKWARD_ORDER:
            if not c.expect(once[name] is not None, t("{name}.grad is a number after backward()", name=name)):
                return
            twice = lookup(entries, key(label, f"{name}.grad after the second backward()"), t("{name}.grad", name=name), c)
            if not c.comparison(_scalar(t("{name}.grad after a second backward() at {where} (the first gave "
                                          "{first:.6g})", name=name, where=where, first=once[name]),
                                        once[name], twice, {added: 2 * once[name]})):
                return


CHECKS = [
    _layer(exercises.test_exp_layer_random, t("ExpLayer on random inputs"), "ExpLayer", np.exp,
           lambda name, case: {t("backward used the input x instead of exp(x)"): case.dout * case.inputs[0],
                               IGNORES_DOUT: np.exp(case.inputs[0])}),
    _layer(exercises.test_reciprocal_layer_random, t("ReciprocalLayer on random inputs"), "ReciprocalLayer",
           lambda x: 1.0 / x, lambda name, case: _reciprocal_mistakes(case.inputs[0], case.dout)),
    _layer(exercises.test_square_layer_random, t("SquareLayer on random inputs"), "SquareLayer", lambda x: x * x,
           lambda name, case: {t("the factor 2 is missing"): case.dout * case.inputs[0],
                               IGNORES_DOUT: 2 * case.inputs[0],
                               t("backward used the output x² instead of the input x"):
                                   2 * case.inputs[0] ** 2 * case.dout},
           exact=lambda x, dout: (2 * x * dout,)),
    _layer(exercises.test_max_layer_random, t("MaxLayer on random inputs"), "MaxLayer", np.maximum,
           _max_mistakes, grads=("dx", "dy"), exact=lambda x, y, dout: (dout * (x >= y), dout * (x < y)),
           exact_note=t(" (the notebook's rule: at a tie, x gets dout)")),
    GraphCheck(exercises.test_graph_figure, t("every node's gradient at the figure's values"), NAMES),
    GraphCheck(exercises.test_graph_inputs, t("dL/dx, dL/dy and dL/dw on random inputs"), INPUTS),
    GraphCheck(exercises.test_graph_nodes, t("the gradient at every intermediate node on random inputs"),
               INTERMEDIATE),
    FanOutCheck(exercises.test_graph_fan_out, t("gradients add up where a value feeds two nodes (h and w)")),
    ValueGraphCheck(exercises.test_value_graph, t("Value on the homework graph and small expressions")),
    ValueChainCheck(exercises.test_value_chain, t("backward() through a chain of {n:,} nodes", n=exercises.CHAIN)),
    ValueTwiceCheck(exercises.test_value_twice, t("calling backward() twice gives the same gradients")),
]
