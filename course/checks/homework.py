"""Hidden checks for the homework (과제): the backward pass of a bigger graph, graded node by node.

The true graph is written out here once, node by node.  The expected gradient at a node is a numerical
derivative: nudge that node's value by ±h, run only the part of the true graph downstream of it, and watch L.
A node that feeds two others (fan-out) is nudged once for both, so its expected gradient is the total.

Feedback names the first wrong node in backward order (역전파 순서): the nodes after it usually inherit its
error, so that is where the bug is, in the backward of the node(s) it feeds.
"""
import math
import sys

import numpy as np

from course.checks import checklist, fresh, rng
from course.gradcheck import compare, numerical_gradient, numerical_gradients

_exp = math.exp
_isfinite = math.isfinite
_max = max
_getrecursionlimit = sys.getrecursionlimit
_setrecursionlimit = sys.setrecursionlimit

INPUTS = ("x", "y", "w")
FIGURE = {"x": 1.0, "y": 2.0, "w": 0.75}

# (name, formula shown in feedback, forward of the node, its inputs), in a topological order.
NODES = (
    ("h", "h = max(x, y)", lambda x, y: x if x >= y else y, ("x", "y")),
    ("a", "a = h × w", lambda h, w: h * w, ("h", "w")),
    ("n", "n = a × (−1)", lambda a: -a, ("a",)),
    ("e", "e = exp(n)", _exp, ("n",)),
    ("d", "d = e + 1", lambda e: e + 1.0, ("e",)),
    ("s", "s = 1/d", lambda d: 1.0 / d, ("d",)),
    ("q", "q = s × h", lambda s, h: s * h, ("s", "h")),
    ("r", "r = w²", lambda w: w * w, ("w",)),
    ("L", "L = q + r", lambda q, r: q + r, ("q", "r")),
)
NAMES = INPUTS + tuple(name for name, *_ in NODES)
# A backward pass completes the gradients in this order (reverse topological): where an error enters first.
BACKWARD_ORDER = tuple(reversed(NAMES))
FORMULA = {name: formula for name, formula, *_ in NODES}
CONSUMERS = {name: tuple(node for node, _, _, args in NODES if name in args) for name in NAMES}
FAN_OUT = tuple(name for name in NAMES if len(CONSUMERS[name]) > 1)       # ("w", "h")
INTERMEDIATE = tuple(name for name in NAMES if name not in INPUTS)


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
    grads = {}
    for name in NAMES:
        point = np.array(values[name])
        grads[name] = float(numerical_gradient(lambda v: forward(inputs, {name: float(v)})["L"], point))
    return grads


def _cases(seed, n=6):
    """Random inputs: both winners of the max, both signs of w, never within 0.3 of the max's kink."""
    g = rng(seed)
    cases = []
    for k in range(n):
        x, y = g.uniform(-2.0, 2.0, size=2)
        if abs(x - y) < 0.3:
            y = x - 0.3 - g.uniform(0, 1)
        if (x > y) != (k % 2 == 0):
            x, y = y, x
        w = g.uniform(0.3, 1.8) * (1 if k % 3 else -1)
        cases.append({"x": float(x), "y": float(y), "w": float(w)})
    return cases


def _where(inputs):
    return "(x, y, w) = (" + ", ".join(f"{inputs[n]:.3g}" for n in INPUTS) + ")"


