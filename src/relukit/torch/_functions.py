"""Autograd Functions with exact, memory-lean backward, and the functional forms.

What each activation saves for backward (``ctx.save_for_backward``, so that
``torch.autograd.graph.saved_tensors_hooks`` sees and counts it):

========================================  ==============================================
activation                                saved
========================================  ==============================================
relu, leaky_relu, relu6, hardtanh,        **1 bit per element** (a bit-packed ``uint8``
hardsigmoid                               mask: which linear piece the input was on)
elu, celu, selu (``alpha > 0``)           **the output** (which the next layer usually
                                          saves anyway, so it costs no extra storage)
gelu, silu, mish, softplus, hardswish,    the input (the derivative needs it; the same as
prelu                                     torch)
gelu, silu, mish, softplus, hardswish     ``bits`` bits per element (an approximate
with ``bits=1..4``                        backward: :mod:`relukit.torch._fewbit`)
any, with ``at_kink=`` given              plus 1 bit per element: "the input is AT a kink"
========================================  ==============================================

Numbers: the forward value is ATen's own kernel (or the same formula in a fused numba
kernel on CPU), and the backward is ATen's backward formula applied to the saved bits or
output, so values and gradients equal ``torch.nn``'s bit for bit on finite inputs, with
two documented exceptions: relu returns +0.0 for -0.0 (relukit never gives a signed
zero from relu), and elu/celu/selu compute the gradient from the output, which is
exactly the gradient of torch's in-place ``ELU(inplace=True)`` and differs from torch's
out-of-place gradient by at most a few ulp for inputs ``<= 0``. At ±inf, -0.0 and NaN
the value (and, for the input-saving activations, the gradient at ±inf) follows
relukit's catalogue (DESIGN §3) where torch differs (e.g. torch gives
``hardswish(-inf) = nan``, relukit ``0``); at NaN inputs the gradient follows torch's
rule.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from relukit.torch import _bits
from relukit.torch._fewbit import fewbit as _fewbit

aten = torch.ops.aten

__all__ = [
    "celu",
    "elu",
    "gelu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "silu",
    "softplus",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
#: ATen's hardsigmoid_backward multiplies by 1.0f / 6.0f (a float32 constant) in every dtype
ONE_SIXTH = 0.1666666716337204


# ---------------------------------------------------------------------------
# the table: how each activation is computed and what it saves
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """How one activation runs in torch.

    ``save`` is ``"mask"`` (1 bit per element; ``code`` selects the numba kernel and the
    meaning of the bit), ``"output"`` or ``"input"``. ``kinks`` gives the kink locations
    for an ``at_kink`` when the catalogue has no entry (the catalogue wins when present).
    """

    name: str
    pnames: tuple[str, ...]
    defaults: tuple[Any, ...]
    save: str
    value: Callable[..., torch.Tensor]  # (x, p, inplace) -> y, torch's own kernel
    inplace_ok: bool = True
    code: int = -1  # numba kernel code for save="mask"
    plane: Callable[..., torch.Tensor] | None = None  # (x, p) -> bool, torch path
    grad_from_plane: Callable[..., torch.Tensor] | None = None  # (g, planef, p)
    grad_from_saved: Callable[..., torch.Tensor] | None = None  # (g, y or x, p)
    kinks: Callable[[dict], tuple[float, ...]] = lambda p: ()


def _relu_value(x: torch.Tensor, p: dict, inplace: bool) -> torch.Tensor:
    # `+ 0.0` turns relu's -0.0 into +0.0 (relukit semantics), NaN passes.
    return x.relu_().add_(0.0) if inplace else torch.relu(x).add_(0.0)


def _elu_args(name: str, p: dict) -> tuple[float, float, float]:
    """(alpha, scale, input_scale) of ATen's elu kernel for elu/celu/selu."""
    if name == "selu":
        return SELU_ALPHA, SELU_SCALE, 1.0
    if name == "celu":
        return p["alpha"], 1.0, 1.0 / p["alpha"]
    return p["alpha"], 1.0, 1.0


