"""The ReLU family, generated from the catalogue: values and derivatives on NumPy.

Oracles are independent of relukit's formulas: mpmath (50 digits) definitions written
here, PyTorch's functions and autograd (kink conventions), central finite differences.
The array-library matrix is in test_array_api.py, autograd in test_autograd.py.

The gated entries (``f(gate) * up``) run through the same tests as functions of the gate
with ``up = UP`` fixed (value ``f(x) * UP``, derivative ``f'(x) * UP``); both inputs,
both calling forms and the composite in torch and JAX are in test_gated.py.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relukit as rk

ROOT = Path(__file__).resolve().parents[1]
inf, nan = math.inf, math.nan

# ---------------------------------------------------------------------------
# oracle: the definitions in mpmath, with parameters
# ---------------------------------------------------------------------------

with mp.workdps(60):  # not the default 15 digits
    LAM = mp.mpf("1.0507009873554804934193349852946")
    ALP = mp.mpf("1.6732632423543772848170429916717")


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _cdf(x):
    if abs(x) > 1e4:  # mpmath's erfc overflows there; 1 - cdf(|x|) < 1e-10000
        return mp.mpf(x > 0)
    return mp.erfc(-x / mp.sqrt(2)) / 2


def _phi(x):
    return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def _gelu_tanh(x):
    return x * _sig(2 * mp.sqrt(2 / mp.pi) * (x + mp.mpf(0.044715) * x**3))


def _gelu_tanh_d(x):
    c = mp.sqrt(2 / mp.pi)
    u = c * (x + mp.mpf(0.044715) * x**3)
    return _sig(2 * u) + x / 2 * mp.sech(u) ** 2 * c * (1 + 3 * mp.mpf(0.044715) * x**2)


def _mish_d(x):
    t = mp.tanh(mp.log1p(mp.exp(x)))
    return t + x * _sig(x) * (1 - t * t)


#: the second input of the gated entries in the tests that iterate the catalogue:
#: negative and not 1, so that a product left out or misplaced shows
UP = -1.75


def _v(act, x, p, **kw):
    """The value at x (a gated entry: f(x) * UP)."""
    return act(x, UP, **p, **kw) if act.gated else act(x, **p, **kw)


def _d(act, x, p, **kw):
    """The derivative at x (a gated entry: with respect to the gate, f'(x) * UP)."""
    return act.derivative(x, UP, **p, **kw)[0] if act.gated else act.derivative(x, **p, **kw)


def _vd(act, x, p):
    if act.gated:
        v, (d, _) = act.value_and_derivative(x, UP, **p)
        return v, d
    return act.value_and_derivative(x, **p)


def _scale(name: str) -> float:
    """What a gated entry's derivative and kink limits are multiplied by: UP."""
    return UP if rk.get(name).gated else 1.0


def _gate(name: str, x, p: dict):
    """(f(x), f'(x)) of a gated entry's activation, in mpmath."""
    if name == "glu":
        return _sig(x), _sig(x) * _sig(-x)
    if name == "reglu":
        return max(x, 0), mp.mpf(x > 0)
    if name == "geglu":
        return oracle("gelu", x, p)
    if name == "swiglu":
        b = mp.mpf(p["beta"])
        return x * _sig(b * x), _sig(b * x) * (1 + b * x * (1 - _sig(b * x)))
    if name == "bilinear":
        return x, mp.mpf(1)
    raise KeyError(name)


def oracle(name: str, x: float, p: dict) -> tuple[mp.mpf, mp.mpf]:
    """(value, derivative) at x away from kinks (at a kink: either one-sided value)."""
    x = mp.mpf(x)
    if name == "relu":
        return max(x, 0), mp.mpf(x > 0)
    if name in ("leaky_relu", "prelu"):
        s = mp.mpf(p.get("negative_slope", p.get("weight")))
        return (x, 1) if x > 0 else (s * x, s)
    if name == "relu6":
        return min(max(x, 0), 6), mp.mpf(0 < x < 6)
    if name == "hardtanh":
        lo, hi = mp.mpf(p["min_val"]), mp.mpf(p["max_val"])
        return min(max(x, lo), hi), mp.mpf(lo < x < hi)
    if name == "elu":
        a = mp.mpf(p["alpha"])
        return (x, 1) if x > 0 else (a * mp.expm1(x), a * mp.exp(x))
    if name == "selu":
        return (LAM * x, LAM) if x > 0 else (LAM * ALP * mp.expm1(x), LAM * ALP * mp.exp(x))
    if name == "celu":
        a = mp.mpf(p["alpha"])
        return (x, 1) if x > 0 else (a * mp.expm1(x / a), mp.exp(x / a))
    if name == "gelu":
        if p["approximate"] == "tanh":
            return _gelu_tanh(x), _gelu_tanh_d(x)
        return x * _cdf(x), _cdf(x) + x * _phi(x)
    if name == "silu":
        return x * _sig(x), _sig(x) * (1 + x * (1 - _sig(x)))
    if name == "mish":
        return x * mp.tanh(mp.log1p(mp.exp(x))), _mish_d(x)
    if name == "softplus":
        b, t = mp.mpf(p["beta"]), mp.mpf(p["threshold"])
        if b * x > t:
            return x, mp.mpf(1)
        return mp.log1p(mp.exp(b * x)) / b, _sig(b * x)
    if name == "hardswish":
        if x <= -3:
            return mp.mpf(0), mp.mpf(0)
        if x >= 3:
            return x, mp.mpf(1)
        return x * (x + 3) / 6, (2 * x + 3) / 6
    if name == "hardsigmoid":
        if x <= -3:
            return mp.mpf(0), mp.mpf(0)
        if x >= 3:
            return mp.mpf(1), mp.mpf(0)
        return (x + 3) / 6, mp.mpf(1) / 6
    if name == "squareplus":  # jax.nn.squareplus's formula, in mpmath
        # x + sqrt(x^2 + b) cancels for x < 0: 2 log10|x| more digits keep 50 of them
        with mp.workdps(mp.mp.dps + 2 * int(mp.log10(abs(x) + 1)) + 10):
            r = mp.sqrt(x * x + mp.mpf(p["b"]))
            return +((x + r) / 2), +((1 + x / r) / 2)
    if name == "rrelu":  # evaluation: torch.nn.functional.rrelu(training=False)
        s = (mp.mpf(p["lower"]) + mp.mpf(p["upper"])) / 2
        return (x, mp.mpf(1)) if x > 0 else (s * x, s)
    if name == "threshold":  # torch.nn.functional.threshold's definition
        t, v = mp.mpf(p["threshold"]), mp.mpf(p["value"])
        return (x, mp.mpf(1)) if x > t else (v, mp.mpf(0))
    if name == "sparse_plus":  # keras.activations.sparse_plus, written out
        if x <= -1:
            return mp.mpf(0), mp.mpf(0)
        if x >= 1:
            return x, mp.mpf(1)
        return (x + 1) ** 2 / 4, (x + 1) / 2
    if name == "squared_relu":  # Hugging Face's relu2: torch.square(torch.relu(x))
        r = max(x, 0)
        return r * r, 2 * r
    if name == "star_relu":  # Yu et al. 2022: s relu(x)^2 + b
        s, b, r = mp.mpf(p["scale"]), mp.mpf(p["bias"]), max(x, 0)
        return s * r * r + b, 2 * s * r
    if name == "quick_gelu":  # CLIP: x sigmoid(1.702 x), 1.702 the float64 constant
        # (as relukit and torch write it: next to the derivative's zero, -0.75, the
        # decimal 1.702 moves the derivative by 1.6e-14 relative)
        k = mp.mpf(1.702)
        return x * _sig(k * x), _sig(k * x) * (1 + k * x * (1 - _sig(k * x)))
    if rk.get(name).gated:  # f(x) * UP, d/d gate = f'(x) * UP
        f, df = _gate(name, x, p)
        return f * UP, df * UP
    raise KeyError(name)


#: parameter sets per entry: the defaults plus non-default values
PARAMS: dict[str, list[dict]] = {
    "relu": [{}],
    "leaky_relu": [{"negative_slope": 0.01}, {"negative_slope": 0.2}, {"negative_slope": 0.0}],
    "relu6": [{}],
    "hardtanh": [{"min_val": -1.0, "max_val": 1.0}, {"min_val": -0.5, "max_val": 2.0}],
    "elu": [{"alpha": 1.0}, {"alpha": 2.0}, {"alpha": 0.5}],
    "selu": [{}],
    "celu": [{"alpha": 1.0}, {"alpha": 2.0}],
    "gelu": [{"approximate": "none"}, {"approximate": "tanh"}],
    "silu": [{}],
    "mish": [{}],
    "softplus": [{"beta": 1.0, "threshold": 20.0}, {"beta": 2.0, "threshold": 10.0}],
    "hardswish": [{}],
    "hardsigmoid": [{}],
    "prelu": [{"weight": 0.25}, {"weight": 0.0}, {"weight": -0.5}],
    "squareplus": [{"b": 4.0}, {"b": 1.0}, {"b": 1e-6}],
    "sparse_plus": [{}],
    "rrelu": [
        {"lower": 0.125, "upper": 1 / 3},
        {"lower": 0.0, "upper": 0.0},
        {"lower": 0.2, "upper": 0.5},
    ],
    "threshold": [
        {"threshold": 0.0, "value": 0.0},
        {"threshold": 1.0, "value": -5.0},
        {"threshold": -0.5, "value": 2.0},
    ],
    "squared_relu": [{}],
    "star_relu": [
        {"scale": 0.8944271909999159, "bias": -0.4472135954999579},
        {"scale": 1.0, "bias": 0.0},
        {"scale": -0.5, "bias": 2.0},
    ],
    "quick_gelu": [{}],
    # gated: functions of the gate with up = UP (both inputs: test_gated.py)
    "glu": [{}],
    "reglu": [{}],
    "geglu": [{"approximate": "none"}, {"approximate": "tanh"}],
    # beta = 2 and 0.5: beta * x is exact (beta = 1.702 rounds it: test_gated.py)
    "swiglu": [{"beta": 1.0}, {"beta": 2.0}, {"beta": 0.5}],
    "bilinear": [{}],
}
CASES = [(name, p) for name, ps in PARAMS.items() for p in ps]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for n, p in CASES]

