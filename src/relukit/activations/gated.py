"""Gated linear units: ``f(gate) * up``, one block per activation.

The feed-forward blocks of language models (Shazeer, "GLU Variants Improve Transformer",
2020): Llama, Mistral and Qwen use SwiGLU, Gemma GeGLU (tanh), T5 v1.1 GeGLU. Each
entry is marked ``gated=True`` and its :class:`~relukit.catalogue.Math` holds the gate's
activation ``f``; every backend computes ``f(gate) * up`` from it (and the derivatives
``f'(gate) * up`` and ``f(gate)``), in float64 for float32 inputs with one rounding at
the end.

Two calling forms (the convention table of :mod:`relukit.conventions` lists them next
to PyTorch's, JAX's and the paper's):

* two arrays, ``swiglu(gate, up)``: the activation applies to the first (as Shazeer's
  ``Swish(xW) * xV``, Hugging Face's ``act_fn(gate_proj(x)) * up_proj(x)`` and
  Liger-Kernel's ``swiglu(a, b)``);
* one array split in halves along ``dim``, ``swiglu(x, dim=-1)``: the gate is the
  second half, as ``torch.nn.GLU`` and ``jax.nn.glu`` (``first * sigmoid(second)``).
"""

from __future__ import annotations

from relukit.activations.curved import (
    _gelu_erf,
    _gelu_erf_d,
    _gelu_tanh,
    _gelu_tanh_both,
    _gelu_tanh_d,
    _swish_beta,
    _swish_beta_d,
    _swish_both,
    _swish_lean_ok,
)
from relukit.activations.rectifiers import _relu, _relu_d
from relukit.catalogue import Activation, Kink, Math, Param, register

__all__ = ["bilinear", "geglu", "glu", "reglu", "swiglu"]

_FORMS = (
    "Two arrays: f(gate) * up; one array x split in halves along dim (as torch.nn.GLU): "
    "f(second half) * first half."
)

# ---------------------------------------------------------------------------
# glu
# ---------------------------------------------------------------------------


def _sigmoid(m, x):
    return m.sigmoid(x)


def _sigmoid_d(m, x):
    s, t = m.sigmoid2(x)  # sigmoid(x) sigmoid(-x): no 1 - sigmoid(x) cancellation
    return s * t


glu = register(
    Activation(
        name="glu",
        summary="Gated linear unit: sigmoid(gate) * up (Dauphin et al. 2017).",
        formula="glu(gate, up) = sigmoid(gate) * up; glu(x, dim) = x1 * sigmoid(x2), "
        "x = [x1, x2] along dim",
        derivative_formula="d/d gate = sigmoid(gate) (1 - sigmoid(gate)) up, "
        "d/d up = sigmoid(gate)",
        latex=r"\mathrm{glu}(g, u) = \sigma(g)\,u",
        derivative_latex=r"\frac{\partial}{\partial g} = \sigma(g)\,\sigma(-g)\,u,\quad "
        r"\frac{\partial}{\partial u} = \sigma(g)",
        math=Math(_sigmoid, _sigmoid_d),
        gated=True,
        torch_name="torch.nn.functional.glu",
        jax_name="jax.nn.glu",
        differences="torch.nn.functional.glu(x, dim) and jax.nn.glu(x, axis) take one "
        "array and gate with its second half, as relukit's one-array form; relukit also "
        "takes the two halves as two arrays, glu(gate, up). " + _FORMS,
        examples="""
>>> import relukit as rk
>>> rk.glu(0.0, 3.0)
1.5
>>> rk.glu([2.0, 0.0])                 # one array: first half * sigmoid(second half)
array([1.])
>>> rk.glu.derivative(0.0, 3.0)        # (d/d gate, d/d up)
(0.75, 0.5)
""",
    )
)

# ---------------------------------------------------------------------------
# reglu
# ---------------------------------------------------------------------------

reglu = register(
    Activation(
        name="reglu",
        summary="ReLU-gated linear unit: relu(gate) * up (Shazeer 2020).",
        formula="reglu(gate, up) = max(0, gate) * up",
        derivative_formula="d/d gate = (1 if gate > 0 else 0) * up, d/d up = max(0, gate)",
        latex=r"\mathrm{reglu}(g, u) = \max(0, g)\,u",
        derivative_latex=r"\frac{\partial}{\partial g} = [g > 0]\,u,\quad "
        r"\frac{\partial}{\partial u} = \max(0, g)",
        math=Math(_relu, _relu_d, exact=True),
        gated=True,
        kinks=(
            Kink.fixed(
                0,
                left=0,
                right=1,
                default=0,
                note="d/d gate at gate = 0 is 0 * up (relu'(0) = 0, as PyTorch's relu); "
                "at_kink replaces relu'(0)",
            ),
        ),
        torch_name=None,
        jax_name=None,
        differences="PyTorch and JAX have no reglu (F.relu(gate) * up). " + _FORMS,
        examples="""
>>> import relukit as rk
>>> rk.reglu([-1.0, 2.0], [5.0, 3.0])
array([0., 6.])
>>> rk.reglu.derivative(0.0, 3.0, at_kink=1.0)
(3.0, 0.0)
""",
    )
)

