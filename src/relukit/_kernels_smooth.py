"""numba kernels for the smooth entries (imported with ``relukit._kernels_numba``).

Every element function takes the input as float64 and returns float64: float32 arrays
are computed in float64 and rounded once when stored (as the NumPy path does), float64
arrays in float64. The formulas are those of :mod:`relukit.activations` (same branches,
same limits at ±inf, NaN in NaN out, the same signed zeros), with the vectorisable
functions of :mod:`relukit._kernels_math` in place of NumPy's ``exp``/``expm1``/
``log1p``/``erfc``, so the results are not bit-for-bit NumPy's: their error bounds are
measured by ``relukit bench accuracy`` and asserted in ``tests/test_kernels_smooth.py``.
hardswish, hardsigmoid and sparse_plus use no elementary function and are bit-for-bit
equal; squareplus uses only sqrt and divisions (the NumPy path's hypot is written out).

Parameters arrive as float64 scalars ``a, b, c`` (``Q[0:3]``, see ``relukit._kernels``);
the kink block ``P`` is in the array's dtype. The derivative's zero of silu, mish and
gelu is patched with the Taylor polynomial of ``relukit._tables.ROOTS``, written out as
constants (so that LLVM unrolls it) in :mod:`relukit._kernels_smooth_roots`, which
``tools/gen_kernels_smooth.py`` writes. The loops (value, derivative, fused
value-and-derivative and backward) are written once in :mod:`relukit._kernels_loops` and
plugged here, at the end, for every entry from one table: ``<name>_<kind>``. Their disk
cache is keyed by the content of this file and the other kernel sources
(:mod:`relukit._kernel_cache`), so editing an element function here, or a primitive of
:mod:`relukit._kernels_math`, compiles the kernels again in the next process.

float32 arrays of elu, selu, celu, softplus, silu, mish and squareplus use the loops
``<name>_f32_<kind>`` (chosen by ``relukit._kernels.static_plan``), whose element functions
``_<name>_v32``/``_<name>_d32`` clip the argument to where the float32 result is still
decided and call the lean ``*_f32`` functions of :mod:`relukit._kernels_math`; so do
gelu's (``gelu_f32_<kind>``; its float64 loops ``gelu_<kind>`` use ``erfcx64`` and a
product formed exactly) and gelu(tanh)'s, which has float32 kernels only. Their patches at the
derivative's zero (``_root_<name>32``) are shorter: the direct formulas are within
4e-15 relative of mpmath from 0.1 of the zero on (silu' from 0.02). hardswish's and
hardsigmoid's float32 loops multiply by 1/6 instead of dividing by 6: the same float32
results on every float32 input (``tools/check_f32_sixth.py``).

"""

from __future__ import annotations

import math

from relukit._kernel_cache import njit
from relukit._kernels_loops import SMOOTH, plug_all
from relukit._kernels_math import (
    ELEM,
    _bits_to_float,
    _float_to_bits,
    erfcx64,
    erfcx_f32,
    exp,
    exp_f32,
    exp_f32_times,
    expm1_neg,
    expm1_neg_f32,
    log1p01,
    log1p01_f32,
    sigmoid2,
    sigmoid2_f32,
    sigmoid_f32,
)
from relukit._kernels_smooth_roots import (
    _root_gelu,
    _root_gelu32,
    _root_gelu_tanh32,
    _root_mish,
    _root_mish32,
    _root_silu,
    _root_silu32,
)

_NINF = -math.inf
_QUIET = 1 << 51  # the quiet bit of a float64 NaN


@njit(**ELEM)
def _clip(x, lo, hi):  # pragma: no cover - compiled
    # where(x > hi, hi, where(x < lo, lo, x)): NaN passes through
    r = lo if x < lo else x
    return hi if x > hi else r


# ---------------------------------------------------------------------------
# element functions: (x as float64, a, b, c) -> float64
# ---------------------------------------------------------------------------


@njit(**ELEM)
def _elu_v(x, a, b, c):  # pragma: no cover - compiled
    # a = alpha: where(x > 0, x, alpha * expm1(where(x > 0, 0, x))); -1.0 rather than 0.0
    # in the branch not taken: LLVM turns `0.0 if x > 0 else x` into a min, losing -0.0
    r = a * expm1_neg(-1.0 if x > 0 else x)
    return x if x > 0 else r


