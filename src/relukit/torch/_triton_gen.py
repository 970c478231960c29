"""Triton kernels generated from the catalogue's formulas (CUDA tensors; imported with Triton).

One kernel per direction per entry, made from the entry's :class:`~relukit.catalogue.Math`
exactly as the numba kernels are (:mod:`relukit._kernels_build`): the formula is lowered
for a Triton namespace (:mod:`relukit._prims.triton64`: float32 and float64 tensors,
computed in float64 and rounded once, as on the CPU; :mod:`relukit._prims.triton32`:
float16 and bfloat16, computed in float32 and rounded once, as PyTorch does), wrapped
into an element function and plugged into a kernel template of this module by giving
the template's code new globals. Nothing is written per entry here.

Kinds
-----
``value``
    ``y = f(x)``.
``backward``
    ``g * f'(x)``, with ``at_kink`` at the kinks.
``backward_y``
    ``g * f'`` from the output ``y``.
``value_codes``
    ``y = f(x)`` and the interval code of each ``x`` among the sorted ``bounds`` (code
    ``k``: ``bounds[k-1] < x <= bounds[k]``; NaN above all), packed as ``BITS``
    bit-planes of one bit per element (the layout of
    :func:`relukit.torch._fewbit.encode`): the saved state of the few-bit backward and
    of the 1-bit masks.

and ``codes_backward``, ``g * levels[code]`` from the packed codes (no formula).

Every kernel applies the rules of the CPU kernels: NaN in gives the input's NaN out
(values and gradients), ``at_kink`` replaces the derivative exactly at the kinks. The
formula's arguments and the kink block are read from small float64 tensors kept on the
device with the plan (no host synchronisation, no recompilation per value).

The tests run the kernels on the CPU under ``TRITON_INTERPRET=1`` and compile each of
them to GPU code (no GPU needed for that).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import torch
import triton
import triton.language as tl

from relukit._prims import lower
from relukit._prims import triton32 as _t32
from relukit._prims import triton64 as _t64

__all__ = ["BLOCK", "codes_backward_kernel", "kernel"]

#: elements per program of the elementwise kernels
BLOCK = 1024
#: bytes per program of each bit-plane in the codes kernels (8 elements per byte)
CODE_BLOCK = 128

# globals of the templates, given per kernel
_F: Any = None  # the lowered formula
_M: Any = None  # its namespace
_E: Any = None  # the element function (a lowered formula with its arguments)
_WT: Any = None  # the working dtype (tl.float64 or tl.float32)
_KT: Any = None  # the dtype kinks are compared in
_EV: Any = None  # a gated entry's value element function
_ED: Any = None  # and its derivative


# ---------------------------------------------------------------------------
# element functions: (m, x, a0, a1, a2) -> the formula with its first n arguments
# ---------------------------------------------------------------------------


def _e0(m, x, a0, a1, a2):  # pragma: no cover - compiled
    return _F(m, x)


def _e1(m, x, a0, a1, a2):  # pragma: no cover - compiled
    return _F(m, x, a0)


def _e2(m, x, a0, a1, a2):  # pragma: no cover - compiled
    return _F(m, x, a0, a1)


def _e3(m, x, a0, a1, a2):  # pragma: no cover - compiled
    return _F(m, x, a0, a1, a2)


_ELEMENTS = (_e0, _e1, _e2, _e3)


# ---------------------------------------------------------------------------
# kernel templates
# ---------------------------------------------------------------------------


@triton.jit
def _times(a, b, OUT):  # pragma: no cover - compiled
    """``a * b`` rounded once to ``OUT``'s dtype: the product of two numbers of that dtype
    formed exactly in a wider one (float64 for float32 and float64, float32 for float16
    and bfloat16) and rounded once, the same bits as the dtype's own product (IEEE), and
    what Triton's interpreter computes right for bfloat16 (which it stores as integers)."""
    if OUT.dtype.element_ty.primitive_bitwidth > 16:  # (float32, float64)
        r = a.to(tl.float64) * b.to(tl.float64)
    else:  # (float16, bfloat16)
        r = a.to(tl.float32) * b.to(tl.float32)
    return r.to(OUT.dtype.element_ty)


