"""Fused CPU kernels (numba) for the few-bit backward (:mod:`relukit.torch._fewbit`).

Building the codes from torch ops costs ``2**bits - 1`` comparisons, additions, shifts
and a pack, each a pass over memory; on CPU that made a 3-bit GELU step several times
slower than the exact one. :func:`kernels` gives three loops with the same results:

* ``codes(x, bounds, c)``: ``c[i]`` = number of boundaries ``t`` with ``not x[i] <= t``
  (NaN counts as above every boundary, as :func:`torch.bucketize`); one vectorisable
  pass per boundary over a ``uint8`` scratch;
* ``pack_planes(c, packed, bits, nb)``: bit ``k`` of ``c[i]`` into bit ``i % 8`` of
  byte ``k * nb + i // 8`` (the layout of :func:`relukit.torch._fewbit.encode`);
* ``decode_multiply(g, packed, levels, out, c, bits, nb)``: the codes into the ``uint8``
  scratch ``c``, then ``out[i] = g[i] * levels[c[i]]`` in the tensor's dtype (one
  rounding, as torch's ``g * mult``).

Used for contiguous float32/float64 CPU tensors outside ``torch.compile`` and torch.func
transforms; the torch-op path gives the same bytes and numbers (tested).
"""

from __future__ import annotations

import functools
import types
from typing import Any

__all__ = ["kernels"]


@functools.cache
def kernels() -> Any:
    """Compile (or load from relukit's kernel cache) and return the kernels as a namespace."""
    from relukit import _kernel_cache

    jit = _kernel_cache.njit(cache=True, nogil=True, error_model="numpy")

    @jit
    def codes(x: Any, bounds: Any, c: Any) -> None:
        n = x.size
        for i in range(n):
            c[i] = 0
        for t in bounds:
            for i in range(n):
                c[i] += not (x[i] <= t)

    @jit
    def pack_planes(c: Any, packed: Any, bits: int, nb: int) -> None:
        n = c.size
        full = n // 8
        for k in range(bits):
            for j in range(full):
                byte = 0
                for e in range(8):
                    byte |= ((c[8 * j + e] >> k) & 1) << e
                packed[k * nb + j] = byte
            if full < nb:
                byte = 0
                for e in range(n - 8 * full):
                    byte |= ((c[8 * full + e] >> k) & 1) << e
                packed[k * nb + full] = byte

    @jit
    def decode_multiply(
        g: Any, packed: Any, levels: Any, out: Any, c: Any, bits: int, nb: int
    ) -> None:
        # plane by plane into the uint8 scratch c (8 lanes per byte), then one gather
        n = g.size
        full = n // 8
        for j in range(full):
            byte = packed[j]
            for e in range(8):
                c[8 * j + e] = (byte >> e) & 1
        for k in range(1, bits):
            for j in range(full):
                byte = packed[k * nb + j]
                for e in range(8):
                    c[8 * j + e] |= ((byte >> e) & 1) << k
        for i in range(8 * full, n):
            code = 0
            for k in range(bits):
                code |= ((packed[k * nb + full] >> (i & 7)) & 1) << k
            c[i] = code
        for i in range(n):
            out[i] = g[i] * levels[c[i]]

    return types.SimpleNamespace(
        codes=codes, pack_planes=pack_planes, decode_multiply=decode_multiply
    )
