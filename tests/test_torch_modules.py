"""relukit.torch: drop-in modules with exact, memory-lean backward.

Every module is compared, on random inputs that include the exact kink values, in
float32 and float64, contiguous and strided (the kernels run on a contiguous copy), with

* the NumPy API, bit for bit: the value is ``rk.<entry>(x.numpy())`` and the gradient
  ``rk.<entry>.derivative(x.numpy()) * g`` (the product for the CPU's one input, one
  result; tests/test_torch_one_result.py covers every entry and parameter set);
* its torch.nn namesake: the exact entries (relu, leaky_relu, relu6, hardtanh, threshold,
  prelu) give torch's values and gradients on finite inputs (relu(-0.0) and relu6(-0.0)
  are +0.0, and a zero gradient ``0 * g`` carries g's sign where torch's ``where`` gives
  +0.0); the others are within ``_torch_ref.TORCH_ULPS`` eps of torch's (relative to
  ``|torch| + 1`` for values, ``|torch| + |g|`` for gradients), as torch's kernels are
  less accurate in the tails. hardsigmoid: relukit's value is the correctly rounded
  ``(x + 3) / 6`` (torch rounds ``x + 3`` first: 1 ulp apart in float32), and its
  float64 gradient ``1/6`` in float64 (torch's is 1/6 rounded to float32).

Byte counts of what autograd saves are taken with ``saved_tensors_hooks`` here,
independently of the benchmark's own counter.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
rt = pytest.importorskip("relukit.torch")
nn = torch.nn

from _torch_ref import EXACT, close_to_torch, np_grad, np_value  # noqa: E402

pytestmark = pytest.mark.torch

# (name, constructor args, kwargs, kink locations for these args)
CASES = [
    ("ReLU", (), {}, (0.0,)),
    ("LeakyReLU", (), {}, (0.0,)),
    ("LeakyReLU", (0.2,), {}, (0.0,)),
    ("LeakyReLU", (-0.5,), {}, (0.0,)),
    ("LeakyReLU", (0.0,), {}, (0.0,)),
    ("ReLU6", (), {}, (0.0, 6.0)),
    ("Hardtanh", (), {}, (-1.0, 1.0)),
    ("Hardtanh", (-2.0, 0.5), {}, (-2.0, 0.5)),
    ("Hardsigmoid", (), {}, (-3.0, 3.0)),
    ("ELU", (), {}, (0.0,)),
    ("ELU", (0.5,), {}, (0.0,)),
    ("CELU", (), {}, ()),
    ("CELU", (2.0,), {}, ()),
    ("SELU", (), {}, (0.0,)),
    ("GELU", (), {}, ()),
    ("GELU", (), {"approximate": "tanh"}, ()),
    ("SiLU", (), {}, ()),
    ("Mish", (), {}, ()),
    ("Softplus", (), {}, ()),
    ("Softplus", (2.0, 5.0), {}, ()),
    ("Hardswish", (), {}, (-3.0, 3.0)),
    ("PReLU", (), {}, (0.0,)),
    ("PReLU", (3, 0.1), {}, (0.0,)),
    ("Threshold", (0.0, 0.0), {}, (0.0,)),
    ("Threshold", (0.5, -2.0), {}, (0.5,)),
]
IDS = [f"{n}{a}{k or ''}" for n, a, k, _ in CASES]
INPLACE = {"ReLU", "LeakyReLU", "ReLU6", "Hardtanh", "Hardsigmoid", "ELU", "CELU", "SELU",
           "SiLU", "Mish", "Hardswish"}  # fmt: skip


def same(a, b):
    """Bitwise equality (NaN equal to NaN, -0.0 different from +0.0)."""
    return bool(
        (((a == b) & (torch.signbit(a) == torch.signbit(b))) | (a.isnan() & b.isnan())).all()
    )


def inputs(dtype, kinks, shape=(6, 3, 40), seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 4
    flat = x.view(-1)
    extra = [0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 20.0, 1e-30, -1e-30, *kinks]
    flat[: len(extra)] = torch.tensor(extra, dtype=torch.float64)
    return x.to(dtype)


def pair(name, args, kwargs, dtype):
    torch.manual_seed(1)
    ref = getattr(nn, name)(*args, **kwargs).to(dtype)
    mine = getattr(rt, name)(*args, **kwargs).to(dtype)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def run(module, x, g, inplace_safe=False):
    xx = x.clone().requires_grad_()
    inp = xx * 1 if inplace_safe else xx
    y = module(inp)
    y.backward(g)
    grads = [xx.grad] + [p.grad for p in module.parameters()]
    return y.detach(), grads


def numpy_params(module):
    """The module's parameters as the NumPy API takes them (PReLU: its weights)."""
    act = type(module).relukit_activation
    if act.name == "prelu":
        w = module.weight.detach()
        return {"weight": float(w) if w.numel() == 1 else w.double().numpy()}
    return dict(zip(act.params, module._param_values(), strict=True))


def numpy_oracle(module, x, g, at_kink=None):
    """The NumPy API's value and gradient for ``module`` at ``x`` (gradient ``g``)."""
    act, p = type(module).relukit_activation, numpy_params(module)
    return np_value(act.name, x, **p), np_grad(act.name, x, g, at_kink=at_kink, **p)


def check_numpy_bits(module, x, g, y, gx, at_kink=None):
    want_y, want_g = numpy_oracle(module, x, g, at_kink)
    assert same(y, want_y), (y, want_y)
    assert same(gx, want_g), (gx, want_g)


def check_torch_nn(name, x, g, y, gx, y_ref, g_ref):
    """relukit's value and input gradient against torch.nn's (see the module doc);
    ``gx=None``: the value only."""
    act = getattr(rt, name).relukit_activation.name
    if act in EXACT:
        assert torch.equal(y, y_ref)  # (relu(-0.0): +0.0 here, -0.0 in torch)
        if act in ("relu", "relu6"):
            assert not torch.signbit(y).any()
        else:
            assert same(y, y_ref)
        assert gx is None or torch.equal(gx, g_ref)  # the same; zeros may differ in sign
        return
    assert close_to_torch(y, y_ref).all(), (y, y_ref)
    if gx is None:
        return
    if act == "hardsigmoid" and x.dtype == torch.float64:
        # torch: g * (1/6 rounded to float32); relukit: g * 1/6 (float64), a relative
        # difference of about 3e-8 inside (-3, 3), and both 0 outside
        assert torch.allclose(gx, g_ref, rtol=4e-8, atol=0)
        assert same(gx, ((x > -3) & (x < 3)).double() * (1 / 6) * g)
    else:
        assert close_to_torch(gx, g_ref, scale=g).all(), (gx, g_ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize(("name", "args", "kwargs", "kinks"), CASES, ids=IDS)
def test_forward_backward_numpy_bits_and_torch_nn(name, args, kwargs, kinks, dtype, layout):
    ref, mine = pair(name, args, kwargs, dtype)
    x = inputs(dtype, kinks)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=dtype)
    if layout == "strided":  # non-contiguous
        x, g = x.transpose(0, 2), g.transpose(0, 2)
        assert not x.is_contiguous()
    y_ref, g_ref = run(ref, x, g)
    y, gr = run(mine, x, g)
    check_numpy_bits(mine, x, g, y, gr[0])
    check_torch_nn(name, x, g, y, gr[0], y_ref, g_ref[0])
    for a, b in zip(gr[1:], g_ref[1:], strict=True):  # PReLU's weight: torch's own
        assert same(a, b)


