"""The lean numba primitives for float32 results: the namespace ``m`` of the float32 kernels.

A float32 result rounded from a float64 value within 6e-14 relative (``2**-24 * 1e-6``)
of the true one is within 0.5 + 1e-6 ulp. The float32 kernels compute in float64 with
these functions, which aim at 1e-15 and need fewer operations than those of
:mod:`relukit._prims.numba64`: near-minimax polynomials two to five degrees below the
Taylor ones (``tools/fit_f32_polys.py``), ln 2 in one part with a fused multiply-add,
``2**k`` in one piece, no special cases inside. Each clips its argument to its domain
first, where its value stops mattering for a float32 result (``exp`` at -708 and 709,
``expm1_neg`` at -60, ``erfcx`` at 15 / sqrt 2, ...): beyond the clip a formula gets a
value of the right sign and size whose float32 rounding is the limit. ``LEAN`` tells
formulas that they may use their float32 forms (for example ``1 + x`` is exact for a
float32 ``x`` computed in float64).

Each function is tested against mpmath on its whole domain (``tests/test_prims.py``).
"""

from __future__ import annotations

import math
import sys
import types

from numba import njit

from relukit._prims.numba64 import (  # noqa: F401  (the shared part of the namespace)
    BACKEND,
    ELEM,
    F32,
    JIT,
    _bits_to_float,
    _float_to_bits,
    _fma,
    clip,
    erfcx_s,
    expm1,
    fma,
    isinf,
    pos,
    prod_err,
    sqrt,
    square_err,
    where,
)

#: lean forms allowed: results only need float32 accuracy (computed in float64)
LEAN = True
#: the float32 results never need ``exp(x/2)**2``: formulas' far branches fold away
EXP_TAIL = -math.inf

_LOG2E = 1.4426950408889634
_ROUNDER = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer in the low bits
_ROUNDER_BITS = 0x4338000000000000
_LN2 = 0.6931471805599453  # ln 2 rounded: 2.32e-17 below the true value


@njit(**ELEM)
def _reduce32(x):  # pragma: no cover - compiled
    # (r, k): x = k ln 2 + r with ln 2 in one part: one product fewer, and r off by
    # k * 2.32e-17 (at most 2.4e-14 for |k| <= 1022: exp relative, within the float32
    # budget; 4e-15 where the callers' float32 results are not 0 or 1). The fused
    # multiply-add is asked for: a rounded k ln 2 would cost up to 6e-14 more
    kd = x * _LOG2E + _ROUNDER
    r = _fma(_ROUNDER - kd, _LN2, x)
    return r, _float_to_bits(kd) - _ROUNDER_BITS


@njit(**ELEM)
def _exp_poly32(r):  # pragma: no cover - compiled
    # exp(r) on |r| <= 0.3466: near-minimax, degree 10 (tools/fit_f32_polys.py)
    p = 2.7626367775723217e-07
    p = p * r + 2.7640193442207173e-06
    p = p * r + 2.4801504321690158e-05
    p = p * r + 0.00019841170240059446
    p = p * r + 0.0013888888932508548
    p = p * r + 0.00833333338569173
    p = p * r + 0.041666666666573086
    p = p * r + 0.16666666666554336
    p = p * r + 0.5000000000000006
    p = p * r + 1.0000000000000067
    return p * r + 1.0


@njit(**ELEM)
def _exp_f32(x):  # pragma: no cover - compiled
    """``exp(x)`` for -708 <= x <= 709 (and NaN: NaN), relative error < 4e-16 + 3.4e-17 |x|.

    As ``numba64.exp`` with ln 2 in one part (:func:`_reduce32`: the second term of the
    bound), a near-minimax polynomial of degree 10 (relative error 3.33e-16 on
    ``|r| <= 0.3466``, ``tools/fit_f32_polys.py``) and ``2**k`` built in one piece (a
    normal result): no clamps, no special cases, for callers that clip their argument.
    """
    r, ki = _reduce32(x)
    return _exp_poly32(r) * _bits_to_float((ki + 1023) << 52)


