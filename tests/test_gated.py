"""The gated entries (glu, reglu, geglu, swiglu, bilinear) against the composite written out.

``act(gate, up)`` is ``f(gate) * up`` and ``act(x, dim=-1)`` splits ``x`` in halves
along ``dim``, the gate being the second half (as ``torch.nn.GLU`` and ``jax.nn.glu``);
``act.derivative`` gives ``(f'(gate) * up, f(gate))``, one array shaped like ``x`` in the
split form. The oracles are independent of relukit's formulas: the composite in mpmath
(50 digits) and in NumPy float64, torch autograd of ``F.silu(g) * u`` (and friends) in
float64, and ``jax.grad`` of the composite in ``jnp`` (``jax.nn.glu`` for the split form).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relukit as rk

inf, nan = math.inf, math.nan

GATED = [a.name for a in rk.catalogue() if a.gated]

#: parameter sets per entry (defaults and others)
PARAMS = {
    "glu": [{}],
    "reglu": [{}],
    "geglu": [{"approximate": "none"}, {"approximate": "tanh"}],
    "swiglu": [{"beta": 1.0}, {"beta": 1.702}, {"beta": 0.5}],
    "bilinear": [{}],
}
CASES = [(n, p) for n in GATED for p in PARAMS[n]]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for n, p in CASES]


def test_every_gated_entry_is_tested_here():
    assert sorted(GATED) == sorted(PARAMS)


# ---------------------------------------------------------------------------
# the gate's activation f and its derivative, written out in mpmath
# ---------------------------------------------------------------------------


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _cdf(x):
    if abs(x) > 1e4:  # mpmath's erfc overflows there; 1 - cdf(|x|) < 1e-10000
        return mp.mpf(x > 0)
    return mp.erfc(-x / mp.sqrt(2)) / 2


def gate_f(name: str, g, p: dict):
    """``(f(g), f'(g))`` in mpmath at a finite ``g`` (reglu at 0: PyTorch's relu'(0) = 0)."""
    g = mp.mpf(g)
    if name == "glu":
        return _sig(g), _sig(g) * _sig(-g)
    if name == "reglu":
        return (g if g > 0 else mp.mpf(0)), mp.mpf(g > 0)
    if name == "bilinear":
        return g, mp.mpf(1)
    if name == "swiglu":
        b = mp.mpf(p.get("beta", 1.0))
        s = _sig(b * g)
        return g * s, s * (1 + b * g * (1 - s))
    if name == "geglu":
        if p.get("approximate", "none") == "tanh":
            c, k = mp.sqrt(2 / mp.pi), mp.mpf(0.044715)
            u = c * (g + k * g**3)
            return g * _sig(2 * u), _sig(2 * u) + g / 2 * mp.sech(u) ** 2 * c * (1 + 3 * k * g**2)
        phi = mp.exp(-g * g / 2) / mp.sqrt(2 * mp.pi)
        return g * _cdf(g), _cdf(g) + g * phi
    raise KeyError(name)


#: f and f' at -inf and +inf, from the mathematics (swish' and gelu' approach 0 from
#: below at -inf: -0.0)
LIMITS = {
    "glu": ((0.0, 0.0), (1.0, 0.0)),
    "reglu": ((0.0, 0.0), (inf, 1.0)),
    "geglu": ((-0.0, -0.0), (inf, 1.0)),
    "swiglu": ((-0.0, -0.0), (inf, 1.0)),
    "bilinear": ((-inf, 1.0), (inf, 1.0)),
}


def _to_float(r) -> float:
    """An mpmath number rounded once to float64, subnormals included (mpmath's own
    conversion rounds to 53 bits first, then again to the subnormal's precision)."""
    if abs(r) < mp.ldexp(1, -1022):
        n = int(mp.nint(r * mp.ldexp(1, 1074)))  # ties to even
        return math.copysign(abs(n) * 5e-324, r) if n else math.copysign(0.0, r)
    return float(r)


def composite(name: str, g: float, u: float, p: dict) -> tuple[float, float, float]:
    """``(f(g) * u, f'(g) * u, f(g))`` written out: f in mpmath (or its limits at ±inf)
    rounded once to float64, the products in IEEE float64 (``inf * 0`` is nan, as the
    composite gives in NumPy, PyTorch and JAX), NaN in either input giving NaN (d/d up:
    the gate's)."""
    if math.isnan(g):
        return g, g, g
    if math.isinf(g):
        f, df = LIMITS[name][int(g > 0)]
    elif g == 0:  # (mpmath has no -0.0) f(±0): relu +0.0, x * Phi(x) and x keep the sign
        f = {"glu": 0.5, "reglu": 0.0}.get(name, g)
        df = float(gate_f(name, 0.0, p)[1])
    else:
        # 2200 bits: exp(-5e-324) = 1 - 5e-324 is resolved, and f of a subnormal rounds right
        with mp.workprec(2200):
            fm, dfm = gate_f(name, g, p)
            f, df = _to_float(fm), _to_float(dfm)
        if name in ("geglu", "swiglu", "bilinear") and f == 0:
            f = math.copysign(0.0, g)  # x Phi(x), x sigmoid(x): the sign of x (an underflow)
        if name in ("geglu", "swiglu") and df == 0 and g < 0:
            df = -0.0  # their derivatives approach 0 from below in the left tail
    with np.errstate(invalid="ignore", over="ignore"):
        v = float(np.float64(f) * np.float64(u))
        dg = float(np.float64(df) * np.float64(u))
    return v, dg, f


# ---------------------------------------------------------------------------
# values and both derivatives against mpmath, both calling forms
# ---------------------------------------------------------------------------


def _ulp(r: float) -> float:
    return math.ulp(abs(r)) if r != 0 else 5e-324


def _close(got: float, ref, ulps: float, atol: float = 0.0) -> bool:
    r = float(ref)
    if math.isinf(r):
        return got == r
    return abs(mp.mpf(got) - ref) <= ulps * _ulp(r) + atol


finite = st.floats(-40, 40, allow_nan=False) | st.floats(
    allow_nan=False, allow_infinity=False, width=64
)
ups = st.floats(-1e3, 1e3, allow_nan=False) | st.floats(-1e150, 1e150, allow_nan=False)


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(g=finite, u=ups)
def test_values_and_both_derivatives_match_mpmath(name, p, g, u):
    act = rk.get(name)
    with mp.workdps(50):
        f, df = gate_f(name, g, p)
        v_ref, dg_ref = f * mp.mpf(u), df * mp.mpf(u)
    # f rounded once, then the product by up rounded: a few ulp; where f underflows to a
    # subnormal, the absolute error of f times |up|; where f' crosses 0 (swiglu at
    # gate = -1.28 / beta, geglu at -0.75) the absolute error of f' times |up|
    tiny = 8 * 5e-324 * max(1.0, abs(u))
    # swiglu with beta != 1 (as quick_gelu) rounds z = beta * gate before sigmoid(z): a
    # relative error of |z| / 2 ulp in the tails (x sigmoid(z) ~ x e^z for z << 0)
    ulps = 8 + (abs(p.get("beta", 1.0) * g) if p.get("beta", 1.0) != 1.0 else 0)
    v, (dg, du) = act.value_and_derivative(np.array([g]), np.array([u]), **p)
    assert _close(float(v[0]), v_ref, ulps, tiny), (g, u, v[0], v_ref)
    assert _close(float(dg[0]), dg_ref, 2 * ulps, tiny + 4e-16 * abs(u)), (g, u, dg[0], dg_ref)
    assert _close(float(du[0]), f, ulps, 8 * 5e-324), (g, du[0], f)
    # the split form: x = [up, gate] along dim; derivative [d/d up, d/d gate]
    x = np.array([[u, g]])
    vs = act(x, **p)
    ds = act.derivative(x, dim=1, **p)
    assert vs.shape == (1, 1) and ds.shape == (1, 2)
    assert vs[0, 0] == v[0] or (math.isnan(vs[0, 0]) and math.isnan(v[0]))
    np.testing.assert_array_equal(ds[0], [du[0], dg[0]])
    # Python numbers: Python floats, the same numbers
    assert act(g, u, **p) == float(v[0]) or math.isnan(v[0])
    pair = act.derivative(g, u, **p)
    assert type(pair) is tuple and all(type(d) is float for d in pair)


# ---------------------------------------------------------------------------
# edge values in either input: ±0, ±inf, NaN, subnormals
# ---------------------------------------------------------------------------

EDGES = [-inf, -1e308, -40.0, -1.0, -5e-324, -0.0, 0.0, 5e-324, 2.2e-308, 0.5, 3.0, 1e308]
EDGES += [inf, nan]


def _same(got: np.ndarray, want: np.ndarray) -> None:
    """Equal numbers, NaN where NaN, and the same sign of zero."""
    both_nan = np.isnan(got) & np.isnan(want)
    same = (got == want) & (np.signbit(got) == np.signbit(want))
    bad = ~(both_nan | same)
    assert not bad.any(), (got[bad], want[bad])


@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_edge_values_in_either_input(name, p):
    act = rk.get(name)
    g, u = (np.array(v) for v in zip(*((a, b) for a in EDGES for b in EDGES), strict=True))
    g_before, u_before = g.copy(), u.copy()
    v, (dg, du) = act.value_and_derivative(g, u, **p)
    want = np.array([composite(name, a, b, p) for a, b in zip(g, u, strict=True)])
    # exact where an input is ±0, ±inf, NaN or a subnormal gate; a few ulp elsewhere (the
    # mpmath test above). A subnormal negative gate of swiglu/geglu is left to
    # test_a_tiny_negative_gate_rounds_to_minus_zero (the sign of its zero).
    tiny_neg = (g == -5e-324) & (name in ("swiglu", "geglu"))
    special_g = (~np.isfinite(g) | (np.abs(g) < 1e-300)) & ~tiny_neg
    special = (special_g | ~np.isfinite(u) | (u == 0)) & ~tiny_neg
    _same(v[special], want[special, 0])
    _same(dg[special], want[special, 1])
    _same(du[special_g], want[special_g, 2])
    for got, col, ok in ((v, 0, special), (dg, 1, special), (du, 2, special_g)):
        rest = ~ok & ~tiny_neg
        np.testing.assert_array_max_ulp(got[rest], want[rest, col], maxulp=16 if col else 8)
    # NaN in either input: NaN out (d/d up is f(gate): a NaN up leaves it finite)
    assert np.isnan(v[np.isnan(g) | np.isnan(u)]).all()
    assert np.isnan(du[np.isnan(g)]).all() and not np.isnan(du[~np.isnan(g)]).any()
    # the NaN out is the gate's, else up's (payload and sign kept)
    payload = np.array([nan], dtype=np.float64).view(np.uint64)[0] | 0x1234
    gn = np.array([payload], dtype=np.uint64).view(np.float64)
    assert act(gn, np.array([2.0]), **p).view(np.uint64)[0] == payload
    assert act(np.array([1.0]), -gn, **p).view(np.uint64)[0] == (-gn).view(np.uint64)[0]
    np.testing.assert_array_equal(g, g_before)  # inputs untouched
    np.testing.assert_array_equal(u, u_before)


@pytest.mark.parametrize("name", ["swiglu", "geglu"])
def test_a_tiny_negative_gate_rounds_to_minus_zero(name):
    """f(-5e-324) = -5e-324 * (1/2 - 1e-324) = -2.47e-324 (1 - ...): below half the
    smallest subnormal, so it rounds to -0.0 (to +5e-324 for +5e-324: above half)."""
    with mp.workprec(2200):
        ref = _to_float(gate_f(name, -5e-324, {})[0])
    assert ref == 0.0 and math.copysign(1, ref) == -1.0
    v, (_, du) = rk.get(name).value_and_derivative(np.array([-5e-324]), np.array([2.0]))
    assert math.copysign(1, du[0]) == -1.0 and du[0] == 0.0, du  # f(gate)
    assert math.copysign(1, v[0]) == -1.0 and v[0] == 0.0, v  # f(gate) * 2
    assert rk.get(name)(5e-324, 1.0) == 5e-324


def test_inf_times_zero_is_nan_as_in_the_composite():
    """f(gate) * up with f(gate) = ±inf and up = 0 (or f(gate) = 0 and up = ±inf) is the
    IEEE product, nan: the two inputs are independent, there is no limit to take."""
    assert math.isnan(rk.swiglu(inf, 0.0)) and math.isnan(rk.reglu(inf, 0.0))
    assert math.isnan(rk.glu(-inf, inf)) and math.isnan(rk.bilinear(0.0, inf))
    assert rk.swiglu(-inf, 2.0) == 0.0 and math.copysign(1, rk.swiglu(-inf, 2.0)) == -1.0


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_dtype_kept_and_rounded_once(name, p, dtype):
    act = rk.get(name)
    rng = np.random.default_rng(5)
    g64 = np.linspace(-8, 8, 161).astype(dtype).astype(np.float64)
    u64 = rng.uniform(-3, 3, 161).astype(dtype).astype(np.float64)
    g, u = g64.astype(dtype), u64.astype(dtype)
    v, (dg, du) = act.value_and_derivative(g, u, **p)
    assert v.dtype == dg.dtype == du.dtype == np.dtype(dtype)
    v64, (dg64, du64) = act.value_and_derivative(g64, u64, **p)
    # computed in float64 and rounded once to the dtype
    np.testing.assert_array_max_ulp(v, v64.astype(dtype), maxulp=1)
    np.testing.assert_array_max_ulp(dg, dg64.astype(dtype), maxulp=1)
    np.testing.assert_array_max_ulp(du, du64.astype(dtype), maxulp=1)
    # the split form: the same numbers, in the dtype
    x = np.stack([u, g], axis=0)  # (2, 161): up first, along dim 0
    vs, ds = act.value_and_derivative(x, dim=0, **p)
    assert vs.dtype == ds.dtype == np.dtype(dtype) and vs.shape == (1, 161)
    np.testing.assert_array_equal(vs[0], v)
    np.testing.assert_array_equal(ds, np.stack([du, dg]))
    # mixed dtypes: the result type, as NumPy's; integers give the default float
    w = act(g, u64, **p)
    assert w.dtype == np.result_type(np.dtype(dtype), np.float64)
    assert act(np.array([1, -2]), np.array([3, 4]), **p).dtype == np.float64


def test_subnormal_gates_and_ups():
    tiny = np.array([5e-324, -5e-324, 2.2e-308, -2.2e-308])
    one = np.ones(4)
    # bilinear: the product; reglu: relu(t) * 1; swiglu, geglu: t * f(0) = t / 2
    np.testing.assert_array_equal(rk.bilinear(tiny, 3.0 * one), np.array(tiny) * 3.0)
    np.testing.assert_array_equal(rk.reglu(tiny, one), np.where(tiny > 0, tiny, 0.0))
    for name in ("swiglu", "geglu"):
        np.testing.assert_allclose(rk.get(name)(tiny, one), tiny / 2, rtol=1e-15, atol=5e-324)
        np.testing.assert_allclose(rk.get(name).derivative(tiny, one)[0], 0.5, rtol=1e-15)
    np.testing.assert_array_equal(rk.glu(0.0 * one, tiny), tiny / 2)
    # d/d gate = sigmoid'(0) * up = 0.25 * 5e-324: the IEEE product (it rounds to 0.0)
    assert rk.glu.derivative(0.0, 5e-324) == (0.25 * 5e-324, 0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_huge_beta_next_to_zero_is_not_half_the_gate(dtype):
    """Next to 0, swish_beta(x) is x/2 only while beta x is small: for a tiny gate and a
    huge beta, beta x is of order 1 (the rounding of x/2's ties must not take over)."""
    g = dtype(1e-38 if dtype == np.float32 else 1e-310)
    step = mp.ldexp(1, -149 if dtype == np.float32 else -1074)  # the subnormal step
    for beta in (1e38, 3e38) if dtype == np.float32 else (1e308, 1.5e308):
        exact = mp.mpf(float(g)) / (1 + mp.exp(-mp.mpf(beta) * mp.mpf(float(g))))
        want = dtype(float(mp.nint(exact / step) * step))  # (a subnormal: exact)
        got = rk.swiglu(np.array([g]), np.ones(1, dtype), beta=beta)[0]
        assert got == want and got.dtype == dtype, (beta, got, want)


# ---------------------------------------------------------------------------
# the split form: shape errors with their messages, inputs untouched
# ---------------------------------------------------------------------------

SPLIT_ERRORS = [
    (np.arange(5.0), {}, ValueError, "the size of x along dim (0) must be even to split it "
     "in halves (up, gate), got 5"),
    (np.zeros((2, 3)), {}, ValueError, "the size of x along dim (1) must be even"),
    (np.zeros((3, 2)), {"dim": 0}, ValueError, "along dim (0) must be even to split it in "
     "halves (up, gate), got 3"),
    (np.float64(2.0), {}, ValueError, "one argument is split in halves along dim; got a "
     "scalar (pass the gate and up as two arguments: NAME(gate, up))"),
    (2.0, {}, ValueError, "got a scalar"),
    (np.zeros((2, 4)), {"dim": 2}, ValueError, "dim=2 is out of range for an input with 2 "
     "dimension(s)"),
    (np.zeros((2, 4)), {"dim": 1.0}, TypeError, "dim must be an int, got"),
    (np.zeros((2, 4)), {"dim": True}, TypeError, "dim must be an int"),
]  # fmt: skip


@pytest.mark.parametrize("name", GATED)
@pytest.mark.parametrize(("x", "kw", "exc", "msg"), SPLIT_ERRORS, ids=range(len(SPLIT_ERRORS)))
def test_split_form_errors_name_the_problem(name, x, kw, exc, msg):
    act = rk.get(name)
    before = np.copy(x)
    for call in (act, act.derivative, act.value_and_derivative):
        with pytest.raises(exc) as info:
            call(x, **kw)
        assert str(info.value).startswith(f"{name}: ")
        assert msg.replace("NAME", name) in str(info.value)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", GATED)
def test_two_inputs_errors_name_the_input(name):
    act = rk.get(name)
    g = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"gate and up must have the same shape .* got \(3,\) "
                       r"and \(2,\)"):  # fmt: skip
        act(g, np.array([1.0, 2.0]))
    for bad, what in ((True, "up"), ("1", "up"), (1j, "up"), (np.array(["a"]), "up")):
        with pytest.raises(TypeError, match=f"{name}: {what} must be"):
            act(g, bad)
        with pytest.raises(TypeError, match=f"{name}: gate must be"):
            act(bad, g)
    with pytest.raises(TypeError, match=f"{name}: x must be"):
        act(None)
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
    # broadcasting: up may be a scalar
    np.testing.assert_array_equal(act(g, 2.0), act(g, np.full(3, 2.0)))


# ---------------------------------------------------------------------------
# PyTorch: autograd of the composite written out in torch, float64, both forms
# ---------------------------------------------------------------------------


def _torch_composite(name: str, p: dict):
    import torch
    import torch.nn.functional as F

    if name == "glu":
        return lambda g, u: torch.sigmoid(g) * u
    if name == "reglu":
        return lambda g, u: F.relu(g) * u
    if name == "geglu":
        return lambda g, u: F.gelu(g, approximate=p.get("approximate", "none")) * u
    if name == "swiglu":
        b = p.get("beta", 1.0)
        if b == 1.0:
            return lambda g, u: F.silu(g) * u  # Llama's act_fn(gate_proj(x)) * up_proj(x)
        return lambda g, u: g * torch.sigmoid(b * g) * u
    return lambda g, u: g * u


def _near(got, want, rtol: float, atol) -> None:
    """``|got - want| <= rtol |want| + atol``, elementwise (``atol`` may be an array)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    bad = ~(np.abs(got - want) <= rtol * np.abs(want) + atol)
    assert not bad.any(), (np.flatnonzero(bad)[:5], got[bad][:5], want[bad][:5])


#: the composite's own rounding, relative to |up|: torch's and JAX's gelu (exact and tanh)
#: compute x (1 + erf(...)) / 2 or x (1 + tanh(...)) / 2, which cancels in the left tail
#: (absolute errors of a few eps, where relukit's formulas keep full relative accuracy)
def _cancel(name: str, eps: float) -> float:
    return 64 * eps if name == "geglu" else 0.0


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    g = np.concatenate([rng.normal(0, 3, 300), [-30.0, -5.0, -0.0, 0.0, 1e-300, 4.0, 30.0]])
    u = np.concatenate([rng.normal(0, 2, 300), [1.5, -2.0, 3.0, -1.0, 2.0, 0.0, -0.5]])
    return g, u


@pytest.mark.torch
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_torch_autograd_of_the_composite_two_inputs(name, p):
    import torch

    g, u = _inputs()
    tg = torch.tensor(g, requires_grad=True)
    tu = torch.tensor(u, requires_grad=True)
    y = _torch_composite(name, p)(tg, tu)
    dg_t, du_t = torch.autograd.grad(y.sum(), (tg, tu))
    act = rk.get(name)
    v, (dg, du) = act.value_and_derivative(g, u, **p)
    # the composite rounds twice (f, then the product) and relukit's f is correctly
    # rounded or close: a few ulp; where f' crosses 0, a few eps of |up| absolute
    c = _cancel(name, 2.0**-52)
    _near(v, y.detach().numpy(), 4e-15, (c + 1e-300) * np.abs(u))
    _near(dg, dg_t.numpy(), 1e-14, (c + 4e-16) * np.abs(u))
    _near(du, du_t.numpy(), 4e-15, c + 1e-300)


@pytest.mark.torch
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_torch_autograd_of_the_composite_split_form(name, p, dim):
    import torch
    import torch.nn.functional as F

    g, u = _inputs()
    n = len(g) - len(g) % 7
    gate, up = g[:n].reshape(7, -1), u[:n].reshape(7, -1)
    if dim in (1, -1):
        x = np.concatenate([up, gate], axis=1)
    else:
        x = np.concatenate([up.T, gate.T], axis=0)
    tx = torch.tensor(x, requires_grad=True)
    if name == "glu":  # torch's own GLU: first half * sigmoid(second half)
        y = F.glu(tx, dim=dim)
    else:
        a, b = tx.chunk(2, dim=dim)
        y = _torch_composite(name, p)(b, a)
    (dx_t,) = torch.autograd.grad(y.sum(), tx)
    act = rk.get(name)
    v, dx = act.value_and_derivative(x, dim=dim, **p)
    assert v.shape == tuple(y.shape) and dx.shape == x.shape
    c = _cancel(name, 2.0**-52)
    scale = np.abs(x).max()
    _near(v, y.detach().numpy(), 4e-15, (c + 1e-300) * scale)
    _near(dx, dx_t.numpy(), 1e-14, (c + 4e-16) * scale)
    # relukit's split form on a torch tensor: the same numbers
    vt = act(torch.tensor(x), dim=dim, **p)
    np.testing.assert_allclose(vt.numpy(), v, rtol=4e-15, atol=1e-300)


@pytest.mark.torch
def test_torch_glu_split_shape_errors_match_relukits():
    import torch
    import torch.nn.functional as F

    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(torch.zeros(5))
    with pytest.raises(ValueError, match="must be even to split it in halves"):
        rk.glu(torch.zeros(5))
    with pytest.raises(ValueError, match="got a scalar"):
        rk.glu(torch.tensor(1.0))


# ---------------------------------------------------------------------------
# JAX: relukit.jax against jax.grad of the composite in jnp, both forms
# ---------------------------------------------------------------------------


def _jax_composite(name: str, p: dict):
    import jax
    import jax.numpy as jnp

    if name == "glu":
        return lambda g, u: jax.nn.sigmoid(g) * u
    if name == "reglu":
        return lambda g, u: jax.nn.relu(g) * u
    if name == "geglu":
        approx = p.get("approximate", "none") == "tanh"
        return lambda g, u: jax.nn.gelu(g, approximate=approx) * u
    if name == "swiglu":
        b = p.get("beta", 1.0)
        return lambda g, u: jax.nn.silu(g) * u if b == 1.0 else g * jax.nn.sigmoid(b * g) * u
    return lambda g, u: jnp.multiply(g, u)


@pytest.mark.jax
@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_relukit_jax_against_jax_grad_of_the_composite(name, p, x64):
    import jax
    import jax.numpy as jnp

    import relukit.jax as rkj

    g, u = _inputs()
    f = getattr(rkj, name)
    comp = _jax_composite(name, p)
    with jax.enable_x64(x64):
        dt = jnp.float64 if x64 else jnp.float32
        jg, ju = jnp.asarray(g, dtype=dt), jnp.asarray(u, dtype=dt)
        v = f(jg, ju, **p)
        assert v.dtype == dt
        grads = jax.grad(lambda a, b: f(a, b, **p).sum(), argnums=(0, 1))(jg, ju)
        want_v = comp(jg, ju)
        want = jax.grad(lambda a, b: comp(a, b).sum(), argnums=(0, 1))(jg, ju)
        pair = rk.get(name).derivative(jg, ju, **p)
    eps = 2.0**-52 if x64 else 2.0**-23
    scale = np.abs(u).max()
    c = _cancel(name, eps)
    _near(v, want_v, 64 * eps, (16 * eps + c) * np.abs(u))
    for got, w, d in zip(grads, want, pair, strict=True):
        _near(got, w, 64 * eps, (16 * eps + c) * scale)
        # exactly the catalogue's derivatives (the custom JVP is .derivative)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(d))


@pytest.mark.jax
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
@pytest.mark.parametrize("axis", [0, -1])
def test_relukit_jax_split_form_against_jax_nn_glu(name, p, axis):
    import jax
    import jax.numpy as jnp

    import relukit.jax as rkj

    g, u = _inputs()
    n = len(g) - len(g) % 7
    gate, up = jnp.asarray(g[:n].reshape(7, -1)), jnp.asarray(u[:n].reshape(7, -1))
    x = jnp.concatenate([up, gate], axis=1) if axis == -1 else jnp.concatenate([up.T, gate.T])
    f = getattr(rkj, name)
    if name == "glu":  # JAX's own: first half * sigmoid(second half)
        comp = lambda t: jax.nn.glu(t, axis=axis)  # noqa: E731
    else:
        two = _jax_composite(name, p)
        comp = lambda t: two(*reversed(jnp.split(t, 2, axis=axis)))  # noqa: E731
    v = f(x, dim=axis, **p)
    eps, scale = 2.0**-23, float(jnp.abs(x).max())
    c = _cancel(name, eps)
    _near(v, comp(x), 64 * eps, (16 * eps + c) * scale)
    dx = jax.grad(lambda t: f(t, dim=axis, **p).sum())(x)
    want = jax.grad(lambda t: comp(t).sum())(x)
    _near(dx, want, 64 * eps, (16 * eps + c) * scale)
    np.testing.assert_array_equal(
        np.asarray(dx), np.asarray(rk.get(name).derivative(x, dim=axis, **p))
    )


@pytest.mark.jax
@pytest.mark.parametrize("name", GATED)
def test_relukit_jax_gated_edges_and_errors(name):
    import jax
    import jax.numpy as jnp

    import relukit.jax as rkj

    f = getattr(rkj, name)
    # (no subnormal: XLA on the CPU flushes subnormal products in the JVP to zero)
    g = jnp.asarray([-inf, -1.0, -0.0, 0.0, 1e-30, 2.0, inf, nan, 1.0], dtype=jnp.float32)
    u = jnp.asarray([2.0, nan, 3.0, -3.0, 2.0, 0.0, 2.0, 1.0, inf], dtype=jnp.float32)
    np.testing.assert_array_equal(np.asarray(f(g, u)), np.asarray(rk.get(name)(g, u)))
    grads = jax.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1))(g, u)
    for got, d in zip(grads, rk.get(name).derivative(g, u), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(d))
    # float16 and bfloat16: computed in float32 and rounded once, dtype kept
    for dt in (jnp.float16, jnp.bfloat16):
        a, b = jnp.asarray([-1.5, 0.5, 3.0], dtype=dt), jnp.asarray([2.0, -1.0, 0.5], dtype=dt)
        assert f(a, b).dtype == dt
        np.testing.assert_array_equal(np.asarray(f(a, b)), np.asarray(rk.get(name)(a, b)))
    # jit, vmap and Python numbers
    assert jax.jit(f)(g, u).shape == g.shape
    assert jax.vmap(f)(g.reshape(3, 3), u.reshape(3, 3)).shape == (3, 3)
    assert float(f(2, 3)) == pytest.approx(rk.get(name)(2.0, 3.0), rel=1e-6)
    # the split form's errors, as relukit's
    for x, kw, exc, msg in SPLIT_ERRORS:
        with pytest.raises(exc) as info:
            f(jnp.asarray(x), **kw)
        assert str(info.value).startswith(f"relukit.jax.{name}: ")
        assert msg.replace("NAME", name) in str(info.value)
    with pytest.raises(ValueError, match=r"gate and up must have the same shape .*\(3,\) and "
                       r"\(2,\)"):  # fmt: skip
        f(jnp.zeros(3), jnp.zeros(2))
    with pytest.raises(TypeError, match=f"relukit.jax.{name}: up must be a real"):
        f(jnp.zeros(3), jnp.asarray([True, False, True]))
    with pytest.raises(TypeError, match=f"relukit.jax.{name}: gate must be a real"):
        f("a", 1.0)
    with pytest.raises(ValueError, match=f"relukit.jax.{name}: up = .* too large"):
        f(1.0, 10**400)
    # a Python number is weak, as in JAX's x16 * 3.0: the array's dtype
    x16 = jnp.ones(3, jnp.float16)
    assert f(x16, 3).dtype == f(3.0, x16).dtype == (x16 * 3.0).dtype == jnp.float16
    assert f(x16, jnp.ones(3, jnp.float32)).dtype == jnp.float32


@pytest.mark.jax
def test_relukit_jax_reglu_at_kink_and_parameters():
    import jax

    import relukit.jax as rkj

    assert float(jax.grad(rkj.reglu)(0.0, 3.0)) == 0.0  # relu'(0) = 0, as PyTorch
    assert float(jax.grad(lambda a, b: rkj.reglu(a, b, at_kink=1.0))(0.0, 3.0)) == 3.0
    assert float(jax.grad(rkj.reglu, argnums=1)(0.0, 3.0)) == 0.0
    assert float(jax.grad(lambda a: rkj.swiglu(a, 1.0, beta=2.0))(0.5)) == pytest.approx(
        float(rk.swiglu.derivative(0.5, 1.0, beta=2.0)[0]), rel=1e-6
    )
    assert float(rkj.swiglu(1.0, 2.0, 2.0)) == pytest.approx(rk.swiglu(1.0, 2.0, beta=2.0))
    assert float(rkj.geglu(1.0, up=2.0, approximate="tanh")) == pytest.approx(
        rk.geglu(1.0, 2.0, approximate="tanh"), rel=1e-6
    )
    with pytest.raises(ValueError, match="beta must be a finite real number > 0"):
        rkj.swiglu(1.0, 1.0, beta=0.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'alpha'"):
        rkj.glu(1.0, 1.0, alpha=1.0)


# ---------------------------------------------------------------------------
# other array libraries: a Python number as the other input, Dask's numbers
# ---------------------------------------------------------------------------


def test_a_python_number_takes_the_arrays_dtype():
    """``rk.swiglu(x16, 2.0)`` is float16, as NumPy's ``x16 * 2.0`` (a Python number is
    weak: NEP 50); two NumPy arrays meet in their result type."""
    for dt in (np.float16, np.float32, np.float64):
        x = np.array([1.0, -2.0, 0.5], dtype=dt)
        for up in (2.0, 2):
            assert rk.swiglu(x, up).dtype == (x * up).dtype == dt
            assert all(d.dtype == dt for d in rk.swiglu.derivative(up, x))
            np.testing.assert_array_equal(rk.swiglu(x, up), rk.swiglu(x, np.full(3, 2.0, dt)))
    x16 = np.ones(3, np.float16)
    assert rk.glu(x16, np.ones(3, np.float32)).dtype == np.float32
    assert rk.glu(x16, np.float64(2.0)).dtype == np.float64  # a NumPy scalar is not weak
    assert rk.glu(np.array([1, 2]), 2).dtype == np.float64  # integers: the default float


@pytest.mark.torch
def test_a_python_number_is_the_other_input_of_a_tensor():
    """``rk.swiglu(t, 2.0)``, as ``F.silu(t) * 2.0``: the number takes the tensor's dtype
    and device; arrays of two libraries are refused, naming both."""
    import torch

    t = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float32)
    for up in (2.0, 2, np.float64(2.0)):
        got = rk.swiglu(t, up)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, rk.swiglu(t, torch.full_like(t, 2.0)), rtol=0, atol=0)
        dg, du = rk.swiglu.derivative(up, t)
        assert dg.dtype == du.dtype == torch.float32 and dg.shape == t.shape
    with pytest.raises(TypeError, match=r"swiglu: gate and up must come from one array "
                       r"library, got .*Tensor.* and .*ndarray"):  # fmt: skip
        rk.swiglu(t, np.ones(3))
    with pytest.raises(TypeError, match="swiglu: up must be"):
        rk.swiglu(t, "2")


@pytest.mark.jax
def test_a_python_number_is_the_other_input_of_a_jax_array():
    import jax.numpy as jnp

    x = jnp.asarray([1.0, -2.0, 0.5], dtype=jnp.float16)
    got = rk.glu(x, 3)
    assert got.dtype == jnp.float16
    np.testing.assert_array_equal(np.asarray(got), np.asarray(rk.glu(x, jnp.full(3, 3.0, x.dtype))))


@pytest.mark.dask
@pytest.mark.parametrize("name", GATED)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_dask_runs_the_numpy_kernels_on_each_block(name, dtype):
    """Dask arrays get NumPy's numbers bit for bit (one input, one result), lazily."""
    import dask.array as da

    g, u = _inputs()
    g, u = g.astype(dtype), u.astype(dtype)
    act = rk.get(name)
    dg_, du_ = da.from_array(g, chunks=50), da.from_array(u, chunks=(70,))
    v, (d1, d2) = act.value_and_derivative(dg_, du_)
    assert isinstance(v, da.Array) and v.dtype == np.dtype(dtype)
    want_v, (want_1, want_2) = act.value_and_derivative(g, u)
    for got, want in ((v, want_v), (d1, want_1), (d2, want_2), (act(dg_, 2.0), act(g, 2.0))):
        np.testing.assert_array_equal(got.compute(), want)
    # the split form: the same numbers as NumPy's
    x = np.concatenate([u, g]).reshape(2, -1)
    xs = da.from_array(x, chunks=(1, 100))
    np.testing.assert_array_equal(act(xs, dim=0).compute(), act(x, dim=0))
    np.testing.assert_array_equal(act.derivative(xs, dim=0).compute(), act.derivative(x, dim=0))


