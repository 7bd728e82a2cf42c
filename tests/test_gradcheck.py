"""course.gradcheck and course.diagnose on gradients known in closed form."""
import numpy as np
import pytest

from course.diagnose import diagnose
from course.gradcheck import compare, kinks_crossed, numerical_gradient, numerical_gradients, relative_error


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)])
def test_numerical_gradient_matches_analytic_ones(shape):
    x = np.random.default_rng(0).normal(size=shape)
    x = np.asarray(x, dtype=float)
    cases = [
        (lambda v: np.sum(v ** 2), lambda v: 2 * v),
        (lambda v: np.sum(np.sin(v) * 3), lambda v: 3 * np.cos(v)),
        (lambda v: np.log(np.sum(np.exp(v))), lambda v: np.exp(v) / np.exp(v).sum()),
    ]
    for f, df in cases:
        assert relative_error(df(x), numerical_gradient(f, x)) < 1e-7


def test_numerical_gradient_restores_every_entry_exactly():
    x = np.random.default_rng(1).normal(size=(4, 5)) * 1e3 + 0.1
    before = x.copy()
    numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    assert np.array_equal(x, before)


def test_numerical_gradient_on_a_non_contiguous_view_reads_through_a_closure():
    base = np.arange(24, dtype=float).reshape(4, 6) / 10
    view = base[:, ::2].T  # non-contiguous, transposed
    assert not view.flags.c_contiguous
    grad = numerical_gradient(lambda _: float(np.sum(base ** 2)), view)  # f ignores its argument, like the book's lambda
    assert np.allclose(grad, 2 * view, rtol=1e-8)


def test_numerical_gradient_refuses_integer_arrays():
    with pytest.raises(TypeError, match="float ndarray"):
        numerical_gradient(lambda v: v.sum(), np.arange(3))


def test_numerical_gradients_of_several_arrays():
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    da, db = numerical_gradients(lambda x, y: float(np.sum(x * y)), a, b)
    assert np.allclose(da, b) and np.allclose(db, a)


def test_relative_error_follows_the_cs231n_formula():
    assert relative_error([1.0], [1.0]) == 0
    assert relative_error([1.0], [3.0]) == pytest.approx(0.5)
    assert relative_error([0.0], [0.0]) == 0


def test_compare_accepts_a_correct_gradient_and_reports_the_error():
    g = np.random.default_rng(2).normal(size=(3, 3))
    result = compare("dW", g, g + 1e-12)
    assert result.ok and "correct" in result.message


@pytest.mark.parametrize("make_wrong,expected_words", [
    (lambda g: g.T, "transposed"),
    (lambda g: -g, "sign is flipped"),
    (lambda g: g * 0, "all zeros"),
    (lambda g: g * 4, "batch size 4 is missing"),
    (lambda g: g / 4, "mean instead of sum"),
    (lambda g: g * 2.5, "factor of 2.5"),
    (lambda g: np.stack([g] * 4), "not summed over the batch"),
    (lambda g: g.ravel(), "wrong shape"),
    (lambda g: None, "returned None"),
])
def test_compare_names_the_likely_mistake(make_wrong, expected_words):
    g = np.random.default_rng(3).normal(size=(3, 5)) if expected_words != "transposed" else \
        np.random.default_rng(3).normal(size=(3, 3))
    result = compare("dW", g, make_wrong(g), batch_size=4)
    assert not result.ok
    assert expected_words in result.message, result.message


def test_compare_reports_shape_and_worst_index():
    g = np.zeros((2, 3))
    wrong = g.copy()
    wrong[1, 2] = 5.0
    result = compare("db", g, wrong)
    assert "at (1, 2)" in result.message and "1 of 6 entries wrong" in result.message
    result = compare("dW", np.ones((2, 3)), np.ones((4, 3)))
    assert "expected shape (2, 3), got (4, 3)" in result.message


def test_compare_names_a_swapped_gradient_through_alternatives():
    dx, dy = np.array([1.0, 2.0]), np.array([5.0, -3.0])
    result = compare("dx", dx, dy, alternatives={"dx and dy swapped": dy})
    assert "dx and dy swapped" in result.message


def test_compare_skips_entries_next_to_a_kink():
    x = np.array([1.0, 5e-5, -2.0])
    expected = np.array([1.0, 0.5, 0.0])  # a numerical gradient straddling ReLU's kink gives 0.5
    actual = np.array([1.0, 1.0, 0.0])
    assert not compare("dx", expected, actual)
    skipped = compare("dx", expected, actual, skip=kinks_crossed(x))
    assert skipped.ok and "next to a kink" in skipped.message


def test_compare_rejects_nan_and_non_numbers():
    assert "nan" in compare("dx", np.ones(2), np.array([1.0, np.nan])).message
    assert "expected an array of numbers" in compare("dx", np.ones(2), object()).message


def test_diagnose_finds_nothing_for_unrelated_noise():
    rng = np.random.default_rng(4)
    assert diagnose(rng.normal(size=(3, 4)), rng.normal(size=(3, 4))) == ""
