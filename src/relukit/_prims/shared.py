"""Formulas shared by the namespaces: written once, run by each (NumPy, Python, numba, ...).

``erfcx`` is a polynomial whose coefficients were fitted once; each namespace that has
no accurate ``erfcx`` of its own (Python's :mod:`math`, NumPy and Dask, JAX, the
numba kernels) runs this one, so they all give its results.

>>> import numpy as np
>>> from relukit._prims.numpy import NP
>>> float(erfcx(NP, np.float64(0.0)))
1.0
"""

from __future__ import annotations

import math

from relukit._prims import Poly, formula

__all__ = ["erfcx", "expm1", "sigmoid2"]

#: ``erfcx(a) / t`` on [0, 27.3] (where erfc is still a float64, subnormal included) as a
#: polynomial of degree 22 in ``s = C1 t + C0``, ``t = 4 / (4 + a)``: mpmath's
#: ``chebyfit`` at 40 digits for the map with these (rounded) constants, relative error
#: 5.6e-18 (``python tools/fit_erfcx.py --to 27.3 --degree 22 --over-t``)
_ERFCX_C0 = -1.293040293040293
_ERFCX_N0 = 3.999999999999999  # 4 (C1 + C0), exactly: s = (N0 + C0 a) / (4 + a)
_ERFCX_P = Poly(
    (
        0.30866134542844187,
        0.2624645901128457,
        0.19340728548205083,
        0.12305741327527701,
        0.06695769029021229,
        0.030581577773039433,
        0.011313299893358483,
        0.003134810500211982,
        0.0005057594470328569,
        -3.3388653241460585e-05,
        -4.4281824153525825e-05,
        -8.635424862612115e-06,
        1.5961328501282094e-06,
        1.0105857324950457e-06,
        1.880817215472025e-08,
        -8.944969641696271e-08,
        -1.0950234677939016e-08,
        7.837085302379746e-09,
        1.5336703485155516e-09,
        -6.922217444940185e-10,
        -1.6175255218851706e-10,
        4.5301911972066343e-11,
        1.088055298374976e-11,
    )
)


@formula
def erfcx(m, a):
    """``erfcx(a) = exp(a**2) erfc(a)`` for 0 <= a <= 27.3, within 4.5 ulp of float64.

    ``t P(s)`` with ``P`` in one Horner chain (erfcx / t lies in [0.16, 1]: no
    cancellation), ``t`` and ``s`` formed from ``d = 4 + a`` with its rounding error
    ``e`` put back (``t = q - q e / d``, ``q = 4 / d``): the map's rounding, not the
    polynomial, would otherwise dominate the error.
    """
    d = 4.0 + a
    e = m.where(a < 4.0, (4.0 - d) + a, (a - d) + 4.0)  # 4 + a = d + e exactly
    r = e / d
    q = 4.0 / d
    t = q - q * r
    n = (_ERFCX_N0 + _ERFCX_C0 * a) / d
    s = n - n * r
    return t * _ERFCX_P(m, s)


@formula
def sigmoid2(m, z):
    """``(sigmoid(z), sigmoid(-z))``, both to full relative accuracy, never overflowing."""
    pos = z >= 0
    e = m.exp(m.where(pos, -z, z))  # exp(-|z|) <= 1; `where`, not abs: abs'(0) = 0
    other = e / (1 + e)  # sigmoid(-|z|), in (0, 1/2]
    one = 1 - other  # sigmoid(|z|): closer to correctly rounded than 1 / (1 + e)
    return m.where(pos, one, other), m.where(pos, other, one)


#: expm1(x) / x - 1 on |x| <= 1/2 as a polynomial in x (Taylor, 1/(k+1)! x^k for k = 1..16;
#: the next term is below 2e-20 relative)
_EXPM1_P = Poly(tuple(1.0 / math.factorial(k + 1) for k in range(1, 17)), lo=1)


@formula
def expm1(m, x):
    """``exp(x) - 1`` for any x: ``x (1 + P(x))`` on |x| < 1/2 (no cancellation), else
    ``exp(x) - 1`` (the difference is at least 0.39 in magnitude there)."""
    near = (x > -0.5) & (x < 0.5)
    xs = m.where(near, x, 0.0)
    # x (1 + P(x)), not x + x P(x): -0.0 stays -0.0 (x P(x) would be +0.0 there)
    return m.where(near, xs * (1.0 + _EXPM1_P(m, xs)), m.exp(x) - 1.0)
