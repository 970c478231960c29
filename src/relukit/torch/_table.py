"""What torch needs beyond the catalogue: the ATen op for each value and its backward.

Everything else about an activation (its parameters, defaults and validation, its kinks,
whether its derivative can be written from its output, its values at ±inf, NaN and
-0.0) comes from the catalogue entry (:mod:`relukit.catalogue`); this table only says
which of torch's own kernels computes the same thing faster (and bit for bit as
``torch.nn``). An entry missing here still works in :mod:`relukit.torch`: its value and
derivative are then the catalogue's formulas run with torch ops.

``value(x, p, inplace)`` is torch's kernel; ``from_output(g, y, p)`` and
``from_input(g, x, p)`` are ATen's backward formulas given the output or the input
(each written with differentiable torch ops, so that double backward works).

>>> from relukit.torch._table import TABLE
>>> TABLE["relu"].inplace, TABLE["gelu"].inplace
(True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["TABLE", "TorchOps"]

aten = torch.ops.aten

#: ATen's SELU constants (``torch/csrc/api``: the same rounded doubles as the catalogue's)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
#: ATen's hardsigmoid_backward multiplies by ``1.0f / 6.0f`` (a float32 constant) in every dtype
ONE_SIXTH = 0.1666666716337204

Fn = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class TorchOps:
    """How torch computes one catalogue entry.

    Attributes
    ----------
    value
        ``(x, params, inplace) -> y``: torch's kernel for the value.
    from_output
        ``(g, y, params) -> grad``: the backward given the output (used when the
        catalogue says the derivative can be written from the output).
    from_input
        ``(g, x, params) -> grad``: the backward given the input.
    inplace
        Whether torch has an in-place variant (``inplace=True``).
    """

    value: Fn
    from_output: Fn | None = None
    from_input: Fn | None = None
    inplace: bool = True


def _elu_args(name: str, p: dict) -> tuple[float, float, float]:
    """``(alpha, scale, input_scale)`` of ATen's elu kernel for elu, celu and selu."""
    if name == "selu":
        return SELU_ALPHA, SELU_SCALE, 1.0
    if name == "celu":
        return p["alpha"], 1.0, 1.0 / p["alpha"]
    return p["alpha"], 1.0, 1.0


def _elu(name: str, value: Fn) -> TorchOps:
    def from_output(g: torch.Tensor, y: torch.Tensor, p: dict) -> torch.Tensor:
        return aten.elu_backward(g, *_elu_args(name, p), True, y)

    def from_input(g: torch.Tensor, x: torch.Tensor, p: dict) -> torch.Tensor:
        return aten.elu_backward(g, *_elu_args(name, p), False, x)

    return TorchOps(value, from_output, from_input)


def _silu_grad(g: torch.Tensor, x: torch.Tensor, p: dict) -> torch.Tensor:
    if torch.is_grad_enabled():  # double backward: torch's own differentiable formula
        sig = x.sigmoid()
        return g * sig * (1.0 + x * (1.0 - sig))
    return aten.silu_backward(g, x)


def _mish_grad(g: torch.Tensor, x: torch.Tensor, p: dict) -> torch.Tensor:
    if torch.is_grad_enabled():  # double backward: torch's own differentiable formula
        sig = x.sigmoid()
        tsp = F.softplus(x).tanh()
        return g * (tsp + x * sig * (1.0 - tsp * tsp))
    return aten.mish_backward(g, x)


def _relu6(x: torch.Tensor, p: dict, inplace: bool) -> torch.Tensor:
    # threshold, not hardtanh: relu6(-0.0) is +0.0 (hardtanh keeps the sign bit)
    if inplace:
        return F.threshold_(x, 0.0, 0.0).clamp_max_(6.0)  # type: ignore[attr-defined]
    return F.threshold(x, 0.0, 0.0).clamp_max_(6.0)


TABLE: dict[str, TorchOps] = {
    # relu: threshold gives +0.0 at -0.0 (torch.relu gives -0.0); the same backward
    "relu": TorchOps(
        lambda x, p, ip: F.threshold(x, 0.0, 0.0, ip),
        from_output=lambda g, y, p: aten.threshold_backward(g, y, 0.0),
        from_input=lambda g, x, p: aten.threshold_backward(g, x, 0.0),
    ),
    "leaky_relu": TorchOps(
        lambda x, p, ip: F.leaky_relu(x, p["negative_slope"], ip),
        from_output=lambda g, y, p: aten.leaky_relu_backward(g, y, p["negative_slope"], True),
        from_input=lambda g, x, p: aten.leaky_relu_backward(g, x, p["negative_slope"], False),
    ),
    # threshold: torch's kernel and backward mask (``x > threshold``), no tensor per call
    "threshold": TorchOps(
        lambda x, p, ip: F.threshold(x, p["threshold"], p["value"], ip),
        from_input=lambda g, x, p: aten.threshold_backward(g, x, p["threshold"]),
    ),
    "relu6": TorchOps(
        _relu6,
        from_output=lambda g, y, p: aten.hardtanh_backward(g, y, 0.0, 6.0),
        from_input=lambda g, x, p: aten.hardtanh_backward(g, x, 0.0, 6.0),
    ),
    "hardtanh": TorchOps(
        lambda x, p, ip: F.hardtanh(x, p["min_val"], p["max_val"], ip),
        from_output=lambda g, y, p: aten.hardtanh_backward(g, y, p["min_val"], p["max_val"]),
        from_input=lambda g, x, p: aten.hardtanh_backward(g, x, p["min_val"], p["max_val"]),
    ),
    "hardsigmoid": TorchOps(
        lambda x, p, ip: F.hardsigmoid(x, ip),
        # from the input (as torch), not the output: the largest float below 3 gives
        # y = 1.0 (x + 3 rounds to 6), so 0 < y < 1 is not -3 < x < 3 there. ATen's
        # float32 constant 1/6
        from_input=lambda g, x, p: aten.hardtanh_backward(g * ONE_SIXTH, x, -3.0, 3.0),
    ),
    "elu": _elu("elu", lambda x, p, ip: F.elu(x, p["alpha"], ip)),
    "celu": _elu("celu", lambda x, p, ip: F.celu(x, p["alpha"], ip)),
    "selu": _elu("selu", lambda x, p, ip: F.selu(x, ip)),
    "gelu": TorchOps(
        lambda x, p, ip: F.gelu(x, approximate=p["approximate"]),
        from_input=lambda g, x, p: aten.gelu_backward(g, x, approximate=p["approximate"]),
        inplace=False,
    ),
    "silu": TorchOps(lambda x, p, ip: F.silu(x, ip), from_input=_silu_grad),
    "mish": TorchOps(lambda x, p, ip: F.mish(x, ip), from_input=_mish_grad),
    "softplus": TorchOps(
        lambda x, p, ip: F.softplus(x, p["beta"], p["threshold"]),
        from_input=lambda g, x, p: aten.softplus_backward(g, x, p["beta"], p["threshold"]),
        inplace=False,
    ),
    "hardswish": TorchOps(
        lambda x, p, ip: F.hardswish(x, ip),
        from_input=lambda g, x, p: aten.hardswish_backward(g, x),
    ),
}