@pytest.mark.parametrize(("name", "args", "kwargs", "kinks"), CASES, ids=IDS)
def test_repr_is_torchs_named_relukit(name, args, kwargs, kinks):
    # torch's repr with relukit's name, so that print(model) shows relukit's modules
    want = "relukit.torch." + repr(getattr(nn, name)(*args, **kwargs))
    assert repr(getattr(rt, name)(*args, **kwargs)) == want
    assert isinstance(getattr(rt, name)(*args, **kwargs), getattr(nn, name))
    if name in INPLACE:
        a = getattr(rt, name)(*args, inplace=True, **kwargs)
        assert repr(a) == "relukit.torch." + repr(getattr(nn, name)(*args, inplace=True, **kwargs))


def test_repr_at_kink_and_catalogue_attribute():
    import relukit as rk

    assert repr(rt.ReLU(at_kink=1.0)) == "relukit.torch.ReLU(at_kink=1.0)"
    assert repr(rt.LeakyReLU(0.2, True, at_kink=0.5)) == (
        "relukit.torch.LeakyReLU(negative_slope=0.2, inplace=True, at_kink=0.5)"
    )
    for name in ("ReLU", "LeakyReLU", "ELU", "GELU", "PReLU", "Hardswish"):
        act = getattr(rt, name).relukit_activation
        assert act is rk.get(name)


# ---------------------------------------------------------------------------
# gradcheck, double backward
# ---------------------------------------------------------------------------

FUNCTIONAL = [  # (name, args, kwargs, kinks)
    ("relu", (), {}, (0.0,)),
    ("leaky_relu", (0.1,), {}, (0.0,)),
    ("relu6", (), {}, (0.0, 6.0)),
    ("hardtanh", (-2.0, 2.0), {}, (-2.0, 2.0)),
    ("hardsigmoid", (), {}, (-3.0, 3.0)),
    ("elu", (0.7,), {}, (0.0,)),
    ("celu", (1.5,), {}, ()),
    ("selu", (), {}, (0.0,)),
    ("gelu", (), {"approximate": "tanh"}, ()),
    ("silu", (), {}, ()),
    ("mish", (), {}, ()),
    ("softplus", (2.0, 3.0), {}, (1.5,)),
    ("hardswish", (), {}, (-3.0, 3.0)),
]


def away_from(kinks, n=60, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g, dtype=torch.float64) * 16 - 8
    for k in kinks:  # push points within 0.05 of a kink away from it
        near = (x - k).abs() < 0.05
        x = torch.where(near, x + 0.1, x)
    return x


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "kinks"), FUNCTIONAL, ids=[f[0] for f in FUNCTIONAL]
)
def test_gradcheck_and_double_backward(name, args, kwargs, kinks):
    fn = getattr(rt, name)
    x = away_from(kinks).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: fn(t, *args, **kwargs), (x,))
    # with create_graph: the derivative's formula in torch operations (differentiable),
    # within a few ulp of the NumPy API's derivative (its kernels' bits) and of torch's
    ref = getattr(torch.nn.functional, name)
    (g1,) = torch.autograd.grad(fn(x, *args, **kwargs).sum(), x, create_graph=True)
    (g1r,) = torch.autograd.grad(ref(x, *args, **kwargs).sum(), x, create_graph=True)
    act = rt.function(name).__name__
    p = dict(zip(rt.modules.MODULES[act].relukit_activation.params, args, strict=False))
    want = np_grad(act, x, torch.ones_like(x), **p, **kwargs)
    torch.testing.assert_close(g1, want, rtol=16 * 2.0**-52, atol=16 * 2.0**-52)
    if name == "hardsigmoid":  # torch: 1/6 rounded to float32 (see the module doc)
        torch.testing.assert_close(g1, g1r, rtol=4e-8, atol=0)
    else:
        assert close_to_torch(g1, g1r).all(), (g1, g1r)
    # second order: the same as torch's where torch has it
    (h,) = torch.autograd.grad(g1.sum(), x)
    try:
        (h_ref,) = torch.autograd.grad(g1r.sum(), x)
    except RuntimeError:  # torch has no double backward (hardsigmoid): relukit gives the
        assert name == "hardsigmoid" and not h.any()  # a.e. second derivative, 0
        return
    torch.testing.assert_close(h, h_ref, rtol=1e-9, atol=1e-12)


def test_gradgradcheck_piecewise_linear_and_prelu():
    x = away_from((0.0,)).requires_grad_()
    for fn in (rt.relu, lambda t: rt.leaky_relu(t, 0.3), rt.elu):
        assert torch.autograd.gradgradcheck(fn, (x,))
    w = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rt.prelu, (x, w))


def test_prelu_frozen_weight_saves_one_byte_per_element():
    x = inputs(torch.float32, (0.0,), shape=(3, 4, 5))
    g = torch.randn_like(x)
    ref, mine = nn.PReLU(4, 0.1), rt.PReLU(4, 0.1)
    for m in (ref, mine):
        m.weight.requires_grad_(False)
    _, gr = run(ref, x, g)
    _, gm = run(mine, x, g)
    assert same(gm[0], gr[0])
    assert saved_bytes(mine, x.clone().requires_grad_()) == x.numel()  # x > 0, a bool each
    assert saved_bytes(ref, x.clone().requires_grad_()) == 4 * x.numel()  # torch: the input


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_at_kink_applies_where_the_numpy_api_applies_it(dtype):
    # the exact entries compute in the dtype with their parameters rounded to it: their
    # kink is the rounded number (hardtanh's min_val = -0.3 at float32's -0.3); float16
    # compares with the kinks rounded to float32 (its opmath); softplus computes float32
    # in float64, where its kink threshold / beta = 1/3 is no float32 number: at_kink
    # applies nowhere there. relukit.torch's autograd agrees with the NumPy API
    import relukit as rk

    npd = np.float32 if dtype == torch.float32 else np.float16
    x = torch.tensor([-0.3, 0.7, 0.0, -1.0, 1 / 3], dtype=dtype)
    for name, kw in (
        ("hardtanh", {"min_val": -0.3, "max_val": 0.7}),
        ("threshold", {"threshold": 0.7, "value": -2.0}),
        ("softplus", {"beta": 3.0, "threshold": 1.0}),
    ):
        xr = x.clone().requires_grad_()
        getattr(rt, name)(xr, **kw, at_kink=0.5).backward(torch.ones_like(x))
        want = getattr(rk, name).derivative(x.numpy().astype(npd), **kw, at_kink=0.5)
        assert xr.grad.tolist() == want.tolist(), (name, xr.grad, want)
    if dtype == torch.float32:
        assert want[-1] != 0.5  # softplus: no float32 input is at 1/3
        assert rk.hardtanh.derivative(np.float32([-0.3]), -0.3, 0.7, at_kink=0.5)[0] == 0.5


