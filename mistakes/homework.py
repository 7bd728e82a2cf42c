"""Realistic wrong answers for the homework (the backward pass of a bigger graph, and the Value bonus).

Each mistake is the notebook's own solution cell with one realistic change, so the catalogue follows the
notebook: an edit that no longer applies fails loudly at import instead of testing stale code.
"""
from mistakes import Mistake, SolutionEdits

_EDITS = SolutionEdits("04-homework/homework.ipynb")
NOTEBOOK, SOLUTIONS, _edit = _EDITS.path, _EDITS.solutions, _EDITS.edit


GRAPH = ["test_graph_figure", "test_graph_inputs", "test_graph_nodes"]
# A wrong exp or 1/x layer: its own tests, the sigmoid piece and every gradient below it in the graph.
SIGMOID_NODE = ["test_sigmoid_piece", *GRAPH]
EXP = ["test_exp_layer_numbers", "test_exp_layer_random"]
RECIPROCAL = ["test_reciprocal_layer_numbers", "test_reciprocal_layer_random"]
SQUARE = ["test_square_layer_numbers", "test_square_layer_random"]
MAX = ["test_max_layer_numbers", "test_max_layer_random"]

SUM_H = "    dh = dh_from_q + dh_from_a              # h feeds q and a: the gradients add up\n"
SUM_W = "    dw = dw_from_a + dw_from_r              # w feeds a and r\n"
MAX_BACKWARD = "    dx, dy = max_h.backward(dh)             # only now is dh complete\n"
MUL_Q_BACKWARD = "    ds, dh_from_q = mul_q.backward(dq)\n"
RECIPROCAL_BACKWARD = "return -dout * self.out * self.out      # -1/x² = -out²"
TOPOLOGICAL_SORT = """        order, seen, stack = [], set(), [(self, False)]
        while stack:                    # depth-first search with an explicit stack, not recursion
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)      # after every Value it was computed from
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((p, False) for p in node._prev)
"""
RESET = """        for node in order:
            node.grad = 0.0             # start from zero: a second backward() gives the same numbers
"""

