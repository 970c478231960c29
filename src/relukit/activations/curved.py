"""Curved members of the family (exponential, Gaussian, sigmoid, polynomial pieces).

One block per activation; see :mod:`relukit.activations` for what a block holds and the
conventions it follows. Their formulas are written against the math namespace ``m`` of
:mod:`relukit._prims`: the same functions run on NumPy and Array API arrays, in the
numba kernels (float64, and the lean float32 forms marked ``m.LEAN``), in torch and in
Triton.
"""

from __future__ import annotations

import math
from typing import Literal

from relukit._prims import Patch, Poly, formula
from relukit._prims.numpy import MATH
from relukit._prims.tables import GELU_TANH_C, INV_SQRT_2PI, ROOTS, SQRT1_2, SQRT_2_OVER_PI
from relukit.catalogue import Activation, Kink, Math, Param, register

__all__ = [
    "celu",
    "elu",
    "gelu",
    "hardswish",
    "mish",
    "quick_gelu",
    "relu2",
    "selu",
    "silu",
    "softplus",
    "sparse_plus",
    "squared_relu",
    "squareplus",
    "star_relu",
    "swish",
]

# ---------------------------------------------------------------------------
# elu
# ---------------------------------------------------------------------------


def _elu(m, x, alpha):
    # x = 0 takes the exponential branch: autograd gives alpha there, as PyTorch. The
    # branch not taken gets -1.0, not 0.0: a select of 0.0 can be turned into a min that
    # loses -0.0 (LLVM)
    pos = x > 0
    return m.where(pos, x, alpha * m.expm1_neg(m.where(pos, -1.0, x)))


def _elu_d(m, x, alpha):
    pos = x > 0
    return m.where(pos, 1.0, m.times_exp(alpha, m.where(pos, -1.0, x)))


def _elu_dy(m, y, alpha):
    # x <= 0: y = alpha (e^x - 1), so alpha e^x = y + alpha (for alpha > 0 y > 0 exactly
    # when x > 0). Loses relative accuracy as y -> -alpha (x -> -inf).
    return m.where(y > 0, 1.0, y + alpha)


def _alpha_positive(alpha: float) -> bool:
    return alpha > 0


def _elu_lean(alpha: float) -> bool:
    # the lean a exp(x) forms a * 2**k from a's bits: 1e-30 <= |a| <= 1e30
    return 1e-30 <= abs(alpha) <= 1e30


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
        math=Math(_elu, _elu_d, from_output=_elu_dy, output_ok=_alpha_positive, lean=_elu_lean),
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


def _selu(m, x):
    pos = x > 0
    return m.where(pos, _SELU_SCALE * x, _SELU_SA * m.expm1_neg(m.where(pos, -1.0, x)))


def _selu_d(m, x):
    pos = x > 0
    return m.where(pos, _SELU_SCALE, m.times_exp(_SELU_SA, m.where(pos, -1.0, x)))


def _selu_dy(m, y):
    return m.where(y > 0, _SELU_SCALE, y + _SELU_SA)


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
        math=Math(_selu, _selu_d, from_output=_selu_dy),
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


def _celu(m, x, alpha):
    pos = x > 0
    z = m.div(m.where(pos, -1.0, x), alpha)  # x / alpha: <= 0 for alpha > 0
    if alpha > 0:
        return m.where(pos, x, alpha * m.expm1_neg(z))
    return m.where(pos, x, alpha * m.expm1(z))


def _celu_d(m, x, alpha):
    pos = x > 0
    z = m.div(m.where(pos, -1.0, x), alpha)
    if m.LEAN:  # noqa: SIM102 (a test of the namespace alone: Triton decides it when compiling)
        if alpha > 0:
            # z <= 0: only the lower clip (times_exp's), the same exp(z) down to -600
            # and a float32 +0 below, as exp's
            return m.where(pos, 1.0, m.times_exp(1.0, z))
    return m.where(pos, 1.0, m.exp(z))


def _celu_dy(m, y, alpha):
    return m.where(y > 0, 1.0, y / alpha + 1.0)


def _celu_lean(alpha: float) -> bool:
    # the lean namespace divides by alpha as a product with 1 / alpha: a normal 1 / alpha
    return 1e-300 <= abs(alpha) <= 1e300


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
        math=Math(_celu, _celu_d, from_output=_celu_dy, output_ok=_alpha_positive, lean=_celu_lean),
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
_GELU_LIM = 40.0  # |x| beyond which gelu(x) is x or -0.0 and gelu'(x) is 1 or 0 (float64)
_Approximate = Literal["none", "tanh"]
_SQRT1_2 = SQRT1_2["float64"][0]
#: (0.044715, 2 sqrt(2/pi) rounded, the rest) in the two working precisions
_TANH_K64, _TANH_C64, _TANH_R64 = GELU_TANH_C["float64"]
_TANH_K32, _TANH_C32, _TANH_R32 = GELU_TANH_C["float32"]

#: gelu and gelu' next to 0 (|x| < 0.3): the odd parts of Phi and x phi as series in
#: z = x**2 ((-1)^k x^(2k+1) / (2^k k! (2k+1) sqrt(2 pi)) and the like; the next terms
#: are below 3e-19)
_GELU0_V = Poly(
    (
        0.3989422804014327,
        -0.06649038006690544,
        0.009973557010035817,
        -0.0011873282154804543,
        0.00011543468761615529,
        -9.444656259503615e-06,
        6.659693516316651e-07,
        -4.122667414862689e-08,
        2.2735298243728065e-09,
    )
)
_GELU0_D = Poly(
    (
        0.7978845608028654,
        -0.26596152026762176,
        0.0598413420602149,
        -0.009498625723843634,
        0.001154346876161553,
        -0.00011333587511404338,
        9.323570922843312e-06,
        -6.596267863780302e-07,
        4.092353683871051e-08,
        -2.2602343283238428e-09,
    )
)
# gelu' and gelu(tanh)' next to their zeros; float64 gelu on +-0.55, where the 22 terms
# are still within 3 ulp and the direct formula just outside within 5. gelu(tanh)'s lean
# form: its direct formula is accurate to 1e-14 relative from 0.1 of the zero on (gelu's
# lean form needs no patch: _GELU_DQ)
_GELU_PATCH = Patch("gelu", width=0.55)
_GELU_TANH_PATCH = Patch("gelu_tanh", width=0.45, lean_terms=13, lean_width=0.1)