@njit(**ELEM)
def _exp_f32_times(x, a):  # pragma: no cover - compiled
    """``a * exp(x)`` for -600 <= x <= 0 (and NaN) and 1e-30 <= |a| <= 1e30, as
    ``a * _exp_f32(x)`` (the same rounding), with one product fewer.

    ``a * 2**k`` is exact there and is formed from the bits of ``a`` (its exponent
    stays between -966 and 100): ``p (a 2**k)`` is rounded once, as ``a (p 2**k)``.
    """
    r, ki = _reduce32(x)
    return _exp_poly32(r) * _bits_to_float(_float_to_bits(a) + (ki << 52))


#: ``erfcx`` on [0, 15 / sqrt 2] as a polynomial in ``s = C1 t + C0``, ``t = 4 / (4 + a)``
#: (``s`` in [-1, 1]: :func:`erfcx_s`): mpmath's ``chebyfit`` at 40 digits, degree 18,
#: absolute error 1.1e-16 (erfcx >= 0.053 there: relative error < 2.1e-15; with the
#: roundings of ``t`` and ``s``, 4.3e-15 measured on 20,001 points, ``tests/test_prims.py``)
_ERFCX_F32 = (  # highest degree first
    7.793340112198969e-11,
    3.849566117595199e-10,
    -1.4426244046276333e-09,
    -9.237906140823317e-09,
    1.550281332844296e-08,
    1.9223781679829515e-07,
    9.852769734869659e-08,
    -3.5256258402738295e-06,
    -1.3974206847975194e-05,
    1.8469091684048407e-05,
    0.0004355163109282294,
    0.0025200796879548855,
    0.0096373046828258,
    0.02826038362301548,
    0.06716397134293088,
    0.13275156329276064,
    0.2208110085003982,
    0.30997335754632815,
    0.22844554970317513,
)


@njit(**ELEM)
def _erfcx_f32(a):  # pragma: no cover - compiled
    """``erfcx(a) = exp(a**2) erfc(a)`` for 0 <= a <= 15 / sqrt 2, relative error < 4.5e-15."""
    s = erfcx_s(a)  # (numba64: the map's constants)
    z = s * s
    # two independent Horner chains in s**2 (even and odd degrees): half the latency
    he = 7.793340112198969e-11
    he = he * z + -1.4426244046276333e-09
    he = he * z + 1.550281332844296e-08
    he = he * z + 9.852769734869659e-08
    he = he * z + -1.3974206847975194e-05
    he = he * z + 0.0004355163109282294
    he = he * z + 0.0096373046828258
    he = he * z + 0.06716397134293088
    he = he * z + 0.2208110085003982
    he = he * z + 0.22844554970317513
    ho = 3.849566117595199e-10
    ho = ho * z + -9.237906140823317e-09
    ho = ho * z + 1.9223781679829515e-07
    ho = ho * z + -3.5256258402738295e-06
    ho = ho * z + 1.8469091684048407e-05
    ho = ho * z + 0.0025200796879548855
    ho = ho * z + 0.02826038362301548
    ho = ho * z + 0.13275156329276064
    ho = ho * z + 0.30997335754632815
    return he + s * ho


@njit(**ELEM)
def log1p01(e):  # pragma: no cover - compiled
    """``log(1 + e)`` for 0 <= e <= 1 (and NaN), relative error < 1e-15.

    ``log(1 + e) = 2 atanh(s)``, ``s = e / (2 + e)`` in [0, 1/3] (no rounding of
    ``1 + e``, no range reduction), ``atanh(s) / s`` a near-minimax polynomial of degree 9
    in ``s**2`` (relative error 8.88e-17, ``tools/fit_f32_polys.py``; the series needed 15
    terms).
    """
    s = e / (2.0 + e)
    z = s * s
    P = 0.08890381913056651  # atanh(sqrt z) / sqrt z, near-minimax, degree 9
    P = P * z + 0.04940394524382393
    P = P * z + 0.06795652742789947
    P = P * z + 0.07681838124445817
    P = P * z + 0.09091429900236955
    P = P * z + 0.11111095430673142
    P = P * z + 0.1428571455582858
    P = P * z + 0.199999999976438
    P = P * z + 0.33333333333341286
    P = P * z + 1.0
    return (2.0 * s) * P


