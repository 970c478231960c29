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

import itertools
import math
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import triton
import triton.language as tl

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


def JIT(fn: Callable[..., Any]) -> Any:  # noqa: N802  (the namespace's compiler)
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


@triton.jit
def where(c, a, b):
    return tl.where(c, a, b)


@triton.jit
def clip(x, lo, hi):
    return tl.where(x > hi, hi, tl.where(x < lo, lo, x))


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
def times_exp(a, x):
    return a * tl.exp(x)


@triton.jit
def log1p01(e):
    # log(1 + e) = log(w) - ((w - 1) - e) / w with w = 1 + e rounded: the rounding of
    # 1 + e is taken back to first order (accurate to about 1 ulp)
    w = 1.0 + e
    return tl.log(w) - ((w - 1.0) - e) / w


@triton.jit
def square_err(x, p):
    return tl.fma(x, x, -p)


@triton.jit
def prod_err(a, b, p):
    return tl.fma(a, b, -p)


@triton.jit
def tiny_half(x, r):
    h = 0.5 * x
    return tl.where(h + h != x, 0.5 * (x + _TINY), r)


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
