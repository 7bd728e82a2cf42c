"""course.checks: what every test cell relies on."""
import warnings

import numpy as np
import pytest

from course.checks import CheckFailed, Checklist, checklist


def test_a_warning_from_correct_code_is_not_shown():
    """In a kernel a warning goes to stderr, and nbgrader scores a cell with stderr output as 0."""
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))  # the book's formula overflows in exp for x = -1000, and is right

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with checklist("sigmoid at -1000") as c:
            c.close("sigmoid(-1000)", 0.0, c.call("sigmoid", sigmoid, np.array(-1000.0)))
        with np.errstate(over="warn"):
            sigmoid(np.array(-1000.0))  # outside a check the warning is there
    assert [w.category for w in shown] == [RuntimeWarning]


def test_every_failure_is_reported_not_only_the_first():
    with pytest.raises(CheckFailed) as failure:
        with checklist("three numbers") as c:
            c.close("a", 2.0, 1.0)
            c.close("b", 3.0, 3.0)
            c.close("c", 6.0, 5.0)
    message = str(failure.value)
    assert "2 problem(s), 1 check(s) passed" in message and "a: expected 2" in message and "c: expected 6" in message


def test_student_results_are_plain_arrays_before_anything_is_compared():
    class Snoop:
        converted = False

        def __array__(self, dtype=None, copy=None):
            Snoop.converted = True
            return np.zeros(2)

    result = Checklist("snoop").call("backward", lambda: (Snoop(), [1, 2], {"k": 3}, None, "text"))
    assert Snoop.converted
    assert isinstance(result[0], np.ndarray) and isinstance(result[1][0], np.ndarray)
    assert result[2]["k"].dtype == float and result[3] is None and result[4] == "text"


def test_an_exception_in_student_code_stops_the_check_with_a_hint():
    def stub():
        raise NotImplementedError("replace this line with your code")

    with pytest.raises(CheckFailed, match="still has `raise NotImplementedError"):
        with checklist("stub") as c:
            c.call("MulLayer.forward", stub)
            c.expect(True, "never reached")