#: gelu' for float32 results (the lean form). With a = |x| / sqrt 2 and
#: k(a) = erfcx(a) / 2 - a / sqrt(pi), gelu'(x) = E k for x <= 0 and 1 - E k above
#: (E = exp(-x**2 / 2)). k is 0 at gelu''s zero r, where a sum built on erfcx cancels;
#: so k is fitted as (|x| - |r|) Q(s), s = m.erfcx_s(a) the lean erfcx's own variable,
#: Q near-minimax of degree 16 (relative error 1.5e-15; tools/fit_erfcx.py --to
#: 10.606601717798213 --degree 16 --gelu-d; lowest degree first here), |x| - |r| formed
#: exactly from r = r_hi + r_lo (Sterbenz): relative accuracy at the zero without a
#: Taylor patch, and one polynomial in place of erfcx's and the patch's. Its float32
#: results equal the patched form's on all 2**32 inputs but 4, each within 2e-8 ulp of
#: a tie (3 of the 4 now correctly rounded, the fourth 0.500000018 ulp off).
_GELU_DQ = (
    -0.47403665284783053,
    -0.0910706681566179,
    -0.05416620853136884,
    -0.027728512125030812,
    -0.01208275938907628,
    -0.004394692215992751,
    -0.0012864667787477666,
    -0.00028018189366616245,
    -3.539506999756586e-05,
    1.6422488294064413e-06,
    1.7291443261398063e-06,
    2.306287465516338e-07,
    -4.5312565538870205e-08,
    -1.6318915373930015e-08,
    7.355886067493794e-10,
    7.47407406711322e-10,
    3.4778135259143655e-12,
)
# two Horner chains in s**2 (even and odd degrees): half the latency of one
_GELU_DQ_EVEN = Poly(_GELU_DQ[0::2])
_GELU_DQ_ODD = Poly(_GELU_DQ[1::2])
_GELU_R_HI, _GELU_R_LO = ROOTS["gelu"][0]


@formula
def _gelu_parts(m, x):
    """``(xc, H, g, g2)``: xc = x clipped to [-40, 40], erfc(|xc| / sqrt 2) = H (g g2)
    and phi(x) = g g2 / sqrt(2 pi). x**2 = p + e exactly and exp(-x**2 / 2) =
    exp(-p / 2) (1 - e / 2); where exp(-p / 2) would be subnormal (the result is then
    subnormal too) it is g g2 with g = g2 = exp(-p / 4) multiplied in last, so that the
    result is rounded once."""
    xc = m.clip(x, -_GELU_LIM, _GELU_LIM)
    h = m.erfcx(m.where(xc < 0, -xc, xc) * _SQRT1_2)
    p = xc * xc
    e = m.square_err(xc, p)
    q = 0.5 * p
    far = q > 708.0
    g = m.exp(m.where(far, -0.5 * q, -q)) * (1.0 - m.where(far, 0.25 * e, 0.5 * e))
    return xc, h, g, m.where(far, g, 1.0)


@formula
def _gelu_erf(m, x):
    if m.LEAN:
        # float32 results: x clipped to [-15, 15] (beyond, they are those of the clip),
        # erfc(a) = H E, x**2 / 2 exact for a float32 x
        xc = m.clip(x, -15.0, 15.0)
        # (abs: one operation, where a select of -xc made LLVM widen x three times)
        he = m.erfcx(abs(xc) * _SQRT1_2) * m.exp_near(-0.5 * (xc * xc))
        # (tiny_half's rounding from a nudged x: 2 - he and he are within 1e-14 of 1)
        xv = m.tiny_nudge(m.where(x < -15.0, -15.0, x))
        return (0.5 * xv) * m.where(xc > 0, 2.0 - he, he)
    # x Phi(x): (x / 2) erfc(|x| / sqrt 2) for x < 0, x - that for x >= 0
    xc, h, g, g2 = _gelu_parts(m, x)
    t = (((0.5 * xc) * h) * g) * g2
    r = m.where(xc < 0, t, xc - t)
    r = m.where((x < 0.3) & (x > -0.3), x * (0.5 + x * _GELU0_V(m, x * x)), r)
    return m.tiny_half(x, m.where(x > _GELU_LIM, x, r))


@formula
def _gelu_erf_d(m, x):
    if m.LEAN:
        # E k for x <= 0, 1 - E k above, k = (|x| - |r|) Q(s) (_GELU_DQ); x clipped to
        # [-15, 15]: beyond, the float32 results are those of the clip (-0.0 and 1)
        xc = m.clip(x, -15.0, 15.0)
        ax = abs(xc)  # (abs: one operation, no select of a -xc)
        s = m.erfcx_s(ax * _SQRT1_2)
        z = s * s
        k = ((ax + _GELU_R_HI) + _GELU_R_LO) * (_GELU_DQ_EVEN(m, z) + s * _GELU_DQ_ODD(m, z))
        ek = m.exp_near(-0.5 * (xc * xc)) * k  # (exp's argument in [-112.5, 0]: no clip)
        return m.where(xc > 0, 1.0 - ek, ek)
    # Phi(x) + x phi(x) = E (H / 2 + x / sqrt(2 pi)) for x < 0 (g2 last: rounded once
    # where subnormal), 1 + E (x / sqrt(2 pi) - H / 2) for x >= 0
    xc, h, g, g2 = _gelu_parts(m, x)
    d = m.where(
        xc > 0,
        1.0 + g * (xc * INV_SQRT_2PI - 0.5 * h),
        (g * (0.5 * h + xc * INV_SQRT_2PI)) * g2,
    )
    d = m.where((x < 0.3) & (x > -0.3), 0.5 + x * _GELU0_D(m, x * x), d)
    return _GELU_PATCH(m, x, d)


