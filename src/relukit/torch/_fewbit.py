r"""Few-bit backward for the smooth activations (``bits=`` in relukit.torch).

``relukit.torch.gelu(x, bits=3)`` (and ``silu``, ``mish``, ``softplus``, ``hardswish``,
and the modules' ``bits=``) computes the exact forward value, but keeps for backward
only the index :math:`k` of the interval :math:`t_k < x \le t_{k+1}` of each element,
``bits`` bits per element, and backward multiplies the incoming gradient by the level
:math:`l_k` (:func:`relukit.torch.derivative_levels`: the boundaries and levels that
minimise the derivative's L2 error weighted by the standard normal density):

.. math::

    \frac{\partial L}{\partial x} \approx \frac{\partial L}{\partial y}\, l_{k(x)},
    \qquad k(x) = \#\{j : t_j < x\}.

What is saved: ``bits`` bit-planes of the codes, each packed 8 elements per byte
(:mod:`relukit.torch._bits`), ``bits * ceil(n / 8)`` bytes in one ``uint8`` tensor,
nothing else: the ``2**bits`` levels are one cached tensor per device and dtype, looked
up in the gradient's dtype (under ``FakeTensorMode`` and ``torch.export`` they are made
in that mode on each call, and nothing made there is cached). The forward output is
the same as with ``bits=None``, bit for bit (on CUDA both come from kernels generated
from the same formula: :mod:`relukit.torch._triton_gen`). ``torch.compile`` runs it eagerly (a graph break);
``torch.jit.trace`` records plain ops that give the same gradient
(:func:`relukit.torch._trace.fewbit`, 0 at ±inf), without the memory saving.

Transforms: ``torch.func.vmap`` (the rule is generated from the element-wise forward),
forward-mode AD (``jvp``: the tangent times the same level as backward, so ``jacfwd``
equals ``jacrev``), and double backward see the piecewise-constant derivative
:math:`q`, whose derivative is zero: use ``bits=None`` for gradient penalties. At a NaN
input the code is the last interval (NaN compares as above every boundary, as in
:func:`torch.bucketize`), so its gradient is finite; its output, and hence the loss,
are NaN.

On CUDA tensors with Triton installed, one fused kernel computes the value and packs
the codes, and one unpacks and multiplies (:mod:`relukit.torch._triton_gen`, from
the entry's formula); on CPU numba
kernels build and read the codes (:mod:`relukit.torch._fewbit_numba`); elsewhere
(float16/bfloat16 on CPU, non-contiguous tensors, torch.func transforms) torch ops
build the same bytes.

>>> import torch, relukit.torch as rt
>>> x = torch.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
>>> y = rt.gelu(x, bits=1)
>>> torch.equal(y, rt.gelu(x))  # the exact value (on the CPU: the NumPy API's bits)
True
>>> y.sum().backward()
>>> x.grad
tensor([0.0908, 0.0908, 0.9092, 0.9092])
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch

from relukit.torch import _bits
from relukit.torch._levels import derivative_levels

__all__ = ["FewBitFunction", "fewbit", "saved_nbytes"]

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


#: the entries with ``bits=`` and their parameter names (in the functional order)
PARAMS: dict[str, tuple[str, ...]] = {
    "gelu": ("approximate",),
    "silu": (),
    "mish": (),
    "softplus": ("beta", "threshold"),
    "hardswish": (),
}


def saved_nbytes(n: int, bits: int) -> int:
    """Bytes saved for backward for ``n`` elements: ``bits * ceil(n / 8)``."""
    return bits * _bits.packed_nbytes(n)


def _levels(name: str, pvals: tuple[Any, ...], bits: int) -> tuple[Any, Any]:
    return derivative_levels(name, bits, **dict(zip(PARAMS[name], pvals, strict=True)))


@functools.lru_cache(maxsize=256)
def rounded_levels(
    name: str, pvals: tuple[Any, ...], bits: int, dtype: torch.dtype
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The boundaries and the levels as Python floats rounded to ``dtype`` (comparing
    with them is comparing in ``dtype``); made outside every tracer and fake mode."""
    bounds, levels = _levels(name, pvals, bits)
    with outside_tracing():
        rb = tuple(torch.tensor(bounds, dtype=dtype).tolist())
        rl = tuple(torch.tensor(levels, dtype=dtype).tolist())
    return rb, rl