#: limits at -inf and +inf (value, derivative), written from the mathematics
LIMITS: dict[str, tuple[float, float, float, float]] = {
    # name: (f(-inf), f'(-inf), f(+inf), f'(+inf)) for the default parameters
    "relu": (0.0, 0.0, inf, 1.0),
    "leaky_relu": (-inf, 0.01, inf, 1.0),
    "relu6": (0.0, 0.0, 6.0, 0.0),
    "hardtanh": (-1.0, 0.0, 1.0, 0.0),
    "elu": (-1.0, 0.0, inf, 1.0),
    "selu": (-1.7580993408473766, 0.0, inf, 1.0507009873554805),
    "celu": (-1.0, 0.0, inf, 1.0),
    "gelu": (0.0, 0.0, inf, 1.0),
    "silu": (0.0, 0.0, inf, 1.0),
    "mish": (0.0, 0.0, inf, 1.0),
    "softplus": (0.0, 0.0, inf, 1.0),
    "hardswish": (0.0, 0.0, inf, 1.0),
    "hardsigmoid": (0.0, 0.0, 1.0, 0.0),
    "prelu": (-inf, 0.25, inf, 1.0),
    "squareplus": (0.0, 0.0, inf, 1.0),
    "sparse_plus": (0.0, 0.0, inf, 1.0),
    "threshold": (0.0, 0.0, inf, 1.0),
    "rrelu": (-inf, (1 / 8 + 1 / 3) / 2, inf, 1.0),
    "squared_relu": (0.0, 0.0, inf, inf),
    "star_relu": (-0.4472135954999579, 0.0, inf, inf),
    "quick_gelu": (0.0, 0.0, inf, 1.0),
    # gated, up = UP: f(±inf) * UP and f'(±inf) * UP
    "glu": (0.0, 0.0, UP, 0.0),
    "reglu": (0.0, 0.0, -inf, UP),
    "geglu": (0.0, 0.0, -inf, UP),
    "swiglu": (0.0, 0.0, -inf, UP),
    "bilinear": (inf, UP, -inf, UP),
}


