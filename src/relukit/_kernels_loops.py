"""The loops of the numba kernels, written once and plugged per formula (a leaf).

Each kernel is a serial loop over 1-D C-contiguous arrays of one dtype that calls an
element function made from an entry's formula (:mod:`relukit._kernels_build`): the
loops of all entries differ only in that function. They are written here once per
kind, as plain Python functions (templates) whose element functions are the global
names ``_v`` (value), ``_d`` (derivative), ``_vd`` (both at once: the entry's
``Math.both``, which computes the parts the two share once) and ``_w`` (the working
precision: ``float64`` for the smooth entries, the identity for the exact ones), and :func:`plug` makes one
numba kernel per formula and kind by giving a template's code new globals. numba
resolves globals when it compiles, so each plugged kernel is compiled with its
element function inlined, as if it had been written out. Nothing is executed from
source text.

Every loop applies the same two rules, whatever the formula:

* NaN in gives the input's NaN out (its sign and payload, quieted): ``_quiet``; in
  the backward loops too, whatever the gradient ``g`` is there;
* ``at_kink`` (``P[3]``, when ``kk`` is 1) replaces the derivative exactly at the kinks
  ``P[4]`` and ``P[5]``: ``_kink`` (the kernels made for calls without ``at_kink`` are
  plugged with ``_no_kink`` in its place).

Arguments: ``A`` holds the formula's arguments (float64 for the smooth entries, the
array's dtype for the exact ones: a parameter meets the array in its dtype, as in NumPy
and PyTorch), ``P`` the kink block in the array's dtype. The kinds are ``value``,
``derivative``, ``both`` (value and derivative in one pass), ``backward`` (``g *
derivative``) and ``backward_y`` (``g * derivative`` from the output), and the
``channel_*`` loops of PReLU (one weight per channel: ``x`` viewed as ``(blocks,
inner)``, block ``b`` in channel ``b % C``).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types as nbtypes
from numba.extending import intrinsic

__all__ = ["CHANNEL", "GATED", "KINDS", "plug"]

#: the plugged globals (each kernel gets its own)
_v: Any = None
_d: Any = None
_vd: Any = None
_w: Any = None
#: the gated loops' float64 element functions, and whether ``_v``/``_d`` are lean ones
_v64: Any = None
_d64: Any = None
_LEAN: bool = False
#: the value loop's element function without ``tiny_nudge`` (:func:`_value_redo_tiny`)
_vb: Any = None


@intrinsic
def _quiet(typingctx, x):  # pragma: no cover - compiled
    """``x`` with its quiet bit set (a NaN stays the same NaN, quieted), in x's own
    dtype, by integer operations: LLVM may treat ``x + 0.0`` and ``x`` as the same NaN."""
    if not isinstance(x, nbtypes.Float):
        return None
    width = x.bitwidth
    mask = 1 << (51 if width == 64 else 22)
    sig = x(x)

    def codegen(context, builder, signature, args):
        fty = ir.DoubleType() if width == 64 else ir.FloatType()
        ity = ir.IntType(width)
        bits = builder.bitcast(args[0], ity)
        return builder.bitcast(builder.or_(bits, ity(mask)), fty)

    return sig, codegen


@njit(inline="always", fastmath=False, nogil=True)
def _kink(v, r, kk, kv, k0, k1):  # pragma: no cover - compiled
    # where(x == k0, at_kink, d), then where(x == k1, at_kink, d), when at_kink is given
    if kk != 0:
        if v == k0:
            return kv
        if v == k1:
            return kv
    return r


@njit(inline="always", fastmath=False, nogil=True)
def _no_kink(v, r, kk, kv, k0, k1):  # pragma: no cover - compiled
    # _kink where kk is 0 (no at_kink, or an entry without kinks): plugged in as
    # ``_kink``, so that the loop carries no test of kk, which LLVM keeps in the
    # vectorised loop (up to a third of a smooth derivative's time)
    return r


def _value(x, y, A, P):  # pragma: no cover - compiled
    a0, a1, a2 = A[0], A[1], A[2]
    for i in range(x.shape[0]):
        v = x[i]
        r = _v(_w(v), a0, a1, a2)
        y[i] = _quiet(v) if v != v else r


def _value_redo_tiny(x, y, A, P):  # pragma: no cover - compiled
    # _value for float32 formulas that nudge x next to 0 (``m.tiny_nudge``): the loop
    # with ``_vb``, the formula without the nudge, keeping the least ``|x|`` bits less
    # one (0 wraps to the largest: a zero needs no nudge), then the elements with
    # 0 < |x| < 2**-125, rare, again with ``_v``: the same results in fewer vector
    # operations than the nudge on every element (y is not x: _value_inplace has the nudge)
    a0, a1, a2 = A[0], A[1], A[2]
    lo = np.int32(0x7FFFFFFF)
    for i in range(x.shape[0]):
        v = x[i]
        r = _vb(_w(v), a0, a1, a2)
        y[i] = _quiet(v) if v != v else r
        lo = min(lo, _tiny_key32(v))
    if lo < _TINY_BITS - 1:
        for i in range(x.shape[0]):
            v = x[i]
            if v != 0 and abs(v) < _TINY:
                y[i] = _v(_w(v), a0, a1, a2)


def _value_inplace(x, A, P):  # pragma: no cover - compiled
    # _value with y = x: one array, so that the loop is vectorised (with two, the
    # compiler checks at run time whether they overlap, and in place they do)
    a0, a1, a2 = A[0], A[1], A[2]
    for i in range(x.shape[0]):
        v = x[i]
        r = _v(_w(v), a0, a1, a2)
        x[i] = _quiet(v) if v != v else r


def _derivative(x, d, A, P, kk):  # pragma: no cover - compiled
    a0, a1, a2 = A[0], A[1], A[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        r = _kink(v, _d(_w(v), a0, a1, a2), kk, kv, k0, k1)
        d[i] = _quiet(v) if v != v else r


def _both(x, y, d, A, P, kk):  # pragma: no cover - compiled
    a0, a1, a2 = A[0], A[1], A[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        r, s = _vd(_w(v), a0, a1, a2)
        s = _kink(v, s, kk, kv, k0, k1)
        nan = v != v
        y[i] = _quiet(v) if nan else r
        d[i] = _quiet(v) if nan else s


def _backward(x, g, o, A, P, kk):  # pragma: no cover - compiled
    # g * derivative, the derivative rounded to the dtype first (as NumPy's
    # grad_out * derivative); o may be g or x (each read before it is written). Where x
    # is NaN, x's NaN whatever g is: a product of two NaNs may give either, as the
    # compiler orders the operands (the backward loops below do the same)
    a0, a1, a2 = A[0], A[1], A[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]
        r = _kink(v, _d(_w(v), a0, a1, a2), kk, kv, k0, k1)
        nan = v != v
        o[i] = _quiet(v) if nan else r
        o[i] = _quiet(v) if nan else gi * o[i]


def _backward_y(y, g, o, A, P, kk):  # pragma: no cover - compiled
    # g * derivative from the output y (no at_kink: the output cannot tell a kink)
    a0, a1, a2 = A[0], A[1], A[2]
    for i in range(y.shape[0]):
        v = y[i]
        gi = g[i]
        r = _d(_w(v), a0, a1, a2)
        nan = v != v
        o[i] = _quiet(v) if nan else r
        o[i] = _quiet(v) if nan else gi * o[i]


# ---------------------------------------------------------------------------
# one weight per channel (PReLU): the weight (in the dtype) per block of ``inner``
# ---------------------------------------------------------------------------


def _ch_value(x, y, A, P, W, C, inner):  # pragma: no cover - compiled
    for b in range(x.shape[0] // inner):
        w = W[b % C]
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            r = _v(_w(v), w, w, w)
            y[i] = _quiet(v) if v != v else r


def _ch_derivative(x, d, A, P, kk, W, C, inner):  # pragma: no cover - compiled
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        w = W[b % C]
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            r = _kink(v, _d(_w(v), w, w, w), kk, kv, k0, k1)
            d[i] = _quiet(v) if v != v else r


def _ch_both(x, y, d, A, P, kk, W, C, inner):  # pragma: no cover - compiled
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        w = W[b % C]
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            r = _v(_w(v), w, w, w)
            s = _kink(v, _d(_w(v), w, w, w), kk, kv, k0, k1)
            nan = v != v
            y[i] = _quiet(v) if nan else r
            d[i] = _quiet(v) if nan else s


def _ch_backward(x, g, o, A, P, kk, W, C, inner):  # pragma: no cover - compiled
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        w = W[b % C]
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            gi = g[i]
            r = _kink(v, _d(_w(v), w, w, w), kk, kv, k0, k1)
            nan = v != v
            o[i] = _quiet(v) if nan else r
            o[i] = _quiet(v) if nan else gi * o[i]


#: kind -> loop template
KINDS: Mapping[str, Callable[..., None]] = {
    "value": _value,
    "value_inplace": _value_inplace,
    "derivative": _derivative,
    "both": _both,
    "backward": _backward,
    "backward_y": _backward_y,
}
#: kind -> loop template, one weight per channel
CHANNEL: Mapping[str, Callable[..., None]] = {
    "value": _ch_value,
    "derivative": _ch_derivative,
    "both": _ch_both,
    "backward": _ch_backward,
}


def plug(
    template: Callable[..., Any],
    name: str,
    home: str,
    jit: Callable[[Callable[..., Any]], Any],
    **elements: Any,
) -> Any:
    """The numba kernel ``name``: ``template`` with the global names ``elements``.

    Parameters
    ----------
    template : function
        A template whose element functions are global names (``_v``, ``_d``, ``_w``...).
    name : str
        The kernel's ``__qualname__`` (its numba cache file is named from it).
    home : str
        The module the kernel belongs to (its ``__module__``).
    jit : callable
        Compiles the plugged function (``numba.njit`` with the kernels' options).
    **elements
        The globals to plug in.

    Examples
    --------
    >>> import numpy as np
    >>> from numba import njit
    >>> from relukit import _kernels_loops as kl
    >>> relu = njit(lambda v, a0, a1, a2: 0.0 if v <= 0 else v)
    >>> k = kl.plug(kl._value, "my_relu", __name__, njit, _v=relu, _w=njit(lambda v: v))
    >>> y = np.empty(3)
    >>> k(np.array([-1.0, 0.5, np.nan]), y, np.zeros(3), np.zeros(6)); y.tolist()
    [0.0, 0.5, nan]
    """
    unknown = set(elements) - set(template.__globals__)
    if unknown:  # a misspelt name would leave the template's own (None) in place
        raise ValueError(f"the loop templates have no global {sorted(unknown)}")
    code = template.__code__.replace(co_name=name.rpartition(".")[2])
    fn = types.FunctionType(code, {**template.__globals__, **elements}, code.co_name)
    fn.__qualname__ = name
    fn.__module__ = home
    return jit(fn)


# ---------------------------------------------------------------------------
# gated entries: y = f(a) * b for a gate a and an input b (swiglu, geglu, reglu, glu)
# ---------------------------------------------------------------------------
#
# Computed in float64 and rounded once (f(a) is not rounded to the dtype before the
# product, as eager torch's F.silu(a) * b rounds it); the exact entries (reglu,
# bilinear) in the dtype itself (``_w``), which gives the same results: their f(a) and
# f'(a) are the dtype's numbers, and the float64 product of two of them is exact, so
# rounding it once is the dtype's own product (reglu's value loop 1.3-1.6x faster). NaN:
# a NaN gate gives the gate's NaN, else a NaN input b gives b's NaN (quieted). The
# derivatives: with respect to the gate f'(a) * b (at_kink at the gate's kinks), with
# respect to b f(a).
#
# float32 (``_LEAN``): f(a) and f'(a) come from the lean primitives, as in the one-input
# float32 kernels, where the entry's formulas are accurate in their tails as far as a
# product with any finite float32 b needs (``Math.lean_tails``: down to 1e-84). Beyond
# the tails they clip to a tiny value where the float64 value is 0, which only shows
# where b is infinite (tiny * inf = inf, 0 * inf = nan). So the elements whose b is not
# finite take f(a) and f'(a) for their products with b from the float64 element
# functions (``_v64``, ``_d64``): one loop (vectorised, as the one-input kernels) finds
# whether there are any, and a second one redoes just those products (d/d b = f(a)
# does not meet b: it stays the lean one, the one-input entry's float32 rounding).
# Each element's result depends on its own inputs alone.
# With ``_LEAN`` False (float64, float16, and the entries whose lean tails are short)
# numba folds all of it away.

_INF = float("inf")


@intrinsic
def _tiny_key32(typingctx, x):  # pragma: no cover - compiled
    """``|x|``'s float32 bits less one, as an int32 (0 wraps to the largest, 0x7FFFFFFF):
    below ``_TINY_BITS - 1`` exactly where ``0 < |x| < 2**-125``. In 32-bit integer
    operations (numba's own arithmetic would widen them to 64 bits)."""
    if not isinstance(x, nbtypes.Float) or x.bitwidth != 32:
        return None
    sig = nbtypes.int32(x)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        a = builder.and_(builder.bitcast(args[0], i32), i32(0x7FFFFFFF))
        return builder.and_(builder.sub(a, i32(1)), i32(0x7FFFFFFF))

    return sig, codegen


@intrinsic
def _abs_bits32(typingctx, x):  # pragma: no cover - compiled
    """The IEEE bits of the float32 ``|x|`` as an int32 (a bitcast and a mask)."""
    if not isinstance(x, nbtypes.Float) or x.bitwidth != 32:
        return None
    sig = nbtypes.int32(x)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        return builder.and_(builder.bitcast(args[0], i32), i32(0x7FFFFFFF))

    return sig, codegen


@njit(inline="always", fastmath=False, nogil=True)
def _any_nonfinite(b):  # pragma: no cover - compiled
    # an integer max over the bits (a float comparison would not vectorise)
    hb = np.int32(0)
    for i in range(b.shape[0]):
        hb = max(hb, _abs_bits32(b[i]))
    return hb >= _INF_BITS


#: the bits of the float32 inf: ``|b|``'s bits at least this, b is not finite
_INF_BITS = 0x7F800000
#: 2**-125 and its float32 bits: ``tiny_nudge`` changes only ``0 < |x|`` below it
_TINY = 2.350988701644575e-38
_TINY_BITS = 0x01000000


@njit(inline="always", fastmath=False, nogil=True)
def _same_data(x, y):  # pragma: no cover - compiled
    return x.ctypes.data == y.ctypes.data


@njit(inline="always", fastmath=False, nogil=True)
def _nan2(va, vb, r):  # pragma: no cover - compiled
    if va != va:
        return _quiet(va)
    if vb != vb:
        return _quiet(vb)
    return r


def _g_value(a, b, y, A, P):  # pragma: no cover - compiled
    a0, a1, a2 = A[0], A[1], A[2]
    hb = np.int32(0)  # the largest |b| seen, as bits (in the loop: no pass over b)
    for i in range(a.shape[0]):
        va = a[i]
        vb = b[i]
        y[i] = _nan2(va, vb, _v(_w(va), a0, a1, a2) * _w(vb))
        if _LEAN:
            hb = max(hb, _abs_bits32(vb))
    if _LEAN and hb >= _INF_BITS:
        for i in range(a.shape[0]):
            va = a[i]
            vb = b[i]
            if not abs(vb) < _INF:
                y[i] = _nan2(va, vb, _v64(_w(va), a0, a1, a2) * _w(vb))


def _g_derivative(a, b, da, db, A, P, kk):  # pragma: no cover - compiled
    a0, a1, a2 = A[0], A[1], A[2]
    kv, k0, k1 = P[3], P[4], P[5]
    hb = np.int32(0)
    for i in range(a.shape[0]):
        va = a[i]
        vb = b[i]
        fv, fd = _vd(_w(va), a0, a1, a2)
        fd = _kink(va, fd, kk, kv, k0, k1)
        da[i] = _nan2(va, vb, fd * _w(vb))
        db[i] = _quiet(va) if va != va else fv
        if _LEAN:
            hb = max(hb, _abs_bits32(vb))
    if _LEAN and hb >= _INF_BITS:
        for i in range(a.shape[0]):
            va = a[i]
            vb = b[i]
            if not abs(vb) < _INF:
                fd = _kink(va, _d64(_w(va), a0, a1, a2), kk, kv, k0, k1)
                da[i] = _nan2(va, vb, fd * _w(vb))


def _g_both(a, b, y, da, db, A, P, kk):  # pragma: no cover - compiled
    a0, a1, a2 = A[0], A[1], A[2]
    kv, k0, k1 = P[3], P[4], P[5]
    hb = np.int32(0)
    for i in range(a.shape[0]):
        va = a[i]
        vb = b[i]
        wb = _w(vb)
        fv, fd = _vd(_w(va), a0, a1, a2)
        fd = _kink(va, fd, kk, kv, k0, k1)
        y[i] = _nan2(va, vb, fv * wb)
        da[i] = _nan2(va, vb, fd * wb)
        db[i] = _quiet(va) if va != va else fv
        if _LEAN:
            hb = max(hb, _abs_bits32(vb))
    if _LEAN and hb >= _INF_BITS:
        for i in range(a.shape[0]):
            va = a[i]
            vb = b[i]
            if not abs(vb) < _INF:
                wa = _w(va)
                wb = _w(vb)
                fd = _kink(va, _d64(wa, a0, a1, a2), kk, kv, k0, k1)
                y[i] = _nan2(va, vb, _v64(wa, a0, a1, a2) * wb)
                da[i] = _nan2(va, vb, fd * wb)


def _g_backward(a, b, g, ga, gb, A, P, kk):  # pragma: no cover - compiled
    # the two input gradients in one pass: g times each derivative, the derivative
    # (f'(a) b and f(a)) rounded to the dtype first, as NumPy's grad_out * derivative
    # (and _backward); ga or gb may be g (each g[i] is read before it is written; where
    # one is, and b is not all finite, g is kept in gs first for the elements redone)
    a0, a1, a2 = A[0], A[1], A[2]
    kv, k0, k1 = P[3], P[4], P[5]
    n = a.shape[0]
    alias = _LEAN and (_same_data(ga, g) or _same_data(gb, g))
    keep = alias and _any_nonfinite(b)
    gs = np.empty(n if keep else 0, g.dtype)
    if _LEAN and keep:
        for i in range(n):
            gs[i] = g[i]
    hb = np.int32(0)
    for i in range(n):
        va = a[i]
        vb = b[i]
        gi = g[i]
        fv, fd = _vd(_w(va), a0, a1, a2)
        fd = _kink(va, fd, kk, kv, k0, k1)
        nan_a = va != va
        nan = nan_a or vb != vb
        ga[i] = _nan2(va, vb, fd * _w(vb))
        ga[i] = ga[i] if nan else ga[i] * gi
        gb[i] = _quiet(va) if nan_a else fv
        gb[i] = gb[i] if nan_a else gb[i] * gi
        if _LEAN:
            hb = max(hb, _abs_bits32(vb))
    if _LEAN and hb >= _INF_BITS:
        for i in range(n):
            va = a[i]
            vb = b[i]
            if not abs(vb) < _INF:
                fd = _kink(va, _d64(_w(va), a0, a1, a2), kk, kv, k0, k1)
                ga[i] = _nan2(va, vb, fd * _w(vb))
                if not (va != va or vb != vb):
                    ga[i] = ga[i] * (gs[i] if keep else g[i])


#: kind -> loop template, gated entries
GATED: Mapping[str, Callable[..., None]] = {
    "value": _g_value,
    "derivative": _g_derivative,
    "both": _g_both,
    "backward": _g_backward,
}
