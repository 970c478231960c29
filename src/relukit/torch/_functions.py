"""The functional forms of relukit.torch, derived from the catalogue.

Every entry runs through :mod:`relukit.torch._core`: one ``torch.autograd.Function`` that
computes the entry's formulas (:attr:`relukit.catalogue.Activation.math`) on the route
the tensor allows (numba kernels for CPU tensors, the bits of the NumPy API; generated
Triton kernels on CUDA; the formulas in torch operations under ``torch.compile``,
``torch.func``, tracers, fake tensors and other devices). This module validates the
arguments (through the catalogue, with its messages), and holds the functional forms
with ``torch.nn.functional``'s signatures.

What backward keeps (``ctx.save_for_backward``, visible to ``saved_tensors_hooks``):

================================  ================================================
activation                        saved
================================  ================================================
relu, leaky_relu (slope >= 0),    **the output** (the derivative written from the
relu6, hardtanh                   output is exact). The next layer (Linear, Conv)
                                  usually keeps the same tensor, so this costs no
                                  extra storage.
every other entry                 the input (as torch)
gelu, silu, mish, softplus,       ``bits`` bits per element (an approximate backward:
hardswish with ``bits=1..4``      :mod:`relukit.torch._fewbit`)
any, with ``at_kink=`` given      plus a bool per element: "the input is AT a kink"
                                  (where the output is kept)
prelu with a frozen weight        a bool per element (``x > 0``) instead of the input
                                  (:mod:`relukit.torch._prelu`)
gated entries (swiglu, ...)       the two inputs (``f(gate)`` is recomputed)
================================  ================================================

The Function has ``setup_context``, ``generate_vmap_rule`` and ``jvp``, and its backward
is differentiable (double backward runs the derivative's formula in torch operations),
so ``torch.func.grad``/``vmap``/``jacrev``/``jacfwd``, per-sample gradients and double
backward work. Under ``torch.jit.trace`` plain torch operations run instead, whose
autograd gives relukit's gradients (:mod:`relukit.torch._trace`).

Values and gradients on CPU tensors equal the NumPy API's (``rk.gelu(t.numpy())``) bit
for bit, float32 and float64; they differ from ``torch.nn``'s where torch's kernels are
less accurate (GELU's left tail, where ATen's float32 GELU is off by 10^7 ulp) or give
another value at ±inf, NaN or -0.0 (``gelu(-inf)`` is -0.0, not NaN; relu'(nan) is NaN).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F

from relukit.catalogue import catalogue, get
from relukit.torch import _core, _fewbit, _trace
from relukit.torch._core import TorchPlan as Plan
from relukit.torch._core import plan
from relukit.torch._levels import check_bits
from relukit.torch._params import _check_at_kink, _concrete, bind

__all__ = [
    "Plan",
    "apply",
    "apply_gated",
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


#: the entries whose parameters are checked against x's dtype (leaky_relu's slope)
_DTYPE_CHECKS = {a.name: a for a in catalogue() if a.check_dtype is not None}
_DTYPE_OK: set[tuple[Any, ...]] = set()  # (name, parameter values, dtype) that passed


def _check_dtype(name: str, pv: tuple[Any, ...], dtype: torch.dtype) -> None:
    """The catalogue's check of the parameters against ``dtype`` (remembered when passed)."""
    key = (name, pv, dtype)
    compiling = torch.compiler.is_compiling()
    # (under torch.compile the check runs on constants, uncached: a look-up in the cache
    # would become a guard on its content, which this call changes: a recompile each time)
    if not compiling and key in _DTYPE_OK:
        return
    act = _DTYPE_CHECKS[name]
    act.check_dtype(dict(zip(act.params, pv, strict=True)), dtype)  # type: ignore[misc]
    if not compiling and len(_DTYPE_OK) < 4096:
        _DTYPE_OK.add(key)


def _tensor(name: str, x: Any, what: str = "input") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"relukit.torch.{name}: {what} must be a torch.Tensor, got {type(x).__name__} "
            f"(use relukit.{name} for Python numbers, lists and NumPy arrays)"
        )


