"""The homework's checks beyond the catalogue (tests/test_catalogue.py runs the notebook with every
mistake): the untouched release fails every test cell, the judge's messages name the mistake where the
evidence supports it and nothing where it does not, its reference gradients are right, and the Value bonus
reproduces the hand-written backward pass.
"""
import math
import re
import sys

import nbformat
import pytest

from course.checks import homework as exercises
from course.checks import record
from course.judge import homework as truth
from course.judge.engine import judge
from mistakes.homework import MISTAKES, NOTEBOOK, SOLUTIONS
from tests.notebook_runner import run_notebook, run_once

CELLS = nbformat.read(NOTEBOOK, as_version=4).cells
SOLUTION_BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n?", re.DOTALL | re.MULTILINE)


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


TESTS = {_meta(c)["grade_id"]: _meta(c)["points"] for c in CELLS if _meta(c).get("grade")}
HIDDEN = {_meta(c)["grade_id"] for c in CELLS if _meta(c).get("grade") and "### BEGIN HIDDEN TESTS" in c.source}


def released(source):
    """An answer cell as students receive it: each solution block replaced by a stub that raises."""
    return SOLUTION_BLOCK.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()\n",
                              source)


def _judged(exercise, subject):
    """The judge's verdict on what ``exercise`` recorded of ``subject``."""
    with record.capture() as bundles:
        exercise(subject)
    return judge(exercise.test, [b[record.MIME] for b in bundles])


def _solution(grade_id, name):
    namespace = {"np": __import__("numpy")}
    exec(SOLUTIONS[grade_id], namespace)
    return namespace[name]


def _true_pass(x, y, w):
    inputs = {"x": x, "y": y, "w": w}
    return truth.forward(inputs)["L"], truth.expected_gradients(inputs)


# What the feedback must say for each mistake: (test grade_id, words in its message).
HINTS = {
    "fan_out_overwrites_h": ("test_graph_nodes", "first wrong node in backward order is h"),
    "fan_out_overwrites_w": ("test_graph_inputs", "only the gradient from a = h × w"),
    "depth_first_order": ("test_graph_fan_out", "(backward order)"),
    "exp_uses_input": ("test_graph_nodes", "exp's backward used its input n instead of its output"),
    "exp_state_on_class": ("test_exp_layer_random", "keep what backward needs on self"),
    "reciprocal_output_for_input": ("test_graph_nodes", "first wrong node in backward order is d"),
    "reciprocal_sign": ("test_reciprocal_layer_random", "the minus sign of −1/x² is missing"),
    "square_ignores_dout": ("test_square_layer_random", "dout is ignored"),
    "square_without_two": ("test_graph_inputs", "the square's backward forgot the factor 2"),
    "square_difference_quotient": ("test_square_layer_random", "not a difference quotient"),
    "max_to_both": ("test_graph_inputs", "max sent its upstream gradient to both inputs"),
    "max_tie_to_y": ("test_max_layer_random", "at a tie dout goes to x"),
    "max_hard_coded": ("test_max_layer_random", "raised KeyError"),
    "graph_zero_gradients": ("test_graph_fan_out", "the backward pass starts with dL/dL = 1"),
    "graph_hard_coded": ("test_graph_inputs", "L at"),
    "value_recursive_sort": ("test_value_chain", "RecursionError"),
    "value_backward_accumulates": ("test_value_twice", "reset every .grad"),
    "value_grad_assigned": ("test_value_graph", "add both, don't overwrite"),
    "value_max_tie_to_other": ("test_value_graph", "a tie counts as self being larger"),
    "value_breadth_first": ("test_value_graph", "x.grad"),
}


def test_untouched_release_gets_nothing():
    stubs = {_meta(c)["grade_id"]: released(c.source) for c in CELLS if _meta(c).get("solution")}
    assert set(stubs) == set(SOLUTIONS) and all("NotImplementedError" in code for code in stubs.values())
    assert set(run_notebook(NOTEBOOK, stubs).failed) == set(TESTS)


def test_every_mistake_has_a_message_to_check():
    assert set(HINTS) == {m.name for m in MISTAKES}


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_message_names_the_mistake(mistake):
    cell, words = HINTS[mistake.name]
    message = run_once(NOTEBOOK, mistake.cells).failed[cell]
    assert words.lower() in message.lower(), message
    assert "constant factor" not in message, message  # between single numbers a factor tells nothing


def test_points_sit_in_the_hidden_tests_and_the_graph_is_split_node_by_node():
    assert {g for g, p in TESTS.items() if p} == HIDDEN
    graph = {g: p for g, p in TESTS.items() if g.startswith("test_graph") or g == "test_sigmoid_piece"}
    assert max(graph.values()) < sum(graph.values()) / 2, "partial credit, node by node"


def _tests_after(answer):
    """The test cells between the answer cell ``answer`` and the next answer cell."""
    tests, current = [], None
    for cell in CELLS:
        meta = _meta(cell)
        current = meta["grade_id"] if meta.get("solution") else current
        if meta.get("grade") and not meta.get("solution") and current == answer:
            tests.append(meta["grade_id"])
    return tests


@pytest.mark.parametrize("mistake", [m for m in MISTAKES if m.name.endswith("_hard_coded")], ids=lambda m: m.name)
def test_hard_coding_the_visible_tests_numbers_earns_nothing(mistake):
    (answer,) = mistake.cells
    failed = run_once(NOTEBOOK, mistake.cells).failed
    passing = [cell for cell in _tests_after(answer) if cell not in failed]
    assert passing and sum(TESTS[cell] for cell in passing) == 0, passing   # its visible tests pass, for 0 points