def _torch_composite(name: str, p: dict):
    """An entry without a peer in torch.nn.functional or jax.nn, written out in torch
    (the gated ones with up = UP): the independent oracle its completeness asks for."""
    import torch
    import torch.nn.functional as F

    composites = {
        "squared_relu": lambda t: torch.square(F.relu(t)),  # Hugging Face's relu2
        "star_relu": lambda t: p["scale"] * F.relu(t) ** 2 + p["bias"],
        "quick_gelu": lambda t: t * torch.sigmoid(1.702 * t),  # open_clip's QuickGELU
        "reglu": lambda t: F.relu(t) * UP,
        "geglu": lambda t: F.gelu(t, approximate=p["approximate"]) * UP,
        "swiglu": lambda t: t * torch.sigmoid(p["beta"] * t) * UP,
        "bilinear": lambda t: t * UP,
        "glu": lambda t: torch.sigmoid(t) * UP,
    }
    return composites[name]


#: the entries whose oracle is the composite above (no torch.nn.functional/jax.nn peer)
COMPOSITES = ("squared_relu", "star_relu", "quick_gelu", "reglu", "geglu", "swiglu", "bilinear")


def test_the_whole_family_is_in_the_catalogue():
    names = {a.name for a in rk.catalogue()}
    assert set(PARAMS) <= names
    assert set(LIMITS) <= names
    assert rk.get("swish") is rk.silu is rk.swish
    assert rk.get("Hard-Swish") is rk.hardswish
    assert rk.get("ReLU6") is rk.relu6


@pytest.mark.parametrize("act", rk.catalogue(), ids=lambda a: a.name)
def test_every_entry_is_complete(act):
    assert act.summary and act.formula and act.derivative_formula
    assert act.latex and act.derivative_latex
    # a peer to compare with: PyTorch's functional form, else JAX's, else the composite
    # written out in torch (test_entries_without_a_peer_match_their_torch_composite)
    assert (
        (act.torch_name or "").startswith("torch.nn.functional.")
        or (act.jax_name or "").startswith("jax.nn.")
        or act.name in COMPOSITES
    )
    assert act.differences and ">>>" in act.examples
    assert act.name in PARAMS, "add the entry to the tests' oracle"
    for p in act.params_list:
        assert p.doc
    for k in act.kinks:
        assert k.note


# ---------------------------------------------------------------------------
# values and derivatives against mpmath
# ---------------------------------------------------------------------------


def _kinks(name: str, p: dict) -> list[float]:
    return [k[0] for k in rk.get(name).kink_points(**p)]


def _ulp(r: float) -> float:
    return math.ulp(abs(r)) if r != 0 else 5e-324


def _close(got: float, ref, ulps: float, atol: float = 0.0) -> bool:
    r = float(ref)
    if math.isinf(r):
        return got == (inf if ref > 0 else -inf)
    return abs(mp.mpf(got) - ref) <= ulps * _ulp(r) + atol


finite = st.floats(-60, 60, allow_nan=False) | st.floats(
    allow_nan=False, allow_infinity=False, width=64
)


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(x=finite)
def test_float64_values_and_derivatives_match_mpmath(name, p, x):
    act = rk.get(name)
    if any(abs(x - k) < 1e-9 for k in _kinks(name, p)):
        return  # kinks are tested exactly below
    with mp.workdps(50):
        v_ref, d_ref = oracle(name, x, p)
        xs = np.array([x])
        v, d = _vd(act, xs, p)
        # value: a few ulp (gelu's far-left tail: up to 8, see the accuracy table); a
        # gated entry rounds f, then f * UP (one more ulp), and where f underflows to a
        # subnormal its product keeps its absolute error; quick_gelu rounds z = 1.702 x
        # before sigmoid(z): |z| / 2 ulp more in its tails
        ulps = 8 if name in ("gelu", "geglu") else 4
        ulps += abs(1.702 * x) if name == "quick_gelu" else 0
        tiny = 8 * 5e-324 * abs(UP) if act.gated else 0.0
        assert _close(float(v[0]), v_ref, ulps + act.gated, tiny), (x, v[0], v_ref)
        # derivative: a few ulp, more where it crosses 0 (gelu', silu', mish')
        assert _close(float(d[0]), d_ref, 16 + 2 * (ulps - 4), tiny), (x, d[0], d_ref)


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_limits_nan_and_signed_zero(name, p):
    act = rk.get(name)
    x = np.array([-inf, inf, nan, -0.0, 0.0])
    v, d = _vd(act, x, p)
    assert np.isnan(v[2]) and np.isnan(d[2]), "NaN in gives NaN out"
    assert not np.isnan(v[[0, 1, 3, 4]]).any() and not np.isnan(d[[0, 1, 3, 4]]).any()
    if act.bind((), p) == act.bind():  # the limits table is for the default parameters
        lim = LIMITS[name]
        assert (v[0], d[0], v[1], d[1]) == lim
    if name in ("relu", "relu6", "hardsigmoid") or (
        name == "threshold" and act.bind((), p) == act.bind()
    ):
        assert math.copysign(1, v[3]) == 1.0, "no -0.0 out of a rectifier"


def test_limits_with_parameters():
    assert rk.leaky_relu(-inf, 0.0) == 0.0
    assert rk.prelu(np.array([-inf]), 0.0)[0] == 0.0
    assert rk.softplus(-inf, beta=3.0) == 0.0 and rk.softplus.derivative(inf, beta=3.0) == 1.0
    assert rk.elu(-inf, alpha=2.5) == -2.5 and rk.celu(-inf, alpha=2.5) == -2.5
    assert rk.hardtanh(-inf, min_val=-3.0, max_val=2.0) == -3.0
    assert rk.gelu.derivative(-inf, approximate="tanh") == 0.0


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("kernels", [True, False])
def test_star_relu_where_x_squared_overflows(dtype, kernels):
    # s x^2 + b where x^2 overflows: scale 0 is the constant b (the limit at +inf too,
    # not 0 * inf = NaN), and its derivative 0; a small scale keeps s x^2 finite
    from relukit import _kernels

    big = float(np.finfo(dtype).max)
    with _kernels.switched(enabled=kernels):
        x = np.array([inf, big, 2.0, -inf], dtype)
        assert rk.star_relu(x, scale=0.0, bias=0.5).tolist() == [0.5] * 4
        assert rk.star_relu.derivative(x, scale=0.0, bias=0.5).tolist() == [0.0] * 4
        assert rk.star_relu(x, scale=-2.0, bias=0.5).tolist() == [-inf, -inf, -7.5, 0.5]
        assert rk.star_relu.derivative(x, scale=-2.0, bias=0.5).tolist()[:3] == [-inf, -inf, -8.0]
    # a float64 x beyond sqrt(max) with s x^2 finite (the float32 and float16 squares
    # are computed in float64, where they cannot overflow)
    assert rk.star_relu(1e200, scale=1e-300, bias=0.0) == pytest.approx(1e100, rel=1e-15)
    assert rk.star_relu(1.7e308, scale=0.0, bias=0.0) == 0.0


