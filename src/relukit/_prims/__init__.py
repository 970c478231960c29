"""The math namespaces: the primitives every activation's formula is written against.

Each activation's math is written once, in its block of :mod:`relukit.activations`, as
plain Python functions whose first argument is a namespace ``m``:

.. code-block:: python

    def value(m, x, alpha):
        pos = x > 0
        return m.where(pos, x, alpha * m.expm1_neg(m.where(pos, -1.0, x)))

Every backend runs that same function with its own ``m``: NumPy and the Array API
libraries, torch included (:mod:`relukit._prims.numpy`, an object per array library and
working dtype), Python numbers of the exact entries (the same module, ``MATH``; other
Python numbers run the one-element kernel), the numba kernels (the modules
:mod:`relukit._prims.numba64` and :mod:`relukit._prims.numba32`, whose functions are
inlined into the loops) and Triton (:mod:`relukit._prims.triton64` and
:mod:`relukit._prims.triton32`). Precision lives in the primitives, written once per
backend; a formula only says what to compute.

What every namespace provides
-----------------------------
``where(c, a, b)``
    ``a`` where ``c`` holds, else ``b``. Both are computed everywhere, so the branch not
    taken must stay finite (feed it a harmless input: ``where(pos, -1.0, x)``), which
    also keeps autograd away from ``0 * inf``.
``clip(x, lo, hi)``
    ``x`` limited to ``[lo, hi]`` by selections (NaN passes; no 0.5 gradient at the ends).
``pos(x)``
    the positive part ``max(0, x)``: ``+0.0`` for ``x <= 0`` (``-0.0`` included), NaN
    passes, and autograd through it gives 0 at 0 (the constant branch). The numba
    namespaces form it as ``(0 if x < 0 else x) + 0.0``: a vector ``max`` and an add
    (which makes ``-0.0`` a ``+0.0``) in place of a comparison into a mask and a masked
    move, and relu's loops 1.3x faster in place on arrays in cache. In a formula
    computed in float64 from a float32 input a selection is cheaper: LLVM makes it in
    float32 and widens once, where pos's addition is a float64 one.
``isinf(x)``, ``sqrt(x)``, ``div(a, b)``
``exp(x)``, ``expm1(x)``, ``expm1_neg(x)`` (x <= 0), ``times_exp(a, x)`` (``a exp(x)``, x <= 0)
``log1p01(e)``
    ``log(1 + e)`` for 0 <= e <= 1.
``sigmoid(z)``, ``sigmoid2(z)``
    ``sigmoid(z)`` and the pair ``(sigmoid(z), sigmoid(-z))``, each to full relative
    accuracy (neither is formed as ``1 - `` the other where that would cancel).
``erfcx(a)``
    ``exp(a**2) erfc(a)`` for a >= 0.
``square_err(x, p)``, ``prod_err(a, b, p)``
    the rounding error ``x*x - p`` of ``p = fl(x*x)`` (``a*b - p``), exactly.
``fma(a, b, c)``
    ``a*b + c`` rounded once (the NumPy and Python namespaces, which have no fused
    multiply-add: within an ulp of that, from the exact product's error); kernels that
    may fuse a product into a sum (``contract``) cannot change it.
``tiny_half(x, r)``
    ``r``, except where ``x / 2`` is a subnormal tie in the result's precision: there
    ``x / 2`` rounded up, as the true value of ``x/2 + c x**2`` (``c > 0``: gelu, silu,
    hardswish next to 0) is.
``LEAN``
    True only in the lean float32 namespace (float32 results computed in float64):
    a formula may then take a cheaper form that is exact only for a float32 input.
    That namespace alone also has ``exp_near`` and ``sigmoid2_near`` (``exp`` and
    ``sigmoid2`` without their clips, for bounded arguments) and ``tiny_nudge``
    (``tiny_half``'s rounding for values ``x h`` with ``h`` next to 1/2, from a nudged
    ``x``): its loops are bound by their vector operations, so each one saved counts.
``EXP_TAIL``
    Below it ``exp(x)`` is subnormal in the working precision; formulas switch to
    ``exp(x/2)**2`` there (-inf in the lean namespace: never needed).

Two rules keep a formula compilable by every backend: it carries no type annotations
(Triton reads them), and it writes its constants inline in the expressions that use
them (Triton makes a float assigned to a name, or passed to a jitted function, a
float32: the Triton namespace's primitives that take constants are builtins for that
reason).

Data that formulas use (a polynomial, a Taylor patch at a derivative's zero) are
:class:`Poly` and :class:`Patch` objects: called with ``m`` like a formula, and turned
into straight-line code for the compiled backends by :func:`lower`. NaN inputs need no
care in a formula: every backend returns the input's NaN itself (see
:mod:`relukit.activations`).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from relukit._prims.tables import ROOTS

__all__ = ["NAMES", "Patch", "Poly", "formula", "is_formula", "lower", "used_names"]

#: the functions every namespace provides (``tests/test_prims.py`` checks each backend)
NAMES = (
    "where",
    "clip",
    "pos",
    "isinf",
    "sqrt",
    "div",
    "exp",
    "expm1",
    "expm1_neg",
    "times_exp",
    "log1p01",
    "sigmoid",
    "sigmoid2",
    "erfcx",
    "square_err",
    "prod_err",
    "fma",
    "tiny_half",
)

_MARK = "__relukit_formula__"


def formula(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``fn`` (``fn(m, ...)``) as part of a formula: :func:`lower` compiles it
    together with the formulas that call it, for each compiled backend."""
    setattr(fn, _MARK, True)
    return fn


