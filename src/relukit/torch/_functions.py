"""Autograd Functions derived from the catalogue, and the functional forms.

Every activation runs through one ``torch.autograd.Function``, built from its catalogue
entry (:mod:`relukit.catalogue`) the way :mod:`relukit.jax` builds its ``custom_jvp``:
the parameters, their defaults and validation, the kinks and whether the derivative can
be written from the output all come from the entry. :mod:`relukit.torch._table` adds
only which ATen kernel computes the value and its backward (bit for bit as
``torch.nn``); an entry missing there runs the catalogue's own formulas with torch ops.

What backward keeps (``ctx.save_for_backward``, visible to ``saved_tensors_hooks``):

================================  ================================================
activation                        saved
================================  ================================================
relu, leaky_relu (slope >= 0),    **the output** (the catalogue writes the derivative
relu6, hardtanh,                  from the output). The next layer (Linear, Conv)
elu, celu, selu (alpha > 0)       usually keeps the same tensor, so this costs no
                                  extra storage; torch keeps the *input* of all of
                                  these except relu, a second full tensor.
gelu, silu, mish, softplus,       the input (the derivative needs it; as torch)
hardswish, prelu, leaky_relu
(slope < 0), elu/celu (alpha < 0),
hardsigmoid (its output rounds to
1.0 at the largest float below 3,
where the derivative is 1/6)
gelu, silu, mish, softplus,       ``bits`` bits per element (an approximate backward:
hardswish with ``bits=1..4``      :mod:`relukit.torch._fewbit`)
leaky_relu (slope < 0) on CUDA    a 1-bit packed mask ``x > 0`` instead of the input
with Triton                       (:mod:`relukit.torch._triton`: one fused pass each way)
any, with ``at_kink=`` given      plus a bool per element: "the input is AT a kink"
prelu with a frozen weight        a bool per element (``x > 0``) instead of the input
                                  (:mod:`relukit.torch._prelu`)
================================  ================================================

Each Function has ``setup_context``, ``generate_vmap_rule`` and ``jvp``, and its backward
is made of differentiable torch ops, so ``torch.func.grad``/``vmap``/``jacrev``/
``jacfwd``, per-sample gradients and double backward give ``torch.nn``'s numbers.
Under ``torch.jit.trace`` the plain torch ops run instead (the trace is serialisable),
with a few more that keep ``at_kink``, ``bits=`` and NaN gradients
(:mod:`relukit.torch._trace`).

Values and gradients equal ``torch.nn``'s bit for bit on finite inputs, with two
documented exceptions: relu and relu6 give +0.0 for -0.0, and elu/celu/selu compute the
gradient from the output (exactly torch's in-place ``ELU(inplace=True)`` gradient,
within a few ulp of the out-of-place one for inputs ``<= 0``). At ±inf the value (and,
for the input-saving activations, the gradient) follows the catalogue where torch
differs (:mod:`relukit.torch._special`: torch gives ``gelu(-inf) = nan``, relukit
``-0.0``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from relukit import _dispatch
from relukit.catalogue import Activation, catalogue, get
from relukit.torch import _fewbit, _trace
from relukit.torch._levels import check_bits
from relukit.torch._params import _check_at_kink, _concrete, bind
from relukit.torch._special import (
    apply_fixes,
    apply_grad_fixes,
    apply_nan_fix,
    fixups,
    grad_hides_nan,
)
from relukit.torch._table import TABLE, TorchOps

__all__ = [
    "ActivationFunction",
    "apply",
    "celu",
    "elu",
    "function",
    "gelu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "mish",
    "plan",
    "relu",
    "relu6",
    "rrelu",
    "selu",
    "silu",
    "softplus",
]

_is_wrapped = torch._C._functorch.is_functorch_wrapped_tensor


# ---------------------------------------------------------------------------
# the plan: one catalogue entry with bound parameters, as torch runs it
# ---------------------------------------------------------------------------


def _xp() -> Any:
    """The Array API namespace of torch, for the catalogue's formulas (see :data:`_XP`)."""
    return _XP


def _torch_namespace() -> Any:
    import array_api_compat.torch as xp

    from relukit._namespaces import kind

    # the formulas ask which library xp is (cached per namespace); asked here, at import,
    # because under torch.compile Dynamo would trace array_api_compat's lru_cache'd checks
    # (and warn that it does)
    kind(xp)
    return xp