@njit(**ELEM)
def _elu_d(x, a, b, c):  # pragma: no cover - compiled
    r = a * exp(-1.0 if x > 0 else x)
    return 1.0 if x > 0 else r


@njit(**ELEM)
def _selu_v(x, a, b, c):  # pragma: no cover - compiled
    # a = lambda, b = lambda * alpha
    r = b * expm1_neg(-1.0 if x > 0 else x)
    return a * x if x > 0 else r


@njit(**ELEM)
def _selu_d(x, a, b, c):  # pragma: no cover - compiled
    r = b * exp(-1.0 if x > 0 else x)
    return a if x > 0 else r


@njit(**ELEM)
def _celu_v(x, a, b, c):  # pragma: no cover - compiled
    # a = alpha, b = 1 when alpha == 1 (x / 1 is x: no special case needed)
    xn = -1.0 if x > 0 else x  # (not 0.0: LLVM turns that select into a min, losing -0.0)
    r = a * expm1_neg(xn / a)
    return x if x > 0 else r


@njit(**ELEM)
def _celu_d(x, a, b, c):  # pragma: no cover - compiled
    xn = -1.0 if x > 0 else x  # (not 0.0: LLVM turns that select into a min, losing -0.0)
    r = exp(xn / a)
    return 1.0 if x > 0 else r


@njit(**ELEM)
def _softplus_v(x, a, b, c):  # pragma: no cover - compiled
    # a = beta, b = threshold: z = beta x; max(z, 0) + log1p(exp(-|z|)), / beta
    z = x * a
    pos = z > 0
    sp = ((z if pos else 0.0) + log1p01(exp(-z if pos else z))) / a
    return x if z > b else sp


@njit(**ELEM)
def _softplus_d(x, a, b, c):  # pragma: no cover - compiled
    z = x * a
    s, t = sigmoid2(z)
    return 1.0 if z > b else s


@njit(**ELEM)
def _silu_v(x, a, b, c):  # pragma: no cover - compiled
    # x / (1 + e^-x); below -700, x e^x as (x h) h / (1 + h h) with h = e^(x/2) normal
    far = x < -700.0
    xt = -1500.0 if x < -1500.0 else x
    e = exp(0.5 * xt if far else -x)
    r = x / (1.0 + e)
    if far:
        r = (xt * e) * e / (1.0 + e * e)
    if x == _NINF:
        r = -0.0
    return r


@njit(**ELEM)
def _silu_d(x, a, b, c):  # pragma: no cover - compiled
    # sigmoid(x) (1 + x sigmoid(-x)); far left e^x (1 + x) / (1 + e^x) via h = e^(x/2)
    xc = _clip(x, -1500.0, 1500.0)
    far = x < -700.0
    pos = xc >= 0
    e = exp(0.5 * xc if far else (-xc if pos else xc))
    other = e / (1.0 + e)
    one = 1.0 - other
    s = one if pos else other
    t = other if pos else one
    d = _root_silu(x, s * (1.0 + xc * t))
    if far:
        d = (e * (1.0 + xc)) * e / (1.0 + e * e)
    if x == _NINF:
        d = -0.0
    if x == math.inf:
        d = 1.0
    return d


@njit(**ELEM)
def _mish_t(xc):  # pragma: no cover - compiled
    # (tanh(softplus(x)), e) via n = e (e + 2), e = exp(x): see relukit.activations.curved._mish_parts
    e = exp(xc)
    n = e * (e + 2.0)
    q = (0.5 * e) * (1.0 + e) / (1.0 + e + 0.5 * (e * e))
    t = 1.0 - 2.0 / (n + 2.0) if xc > 0 else e - e * q
    return t, e


@njit(**ELEM)
def _mish_clip(x):  # pragma: no cover - compiled
    return _clip(x, -1000.0, 40.0)


@njit(**ELEM)
def _mish_v(x, a, b, c):  # pragma: no cover - compiled
    t, e = _mish_t(_mish_clip(x))
    return (-1000.0 if x < -1000.0 else x) * t


@njit(**ELEM)
def _mish_d(x, a, b, c):  # pragma: no cover - compiled
    xc = _mish_clip(x)
    t, e = _mish_t(xc)
    m = e * e + 2.0 * e + 2.0
    return _root_mish(x, t + xc * ((4.0 * e) * (e + 1.0) / (m * m)))


