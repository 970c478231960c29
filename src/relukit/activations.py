"""The definitions: one short block per activation.

Each block gives, once: the formulas (text and LaTeX), the parameters with their
accepted ranges, the kinks with the derivative used there, the value and derivative
written against an array namespace ``xp`` (NumPy or any Array API namespace), and the
pure-Python scalar form used for Python ``int``/``float`` inputs (tested equal to the
array form for every entry).

Conventions every block follows (the semantics table of docs/design.md):

* NaN in gives NaN out, for values and derivatives.
* ±inf gives the mathematical limit, never NaN.
* The value is written so that autograd (torch, JAX) takes the branch whose derivative
  is the declared kink convention: ``where(x > 0, x, slope * x)`` differentiates to
  ``slope`` at 0, where ``maximum(x, 0)`` would give 0.5.
* Constants are Python scalars, so float16/float32 inputs keep their dtype.
"""

from __future__ import annotations

import math
from typing import Any

from relukit.catalogue import Activation, Kink, Param, register

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
    "swish",
]

# ---------------------------------------------------------------------------
# relu
# ---------------------------------------------------------------------------


def _relu(xp: Any, x: Any) -> Any:
    # `x <= 0` is False for NaN, so NaN passes through; -0.0 <= 0 gives +0 (no sign bit).
    return xp.where(x <= 0, 0, x)


def _relu_d(xp: Any, x: Any) -> Any:
    # 1 where x > 0, 0 where x <= 0, and x itself (NaN) where neither holds.
    return xp.where(x > 0, 1, xp.where(x <= 0, 0, x))


def _relu_s(x: Any) -> Any:
    if x <= 0:
        return 0.0 if type(x) is float else 0
    return x  # x > 0, or NaN


def _relu_ds(x: float) -> float:
    return 1.0 if x > 0 else (0.0 if x <= 0 else x)


def _relu_dy(xp: Any, y: Any) -> Any:
    # y > 0 exactly when x > 0, and y = 0 at the kink: the same values as _relu_d.
    return xp.where(y > 0, 1, xp.where(y <= 0, 0, y))


relu = register(
    Activation(
        name="relu",
        summary="Rectified linear unit: the positive part of x.",
        formula="relu(x) = max(0, x)",
        derivative_formula="relu'(x) = 1 if x > 0, 0 if x <= 0",
        latex=r"\mathrm{relu}(x) = \max(0, x)",
        derivative_latex=r"\mathrm{relu}'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}",
        value_fn=_relu,
        derivative_fn=_relu_d,
        scalar_value_fn=_relu_s,
        scalar_derivative_fn=_relu_ds,
        derivative_from_output_fn=_relu_dy,
        kinks=(
            Kink.fixed(
                0,
                left=0,
                right=1,
                default=0,
                note="relu'(0) = 0, as PyTorch, JAX, TF, scikit-learn and NNlib; many "
                "tutorials write 1 (pass at_kink=1)",
            ),
        ),
        aliases=("rectifier", "rectified_linear_unit"),
        integer_preserving=True,
        torch_name="torch.nn.functional.relu",
        jax_name="jax.nn.relu",
        differences="PyTorch and TF return -0.0 for relu(-0.0) and PyTorch's autograd "
        "gives relu'(nan) = 1; relukit returns +0.0 and relu'(nan) = nan.",
        examples="""
>>> import relukit as rk
>>> rk.relu(2), rk.relu(-3.0), rk.relu(float("nan"))
(2, 0.0, nan)
>>> rk.relu([-2.0, -0.0, 0.5, float("inf")])
array([0. , 0. , 0.5, inf])
>>> rk.relu.derivative(0.0), rk.relu.derivative(0.0, at_kink=1.0)
(0.0, 1.0)
""",
    )
)

# ---------------------------------------------------------------------------
# leaky_relu
# ---------------------------------------------------------------------------

_SLOPE = Param(
    "negative_slope", 0.01, "slope for x < 0 (PyTorch's name and default; Keras uses alpha=0.3)"
)


def _leaky(xp: Any, x: Any, negative_slope: float) -> Any:
    if negative_slope == 0:
        # -inf * 0 is NaN, but the limit of 0 * x as x -> -inf is 0: map ±inf to -0.0 first
        # (-0.0 like 0 * any finite x < 0; +inf takes the identity branch anyway).
        neg = xp.where(xp.isinf(x), -0.0, x) * 0
    elif str(getattr(x, "dtype", "")).endswith("float16"):  # float16 and bfloat16
        # the slope rounded to float16 costs 0.88 ulp: multiply in float32 and round once
        # (0.49 ulp, as PyTorch's float32 "opmath"); float32/float64 are left as they are.
        neg = _astype(xp, _astype(xp, x, xp.float32) * negative_slope, x.dtype)
    else:
        neg = x * negative_slope
    # `x > 0` picks the identity branch; the slope branch at 0 makes autograd give the slope.
    return xp.where(x > 0, x, neg)


def _leaky_d(xp: Any, x: Any, negative_slope: float) -> Any:
    return xp.where(x > 0, 1, xp.where(x <= 0, negative_slope, x))


def _leaky_s(x: float, negative_slope: float) -> float:
    if x > 0:
        return x
    if negative_slope == 0 and x == -math.inf:
        return -0.0
    return x * negative_slope


def _leaky_ds(x: float, negative_slope: float) -> float:
    return 1.0 if x > 0 else (negative_slope if x <= 0 else x)


def _leaky_dy(xp: Any, y: Any, negative_slope: float) -> Any:
    # Valid for negative_slope >= 0 only (then y > 0 exactly when x > 0); a negative
    # slope maps x < 0 to y > 0, so the output cannot tell the branch: raise.
    if negative_slope < 0:
        raise ValueError(
            "leaky_relu: the derivative from the output needs negative_slope >= 0, got "
            f"{negative_slope!r}"
        )
    return xp.where(y > 0, 1, xp.where(y <= 0, negative_slope, y))


leaky_relu = register(
    Activation(
        name="leaky_relu",
        summary="Leaky rectified linear unit: x for x > 0, negative_slope * x otherwise.",
        formula="leaky_relu(x) = x if x > 0, negative_slope * x if x <= 0",
        derivative_formula="leaky_relu'(x) = 1 if x > 0, negative_slope if x <= 0",
        latex=r"\mathrm{leaky\_relu}(x) = \begin{cases} x & x > 0 \\ "
        r"\text{negative\_slope} \cdot x & x \le 0 \end{cases}",
        derivative_latex=r"\mathrm{leaky\_relu}'(x) = \begin{cases} 1 & x > 0 \\ "
        r"\text{negative\_slope} & x \le 0 \end{cases}",
        value_fn=_leaky,
        derivative_fn=_leaky_d,
        scalar_value_fn=_leaky_s,
        scalar_derivative_fn=_leaky_ds,
        derivative_from_output_fn=_leaky_dy,
        params_list=(_SLOPE,),
        kinks=(
            Kink(
                "0",
                location=lambda p: 0.0,
                left=lambda p: p["negative_slope"],
                right=lambda p: 1.0,
                default=lambda p: p["negative_slope"],
                note="leaky_relu'(0) = negative_slope, as PyTorch, TF and NNlib; JAX gives 1",
            ),
        ),
        aliases=("leaky", "lrelu", "leakyrelu"),
        torch_name="torch.nn.functional.leaky_relu",
        jax_name="jax.nn.leaky_relu",
        differences="JAX uses leaky_relu'(0) = 1. PyTorch and tf.nn return NaN for "
        "leaky_relu(-inf) with negative_slope=0; relukit returns the limit -0.0.",
        examples="""
>>> import relukit as rk
>>> rk.leaky_relu(-10.0), rk.leaky_relu(-10.0, negative_slope=0.1)
(-0.1, -1.0)
>>> rk.leaky_relu(float("-inf"), 0.0)
-0.0
>>> rk.leaky_relu.derivative([-1.0, 0.0, 2.0])
array([0.01, 0.01, 1.  ])
""",
    )
)