#: (entry, inplace, dtype, parameter values, their types) -> the plan, for the settings
#: :func:`apply` accepted before: numbers and strings only (a tensor parameter may
#: change in place). In a model every Python step of a call costs several times what
#: it costs in a loop: settings seen before go straight to the plan.
_VALIDATED: dict[tuple[Any, ...], _core.TorchPlan] = {}
_PLAIN = (float, int, bool, str)


def apply(name: str, x: Any, pvals: tuple[Any, ...], inplace: bool, at_kink: Any) -> torch.Tensor:
    """Validate and run catalogue entry ``name`` on tensor ``x`` (the functional forms' body)."""
    key = None
    if (
        at_kink is None
        and type(x) is torch.Tensor
        and (inplace is True or inplace is False)
        and not torch.compiler.is_compiling()
    ):
        key = (name, inplace, x.dtype, pvals, tuple(map(type, pvals)))
        try:
            known = _VALIDATED.get(key)
        except TypeError:  # an unhashable value: the catalogue's error below
            known = key = None
        if known is not None:
            return _core.apply(known, x, inplace, None)
    _tensor(name, x)
    if not isinstance(inplace, bool):
        raise TypeError(f"relukit.torch.{name}: inplace must be True or False, got {inplace!r}")
    pv = bind(name, pvals)
    if name in _DTYPE_CHECKS and x.is_floating_point():
        _check_dtype(name, pv, x.dtype)
    pl = plan(name, pv)
    if inplace and not pl.inplace_ok:
        raise ValueError(f"relukit.torch.{name}: there is no in-place variant (as in torch)")
    if at_kink is not None:
        at_kink = _check_at_kink(name, at_kink)
    if not x.is_floating_point():
        # integer tensors: torch's own function decides (relu keeps integers, others
        # raise torch's error); an entry torch lacks takes floating tensors only
        fn = _core.torch_function(pl.act)
        if fn is None:
            raise TypeError(
                f"relukit.torch.{name}: input must be a floating-point tensor, got {x.dtype}"
            )
        kw = {"inplace": True} if inplace else {}
        return fn(x, **pl.params, **kw)
    if key is not None and all(type(v) in _PLAIN for v in pvals):
        if len(_VALIDATED) > 1024:
            _VALIDATED.clear()
        _VALIDATED[key] = pl
    return _core.apply(pl, x, inplace, at_kink)