_XP = _torch_namespace()


@dataclass(frozen=True, eq=False)
class Plan:
    """How one catalogue entry with bound parameters runs in torch (see :func:`plan`).

    Attributes
    ----------
    act
        The catalogue entry.
    params
        The validated parameters, ``{name: value}``.
    ops
        Torch's kernels for the entry (:mod:`relukit.torch._table`), or ``None``: the
        catalogue's formulas run with torch ops.
    save
        ``"output"`` (the catalogue writes the derivative from the output, and accepts
        these parameters) or ``"input"``.
    kinks
        The kink locations, for ``at_kink``.
    fwd_fix, bwd_fix
        The special inputs where torch's kernel differs from the catalogue
        (:func:`relukit.torch._special.fixups`).
    nan_fix
        Torch's backward gives a number at a NaN input (relu'(nan) = 1): the gradient
        is set to NaN there (:func:`relukit.torch._special.grad_hides_nan`).
    """

    act: Activation
    params: dict[str, Any]
    ops: TorchOps | None
    save: Literal["output", "input"]
    kinks: tuple[float, ...]
    fwd_fix: tuple[Any, ...]
    bwd_fix: tuple[Any, ...]
    nan_fix: bool = False

    @property
    def inplace_ok(self) -> bool:
        return self.ops is None or self.ops.inplace

    @property
    def inf_only(self) -> bool:
        """Every fix-up is at ±inf (none at NaN or ±0.0)."""
        return all(s in (-math.inf, math.inf) for s, _ in self.fwd_fix + self.bwd_fix)

    def value(self, x: torch.Tensor, inplace: bool, finite: bool = False) -> torch.Tensor:
        """The value, with torch's kernel (fixed at the special inputs) or the formula.

        ``finite``: ``x`` is known to hold no ±inf or NaN (no fix-ups needed).
        """
        ops, p = self.ops, self.params
        if ops is None:
            y = _dispatch.formula(self.act, "value", x, p).to(x.dtype)
            return x.copy_(y) if inplace else y
        if not self.fwd_fix or (finite and self.inf_only):
            return ops.value(x, p, inplace)
        y = apply_fixes(x, ops.value(x, p, False), self.fwd_fix)
        return x.copy_(y) if inplace else y

    def grad(self, g: torch.Tensor, t: torch.Tensor, finite: bool = False) -> torch.Tensor:
        """``g`` times the derivative, from ``t``: the saved output or input.

        ``finite``: the input was found to hold no ±inf or NaN (no fix-ups needed). At a
        NaN input the gradient is NaN (the saved output is NaN exactly there too).
        """
        ops, p = self.ops, self.params
        if ops is None:
            which = "from_output" if self.save == "output" else "derivative"
            d = _dispatch.formula(self.act, which, t, p)
            return g * d.to(g.dtype)
        if self.save == "output":
            gi = ops.from_output(g, t, p)  # type: ignore[misc]
        else:
            gi = ops.from_input(g, t, p)  # type: ignore[misc]
            if self.bwd_fix and not (finite and self.inf_only):
                gi = apply_grad_fixes(t, g, gi, self.bwd_fix)
        if self.nan_fix and not finite:
            gi = apply_nan_fix(t, gi)
        return gi


def _finite(pl: Plan, x: torch.Tensor, grad: bool = False) -> bool:
    """``x`` holds no ±inf or NaN, found by one reduction (a ``sum``, no copy).

    Only asked in plain eager mode on CPU, for plans with fix-ups at ±inf, and (``grad``:
    autograd records the call) for plans whose torch backward gives a number at NaN
    (:attr:`Plan.nan_fix`): there the fix-ups (a comparison and a fill, each a full
    pass) would cost more than the activation itself, so one reduction decides, and a
    finite input pays nothing else. Elsewhere (CUDA: no host sync; tracers,
    ``torch.func``, fake tensors: no data-dependent branch) the fix-ups always run.
    """
    need = (pl.fwd_fix and pl.inf_only) or (grad and pl.nan_fix)
    return bool(need) and _all_finite(x)


