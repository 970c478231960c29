"""Fused Triton kernels for the saved-bits paths of relukit.torch (CUDA tensors).

Two pairs of kernels, each one pass over memory:

* 1-bit piecewise-linear entries (``relu``, ``leaky_relu``): :func:`mask_forward`
  writes the value and the packed mask (the layout of :func:`relukit.torch._bits.pack`
  of ``relu: ~(x <= 0)``, ``leaky_relu: x > 0``), :func:`mask_backward` unpacks it and
  selects the gradient (``g`` or ``0``, ``g`` or ``negative_slope * g``);
* few-bit smooth entries (``gelu``, ``silu``, ``mish``, ``softplus``, ``hardswish``):
  :func:`fewbit_forward` writes the value and ``bits`` packed bit-planes of the interval
  codes (the layout of :func:`relukit.torch._fewbit.encode`), :func:`fewbit_backward`
  unpacks the codes and multiplies the gradient by their levels.

relukit.torch uses them automatically for contiguous CUDA tensors of float16, bfloat16
or float32 when ``import triton`` works, and builds the same bytes from torch
ops otherwise. Codes, masks and gradients equal the torch path bit for bit (the tests
run the kernels on CPU under ``TRITON_INTERPRET=1``, and compile them for an sm_90 GPU).
relu's and leaky_relu's values are exact; the smooth entries' value is computed in the
kernel in float32 with the formulas of ATen's CUDA kernels and CUDA's libdevice
functions, so it may differ from ATen's in the last bit (Triton, like nvcc, may contract
a multiply and an add into one rounding); ``benchmarks/fewbit_gpu.py`` reports the
difference on a GPU. Under the interpreter, which has no libdevice, the same formulas
use Triton's own ``exp``/``log``/``erf`` and agree with torch to a few ulp.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch

__all__ = [
    "available",
    "fewbit_backward",
    "fewbit_forward",
    "mask_backward",
    "mask_forward",
    "supports",
]

#: elements per program: BLOCK_BYTES bytes of each bit-plane, 8 elements per byte
BLOCK_BYTES = 128
_KIND = {"gelu": 0, "gelu_tanh": 1, "silu": 2, "mish": 3, "softplus": 4, "hardswish": 5}
#: float64 stays on the torch path: Triton passes float scalars (slopes, beta) as float32
_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


@functools.cache
def available() -> bool:
    """Whether Triton imports (the kernels compile on first use)."""
    try:
        import triton
        import triton.language  # noqa: F401
    except Exception:
        return False
    return True


def supports(x: torch.Tensor) -> bool:
    """Whether the kernels take ``x``: contiguous, a float dtype, fewer than 2**31 elements."""
    return x.dtype in _DTYPES and x.is_contiguous() and 0 < x.numel() < 2**31


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@functools.cache
def _kernels() -> dict[str, Any]:
    import triton

    from relukit.torch import _triton_kernels as tk

    return {
        "fewbit_fwd": tk.fewbit_fwd,
        "fewbit_bwd": tk.fewbit_bwd,
        "mask_fwd": tk.mask_fwd,
        "mask_bwd": tk.mask_bwd,
        "cdiv": triton.cdiv,
    }


def _nbytes(n: int) -> int:
    return (n + 7) // 8


def fewbit_forward(
    x: torch.Tensor, name: str, pvals: tuple[Any, ...], bounds: torch.Tensor, bits: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(value, packed codes)`` of a smooth entry in one pass (see module doc)."""
    k = _kernels()
    n = x.numel()
    nb = _nbytes(n)
    kind = _KIND["gelu_tanh" if name == "gelu" and pvals[0] == "tanh" else name]
    p0, p1 = (float(pvals[0]), float(pvals[1])) if name == "softplus" else (1.0, 0.0)
    y = torch.empty_like(x)
    packed = torch.empty(bits * nb, dtype=torch.uint8, device=x.device)
    grid = (k["cdiv"](nb, BLOCK_BYTES),)
    k["fewbit_fwd"][grid](
        x,
        y,
        packed,
        bounds,
        n,
        nb,
        p0,
        p1,
        KIND=kind,
        BITS=bits,
        NBOUNDS=bounds.numel(),
        LIB=not _interpreting(),
        BLOCK=BLOCK_BYTES,
    )
    return y, packed


def fewbit_backward(
    g: torch.Tensor, packed: torch.Tensor, levels: torch.Tensor, bits: int
) -> torch.Tensor:
    """``g * levels[code]`` from the packed codes, in one pass."""
    k = _kernels()
    g = g.contiguous()
    n = g.numel()
    nb = _nbytes(n)
    out = torch.empty_like(g)
    grid = (k["cdiv"](nb, BLOCK_BYTES),)
    k["fewbit_bwd"][grid](g, packed, levels, out, n, nb, BITS=bits, BLOCK=BLOCK_BYTES)
    return out


def mask_forward(
    name: str, x: torch.Tensor, negative_slope: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(value, packed 1-bit mask)`` of ``relu`` or ``leaky_relu`` in one pass."""
    k = _kernels()
    n = x.numel()
    nb = _nbytes(n)
    y = torch.empty_like(x)
    packed = torch.empty(nb, dtype=torch.uint8, device=x.device)
    grid = (k["cdiv"](nb, BLOCK_BYTES),)
    kind = 0 if name == "relu" else 1
    k["mask_fwd"][grid](x, y, packed, n, nb, float(negative_slope), KIND=kind, BLOCK=BLOCK_BYTES)
    return y, packed


def mask_backward(
    name: str, g: torch.Tensor, packed: torch.Tensor, negative_slope: float = 0.0
) -> torch.Tensor:
    """The input gradient of ``relu``/``leaky_relu`` from the packed mask, in one pass."""
    k = _kernels()
    g = g.contiguous()
    n = g.numel()
    out = torch.empty_like(g)
    grid = (k["cdiv"](_nbytes(n), BLOCK_BYTES),)
    kind = 0 if name == "relu" else 1
    k["mask_bwd"][grid](
        g, packed, out, n, _nbytes(n), float(negative_slope), KIND=kind, BLOCK=BLOCK_BYTES
    )
    return out
