"""Hidden checks for Part 2 (계산 그래프): MulLayer, AddLayer and the two shopping graphs.

Backward passes are compared with numerical gradients of the true function on random inputs of
several shapes with an upstream gradient ``dout`` different from 1, so the book's numbers alone earn nothing.
"""
import numpy as np

from course.checks import checklist, fresh, rng
from course.gradcheck import numerical_gradients

SHAPES = [(), (3,), (2, 3), (4, 1, 2)]


def _inputs(seed, shape):
    g = rng(seed)
    return [fresh(g.normal(size=shape) * 3) for _ in range(3)]


def _as_input(a):
    # scalars go in as plain floats, the way the shopping example uses the layers
    return float(a) if a.ndim == 0 else fresh(a)


def _check_binary_layer(title, layer_class, op, alternatives, seed, grads_at_2_3, local):
    """Forward values and backward vs numerical gradients of ``sum(op(x, y) * dout)``."""
    with checklist(title) as c:
        for k, shape in enumerate(SHAPES):
            x, y, dout = _inputs(seed + k, shape)
            layer = c.call(f"{layer_class.__name__}()", layer_class)
            out = c.call(f"forward on shape {shape}", layer.forward, _as_input(x), _as_input(y))
            c.close(f"forward output for shape {shape}", out, op(x, y))
            grads = c.call(f"backward on shape {shape}", layer.backward, _as_input(dout))
            if not c.expect(isinstance(grads, tuple) and len(grads) == 2,
                            f"backward returns the pair (dx, dy) for shape {shape}"):
                continue
            expected = numerical_gradients(lambda a, b: float((op(a, b) * dout).sum()), x.copy(), y.copy())
            for name, exp, act in zip(("dx", "dy"), expected, grads):
                wrong = alternatives(x, y, dout, name)
                c.gradient(f"{name} (shape {shape}, random dout)", exp, act, alternatives=wrong)
        # Near 1e13, x ± h rounds back to x: a difference quotient posing as a backward pass gets 0 or
        # nonsense here, while the node's local derivative (the rule of the lecture) stays exact.
        g = rng(seed + 99)
        x, y, dout = fresh(g.uniform(1, 2, 3) * 1e13), fresh(g.uniform(1, 2, 3) * 1e13), fresh(g.normal(size=3))
        layer = c.call(f"{layer_class.__name__}()", layer_class)
        c.call("forward on inputs near 1e13", layer.forward, fresh(x), fresh(y))
        grads = c.call("backward on inputs near 1e13", layer.backward, fresh(dout))
        if c.expect(isinstance(grads, tuple) and len(grads) == 2, "backward returns (dx, dy) for inputs near 1e13"):
            for name, exp, act in zip(("dx", "dy"), local(x, y), grads):
                c.gradient(f"{name} for inputs near 1e13 (use the local derivative, not a difference quotient)",
                           exp * dout, act)
        # Two layers in one graph must not share what they remember from forward.
        first, second = layer_class(), layer_class()
        c.call("forward", first.forward, 2.0, 3.0)
        c.call("forward", second.forward, 5.0, 7.0)
        dx, dy = c.call("backward", first.backward, 1.0)
        c.close("dx of the first of two layers (forward(2, 3), then another layer's forward(5, 7))", dx, grads_at_2_3[0])
        c.close("dy of the first of two layers", dy, grads_at_2_3[1])


def _mul(a, b):
    return a * b


def _add(a, b):
    return a + b


def _mul_alternatives(x, y, dout, name):
    own, other = (x, y) if name == "dx" else (y, x)
    return {
        "the inputs are not swapped (dx must use y, and dy must use x)": dout * own,
        "dout is ignored (multiply the local gradient by the upstream gradient dout)": other,
        "dout alone is passed on, as an add node would": dout,
    }


def _add_alternatives(x, y, dout, name):
    return {
        "dout is ignored: an add node passes dout on unchanged, not 1": np.ones_like(dout),
        "the inputs were multiplied in, as in a multiply node": dout * (y if name == "dx" else x),
    }


def mul_layer_backward(MulLayer):
    _check_binary_layer("MulLayer on random inputs", MulLayer, _mul, _mul_alternatives, seed=2100, grads_at_2_3=(3.0, 2.0),
                        local=lambda x, y: (y, x))


def add_layer_backward(AddLayer):
    _check_binary_layer("AddLayer on random inputs", AddLayer, _add, _add_alternatives, seed=2200, grads_at_2_3=(1.0, 1.0),
                        local=lambda x, y: (np.ones_like(x), np.ones_like(y)))


def _check_graph_function(title, fn, names, true_f, cases):
    """``fn(*values)`` returns ``(total, {name: gradient})``; compare with ``true_f`` numerically."""
    with checklist(title) as c:
        for values in cases:
            arrays = [np.array(v, dtype=float) for v in values]
            result = c.call(f"{fn.__name__}{tuple(round(v, 3) for v in values)}", fn, *values)
            if not c.expect(isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict),
                            f"{fn.__name__} returns (total, gradients as a dict)"):
                return
            total, grads = result
            c.close(f"total for {tuple(round(v, 3) for v in values)}", total, true_f(*values), rtol=1e-9)
            expected = numerical_gradients(lambda *a: true_f(*(float(v) for v in a)), *arrays)
            for name, exp in zip(names, expected):
                if c.expect(name in grads, f"gradient '{name}' is in the dict"):
                    c.gradient(f"d total / d {name} at {tuple(round(v, 3) for v in values)}", exp, grads[name])


def _shop_cases(seed, n=4):
    g = rng(seed)
    return [tuple(float(v) for v in g.uniform(0.5, 9.0, size=5)) for _ in range(n)]


def shopping_graph(buy_apples_and_oranges):
    _check_graph_function(
        "the apple and orange graph on random prices", buy_apples_and_oranges,
        ("apple", "apple_num", "orange", "orange_num", "tax"),
        lambda a, an, o, on, t: (a * an + o * on) * t, _shop_cases(2300))


def drinks_graph(drinks_total):
    _check_graph_function(
        "the drinks quiz graph on random prices", drinks_total,
        ("water", "water_per_member", "juice", "juice_per_member", "members"),
        lambda w, wn, j, jn, m: (w * wn + j * jn) * m, _shop_cases(2400))
