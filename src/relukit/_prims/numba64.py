"""The numba primitives at float64 accuracy: the namespace ``m`` of the float64 kernels.

This module *is* a formula namespace (see :mod:`relukit._prims`): the kernels compile
each entry's formula with ``m`` bound to this module, so ``m.exp`` in a formula is
:func:`exp` here. Every function is written with arithmetic, comparisons, bit casts and
LLVM's fused multiply-add only, so that a loop calling it compiles to SIMD code (numba
from pip calls the C library for ``math.exp``: one scalar call per element, which LLVM
cannot vectorise). Importing this module imports numba; nothing is compiled until a
kernel is first called.

Methods
-------
``exp``
    ``exp(x) = 2**k * exp(r)``, ``k = round(x / ln 2)``, ``r = x - k ln 2`` formed with
    a two-part ln 2 (exact ``k * LN2_HI``), ``|r| <= 0.35``, Taylor polynomial of degree
    13 (remainder < 2**-56); ``2**k`` is built from its bits in two halves, so that
    subnormal results are reached without ``ldexp``. About 1 ulp.
``expm1_neg`` (x <= 0)
    ``exp(x) = 2**k (1 + q)`` as in ``exp``, then ``2**k q + (2**k - 1)``, where
    ``2**k - 1`` is exact: one rounding at the end.
``log1p01`` (0 <= e <= 1)
    ``w = 1 + e`` with its rounding error ``c = (e - (w - 1)) / w`` kept; ``w = 2**k m``
    with ``m`` in [0.71, 1.42]; ``log m = 2 atanh(s)``, ``s = (m - 1) / (m + 1)``, odd
    series to ``s**23``.
``erfcx`` (0 <= a <= 27.3)
    ``erfcx(a) = t P(s)``, ``t = 4 / (4 + a)``, ``P`` a polynomial of degree 22 in
    ``s = C1 t + C0`` (``tools/fit_erfcx.py``; erfcx / t lies in [0.16, 1], so its Horner
    sums do not cancel), with the rounding error of ``4 + a`` put back into ``t`` and
    ``s``: within 4.5 ulp (about 1e-15 relative).
``square_err``, ``prod_err``, ``fma``
    the rounding error of a product, exactly, by one fused multiply-add.
"""

from __future__ import annotations

