"""The Gaussian pieces of gelu, to full accuracy in the tails.

``gelu(x) = x Phi(x)`` with ``2 Phi(x) = erfc(-x / sqrt 2)``. In the left tail
``erfc(z) ~ exp(-z^2)`` multiplies the relative error of its argument by ``2 z^2``: the
argument is formed in double-double (:mod:`relukit._fp`) and its rounding fed back, and
far left the result is assembled as ``((A corr) h) h`` with ``h = exp(-z^2 / 2)`` so
that it is rounded once even when subnormal. The tanh form is treated the same way.

>>> import numpy as np
>>> from relukit._gauss import erfc
>>> float(erfc(np, np.array(27.0)))  # subnormal: SciPy's erfc alone gives 0.0
5.23705e-319
"""

from __future__ import annotations

from typing import Any

from relukit import _namespaces
from relukit._fp import (
    SPLIT_BITS,
    clip,
    precision,
    sigmoid2,
    two_prod_err,
    two_prod_err2,
    two_square_err,
)
from relukit._namespaces import kind
from relukit._optional import scipy_special
from relukit._tables import GELU_TANH_C, INV_SQRT_2PI, SQRT1_2, TWO_OVER_SQRTPI

__all__ = [
    "GELU_FAR",
    "GELU_LIM",
    "GELU_TANH_FAR",
    "erfc",
    "gelu_far",
    "gelu_tanh_far",
    "gelu_tanh_parts",
    "numpy_erfc",
    "phi",
    "two_cdf",
]

GELU_LIM = 40.0  # |x| beyond which gelu(x) is x or -0.0 and gelu'(x) is 1 or 0 (float64)
GELU_FAR = -1.0  # below: erfc(z) = exp(-z^2) erfcx(z), with exp(-z^2) = h * h
_ERFCX_FROM = 2.0  # NumPy float64: erfc(z) = exp(-z^2) erfcx(z) from here on
_EXP_NORMAL_BELOW = 700.0  # exp(-p) is a normal float64 for p below this
#: tanh form: below this 2u, sigmoid(2u) = e^(2u) to the last bit (and e^(2u) is tiny)
GELU_TANH_FAR = -600.0


def numpy_erfc(z: Any) -> Any:
    """``erfc`` of a NumPy array, accurate in the far tail.

    SciPy's erfc rounds z^2 inside exp(-z^2) (hundreds of ulp in the float64 tail) and
    flushes to 0 once exp(-z^2) < exp(-709) although erfc(z) is subnormal up to z = 27.2:
    for z > 2 this uses erfc(z) = exp(-z^2) erfcx(z) with z^2 formed exactly instead.
    """
    import numpy as np

    special = scipy_special()
    sp_erfc, sp_erfcx = special.erfc, special.erfcx

    if z.dtype != np.float64:
        return sp_erfc(z)
    with np.errstate(all="ignore"):
        zt = np.where(z > _ERFCX_FROM, z, _ERFCX_FROM)
        p = zt * zt
        e = two_square_err(np, zt, p, SQRT1_2["float64"][2])
        g = np.exp(-p)
        g = g - g * e
        return np.where(z > _ERFCX_FROM, g * sp_erfcx(zt), sp_erfc(z))


def erfc(xp: Any, z: Any) -> Any:
    """``erfc`` for the namespace ``xp``: :func:`numpy_erfc` for NumPy and Dask."""
    k = kind(xp)
    if k == "numpy":
        return numpy_erfc(z)
    if k == "dask":
        return z.map_blocks(numpy_erfc, dtype=z.dtype)
    return _namespaces.erfc(xp, z)


def two_cdf(xp: Any, x: Any) -> Any:
    """``2 Phi(x) = erfc(-x / sqrt 2)`` with the rounding of ``x / sqrt 2`` compensated.

    The product ``x * (1/sqrt 2)`` is formed exactly (Dekker) and its error fed back
    through the first Taylor term ``erfc'(z) = -2/sqrt(pi) exp(-z^2)``. ``x`` must be
    clipped to |x| <= 40 (no overflow in the split).
    """
    prec = precision(xp, x)
    c, rest, split = SQRT1_2[prec]
    p = x * c
    err = two_prod_err(xp, x, p, c, SPLIT_BITS[prec], split) + x * rest  # x/sqrt2 = p + err
    z = -p  # erfc's argument, the true one being z - err
    return erfc(xp, z) + err * (TWO_OVER_SQRTPI * xp.exp(-(z * z)))