#: the far left, where most values and derivatives underflow to a signed zero
FAR_LEFT = -np.geomspace(30.0, 1e300, 4001)


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_an_underflowed_result_keeps_the_true_sign(name, p):
    # a value or derivative that rounds to 0 is the zero of its true sign (mpmath's),
    # on the kernels and the NumPy formulas: quick_gelu and swish-beta once added a
    # correction term of either sign to a -0.0 (+0.0 at 104 of 19,921 such points)
    from relukit import _kernels

    act = rk.get(name)
    want = {}
    for path in (True, False):
        with _kernels.switched(enabled=path):
            v, d = _vd(act, FAR_LEFT, p)
        for part, got in (("value", v), ("derivative", d)):
            for i in np.flatnonzero(got == 0):
                if (part, i) not in want:
                    with mp.workdps(30):
                        ref = oracle(name, float(FAR_LEFT[i]), p)[part == "derivative"]
                    want[part, i] = None if ref == 0 else bool(ref < 0)
                sign = want[part, i]
                assert sign is None or np.signbit(got[i]) == sign, (
                    path,
                    part,
                    float(FAR_LEFT[i]),
                    float(got[i]),
                )


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_dtype_kept_and_rounded_from_float64(name, p, dtype):
    act = rk.get(name)
    x64 = np.linspace(-8, 8, 161).astype(dtype).astype(np.float64)
    x = x64.astype(dtype)
    if act.gated:  # up in the dtype too (UP is exact in float16)
        v, (d, _) = act.value_and_derivative(x, np.full_like(x, UP), **p)
    else:
        v, d = act.value_and_derivative(x, **p)
    assert v.dtype == np.dtype(dtype) and d.dtype == np.dtype(dtype)
    v64, d64 = _vd(act, x64, p)
    # computed in a wider type and rounded once: within one ulp of the rounded float64
    np.testing.assert_array_max_ulp(v, v64.astype(dtype), maxulp=1)
    np.testing.assert_array_max_ulp(d, d64.astype(dtype), maxulp=1)


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_subnormal_inputs(name, p):
    act = rk.get(name)
    tiny = np.array([5e-324, -5e-324, 2.2e-308, -2.2e-308])
    v, d = _vd(act, tiny, p)
    v0, d0 = _vd(act, np.array([0.0]), p)
    if v0[0] != 0:  # smooth at 0 with f(0) != 0 (softplus, squareplus): f(t) = f(0)
        np.testing.assert_allclose(v, v0[0], rtol=1e-15)
        # (+ f''(0) t: star_relu's derivative 2 scale relu(t) is a subnormal, not 0)
        np.testing.assert_allclose(d, d0[0], rtol=1e-15, atol=2.5 * tiny.max())
        return
    # f(0) = 0 for every other entry, f'(0±) is the one-sided derivative: f(t) = f'(0±) t
    left = act.kink_points(**p)[0][1] * _scale(name) if 0.0 in _kinks(name, p) else d0[0]
    right = act.kink_points(**p)[0][2] * _scale(name) if 0.0 in _kinks(name, p) else d0[0]
    if name in ("hardsigmoid", "star_relu"):  # (star_relu(0) = bias, tested above if != 0)
        return
    expect = np.array([right, left, right, left]) * tiny
    # one subnormal ulp: e.g. celu(-5e-324, alpha=2) = 2 expm1(-2.5e-324) = 2 expm1(-0.0)
    np.testing.assert_allclose(v, expect, rtol=1e-15, atol=5e-324)
    # (+ f''(0) t: squared_relu's derivative 2 relu(t) is a subnormal there, not 0)
    np.testing.assert_allclose(d, [right, left, right, left], rtol=1e-15, atol=2.5 * tiny.max())


# ---------------------------------------------------------------------------
# kinks: PyTorch's autograd, one-sided limits, at_kink
# ---------------------------------------------------------------------------

KINK_CASES = [(n, p) for n, p in CASES if rk.get(n).kinks]
KINK_IDS = [i for i, (n, _) in zip(IDS, CASES, strict=True) if rk.get(n).kinks]


def _torch_fn(name: str, p: dict):
    import torch
    import torch.nn.functional as F

    if name == "prelu":
        return lambda t: F.prelu(t, torch.tensor([p["weight"]], dtype=t.dtype))
    if name in COMPOSITES:
        return _torch_composite(name, p)
    return lambda t: getattr(F, name)(t, **p)