def _elu_value(name: str) -> Callable[..., torch.Tensor]:
    def value(x: torch.Tensor, p: dict, inplace: bool) -> torch.Tensor:
        if name == "selu":
            return F.selu(x, inplace=inplace)
        if name == "celu":
            return F.celu(x, p["alpha"], inplace=inplace)
        return F.elu(x, p["alpha"], inplace=inplace)

    return value


def _elu_grad(name: str, is_result: bool) -> Callable[..., torch.Tensor]:
    def grad(g: torch.Tensor, t: torch.Tensor, p: dict) -> torch.Tensor:
        a, s, i = _elu_args(name, p)
        return aten.elu_backward(g, a, s, i, is_result, t)

    return grad


def _silu_grad(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled():  # double backward: torch's differentiable formula
        sig = x.sigmoid()
        return g * sig * (1.0 + x * (1.0 - sig))
    return aten.silu_backward(g, x)


def _mish_grad(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled():  # double backward: torch's differentiable formula
        sig = x.sigmoid()
        tsp = F.softplus(x).tanh()
        return g * (tsp + x * sig * (1.0 - tsp * tsp))
    return aten.mish_backward(g, x)


def _thr(g: torch.Tensor, planef: torch.Tensor, p: dict) -> torch.Tensor:
    # planef is 1.0 where the gradient passes, 0.0 elsewhere: ATen's own selection
    return aten.threshold_backward(g, planef, 0)


SPECS: dict[str, Spec] = {
    s.name: s
    for s in (
        Spec(
            "relu",
            (),
            (),
            "mask",
            _relu_value,
            code=0,
            plane=lambda x, p: ~(x <= 0),
            grad_from_plane=_thr,
            kinks=lambda p: (0.0,),
        ),
        Spec(
            "leaky_relu",
            ("negative_slope",),
            (0.01,),
            "mask",
            lambda x, p, ip: F.leaky_relu(x, p["negative_slope"], inplace=ip),
            code=1,
            plane=lambda x, p: x > 0,
            grad_from_plane=lambda g, pf, p: aten.leaky_relu_backward(
                g, pf, p["negative_slope"], False
            ),
            kinks=lambda p: (0.0,),
        ),
        Spec(
            "relu6",
            (),
            (),
            "mask",
            # `+ 0.0`: relu6(-0.0) is +0.0 in relukit (no sign bit on a rectified output)
            lambda x, p, ip: F.hardtanh(x, 0.0, 6.0, inplace=ip).add_(0.0),
            code=2,
            plane=lambda x, p: ~((x <= 0) | (x >= 6)),
            grad_from_plane=_thr,
            kinks=lambda p: (0.0, 6.0),
        ),
        Spec(
            "hardtanh",
            ("min_val", "max_val"),
            (-1.0, 1.0),
            "mask",
            lambda x, p, ip: F.hardtanh(x, p["min_val"], p["max_val"], inplace=ip),
            code=2,
            plane=lambda x, p: ~((x <= p["min_val"]) | (x >= p["max_val"])),
            grad_from_plane=_thr,
            kinks=lambda p: (p["min_val"], p["max_val"]),
        ),
        Spec(
            "hardsigmoid",
            (),
            (),
            "mask",
            lambda x, p, ip: F.hardsigmoid(x, inplace=ip),
            code=3,
            plane=lambda x, p: (x > -3) & (x < 3),
            grad_from_plane=lambda g, pf, p: aten.threshold_backward(g * ONE_SIXTH, pf, 0),
            kinks=lambda p: (-3.0, 3.0),
        ),
        Spec(
            "elu",
            ("alpha",),
            (1.0,),
            "output",
            _elu_value("elu"),
            grad_from_saved=_elu_grad("elu", True),
            kinks=lambda p: (0.0,),
        ),
        Spec(
            "celu",
            ("alpha",),
            (1.0,),
            "output",
            _elu_value("celu"),
            grad_from_saved=_elu_grad("celu", True),
        ),
        Spec(
            "selu",
            (),
            (),
            "output",
            _elu_value("selu"),
            grad_from_saved=_elu_grad("selu", True),
            kinks=lambda p: (0.0,),
        ),
        Spec(
            "gelu",
            ("approximate",),
            ("none",),
            "input",
            lambda x, p, ip: F.gelu(x, approximate=p["approximate"]),
            inplace_ok=False,
            grad_from_saved=lambda g, x, p: aten.gelu_backward(g, x, approximate=p["approximate"]),
        ),
        Spec(
            "silu",
            (),
            (),
            "input",
            lambda x, p, ip: F.silu(x, inplace=ip),
            grad_from_saved=lambda g, x, p: _silu_grad(g, x),
        ),
        Spec(
            "mish",
            (),
            (),
            "input",
            lambda x, p, ip: F.mish(x, inplace=ip),
            grad_from_saved=lambda g, x, p: _mish_grad(g, x),
        ),
        Spec(
            "softplus",
            ("beta", "threshold"),
            (1.0, 20.0),
            "input",
            lambda x, p, ip: F.softplus(x, p["beta"], p["threshold"]),
            inplace_ok=False,
            grad_from_saved=lambda g, x, p: aten.softplus_backward(g, x, p["beta"], p["threshold"]),
        ),
        Spec(
            "hardswish",
            (),
            (),
            "input",
            lambda x, p, ip: F.hardswish(x, inplace=ip),
            grad_from_saved=lambda g, x, p: aten.hardswish_backward(g, x),
            kinks=lambda p: (-3.0, 3.0),
        ),
    )
}


# ---------------------------------------------------------------------------
# the catalogue side: parameters, kinks, semantics at special values
# ---------------------------------------------------------------------------


def catalogue_entry(name: str) -> Any:
    """The catalogue :class:`relukit.Activation` for ``name``, or ``None`` if missing."""
    import relukit

    try:
        return relukit.get(name)
    except LookupError:
        return None


def _check_at_kink(name: str, at_kink: Any) -> float | None:
    """``None`` or a real number (NaN and ±inf allowed), else a TypeError."""
    from relukit._dispatch import check_at_kink

    return check_at_kink(f"relukit.torch.{name}", at_kink)


def bind(name: str, pvals: tuple[Any, ...]) -> tuple[Any, ...]:
    """Validate the parameters through the catalogue (relukit's error messages).

    Returns the normalised values (Python floats for real parameters).
    """
    spec = SPECS[name]
    act = catalogue_entry(name)
    if act is None or not spec.pnames:
        return tuple(pvals)
    kw = dict(zip(spec.pnames, pvals, strict=True))
    known = {k: v for k, v in kw.items() if k in act.params}
    bound = act.bind((), known)
    return tuple(bound.get(k, v) for k, v in kw.items())


@torch.compiler.assume_constant_result  # a constant for torch.compile
def kink_locations(name: str, pvals: tuple[Any, ...]) -> tuple[float, ...]:
    """Where ``at_kink`` applies: the catalogue's kinks (or torch's own when missing)."""
    return _kink_locations(name, pvals)


@functools.lru_cache(maxsize=256)
def _kink_locations(name: str, pvals: tuple[Any, ...]) -> tuple[float, ...]:
    spec = SPECS[name]
    p = dict(zip(spec.pnames, pvals, strict=True))
    act = catalogue_entry(name)
    if act is not None:
        try:
            return tuple(k[0] for k in act.kink_points(**{k: p[k] for k in act.params if k in p}))
        except (TypeError, ValueError):
            pass
    return tuple(float(v) for v in spec.kinks(p))


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a == b) & (torch.signbit(a) == torch.signbit(b))) | (a.isnan() & b.isnan())