@njit(**ELEM)
def sigmoid(z):  # pragma: no cover - compiled
    """``sigmoid(z)`` for float32 results, any z (NaN: NaN): ``r = 1 / (1 + e)``,
    ``e = exp(-|z|)`` (clipped at -700, where ``e r`` rounds to +0 in float32), ``r`` for
    z >= 0, ``e r`` below: one division, no subtraction (:func:`sigmoid2` forms both
    halves)."""
    nz = z if z < 0 else -z
    e = _exp_f32(-700.0 if nz < -700.0 else nz)
    r = 1.0 / (1.0 + e)
    return r if z >= 0 else e * r


@njit(**ELEM)
def _expm1_neg_f32(x):  # pragma: no cover - compiled
    """``numba64.expm1_neg`` for float32 results: -60 <= x <= 0 or NaN (-0.0 stays -0.0).

    ``expm1(r) = r + r**2 p(r)`` with a near-minimax ``p`` of degree 9 (relative error
    2.34e-16, ``tools/fit_f32_polys.py``; the Taylor polynomial needed degree 10),
    NaN passed on by the arithmetic; the caller clips at -60. ``r`` as in :func:`_exp_f32`
    (``k = 0``, ``r = x`` exactly, for ``|x| < 0.34``; beyond, ``|expm1(x)| > 0.28``).
    """
    r, ki = _reduce32(x)
    p = 2.510038319586702e-08  # (e**r - 1 - r) / r**2, near-minimax, degree 9
    p = p * r + 2.7620085455018414e-07
    p = p * r + 2.7557268464831627e-06
    p = p * r + 2.4801521302241082e-05
    p = p * r + 0.00019841269863050506
    p = p * r + 0.001388888891720967
    p = p * r + 0.008333333333330063
    p = p * r + 0.041666666666624136
    p = p * r + 0.16666666666666669
    p = p * r + 0.5000000000000001
    q = (p * r + 1.0) * r
    two_k = _bits_to_float((ki + 1023) << 52)
    res = two_k * q + (two_k - 1.0)
    return x if x == 0 else res


# ---------------------------------------------------------------------------
# the namespace: the lean functions with their domain clips
# ---------------------------------------------------------------------------


@njit(**ELEM)
def exp(x):  # pragma: no cover - compiled
    """``exp(x)``, x clipped to [-708, 709] (NaN passes)."""
    return _exp_f32(clip(x, -708.0, 709.0))


@njit(**ELEM)
def exp_near(x):  # pragma: no cover - compiled
    """``exp(x)`` for -708 <= x <= 709 (and NaN), with no clip: only for the lean forms
    (``if m.LEAN:``) of formulas whose argument is bounded already. The same value as
    :func:`exp` there, two selections fewer on every element (the loops are bound by
    their vector operations: each one costs)."""
    return _exp_f32(x)


@njit(**ELEM)
def expm1_neg(x):  # pragma: no cover - compiled
    """``exp(x) - 1`` for x <= 0, clipped at -60 (where it is -1 in float64)."""
    return _expm1_neg_f32(-60.0 if x < -60.0 else x)


@njit(**ELEM)
def times_exp(a, x):  # pragma: no cover - compiled
    """``a * exp(x)`` for x <= 0 (clipped at -600) and 1e-30 <= |a| <= 1e30."""
    return _exp_f32_times(-600.0 if x < -600.0 else x, a)


@njit(**ELEM)
def sigmoid2(z):  # pragma: no cover - compiled
    """``(sigmoid(z), sigmoid(-z))``: the shared formula with this namespace's ``exp``
    (its argument -|z| clipped at -708)."""
    return _sigmoid2(_THIS, z)