def _number(value):
    try:
        number = float(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        return None
    return number if _isfinite(number) else None


def _alternatives(name, v, g):
    """What specific mistakes would report as dL/d(name), given the true values v and true gradients g."""
    def only(branch, other):
        return (f"only the gradient from {FORMULA[branch]} ({name} also feeds {FORMULA[other]}: "
                "add both, don't overwrite)")

    if name in ("x", "y"):
        return {"max sent its upstream gradient to both inputs": g["h"],
                "max sent its upstream gradient to the smaller input": g["h"] - g[name]}
    return {
        "w": {only("r", "a"): 2 * v["w"] * g["r"], only("a", "r"): v["h"] * g["a"],
              "the square's backward forgot the factor 2": v["h"] * g["a"] + v["w"] * g["r"]},
        "h": {only("q", "a"): v["s"] * g["q"], only("a", "q"): v["w"] * g["a"]},
        "n": {"exp's backward used its input n instead of its output exp(n)": v["n"] * g["e"],
              "exp's backward ignored dout": v["e"]},
        "d": {"1/x's backward used the output where the input belongs (−dout / s²)": -g["s"] / v["s"] ** 2,
              "1/x's backward lost the minus sign of −1/x²": -g["d"],
              "1/x's backward ignored dout": -v["s"] ** 2},
        "s": {"the multiply node q = s × h did not swap its inputs (ds must use h)": v["s"] * g["q"]},
    }.get(name, {})


def _hint(name):
    """Where to look when ``name`` is the first wrong node in backward order."""
    if name == "L":
        return "the backward pass starts with dL/dL = 1"
    consumers = CONSUMERS[name]
    if len(consumers) > 1:
        return (f"{name} feeds {' and '.join(FORMULA[c] for c in consumers)}: its gradient is the sum of what "
                f"both send back, each with its own local derivative")
    (consumer,) = consumers
    hint = f"dL/d{consumer} is right, so look at the backward of {FORMULA[consumer]} (its local derivative, dout"
    if consumer in FAN_OUT:
        return hint + f", or whether it ran before dL/d{consumer} was complete: backward order)"
    return hint + ")"


class _Report:
    """One call of the student's function on one set of inputs, judged node by node."""

    def __init__(self, inputs, grads):
        self.inputs = inputs
        self.values = forward(inputs)
        self.expected = expected_gradients(inputs)
        self.grads = grads
        self.missing = [name for name in NAMES if name not in grads]
        self.wrong = {}          # name -> (expected vs got, likely mistake)
        for name in NAMES:
            if name in self.missing:
                continue
            ok, text, mistake = _scalar_verdict(self.expected[name], grads[name],
                                                _alternatives(name, self.values, self.expected))
            if not ok:
                self.wrong[name] = (text, mistake)

    def first_wrong(self):
        return next((name for name in BACKWARD_ORDER if name in self.wrong), None)

    def verdict(self, judged):
        """``(ok, message)`` about the nodes in ``judged``, blaming the first wrong node of the whole pass."""
        missing = [name for name in judged if name in self.missing]
        if missing:
            return False, (f"at {_where(self.inputs)}: the gradient dict has no entry for {', '.join(missing)} "
                           f"(it needs one for every node: {', '.join(NAMES)})")
        bad = [name for name in BACKWARD_ORDER if name in judged and name in self.wrong]
        if not bad:
            return True, f"at {_where(self.inputs)}: {', '.join(n for n in NAMES if n in judged)} correct"
        first = self.first_wrong()
        text, mistake = self.wrong[first]
        return False, (f"at {_where(self.inputs)}: wrong {', '.join('dL/d' + n for n in bad)}\n"
                       f"    the first wrong node in backward order is {first}: {text}\n"
                       + (f"    likely mistake: {mistake}" if mistake else f"    hint: {_hint(first)}"))


def _run(c, graph_function, inputs):
    """Call the student's function and check the shape of its answer; a _Report, or None."""
    args = tuple(float(inputs[n]) for n in INPUTS)
    result = c.call(f"{graph_function.__name__}({', '.join(f'{v:.3g}' for v in args)})", graph_function, *args)
    if not c.expect(isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict),
                    f"{graph_function.__name__} returns (L, grads) with grads a dict"):
        return None
    L, grads = result
    c.close(f"L at {_where(inputs)}", forward(inputs)["L"], L, rtol=1e-9)
    return _Report(inputs, grads)


def _check_nodes(title, graph_function, cases, judged):
    """Judge ``judged`` nodes at each of ``cases``; a failure is shown once per first wrong node."""
    with checklist(title) as c:
        repeats = {}
        for inputs in cases:
            report = _run(c, graph_function, inputs)
            if report is None:
                return
            ok, message = report.verdict(judged)
            blamed = report.first_wrong()
            if ok or blamed not in repeats:
                repeats.setdefault(blamed, 0)
                c.expect(ok, message)
            else:
                repeats[blamed] += 1
        for blamed, count in repeats.items():
            if count:
                c.expect(False, f"the same at {count} more random input(s): first wrong node {blamed}")


def graph_at_figure(graph_function):
    _check_nodes("every node's gradient at the figure's values", graph_function, [FIGURE], NAMES)


def graph_input_gradients(graph_function):
    _check_nodes("dL/dx, dL/dy and dL/dw on random inputs", graph_function, _cases(5100), INPUTS)


def graph_node_gradients(graph_function):
    _check_nodes("the gradient at every intermediate node on random inputs", graph_function, _cases(5200),
                 INTERMEDIATE)