@njit(**ELEM)
def _outside3(x, r, below, above):  # pragma: no cover - compiled
    # r for -3 < x < 3 (and NaN), `below` for x <= -3, `above` for x >= 3 (r is not
    # looked at there: hardswish's may be inf or NaN at ±inf, and needs no clip)
    if x >= 3.0:
        r = above
    if x <= -3.0:
        r = below
    return r


@njit(**ELEM)
def _hardswish_v(x, a, b, c):  # pragma: no cover - compiled
    return _outside3(x, x * (x + 3.0) / 6.0, -0.0, x)


@njit(**ELEM)
def _hardswish_d(x, a, b, c):  # pragma: no cover - compiled
    return _outside3(x, (2.0 * x + 3.0) / 6.0, 0.0, 1.0)


@njit(**ELEM)
def _hardsigmoid_v(x, a, b, c):  # pragma: no cover - compiled
    return _outside3(x, (x + 3.0) / 6.0, 0.0, 1.0)


@njit(**ELEM)
def _hardsigmoid_d(x, a, b, c):  # pragma: no cover - compiled
    # NaN passes through; a = 1 for float32 arrays, whose NumPy path widens to float64
    # and back, quieting a signalling NaN: the quiet bit is set here the same way (with
    # bits: LLVM may treat x + 0.0 and x as the same NaN)
    r = 0.0
    if x != x:
        r = _bits_to_float(_float_to_bits(x) | (_QUIET if a != 0 else 0))
    if x > -3.0 and x < 3.0:
        r = 1.0 / 6.0
    return r


# float32 arrays of hardswish and hardsigmoid (loops ``<name>_f32_<kind>``): the product
# with the float64 1/6 in place of the division by 6. The float64 results differ in
# the last bit for about 3e8 of the float32 inputs in (-3, 3), but rounded to float32
# they are the same for every one of them: checked on all 2**31 of them (value of both,
# hardswish' (2 x + 3) / 6) by tools/check_f32_sixth.py; tests/test_kernels_smooth.py
# compares the loops on every 16th. A division costs about 1.25 cycles an element on
# this project's machine (AMD Zen 4), the product 0.1.
_SIXTH = 1.0 / 6.0


@njit(**ELEM)
def _hardswish_v32(x, a, b, c):  # pragma: no cover - compiled
    return _outside3(x, x * (x + 3.0) * _SIXTH, -0.0, x)


@njit(**ELEM)
def _hardswish_d32(x, a, b, c):  # pragma: no cover - compiled
    return _outside3(x, (2.0 * x + 3.0) * _SIXTH, 0.0, 1.0)


@njit(**ELEM)
def _hardsigmoid_v32(x, a, b, c):  # pragma: no cover - compiled
    return _outside3(x, (x + 3.0) * _SIXTH, 0.0, 1.0)


_hardsigmoid_d32 = _hardsigmoid_d  # (1/6 or 0: no division to replace)


# gelu (exact), float32 arrays (the float64 ones: _gelu_v64 below), computed in float64.
# x is clipped to
# [-15, 15]: beyond, the float32 results are those of the clip (the value and the
# derivative round to -0.0 below -15; Phi(x) rounds to 1 above), so erfc(a) = H E with
# H = erfcx(a) a polynomial and E = exp(-a^2) one exp, a^2 = x^2 / 2 exact (x float32)
_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


@njit(**ELEM)
def _gelu_parts32(x):  # pragma: no cover - compiled
    # (xc, H, E): xc = x clipped to [-15, 15], a = |xc| / sqrt 2, erfc(a) = H E, and
    # phi(x) = E / sqrt(2 pi); NaN gives NaN
    xc = _clip(x, -15.0, 15.0)
    ax = -xc if xc < 0 else xc
    return xc, erfcx_f32(ax * _SQRT1_2), exp_f32(-0.5 * (xc * xc))


@njit(**ELEM)
def _gelu_v32(x, a, b, c):  # pragma: no cover - compiled
    # (x/2) erfc(-x / sqrt 2), x clipped at -15 (-inf gives -15 * tiny = -0.0)
    xc, h, e = _gelu_parts32(x)
    two_cdf = 2.0 - h * e if xc > 0 else h * e
    return (0.5 * (-15.0 if x < -15.0 else x)) * two_cdf