# ---------------------------------------------------------------------------
# shared helpers for the rest of the family
# ---------------------------------------------------------------------------
#
# * ``_widen``: float16/bfloat16 are computed in float32 and rounded back (PyTorch does
#   the same); on the CPU (NumPy, Dask, torch CPU tensors) float32 is computed in float64
#   too, which makes the result correctly rounded in practice at a cost the CPU can
#   afford. On GPUs (torch CUDA, CuPy) and in JAX float32 stays float32 (GPU float64 can
#   be 1/64 speed; JAX has no float64 unless x64 is enabled); the formulas below are the
#   stable ones, so the error there is a few ulp (more next to a zero of a derivative).
# * ``_MATH``: a tiny namespace over ``math`` so the pure-Python scalar forms are the
#   SAME formulas as the array forms (no NumPy), and cannot drift from them.
# * ``where`` twice ("double where"): the branch not taken is fed a harmless input, so
#   autograd never sees ``0 * inf = nan`` from it.


class _MathNamespace:
    """The few ``xp`` functions the formulas use, on Python floats, via :mod:`math`."""

    __name__ = "relukit.math"
    inf = math.inf
    nan = math.nan

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

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

    @staticmethod
    def log1p(x: float) -> float:
        return math.log1p(x)

    @staticmethod
    def erfc(x: float) -> float:
        return math.erfc(x)

    @staticmethod
    def isnan(x: float) -> bool:
        return math.isnan(x)

    @staticmethod
    def isinf(x: float) -> bool:
        return math.isinf(x)


_MATH = _MathNamespace()


def _scalar(fn: Any) -> Any:
    """The pure-Python form of an ``xp`` formula: ``float`` in, ``float`` out."""

    def scalar_fn(x: float, **params: Any) -> float:
        return float(fn(_MATH, float(x), **params))

    scalar_fn.__name__ = fn.__name__ + "_s"
    scalar_fn.__doc__ = f"``{fn.__name__}`` on a Python float, with :mod:`math`."
    return scalar_fn


def _ns(xp: Any) -> str:
    """``"numpy"``, ``"torch"``, ``"jax"``, ``"dask"``, ``"cupy"``, ``"math"`` or ``""``."""
    name = getattr(xp, "__name__", "")
    for key in ("torch", "jax", "dask", "cupy", "math", "numpy"):  # "jax.numpy" is JAX
        if key in name.split("."):
            return key
    return ""


def _astype(xp: Any, x: Any, dtype: Any) -> Any:
    if hasattr(xp, "astype"):
        return xp.astype(x, dtype)
    return x.astype(dtype)  # NumPy < 2.1 has no np.astype


def _widen(xp: Any, x: Any) -> tuple[Any, Any]:
    """Return ``(x in the working dtype, dtype to round the result back to or None)``."""
    if xp is _MATH:
        return x, None
    dt = x.dtype
    if dt == xp.float64:
        return x, None
    kind = _ns(xp)
    if kind in ("numpy", "dask") or (kind == "torch" and x.device.type == "cpu"):
        return _astype(xp, x, xp.float64), dt
    if dt == xp.float32:
        return x, None
    return _astype(xp, x, xp.float32), dt  # float16, bfloat16


def _widened(fn: Any) -> Any:
    """Run ``fn(xp, x, **params)`` in the working dtype and round back (see ``_widen``)."""

    def wrapped(xp: Any, x: Any, **params: Any) -> Any:
        xw, dt = _widen(xp, x)
        r = fn(xp, xw, **params)
        return r if dt is None else _astype(xp, r, dt)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapped


def _clip(xp: Any, x: Any, lo: float, hi: float) -> Any:
    """Clamp with ``where`` (NaN passes, autograd sees 0 outside, no 0.5 at the ends)."""
    return xp.where(x > hi, hi, xp.where(x < lo, lo, x))


def _sigmoid2(xp: Any, z: Any) -> tuple[Any, Any]:
    """``(sigmoid(z), sigmoid(-z))``, both to full relative accuracy, never overflowing."""
    pos = z >= 0
    e = xp.exp(xp.where(pos, -z, z))  # exp(-|z|) <= 1; `where`, not abs: abs'(0) = 0
    other = e / (1 + e)  # sigmoid(-|z|), in (0, 1/2]
    one = 1 - other  # sigmoid(|z|): closer to correctly rounded than 1 / (1 + e)
    return xp.where(pos, one, other), xp.where(pos, other, one)


def _erfc(xp: Any, z: Any) -> Any:
    """``erfc`` with the library's own function (``erfc`` is not in the Array API)."""
    kind = _ns(xp)
    if kind == "math":
        return math.erfc(z)
    if kind == "torch":
        import torch

        return torch.special.erfc(z)
    if kind == "jax":
        import jax

        return jax.scipy.special.erfc(z)
    if kind == "cupy":  # pragma: no cover - CuPy is not installed in CI
        import cupyx.scipy.special

        return cupyx.scipy.special.erfc(z)
    if kind == "numpy":
        return _numpy_erfc(z)
    if kind == "dask":
        return z.map_blocks(_numpy_erfc, dtype=z.dtype)
    if hasattr(xp, "erfc"):
        return xp.erfc(z)
    raise TypeError(
        f"gelu(approximate='none') needs erfc, which the array namespace {xp.__name__} "
        "does not provide (erfc is not part of the Array API standard); use "
        "approximate='tanh' or convert to NumPy/PyTorch/JAX"
    )


_ERFCX_FROM = 2.0


def _erfcx(xp: Any, z: Any) -> Any:
    """``erfcx(z) = exp(z^2) erfc(z)`` with the library's own function, or ``None``."""
    kind = _ns(xp)
    if kind == "math":
        return None
    if kind == "torch":
        import torch

        return torch.special.erfcx(z)
    if kind == "cupy":  # pragma: no cover - CuPy is not installed in CI
        import cupyx.scipy.special

        return cupyx.scipy.special.erfcx(z)
    if kind in ("numpy", "dask"):
        try:
            from scipy.special import erfcx
        except ImportError:  # pragma: no cover
            return None
        return z.map_blocks(erfcx, dtype=z.dtype) if kind == "dask" else erfcx(z)
    return None  # JAX has no erfcx: the erfc form is used


_GELU_FAR = -1.0  # below: erfc(z) = exp(-z^2) erfcx(z), with exp(-z^2) = h * h


def _gelu_far(xp: Any, xc: Any, derivative: bool) -> Any:
    """gelu (or gelu') for x < -1 as ``((A corr) h) h``, or ``None`` without erfcx.

    With z = -x/sqrt 2 (formed exactly as in :func:`_two_cdf`), erfc(z) = exp(-z^2)
    erfcx(z) and phi(x) = exp(-z^2)/sqrt(2 pi): both share exp(-z^2), formed as h * h with
    h = exp(-z^2/2) normal (z^2 in double-double, its low part in ``corr``), so the
    result is rounded once, even when it is subnormal.
    """
    prec = _precision(xp, xc)
    c, rest, split = _SQRT1_2[prec]
    bits = 26 if prec == "float64" else 12
    xf = xp.where(xc < _GELU_FAR, xc, _GELU_FAR)
    p = xf * c
    err = _two_prod_err(xp, xf, p, c, bits, split) + xf * rest  # x/sqrt2 = p + err
    z = -p  # the true argument is z - err
    ex = _erfcx(xp, z)
    if ex is None:
        return None
    pz = z * z
    ez = _two_square_err(xp, z, pz, split)
    corr = 1 + (2 * z * err - ez)  # exp(-(z - err)^2) = exp(-pz) corr
    h = xp.exp(-0.5 * pz)
    a = (0.5 * ex + xf * _INV_SQRT_2PI) if derivative else (0.5 * xf) * ex
    # exp(-pz) directly (one rounding less) unless the result would be subnormal
    return xp.where(pz < 700, (a * corr) * xp.exp(-pz), ((a * corr) * h) * h)


def _numpy_erfc(z: Any) -> Any:
    """``erfc`` of a NumPy array: SciPy's, else ``math.erfc`` element by element (slow).

    SciPy's erfc rounds z^2 inside exp(-z^2) (hundreds of ulp in the float64 tail) and
    flushes to 0 once exp(-z^2) < exp(-709) although erfc(z) is subnormal up to z = 27.2:
    for z > 2 this uses erfc(z) = exp(-z^2) erfcx(z) with z^2 formed exactly instead.
    """
    import numpy as np

    try:
        from scipy.special import erfc, erfcx
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn in CI
        return np.frompyfunc(math.erfc, 1, 1)(z).astype(z.dtype)
    if z.dtype != np.float64:
        return erfc(z)
    with np.errstate(all="ignore"):
        zt = np.where(z > _ERFCX_FROM, z, _ERFCX_FROM)
        p = zt * zt
        e = _two_square_err(np, zt, p, 134217729.0)
        g = np.exp(-p)
        g = g - g * e
        return np.where(z > _ERFCX_FROM, g * erfcx(zt), erfc(z))