def test_prelu_a_nan_weight_is_never_hidden():
    # the limit 0 * -inf = -0.0 (a zero weight at -inf) is the only NaN turned into a
    # number; a NaN weight gives NaN where torch's does, with ±inf in the input too
    x = torch.tensor([[-1.0, -math.inf], [math.inf, -math.inf], [0.0, -2.0]])
    for w in ([math.nan], [0.0], [0.25], [0.0, math.nan]):
        wt = torch.tensor(w)
        got = rt.prelu(x, wt)
        want = torch.nn.functional.prelu(x, wt)
        zero_at_minus_inf = (x == -math.inf) & (wt.reshape(1, -1) == 0)
        want = torch.where(zero_at_minus_inf, -0.0, want)
        assert same(got, want), (w, got, want)
        xr = x.clone().requires_grad_()
        assert same(rt.prelu(xr, wt).detach(), want)


def test_prelu_weight_gradient_equals_torch():
    torch.manual_seed(0)
    x = torch.randn(5, 3, 4, 4)
    for num in (1, 3):
        ref, mine = nn.PReLU(num, 0.2), rt.PReLU(num, 0.2)
        g = torch.randn_like(x)
        _, gr = run(ref, x, g)
        _, gm = run(mine, x, g)
        assert same(gm[0], gr[0]) and same(gm[1], gr[1])


# ---------------------------------------------------------------------------
# in-place behaviour
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_like_torch(name):
    x = inputs(torch.float32, (0.0,), shape=(4, 50))
    g = torch.randn_like(x)
    # on a leaf that requires grad: the same error as torch
    leaf = x.clone().requires_grad_()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(nn, name)(inplace=True)(leaf)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(rt, name)(inplace=True)(leaf)
    assert torch.equal(leaf.detach(), x)  # untouched
    # on a non-leaf: the result is the input tensor, the gradient is torch's
    xr = x.clone().requires_grad_()
    a = xr * 1
    y = getattr(rt, name)(inplace=True)(a)
    assert y is a and y._version > 0
    y.backward(g)
    y_ref, g_ref = run(getattr(nn, name)(), x, g)
    mine = getattr(rt, name)()
    check_numpy_bits(mine, x, g, y.detach(), xr.grad)
    check_torch_nn(name, x, g, y.detach(), xr.grad, y_ref, g_ref[0])


def test_inplace_on_a_tensor_saved_by_another_op_fails_like_torch():
    for mod in (nn.ReLU(inplace=True), rt.ReLU(inplace=True), rt.ELU(inplace=True)):
        x = torch.randn(10, requires_grad=True)
        s = torch.sigmoid(x)  # sigmoid saves its output
        mod(s)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            s.sum().backward()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("grad_mode", ["no_grad", "detached"])
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_without_autograd_still_invalidates_saved_tensors(name, dtype, grad_mode):
    # the kernels write through the data pointer; the version counter must move on all
    # the same, as for torch's own in-place operations, or a graph that saved the old
    # values computes a wrong gradient silently
    for mod in (getattr(nn, name)(inplace=True), getattr(rt, name)(inplace=True)):
        a = torch.tensor([-1.0, 2.0, -3.0], dtype=dtype, requires_grad=True)
        b = a * 1
        d = b * b  # mul saves b
        before = b._version
        if grad_mode == "no_grad":
            with torch.no_grad():
                mod(b)
        else:
            mod(b.detach())  # (a detached alias shares the version counter)
        assert b._version > before
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            d.sum().backward()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["ReLU", "GELU", "SiLU", "LeakyReLU", "ELU", "Hardswish"])
def test_the_output_keeps_the_inputs_layout_like_torch(name, dtype):
    # torch's elementwise operations keep a dense input's strides (channels_last, a
    # transpose); the values are those of the contiguous input
    base = torch.randn(2, 3, 4, 5, dtype=torch.float64).to(dtype)
    for x in (
        base.contiguous(memory_format=torch.channels_last),
        base.transpose(1, 3),
        base[:, :, ::2],  # not dense: torch's result is contiguous
    ):
        mine, ref = getattr(rt, name)(), getattr(nn, name)()
        y = mine(x)
        assert y.stride() == ref(x).stride(), (x.stride(), y.stride())
        assert torch.equal(y, mine(x.contiguous()))
        if name in INPLACE:
            xi = x.clone()  # (clone keeps a dense layout, and makes the others contiguous)
            strides = xi.stride()
            assert getattr(rt, name)(inplace=True)(xi) is xi and xi.stride() == strides
            assert torch.equal(xi, y)


def test_inplace_into_an_inference_tensor_outside_inference_mode_fails_like_torch():
    with torch.inference_mode():
        t = torch.tensor([-1.0, 2.0])
        u = t.clone()
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor"):
        torch.relu_(u)  # (torch writes, then raises)
    for f in (lambda v: rt.relu(v, inplace=True), rt.ReLU(inplace=True)):
        with pytest.raises(RuntimeError, match="Inplace update to inference tensor"):
            f(t)
        assert t.tolist() == [-1.0, 2.0]  # relukit raises before writing
    with torch.inference_mode():  # inside inference mode it is allowed, as for torch
        rt.relu(t, inplace=True)
    assert t.tolist() == [0.0, 2.0]


def test_inplace_leaky_relu_negative_slope_gives_the_right_gradient():
    # torch's leaky_relu_ refuses a negative slope in backward (#31938); relukit keeps
    # a copy of the input taken before the overwrite, so the gradient is right.
    x = inputs(torch.float32, (0.0,), shape=(100,))
    g = torch.randn_like(x)
    xr = x.clone().requires_grad_()
    with pytest.raises(RuntimeError, match="negative slope"):
        torch.nn.functional.leaky_relu(xr * 1, -0.5, inplace=True).backward(g)
    xr.grad = None
    rt.leaky_relu(xr * 1, -0.5, inplace=True).backward(g)
    _, g_ref = run(nn.LeakyReLU(-0.5), x, g)
    assert torch.equal(xr.grad, g_ref[0])
    assert same(xr.grad, np_grad("leaky_relu", x, g, negative_slope=-0.5))


def test_inplace_elu_keeps_a_copy_of_the_input():
    # the ELU family keeps its input (the derivative from the output is not exact): in
    # place, a copy taken before the overwrite; any alpha
    x = inputs(torch.float64, (0.0,), shape=(50,))
    g = torch.randn_like(x)
    for alpha in (1.0, -0.5):
        xr = x.clone().requires_grad_()
        rt.elu(xr * 1, alpha, inplace=True).backward(g)
        _, g_ref = run(nn.ELU(alpha), x, g)
        assert same(xr.grad, np_grad("elu", x, g, alpha=alpha))
        assert close_to_torch(xr.grad, g_ref[0], scale=g).all()


def test_no_inplace_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="no in-place variant"):
        rt._functions.apply("gelu", torch.randn(3), ("none",), True, None)


# ---------------------------------------------------------------------------
# at_kink, special values
# ---------------------------------------------------------------------------