def _local_derivatives(v):
    """d(consumer)/d(node) for each edge leaving a fan-out node, from the true forward values."""
    return {("h", "a"): v["w"], ("h", "q"): v["s"], ("w", "a"): v["h"], ("w", "r"): 2 * v["w"]}


def graph_fan_out(graph_function):
    """h and w feed two nodes each: their gradients must be the sum of what both send back, and h's must be
    complete before the max node passes it on.

    Judged with the student's own gradients at the nodes around them, so a wrong layer elsewhere costs
    little here: this is the accumulation, and the backward order that makes it complete in time.
    """
    with checklist("gradients add up where a value feeds two nodes (h and w)") as c:
        for inputs in [FIGURE] + _cases(5300, 4):
            report = _run(c, graph_function, inputs)
            if report is None:
                return
            grads = {name: _number(report.grads.get(name)) for name in NAMES}
            local = _local_derivatives(report.values)
            for name in FAN_OUT:
                consumers = CONSUMERS[name]
                if not _have_numbers(c, inputs, grads, (name, *consumers)):
                    continue
                branches = {k: grads[k] * local[name, k] for k in consumers}
                _judge(c, f"at {_where(inputs)}: dL/d{name}, the sum of what "
                          f"{' and '.join(FORMULA[k] for k in consumers)} send back (with your own "
                          f"{' and '.join('dL/d' + k for k in consumers)})",
                       sum(branches.values()), grads[name],
                       {f"only the gradient from {FORMULA[k]}: the other branch was overwritten or never added":
                        branch for k, branch in branches.items()},
                       hint="add both branches, each times its node's local derivative")
            winner = "x" if inputs["x"] >= inputs["y"] else "y"
            if _have_numbers(c, inputs, grads, ("h", winner)):
                _judge(c, f"at {_where(inputs)}: dL/d{winner}, your complete dL/dh passed on by {FORMULA['h']}",
                       grads["h"], grads[winner],
                       hint="did max's backward run before both branches had been added into dL/dh? (backward order)")


def _have_numbers(c, inputs, grads, names):
    return c.expect(all(grads[n] is not None for n in names),
                    f"at {_where(inputs)}: grads has a number for each of {', '.join(names)}")


def _scalar_verdict(expected, actual, alternatives=None):
    """``(ok, text, mistake)`` for one number: whether it is right, "expected …, got …", the likely mistake."""
    number = _number(actual)
    if number is None:
        kind = f"a {type(actual).__name__} ({actual!r})" if actual is not None else "None (a missing `return`?)"
        return False, f"expected a number, got {kind}", ""
    alternatives = {**(alternatives or {}), "the sign is flipped": -expected}
    result = compare("", expected, number, alternatives=alternatives)
    if result.ok:
        return True, f"{number:.6g}", ""
    # Any two numbers differ by "a constant factor": for a single number that is no diagnosis.
    mistake = "" if result.mistake.startswith("off by a constant factor") else result.mistake
    return False, f"expected {expected:.6g}, got {number:.6g}", mistake


def _judge(c, what, expected, actual, alternatives=None, hint=""):
    """Record one number's verdict, with the likely mistake (or else ``hint``) when it is wrong."""
    ok, text, mistake = _scalar_verdict(expected, actual, alternatives)
    if ok:
        return c.expect(True, f"{what} = {text}")
    advice = f"\n    likely mistake: {mistake}" if mistake else (f"\n    hint: {hint}" if hint else "")
    return c.expect(False, f"{what}: {text}{advice}")


# ------------------------------------------------------------------------------------------ node layers

def _unary_cases(seed, low, high, n=6):
    g = rng(seed)
    xs = g.uniform(low, high, size=n) * g.choice([-1.0, 1.0], size=n)
    douts = g.uniform(0.5, 2.5, size=n) * g.choice([-1.0, 1.0], size=n)
    return [(float(x), float(d)) for x, d in zip(xs, douts)]