@triton.jit
def _quiet(x):  # pragma: no cover - compiled
    """``x`` with its quiet bit set, by integer operations (a NaN in: the same NaN out,
    quieted, as the CPU kernels give it; a selection alone keeps a signalling NaN)."""
    if x.dtype.primitive_bitwidth == 64:
        return (x.to(tl.int64, bitcast=True) | 0x0008000000000000).to(tl.float64, bitcast=True)
    else:  # (float32: the working dtype of float16, bfloat16 and the exact float32 entries)
        return (x.to(tl.int32, bitcast=True) | 0x00400000).to(tl.float32, bitcast=True)


def _k_value(X, Y, A, N, BLOCK: tl.constexpr):  # pragma: no cover - compiled
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    msk = i < N
    x = tl.load(X + i, mask=msk).to(_WT)
    r = _E(_M, x, tl.load(A).to(_WT), tl.load(A + 1).to(_WT), tl.load(A + 2).to(_WT))
    r = tl.where(x != x, _quiet(x), r)  # NaN in: the same NaN out, quieted
    tl.store(Y + i, r.to(Y.dtype.element_ty), mask=msk)


def _k_backward(X, G, OUT, A, K, N, BLOCK: tl.constexpr):  # pragma: no cover - compiled
    # K: (at_kink given, at_kink, k0, k1); g * derivative, the derivative rounded to
    # the dtype first (as the CPU kernels and grad_out * derivative)
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    msk = i < N
    xin = tl.load(X + i, mask=msk)
    x = xin.to(_WT)
    d = _E(_M, x, tl.load(A).to(_WT), tl.load(A + 1).to(_WT), tl.load(A + 2).to(_WT))
    # the kinks compared in the dtype the CPU kernels compare them in: the input's
    # (float32 for float16 and bfloat16)
    xk = xin.to(_KT)
    k0 = tl.load(K + 2).to(_KT)
    k1 = tl.load(K + 3).to(_KT)
    kv = tl.where(tl.load(K) != 0.0, tl.load(K + 1).to(_WT), d)  # (at_kink, if given)
    d = tl.where((xk == k0) | (xk == k1), kv, d)
    d = tl.where(x != x, _quiet(x), d).to(xin.dtype)
    g = tl.load(G + i, mask=msk)
    # (x's NaN whatever g is: a product of two NaNs may give either)
    tl.store(OUT + i, tl.where(x != x, d, _times(g, d, OUT)), mask=msk)


def _k_backward_y(Y, G, OUT, A, N, BLOCK: tl.constexpr):  # pragma: no cover - compiled
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    msk = i < N
    yin = tl.load(Y + i, mask=msk)
    y = yin.to(_WT)
    d = _E(_M, y, tl.load(A).to(_WT), tl.load(A + 1).to(_WT), tl.load(A + 2).to(_WT))
    d = tl.where(y != y, _quiet(y), d).to(yin.dtype)
    g = tl.load(G + i, mask=msk)
    tl.store(OUT + i, tl.where(y != y, d, _times(g, d, OUT)), mask=msk)


