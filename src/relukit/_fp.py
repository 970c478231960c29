"""Floating-point toolkit for the formulas: working precision, exact products, patches.

* :func:`widened` / :func:`widen`: float16/bfloat16 are computed in float32 and rounded
  back (PyTorch does the same); on the CPU (NumPy, Dask, torch CPU tensors) float32 is
  computed in float64 too, which makes the result correctly rounded in practice at a
  cost the CPU can afford. On GPUs (torch CUDA, CuPy) and in JAX float32 stays float32
  (GPU float64 can be 1/64 speed; JAX has no float64 unless x64 is enabled); the
  formulas are the stable ones, so the error there is a few ulp.
* :func:`two_prod_err` and friends: the rounding error of a product, exactly (Dekker's
  splitting, no FMA needed), for arguments formed in double-double.
* :func:`root_patch`: next to a zero of a derivative (the minimum of silu, mish, gelu)
  sums like ``Phi + x phi`` cancel whatever the formula; there the derivative is its
  Taylor polynomial at the zero (the tables in :mod:`relukit._tables`).
* ``where`` twice ("double where", :func:`clip`): the branch not taken is fed a harmless
  input, so autograd never sees ``0 * inf = nan`` from it.

>>> import numpy as np
>>> from relukit._fp import clip, sigmoid2
>>> clip(np, np.array([-5.0, 0.5, np.nan]), -1.0, 1.0)
array([-1. ,  0.5,  nan])
>>> [float(v) for v in sigmoid2(np, np.array(0.0))]
[0.5, 0.5]
"""

from __future__ import annotations

import math
from typing import Any, Literal

from relukit._namespaces import MATH, astype, kind
from relukit._tables import ROOT_WIDTH, ROOTS

__all__ = [
    "SPLIT_BITS",
    "Precision",
    "RootName",
    "clip",
    "half_split",
    "horner",
    "lim",
    "precision",
    "root_patch",
    "sigmoid2",
    "two_prod_err",
    "two_prod_err2",
    "two_square_err",
    "widen",
    "widened",
]

#: the two working precisions of the compensated formulas
Precision = Literal["float64", "float32"]
#: the derivatives with a zero patched by a Taylor polynomial (keys of ``_tables.ROOTS``)
RootName = Literal["silu", "mish", "gelu", "gelu_tanh"]
#: bits of a constant's leading half for exact products (Dekker): half the significand
SPLIT_BITS: dict[Precision, int] = {"float64": 26, "float32": 12}


def widen(xp: Any, x: Any) -> tuple[Any, Any]:
    """Return ``(x in the working dtype, dtype to round the result back to or None)``."""
    if xp is MATH:
        return x, None
    dt = x.dtype
    if dt == xp.float64:
        return x, None
    k = kind(xp)
    if k in ("numpy", "dask") or (k == "torch" and x.device.type == "cpu"):
        return astype(xp, x, xp.float64), dt
    if dt == xp.float32:
        return x, None
    return astype(xp, x, xp.float32), dt  # float16, bfloat16


def widened(fn: Any) -> Any:
    """Run ``fn(xp, x, **params)`` in the working dtype and round back (see :func:`widen`)."""

    def wrapped(xp: Any, x: Any, **params: Any) -> Any:
        xw, dt = widen(xp, x)
        r = fn(xp, xw, **params)
        return r if dt is None else astype(xp, r, dt)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapped


def clip(xp: Any, x: Any, lo: float, hi: float) -> Any:
    """Clamp with ``where`` (NaN passes, autograd sees 0 outside, no 0.5 at the ends)."""
    return xp.where(x > hi, hi, xp.where(x < lo, lo, x))


def lim(xp: Any, x: Any, r: Any, at_minus_inf: float, at_plus_inf: float | None = None) -> Any:
    """Put the limits at ±inf (the formulas give ``inf * 0 = nan`` there)."""
    r = xp.where(x == -math.inf, at_minus_inf, r)
    if at_plus_inf is not None:
        r = xp.where(x == math.inf, at_plus_inf, r)
    return r


def sigmoid2(xp: Any, z: Any) -> tuple[Any, Any]:
    """``(sigmoid(z), sigmoid(-z))``, both to full relative accuracy, never overflowing."""
    pos = z >= 0
    e = xp.exp(xp.where(pos, -z, z))  # exp(-|z|) <= 1; `where`, not abs: abs'(0) = 0
    other = e / (1 + e)  # sigmoid(-|z|), in (0, 1/2]
    one = 1 - other  # sigmoid(|z|): closer to correctly rounded than 1 / (1 + e)
    return xp.where(pos, one, other), xp.where(pos, other, one)


def precision(xp: Any, x: Any) -> Precision:
    """The precision the compensated formulas work in for ``x``."""
    if xp is MATH or x.dtype == xp.float64:
        return "float64"
    return "float32"


def half_split(c: float, bits: int) -> tuple[float, float]:
    """``c = hi + lo`` exactly, ``hi`` holding the leading ``bits`` bits."""
    m, e = math.frexp(c)
    hi = math.ldexp(math.floor(m * 2**bits), e - bits)
    return hi, c - hi


def two_prod_err(xp: Any, x: Any, p: Any, c: float, bits: int, split: float) -> Any:
    """The rounding error ``x * c - p`` of ``p = fl(x * c)``, exactly (Dekker, no FMA)."""
    ch, cl = half_split(c, bits)
    t = x * split
    xh = t - (t - x)
    xl = x - xh
    return ((xh * ch - p) + xh * cl + xl * ch) + xl * cl


def two_square_err(xp: Any, x: Any, p: Any, split: float) -> Any:
    """The rounding error ``x * x - p`` of ``p = fl(x * x)``, exactly."""
    t = x * split
    xh = t - (t - x)
    xl = x - xh
    return ((xh * xh - p) + 2 * (xh * xl)) + xl * xl


def two_prod_err2(xp: Any, a: Any, b: Any, p: Any, split: float) -> Any:
    """The rounding error ``a * b - p`` of ``p = fl(a * b)``, both operands split."""
    ta = a * split
    ah = ta - (ta - a)
    al = a - ah
    tb = b * split
    bh = tb - (tb - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def horner(u: Any, coeffs: tuple[float, ...]) -> Any:
    """``sum(c_k u^k for k = 1..n)`` (no constant term)."""
    p: Any = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        p = p * u + c
    return p * u


def root_patch(xp: Any, x: Any, d: Any, name: RootName) -> Any:
    """``d``, with the Taylor polynomial at the derivative's zero used next to it.

    Within :data:`~relukit._tables.ROOT_WIDTH` of the zero ``r`` the derivative is its
    Taylor polynomial in ``u = x - r``, formed exactly from ``r = r_hi + r_lo``.
    """
    r64, r32, coeffs = ROOTS[name]
    hi, lo = r64 if precision(xp, x) == "float64" else r32
    u = (x - hi) - lo  # x - hi is exact near the zero (Sterbenz)
    near = (u < ROOT_WIDTH) & (u > -ROOT_WIDTH)
    if kind(xp) == "numpy" and getattr(d, "ndim", 0) > 0:
        # NumPy: the polynomial on the few points that need it (d is our own temporary)
        d[near] = horner(u[near], coeffs)
        return d
    uc = clip(xp, u, -ROOT_WIDTH, ROOT_WIDTH)  # no overflow where it is not used
    return xp.where(near, horner(uc, coeffs), d)