def _check_unary(title, layer_class, f, alternatives, cases):
    """Forward values and backward vs the numerical derivative of ``f(x) * dout``."""
    with checklist(title) as c:
        for x, dout in cases:
            layer = c.call(f"{layer_class.__name__}()", layer_class)
            out = c.call(f"forward({x:.4g})", layer.forward, x)
            c.close(f"forward({x:.4g})", f(x), out)
            dx = c.call(f"backward({dout:.4g}) after forward({x:.4g})", layer.backward, dout)
            expected = float(numerical_gradient(lambda u: f(float(u)) * dout, fresh(x)))
            _judge(c, f"dx = backward({dout:.4g}) after forward({x:.4g})", expected, dx, alternatives(x, dout),
                   hint="a one-input layer's backward returns dx = dout × the local derivative")
        _check_two_instances(c, layer_class, (1.5,), (-0.5,), lambda dx: (dx,),
                             numerical_gradient(lambda u: f(float(u)), fresh(1.5)))


def _check_two_instances(c, layer_class, first_args, second_args, unpack, expected):
    """Two layers of one class in one graph: the first one's backward must use its own forward's values."""
    first, second = layer_class(), layer_class()
    c.call("forward", first.forward, *first_args)
    c.call("forward", second.forward, *second_args)
    grads = unpack(c.call("backward", first.backward, 1.0))
    args = ", ".join(f"{a:g}" for a in first_args)
    _judge(c, f"backward(1) of a layer after forward({args}), when another layer of the same class ran forward "
              f"since", float(expected), grads[0], hint="keep what backward needs on self, not on the class")


def exp_layer(ExpLayer):
    _check_unary("ExpLayer on random inputs", ExpLayer, _exp, lambda x, dout: {
        "backward used the input x instead of exp(x)": dout * x,
        "dout is ignored: multiply the local derivative by the upstream gradient": _exp(x),
    }, _unary_cases(5400, 0.1, 2.5))


def reciprocal_layer(ReciprocalLayer):
    _check_unary("ReciprocalLayer on random inputs", ReciprocalLayer, lambda x: 1.0 / x, lambda x, dout: {
        "backward used the output where the input belongs (−dout / out² instead of −dout / x²)": -dout * x * x,
        "the minus sign of −1/x² is missing": dout / (x * x),
        "the square is missing: −dout / x": -dout / x,
        "dout is ignored: multiply the local derivative by the upstream gradient": -1.0 / (x * x),
    }, _unary_cases(5500, 0.3, 3.0))


def square_layer(SquareLayer):
    _check_unary("SquareLayer on random inputs", SquareLayer, lambda x: x * x, lambda x, dout: {
        "the factor 2 is missing": dout * x,
        "dout is ignored: multiply the local derivative by the upstream gradient": 2 * x,
        "backward used the output x² instead of the input x": 2 * x * x * dout,
    }, _unary_cases(5600, 0.2, 3.0))


def max_layer(MaxLayer):
    with checklist("MaxLayer on random inputs") as c:
        g = rng(5700)
        for k in range(6):
            x, y = (float(v) for v in g.uniform(-3, 3, size=2))
            if abs(x - y) < 0.3:
                y = x + 0.5
            if (x > y) != (k % 2 == 0):
                x, y = y, x
            dout = float(g.uniform(0.5, 2.5) * (-1) ** k)
            layer = c.call("MaxLayer()", MaxLayer)
            out = c.call(f"forward({x:.4g}, {y:.4g})", layer.forward, x, y)
            c.close(f"forward({x:.4g}, {y:.4g})", _max(x, y), out)
            grads = c.call(f"backward({dout:.4g})", layer.backward, dout)
            if not c.expect(isinstance(grads, tuple) and len(grads) == 2, "backward returns the pair (dx, dy)"):
                return
            expected = numerical_gradients(lambda u, v: _max(float(u), float(v)) * dout, fresh(x), fresh(y))
            for name, exp, actual in zip(("dx", "dy"), expected, grads):
                exp = float(exp)
                _judge(c, f"{name} of backward({dout:.4g}) after forward({x:.4g}, {y:.4g})", exp, actual,
                       {"dout went to both inputs: only the larger input gets it": dout,
                        "dout went to the smaller input instead of the larger": dout - exp})
        _check_two_instances(c, MaxLayer, (1.0, 2.0), (5.0, -3.0), lambda pair: pair, 0.0)


# ---------------------------------------------------------------------------------------------- bonus

def _value_graph(Value, inputs):
    """The homework graph written with Value's operators; returns {name: Value}."""
    x, y, w = (Value(float(inputs[n])) for n in INPUTS)
    h = x.max(y)
    a = h * w
    n = -a
    e = n.exp()
    d = e + 1
    s = 1 / d
    q = s * h
    r = w ** 2
    L = q + r
    return dict(zip(NAMES, (x, y, w, h, a, n, e, d, s, q, r, L)))