@njit(**ELEM)
def _gelu_d32(x, a, b, c):  # pragma: no cover - compiled
    # Phi(x) + x phi(x); for x <= 0 as E (H/2 + x / sqrt(2 pi)) (negative below the zero,
    # -0.0 once it underflows in float32, as the NumPy path)
    xc, h, e = _gelu_parts32(x)
    d = e * (0.5 * h + xc * _INV_SQRT_2PI)
    if xc > 0:
        d = 0.5 * (2.0 - h * e) + xc * (e * _INV_SQRT_2PI)
    return _root_gelu32(x, d)


# gelu (exact), float64: erfc(a) = H E with H = erfcx64(a) and E = exp(-x^2 / 2) formed
# from x^2 = p + e exactly (Dekker's product: a rounded p would cost 2 a^2 ulp in the
# tail), E = exp(-p / 2) (1 - e / 2). Where exp(-p / 2) would be subnormal (the result
# is then subnormal too) it is h h with h = exp(-p / 4), multiplied in last, so that the
# result is rounded once. Next to 0 (|x| < 0.3) both are their Taylor series at 0.
_SPLIT = 134217729.0  # 2**27 + 1: Dekker's splitting of a float64


@njit(**ELEM)
def _gelu_parts64(x):  # pragma: no cover - compiled
    # (xc, H, g, g2): xc = x clipped to [-40, 40], erfc(|xc| / sqrt 2) = H (g g2) and
    # phi(x) = g g2 / sqrt(2 pi), g2 = 1 unless exp(-x^2 / 2) is subnormal
    xc = _clip(x, -40.0, 40.0)
    ax = -xc if xc < 0 else xc
    h = erfcx64(ax * _SQRT1_2)
    p = xc * xc
    cs = _SPLIT * xc
    xh = cs - (cs - xc)
    xl = xc - xh
    e = ((xh * xh - p) + 2.0 * xh * xl) + xl * xl  # xc xc = p + e
    q = 0.5 * p
    far = q > 708.0
    g = exp(-0.5 * q if far else -q) * (1.0 - (0.25 * e if far else 0.5 * e))
    return xc, h, g, g if far else 1.0


@njit(**ELEM)
def _gelu_near0(x):  # pragma: no cover - compiled
    # (gelu, gelu') for |x| < 0.3 from their Taylor series at 0 (odd parts of Phi and
    # x phi: (-1)^k x^(2k+1) / (2^k k! (2k+1) sqrt(2 pi)) and the like; the next terms
    # are below 3e-19)
    z = x * x
    pd = -2.2602343283238428e-09
    pd = pd * z + 4.092353683871051e-08
    pd = pd * z + -6.596267863780302e-07
    pd = pd * z + 9.323570922843312e-06
    pd = pd * z + -0.00011333587511404338
    pd = pd * z + 0.001154346876161553
    pd = pd * z + -0.009498625723843634
    pd = pd * z + 0.0598413420602149
    pd = pd * z + -0.26596152026762176
    pd = pd * z + 0.7978845608028654
    pv = 2.2735298243728065e-09
    pv = pv * z + -4.122667414862689e-08
    pv = pv * z + 6.659693516316651e-07
    pv = pv * z + -9.444656259503615e-06
    pv = pv * z + 0.00011543468761615529
    pv = pv * z + -0.0011873282154804543
    pv = pv * z + 0.009973557010035817
    pv = pv * z + -0.06649038006690544
    pv = pv * z + 0.3989422804014327
    return x * (0.5 + x * pv), 0.5 + x * pd  # (x (...): -0.0 stays -0.0)


@njit(**ELEM)
def _gelu_v64(x, a, b, c):  # pragma: no cover - compiled
    # x Phi(x): (x / 2) erfc(|x| / sqrt 2) for x < 0, x - that for x >= 0 (x above 40)
    xc, h, g, g2 = _gelu_parts64(x)
    t = (((0.5 * xc) * h) * g) * g2
    r = t if xc < 0 else xc - t
    v0, d0 = _gelu_near0(x)
    if x < 0.3 and x > -0.3:
        r = v0
    if x > 40.0:
        r = x
    return r


@njit(**ELEM)
def _gelu_d64(x, a, b, c):  # pragma: no cover - compiled
    # Phi(x) + x phi(x) = E (H / 2 + x / sqrt(2 pi)) for x < 0 (g2 last: rounded once
    # where subnormal), 1 + E (x / sqrt(2 pi) - H / 2) for x >= 0
    xc, h, g, g2 = _gelu_parts64(x)
    d = (g * (0.5 * h + xc * _INV_SQRT_2PI)) * g2
    if xc > 0:
        d = 1.0 + g * (xc * _INV_SQRT_2PI - 0.5 * h)
    v0, d0 = _gelu_near0(x)
    if x < 0.3 and x > -0.3:
        d = d0
    return _root_gelu(x, d)


