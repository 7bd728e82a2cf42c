"""Scalar computation graphs (계산 그래프): the model the notebooks' drawings picture.

A :class:`Graph` describes a small calculation node by node; the course code (not the student) computes
its forward values (순전파) and the gradient at every node (역전파); :func:`course.drawing.draw` pictures it.

    g = Graph("apple")
    a = g.input("apple", 100)
    n = g.input("apple_num", 2)
    p = g.node("apple_price", "×", a, n)
    g.node("price", "×c", p, const=1.1)
    g.forward()["price"]              # 220.0 (up to float noise)
    g.backward()["apple"]             # 2.2
    draw(g, backward=True)

To change an input, set ``g.values[name]`` and call :meth:`Graph.forward` again.
"""
import math
from dataclasses import dataclass

from course.i18n import t

# Each operation: forward formula, and next to it the local derivatives d(out)/d(input), one per input.
# The local derivatives may use the inputs and the output (exp and sigmoid reuse what forward computed).
# Ops ending in "c" take a constant (``const=``) that is drawn as a small extra input and gets no gradient.
OPS = {
    "+":       (lambda x, y: x + y,                 lambda x, y, out: (1.0, 1.0)),
    "×":       (lambda x, y: x * y,                 lambda x, y, out: (y, x)),
    "-":       (lambda x, y: x - y,                 lambda x, y, out: (1.0, -1.0)),
    "/":       (lambda x, y: x / y,                 lambda x, y, out: (1 / y, -x / y ** 2)),
    "max":     (lambda x, y: max(x, y),             lambda x, y, out: (float(x >= y), float(x < y))),
    "exp":     (lambda x: math.exp(x),              lambda x, out: (out,)),
    "log":     (lambda x: math.log(x),              lambda x, out: (1 / x,)),
    "1/x":     (lambda x: 1 / x,                    lambda x, out: (-out * out,)),
    "x²":      (lambda x: x * x,                    lambda x, out: (2 * x,)),
    "neg":     (lambda x: -x,                       lambda x, out: (-1.0,)),
    "sigmoid": (lambda x: 1 / (1 + math.exp(-x)),  lambda x, out: (out * (1 - out),)),
    "relu":    (lambda x: max(x, 0.0),              lambda x, out: (float(x > 0),)),
    "×c":      (lambda x, c: x * c,                 lambda x, c, out: (c,)),
    "+c":      (lambda x, c: x + c,                 lambda x, c, out: (1.0,)),
}
# What the circle shows when the op's name is too long or names the constant.
SYMBOLS = {"×c": "×", "+c": "+", "neg": "−", "sigmoid": "σ", "relu": "ReLU"}


def _takes_const(op):
    return op.endswith("c")


def arity(op):
    """How many nodes an op takes as inputs (its constant not counted)."""
    return OPS[op][0].__code__.co_argcount - _takes_const(op)


@dataclass
class Node:
    name: str
    op: str = None          # None for an input
    inputs: tuple = ()
    const: float = None
    label: str = None       # text drawn for the node: the op's symbol in a circle, or an input's name

    @property
    def is_input(self):
        return self.op is None


class Graph:
    """A scalar computation graph built node by node; nodes only use nodes added before them."""

    def __init__(self, name, dout=1.0):
        self.name = name
        self.nodes = {}           # name -> Node, in the order added (a topological order)
        self.values = {}          # name -> forward value
        self.grads = {}           # name -> gradient of the output with respect to that node
        self.edge_grads = {}      # (consumer, input position) -> gradient flowing along that edge
        self.dout = dout          # gradient arriving at the output when backward() is given none

    def input(self, name, value, label=None):
        self._add(Node(name, label=label or name))
        self.values[name] = float(value)
        return name

    def node(self, name, op, *inputs, const=None, label=None):
        if op not in OPS:
            raise ValueError(t("unknown op {op!r}; known: {known}", op=op, known=" ".join(OPS)))
        if len(inputs) != arity(op):
            raise ValueError(t("op {op!r} takes {n} input(s), got {got}", op=op, n=arity(op), got=len(inputs)))
        if _takes_const(op) != (const is not None):
            raise ValueError(t("op {op!r} needs const=", op=op) if _takes_const(op) else t("op {op!r} takes no const=", op=op))
        missing = [i for i in inputs if i not in self.nodes]
        if missing:
            raise ValueError(t("node {name!r} uses unknown node(s) {missing}: add them first", name=name, missing=missing))
        self._add(Node(name, op, tuple(inputs), const, label or SYMBOLS.get(op, op)))
        return name

    def _add(self, node):
        if node.name in self.nodes:
            raise ValueError(t("a node named {name!r} already exists", name=node.name))
        self.nodes[node.name] = node

    @property
    def output(self):
        """The node added last: what forward() computes and backward() differentiates by default."""
        return next(reversed(self.nodes))

    def _args(self, node):
        args = [self.values[i] for i in node.inputs]
        return args + [node.const] if node.const is not None else args

    def forward(self):
        """Compute every node's value from the inputs; returns the dict name -> value."""
        for node in self.nodes.values():
            if not node.is_input:
                self.values[node.name] = float(OPS[node.op][0](*self._args(node)))
        return dict(self.values)

    def backward(self, output=None, dout=None):
        """Gradient of ``output`` (default: the last node) at every node, given ``dout`` arriving at it.

        ``dout`` defaults to the graph's ``dout`` (1.0 unless the graph was built with another).
        A node feeding several nodes (fan-out) receives the sum of what flows back along each edge.
        Nodes the output does not depend on get 0.  Runs forward() first, so values are current.
        """
        self.forward()
        output = output or self.output
        self.grads = {name: 0.0 for name in self.nodes}
        self.edge_grads = {}
        self.grads[output] = float(self.dout if dout is None else dout)
        for name in backward_order(self, output):
            node = self.nodes[name]
            local = OPS[node.op][1](*self._args(node), self.values[name])
            for k, (source, d) in enumerate(zip(node.inputs, local)):
                self.edge_grads[name, k] = self.grads[name] * d
                self.grads[source] += self.edge_grads[name, k]
        return dict(self.grads)


