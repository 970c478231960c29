"""relukit.torch's gated units split along ``dim``: an out-of-range ``dim`` is torch's
``IndexError`` (the oracle: ``torch.nn.functional.glu``) with the NumPy API's wording,
naming ``dim``, its value and the accepted range."""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import relukit as rk  # noqa: E402
import relukit.torch as rt  # noqa: E402

pytestmark = pytest.mark.torch

SHAPES = [(4,), (2, 4), (2, 3, 4)]


def _bad_dims(ndim: int) -> list[int]:
    return [ndim, ndim + 2, -ndim - 1, -ndim - 5]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ["glu", "swiglu", "geglu", "reglu", "bilinear"])
def test_out_of_range_dim_is_a_clear_index_error(name, shape):
    x = torch.randn(*shape)
    n = len(shape)
    for dim in _bad_dims(n):
        with pytest.raises(IndexError):  # torch's own type
            F.glu(x, dim=dim)
        want = (
            f"relukit.torch.{name}: dim={dim} is out of range for an input with {n} "
            f"dimension(s) (expected to be in range of [{-n}, {n - 1}])"
        )
        with pytest.raises(IndexError, match=re.escape(want)):
            getattr(rt, name)(x, dim=dim)


def test_the_reported_case():
    with pytest.raises(IndexError, match=r"dim=3 .* \(expected to be in range of \[-2, 1\]\)"):
        rt.glu(torch.randn(2, 4), dim=3)


def test_the_module_form_too():
    with pytest.raises(IndexError, match=r"relukit\.torch\.glu: dim=2 is out of range"):
        rt.GLU(dim=2)(torch.randn(2, 4))


def test_the_numpy_api_says_the_same():
    with pytest.raises(ValueError, match=r"glu: dim=3 is out of range for an input with 2 "):
        rk.glu(np.zeros((2, 4)), dim=3)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_every_dim_in_range_still_splits_as_torch(shape):
    x = torch.randn(*shape, dtype=torch.float64) + 0.5
    n = x.dim()
    for dim in range(-n, n):
        if x.shape[dim] % 2:
            continue
        torch.testing.assert_close(rt.glu(x, dim=dim), F.glu(x, dim=dim))
