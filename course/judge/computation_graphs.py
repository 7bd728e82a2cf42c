"""Part 2's hidden tests (계산 그래프), the judge's half: the truth and the known mistakes."""
import numpy as np

from course.checks import computation_graphs as exercises
from course.i18n import t
from course.judge.function import FunctionCheck
from course.judge.layer import LayerCheck

LAYERS = {"MulLayer": "test_mul_layer_random", "AddLayer": "test_add_layer_random"}
TWO_LAYERS = t("the layers share what forward remembers: keep it on self, not on the class")


def _mul_mistakes(name, case):
    (x, y), dout = case.inputs, case.dout
    own, other = (x, y) if name == "dx" else (y, x)
    return {
        t("the inputs are not swapped (dx must use y, and dy must use x)"): dout * own,
        t("dout is ignored (multiply the local gradient by the upstream gradient dout)"): other,
        t("dout alone is passed on, as an add node would"): dout + 0 * own,
    }


def _add_mistakes(name, case):
    (x, y), dout = case.inputs, case.dout
    return {
        t("dout is ignored: an add node passes dout on unchanged, not 1"): np.ones_like(dout + 0 * x),
        t("the inputs were multiplied in, as in a multiply node"): dout * (y if name == "dx" else x),
    }


CHECKS = [
    LayerCheck(exercises.test_mul_layer_random, t("MulLayer on random inputs"), lambda x, y: x * y,
               grads=("dx", "dy"), exact=lambda x, y, dout: (dout * y, dout * x), mistakes=_mul_mistakes,
               subject="MulLayer", two_layers_hint=TWO_LAYERS),
    LayerCheck(exercises.test_add_layer_random, t("AddLayer on random inputs"), lambda x, y: x + y,
               grads=("dx", "dy"), exact=lambda x, y, dout: (dout + 0 * x, dout + 0 * y), mistakes=_add_mistakes,
               subject="AddLayer", two_layers_hint=TWO_LAYERS),
    FunctionCheck(exercises.test_shopping_random, t("the apple and orange graph on random prices"),
                  "buy_apples_and_oranges", ("apple", "apple_num", "orange", "orange_num", "tax"),
                  lambda a, an, o, on, tax: (a * an + o * on) * tax, result="price", builds_on=LAYERS),
    FunctionCheck(exercises.test_drinks_random, t("the drinks quiz graph on random prices"),
                  "drinks_total", ("water", "water_per_member", "juice", "juice_per_member", "members"),
                  lambda w, wn, j, jn, m: (w * wn + j * jn) * m, builds_on=LAYERS),
]