@formula
def _gelu_tanh_parts(m, x):
    """``(xc, sigmoid(2u), sigmoid(-2u), w, ew)``, u = sqrt(2/pi) (x + 0.044715 x**3).

    In the tails sigmoid(2u) ~ exp(2u) multiplies the relative error of 2u by |2u| (up
    to ~700): 2u = w + ew is formed in double-double (exact products, Knuth's sum) and
    its low part fed back through sigmoid'(w) = sigmoid(w) sigmoid(-w).
    """
    # (the constants inline: Triton makes a float assigned to a name a float32)
    xc = m.clip(x, -_GELU_LIM, _GELU_LIM)
    p2 = xc * xc
    e2 = m.square_err(xc, p2)
    p3 = xc * p2
    e3 = m.prod_err(xc, p2, p3) + xc * e2  # x**3 = p3 + e3
    q = (_TANH_K32 if m.F32 else _TANH_K64) * p3
    eq = (
        m.prod_err(p3, _TANH_K32 if m.F32 else _TANH_K64, q)
        + (_TANH_K32 if m.F32 else _TANH_K64) * e3
    )  # k x**3 = q + eq
    v = xc + q
    bv = v - xc
    ev = ((xc - (v - bv)) + (q - bv)) + eq  # x + k x**3 = v + ev
    w = (_TANH_C32 if m.F32 else _TANH_C64) * v
    ew = m.prod_err(v, _TANH_C32 if m.F32 else _TANH_C64, w) + (
        (_TANH_C32 if m.F32 else _TANH_C64) * ev + (_TANH_R32 if m.F32 else _TANH_R64) * v
    )  # 2u = w + ew
    s, t = m.sigmoid2(w)
    st = (s * t) * ew
    return xc, s + st, t - st, w, ew


@formula
def _gelu_tanh_far(m, w, ew, factor):
    """``factor * sigmoid(w + ew)`` for w < -600 (where sigmoid(w) = e**w to the last
    bit): ``e**w`` alone would be subnormal (few bits) before it meets ``factor``; with
    ``h = e**(w/2)`` (normal, ``w/2`` exact) the product rounds once, at the end."""
    h = m.exp(0.5 * m.where(w < -600.0, w, -600.0))
    return ((factor * (1.0 + ew)) * h) * h


@formula
def _gelu_tanh(m, x):
    if m.LEAN:  # float32 results: x sigmoid(2u), from the derivative's parts too
        return _gelu_tanh_lean_v(m, x, _gelu_tanh_lean(m, x)[1])
    # 0.5 x (1 + tanh u) = x sigmoid(2u): no cancellation in the negative tail
    xv = m.where(x < -_GELU_LIM, -_GELU_LIM, x)  # x * 0 below: never -inf * 0
    xc, s, t, w, ew = _gelu_tanh_parts(m, x)
    return m.tiny_half(x, m.where(w < -600.0, _gelu_tanh_far(m, w, ew, xv), xv * s))


@formula
def _gelu_tanh_d(m, x):
    if m.LEAN:
        xc, s, t = _gelu_tanh_lean(m, x)
        return _gelu_tanh_lean_d(m, x, xc, s, t)
    # d/dx [x sigmoid(2u)] = s + 2 x s (1 - s) u' = s (1 + 2 x t u')
    xc, s, t, w, ew = _gelu_tanh_parts(m, x)
    du = SQRT_2_OVER_PI * (1.0 + (3.0 * _GELU_K) * (xc * xc))
    f = 1.0 + 2.0 * xc * t * du
    d = m.where(w < -600.0, _gelu_tanh_far(m, w, ew, f), s * f)
    return _GELU_TANH_PATCH(m, x, d)


@formula
def _gelu_tanh_lean(m, x):
    """``(xc, s, t)`` of the lean forms: x clipped to [-15, 15] (|w| <= 265, w = 2u),
    s, t = sigmoid(w), sigmoid(-w)."""
    xc = m.clip(x, -15.0, 15.0)
    w = _TANH_C64 * (xc + _GELU_K * (xc * (xc * xc)))
    s, t = m.sigmoid2_near(w)  # (|w| <= 265: no clip)
    return xc, s, t


@formula
def _gelu_tanh_lean_v(m, x, s):
    # tiny_half's value from a nudged x (s is 1/2 exactly there)
    return m.tiny_nudge(m.where(x < -15.0, -15.0, x)) * s


@formula
def _gelu_tanh_lean_d(m, x, xc, s, t):
    du = SQRT_2_OVER_PI * (1.0 + (3.0 * _GELU_K) * (xc * xc))
    return _GELU_TANH_PATCH(m, x, s * (1.0 + 2.0 * xc * t * du))


@formula
def _gelu_tanh_both(m, x):
    """``(value, derivative)`` of gelu (tanh): the lean forms from one sigmoid pair."""
    if m.LEAN:
        xc, s, t = _gelu_tanh_lean(m, x)
        return _gelu_tanh_lean_v(m, x, s), _gelu_tanh_lean_d(m, x, xc, s, t)
    return _gelu_tanh(m, x), _gelu_tanh_d(m, x)


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
        math=Math.choice(
            "approximate",
            {
                "none": Math(_gelu_erf, _gelu_erf_d, cost="heavy"),
                "tanh": Math(_gelu_tanh, _gelu_tanh_d, cost="heavy", both=_gelu_tanh_both),
            },
        ),
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
        "erfc is not in the Array API: relukit computes erfc(a) = exp(-a^2) erfcx(a) with "
        "its own erfcx polynomial (NumPy, Dask, JAX, Python numbers, the kernels; no "
        "SciPy), torch.special.erfcx on torch tensors, cupyx.scipy.special.erfcx on CuPy.",
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
_SILU_LEAN = 200.0  # the same for float32 results (and their products with a float32)
# silu' next to its zero; lean: from 0.02 on (1 + x + e**x) / (1 + e**x) has no
# cancellation but that of the exact 1 + x: 8 terms (the ninth is below 1e-17 relative)
_SILU_PATCH = Patch("silu", width=0.45, lean_terms=8, lean_width=0.02)