# Constants, with their splits for exact products (Dekker): C = C_HI + C_LO exactly, C_HI
# and C_LO having half the significand each; REST = (the true constant) - C.
_SQRT1_2 = {
    "float64": (0.7071067811865476, -4.833646656726457e-17, 134217729.0),
    "float32": (0.7071067690849304, 1.210161710447897e-08, 4097.0),
}
_TWO_OVER_SQRTPI = 1.1283791670955126
_INV_SQRT_2PI = 0.3989422804014327


def _half_split(c: float, bits: int) -> tuple[float, float]:
    m, e = math.frexp(c)
    hi = math.ldexp(math.floor(m * 2**bits), e - bits)
    return hi, c - hi


def _precision(xp: Any, x: Any) -> str:
    if xp is _MATH or x.dtype == xp.float64:
        return "float64"
    return "float32"


def _two_prod_err(xp: Any, x: Any, p: Any, c: float, bits: int, split: float) -> Any:
    """The rounding error ``x * c - p`` of ``p = fl(x * c)``, exactly (Dekker, no FMA)."""
    ch, cl = _half_split(c, bits)
    t = x * split
    xh = t - (t - x)
    xl = x - xh
    return ((xh * ch - p) + xh * cl + xl * ch) + xl * cl


def _two_square_err(xp: Any, x: Any, p: Any, split: float) -> Any:
    """The rounding error ``x * x - p`` of ``p = fl(x * x)``, exactly."""
    t = x * split
    xh = t - (t - x)
    xl = x - xh
    return ((xh * xh - p) + 2 * (xh * xl)) + xl * xl


def _two_cdf(xp: Any, x: Any) -> Any:
    """``2 Phi(x) = erfc(-x / sqrt 2)`` with the rounding of ``x / sqrt 2`` compensated.

    The tail ``erfc(z) ~ exp(-z^2)`` multiplies the relative error of its argument by
    ``2 z^2``; the product ``x * (1/sqrt 2)`` is therefore formed exactly (Dekker) and its
    error fed back through the first Taylor term ``erfc'(z) = -2/sqrt(pi) exp(-z^2)``.
    ``x`` must be clipped to |x| <= 40 (no overflow in the split).
    """
    prec = _precision(xp, x)
    c, rest, split = _SQRT1_2[prec]
    bits = 26 if prec == "float64" else 12
    p = x * c
    err = _two_prod_err(xp, x, p, c, bits, split) + x * rest  # x/sqrt2 = p + err
    z = -p  # erfc's argument, the true one being z - err
    return _erfc(xp, z) + err * (_TWO_OVER_SQRTPI * xp.exp(-(z * z)))


def _phi(xp: Any, x: Any) -> Any:
    """The normal density ``exp(-x^2/2) / sqrt(2 pi)`` with ``x^2`` formed exactly."""
    split = _SQRT1_2[_precision(xp, x)][2]
    p = x * x
    e = _two_square_err(xp, x, p, split)
    g = xp.exp(-0.5 * p)
    return (g - g * (0.5 * e)) * _INV_SQRT_2PI


def _two_prod_err2(xp: Any, a: Any, b: Any, p: Any, split: float) -> Any:
    """The rounding error ``a * b - p`` of ``p = fl(a * b)``, both operands split."""
    ta = a * split
    ah = ta - (ta - a)
    al = a - ah
    tb = b * split
    bh = tb - (tb - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


# Zeros of derivatives (the minimum of silu, mish, gelu): next to one, Phi + x phi and the
# like cancel, and a float64 sum loses digits whatever the formula. Within 0.45 of the
# zero r the derivative is its Taylor polynomial at r instead, in u = x - r formed
# exactly from r = r_hi + r_lo (mpmath, 60 digits; terms below 2^-60 dropped).
#   name: ((r_hi, r_lo) for float64, (r_hi, r_lo) for float32, coefficients of u^1..u^n)
_ROOT_WIDTH = 0.45
_ROOTS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, ...]]] = {
    "silu": (
        (-1.2784645427610737, -1.0946994183093437e-16),
        (-1.2784645557403564, 1.297928265020314e-08),
        (
            0.2178117057198001,
            0.1466487969969469,
            0.018874814223782312,
            -0.015222655223188032,
            -0.006606589138356696,
            0.000126627410081122,
            0.0007985218818397998,
            0.00018570724361186496,
            -4.090534237428612e-05,
            -2.9733542213263917e-05,
            -2.942631888842464e-06,
            2.346029682463866e-06,
            8.599695028268575e-07,
            -3.051244750055421e-08,
            -9.266646309267441e-08,
            -1.8877622907727957e-08,
            4.619379769031606e-09,
            2.9177603026903803e-09,
            2.3648315053103244e-10,
            -2.251366201881081e-10,
            -7.50344609385287e-11,
            3.998547874723996e-12,
            8.04274075537398e-12,
        ),
    ),
    "mish": (
        (-1.1924312145154952, -4.8484829848031044e-17),
        (-1.1924312114715576, -3.043937594950088e-09),
        (
            0.2669479140495345,
            0.20473126408010586,
            0.04190782104360987,
            -0.020271822716684245,
            -0.01582112656173338,
            -0.0033606849270232685,
            0.0010924055409445854,
            0.0009898181021289196,
            0.00025412936386191073,
            -4.1961496031696126e-05,
            -5.582891567360688e-05,
            -1.72992708103044e-05,
            9.427361327376651e-07,
            2.9088199364912223e-06,
            1.071676702702074e-06,
            2.6879417855557728e-08,
            -1.4117255919499382e-07,
            -6.174424363104907e-08,
            -5.460186173028381e-09,
            6.3895954615089855e-09,
            3.3604012383661332e-09,
            4.817646300218697e-10,
            -2.6751871594311224e-10,
            -1.7442209713382678e-10,
        ),
    ),
    "gelu": (
        (-0.7517915246935645, 1.4956759177009883e-17),
        (-0.7517915368080139, 1.211444945855772e-08),
        (
            0.4314939923140469,
            0.388284982990552,
            -0.018199676398671087,
            -0.1140082332972217,
            -0.014771522148244337,
            0.019421679838189067,
            0.004539228379125415,
            -0.002239538068073497,
            -0.0007448268386746817,
            0.00018633974623233514,
            8.615947861116571e-05,
            -1.121438018842664e-05,
            -7.74846130700372e-06,
            4.3284506257392273e-07,
            5.702764979242107e-07,
            -1.6044265494246427e-09,
            -3.5459866461783865e-08,
            -1.396942086426202e-09,
            1.90319840501314e-09,
            1.4506418938779426e-10,
            -8.950037692726255e-11,
            -9.950340824808053e-12,
        ),
    ),
    "gelu_tanh": (
        (-0.7524614220710163, 3.4358218314355225e-17),
        (-0.7524614334106445, 1.133962827076466e-08),
        (
            0.4304000910248585,
            0.38751844613578895,
            -0.015782853521848023,
            -0.11394448308095899,
            -0.016619328343052565,
            0.019682309459833118,
            0.005261059254921913,
            -0.002422731845875097,
            -0.0009274420230205452,
            0.0002639276405268104,
            0.00012425227802639787,
            -3.495617169443609e-05,
            -1.595089687164511e-05,
            5.918611710893999e-06,
            2.433551634429955e-06,
            -9.898647747433656e-07,
            -4.3102482988029016e-07,
            1.4157556987729457e-07,
            7.520740909289922e-08,
            -1.6978217459781e-08,
            -1.196180847972441e-08,
            1.7637802707907529e-09,
            1.744987137846621e-09,
            -1.7088112169517324e-10,
            -2.4338735578334483e-10,
        ),
    ),
}


def _root_patch(xp: Any, x: Any, d: Any, name: str) -> Any:
    """``d``, with the Taylor polynomial at the derivative's zero used next to it."""
    r64, r32, coeffs = _ROOTS[name]
    hi, lo = r64 if _precision(xp, x) == "float64" else r32
    u = (x - hi) - lo  # x - hi is exact near the zero (Sterbenz)
    near = (u < _ROOT_WIDTH) & (u > -_ROOT_WIDTH)
    if _ns(xp) == "numpy" and getattr(d, "ndim", 0) > 0:
        # NumPy: the polynomial on the few points that need it (d is our own temporary)
        d[near] = _horner(u[near], coeffs)
        return d
    uc = _clip(xp, u, -_ROOT_WIDTH, _ROOT_WIDTH)  # no overflow where it is not used
    return xp.where(near, _horner(uc, coeffs), d)