MISTAKES = [
    # The graph's backward pass
    Mistake("fan_out_overwrites_h", "the gradient of h from q is overwritten by the one from a instead of added",
            _edit("graph_backward", ("ds, dh_from_q = mul_q.backward(dq)", "ds, dh = mul_q.backward(dq)"),
                  ("dh_from_a, dw_from_a = mul_a.backward(da)", "dh, dw_from_a = mul_a.backward(da)"), (SUM_H, "")),
            [*GRAPH, "test_graph_fan_out"]),
    Mistake("fan_out_overwrites_w", "the gradient of w from r = w² is overwritten by the one from a",
            _edit("graph_backward", ("dw_from_r = square_r.backward(dr)", "dw = square_r.backward(dr)"),
                  ("dh_from_a, dw_from_a = mul_a.backward(da)", "dh_from_a, dw = mul_a.backward(da)"), (SUM_W, "")),
            ["test_graph_figure", "test_graph_inputs", "test_graph_fan_out"]),
    Mistake("depth_first_order", "q's branch is followed down to x and y before h's gradient is complete",
            _edit("graph_backward", (MUL_Q_BACKWARD, MUL_Q_BACKWARD + "    dx, dy = max_h.backward(dh_from_q)\n"),
                  (MAX_BACKWARD, "")),
            ["test_graph_figure", "test_graph_inputs", "test_graph_fan_out"]),
    # The node layers
    Mistake("exp_uses_input", "ExpLayer.backward multiplies dout by the input x instead of exp(x)",
            _edit("exp_layer", ("self.out = np.exp(x)", "self.x = x\n        self.out = np.exp(x)"),
                  ("return dout * self.out", "return dout * self.x")),
            [*EXP, *SIGMOID_NODE]),
    Mistake("exp_state_on_class", "ExpLayer keeps its output on the class, so two exp layers share it",
            _edit("exp_layer", ("self.out = np.exp(x)\n        return self.out",
                                "ExpLayer.out = np.exp(x)\n        return ExpLayer.out"),
                  ("return dout * self.out", "return dout * ExpLayer.out")),
            ["test_exp_layer_random"]),
    Mistake("reciprocal_output_for_input", "ReciprocalLayer.backward uses the output where the input belongs: "
            "-dout / out²", _edit("reciprocal_layer", (RECIPROCAL_BACKWARD, "return -dout / (self.out * self.out)")),
            [*RECIPROCAL, *SIGMOID_NODE]),
    Mistake("reciprocal_sign", "ReciprocalLayer.backward forgets the minus sign of -1/x²",
            _edit("reciprocal_layer", (RECIPROCAL_BACKWARD, "return dout * self.out * self.out")),
            [*RECIPROCAL, *SIGMOID_NODE]),
    Mistake("square_ignores_dout", "SquareLayer.backward returns the local derivative 2x without dout",
            _edit("square_layer", ("return dout * 2 * self.x", "return 2 * self.x")),
            SQUARE),
    Mistake("square_without_two", "SquareLayer.backward forgets the factor 2",
            _edit("square_layer", ("return dout * 2 * self.x", "return dout * self.x")),
            [*SQUARE, "test_graph_figure", "test_graph_inputs", "test_graph_fan_out"]),
    Mistake("square_difference_quotient", "SquareLayer.backward is a difference quotient ((x + h)² − (x − h)²) / 2h "
            "times dout, not the local derivative 2x", _edit("square_layer", (
                "return dout * 2 * self.x", "return dout * ((self.x + 1e-4) ** 2 - (self.x - 1e-4) ** 2) / 2e-4")),
            ["test_square_layer_random"]),
    Mistake("max_to_both", "MaxLayer.backward sends dout to both inputs",
            _edit("max_layer", ("return (dout, 0.0) if self.x_wins else (0.0, dout)", "return dout, dout")),
            [*MAX, "test_graph_figure", "test_graph_inputs"]),
    # The notebook's rule for a tie (dout goes to x) is tested: the graph never ties, so only the layer's test.
    Mistake("max_tie_to_y", "MaxLayer compares with > instead of >=, so a tie sends dout to y",
            _edit("max_layer", ("self.x_wins = x >= y", "self.x_wins = x > y")), ["test_max_layer_random"]),
    Mistake("max_hard_coded", "MaxLayer.backward returns the visible test's numbers",
            _edit("max_layer", ("return (dout, 0.0) if self.x_wins else (0.0, dout)",
                                "return {2.0: (0.0, 2.0), 1.5: (1.5, 0.0)}[dout]")),
            ["test_max_layer_random", "test_graph_forward", *SIGMOID_NODE, "test_graph_fan_out"]),
    # A pass that returns L but no gradients: the fan-out test must not take zeros for gradients that "add up".
    Mistake("graph_zero_gradients", "graph_forward_backward returns L and zero gradients (dL/dL = 1) without a "
            "backward pass", _edit("graph_backward", ("    dL = 1.0\n", "    dL = 1.0\n    return L, {**dict.fromkeys("
                                                      "'xywhanedsqr', 0.0), 'L': dL}\n")),
            [*GRAPH, "test_graph_fan_out"]),
    Mistake("graph_hard_coded", "graph_forward_backward returns the visible test's L and gradients that only satisfy "
            "the visible tests", _edit("graph_backward", ("    dL = 1.0\n", "    dL = 1.0\n    return 2 / (1 + np.exp("
                                                         "-1.5)) + 0.75 ** 2, {**dict.fromkeys('xywhanedsqr', 0.0), "
                                                         "'L': dL}\n")),
            [*GRAPH, "test_graph_fan_out"]),
    # The bonus Value class
    Mistake("value_recursive_sort", "Value.backward sorts the graph with a recursive function (as micrograd does)",
            _edit("value_class", (TOPOLOGICAL_SORT, """        order, seen = [], set()

        def visit(node):
            if node not in seen:
                seen.add(node)
                for p in node._prev:
                    visit(p)
                order.append(node)
        visit(self)
""")), ["test_value_chain"]),
    Mistake("value_backward_accumulates", "Value.backward does not reset the gradients, so a second call adds "
            "onto the first", _edit("value_class", (RESET, "")), ["test_value_twice"]),
    Mistake("value_grad_assigned", "Value's + and * set the gradients with = instead of adding with +=",
            _edit("value_class", ("            self.grad += out.grad\n            other.grad += out.grad\n",
                                  "            self.grad = out.grad\n            other.grad = out.grad\n"),
                  ("            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad\n",
                   "            self.grad = other.data * out.grad\n            other.grad = self.data * out.grad\n")),
            ["test_value_basics", "test_value_graph"]),
    Mistake("value_max_tie_to_other", "Value.max compares with > instead of >=, so a tie sends the gradient to other",
            _edit("value_class", ("winner = self if self.data >= other.data else other",
                                  "winner = self if self.data > other.data else other")), ["test_value_graph"]),
    Mistake("value_breadth_first", "Value.backward visits the nodes breadth-first from the output, which is not "
            "a topological order", _edit("value_class", (TOPOLOGICAL_SORT, """        order, seen = [self], {self}
        for node in order:              # breadth-first from the output
            for p in node._prev:
                if p not in seen:
                    seen.add(p)
                    order.append(p)
        order.reverse()
""")), ["test_value_graph"]),
]