def phi(xp: Any, x: Any) -> Any:
    """The normal density ``exp(-x^2/2) / sqrt(2 pi)`` with ``x^2`` formed exactly."""
    split = SQRT1_2[precision(xp, x)][2]
    p = x * x
    e = two_square_err(xp, x, p, split)
    g = xp.exp(-0.5 * p)
    return (g - g * (0.5 * e)) * INV_SQRT_2PI


def gelu_far(xp: Any, xc: Any, derivative: bool) -> Any:
    """gelu (or gelu') for x < -1 as ``((A corr) h) h``, or ``None`` without erfcx.

    With z = -x/sqrt 2 (formed exactly as in :func:`two_cdf`), erfc(z) = exp(-z^2)
    erfcx(z) and phi(x) = exp(-z^2)/sqrt(2 pi): both share exp(-z^2), formed as h * h with
    h = exp(-z^2/2) normal (z^2 in double-double, its low part in ``corr``), so the
    result is rounded once, even when it is subnormal.
    """
    prec = precision(xp, xc)
    c, rest, split = SQRT1_2[prec]
    xf = xp.where(xc < GELU_FAR, xc, GELU_FAR)
    p = xf * c
    err = two_prod_err(xp, xf, p, c, SPLIT_BITS[prec], split) + xf * rest  # x/sqrt2 = p + err
    z = -p  # the true argument is z - err
    ex = _namespaces.erfcx(xp, z)
    if ex is None:
        return None
    pz = z * z
    ez = two_square_err(xp, z, pz, split)
    corr = 1 + (2 * z * err - ez)  # exp(-(z - err)^2) = exp(-pz) corr
    h = xp.exp(-0.5 * pz)
    a = (0.5 * ex + xf * INV_SQRT_2PI) if derivative else (0.5 * xf) * ex
    # exp(-pz) directly (one rounding less) unless the result would be subnormal
    return xp.where(pz < _EXP_NORMAL_BELOW, (a * corr) * xp.exp(-pz), ((a * corr) * h) * h)


def gelu_tanh_parts(xp: Any, x: Any) -> tuple[Any, ...]:
    """``(xc, sigmoid(2u), sigmoid(-2u), w, ew)`` with u = sqrt(2/pi) (x + 0.044715 x^3).

    In the tails sigmoid(2u) ~ exp(2u) multiplies the relative error of 2u by |2u| (up to
    ~700): 2u = w + ew is therefore formed in double-double (Dekker products, Knuth's
    sum) and its low part fed back through sigmoid'(w) = sigmoid(w) sigmoid(-w).
    """
    xc = clip(xp, x, -GELU_LIM, GELU_LIM)
    prec = precision(xp, x)
    k, c2, c2_rest = GELU_TANH_C[prec]
    split = SQRT1_2[prec][2]
    bits = SPLIT_BITS[prec]
    p2 = xc * xc
    e2 = two_square_err(xp, xc, p2, split)
    p3 = xc * p2
    e3 = two_prod_err2(xp, xc, p2, p3, split) + xc * e2  # x^3 = p3 + e3
    q = k * p3
    eq = two_prod_err(xp, p3, q, k, bits, split) + k * e3  # k x^3 = q + eq
    v = xc + q
    bv = v - xc
    ev = ((xc - (v - bv)) + (q - bv)) + eq  # x + k x^3 = v + ev
    w = c2 * v
    ew = two_prod_err(xp, v, w, c2, bits, split) + (c2 * ev + c2_rest * v)  # 2u = w + ew
    s, t = sigmoid2(xp, w)
    st = (s * t) * ew
    return xc, s + st, t - st, w, ew


def gelu_tanh_far(xp: Any, w: Any, ew: Any, factor: Any) -> Any:
    """``factor * sigmoid(w + ew)`` for w < -600 (where sigmoid(w) = e^w to the last bit).

    ``e^w`` alone would be subnormal (few bits) before it meets ``factor``: with
    ``h = e^(w/2)`` (normal, ``w/2`` exact) the product rounds once, at the end.
    """
    wf = xp.where(w < GELU_TANH_FAR, w, GELU_TANH_FAR)
    h = xp.exp(0.5 * wf)
    return ((factor * (1 + ew)) * h) * h