def _k_value_codes(
    X, Y, P, B, A, N, NB, BITS: tl.constexpr, NBOUNDS: tl.constexpr, BLOCK: tl.constexpr
):  # pragma: no cover - compiled
    # BLOCK bytes of each bit-plane: element 8 r + c is bit c of byte r
    rows = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, 8)
    offs = rows[:, None] * 8 + cols[None, :]
    msk = offs < N
    xin = tl.load(X + offs, mask=msk, other=0.0)
    x = xin.to(_WT)
    r = _E(_M, x, tl.load(A).to(_WT), tl.load(A + 1).to(_WT), tl.load(A + 2).to(_WT))
    r = tl.where(x != x, _quiet(x), r)
    tl.store(Y + offs, r.to(Y.dtype.element_ty), mask=msk)
    code = tl.zeros([BLOCK, 8], dtype=tl.int32)
    for j in tl.static_range(NBOUNDS):
        # compared widened exactly to the working dtype (the same comparison as in the
        # dtype; Triton's interpreter compares bfloat16 as the integers it stores)
        t = tl.load(B + j).to(_WT)
        code += tl.where(x <= t, 0, 1)  # NaN: above every boundary, as torch.bucketize
    code = tl.where(msk, code, 0)
    for k in tl.static_range(BITS):
        byte = tl.sum(((code >> k) & 1) << cols[None, :], axis=1)
        tl.store(P + k * NB + rows, byte.to(tl.uint8), mask=rows < NB)


def _k_gvalue(P, Q, Y, A, N, BLOCK: tl.constexpr):  # pragma: no cover - compiled
    # a gated entry: y = f(a) * b (a the gate, in P; b in Q), rounded once
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    msk = i < N
    a = tl.load(P + i, mask=msk).to(_WT)
    b = tl.load(Q + i, mask=msk).to(_WT)
    f = _EV(_M, a, tl.load(A).to(_WT), tl.load(A + 1).to(_WT), tl.load(A + 2).to(_WT))
    r = tl.where(a != a, _quiet(a), tl.where(b != b, _quiet(b), f * b))
    tl.store(Y + i, r.to(Y.dtype.element_ty), mask=msk)


def _k_gbackward(P, Q, G, GA, GB, A, K, N, BLOCK: tl.constexpr):  # pragma: no cover
    # both input gradients in one pass: g times f'(a) b and f(a), each derivative rounded
    # to the dtype first (as the CPU kernels and the NumPy API's derivative * g)
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    msk = i < N
    ain = tl.load(P + i, mask=msk)
    a = ain.to(_WT)
    b = tl.load(Q + i, mask=msk).to(_WT)
    g = tl.load(G + i, mask=msk)
    a0 = tl.load(A).to(_WT)
    a1 = tl.load(A + 1).to(_WT)
    a2 = tl.load(A + 2).to(_WT)
    f = _EV(_M, a, a0, a1, a2)
    d = _ED(_M, a, a0, a1, a2)
    ak = ain.to(_KT)
    kv = tl.where(tl.load(K) != 0.0, tl.load(K + 1).to(_WT), d)
    d = tl.where((ak == tl.load(K + 2).to(_KT)) | (ak == tl.load(K + 3).to(_KT)), kv, d)
    da = tl.where(a != a, _quiet(a), tl.where(b != b, _quiet(b), d * b)).to(GA.dtype.element_ty)
    db = tl.where(a != a, _quiet(a), f).to(GB.dtype.element_ty)
    # (the inputs' NaN whatever g is: a product of two NaNs may give either)
    tl.store(GA + i, tl.where((a != a) | (b != b), da, _times(da, g, GA)), mask=msk)
    tl.store(GB + i, tl.where(a != a, db, _times(db, g, GB)), mask=msk)


@triton.jit
def _k_codes_backward(G, P, LV, OUT, N, NB, BITS: tl.constexpr, BLOCK: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, 8)
    offs = rows[:, None] * 8 + cols[None, :]
    msk = offs < N
    code = tl.zeros([BLOCK, 8], dtype=tl.int32)
    for k in tl.static_range(BITS):
        byte = tl.load(P + k * NB + rows, mask=rows < NB, other=0).to(tl.int32)
        code |= ((byte[:, None] >> cols[None, :]) & 1) << k
    g = tl.load(G + offs, mask=msk, other=0.0)
    lv = tl.load(LV + code)
    tl.store(OUT + offs, _times(g, lv, OUT), mask=msk)


_TEMPLATES: dict[str, Callable[..., Any]] = {
    "value": _k_value,
    "backward": _k_backward,
    "backward_y": _k_backward_y,
    "value_codes": _k_value_codes,
}