def _horner(u: Any, coeffs: tuple[float, ...]) -> Any:
    p: Any = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        p = p * u + c
    return p * u


def _lim(xp: Any, x: Any, r: Any, at_minus_inf: float, at_plus_inf: float | None = None) -> Any:
    """Put the limits at ±inf (the formulas give ``inf * 0 = nan`` there)."""
    r = xp.where(x == -math.inf, at_minus_inf, r)
    if at_plus_inf is not None:
        r = xp.where(x == math.inf, at_plus_inf, r)
    return r


def _no_params_check(params: dict) -> None:
    return None


# ---------------------------------------------------------------------------
# relu6
# ---------------------------------------------------------------------------


def _relu6(xp: Any, x: Any) -> Any:
    # `<=`/`>=` put 0 and 6 in the constant branches: autograd gives 0 there, as PyTorch.
    return xp.where(x <= 0, 0, xp.where(x >= 6, 6, x))


def _relu6_d(xp: Any, x: Any) -> Any:
    return xp.where((x > 0) & (x < 6), 1, xp.where(x == x, 0, x))  # x == x: False for NaN


def _relu6_s(x: Any) -> Any:
    if x <= 0:
        return 0.0 if type(x) is float else 0
    if x >= 6:
        return 6.0 if type(x) is float else 6
    return x


def _relu6_dy(xp: Any, y: Any) -> Any:
    return xp.where((y > 0) & (y < 6), 1, xp.where(y == y, 0, y))


relu6 = register(
    Activation(
        name="relu6",
        summary="ReLU capped at 6: min(max(0, x), 6).",
        formula="relu6(x) = min(max(0, x), 6)",
        derivative_formula="relu6'(x) = 1 if 0 < x < 6, 0 otherwise",
        latex=r"\mathrm{relu6}(x) = \min(\max(0, x), 6)",
        derivative_latex=r"\mathrm{relu6}'(x) = \begin{cases} 1 & 0 < x < 6 \\ "
        r"0 & \text{otherwise} \end{cases}",
        value_fn=_relu6,
        derivative_fn=_relu6_d,
        scalar_value_fn=_relu6_s,
        scalar_derivative_fn=_scalar(_relu6_d),
        derivative_from_output_fn=_relu6_dy,
        kinks=(
            Kink.fixed(0, left=0, right=1, default=0, note="relu6'(0) = 0, as PyTorch, JAX, TF"),
            Kink.fixed(6, left=1, right=0, default=0, note="relu6'(6) = 0, as PyTorch, JAX, TF"),
        ),
        aliases=("relu_6",),
        integer_preserving=True,
        torch_name="torch.nn.functional.relu6",
        jax_name="jax.nn.relu6",
        differences="JAX turns integer input into float32 (relukit and PyTorch keep int). "
        "PyTorch returns -0.0 for relu6(-0.0) and its autograd gives relu6'(nan) = 1; "
        "relukit returns +0.0 and nan.",
        examples="""
>>> import relukit as rk
>>> rk.relu6([-1.0, 3.0, 7.0]), rk.relu6(8)
(array([0., 3., 6.]), 6)
>>> rk.relu6.derivative([0.0, 3.0, 6.0])
array([0., 1., 0.])
""",
    )
)

# ---------------------------------------------------------------------------
# hardtanh
# ---------------------------------------------------------------------------


def _hardtanh_check(p: dict) -> None:
    if p["max_val"] < p["min_val"]:
        raise ValueError(
            f"hardtanh: max_val must be >= min_val, got min_val={p['min_val']!r} and "
            f"max_val={p['max_val']!r}"
        )


def _hardtanh(xp: Any, x: Any, min_val: float, max_val: float) -> Any:
    return xp.where(x <= min_val, min_val, xp.where(x >= max_val, max_val, x))


def _hardtanh_d(xp: Any, x: Any, min_val: float, max_val: float) -> Any:
    return xp.where((x > min_val) & (x < max_val), 1, xp.where(x == x, 0, x))


def _hardtanh_dy(xp: Any, y: Any, min_val: float, max_val: float) -> Any:
    return xp.where((y > min_val) & (y < max_val), 1, xp.where(y == y, 0, y))


hardtanh = register(
    Activation(
        name="hardtanh",
        summary="Hard tanh: x clipped to [min_val, max_val].",
        formula="hardtanh(x) = min(max(x, min_val), max_val)",
        derivative_formula="hardtanh'(x) = 1 if min_val < x < max_val, 0 otherwise",
        latex=r"\mathrm{hardtanh}(x) = \min(\max(x, \text{min\_val}), \text{max\_val})",
        derivative_latex=r"\mathrm{hardtanh}'(x) = \begin{cases} 1 & \text{min\_val} < x < "
        r"\text{max\_val} \\ 0 & \text{otherwise} \end{cases}",
        value_fn=_hardtanh,
        derivative_fn=_hardtanh_d,
        scalar_value_fn=_scalar(_hardtanh),
        scalar_derivative_fn=_scalar(_hardtanh_d),
        derivative_from_output_fn=_hardtanh_dy,
        check_params=_hardtanh_check,
        params_list=(
            Param("min_val", -1.0, "lower end of the linear region"),
            Param("max_val", 1.0, "upper end of the linear region (>= min_val)"),
        ),
        kinks=(
            Kink(
                "min_val",
                location=lambda p: p["min_val"],
                left=lambda p: 0.0,
                right=lambda p: 1.0,
                default=lambda p: 0.0,
                note="hardtanh'(min_val) = 0, as PyTorch",
            ),
            Kink(
                "max_val",
                location=lambda p: p["max_val"],
                left=lambda p: 1.0,
                right=lambda p: 0.0,
                default=lambda p: 0.0,
                note="hardtanh'(max_val) = 0, as PyTorch",
            ),
        ),
        aliases=("hard_tanh",),
        torch_name="torch.nn.functional.hardtanh",
        jax_name="jax.nn.hard_tanh",
        differences="jax.nn.hard_tanh has no min_val/max_val (always [-1, 1]). PyTorch's "
        "autograd gives hardtanh'(nan) = 1 on some paths; relukit gives nan. "
        "min_val == max_val is accepted (a constant), as in PyTorch.",
        examples="""
>>> import relukit as rk
>>> rk.hardtanh([-2.0, 0.5, 2.0])
array([-1. ,  0.5,  1. ])
>>> rk.hardtanh(5.0, min_val=0.0, max_val=2.0), rk.hardtanh.derivative(1.0)
(2.0, 0.0)
""",
    )
)

# ---------------------------------------------------------------------------
# elu
# ---------------------------------------------------------------------------


@_widened
def _elu(xp: Any, x: Any, alpha: float) -> Any:
    pos = x > 0
    # x = 0 takes the exponential branch: autograd gives alpha there, as PyTorch.
    return xp.where(pos, x, alpha * xp.expm1(xp.where(pos, 0, x)))


@_widened
def _elu_d(xp: Any, x: Any, alpha: float) -> Any:
    pos = x > 0
    return xp.where(pos, 1, alpha * xp.exp(xp.where(pos, 0, x)))


def _elu_dy(xp: Any, y: Any, alpha: float) -> Any:
    # x <= 0: y = alpha*(e^x - 1), so e^x * alpha = y + alpha. Needs alpha > 0 (then y > 0
    # exactly when x > 0). Loses relative accuracy as y -> -alpha (x -> -inf).
    if not alpha > 0:
        raise ValueError(f"elu: the derivative from the output needs alpha > 0, got {alpha!r}")
    return xp.where(y > 0, 1, y + alpha)


