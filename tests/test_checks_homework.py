"""The homework's checks beyond the catalogue (tests/test_catalogue.py runs the notebook with every
mistake): the untouched release fails every test cell, the messages name the mistake, the checks' reference
gradients are right, and the Value bonus reproduces the hand-written backward pass.
"""
import contextlib
import io
import math
import re
import sys
import time

import nbformat
import numpy as np
import pytest

from course.checks import homework as checks
from tests.mistakes.homework import MISTAKES, NOTEBOOK, SOLUTIONS
from tests.notebook_runner import run_notebook, run_once

CELLS = nbformat.read(NOTEBOOK, as_version=4).cells
SOLUTION_BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n?", re.DOTALL | re.MULTILINE)


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


TESTS = {_meta(c)["grade_id"]: _meta(c)["points"] for c in CELLS if _meta(c).get("grade")}


def released(source):
    """An answer cell as students receive it: each solution block replaced by a stub that raises."""
    return SOLUTION_BLOCK.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()\n",
                              source)


# What the feedback must say for some mistakes: (test grade_id, words in its message).
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
    "max_to_both": ("test_graph_inputs", "max sent its upstream gradient to both inputs"),
    "value_recursive_sort": ("test_value_chain", "RecursionError"),
    "value_backward_accumulates": ("test_value_twice", "reset every .grad"),
    "value_grad_assigned": ("test_value_graph", "add both, don't overwrite"),
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
    message = run_once(NOTEBOOK, mistake.cells)[cell]
    assert message and words.lower() in message.lower(), message


def test_points_are_split_node_by_node():
    graph = {g: p for g, p in TESTS.items() if g.startswith("test_graph") or g == "test_sigmoid_piece"}
    assert len(graph) == 6 and sum(graph.values()) == 11
    assert sum(TESTS.values()) == 28


def test_numerical_gradients_match_the_calculus():
    """The checks' reference: L = h σ(hw) + w² with h = max(x, y), differentiated by hand."""
    for inputs in [checks.FIGURE] + checks._cases(1):
        x, y, w = (inputs[n] for n in checks.INPUTS)
        h = max(x, y)
        s = 1 / (1 + math.exp(-h * w))
        dh = s + h * w * s * (1 - s)
        expected = {"x": dh if x >= y else 0.0, "y": 0.0 if x >= y else dh, "w": h * h * s * (1 - s) + 2 * w,
                    "h": dh, "s": h, "a": h * s * (1 - s)}
        grads = checks.expected_gradients(inputs)
        for name, value in expected.items():
            assert grads[name] == pytest.approx(value, rel=1e-7, abs=1e-9), name


def test_random_cases_cover_both_winners_and_signs():
    cases = checks._cases(5100)
    assert {c["x"] > c["y"] for c in cases} == {True, False}
    assert {c["w"] > 0 for c in cases} == {True, False}
    assert min(abs(c["x"] - c["y"]) for c in cases) >= 0.3


def test_first_wrong_node_is_reported_with_the_inherited_ones():
    def wrong_at_e(x, y, w):
        inputs = {"x": x, "y": y, "w": w}
        grads = checks.expected_gradients(inputs)
        for name in ("e", "n", "a"):        # a sign error at e, inherited further down
            grads[name] = -grads[name]
        return checks.forward(inputs)["L"], grads

    with pytest.raises(AssertionError) as failure:
        checks.graph_at_figure(wrong_at_e)
    message = str(failure.value)
    assert "wrong dL/de, dL/dn, dL/da\n" in message
    assert "first wrong node in backward order is e" in message
    assert "likely mistake: the sign is flipped" in message


def test_missing_node_is_named():
    def only_inputs(x, y, w):
        grads = checks.expected_gradients({"x": x, "y": y, "w": w})
        return 0.0, {n: grads[n] for n in checks.INPUTS}

    with pytest.raises(AssertionError, match="no entry for h, a, n"):
        checks.graph_node_gradients(only_inputs)
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(AssertionError, match="L at"):
        checks.graph_input_gradients(only_inputs)      # right gradients, wrong L


def test_chain_check_is_fast_and_restores_the_recursion_limit():
    namespace = {"np": np}
    exec(SOLUTIONS["value_class"], namespace)
    limit = sys.getrecursionlimit()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        checks.value_chain(namespace["Value"])
    assert time.perf_counter() - start < 2.0
    assert sys.getrecursionlimit() == limit


def test_value_reproduces_the_hand_written_pass():
    namespace = run_once(NOTEBOOK).namespace
    for inputs in [checks.FIGURE] + checks._cases(7):
        _, by_hand = namespace["graph_forward_backward"](*(inputs[n] for n in checks.INPUTS))
        nodes = checks._value_graph(namespace["Value"], inputs)
        nodes["L"].backward()
        for name in checks.NAMES:
            assert nodes[name].grad == pytest.approx(by_hand[name], rel=1e-12, abs=1e-12), name
