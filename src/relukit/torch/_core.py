"""How relukit.torch computes: the catalogue's formulas, on the fastest route a tensor allows.

Every entry runs through one ``torch.autograd.Function`` whose forward and backward
compute the entry's :class:`~relukit.catalogue.Math` on one of three routes
(:func:`route`):

``"cpu"``
    plain CPU tensors in eager mode: the numba kernels of the NumPy API on the tensor's
    memory (its data address for contiguous float32/float64 tensors,
    :meth:`relukit._kernels.Plan.run_addr`; else ``t.numpy()``), so ``rt.gelu(t)`` and
    ``rk.gelu(t.numpy())`` are the same bits, values and gradients alike. bfloat16 (which
    NumPy lacks) is computed in float32 and rounded once more. A plain contiguous
    float32/float64 tensor without ``at_kink`` takes the shortest path (:class:`_Lean`):
    in a model the Python around a call costs many times the microbenchmark's.
``"triton"``
    CUDA tensors when Triton imports: one generated kernel per direction
    (:mod:`relukit.torch._triton_gen`), float32 computed in float64 and rounded once,
    float16/bfloat16 in float32.
``"torch"``
    everything else: ``torch.compile``, ``torch.func`` transforms, ``torch.jit.trace``,
    ``torch.export``, fake tensors, other devices, and double backward: the same
    formulas with torch operations (:func:`formula`). Except under ``torch.compile`` on
    the CPU, where the smooth entries call route ``"cpu"``'s kernels as custom operators
    (:mod:`relukit.torch._cpu_ops`: eager mode's bits; their formulas in float64 compile
    to C++ several times slower than the kernels); the piecewise-linear ones stay torch
    operations, which Inductor fuses with their neighbours.

Backward keeps what the derivative needs: the output where the entry's derivative from
the output is exact (the piecewise-linear entries: relu, leaky_relu with a slope >= 0,
relu6, hardtanh; the next layer usually keeps that tensor anyway), the input otherwise; with ``at_kink`` and a saved output, a bool mask of
the inputs at a kink. NaN in gives NaN out on every route, for values and gradients.
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from typing import Any

import torch

from relukit import _kernels
from relukit.catalogue import Activation, Math, catalogue, get
from relukit.torch import _cpu_ops

__all__ = ["TorchPlan", "apply", "grad", "plan", "route", "value"]

_functorch_wrapped = torch._C._functorch.is_functorch_wrapped_tensor
_legacy_batched = torch._C._functorch.is_legacy_batchedtensor


def _is_wrapped(t: torch.Tensor) -> bool:
    """A tensor of a ``torch.func`` transform, or of the older vmap that
    ``torch.autograd.functional.jacobian(vectorize=True)`` runs backward under: no
    memory of its own to hand the kernels."""
    return _functorch_wrapped(t) or _legacy_batched(t)


_CPU_DTYPES = (torch.float16, torch.float32, torch.float64, torch.bfloat16)
_NUMPY_DTYPES = (torch.float16, torch.float32, torch.float64)


# ---------------------------------------------------------------------------
# the plan: one entry with bound parameters
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TorchPlan:
    """One catalogue entry with bound parameters, as relukit.torch runs it.

    Attributes
    ----------
    act
        The catalogue entry.
    params
        The validated parameters, ``{name: value}``.
    math, args
        The entry's formulas for these parameters and their arguments
        (:meth:`Math.resolve`).
    save_output
        Backward keeps the output (the derivative from the output is valid here).
    kinks
        The kink locations, for ``at_kink``.
    """

    act: Activation
    params: dict[str, Any]
    math: Math
    args: tuple[Any, ...]
    save_output: bool
    kinks: tuple[float, ...]
    inplace_ok: bool = True

    @functools.cached_property
    def _device_args(self) -> dict[Any, Any]:
        return {}

    @functools.cached_property
    def _lean(self) -> dict[Any, Any]:
        return {}  # (see _lean_plans)

    def triton_args(self, device: Any) -> torch.Tensor:
        """The formula's arguments as the float64 tensor the Triton kernels read."""
        hit = self._device_args.get(device)
        if hit is None:
            from relukit.torch import _triton_gen

            hit = self._device_args[device] = _triton_gen.packed_args(self.args, device)
        return hit


@functools.lru_cache(maxsize=1024)
def _plan(name: str, pvals: tuple[Any, ...]) -> TorchPlan:
    act = get(name)
    p = dict(zip(act.params, pvals, strict=True))
    m, args = act.math.resolve(p)
    if args is None:
        raise ValueError(f"relukit.torch.{name}: these parameters have no formula")
    # the output only where the derivative from it is exact (the piecewise-linear entries):
    # elsewhere it would differ from the derivative at the input (elu's y + alpha is 0 in
    # float32 at x = -20, where elu' is 2e-9), and the gradient must be that of the input
    save_output = m.exact and m.can_use_output(args)
    kinks = tuple(k[0] for k in act.kink_points(**p)) if act.kinks else ()
    inplace_ok = _INPLACE_OK.get(act.name)
    if inplace_ok is None:  # an entry registered after import
        inplace_ok = _inplace_ok(act)
    return TorchPlan(act, p, m, tuple(args), save_output, kinks, inplace_ok)


def torch_function(act: Activation) -> Any:
    """``torch.nn.functional``'s function of the entry (``F.leaky_relu``), or None."""
    prefix = "torch.nn.functional."
    if act.torch_name is None or not act.torch_name.startswith(prefix):
        return None
    return getattr(torch.nn.functional, act.torch_name[len(prefix) :], None)


def _inplace_ok(act: Activation) -> bool:
    """The entry has an in-place form: torch's function takes ``inplace`` (or torch has none)."""
    fn = torch_function(act)
    try:  # torch's builtins (F.gelu, F.softplus) have no signature, and no inplace
        return fn is None or "inplace" in inspect.signature(fn).parameters
    except ValueError:
        return False


#: per entry, whether it has an in-place form; asked once here, as ``torch.compile``
#: cannot trace ``inspect.signature`` (the plans are made afresh while compiling)
_INPLACE_OK: dict[str, bool] = {a.name: _inplace_ok(a) for a in catalogue()}