#: special inputs probed for semantics, in this order
_SPECIALS = (-math.inf, math.inf, math.nan, -0.0, 0.0)


@torch.compiler.assume_constant_result  # a constant for torch.compile
def fixups(name: str, pvals: tuple[Any, ...], dtype: torch.dtype) -> tuple[Any, Any]:
    """Where torch's kernel and relukit's catalogue disagree on special inputs (cached).

    See :func:`_fixups`.
    """
    return _fixups(name, pvals, dtype)


@functools.lru_cache(maxsize=256)
def _fixups(name: str, pvals: tuple[Any, ...], dtype: torch.dtype) -> tuple[Any, Any]:
    """Where torch's kernel and relukit's catalogue disagree on special inputs.

    Returns ``(forward, backward)``: ``forward`` is a tuple of ``(special, value)``
    (special in ``_SPECIALS``; value the catalogue's output there), ``backward`` a tuple
    of ``(special, derivative)`` for ±inf (only for activations that save the input).
    Empty tuples when they agree, or when the catalogue has no entry yet.
    """
    act = catalogue_entry(name)
    if act is None:
        return (), ()
    spec = SPECS[name]
    p = dict(zip(spec.pnames, pvals, strict=True))
    cp = {k: v for k, v in p.items() if k in act.params}
    import array_api_compat.torch as xp

    x = torch.tensor(_SPECIALS, dtype=dtype)
    try:
        with torch.no_grad():
            want = act.value_fn(xp, x, **act.bind((), cp))
            got = spec.value(x.clone(), p, False)
    except Exception:  # the catalogue entry cannot evaluate torch tensors: keep torch's
        return (), ()
    same = _same_bits(torch.as_tensor(want, dtype=dtype), got).tolist()
    fwd = tuple(
        (s, float(v)) for s, v, ok in zip(_SPECIALS, want.tolist(), same, strict=True) if not ok
    )
    bwd: tuple[Any, ...] = ()
    if spec.save == "input":
        xi = x[:2]
        try:
            dwant = torch.as_tensor(act.derivative_fn(xp, xi, **act.bind((), cp)), dtype=dtype)
        except Exception:
            dwant = None
        if dwant is not None:
            dgot = spec.grad_from_saved(torch.ones_like(xi), xi, p)
            ok = _same_bits(dwant, dgot).tolist()
            bwd = tuple(
                (s, float(d))
                for s, d, o in zip(_SPECIALS[:2], dwant.tolist(), ok, strict=True)
                if not o
            )
    return fwd, bwd


