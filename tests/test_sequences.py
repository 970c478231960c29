"""Python sequences as input: a ``range`` is accepted as NumPy accepts it.

Oracle: NumPy's own ufuncs on ``np.asarray(range(...))`` and the formulas written out.
"""

from __future__ import annotations

import numpy as np
import pytest

import relukit as rk


@pytest.mark.parametrize("r", [range(-2, 3), range(5, -6, -2), range(0)])
def test_range_like_numpy(r: range) -> None:
    """``rk.relu(range(-2, 3))`` was refused; ``np.maximum(range(-2, 3), 0)`` works."""
    got = rk.relu(r)
    expected = np.maximum(r, 0)
    assert type(got) is np.ndarray and got.dtype == expected.dtype  # integer kept
    np.testing.assert_array_equal(got, expected)
    lk = rk.leaky_relu(r, negative_slope=0.5)
    np.testing.assert_array_equal(lk, [v if v > 0 else 0.5 * v for v in r])
    d = rk.relu.derivative(r, at_kink=1.0)
    np.testing.assert_array_equal(d, [1.0 if v >= 0 else 0.0 for v in r])
    v, d2 = rk.relu.value_and_derivative(r)
    np.testing.assert_array_equal(v, expected)
    assert d2.dtype == np.float64


def test_range_with_out() -> None:
    y = np.empty(5, dtype=np.int64)
    assert rk.relu(range(-2, 3), out=y) is y
    assert y.tolist() == [0, 0, 0, 1, 2]