_GELU_C2 = 1.5957691216057308  # 2 sqrt(2/pi)
_GELU_K = 0.044715
_SQRT_2_OVER_PI = 0.7978845608028654


@njit(**ELEM)
def _gelu_tanh_s(x):  # pragma: no cover - compiled
    # x clipped to [-15, 15] (|w| <= 265): beyond, the float32 results are those of the
    # clip (-0.0 below, x and 1 above)
    xc = _clip(x, -15.0, 15.0)
    w = _GELU_C2 * (xc + _GELU_K * (xc * (xc * xc)))
    s, t = sigmoid2_f32(w)
    return xc, s, t


@njit(**ELEM)
def _gelu_tanh_v(x, a, b, c):  # pragma: no cover - compiled
    # x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)
    xc, s, t = _gelu_tanh_s(x)
    return (-15.0 if x < -15.0 else x) * s


@njit(**ELEM)
def _gelu_tanh_d(x, a, b, c):  # pragma: no cover - compiled
    # s (1 + 2 x t u')
    xc, s, t = _gelu_tanh_s(x)
    du = _SQRT_2_OVER_PI * (1.0 + (3.0 * _GELU_K) * (xc * xc))
    return _root_gelu_tanh32(x, s * (1.0 + 2.0 * xc * t * du))


@njit(**ELEM)
def _squareplus_s(u, a, b):  # pragma: no cover - compiled
    # sqrt(u^2 + a) = hypot(u, b), b = sqrt(a): as written while the larger of u and b is
    # below 1e150 (no overflow), else scaled by it, m sqrt(1 + (n/m)^2); NaN gives NaN
    m = u if u > b else b
    n = b if u > b else u
    r = n / m
    s = m * math.sqrt(1.0 + r * r)
    if m < 1e150:
        s = math.sqrt(u * u + a)
    return s


@njit(**ELEM)
def _squareplus_v(x, a, b, c):  # pragma: no cover - compiled
    # a = b, b = sqrt(b), c = b / 4: u = |x|, s = hypot(u, sqrt b), h = (s + u) / 2;
    # c / h for x < 0 (no cancellation), h otherwise (-inf gives c / inf = 0)
    u = -x if x < 0 else x
    h = 0.5 * _squareplus_s(u, a, b) + 0.5 * u
    return c / h if x < 0 else h


@njit(**ELEM)
def _squareplus_d(x, a, b, c):  # pragma: no cover - compiled
    # q = (c / s) / h for x < 0, 1 - q otherwise (0 and 1 at -inf and inf)
    u = -x if x < 0 else x
    s = _squareplus_s(u, a, b)
    q = (c / s) / (0.5 * s + 0.5 * u)
    return q if x < 0 else 1.0 - q


@njit(**ELEM)
def _sparse_plus_v(x, a, b, c):  # pragma: no cover - compiled
    # where(x <= -1, 0, where(x >= 1, x, (xm + 1) (xm + 1) / 4)), xm = clip(x, -1, 1)
    xm = _clip(x, -1.0, 1.0)
    r = (xm + 1.0) * (xm + 1.0) / 4.0
    if x >= 1.0:
        r = x
    if x <= -1.0:
        r = 0.0
    return r


@njit(**ELEM)
def _sparse_plus_d(x, a, b, c):  # pragma: no cover - compiled
    # where(x <= -1, 0, where(x >= 1, 1, (xm + 1) / 2))
    xm = _clip(x, -1.0, 1.0)
    r = (xm + 1.0) / 2.0
    if x >= 1.0:
        r = 1.0
    if x <= -1.0:
        r = 0.0
    return r


# ---------------------------------------------------------------------------
# float32 element functions (loops ``<name>_f32_<kind>``): the argument is clipped to
# where the float32 result is still decided (beyond, the result is that of the clip:
# the same rounding, the same signed zero), so that the lean functions of
# relukit._kernels_math (relative error < 1e-14, no special cases) can be used
# ---------------------------------------------------------------------------


