"""relukit's CPU kernels as PyTorch custom operators, for ``torch.compile`` on the CPU.

Under ``torch.compile`` a CPU tensor of a smooth entry (gelu, silu, elu, the gated
entries, ...) runs the same numba kernels as eager mode, through the operators below:
Inductor calls them as it calls a matrix product (an opaque call between its fused
kernels), and the compiled model gives eager mode's bits. Written in torch operations
instead, the formulas (float32 computed in float64, exact tails and patches) compiled
to C++ 3-14x slower than the kernels; the piecewise-linear entries, exact in their
dtype, stay in torch operations there, where Inductor fuses them with their neighbours.
``torch.export`` keeps the torch operations too, so that an exported program holds only
ATen operators.

The operators take the entry's name and its parameters (the numbers as a list of
floats, which Dynamo may pass as symbols; the choices, such as gelu's
``approximate``, as one string), and are differentiable through relukit's own
``autograd.Function`` around them, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from relukit.catalogue import Activation, catalogue

__all__ = ["bind", "gated_grad", "gated_value", "grad", "key", "used", "value"]

#: relukit.torch._core's functions that the operators run (eager, on real tensors), set
#: by :func:`bind` when that module is imported (it imports this one: no cycle)
_IMPL: dict[str, Callable[..., Any]] = {}
_DTYPES = (torch.float16, torch.float32, torch.float64, torch.bfloat16)


def bind(**fns: Callable[..., Any]) -> None:
    """Set the functions the operators run: ``plan``, ``value``, ``grad``,
    ``gated_value`` and ``gated_grad`` of :mod:`relukit.torch._core`."""
    _IMPL.update(fns)


_SEP = "\x1f"  # between the choices of one entry (no choice contains it)


def used(pl: Any, x: torch.Tensor) -> bool:
    """Run ``pl`` on ``x`` through the operators: compiling (not exporting) a smooth
    entry on a CPU tensor, outside ``torch.func`` transforms."""
    return (
        torch.compiler.is_compiling()
        and not torch.compiler.is_exporting()
        and not pl.math.exact
        and x.device.type == "cpu"
        and x.dtype in _DTYPES
        and not torch._C._are_functorch_transforms_active()
    )


def key(pl: Any) -> tuple[str, list[float], str]:
    """``(name, numbers, choices)``: the operators' arguments for the plan's parameters."""
    name = pl.act.name
    flags = _CHOICE.get(name)
    if flags is None:  # an entry registered after import
        flags = _CHOICE[name] = _choices(pl.act)
    nums: list[float] = []
    choices: list[str] = []
    for is_choice, v in zip(flags, pl.params.values(), strict=True):
        if is_choice:
            choices.append(v)
        else:
            nums.append(v)
    return name, nums, _SEP.join(choices)


def _choices(act: Activation) -> tuple[bool, ...]:
    return tuple(p.kind == "choice" for p in act.params.values())


#: per entry, which parameters are choices (strings): read here, at import, since
#: Dynamo cannot iterate an entry's read-only parameter mapping
_CHOICE: dict[str, tuple[bool, ...]] = {a.name: _choices(a) for a in catalogue()}


def _plan(name: str, nums: list[float], choices: str) -> Any:
    it_n, it_c = iter(nums), iter(choices.split(_SEP) if choices else ())
    pvals = tuple(next(it_c) if c else next(it_n) for c in _CHOICE[name])
    return _IMPL["plan"](name, pvals)


# -- the operators ------------------------------------------------------------
#
# Defined with torch.library's low-level API (a schema and a CPU kernel), not
# ``torch.library.custom_op``, whose Python layers cost about 10 us a call (2.6 us here,
# measured with a kernel that does nothing): a compiled graph calls these operators
# once per activation and direction. Autograd never runs through them (relukit's
# Function computes the gradients), so they register no autograd kernel.

_LIB = torch.library.Library("relukit", "DEF")
_LIB.define("value(Tensor x, str name, float[] nums, str choices) -> Tensor")
_LIB.define(
    "grad(Tensor g, Tensor t, str name, float[] nums, str choices, float? at_kink, "
    "bool from_output) -> Tensor"
)
_LIB.define("gated_value(Tensor a, Tensor b, str name, float[] nums, str choices) -> Tensor")
_LIB.define(
    "gated_grad(Tensor g, Tensor a, Tensor b, str name, float[] nums, str choices, "
    "float? at_kink) -> (Tensor, Tensor)"
)


def _value(x: torch.Tensor, name: str, nums: list[float], choices: str) -> torch.Tensor:
    """The entry's value at ``x``: the NumPy API's kernel (a new contiguous tensor)."""
    return _IMPL["value"](_plan(name, nums, choices), x).contiguous()


def _grad(
    g: torch.Tensor,
    t: torch.Tensor,
    name: str,
    nums: list[float],
    choices: str,
    at_kink: float | None,
    from_output: bool,
) -> torch.Tensor:
    """``g`` times the derivative at ``t`` (the input, or the output when
    ``from_output``; ``at_kink`` at the kinks of an input): the kernel's backward."""
    return _IMPL["grad"](_plan(name, nums, choices), g, t, at_kink, from_output).contiguous()


def _gated_value(
    a: torch.Tensor, b: torch.Tensor, name: str, nums: list[float], choices: str
) -> torch.Tensor:
    """``f(a) * b``: the gated kernel."""
    return _IMPL["gated_value"](_plan(name, nums, choices), a, b).contiguous()


def _gated_grad(
    g: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    name: str,
    nums: list[float],
    choices: str,
    at_kink: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(g f'(a) b, g f(a))``: the gated backward kernel, both gradients in one pass."""
    ga, gb = _IMPL["gated_grad"](_plan(name, nums, choices), g, a, b, at_kink)
    return ga.contiguous(), gb.contiguous()


for _name, _fn in (
    ("value", _value),
    ("grad", _grad),
    ("gated_value", _gated_value),
    ("gated_grad", _gated_grad),
):
    _LIB.impl(_name, _fn, "CPU")


# the shapes, for tracing: each operator returns new contiguous tensors of its input's
# shape (the other arguments do not change it)
@torch.library.register_fake("relukit::value", lib=_LIB)
def _(x: torch.Tensor, *_: Any) -> torch.Tensor:
    return x.new_empty(x.shape)


@torch.library.register_fake("relukit::grad", lib=_LIB)
def _(g: torch.Tensor, t: torch.Tensor, *_: Any) -> torch.Tensor:
    return t.new_empty(t.shape)


@torch.library.register_fake("relukit::gated_value", lib=_LIB)
def _(a: torch.Tensor, *_: Any) -> torch.Tensor:
    return a.new_empty(a.shape)


@torch.library.register_fake("relukit::gated_grad", lib=_LIB)
def _(g: torch.Tensor, a: torch.Tensor, *_: Any) -> tuple[torch.Tensor, torch.Tensor]:
    return a.new_empty(a.shape), a.new_empty(a.shape)


#: the operators, as a compiled graph calls them
value = torch.ops.relukit.value.default
grad = torch.ops.relukit.grad.default
gated_value = torch.ops.relukit.gated_value.default
gated_grad = torch.ops.relukit.gated_grad.default
