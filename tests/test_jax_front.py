"""relukit.jax: forward mode of the gated units, parameter checks for float32 (which
JAX computes in float32), at_kink by the NumPy API's rule, the NaN rule's bits, input
checks, the relu2 alias, and rrelu's draws under transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import relukit as rk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
rkj = pytest.importorskip("relukit.jax")

pytestmark = pytest.mark.jax


@pytest.mark.parametrize("name", ["glu", "reglu", "geglu", "swiglu", "bilinear"])
def test_gated_forward_mode_leaves_out_the_input_not_differentiated(name):
    # JAX gives the input not differentiated a zero tangent: d * 0 would be NaN where d
    # is ±inf or NaN (d/d gate at gate = inf, or with up = NaN). Forward mode must give
    # what reverse mode and the NumPy API give
    fn, act = getattr(rkj, name), rk.get(name)
    for gate, up in ((math.inf, 2.0), (1.0, math.nan), (0.0, math.inf), (-math.inf, 3.0)):
        want_dg, want_du = act.derivative(np.float32(gate), np.float32(up))
        for argnums, want in ((0, want_dg), (1, want_du)):
            fwd = jax.jacfwd(fn, argnums=argnums)(jnp.float32(gate), jnp.float32(up))
            rev = jax.grad(fn, argnums=argnums)(jnp.float32(gate), jnp.float32(up))
            np.testing.assert_array_equal(np.asarray(fwd), np.asarray(rev), err_msg=name)
            np.testing.assert_allclose(np.asarray(fwd), want, rtol=1e-6, err_msg=name)


def test_float32_parameters_that_float32_cannot_hold_are_refused():
    x = jnp.asarray([-1.0, 0.0, 2.0], jnp.float32)
    for call, what in (
        (lambda: rkj.elu(x, alpha=1e300), "alpha = 1e+300 rounds to inf"),
        (lambda: rkj.celu(x, alpha=1e-50), "alpha = 1e-50 rounds to 0"),
        (lambda: rkj.softplus(x, beta=1e39), "beta = 1e+39 rounds to inf"),
        (lambda: rkj.swiglu(x, x, beta=1e40), "beta = 1e+40 rounds to inf"),
    ):
        with pytest.raises(ValueError, match=what.replace("+", r"\+")):
            call()
    # the NumPy API computes float32 in float64: it takes them
    assert not np.isnan(rk.elu(np.asarray(x), alpha=1e300)).any()
    with jax.enable_x64(True):  # float64 input takes them too
        assert not np.isnan(np.asarray(rkj.elu(jnp.asarray([-1.0, 0.0]), alpha=1e300))).any()


def test_at_kink_where_the_numpy_api_puts_it():
    cases = [
        ("hardtanh", {"min_val": -0.1}, jnp.float16, -0.1),  # f16(-0.1): not float32's
        ("softplus", {"beta": 3.0, "threshold": 7.0}, jnp.float32, 7 / 3),  # no float32
        ("hardtanh", {"min_val": -0.3}, jnp.float32, -0.3),  # exact: float32's -0.3
        ("relu", {}, jnp.float32, 0.0),
    ]
    for name, p, dt, v in cases:
        got = jax.grad(lambda t, name=name, p=p: getattr(rkj, name)(t, **p, at_kink=7.0))(
            jnp.asarray(v, dt)
        )
        want = rk.get(name).derivative(np.asarray([v], np.dtype(dt)), **p, at_kink=7.0)[0]
        assert float(got) == float(want), (name, got, want)


@pytest.mark.parametrize(
    ("dtype", "itype", "raw"),
    [
        ("float32", np.uint32, [0x7F800001, 0xFFA00001, 0x7FC00ABC]),
        ("float16", np.uint16, [0x7C01, 0xFE05]),
        ("bfloat16", np.uint16, [0x7FC1, 0xFFA3, 0x7F81]),
    ],
)
def test_nan_in_gives_the_same_nan_out_quieted(dtype, itype, raw):
    quiet = {"float32": 0x00400000, "float16": 0x0200, "bfloat16": 0x0040}[dtype]
    x = jax.lax.bitcast_convert_type(jnp.asarray(raw, itype), getattr(jnp, dtype))
    want = [r | quiet for r in raw]
    for f in (rkj.relu, rkj.gelu, jax.jit(rkj.elu), lambda t: rkj.swiglu(t, jnp.ones_like(t))):
        got = jax.lax.bitcast_convert_type(f(x), itype)
        assert [int(v) for v in got] == want


def test_inputs_are_checked_and_big_python_ints_converted():
    with pytest.raises(TypeError, match="must be a real"):
        rkj.relu(None)
    with pytest.raises(TypeError, match="must be a real"):
        rkj.gelu("1.0")
    assert float(rkj.relu(2**31)) == 2.0**31
    assert float(rkj.relu(-(2**40))) == 0.0


def test_relu2_is_squared_relu():
    assert rkj.relu2 is rkj.squared_relu
    assert "relu2" in rkj.__all__
    assert float(rkj.relu2(3.0)) == 9.0


def test_rrelu_fresh_draws_are_refused_under_jit_and_vmap():
    x = -jnp.ones((3, 4))
    for transform in (jax.jit, jax.vmap):
        with pytest.raises(ValueError, match="drawn once, when traced"):
            transform(lambda r: rkj.rrelu(r, training=True))(x)
    # a fixed draw (rng=) is allowed, and grad (concrete values) draws afresh
    a = jax.jit(lambda r: rkj.rrelu(r, training=True, rng=5))(x)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(rkj.rrelu(x, training=True, rng=5)))
    g = jax.grad(lambda r: rkj.rrelu(r, training=True).sum())(x)
    assert ((np.asarray(g) >= 1 / 8) & (np.asarray(g) < 1 / 3)).all()