def _special_kind(s: float) -> int:
    if math.isnan(s):
        return 2
    if s == 0.0:
        return 3 if math.copysign(1.0, s) < 0 else 4
    return 0 if s < 0 else 1


def _special_masks(x: torch.Tensor, fwd: tuple[Any, ...]) -> list[tuple[torch.Tensor, float]]:
    out = []
    for s, v in fwd:
        k = _special_kind(s)
        if k == 2:
            m = x.isnan()
        elif k in (3, 4):
            m = (x == 0) & (torch.signbit(x) if k == 3 else ~torch.signbit(x))
        else:
            m = x == s
        out.append((m, v))
    return out


def _apply_fixes(y: torch.Tensor, masks: list[tuple[torch.Tensor, float]]) -> torch.Tensor:
    for m, v in masks:
        y = torch.where(m, torch.tensor(v, dtype=y.dtype, device=y.device), y)
    return y


def _numba_fix(
    x: torch.Tensor, out: torch.Tensor, g: torch.Tensor | None, fixes: tuple[Any, ...]
) -> None:
    """Set ``out`` (contiguous, in place) at the special inputs of ``x`` (numba path)."""
    import numpy as np

    from relukit.torch._numba import kernels

    kinds = np.array([_special_kind(s) for s, _ in fixes], np.int64)
    dt = np.float32 if x.dtype == torch.float32 else np.float64
    vals = np.array([v for _, v in fixes], dt)
    xn = x.detach().numpy().reshape(-1)
    gn = xn if g is None else g.detach().numpy().reshape(-1)
    kernels().fix_specials(xn, out.detach().numpy().reshape(-1), gn, kinds, vals, g is not None)


def _fast_fix(x: torch.Tensor, y: torch.Tensor) -> bool:
    return _use_numba(x) and y.is_contiguous() and y.dtype == x.dtype


# ---------------------------------------------------------------------------
# the fast CPU path
# ---------------------------------------------------------------------------


def _use_numba(x: torch.Tensor) -> bool:
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return False
    if not x.is_contiguous() or torch.compiler.is_compiling():
        return False
    return _numba_ok()


@functools.cache
def _numba_ok() -> bool:
    try:
        from relukit.torch import _numba

        _numba.kernels()
        return True
    except Exception:  # pragma: no cover - numba missing or broken: torch ops still work
        return False


def _np_scalar(x: torch.Tensor, v: float) -> Any:
    import numpy as np

    return (np.float32 if x.dtype == torch.float32 else np.float64)(v)


