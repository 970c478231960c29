"""Fused CPU kernels (numba) for the mask-saving activations.

On CPU, PyTorch's comparison ops (``x > 0`` giving a bool tensor) and ``torch.where``
are several times slower than ``torch.relu`` itself, so building a bit mask from torch
ops would cost more than the activation. These kernels compute the forward value and
the 0/1 plane in one vectorisable loop, then pack the plane 8 bytes at a time (one
64-bit multiply per 8 elements); backward expands the bits the same way and selects in
one loop. They serve contiguous float32/float64 CPU tensors; every other case (CUDA,
float16/bfloat16, non-contiguous tensors, ``torch.compile`` tracing, double backward)
uses the pure-torch path, which gives the same bits and the same numbers (tested).

The arithmetic is ATen's CPU formula in the tensor's own dtype (constants are passed as
scalars of that dtype), so results are bit-for-bit equal to torch's.
numba is imported on first use; kernels are compiled once and cached on disk.

Bit ``k`` of byte ``j`` is element ``8 j + k`` (the layout of :mod:`relukit.torch._bits`).
"""

from __future__ import annotations

import functools
import types
from typing import Any

__all__ = ["kernels"]

#: what the stored bit means, per kernel code
RELU, LEAKY, HARDTANH, HARDSIGMOID = 0, 1, 2, 3


@functools.cache
def kernels() -> Any:
    """Compile (or load from numba's cache) and return the kernels as a namespace."""
    import numba
    import numpy as np

    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    u64 = np.uint64

    @jit
    def value_plane(x: Any, y: Any, c: Any, code: int, a: Any, b: Any) -> None:
        # c[i] = the plane bit (read before y is written: y may be x), y[i] = the value.
        # The comparisons are those of ATen's backward kernels (NaN behaves the same).
        n = x.size
        zero = x.dtype.type(0)
        if code == 0:  # relu: y = 0 where x <= 0 (+0.0, no sign bit); bit = not (x <= 0)
            for i in range(n):
                v = x[i]
                t = not (v <= zero)
                c[i] = t
                y[i] = v if t else zero
        elif code == 1:  # leaky_relu: y = x > 0 ? x : x * slope; bit = x > 0
            for i in range(n):
                v = x[i]
                t = v > zero
                c[i] = t
                y[i] = v if t else v * a
        else:  # hardtanh: y = clamp(x, a, b) (NaN passes); bit = not (x <= a or x >= b)
            for i in range(n):
                v = x[i]
                c[i] = not (v <= a or v >= b)
                y[i] = a if v < a else (b if v > b else v)

    @jit
    def plane(x: Any, c: Any, code: int, a: Any, b: Any) -> None:
        # the plane only (hardsigmoid: bit = a < x < b), for forwards computed by torch
        n = x.size
        for i in range(n):
            v = x[i]
            c[i] = v > a and v < b

    @jit
    def kink_plane(x: Any, c: Any, locs: Any) -> None:
        # bit = x equals one of the kink locations
        for i in range(x.size):
            v = x[i]
            t = False
            for loc in locs:
                t = t or v == loc
            c[i] = t

    @jit
    def pack(c: Any, bits: Any) -> None:
        # 8 bytes of 0/1 -> one byte: the multiply moves byte k's bit to bit 56 + k
        cw = c.view(u64)
        for j in range(cw.size):
            bits[j] = np.uint8((cw[j] * u64(0x0102040810204080)) >> u64(56))

    @jit
    def expand(bits: Any, c: Any) -> None:
        # one byte -> 8 bytes of 0/1: replicate, keep bit k in byte k, normalise to 0/1
        cw = c.view(u64)
        for j in range(cw.size):
            w = (u64(bits[j]) * u64(0x0101010101010101)) & u64(0x8040201008040201)
            cw[j] = ((w + u64(0x7F7F7F7F7F7F7F7F)) >> u64(7)) & u64(0x0101010101010101)

    @jit
    def select(g: Any, c: Any, out: Any, code: int, s: Any) -> None:
        # code 0/2: c ? g : 0 (threshold_backward, hardtanh_backward)
        # code 1:   c ? g : g * s (leaky_relu_backward)
        # code 3:   c ? g * s : 0 (hardsigmoid_backward, s = 1.0f / 6)
        n = g.size
        zero = g.dtype.type(0)
        if code == 1:
            for i in range(n):
                v = g[i]
                out[i] = v if c[i] else v * s
        elif code == 3:
            for i in range(n):
                v = g[i]
                out[i] = v * s if c[i] else zero
        else:
            for i in range(n):
                v = g[i]
                out[i] = v if c[i] else zero

    @jit
    def kink_apply(g: Any, c: Any, out: Any, at_kink: Any) -> None:
        for i in range(g.size):
            if c[i]:
                out[i] = g[i] * at_kink

    @jit
    def fix_specials(x: Any, out: Any, g: Any, kinds: Any, vals: Any, mul: bool) -> None:
        # where x is special (kind 0: -inf, 1: +inf, 2: NaN, 3: -0.0, 4: +0.0), set out
        # to vals[k] (forward) or to g * vals[k] (backward, mul=True)
        zero = x.dtype.type(0)
        inf = x.dtype.type(np.inf)
        for i in range(x.size):
            v = x[i]
            if v == v and v != zero and v != inf and v != -inf:
                continue  # the common case: finite and nonzero
            if v != v:
                kind = 2
            elif v == inf:
                kind = 1
            elif v == -inf:
                kind = 0
            elif np.signbit(v):
                kind = 3
            else:
                kind = 4
            for k in range(kinds.size):
                if kinds[k] == kind:
                    out[i] = g[i] * vals[k] if mul else vals[k]

    return types.SimpleNamespace(
        fix_specials=fix_specials,
        value_plane=value_plane,
        plane=plane,
        kink_plane=kink_plane,
        pack=pack,
        expand=expand,
        select=select,
        kink_apply=kink_apply,
    )


def scratch(n: int) -> Any:
    """A uint8 NumPy buffer for ``n`` plane bytes, padded to whole words (tail zeroed)."""
    import numpy as np

    m = (n + 7) // 8 * 8
    c = np.empty(m, np.uint8)
    c[n:] = 0
    return c
