"""The Triton primitives at float64 accuracy: the namespace ``m`` of the CUDA kernels for
float32 and float64 tensors (float32 is computed in float64 and rounded once, as on the
CPU, so a GPU result is within 1 ulp of the CPU's: both are rounded from a float64 value
within a few float64 ulp of the truth).

The functions use Triton's own operations (``tl.exp``, ``tl.log``, ``tl.sqrt``,
``tl.fma``) and the formulas of :mod:`relukit._prims.shared` (``erfcx``, ``expm1``,
``sigmoid2``), so that the same kernels run compiled on a GPU and under
``TRITON_INTERPRET=1`` on the CPU (the interpreter has no ``libdevice``). Formulas are
lowered for this module (:func:`relukit._prims.lower`) with their constants made
``tl.constexpr`` and with no closures (Triton compiles neither global floats nor
closures): :func:`prepare_globals`, :func:`lower_poly`, :func:`lower_patch`.

Imported only when a CUDA kernel is made (or by the tests).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import triton
import triton.language as tl
from triton.language.core import builtin

from relukit._prims import lower as _lower
from relukit._prims import shared as _shared

BACKEND = "triton"
#: the results are rounded from float64: no lean forms
LEAN = False
#: the working precision is float64
F32 = False
#: below it exp(x) is subnormal in float64
EXP_TAIL = -700.0

_INF = tl.constexpr(math.inf)
_TINY = tl.constexpr(5e-324)  # the smallest float64 subnormal
_SPLIT_VALUE = 134217729.0  # 2**27 + 1: Dekker's splitter for float64


def JIT(fn: Callable[..., Any]) -> Any:
    """Compile a lowered formula for Triton (``triton.jit``)."""
    return triton.jit(fn)


def prepare_globals(g: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """A formula's globals as Triton accepts them: its number and tuple constants as
    ``tl.constexpr`` and ``tl`` itself visible (the interpreter looks for it)."""
    out = dict(g)
    for name in names:
        v = out.get(name)
        if isinstance(v, (bool, int, float, tuple)) and not isinstance(v, tl.constexpr):
            out[name] = tl.constexpr(v)
    out["tl"] = tl
    return out


# ---------------------------------------------------------------------------
# primitives that take the formulas' constants: builtins, not jit functions
# ---------------------------------------------------------------------------
#
# A Python float passed to a ``triton.jit`` function becomes a float32 value inside it
# (Triton's rule for scalar arguments), so ``m.where(pos, 1.0507009873554805, r)`` or
# ``m.prod_err(v, c2, w)`` would lose their constants' float64 bits. Builtins (as
# ``tl.where`` itself) receive the constant as it is and give it the precision of the
# operation. Under ``TRITON_INTERPRET=1`` they are plain functions that call the
# interpreter's semantics.


def _prim(fn: Callable[..., Any]) -> Any:
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        from triton.runtime.interpreter import interpreter_semantic

        @functools.wraps(fn)
        def interpreted(*args: Any, **kwargs: Any) -> Any:
            kwargs["_semantic"] = interpreter_semantic
            return fn(*args, **kwargs)

        return interpreted
    return builtin(fn)


def _val(v: Any) -> Any:
    return v.value if isinstance(v, tl.constexpr) else v


@_prim
def where(c, a, b, _semantic=None):
    return tl.where(c, _val(a), _val(b), _semantic=_semantic)


@_prim
def clip(x, lo, hi, _semantic=None):
    low = tl.where(x.__lt__(_val(lo), _semantic=_semantic), _val(lo), x, _semantic=_semantic)
    return tl.where(x.__gt__(_val(hi), _semantic=_semantic), _val(hi), low, _semantic=_semantic)


@_prim
def pos(x, _semantic=None):
    # (x <= 0 gives the constant: +0.0 at -0.0; NaN passes)
    return tl.where(x.__le__(0.0, _semantic=_semantic), 0.0, x, _semantic=_semantic)


@_prim
def times_exp(a, x, _semantic=None):
    return tl.core.mul(tl.exp(x, _semantic=_semantic), _val(a), _semantic=_semantic)


def _halves(v: Any, s: Any) -> tuple[Any, Any]:
    # Dekker's splitting, v = hi + lo (each half of the bits): a Python number is split
    # in Python, exactly; a tensor with the semantic's operations (no fused multiply-add:
    # the interpreter has none, and a GPU's contractions keep these sums exact)
    v = _val(v)
    if isinstance(v, (int, float)):
        t = v * _SPLIT_VALUE
        hi = t - (t - v)
        return hi, v - hi
    t = tl.core.mul(v, _SPLIT_VALUE, _semantic=s)
    hi = tl.core.sub(t, tl.core.sub(t, v, _semantic=s), _semantic=s)
    return hi, tl.core.sub(v, hi, _semantic=s)


@_prim
def prod_err(a, b, p, _semantic=None):
    s = _semantic
    ah, al = _halves(a, s)
    bh, bl = _halves(b, s)
    mul, add, sub = tl.core.mul, tl.core.add, tl.core.sub
    e = sub(mul(ah, bh, _semantic=s), p, _semantic=s)
    e = add(e, mul(ah, bl, _semantic=s), _semantic=s)
    e = add(e, mul(al, bh, _semantic=s), _semantic=s)
    return add(e, mul(al, bl, _semantic=s), _semantic=s)


@_prim
def fma(a, b, c, _semantic=None):
    return tl.fma(_val(a), _val(b), _val(c), _semantic=_semantic)


@_prim
def square_err(x, p, _semantic=None):
    return prod_err.__wrapped__(x, x, p, _semantic=_semantic)


@triton.jit
def isinf(x):
    return (x == _INF) | (x == -_INF)


@triton.jit
def sqrt(x):
    return tl.sqrt(x)


@triton.jit
def div(a, b):
    return a / b


@triton.jit
def exp(x):
    return tl.exp(x)


@triton.jit
def log1p01(e):
    # log(1 + e) = log(w) - ((w - 1) - e) / w with w = 1 + e rounded: the rounding of
    # 1 + e is taken back to first order (accurate to about 1 ulp)
    w = 1.0 + e
    return tl.log(w) - ((w - 1.0) - e) / w


@triton.jit
def tiny_half(x, r):
    h = 0.5 * x
    up = 0.5 * (x + _TINY)
    up = tl.where(up == 0.0, h, up)  # -5e-324: -0.0 (the true value is negative), not +0.0
    return tl.where(h + h != x, up, r)


# ---------------------------------------------------------------------------
# polynomials and patches: a chain of functions whose constants are globals
# ---------------------------------------------------------------------------

_C: Any = None
_INNER: Any = None
_HI: Any = None
_LO: Any = None
_W: Any = None
_P: Any = None


def _t_const(u):  # pragma: no cover - compiled
    return u * 0.0 + _C


def _t_step(u):  # pragma: no cover - compiled
    return _INNER(u) * u + _C


def _t_poly0(m, u):  # pragma: no cover - compiled
    return _INNER(u)


def _t_poly1(m, u):  # pragma: no cover - compiled
    return _INNER(u) * u


def _t_patch(m, x, d):  # pragma: no cover - compiled
    u = (x - _HI) - _LO
    near = (u < _W) & (u > -_W)
    return tl.where(near, _P(m, tl.where(near, u, 0.0)), d)


_made = itertools.count()


def _rebound(template: Callable[..., Any], **consts: Any) -> Any:
    # each function its own name: Triton keys the functions of a kernel by name and types
    # (the name stays the source's: the interpreter finds the function by it)
    g = {**template.__globals__, **consts}
    fn = types.FunctionType(template.__code__, g, template.__name__)
    fn.__qualname__ = f"{template.__name__}_{next(_made)}"
    return triton.jit(fn)


def lower_poly(coeffs: tuple[float, ...], lo: int) -> Any:
    """Horner's rule for ``coeffs`` (lowest degree first): one jitted step per term."""
    f = _rebound(_t_const, _C=tl.constexpr(coeffs[-1]))
    for c in reversed(coeffs[:-1]):
        f = _rebound(_t_step, _C=tl.constexpr(c), _INNER=f)
    return _rebound(_t_poly1 if lo else _t_poly0, _INNER=f)


def lower_patch(hi: float, lo: float, width: float, poly: Any) -> Any:
    """The Taylor patch at a derivative's zero ``hi + lo`` on ``width``."""
    return _rebound(
        _t_patch,
        _HI=tl.constexpr(hi),
        _LO=tl.constexpr(lo),
        _W=tl.constexpr(width),
        _P=poly,
    )


# the shared formulas, lowered for this namespace (after lower_poly: they use it)
_THIS = sys.modules[__name__]
_EXPM1 = _lower(_shared.expm1, _THIS)
_SIGMOID2 = _lower(_shared.sigmoid2, _THIS)
_ERFCX = _lower(_shared.erfcx, _THIS)


@triton.jit
def expm1(x):
    return _EXPM1(_THIS, x)


@triton.jit
def expm1_neg(x):
    return _EXPM1(_THIS, x)


@triton.jit
def sigmoid2(z):
    return _SIGMOID2(_THIS, z)


@triton.jit
def sigmoid(z):
    s, t = _SIGMOID2(_THIS, z)
    return s


@triton.jit
def erfcx(a):
    return _ERFCX(_THIS, a)
