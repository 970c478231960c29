"""Where torch's kernel and the catalogue disagree at ±inf, NaN and ±0.0 (computed once).

For an entry that runs torch's own kernel (:mod:`relukit.torch._table`), relukit
compares, once per entry and parameter values, the kernel's value (and, for entries
whose backward reads the input, its derivative) at the special inputs with the
catalogue's pure-Python formulas, and keeps the list of disagreements. Each call then
fixes those few points with ``masked_fill``/``torch.where`` and Python scalars: no
tensor is made from Python data per call, and the comparison itself runs outside every
tracer, fake-tensor mode and ``torch.func`` transform (on plain float32 and float64
CPU tensors), so that ``torch.export``, ``torch.jit.trace`` and ``torch.compile`` see
only the fix-ups. (On CPU in eager mode they are skipped when the input is finite:
:func:`relukit.torch._functions._finite`.)

>>> from relukit.torch._special import fixups
>>> fixups("relu", ())
((), ())
>>> fixups("gelu", ("none",))[0]
((-inf, -0.0), (inf, inf))
"""

from __future__ import annotations

import contextlib
import functools
import math
import struct
from collections.abc import Iterator
from typing import Any

import torch

from relukit.catalogue import get
from relukit.torch._table import TABLE

__all__ = ["apply_fixes", "apply_nan_fix", "fixups", "grad_hides_nan", "outside_tracing"]

#: the special inputs, in this order
SPECIALS = (-math.inf, math.inf, math.nan, -0.0, 0.0)


_K = torch._C.DispatchKey
_EXCLUDED = torch._C.DispatchKeySet(_K.Functionalize) | torch._C.DispatchKeySet(_K.Python)
_EXCLUDED = _EXCLUDED | torch._C.DispatchKeySet(_K.PreDispatch)


@contextlib.contextmanager
def outside_tracing() -> Iterator[None]:
    """Run plain eager torch: no modes, functorch, Python dispatcher, functionalization, tracer."""
    from torch.utils._python_dispatch import _disable_current_modes

    state = torch._C._get_tracing_state()
    torch._C._set_tracing_state(None)  # type: ignore[attr-defined]
    try:
        with (
            _disable_current_modes(),
            torch._C.DisableTorchFunction(),
            torch._C._DisableFuncTorch(),
            torch._C._DisablePythonDispatcher(),
            torch._C._ExcludeDispatchKeyGuard(_EXCLUDED),
            torch.no_grad(),
        ):
            yield
    finally:
        torch._C._set_tracing_state(state)  # type: ignore[attr-defined]


