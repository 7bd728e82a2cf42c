"""Part 4's hidden tests (과제), the kernel half: the node layers, the graph's backward pass and the Value bonus.

Each object is named after the grade id it serves and only exercises the student's code on the cases below;
:mod:`course.judge.homework` judges the record in the grader, rebuilding these same cases.
"""
import sys
from dataclasses import dataclass
from typing import Callable

from course.checks import rng
from course.checks.exercises import FunctionExercise, LayerCase, LayerExercise, key
from course.checks.record import recording

_getrecursionlimit = sys.getrecursionlimit
_setrecursionlimit = sys.setrecursionlimit

# The graph's interface, as the notebook states it: the inputs, and every node's name in forward order.
INPUTS = ("x", "y", "w")
NAMES = INPUTS + ("h", "a", "n", "e", "d", "s", "q", "r", "L")
FIGURE = (1.0, 2.0, 0.75)


def graph_cases(seed, n=6):
    """(x, y, w): both winners of the max, both signs of w, never within 0.3 of the max's kink."""
    g = rng(seed)
    cases = []
    for k in range(n):
        x, y = g.uniform(-2.0, 2.0, size=2)
        if abs(x - y) < 0.3:
            y = x - 0.3 - g.uniform(0, 1)
        if (x > y) != (k % 2 == 0):
            x, y = y, x
        w = g.uniform(0.3, 1.8) * (1 if k % 3 else -1)
        cases.append((float(x), float(y), float(w)))
    return cases


def unary_cases(seed, low, high, n=6, huge=False):
    """Numbers of both signs with |x| in [low, high), random upstream gradients, and two layers in one graph.

    ``huge``: also a number near 1e13, where x ± h rounds back to x, so a difference quotient posing as the
    backward pass gets 0 while the local derivative stays exact (only where the node's value stays finite and
    its derivative is not lost in the tolerance: x², not exp or 1/x).
    """
    g = rng(seed)
    xs = g.uniform(low, high, size=n) * g.choice([-1.0, 1.0], size=n)
    douts = g.uniform(0.5, 2.5, size=n) * g.choice([-1.0, 1.0], size=n)
    cases = [LayerCase(f"forward({x:.4g}) then backward({d:.4g})", (x,), d, numbers=True) for x, d in zip(xs, douts)]
    if huge:
        x, dout = g.uniform(1, 2) * 1e13, g.uniform(0.5, 2.5)
        cases.append(LayerCase(f"an input near 1e13, forward({x:.4g}) then backward({dout:.4g})", (x,), dout,
                               numbers=True, exact=True))
    return cases + [LayerCase("the first of two layers, forward(1.5) before another layer's forward(-0.5)",
                              (1.5,), 1.0, numbers=True, other=(-0.5,))]


def max_cases(seed, n=6):
    """Both winners, never within 0.3 of the kink; a tie (the notebook's rule: x gets dout); two layers."""
    g = rng(seed)
    cases = []
    for k in range(n):
        x, y = (float(v) for v in g.uniform(-3, 3, size=2))
        if abs(x - y) < 0.3:
            y = x + 0.5
        if (x > y) != (k % 2 == 0):
            x, y = y, x
        dout = float(g.uniform(0.5, 2.5) * (-1) ** k)
        cases.append(LayerCase(f"forward({x:.4g}, {y:.4g}) then backward({dout:.4g})", (x, y), dout, numbers=True))
    tie = float(g.uniform(-3, 3))
    # At a tie a numerical gradient splits dout in halves; the notebook's rule is judged exactly instead.
    cases.append(LayerCase(f"a tie, forward({tie:.4g}, {tie:.4g}) then backward(1.5)", (tie, tie), 1.5,
                           numbers=True, exact=True))
    cases.append(LayerCase("the first of two layers, forward(1, 2) before another layer's forward(5, -3)",
                           (1.0, 2.0), 1.0, numbers=True, other=(5.0, -3.0)))
    return cases


test_exp_layer_random = LayerExercise("test_exp_layer_random", lambda: unary_cases(5400, 0.1, 2.5))
test_reciprocal_layer_random = LayerExercise("test_reciprocal_layer_random", lambda: unary_cases(5500, 0.3, 3.0))
test_square_layer_random = LayerExercise("test_square_layer_random", lambda: unary_cases(5600, 0.2, 3.0, huge=True))
test_max_layer_random = LayerExercise("test_max_layer_random", lambda: max_cases(5700))

test_graph_figure = FunctionExercise("test_graph_figure", lambda: [FIGURE])
test_graph_inputs = FunctionExercise("test_graph_inputs", lambda: graph_cases(5100))
test_graph_nodes = FunctionExercise("test_graph_nodes", lambda: graph_cases(5200))
test_graph_fan_out = FunctionExercise("test_graph_fan_out", lambda: [FIGURE] + graph_cases(5300, 4))


# ---------------------------------------------------------------------------------------------- bonus

def value_graph(Value, x, y, w):
    """The homework graph written with Value's operators, as the notebook does; its nodes in NAMES order."""
    x, y, w = Value(x), Value(y), Value(w)
    h = x.max(y)
    a = h * w
    n = -a
    e = n.exp()
    d = e + 1
    s = 1 / d
    q = s * h
    r = w ** 2
    L = q + r
    return x, y, w, h, a, n, e, d, s, q, r, L