def _all_finite(x: torch.Tensor) -> bool:
    """The reduction of :func:`_finite`, in plain eager mode on CPU only (else False)."""
    if torch.compiler.is_compiling():
        return False
    if x.device.type != "cpu" or x.numel() == 0 or type(x) is not torch.Tensor:
        return False
    if _is_wrapped(x):
        return False
    if torch._C._get_tracing_state() or torch._C._len_torch_dispatch_stack():
        return False
    # a finite sum means no NaN and no ±inf (an overflow to inf only makes the fix-ups
    # run); a sum reads x once, at about 1.5x the speed of aminmax
    return math.isfinite(x.detach().sum().item())


def _save_mode(act: Activation, ops: TorchOps | None, p: dict) -> Literal["output", "input"]:
    if ops is not None and ops.from_output is None:
        return "input"
    # e.g. leaky_relu with a negative slope: the output cannot tell the branch
    m, args = act.math.resolve(p)
    return "output" if m.can_use_output(args) else "input"


@functools.lru_cache(maxsize=1024)
def _plan(name: str, pvals: tuple[Any, ...]) -> Plan:
    act = get(name)
    p = dict(zip(act.params, pvals, strict=True))
    ops = TABLE.get(name)
    kinks = tuple(k[0] for k in act.kink_points(**p))
    fwd, bwd = fixups(name, pvals)
    save = _save_mode(act, ops, p)
    return Plan(act, p, ops, save, kinks, fwd, bwd, grad_hides_nan(name, pvals, save))


def plan(name: str, pvals: tuple[Any, ...] = ()) -> Plan:
    """The :class:`Plan` of catalogue entry ``name`` with (validated) parameter values.

    >>> from relukit.torch._functions import plan
    >>> plan("leaky_relu", (0.1,)).save, plan("leaky_relu", (-0.5,)).save
    ('output', 'input')
    >>> plan("gelu", ("none",)).save
    'input'
    """
    return _get_plan(name, pvals)


def _get_plan(name: str, pvals: tuple[Any, ...]) -> Plan:
    """:func:`_plan`, cached; under ``torch.compile`` the function itself (Dynamo traces
    the function under an lru_cache anyway, and warns that it does)."""
    if torch.compiler.is_compiling():
        return _plan.__wrapped__(name, pvals)
    return _plan(name, pvals)


def _kink_mask(x: torch.Tensor, locs: tuple[float, ...]) -> torch.Tensor:
    """``x`` is AT one of the kinks: a bool tensor (1 byte per element, 1 to 3 ops)."""
    m = x == locs[0]
    for loc in locs[1:]:
        m = m | (x == loc)
    return m


def _at_kink(gi: torch.Tensor, g: torch.Tensor, mask: torch.Tensor, at_kink: float) -> torch.Tensor:
    return torch.where(mask, g * at_kink, gi)


def _triton_mask(pl: Plan, x: torch.Tensor, inplace: bool, at_kink: float | None) -> bool:
    """relu/leaky_relu that would keep the input (leaky_relu with a negative slope: the
    output cannot tell the branch) keep a 1-bit packed mask instead, written with the
    value by one fused Triton kernel: only for plain CUDA tensors when ``triton`` imports
    (never on CPU, under tracers, fake tensors, ``torch.func`` or ``torch.compile``)."""
    if pl.act.name not in ("relu", "leaky_relu") or pl.save != "input" or inplace:
        return False
    if at_kink is not None or x.device.type != "cuda" or type(x) is not torch.Tensor:
        return False
    if torch.compiler.is_compiling() or _is_wrapped(x) or torch._C._get_tracing_state():
        return False
    if torch._C._len_torch_dispatch_stack():
        return False
    from relukit.torch import _triton

    return _triton.available() and _triton.supports(x)


def _mask_grad(pl: Plan, g: torch.Tensor, packed: torch.Tensor, shape: Any) -> torch.Tensor:
    """The gradient from the packed mask of :func:`_triton_mask` (fused when possible;
    differentiable torch ops for double backward and transforms)."""
    slope = pl.params.get("negative_slope", 0.0)
    if not torch.is_grad_enabled() and type(g) is torch.Tensor and not _is_wrapped(g):
        from relukit.torch import _triton

        if g.device.type == "cuda" and _triton.supports(g):
            return _triton.mask_backward(pl.act.name, g, packed, slope)
    from relukit.torch import _bits

    return torch.where(_bits.unpack(packed, shape), g, g * slope)