def _rebound(template: Callable[..., Any], name: str, **elements: Any) -> Any:
    """``template`` with new globals, compiled by ``triton.jit`` (its name stays the
    source's, which the interpreter looks up; its qualified name is the kernel's own)."""
    g = {**template.__globals__, **elements}
    fn = types.FunctionType(template.__code__, g, template.__name__)
    fn.__qualname__ = name
    fn.__module__ = __name__
    return triton.jit(fn)


_HALF = (torch.float16, torch.bfloat16)


@functools.cache
def kernel(math: Any, dtype: torch.dtype, kind: str, arity: int) -> Any:
    """The Triton kernel of ``kind`` for the formulas of ``math`` on ``dtype`` tensors.

    Working precision: float16 and bfloat16 in float32; float32 and float64 in float64,
    except for exact formulas (the piecewise-linear entries), which run in the
    tensor's own dtype with their arguments rounded to it, as the CPU kernels do.
    """
    half = dtype in _HALF
    m = _t32 if half else _t64
    fn = (
        math.from_output
        if kind == "backward_y"
        else (math.value if kind in ("value", "value_codes") else math.derivative)
    )
    base = f"{math.value.__module__}.{math.value.__qualname__}".replace(".", "_")
    if half:
        wt, ns = tl.float32, "f32"
    elif math.exact and dtype == torch.float32:
        wt, ns = tl.float32, "exact32"
    else:
        wt, ns = tl.float64, "f64"
    element = _rebound(_ELEMENTS[arity], f"{base}_{kind}_{ns}_e", _F=lower(fn, m))
    kt = {torch.float64: tl.float64, torch.float32: tl.float32}.get(dtype, tl.float32)
    return _rebound(_TEMPLATES[kind], f"{base}_{kind}_{ns}", _E=element, _M=m, _WT=wt, _KT=kt)


@functools.cache
def gated_kernel(math: Any, dtype: torch.dtype, kind: str, arity: int) -> Any:
    """The Triton kernel of a gated entry (``gvalue`` or ``gbackward``) on ``dtype``
    tensors: float16/bfloat16 in float32, float32/float64 in float64 (as the CPU's)."""
    half = dtype in _HALF
    m = _t32 if half else _t64
    wt, ns = (tl.float32, "f32") if half else (tl.float64, "f64")
    base = f"{math.value.__module__}.{math.value.__qualname__}".replace(".", "_")
    ev = _rebound(_ELEMENTS[arity], f"{base}_{kind}_{ns}_ev", _F=lower(math.value, m))
    ed = _rebound(_ELEMENTS[arity], f"{base}_{kind}_{ns}_ed", _F=lower(math.derivative, m))
    kt = {torch.float64: tl.float64, torch.float32: tl.float32}.get(dtype, tl.float32)
    template = _k_gvalue if kind == "gvalue" else _k_gbackward
    return _rebound(template, f"{base}_{kind}_{ns}", _EV=ev, _ED=ed, _M=m, _WT=wt, _KT=kt)


def codes_backward_kernel() -> Any:
    """``g * levels[code]`` from packed codes (one kernel for every entry)."""
    return _k_codes_backward


# ---------------------------------------------------------------------------
# launching
# ---------------------------------------------------------------------------


def _grid(n: int, block: int) -> tuple[int]:
    return (max(1, triton.cdiv(n, block)),)


def packed_args(args: tuple[float, ...], device: Any) -> torch.Tensor:
    """The formula's arguments as the float64 tensor the kernels read (3 entries)."""
    vals = [float(a) for a in args] + [0.0] * (3 - len(args))
    return torch.tensor(vals, dtype=torch.float64, device=device)