# ---------------------------------------------------------------------------
# geglu
# ---------------------------------------------------------------------------

geglu = register(
    Activation(
        name="geglu",
        summary="GELU-gated linear unit: gelu(gate) * up (Shazeer 2020; T5 v1.1, Gemma).",
        formula="geglu(gate, up) = gelu(gate) * up, gelu exact or tanh (approximate=)",
        derivative_formula="d/d gate = gelu'(gate) up, d/d up = gelu(gate)",
        latex=r"\mathrm{geglu}(g, u) = g\,\Phi(g)\,u",
        derivative_latex=r"\frac{\partial}{\partial g} = \bigl(\Phi(g) + g\,\varphi(g)\bigr)"
        r"\,u,\quad \frac{\partial}{\partial u} = g\,\Phi(g)",
        math=Math.choice(
            "approximate",
            {
                # (the lean erf form clips the gate at -15: float64 primitives)
                "none": Math(_gelu_erf, _gelu_erf_d, cost="heavy", lean_tails=False),
                "tanh": Math(_gelu_tanh, _gelu_tanh_d, cost="heavy", both=_gelu_tanh_both),
            },
        ),
        gated=True,
        params_list=(
            Param(
                "approximate",
                "none",
                "'none' for the exact gelu, 'tanh' for the tanh approximation (Gemma's "
                "gelu_pytorch_tanh)",
                kind="choice",
                choices=("none", "tanh"),
            ),
        ),
        torch_name=None,
        jax_name=None,
        differences="PyTorch and JAX have no geglu (F.gelu(gate) * up). " + _FORMS,
        examples="""
>>> import relukit as rk
>>> rk.geglu(1.0, 2.0), rk.geglu(1.0, 2.0, approximate="tanh")
(1.682689492137086, 1.6823839812165535)
""",
    )
)

# ---------------------------------------------------------------------------
# swiglu
# ---------------------------------------------------------------------------

swiglu = register(
    Activation(
        name="swiglu",
        summary="Swish-gated linear unit: swish_beta(gate) * up (Shazeer 2020; Llama, "
        "Mistral, Qwen).",
        formula="swiglu(gate, up) = gate * sigmoid(beta * gate) * up",
        derivative_formula="d/d gate = silu'(beta gate) up, d/d up = gate sigmoid(beta gate)",
        latex=r"\mathrm{swiglu}(g, u) = g\,\sigma(\beta g)\,u",
        derivative_latex=r"\frac{\partial}{\partial g} = \sigma(\beta g)\bigl(1 + \beta g\,"
        r"\sigma(-\beta g)\bigr)\,u,\quad \frac{\partial}{\partial u} = g\,\sigma(\beta g)",
        math=Math(_swish_beta, _swish_beta_d, both=_swish_both, lean=_swish_lean_ok),
        gated=True,
        params_list=(
            Param(
                "beta",
                1.0,
                "the swish's sharpness: 1 is silu (Llama's SwiGLU)",
                low=0.0,
                low_inclusive=False,
            ),
        ),
        torch_name=None,
        jax_name=None,
        differences="PyTorch and JAX have no swiglu (F.silu(gate) * up; PyTorch's "
        "feature request for nn.SwiGLU is open). relukit computes silu(gate) * up in "
        "float64 and rounds once, where F.silu(gate) * up rounds twice. " + _FORMS,
        examples="""
>>> import relukit as rk
>>> rk.swiglu(1.0, 2.0) == 2 * rk.silu(1.0)
True
>>> rk.swiglu.derivative(0.0, 4.0)
(2.0, 0.0)
""",
    )
)

# ---------------------------------------------------------------------------
# bilinear
# ---------------------------------------------------------------------------


def _identity(m, x):
    return x


def _identity_d(m, x):
    return m.where(x != x, x, 1.0)


bilinear = register(
    Activation(
        name="bilinear",
        summary="Bilinear unit: gate * up, no activation (Shazeer 2020).",
        formula="bilinear(gate, up) = gate * up",
        derivative_formula="d/d gate = up, d/d up = gate",
        latex=r"\mathrm{bilinear}(g, u) = g\,u",
        derivative_latex=r"\frac{\partial}{\partial g} = u,\quad \frac{\partial}{\partial u} = g",
        math=Math(_identity, _identity_d, exact=True, cost="memory"),
        gated=True,
        torch_name=None,
        jax_name=None,
        differences="The GLU variant without an activation (Shazeer 2020). " + _FORMS,
        examples="""
>>> import relukit as rk
>>> rk.bilinear(3.0, -2.0), rk.bilinear.derivative(3.0, -2.0)
(-6.0, (-2.0, 3.0))
""",
    )
)