@njit(**ELEM)
def sigmoid2_near(z):  # pragma: no cover - compiled
    """:func:`sigmoid2` for ``|z| <= 708`` (and NaN), with no clip: the shared formula
    with :func:`exp_near`, the same values, for the lean forms of bounded arguments."""
    return _sigmoid2_near(_NEAR, z)


@njit(**ELEM)
def div(a, b):  # pragma: no cover - compiled
    """``a * (1 / b)``: within 1 ulp of ``a / b``; the reciprocal of a loop constant is
    hoisted out of the loop (a product per element, not a division)."""
    return a * (1.0 / b)


@njit(**ELEM)
def erfcx(a):  # pragma: no cover - compiled
    """``erfcx(a)`` for 0 <= a, clipped at 15 / sqrt 2 (its domain)."""
    return _erfcx_f32(10.606601717798213 if a > 10.606601717798213 else a)


@njit(**ELEM)
def tiny_half(x, r):  # pragma: no cover - compiled
    """``r``, except where ``x / 2`` is subnormal in float32 (|x| < 2**-125): there
    ``x / 2`` plus ``|x| 2**-40``, far below half a float32 subnormal step (2**-150) and
    far above a float64 ulp of ``x / 2``, so that a float32 tie rounds up (towards +inf),
    as the true value of ``x/2 + c x**2`` (``c > 0``) does. (A constant bias is lost in
    the float64 sum once ``|x / 2|`` exceeds about 2**-147.)"""
    tiny = x != 0.0 and -2.350988701644575e-38 < x < 2.350988701644575e-38
    return 0.5 * x + abs(x) * 9.094947017729282e-13 if tiny else r


@njit(**ELEM)
def tiny_nudge(x):  # pragma: no cover - compiled
    """``x``, except where ``|x| < 2**-125``: there ``x + |x| 2**-39`` (rounded), for the
    lean forms of values ``x h`` with ``h`` within 1e-14 of 1/2 next to 0 (computed from
    this ``x``: ``x/2 + |x| 2**-40`` in effect, the float32 rounding of :func:`tiny_half`,
    exactly its float64 value where ``h`` is 1/2), in four vector operations where
    ``tiny_half`` takes seven, and no value to select between afterwards. ``a`` is ``|x|``
    with the sign of a zero ``x``, so that ``-0.0 + a 2**-39`` is -0.0 (no test of
    ``x != 0``)."""
    a = -x if -x > x else x
    return x + a * 1.8189894035458565e-12 if a < 2.350988701644575e-38 else x


# the shared formulas, compiled for this namespace (written once in relukit._prims.shared)
from relukit._prims import lower as _lower  # noqa: E402
from relukit._prims import shared as _shared  # noqa: E402

_THIS = sys.modules[__name__]
_sigmoid2 = _lower(_shared.sigmoid2, _THIS)


# the namespace of sigmoid2_near: a module (numba types a module argument's attributes
# as its globals), this one's with ``exp`` unclipped
_NEAR = types.ModuleType(f"{__name__}.near")
_NEAR.__dict__.update(BACKEND=BACKEND, JIT=JIT, where=where, exp=exp_near)


_sigmoid2_near = _lower(_shared.sigmoid2, _NEAR)


@njit(**ELEM)
def _no_nudge(x):  # pragma: no cover - compiled
    return x


#: this namespace without :func:`tiny_nudge` (the identity in its place), for the bulk of
#: a float32 value loop: the elements with ``0 < |x| < 2**-125``, the only ones the nudge
#: changes, are computed again afterwards with this module itself
#: (:func:`relukit._kernels_loops._value_redo_tiny`). Everything else is this module's.
BULK = types.ModuleType(f"{__name__}.bulk")
BULK.__dict__.update(
    {k: v for k, v in _THIS.__dict__.items() if not k.startswith("__")}, tiny_nudge=_no_nudge
)
