"""Fused CPU kernels (numba) for the mask-saving activations.

On CPU, PyTorch's comparison ops (``x > 0`` giving a bool tensor) and ``torch.where``
are several times slower than ``torch.relu`` itself, so building a bit mask from torch
ops would cost more than the activation. These kernels compute the forward value and
the packed bits in one call, and the backward selection straight from the packed bits,
for contiguous float32/float64 CPU tensors. Every other case (CUDA, float16/bfloat16,
non-contiguous tensors, ``torch.compile`` tracing, double backward) uses the pure-torch
path, which gives the same bits and the same numbers (tested).

The arithmetic is ATen's CPU formula in the tensor's own dtype (constants are passed as
scalars of that dtype), so results are bit-for-bit equal to torch's.
numba is imported on first use; kernels are compiled once and cached on disk.
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

    @jit
    def forward(x: Any, y: Any, bits: Any, code: int, a: Any, b: Any) -> None:
        # the bit plane first (in place, y is x), then the value (ATen's formula); each
        # loop is simple enough to vectorise
        plane(x, bits, code, a, b)
        n = x.size
        zero = x.dtype.type(0)
        if code == 0:  # relu: y = 0 where x <= 0 (+0.0, no sign bit), x elsewhere (NaN too)
            for i in range(n):
                v = x[i]
                y[i] = zero if v <= zero else v
        elif code == 1:  # leaky_relu: x > 0 ? x : x * slope
            for i in range(n):
                v = x[i]
                y[i] = v if v > zero else v * a
        elif code == 2:  # hardtanh: clamp to [a, b], NaN passes
            for i in range(n):
                v = x[i]
                y[i] = a if v < a else (b if v > b else v)

    @jit
    def plane(x: Any, bits: Any, code: int, a: Any, b: Any) -> None:
        # bit = "the gradient passes" (for relu/hardtanh) or "identity piece" (leaky),
        # with the same comparisons as ATen's backward kernels (so NaN behaves the same)
        n = x.size
        zero = x.dtype.type(0)
        nb = n // 8
        for j in range(nb + (1 if n % 8 else 0)):
            acc = np.uint8(0)
            for k in range(8):
                i = 8 * j + k
                if i < n:
                    v = x[i]
                    if code == 0:
                        c = not (v <= zero)
                    elif code == 1:
                        c = v > zero
                    elif code == 2:
                        c = not (v <= a or v >= b)
                    else:
                        c = v > a and v < b
                    acc |= np.uint8(c) << np.uint8(k)
            bits[j] = acc

    @jit
    def kink_plane(x: Any, bits: Any, locs: Any) -> None:
        # bit = x equals one of the kink locations
        n = x.size
        for j in range((n + 7) // 8):
            acc = np.uint8(0)
            for k in range(8):
                i = 8 * j + k
                if i < n:
                    v = x[i]
                    for loc in locs:
                        if v == loc:
                            acc |= np.uint8(1) << np.uint8(k)
            bits[j] = acc

    @jit
    def backward(g: Any, bits: Any, out: Any, code: int, s: Any) -> None:
        # code 0: bit ? g : 0     (threshold_backward / hardtanh_backward)
        # code 1: bit ? g : g * s (leaky_relu_backward)
        # code 3: bit ? g * s : 0 (hardsigmoid_backward, s = 1/6)
        n = g.size
        zero = g.dtype.type(0)
        nb = n // 8
        if code == 0 or code == 2:
            for j in range(nb):
                m = bits[j]
                for k in range(8):
                    v = g[8 * j + k]
                    out[8 * j + k] = v if (m >> np.uint8(k)) & np.uint8(1) else zero
        elif code == 1:
            for j in range(nb):
                m = bits[j]
                for k in range(8):
                    v = g[8 * j + k]
                    out[8 * j + k] = v if (m >> np.uint8(k)) & np.uint8(1) else v * s
        else:
            for j in range(nb):
                m = bits[j]
                for k in range(8):
                    v = g[8 * j + k]
                    out[8 * j + k] = v * s if (m >> np.uint8(k)) & np.uint8(1) else zero
        for i in range(8 * nb, n):
            v = g[i]
            on = (bits[i >> 3] >> np.uint8(i & 7)) & np.uint8(1)
            if code == 0 or code == 2:
                out[i] = v if on else zero
            elif code == 1:
                out[i] = v if on else v * s
            else:
                out[i] = v * s if on else zero

    @jit
    def kink_backward(g: Any, bits: Any, out: Any, at_kink: Any) -> None:
        n = g.size
        for i in range(n):
            if (bits[i >> 3] >> np.uint8(i & 7)) & np.uint8(1):
                out[i] = g[i] * at_kink

    return types.SimpleNamespace(
        forward=forward,
        plane=plane,
        kink_plane=kink_plane,
        backward=backward,
        kink_backward=kink_backward,
    )