elu = register(
    Activation(
        name="elu",
        summary="Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise.",
        formula="elu(x) = x if x > 0, alpha * (exp(x) - 1) if x <= 0",
        derivative_formula="elu'(x) = 1 if x > 0, alpha * exp(x) if x <= 0",
        latex=r"\mathrm{elu}(x) = \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 "
        r"\end{cases}",
        derivative_latex=r"\mathrm{elu}'(x) = \begin{cases} 1 & x > 0 \\ \alpha e^{x} & "
        r"x \le 0 \end{cases}",
        value_fn=_elu,
        derivative_fn=_elu_d,
        scalar_value_fn=_scalar(_elu),
        scalar_derivative_fn=_scalar(_elu_d),
        derivative_from_output_fn=_elu_dy,
        params_list=(Param("alpha", 1.0, "the negative saturation value is -alpha"),),
        kinks=(
            Kink(
                "0",
                location=lambda p: 0.0,
                left=lambda p: p["alpha"],
                right=lambda p: 1.0,
                default=lambda p: p["alpha"],
                note="elu'(0) = alpha (the left limit), as PyTorch; no kink when alpha = 1",
            ),
        ),
        torch_name="torch.nn.functional.elu",
        jax_name="jax.nn.elu",
        differences="PyTorch's elu'(0) is alpha; JAX's jax.nn.elu uses `x > 0` too (alpha). "
        "derivative_from_output needs alpha > 0.",
        examples="""
>>> import relukit as rk
>>> rk.elu(-1.0), rk.elu(2.0), rk.elu(float("-inf"))
(-0.6321205588285577, 2.0, -1.0)
>>> rk.elu.derivative(0.0, alpha=2.0)
2.0
""",
    )
)

# ---------------------------------------------------------------------------
# selu
# ---------------------------------------------------------------------------

_SELU_SCALE = 1.0507009873554805  # lambda (Klambauer et al. 2017)
_SELU_ALPHA = 1.6732632423543772
# lambda * alpha as PyTorch forms it (the product of the two rounded constants): the
# correctly rounded value is 1.7580993408473768; this one makes selu'(0) equal PyTorch's.
_SELU_SA = 1.7580993408473766


@_widened
def _selu(xp: Any, x: Any) -> Any:
    pos = x > 0
    return xp.where(pos, _SELU_SCALE * x, _SELU_SA * xp.expm1(xp.where(pos, 0, x)))


@_widened
def _selu_d(xp: Any, x: Any) -> Any:
    pos = x > 0
    return xp.where(pos, _SELU_SCALE, _SELU_SA * xp.exp(xp.where(pos, 0, x)))


def _selu_dy(xp: Any, y: Any) -> Any:
    return xp.where(y > 0, _SELU_SCALE, y + _SELU_SA)


selu = register(
    Activation(
        name="selu",
        summary="Scaled ELU: lambda * elu(x, alpha) with the self-normalising constants.",
        formula="selu(x) = lambda * x if x > 0, lambda * alpha * (exp(x) - 1) if x <= 0; "
        "lambda = 1.0507009873554805, alpha = 1.6732632423543772",
        derivative_formula="selu'(x) = lambda if x > 0, lambda * alpha * exp(x) if x <= 0",
        latex=r"\mathrm{selu}(x) = \lambda \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & "
        r"x \le 0 \end{cases}",
        derivative_latex=r"\mathrm{selu}'(x) = \lambda \begin{cases} 1 & x > 0 \\ \alpha "
        r"e^{x} & x \le 0 \end{cases}",
        value_fn=_selu,
        derivative_fn=_selu_d,
        scalar_value_fn=_scalar(_selu),
        scalar_derivative_fn=_scalar(_selu_d),
        derivative_from_output_fn=_selu_dy,
        kinks=(
            Kink.fixed(
                0,
                left=_SELU_SA,
                right=_SELU_SCALE,
                default=_SELU_SA,
                note="selu'(0) = lambda * alpha = 1.7581 (the left limit), as PyTorch, JAX "
                "and NNlib; TF gives lambda = 1.0507",
            ),
        ),
        torch_name="torch.nn.functional.selu",
        jax_name="jax.nn.selu",
        differences="TF/Keras give selu'(0) = lambda = 1.0507; PyTorch and JAX give "
        "lambda * alpha = 1.7581, as relukit.",
        examples="""
>>> import relukit as rk
>>> rk.selu(1.0), rk.selu.derivative(0.0)
(1.0507009873554805, 1.7580993408473766)
""",
    )
)

# ---------------------------------------------------------------------------
# celu
# ---------------------------------------------------------------------------

_CELU_ALPHA = Param("alpha", 1.0, "the negative saturation value is -alpha (not 0)")


def _celu_check(p: dict) -> None:
    if p["alpha"] == 0:
        raise ValueError("celu: alpha must be a finite real number other than 0, got 0.0")


@_widened
def _celu(xp: Any, x: Any, alpha: float) -> Any:
    pos = x > 0
    xn = xp.where(pos, 0, x)
    return xp.where(pos, x, alpha * xp.expm1(xn if alpha == 1 else xn / alpha))


@_widened
def _celu_d(xp: Any, x: Any, alpha: float) -> Any:
    pos = x > 0
    xn = xp.where(pos, 0, x)
    return xp.where(pos, 1, xp.exp(xn if alpha == 1 else xn / alpha))


def _celu_dy(xp: Any, y: Any, alpha: float) -> Any:
    if not alpha > 0:
        raise ValueError(f"celu: the derivative from the output needs alpha > 0, got {alpha!r}")
    return xp.where(y > 0, 1, y / alpha + 1)


celu = register(
    Activation(
        name="celu",
        summary="Continuously differentiable ELU: max(0, x) + min(0, alpha*(exp(x/alpha)-1)).",
        formula="celu(x) = x if x > 0, alpha * (exp(x / alpha) - 1) if x <= 0",
        derivative_formula="celu'(x) = 1 if x > 0, exp(x / alpha) if x <= 0",
        latex=r"\mathrm{celu}(x) = \begin{cases} x & x > 0 \\ \alpha (e^{x/\alpha} - 1) & "
        r"x \le 0 \end{cases}",
        derivative_latex=r"\mathrm{celu}'(x) = \begin{cases} 1 & x > 0 \\ e^{x/\alpha} & "
        r"x \le 0 \end{cases}",
        value_fn=_celu,
        derivative_fn=_celu_d,
        scalar_value_fn=_scalar(_celu),
        scalar_derivative_fn=_scalar(_celu_d),
        derivative_from_output_fn=_celu_dy,
        check_params=_celu_check,
        params_list=(_CELU_ALPHA,),
        kinks=(),
        torch_name="torch.nn.functional.celu",
        jax_name="jax.nn.celu",
        differences="No kink: celu'(0) = 1 from both sides, in every library. PyTorch raises "
        "ZeroDivisionError for alpha = 0; relukit a ValueError naming alpha.",
        examples="""
>>> import relukit as rk
>>> rk.celu(-2.0, alpha=2.0), rk.celu.derivative(0.0)
(-1.2642411176571153, 1.0)
""",
    )
)

# ---------------------------------------------------------------------------
# gelu
# ---------------------------------------------------------------------------

_GELU_LIM = 40.0  # |x| beyond which gelu(x) is x or -0.0 and gelu'(x) is 1 or 0 (float64)
_SQRT_2_OVER_PI = 0.7978845608028654
_GELU_K = 0.044715


#: per precision: (0.044715 as that precision has it, 2 sqrt(2/pi) rounded, the rest)
_GELU_TANH_C = {
    "float64": (0.044715, 1.5957691216057308, -9.96930880911092e-17),
    "float32": (0.044714998453855515, 1.5957691669464111, -4.534068042105272e-08),
}


def _gelu_tanh_parts(xp: Any, x: Any) -> tuple[Any, ...]:
    """``(xc, sigmoid(2u), sigmoid(-2u))`` with u = sqrt(2/pi) (x + 0.044715 x^3).

    In the tails sigmoid(2u) ~ exp(2u) multiplies the relative error of 2u by |2u| (up to
    ~700): 2u is therefore formed in double-double (Dekker products, Knuth's sum) and
    its low part fed back through sigmoid'(w) = sigmoid(w) sigmoid(-w).
    """
    xc = _clip(xp, x, -_GELU_LIM, _GELU_LIM)
    prec = _precision(xp, x)
    k, c2, c2_rest = _GELU_TANH_C[prec]
    split = _SQRT1_2[prec][2]
    bits = 26 if prec == "float64" else 12
    p2 = xc * xc
    e2 = _two_square_err(xp, xc, p2, split)
    p3 = xc * p2
    e3 = _two_prod_err2(xp, xc, p2, p3, split) + xc * e2  # x^3 = p3 + e3
    q = k * p3
    eq = _two_prod_err(xp, p3, q, k, bits, split) + k * e3  # k x^3 = q + eq
    v = xc + q
    bv = v - xc
    ev = ((xc - (v - bv)) + (q - bv)) + eq  # x + k x^3 = v + ev
    w = c2 * v
    ew = _two_prod_err(xp, v, w, c2, bits, split) + (c2 * ev + c2_rest * v)  # 2u = w + ew
    s, t = _sigmoid2(xp, w)
    st = (s * t) * ew
    return xc, s + st, t - st, w, ew


