"""Vectorisable float64 elementary functions for the numba kernels (a leaf module).

numba from pip calls the C library for ``math.exp``, ``math.log1p`` and ``math.erfc``:
one scalar call per element, which LLVM cannot vectorise. The functions here are
written with arithmetic, comparisons, bit casts and LLVM's fused multiply-add only, so
that a loop calling them compiles to SIMD code (AVX2: 4 float64 lanes; AVX-512: 8).
Each is accurate to about 1 ulp of float64
(``exp``, ``expm1`` on x <= 0, ``log1p`` on [0, 1]) or to 1e-13 relative (``erfc``,
enough for float32 results computed in float64); the kernels that use them are
measured by ``relukit bench accuracy`` (the ``relukit kernels`` columns) and tested in
``tests/test_kernels_smooth.py``.

Importing this module imports numba; nothing is compiled until a kernel is called.
The kernels' disk cache is keyed by the content of this file among the others
(:mod:`relukit._kernel_cache`): after an edit here the next process compiles them again.

Methods
-------
``exp``
    ``exp(x) = 2**k * exp(r)``, ``k = round(x / ln 2)``, ``r = x - k ln 2`` formed with
    a two-part ln 2 (exact ``k * LN2_HI``), ``|r| <= 0.35``, Taylor polynomial of degree
    13 (remainder < 2**-56); ``2**k`` is built from its bits in two halves, so that
    subnormal results are reached without ``ldexp``.
``expm1`` (x <= 0)
    Taylor polynomial of degree 16 on ``-0.5 < x <= 0`` (no cancellation), ``exp(x) - 1``
    below (the result is at least 0.39 in magnitude there).
``log1p`` (0 <= e <= 1)
    ``w = 1 + e`` with its rounding error ``c = (e - (w - 1)) / w`` kept; ``w = 2**k m``
    with ``m`` in [0.71, 1.42]; ``log m = 2 atanh(s)``, ``s = (m - 1) / (m + 1)``, odd
    series to ``s**23``.
``erfc`` (z >= 0)
    ``erfc(z) = t exp(g(t)) exp(-z**2)`` with ``t = 2 / (2 + z)`` and ``g`` a Chebyshev
    series of 24 terms in ``2t - 1``, fitted here with mpmath at 40 digits (relative
    error below 1.2e-13 for 0 <= z <= 26, where ``erfc`` is still a normal float64).
``erfcx64`` (0 <= a <= 27.3, float64 gelu)
    ``erfcx(a) = t P(s)``, ``t = 4 / (4 + a)``, ``P`` a polynomial of degree 22 in
    ``s = C1 t + C0`` (``tools/fit_erfcx.py``; erfcx / t lies in [0.16, 1], so its Horner
    sums do not cancel), with the rounding error of ``4 + a`` put back into ``t`` and
    ``s``: within 4.5 ulp (about 1e-15 relative).

Lean versions for float32 results
---------------------------------
A float32 result rounded from a float64 value within 6e-14 relative (``2**-24 * 1e-6``)
of the true one is within 0.5 + 1e-6 ulp, the bound the tests assert. The ``*_f32``
functions aim at 1e-15 and drop the special cases (their callers clip the argument):
``exp_f32`` (a near-minimax polynomial of degree 10, one-piece ``2**k``, -708 <= x <= 709:
the callers clip where the float32 result is decided; ln 2 in one part, with a fused
multiply-add, which adds up to 3.4e-17 |x|), ``exp_f32_times`` (``a exp(x)`` with ``a``'s
exponent moved by ``k``: one product fewer), ``expm1_neg_f32`` (degree 9),
``log1p01_f32`` (``2 atanh(e / (2 + e))``, degree 9 in ``s**2``: one division, no range
reduction) and ``erfcx_f32`` (one polynomial of degree 18 in ``4 / (4 + a)`` on [0, 15 /
sqrt 2]). The first three use near-minimax polynomials (``tools/fit_f32_polys.py``), two
to five degrees below the Taylor ones they replaced. Each is tested against mpmath on
its whole domain (``tests/test_kernels_smooth.py``).
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from relukit._kernel_cache import njit

#: the loops: error_model="numpy" (no division checks, which would stop vectorisation),
#: fastmath off (IEEE semantics for NaN, inf, -0.0), the GIL released; cache=True:
#: relukit's disk cache (relukit._kernel_cache.njit)
LOOP = {"cache": True, "fastmath": {"contract"}, "nogil": True, "error_model": "numpy"}
#: element functions: inlined into the loops by numba itself (LLVM's inliner leaves a
#: function as large as an inlined ``exp`` as a call, and the loop then cannot vectorise)
ELEM = {**LOOP, "inline": "always"}

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # 33 significant bits: k * _LN2_HI is exact for |k| < 2**20
_LN2_LO = 1.9082149292705877e-10
_EXP_HI = 709.782712893384  # exp overflows above
_EXP_LO = -745.2  # exp(x) < 2**-1075 below: 0


@intrinsic
def _bits_to_float(typingctx, i):  # pragma: no cover - compiled
    """The float64 whose IEEE bits are the int64 ``i`` (an LLVM bitcast)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _float_to_bits(typingctx, x):  # pragma: no cover - compiled
    """The IEEE bits of the float64 ``x`` as an int64 (an LLVM bitcast)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _fma(typingctx, a, b, c):  # pragma: no cover - compiled
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``, whatever the fastmath flags)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(d, [d, d, d]), "llvm.fma.f64"
        )
        return builder.call(fn, args)

    return sig, codegen


_ROUNDER = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer in the low bits
_ROUNDER_BITS = 0x4338000000000000


@njit(**ELEM)
def _reduce(x):  # pragma: no cover - compiled
    # (r, k): x = k ln 2 + r, k = round(x / ln 2) as an integer (the rounder's low bits),
    # |r| <= ln 2 / 2, r with ln 2 in two parts (k * _LN2_HI exact)
    kd = x * _LOG2E + _ROUNDER
    k = kd - _ROUNDER  # round(x / ln 2), exactly, as a float
    r = (x - k * _LN2_HI) - k * _LN2_LO
    return r, _float_to_bits(kd) - _ROUNDER_BITS  # (the same integer)


_LN2 = 0.6931471805599453  # ln 2 rounded: 2.32e-17 below the true value


@njit(**ELEM)
def _reduce32(x):  # pragma: no cover - compiled
    # _reduce with ln 2 in one part, for the float32 functions: one product fewer, and
    # r off by k * 2.32e-17 (at most 2.4e-14 for |k| <= 1022: exp relative, within the
    # float32 budget; 4e-15 where the float32 callers' results are not 0 or 1). The
    # fused multiply-add is asked for: a rounded k ln 2 would cost up to 6e-14 more
    kd = x * _LOG2E + _ROUNDER
    r = _fma(_ROUNDER - kd, _LN2, x)
    return r, _float_to_bits(kd) - _ROUNDER_BITS


@njit(**ELEM)
def exp(x):  # pragma: no cover - compiled
    """``exp(x)`` to about 1 ulp, subnormal results included; NaN, ±inf handled."""
    xc = x
    if xc > 709.8:
        xc = 709.8
    if xc < -746.0:
        xc = -746.0
    if x != x:
        xc = 0.0
    r, ki = _reduce(xc)
    p = 1.6059043836821613e-10  # 1/13!
    p = p * r + 2.08767569878681e-09
    p = p * r + 2.505210838544172e-08
    p = p * r + 2.755731922398589e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.48015873015873e-05
    p = p * r + 0.0001984126984126984
    p = p * r + 0.001388888888888889
    p = p * r + 0.008333333333333333
    p = p * r + 0.041666666666666664
    p = p * r + 0.16666666666666666
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    k1 = ki >> 1
    k2 = ki - k1
    res = (p * _bits_to_float((k1 + 1023) << 52)) * _bits_to_float((k2 + 1023) << 52)
    if x > _EXP_HI:
        res = math.inf
    if x < _EXP_LO:
        res = 0.0
    if x != x:
        res = x
    return res


@njit(**ELEM)
def expm1_neg(x):  # pragma: no cover - compiled
    """``exp(x) - 1`` for x <= 0 (and NaN, -inf); -0.0 stays -0.0.

    ``exp(x) = 2**k (1 + q)`` as in :func:`exp`, ``q = exp(r) - 1`` its polynomial
    without the constant; then ``2**k q + (2**k - 1)``, where ``2**k - 1`` is exact:
    one rounding at the end.
    """
    xc = -60.0 if x < -60.0 else x  # expm1(-60) = -1 in float64
    if x != x:
        xc = 0.0
    r, ki = _reduce(xc)
    p = 1.6059043836821613e-10  # 1/13!
    p = p * r + 2.08767569878681e-09
    p = p * r + 2.505210838544172e-08
    p = p * r + 2.755731922398589e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.48015873015873e-05
    p = p * r + 0.0001984126984126984
    p = p * r + 0.001388888888888889
    p = p * r + 0.008333333333333333
    p = p * r + 0.041666666666666664
    p = p * r + 0.16666666666666666
    p = p * r + 0.5
    q = (p * r + 1.0) * r
    two_k = _bits_to_float((ki + 1023) << 52)
    res = two_k * q + (two_k - 1.0)
    if x == 0:
        res = x  # -0.0 stays -0.0
    if x != x:
        res = x
    return res


@njit(**ELEM)
def log1p01(e):  # pragma: no cover - compiled
    """``log(1 + e)`` for 0 <= e <= 1 (and NaN).

    ``w = 1 + e`` and its rounding error ``c``; ``w = 2**k (1 + f)`` with ``f`` exact
    and ``1 + f`` in [0.71, 1.42]; ``log(1 + f) = f - (h - s (h + R))`` with
    ``h = f**2 / 2``, ``s = f / (2 + f)`` and ``R`` the series of ``2 atanh(s) / s - 2``
    (the form that keeps the large term ``f`` exact).
    """
    w = 1.0 + e
    c = (e - (w - 1.0)) / w
    m = w
    k = 0.0
    if w > 1.4142135623730951:
        m = 0.5 * w
        k = 1.0
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    R = 0.08695652173913043  # 2/23
    R = R * z + 0.09523809523809523
    R = R * z + 0.10526315789473684
    R = R * z + 0.11764705882352941
    R = R * z + 0.13333333333333333
    R = R * z + 0.15384615384615385
    R = R * z + 0.18181818181818182
    R = R * z + 0.2222222222222222
    R = R * z + 0.2857142857142857
    R = R * z + 0.4
    R = R * z + 0.6666666666666666
    R = R * z
    h = 0.5 * f * f
    return k * _LN2_HI - ((h - (s * (h + R) + (k * _LN2_LO + c))) - f)


_ERFC_G = (
    -0.6513268598908547,
    0.6419697923564902,
    0.019476473204185836,
    -0.009561514786808632,
    -0.0009465953444820369,
    0.00036683949785276145,
    4.252332480690777e-05,
    -2.0278578112534242e-05,
    -1.6242900046470256e-06,
    1.3036558355805232e-06,
    1.5626441722066106e-08,
    -8.523809591492667e-08,
    6.52905443909973e-09,
    5.059343495549831e-09,
    -9.913641564964226e-10,
    -2.2736512226526028e-10,
    9.646791096045918e-11,
    2.3940380092707057e-12,
    -6.886026681889785e-12,
    8.944855992048146e-13,
    3.130920899042402e-13,
    -1.1268005698279505e-13,
    2.600668065964953e-16,
    7.20067255932215e-15,
)


@njit(**ELEM)
def erfc_parts(a):  # pragma: no cover - compiled
    """``(G, E)`` with ``erfc(a) = G * E`` for a >= 0: ``E = exp(-a*a)``, ``G = t exp(g(t))``.

    Kept apart so that a caller can share ``E`` with the normal density (gelu') and
    multiply by it last (the sign of an underflowing product is then the sign of the
    other factor). NaN gives NaN; a = inf gives (0, 0).
    """
    t = 2.0 / (2.0 + a)
    s = 2.0 * t - 1.0
    s2 = 2.0 * s
    b1 = 7.20067255932215e-15
    b2 = 0.0
    b1, b2 = s2 * b1 - b2 + 2.600668065964953e-16, b1
    b1, b2 = s2 * b1 - b2 + -1.1268005698279505e-13, b1
    b1, b2 = s2 * b1 - b2 + 3.130920899042402e-13, b1
    b1, b2 = s2 * b1 - b2 + 8.944855992048146e-13, b1
    b1, b2 = s2 * b1 - b2 + -6.886026681889785e-12, b1
    b1, b2 = s2 * b1 - b2 + 2.3940380092707057e-12, b1
    b1, b2 = s2 * b1 - b2 + 9.646791096045918e-11, b1
    b1, b2 = s2 * b1 - b2 + -2.2736512226526028e-10, b1
    b1, b2 = s2 * b1 - b2 + -9.913641564964226e-10, b1
    b1, b2 = s2 * b1 - b2 + 5.059343495549831e-09, b1
    b1, b2 = s2 * b1 - b2 + 6.52905443909973e-09, b1
    b1, b2 = s2 * b1 - b2 + -8.523809591492667e-08, b1
    b1, b2 = s2 * b1 - b2 + 1.5626441722066106e-08, b1
    b1, b2 = s2 * b1 - b2 + 1.3036558355805232e-06, b1
    b1, b2 = s2 * b1 - b2 + -1.6242900046470256e-06, b1
    b1, b2 = s2 * b1 - b2 + -2.0278578112534242e-05, b1
    b1, b2 = s2 * b1 - b2 + 4.252332480690777e-05, b1
    b1, b2 = s2 * b1 - b2 + 0.00036683949785276145, b1
    b1, b2 = s2 * b1 - b2 + -0.0009465953444820369, b1
    b1, b2 = s2 * b1 - b2 + -0.009561514786808632, b1
    b1, b2 = s2 * b1 - b2 + 0.019476473204185836, b1
    b1, b2 = s2 * b1 - b2 + 0.6419697923564902, b1
    g = s * b1 - b2 + -0.6513268598908547
    return t * exp(g), exp(-(a * a))


@njit(**ELEM)
def erfc(z):  # pragma: no cover - compiled
    """``erfc(z)`` for any z (and NaN), relative error < 1.2e-13 where it is normal."""
    g, e = erfc_parts(-z if z < 0 else z)
    r = g * e
    return 2.0 - r if z < 0 else r


@njit(**ELEM)
def sigmoid2(z):  # pragma: no cover - compiled
    """``(sigmoid(z), sigmoid(-z))``, both to full relative accuracy (NaN: NaN, NaN)."""
    pos = z >= 0
    e = exp(-z if pos else z)
    other = e / (1.0 + e)
    one = 1.0 - other
    if pos:
        return one, other
    return other, one


# ---------------------------------------------------------------------------
# lean versions for float32 results: the float64 intermediate only has to be within
# 6e-14 relative of the true value (2**-24 * 1e-6) for the float32 rounding to stay
# within 0.5 + 1e-6 ulp; no special values inside (the callers clip their argument)
# ---------------------------------------------------------------------------


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
def exp_f32(x):  # pragma: no cover - compiled
    """``exp(x)`` for -708 <= x <= 709 (and NaN: NaN), relative error < 4e-16 + 3.4e-17 |x|.

    As :func:`exp` with ln 2 in one part (:func:`_reduce32`: the second term of the
    bound), a near-minimax polynomial of degree 10 (relative error 3.33e-16 on
    ``|r| <= 0.3466``, ``tools/fit_f32_polys.py``) and ``2**k`` built in one piece (a
    normal result): no clamps, no special cases, for callers that clip their argument.
    """
    r, ki = _reduce32(x)
    return _exp_poly32(r) * _bits_to_float((ki + 1023) << 52)


@njit(**ELEM)
def exp_f32_times(x, a):  # pragma: no cover - compiled
    """``a * exp(x)`` for -600 <= x <= 0 (and NaN) and 1e-30 <= |a| <= 1e30, as
    ``a * exp_f32(x)`` (the same rounding), with one product fewer.

    ``a * 2**k`` is exact there and is formed from the bits of ``a`` (its exponent
    stays between -966 and 100): ``p (a 2**k)`` is rounded once, as ``a (p 2**k)``.
    """
    r, ki = _reduce32(x)
    return _exp_poly32(r) * _bits_to_float(_float_to_bits(a) + (ki << 52))


#: ``erfcx`` on [0, 15 / sqrt 2] as a polynomial in ``s = C1 t + C0``, ``t = 4 / (4 + a)``
#: (``s`` in [-1, 1]): mpmath's ``chebyfit`` at 40 digits, degree 18, absolute error
#: 1.1e-16 (erfcx >= 0.053 there: relative error < 2.1e-15)
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
_ERFCX_T0 = 0.27384877586728346  # 4 / (4 + 15 / sqrt 2)
_ERFCX_C1 = 2.7542472332656507  # 2 / (1 - T0)
_ERFCX_C0 = -1.7542472332656507  # -1 - 2 T0 / (1 - T0)


@njit(**ELEM)
def erfcx_f32(a):  # pragma: no cover - compiled
    """``erfcx(a) = exp(a**2) erfc(a)`` for 0 <= a <= 15 / sqrt 2, relative error < 3e-15."""
    t = 4.0 / (4.0 + a)
    s = t * _ERFCX_C1 + _ERFCX_C0
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


#: ``erfcx(a) / t`` on [0, 27.3] (where erfc is still a float64, subnormal included) as a
#: polynomial of degree 22 in ``s = C1 t + C0``, ``t = 4 / (4 + a)``: mpmath's
#: ``chebyfit`` at 40 digits for the map with these (rounded) constants, relative error
#: 5.6e-18 (``python tools/fit_erfcx.py --to 27.3 --degree 22 --over-t``)
_ERFCX64_C1 = 2.293040293040293
_ERFCX64_C0 = -1.293040293040293
_ERFCX64_N0 = 3.999999999999999  # 4 (C1 + C0), exactly: s = (N0 + C0 a) / (4 + a)


@njit(**ELEM)
def erfcx64(a):  # pragma: no cover - compiled
    """``erfcx(a) = exp(a**2) erfc(a)`` for 0 <= a <= 27.3, within 4.5 ulp.

    ``t (P(s))`` with ``P`` in one Horner chain (erfcx / t lies in [0.16, 1]: no
    cancellation), ``t`` and ``s`` formed from ``d = 4 + a`` with its rounding error
    ``e`` put back (``t = q - q e / d``, ``q = 4 / d``): the map's rounding, not the
    polynomial, would otherwise dominate the error.
    """
    d = 4.0 + a
    e = (4.0 - d) + a if a < 4.0 else (a - d) + 4.0  # 4 + a = d + e exactly
    r = e / d
    q = 4.0 / d
    t = q - q * r
    n = (_ERFCX64_N0 + _ERFCX64_C0 * a) / d
    s = n - n * r
    p = 1.088055298374976e-11
    p = p * s + 4.5301911972066343e-11
    p = p * s + -1.6175255218851706e-10
    p = p * s + -6.922217444940185e-10
    p = p * s + 1.5336703485155516e-09
    p = p * s + 7.837085302379746e-09
    p = p * s + -1.0950234677939016e-08
    p = p * s + -8.944969641696271e-08
    p = p * s + 1.880817215472025e-08
    p = p * s + 1.0105857324950457e-06
    p = p * s + 1.5961328501282094e-06
    p = p * s + -8.635424862612115e-06
    p = p * s + -4.4281824153525825e-05
    p = p * s + -3.3388653241460585e-05
    p = p * s + 0.0005057594470328569
    p = p * s + 0.003134810500211982
    p = p * s + 0.011313299893358483
    p = p * s + 0.030581577773039433
    p = p * s + 0.06695769029021229
    p = p * s + 0.12305741327527701
    p = p * s + 0.19340728548205083
    p = p * s + 0.2624645901128457
    p = p * s + 0.30866134542844187
    return t * p


@njit(**ELEM)
def log1p01_f32(e):  # pragma: no cover - compiled
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
def sigmoid2_f32(z):  # pragma: no cover - compiled
    """:func:`sigmoid2` with :func:`exp_f32` for -708 <= z <= 708 (and NaN)."""
    pos = z >= 0
    e = exp_f32(-z if pos else z)
    other = e / (1.0 + e)
    one = 1.0 - other
    if pos:
        return one, other
    return other, one


@njit(**ELEM)
def sigmoid_f32(z):  # pragma: no cover - compiled
    """``sigmoid(z)`` for float32 results, any z (NaN: NaN): ``r = 1 / (1 + e)``,
    ``e = exp(-|z|)`` (clipped at -700, where ``e r`` rounds to +0 in float32), ``r`` for
    z >= 0, ``e r`` below: one division, no subtraction (:func:`sigmoid2_f32` forms both
    halves)."""
    nz = z if z < 0 else -z
    e = exp_f32(-700.0 if nz < -700.0 else nz)
    r = 1.0 / (1.0 + e)
    return r if z >= 0 else e * r


@njit(**ELEM)
def expm1_neg_f32(x):  # pragma: no cover - compiled
    """:func:`expm1_neg` for float32 results: -60 <= x <= 0 or NaN (-0.0 stays -0.0).

    ``expm1(r) = r + r**2 p(r)`` with a near-minimax ``p`` of degree 9 (relative error
    2.34e-16, ``tools/fit_f32_polys.py``; the Taylor polynomial needed degree 10),
    NaN passed on by the arithmetic; the caller clips at -60. ``r`` as in :func:`exp_f32`
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
