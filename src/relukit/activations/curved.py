"""Curved members of the family (exponential, Gaussian, sigmoid, polynomial pieces).

One block per activation; see :mod:`relukit.activations` for what a block holds and the
conventions it follows. The numerics they share live in :mod:`relukit._fp` (working
precision, exact products, patches next to zeros of derivatives) and
:mod:`relukit._gauss` (gelu's tails).
"""

from __future__ import annotations

from typing import Any, Literal

from relukit._fp import clip, lim, precision, root_patch, sigmoid2, widened
from relukit._gauss import (
    GELU_FAR,
    GELU_LIM,
    GELU_TANH_FAR,
    gelu_far,
    gelu_tanh_far,
    gelu_tanh_parts,
    phi,
    two_cdf,
)
from relukit._namespaces import MATH, scalar
from relukit._tables import SQRT_2_OVER_PI
from relukit.catalogue import Activation, Kink, Param, register

__all__ = [
    "celu",
    "elu",
    "gelu",
    "hardswish",
    "mish",
    "selu",
    "silu",
    "softplus",
    "sparse_plus",
    "squareplus",
    "swish",
]

# ---------------------------------------------------------------------------
# elu
# ---------------------------------------------------------------------------


@widened
def _elu(xp: Any, x: Any, alpha: float) -> Any:
    pos = x > 0
    # x = 0 takes the exponential branch: autograd gives alpha there, as PyTorch.
    return xp.where(pos, x, alpha * xp.expm1(xp.where(pos, 0, x)))


@widened
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
        scalar_value_fn=scalar(_elu),
        scalar_derivative_fn=scalar(_elu_d),
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

_SELU_SCALE = 1.0507009873554805  # lambda (Klambauer et al. 2017); alpha = 1.6732632423543772
# lambda * alpha as PyTorch forms it (the product of the two rounded constants): the
# correctly rounded value is 1.7580993408473768; this one makes selu'(0) equal PyTorch's.
_SELU_SA = 1.7580993408473766


@widened
def _selu(xp: Any, x: Any) -> Any:
    pos = x > 0
    return xp.where(pos, _SELU_SCALE * x, _SELU_SA * xp.expm1(xp.where(pos, 0, x)))


@widened
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
        scalar_value_fn=scalar(_selu),
        scalar_derivative_fn=scalar(_selu_d),
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


@widened
def _celu(xp: Any, x: Any, alpha: float) -> Any:
    pos = x > 0
    xn = xp.where(pos, 0, x)
    return xp.where(pos, x, alpha * xp.expm1(xn if alpha == 1 else xn / alpha))


@widened
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
        scalar_value_fn=scalar(_celu),
        scalar_derivative_fn=scalar(_celu_d),
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

_GELU_K = 0.044715  # the cubic coefficient of the tanh form
_Approximate = Literal["none", "tanh"]


@widened
def _gelu(xp: Any, x: Any, approximate: _Approximate) -> Any:
    xv = xp.where(x < -GELU_LIM, -GELU_LIM, x)  # x * 0 below: never -inf * 0
    if approximate == "tanh":
        # 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation in the negative tail.
        _, s, _, w, ew = gelu_tanh_parts(xp, x)
        return xp.where(w < GELU_TANH_FAR, gelu_tanh_far(xp, w, ew, xv), xv * s)
    xc = clip(xp, x, -GELU_LIM, GELU_LIM)
    v = (0.5 * xv) * two_cdf(xp, xc)
    far = gelu_far(xp, xc, derivative=False)
    return v if far is None else xp.where(x < GELU_FAR, far, v)


@widened
def _gelu_d(xp: Any, x: Any, approximate: _Approximate) -> Any:
    if approximate == "tanh":
        xc, s, t, w, ew = gelu_tanh_parts(xp, x)
        du = SQRT_2_OVER_PI * (1 + (3 * _GELU_K) * (xc * xc))
        # d/dx [x sigmoid(2u)] = s + 2 x s (1 - s) u' = s (1 + 2 x t u')
        f = 1 + 2 * xc * t * du
        d = xp.where(w < GELU_TANH_FAR, gelu_tanh_far(xp, w, ew, f), s * f)
        return root_patch(xp, x, d, "gelu_tanh")
    xc = clip(xp, x, -GELU_LIM, GELU_LIM)
    d = 0.5 * two_cdf(xp, xc) + xc * phi(xp, xc)
    far = gelu_far(xp, xc, derivative=True)
    d = d if far is None else xp.where(x < GELU_FAR, far, d)
    return root_patch(xp, x, d, "gelu")


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
        scalar_value_fn=scalar(_gelu),
        scalar_derivative_fn=scalar(_gelu_d),
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