def _gelu_tanh_far(xp: Any, w: Any, ew: Any, factor: Any) -> Any:
    """``factor * sigmoid(w + ew)`` for w < -600 (where sigmoid(w) = e^w to the last bit).

    ``e^w`` alone would be subnormal (few bits) before it meets ``factor``: with
    ``h = e^(w/2)`` (normal, ``w/2`` exact) the product rounds once, at the end.
    """
    wf = xp.where(w < -600, w, -600)
    h = xp.exp(0.5 * wf)
    return ((factor * (1 + ew)) * h) * h


@_widened
def _gelu(xp: Any, x: Any, approximate: str) -> Any:
    xv = xp.where(x < -_GELU_LIM, -_GELU_LIM, x)  # x * 0 below: never -inf * 0
    if approximate == "tanh":
        # 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation in the negative tail.
        _, s, _, w, ew = _gelu_tanh_parts(xp, x)
        return xp.where(w < -600, _gelu_tanh_far(xp, w, ew, xv), xv * s)
    xc = _clip(xp, x, -_GELU_LIM, _GELU_LIM)
    v = (0.5 * xv) * _two_cdf(xp, xc)
    far = _gelu_far(xp, xc, derivative=False)
    return v if far is None else xp.where(x < _GELU_FAR, far, v)


@_widened
def _gelu_d(xp: Any, x: Any, approximate: str) -> Any:
    if approximate == "tanh":
        xc, s, t, w, ew = _gelu_tanh_parts(xp, x)
        du = _SQRT_2_OVER_PI * (1 + (3 * _GELU_K) * (xc * xc))
        # d/dx [x sigmoid(2u)] = s + 2 x s (1 - s) u' = s (1 + 2 x t u')
        f = 1 + 2 * xc * t * du
        d = xp.where(w < -600, _gelu_tanh_far(xp, w, ew, f), s * f)
        return _root_patch(xp, x, d, "gelu_tanh")
    xc = _clip(xp, x, -_GELU_LIM, _GELU_LIM)
    d = 0.5 * _two_cdf(xp, xc) + xc * _phi(xp, xc)
    far = _gelu_far(xp, xc, derivative=True)
    d = d if far is None else xp.where(x < _GELU_FAR, far, d)
    return _root_patch(xp, x, d, "gelu")


gelu = register(
    Activation(
        name="gelu",
        summary="Gaussian error linear unit: x * Phi(x), exact (erf) or the tanh approximation.",
        formula="gelu(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)); approximate='tanh': "
        "x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))",
        derivative_formula="gelu'(x) = Phi(x) + x * phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi)",
        latex=r"\mathrm{gelu}(x) = x\,\Phi(x) = \frac{x}{2}\left(1 + "
        r"\operatorname{erf}\frac{x}{\sqrt 2}\right)",
        derivative_latex=r"\mathrm{gelu}'(x) = \Phi(x) + x\,\varphi(x),\quad "
        r"\varphi(x) = \frac{e^{-x^2/2}}{\sqrt{2\pi}}",
        value_fn=_gelu,
        derivative_fn=_gelu_d,
        scalar_value_fn=_scalar(_gelu),
        scalar_derivative_fn=_scalar(_gelu_d),
        params_list=(
            Param(
                "approximate",
                "none",
                "'none' for the exact x*Phi(x) (PyTorch's default), 'tanh' for the "
                "tanh approximation (JAX's default)",
                kind="choice",
                choices=("none", "tanh"),
            ),
        ),
        kinks=(),
        torch_name="torch.nn.functional.gelu",
        jax_name="jax.nn.gelu",
        differences="jax.nn.gelu defaults to the tanh approximation (approximate=True); "
        "relukit and PyTorch default to the exact form. PyTorch computes "
        "x/2 (1 + erf(x/sqrt 2)), which cancels to 0 for x < -8 or so; relukit uses "
        "erfc with the argument's rounding compensated, accurate in the tail. "
        "PyTorch gives nan for gelu(-inf) and nan derivatives at ±inf; relukit the limits. "
        "erfc is not in the Array API: relukit uses scipy.special (NumPy, Dask), "
        "torch.special, jax.scipy.special, cupyx.scipy.special.",
        examples="""
>>> import relukit as rk
>>> rk.gelu(1.0), rk.gelu(1.0, approximate="tanh")
(0.84134474606854..., 0.84119199060827...)
>>> rk.gelu(float("-inf")), rk.gelu.derivative(float("inf"))
(-0.0, 1.0)
""",
    )
)

# ---------------------------------------------------------------------------
# silu (swish)
# ---------------------------------------------------------------------------


def _tail(xp: Any, x: Any) -> float:
    """Where exp(x) starts to lose bits to underflow (subnormal): -700 or -80 (float32)."""
    return -700.0 if _precision(xp, x) == "float64" else -80.0


@_widened
def _silu(xp: Any, x: Any) -> Any:
    # x / (1 + e^-x): 3 roundings. Far left, e^-x overflows and e^x is subnormal (few
    # bits): there x e^x = (x h) h with h = e^(x/2) normal, one rounding into the result.
    lo = _tail(xp, x)
    xt = _clip(xp, x, -1500.0, lo)  # -1500: h = 0 already, and no -inf * 0
    h = xp.exp(0.5 * xt)
    far = (xt * h) * h / (1 + h * h)
    xn = xp.where(x < lo, 0, x)
    return _lim(xp, x, xp.where(x < lo, far, xn / (1 + xp.exp(-xn))), -0.0)


@_widened
def _silu_d(xp: Any, x: Any) -> Any:
    # sigmoid(x) (1 + x (1 - sigmoid(x))) with 1 - sigmoid(x) = sigmoid(-x) formed directly
    # (x clipped to ±1500, where the result is its limit already: no inf * 0)
    xc = _clip(xp, x, -1500.0, 1500.0)
    s, t = _sigmoid2(xp, xc)
    lo = _tail(xp, x)
    xt = _clip(xp, x, -1500.0, lo)
    h = xp.exp(0.5 * xt)
    far = (h * (1 + xt * t)) * h / (1 + h * h)  # e^x (1 + x t) / (1 + e^x), no early underflow
    d = _root_patch(xp, x, s * (1 + xc * t), "silu")
    return _lim(xp, x, xp.where(x < lo, far, d), -0.0, 1.0)


silu = register(
    Activation(
        name="silu",
        summary="Sigmoid linear unit (swish): x * sigmoid(x).",
        formula="silu(x) = x * sigmoid(x) = x / (1 + exp(-x))",
        derivative_formula="silu'(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x)))",
        latex=r"\mathrm{silu}(x) = x\,\sigma(x) = \frac{x}{1 + e^{-x}}",
        derivative_latex=r"\mathrm{silu}'(x) = \sigma(x)\,\bigl(1 + x\,(1 - \sigma(x))\bigr)",
        value_fn=_silu,
        derivative_fn=_silu_d,
        scalar_value_fn=_scalar(_silu),
        scalar_derivative_fn=_scalar(_silu_d),
        kinks=(),
        aliases=("swish", "swish1", "sigmoid_linear_unit"),
        torch_name="torch.nn.functional.silu",
        jax_name="jax.nn.silu",
        differences="PyTorch gives silu(-inf) = nan and nan derivatives at ±inf; relukit "
        "the limits -0.0, 0 and 1. relukit's swish has no beta (it is silu, as "
        "jax.nn.swish).",
        examples="""
>>> import relukit as rk
>>> rk.silu(1.0), rk.swish is rk.silu
(0.7310585786300049, True)
>>> rk.silu(float("-inf")), rk.silu.derivative(0.0)
(-0.0, 0.5)
""",
    )
)

# ---------------------------------------------------------------------------
# mish
# ---------------------------------------------------------------------------

_MISH_HI = 40.0  # tanh(softplus(x)) rounds to 1 beyond this, even in float64
_MISH_LO = -1000.0  # exp(x) underflows to 0 below this


def _mish_parts(xp: Any, x: Any) -> tuple[Any, Any, Any]:
    """``(xc, tanh(softplus(x)), e)`` via n = e (e + 2), e = exp(x): tanh(sp) = n/(n+2)."""
    xc = _clip(xp, x, _MISH_LO, _MISH_HI)
    e = xp.exp(xc)
    n = e * (e + 2)
    # x > 0: 1 - 2/(n+2) (no cancellation: 2/(n+2) < 2/3); x <= 0: n/(n+2) written as
    # e (1 - q), q = (e/2)(1 + e)/(1 + e + e^2/2) <= 0.2, so q's rounding hardly counts.
    q = (0.5 * e) * (1 + e) / (1 + e + 0.5 * (e * e))
    t = xp.where(xc > 0, 1 - 2 / (n + 2), e - e * q)
    return xc, t, e


