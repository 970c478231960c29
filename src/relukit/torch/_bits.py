"""Bit-packing of boolean masks: 8 mask elements in one byte (1 bit per element).

The piecewise-linear activations (relu, leaky_relu, relu6, hardtanh, hardsigmoid) need
only one bit per element for their backward: which linear piece the input fell on.
:func:`pack` stores a boolean tensor in ``ceil(n / 8)`` bytes, :func:`unpack` restores
it. Both use only element-wise integer ops on an ``int64`` view (8 booleans are the 8
bytes of one 64-bit word; three shift-or-mask steps gather their low bits into one
byte), so they run at memory speed on any device and trace under ``torch.compile``.

>>> import torch
>>> from relukit.torch._bits import pack, unpack
>>> m = torch.tensor([True, False, True, True, False, False, False, True, True])
>>> p = pack(m)
>>> p.dtype, p.numel()
(torch.uint8, 2)
>>> torch.equal(unpack(p, m.shape), m)
True
"""

from __future__ import annotations

import sys

import torch

__all__ = ["pack", "packed_nbytes", "unpack"]

_LITTLE = sys.byteorder == "little"


def packed_nbytes(n: int) -> int:
    """Bytes used by :func:`pack` for ``n`` booleans: ``ceil(n / 8)``."""
    return (n + 7) // 8


def pack(mask: torch.Tensor) -> torch.Tensor:
    """Pack a boolean tensor (any shape, any layout) into a flat ``uint8`` tensor.

    Element ``i`` of ``mask.reshape(-1)`` is bit ``i % 8`` of byte ``i // 8``.
    """
    flat = mask.reshape(-1)
    n = flat.numel()
    nb = packed_nbytes(n)
    if n != nb * 8:
        flat = torch.cat([flat, flat.new_zeros(nb * 8 - n)])
    if not _LITTLE:  # pragma: no cover - big-endian machines
        weights = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=mask.device)
        return (flat.view(nb, 8).to(torch.uint8) * weights).sum(1, dtype=torch.uint8)
    w = flat.view(torch.uint8).view(torch.int64)  # byte k of a word holds element k (0 or 1)
    w = (w | (w >> 7)) & 0x0003000300030003
    w = (w | (w >> 14)) & 0x0000000F0000000F
    w = (w | (w >> 28)) & 0xFF
    return w.to(torch.uint8)


def unpack(
    packed: torch.Tensor, shape: torch.Size | tuple[int, ...], dtype: torch.dtype = torch.bool
) -> torch.Tensor:
    """Inverse of :func:`pack`: a contiguous tensor of ``shape`` (0/1 in ``dtype``).

    ``dtype=torch.bool`` is a zero-copy view of the expanded bytes; any other dtype is
    converted from ``uint8`` (never from ``bool``: inductor's CPU code generation fails
    on bool-to-float vector conversions in torch 2.13).
    """
    n = 1
    for s in shape:
        n *= s
    if not _LITTLE:  # pragma: no cover - big-endian machines
        shifts = torch.arange(8, dtype=torch.uint8, device=packed.device)
        bits = (packed.unsqueeze(-1) >> shifts) & 1
        return bits.reshape(-1)[:n].to(dtype).view(shape)
    w = packed.to(torch.int64)
    w = (w | (w << 28)) & 0x0000000F0000000F
    w = (w | (w << 14)) & 0x0003000300030003
    w = (w | (w << 7)) & 0x0101010101010101
    u8 = w.view(torch.uint8)[:n].view(shape)
    return u8.view(torch.bool) if dtype == torch.bool else u8.to(dtype)