@formula
def _silu(m, x):
    if m.LEAN:
        # float32 results: x clipped to +-120 (a float32 clip; beyond, the results are
        # those of the clip: -0.0 and x), so that exp needs no clip of its own; next to
        # 0, tiny_half's rounding from a nudged x (1 + e^-x is 2 exactly there). The
        # loop is bound by its vector operations: each one saved counts
        xc = m.clip(x, -120.0, 120.0)
        xv = m.tiny_nudge(m.where(x < -120.0, -120.0, x))
        return xv / (1.0 + m.exp_near(-xc))
    # x / (1 + e^-x): 3 roundings. Far left, e^-x overflows and e^x is subnormal (few
    # bits): there x e^x = (x h) h with h = e^(x/2) normal, one rounding into the result.
    far = x < m.EXP_TAIL
    xt = m.where(x < -_SILU_FLAT, -_SILU_FLAT, x)  # h = 0 already there: no -inf * 0
    e = m.exp(m.where(far, 0.5 * xt, -x))
    r = m.where(far, (xt * e) * e / (1.0 + e * e), x / (1.0 + e))
    return m.tiny_half(x, m.where(x == -math.inf, -0.0, r))


@formula
def _silu_d(m, x):
    # sigmoid(x) (1 + x sigmoid(-x)), sigmoid(-x) formed directly (x clipped to ±1500,
    # where the result is its limit already: no inf * 0); far left
    # e^x (1 + x) / (1 + e^x) from h = e^(x/2), with no early underflow
    if m.LEAN:
        # x clipped to +-200, where silu' is 1 or -2.8e-85 (a float32 -0, also times any
        # finite float32: a gated entry's product), so that +-inf need no test.
        # x < 0: 1 + x sigmoid(-x) = ((1 + x) + e) / (1 + e), e = e^x, with 1 + x exact
        # for a float32 x: the only cancellation left is within 0.02 of the zero
        # (the clip as a max and a min, the sign from x: fewer vector operations)
        xc = m.where(x < -_SILU_LEAN, -_SILU_LEAN, x)
        xc = m.where(xc > _SILU_LEAN, _SILU_LEAN, xc)
        pos = x >= 0
        e = m.exp_near(-abs(xc))  # (in [-200, 0]: no clip; abs, one operation)
        other = e / (1.0 + e)
        one = 1.0 - other
        q = m.where(pos, 1.0 + xc * other, ((1.0 + xc) + e) * one)
        return _SILU_PATCH(m, x, m.where(pos, one, other) * q)
    xc = m.clip(x, -_SILU_FLAT, _SILU_FLAT)
    far = x < m.EXP_TAIL
    pos = xc >= 0
    e = m.exp(m.where(far, 0.5 * xc, m.where(pos, -xc, xc)))
    other = e / (1.0 + e)
    one = 1.0 - other
    s = m.where(pos, one, other)
    q = 1.0 + xc * m.where(pos, other, one)
    d = _SILU_PATCH(m, x, s * q)
    d = m.where(far, (e * (1.0 + xc)) * e / (1.0 + e * e), d)
    return m.where(x == -math.inf, -0.0, m.where(x == math.inf, 1.0, d))