KINKED = [
    ("ReLU", (), (0.0,)),
    ("LeakyReLU", (0.1,), (0.0,)),
    ("ReLU6", (), (0.0, 6.0)),
    ("Hardtanh", (-2.0, 3.0), (-2.0, 3.0)),
    ("Hardsigmoid", (), (-3.0, 3.0)),
    ("ELU", (0.5,), (0.0,)),
    ("SELU", (), (0.0,)),
    ("Hardswish", (), (-3.0, 3.0)),
    ("PReLU", (), (0.0,)),
]


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("at_kink", [1.0, 0.5, math.nan])
@pytest.mark.parametrize(("name", "args", "kinks"), KINKED, ids=[k[0] for k in KINKED])
def test_at_kink(name, args, kinks, at_kink, layout):
    x = inputs(torch.float32, kinks, shape=(8, 30))
    g = torch.randn_like(x)
    if layout == "strided":
        x, g = x.t(), g.t()
    y_ref, g_ref = run(getattr(nn, name)(*args), x, g)
    mine = getattr(rt, name)(*args, at_kink=at_kink)
    y, g_k = run(mine, x, g)
    at = torch.zeros_like(x, dtype=torch.bool)
    for k in kinks:
        at |= x == k
    assert at.sum() >= len(kinks)
    assert same(g_k[0][at], at_kink * g[at])  # (the oracle, written out)
    check_numpy_bits(mine, x, g, y, g_k[0], at_kink=at_kink)
    # away from the kinks: as without at_kink (torch.nn's gradient, within the bound)
    check_torch_nn(name, x[~at], g[~at], y[~at], g_k[0][~at], y_ref[~at], g_ref[0][~at])


def test_at_kink_validation():
    with pytest.raises(TypeError, match="at_kink must be None"):
        rt.ReLU(at_kink="one")
    with pytest.raises(TypeError, match="at_kink must be None"):
        rt.relu(torch.randn(3), at_kink=True)


LAMBDA = 1.0507009873554805
INF_LIMITS = {  # value at -inf, value at +inf, derivative at -inf, at +inf: the limits
    "relu": (0.0, math.inf, 0.0, 1.0),
    "relu6": (0.0, 6.0, 0.0, 0.0),
    "elu": (-1.0, math.inf, 0.0, 1.0),
    "selu": (-LAMBDA * 1.6732632423543772, math.inf, 0.0, LAMBDA),
    "gelu": (0.0, math.inf, 0.0, 1.0),
    "silu": (0.0, math.inf, 0.0, 1.0),
    "mish": (0.0, math.inf, 0.0, 1.0),
    "softplus": (0.0, math.inf, 0.0, 1.0),
    "hardswish": (0.0, math.inf, 0.0, 1.0),
    "hardsigmoid": (0.0, 1.0, 0.0, 0.0),
    "hardtanh": (-1.0, 1.0, 0.0, 0.0),
}


SPECIAL_CASES = [
    (name, layout)
    for name in sorted(INF_LIMITS)
    for layout in ("contiguous", "strided", "inplace")
    if not (layout == "inplace" and name in ("gelu", "softplus"))  # no in-place variant
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("name", "layout"), SPECIAL_CASES)
def test_special_values(name, dtype, layout):
    base = torch.tensor([-math.inf, math.inf, math.nan, 1.0, -2.0], dtype=dtype)
    leaf = torch.stack([base, base], 1).requires_grad_()
    x = leaf[:, 0] if layout == "strided" else leaf.detach()[:, 0].contiguous().requires_grad_()
    fn = getattr(rt, name)
    if layout == "inplace":
        y = fn(x * 1, inplace=True)
    else:
        y = fn(x)
    lo, hi, dlo, dhi = INF_LIMITS[name]
    assert y[0].item() == pytest.approx(lo, rel=1e-6) and y[1].item() == hi  # never NaN
    assert y[2].isnan()
    y.backward(torch.ones_like(y))
    grad = leaf.grad[:, 0] if layout == "strided" else x.grad
    assert grad[0].item() == pytest.approx(dlo, rel=1e-6)
    assert grad[1].item() == pytest.approx(dhi, rel=1e-6)
    assert grad[2].isnan()  # NaN in, NaN gradient (torch: a number)
    # every entry: the NumPy API's value and gradient, bit for bit
    assert same(y.detach(), np_value(name, base))
    assert same(grad, np_grad(name, base, torch.ones_like(base)))
    with torch.no_grad():
        assert same(fn(x), y.detach())


def test_leaky_relu_slope_zero_at_minus_inf_and_relu_minus_zero():
    y = rt.leaky_relu(torch.tensor([-math.inf, -2.0]), 0.0)
    assert y.tolist() == [0.0, 0.0] and torch.signbit(y).all()  # -0.0, like 0 * (x < 0)
    for t in (torch.tensor([-0.0]), torch.tensor([-0.0], requires_grad=True)):
        assert not torch.signbit(rt.relu(t)).any()


@given(
    st.lists(
        st.one_of(
            st.floats(width=32, allow_nan=False, allow_infinity=False),
            st.sampled_from([0.0, -0.0, 1e-45, -1e-45]),
        ),
        min_size=1,
        max_size=70,
    ),
    st.sampled_from([0.01, 0.2, -1.0, 0.0]),
)
def test_hypothesis_relu_leaky_equal_torch(values, slope):
    x = torch.tensor(values, dtype=torch.float32)
    g = torch.linspace(-2, 3, len(values))
    for rmod, tmod in ((rt.ReLU(), nn.ReLU()), (rt.LeakyReLU(slope), nn.LeakyReLU(slope))):
        y, gr = run(rmod, x, g)
        y_ref, g_ref = run(tmod, x, g)
        # torch's numbers (relu(-0.0) is +0.0; a zero gradient takes g's sign)
        assert torch.equal(y, y_ref) and torch.equal(gr[0], g_ref[0])
        check_numpy_bits(rmod, x, g, y, gr[0])


# ---------------------------------------------------------------------------
# rrelu (random slopes in training), squareplus and sparse_plus (no torch.nn namesake)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), (0.1, 0.3), (0.2, 0.2)])
def test_rrelu_drop_in_for_torch_nn_in_eval_and_training(args):
    ref, mine = nn.RReLU(*args).double(), rt.RReLU(*args).double()
    assert isinstance(mine, nn.RReLU) and repr(mine) == "relukit.torch." + repr(ref)
    x, g = inputs(torch.float64, (0.0,)), torch.randn(6, 3, 40, dtype=torch.float64)
    for training in (False, True):
        ref.train(training), mine.train(training)
        torch.manual_seed(3)  # training: both draw from torch's generator
        y_ref, g_ref = run(ref, x, g)
        torch.manual_seed(3)
        y, gr = run(mine, x, g)
        assert same(y, y_ref) and same(gr[0], g_ref[0]), training
    lo, hi = (args or (1 / 8, 1 / 3))[:2]
    neg = x < 0
    slopes = y[neg] / x[neg]  # training: one draw per element, in [lower, upper]
    assert bool(((slopes >= lo - 1e-15) & (slopes <= hi + 1e-15)).all())
    mine.eval()  # evaluation: leaky_relu with the mean slope, keeping the output
    xx = x.clone().requires_grad_()
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = mine(xx)
    assert len(saved) == 1 and saved[0] is y  # (the next layer keeps it anyway)
    assert same(y.detach(), np_value("rrelu", x, lower=lo, upper=hi))
    assert torch.jit.script(mine)(x).equal(ref.eval()(x))
    # the parameter sets after the first recompile the same forward with other float
    # attributes (which Dynamo then makes symbolic)
    compiled = torch.compile(mine, backend="aot_eager", fullgraph=True)
    y_ref, g_ref = run(ref, x, g)
    y, gr = run(compiled, x, g)
    assert same(y, y_ref) and same(gr[0], g_ref[0])