def apply_gated(
    name: str,
    gate: Any,
    up: Any,
    pvals: tuple[Any, ...],
    at_kink: Any,
    dim: int = -1,
) -> torch.Tensor:
    """Validate and run the gated entry ``name``: ``f(gate) * up``, or with ``up=None``
    ``gate`` split in halves along ``dim`` (the first half is ``up``, the second the gate,
    as ``torch.nn.GLU``)."""
    _tensor(name, gate)
    if up is not None:
        _tensor(name, up, "up")
    pv = bind(name, pvals)
    pl = plan(name, pv)
    if at_kink is not None:
        at_kink = _check_at_kink(name, at_kink)
    if up is None:
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"relukit.torch.{name}: dim must be an int, got {dim!r}")
        ndim = gate.dim()
        if ndim == 0:
            raise RuntimeError(f"relukit.torch.{name}: glu does not support scalars")
        if not -ndim <= dim < ndim:  # torch's IndexError, the NumPy API's wording
            raise IndexError(
                f"relukit.torch.{name}: dim={dim} is out of range for an input with {ndim} "
                f"dimension(s) (expected to be in range of [{-ndim}, {ndim - 1}])"
            )
        size = gate.shape[dim]
        if size % 2:
            raise RuntimeError(
                f"relukit.torch.{name}: Halving dimension must be even, but dimension "
                f"{dim % gate.dim()} is size {size}"
            )
        up, gate = gate.chunk(2, dim)
    for t in (gate, up):
        if not t.is_floating_point():
            raise TypeError(
                f"relukit.torch.{name}: input must be a floating-point tensor, got {t.dtype}"
            )
    return _core.apply_gated(pl, gate, up, at_kink)


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
        _core._check_inplace(x)
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
    :mod:`relukit.torch` (a new catalogue entry) work through this one. A gated entry's
    is ``f(gate, up=None, *params, dim=-1, at_kink=None, **params)``: ``f(gate) * up``,
    or with ``up=None`` its one tensor split in halves along ``dim`` (the second half is
    the gate, as ``torch.nn.functional.glu``, whose ``dim`` is a keyword here).

    >>> import torch
    >>> from relukit.torch import function
    >>> function("relu6")(torch.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    >>> function("reglu")(torch.tensor([-1.0, 2.0]), torch.tensor([3.0, 3.0]))
    tensor([0., 6.])
    """
    act = get(name)

    def no_bits(kwargs: dict[str, Any]) -> None:
        if "bits" in kwargs:
            raise TypeError(
                f"relukit.torch.{act.name}: got bits={kwargs['bits']!r}, but only "
                f"{', '.join(_fewbit.PARAMS)} take bits= (a few-bit backward)"
            )

    def values(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        if kwargs and torch.compiler.is_compiling():  # symbolic numbers: see _concrete
            kwargs = dict(zip(kwargs, _concrete(tuple(kwargs.values())), strict=True))
        return tuple(act.bind(_concrete(args), kwargs).values()) if args or kwargs else ()

    def f(
        input: torch.Tensor,
        *args: Any,
        inplace: bool = False,
        at_kink: float | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        no_bits(kwargs)
        if act.name == "rrelu":  # random slopes in training: torch's own (see rrelu)
            if "rng" in kwargs:
                raise TypeError(
                    f"relukit.torch.rrelu: got rng={kwargs['rng']!r}; in training torch's "
                    "random generator draws the slopes (torch.manual_seed), rng is the NumPy "
                    "API's"
                )
            p = act.bind(_concrete(args), kwargs)
            return rrelu(input, p["lower"], p["upper"], p["training"], inplace, at_kink=at_kink)
        return apply(act.name, input, values(args, kwargs), inplace, at_kink)

    def gated(
        input: torch.Tensor,
        up: torch.Tensor | None = None,
        *args: Any,
        dim: int = -1,
        at_kink: float | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        no_bits(kwargs)
        if isinstance(up, int) and not isinstance(up, bool):
            raise TypeError(
                f"relukit.torch.{act.name}: up must be a torch.Tensor or None, got {up!r}; "
                f"the split form takes the dimension as a keyword: dim={up!r}"
            )
        return apply_gated(act.name, input, up, values(args, kwargs), at_kink, dim)

    fn: Any = gated if act.gated else f
    fn.__name__ = fn.__qualname__ = act.name
    fn.__doc__ = f"{act.summary}\n\n    {act.formula}\n"
    return fn


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
    r"""ELU, :math:`x` if :math:`x > 0` else :math:`\alpha (e^x - 1)`; keeps the input.

    Backward keeps the input, as torch's out-of-place ELU: the derivative from the
    output (:math:`y + \alpha` for :math:`x \le 0`, torch's in-place form) is not exact
    (in float32 :math:`y + \alpha` is 0 at :math:`x = -20`, where the derivative is
    :math:`2 \cdot 10^{-9}`). In place, a copy of the input is kept (any ``alpha``).

    >>> import torch, relukit.torch as rt
    >>> rt.elu(torch.tensor([0.0, 1.0]))
    tensor([0., 1.])
    """
    return apply("elu", input, (alpha,), inplace, at_kink)


def celu(
    input: torch.Tensor, alpha: float = 1.0, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""CELU, :math:`\max(0, x) + \min(0, \alpha (e^{x/\alpha} - 1))`; keeps the input.

    >>> import torch, relukit.torch as rt
    >>> rt.celu(torch.tensor([0.0, 2.0]), alpha=0.5)
    tensor([0., 2.])
    """
    return apply("celu", input, (alpha,), inplace, at_kink)


def selu(
    input: torch.Tensor, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""SELU, :math:`\lambda x` if :math:`x > 0` else :math:`\lambda\alpha(e^x - 1)`; keeps the input.

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
