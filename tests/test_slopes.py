"""leaky_relu and rrelu slopes meet the input in its dtype: a slope that is not 0 and
does not round to a normal finite number of that dtype is a ValueError, on every path.

``x * slope`` is computed in the input's dtype (NumPy and PyTorch round the slope to it
first), so a slope that overflows there gives ``0 * inf = nan`` at ±0, and a subnormal
slope has lost its relative precision (1e-40 in float32: 57 ulp off). The oracle for the
accepted slopes is the exact product of ``x`` and the slope rounded to the dtype, made in
float64 (exact for float32 operands) and rounded once.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest

import relukit as rk
from relukit import _dispatch, _kernels

#: per dtype: slopes that must be rejected, and the smallest and largest accepted
REJECTED = {
    "float16": [1e5, -7e4, 65520.0, 1e-5, -6.09e-5, 1e-8, 1e-300],
    "float32": [1e39, -1e39, 3.4028236e38, 1e-40, -1e-44, 1.1754942e-38, 1e-46, 5e-324],
    "float64": [1e-310, -5e-324, 2.225073858507201e-308],
}
LIMITS = {
    "float16": ("6.104e-05", "65504"),
    "float32": ("1.1754944e-38", "3.4028235e+38"),
    "float64": ("2.2250738585072014e-308", "1.7976931348623157e+308"),
}


def rounded(q: Fraction, dtype: str) -> float:
    """The exact rational ``q`` rounded once to ``dtype`` (float32 via float64 is exact
    here: a product of two float32 numbers has at most 48 significant bits)."""
    try:
        f = float(q)  # correctly rounded (integer true division), subnormals included
    except OverflowError:
        return math.inf if q > 0 else -math.inf
    if f == 0 and q < 0:
        return -0.0
    with np.errstate(over="ignore"):
        return float(np.float32(f)) if dtype == "float32" else f


@pytest.fixture(params=["numpy", "kernels"])
def path(request):
    """Both array paths: the NumPy formulas, and the kernels (which take every size)."""
    if request.param == "kernels":
        pytest.importorskip("numba")
    _dispatch._CALLS.clear()
    with _kernels.switched(enabled=request.param == "kernels"):
        yield request.param
    _dispatch._CALLS.clear()


def _calls(x: np.ndarray, slope: float):
    yield "negative_slope", lambda: rk.leaky_relu(x, slope)
    yield "negative_slope", lambda: rk.leaky_relu(x, negative_slope=slope)
    yield "negative_slope", lambda: rk.leaky_relu.derivative(x, slope)
    yield "negative_slope", lambda: rk.leaky_relu.value_and_derivative(x, slope)
    yield "negative_slope", lambda: rk.leaky_relu(x, slope, out=np.empty_like(x))
    yield (
        "negative_slope",
        lambda: _dispatch.backward(rk.leaky_relu, x, np.ones_like(x), {"negative_slope": slope}),
    )
    if slope > 0:
        yield "lower", lambda: rk.rrelu(x, slope, max(slope, 0.5))
        yield "upper", lambda: rk.rrelu(x, 0.0, slope) if slope < 0.5 else rk.rrelu(x, 0.5, slope)
        yield (
            "lower",
            lambda: rk.rrelu.value_and_derivative(x, slope, max(slope, 0.5), training=True, rng=0),
        )


@pytest.mark.parametrize("dtype", list(REJECTED))
def test_slopes_out_of_the_dtypes_normal_range_are_rejected(dtype, path):
    x = np.array([-1e3, -1.0, -0.0, 0.0, 2.0] * 60, dtype=dtype)  # 300: kernels too
    before = x.copy()
    lo, hi = LIMITS[dtype]
    for slope in REJECTED[dtype]:
        for name, call in _calls(x, slope):
            with pytest.raises(ValueError) as info:
                call()
            msg = str(info.value)
            assert f"{name} = {slope!r}" in msg, msg
            assert dtype in msg and lo in msg and hi in msg, msg
    np.testing.assert_array_equal(x, before)


def test_python_scalars_are_float64():
    for bad in REJECTED["float64"]:
        with pytest.raises(ValueError, match=f"negative_slope = {bad!r}.*float64"):
            rk.leaky_relu(-1.0, bad)
        with pytest.raises(ValueError, match="negative_slope"):
            rk.leaky_relu.derivative(-1, bad)
        with pytest.raises(ValueError, match="negative_slope"):
            rk.leaky_relu([-1.0, 2.0], bad)
    with pytest.raises(ValueError, match="upper = 1e-310"):
        rk.rrelu(-1.0, 0.0, 1e-310)
    # integer arrays compute in float64: a float32-subnormal slope is fine there
    assert rk.leaky_relu(np.array([-(10**10)]), 1e-40)[0] == -1e10 * 1e-40
    assert rk.leaky_relu(-1e10, 1e-300) == -1e10 * 1e-300


def test_the_mean_slope_of_rrelu_is_checked_too():
    # lower = 0 and upper the smallest normal float32: the mean is subnormal in float32
    tiny = float(np.finfo(np.float32).tiny)
    with pytest.raises(ValueError, match=r"\(lower \+ upper\) / 2"):
        rk.rrelu(np.array([-1.0], np.float32), 0.0, tiny)
    assert rk.rrelu(np.array([-1.0], np.float32), 0.0, tiny, training=True, rng=0).dtype == (
        np.float32
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_accepted_extreme_slopes_are_correctly_rounded(dtype, path):
    fi = np.finfo(dtype)
    rng = np.random.default_rng(1)
    x = np.concatenate([-(10.0 ** rng.uniform(-30, 30, 400)), [-0.0, 0.0, -1.0, 5.0]])
    x = x.astype(dtype)
    for slope in (float(fi.tiny), -float(fi.tiny), float(fi.max), 1e-37, -3e37, 0.0):
        got = rk.leaky_relu(x, slope)
        s = Fraction(float(np.asarray(slope, dtype=dtype)))  # the slope in the dtype
        want = np.array([v if v > 0 else rounded(Fraction(float(v)) * s, dtype) for v in x])
        np.testing.assert_array_equal(got, want.astype(dtype))
        assert got.dtype == dtype
        assert not np.isnan(got).any()
        np.testing.assert_array_equal(
            rk.leaky_relu.derivative(x, slope), np.where(x > 0, 1, np.asarray(slope, dtype))
        )


def test_float16_boundaries():
    x = np.array([-2.0, -0.0, 0.0, 1.0] * 100, dtype=np.float16)
    fi = np.finfo(np.float16)
    for slope in (float(fi.tiny), float(fi.max), 65519.0, -6.11e-5):
        v, d = rk.leaky_relu.value_and_derivative(x, slope)
        assert not np.isnan(v).any() and np.isfinite(d).all()
        with np.errstate(over="ignore"):
            assert v[0] == np.float16(-2.0 * slope)


@pytest.mark.torch
def test_torch_front_end():
    import torch

    import relukit.torch as rt

    z = torch.zeros(400)
    with pytest.raises(ValueError, match=r"negative_slope = 1e\+39.*float32"):
        rt.leaky_relu(z, 1e39)
    with pytest.raises(ValueError, match="negative_slope = 1e-40"):
        rt.LeakyReLU(1e-40)(torch.full((4,), -1e10))
    with pytest.raises(ValueError, match=r"negative_slope = 1e-05.*float16"):
        rt.leaky_relu(torch.zeros(4, dtype=torch.float16), 1e-5)
    with pytest.raises(ValueError, match=r"negative_slope = 1e-40.*bfloat16"):
        rt.leaky_relu(torch.zeros(4, dtype=torch.bfloat16), 1e-40)
    with pytest.raises(ValueError, match=r"lower = 1e-40.*float32"):
        rt.rrelu(z, 1e-40, 0.2)
    with pytest.raises(ValueError, match=r"upper = 1e\+39"):
        rt.RReLU(0.1, 1e39)(z)
    with pytest.raises(ValueError, match="lower = 1e-40"):
        rt.rrelu(z, 1e-40, 0.2, training=True)
    with pytest.raises(ValueError, match=r"negative_slope = 1e\+39"):
        rk.leaky_relu(z, 1e39)  # the Array API path
    x = torch.full((4,), -1e10, dtype=torch.float64, requires_grad=True)
    y = rt.leaky_relu(x, 1e-40)  # normal in float64: as torch
    y.sum().backward()
    assert y.tolist() == [-1e10 * 1e-40] * 4 and x.grad.tolist() == [1e-40] * 4
    for slope in (1e39, -1e300):  # beyond float32, normal in float64: as torch too
        x = torch.tensor([-2.0, -0.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
        x_ref = x.detach().clone().requires_grad_()
        y, y_ref = rt.leaky_relu(x, slope), torch.nn.functional.leaky_relu(x_ref, slope)
        y.sum().backward()
        y_ref.sum().backward()
        assert torch.equal(y, y_ref) and torch.equal(x.grad, x_ref.grad)


@pytest.mark.jax
def test_jax_front_end():
    import jax
    import jax.numpy as jnp

    import relukit.jax as rkj

    with pytest.raises(ValueError, match=r"negative_slope = 1e\+39.*float32"):
        rkj.leaky_relu(jnp.zeros(4, jnp.float32), 1e39)
    with pytest.raises(ValueError, match=r"negative_slope = 1e-44.*float32"):
        jax.jit(lambda v: rkj.leaky_relu(v, 1e-44))(jnp.zeros(4, jnp.float32))
    with pytest.raises(ValueError, match="upper = 1e-40"):
        rkj.rrelu(jnp.zeros(4, jnp.float32), 0.0, 1e-40)
    with pytest.raises(ValueError, match=r"negative_slope = 1e-05.*float16"):
        rkj.leaky_relu(jnp.zeros(4, jnp.float16), 1e-5)
    with pytest.raises(ValueError, match=r"negative_slope = 1e\+39"):
        rk.leaky_relu(jnp.zeros(4, jnp.float32), 1e39)  # the Array API path


#: (entry, parameter, value) that float16/bfloat16 input cannot take: rounded to float32
#: (the precision such input is computed in) they become 0 or ±inf
HALF_REJECTED = [
    ("celu", "alpha", 1e-300),
    ("celu", "alpha", 1e300),
    ("elu", "alpha", -1e300),
    ("softplus", "beta", 1e-300),
    ("squareplus", "b", 1e300),
    ("star_relu", "scale", 1e39),
    ("star_relu", "bias", -1e-46),
]


@pytest.mark.parametrize(("name", "param", "bad"), HALF_REJECTED)
def test_half_precision_input_refuses_parameters_that_float32_cannot_hold(name, param, bad, path):
    act = rk.get(name)
    x = np.array([-np.inf, -1.0, -0.0, 0.0, 1.0, np.inf] * 50, np.float16)
    before = x.copy()
    for call in (
        lambda: act(x, **{param: bad}),
        lambda: act.derivative(x, **{param: bad}),
        lambda: act.value_and_derivative(x, **{param: bad}),
    ):
        with pytest.raises(
            ValueError, match=re.escape(f"{param} = {bad!r} rounds to") + ".* float16 input"
        ):
            call()
    np.testing.assert_array_equal(x, before)
    # float32 and float64 input take the value as it is: no NaN where x is not NaN
    for dt in (np.float32, np.float64):
        v, d = act.value_and_derivative(x.astype(dt), **{param: bad})
        assert not np.isnan(v).any() and not np.isnan(d).any()
    # parameters that float32 holds are fine, subnormal ones included (rounded)
    ok = math.copysign(1e-40, bad) if abs(bad) < 1 else math.copysign(3e38, bad)
    v = act(x, **{param: ok})
    assert v.dtype == np.float16 and not np.isnan(v).any()


def test_half_precision_parameter_check_on_torch_and_jax():
    torch = pytest.importorskip("torch")
    import relukit.torch as rt

    for dt in (torch.float16, torch.bfloat16):
        t = torch.tensor([0.0, -1.0], dtype=dt)
        with pytest.raises(ValueError, match="alpha = 1e-300 rounds to 0"):
            rk.celu(t, alpha=1e-300)
        with pytest.raises(ValueError, match="alpha = 1e-300 rounds to 0"):
            rt.celu(t, alpha=1e-300)
        with pytest.raises(ValueError, match="alpha = 1e-300 rounds to 0"):
            rt.CELU(alpha=1e-300)(t)
    assert rt.celu(torch.tensor([0.0, -1.0]), alpha=1e-300).tolist() == [0.0, -0.0]
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(ValueError, match="beta = 1e-300 rounds to 0"):
        rk.softplus(jnp.asarray([1.0], jnp.float16), beta=1e-300)