def test_numerical_gradients_match_the_calculus():
    """The judge's reference: L = h σ(hw) + w² with h = max(x, y), differentiated by hand."""
    for x, y, w in [exercises.FIGURE] + exercises.graph_cases(1):
        h = max(x, y)
        s = 1 / (1 + math.exp(-h * w))
        dh = s + h * w * s * (1 - s)
        expected = {"x": dh if x >= y else 0.0, "y": 0.0 if x >= y else dh, "w": h * h * s * (1 - s) + 2 * w,
                    "h": dh, "s": h, "a": h * s * (1 - s)}
        grads = truth.expected_gradients({"x": x, "y": y, "w": w})
        for name, value in expected.items():
            assert grads[name] == pytest.approx(value, rel=1e-7, abs=1e-9), name


def test_random_cases_cover_both_winners_and_signs_and_the_max_layer_a_tie():
    cases = exercises.graph_cases(5100)
    assert {x > y for x, y, _ in cases} == {True, False}
    assert {w > 0 for _, _, w in cases} == {True, False}
    assert min(abs(x - y) for x, y, _ in cases) >= 0.3
    assert sum(case.inputs[0] == case.inputs[1] for case in exercises.max_cases(5700)) == 1


def test_every_expression_has_its_truth():
    assert set(truth.EXPRESSION_TRUTH) == set(exercises.EXPRESSIONS) | {exercises.TIE}


def test_first_wrong_node_is_reported_with_the_inherited_ones():
    def wrong_at_e(x, y, w):
        L, grads = _true_pass(x, y, w)
        for name in ("e", "n", "a"):        # a sign error at e, inherited further down
            grads[name] = -grads[name]
        return L, grads

    verdict = _judged(exercises.test_graph_figure, wrong_at_e)
    assert not verdict.ok and "wrong dL/de, dL/dn, dL/da\n" in verdict.message
    assert "first wrong node in backward order is e" in verdict.message
    assert "likely mistake: the sign is flipped" in verdict.message
    assert verdict.mistakes == ("the sign is flipped",)
    assert _judged(exercises.test_graph_figure, _true_pass).ok


def test_a_wrong_node_with_no_known_mistake_gets_a_hint_not_a_diagnosis():
    def off_at_s(x, y, w):
        L, grads = _true_pass(x, y, w)
        return L, {**grads, "s": grads["s"] * (1.3 + x * x)}   # no pattern: a different factor at each input

    verdict = _judged(exercises.test_graph_nodes, off_at_s)
    assert "first wrong node in backward order is s" in verdict.message
    assert "hint: dL/dq is right, so look at the backward of q = s × h" in verdict.message
    assert "likely mistake" not in verdict.message and verdict.mistakes == ()
    assert "the same at 5 more random input(s): first wrong node s" in verdict.message


def test_missing_node_is_named_and_a_wrong_L_is_caught():
    def only_inputs(x, y, w):
        _, grads = _true_pass(x, y, w)
        return 0.0, {n: grads[n] for n in exercises.INPUTS}

    assert "no entry for h, a, n" in _judged(exercises.test_graph_nodes, only_inputs).message
    verdict = _judged(exercises.test_graph_inputs, only_inputs)      # right gradients, wrong L
    assert not verdict.ok and "L at (x, y, w)" in verdict.message


def test_a_graph_test_whose_layer_failed_says_so_first():
    run = run_once(NOTEBOOK, {m.name: m for m in MISTAKES}["max_to_both"].cells)
    assert run.verdicts["test_graph_inputs"].depends_on == ("test_max_layer_random",)
    assert run.failed["test_graph_inputs"].startswith("`graph_forward_backward` uses your `MaxLayer`")


def test_a_tie_is_judged_by_the_notebook_rule():
    MaxLayer = _solution("max_layer", "MaxLayer")
    assert _judged(exercises.test_max_layer_random, MaxLayer).ok

    class SplitsTies(MaxLayer):      # what a numerical gradient would give at a tie
        def backward(self, dout):
            return (dout / 2, dout / 2) if self.tie else super().backward(dout)

        def forward(self, x, y):
            self.tie = x == y
            return super().forward(x, y)

    verdict = _judged(exercises.test_max_layer_random, SplitsTies)
    assert not verdict.ok and "a tie" in verdict.message and "at a tie dout goes to x" not in verdict.message


def test_the_chain_check_does_not_recurse_and_gives_the_recursion_limit_back():
    Value = _solution("value_class", "Value")
    limit = sys.getrecursionlimit()
    frames = len(__import__("inspect").stack(0))
    sys.setrecursionlimit(frames + 60)   # far below the chain's 10,000 nodes: only a loop gets through
    try:
        verdict = _judged(exercises.test_value_chain, Value)
        assert sys.getrecursionlimit() == frames + 60
    finally:
        sys.setrecursionlimit(limit)
    assert verdict.ok, verdict.message

    recursive = {m.name: m for m in MISTAKES}["value_recursive_sort"].cells["value_class"]
    namespace = {"np": __import__("numpy")}
    exec(recursive, namespace)
    verdict = _judged(exercises.test_value_chain, namespace["Value"])
    assert "raised RecursionError" in verdict.message and sys.getrecursionlimit() == limit


def test_value_reproduces_the_hand_written_pass():
    namespace = run_once(NOTEBOOK).namespace
    for args in [exercises.FIGURE] + exercises.graph_cases(7):
        _, by_hand = namespace["graph_forward_backward"](*args)
        nodes = exercises.value_graph(namespace["Value"], *args)
        nodes[-1].backward()
        for name, node in zip(exercises.NAMES, nodes):
            assert node.grad == pytest.approx(by_hand[name], rel=1e-12, abs=1e-12), name
