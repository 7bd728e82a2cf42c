"""The offline data sets of course/data.py."""
import subprocess
import sys

import numpy as np

from course.data import load_digits, one_hot


def test_digits_are_scikit_learns_split_by_the_seed():
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x, t = digits.data / 16.0, digits.target
    order = np.random.default_rng(0).permutation(len(x))
    expected = x[order[449:]], t[order[449:]], x[order[:449]], t[order[:449]]
    got = load_digits()
    assert [a.shape for a in got] == [(1348, 64), (1348,), (449, 64), (449,)]
    for mine, theirs in zip(got, expected):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    x_train, t_train, _, _ = load_digits(one_hot_labels=True)
    assert np.array_equal(t_train, one_hot(expected[1]))
    assert not np.array_equal(load_digits(seed=1)[0], got[0]), "another seed, another split"


def test_loading_the_digits_does_not_import_scikit_learn():
    """Each grading of a notebook that loads them would pay scikit-learn's import (over a second)."""
    code = "import sys; from course.data import load_digits; load_digits(); print('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