def _mask_params(spec: Spec, p: dict) -> tuple[float, float]:
    """The two constants of the numba kernels for this activation."""
    if spec.code == 1:
        return p["negative_slope"], 0.0
    if spec.code == 2:
        return (0.0, 6.0) if spec.name == "relu6" else (p["min_val"], p["max_val"])
    if spec.code == 3:
        return -3.0, 3.0
    return 0.0, 0.0


def _mask_forward(
    spec: Spec, x: torch.Tensor, p: dict, inplace: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, packed bits) for a mask-saving activation."""
    if _triton_mask(spec, x) and not inplace:  # CUDA + Triton: one fused pass
        from relukit.torch import _triton

        return _triton.mask_forward(spec.name, x, p.get("negative_slope", 0.0))
    nbytes = _bits.packed_nbytes(x.numel())
    if _use_numba(x):
        from relukit.torch._numba import kernels, scratch

        k = kernels()
        c = scratch(x.numel())
        xn = x.detach().numpy().reshape(-1)
        a, b = (_np_scalar(x, v) for v in _mask_params(spec, p))
        bits = torch.empty(nbytes, dtype=torch.uint8)
        if spec.code in (0, 1, 2):
            y = x if inplace else torch.empty_like(x)
            k.value_plane(xn, y.detach().numpy().reshape(-1), c, spec.code, a, b)
            if spec.name == "relu6":
                y.add_(0.0)
        else:
            k.plane(xn, c, spec.code, a, b)
            y = spec.value(x, p, inplace)
        k.pack(c, bits.numpy())
        return y, bits
    bits = _bits.pack(spec.plane(x, p))
    return spec.value(x, p, inplace), bits


def _kink_bits(x: torch.Tensor, locs: tuple[float, ...]) -> torch.Tensor:
    if _use_numba(x):
        import numpy as np

        from relukit.torch._numba import kernels, scratch

        k = kernels()
        c = scratch(x.numel())
        bits = torch.empty(_bits.packed_nbytes(x.numel()), dtype=torch.uint8)
        dt = np.float32 if x.dtype == torch.float32 else np.float64
        k.kink_plane(x.detach().numpy().reshape(-1), c, np.array(locs, dt))
        k.pack(c, bits.numpy())
        return bits
    m = torch.zeros_like(x, dtype=torch.bool)
    for loc in locs:
        m = m | (x == loc)
    return _bits.pack(m)


def _numba_backward(g: torch.Tensor) -> bool:
    # backward runs with grad mode on only for double backward: then the torch path,
    # whose ops autograd can differentiate
    if torch.is_grad_enabled() or g.device.type != "cpu":
        return False
    return g.dtype in (torch.float32, torch.float64) and _use_numba_any()


def _use_numba_any() -> bool:
    return not torch.compiler.is_compiling() and _numba_ok()


def _unpacked(bits: torch.Tensor, n: int) -> Any:
    from relukit.torch._numba import kernels, scratch

    c = scratch(n)
    kernels().expand(bits.numpy(), c)
    return c


def _triton_mask(spec: Spec, t: torch.Tensor) -> bool:
    if spec.name not in ("relu", "leaky_relu") or t.device.type != "cuda":
        return False
    from relukit.torch import _triton

    return _triton.available() and _triton.supports(t) and not torch.compiler.is_compiling()


def _mask_backward(
    spec: Spec, g: torch.Tensor, bits: torch.Tensor, shape: torch.Size, p: dict
) -> torch.Tensor:
    if _triton_mask(spec, g) and not torch.is_grad_enabled():
        from relukit.torch import _triton

        return _triton.mask_backward(spec.name, g, bits, p.get("negative_slope", 0.0))
    if _numba_backward(g):
        from relukit.torch._numba import kernels

        g = g.contiguous()
        out = torch.empty_like(g)
        s = p["negative_slope"] if spec.code == 1 else (ONE_SIXTH if spec.code == 3 else 0.0)
        c = _unpacked(bits, g.numel())
        kernels().select(
            g.numpy().reshape(-1), c, out.numpy().reshape(-1), spec.code, _np_scalar(g, s)
        )
        return out
    planef = _bits.unpack(bits, shape, g.dtype)
    return spec.grad_from_plane(g, planef, p)


def _kink_backward(
    gi: torch.Tensor, g: torch.Tensor, kbits: torch.Tensor, at_kink: float
) -> torch.Tensor:
    if _numba_backward(g):
        from relukit.torch._numba import kernels

        g = g.contiguous()
        gi = gi.contiguous().clone() if gi.data_ptr() == g.data_ptr() else gi.contiguous()
        c = _unpacked(kbits, g.numel())
        kernels().kink_apply(
            g.numpy().reshape(-1), c, gi.detach().numpy().reshape(-1), _np_scalar(g, at_kink)
        )
        return gi
    km = _bits.unpack(kbits, g.shape)
    return torch.where(km, g * at_kink, gi)


# ---------------------------------------------------------------------------
# the autograd Function
# ---------------------------------------------------------------------------


class ActivationFunction(torch.autograd.Function):
    """One Function for every catalogue activation; the spec name selects the formulas."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        name: str,
        pvals: tuple[Any, ...],
        at_kink: float | None,
        inplace: bool,
        fix: tuple[Any, Any],
        locs: tuple[float, ...],
    ) -> torch.Tensor:
        # fix = fixups(...) and locs = kink_locations(...) are computed by `apply`,
        # outside the Function, so that torch.compile sees them as constants
        spec = SPECS[name]
        p = dict(zip(spec.pnames, pvals, strict=True))
        fwd_fix, bwd_fix = fix
        # the special inputs are located before an in-place op overwrites them
        copy_x = fwd_fix and inplace and _use_numba(x)
        x0 = x.detach().clone() if copy_x else x
        masks = _special_masks(x, fwd_fix) if fwd_fix and not _use_numba(x) else []
        kbits = _kink_bits(x, locs) if locs else None
        saved: list[torch.Tensor] = []
        save = spec.save
        if save == "output" and not (p.get("alpha", 1.0) > 0):
            save = "input"  # y <= 0 no longer tells x <= 0: keep the input instead
        if save == "mask":
            y, bits = _mask_forward(spec, x, p, inplace)
            saved.append(bits)
        elif save == "input":
            xs = x.detach().clone() if inplace else x
            y = spec.value(x, p, inplace)
            saved.append(xs)
        else:
            y = spec.value(x, p, inplace)
        if fwd_fix and not masks:
            _numba_fix(x0, y, None, fwd_fix)
        elif masks:
            y2 = _apply_fixes(y, masks)
            y = y.copy_(y2) if inplace else y2
        if save == "output":
            saved.append(y)
        if kbits is not None:
            saved.append(kbits)
        if inplace:
            ctx.mark_dirty(x)
        ctx.save_for_backward(*saved)
        ctx.name, ctx.pvals, ctx.at_kink, ctx.shape, ctx.mode = name, pvals, at_kink, x.shape, save
        ctx.bwd_fix = bwd_fix if save == "input" else ()
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        spec = SPECS[ctx.name]
        p = dict(zip(spec.pnames, ctx.pvals, strict=True))
        saved = ctx.saved_tensors
        if ctx.mode == "mask":
            gi = _mask_backward(spec, g, saved[0], ctx.shape, p)
        elif ctx.mode == "output":
            a, s, i = _elu_args(ctx.name, p)
            gi = aten.elu_backward(g, a, s, i, True, saved[0])
        else:
            x = saved[0]
            gi = (
                _elu_grad(ctx.name, False)(g, x, p)
                if spec.save == "output"
                else (spec.grad_from_saved(g, x, p))
            )
            if ctx.bwd_fix and _numba_backward(g) and _fast_fix(x, gi):
                _numba_fix(x, gi, g.contiguous(), ctx.bwd_fix)
            else:
                for s_, d in ctx.bwd_fix:
                    gi = torch.where(x == s_, g * d, gi)
        if ctx.at_kink is not None:
            gi = _kink_backward(gi, g, saved[-1], ctx.at_kink)
        return gi, None, None, None, None, None, None