def plan(name: str, pvals: tuple[Any, ...] = ()) -> TorchPlan:
    """The :class:`TorchPlan` of catalogue entry ``name`` with (validated) parameter values
    (cached; under ``torch.compile`` made afresh: Dynamo traces through an lru_cache
    anyway, and warns that it does).

    >>> plan("leaky_relu", (0.1,)).save_output, plan("leaky_relu", (-0.5,)).save_output
    (True, False)
    >>> plan("gelu", ("none",)).save_output
    False
    """
    if torch.compiler.is_compiling():
        return _plan.__wrapped__(name, pvals)
    return _plan(name, pvals)


# ---------------------------------------------------------------------------
# routes
# ---------------------------------------------------------------------------


@functools.cache
def _triton_ok() -> bool:
    try:
        import triton  # noqa: F401

        from relukit.torch import _triton_gen  # noqa: F401
    except Exception:
        return False
    return True


def _kernels_ok() -> bool:
    return _kernels.available()


def route(x: torch.Tensor) -> str:
    """``"cpu"``, ``"triton"`` or ``"torch"`` for the tensor ``x`` here and now."""
    if torch.compiler.is_compiling() or type(x) is not torch.Tensor or _is_wrapped(x):
        return "torch"
    if torch._C._get_tracing_state() or torch._C._len_torch_dispatch_stack():
        return "torch"
    dev = x.device.type
    if dev == "cpu":
        return "cpu" if x.dtype in _CPU_DTYPES and _kernels_ok() else "torch"
    if dev == "cuda" and x.dtype in _CPU_DTYPES and x.numel() < 2**62 and _triton_ok():
        return "triton"
    return "torch"


# ---------------------------------------------------------------------------
# value and gradient on each route
# ---------------------------------------------------------------------------


def numpy_view(x: Any) -> Any:
    """A NumPy view of ``x``'s memory where the NumPy API may compute on it in its place
    (``rk.<entry>(t)`` on a CPU tensor: the NumPy API's own path, so its bits), or None:
    a plain float16/32/64 CPU tensor that autograd does not need, outside compile,
    tracing, dispatch modes and ``torch.func`` transforms."""
    if (
        type(x) is not torch.Tensor
        or x.dtype not in _NUMPY_DTYPES
        or x.device.type != "cpu"
        or (x.requires_grad and torch.is_grad_enabled())
        or x.is_neg()
        or torch.compiler.is_compiling()
        or torch._C._get_tracing_state()
        or torch._C._len_torch_dispatch_stack()
        or torch._C._are_functorch_transforms_active()
        or _is_wrapped(x)
    ):
        return None
    return x.detach().numpy()


def _as_numpy(t: torch.Tensor) -> Any:
    """A NumPy view of a CPU tensor (a contiguous copy when it is not contiguous)."""
    t = t.detach()
    return (t if t.is_contiguous() else t.contiguous()).numpy()


_KPLANS: dict[tuple[Any, ...], Any] = {}


def _kernel_plan(pl: TorchPlan, kind: str, dtype: Any, at_kink: float | None) -> Any:
    key = (pl, kind, dtype, None if at_kink is None else float(at_kink).hex())
    hit = _KPLANS.get(key)
    if hit is None:
        hit = _kernels.plan(pl.act, kind, dtype, pl.params, at_kink)
        if len(_KPLANS) > 2048:
            _KPLANS.clear()
        _KPLANS[key] = hit
    return hit


def _inference_check(x: torch.Tensor) -> None:
    """Raise torch's error for an in-place write into an inference tensor outside
    ``torch.inference_mode`` (before anything is written)."""
    if x.is_inference() and not torch.is_inference_mode_enabled():
        raise RuntimeError(
            "Inplace update to inference tensor outside InferenceMode is not allowed. "
            "You can make a clone to get a normal tensor before doing inplace update."
        )


def _wrote(x: torch.Tensor) -> torch.Tensor:
    """``x``, after a kernel wrote into its memory: its version counter is moved on, as
    torch's own in-place operations do, so that autograd refuses a graph that saved the
    old values (the kernels write through the data pointer, which torch cannot see)."""
    torch.autograd.graph.increment_version(x)
    return x