_SILU_FLAT = 1500.0  # |x| beyond which silu and silu' are their limits in every precision


def _tail(xp: Any, x: Any) -> float:
    """Where exp(x) starts to lose bits to underflow (subnormal): -700 or -80 (float32)."""
    return -700.0 if precision(xp, x) == "float64" else -80.0


@widened
def _silu(xp: Any, x: Any) -> Any:
    # x / (1 + e^-x): 3 roundings. Far left, e^-x overflows and e^x is subnormal (few
    # bits): there x e^x = (x h) h with h = e^(x/2) normal, one rounding into the result.
    lo = _tail(xp, x)
    xt = clip(xp, x, -_SILU_FLAT, lo)  # h = 0 already there, and no -inf * 0
    h = xp.exp(0.5 * xt)
    far = (xt * h) * h / (1 + h * h)
    xn = xp.where(x < lo, 0, x)
    return lim(xp, x, xp.where(x < lo, far, xn / (1 + xp.exp(-xn))), -0.0)


@widened
def _silu_d(xp: Any, x: Any) -> Any:
    # sigmoid(x) (1 + x (1 - sigmoid(x))) with 1 - sigmoid(x) = sigmoid(-x) formed directly
    # (x clipped to ±_SILU_FLAT, where the result is its limit already: no inf * 0)
    xc = clip(xp, x, -_SILU_FLAT, _SILU_FLAT)
    s, t = sigmoid2(xp, xc)
    lo = _tail(xp, x)
    xt = clip(xp, x, -_SILU_FLAT, lo)
    h = xp.exp(0.5 * xt)
    far = (h * (1 + xt * t)) * h / (1 + h * h)  # e^x (1 + x t) / (1 + e^x), no early underflow
    d = root_patch(xp, x, s * (1 + xc * t), "silu")
    return lim(xp, x, xp.where(x < lo, far, d), -0.0, 1.0)


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
        scalar_value_fn=scalar(_silu),
        scalar_derivative_fn=scalar(_silu_d),
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

swish = silu  # the alias as a name: rk.swish is rk.silu

# ---------------------------------------------------------------------------
# mish
# ---------------------------------------------------------------------------

_MISH_HI = 40.0  # tanh(softplus(x)) rounds to 1 beyond this, even in float64
_MISH_LO = -1000.0  # exp(x) underflows to 0 below this


def _mish_parts(xp: Any, x: Any) -> tuple[Any, Any, Any]:
    """``(xc, tanh(softplus(x)), e)`` via n = e (e + 2), e = exp(x): tanh(sp) = n/(n+2)."""
    xc = clip(xp, x, _MISH_LO, _MISH_HI)
    e = xp.exp(xc)
    n = e * (e + 2)
    # x > 0: 1 - 2/(n+2) (no cancellation: 2/(n+2) < 2/3); x <= 0: n/(n+2) written as
    # e (1 - q), q = (e/2)(1 + e)/(1 + e + e^2/2) <= 0.2, so q's rounding hardly counts.
    q = (0.5 * e) * (1 + e) / (1 + e + 0.5 * (e * e))
    t = xp.where(xc > 0, 1 - 2 / (n + 2), e - e * q)
    return xc, t, e


@widened
def _mish(xp: Any, x: Any) -> Any:
    _, t, _ = _mish_parts(xp, x)
    return xp.where(x < _MISH_LO, _MISH_LO, x) * t  # -inf * 0 never formed


@widened
def _mish_d(xp: Any, x: Any) -> Any:
    # mish' = t + x sech^2(sp) sigmoid(x) = t + x * 4 e (e + 1) / (n + 2)^2
    xc, t, e = _mish_parts(xp, x)
    m = e * e + 2 * e + 2
    return root_patch(xp, x, t + xc * ((4 * e) * (e + 1) / (m * m)), "mish")


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
        scalar_value_fn=scalar(_mish),
        scalar_derivative_fn=scalar(_mish_d),
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


@widened
def _softplus(xp: Any, x: Any, beta: float, threshold: float) -> Any:
    z = x if beta == 1 else x * beta
    pos = z > 0
    # log(1 + e^z) = max(z, 0) + log1p(exp(-|z|)): no overflow, no cancellation.
    sp = xp.where(pos, z, 0) + xp.log1p(xp.exp(xp.where(pos, -z, z)))
    if beta != 1:
        sp = sp / beta
    return xp.where(z > threshold, x, sp)