def _check_inplace(x: torch.Tensor) -> None:
    """Raise torch's own errors for in-place use autograd cannot support, BEFORE writing.

    (A custom Function would raise them only after its forward has overwritten ``x``.)
    """
    if x.is_leaf:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    base = x._base
    if base is not None and base.is_leaf and base.requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )


def apply(name: str, x: Any, pvals: tuple[Any, ...], inplace: bool, at_kink: Any) -> torch.Tensor:
    """Validate and run activation ``name`` on tensor ``x`` (the functional forms' body)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"relukit.torch.{name}: input must be a torch.Tensor, got {type(x).__name__} "
            f"(use relukit.{name} for Python numbers, lists and NumPy arrays)"
        )
    if not isinstance(inplace, bool):
        raise TypeError(f"relukit.torch.{name}: inplace must be True or False, got {inplace!r}")
    spec = SPECS[name]
    if inplace and not spec.inplace_ok:
        raise ValueError(f"relukit.torch.{name}: there is no in-place variant (as in torch)")
    at_kink = _check_at_kink(name, at_kink)
    pvals = bind(name, pvals)
    if not x.is_floating_point():
        # integer tensors: torch's own op decides (relu keeps ints; others raise as torch)
        p = dict(zip(spec.pnames, pvals, strict=True))
        if name == "relu":
            return torch.relu_(x) if inplace else torch.relu(x)
        if name == "relu6":
            return F.relu6(x, inplace)
        return spec.value(x, p, inplace)
    if torch.is_grad_enabled() and x.requires_grad:
        if inplace:
            _check_inplace(x)
        fix = fixups(name, pvals, x.dtype)
        locs = kink_locations(name, pvals) if at_kink is not None else ()
        return ActivationFunction.apply(x, name, pvals, at_kink, inplace, fix, locs)
    # no autograd graph: the value only
    p = dict(zip(spec.pnames, pvals, strict=True))
    fwd_fix, _ = fixups(name, pvals, x.dtype)
    if not fwd_fix:
        return spec.value(x, p, inplace)
    if _use_numba(x):
        x0 = x.clone() if inplace else x
        y = spec.value(x, p, inplace)
        _numba_fix(x0, y, None, fwd_fix)
        return y
    masks = _special_masks(x, fwd_fix)
    y = spec.value(x, p, inplace)
    y2 = _apply_fixes(y, masks)
    return y.copy_(y2) if inplace else y2


# ---------------------------------------------------------------------------
# prelu: a learnable weight, so its own Function
# ---------------------------------------------------------------------------


def _prelu_weight_shape(x: torch.Tensor, w: torch.Tensor) -> list[int]:
    if w.numel() != 1 and x.dim() >= 2:
        return [1, w.numel()] + [1] * (x.dim() - 2)
    return list(w.shape)


class PReLUFunction(torch.autograd.Function):
    """PReLU: saves the input (the weight's gradient needs it) and the weight.

    When the weight does not require grad, only the 1-bit mask ``x > 0`` and the weight
    are saved.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, at_kink: float | None) -> torch.Tensor:
        wr = w.reshape(_prelu_weight_shape(x, w))
        y = aten._prelu_kernel(x, wr)
        ctx.wshape, ctx.at_kink, ctx.shape = w.shape, at_kink, x.shape
        ctx.lean = not ctx.needs_input_grad[1]
        first = _bits.pack(x > 0) if ctx.lean else x
        kb = [_kink_bits(x, (0.0,))] if at_kink is not None else []
        ctx.save_for_backward(first, wr, *kb)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        saved = ctx.saved_tensors
        wr = saved[1]
        if ctx.lean:
            pos = _bits.unpack(saved[0], ctx.shape)
            gx = torch.where(pos, g, wr * g)
            gw = None
        else:
            x = saved[0]
            gx, gw = aten._prelu_kernel_backward(g, x, wr)
            gw = gw.sum_to_size(wr.shape).reshape(ctx.wshape)
        if ctx.at_kink is not None:
            gx = _kink_backward(gx, g, saved[-1], ctx.at_kink)
        return gx, gw, None