@pytest.mark.torch
@pytest.mark.parametrize(("name", "p"), KINK_CASES, ids=KINK_IDS)
def test_kink_default_is_pytorch_autograd(name, p):
    import torch

    fn = _torch_fn(name, p)
    act = rk.get(name)
    for loc, _, _, default in act.kink_points(**p):
        default *= _scale(name)  # a gated entry: f'(kink) * UP
        t = torch.tensor([loc], dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(fn(t).sum(), t)
        assert float(g[0]) == default, (name, loc)
        assert _d(act, loc, p) == default
        assert _d(act, np.array([loc]), p)[0] == default


@pytest.mark.parametrize(("name", "p"), KINK_CASES, ids=KINK_IDS)
def test_kink_one_sided_limits_by_finite_differences(name, p):
    act = rk.get(name)
    for loc, left, right, _ in act.kink_points(**p):
        h = 1e-6 * max(1.0, abs(loc))
        for side, want in ((-1, left * _scale(name)), (1, right * _scale(name))):
            a = loc + side * 4 * h
            fd = (_v(act, a + h, p) - _v(act, a - h, p)) / (2 * h)
            # a is 4h from the kink: the one-sided derivative there is want + O(h)
            assert fd == pytest.approx(want, abs=1e-4), (name, loc, side)
            assert _d(act, a, p) == pytest.approx(want, abs=1e-4)


@pytest.mark.parametrize(("name", "p"), KINK_CASES, ids=KINK_IDS)
@pytest.mark.parametrize("at", [1.0, 0.5, nan])
def test_at_kink_replaces_only_the_kink(name, p, at):
    act = rk.get(name)
    locs = [k[0] for k in act.kink_points(**p)]
    x = np.array([*locs, *(loc + 0.25 for loc in locs), -7.5])
    d = _d(act, x, p, at_kink=at)
    base = _d(act, x, p)
    n = len(locs)
    want = at * _scale(name)  # a gated entry: at_kink replaces f'(kink), times UP
    np.testing.assert_array_equal(d[:n], np.full(n, want))
    np.testing.assert_array_equal(d[n:], base[n:])
    for loc in locs:
        got = _d(act, loc, p, at_kink=at)
        assert got == want or (math.isnan(at) and math.isnan(got))


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_central_differences_away_from_kinks(name, p):
    act = rk.get(name)
    x = np.linspace(-7.3, 7.1, 57)
    ks = _kinks(name, p)
    x = x[[all(abs(xi - k) > 1e-3 for k in ks) for xi in x]]
    h = 1e-6
    fd = (_v(act, x + h, p) - _v(act, x - h, p)) / (2 * h)
    # (squared_relu, star_relu: |f''| up to 2|scale| makes fd's rounding 1e-10 * f')
    np.testing.assert_allclose(_d(act, x, p), fd, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------
# scalar path, integers, derivative from output, value_and_derivative
# ---------------------------------------------------------------------------

SPECIAL = [-inf, -50.0, -6.0, -3.0, -1.5, -1.0, -1e-300, -0.0, 0.0, 1e-300, 0.5, 3.0, 6.0]
SPECIAL += [19.9, 20.0, 20.5, 700.0, inf, nan]


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_scalar_path_equals_array_path(name, p):
    act = rk.get(name)
    arr_v, arr_d = _vd(act, np.array(SPECIAL), p)
    for i, x in enumerate(SPECIAL):
        v = _v(act, x, p)
        d = _d(act, x, p)
        assert type(v) is float and type(d) is float
        if act.gated:  # the pair of Python floats
            assert all(type(e) is float for e in act.derivative(x, UP, **p))
        for got, want in ((v, arr_v[i]), (d, arr_d[i])):
            if math.isnan(want):
                assert math.isnan(got)
            elif math.isinf(want):
                assert got == want
            else:  # libm and NumPy/SciPy may round exp/erfc differently by one ulp,
                # which sums that cancel (gelu' = Phi + x phi) turn into a few ulp
                assert abs(got - want) <= 2 * _ulp(want) + 2e-16, (x, got, want)


def test_integer_inputs():
    assert rk.relu6(8) == 6 and type(rk.relu6(8)) is int
    r = rk.relu6(np.array([-2, 3, 9], dtype=np.int16))
    assert r.dtype == np.int16 and r.tolist() == [0, 3, 6]
    for name in ("elu", "gelu", "silu", "mish", "softplus", "hardswish", "selu"):
        out = rk.get(name)(np.array([-1, 2]))
        assert out.dtype == np.float64, name
        np.testing.assert_array_equal(out, rk.get(name)(np.array([-1.0, 2.0])))
    assert type(rk.gelu(1)) is float


@pytest.mark.parametrize(
    "act", [a for a in rk.catalogue() if a.math.from_output is not None], ids=lambda a: a.name
)
def test_derivative_from_output_matches(act):
    """The derivative from the output equals the derivative from the input wherever the
    entry declares it valid, on the NumPy formulas and on the kernels' backward."""
    from relukit._dispatch import backward
    from relukit._prims.numpy import NP

    for p in PARAMS[act.name]:
        bound = act.bind((), p)
        m, args = act.math.resolve(bound)
        if not m.can_use_output(args):
            continue  # documented as invalid for these parameters (tested below)
        x = np.array([-inf, -30.0, -2.0, -1.0, -0.0, 0.0, 0.3, 1.0, 5.0, 6.0, 7.0, inf, nan])
        x = np.concatenate([x, np.array([k[0] for k in act.kink_points(**p)])])
        y = act(x, **p)
        d = act.derivative(x, **p)
        with np.errstate(all="ignore"):
            dy = np.where(np.isnan(y), y, m.from_output(NP, y, *args))
        np.testing.assert_allclose(dy, d, rtol=1e-15, atol=2e-16, equal_nan=True)
        g = np.ones_like(y)
        got = backward(act, y, g, bound, from_output=True)
        np.testing.assert_allclose(got, d, rtol=1e-15, atol=2e-16, equal_nan=True)


def test_derivative_from_output_is_declared_invalid_where_the_output_hides_the_branch():
    for act, p in (
        (rk.leaky_relu, {"negative_slope": -0.1}),
        (rk.elu, {"alpha": -1.0}),
        (rk.celu, {"alpha": -1.0}),
    ):
        m, args = act.math.resolve(act.bind((), p))
        assert not m.can_use_output(args), act.name
    from relukit._dispatch import backward

    with pytest.raises(ValueError, match="no derivative from the output"):
        backward(rk.leaky_relu, np.zeros(2), np.ones(2), {"negative_slope": -0.1}, from_output=True)


# ---------------------------------------------------------------------------
# properties the diagnostics read (nonnegative_output, zero_gradient_below)
# ---------------------------------------------------------------------------

GRID = np.concatenate([np.linspace(-12, 12, 481), [-inf, -1e300, -5e-324, -0.0, 0.0, 5e-324]])
GRID = np.concatenate([GRID, [1e-300, 1e300, inf]])


@pytest.mark.parametrize("act", rk.catalogue(), ids=lambda a: a.name)
def test_declared_properties_hold_for_every_parameter_set(act):
    for p in PARAMS[act.name]:
        v, d = _vd(act, GRID, p)
        if act.nonnegative_output:
            assert (v >= 0).all(), (p, GRID[v < 0])
        if act.zero_gradient_below:
            below = GRID <= 0
            assert (v[below] == 0).all() and (d[below] == 0).all(), p
            # > 0 above 0, except where the true value underflows (squared_relu's x**2
            # below 1.5e-162), whose gradient is itself negligible
            above_ok = (v[~below] > 0) | (np.abs(d[~below]) < 1e-150)
            assert above_ok.all(), (p, GRID[~below][~above_ok])


@pytest.mark.parametrize("act", rk.catalogue(), ids=lambda a: a.name)
def test_undeclared_properties_fail_somewhere(act):
    # a property not declared must really fail for some input and parameter set, so
    # the declarations are complete (the diagnostics treat undeclared kinds cautiously)
    results = [(p, *_vd(act, GRID, p)) for p in PARAMS[act.name]]
    if not act.nonnegative_output:
        assert any((v < 0).any() for _, v, _ in results)
    if not act.zero_gradient_below:
        below = GRID <= 0
        assert any(
            (v[below] != 0).any() or (d[below] != 0).any() or (v[~below] <= 0).any()
            for _, v, d in results
        )


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_value_and_derivative_is_both(name, p):
    act = rk.get(name)
    x = np.linspace(-5, 5, 41)
    if act.gated:  # both derivatives, and up varying along x
        u = np.linspace(3, -2, 41)
        v, pair = act.value_and_derivative(x, u, **p)
        np.testing.assert_array_equal(v, act(x, u, **p))
        for got, want in zip(pair, act.derivative(x, u, **p), strict=True):
            np.testing.assert_array_equal(got, want)
        return
    v, d = act.value_and_derivative(x, **p)
    np.testing.assert_array_equal(v, act(x, **p))
    np.testing.assert_array_equal(d, act.derivative(x, **p))


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "p"), [(n, q) for n, q in CASES if n in COMPOSITES], ids=lambda v: str(v)
)
def test_entries_without_a_peer_match_their_torch_composite(name, p):
    """squared_relu, star_relu, quick_gelu (and the gated entries at up = UP) against
    the composite written out in torch, float64: values and autograd."""
    import torch

    act = rk.get(name)
    x = np.concatenate([np.linspace(-9, 9, 361), [-40.0, -0.0, 0.0, 1e-300, 40.0]])
    kinks = [k[0] for k in act.kink_points(**p)]
    t = torch.from_numpy(x).requires_grad_(True)
    y = _torch_fn(name, p)(t)
    (g,) = torch.autograd.grad(y.sum(), t)
    v, d = _vd(act, x, p)
    if name in ("squared_relu", "reglu", "bilinear"):  # exact products: the same bits
        np.testing.assert_array_equal(v, y.detach().numpy())
    else:  # the composites round twice (and gelu cancels in its left tail): a few eps
        scale = np.maximum(np.abs(v), 1.0) * (1e-15 if name != "geglu" else 4e-15)
        np.testing.assert_array_less(np.abs(v - y.detach().numpy()), scale + 1e-300)
    away = np.array([all(xi != k for k in kinks) for xi in x])
    # (torch's gelu' cancels in its left tail as its gelu does: a few eps absolute)
    atol = 4e-15 if name != "geglu" else 64 * 2.0**-52 * abs(UP)
    np.testing.assert_allclose(d[away], g.numpy()[away], rtol=4e-15, atol=atol)
    # at the kinks: exactly torch's autograd of the composite
    np.testing.assert_array_equal(d[~away], g.numpy()[~away])