def value(pl: TorchPlan, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """The entry's value at ``x`` (written into ``x`` when ``inplace``), on ``x``'s route."""
    r = route(x)
    if inplace:
        _inference_check(x)
    if r == "cpu":
        y = _value_cpu(pl, x, inplace)
        if y is not None:
            # in place: ``x`` itself (the kernels wrote into a detached alias of it, and
            # autograd's ``mark_dirty`` wants the input object back)
            return _wrote(x) if inplace else y
    elif r == "triton":
        from relukit.torch import _triton_gen

        xc = x if x.is_contiguous() else x.contiguous()
        out = x if inplace and x.is_contiguous() else None
        y = _triton_gen.value(pl.math, len(pl.args), xc, pl.triton_args(x.device), out)
        return x.copy_(y) if inplace and y is not x else y
    elif _cpu_ops.used(pl, x):  # compiling, on the CPU: the kernel, as an operator
        y = _cpu_ops.value(x, *_cpu_ops.key(pl))
        return x.copy_(y) if inplace else y
    y = formula(pl, "value", x)
    return x.copy_(y) if inplace else y


#: float32 and float64: the kernels' own dtypes (no widening), where :func:`_value_cpu`
#: and :func:`_grad_cpu` hand contiguous tensors' memory to the kernel directly
_FLAT = (torch.float32, torch.float64)


def _lean_value(kp: Any, x: torch.Tensor, inplace: bool) -> torch.Tensor | None:
    """The value kernel on ``x`` (contiguous, detached), None when numba failed.

    The kernel gets the tensors' data addresses (:meth:`~relukit._kernels.Plan.run_addr`:
    no NumPy arrays to make), or arrays where relukit's own pool shares the call."""
    n = x.numel()
    if inplace:
        res = kp.run_addr(x.data_ptr(), n=n)
        if res is _kernels.NO_ADDR:
            res = kp.run_flat(x.numpy().reshape(-1))
        return None if res is _kernels.NOT_RUN else x
    y = torch.empty_like(x)
    fresh = n * x.element_size()
    res = kp.run_addr(x.data_ptr(), y.data_ptr(), n=n, fresh=fresh)
    if res is _kernels.NO_ADDR:
        res = kp.run_flat(x.numpy().reshape(-1), y.numpy().reshape(-1), fresh=fresh)
    return None if res is _kernels.NOT_RUN else y


def _lean_backward(kp: Any, t: torch.Tensor, g: torch.Tensor) -> torch.Tensor | None:
    """The backward kernel on ``t`` and ``g`` (contiguous, detached, one dtype and shape),
    None when numba failed (by addresses, as :func:`_lean_value`)."""
    out = torch.empty_like(t)
    n = t.numel()
    fresh = n * t.element_size()
    res = _kernels.NO_ADDR
    if g.dtype is t.dtype and g.numel() == n:  # (addresses carry no dtype or length)
        res = kp.run_addr(t.data_ptr(), g.data_ptr(), out.data_ptr(), n=n, fresh=fresh)
    if res is _kernels.NO_ADDR:
        flat = out.numpy().reshape(-1)
        res = kp.run_flat(t.numpy().reshape(-1), g.numpy().reshape(-1), flat, fresh=fresh)
    return None if res is _kernels.NOT_RUN else out


def _flat(t: torch.Tensor) -> torch.Tensor | None:
    """A 1-D view of the memory of ``t`` if its elements fill it without gaps or overlap
    in some order of the dimensions (contiguous, channels_last, transposed), else None.
    An elementwise result written through such a view into ``empty_like(t)`` (the same
    strides) is the result in ``t``'s layout."""
    dims = sorted((st, sz) for st, sz in zip(t.stride(), t.shape, strict=True) if sz != 1)
    expect = 1
    for st, sz in dims:
        if st != expect:
            return None
        expect *= sz
    return t.as_strided((t.numel(),), (1,), t.storage_offset())


def _bf16(r: torch.Tensor) -> torch.Tensor:
    """The float32 result ``r`` rounded once to bfloat16, its NaNs with their sign and
    payload (quieted already): torch's cast gives 0xffff for every NaN. A float32 NaN's
    top 16 bits are that bfloat16 NaN."""
    top = (r.view(torch.int32) >> 16).to(torch.int16).view(torch.bfloat16)
    return torch.where(r != r, top, r.to(torch.bfloat16))


def _value_cpu(pl: TorchPlan, x: torch.Tensor, inplace: bool) -> torch.Tensor | None:
    xd = x.detach()
    if xd.dtype in _FLAT and xd.is_contiguous():
        kp = _kernel_plan(pl, "value", _numpy_dtype(xd.dtype), None)
        if kp is None:
            return None
        if kp.channel is None:
            return _lean_value(kp, xd, inplace)
    elif xd.dtype in _FLAT and (xf := _flat(xd)) is not None:
        # dense in another order (channels_last, a transpose): the flat kernel on the
        # memory, the output in x's layout (as torch's elementwise operations keep it)
        kp = _kernel_plan(pl, "value", _numpy_dtype(xd.dtype), None)
        if kp is None:
            return None
        if kp.channel is None:
            if inplace:
                return None if _lean_value(kp, xf, True) is None else xd
            y = torch.empty_like(xd)
            yf = _flat(y)
            if yf is not None and y.stride() == xd.stride():
                fresh = y.numel() * y.element_size()
                res = kp.run_flat(xf.numpy(), yf.numpy(), fresh=fresh)
                return None if res is _kernels.NOT_RUN else y
    if xd.dtype not in _NUMPY_DTYPES:  # bfloat16: float32's kernel, rounded once more
        y32 = _value_cpu(pl, xd.float(), False)
        if y32 is None:
            return None
        yb = _bf16(y32)
        return xd.copy_(yb) if inplace else yb
    kp = _kernel_plan(pl, "value", _numpy_dtype(xd.dtype), None)
    if kp is None:
        return None
    arr = _as_numpy(xd)
    if inplace and xd.is_contiguous():
        res = kp.run(arr, arr)
        return None if res is _kernels.NOT_RUN else xd
    y = torch.empty_like(xd)  # (x's layout where it is dense, else contiguous)
    res = kp.run(arr, y.numpy())
    if res is _kernels.NOT_RUN:
        return None
    return xd.copy_(y) if inplace else y


@functools.cache
def _numpy_dtype(dtype: torch.dtype) -> Any:
    import numpy as np

    return {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}[dtype]


def grad(
    pl: TorchPlan,
    g: torch.Tensor,
    t: torch.Tensor,
    at_kink: float | None = None,
    from_output: bool = False,
    kink_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``g`` times the derivative at ``t`` (the saved input, or output when ``from_output``).

    With autograd recording (double backward) the torch formula, which is differentiable;
    else the route of ``t``. ``kink_mask`` (with a saved output) marks the inputs at a kink.
    """
    differentiable = torch.is_grad_enabled() and (t.requires_grad or g.requires_grad)
    r = "torch" if differentiable else route(t)
    if r != "torch" and _is_wrapped(g):  # (after route: Dynamo cannot trace the test)
        r = "torch"
    gi = None
    if g.dtype != t.dtype or g.shape != t.shape:
        pass  # (broadcast or promoted: the formulas)
    elif r == "cpu":
        gi = _grad_cpu(pl, g, t, None if from_output else at_kink, from_output)
    elif r == "triton":
        from relukit.torch import _triton_gen

        gc = g if g.is_contiguous() else g.contiguous()
        tc = t if t.is_contiguous() else t.contiguous()
        k = None
        if not from_output:
            k = _triton_gen.kink_block(at_kink, pl.kinks, t.device, t.dtype, pl.math.exact)
        gi = _triton_gen.backward(
            pl.math, len(pl.args), tc, gc, pl.triton_args(t.device), k, from_output
        )
    elif not differentiable and _cpu_ops.used(pl, t):
        kink = None if from_output else at_kink
        gi = _cpu_ops.grad(g, t, *_cpu_ops.key(pl), kink, from_output)
    if gi is None:
        # the formulas in torch operations: the derivative (at_kink at the kinks) times g,
        # as the NumPy API, and t's NaN (quieted) where t is NaN, whatever g is (the rule
        # of times_g; applied once, to the product, not to the derivative first)
        d = _derivative_torch(pl, t, from_output)
        if at_kink is not None and not from_output and pl.kinks:
            d = torch.where(_kink_mask(t, pl.kinks, pl.math.exact), at_kink, d)
        gi = torch.where(t != t, t + 0, d * g)
    if at_kink is not None and from_output and kink_mask is not None:
        gi = torch.where(kink_mask, g * at_kink, gi)
    return gi


def times_g(d: torch.Tensor, g: torch.Tensor, nan: torch.Tensor) -> torch.Tensor:
    """``d * g``, and ``d`` where ``nan`` (where the input is NaN, ``d`` holds its NaN).

    The input's NaN is the gradient there whatever ``g`` is: where both are NaN, the
    product alone could give either NaN, as the CPU's instruction is given its operands
    (the kernels and the NumPy API apply the same rule)."""
    return torch.where(nan, d, d * g)


def _derivative_torch(pl: TorchPlan, t: torch.Tensor, from_output: bool) -> torch.Tensor:
    # (NaN left to the caller, which puts t's NaN in the product: under torch.compile one
    # test and select fewer in the fused backward)
    which = "from_output" if from_output else "derivative"
    return _run(pl.math, which, t, pl.args, nan=False)


def _grad_cpu(
    pl: TorchPlan, g: torch.Tensor, t: torch.Tensor, at_kink: float | None, from_output: bool
) -> torch.Tensor | None:
    gd, td = g.detach(), t.detach()
    if td.dtype not in _NUMPY_DTYPES:  # bfloat16: in float32, rounded once more
        gi = _grad_cpu(pl, gd.float(), td.float(), at_kink, from_output)
        return None if gi is None else _bf16(gi)
    if td.dtype == torch.float16:
        # (the kernels' backward takes float32/float64) the derivative in float16, then
        # times g in float16 (one product of float16 numbers, rounded once): the NumPy
        # API's derivative * g. From the output (the exact entries: 1 or a slope), the
        # formula; else the derivative's kernel.
        if from_output:
            return times_g(formula(pl, "from_output", td), gd, td != td)
        kp = _kernel_plan(pl, "derivative", _numpy_dtype(td.dtype), at_kink)
        if kp is None:
            return None
        d = torch.empty(td.shape, dtype=td.dtype)
        if kp.run(_as_numpy(td), d.numpy()) is _kernels.NOT_RUN:
            return None
        return times_g(d, gd, td != td)
    kind = "backward_y" if from_output else "backward"
    kp = _kernel_plan(pl, kind, _numpy_dtype(td.dtype), at_kink)
    if kp is None:
        return None
    if kp.channel is None and td.is_contiguous() and gd.is_contiguous():
        return _lean_backward(kp, td, gd)
    out = torch.empty(td.shape, dtype=td.dtype)
    res = kp.run_backward(_as_numpy(td), _as_numpy(gd), out.numpy())
    return None if res is _kernels.NOT_RUN else out


_HALF_DTYPES = (torch.float16, torch.bfloat16)


def kink_locations(
    locs: tuple[float, ...], dtype: torch.dtype, exact: bool = False
) -> tuple[float, ...]:
    """The kinks as inputs of ``dtype`` meet them (the NumPy API's rule,
    :func:`relukit._dispatch.kink_at`; ``exact``: the entry's formulas are)."""
    from relukit._dispatch import kink_at

    name = str(dtype).rpartition(".")[2]
    return tuple(kink_at(k, name, exact) for k in locs)


def _kink_mask(x: torch.Tensor, locs: tuple[float, ...], exact: bool = False) -> torch.Tensor:
    """``x`` is AT one of the kinks: a bool tensor, at the kink's number for ``x``'s
    dtype (:func:`kink_locations`; ``exact``: the entry's formulas are exact). float16
    and bfloat16 compare in float32: ``x == loc`` would round the kink to their dtype."""
    xc = x.float() if x.dtype in _HALF_DTYPES else x  # (exact: float32 holds them)
    ks = kink_locations(locs, x.dtype, exact)
    m = xc == ks[0]
    for loc in ks[1:]:
        m = m | (xc == loc)
    return m


# ---------------------------------------------------------------------------
# the autograd Function
# ---------------------------------------------------------------------------


def _forward_ad() -> bool:
    """Forward-mode AD (``torch.func.jvp``/``jacfwd``, dual tensors) may be active."""
    return torch.autograd.forward_ad._current_level >= 0 or (
        torch._C._are_functorch_transforms_active()
    )


class _Core(torch.autograd.Function):
    """One Function for every catalogue entry; its :class:`TorchPlan` selects the formulas.

    ``forward(x, plan, at_kink, inplace)`` returns ``(y, *extras)``: what must be read
    from the input before an in-place op overwrites it (a copy of the input when the
    plan keeps the input, the kink mask when it keeps the output); marked
    non-differentiable.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(
        x: torch.Tensor, pl: TorchPlan, at_kink: float | None, inplace: bool
    ) -> tuple[torch.Tensor, ...]:
        extras = []
        if inplace and not pl.save_output:
            extras.append(x.clone())
        if at_kink is not None and pl.kinks and pl.save_output:
            extras.append(_kink_mask(x, pl.kinks, pl.math.exact))
        return (value(pl, x, inplace), *extras)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, pl, at_kink, inplace = inputs
        y, *extras = output
        if inplace:
            ctx.mark_dirty(x)
        if extras:
            ctx.mark_non_differentiable(*extras)
        if pl.save_output:
            t = y
        elif inplace:
            t = extras.pop(0)
        else:
            t = x
        ctx.save_for_backward(t, *extras)
        if _forward_ad():
            ctx.save_for_forward(t, *extras)
        ctx.set_materialize_grads(False)
        ctx.pl, ctx.at_kink, ctx.n_extra, ctx.inplace = pl, at_kink, len(output) - 1, inplace

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        if g is None:
            return None, None, None, None
        t, *masks = ctx.saved_tensors
        pl = ctx.pl
        gi = grad(pl, g, t, ctx.at_kink, pl.save_output, masks[0] if masks else None)
        return gi, None, None, None


class _CoreJvp(_Core):
    """:class:`_Core` with forward-mode AD (``jvp``); ``torch.compile`` cannot trace a
    Function that defines ``jvp``, so compiled code runs :class:`_Core`."""

    @staticmethod
    def jvp(ctx: Any, tx: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        # an element-wise function: its Jacobian is diagonal, J t = J^T t
        t, *masks = ctx.saved_tensors
        pl = ctx.pl
        ty = grad(pl, tx, t, ctx.at_kink, pl.save_output, masks[0] if masks else None)
        if ctx.inplace:  # an in-place op's tangent is updated in place too
            ty = tx.copy_(ty)
        return (ty, *([None] * ctx.n_extra))


def _call(fn: type[torch.autograd.Function], *args: Any) -> Any:
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


# ---------------------------------------------------------------------------
# the eager CPU call, lean
# ---------------------------------------------------------------------------
#
# In a model, an activation runs between large operators that stream megabytes through
# the caches, so every Python step of the call costs several times what it costs in a
# loop (benchmarks/torch_call_floor.py measures it): the common call, a plain contiguous
# float32/float64 CPU tensor in eager mode, takes the shortest path there is to the same
# kernels, and everything else takes :class:`_CoreJvp`.


def _lean_plans(pl: TorchPlan, dtype: torch.dtype) -> tuple[Any, Any] | None:
    """``(value, backward)`` kernel plans of ``pl`` for ``dtype`` (float32/float64), or
    None where the lean call does not apply (one weight per channel, no kernels)."""
    cache = pl._lean
    hit = cache.get(dtype, False)
    if hit is False:
        npd = _numpy_dtype(dtype)
        v = _kernel_plan(pl, "value", npd, None)
        b = _kernel_plan(pl, "backward_y" if pl.save_output else "backward", npd, None)
        ok = v is not None and b is not None and v.channel is None and b.channel is None
        hit = cache[dtype] = (v, b) if ok else None
    return hit


def _lean_ok(x: torch.Tensor) -> bool:
    """``x`` can take the lean call: a plain contiguous float32/float64 CPU tensor, in
    eager mode (no compile, trace, dispatch mode, torch.func transform or forward AD)."""
    return (
        type(x) is torch.Tensor
        and x.dtype in _FLAT
        and x.is_cpu
        and x.is_contiguous()
        and not torch.compiler.is_compiling()
        and not torch._C._get_tracing_state()
        and not torch._C._len_torch_dispatch_stack()
        and not torch._C._are_functorch_transforms_active()
        and torch.autograd.forward_ad._current_level < 0
        and not _is_wrapped(x)
    )


class _Lean(torch.autograd.Function):
    """The lean call's Function: :class:`_Core`'s forward and backward for a plain
    contiguous CPU tensor without ``at_kink``, keeping one tensor (and in place only
    where that is the output)."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, pl: TorchPlan, kps: tuple[Any, Any], inplace: bool
    ) -> torch.Tensor:
        y = _lean_value(kps[0], x.detach(), inplace)
        if y is None:  # numba failed (one warning): the formulas
            y = value(pl, x.detach(), inplace)
        if inplace:
            ctx.mark_dirty(x)
            y = x
        ctx.save_for_backward(y if pl.save_output else x)
        ctx.pl, ctx.kp = pl, kps[1]
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        (t,) = ctx.saved_tensors
        pl = ctx.pl
        if (
            type(g) is torch.Tensor
            and g.dtype is t.dtype
            and g.is_contiguous()
            and g.shape == t.shape
            and not torch.is_grad_enabled()  # (double backward: the torch formulas)
            and not torch._C._are_functorch_transforms_active()
            and not _is_wrapped(g)
            and _kernels.available()
        ):
            out = _lean_backward(ctx.kp, t.detach(), g)
            if out is not None:
                return out, None, None, None
        return grad(pl, g, t, None, pl.save_output, None), None, None, None


#: ``_Lean.apply`` without ``Function.apply``'s signature binding (see :func:`_call`)
_lean_apply = super(torch.autograd.Function, _Lean).apply


def apply(pl: TorchPlan, x: torch.Tensor, inplace: bool, at_kink: float | None) -> torch.Tensor:
    """The entry of ``pl`` on the floating tensor ``x`` (with autograd when it records).

    Under ``torch.jit.trace``: plain torch operations whose autograd gives relukit's
    gradient (:mod:`relukit.torch._trace`), so that the trace can be saved.
    """
    if at_kink is None and _lean_ok(x) and _kernels.available():
        kps = _lean_plans(pl, x.dtype)
        if kps is not None:
            if not (torch.is_grad_enabled() and x.requires_grad):
                if inplace:
                    _inference_check(x)
                y = _lean_value(kps[0], x.detach(), inplace)
                if y is not None:
                    return _wrote(x) if inplace else y
            elif not inplace or pl.save_output:
                if inplace:
                    _check_inplace(x)
                return _lean_apply(x, pl, kps, inplace)
    if torch._C._get_tracing_state():
        from relukit.torch import _trace

        return _trace.value(pl, x, inplace, at_kink, formula)
    if _differentiable(x):
        if inplace and x.requires_grad:
            _check_inplace(x)
        compiling = torch.compiler.is_compiling()
        fn = _Core if compiling else _CoreJvp
        if inplace and (
            compiling
            or (x._is_view() and (not pl.save_output or (at_kink is not None and pl.kinks)))
        ):
            # autograd refuses a Function that writes a view in place and returns more than
            # one tensor (here: the copy of the input or the kink mask it keeps): compute out
            # of place, from a copy when the input is kept (the copy is what a Function
            # writing in place would keep), and write the result into the view. Under
            # torch.compile always so (asking whether x is a view breaks the graph; Inductor
            # writes the result in place again)
            src = x if pl.save_output else x.clone()
            return x.copy_(_call(fn, src, pl, at_kink, False)[0])
        return _call(fn, x, pl, at_kink, inplace)[0]
    return value(pl, x, inplace)


# ---------------------------------------------------------------------------
# gated entries: f(a) * b, keeping only a and b for backward
# ---------------------------------------------------------------------------


def gated_value(pl: TorchPlan, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``f(a) * b`` (``a``, ``b`` of one shape and dtype), on ``a``'s route."""
    r = route(a)
    if r == "cpu" and route(b) == "cpu":
        out = _gated_cpu(pl, "value", (a, b), 1)
        if out is not None:
            return out[0]
    elif r == "triton":
        from relukit.torch import _triton_gen

        return _triton_gen.gated_value(
            pl.math, len(pl.args), a.contiguous(), b.contiguous(), pl.triton_args(a.device)
        )
    elif _cpu_ops.used(pl, a) and b.device.type == "cpu":
        return _cpu_ops.gated_value(a, b, *_cpu_ops.key(pl))
    wa, wb, ns = _gated_work(a, b)
    f = pl.math.value(ns, wa, *pl.args)
    return _gated_nan(wa, wb, f * wb).to(a.dtype)


def _gated_work(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """``a``, ``b`` in the working precision of the gated kernels (float32 and below in
    float64 on the CPU, as the kernels: products are rounded once, at the end) and the
    primitives for it."""
    from relukit._dispatch import _to32, _working

    work, f32 = _working(_XP, a, False)
    wa = a if work == a.dtype else a.to(work)
    wb = b if work == b.dtype else b.to(work)
    tracing = torch._C._get_tracing_state() is not None
    return wa, wb, _NS[tracing, f32, _to32(_XP, a, f32)]


def _gated_nan(a: torch.Tensor, b: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """The gated NaN rule: the gate's NaN, else the input's (quieted), else ``r``."""
    return torch.where(a != a, a + 0, torch.where(b != b, b + 0, r))


def gated_grad(
    pl: TorchPlan, g: torch.Tensor, a: torch.Tensor, b: torch.Tensor, at_kink: float | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(g f'(a) b, g f(a))``: both input gradients, in one pass where a kernel runs."""
    differentiable = torch.is_grad_enabled() and (
        a.requires_grad or b.requires_grad or g.requires_grad
    )
    r = "torch" if differentiable else route(a)
    if r == "cpu" and route(g) == "cpu" and route(b) == "cpu" and g.dtype == a.dtype:
        if a.dtype == torch.float16:
            # (float16's kernels run on float64 copies, where the backward kernel would
            # round each derivative to float64) the derivatives in float16, then times g
            # in float16: the NumPy API's derivative * g
            out = _gated_cpu(pl, "derivative", (a, b), 2, at_kink)
            if out is not None:
                nan_a = a != a
                return times_g(out[0], g, nan_a | (b != b)), times_g(out[1], g, nan_a)
        else:
            out = _gated_cpu(pl, "backward", (a, b, g), 2, at_kink)
            if out is not None:
                return out[0], out[1]
    elif r == "triton" and g.dtype == a.dtype:
        from relukit.torch import _triton_gen

        k = _triton_gen.kink_block(at_kink, pl.kinks, a.device, a.dtype, pl.math.exact)
        return _triton_gen.gated_backward(
            pl.math,
            len(pl.args),
            a.contiguous(),
            b.contiguous(),
            g.contiguous(),
            pl.triton_args(a.device),
            k,
        )
    elif r == "torch" and not differentiable and _cpu_ops.used(pl, a) and g.dtype == a.dtype:
        ga, gb = _cpu_ops.gated_grad(g, a, b, *_cpu_ops.key(pl), at_kink)
        return ga, gb
    # the derivatives f'(a) b and f(a) as the kernels give them (in the working
    # precision, rounded once), then times g, as the NumPy API's derivative * g
    wa, wb, ns = _gated_work(a, b)
    f = pl.math.value(ns, wa, *pl.args)
    d = pl.math.derivative(ns, wa, *pl.args)
    if at_kink is not None and pl.kinks:
        d = torch.where(_kink_mask(a, pl.kinks, pl.math.exact), at_kink, d)
    da = _gated_nan(wa, wb, d * wb).to(a.dtype)
    db = torch.where(wa != wa, wa + 0, f).to(a.dtype)
    nan_a = a != a
    return times_g(da, g, nan_a | (b != b)), times_g(db, g, nan_a)


def _gated_cpu(
    pl: TorchPlan,
    kind: str,
    ins: tuple[torch.Tensor, ...],
    n_out: int,
    at_kink: float | None = None,
) -> tuple[torch.Tensor, ...] | None:
    dtype = ins[0].dtype
    if dtype not in _NUMPY_DTYPES:  # bfloat16: float32's kernel, rounded once more
        out = _gated_cpu(pl, kind, tuple(t.float() for t in ins), n_out, at_kink)
        return None if out is None else tuple(_bf16(o) for o in out)
    kp = _kernel_plan(pl, kind, _numpy_dtype(dtype), at_kink)
    if kp is None:
        return None
    outs = tuple(torch.empty(ins[0].shape, dtype=dtype) for _ in range(n_out))
    arrs = [_as_numpy(t) for t in ins]
    res = kp.run_gated(
        arrs[0], arrs[1], tuple(o.numpy() for o in outs), arrs[2] if len(arrs) > 2 else None
    )
    return None if res is _kernels.NOT_RUN else outs


class _Gated(torch.autograd.Function):
    """A gated entry, ``f(a) * b``: keeps ``a`` and ``b`` only (``f(a)`` is recomputed in
    backward), where eager ``F.silu(a) * b`` keeps ``a``, ``silu(a)`` and ``b``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(
        a: torch.Tensor, b: torch.Tensor, pl: TorchPlan, at_kink: float | None
    ) -> torch.Tensor:
        return gated_value(pl, a, b)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        a, b, pl, at_kink = inputs
        ctx.save_for_backward(a, b)
        if _forward_ad():
            ctx.save_for_forward(a, b)
        ctx.set_materialize_grads(False)
        ctx.pl, ctx.at_kink = pl, at_kink

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        if g is None:
            return None, None, None, None
        a, b = ctx.saved_tensors
        ga, gb = gated_grad(ctx.pl, g, a, b, ctx.at_kink)
        return ga, gb, None, None


class _GatedJvp(_Gated):
    """:class:`_Gated` with forward-mode AD (``jvp``)."""

    @staticmethod
    def jvp(ctx: Any, ta: torch.Tensor | None, tb: torch.Tensor | None, *_: Any) -> Any:
        a, b = ctx.saved_tensors
        pl = ctx.pl
        out = None
        if ta is not None:
            ga, _gb = gated_grad(pl, ta, a, b, ctx.at_kink)
            out = ga
        if tb is not None:
            _ga, gb = gated_grad(pl, tb, a, b, ctx.at_kink)
            out = gb if out is None else out + gb
        return out


def apply_gated(
    pl: TorchPlan, a: torch.Tensor, b: torch.Tensor, at_kink: float | None
) -> torch.Tensor:
    """The gated entry of ``pl`` on ``a`` (the gate) and ``b`` (broadcast as torch does)."""
    if a.shape != b.shape:
        a, b = torch.broadcast_tensors(a, b)
    if a.dtype != b.dtype:
        dt = torch.promote_types(a.dtype, b.dtype)
        a, b = a.to(dt), b.to(dt)
    if torch._C._get_tracing_state():
        from relukit.torch import _trace

        return _trace.gated(pl, a, b, at_kink, formula)
    if _differentiable(a, b):
        fn = _Gated if torch.compiler.is_compiling() else _GatedJvp
        return _call(fn, a, b, pl, at_kink)
    return gated_value(pl, a, b)


# ---------------------------------------------------------------------------
# entries with learned parameters (StarReLU's scale and bias): tensors, not numbers
# ---------------------------------------------------------------------------


def formula(pl: TorchPlan, which: str, x: torch.Tensor) -> Any:
    """The formula ``which`` (``"value"``, ``"derivative"``, ``"from_output"``) of ``pl``
    at ``x`` (for ``"from_output"``, the output) in torch operations: what
    :func:`relukit._dispatch.formula` computes, with the namespace made at import (under
    ``torch.compile`` Dynamo would trace array_api_compat's cached look-ups, and warn)."""
    return _run(pl.math, which, x, pl.args)


def formula_with(act: Activation, which: str, x: torch.Tensor, ps: tuple[Any, ...]) -> Any:
    """The entry's formula ``which`` at ``x`` with the parameter values ``ps`` given as
    tensors (broadcast against ``x``)."""
    return _run(act.math, which, x, ps)


def _run(m: Math, which: str, x: torch.Tensor, ps: tuple[Any, ...], nan: bool = True) -> Any:
    """Formula ``which`` of ``m`` at ``x`` with arguments ``ps`` (numbers or tensors), in
    the working precision of the NumPy API (float32 on the CPU in float64, rounded once),
    NaN in giving the same NaN out (``nan=False``: in ``x``'s dtype, whatever the formula
    gives where ``x`` is NaN)."""
    from relukit._dispatch import _same_nan, _to32, _working
    from relukit._prims.numpy import astype

    xp = _XP
    work, f32 = _working(xp, x, m.exact)
    w = x if work == x.dtype else x.to(work)
    args = tuple(p.to(work) if isinstance(p, torch.Tensor) else p for p in ps)
    fn = m.from_output if which == "from_output" else getattr(m, which)
    assert fn is not None, "no derivative from the output (the plan keeps the input)"
    tracing = torch._C._get_tracing_state() is not None
    r = fn(_NS[tracing, f32, _to32(xp, x, f32)], w, *args)
    if not nan:
        return r if r.dtype == x.dtype else astype(xp, r, x.dtype)
    return _same_nan(xp, x, r)


def _torch_namespace() -> Any:
    import array_api_compat.torch as xp

    from relukit._prims.numpy import kind

    # the formulas ask which library xp is (cached per namespace); asked here, at import,
    # because under torch.compile Dynamo would trace array_api_compat's cached checks
    kind(xp)
    return xp


_XP = _torch_namespace()


def _torch_primitives() -> dict[tuple[bool, bool, bool], Any]:
    """The primitives over torch, by ``(f32, to32)`` (:func:`relukit._prims.numpy.namespace`),
    whose device look-up reads ``tensor.device``: array_api_compat's ``device()`` goes
    through cached helpers that Dynamo traces (and warns about) under ``torch.compile``."""
    from relukit._prims.numpy import ArrayNamespace

    class TorchPrimitives(ArrayNamespace):
        def _on(self, c: Any) -> dict[str, Any]:
            return {"device": c.device}

    class TracePrimitives(TorchPrimitives):
        """Under ``torch.jit.trace``: a ``-0.0`` of a formula (``where(x <= -3, -0.0, ..)``)
        is computed when the graph runs, not kept as a constant, since TorchScript pools
        the constants ``-0.0`` and ``0.0`` into one (``0.0 == -0.0``); so is the high half
        of a number in an exact product (see ``prod_err``)."""

        def where(self, c: Any, a: Any, b: Any) -> Any:
            if _is_minus_zero(a) and isinstance(b, torch.Tensor):
                a = -c.new_zeros((), dtype=b.dtype)
            elif _is_minus_zero(b) and isinstance(a, torch.Tensor):
                b = -c.new_zeros((), dtype=a.dtype)
            return super().where(c, a, b)

        def prod_err(self, a: Any, b: Any, p: Any) -> Any:
            # TorchScript also merges tensor constants less than about 1e-8 apart
            # (relatively): a number b and its high half bh (Dekker's splitting), which
            # would make the product's error term 0. bh = b - bl is computed when the
            # graph runs (exactly: b = bh + bl), from the constants b and bl. A number
            # given first (quick_gelu's 1.702 * x) is moved second: the error term is
            # exact, so the order of the factors changes no bit.
            if isinstance(a, float) and not isinstance(b, float):
                a, b = b, a
            if not isinstance(b, float) or not isinstance(p, torch.Tensor):
                return super().prod_err(a, b, p)
            t = b * self._split
            high = t - (t - b)
            bl = b - high
            bh = (p.new_zeros(()) + b) - bl
            ah, al = self._halves(a)
            return ((ah * bh - p) + ah * bl + al * bh) + al * bl

    return {
        (trace, f32, to32): (TracePrimitives if trace else TorchPrimitives)(_XP, f32, to32)
        for trace in (False, True)
        for f32 in (False, True)
        for to32 in (False, True)
    }


def _is_minus_zero(v: Any) -> bool:
    return isinstance(v, float) and v == 0.0 and math.copysign(1.0, v) < 0


_NS = _torch_primitives()


class _Learned(torch.autograd.Function):
    """An entry whose parameters are tensors that learn: keeps ``x`` and the parameters
    only; backward recomputes the formula with torch operations and differentiates it
    (the parameters' gradients are sums over ``x``'s elements)."""

    @staticmethod
    def forward(x: torch.Tensor, act: Activation, *ps: torch.Tensor) -> torch.Tensor:
        pl = _learned_plan(act, x, ps)
        return formula_with(act, "value", x, ps) if pl is None else value(pl, x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, act, *ps = inputs
        ctx.save_for_backward(x, *ps)
        ctx.act = act
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor | None) -> tuple[Any, ...]:
        saved = ctx.saved_tensors
        if g is None:
            return (None, None, *([None] * (len(saved) - 1)))
        act = ctx.act
        if torch.is_grad_enabled():  # double backward: the saved tensors' own graph
            ins = [t for t in saved if t.requires_grad]
            with torch.enable_grad():
                y = formula_with(act, "value", saved[0], tuple(saved[1:]))
                got = iter(torch.autograd.grad(y, ins, g, create_graph=True))
            grads = [next(got) if t.requires_grad else None for t in saved]
        else:
            with torch.enable_grad():
                ins = [t.detach().requires_grad_() for t in saved]
                y = formula_with(act, "value", ins[0], tuple(ins[1:]))
                grads = list(torch.autograd.grad(y, ins, g))
            # the derivative in x is the entry's own formula (its conventions, NaN rule);
            # on the CPU the kernels' (the NumPy API's bits)
            pl = _learned_plan(act, saved[0], tuple(saved[1:]))
            if pl is None:
                grads[0] = formula_with(act, "derivative", saved[0], tuple(saved[1:])) * g
            else:
                grads[0] = grad(pl, g, saved[0])
            # a NaN in x: the parameters' gradients are NaN (the formula's NaN rule
            # selects x's NaN there, which sent those elements' share nowhere: StarReLU's
            # bias gradient left them out of its sum)
            xnan = saved[0].isnan().any()  # (a tensor: no host sync)
            for i in range(1, len(grads)):
                gp = grads[i]
                if gp is not None:
                    grads[i] = torch.where(xnan, gp.new_full((), math.nan), gp)
        out = [grads[0], None]
        for p, gp in zip(saved[1:], grads[1:], strict=True):
            out.append(None if gp is None else gp.sum_to_size(p.shape))
        return tuple(out)


def _learned_plan(act: Activation, x: torch.Tensor, ps: tuple[Any, ...]) -> TorchPlan | None:
    """The plan with the parameters' current values where the CPU kernels run (an eager
    CPU tensor ``x``, CPU parameters of one value each): the NumPy API's bits. ``None``
    elsewhere (the formulas in torch operations)."""
    if route(x) != "cpu":
        return None
    for p in ps:
        if p.device.type != "cpu" or p.numel() != 1 or _is_wrapped(p):
            return None
    from relukit.torch._params import bind

    try:  # (reading a CPU tensor's value: no device sync)
        pv = bind(act.name, tuple(float(p.detach().reshape(())) for p in ps))
    except (TypeError, ValueError):  # a parameter that went NaN: the formulas
        return None
    return plan(act.name, pv)


def apply_learned(act: Activation, x: torch.Tensor, ps: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Entry ``act`` at ``x`` with its parameters as tensors ``ps`` (learned parameters)."""
    if (
        torch._C._get_tracing_state()
        or torch._C._are_functorch_transforms_active()
        or torch.compiler.is_compiling()  # (Dynamo cannot trace autograd.grad in backward)
        or torch.autograd.forward_ad._current_level >= 0  # (no jvp: forward-mode AD)
    ):
        return formula_with(act, "value", x, ps)  # plain ops: torch's autograd
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in ps)):
        y: torch.Tensor = _Learned.apply(x, act, *ps)
        return y
    with torch.no_grad():
        pl = _learned_plan(act, x, ps)
        return formula_with(act, "value", x, ps) if pl is None else value(pl, x)


def _op_value(pl: TorchPlan, x: torch.Tensor) -> torch.Tensor:
    """:func:`value` for the compiled graphs' operators (:mod:`relukit.torch._cpu_ops`),
    which hand over plain CPU tensors: the lean call's kernel where it applies."""
    if x.dtype in _FLAT and x.is_contiguous() and _kernels.available():
        kps = _lean_plans(pl, x.dtype)
        if kps is not None:
            y = _lean_value(kps[0], x.detach(), False)
            if y is not None:
                return y
    return value(pl, x)


def _op_grad(
    pl: TorchPlan, g: torch.Tensor, t: torch.Tensor, at_kink: float | None, from_output: bool
) -> torch.Tensor:
    """:func:`grad` for the operators, likewise."""
    if (
        at_kink is None
        and from_output == pl.save_output
        and t.dtype in _FLAT
        and g.dtype is t.dtype
        and g.shape == t.shape
        and t.is_contiguous()
        and g.is_contiguous()
        and _kernels.available()
    ):
        kps = _lean_plans(pl, t.dtype)
        if kps is not None:
            out = _lean_backward(kps[1], t.detach(), g.detach())
            if out is not None:
                return out
    return grad(pl, g, t, at_kink, from_output)


_cpu_ops.bind(
    plan=plan, value=_op_value, grad=_op_grad, gated_value=gated_value, gated_grad=gated_grad
)