# ---------------------------------------------------------------------------
# a new gated entry is one block
# ---------------------------------------------------------------------------

_NEW_GATED_ENTRY = r"""
import math
import numpy as np
import relukit as rk
from relukit import _kernels
from relukit.catalogue import Activation, Math, register
from relukit.activations.curved import _silu, _silu_d

# the whole entry, as it would stand in relukit/activations/gated.py: SiLU's formulas
# (written once, in silu's block) gating up
silu_gate = register(
    Activation(
        name="silu_gate",
        summary="A gated unit made for this test: silu(gate) * up.",
        formula="silu_gate(gate, up) = gate * sigmoid(gate) * up",
        derivative_formula="d/d gate = silu'(gate) * up, d/d up = silu(gate)",
        latex=r"g\,\sigma(g)\,u",
        derivative_latex=r"\mathrm{silu}'(g)\,u",
        math=Math(_silu, _silu_d, cost="compute"),
        gated=True,
    )
)
assert rk.get("silu_gate") is silu_gate
rng = np.random.default_rng(5)
for dtype in (np.float32, np.float64):
    a = (rng.standard_normal(3000) * 4).astype(dtype)
    b = rng.standard_normal(3000).astype(dtype)
    a[:4] = [np.nan, np.inf, -np.inf, 0.0]
    b[4:6] = [np.inf, np.nan]
    # the NumPy API: the kernels (planned from the block) and the NumPy formulas agree,
    # float32 bit for bit, float64 within NumPy's own exp (which differs by CPU)
    assert _kernels.plan(silu_gate, "value", np.dtype(dtype), {}, None) is not None
    v = silu_gate(a, b)
    dg, du = silu_gate.derivative(a, b)
    with _kernels.switched(enabled=False):
        formulas = (silu_gate(a, b), *silu_gate.derivative(a, b))
    for got, want in zip((v, dg, du), formulas):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(got)
        ints = np.int32 if dtype == np.float32 else np.int64
        ulps = np.abs(got[ok].view(ints).astype(np.int64) - want[ok].view(ints))
        assert ulps.max() <= (0 if dtype == np.float32 else 4), ulps.max()
    # against the composite written out in float64
    a64, b64 = a[6:].astype(float), b[6:].astype(float)
    s = a64 / (1 + np.exp(-a64))
    sd = 1 / (1 + np.exp(-a64)) * (1 + a64 * (1 - 1 / (1 + np.exp(-a64))))
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert np.allclose(v[6:], s * b64, rtol=tol, atol=1e-300)
    assert np.allclose(dg[6:], sd * b64, rtol=tol, atol=1e-300)
    assert np.allclose(du[6:], s, rtol=tol, atol=1e-300)
    # the split form: one array, the gate its second half
    x = np.concatenate([b, a])
    assert np.array_equal(silu_gate(x), v, equal_nan=True)
# a Python float
assert math.isclose(silu_gate(1.5, 2.0), 1.5 / (1 + math.exp(-1.5)) * 2.0, rel_tol=1e-15)

# relukit.torch: the generic functional form, autograd's pair is the catalogue's
import torch
from relukit.torch import function

f = function("silu_gate")
for dtype in (torch.float32, torch.float64):
    g = torch.linspace(-6, 6, 101, dtype=dtype, requires_grad=True)
    u = torch.linspace(2, -1, 101, dtype=dtype, requires_grad=True)
    y = f(g, u)
    assert torch.equal(y.detach(), torch.from_numpy(silu_gate(g.detach().numpy(), u.detach().numpy())))
    y.sum().backward()
    dg, du = silu_gate.derivative(g.detach().numpy(), u.detach().numpy())
    assert torch.equal(g.grad, torch.from_numpy(dg)) and torch.equal(u.grad, torch.from_numpy(du))
print("ok")
"""


def test_a_new_gated_entry_is_one_block():
    # one block registered (in a fresh process: the catalogue here stays as it is) gives
    # the NumPy API with its kernels, the split form, Python floats and relukit.torch
    import subprocess
    import sys

    pytest.importorskip("torch")
    pytest.importorskip("numba")
    res = subprocess.run(
        [sys.executable, "-c", _NEW_GATED_ENTRY], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().endswith("ok"), res.stdout