# ---------------------------------------------------------------------------
# prelu
# ---------------------------------------------------------------------------


def test_prelu_per_channel_axis_1():
    x = np.array([[[-1.0, 2.0], [-1.0, -3.0]]])  # shape (1, 2 channels, 2)
    got = rk.prelu(x, [0.1, 0.5])
    np.testing.assert_allclose(got, [[[-0.1, 2.0], [-0.5, -1.5]]])
    d = rk.prelu.derivative(x, np.array([0.1, 0.5]))
    np.testing.assert_allclose(d, [[[0.1, 1.0], [0.5, 0.5]]])
    np.testing.assert_allclose(rk.prelu(np.array([-2.0, 1.0]), [0.5]), [-1.0, 1.0])
    assert rk.prelu(-2.0, [0.5]) == -1.0


@pytest.mark.torch
def test_prelu_matches_torch_per_channel():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5))
    w = np.array([0.1, -0.2, 0.0, 0.7])
    t = torch.from_numpy(x).requires_grad_(True)
    y = F.prelu(t, torch.from_numpy(w))
    (g,) = torch.autograd.grad(y.sum(), t)
    np.testing.assert_array_equal(rk.prelu(x, w), y.detach().numpy())
    np.testing.assert_array_equal(rk.prelu.derivative(x, w), g.numpy())


# ---------------------------------------------------------------------------
# bad parameters and inputs
# ---------------------------------------------------------------------------

BAD = [
    ("rrelu", {"lower": 0.5, "upper": 0.25}, ValueError, "upper must be >= lower"),
    ("rrelu", {"lower": -0.1}, ValueError, "lower must be a finite real number >= 0"),
    ("rrelu", {"training": 1}, TypeError, "training must be True or False, got 1 (int)"),
    ("rrelu", {"training": True, "rng": -1}, TypeError, "rng must be None, an int >= 0"),
    ("rrelu", {"training": True, "rng": "seed"}, TypeError, "rng must be None, an int >= 0"),
    ("threshold", {"value": inf}, ValueError, "value must be a finite real number"),
    ("threshold", {"threshold": "0"}, TypeError, "threshold must be a finite real number"),
    ("squareplus", {"b": 0.0}, ValueError, "b must be a finite real number > 0"),
    ("squareplus", {"b": -4.0}, ValueError, "b must be a finite real number > 0"),
    ("celu", {"alpha": 0.0}, ValueError, "alpha must be a finite real number other than 0"),
    ("elu", {"alpha": inf}, ValueError, "alpha must be a finite real number"),
    ("softplus", {"beta": 0.0}, ValueError, "beta must be a finite real number > 0"),
    ("softplus", {"beta": -1.0}, ValueError, "beta must be"),
    ("softplus", {"threshold": nan}, ValueError, "threshold must be a finite"),
    ("hardtanh", {"min_val": 2.0, "max_val": 1.0}, ValueError, "max_val must be >= min_val"),
    ("gelu", {"approximate": "erf"}, ValueError, "approximate must be one of 'none', 'tanh'"),
    ("gelu", {"approximate": True}, ValueError, "approximate must be one of"),
    ("elu", {"alpha": "1"}, TypeError, "alpha must be a finite real number"),
    ("selu", {"alpha": 1.0}, TypeError, "selu() got an unexpected keyword argument 'alpha'"),
    ("prelu", {"weight": [0.1, 0.2, 0.3]}, ValueError, "weight has 3 elements but x has 2"),
    ("prelu", {"weight": [[0.1, 0.2]]}, ValueError, "weight must be a scalar or 1-D"),
    ("prelu", {"weight": [0.1, nan]}, ValueError, "weight must be finite"),
    ("prelu", {"weight": ["a", "b"]}, TypeError, "weight must be a real number or a 1-D"),
]