# ---------------------------------------------------------------------------
# the autograd Function
# ---------------------------------------------------------------------------


class _ActivationCore(torch.autograd.Function):
    """One Function for every catalogue entry; its :class:`Plan` selects the formulas.

    ``forward(x, plan, at_kink, inplace, finite)`` returns ``(y, *extras)``: the extras are what
    must be read from the input before an in-place op overwrites it (a copy of the input
    when the plan saves it, the kink mask); they are marked non-differentiable.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(
        x: torch.Tensor, plan: Plan, at_kink: float | None, inplace: bool, finite: bool
    ) -> tuple[torch.Tensor, ...]:
        if _triton_mask(plan, x, inplace, at_kink):
            from relukit.torch import _triton

            return _triton.mask_forward(plan.act.name, x, plan.params.get("negative_slope", 0.0))
        extras = []
        if inplace and plan.save == "input":
            extras.append(x.clone())
        if at_kink is not None and plan.kinks:
            extras.append(_kink_mask(x, plan.kinks))
        return (plan.value(x, inplace, finite), *extras)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, plan, at_kink, inplace, finite = inputs
        y, *extras = output
        if inplace:
            ctx.mark_dirty(x)
        if extras:
            ctx.mark_non_differentiable(*extras)
        ctx.mask_shape = None
        if extras and extras[0].dtype == torch.uint8:  # the packed mask (_triton_mask)
            ctx.mask_shape = x.shape
            t = extras.pop(0)
        elif plan.save == "output":
            t = y
        elif inplace:
            t = extras.pop(0)
        else:
            t = x
        ctx.save_for_backward(t, *extras)
        if _forward_ad():
            ctx.save_for_forward(t, *extras)
        ctx.set_materialize_grads(False)  # no zero gradients for the extras
        ctx.plan, ctx.inplace, ctx.finite = plan, inplace, finite
        ctx.at_kink = at_kink if extras else None
        ctx.n_extra = len(output) - 1

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        if g is None:
            return None, None, None, None, None
        t, *masks = ctx.saved_tensors
        if ctx.mask_shape is not None:
            return _mask_grad(ctx.plan, g, t, ctx.mask_shape), None, None, None, None
        gi = ctx.plan.grad(g, t, ctx.finite)
        if ctx.at_kink is not None:
            gi = _at_kink(gi, g, masks[0], ctx.at_kink)
        return gi, None, None, None, None


class ActivationFunction(_ActivationCore):
    """:class:`_ActivationCore` with forward-mode AD (``jvp``).

    ``torch.compile`` cannot trace a Function that defines ``jvp``, so compiled code
    runs :class:`_ActivationCore`.
    """

    @staticmethod
    def jvp(ctx: Any, tx: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        # an element-wise function: its Jacobian is diagonal, J t = J^T t
        t, *masks = ctx.saved_tensors
        if ctx.mask_shape is not None:
            return _mask_grad(ctx.plan, tx, t, ctx.mask_shape), None
        ty = ctx.plan.grad(tx, t, ctx.finite)
        if ctx.at_kink is not None:
            ty = _at_kink(ty, tx, masks[0], ctx.at_kink)
        if ctx.inplace:
            ty = tx.copy_(ty)
        return (ty, *([None] * ctx.n_extra))


def _check_inplace(x: torch.Tensor) -> None:
    """Raise torch's own errors for in-place use autograd cannot support, BEFORE writing."""
    if x.is_leaf:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    base = x._base
    if base is not None and base.is_leaf and base.requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )


def _forward_ad() -> bool:
    """Forward-mode AD (``torch.func.jvp``/``jacfwd``, dual tensors) may be active."""
    return torch.autograd.forward_ad._current_level >= 0 or (
        torch._C._are_functorch_transforms_active()
    )


def _call(fn: type[torch.autograd.Function], *args: Any) -> tuple[torch.Tensor, ...]:
    """``fn.apply(*args)``; in plain eager mode without ``Function.apply``'s signature
    binding (``inspect.signature`` on every call: most of the Python overhead per call).
    All arguments are positional and given, so binding changes nothing."""
    if torch._C._are_functorch_transforms_active() or torch.compiler.is_compiling():
        return fn.apply(*args)
    return super(torch.autograd.Function, fn).apply(*args)  # type: ignore[misc]