@njit(**ELEM)
def _silu_v32(x, a, b, c):  # pragma: no cover - compiled
    # x / (1 + e^-x); below -120 the float32 result is -0.0, that of x = -120
    xc = _clip(x, -120.0, 120.0)
    return (-120.0 if x < -120.0 else x) / (1.0 + exp_f32(-xc))


@njit(**ELEM)
def _silu_d32(x, a, b, c):  # pragma: no cover - compiled
    # sigmoid(x) (1 + x sigmoid(-x)), x clipped to [-120, 120] (-0.0 below, 1 above);
    # for x < 0, 1 + x sigmoid(-x) = ((1 + x) + e) / (1 + e), e = e^x, with 1 + x exact
    # (x is a float32): the only cancellation left is within 0.02 of the zero
    xc = _clip(x, -120.0, 120.0)
    pos = xc >= 0
    e = exp_f32(-xc if pos else xc)
    other = e / (1.0 + e)
    one = 1.0 - other
    s = one if pos else other
    q = ((1.0 + xc) + e) * one
    if pos:
        q = 1.0 + xc * other
    return _root_silu32(x, s * q)


@njit(**ELEM)
def _softplus_v32(x, a, b, c):  # pragma: no cover - compiled
    # as _softplus_v; -|z| clipped at -708 (exp_f32's domain): below, e / beta rounds to
    # +0 in float32 for beta >= 1e-262 (relukit._kernels_specs leaves smaller betas of
    # float32 arrays to the NumPy path), and z + e is z
    z = x * a
    pos = z > 0
    zn = -z if pos else z
    e = exp_f32(-708.0 if zn < -708.0 else zn)
    inv = 1.0 / a  # (hoisted out of the loop: a product in the loop, not a division)
    sp = ((z if pos else 0.0) + log1p01_f32(e)) * inv
    return x if z > b else sp


@njit(**ELEM)
def _softplus_d32(x, a, b, c):  # pragma: no cover - compiled
    # sigmoid(z) (below -700 it rounds to +0 in float32, as sigmoid(-700))
    z = x * a
    return 1.0 if z > b else sigmoid_f32(z)


@njit(**ELEM)
def _mish_nm32(xc):  # pragma: no cover - compiled
    # tanh(softplus(x)) = n / m, n = e (e + 2), m = n + 2, e = exp(x) (x <= 40: no
    # overflow; n / m is within 2 ulp relative everywhere)
    e = exp_f32(xc)
    n = e * (e + 2.0)
    return n, n + 2.0, e


@njit(**ELEM)
def _mish_v32(x, a, b, c):  # pragma: no cover - compiled
    # x tanh(softplus(x)), x clipped to [-120, 40] (-0.0 below, x above)
    n, m, e = _mish_nm32(_clip(x, -120.0, 40.0))
    return (-120.0 if x < -120.0 else x) * n / m


@njit(**ELEM)
def _mish_d32(x, a, b, c):  # pragma: no cover - compiled
    # -0.0 on [-745.13, -120] as at -120; +0.0 below, where the NumPy path's exp(x)
    # underflows to 0 (the same signed zeros)
    # n / m + x 4 e (e + 1) / m**2 over one division
    xc = _clip(x, -120.0, 40.0)
    n, m, e = _mish_nm32(xc)
    d = _root_mish32(x, (n * m + xc * ((4.0 * e) * (e + 1.0))) / (m * m))
    return 0.0 if x < -745.1332191019412 else d


@njit(**ELEM)
def _expm1_32(x):  # pragma: no cover - compiled
    # expm1(x) for x <= 0 clipped at -60 (where it is -1 in float64), NaN passed on
    return expm1_neg_f32(-60.0 if x < -60.0 else x)


@njit(**ELEM)
def _exp_neg32(x):  # pragma: no cover - compiled
    # exp(x) for x <= 0 clipped at -708 (exp_f32's domain): below, it rounds to 0 in
    # float32 (celu's derivative, exp(x / alpha))
    return exp_f32(-708.0 if x < -708.0 else x)


@njit(**ELEM)
def _times_exp_neg32(a, x):  # pragma: no cover - compiled
    # a exp(x) for x <= 0 clipped at -600 (exp_f32_times' domain): below, it rounds to 0
    # in float32 (the same signed zeros) for 1e-30 <= |a| <= 1e30; relukit._kernels_specs
    # leaves other alphas of float32 arrays to the NumPy path (selu's is 1.76)
    return exp_f32_times(-600.0 if x < -600.0 else x, a)