@_widened
def _mish(xp: Any, x: Any) -> Any:
    _, t, _ = _mish_parts(xp, x)
    return xp.where(x < _MISH_LO, _MISH_LO, x) * t  # -inf * 0 never formed


@_widened
def _mish_d(xp: Any, x: Any) -> Any:
    # mish' = t + x sech^2(sp) sigmoid(x) = t + x * 4 e (e + 1) / (n + 2)^2
    xc, t, e = _mish_parts(xp, x)
    m = e * e + 2 * e + 2
    return _root_patch(xp, x, t + xc * ((4 * e) * (e + 1) / (m * m)), "mish")


mish = register(
    Activation(
        name="mish",
        summary="Mish: x * tanh(softplus(x)).",
        formula="mish(x) = x * tanh(log(1 + exp(x)))",
        derivative_formula="mish'(x) = tanh(sp(x)) + x * sigmoid(x) * (1 - tanh(sp(x))^2), "
        "sp = softplus",
        latex=r"\mathrm{mish}(x) = x \tanh\bigl(\ln(1 + e^{x})\bigr)",
        derivative_latex=r"\mathrm{mish}'(x) = \tanh(\mathrm{sp}(x)) + x\,\sigma(x)\,"
        r"\operatorname{sech}^2(\mathrm{sp}(x))",
        value_fn=_mish,
        derivative_fn=_mish_d,
        scalar_value_fn=_scalar(_mish),
        scalar_derivative_fn=_scalar(_mish_d),
        kinks=(),
        torch_name="torch.nn.functional.mish",
        jax_name="jax.nn.mish",
        differences="PyTorch gives mish(-inf) = nan and nan derivatives at ±inf; relukit the "
        "limits -0.0, 0 and 1. relukit computes tanh(softplus(x)) as n/(n+2), "
        "n = e^x (e^x + 2), with no log/tanh round trip.",
        examples="""
>>> import relukit as rk
>>> rk.mish(1.0), rk.mish(float("-inf"))
(0.8650983882673103, -0.0)
""",
    )
)

# ---------------------------------------------------------------------------
# softplus
# ---------------------------------------------------------------------------


@_widened
def _softplus(xp: Any, x: Any, beta: float, threshold: float) -> Any:
    z = x if beta == 1 else x * beta
    pos = z > 0
    # log(1 + e^z) = max(z, 0) + log1p(exp(-|z|)): no overflow, no cancellation.
    sp = xp.where(pos, z, 0) + xp.log1p(xp.exp(xp.where(pos, -z, z)))
    if beta != 1:
        sp = sp / beta
    return xp.where(z > threshold, x, sp)


@_widened
def _softplus_d(xp: Any, x: Any, beta: float, threshold: float) -> Any:
    z = x if beta == 1 else x * beta
    s, _ = _sigmoid2(xp, z)
    return xp.where(z > threshold, 1, s)


softplus = register(
    Activation(
        name="softplus",
        summary="Softplus: log(1 + exp(beta x)) / beta, and x where beta x > threshold "
        "(PyTorch's definition).",
        formula="softplus(x) = log(1 + exp(beta * x)) / beta if beta * x <= threshold, x otherwise",
        derivative_formula="softplus'(x) = sigmoid(beta * x) if beta * x <= threshold, 1 otherwise",
        latex=r"\mathrm{softplus}(x) = \begin{cases} \frac{1}{\beta}\ln(1 + e^{\beta x}) & "
        r"\beta x \le \text{threshold} \\ x & \beta x > \text{threshold} \end{cases}",
        derivative_latex=r"\mathrm{softplus}'(x) = \begin{cases} \sigma(\beta x) & "
        r"\beta x \le \text{threshold} \\ 1 & \beta x > \text{threshold} \end{cases}",
        value_fn=_softplus,
        derivative_fn=_softplus_d,
        scalar_value_fn=_scalar(_softplus),
        scalar_derivative_fn=_scalar(_softplus_d),
        params_list=(
            Param("beta", 1.0, "sharpness", low=0.0, low_inclusive=False),
            Param("threshold", 20.0, "beta * x above which softplus(x) is x"),
        ),
        kinks=(
            Kink(
                "threshold / beta",
                location=lambda p: p["threshold"] / p["beta"],
                left=lambda p: _sigmoid2(_MATH, p["threshold"])[0],
                right=lambda p: 1.0,
                default=lambda p: _sigmoid2(_MATH, p["threshold"])[0],
                note="PyTorch's cut-over to x: the value jumps by log1p(exp(-threshold))/beta "
                "(2e-9 for the defaults) and the derivative from sigmoid(threshold) to 1; "
                "at the point itself sigmoid(threshold), as PyTorch",
            ),
        ),
        torch_name="torch.nn.functional.softplus",
        jax_name="jax.nn.softplus",
        differences="jax.nn.softplus has no beta/threshold and never switches to x "
        "(log(1 + e^x) everywhere, so no jump at x = 20). With threshold=20 the float64 "
        "value for x > 20 is x, 2e-9 below the true log(1 + e^x): pass a larger threshold "
        "for the smooth function. PyTorch accepts beta <= 0; relukit requires beta > 0.",
        examples="""
>>> import relukit as rk
>>> rk.softplus(0.0), rk.softplus(-800.0), rk.softplus(30.0)
(0.6931471805599453, 0.0, 30.0)
>>> rk.softplus.derivative(float("inf")), rk.softplus.derivative(0.0, beta=2.0)
(1.0, 0.5)
""",
    )
)

# ---------------------------------------------------------------------------
# hardswish
# ---------------------------------------------------------------------------


@_widened
def _hardswish(xp: Any, x: Any) -> Any:
    # x <= -3 -> -0.0 (x * 0 with x < 0, as PyTorch for finite x; the limit at -inf);
    # x >= 3 -> x. At -3 and 3 autograd takes the constant / identity branch: 0 and 1,
    # which is what PyTorch's backward gives there.
    xm = _clip(xp, x, -3.0, 3.0)  # no overflow in the branch not taken
    mid = xm * (xm + 3) / 6
    return xp.where(x <= -3, -0.0, xp.where(x >= 3, x, mid))


@_widened
def _hardswish_d(xp: Any, x: Any) -> Any:
    xm = _clip(xp, x, -3.0, 3.0)
    return xp.where(x <= -3, 0, xp.where(x >= 3, 1, (2 * xm + 3) / 6))


hardswish = register(
    Activation(
        name="hardswish",
        summary="Hard swish: x * relu6(x + 3) / 6.",
        formula="hardswish(x) = 0 if x <= -3, x if x >= 3, x * (x + 3) / 6 otherwise",
        derivative_formula="hardswish'(x) = 0 if x <= -3, 1 if x >= 3, (2x + 3) / 6 otherwise",
        latex=r"\mathrm{hardswish}(x) = x\,\frac{\min(\max(x + 3, 0), 6)}{6}",
        derivative_latex=r"\mathrm{hardswish}'(x) = \begin{cases} 0 & x \le -3 \\ "
        r"\frac{2x + 3}{6} & -3 < x < 3 \\ 1 & x \ge 3 \end{cases}",
        value_fn=_hardswish,
        derivative_fn=_hardswish_d,
        scalar_value_fn=_scalar(_hardswish),
        scalar_derivative_fn=_scalar(_hardswish_d),
        kinks=(
            Kink.fixed(
                -3,
                left=0,
                right=-0.5,
                default=0,
                note="hardswish'(-3) = 0 (the left limit), as PyTorch 2.13's backward",
            ),
            Kink.fixed(
                3,
                left=1.5,
                right=1,
                default=1,
                note="hardswish'(3) = 1 (the right limit), as PyTorch 2.13's backward",
            ),
        ),
        aliases=("hard_swish",),
        torch_name="torch.nn.functional.hardswish",
        jax_name="jax.nn.hard_swish",
        differences="PyTorch gives hardswish(-inf) = nan; relukit the limit -0.0 (the sign "
        "PyTorch gives for every finite x <= -3). jax.nn.hard_swish differentiates to "
        "-0.5 at -3 and 1.5 at 3 (the middle branch); relukit follows PyTorch: 0 and 1.",
        examples="""
>>> import relukit as rk
>>> rk.hardswish([-4.0, 1.0, 4.0])
array([-0.        ,  0.66666667,  4.        ])
>>> rk.hardswish(float("-inf")), rk.hardswish.derivative([-3.0, 3.0])
(-0.0, array([0., 1.]))
""",
    )
)