@widened
def _softplus_d(xp: Any, x: Any, beta: float, threshold: float) -> Any:
    z = x if beta == 1 else x * beta
    s, _ = sigmoid2(xp, z)
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
        scalar_value_fn=scalar(_softplus),
        scalar_derivative_fn=scalar(_softplus_d),
        params_list=(
            Param("beta", 1.0, "sharpness", low=0.0, low_inclusive=False),
            Param("threshold", 20.0, "beta * x above which softplus(x) is x"),
        ),
        kinks=(
            Kink(
                "threshold / beta",
                location=lambda p: p["threshold"] / p["beta"],
                left=lambda p: sigmoid2(MATH, p["threshold"])[0],
                right=lambda p: 1.0,
                default=lambda p: sigmoid2(MATH, p["threshold"])[0],
                note="PyTorch's cut-over to x: the value jumps by log1p(exp(-threshold))/beta "
                "(2e-9 for the defaults) and the derivative from sigmoid(threshold) to 1; "
                "at the point itself sigmoid(threshold), as PyTorch",
            ),
        ),
        nonnegative_output=True,
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


@widened
def _hardswish(xp: Any, x: Any) -> Any:
    # x <= -3 -> -0.0 (x * 0 with x < 0, as PyTorch for finite x; the limit at -inf);
    # x >= 3 -> x. At -3 and 3 autograd takes the constant / identity branch: 0 and 1,
    # which is what PyTorch's backward gives there.
    xm = clip(xp, x, -3.0, 3.0)  # no overflow in the branch not taken
    mid = xm * (xm + 3) / 6
    return xp.where(x <= -3, -0.0, xp.where(x >= 3, x, mid))


@widened
def _hardswish_d(xp: Any, x: Any) -> Any:
    xm = clip(xp, x, -3.0, 3.0)
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
        scalar_value_fn=scalar(_hardswish),
        scalar_derivative_fn=scalar(_hardswish_d),
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
# squareplus
# ---------------------------------------------------------------------------


def _squareplus_parts(xp: Any, x: Any, b: float) -> tuple[Any, Any, Any]:
    """``(u, s, q)``: u = |x|, s = sqrt(u^2 + b) (hypot: no overflow), q = b / (2 s (s + u))."""
    u = xp.where(x < 0, -x, x)  # `where`, not abs: autograd takes the x >= 0 side at 0
    s = xp.hypot(u, b**0.5)
    return u, s, ((0.25 * b) / s) / (0.5 * s + 0.5 * u)  # halves: s + u never overflows


@widened
def _squareplus(xp: Any, x: Any, b: float) -> Any:
    # (x + s) / 2 cancels for x < 0; there it equals (b/4) / ((s - x)/2), which does not
    u, s, _ = _squareplus_parts(xp, x, b)
    return xp.where(x < 0, (0.25 * b) / (0.5 * s + 0.5 * u), 0.5 * u + 0.5 * s)


@widened
def _squareplus_d(xp: Any, x: Any, b: float) -> Any:
    # (1 + x/s) / 2 = q for x < 0 and 1 - q for x >= 0: no cancellation, no inf/inf
    _, _, q = _squareplus_parts(xp, x, b)
    return xp.where(x < 0, q, 1 - q)


def _squareplus_dy(xp: Any, y: Any, b: float) -> Any:
    # y = (x + s)/2 and y (s - x) = b/2 give y' = y^2 / (y^2 + b/4) (y > 0 for finite x)
    yp = xp.where(y > 0, y, 1)
    return xp.where(y > 0, 1 / (1 + ((0.25 * b) / yp) / yp), xp.where(y == y, 0, y))


