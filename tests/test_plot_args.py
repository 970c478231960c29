"""rk.plot's arguments as a user passes them: bounds, misnamed keywords, figure content.

The command line's side (``relukit plot``) is in tests/test_cli.py.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import relukit as rk


@pytest.mark.parametrize("num", [1, 100_001, 10**8])
def test_num_is_bounded(num: int) -> None:
    before = plt.get_fignums()
    with pytest.raises(ValueError) as info:
        rk.plot("relu", num=num)
    assert str(info.value) == (
        f"plot: num must be an integer >= 2 and at most 100000 (points per curve), got {num!r}"
    )
    assert plt.get_fignums() == before  # no figure left open


def test_num_at_the_bound_draws() -> None:
    fig = rk.plot("relu", num=100_000)
    line = fig.axes[0].lines[0]
    assert len(line.get_xdata()) >= 100_000
    plt.close(fig)