@functools.lru_cache(maxsize=256)
def _tensors(
    name: str, pvals: tuple[Any, ...], bits: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Made once per key, as plain tensors outside every tracer and fake mode."""
    bounds, levels = _levels(name, pvals, bits)
    with outside_tracing():
        return _make(bounds, levels, bits, device, dtype)


def _make(
    bounds: Any, levels: Any, bits: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    with torch.inference_mode(False), torch.no_grad():
        b = torch.tensor(bounds, dtype=dtype, device=device)
        lv = torch.tensor(levels, dtype=dtype, device=device)
        shifts = torch.arange(bits, dtype=torch.uint8, device=device).view(bits, 1)
    return b, lv, shifts


def _plain(t: torch.Tensor) -> bool:
    """``t`` is an ordinary tensor in plain eager mode (``torch.func`` wrappers included)."""
    if type(t) not in (torch.Tensor, torch.nn.Parameter) or torch.compiler.is_compiling():
        return False
    return not (torch._C._get_tracing_state() or torch._C._len_torch_dispatch_stack())


def _constants(
    name: str, pvals: tuple[Any, ...], bits: int, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[float, ...]]:
    """Boundaries and levels as tensors on ``like``'s device in its dtype, the plane
    shifts (``uint8``, shape ``(bits, 1)``), and the boundaries as rounded Python floats.

    Cached for plain tensors. Fake, functional and traced tensors (``FakeTensorMode``,
    ``torch.export``) get tensors made in their own mode on every call: a cache would
    keep them, and the next eager call would be handed a fake tensor.
    """
    rounded = rounded_levels(name, pvals, bits, like.dtype)[0]
    if _plain(like):
        return (*_tensors(name, pvals, bits, like.device, like.dtype), rounded)
    return (*_make(*_levels(name, pvals, bits), bits, like.device, like.dtype), rounded)


def encode(x: torch.Tensor, bounds: tuple[float, ...], shifts: torch.Tensor) -> torch.Tensor:
    """Pack the interval codes of ``x`` as ``bits`` bit-planes of ``ceil(n / 8)`` bytes each.

    The code is the number of boundaries below ``x`` (``len(bounds)`` minus the number
    at or above it, so NaN gets the last code, as :func:`torch.bucketize`). Plane ``k``
    holds bit ``k`` of every code; element ``i`` is bit ``i % 8`` of byte
    ``k * ceil(n / 8) + i // 8`` (the layout of the Triton kernels).
    """
    flat = x.reshape(-1)
    if len(bounds) == 1:
        return _bits.pack(~(flat <= bounds[0]))
    n = flat.numel()
    at_or_above = (flat <= bounds[0]).to(torch.uint8)
    for t in bounds[1:]:
        at_or_above += flat <= t
    codes = at_or_above.neg_().add_(len(bounds))  # uint8 arithmetic: K - count
    pad = _bits.packed_nbytes(n) * 8 - n
    if pad:
        codes = torch.nn.functional.pad(codes, (0, pad))
    return _bits.pack(((codes.unsqueeze(0) >> shifts) & 1).view(torch.bool))


def decode_multiply(
    g: torch.Tensor, packed: torch.Tensor, levels: torch.Tensor, shifts: torch.Tensor
) -> torch.Tensor:
    """``g * levels[code]`` from the packed bit-planes of :func:`encode`."""
    bits = shifts.numel()
    n = g.numel()
    nb = packed.numel() // bits
    planes = _bits.unpack(packed, (bits, nb * 8), torch.uint8)[:, :n]
    codes = (planes << shifts).sum(0, dtype=torch.int32) if bits > 1 else planes[0].int()
    mult = levels.index_select(0, codes).view(g.shape)
    return g * mult


def _use_numba(t: torch.Tensor) -> bool:
    """The fused CPU kernels take plain contiguous float32/float64 CPU tensors."""
    if t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
        return False
    if not _plain(t) or not t.is_contiguous():
        return False  # fake, functional, traced and other subclass tensors: the torch ops
    if torch._C._functorch.is_functorch_wrapped_tensor(t):
        return False
    if torch._C._functorch.is_legacy_batchedtensor(t):  # jacobian(vectorize=True)'s gradient
        return False
    return _numba_ok()


@functools.cache
def _numba_ok() -> bool:
    try:
        from relukit.torch._fewbit_numba import kernels

        kernels()
        return True
    except Exception:  # pragma: no cover - numba missing or broken: torch ops still work
        return False


def _encode_numba(x: torch.Tensor, bounds: torch.Tensor, bits: int) -> torch.Tensor:
    from relukit.torch._fewbit_numba import kernels

    k = kernels()
    n = x.numel()
    nb = _bits.packed_nbytes(n)
    scratch = torch.empty(n, dtype=torch.uint8)  # through torch: the profiler sees it
    packed = torch.empty(bits * nb, dtype=torch.uint8)
    c = scratch.numpy()
    k.codes(x.detach().numpy().reshape(-1), bounds.numpy(), c)
    k.pack_planes(c, packed.numpy(), bits, nb)
    return packed


def _decode_numba(
    g: torch.Tensor, packed: torch.Tensor, levels: torch.Tensor, bits: int
) -> torch.Tensor:
    from relukit.torch._fewbit_numba import kernels

    n = g.numel()
    nb = _bits.packed_nbytes(n)
    out = torch.empty_like(g, memory_format=torch.contiguous_format)
    scratch = torch.empty(n, dtype=torch.uint8)  # through torch: the profiler sees it
    kernels().decode_multiply(
        g.numpy().reshape(-1), packed.numpy(), levels.numpy(), out.numpy().reshape(-1),
        scratch.numpy(), bits, nb,
    )  # fmt: skip
    return out


def _use_triton(x: torch.Tensor) -> bool:
    if x.device.type != "cuda" or torch.compiler.is_compiling() or not x.is_contiguous():
        return False
    from relukit.torch import _core

    return _core.route(x) == "triton" and 0 < x.numel() < 2**31


class FewBitFunction(torch.autograd.Function):
    """Exact value, ``bits``-bit backward; returns ``(y, packed codes)``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(
        x: torch.Tensor,
        name: str,
        pvals: tuple[Any, ...],
        bits: int,
        inplace: bool,
        value: Value,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        bounds, _, shifts, rounded = _constants(name, pvals, bits, x)
        if _use_triton(x) and not inplace:
            from relukit.torch import _core, _triton_gen

            pl = _core.plan(name, pvals)
            a = pl.triton_args(x.device)
            return _triton_gen.value_codes(pl.math, len(pl.args), x, a, bounds, bits)
        if _use_numba(x):
            packed = _encode_numba(x, bounds, bits)
        else:
            packed = encode(x, rounded, shifts)  # before an in-place value overwrites x
        return value(x, inplace), packed

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, name, pvals, bits, inplace, _ = inputs
        _, packed = output
        ctx.mark_non_differentiable(packed)
        ctx.set_materialize_grads(False)  # no zero gradient for the codes
        if inplace:
            ctx.mark_dirty(x)
        ctx.save_for_backward(packed)
        ctx.save_for_forward(packed)
        ctx.key = (name, pvals, bits)  # the levels are looked up in the gradient's dtype

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor | None, _g_packed: Any) -> tuple[Any, ...]:
        (packed,) = ctx.saved_tensors
        rest = (None,) * 5  # name, pvals, bits, inplace, value
        if g is None:
            return (None, *rest)
        name, pvals, bits = ctx.key
        _, levels, shifts, _ = _constants(name, pvals, bits, g)
        if _use_triton(g) and not torch.is_grad_enabled():
            from relukit.torch import _triton_gen

            return (_triton_gen.codes_backward(g, packed, levels, bits), *rest)
        if not torch.is_grad_enabled() and _use_numba(g):
            return (_decode_numba(g, packed, levels, bits), *rest)
        return (decode_multiply(g, packed, levels, shifts), *rest)

    @staticmethod
    def jvp(ctx: Any, xt: torch.Tensor | None, *_: Any) -> tuple[Any, ...]:
        (packed,) = ctx.saved_tensors
        if xt is None:
            return None, None
        name, pvals, bits = ctx.key
        levels, shifts = _constants(name, pvals, bits, xt)[1:3]
        return decode_multiply(xt, packed, levels, shifts), None


def _tracked(x: torch.Tensor) -> bool:
    """Whether autograd (reverse or forward mode, or a torch.func transform) sees ``x``."""
    if x.requires_grad and torch.is_grad_enabled():
        return True
    import torch.autograd.forward_ad as fwad

    if fwad._current_level >= 0:  # inside fwAD.dual_level(): x may carry a tangent
        return True
    return torch._C._functorch.is_functorch_wrapped_tensor(x)


#: the exact value, ``value(x, inplace) -> y`` (relukit.torch's exact path, given by the
#: caller: this module sits below :mod:`relukit.torch._functions` and never imports it)
Value = Callable[[torch.Tensor, bool], torch.Tensor]


@torch.compiler.disable  # torch.compile: a graph break, the Function runs eagerly
def fewbit(
    name: str, x: torch.Tensor, pvals: tuple[Any, ...], bits: int, inplace: bool, value: Value
) -> torch.Tensor:
    """Run ``name`` with a ``bits``-bit backward (the functional forms' ``bits=`` path).

    The caller (:func:`relukit.torch._functions.fewbit`) has validated the input, the
    parameters and ``bits``; ``value`` is the exact value. Without an autograd graph it
    is the exact value. Under ``torch.compile`` it is a graph break (Dynamo cannot trace
    a Function with a custom ``jvp``), so ``fullgraph=True`` fails with ``bits=``.
    """
    if not (x.is_floating_point() and _tracked(x)):
        return value(x, inplace)
    if inplace and x._is_view():
        # autograd refuses a Function that writes a view in place and returns more than one
        # tensor (here: the codes): out of place (the codes are all it keeps), then written
        # into the view
        y, _ = FewBitFunction.apply(x, name, pvals, bits, False, value)
        return x.copy_(y)
    y, _ = FewBitFunction.apply(x, name, pvals, bits, inplace, value)
    return y