def backward_order(graph, output=None):
    """Names of the operation nodes in the order a backward pass visits them (reverse topological).

    Each node comes before every node it uses, so its gradient is complete (all fan-out contributions
    added) before it passes gradients on.  Only nodes the output depends on; inputs have nothing to do.
    """
    order = topological(graph, [output or graph.output])
    return [name for name in reversed(order) if not graph.nodes[name].is_input]


def topological(graph, ends):
    """Nodes the ``ends`` depend on, each after its inputs, the inputs visited in the order given.

    An iterative depth-first search, so deep graphs do not hit Python's recursion limit.
    """
    order, seen = [], set()
    for end in ends:
        stack = [(end, False)]
        while stack:
            name, inputs_done = stack.pop()
            if inputs_done:
                order.append(name)
            elif name not in seen:
                seen.add(name)
                stack.append((name, True))
                stack.extend((i, False) for i in reversed(graph.nodes[name].inputs))
    return order


# ------------------------------------------------------------------------------------ prebuilt graphs

def apple(apple=100, apple_num=2, tax=1.1):
    """The book's first example: 2 apples at 100 won with 10% tax -> 220."""
    g = Graph("apple")
    g.node("apple_price", "×", g.input("apple", apple), g.input("apple_num", apple_num))
    g.node("price", "×", "apple_price", g.input("tax", tax))
    return g


def _two_items(name, items, subtotal, multiplier, total):
    """(a × a_num + b × b_num) × multiplier: the shape shared by the shopping graph and the quiz."""
    g = Graph(name)
    costs = [g.node(f"{item}_price", "×", g.input(item, value), g.input(f"{item}_num", count))
             for item, (value, count) in items.items()]
    g.node(total, "×", g.node(subtotal, "+", *costs), g.input(*multiplier))
    return g


def apple_orange(apple=100, apple_num=2, orange=150, orange_num=3, tax=1.1):
    """2 apples and 3 oranges with tax -> 715; gradients apple 2.2, apple_num 110, orange 3.3,
    orange_num 165, tax 650."""
    return _two_items("apple_orange", {"apple": (apple, apple_num), "orange": (orange, orange_num)},
                      "all_price", ("tax", tax), "price")


def drinks_quiz(water=1500, water_num=2, juice=1800, juice_num=1, members=10):
    """The deck's quiz: each of 10 members drinks 2 bottles of water and 1 juice -> 48000 won."""
    return _two_items("drinks_quiz", {"water": (water, water_num), "juice": (juice, juice_num)},
                      "per_member", ("members", members), "total")


def chain_rule(x=1.0, y=2.0):
    """z = t², t = x + y: the deck's chain rule example."""
    g = Graph("chain_rule")
    g.node("z", "x²", g.node("t", "+", g.input("x", x), g.input("y", y)))
    return g


def sigmoid_graph(x=1.0):
    """y = 1 / (1 + exp(−x)) as the deck draws it: ×(−1) -> exp -> +1 -> 1/x."""
    g = Graph("sigmoid")
    g.node("−x", "×c", g.input("x", x), const=-1)
    g.node("exp(−x)", "exp", "−x")
    g.node("1+exp(−x)", "+c", "exp(−x)", const=1)
    g.node("y", "1/x", "1+exp(−x)")
    return g


def add_node(x=2.0, y=3.0, dout=1.3):
    """A single + node: it passes the upstream gradient dout on unchanged to both inputs."""
    g = Graph("add", dout=dout)
    g.node("z", "+", g.input("x", x), g.input("y", y))
    return g


def mul_node(x=2.0, y=3.0, dout=1.3):
    """A single × node: each input gets dout times the other input."""
    g = Graph("mul", dout=dout)
    g.node("z", "×", g.input("x", x), g.input("y", y))
    return g