squareplus = register(
    Activation(
        name="squareplus",
        summary="Squareplus: (x + sqrt(x^2 + b)) / 2, a softplus made of algebraic operations.",
        formula="squareplus(x) = (x + sqrt(x^2 + b)) / 2",
        derivative_formula="squareplus'(x) = (1 + x / sqrt(x^2 + b)) / 2",
        latex=r"\mathrm{squareplus}(x) = \frac{x + \sqrt{x^2 + b}}{2}",
        derivative_latex=r"\mathrm{squareplus}'(x) = \frac{1}{2}\left(1 + "
        r"\frac{x}{\sqrt{x^2 + b}}\right)",
        value_fn=_squareplus,
        derivative_fn=_squareplus_d,
        scalar_value_fn=scalar(_squareplus),
        scalar_derivative_fn=scalar(_squareplus_d),
        derivative_from_output_fn=_squareplus_dy,
        params_list=(
            Param("b", 4.0, "smoothness: squareplus(0) = sqrt(b)/2", low=0.0, low_inclusive=False),
        ),
        kinks=(),
        nonnegative_output=True,
        torch_name=None,
        jax_name="jax.nn.squareplus",
        differences="PyTorch has no squareplus. jax.nn.squareplus computes "
        "(x + sqrt(x^2 + b))/2 as written, which cancels to 0 for x < -1e8 (float64) and "
        "overflows x^2 for |x| > 1e154; relukit is accurate there (hypot, and the "
        "algebraically equal b/2 / (sqrt(x^2 + b) - x) for x < 0). b = 0 (relu) is "
        "refused: the derivative at 0 would be undefined.",
        examples="""
>>> import relukit as rk
>>> rk.squareplus(0.0), rk.squareplus(0.0, b=1.0), rk.squareplus.derivative(0.0)
(1.0, 0.5, 0.5)
>>> rk.squareplus(-1e10), rk.squareplus(float("inf"))
(1e-10, inf)
""",
    )
)

# ---------------------------------------------------------------------------
# sparse_plus
# ---------------------------------------------------------------------------


@widened
def _sparse_plus(xp: Any, x: Any) -> Any:
    # `<=`/`>=` put -1 and 1 in the outer pieces, whose derivatives (0, 1) equal the middle
    # piece's there: the derivative is continuous, so there is no kink to choose at.
    xm = clip(xp, x, -1.0, 1.0)  # no overflow in the piece not taken
    return xp.where(x <= -1, 0, xp.where(x >= 1, x, (xm + 1) * (xm + 1) / 4))


@widened
def _sparse_plus_d(xp: Any, x: Any) -> Any:
    xm = clip(xp, x, -1.0, 1.0)
    return xp.where(x <= -1, 0, xp.where(x >= 1, 1, (xm + 1) / 2))


def _sparse_plus_dy(xp: Any, y: Any) -> Any:
    # y = (x + 1)^2 / 4 on the middle piece, so y' = (x + 1) / 2 = sqrt(y); 1 once y >= 1.
    # sqrt sees 1, not 0, outside the middle piece: differentiating this formula (double
    # backward from the output) then gives 0 there, not 0 * inf = nan (NaN stays NaN)
    s = xp.sqrt(xp.where(y >= 1, 1, xp.where(y <= 0, 1, y)))
    return xp.where(y >= 1, 1, xp.where(y <= 0, 0, s))


sparse_plus = register(
    Activation(
        name="sparse_plus",
        summary="Sparse plus: 0 below -1, (x + 1)^2 / 4 on [-1, 1], x above 1.",
        formula="sparse_plus(x) = 0 if x <= -1, (x + 1)^2 / 4 if -1 < x < 1, x if x >= 1",
        derivative_formula="sparse_plus'(x) = 0 if x <= -1, (x + 1) / 2 if -1 < x < 1, 1 if x >= 1",
        latex=r"\mathrm{sparse\_plus}(x) = \begin{cases} 0 & x \le -1 \\ \frac{(x + 1)^2}{4} "
        r"& -1 < x < 1 \\ x & x \ge 1 \end{cases}",
        derivative_latex=r"\mathrm{sparse\_plus}'(x) = \begin{cases} 0 & x \le -1 \\ "
        r"\frac{x + 1}{2} & -1 < x < 1 \\ 1 & x \ge 1 \end{cases}",
        value_fn=_sparse_plus,
        derivative_fn=_sparse_plus_d,
        scalar_value_fn=scalar(_sparse_plus),
        scalar_derivative_fn=scalar(_sparse_plus_d),
        derivative_from_output_fn=_sparse_plus_dy,
        kinks=(),
        aliases=("sparseplus",),
        nonnegative_output=True,
        torch_name=None,
        jax_name="jax.nn.sparse_plus",
        differences="PyTorch has no sparse_plus; relukit's is jax.nn.sparse_plus and "
        "keras.activations.sparse_plus. No kink: the derivative is continuous (0 at -1, "
        "1 at 1 from both sides); the second derivative jumps at -1 and 1.",
        examples="""
>>> import relukit as rk
>>> rk.sparse_plus([-2.0, -1.0, 0.0, 1.0, 3.0])
array([0.  , 0.  , 0.25, 1.  , 3.  ])
>>> rk.sparse_plus.derivative(0.0), rk.sparse_plus(float("-inf"))
(0.5, 0.0)
""",
    )
)
