"""Autograd through relukit agrees with ``.derivative``, kinks included.

``torch.autograd`` and ``jax.grad`` differentiate the catalogue's formulas (plain
``rk.<name>(tensor)``); ``relukit.jax`` differentiates with the catalogue's derivative
itself (a custom JVP), so there the agreement is exact and ``at_kink`` is honoured.
At a kink the agreement is exact in every case (the value is written so that autograd
takes the declared branch); between kinks it is to rounding (the chain rule rounds
differently from the closed form). No NaN gradient at any finite input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import relukit as rk

PARAMS = {
    "leaky_relu": [{}, {"negative_slope": 0.2}, {"negative_slope": 0.0}],
    "hardtanh": [{}, {"min_val": -0.5, "max_val": 2.0}],
    "elu": [{}, {"alpha": 2.0}, {"alpha": -0.5}],
    "celu": [{}, {"alpha": 2.0}],
    "gelu": [{}, {"approximate": "tanh"}],
    "softplus": [{}, {"beta": 2.0, "threshold": 10.0}],
    "prelu": [{"weight": 0.25}, {"weight": 0.0}],
    "threshold": [{"threshold": 0.0, "value": 0.0}, {"threshold": 1.0, "value": -5.0}],
    "squareplus": [{}, {"b": 0.25}],
}
ALL = [(a.name, p) for a in rk.catalogue() for p in PARAMS.get(a.name, [{}])]
#: one-argument entries (the gated ones, f(gate) * up, have their own tests below)
CASES = [(n, p) for n, p in ALL if not rk.get(n).gated]
IDS = [f"{n}{p or ''}" for n, p in CASES]
GATED = [(n, p) for n, p in ALL if rk.get(n).gated]
GATED_IDS = [f"{n}{p or ''}" for n, p in GATED]

#: finite inputs: tails, the overflow range of exp, tiny numbers, ±0
FINITE = [-1e308, -1e30, -800.0, -710.0, -100.0, -40.0, -20.0, -7.0, -3.5, -1.3, -0.7]
FINITE += [-1e-300, -5e-324, -0.0, 0.0, 5e-324, 1e-300, 0.4, 1.0, 2.2, 5.5, 19.0, 21.0]
FINITE += [45.0, 100.0, 800.0, 1e30, 1e308]


def _points(name: str, p: dict) -> tuple[np.ndarray, np.ndarray]:
    kinks = np.array([k[0] for k in rk.get(name).kink_points(**p)], dtype=np.float64)
    return np.array(FINITE, dtype=np.float64), kinks


#: the second input of the gated entries (f(gate) * up): signs, sizes and zeros vary
UPS = [1.5, -0.75, 3.0, 0.0, -2.0, 1.0, 1e-3]


def _ups(n: int) -> np.ndarray:
    return np.resize(np.array(UPS, dtype=np.float64), n)


def _agree(grad: np.ndarray, d: np.ndarray, eps: float) -> None:
    assert not np.isnan(grad).any(), "NaN gradient at a finite input"
    # rounding of the chain rule: relative eps, plus absolute eps where terms cancel
    np.testing.assert_allclose(grad, d, rtol=64 * eps, atol=16 * eps)


# ---------------------------------------------------------------------------
# torch.autograd through rk.<name>(tensor)
# ---------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_torch_autograd_equals_derivative(name, p, dtype):
    import torch

    act = rk.get(name)
    x, kinks = _points(name, p)
    tdt = getattr(torch, dtype)
    eps = float(torch.finfo(tdt).eps)
    lim = float(torch.finfo(tdt).max)
    t = torch.tensor(np.clip(x, -lim, lim), dtype=tdt, requires_grad=True)  # finite
    if act.gated:  # both inputs: (d/d gate, d/d up) is the pair .derivative gives
        u = torch.tensor(_ups(len(x)), dtype=tdt, requires_grad=True)
        grads = torch.autograd.grad(act(t, u, **p).sum(), (t, u))
        pair = act.derivative(t.detach(), u.detach(), **p)
        for g, d in zip(grads, pair, strict=True):
            _agree(g.double().numpy(), d.double().numpy(), eps)
        if len(kinks):
            tk = torch.tensor(kinks, dtype=tdt, requires_grad=True)
            uk = torch.tensor(_ups(len(kinks)), dtype=tdt, requires_grad=True)
            gk = torch.autograd.grad(act(tk, uk, **p).sum(), (tk, uk))
            dk = act.derivative(tk.detach(), uk.detach(), **p)
            for g, d in zip(gk, dk, strict=True):
                np.testing.assert_array_equal(g.numpy(), d.numpy())
        return
    (g,) = torch.autograd.grad(act(t, **p).sum(), t)
    d = act.derivative(t.detach(), **p)
    _agree(g.double().numpy(), d.double().numpy(), eps)
    if len(kinks):
        tk = torch.tensor(kinks, dtype=tdt, requires_grad=True)
        (gk,) = torch.autograd.grad(act(tk, **p).sum(), tk)
        # exactly the declared convention, which is PyTorch's own autograd value
        np.testing.assert_array_equal(gk.numpy(), act.derivative(tk.detach(), **p).numpy())


KINKED = [(i, c) for i, c in zip(IDS, CASES, strict=True) if rk.get(c[0]).kinks]


@pytest.mark.torch
@pytest.mark.parametrize(("name", "p"), [c for _, c in KINKED], ids=[i for i, _ in KINKED])
def test_torch_autograd_at_kinks_equals_torch_functional(name, p):
    import torch
    import torch.nn.functional as F

    act = rk.get(name)
    _, kinks = _points(name, p)
    if name == "prelu":
        fn = lambda t: F.prelu(t, torch.tensor([p["weight"]], dtype=t.dtype))  # noqa: E731
    elif name == "reglu":  # the composite written out in torch: F.relu(gate) * up
        up = torch.tensor(_ups(len(kinks)), dtype=torch.float64)
        a = torch.tensor(kinks, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(kinks, dtype=torch.float64, requires_grad=True)
        (ga,) = torch.autograd.grad(act(a, up, **p).sum(), a)
        (gb,) = torch.autograd.grad((F.relu(b) * up).sum(), b)
        np.testing.assert_array_equal(ga.numpy(), gb.numpy())
        return
    else:
        fn = lambda t: getattr(F, name)(t, **p)  # noqa: E731
    a = torch.tensor(kinks, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(kinks, dtype=torch.float64, requires_grad=True)
    (ga,) = torch.autograd.grad(act(a, **p).sum(), a)
    (gb,) = torch.autograd.grad(fn(b).sum(), b)
    np.testing.assert_array_equal(ga.numpy(), gb.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "p"), GATED, ids=GATED_IDS)
def test_torch_autograd_gated_equals_derivative(name, p, dtype):
    """``rk.<gated>(gate, up)`` on tensors: both gradients are ``.derivative``'s pair
    (``f'(gate) up``, ``f(gate)``) at every pair of finite inputs (no NaN from the chain
    rule through the formula, as ``0 * inf``); exactly at the kinks; the split form's
    gradient is ``.derivative`` of the one array (the up half first, as torch's GLU)."""
    import torch

    act = rk.get(name)
    x, kinks = _points(name, p)
    tdt = getattr(torch, dtype)
    eps = float(torch.finfo(tdt).eps)
    lim = float(torch.finfo(tdt).max)
    v = torch.tensor(np.clip(x, -lim, lim), dtype=tdt)
    a = v.repeat_interleave(len(v)).requires_grad_()  # every gate with every up
    b = v.repeat(len(v)).requires_grad_()
    ga, gb = torch.autograd.grad(act(a, b, **p).sum(), (a, b))
    da, db = act.derivative(a.detach(), b.detach(), **p)
    _agree(ga.double().numpy(), da.double().numpy(), eps)
    _agree(gb.double().numpy(), db.double().numpy(), eps)
    t = torch.cat([b.detach(), a.detach()]).requires_grad_()  # (up, gate), split in halves
    (gt,) = torch.autograd.grad(act(t, **p).sum(), t)
    _agree(gt.double().numpy(), act.derivative(t.detach(), **p).double().numpy(), eps)
    if len(kinks):
        ak = torch.tensor(kinks, dtype=tdt).repeat_interleave(len(v)).requires_grad_()
        bk = v.repeat(len(kinks))
        (gk,) = torch.autograd.grad(act(ak, bk, **p).sum(), ak)
        np.testing.assert_array_equal(gk.numpy(), act.derivative(ak.detach(), bk, **p)[0].numpy())


@pytest.mark.torch
def test_torch_plain_maximum_would_be_wrong():
    """The reason for the `where` formulas: torch.maximum differentiates to 0.5 at 0."""
    import torch

    t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torch.maximum(t, torch.zeros_like(t)).sum(), t)
    assert float(g) == 0.5
    t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(rk.relu(t).sum(), t)
    assert float(g) == 0.0