@njit(**ELEM)
def _elu_v32(x, a, b, c):  # pragma: no cover - compiled
    r = a * _expm1_32(-1.0 if x > 0 else x)
    return x if x > 0 else r


@njit(**ELEM)
def _elu_d32(x, a, b, c):  # pragma: no cover - compiled
    r = _times_exp_neg32(a, -1.0 if x > 0 else x)
    return 1.0 if x > 0 else r


@njit(**ELEM)
def _selu_v32(x, a, b, c):  # pragma: no cover - compiled
    r = b * _expm1_32(-1.0 if x > 0 else x)
    return a * x if x > 0 else r


@njit(**ELEM)
def _selu_d32(x, a, b, c):  # pragma: no cover - compiled
    r = _times_exp_neg32(b, -1.0 if x > 0 else x)
    return a if x > 0 else r


# celu, float32 arrays: x / alpha as x * (1 / alpha) (b, relukit._kernels_specs), a
# product in place of a division; off by 2**-52 |x / alpha| at most, 2.3e-14 relative in
# exp(x / alpha) where its float32 rounding is not 0 (x / alpha > -104), less in the value


@njit(**ELEM)
def _celu_v32(x, a, b, c):  # pragma: no cover - compiled
    xn = -1.0 if x > 0 else x
    r = a * _expm1_32(xn * b)
    return x if x > 0 else r


@njit(**ELEM)
def _celu_d32(x, a, b, c):  # pragma: no cover - compiled
    xn = -1.0 if x > 0 else x
    r = _exp_neg32(xn * b)
    return 1.0 if x > 0 else r


@njit(**ELEM)
def _squareplus_v32(x, a, b, c):  # pragma: no cover - compiled
    # as _squareplus_v; u^2 + a cannot overflow for a float32 x (u^2 < 1.2e77), so
    # sqrt(u^2 + a) as written (u^2 exact, two roundings in float64). `1.0 *` widens u:
    # numba's float() leaves a float32 as it is, and u * u must not be a float32 product
    u = 1.0 * (-x if x < 0 else x)
    h = 0.5 * math.sqrt(u * u + a) + 0.5 * u
    return c / h if x < 0 else h


@njit(**ELEM)
def _squareplus_d32(x, a, b, c):  # pragma: no cover - compiled
    u = 1.0 * (-x if x < 0 else x)  # (float64, as in _squareplus_v32)
    s = math.sqrt(u * u + a)
    q = (c / s) / (0.5 * s + 0.5 * u)
    return q if x < 0 else 1.0 - q


# ---------------------------------------------------------------------------
# the kernels: <name>_<kind> for the kinds value, derivative, both and backward
# ---------------------------------------------------------------------------

plug_all(
    globals(),
    SMOOTH,
    {
        "elu": (_elu_v, _elu_d),
        "selu": (_selu_v, _selu_d),
        "celu": (_celu_v, _celu_d),
        "softplus": (_softplus_v, _softplus_d),
        "silu": (_silu_v, _silu_d),
        "mish": (_mish_v, _mish_d),
        "hardswish": (_hardswish_v, _hardswish_d),
        "hardsigmoid": (_hardsigmoid_v, _hardsigmoid_d),
        "gelu": (_gelu_v64, _gelu_d64),
        "gelu_tanh": (_gelu_tanh_v, _gelu_tanh_d),
        "squareplus": (_squareplus_v, _squareplus_d),
        "sparse_plus": (_sparse_plus_v, _sparse_plus_d),
        # float32 arrays (relukit._kernels.static_plan): the lean float32 functions
        "elu_f32": (_elu_v32, _elu_d32),
        "selu_f32": (_selu_v32, _selu_d32),
        "celu_f32": (_celu_v32, _celu_d32),
        "softplus_f32": (_softplus_v32, _softplus_d32),
        "silu_f32": (_silu_v32, _silu_d32),
        "mish_f32": (_mish_v32, _mish_d32),
        "squareplus_f32": (_squareplus_v32, _squareplus_d32),
        "gelu_f32": (_gelu_v32, _gelu_d32),
        "hardswish_f32": (_hardswish_v32, _hardswish_d32),
        "hardsigmoid_f32": (_hardsigmoid_v32, _hardsigmoid_d32),
    },
)