# ---------------------------------------------------------------------------
# the functional forms (signatures of torch.nn.functional, plus at_kink)
# ---------------------------------------------------------------------------


def relu(
    input: torch.Tensor, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""ReLU, :math:`\max(0, x)`, saving 1 bit per element for backward.

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

    Saves 1 bit per element. In-place works with any slope (torch's ``leaky_relu_``
    refuses a negative slope in backward): the bit is taken before the input is
    overwritten.

    >>> import torch, relukit.torch as rt
    >>> rt.leaky_relu(torch.tensor([-10.0, 3.0]), 0.1)
    tensor([-1.,  3.])
    """
    return apply("leaky_relu", input, (negative_slope,), inplace, at_kink)


def relu6(
    input: torch.Tensor, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""ReLU6, :math:`\min(\max(0, x), 6)`; 1 bit per element; gradient 0 at 0 and 6.

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
    r"""Hardtanh, :math:`\min(\max(x, \mathrm{min\_val}), \mathrm{max\_val})`; 1 bit per element.

    >>> import torch, relukit.torch as rt
    >>> rt.hardtanh(torch.tensor([-3.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    return apply("hardtanh", input, (min_val, max_val), inplace, at_kink)


def hardsigmoid(
    input: torch.Tensor, inplace: bool = False, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""Hardsigmoid, :math:`\min(\max(x / 6 + 1/2, 0), 1)`; 1 bit per element.

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

    ``bits=1..4``: few-bit backward (:mod:`relukit.torch._fewbit`); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.gelu(torch.tensor([0.0, float("-inf")]))
    tensor([0., 0.])
    """
    if bits is not None:  # few-bit backward: relukit.torch._fewbit
        return _fewbit("gelu", input, (approximate,), bits)
    return apply("gelu", input, (approximate,), False, None)


def silu(input: torch.Tensor, inplace: bool = False, *, bits: int | None = None) -> torch.Tensor:
    r"""SiLU (swish), :math:`x \sigma(x)`.

    ``bits=1..4``: few-bit backward (:mod:`relukit.torch._fewbit`); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.silu(torch.tensor([0.0]))
    tensor([0.])
    """
    if bits is not None:
        return _fewbit("silu", input, (), bits, inplace)
    return apply("silu", input, (), inplace, None)


def mish(input: torch.Tensor, inplace: bool = False, *, bits: int | None = None) -> torch.Tensor:
    r"""Mish, :math:`x \tanh(\mathrm{softplus}(x))`.

    ``bits=1..4``: few-bit backward (:mod:`relukit.torch._fewbit`); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.mish(torch.tensor([0.0]))
    tensor([0.])
    """
    if bits is not None:
        return _fewbit("mish", input, (), bits, inplace)
    return apply("mish", input, (), inplace, None)


def softplus(
    input: torch.Tensor, beta: float = 1.0, threshold: float = 20.0, *, bits: int | None = None
) -> torch.Tensor:
    r"""Softplus, :math:`\frac{1}{\beta}\log(1 + e^{\beta x})` (linear above ``threshold``).

    ``bits=1..4``: few-bit backward (:mod:`relukit.torch._fewbit`); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.softplus(torch.tensor([30.0]))
    tensor([30.])
    """
    if bits is not None:
        return _fewbit("softplus", input, (beta, threshold), bits)
    return apply("softplus", input, (beta, threshold), False, None)


def hardswish(
    input: torch.Tensor,
    inplace: bool = False,
    *,
    at_kink: float | None = None,
    bits: int | None = None,
) -> torch.Tensor:
    r"""Hardswish, :math:`x \cdot \mathrm{relu6}(x + 3) / 6`.

    ``bits=1..4``: few-bit backward (:mod:`relukit.torch._fewbit`); ``None``: exact.

    >>> import torch, relukit.torch as rt
    >>> rt.hardswish(torch.tensor([-4.0, 4.0]))
    tensor([-0., 4.])
    """
    if bits is not None:
        if at_kink is not None:
            raise ValueError("relukit.torch.hardswish: at_kink and bits cannot be combined")
        return _fewbit("hardswish", input, (), bits, inplace)
    return apply("hardswish", input, (), inplace, at_kink)


def prelu(
    input: torch.Tensor, weight: torch.Tensor, *, at_kink: float | None = None
) -> torch.Tensor:
    r"""PReLU, :math:`x` if :math:`x > 0` else :math:`w x` with a learnable weight ``w``.

    ``weight`` has one element, or one per channel (dimension 1 of ``input``).

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
    if torch.is_grad_enabled() and (input.requires_grad or weight.requires_grad):
        return PReLUFunction.apply(input, weight, at_kink)
    return aten._prelu_kernel(input, weight.reshape(_prelu_weight_shape(input, weight)))
