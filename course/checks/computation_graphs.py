"""Part 2's hidden tests (계산 그래프), the kernel half: MulLayer, AddLayer and the two shopping graphs.

Each object is named after the grade id it serves and only exercises the student's code on the cases
below; :mod:`course.judge.computation_graphs` judges the record in the grader, rebuilding these same cases.
"""
from course.checks import rng
from course.checks.exercises import FunctionExercise, LayerCase, LayerExercise

SHAPES = [(), (3,), (2, 3), (4, 1, 2)]


def binary_layer_cases(seed):
    """Random inputs and upstream gradients of every shape, inputs near 1e13, and two layers in one graph."""
    cases = []
    for k, shape in enumerate(SHAPES):
        g = rng(seed + k)
        x, y, dout = (g.normal(size=shape) * 3 for _ in range(3))
        cases.append(LayerCase(f"shape {shape} with a random dout", (x, y), dout, numbers=True))
    # Near 1e13, x ± h rounds back to x: a difference quotient posing as a backward pass gets 0 or nonsense
    # here, while the node's local derivative (the rule of the lecture) stays exact.
    g = rng(seed + 99)
    x, y, dout = g.uniform(1, 2, 3) * 1e13, g.uniform(1, 2, 3) * 1e13, g.normal(size=3)
    cases.append(LayerCase("inputs near 1e13", (x, y), dout, exact=True))
    cases.append(LayerCase("the first of two layers, forward(2, 3) before another layer's forward(5, 7)",
                           (2.0, 3.0), 1.0, numbers=True, other=(5.0, 7.0)))
    return cases


def price_cases(seed, n=4):
    """Five random prices and counts per case, as plain floats."""
    g = rng(seed)
    return [tuple(float(v) for v in g.uniform(0.5, 9.0, size=5)) for _ in range(n)]


test_mul_layer_random = LayerExercise("test_mul_layer_random", lambda: binary_layer_cases(2100))
test_add_layer_random = LayerExercise("test_add_layer_random", lambda: binary_layer_cases(2200))
test_shopping_random = FunctionExercise("test_shopping_random", lambda: price_cases(2300))
test_drinks_random = FunctionExercise("test_drinks_random", lambda: price_cases(2400))