@pytest.mark.torch
def test_torch_second_derivative_through_formula():
    import torch

    t = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(rk.silu(t).sum(), t, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), t)
    s = torch.sigmoid(t.detach())
    want = s * (1 - s) * (2 + t.detach() * (1 - 2 * s))  # silu'' written independently
    torch.testing.assert_close(h, want, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# jax.grad through rk.<name>(jax array), and relukit.jax (custom JVP, at_kink)
# ---------------------------------------------------------------------------


@pytest.mark.jax
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_jax_grad_through_formula_equals_derivative(name, p):
    import jax
    import jax.numpy as jnp

    act = rk.get(name)
    x, kinks = _points(name, p)
    x32 = jnp.asarray(np.clip(x, -3e38, 3e38), dtype=jnp.float32)
    if act.gated:  # both inputs: (d/d gate, d/d up)
        u32 = jnp.asarray(_ups(len(x)), dtype=jnp.float32)
        grad2 = jax.vmap(jax.grad(lambda a, b: act(a, b, **p), argnums=(0, 1)))
        for g, d in zip(grad2(x32, u32), act.derivative(x32, u32, **p), strict=True):
            _agree(np.asarray(g, dtype=np.float64), np.asarray(d, dtype=np.float64), 2.0**-23)
        if len(kinks):
            xk = jnp.asarray(kinks, dtype=jnp.float32)
            uk = jnp.asarray(_ups(len(kinks)), dtype=jnp.float32)
            for g, d in zip(grad2(xk, uk), act.derivative(xk, uk, **p), strict=True):
                np.testing.assert_array_equal(np.asarray(g), np.asarray(d))
        return
    g = jax.vmap(jax.grad(lambda t: act(t, **p)))(x32)
    d = act.derivative(x32, **p)
    _agree(np.asarray(g, dtype=np.float64), np.asarray(d, dtype=np.float64), 2.0**-23)
    if len(kinks):
        xk = jnp.asarray(kinks, dtype=jnp.float32)
        gk = jax.vmap(jax.grad(lambda t: act(t, **p)))(xk)
        np.testing.assert_array_equal(np.asarray(gk), np.asarray(act.derivative(xk, **p)))


@pytest.mark.jax
@pytest.mark.parametrize(("name", "p"), CASES, ids=IDS)
def test_relukit_jax_is_exact_and_honours_at_kink(name, p):
    import jax
    import jax.numpy as jnp

    import relukit.jax as rkj

    act = rk.get(name)
    f = getattr(rkj, name)
    x, kinks = _points(name, p)
    xs = jnp.asarray(np.clip(np.concatenate([x, kinks]), -3e38, 3e38), dtype=jnp.float32)
    if act.gated:
        _relukit_jax_gated_exact(act, f, xs, kinks, p)
        return
    np.testing.assert_array_equal(np.asarray(f(xs, **p)), np.asarray(act(xs, **p)))
    g = jax.vmap(jax.grad(lambda t: f(t, **p)))(xs)
    np.testing.assert_array_equal(np.asarray(g), np.asarray(act.derivative(xs, **p)))
    if len(kinks):
        xk = jnp.asarray(kinks, dtype=jnp.float32)
        gk = jax.vmap(jax.grad(lambda t: f(t, at_kink=0.5, **p)))(xk)
        np.testing.assert_array_equal(np.asarray(gk), np.full(len(kinks), 0.5, np.float32))
        # away from the kinks (in float32: ±1e-300 and ±5e-324 are 0) nothing changes
        away = ~np.isin(np.asarray(xs), np.asarray(kinks, dtype=np.float32))
        ga = jax.vmap(jax.grad(lambda t: f(t, at_kink=7.0, **p)))(xs[away])
        np.testing.assert_array_equal(np.asarray(ga), np.asarray(g)[away])


def _relukit_jax_gated_exact(act, f, xs, kinks, p):
    """relukit.jax's gated entry: the values of relukit.<entry> and exactly its pair of
    derivatives as gradients with respect to both inputs; at_kink scales with up."""
    import jax
    import jax.numpy as jnp

    us = jnp.asarray(_ups(len(xs)), dtype=jnp.float32)
    np.testing.assert_array_equal(np.asarray(f(xs, us, **p)), np.asarray(act(xs, us, **p)))
    grad2 = jax.vmap(jax.grad(lambda a, b, **k: f(a, b, **p, **k), argnums=(0, 1)))
    for g, d in zip(grad2(xs, us), act.derivative(xs, us, **p), strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(d))
    if len(kinks):
        xk = jnp.asarray(kinks, dtype=jnp.float32)
        uk = jnp.asarray(_ups(len(kinks)), dtype=jnp.float32)
        gk = jax.vmap(jax.grad(lambda a, b: f(a, b, at_kink=0.5, **p), argnums=0))(xk, uk)
        np.testing.assert_array_equal(np.asarray(gk), 0.5 * np.asarray(uk))
        dk = act.derivative(xk, uk, at_kink=0.5, **p)[0]
        np.testing.assert_array_equal(np.asarray(gk), np.asarray(dk))


@pytest.mark.jax
def test_relukit_jax_conventions_vs_jax_nn():
    import jax

    import relukit.jax as rkj

    assert float(jax.grad(jax.nn.leaky_relu)(0.0)) == 1.0  # JAX's convention
    assert float(jax.grad(rkj.leaky_relu)(0.0)) == pytest.approx(0.01)  # PyTorch's
    assert float(jax.grad(rkj.leaky_relu)(0.0, 0.2)) == pytest.approx(0.2)
    assert float(jax.grad(lambda x: rkj.relu(x, at_kink=1.0))(0.0)) == 1.0
    assert math.isnan(float(jax.grad(lambda x: rkj.relu6(x, at_kink=math.nan))(6.0)))
    assert float(jax.grad(lambda x: rkj.hardswish(x, at_kink=0.5))(3.0)) == 0.5
    assert float(jax.jit(jax.grad(rkj.relu6))(6.0)) == 0.0
    assert rkj.swish is rkj.silu


@pytest.mark.jax
def test_relukit_jax_errors_and_integers():
    import jax.numpy as jnp

    import relukit.jax as rkj

    with pytest.raises(TypeError, match="at_kink must be None"):
        rkj.relu(1.0, at_kink="1")
    with pytest.raises(ValueError, match="alpha must be a finite real number other than 0"):
        rkj.celu(1.0, alpha=0.0)
    with pytest.raises(TypeError, match="x must be a real"):
        rkj.relu(jnp.asarray([True]))
    assert rkj.gelu(jnp.asarray([1, 2])).dtype == jnp.float32
    np.testing.assert_allclose(
        np.asarray(rkj.prelu(jnp.asarray([[-1.0, -1.0]]), jnp.asarray([0.1, 0.5]))),
        [[-0.1, -0.5]],
        rtol=1e-7,
    )