def _differentiable(*ts: torch.Tensor) -> bool:
    """Would autograd (reverse or forward mode, or a torch.func transform) see this call?"""
    if torch.compiler.is_compiling():
        return torch.is_grad_enabled() and any(t.requires_grad for t in ts)
    if torch.is_grad_enabled() and any(t.requires_grad or _is_wrapped(t) for t in ts):
        return True
    return torch.autograd.forward_ad._current_level >= 0 or any(_is_wrapped(t) for t in ts)


#: the entries whose parameters are checked against x's dtype (leaky_relu's slope)
_DTYPE_CHECKS = {a.name: a for a in catalogue() if a.check_dtype is not None}
_DTYPE_OK: set[tuple[Any, ...]] = set()  # (name, parameter values, dtype) that passed


def _check_dtype(name: str, pv: tuple[Any, ...], dtype: torch.dtype) -> None:
    """The catalogue's check of the parameters against ``dtype`` (remembered when passed)."""
    key = (name, pv, dtype)
    if key in _DTYPE_OK:
        return
    act = _DTYPE_CHECKS[name]
    act.check_dtype(dict(zip(act.params, pv, strict=True)), dtype)  # type: ignore[misc]
    if len(_DTYPE_OK) < 4096:
        _DTYPE_OK.add(key)