# Small expressions of two Values u and v, by the label the record and the judge know them by.
EXPRESSIONS = {
    "u * u": lambda u, v: u * u,
    "u + u": lambda u, v: u + u,
    "u * v + u": lambda u, v: u * v + u,
    "u - v": lambda u, v: u - v,
    "u / v": lambda u, v: u / v,
    "u ** 3": lambda u, v: u ** 3,
    "2 * u + 3": lambda u, v: 2 * u + 3,
    "(u ** 2).exp()": lambda u, v: (u ** 2).exp(),
    "u.max(v)": lambda u, v: u.max(v),
    "v.max(u)": lambda u, v: v.max(u),
}
TIE = "u.max(v) with v equal to u (a tie)"


def expression_cases(seed):
    """(label, u, v) for every expression at one random point, and the tie of the max."""
    g = rng(seed)
    u, v = (float(x) for x in g.uniform(0.5, 2.0, size=2))
    return [(text, u, v) for text in EXPRESSIONS] + [(TIE, u, u)]


def expression(label):
    return EXPRESSIONS["u.max(v)"] if label == TIE else EXPRESSIONS[label]


def _graphs(r, Value, graphs, then):
    """Each graph of ``graphs`` built with Value, ``L.backward()``, then ``then(label, nodes)``: one case each."""
    for k, inputs in enumerate(graphs):
        label = f"graph {k}"
        with r.case():
            nodes = r.call(key(label, "build"), value_graph, Value, *inputs, keep=False)
            r.call(key(label, "backward"), lambda: nodes[-1].backward(), keep=False)
            then(label, nodes)


def _grads(r, label, nodes, when=""):
    for name, node in zip(NAMES, nodes):
        r.call(key(label, f"{name}.grad{when}"), getattr, node, "grad")


@dataclass(frozen=True)
class ValueGraphExercise:
    """The homework graph built with Value and ``L.backward()``: every node's data and grad; then each small
    expression's data and the grads of u and v."""
    test: str
    graphs: Callable[[], list]
    expressions: Callable[[], list]

    def __call__(self, Value):
        with recording(self.test) as r:
            _graphs(r, Value, self.graphs(), lambda label, nodes: self._record(r, label, nodes))
            for label, u, v in self.expressions():
                with r.case():
                    p, q = r.call(key(label, "Value(u), Value(v)"), lambda: (Value(u), Value(v)), keep=False)
                    out = r.call(key(label, "build"), expression(label), p, q, keep=False)
                    r.call(key(label, "backward"), lambda: out.backward(), keep=False)
                    r.call(key(label, "data"), getattr, out, "data")
                    r.call(key(label, "u.grad"), getattr, p, "grad")
                    r.call(key(label, "v.grad"), getattr, q, "grad")

    @staticmethod
    def _record(r, label, nodes):
        for name, node in zip(NAMES, nodes):
            r.call(key(label, f"{name}.data"), getattr, node, "data")
        _grads(r, label, nodes)


@dataclass(frozen=True)
class ValueTwiceExercise:
    """The homework graph: every node's grad after ``L.backward()``, and again after a second call."""
    test: str
    graphs: Callable[[], list]

    def __call__(self, Value):
        with recording(self.test) as r:
            _graphs(r, Value, self.graphs(), lambda label, nodes: self._twice(r, label, nodes))

    @staticmethod
    def _twice(r, label, nodes):
        _grads(r, label, nodes, " after the first backward()")
        r.call(key(label, "second backward"), lambda: nodes[-1].backward(), keep=False)
        _grads(r, label, nodes, " after the second backward()")


CHAIN = 10_000
DEFAULT_RECURSION_LIMIT = 1000
CHAIN_FACTOR = 1.0001


def _chain(start, length):
    y = start
    for _ in range(length):
        y = y * CHAIN_FACTOR
    return y


@dataclass(frozen=True)
class ValueChainExercise:
    """``backward()`` through a chain of ``length`` products under Python's default recursion limit, and the
    start's grad.  The limit is the default whatever the notebook set, and is given back afterwards."""
    test: str
    length: int = CHAIN

    def __call__(self, Value):
        with recording(self.test) as r, r.case():
            start = r.call(key("chain", "Value(0.5)"), Value, 0.5, keep=False)
            end = r.call(key("chain", "build"), _chain, start, self.length, keep=False)
            saved = _getrecursionlimit()
            _setrecursionlimit(DEFAULT_RECURSION_LIMIT)
            try:
                r.call(key("chain", "backward"), lambda: end.backward(), keep=False)
            finally:
                _setrecursionlimit(saved)
            r.call(key("chain", "start.grad"), getattr, start, "grad")


test_value_graph = ValueGraphExercise("test_value_graph", lambda: [FIGURE] + graph_cases(5800, 3),
                                      lambda: expression_cases(5900))
test_value_chain = ValueChainExercise("test_value_chain")
test_value_twice = ValueTwiceExercise("test_value_twice", lambda: [FIGURE] + graph_cases(6000, 2))