def test_rrelu_errors_leave_inputs_untouched():
    x = torch.tensor([-1.0, 2.0])
    with pytest.raises(ValueError, match=r"upper must be >= lower, got lower=0.5 and upper=0.1"):
        rt.RReLU(0.5, 0.1)
    with pytest.raises(ValueError, match="at_kink applies in evaluation only"):
        rt.rrelu(x, training=True, inplace=True, at_kink=1.0)
    with pytest.raises(TypeError, match="training must be True or False"):
        rt.rrelu(x, training="no")
    with pytest.raises(TypeError, match=r"input must be a torch\.Tensor, got list"):
        rt.rrelu([1.0])
    assert x.tolist() == [-1.0, 2.0]


def _squareplus(x, b=4.0):
    """(x + sqrt(x^2 + b)) / 2 and its derivative in float64, for x < 0 without the
    cancellation: x + s = b / (s - x) with s = sqrt(x^2 + b)."""
    s = torch.sqrt(x * x + b)
    v = torch.where(x >= 0, (x + s) / 2, b / (2 * (s - x)))
    d = torch.where(x >= 0, (1 + x / s) / 2, b / (2 * s * (s - x)))
    return v, d


def _sparse_plus(x):  # jax.nn.sparse_plus's formula, written out in float64
    mid = (x > -1) & (x < 1)
    v = torch.where(x >= 1, x, torch.where(mid, (x + 1) ** 2 / 4, 0.0))
    return v, torch.where(x >= 1, 1.0, torch.where(mid, (x + 1) / 2, 0.0))


SMOOTH_NEW = [
    ("Squareplus", "squareplus", {}, _squareplus),
    ("Squareplus", "squareplus", {"b": 0.25}, _squareplus),
    ("SparsePlus", "sparse_plus", {}, _sparse_plus),
]


@pytest.mark.parametrize(("cls", "name", "kw", "oracle"), SMOOTH_NEW)
def test_entries_without_torch_namesake_against_formulas_and_jax(cls, name, kw, oracle):
    x = inputs(torch.float64, (-1.0, 1.0))
    g = torch.randn_like(x)
    m = getattr(rt, cls)(**kw)
    assert type(m).relukit_activation.name == name and cls in rt.__all__ and name in rt.__all__
    y, (gx,) = run(m, x, g)
    v, d = oracle(x, **kw)
    torch.testing.assert_close(y, v, rtol=1e-14, atol=1e-300)
    torch.testing.assert_close(gx, g * d, rtol=1e-14, atol=1e-300)
    torch.testing.assert_close(getattr(rt, name)(x, **kw), v, rtol=1e-14, atol=1e-300)
    grads = torch.func.vmap(torch.func.grad(lambda t: getattr(rt, name)(t, **kw).sum()))(x)
    torch.testing.assert_close(grads, d, rtol=1e-14, atol=1e-300)
    jnp = pytest.importorskip("jax.numpy")
    jax = pytest.importorskip("jax")
    if not hasattr(jax, "enable_x64"):
        pytest.skip("this JAX has no jax.enable_x64 context")
    fn = getattr(jax.nn, name)
    fj = (lambda t: fn(t, **kw)) if kw else fn
    # jax.nn.squareplus writes x + sqrt(x^2 + b) as is: it cancels for x << 0 (relative
    # error about eps * x^2 / b), hence the looser tolerance against jax
    with jax.enable_x64(True):  # float64 here only (other tests run JAX's default)
        xj = jnp.asarray(x.numpy())
        assert xj.dtype == jnp.float64
        yj = torch.from_numpy(jax.device_get(fj(xj)).copy())
        dj = jax.device_get(jax.vmap(jax.grad(fj))(xj.reshape(-1)).reshape(x.shape))
    torch.testing.assert_close(y, yj, rtol=1e-11, atol=1e-300)
    torch.testing.assert_close(gx, g * torch.from_numpy(dj.copy()), rtol=1e-11, atol=1e-300)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_bad_inputs_are_clear_errors_and_leave_inputs_untouched():
    with pytest.raises(TypeError, match=r"input must be a torch.Tensor, got list"):
        rt.relu([1.0, -1.0])
    with pytest.raises(TypeError, match="negative_slope"):
        rt.LeakyReLU("0.1")
    with pytest.raises(ValueError, match="negative_slope"):
        rt.LeakyReLU(math.nan)
    with pytest.raises(ValueError, match="approximate"):
        rt.GELU("fast")
    x = torch.tensor([-1.0, 2.0])
    with pytest.raises(TypeError, match="inplace must be True or False"):
        rt.relu(x, inplace="yes")
    with pytest.raises(TypeError):
        rt.leaky_relu(x, "a", inplace=True)
    assert x.tolist() == [-1.0, 2.0]


def test_integer_tensors_behave_like_torch():
    x = torch.tensor([-2, 3])
    assert torch.equal(rt.relu(x), torch.relu(x))
    with pytest.raises(NotImplementedError):
        torch.nn.functional.leaky_relu(x)
    with pytest.raises(NotImplementedError):
        rt.leaky_relu(x)


# ---------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 8), nn.ELU())
        self.conv = nn.Sequential(nn.Conv2d(1, 3, 3), nn.PReLU(3), nn.ReLU6(inplace=True))
        self.heads = nn.ModuleList([nn.Linear(8, 2), nn.GELU("tanh")])
        self.act = nn.ReLU()


def forward(net, x, img):
    return net.heads[1](net.heads[0](net.act(net.body(x)))).sum() + net.conv(img).sum()


def test_convert_round_trip_with_a_saved_checkpoint(tmp_path):
    torch.manual_seed(0)
    net = Net()
    path = tmp_path / "ckpt.pt"
    torch.save(net.state_dict(), path)
    x, img = torch.randn(5, 4), torch.randn(2, 1, 6, 6)
    ref = forward(net, x, img)
    ref.backward()
    ref_grads = {k: p.grad.clone() for k, p in net.named_parameters()}

    converted = rt.convert(Net())
    assert converted.load_state_dict(torch.load(path)) is not None  # loads as-is
    assert type(converted.body[1]) is rt.LeakyReLU and converted.body[1].negative_slope == 0.2
    assert type(converted.conv[1]) is rt.PReLU and type(converted.conv[2]) is rt.ReLU6
    assert converted.conv[2].inplace and type(converted.act) is rt.ReLU
    assert type(converted.heads[1]) is rt.GELU and converted.heads[1].approximate == "tanh"
    out = forward(converted, x, img)
    out.backward()
    # torch.nn's numbers to rounding: relukit's ELU and tanh-GELU are within a few ulp
    # of torch's (tests/_torch_ref.py), the rest (leaky_relu, prelu, relu6, relu) exact
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    for k, p in converted.named_parameters():
        torch.testing.assert_close(p.grad, ref_grads[k], rtol=1e-5, atol=1e-6, msg=k)
    # and back: the converted model's checkpoint loads into plain torch.nn
    buf = io.BytesIO()
    torch.save(converted.state_dict(), buf)
    buf.seek(0)
    plain = Net()
    plain.load_state_dict(torch.load(buf))
    assert list(plain.state_dict()) == list(net.state_dict())
    assert same(forward(plain, x, img), ref)