silu = register(
    Activation(
        name="silu",
        summary="Sigmoid linear unit (swish): x * sigmoid(x).",
        formula="silu(x) = x * sigmoid(x) = x / (1 + exp(-x))",
        derivative_formula="silu'(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x)))",
        latex=r"\mathrm{silu}(x) = x\,\sigma(x) = \frac{x}{1 + e^{-x}}",
        derivative_latex=r"\mathrm{silu}'(x) = \sigma(x)\,\bigl(1 + x\,(1 - \sigma(x))\bigr)",
        math=Math(_silu, _silu_d),
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
_MISH_PATCH = Patch("mish", width=0.45, lean_terms=12, lean_width=0.1)


@formula
def _mish_t(m, xc):
    """``(tanh(softplus(x)), e, far)`` via n = e (e + 2), e = exp(x): tanh(sp) = n / (n + 2).

    x > 0: 1 - 2 / (n + 2) (no cancellation: 2 / (n + 2) < 2/3); x <= 0: n / (n + 2)
    written as e (1 - q), q = (e/2)(1 + e) / (1 + e + e^2/2) <= 0.2, so q's rounding
    hardly counts. ``far`` (x < m.EXP_TAIL): exp(x) would be subnormal (few bits), so
    ``e`` is h = exp(x/2) instead, for the callers' x e^x = (x h) h, rounded once (as
    silu's far left).
    """
    far = xc < m.EXP_TAIL
    e = m.exp(m.where(far, 0.5 * xc, xc))
    n = e * (e + 2.0)
    q = (0.5 * e) * (1.0 + e) / (1.0 + e + 0.5 * (e * e))
    return m.where(xc > 0, 1.0 - 2.0 / (n + 2.0), e - e * q), e, far


def _mish(m, x):
    if m.LEAN:
        # float32 results: x n / (n + 2) (n / (n + 2) is within 2 ulp of float64), x
        # clipped to [-120, 40] (below, the result is -0.0 as at -120), so that exp needs
        # no clip of its own (two operations fewer)
        xc = m.clip(x, -120.0, _MISH_HI)
        e = m.exp_near(xc)
        n = e * (e + 2.0)
        return m.where(x < -120.0, -120.0, x) * n / (n + 2.0)
    xc = m.clip(x, _MISH_LO, _MISH_HI)
    xl = m.where(x < _MISH_LO, _MISH_LO, x)  # -inf * 0 never formed
    t, e, far = _mish_t(m, xc)
    # far left: tanh(softplus(x)) = e^x to relative 1e-300, so mish = (x h) h
    return m.where(far, (xl * e) * e, xl * t)


def _mish_d(m, x):
    # mish' = t + x sech^2(sp) sigmoid(x) = t + x * 4 e (e + 1) / (n + 2)^2
    if m.LEAN:
        # float32 results: (n m + x 4 e (e + 1)) / m**2, m = n + 2, over one division;
        # x clipped to [-120, 40]: below -120 the result is -0.0 (the true e^x (1 + x) is
        # negative and rounds to -0.0), as the float64 form gives, where exp(x) underflows
        # too; exp needs no clip of its own and -0.0 no selection (three operations fewer)
        xc = m.clip(x, -120.0, _MISH_HI)
        e = m.exp_near(xc)
        n = e * (e + 2.0)
        mm = n + 2.0
        return _MISH_PATCH(m, x, (n * mm + xc * ((4.0 * e) * (e + 1.0))) / (mm * mm))
    xc = m.clip(x, _MISH_LO, _MISH_HI)
    t, e, far = _mish_t(m, xc)
    mm = e * e + 2.0 * e + 2.0
    d = t + xc * ((4.0 * e) * (e + 1.0) / (mm * mm))
    # far left: mish' = e^x (1 + x) to relative 1e-300: ((1 + x) h) h, rounded once
    return _MISH_PATCH(m, x, m.where(far, ((1.0 + xc) * e) * e, d))


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
        math=Math(_mish, _mish_d),
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


def _softplus(m, x, beta, threshold):
    # log(1 + e^z) = max(z, 0) + log1p(exp(-|z|)), z = beta x: no overflow, no cancellation
    z = x * beta
    if m.LEAN:
        # float32 results: -|z| (one operation: its sign bit set; exp(-0.0) = exp(0.0))
        # clipped at -708 by one clamp, and exp with no clip of its own (-|z| <= 0: the
        # upper one never acts). The loop is bound by its vector operations
        nz = -abs(z)
        e = m.exp_near(m.where(nz < -708.0, -708.0, nz))
        sp = m.div(m.where(z > 0, z, 0.0) + m.log1p01(e), beta)
        return m.where(z > threshold, x, sp)
    pos = z > 0
    sp = m.div(m.where(pos, z, 0.0) + m.log1p01(m.exp(m.where(pos, -z, z))), beta)
    return m.where(z > threshold, x, sp)


def _softplus_d(m, x, beta, threshold):
    z = x * beta
    if m.LEAN:
        # the lean sigmoid written out with -|z| (one operation, where its z < 0 ? z : -z
        # takes two; the same value, -0.0 at z = +-0): r = 1 / (1 + e), e = exp(-|z|)
        # clipped at -700, r for z >= 0, e r below
        nz = -abs(z)
        e = m.exp_near(m.where(nz < -700.0, -700.0, nz))
        r = 1.0 / (1.0 + e)
        return m.where(z > threshold, 1.0, m.where(z >= 0, r, e * r))
    return m.where(z > threshold, 1.0, m.sigmoid(z))


def _softplus_lean(beta: float, threshold: float) -> bool:
    # the lean exp clips at -708, where exp(.) / beta rounds to 0 in float32 for
    # beta >= 1e-262
    return beta >= 1e-262


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
        math=Math(_softplus, _softplus_d, lean=_softplus_lean, cost="heavy"),
        params_list=(
            Param("beta", 1.0, "sharpness", low=0.0, low_inclusive=False),
            Param("threshold", 20.0, "beta * x above which softplus(x) is x"),
        ),
        kinks=(
            Kink(
                "threshold / beta",
                location=lambda p: p["threshold"] / p["beta"],
                left=lambda p: MATH.sigmoid(p["threshold"]),
                right=lambda p: 1.0,
                default=lambda p: MATH.sigmoid(p["threshold"]),
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


def _hardswish(m, x):
    # x <= -3 -> -0.0 (x * 0 with x < 0, as PyTorch for finite x; the limit at -inf);
    # x >= 3 -> x. At -3 and 3 autograd takes the constant / identity branch: 0 and 1,
    # which is what PyTorch's backward gives there. The lean namespace multiplies by
    # 1/6: the same float32 results on every float32 input (tools/check_f32_sixth.py).
    if m.LEAN:
        # float32 results, in fewer vector operations (the loop is bound by them): the
        # pieces selected by comparisons of x, which the compiler makes on the float32
        # input (16 lanes a vector, where clamps of the float64 x took two vectors each:
        # 8% less time on an AVX-512 CPU), x (x + 3) / 6 exact but for its last rounding, and
        # tiny_half's rounding from a nudged x (x (x + 3) / 6 is 3x / 6 there). The same
        # float32 results as the clamps on all 2**32 inputs.
        r = (m.tiny_nudge(x) * (x + 3.0)) * (1.0 / 6.0)
        return m.where(x <= -3.0, -0.0, m.where(x >= 3.0, x, r))
    xm = m.clip(x, -3.0, 3.0)  # no overflow in the branch not taken
    mid = m.tiny_half(x, m.div(xm * (xm + 3.0), 6.0))
    return m.where(x <= -3, -0.0, m.where(x >= 3, x, mid))


def _hardswish_d(m, x):
    if m.LEAN:
        xm = x  # (a float32 x cannot overflow in float64: no clip)
    else:
        xm = m.clip(x, -3.0, 3.0)
    return m.where(x <= -3, 0.0, m.where(x >= 3, 1.0, m.div(2.0 * xm + 3.0, 6.0)))


hardswish = register(
    Activation(
        name="hardswish",
        summary="Hard swish: x * relu6(x + 3) / 6.",
        formula="hardswish(x) = 0 if x <= -3, x if x >= 3, x * (x + 3) / 6 otherwise",
        derivative_formula="hardswish'(x) = 0 if x <= -3, 1 if x >= 3, (2x + 3) / 6 otherwise",
        latex=r"\mathrm{hardswish}(x) = x\,\frac{\min(\max(x + 3, 0), 6)}{6}",
        derivative_latex=r"\mathrm{hardswish}'(x) = \begin{cases} 0 & x \le -3 \\ "
        r"\frac{2x + 3}{6} & -3 < x < 3 \\ 1 & x \ge 3 \end{cases}",
        math=Math(_hardswish, _hardswish_d, cost="light"),
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


@formula
def _squareplus_s(m, u, b):
    """``sqrt(u**2 + b)`` for u >= 0 without overflow: as written while the larger of u
    and sqrt(b) is below 1e150 (1e18 in a float32 working precision, where u**2
    overflows above 1.8e19: bfloat16 inputs on a GPU, JAX's float32), else scaled by
    it, big sqrt(1 + (small/big)**2)."""
    if m.LEAN:  # u**2 cannot overflow for a float32 x
        return m.sqrt(u * u + b)
    sb = m.sqrt(b)
    big = m.where(u > sb, u, sb)
    small = m.where(u > sb, sb, u)
    r = small / big
    return m.where(big < (1e18 if m.F32 else 1e150), m.sqrt(u * u + b), big * m.sqrt(1.0 + r * r))


def _squareplus(m, x, b):
    # (x + s) / 2 cancels for x < 0; there it equals (b/4) / ((s - x)/2), which does not.
    # u = |x| by `where`, not abs: autograd takes the x >= 0 side at 0
    u = m.where(x < 0, -x, x)
    h = 0.5 * _squareplus_s(m, u, b) + 0.5 * u  # halves: s + u never overflows
    return m.where(x < 0, (0.25 * b) / h, h)


def _squareplus_d(m, x, b):
    # (1 + x/s) / 2 = q for x < 0 and 1 - q for x >= 0, q = b / (2 s (s + u)): no
    # cancellation, no inf/inf (0 and 1 at -inf and inf)
    u = m.where(x < 0, -x, x)
    s = _squareplus_s(m, u, b)
    q = ((0.25 * b) / s) / (0.5 * s + 0.5 * u)
    return m.where(x < 0, q, 1.0 - q)


def _squareplus_dy(m, y, b):
    # y = (x + s)/2 and y (s - x) = b/2 give y' = y^2 / (y^2 + b/4) (y > 0 for finite x)
    yp = m.where(y > 0, y, 1.0)
    return m.where(y > 0, 1.0 / (1.0 + ((0.25 * b) / yp) / yp), 0.0)


squareplus = register(
    Activation(
        name="squareplus",
        summary="Squareplus: (x + sqrt(x^2 + b)) / 2, a softplus made of algebraic operations.",
        formula="squareplus(x) = (x + sqrt(x^2 + b)) / 2",
        derivative_formula="squareplus'(x) = (1 + x / sqrt(x^2 + b)) / 2",
        latex=r"\mathrm{squareplus}(x) = \frac{x + \sqrt{x^2 + b}}{2}",
        derivative_latex=r"\mathrm{squareplus}'(x) = \frac{1}{2}\left(1 + "
        r"\frac{x}{\sqrt{x^2 + b}}\right)",
        math=Math(_squareplus, _squareplus_d, from_output=_squareplus_dy),
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


def _sparse_plus(m, x):
    # `<=`/`>=` put -1 and 1 in the outer pieces, whose derivatives (0, 1) equal the middle
    # piece's there: the derivative is continuous, so there is no kink to choose at.
    if m.LEAN:
        xm = x  # (a float32 x cannot overflow in float64: no clip, one operation fewer)
    else:
        xm = m.clip(x, -1.0, 1.0)  # no overflow in the piece not taken
    return m.where(x <= -1, 0.0, m.where(x >= 1, x, (xm + 1.0) * (xm + 1.0) / 4.0))


def _sparse_plus_d(m, x):
    if m.LEAN:
        xm = x  # (as in the value)
    else:
        xm = m.clip(x, -1.0, 1.0)
    return m.where(x <= -1, 0.0, m.where(x >= 1, 1.0, (xm + 1.0) / 2.0))


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
        math=Math(_sparse_plus, _sparse_plus_d, cost="light"),
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

# ---------------------------------------------------------------------------
# squared_relu (relu2)
# ---------------------------------------------------------------------------


def _squared_relu(m, x):
    # +0.0 at -0.0, as relu. (A selection, not m.pos: from a float32 x widened to
    # float64, LLVM makes it in float32 and widens once; pos's addition would be a
    # float64 one, and the loop 1.3x slower.)
    r = m.where(x <= 0, 0.0, x)
    return r * r  # rounded once (x**2 of a float32 is exact in float64)


def _squared_relu_d(m, x):
    return m.where(x <= 0, 0.0, 2.0 * x)


squared_relu = register(
    Activation(
        name="squared_relu",
        summary="Squared ReLU: relu(x)**2 (Primer, Nemotron).",
        formula="squared_relu(x) = max(0, x)^2",
        derivative_formula="squared_relu'(x) = 2 max(0, x)",
        latex=r"\mathrm{squared\_relu}(x) = \max(0, x)^2",
        derivative_latex=r"\mathrm{squared\_relu}'(x) = 2\max(0, x)",
        math=Math(_squared_relu, _squared_relu_d, cost="light"),
        kinks=(),
        aliases=("relu2", "relu_squared", "squaredrelu"),
        nonnegative_output=True,
        zero_gradient_below=True,
        torch_name=None,
        jax_name=None,
        differences="No kink: the derivative 2 max(0, x) is continuous (0 at 0 from both "
        "sides); the second derivative jumps at 0. PyTorch and JAX have no squared ReLU; "
        "Hugging Face's ACT2FN calls it relu2 (torch.square(torch.relu(x))). Backward "
        "keeps the input: the derivative from the output, 2 sqrt(y), would have an "
        "infinite derivative at 0 (double backward).",
        examples="""
>>> import relukit as rk
>>> rk.squared_relu([-2.0, 0.5, 3.0]), rk.relu2 is rk.squared_relu
(array([0.  , 0.25, 9.  ]), True)
>>> rk.squared_relu.derivative(3.0), rk.squared_relu.derivative(0.0)
(6.0, 0.0)
""",
    )
)

relu2 = squared_relu  # the alias as a name (Hugging Face's ACT2FN spelling)

# ---------------------------------------------------------------------------
# star_relu
# ---------------------------------------------------------------------------


def _star_relu(m, x, scale, bias):
    r = m.where(x <= 0, 0.0, x)  # (as squared_relu)
    p = r * r
    # next to the zero of s r^2 + b the sum cancels: one fused s p + b, and r^2's exact
    # rounding error (29 ulp off in float64 without them); none where p is too large to
    # split exactly
    fine = p < 1e300
    e = scale * m.square_err(m.where(fine, r, 0.0), m.where(fine, p, 0.0))
    near = m.fma(scale, p, bias) + m.where(fine, e, 0.0)
    if m.LEAN:
        # float32 x and s != 0 (_star_relu_lean): r^2 < 1.2e77 never overflows and
        # s * inf is ±inf, so the far branch below would only cost time (the float32
        # loop 1.4x slower)
        return near
    # where r^2 overflows (or nearly): (s r) r, finite where s r^2 is (s = 1e-300,
    # x = 1e200), and 0 for s = 0 (the limit at x = +inf too, where 0 * inf is NaN):
    # the value is then b, a constant
    far = (scale * r) * r
    return m.where(fine, near, m.where(far != far, 0.0, far) + bias)


def _star_relu_d(m, x, scale, bias):
    d = m.where(x <= 0, 0.0, (2.0 * scale) * x)
    if m.LEAN:  # s != 0: no 0 * inf (as in _star_relu)
        return d
    # s = 0: 0 at x = +inf too (0 * inf is NaN), the derivative of a constant (a NaN x
    # gives its own NaN whatever a formula says)
    return m.where(d != d, 0.0, d)


def _star_relu_lean(scale: float, bias: float) -> bool:
    # the lean float32 forms leave out what only s = 0 needs (0 * inf at x = +inf)
    return scale != 0


star_relu = register(
    Activation(
        name="star_relu",
        summary="StarReLU: scale * relu(x)**2 + bias (MetaFormer, Yu et al. 2022).",
        formula="star_relu(x) = scale * max(0, x)^2 + bias",
        derivative_formula="star_relu'(x) = 2 scale max(0, x)",
        latex=r"\mathrm{star\_relu}(x) = s\,\max(0, x)^2 + b",
        derivative_latex=r"\mathrm{star\_relu}'(x) = 2 s \max(0, x)",
        math=Math(_star_relu, _star_relu_d, lean=_star_relu_lean, cost="light"),
        params_list=(
            Param(
                "scale",
                0.8944271909999159,
                "s; the paper's 1/sqrt(1.25) keeps unit variance for a normal input",
                learnable=True,
            ),
            Param(
                "bias",
                -0.4472135954999579,
                "b; the paper's -0.5/sqrt(1.25) keeps zero mean for a normal input",
                learnable=True,
            ),
        ),
        kinks=(),
        torch_name=None,
        jax_name=None,
        differences="Yu et al. 2022 (MetaFormer Baselines for Vision) define StarReLU with "
        "s = 1/sqrt(1.25) = 0.8944 and b = -0.5/sqrt(1.25) = -0.4472, constant or learnable "
        "(relukit.torch.StarReLU learns them); timm's StarReLU starts from s = 1, b = 0. "
        "PyTorch and JAX have none. No kink: the derivative is continuous.",
        examples="""
>>> import relukit as rk
>>> rk.star_relu(0.0), rk.star_relu(2.0, scale=1.0, bias=0.0)
(-0.4472135954999579, 4.0)
""",
    )
)

# ---------------------------------------------------------------------------
# quick_gelu
# ---------------------------------------------------------------------------

_QUICK = 1.702  # OpenAI CLIP's constant: sigmoid(1.702 x) approximates Phi(x)


@formula
def _swish_beta(m, x, beta):
    """x sigmoid(beta x): silu's formula for beta = 1, else as silu with z = beta x."""
    if m.LEAN:
        # x s, s = sigmoid(z) from the parts the lean derivative uses too (_swish_both
        # computes them once); for every beta, with no test of beta, which would keep
        # the kernels' loop from being vectorised
        return _swish_lean_v(m, x, _swish_lean_parts(m, x, beta)[2])
    if beta == 1.0:
        return _silu(m, x)
    # x sigmoid(z): sigmoid's full relative accuracy, one rounding more. Far left,
    # sigmoid(z) = e^z is subnormal (few bits): there x e^z = (x h) h with h = e^(z/2)
    # normal, rounded once into the result (as silu)
    z = beta * x
    far = z < m.EXP_TAIL
    zt = m.where(z < -_SILU_FLAT, -_SILU_FLAT, z)
    h = m.exp(0.5 * zt)
    xt = m.where(x < -_SILU_FLAT / beta, -_SILU_FLAT / beta, x)  # (h = 0: no -inf * 0)
    s = m.sigmoid(z)
    r = m.where(far, ((xt * h) * h) / (1.0 + h * h), x * s)
    if not m.LEAN:
        # z = beta x is rounded: sigmoid's relative error from it grows as |z| / 2 ulp
        # (100 ulp at x = -60 for quick_gelu). With beta x = z + ez exactly,
        # x sigmoid(z + ez) = x sigmoid(z) (1 + (1 - sigmoid(z)) ez) to first order;
        # where the term is 0, r as it is: an underflowed r keeps its sign (-0.0 + 0.0
        # would be +0.0), and r = inf at x = inf (k = 0 there: inf * 0)
        k = (1.0 - s) * _swish_beta_err(m, x, beta, z)
        c = r * k
        r = m.where((k == 0.0) | (c == 0.0), r, r + c)
    # tiny_half next to 0 (silu's x/2 + x**2/4: the rounding of a tie), where z is tiny
    # too, so that sigmoid(z) is 1/2 (not for a huge beta)
    r = m.where(x == -math.inf, -0.0, r)
    return m.where((z < 1e-20) & (z > -1e-20), m.tiny_half(x, r), r)


@formula
def _swish_lean_parts(m, x, beta):
    """``(z, e, s)`` of the lean forms: z = beta x clipped to [-1e200, 200], e = e^-z (the
    lean exp clips its own argument), s = 1 / (1 + e) = sigmoid(z). Above 200 the value
    is x and the derivative 1; below -1e200 both are tiny (their float32 roundings are
    -0, also times any finite float32: a gated entry's product), and -inf needs no inf
    * 0 in the derivative."""
    z = m.clip(beta * x, -1e200, 200.0)
    e = m.exp(-z)
    return z, e, 1.0 / (1.0 + e)


@formula
def _swish_lean_v(m, x, s):
    # tiny_half's value from a nudged x (s is 1/2 exactly where it counts, |x| < 2**-125:
    # _swish_lean_ok), in fewer operations
    return m.where(x == -math.inf, -0.0, m.tiny_nudge(x) * s)


def _swish_lean_ok(beta):
    """The lean forms need sigmoid(beta x) = 1/2 exactly where |x| < 2**-125."""
    return beta <= 2.0**60


@formula
def _swish_lean_d(m, x, beta, z, e, s):
    # s (1 + z (1 - s)), 1 - s = e s. Its cancellation next to silu''s zero costs
    # 4e-16 / |silu'(z)| relative, below float32's budget from 0.007 of the zero on:
    # the patch covers 0.02
    return _SILU_PATCH(m, beta * x, s * (1.0 + z * (e * s)))


@formula
def _swish_both(m, x, beta):
    """``(value, derivative)`` of swish_beta: the lean forms from one set of parts (one
    ``exp``, one division), for the kernels that need both (a gated entry's backward)."""
    if m.LEAN:
        z, e, s = _swish_lean_parts(m, x, beta)
        return _swish_lean_v(m, x, s), _swish_lean_d(m, x, beta, z, e, s)
    return _swish_beta(m, x, beta), _swish_beta_d(m, x, beta)


@formula
def _swish_beta_err(m, x, beta, z):
    """``beta x - z`` (``z = fl(beta x)``) exactly; 0 beyond |x| = 1e6, where sigmoid is
    0 or 1 to far below an ulp (and the exact split would overflow)."""
    xc = m.clip(x, -1e6, 1e6)
    return m.where(x == xc, m.prod_err(beta, xc, z), 0.0)


@formula
def _swish_beta_d(m, x, beta):
    """d/dx [x sigmoid(beta x)] = silu'(beta x): silu's derivative, zero patch included."""
    if m.LEAN:  # from the value's parts (no test of beta, as there)
        z, e, s = _swish_lean_parts(m, x, beta)
        return _swish_lean_d(m, x, beta, z, e, s)
    if beta == 1.0:
        return _silu_d(m, x)
    z = beta * x
    d = _silu_d(m, z)
    # the rounding of z (see _swish_beta): silu'(z + ez) = silu'(z) + silu''(z) ez,
    # silu''(z) = s (1 - s) (2 + z (1 - 2 s)), s = sigmoid(z)
    s = m.sigmoid(z)
    ez = _swish_beta_err(m, x, beta, z)
    zc = m.clip(z, -_SILU_FLAT, _SILU_FLAT)  # (s (1 - s) = 0 beyond: no inf * 0)
    c = (s * (1.0 - s)) * (2.0 + zc * (1.0 - 2.0 * s)) * ez
    return m.where(c == 0.0, d, d + c)  # (an underflowed d keeps its sign, as above)


def _quick_args(p, x=None, xp=None):
    return (_QUICK,)  # (beta as an argument: the kernels read it in float64)


quick_gelu = register(
    Activation(
        name="quick_gelu",
        summary="Quick GELU: x * sigmoid(1.702 x), the GELU approximation of OpenAI's CLIP.",
        formula="quick_gelu(x) = x * sigmoid(1.702 x)",
        derivative_formula="quick_gelu'(x) = silu'(1.702 x)",
        latex=r"\mathrm{quick\_gelu}(x) = x\,\sigma(1.702\,x)",
        derivative_latex=r"\mathrm{quick\_gelu}'(x) = \sigma(1.702 x)\bigl(1 + 1.702\,x\,"
        r"(1 - \sigma(1.702 x))\bigr)",
        math=Math(
            _swish_beta, _swish_beta_d, args=_quick_args, both=_swish_both, lean=_swish_lean_ok
        ),
        kinks=(),
        aliases=("quickgelu",),
        torch_name=None,
        jax_name=None,
        differences="Hugging Face's QuickGELUActivation and open_clip's QuickGELU compute "
        "x * torch.sigmoid(1.702 * x); PyTorch and JAX have none. relukit gives the limit "
        "-0.0 at -inf (torch: nan) and keeps full accuracy in the far left tail.",
        examples="""
>>> import relukit as rk
>>> round(rk.quick_gelu(1.0), 6), rk.quick_gelu(float("-inf"))
(0.845796, -0.0)
""",
    )
)