# ---------------------------------------------------------------------------
# hardsigmoid
# ---------------------------------------------------------------------------


@_widened
def _hardsigmoid(xp: Any, x: Any) -> Any:
    # (x + 3) / 6 rather than x / 6 + 1/2: exact cancellation near -3 (Sterbenz).
    return xp.where(x <= -3, 0, xp.where(x >= 3, 1, (x + 3) / 6))


@_widened
def _hardsigmoid_d(xp: Any, x: Any) -> Any:
    return xp.where((x > -3) & (x < 3), 1 / 6, xp.where(x == x, 0, x))


def _hardsigmoid_dy(xp: Any, y: Any) -> Any:
    return xp.where((y > 0) & (y < 1), 1 / 6, xp.where(y == y, 0, y))


hardsigmoid = register(
    Activation(
        name="hardsigmoid",
        summary="Hard sigmoid: relu6(x + 3) / 6.",
        formula="hardsigmoid(x) = min(max(x + 3, 0), 6) / 6",
        derivative_formula="hardsigmoid'(x) = 1/6 if -3 < x < 3, 0 otherwise",
        latex=r"\mathrm{hardsigmoid}(x) = \frac{\min(\max(x + 3, 0), 6)}{6}",
        derivative_latex=r"\mathrm{hardsigmoid}'(x) = \begin{cases} 1/6 & -3 < x < 3 \\ "
        r"0 & \text{otherwise} \end{cases}",
        value_fn=_hardsigmoid,
        derivative_fn=_hardsigmoid_d,
        scalar_value_fn=_scalar(_hardsigmoid),
        scalar_derivative_fn=_scalar(_hardsigmoid_d),
        derivative_from_output_fn=_hardsigmoid_dy,
        kinks=(
            Kink.fixed(-3, left=0, right=1 / 6, default=0, note="hardsigmoid'(-3) = 0, as PyTorch"),
            Kink.fixed(3, left=1 / 6, right=0, default=0, note="hardsigmoid'(3) = 0, as PyTorch"),
        ),
        aliases=("hard_sigmoid",),
        torch_name="torch.nn.functional.hardsigmoid",
        jax_name="jax.nn.hard_sigmoid",
        differences="Keras' hard_sigmoid used slope 0.2 (x/5 + 1/2) before Keras 3; "
        "relukit, PyTorch and JAX use 1/6.",
        examples="""
>>> import relukit as rk
>>> rk.hardsigmoid([-4.0, 0.0, 1.5, 4.0])
array([0.  , 0.5 , 0.75, 1.  ])
""",
    )
)

# ---------------------------------------------------------------------------
# prelu
# ---------------------------------------------------------------------------


def _prelu_weight(xp: Any, x: Any, weight: Any) -> Any:
    """The weight as a scalar or an array that broadcasts along axis 1 of ``x``."""
    if isinstance(weight, float):
        return weight
    if isinstance(weight, (list, tuple)) or type(weight).__module__ == "numpy":
        import numpy as np

        w = np.asarray(weight)
        if w.dtype.kind not in "iuf":
            raise TypeError(
                f"prelu: weight must be a real number or a 1-D array of real numbers, got "
                f"an array of dtype {w.dtype}"
            )
        if not np.all(np.isfinite(w)):
            raise ValueError(f"prelu: weight must be finite, got {weight!r}")
    else:
        w = weight
    ndim = len(getattr(w, "shape", ()))
    size = math.prod(w.shape) if ndim else 1
    if ndim > 1:
        raise ValueError(f"prelu: weight must be a scalar or 1-D, got shape {tuple(w.shape)}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if size not in (1, channels):
        raise ValueError(
            f"prelu: weight has {size} elements but x has {channels} channel(s) on axis 1 "
            f"(x.shape = {tuple(x.shape)}); pass 1 weight or one per channel"
        )
    if xp is not _MATH:
        kw = {"device": x.device} if hasattr(x, "device") and _ns(xp) != "numpy" else {}
        w = xp.asarray(w, dtype=x.dtype, **kw)
    if size == 1:
        return xp.reshape(w, ()) if ndim else w
    return xp.reshape(w, (1, channels) + (1,) * (x.ndim - 2))


def _prelu_impl(xp: Any, x: Any, weight: Any) -> Any:
    w = _prelu_weight(xp, x, weight)
    neg = xp.where((w == 0) & (x == -math.inf), -0.0, x * w)  # 0 * -inf: the limit -0.0
    return xp.where(x > 0, x, neg)


def _prelu_d_impl(xp: Any, x: Any, weight: Any) -> Any:
    w = _prelu_weight(xp, x, weight)
    return xp.where(x > 0, 1, xp.where(x <= 0, w, x))


_prelu = _widened(_prelu_impl)
_prelu_d = _widened(_prelu_d_impl)


def _prelu_scalar_weight(weight: Any) -> float:
    if isinstance(weight, float):
        return weight
    import numpy as np

    w = np.asarray(weight, dtype=float)
    if w.size != 1 or w.ndim > 1:
        raise ValueError(
            f"prelu: x has 1 channel (a scalar), so weight must have 1 element, got shape {w.shape}"
        )
    return float(w.reshape(()))


def _prelu_s(x: float, weight: Any) -> float:
    w = _prelu_scalar_weight(weight)
    x = float(x)
    if x > 0:
        return x
    return -0.0 if (w == 0 and x == -math.inf) else x * w


def _prelu_ds(x: float, weight: Any) -> float:
    w = _prelu_scalar_weight(weight)
    return 1.0 if x > 0 else (w if x <= 0 else x)


def _prelu_kink_w(p: Any) -> float:
    w = p["weight"]
    try:
        return float(w)
    except (TypeError, ValueError):
        return math.nan  # per-channel weights: one value per channel


prelu = register(
    Activation(
        name="prelu",
        summary="Parametric ReLU: x for x > 0, weight * x otherwise, one weight per channel.",
        formula="prelu(x) = x if x > 0, weight[c] * x if x <= 0 (c: the index on axis 1)",
        derivative_formula="prelu'(x) = 1 if x > 0, weight[c] if x <= 0 (w.r.t. x)",
        latex=r"\mathrm{prelu}(x) = \begin{cases} x & x > 0 \\ w_c\,x & x \le 0 \end{cases}",
        derivative_latex=r"\frac{\partial\,\mathrm{prelu}}{\partial x} = \begin{cases} 1 & "
        r"x > 0 \\ w_c & x \le 0 \end{cases}",
        value_fn=_prelu,
        derivative_fn=_prelu_d,
        scalar_value_fn=_prelu_s,
        scalar_derivative_fn=_prelu_ds,
        params_list=(
            Param(
                "weight",
                0.25,
                "the negative slope: a scalar, or a 1-D array with one slope per channel "
                "(axis 1, as torch.nn.functional.prelu; 0.25 is torch.nn.PReLU's init)",
                kind="weight",
            ),
        ),
        kinks=(
            Kink(
                "0",
                location=lambda p: 0.0,
                left=_prelu_kink_w,
                right=lambda p: 1.0,
                default=_prelu_kink_w,
                note="prelu'(0) = weight (per channel), as PyTorch",
            ),
        ),
        aliases=("parametric_relu",),
        torch_name="torch.nn.functional.prelu",
        jax_name=None,
        differences="JAX has no prelu. PyTorch gives nan for prelu(-inf) with weight 0; "
        "relukit -0.0. The derivative is with respect to x only.",
        examples="""
>>> import relukit as rk
>>> import numpy as np
>>> x = np.array([[-1.0, -1.0], [2.0, -4.0]])
>>> rk.prelu(x, [0.1, 0.5])
array([[-0.1, -0.5],
       [ 2. , -2. ]])
>>> rk.prelu.derivative(0.0, weight=0.3)
0.3
""",
    )
)

swish = silu  # the alias as a name: rk.swish is rk.silu

# ---------------------------------------------------------------------------
# doctests: the examples of every entry run as doctests (collected via __test__)
# ---------------------------------------------------------------------------
from relukit.catalogue import catalogue as _catalogue  # noqa: E402

__test__ = {a.name: a.__doc__ for a in _catalogue()}