def is_formula(obj: Any) -> TypeGuard[Callable[..., Any]]:
    return isinstance(obj, types.FunctionType) and getattr(obj, _MARK, False)


def used_names(fn: Callable[..., Any]) -> set[str]:
    """The global and attribute names used by the formula ``fn`` and by every formula it
    calls (``"tiny_nudge"`` where it uses ``m.tiny_nudge``)."""
    seen: set[Any] = set()
    out: set[str] = set()
    todo = [fn]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        out.update(f.__code__.co_names)
        todo.extend(v for n in f.__code__.co_names if is_formula(v := f.__globals__.get(n)))
    return out


def backend(m: Any) -> str:
    """``"numba"``, ``"triton"`` (compiled: formulas are lowered) or ``"python"``."""
    return getattr(m, "BACKEND", "python")


_LOWERED: dict[tuple[Any, Any], Any] = {}


def lower(fn: Callable[..., Any], m: Any) -> Any:
    """``fn`` compiled for the namespace ``m`` (``fn`` itself for Python namespaces).

    The function's own code with new globals: every formula it calls (:func:`formula`)
    lowered for ``m`` too, every :class:`Poly`/:class:`Patch` turned into code, then
    compiled with ``m.JIT`` (numba's ``njit`` inlined, or ``triton.jit``). The compilers
    resolve globals when they compile, so the result is the formula as if it had been
    written for ``m``: nothing is re-executed from source text.
    """
    if backend(m) == "python":
        return fn
    key = (fn, m)
    hit = _LOWERED.get(key)
    if hit is not None:
        return hit
    code = fn.__code__
    g = dict(fn.__globals__)
    for name in code.co_names:
        v = g.get(name)
        if is_formula(v):
            g[name] = lower(v, m)
        elif isinstance(v, (Poly, Patch)):
            g[name] = v.lower(m)
    prepare = getattr(m, "prepare_globals", None)
    if prepare is not None:  # (Triton: constants as constexpr, ``tl`` visible)
        g = prepare(g, code.co_names)
    new = types.FunctionType(code, g, fn.__name__, fn.__defaults__, fn.__closure__)
    # one name per namespace (Triton keys a kernel's functions by name and types)
    new.__qualname__ = f"{fn.__qualname__}__{getattr(m, '__name__', 'm').rpartition('.')[2]}"
    new.__module__ = fn.__module__
    new.__doc__ = fn.__doc__
    out = _LOWERED[key] = m.JIT(new)
    return out


