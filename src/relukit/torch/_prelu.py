"""PReLU's autograd Function and functional form: a learnable weight, so its own Function.

The value and backward are ATen's prelu kernels (one product, correctly rounded: the
catalogue's formula to the bit; ATen's backward also reduces the weight's gradient per
channel), the weight's gradient reaches double backward, ``at_kink``
chooses the derivative at 0, and a NaN input gets a NaN gradient (ATen's mask ``x > 0``
sends NaN to the weight's branch). With a frozen weight the mask ``x > 0`` (a bool per
element) replaces the saved input.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from relukit.torch import _trace
from relukit.torch._core import _call, _differentiable, _forward_ad, _is_wrapped, _kink_mask
from relukit.torch._params import _check_at_kink

__all__ = ["PReLUFunction", "prelu"]


def _all_finite(x: torch.Tensor) -> bool | None:
    """``x`` holds no ±inf or NaN: one ``sum`` (no copy), in plain eager mode on the CPU
    only; ``None`` (unknown) elsewhere: no host sync, no data-dependent branch under
    tracers."""
    if torch.compiler.is_compiling() or x.device.type != "cpu":
        return None
    if type(x) is not torch.Tensor or _is_wrapped(x):
        return None
    if torch._C._get_tracing_state() or torch._C._len_torch_dispatch_stack():
        return None
    return x.numel() == 0 or math.isfinite(x.detach().sum().item())


def _value_fix(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The limit -0.0 where ATen's ``w * x`` is ``0 * -inf`` (a zero weight at -inf); a
    NaN weight's NaN stays (a NaN is never hidden)."""
    return y.masked_fill((y != y) & (x == -math.inf) & (_prelu_view(x, w) == 0), -0.0)


def _nan_fix(x: torch.Tensor, g: torch.Tensor, gi: torch.Tensor) -> torch.Tensor:
    """``x``'s NaN (quieted) where ``x`` is NaN, whatever ``g`` is: the NumPy API's
    gradient there (ATen's mask ``x > 0`` sends NaN to the weight's branch)."""
    return torch.where(x != x, x + 0, gi)


def _at_kink(gi: torch.Tensor, g: torch.Tensor, mask: torch.Tensor, at_kink: float) -> torch.Tensor:
    return torch.where(mask, g * at_kink, gi)


def _check_prelu(x: torch.Tensor, w: torch.Tensor) -> None:
    """Raise torch's own error where ``F.prelu`` refuses ``x`` and ``w``.

    The checks of ATen's ``prelu`` (the same dtype; with more than one weight, an input
    of at least one dimension whose channel size, dimension 1 or 1 for a 1-d input, is
    the number of weights; a weight of at most one dimension). When one fails, torch's
    ``prelu`` runs on meta tensors of the same shapes and dtypes, so the message is
    torch's, word for word, and nothing is computed or written. (Under ``torch.jit.trace``
    sizes are traced values: the traced ``F.prelu`` checks them itself.)
    """
    if torch._C._get_tracing_state():
        return
    n = w.numel()
    channels = x.shape[1] if x.dim() > 1 else 1
    if x.dtype == w.dtype and w.dim() <= 1 and (n == 1 or (x.dim() > 0 and channels == n)):
        return
    F.prelu(torch.empty_like(x, device="meta"), torch.empty_like(w, device="meta"))
    raise RuntimeError(  # pragma: no cover - torch raised above
        f"relukit.torch.prelu: input of shape {tuple(x.shape)} and dtype {x.dtype} does not "
        f"fit a weight of shape {tuple(w.shape)} and dtype {w.dtype}"
    )