import math
import sys

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: the primitives: inlined into the loops by numba itself (LLVM's inliner leaves a
#: function as large as an inlined ``exp`` as a call, and the loop then cannot
#: vectorise); no division checks (error_model="numpy", which would stop
#: vectorisation); IEEE semantics for NaN, inf and -0.0 (no fastmath) except that a
#: product followed by a sum may be fused (``contract``)
ELEM = {"fastmath": {"contract"}, "nogil": True, "error_model": "numpy", "inline": "always"}

#: formulas are compiled (lowered) for this namespace, with :data:`JIT`
BACKEND = "numba"


def JIT(fn):
    """Compile a formula (or a helper) for this namespace: inlined into its callers."""
    return njit(**ELEM)(fn)


#: this namespace gives results to float64 accuracy (the lean float32 one: ``numba32``)
LEAN = False
#: the working precision is float64 (float32 only in some Array API namespaces)
F32 = False
#: below this, ``exp(x)`` is subnormal (fewer bits): formulas switch to ``exp(x/2)**2``
EXP_TAIL = -700.0

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


@njit(**ELEM)
def _taylor(r):  # pragma: no cover - compiled
    """``(exp(r) - 1 - r) / r**2`` for |r| <= ln 2 / 2: Taylor's coefficients to 1/13!
    (shared by :func:`exp` and :func:`expm1_neg`)."""
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
    return p


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
    p = _taylor(r) * r + 1.0
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
    q = (_taylor(r) * r + 1.0) * r
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


# ---------------------------------------------------------------------------
# the rest of the namespace: selections, exact errors, compound functions
# ---------------------------------------------------------------------------


@njit(**ELEM)
def where(c, a, b):  # pragma: no cover - compiled
    """``a`` where ``c`` holds, else ``b`` (NumPy's ``where`` on one element)."""
    return a if c else b


@njit(**ELEM)
def clip(x, lo, hi):  # pragma: no cover - compiled
    """``x`` limited to ``[lo, hi]`` by two selections; NaN passes through."""
    r = lo if x < lo else x
    return hi if x > hi else r


@intrinsic
def pos(typingctx, x):  # pragma: no cover - compiled
    """``max(0, x)`` in x's own dtype: ``(0 if x < 0 else x) + 0.0``. LLVM makes the
    selection one vector ``max`` (which passes NaN on); the addition turns ``-0.0`` into
    ``+0.0`` (and cannot be folded away: the selection may give ``-0.0``)."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        v = args[0]
        zero = ir.Constant(v.type, 0.0)
        return builder.fadd(builder.select(builder.fcmp_ordered("<", v, zero), zero, v), zero)

    return x(x), codegen


@njit(**ELEM)
def isinf(x):  # pragma: no cover - compiled
    """``x`` is +inf or -inf."""
    return x == math.inf or x == -math.inf


@njit(**ELEM)
def sqrt(x):  # pragma: no cover - compiled
    """The correctly rounded square root (one instruction)."""
    return math.sqrt(x)


@njit(**ELEM)
def div(a, b):  # pragma: no cover - compiled
    """``a / b``, rounded once (the lean namespace multiplies by ``1 / b``)."""
    return a / b


@njit(**ELEM)
def expm1(x):  # pragma: no cover - compiled
    """``exp(x) - 1`` for any x: :func:`expm1_neg` for x <= 0, ``-exp(x) expm1(-x)``
    above (two roundings more: within 2 ulp; no cancellation)."""
    neg = x <= 0
    r = expm1_neg(x if neg else -x)
    return r if neg else -(exp(x) * r)


@njit(**ELEM)
def times_exp(a, x):  # pragma: no cover - compiled
    """``a * exp(x)`` (x <= 0): the product rounded once more than ``exp``."""
    return a * exp(x)


@njit(**ELEM)
def sigmoid(z):  # pragma: no cover - compiled
    """``sigmoid(z)`` to full relative accuracy (the first half of :func:`sigmoid2`)."""
    s, t = sigmoid2(z)
    return s


@njit(**ELEM)
def square_err(x, p):  # pragma: no cover - compiled
    """``x * x - p`` exactly, for ``p = fl(x * x)`` (no overflow or underflow)."""
    return _fma(x, x, -p)


@njit(**ELEM)
def prod_err(a, b, p):  # pragma: no cover - compiled
    """``a * b - p`` exactly, for ``p = fl(a * b)`` (no overflow or underflow)."""
    return _fma(a, b, -p)


@njit(**ELEM)
def fma(a, b, c):  # pragma: no cover - compiled
    """``a * b + c`` rounded once."""
    return _fma(a, b, c)


# the shared formulas, compiled for this namespace (written once in relukit._prims.shared)
from relukit._prims import lower as _lower  # noqa: E402
from relukit._prims import shared as _shared  # noqa: E402

_THIS = sys.modules[__name__]
_erfcx = _lower(_shared.erfcx, _THIS)
_sigmoid2 = _lower(_shared.sigmoid2, _THIS)


@njit(**ELEM)
def sigmoid2(z):  # pragma: no cover - compiled
    """``(sigmoid(z), sigmoid(-z))``, both to full relative accuracy (NaN: NaN, NaN):
    the shared formula of :mod:`relukit._prims.shared`."""
    return _sigmoid2(_THIS, z)


@njit(**ELEM)
def erfcx(a):  # pragma: no cover - compiled
    """``erfcx(a) = exp(a**2) erfc(a)`` for 0 <= a <= 27.3, within 4.5 ulp (the shared
    polynomial of :mod:`relukit._prims.shared`)."""
    return _erfcx(_THIS, a)


@njit(**ELEM)
def tiny_half(x, r):  # pragma: no cover - compiled
    """``r``, except where ``x / 2`` is a subnormal tie: there ``x / 2`` rounded up.

    For a function ``f(x) = x/2 + c x**2 + ...`` with ``c > 0`` (gelu, silu, hardswish
    next to 0), ``x/2`` rounds to even at a tie (an odd subnormal ``x``) although the
    true value lies above it: ``(x + 2**-1074) / 2`` is then the correct rounding.
    """
    h = 0.5 * x
    up = 0.5 * (x + 5e-324)
    if up == 0.0:
        up = h  # -5e-324: -0.0 (the true value is negative), not +0.0
    return up if h + h != x else r


# the lean namespace's own names (relukit._prims.numba32), here in their general forms:
# numba types the whole of a formula compiled for this namespace, the `if m.LEAN:` block
# that it never runs included, so the names that block uses must exist here too
exp_near = exp
sigmoid2_near = sigmoid2


@njit(**ELEM)
def tiny_nudge(x):  # pragma: no cover - compiled
    """``x`` (float64 results round with :func:`tiny_half`; the lean namespace's nudge
    is for float32 results, and only its lean blocks, never run here, name it)."""
    return x


#: the map of the lean erfcx polynomial's variable (:func:`erfcx_s`), for
#: 0 <= a <= 15 / sqrt 2: T0 = 4 / (4 + 15 / sqrt 2), C1 = 2 / (1 - T0),
#: C0 = -1 - 2 T0 / (1 - T0)
_ERFCX_T0 = 0.27384877586728346
_ERFCX_C1 = 2.7542472332656507
_ERFCX_C0 = -1.7542472332656507


@njit(**ELEM)
def erfcx_s(a):  # pragma: no cover - compiled
    """``s = C1 t + C0`` with ``t = 4 / (4 + a)``: the variable of the lean namespace's
    ``erfcx`` polynomial, in [-1, 1] for 0 <= a <= 15 / sqrt 2 (no clip: the caller
    bounds ``a``). The lean namespace's name (gelu's lean derivative fits its own
    polynomial in it), defined here once: that namespace imports it."""
    return (4.0 / (4.0 + a)) * _ERFCX_C1 + _ERFCX_C0
