"""Oracles shared by the relukit.torch tests (not a test module).

The NumPy API's results as tensors (``rk.<entry>(x)`` and ``rk.<entry>.derivative(x) *
g``), bit comparisons, ulp distances, and the bound within which relukit.torch's values
and gradients sit from ``torch.nn``'s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import relukit as rk

torch = pytest.importorskip("torch")  # (pytest imports this module for its doctests)

#: the parameter sets of every catalogue entry (tests/test_family.py's, and the entries
#: added since), the defaults first
PARAMS: dict[str, list[dict[str, Any]]] = {
    "relu": [{}],
    "leaky_relu": [{"negative_slope": 0.01}, {"negative_slope": 0.2}, {"negative_slope": 0.0},
                   {"negative_slope": -0.5}],
    "relu6": [{}],
    "hardtanh": [{"min_val": -1.0, "max_val": 1.0}, {"min_val": -0.5, "max_val": 2.0}],
    "hardsigmoid": [{}],
    "prelu": [{"weight": 0.25}, {"weight": 0.0}, {"weight": -0.5}],
    "threshold": [{"threshold": 0.0, "value": 0.0}, {"threshold": 1.0, "value": -5.0},
                  {"threshold": -0.5, "value": 2.0}],
    "rrelu": [{"lower": 0.125, "upper": 1 / 3}, {"lower": 0.0, "upper": 0.0},
              {"lower": 0.2, "upper": 0.5}],
    "elu": [{"alpha": 1.0}, {"alpha": 2.0}, {"alpha": 0.5}, {"alpha": -0.5}],
    "selu": [{}],
    "celu": [{"alpha": 1.0}, {"alpha": 2.0}],
    "gelu": [{"approximate": "none"}, {"approximate": "tanh"}],
    "silu": [{}],
    "mish": [{}],
    "softplus": [{"beta": 1.0, "threshold": 20.0}, {"beta": 2.0, "threshold": 10.0}],
    "hardswish": [{}],
    "squareplus": [{"b": 4.0}, {"b": 1.0}, {"b": 1e-6}],
    "sparse_plus": [{}],
    "squared_relu": [{}],
    "star_relu": [{}, {"scale": 1.5, "bias": -0.25}],
    "quick_gelu": [{}],
    "glu": [{}],
    "reglu": [{}],
    "geglu": [{"approximate": "none"}, {"approximate": "tanh"}],
    "swiglu": [{"beta": 1.0}, {"beta": 1.5}],
    "bilinear": [{}],
}  # fmt: skip

#: entries whose value and derivative are exact in every precision (selections and one
#: product by a parameter): torch.nn's kernels give the same numbers on finite inputs
EXACT = ("relu", "leaky_relu", "relu6", "hardtanh", "threshold", "prelu", "rrelu")

#: relukit.torch against torch.nn (float32 and float64, CPU), for the entries that are not
#: EXACT: |relukit - torch| <= TORCH_ULPS * eps * (|torch| + scale), with scale 1 for
#: values and |g| for gradients (g * f'(x) has an absolute rounding error of about
#: eps * |g| wherever the terms of f' cancel). relukit's results are within an ulp or two
#: of the exact ones (tests/test_accuracy.py); torch's tails are less accurate: its
#: float32 GELU's left tail is 10**7 ulp off relatively (absolutely below eps), its
#: tanh-GELU's gradient there 0 where it is -4e-15 (float64). Measured: at most 21 eps
#: (tanh-GELU's float64 gradient), 9 eps elsewhere; hardsigmoid's gradient, where torch
#: multiplies by 1/6 rounded to float32 even for float64, is checked on its own.
TORCH_ULPS = 32


def cases(entries: Any = None) -> list[tuple[str, dict[str, Any]]]:
    """``(name, params)`` for every parameter set of the given entries (default: all)."""
    names = [a.name for a in rk.catalogue()] if entries is None else entries
    return [(n, p) for n in names for p in PARAMS[n]]


def case_id(name: str, p: dict[str, Any]) -> str:
    return name + "".join(f"-{k}={v}" for k, v in p.items())


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def np_value(name: str, x: torch.Tensor, *args: Any, **p: Any) -> torch.Tensor:
    """``rk.<name>(x.numpy(), ...)`` as a tensor."""
    ins = [as_numpy(a) if isinstance(a, torch.Tensor) else a for a in (x, *args)]
    return torch.from_numpy(np.asarray(rk.get(name)(*ins, **p)).copy())


def np_grad(name: str, x: torch.Tensor, g: torch.Tensor, at_kink: Any = None, **p: Any) -> Any:
    """``rk.<name>.derivative(x.numpy()) * g`` as a tensor (NumPy multiplies in x's dtype),
    and the derivative (x's NaN) where ``x`` is NaN, whatever ``g`` is there."""
    xn = as_numpy(x)
    d = np.asarray(rk.get(name).derivative(xn, at_kink=at_kink, **p))
    with np.errstate(all="ignore"):
        return torch.from_numpy(np.where(np.isnan(xn), d, d * as_numpy(g)))


_INT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def bits(t: torch.Tensor) -> torch.Tensor:
    """The bits of a float tensor, as integers."""
    return t.detach().contiguous().view(_INT[t.element_size()])


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit: dtype, shape, signed zeros and NaN payloads."""
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(bits(a), bits(b))


def where_bits_differ(a: torch.Tensor, b: torch.Tensor, x: Any = None) -> str:
    """A readable description of the first elements that differ (assertion messages)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"{a.dtype}{tuple(a.shape)} != {b.dtype}{tuple(b.shape)}"
    bad = (bits(a) != bits(b)).reshape(-1).nonzero().reshape(-1)[:4].tolist()
    xs = None if x is None else x.detach().reshape(-1)
    return "; ".join(
        f"[{i}] x={None if xs is None else xs[i].item()!r} got {a.reshape(-1)[i].item()!r} "
        f"want {b.reshape(-1)[i].item()!r}"
        for i in bad
    )


def ulps(a: torch.Tensor, b: torch.Tensor) -> int:
    """The most ulps between ``a`` and ``b`` (NaN equal to NaN, -0.0 to +0.0; a NaN
    against a number counts as 2**62)."""
    a, b = a.detach(), b.detach()
    if (a.isnan() ^ b.isnan()).any():
        return 2**62
    mask = (1 << (8 * a.element_size() - 1)) - 1

    def key(t: torch.Tensor) -> torch.Tensor:  # the floats' order, as integers
        i = bits(t).to(torch.int64)
        return torch.where(i < 0, -(i & mask), i)

    d = torch.where(a.isnan(), 0, (key(a) - key(b)).abs())
    return int(d.max()) if d.numel() else 0


def close_to_torch(
    mine: torch.Tensor, theirs: torch.Tensor, scale: Any = 1.0, k: float = TORCH_ULPS
) -> torch.Tensor:
    """A bool tensor: ``|mine - theirs| <= k eps (|theirs| + scale)`` (NaN with NaN, the
    same infinities)."""
    eps = torch.finfo(theirs.dtype).eps
    a, b = mine.detach().double(), theirs.detach().double()
    s = scale.detach().double().abs() if isinstance(scale, torch.Tensor) else scale
    same = (a == b) | (a.isnan() & b.isnan())
    with np.errstate(all="ignore"):
        return same | ((a - b).abs() <= k * eps * (b.abs() + s))


def inf_limits(name: str, p: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """``(f(-inf), f'(-inf), f(+inf), f'(+inf))`` written from the mathematics, for the
    parameter sets where they are simple (None otherwise)."""
    inf = math.inf

    def slope(s: float) -> tuple[float, float, float, float]:  # x * s for x < 0
        return (-inf if s > 0 else (0.0 if s == 0 else inf), s, inf, 1.0)

    mean = (p.get("lower", 1 / 8) + p.get("upper", 1 / 3)) / 2
    scale = p.get("scale", 0.8944271909999159)
    table = {
        "relu": (0.0, 0.0, inf, 1.0),
        "leaky_relu": slope(p.get("negative_slope", 0.01)),
        "prelu": slope(p.get("weight", 0.25)),
        "rrelu": slope(mean),  # (evaluation: the mean slope)
        "star_relu": (p.get("bias", -0.4472135954999579), 0.0, inf, inf if scale > 0 else -inf),
        "relu6": (0.0, 0.0, 6.0, 0.0),
        "hardtanh": (p.get("min_val", -1.0), 0.0, p.get("max_val", 1.0), 0.0),
        "hardsigmoid": (0.0, 0.0, 1.0, 0.0),
        "elu": (-p.get("alpha", 1.0), 0.0, inf, 1.0),
        "celu": (-p.get("alpha", 1.0), 0.0, inf, 1.0),
        "selu": (-1.7580993408473766, 0.0, inf, 1.0507009873554805),
        "gelu": (0.0, 0.0, inf, 1.0),
        "silu": (0.0, 0.0, inf, 1.0),
        "quick_gelu": (0.0, 0.0, inf, 1.0),
        "mish": (0.0, 0.0, inf, 1.0),
        "softplus": (0.0, 0.0, inf, 1.0),
        "hardswish": (0.0, 0.0, inf, 1.0),
        "squareplus": (0.0, 0.0, inf, 1.0),
        "sparse_plus": (0.0, 0.0, inf, 1.0),
        "squared_relu": (0.0, 0.0, inf, inf),
        "threshold": (p.get("value", 0.0), 0.0, inf, 1.0),
    }
    return table.get(name)