def _round(v: float, dtype: torch.dtype) -> float:
    """``v`` rounded to ``dtype`` (float32 or float64), in pure Python."""
    if dtype == torch.float32 and math.isfinite(v) and abs(v) < 3.4e38:
        return struct.unpack("f", struct.pack("f", v))[0]
    return v


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@torch.compiler.assume_constant_result  # a constant for torch.compile
def fixups(name: str, pvals: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """``(forward, backward)`` disagreements of torch's kernel with the catalogue.

    ``forward`` is a tuple of ``(special input, catalogue value)``; ``backward`` a tuple
    of ``(±inf, catalogue derivative)`` for entries whose backward reads the input.
    """
    return _fixups(name, pvals)


@functools.lru_cache(maxsize=512)
def _fixups(name: str, pvals: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    ops = TABLE.get(name)
    if ops is None:  # the catalogue's own formula runs: nothing to fix
        return (), ()
    act = get(name)
    p = dict(zip(act.params, pvals, strict=True))
    fwd: dict[int, tuple[float, float]] = {}
    bwd: dict[int, tuple[float, float]] = {}
    for dtype in (torch.float32, torch.float64):  # vectorised kernels differ by dtype
        with outside_tracing():
            x = torch.tensor(SPECIALS, dtype=dtype)
            try:
                got = ops.value(x.clone(), p, False).tolist()
            except RuntimeError as exc:  # a slope beyond float32 (on float64 input):
                if "without overflow" not in str(exc):  # no call in float32 can run
                    raise
                continue
            dgot = None
            if ops.from_input is not None:
                dgot = ops.from_input(torch.ones(2, dtype=dtype), x[:2], p).tolist()
        for i, (s, v) in enumerate(zip(SPECIALS, got, strict=True)):
            want = float(act(s, **p))
            if not _same(_round(want, dtype), v):
                fwd[i] = (s, want)
        for i, (s, d) in enumerate(zip(SPECIALS[:2], dgot or (), strict=False)):
            want = float(act.derivative(s, **p))
            if not _same(_round(want, dtype), d):
                bwd[i] = (s, want)
    # torch's vectorised kernels give different answers at ±inf in different settings
    # (seen: gelu(inf) is nan in eager float32, inf under torch.export): where one end
    # disagrees, fix both ends
    for fixes, fn in ((fwd, act), (bwd, act.derivative)):
        if 0 in fixes or 1 in fixes:
            for i in (0, 1):
                fixes.setdefault(i, (SPECIALS[i], float(fn(SPECIALS[i], **p))))
    return tuple(v for _, v in sorted(fwd.items())), tuple(v for _, v in sorted(bwd.items()))


@torch.compiler.assume_constant_result  # a constant for torch.compile
def grad_hides_nan(name: str, pvals: tuple[Any, ...], save: str) -> bool:
    """Torch's backward for ``name`` gives a number, not NaN, at a NaN input.

    ``save`` is what the backward reads (``"output"`` or ``"input"``; at a NaN input both
    are NaN). True for the piecewise-linear kernels (relu'(nan) = 1, leaky_relu'(nan) =
    negative_slope, hardsigmoid'(nan) = 1/6, ...), whose masks send NaN to one branch;
    False for the smooth ones (gelu, silu, ...: NaN propagates through the formula) and
    for entries computed with the catalogue's own formulas.
    """
    return _grad_hides_nan(name, pvals, save)


@functools.lru_cache(maxsize=512)
def _grad_hides_nan(name: str, pvals: tuple[Any, ...], save: str) -> bool:
    ops = TABLE.get(name)
    if ops is None:
        return False
    p = dict(zip(get(name).params, pvals, strict=True))
    fn = ops.from_output if save == "output" else ops.from_input
    hides = False
    for dtype in (torch.float32, torch.float64):  # vectorised kernels differ by dtype
        with outside_tracing():
            nan = torch.full((3,), math.nan, dtype=dtype)
            d = fn(torch.ones(3, dtype=dtype), nan, p).tolist()  # type: ignore[misc]
        hides = hides or not all(math.isnan(v) for v in d)
    return hides


def apply_nan_fix(t: torch.Tensor, gi: torch.Tensor) -> torch.Tensor:
    """``gi`` (a new tensor) with NaN where ``t`` (the saved input or output) is NaN.

    In place when no autograd graph records ``gi`` (no second full-size tensor).
    """
    nan = t.isnan()
    return gi.masked_fill_(nan, math.nan) if _fresh(gi) else gi.masked_fill(nan, math.nan)


def _where(x: torch.Tensor, s: float) -> torch.Tensor:
    if math.isnan(s):
        return x.isnan()
    if s == 0.0:
        sign = torch.signbit(x)
        return (x == 0) & (sign if math.copysign(1.0, s) < 0 else ~sign)
    return x == s


def _fresh(t: torch.Tensor) -> bool:
    """``t`` may be written in place: no autograd graph or ``torch.func`` transform sees it."""
    if torch.compiler.is_compiling() or torch._C._get_tracing_state():
        return False  # (a trace must not depend on the grad mode of the call)
    if torch._C._functorch.is_functorch_wrapped_tensor(t):
        return False
    return not (torch.is_grad_enabled() and t.requires_grad)


def apply_fixes(x: torch.Tensor, y: torch.Tensor, fixes: tuple[Any, ...]) -> torch.Tensor:
    """``y`` (a new tensor) with the catalogue's value where ``x`` is a special input.

    In place when no autograd graph records ``y`` (no second full-size tensor).
    """
    inplace = _fresh(y)
    for s, v in fixes:
        if v == 0 and math.copysign(1.0, v) < 0 and torch._C._get_tracing_state():
            # a traced -0.0 is a graph constant, which TorchScript pools with 0.0: made
            # from the input instead (a 0-d zero, negated), so it stays -0.0
            v = x.new_zeros(()).neg()
        y = y.masked_fill_(_where(x, s), v) if inplace else y.masked_fill(_where(x, s), v)
    return y


def apply_grad_fixes(
    x: torch.Tensor, g: torch.Tensor, gi: torch.Tensor, fixes: tuple[Any, ...]
) -> torch.Tensor:
    """``gi`` (a new tensor) with ``g * derivative`` where ``x`` is ±inf (the limits)."""
    inplace = _fresh(gi) and _fresh(g)
    for s, d in fixes:
        m = x == s
        if d == 0.0:
            gi = gi.masked_fill_(m, d) if inplace else gi.masked_fill(m, d)
        elif inplace:  # no second full-size tensor
            gi = torch.where(m, g if d == 1.0 else g * d, gi, out=gi)
        else:
            gi = torch.where(m, g if d == 1.0 else g * d, gi)
    return gi