def kink_block(
    at_kink: float | None,
    kinks: tuple[float, ...],
    device: Any,
    dtype: Any = torch.float64,
    exact: bool = False,
) -> torch.Tensor:
    """``(at_kink given, at_kink, k0, k1)`` as the float64 tensor ``backward`` reads, for
    ``dtype`` tensors, the kinks as the CPU meets them (:func:`relukit._dispatch.kink_at`;
    ``exact``: the entry's formulas are)."""
    from relukit._dispatch import kink_at

    name = str(dtype).rpartition(".")[2]
    locs = tuple(kink_at(k, name, exact) for k in kinks)
    k0 = locs[0] if locs else 0.0
    k1 = locs[-1] if locs else 0.0
    kk = 0.0 if at_kink is None or not kinks else 1.0
    kv = 0.0 if at_kink is None else at_kink
    return torch.tensor([kk, kv, k0, k1], dtype=torch.float64, device=device)


def value(math: Any, arity: int, x: torch.Tensor, a: torch.Tensor, out: Any = None) -> Any:
    """``f(x)`` (``x`` contiguous); into ``out`` when given (it may be ``x``)."""
    y = torch.empty_like(x) if out is None else out
    n = x.numel()
    if n:
        kernel(math, x.dtype, "value", arity)[_grid(n, BLOCK)](x, y, a, n, BLOCK=BLOCK)
    return y


def backward(
    math: Any,
    arity: int,
    t: torch.Tensor,
    g: torch.Tensor,
    a: torch.Tensor,
    k: torch.Tensor | None,
    from_output: bool = False,
) -> torch.Tensor:
    """``g * f'`` from the saved input (with the kink block ``k``) or output ``t``."""
    o = torch.empty_like(t)
    n = t.numel()
    if n:
        if from_output:
            kernel(math, t.dtype, "backward_y", arity)[_grid(n, BLOCK)](t, g, o, a, n, BLOCK=BLOCK)
        else:
            kernel(math, t.dtype, "backward", arity)[_grid(n, BLOCK)](t, g, o, a, k, n, BLOCK=BLOCK)
    return o


def value_codes(
    math: Any, arity: int, x: torch.Tensor, a: torch.Tensor, bounds: torch.Tensor, bits: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f(x), packed codes of x among bounds)`` in one pass."""
    n = x.numel()
    nb = (n + 7) // 8
    y = torch.empty_like(x)
    packed = torch.empty(bits * nb, dtype=torch.uint8, device=x.device)
    if n:
        kernel(math, x.dtype, "value_codes", arity)[_grid(nb, CODE_BLOCK)](
            x, y, packed, bounds, a, n, nb, BITS=bits, NBOUNDS=bounds.numel(), BLOCK=CODE_BLOCK
        )
    return y, packed


def codes_backward(
    g: torch.Tensor, packed: torch.Tensor, levels: torch.Tensor, bits: int
) -> torch.Tensor:
    """``g * levels[code]`` from the packed codes, in one pass."""
    n = g.numel()
    nb = (n + 7) // 8
    o = torch.empty_like(g)
    if n:
        _k_codes_backward[_grid(nb, CODE_BLOCK)](
            g, packed, levels, o, n, nb, BITS=bits, BLOCK=CODE_BLOCK
        )
    return o


def gated_value(
    math: Any, arity: int, a: torch.Tensor, b: torch.Tensor, args: torch.Tensor
) -> torch.Tensor:
    """``f(a) * b`` for contiguous ``a``, ``b`` of one shape and dtype."""
    y = torch.empty_like(a)
    n = a.numel()
    if n:
        gated_kernel(math, a.dtype, "gvalue", arity)[_grid(n, BLOCK)](a, b, y, args, n, BLOCK=BLOCK)
    return y


def gated_backward(
    math: Any,
    arity: int,
    a: torch.Tensor,
    b: torch.Tensor,
    g: torch.Tensor,
    args: torch.Tensor,
    k: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(g f'(a) b, g f(a))`` in one pass (each derivative rounded to the dtype first)."""
    ga = torch.empty_like(a)
    gb = torch.empty_like(a)
    n = a.numel()
    if n:
        gated_kernel(math, a.dtype, "gbackward", arity)[_grid(n, BLOCK)](
            a, b, g, ga, gb, args, k, n, BLOCK=BLOCK
        )
    return ga, gb
