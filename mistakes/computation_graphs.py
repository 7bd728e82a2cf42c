"""Realistic wrong answers for Part 2 (computation graphs)."""
from mistakes import Mistake

_MUL = '''
class MulLayer:
    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout):
        {body}
'''

_ADD = '''
class AddLayer:
    def __init__(self):
        pass

    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        {body}
'''


def _mul(body):
    return {"mul_layer": _MUL.format(body=body)}


def _add(body):
    return {"add_layer": _ADD.format(body=body)}


# The shopping and drinks graphs are built from the student's MulLayer and AddLayer: a wrong layer loses them too.
GRAPHS = ["test_shopping_book_numbers", "test_shopping_random", "test_drinks_quiz", "test_drinks_random"]

MISTAKES = [
    Mistake("mul_not_swapped", "MulLayer.backward multiplies dout by each input's own value",
            _mul("return dout * self.x, dout * self.y"), ["test_mul_layer_random", "test_mul_layer_apple", *GRAPHS]),
    Mistake("mul_ignores_dout", "MulLayer.backward returns the local derivatives without dout",
            _mul("return self.y, self.x"), ["test_mul_layer_random", "test_mul_layer_apple", *GRAPHS]),
    Mistake("mul_passes_dout", "MulLayer.backward passes dout through like an add node",
            _mul("return dout, dout"), ["test_mul_layer_random", "test_mul_layer_apple", *GRAPHS]),
    Mistake("mul_returns_one_value", "MulLayer.backward returns only dx where the pair (dx, dy) belongs",
            _mul("return dout * self.y"), ["test_mul_layer_random", "test_mul_layer_apple", *GRAPHS]),
    Mistake("mul_class_state", "MulLayer keeps its inputs on the class, so all layers share them",
            {"mul_layer": '''
class MulLayer:
    x = None
    y = None

    def forward(self, x, y):
        MulLayer.x, MulLayer.y = x, y
        return x * y

    def backward(self, dout):
        return dout * MulLayer.y, dout * MulLayer.x
'''}, ["test_mul_layer_random", "test_mul_layer_apple", *GRAPHS]),
    Mistake("add_returns_ones", "AddLayer.backward returns (1, 1) instead of passing dout on",
            _add("return 1, 1"), ["test_add_layer_random", "test_add_layer_numbers", *GRAPHS]),
    Mistake("add_returns_one_value", "AddLayer.backward returns a single gradient",
            _add("return dout"), ["test_add_layer_random", "test_add_layer_numbers", *GRAPHS]),
    Mistake("shopping_hard_coded", "the apple/orange function returns the book's numbers",
            {"shopping_graph": '''
def buy_apples_and_oranges(apple, apple_num, orange, orange_num, tax):
    return 715.0000000000001, {"apple": 2.2, "apple_num": 110, "orange": 3.3, "orange_num": 165, "tax": 650}
'''}, ["test_shopping_random"]),
    Mistake("shopping_backward_without_tax", "the backward pass starts below the tax node with dout = 1",
            {"shopping_graph": '''
def buy_apples_and_oranges(apple, apple_num, orange, orange_num, tax):
    mul_apple_layer, mul_orange_layer = MulLayer(), MulLayer()
    add_apple_orange_layer, mul_tax_layer = AddLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    orange_price = mul_orange_layer.forward(orange, orange_num)
    all_price = add_apple_orange_layer.forward(apple_price, orange_price)
    price = mul_tax_layer.forward(all_price, tax)
    dall_price, dtax = mul_tax_layer.backward(1)
    dapple_price, dorange_price = add_apple_orange_layer.backward(1)
    dorange, dorange_num = mul_orange_layer.backward(dorange_price)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    return price, {"apple": dapple, "apple_num": dapple_num, "orange": dorange,
                   "orange_num": dorange_num, "tax": dtax}
'''}, ["test_shopping_random", "test_shopping_book_numbers"]),
    Mistake("drinks_hard_coded", "the quiz function returns the quiz's numbers whatever the inputs",
            {"drinks_graph": '''
def drinks_total(water, water_per_member, juice, juice_per_member, members):
    return 48000, {"water": 20, "water_per_member": 15000, "juice": 10, "juice_per_member": 18000, "members": 4800}
'''}, ["test_drinks_random"]),
    Mistake("drinks_members_gradient_wrong", "d total / d members computed as the total divided by the price of water",
            {"drinks_graph": '''
def drinks_total(water, water_per_member, juice, juice_per_member, members):
    per_member = water * water_per_member + juice * juice_per_member
    total = per_member * members
    return total, {"water": water_per_member * members, "water_per_member": water * members,
                   "juice": juice_per_member * members, "juice_per_member": juice * members,
                   "members": members}
'''}, ["test_drinks_random", "test_drinks_quiz"]),
]