def _judge_values(c, nodes, inputs):
    values, expected = forward(inputs), expected_gradients(inputs)
    for name in BACKWARD_ORDER:
        node = nodes[name]
        c.close(f"{name}.data at {_where(inputs)}", values[name], node.data, rtol=1e-9)
    for name in BACKWARD_ORDER:
        if not _judge(c, f"{name}.grad at {_where(inputs)}", expected[name], nodes[name].grad,
                      _alternatives(name, values, expected), hint=_hint(name)):
            return      # the nodes after the first wrong one inherit its error


def value_graph(Value):
    """Value's gradients on the homework graph (figure and random inputs) and on small expressions."""
    with checklist("Value on the homework graph and small expressions") as c:
        for inputs in [FIGURE] + _cases(5800, 3):
            nodes = c.call(f"building the homework graph with Value at {_where(inputs)}", _value_graph, Value, inputs)
            c.call("L.backward()", nodes["L"].backward)
            _judge_values(c, nodes, inputs)
        g = rng(5900)
        u, v = (float(t) for t in g.uniform(0.5, 2.0, size=2))
        expressions = {
            "u * u": (lambda p, q: p * p, 2 * u, 0.0),
            "u + u": (lambda p, q: p + p, 2.0, 0.0),
            "u - v": (lambda p, q: p - q, 1.0, -1.0),
            "u / v": (lambda p, q: p / q, 1 / v, -u / v ** 2),
            "u ** 3": (lambda p, q: p ** 3, 3 * u ** 2, 0.0),
            "2 * u + 3": (lambda p, q: 2 * p + 3, 2.0, 0.0),
            "u.max(v)": (lambda p, q: p.max(q), float(u >= v), float(u < v)),
        }
        for text, (f, du, dv) in expressions.items():
            p, q = Value(u), Value(v)
            out = c.call(text, f, p, q)
            c.call(f"({text}).backward()", out.backward)
            c.close(f"d({text})/du at u = {u:.4g}, v = {v:.4g}", du, p.grad)
            c.close(f"d({text})/dv at u = {u:.4g}, v = {v:.4g}", dv, q.grad)


CHAIN = 10_000
DEFAULT_RECURSION_LIMIT = 1000


def value_chain(Value):
    """backward() through a chain of 10,000 nodes under Python's default recursion limit."""
    with checklist(f"backward() through a chain of {CHAIN:,} nodes") as c:
        x = Value(0.5)
        y = x
        for _ in range(CHAIN):
            y = c.call("y * 1.0001", lambda t: t * 1.0001, y)
        saved = _getrecursionlimit()
        _setrecursionlimit(DEFAULT_RECURSION_LIMIT)     # the default, whatever the notebook set
        try:
            c.call(f"backward() through {CHAIN:,} nodes (Python's default recursion limit of "
                   f"{DEFAULT_RECURSION_LIMIT}: a recursive topological sort cannot go that deep)", y.backward)
        finally:
            _setrecursionlimit(saved)
        c.close("dy/dx for y = x · 1.0001^10000", 1.0001 ** CHAIN, x.grad, rtol=1e-9)


def value_backward_twice(Value):
    """The notebook's design: backward() starts from zero, so a second call gives the same gradients.

    Judged against the student's own first call (value_graph judges that one), with dL/dL = 1 both times.
    """
    with checklist("calling backward() twice gives the same gradients") as c:
        for inputs in [FIGURE] + _cases(6000, 2):
            nodes = c.call(f"building the homework graph with Value at {_where(inputs)}", _value_graph, Value, inputs)
            c.call("L.backward()", nodes["L"].backward)
            once = {name: _number(node.grad) for name, node in nodes.items()}
            c.close(f"L.grad after the first backward() at {_where(inputs)}", 1.0, once["L"])
            c.call("L.backward() a second time", nodes["L"].backward)
            added = ("the second backward() added onto the first one's gradients: reset every .grad "
                     "in the graph to 0 before accumulating")
            for name in BACKWARD_ORDER:
                if not c.expect(once[name] is not None, f"{name}.grad is a number after backward()"):
                    break
                if not _judge(c, f"{name}.grad after a second backward() at {_where(inputs)} (the first gave "
                                 f"{once[name]:.6g})", once[name], nodes[name].grad, {added: 2 * once[name]}):
                    break