# ---------------------------------------------------------------------------
# data in formulas
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Poly:
    """``sum(c_k u**k for k = lo..n)`` by Horner's rule; ``coeffs`` lowest degree first.

    ``lo`` is 0 (a constant term) or 1 (``u p(u)``: no constant, the form of a Taylor
    patch at a zero). Called as ``poly(m, u)``.
    """

    coeffs: tuple[float, ...]
    lo: int = 0

    def __call__(self, m: Any, u: Any) -> Any:
        p: Any = self.coeffs[-1]
        for c in reversed(self.coeffs[:-1]):
            p = p * u + c
        return p * u if self.lo else p

    def lower(self, m: Any) -> Any:
        """Straight-line code for a compiled namespace (``m.JIT``): a chain of inlined
        one-step functions, each with its coefficient as a constant."""
        hit = _LOWERED.get((self, m))
        if hit is not None:
            return hit
        own = getattr(m, "lower_poly", None)
        if own is not None:  # (Triton compiles no closures: the namespace's own way)
            out = _LOWERED[(self, m)] = own(self.coeffs, self.lo)
            return out
        jit = m.JIT
        step: Any = jit(_const(self.coeffs[-1]))
        for c in reversed(self.coeffs[:-1]):
            step = jit(_horner_step(step, c))
        out = _LOWERED[(self, m)] = jit(_times_u(step) if self.lo else _pass_m(step))
        return out


def _const(c: float) -> Callable[..., Any]:
    def const(u):  # pragma: no cover - compiled
        return c

    return const


def _horner_step(inner: Any, c: float) -> Callable[..., Any]:
    def step(u):  # pragma: no cover - compiled
        return inner(u) * u + c

    return step


def _times_u(inner: Any) -> Callable[..., Any]:
    def poly(m, u):  # pragma: no cover - compiled
        return inner(u) * u

    return poly


def _pass_m(inner: Any) -> Callable[..., Any]:
    def poly(m, u):  # pragma: no cover - compiled
        return inner(u)

    return poly


@dataclass(frozen=True)
class Patch:
    """Next to a zero ``r`` of a derivative, its Taylor polynomial in place of ``d``.

    Sums like ``Phi(x) + x phi(x)`` cancel next to their zero whatever the formula;
    within ``width`` of ``r`` (formed exactly from ``r = r_hi + r_lo``) the derivative
    is ``u P(u)``, ``u = x - r``. The coefficients are those of
    :data:`relukit._prims.tables.ROOTS`; the lean namespace uses the first
    ``lean_terms`` of them on ``lean_width`` (there the direct formula, in float64, is
    accurate to 1e-14 from that distance on); ``lean_terms`` 0 where the entry's lean form
    needs no patch (gelu's fits its zero into its polynomial): the lean namespace then
    gets the full patch, which only the formula's other branch names. Called as
    ``patch(m, x, d)``.
    """

    key: str
    width: float
    lean_terms: int = 0
    lean_width: float = 0.0

    def _parts(self, m: Any, f32: bool) -> tuple[float, float, float, Poly]:
        r64, r32, coeffs = ROOTS[self.key]
        if getattr(m, "LEAN", False) and self.lean_terms:
            return (*r64, self.lean_width, Poly(coeffs[: self.lean_terms], lo=1))
        hi, lo = r32 if f32 else r64
        return hi, lo, self.width, Poly(coeffs, lo=1)

    def __call__(self, m: Any, x: Any, d: Any) -> Any:
        hi, lo, width, poly = self._parts(m, getattr(m, "F32", False))
        u = (x - hi) - lo  # x - hi is exact next to the zero (Sterbenz)
        near = (u < width) & (u > -width)
        patched = getattr(m, "patch_where", None)
        if patched is not None:  # NumPy: the polynomial on the few points that need it
            return patched(near, lambda v: poly(m, v), u, d)
        return m.where(near, poly(m, m.clip(u, -width, width)), d)

    def lower(self, m: Any) -> Any:
        hit = _LOWERED.get((self, m))
        if hit is not None:
            return hit
        hi, lo, width, poly = self._parts(m, getattr(m, "F32", False))
        p = poly.lower(m)
        own = getattr(m, "lower_patch", None)
        code = own(hi, lo, width, p) if own is not None else m.JIT(_patch_code(hi, lo, width, p))
        out = _LOWERED[(self, m)] = code
        return out


def _patch_code(hi: float, lo: float, width: float, p: Any) -> Callable[..., Any]:
    def patch(m, x, d):  # pragma: no cover - compiled
        u = (x - hi) - lo
        return m.where((u < width) & (u > -width), p(m, u), d)

    return patch


def check_namespace(m: Any, names: Sequence[str] = NAMES) -> list[str]:
    """The primitives that ``m`` lacks (for the tests)."""
    return [n for n in (*names, "LEAN", "EXP_TAIL") if not hasattr(m, n)]