@pytest.mark.parametrize(("name", "p", "exc", "msg"), BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_bad_parameters_are_named(name, p, exc, msg):
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    before = x.copy()
    with pytest.raises(exc, match=msg.replace("(", r"\(").replace(")", r"\)")):
        rk.get(name)(x, **p)
    with pytest.raises(exc):
        rk.get(name).derivative(x, **p)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("act", rk.catalogue(), ids=lambda a: a.name)
def test_bad_inputs_are_named(act):
    for bad in ("1.0", None, 1 + 2j, True, np.array(["a"]), np.array([1 + 1j])):
        with pytest.raises(TypeError, match=f"{act.name}: x must be"):
            act(bad)


def test_out_and_in_place_for_new_entries():
    x = np.linspace(-4, 4, 9)
    out = np.empty_like(x)
    assert rk.gelu(x, out=out) is out
    np.testing.assert_array_equal(out, rk.gelu(x))
    d_out = np.empty_like(x)
    rk.mish.value_and_derivative(x, out=(out, d_out))
    np.testing.assert_array_equal(d_out, rk.mish.derivative(x))
    with pytest.raises(ValueError, match="dtype"):
        rk.silu(x, out=np.empty(9, dtype=np.float32))


# ---------------------------------------------------------------------------
# docs/catalogue.md is generated from the catalogue and must not drift
# ---------------------------------------------------------------------------


def test_docs_catalogue_page_is_up_to_date():
    script = ROOT / "docs" / "build_catalogue.py"
    page = ROOT / "docs" / "catalogue.md"
    res = subprocess.run(
        [sys.executable, str(script), "--stdout"], capture_output=True, text=True, check=True
    )
    assert res.stdout == page.read_text(encoding="utf-8"), (
        "docs/catalogue.md is stale: run python docs/build_catalogue.py"
    )
    for act in rk.catalogue():
        assert f"## {act.name}" in res.stdout
        assert act.latex in res.stdout


# ---------------------------------------------------------------------------
# the entries PyTorch lacks, against JAX (the formula as jax.nn writes it)
# ---------------------------------------------------------------------------


@pytest.mark.jax
@pytest.mark.parametrize("b", [4.0, 1.0, 0.25])
def test_squareplus_matches_jax(b):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    try:
        x = np.linspace(-30, 30, 601)
        jx = jax.numpy.asarray(x)
        want = np.asarray(jax.nn.squareplus(jx, b))
        grad = np.asarray(jax.vmap(jax.grad(lambda t: jax.nn.squareplus(t, b)))(jx))
    finally:
        jax.config.update("jax_enable_x64", False)
    # JAX's formula cancels for x < 0 (relukit's does not), losing up to 4 x^2 / b ulp
    # (4e-13 relative at x = -30, b = 1): compare within that bound
    np.testing.assert_allclose(rk.squareplus(x, b), want, rtol=1e-11)
    np.testing.assert_allclose(rk.squareplus.derivative(x, b), grad, rtol=1e-11, atol=1e-15)


def test_squareplus_far_left_does_not_cancel():
    # (x + sqrt(x^2 + 4)) / 2 = 1/|x| - 1/|x|^3 + ... for x -> -inf: mpmath at 50 digits
    for x in (-1e8, -1e20, -1e200):
        with mp.workdps(450):  # the cancellation costs 2 log10|x| digits of the 450
            ref = (mp.mpf(x) + mp.sqrt(mp.mpf(x) ** 2 + 4)) / 2
        assert _close(rk.squareplus(x), ref, 2), x


@pytest.mark.jax
def test_sparse_plus_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    try:
        x = np.concatenate([np.linspace(-3, 3, 601), [-1.0, 1.0, -0.0, -1e300, 1e300]])
        jx = jax.numpy.asarray(x)
        want = np.asarray(jax.nn.sparse_plus(jx))
        grad = np.asarray(jax.vmap(jax.grad(jax.nn.sparse_plus))(jx))
    finally:
        jax.config.update("jax_enable_x64", False)
    np.testing.assert_allclose(rk.sparse_plus(x), want, rtol=2e-16, atol=0)
    np.testing.assert_allclose(rk.sparse_plus.derivative(x), grad, rtol=2e-16, atol=0)


@pytest.mark.torch
@pytest.mark.parametrize("p", PARAMS["threshold"], ids=str)
def test_threshold_matches_torch(p):
    import torch
    import torch.nn.functional as F

    x = np.concatenate([np.linspace(-3, 3, 121), [-inf, inf, nan, -0.0, p["threshold"]]])
    t = torch.from_numpy(x).requires_grad_(True)
    y = F.threshold(t, p["threshold"], p["value"])
    (g,) = torch.autograd.grad(y.sum(), t)
    v, d = rk.threshold.value_and_derivative(x, **p)
    np.testing.assert_array_equal(v, y.detach().numpy())
    ok = ~np.isnan(x)  # at NaN torch's backward gives 0; relukit's derivative is NaN
    np.testing.assert_array_equal(d[ok], g.numpy()[ok])
    assert np.isnan(d[~ok]).all()


# ---------------------------------------------------------------------------
# rrelu: evaluation is PyTorch's; training draws slopes that value and derivative share
# ---------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("p", PARAMS["rrelu"], ids=str)
def test_rrelu_evaluation_matches_torch(p):
    import torch
    import torch.nn.functional as F

    x = np.concatenate([np.linspace(-3, 3, 121), [-inf, inf, -0.0, 0.0, nan]])
    t = torch.from_numpy(x).requires_grad_(True)
    y = F.rrelu(t, p["lower"], p["upper"], training=False)
    (g,) = torch.autograd.grad(y.sum(), t)
    v, d = rk.rrelu.value_and_derivative(x, **p)
    ok = ~np.isnan(x)  # at NaN torch's backward gives 1; relukit's derivative is NaN
    if p["upper"] > 0:  # PyTorch gives nan for -inf * 0 (slope 0); relukit the limit
        np.testing.assert_array_equal(v, y.detach().numpy())
    np.testing.assert_array_equal(d[ok], g.numpy()[ok])
    assert np.isnan(v[~ok]).all() and np.isnan(d[~ok]).all()


def test_rrelu_training_draws_one_slope_per_element_shared_by_value_and_derivative():
    x = np.concatenate([-np.geomspace(1e-3, 1e3, 50_000), np.geomspace(1e-3, 1e3, 50_000)])
    x = np.concatenate([x, [-0.0, 0.0, -inf, inf, nan]])
    v, d = rk.rrelu.value_and_derivative(x, training=True, rng=7)
    neg, pos = x <= 0, x > 0
    np.testing.assert_array_equal(v[neg], x[neg] * d[neg])  # the same draw in both
    assert ((d[neg] >= 1 / 8) & (d[neg] < 1 / 3)).all()
    np.testing.assert_array_equal(v[pos], x[pos])
    assert (d[pos] == 1).all() and np.isnan(v[-1]) and np.isnan(d[-1])
    # uniform on [1/8, 1/3): mean 0.2292, sd 0.0601; 5 sd of the mean of 50_000 draws
    assert abs(d[neg].mean() - (1 / 8 + 1 / 3) / 2) < 5 * 0.0601 / math.sqrt(50_000)
    assert v[-3] == -inf and math.copysign(1, v[-5]) == -1.0


def test_rrelu_seeds_and_generators():
    x = -np.arange(1.0, 6.0)
    a = rk.rrelu(x, training=True, rng=3)
    np.testing.assert_array_equal(a, rk.rrelu(x, training=True, rng=3))  # a seed repeats
    np.testing.assert_array_equal(
        rk.rrelu.derivative(x, training=True, rng=3) * x, a
    )  # the same int seed in two calls: the same slopes
    g = np.random.default_rng(3)
    b, c = rk.rrelu(x, training=True, rng=g), rk.rrelu(x, training=True, rng=g)
    assert not np.array_equal(b, c)  # a Generator advances
    g2 = np.random.default_rng(3)
    np.testing.assert_array_equal(rk.rrelu(x, training=True, rng=g2), b)  # reproducible
    fresh = [rk.rrelu(x, training=True) for _ in range(2)]
    assert not np.array_equal(*fresh)  # rng=None: fresh slopes each call
    # evaluation ignores rng; lower == upper makes training deterministic
    assert rk.rrelu(-2.0, rng=5) == rk.rrelu(-2.0) == -2.0 * (1 / 8 + 1 / 3) / 2
    assert rk.rrelu(-2.0, 0.25, 0.25, training=True) == -0.5
    # a Python float draws the same first slope as a one-element array with that seed
    assert (
        rk.rrelu(-1.0, training=True, rng=9) == rk.rrelu(np.array([-1.0]), training=True, rng=9)[0]
    )
    h = np.float16(-1.5)
    assert rk.rrelu(np.array([h]), training=True, rng=1).dtype == np.float16


@pytest.mark.torch
def test_rrelu_training_autograd_in_torch_equals_the_derivative_of_the_same_draw():
    import torch

    t = torch.linspace(-4, 4, 41, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(rk.rrelu(t, training=True, rng=11).sum(), t)
    d = rk.rrelu.derivative(t.detach(), training=True, rng=11)
    assert isinstance(d, torch.Tensor) and d.dtype == torch.float64
    np.testing.assert_array_equal(g.numpy(), d.numpy())


@pytest.mark.jax
def test_rrelu_training_in_relukit_jax_uses_the_same_draw():
    jax = pytest.importorskip("jax")
    import relukit.jax as rkj

    x = jax.numpy.linspace(-4.0, 4.0, 9)
    g = jax.grad(lambda t: rkj.rrelu(t, training=True, rng=2).sum())(x)
    d = rk.rrelu.derivative(np.asarray(x), training=True, rng=2)  # float32, same seed
    np.testing.assert_array_equal(np.asarray(g), d)
    assert ((d[:5] >= 1 / 8) & (d[:5] < 1 / 3)).all() and (d[5:] == 1).all()


@pytest.mark.parametrize("kernels", [True, False])
def test_a_kink_the_dtype_cannot_hold_is_at_no_input(kernels):
    # softplus's kink is at threshold / beta, a float64 number (1/3 rounded): no float32
    # number is there, so at_kink applies to none (the float32 neighbour 0.33333334 once
    # took it on the kernels, not on the NumPy formulas nor in torch); in float64 the
    # kink's own number takes it
    from relukit import _kernels

    with _kernels.switched(enabled=kernels):
        x = np.full(300, 1 / 3, np.float32)
        plain = rk.softplus.derivative(x, beta=3.0, threshold=1.0)
        d = rk.softplus.derivative(x, beta=3.0, threshold=1.0, at_kink=0.375)
        np.testing.assert_array_equal(d, plain)
        assert d[0] != 0.375
        x64 = np.full(300, 1 / 3)
        assert (rk.softplus.derivative(x64, beta=3.0, threshold=1.0, at_kink=0.375) == 0.375).all()
        # a kink the dtype holds still takes at_kink
        x = np.full(300, 0.5, np.float32)
        assert (rk.softplus.derivative(x, beta=2.0, threshold=1.0, at_kink=0.375) == 0.375).all()


def test_kink_points_of_a_constant_hardtanh_have_no_slope_on_either_side():
    # min_val = max_val: hardtanh is the constant min_val, its derivative 0 everywhere
    assert rk.hardtanh.kink_points(min_val=1.0, max_val=1.0) == [(1.0, 0.0, 0.0, 0.0)] * 2
    assert rk.hardtanh.kink_points() == [(-1.0, 0.0, 1.0, 0.0), (1.0, 1.0, 0.0, 0.0)]