def test_convert_keeps_prelu_parameter_and_copy_option():
    net = nn.Sequential(nn.Linear(2, 2), nn.PReLU())
    w = net[1].weight
    copy = rt.convert(net, inplace=False)
    assert type(net[1]) is nn.PReLU and type(copy[1]) is rt.PReLU
    same_obj = rt.convert(net)
    assert same_obj is net and net[1].weight is w
    assert type(rt.convert(nn.ReLU(inplace=True))) is rt.ReLU
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        rt.convert("model")


# ---------------------------------------------------------------------------
# torch.compile
# ---------------------------------------------------------------------------


def test_torch_compile():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(8, 16),
        rt.ReLU(),
        nn.Linear(16, 16),
        rt.LeakyReLU(0.1),
        nn.Linear(16, 4),
        rt.ELU(),
    )
    x = torch.randn(5, 8)
    eager = model(x).sum()
    eager.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    out = compiled(x).sum()
    out.backward()
    torch.testing.assert_close(out, eager)
    for p, g in zip(model.parameters(), grads, strict=True):
        torch.testing.assert_close(p.grad, g)


# ---------------------------------------------------------------------------
# what autograd saves: byte counts (deterministic)
# ---------------------------------------------------------------------------


def saved_bytes(model, x):
    """Bytes autograd saves for backward: unique storages, parameters excluded."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values())


def mlp(act, dropout=False, width=256, depth=3):
    layers = [nn.Linear(64, width)]
    for _ in range(depth):
        layers += [act(), *([nn.Dropout(0.2)] if dropout else []), nn.Linear(width, width)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize(
    ("torch_act", "mine", "dropout", "target"),
    [
        (nn.LeakyReLU, rt.LeakyReLU, False, 0.6),
        # the ELU family keeps its input, as torch (its derivative from the output is
        # not exact: elu's y + alpha is 0 in float32 at x = -20, where elu' is 2e-9)
        (nn.ELU, rt.ELU, False, 1.0),
        (nn.ReLU, rt.ReLU, True, 1.0),  # torch saves relu's output too: no saving
    ],
)
def test_saved_bytes_ratio(torch_act, mine, dropout, target):
    torch.manual_seed(0)
    x = torch.randn(128, 64)
    ref = saved_bytes(mlp(torch_act, dropout), x)
    ours = saved_bytes(mlp(mine, dropout), x)
    assert ours <= target * ref, (ours, ref)


def test_saved_bytes_exact():
    x = torch.randn(7, 13)  # a Linear -> activation -> Linear chain, 91 activations
    n = x.numel()
    for name in ("ReLU", "LeakyReLU", "ReLU6", "Hardtanh", "Hardsigmoid", "ELU", "CELU", "SELU"):
        torch.manual_seed(0)
        chain = nn.Sequential(nn.Linear(13, 13), getattr(nn, name)(), nn.Linear(13, 13))
        mine = rt.convert(nn.Sequential(*[m for m in chain]), inplace=False)
        # relukit: the input batch, and the activation's output (shared with Linear 2)
        # for the piecewise-linear entries; hardsigmoid and the ELU family keep their
        # input too, as torch (hardsigmoid's output cannot tell x < 3 from x >= 3 at the
        # largest float below 3; the ELU family's derivative from the output is not exact)
        keeps_output = name in ("ReLU", "LeakyReLU", "ReLU6", "Hardtanh")
        keeps = 2 if keeps_output else 3
        assert saved_bytes(mine, x) == keeps * 4 * n, name
        # torch also keeps the activation's input, except relu (it saves its output)
        assert saved_bytes(chain, x) == (2 if name == "ReLU" else 3) * 4 * n, name
        if name != "CELU":  # (no kink) with the output kept, one bool per element more:
            mine[1].at_kink = 1.0  # "the input is at a kink"
            assert saved_bytes(mine, x) == keeps * 4 * n + (n if keeps_output else 0), name


# ---------------------------------------------------------------------------
# light import
# ---------------------------------------------------------------------------


def test_import_relukit_does_not_import_torch():
    code = "import sys, relukit; assert 'torch' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ---------------------------------------------------------------------------
# the benchmark's own models: relukit never keeps more than torch.nn (unique storage),
# and about half where torch keeps the activation's input; its CLI
# ---------------------------------------------------------------------------

#: the saved-bytes ratio each model must not exceed (relukit / torch.nn)
SAVED_BOUND = {"mlp-leaky": 0.6}


@pytest.mark.parametrize(
    "model", ["mlp-leaky", "mlp-elu", "mlp-mixed", "mlp-dropout", "cnn", "resnet18", "transformer"]
)
def test_benchmark_models_saved_bytes(model):
    from relukit.bench.torch import build

    ref, mine, (x, _) = build(model)
    theirs, ours = saved_bytes(ref, x), saved_bytes(mine, x)
    assert ours <= SAVED_BOUND.get(model, 1.0) * theirs, (ours, theirs)


def test_bench_torch_cli_errors(capsys):
    from relukit.cli import main

    assert main(["bench", "torch", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--steps and --rounds must be >= 1" in err


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("name", "args", "kwargs", "kinks"), CASES, ids=IDS)
def test_half_precision_like_torch(name, args, kwargs, kinks, dtype):
    # float16: the NumPy API's bits, bfloat16: the float32 result rounded (both in
    # tests/test_torch_one_result.py); torch computes both in float32 and rounds once.
    ref, mine = pair(name, args, kwargs, dtype)
    x = inputs(dtype, kinks, shape=(4, 3, 11))
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(2)).to(dtype)
    y_ref, g_ref = run(ref, x, g)
    y, gr = run(mine, x, g)
    if mine.relukit_activation.name in EXACT:
        assert torch.equal(y, y_ref)
    # within one eps of the dtype (values: relative to |torch| + 1; gradients: to
    # |torch| + |g|, where relukit rounds the derivative before the product with g)
    assert close_to_torch(y, y_ref, k=1).all(), (y, y_ref)
    assert close_to_torch(gr[0], g_ref[0], scale=g, k=1).all(), (gr[0], g_ref[0])
    for a, b in zip(gr[1:], g_ref[1:], strict=True):  # PReLU's weight: torch's own
        assert same(a, b)


# ---------------------------------------------------------------------------
# hardsigmoid at the largest float below 3
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hardsigmoid_below_3_is_correctly_rounded_with_gradient_one_sixth(dtype):
    three = torch.tensor(3.0, dtype=dtype)
    below = torch.nextafter(three, torch.tensor(0.0, dtype=dtype)).item()
    x = torch.tensor([below, -below, 3.0, -3.0, 2.5, 4.0, 0.1], dtype=dtype)
    g = torch.linspace(0.5, 3.0, len(x), dtype=dtype)
    (y_ref, g_ref), (y, gr) = run(nn.Hardsigmoid(), x, g), run(rt.Hardsigmoid(), x, g)
    # the oracle: (x + 3) / 6 (Fraction: exact). float32 is computed in float64 (x + 3
    # exact there) and rounded once: correctly rounded, so hardsigmoid(3 - ulp) < 1, where
    # torch rounds x + 3 to 6.0 first and gives 1.0. float64 rounds x + 3 too (the NumPy
    # API's formula, as torch): within 1 ulp. It keeps its input, so that the gradient
    # below 3 is 1/6 (from the output y = 1 it could not tell x < 3 from x >= 3).
    exact = [min(max((Fraction(v) + 3) / 6, Fraction(0)), Fraction(1)) for v in x.tolist()]
    if dtype == torch.float32:
        # (a float64 division of the exact numerator and denominator: correctly rounded
        # to float64, then rounded to float32; both exact in float64 here, so no tie)
        want = torch.tensor([np.float32(q.numerator / q.denominator) for q in exact])
        assert same(y, want), (y, want)
        assert y[0].item() < 1.0 and y_ref[0].item() == 1.0
    else:
        want = torch.tensor([float(q) for q in exact], dtype=dtype)
        assert (y - want).abs().max() <= 2.0**-53
    assert close_to_torch(y, y_ref, k=1).all()
    # d/dx (x + 3) / 6 = 1/6 strictly inside (-3, 3), 0 outside (the kinks: 0, as torch)
    inside = (x > -3) & (x < 3)
    assert same(gr[0], inside.to(dtype) * (1 / 6) * g)
    assert torch.equal(gr[0] != 0, g_ref[0] != 0)
    xr = x.clone().requires_grad_()  # in place too
    rt.hardsigmoid(xr * 1, inplace=True).backward(g)
    assert same(xr.grad, gr[0])


# ---------------------------------------------------------------------------
# PReLU: torch's errors for the input's rank, channels and dtype
# ---------------------------------------------------------------------------

PRELU_BAD = [
    ("0-d input, 4 weights", lambda: torch.tensor(1.0), 4, torch.float32),
    ("1-d input, 4 weights", lambda: torch.randn(4), 4, torch.float32),
    ("3 channels, 4 weights", lambda: torch.randn(2, 3), 4, torch.float32),
    ("3 channels, 4 weights, 4-d", lambda: torch.randn(2, 3, 5, 5), 4, torch.float32),
    ("float64 input, float32 weight", lambda: torch.randn(2, 4, dtype=torch.float64), 4, None),
    ("float64 input, one float32 weight", lambda: torch.randn(2, 4, dtype=torch.float64), 1, None),
]


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize(
    ("label", "make", "num", "dtype"), PRELU_BAD, ids=[p[0] for p in PRELU_BAD]
)
def test_prelu_errors_are_torchs(label, make, num, dtype, requires_grad):
    x = make().requires_grad_(requires_grad)
    before = x.detach().clone()
    with pytest.raises(RuntimeError) as want:
        nn.PReLU(num)(x)
    for call in (lambda: rt.PReLU(num)(x), lambda: rt.prelu(x, torch.full((num,), 0.25))):
        with pytest.raises(RuntimeError) as got:
            call()
        assert str(got.value) == str(want.value), label
    assert torch.equal(x.detach(), before)
    # a 2-d weight: torch's message too
    with pytest.raises(RuntimeError) as want:
        torch.nn.functional.prelu(torch.randn(2, 4), torch.full((2, 2), 0.25))
    with pytest.raises(RuntimeError) as got:
        rt.prelu(torch.randn(2, 4, requires_grad=requires_grad), torch.full((2, 2), 0.25))
    assert str(got.value) == str(want.value)


def test_prelu_shapes_torch_accepts():
    torch.manual_seed(0)
    for x, num in [
        (torch.tensor(-1.0), 1),
        (torch.randn(5), 1),
        (torch.randn(0, 4), 4),
        (torch.randn(2, 4, 3), 4),
    ]:
        ref, mine = nn.PReLU(num), rt.PReLU(num)
        g = torch.randn(x.shape)
        (yr, gr), (ym, gm) = run(ref, x, g), run(mine, x, g)
        assert ym.shape == yr.shape and same(ym, yr) and same(gm[0], gr[0])


# ---------------------------------------------------------------------------
# in place on a view, wherever torch works
# ---------------------------------------------------------------------------

VIEW_CASES = [
    ("SiLU", (), {}),
    ("Mish", (), {}),
    ("Hardswish", (), {}),
    ("Hardsigmoid", (), {}),
    ("Threshold", (0.1, 2.0), {}),
    ("LeakyReLU", (-0.1,), {}),
    ("LeakyReLU", (0.1,), {"at_kink": 1.0}),
    ("ReLU", (), {"at_kink": 1.0}),
    ("ReLU", (), {}),
    ("ReLU6", (), {"at_kink": 0.5}),
    ("ELU", (), {}),
    ("ELU", (-0.5,), {}),
    ("CELU", (), {}),
    ("SELU", (), {}),
    ("Hardtanh", (), {"at_kink": 0.5}),
    ("Hardswish", (), {"at_kink": 0.25}),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs"), VIEW_CASES, ids=[f"{n}{a}{k or ''}" for n, a, k in VIEW_CASES]
)
def test_inplace_on_a_view(name, args, kwargs):
    torch.manual_seed(0)
    x = torch.randn(4, 6, dtype=torch.float64)
    x[0, :3] = torch.tensor([0.0, 0.05, -1.5])  # kinks (0 for x * 2) and near them
    x[1, :3] = torch.tensor([3.0, -3.0, 0.25]) / 2
    g = torch.randn(4, 3, dtype=torch.float64)
    # the oracle: the same module out of place on a copy of the view
    module = getattr(rt, name)(*args, **kwargs)
    xo = x.clone().requires_grad_()
    want = module((xo * 2)[:, :3].clone())
    want.backward(g)
    xi = x.clone().requires_grad_()
    base = xi * 2
    view = base[:, :3]
    out = getattr(rt, name)(*args, inplace=True, **kwargs)(view)
    assert out is view and same(base[:, :3], want.detach())  # written through
    assert torch.equal(base[:, 3:], (x * 2)[:, 3:])  # the rest of the base untouched
    out.backward(g)
    # the same gradient; a zero may differ in sign: where the Function keeps a copy of
    # the input (at_kink, or the input kept), the view's old value is overwritten by a
    # copy_, whose backward adds +0.0 for it to the gradient that reaches the copy
    # (0.0 + -0.0 is +0.0), as for any torch in-place op written through copy_
    assert torch.equal(xi.grad, xo.grad), (xi.grad, xo.grad)
    if not kwargs and not (args and args[0] < 0):
        # where torch's own in-place works on a view (not with a negative slope or alpha),
        # torch's numbers (as out of place: test_forward_backward_numpy_bits_and_torch_nn)
        xt = x.clone().requires_grad_()
        bt = xt * 2
        tout = getattr(nn, name)(*args, inplace=True)(bt[:, :3])
        tout.backward(g)
        assert torch.equal(bt[:, 3:], base[:, 3:])
        check_torch_nn(name, view, g, base[:, :3].detach(), None, bt[:, :3].detach(), None)
        if name == "Hardsigmoid":  # torch: 1/6 rounded to float32 (see the module doc)
            torch.testing.assert_close(xi.grad, xt.grad, rtol=4e-8, atol=0)
        else:
            assert close_to_torch(xi.grad, xt.grad, scale=2 * g.abs().max()).all()


def test_inplace_bits_on_a_view():
    torch.manual_seed(0)
    x = torch.randn(4, 6)
    g = torch.randn(4, 3)
    xo = x.clone().requires_grad_()
    want = rt.silu((xo * 2)[:, :3], bits=2)
    want.backward(g)
    xi = x.clone().requires_grad_()
    base = xi * 2
    out = rt.SiLU(inplace=True, bits=2)(base[:, :3])
    assert torch.equal(base[:, :3], want.detach())
    out.backward(g)
    assert torch.equal(xi.grad, xo.grad)


def test_inplace_on_a_view_of_a_leaf_fails_like_torch():
    leaf = torch.randn(3, 4, requires_grad=True)
    before = leaf.detach().clone()
    for mod in (nn.SiLU(inplace=True), rt.SiLU(inplace=True), rt.ReLU(inplace=True, at_kink=1.0)):
        with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
            mod(leaf[:, :2])
    assert torch.equal(leaf.detach(), before)


# ---------------------------------------------------------------------------
# bits=: which modules take it, and NumPy integers
# ---------------------------------------------------------------------------

FEWBIT_MODULES = ("GELU", "SiLU", "Mish", "Softplus", "Hardswish")


@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "ELU", "PReLU", "RReLU", "Squareplus"])
def test_bits_on_a_module_without_it_is_a_clear_error(name):
    with pytest.raises(TypeError) as err:
        getattr(rt, name)(bits=1)
    msg = str(err.value)
    assert f"relukit.torch.{name}" in msg and "bits" in msg, msg
    assert all(m in msg for m in FEWBIT_MODULES), msg
    with pytest.raises(TypeError, match="bits"):
        rt.function("squareplus")(torch.randn(3), bits=1)


def test_bits_accepts_numpy_integers():
    np = pytest.importorskip("numpy")
    x = torch.randn(20, requires_grad=True)
    (want,) = torch.autograd.grad(rt.gelu(x, bits=3).sum(), x)
    m = rt.GELU(bits=np.int64(3))
    assert m.bits == 3 and type(m.bits) is int and repr(m).endswith("bits=3)")
    (got,) = torch.autograd.grad(m(x).sum(), x)
    assert torch.equal(got, want)
    (got,) = torch.autograd.grad(rt.gelu(x, bits=np.uint8(3)).sum(), x)
    assert torch.equal(got, want)
    assert rt.derivative_levels("gelu", np.int32(2)) == rt.derivative_levels("gelu", 2)
    for bad in (np.bool_(True), True, np.float64(3.0)):
        with pytest.raises(TypeError, match="bits must be None"):
            rt.GELU(bits=bad)


# ---------------------------------------------------------------------------
# convert: shared modules, settings relukit cannot compute, at_kink= and bits=, repr
# ---------------------------------------------------------------------------


def test_convert_keeps_shared_modules_shared():
    act = nn.ReLU()
    prelu = nn.PReLU()
    net = nn.Sequential(nn.Linear(2, 2), act, nn.Linear(2, 2), act, prelu, nn.Sequential(prelu))
    for inplace in (False, True):
        m = rt.convert(net, inplace=inplace)
        assert type(m[1]) is rt.ReLU and m[1] is m[3]
        assert type(m[4]) is rt.PReLU and m[4] is m[5][0]
        assert len(list(m.modules())) == len(list(net.modules()))
        assert len(m.state_dict()) == len(net.state_dict())


def test_convert_leaves_settings_it_cannot_compute_with_one_warning():
    net = nn.Sequential(
        nn.Linear(2, 2),
        nn.Softplus(beta=-1.0),
        nn.ELU(alpha=float("inf")),
        nn.Sequential(nn.LeakyReLU(True), nn.ReLU()),
        nn.GELU(),
    )
    x = torch.randn(3, 2)
    want = net(x)
    with pytest.warns(UserWarning) as rec:
        m = rt.convert(net)
    assert len(rec) == 1
    msg = str(rec[0].message)
    for name, what in (("1", "Softplus"), ("2", "ELU"), ("3.0", "LeakyReLU")):
        assert f"'{name}' ({what}" in msg, msg
    assert "beta" in msg and "alpha" in msg and "negative_slope" in msg
    assert type(m[1]) is nn.Softplus and type(m[2]) is nn.ELU and type(m[3][0]) is nn.LeakyReLU
    assert type(m[3][1]) is rt.ReLU and type(m[4]) is rt.GELU  # the rest is converted
    assert same(m(x), want)
    # a module that is itself left: returned as it is, with the warning
    with pytest.warns(UserWarning, match="Softplus"):
        assert type(rt.convert(nn.Softplus(beta=-2.0))) is nn.Softplus


def test_convert_configures_at_kink_and_bits_in_one_call():
    net = nn.Sequential(
        nn.Linear(3, 3), nn.ReLU(), nn.GELU(), nn.LeakyReLU(0.1), nn.SiLU(), nn.Hardswish(),
        nn.CELU(), nn.Softplus(),
    )  # fmt: skip
    m = rt.convert(net, inplace=False, at_kink=1.0)
    assert m[1].at_kink == 1.0 and m[3].at_kink == 1.0 and m[5].at_kink == 1.0
    assert m[2].at_kink is None and m[6].at_kink is None  # no kinks: nothing to choose
    x = torch.tensor([[0.0, 1.0, -1.0]], requires_grad=True)
    rt.convert(nn.ReLU(), at_kink=0.5)(x).sum().backward()
    assert x.grad.tolist() == [[0.5, 1.0, 0.0]]
    with pytest.warns(UserWarning) as rec:
        m = rt.convert(net, inplace=False, bits=2)
    assert len(rec) == 1
    msg = str(rec[0].message)
    for name, what in (("1", "ReLU"), ("3", "LeakyReLU"), ("6", "CELU")):
        assert f"'{name}' ({what}" in msg, msg
    assert "'2'" not in msg and "'4'" not in msg
    assert [getattr(m[i], "bits", None) for i in (2, 4, 5, 7)] == [2, 2, 2, 2]
    (g1,) = torch.autograd.grad(m[2](x).sum(), x)
    (g2,) = torch.autograd.grad(rt.gelu(x, bits=2).sum(), x)
    assert torch.equal(g1, g2)
    # both: bits where the module takes it (Hardswish, Softplus: bits wins), at_kink elsewhere
    with pytest.warns(UserWarning, match="CELU"):
        m = rt.convert(net, inplace=False, at_kink=1.0, bits=3)
    assert m[1].at_kink == 1.0 and m[5].bits == 3 and m[5].at_kink is None
    # bad values: errors naming the argument, nothing converted
    for kw, exc in (
        ({"bits": 7}, ValueError),
        ({"bits": "2"}, TypeError),
        ({"at_kink": "1"}, TypeError),
    ):
        with pytest.raises(exc, match=next(iter(kw))):
            rt.convert(net, **kw)
        assert type(net[1]) is nn.ReLU


def test_printed_model_shows_relukit_modules():
    m = rt.convert(nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU(0.1), nn.GELU()))
    text = str(m)
    assert "relukit.torch.LeakyReLU(negative_slope=0.1)" in text, text
    assert "relukit.torch.GELU(approximate='none')" in text, text
    assert "(0): Linear(in_features=2" in text
    assert repr(rt.Squareplus()) == "relukit.torch.Squareplus(b=4.0)"
