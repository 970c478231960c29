"""The definitions: one short block per activation.

Each block gives, once: the formulas (text and LaTeX), the parameters with their
accepted ranges, the kinks with the derivative used there, the value and derivative
written against an array namespace ``xp`` (NumPy or any Array API namespace), and the
pure-Python scalar form used for Python ``int``/``float`` inputs (tested equal to the
array form for every entry).

Conventions every block follows (DESIGN §3):

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

__all__ = ["leaky_relu", "relu"]

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
# doctests: the examples of every entry run as doctests (collected via __test__)
# ---------------------------------------------------------------------------
from relukit.catalogue import catalogue as _catalogue  # noqa: E402

__test__ = {a.name: a.__doc__ for a in _catalogue()}
