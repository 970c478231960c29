"""The namespaces of the array libraries and of Python floats.

* :data:`NP`: NumPy, float64 working precision (relukit widens float16 and float32
  NumPy arrays first). Runs the formulas on NumPy arrays when the compiled kernels are
  not available, and for the few calls they do not cover.
* :func:`namespace`: any Array API namespace (PyTorch, JAX, CuPy, Dask through
  ``array-api-compat``) in a given working precision (float32 or float64), and for
  float64 the precision its results are rounded to (``to32``: float32 arrays on the
  CPU are computed in float64).
* :data:`MATH`: Python floats, through :mod:`math` (the piecewise-linear entries'
  scalar path: their formulas are exact, so Python gives the kernels' bits).

Which library an ``xp`` is, is asked of ``array-api-compat``'s ``is_*_namespace``
helpers (:func:`kind`), never read from module names.

>>> import numpy as np
>>> from relukit._prims.numpy import MATH, NP, kind
>>> kind(np), kind(MATH)
('numpy', 'math')
>>> float(NP.sigmoid(np.float64(0.0))), MATH.expm1_neg(-0.0)
(0.5, -0.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from relukit._prims import shared

__all__ = ["MATH", "NP", "Kind", "astype", "kind", "namespace"]

#: the library behind a namespace, as far as relukit needs to know
Kind = Literal["math", "numpy", "dask", "torch", "jax", "cupy", "other"]

_SPLIT = {False: 134217729.0, True: 4097.0}  # 2**27 + 1, 2**12 + 1: Dekker's splitters


class ArrayNamespace:
    """The primitives over an array namespace ``xp`` in one working precision.

    Attributes are plain functions of arrays (and Python scalars, which meet the arrays
    as "weak" scalars: the array's dtype is kept).
    """

    BACKEND = "python"
    LEAN = False

    def __init__(self, xp: Any, f32: bool = False, to32: bool = False) -> None:
        self.xp = xp
        self.F32 = f32
        #: float64 working precision whose results are rounded to float32 afterwards:
        #: ``tiny_half`` then breaks float32's subnormal ties (as numba32's does)
        self.TO32 = to32 and not f32
        #: below it exp(x) is subnormal in the working precision
        self.EXP_TAIL = -80.0 if f32 else -700.0
        self._split = _SPLIT[f32]
        self._tiny = 1.401298464324817e-45 if f32 else 5e-324  # the smallest subnormal
        self._kind = kind(xp)
        self._erfcx: Callable[[Any], Any] | None = None
        self._float = xp.float32 if f32 else xp.float64

    def __repr__(self) -> str:
        prec = "float32" if self.F32 else "float64 for float32" if self.TO32 else "float64"
        return f"<relukit namespace {self._kind} {prec}>"

    # -- selections and elementary functions --------------------------------
    def where(self, c: Any, a: Any, b: Any) -> Any:
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            # two Python scalars (leaky_relu' = where(x > 0, 1, slope)): no array to take
            # the dtype from, and torch and JAX would give their default float32
            a = self.xp.asarray(a, dtype=self._float, **self._on(c))
        return self.xp.where(c, a, b)

    def _on(self, c: Any) -> dict[str, Any]:
        """``device=`` of the array ``c`` (for libraries that have devices)."""
        if self._kind in ("numpy", "dask"):
            return {}
        import array_api_compat

        return {"device": array_api_compat.device(c)}

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        where = self.xp.where
        return where(x > hi, hi, where(x < lo, lo, x))

    def pos(self, x: Any) -> Any:
        # (0 in the branch that x <= 0 takes, so that autograd gives 0 at 0)
        return self.where(x <= 0, 0, x)

    def isinf(self, x: Any) -> Any:
        return self.xp.isinf(x)

    def sqrt(self, x: Any) -> Any:
        if isinstance(x, (int, float)):  # a parameter (squareplus' sqrt(b)), not an array
            return math.sqrt(x) if x >= 0 else math.nan
        return self.xp.sqrt(x)

    def div(self, a: Any, b: Any) -> Any:
        return a / b

    def exp(self, x: Any) -> Any:
        return self.xp.exp(x)

    def expm1(self, x: Any) -> Any:
        return self.xp.expm1(x)

    expm1_neg = expm1

    def times_exp(self, a: Any, x: Any) -> Any:
        return a * self.xp.exp(x)

    def log1p01(self, e: Any) -> Any:
        return self.xp.log1p(e)

    def sigmoid2(self, z: Any) -> tuple[Any, Any]:
        return shared.sigmoid2(self, z)

    def sigmoid(self, z: Any) -> Any:
        return shared.sigmoid2(self, z)[0]

    def erfcx(self, a: Any) -> Any:
        if self._erfcx is None:
            self._erfcx = _library_erfcx(self._kind) or (lambda v: shared.erfcx(self, v))
        return self._erfcx(a)

    def tiny_half(self, x: Any, r: Any) -> Any:
        where = self.xp.where
        if self.TO32:
            # float32 results: x / 2 moved up by far less than half a float32 subnormal
            # step and far more than a float64 ulp of it (see numba32)
            tiny = (x != 0) & (x < 2.350988701644575e-38) & (x > -2.350988701644575e-38)
            return where(tiny, 0.5 * x + self.xp.abs(x) * 9.094947017729282e-13, r)
        # x / 2 is a tie only for an odd subnormal x: rounded up there (see numba64);
        # -0.0 for the smallest negative one (its true half is negative)
        h = 0.5 * x
        up = 0.5 * (x + self._tiny)
        return where(h + h != x, where(up == 0, h, up), r)

    # -- exact errors (Dekker's splitting: no fused multiply-add needed) ---------
    def _halves(self, a: Any) -> tuple[Any, Any]:
        t = a * self._split
        hi = t - (t - a)
        return hi, a - hi

    def square_err(self, x: Any, p: Any) -> Any:
        xh, xl = self._halves(x)
        return ((xh * xh - p) + 2 * (xh * xl)) + xl * xl

    def prod_err(self, a: Any, b: Any, p: Any) -> Any:
        ah, al = self._halves(a)
        bh, bl = self._halves(b)
        return ((ah * bh - p) + ah * bl + al * bh) + al * bl

    def fma(self, a: Any, b: Any, c: Any) -> Any:
        # the exact product p + e, then p + c with its exact error (Knuth's two-sum):
        # within an ulp of the one rounding; where that overflows, a * b + c as it is
        p = a * b
        s = p + c
        z = s - p
        r = s + (((p - (s - z)) + (c - z)) + self.prod_err(a, b, p))
        return self.xp.where(r - r == 0, r, s)

    # -- NumPy only: a polynomial patch on the few elements that need it ----------
    def patch_where(self, near: Any, poly: Callable[[Any], Any], u: Any, d: Any) -> Any:
        if self._kind == "numpy" and getattr(d, "ndim", 0) > 0 and d.shape == near.shape:
            d = d.copy() if not d.flags.writeable else d
            d[near] = poly(u[near])
            return d
        w = 1.0  # any value inside the window: the polynomial stays finite elsewhere
        return self.where(near, poly(self.where(near, u, w * 0)), d)


def _library_erfcx(k: Kind) -> Callable[[Any], Any] | None:
    """The library's own ``erfcx``, where it has one that is accurate (else ``None``)."""
    if k == "torch":
        import torch

        return torch.special.erfcx
    if k == "cupy":  # pragma: no cover - CuPy is not installed in CI
        import cupyx.scipy.special

        return cupyx.scipy.special.erfcx
    return None  # NumPy, Dask, JAX: the shared polynomial (no SciPy needed)


class _MathNamespace:
    """The primitives on Python floats, via :mod:`math` (overflow gives inf, not an error)."""

    BACKEND = "python"
    LEAN = False
    F32 = False
    EXP_TAIL = -700.0
    __name__ = "relukit.math"

    @staticmethod
    def where(c: Any, a: Any, b: Any) -> Any:
        return a if c else b

    @staticmethod
    def clip(x: float, lo: float, hi: float) -> float:
        return hi if x > hi else (lo if x < lo else x)

    @staticmethod
    def pos(x: float) -> float:
        return 0 if x <= 0 else x

    @staticmethod
    def isinf(x: float) -> bool:
        return math.isinf(x)

    @staticmethod
    def sqrt(x: float) -> float:
        return math.sqrt(x) if x >= 0 else math.nan

    @staticmethod
    def div(a: float, b: float) -> float:
        try:
            return a / b
        except ZeroDivisionError:
            return (
                math.nan
                if a == 0 or a != a
                else math.copysign(math.inf, a) * (math.copysign(1.0, b))
            )

    @staticmethod
    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf

    @staticmethod
    def expm1(x: float) -> float:
        try:
            return math.expm1(x)
        except OverflowError:
            return math.inf

    expm1_neg = expm1

    @staticmethod
    def times_exp(a: float, x: float) -> float:
        return a * _MathNamespace.exp(x)

    @staticmethod
    def log1p01(e: float) -> float:
        return math.log1p(e)

    def sigmoid2(self, z: float) -> tuple[float, float]:
        return shared.sigmoid2(self, z)

    def sigmoid(self, z: float) -> float:
        return shared.sigmoid2(self, z)[0]

    def erfcx(self, a: float) -> float:
        return shared.erfcx(self, a)

    @staticmethod
    def tiny_half(x: float, r: float) -> float:
        h = 0.5 * x
        if h + h == x:
            return r
        up = 0.5 * (x + 5e-324)
        return up if up != 0 else h  # (-0.0 for -5e-324)

    @staticmethod
    def _halves(a: float) -> tuple[float, float]:
        t = a * 134217729.0
        hi = t - (t - a)
        return hi, a - hi

    def square_err(self, x: float, p: float) -> float:
        xh, xl = self._halves(x)
        return ((xh * xh - p) + 2 * (xh * xl)) + xl * xl

    def prod_err(self, a: float, b: float, p: float) -> float:
        ah, al = self._halves(a)
        bh, bl = self._halves(b)
        return ((ah * bh - p) + ah * bl + al * bh) + al * bl

    def fma(self, a: float, b: float, c: float) -> float:
        p = a * b
        s = p + c
        z = s - p
        r = s + (((p - (s - z)) + (c - z)) + self.prod_err(a, b, p))
        return r if r - r == 0 else s


#: the namespace of the pure-Python scalar forms
MATH = _MathNamespace()

#: NumPy's namespace in float64, made on first use (the module's ``__getattr__``), so
#: that importing this module does not import NumPy
NP: ArrayNamespace

_NAMESPACES: dict[tuple[int, bool, bool], tuple[Any, ArrayNamespace]] = {}


def namespace(xp: Any, f32: bool = False, to32: bool = False) -> ArrayNamespace:
    """The primitives over ``xp`` in float32 (``f32``) or float64 working precision;
    ``to32``: float64 whose results are rounded to float32 afterwards."""
    key = (id(xp), f32, to32 and not f32)
    hit = _NAMESPACES.get(key)
    if hit is not None and hit[0] is xp:
        return hit[1]
    ns = ArrayNamespace(xp, f32, to32)
    _NAMESPACES[key] = (xp, ns)
    return ns


_KINDS: dict[int, tuple[Any, Kind]] = {}


def kind(xp: Any) -> Kind:
    """The library of the namespace ``xp`` (cached per namespace object)."""
    hit = _KINDS.get(id(xp))
    if hit is not None and hit[0] is xp:
        return hit[1]
    if xp is MATH:
        k: Kind = "math"
    else:
        import array_api_compat as c  # on first use: keeps ``import relukit`` light

        checks: tuple[tuple[Any, Kind], ...] = (
            (c.is_numpy_namespace, "numpy"),
            (c.is_dask_namespace, "dask"),
            (c.is_torch_namespace, "torch"),
            (c.is_jax_namespace, "jax"),
            (c.is_cupy_namespace, "cupy"),
        )
        k = next((name for test, name in checks if test(xp)), "other")
    _KINDS[id(xp)] = (xp, k)
    return k


def astype(xp: Any, x: Any, dtype: Any) -> Any:
    """``xp.astype(x, dtype)``, or ``x.astype(dtype)`` where the namespace has no astype."""
    if hasattr(xp, "astype"):
        return xp.astype(x, dtype)
    return x.astype(dtype)  # NumPy < 2.1 has no np.astype


def __getattr__(name: str) -> Any:
    if name == "NP":  # NumPy imported on first use
        import numpy

        ns = globals()["NP"] = namespace(numpy)
        return ns
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