def _prelu_view(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The weight shaped to broadcast along dimension 1 of ``x`` (as torch's prelu)."""
    if w.numel() == 1:
        return w.reshape(())
    if x.dim() >= 2:
        return w.reshape([w.numel()] + [1] * (x.dim() - 2))
    return w


class _PReLUCore(torch.autograd.Function):
    """PReLU: saves the input and the weight (the weight's gradient needs the input).

    With a frozen weight (``lean``), the mask ``x > 0`` (a bool per element) replaces the
    input. The
    weight is saved as given and shaped in backward, so second derivatives reach it.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(
        x: torch.Tensor, w: torch.Tensor, at_kink: float | None, lean: bool, finite: bool
    ) -> tuple[torch.Tensor, ...]:
        y = torch.ops.aten._prelu_kernel(x, _prelu_view(x, w))
        if not finite:
            y = _value_fix(x, y, w)
        extras = [x > 0] if lean else []
        if lean and not finite:  # NaN inputs, for a NaN gradient (x > 0 sends NaN to w)
            extras.append(x.isnan())
        if at_kink is not None:
            extras.append(_kink_mask(x, (0.0,)))
        return (y, *extras)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, w, at_kink, lean, finite = inputs
        _, *extras = output
        if extras:
            ctx.mark_non_differentiable(*extras)
        saved = (w, *extras) if lean else (x, w, *extras)
        ctx.save_for_backward(*saved)
        if _forward_ad():
            ctx.save_for_forward(*saved)
        ctx.set_materialize_grads(False)
        ctx.lean, ctx.at_kink, ctx.n_extra, ctx.finite = lean, at_kink, len(extras), finite

    @staticmethod
    def _grads(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        saved = ctx.saved_tensors
        if ctx.lean:
            w, bits, *rest = saved
            gx = torch.where(bits, g, g * _prelu_view(g, w))
            if not ctx.finite:
                gx = gx.masked_fill(rest.pop(0), math.nan)
            gw = None
        else:
            x, w, *rest = saved
            wv = _prelu_view(x, w)
            gx, gw = torch.ops.aten._prelu_kernel_backward(g, x, wv)
            gw = gw.sum_to_size(wv.shape).reshape(w.shape)
            if not ctx.finite:  # torch's mask x > 0 sends NaN to the weight's branch
                gx = _nan_fix(x, g, gx)
        if ctx.at_kink is not None:
            gx = _at_kink(gx, g, rest[0], ctx.at_kink)
        return gx, gw, saved

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        if g is None:
            return None, None, None, None, None
        gx, gw, _ = _PReLUCore._grads(ctx, g)
        return gx, gw, None, None, None


class PReLUFunction(_PReLUCore):
    """:class:`_PReLUCore` with forward-mode AD (``jvp``); see :class:`ActivationFunction`."""

    @staticmethod
    def jvp(ctx: Any, tx: Any, tw: Any, *_: Any) -> tuple[Any, ...]:
        ty = None if tx is None else _PReLUCore._grads(ctx, tx)[0]
        if tw is not None:  # not lean: forward-mode AD keeps the input
            x = ctx.saved_tensors[0]
            tp = torch.where(x > 0, 0.0, x * _prelu_view(x, tw))
            ty = tp if ty is None else ty + tp
        return (ty, *([None] * ctx.n_extra))


def prelu(
    input: torch.Tensor, weight: torch.Tensor, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""PReLU, :math:`x` if :math:`x > 0` else :math:`w x` with a learnable weight ``w``.

    ``weight`` has one element, or one per channel (dimension 1 of ``input``); other
    shapes and dtypes raise torch's own errors (a 0-d input with several weights, a 1-d
    input whose channel size is 1, a channel mismatch, a weight of another dtype).

    >>> import torch, relukit.torch as rt
    >>> rt.prelu(torch.tensor([-2.0, 2.0]), torch.tensor([0.25]))
    tensor([-0.5000,  2.0000])
    """
    if not isinstance(input, torch.Tensor) or not isinstance(weight, torch.Tensor):
        raise TypeError(
            "relukit.torch.prelu: input and weight must be torch.Tensors, got "
            f"{type(input).__name__} and {type(weight).__name__}"
        )
    at_kink = _check_at_kink("prelu", at_kink)
    if torch._C._get_tracing_state():  # plain ops (see apply)
        return _trace.prelu(input, weight, at_kink)
    dev = input.device.type
    if dev in ("cpu", "cuda", "xpu", "mps") and torch.is_autocast_enabled(dev):
        dt = torch.get_autocast_dtype(dev)  # torch's autocast runs prelu in low precision
        input, weight = input.to(dt), weight.to(dt)
    _check_prelu(input, weight)  # (after autocast's cast, as torch's checks)
    finite = _all_finite(input)
    if _differentiable(input, weight):
        lean = not (weight.requires_grad or _is_wrapped(weight))
        lean = lean and torch.autograd.forward_ad._current_level < 0
        # a frozen weight keeps the mask x > 0 only; with ±inf or NaN in x known (eager
        # CPU), the input, whose NaNs the gradient gives back as the NumPy API does
        lean = lean and finite is not False
        fn = _PReLUCore if torch.compiler.is_compiling() else PReLUFunction
        return _call(fn, input, weight, at_kink, lean, bool(finite))[0]
    y = F.prelu(input, weight)
    return y if finite else _value_fix(input, y, weight)