def apply(name: str, x: Any, pvals: tuple[Any, ...], inplace: bool, at_kink: Any) -> torch.Tensor:
    """Validate and run catalogue entry ``name`` on tensor ``x`` (the functional forms' body)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"relukit.torch.{name}: input must be a torch.Tensor, got {type(x).__name__} "
            f"(use relukit.{name} for Python numbers, lists and NumPy arrays)"
        )
    if not isinstance(inplace, bool):
        raise TypeError(f"relukit.torch.{name}: inplace must be True or False, got {inplace!r}")
    pv = bind(name, pvals)
    if name in _DTYPE_CHECKS and x.is_floating_point():  # (before _plan runs torch's op)
        _check_dtype(name, pv, x.dtype)
    pl = _get_plan(name, pv)
    if inplace and not pl.inplace_ok:
        raise ValueError(f"relukit.torch.{name}: there is no in-place variant (as in torch)")
    if at_kink is not None:
        at_kink = _check_at_kink(name, at_kink)
    if not x.is_floating_point():
        # integer tensors: torch's own op decides (relu keeps ints; others raise as torch)
        if name == "relu":
            return torch.relu_(x) if inplace else torch.relu(x)
        if name == "relu6":
            return F.relu6(x, inplace)
        if pl.ops is not None:
            return pl.ops.value(x, pl.params, inplace)
        raise TypeError(f"relukit.torch.{name}: input must be a floating-point tensor")
    if torch._C._get_tracing_state():
        # torch's own autograd on plain ops, a trace that can be saved and reloaded, with
        # a few ops more where relukit's gradient differs from torch's (at_kink, NaN)
        return _trace.value(pl, x, inplace, at_kink)
    if _differentiable(x):
        if inplace and x.requires_grad:
            _check_inplace(x)
        fn = _ActivationCore if torch.compiler.is_compiling() else ActivationFunction
        finite = _finite(pl, x, grad=True)
        if inplace and x._is_view() and (pl.save == "input" or (at_kink is not None and pl.kinks)):
            # autograd refuses a Function that writes a view in place and returns more than
            # one tensor (here: the copy of the input or the kink mask it keeps): compute out
            # of place, from a copy when the input is kept (the copy is what a Function
            # writing in place would keep), and write the result into the view
            y = _call(fn, x.clone() if pl.save == "input" else x, pl, at_kink, False, finite)[0]
            return x.copy_(y)
        return _call(fn, x, pl, at_kink, inplace, finite)[0]
    return pl.value(x, inplace, _finite(pl, x))


def fewbit(
    name: str, x: Any, pvals: tuple[Any, ...], bits: Any, inplace: bool = False
) -> torch.Tensor:
    """Validate and run ``name`` with a ``bits``-bit backward (:mod:`relukit.torch._fewbit`):
    the ``bits=`` path of the functional forms and modules."""
    where = f"relukit.torch.{name}"
    bits_ = check_bits(where, bits)
    if bits_ is None:
        raise TypeError(f"{where}: fewbit needs bits")
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{where}: input must be a torch.Tensor, got {type(x).__name__} "
            f"(use relukit.{name} for Python numbers, lists and NumPy arrays)"
        )
    pv = bind(name, pvals)
    if inplace and x.requires_grad and torch.is_grad_enabled():
        _check_inplace(x)
    value = functools.partial(_exact_value, name, pv)
    if torch._C._get_tracing_state() and x.is_floating_point():  # plain ops (see apply)
        rounded, levels = _fewbit.rounded_levels(name, pv, bits_, x.dtype)
        return _trace.fewbit(x, rounded, levels, inplace, value)
    return _fewbit.fewbit(name, x, pv, bits_, inplace, value)


def _exact_value(name: str, pvals: tuple[Any, ...], x: torch.Tensor, inplace: bool) -> torch.Tensor:
    return apply(name, x, pvals, inplace, None)


def _no_kink_with_bits(name: str, at_kink: Any) -> None:
    if at_kink is not None:
        raise ValueError(f"relukit.torch.{name}: at_kink and bits cannot be combined")


def function(name: str) -> Any:
    """``f(input, *params, inplace=False, at_kink=None, **params)`` for any catalogue entry.

    The generic functional form: entries without a named function in
    :mod:`relukit.torch` (a new catalogue entry) work through this one.

    >>> import torch
    >>> from relukit.torch import function
    >>> function("relu6")(torch.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """
    act = get(name)

    def f(
        input: torch.Tensor,
        *args: Any,
        inplace: bool = False,
        at_kink: float | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        if "bits" in kwargs:
            raise TypeError(
                f"relukit.torch.{act.name}: got bits={kwargs['bits']!r}, but only "
                f"{', '.join(_fewbit.PARAMS)} take bits= (a few-bit backward)"
            )
        if kwargs and torch.compiler.is_compiling():  # symbolic numbers: see _concrete
            kwargs = dict(zip(kwargs, _concrete(tuple(kwargs.values())), strict=True))
        pvals = tuple(act.bind(_concrete(args), kwargs).values()) if args or kwargs else ()
        return apply(act.name, input, pvals, inplace, at_kink)

    f.__name__ = f.__qualname__ = act.name
    f.__doc__ = f"{act.summary}\n\n    {act.formula}\n"
    return f


# the functional forms (signatures of torch.nn.functional, plus at_kink)
# ---------------------------------------------------------------------------


def relu(
    input: torch.Tensor, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""ReLU, :math:`\max(0, x)`; backward keeps the output (as torch).

    Like :func:`torch.nn.functional.relu`; the gradient at 0 is 0 (torch's) unless
    ``at_kink`` is given. relu(-0.0) is +0.0.

    Examples
    --------
    >>> import torch, relukit.torch as rt
    >>> x = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> rt.relu(x).sum().backward(); x.grad
    tensor([0., 0., 1.])
    >>> x.grad = None; rt.relu(x, at_kink=1.0).sum().backward(); x.grad
    tensor([0., 1., 1.])
    """
    return apply("relu", input, (), inplace, at_kink)


def leaky_relu(
    input: torch.Tensor,
    negative_slope: float = 0.01,
    inplace: bool = False,
    *,
    at_kink: float | None = None,
) -> torch.Tensor:
    r"""Leaky ReLU, :math:`x` if :math:`x > 0` else ``negative_slope`` :math:`\cdot x`.

    Backward keeps the output (shared with the next layer) for ``negative_slope >= 0``,
    the input otherwise. In-place works with any slope (torch's ``leaky_relu_`` refuses
    a negative slope in backward): the input is copied before it is overwritten.

    >>> import torch, relukit.torch as rt
    >>> rt.leaky_relu(torch.tensor([-10.0, 3.0]), 0.1)
    tensor([-1.,  3.])
    """
    return apply("leaky_relu", input, (negative_slope,), inplace, at_kink)


_RRELU_CHECK: Any = get("rrelu").check_dtype  # lower, upper and their mean vs x's dtype


@functools.lru_cache(maxsize=256)
def _rrelu_bounds_cached(typed: tuple[tuple[type, Any], ...]) -> tuple[float, float]:
    p = get("rrelu").bind(tuple(v for _, v in typed), {"rng": 0})  # a fixed seed: no draw
    return p["lower"], p["upper"]


def _rrelu_bounds(lower: Any, upper: Any) -> tuple[float, float]:
    """rrelu's ``lower`` and ``upper``, validated by the catalogue (cached by value and type)."""
    lower, upper = _concrete((lower, upper))
    if torch.compiler.is_compiling():  # no lru_cache under Dynamo (see _get_plan)
        return _rrelu_bounds_cached.__wrapped__(((type(lower), lower), (type(upper), upper)))
    try:
        return _rrelu_bounds_cached(((type(lower), lower), (type(upper), upper)))
    except TypeError as exc:
        if "unhashable" not in str(exc):
            raise
        return _rrelu_bounds_cached.__wrapped__(((type(lower), lower), (type(upper), upper)))


def rrelu(
    input: torch.Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    at_kink: float | None = None,
) -> torch.Tensor:
    r"""Randomized leaky ReLU, :math:`x` if :math:`x > 0` else :math:`a x`.

    Like :func:`torch.nn.functional.rrelu`. In evaluation (``training=False``) the slope
    is :math:`a = (\mathrm{lower} + \mathrm{upper}) / 2` and this is :func:`leaky_relu`
    with that slope (backward keeps the output; ``torch.func`` transforms work, which
    torch's own ``rrelu`` does not support). In training each element draws
    :math:`a \sim U(\mathrm{lower}, \mathrm{upper})` from torch's generator: torch's
    ``F.rrelu`` runs, with torch's autograd (``at_kink`` must then be ``None``).
    Unlike torch, ``lower > upper`` is an error.

    >>> import torch, relukit.torch as rt
    >>> rt.rrelu(torch.tensor([-3.0, 2.0]), 0.1, 0.3)
    tensor([-0.6000,  2.0000])
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(
            f"relukit.torch.rrelu: input must be a torch.Tensor, got {type(input).__name__}"
        )
    if not isinstance(training, bool):
        raise TypeError(f"relukit.torch.rrelu: training must be True or False, got {training!r}")
    lo, hi = _rrelu_bounds(lower, upper)
    if input.is_floating_point():
        _RRELU_CHECK({"lower": lo, "upper": hi, "training": training}, input.dtype)
    if training:
        if at_kink is not None:
            raise ValueError(
                "relukit.torch.rrelu: at_kink applies in evaluation only (in training "
                "torch's rrelu draws the slopes and computes the gradient)"
            )
        return F.rrelu(input, lo, hi, True, inplace)
    at_kink = None if at_kink is None else _check_at_kink("rrelu", at_kink)
    return apply("leaky_relu", input, ((lo + hi) / 2,), inplace, at_kink)


def relu6(
    input: torch.Tensor, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""ReLU6, :math:`\min(\max(0, x), 6)`; keeps the output; gradient 0 at 0 and 6.

    >>> import torch, relukit.torch as rt
    >>> rt.relu6(torch.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """
    return apply("relu6", input, (), inplace, at_kink)


def hardtanh(
    input: torch.Tensor,
    min_val: float = -1.0,
    max_val: float = 1.0,
    inplace: bool = False,
    *,
    at_kink: float | None = None,
) -> torch.Tensor:
    r"""Hardtanh, :math:`\min(\max(x, \mathrm{min\_val}), \mathrm{max\_val})`; keeps the output.

    >>> import torch, relukit.torch as rt
    >>> rt.hardtanh(torch.tensor([-3.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    return apply("hardtanh", input, (min_val, max_val), inplace, at_kink)


def hardsigmoid(
    input: torch.Tensor, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""Hardsigmoid, :math:`\min(\max(x / 6 + 1/2, 0), 1)`; keeps the output.

    >>> import torch, relukit.torch as rt
    >>> rt.hardsigmoid(torch.tensor([-4.0, 0.0, 4.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    return apply("hardsigmoid", input, (), inplace, at_kink)


def elu(
    input: torch.Tensor, alpha: float = 1.0, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""ELU, :math:`x` if :math:`x > 0` else :math:`\alpha (e^x - 1)`; saves only the output.

    The derivative is written from the output (:math:`y + \alpha` for :math:`x \le 0`),
    as torch's in-place ELU does.

    >>> import torch, relukit.torch as rt
    >>> rt.elu(torch.tensor([0.0, 1.0]))
    tensor([0., 1.])
    """
    return apply("elu", input, (alpha,), inplace, at_kink)


def celu(
    input: torch.Tensor, alpha: float = 1.0, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""CELU, :math:`\max(0, x) + \min(0, \alpha (e^{x/\alpha} - 1))`; saves only the output.

    >>> import torch, relukit.torch as rt
    >>> rt.celu(torch.tensor([0.0, 2.0]), alpha=0.5)
    tensor([0., 2.])
    """
    return apply("celu", input, (alpha,), inplace, at_kink)


def selu(
    input: torch.Tensor, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""SELU, :math:`\lambda x` if :math:`x > 0` else :math:`\lambda\alpha(e^x - 1)`; saves the output.

    >>> import torch, relukit.torch as rt
    >>> rt.selu(torch.tensor([0.0]))
    tensor([0.])
    """
    return apply("selu", input, (), inplace, at_kink)


def gelu(
    input: torch.Tensor, approximate: str = "none", *, bits: int | None = None
) -> torch.Tensor:
    r"""GELU, :math:`x \Phi(x)` (``approximate='tanh'`` for the tanh form).

    ``bits=1..4``: few-bit backward (``bits`` bits per element kept for backward, a
    piecewise-constant derivative); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.gelu(torch.tensor([0.0, float("-inf")]))  # the limit at -inf: -0.0
    tensor([0., -0.])
    """
    if bits is not None:
        return fewbit("gelu", input, (approximate,), bits)
    return apply("gelu", input, (approximate,), False, None)


def silu(input: torch.Tensor, inplace: bool = False, *, bits: int | None = None) -> torch.Tensor:
    r"""SiLU (swish), :math:`x \sigma(x)`.

    ``bits=1..4``: few-bit backward (``bits`` bits per element kept for backward, a
    piecewise-constant derivative); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.silu(torch.tensor([0.0]))
    tensor([0.])
    """
    if bits is not None:
        return fewbit("silu", input, (), bits, inplace)
    return apply("silu", input, (), inplace, None)


def mish(input: torch.Tensor, inplace: bool = False, *, bits: int | None = None) -> torch.Tensor:
    r"""Mish, :math:`x \tanh(\mathrm{softplus}(x))`.

    ``bits=1..4``: few-bit backward (``bits`` bits per element kept for backward, a
    piecewise-constant derivative); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.mish(torch.tensor([0.0]))
    tensor([0.])
    """
    if bits is not None:
        return fewbit("mish", input, (), bits, inplace)
    return apply("mish", input, (), inplace, None)


def softplus(
    input: torch.Tensor,
    beta: float = 1.0,
    threshold: float = 20.0,
    *,
    at_kink: float | None = None,
    bits: int | None = None,
) -> torch.Tensor:
    r"""Softplus, :math:`\frac{1}{\beta}\log(1 + e^{\beta x})` (linear above ``threshold``).

    ``bits=1..4``: few-bit backward (``bits`` bits per element kept for backward, a
    piecewise-constant derivative); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.softplus(torch.tensor([30.0]))
    tensor([30.])
    """
    if bits is not None:
        _no_kink_with_bits("softplus", at_kink)
        return fewbit("softplus", input, (beta, threshold), bits)
    return apply("softplus", input, (beta, threshold), False, at_kink)


def hardswish(
    input: torch.Tensor,
    inplace: bool = False,
    *,
    at_kink: float | None = None,
    bits: int | None = None,
) -> torch.Tensor:
    r"""Hardswish, :math:`x \cdot \mathrm{relu6}(x + 3) / 6`.

    ``bits=1..4``: few-bit backward (``bits`` bits per element kept for backward, a
    piecewise-constant derivative); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.hardswish(torch.tensor([-4.0, 4.0]))
    tensor([-0., 4.])
    """
    if bits is not None:
        _no_kink_with_bits("hardswish", at_kink)
        return fewbit("hardswish", input, (), bits, inplace)
    return apply("hardswish", input, (), inplace, at_kink)
