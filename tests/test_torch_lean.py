"""relukit.torch's lean eager call (a plain contiguous float32/float64 CPU tensor).

The lean call (``relukit.torch._core._Lean``) is a shorter path to the same kernels as
the general one (``_CoreJvp``); these tests hold the two to each other and to the NumPy
API (``rk.<entry>``, pinned to mpmath elsewhere), where the lean call hands over to the
general code: a gradient that is not plain (expanded by ``sum()``), double backward,
``torch.func`` transforms and ``jacobian(vectorize=True)``, in-place use, kernels off.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
rt = pytest.importorskip("relukit.torch")
pytest.importorskip("numba")

import relukit as rk  # noqa: E402
from _torch_ref import same_bits, ulps  # noqa: E402
from _values import inputs  # noqa: E402
from relukit import _kernels  # noqa: E402

pytestmark = pytest.mark.torch

ENTRIES = ["relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "hardswish"]
DTYPES = [torch.float32, torch.float64]


def _np_dtype(dtype: torch.dtype) -> type:
    return np.float32 if dtype == torch.float32 else np.float64


def _x(dtype: torch.dtype) -> torch.Tensor:
    """The edge values of tests/_values.py (no NaN: the gradients' NaN rule has its own
    tests) and random ones, as a tensor."""
    v = inputs(_np_dtype(dtype))
    v = v[~np.isnan(v)]
    return torch.from_numpy(np.ascontiguousarray(v))


def _grad_fn_name(y: torch.Tensor) -> str:
    return type(y.grad_fn).__name__


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ENTRIES)
def test_lean_call_is_taken_and_equals_the_numpy_api(name, dtype):
    x = _x(dtype).requires_grad_()
    y = getattr(rt, name)(x)
    assert _grad_fn_name(y) == "_LeanBackward"
    g = torch.linspace(-2, 3, x.numel(), dtype=dtype)
    (gx,) = torch.autograd.grad(y, x, g)
    xn = x.detach().numpy()
    fn = getattr(rk, name)
    assert same_bits(y.detach(), torch.from_numpy(np.asarray(fn(xn))))
    assert same_bits(gx, torch.from_numpy(np.asarray(fn.derivative(xn)) * g.numpy()))


@pytest.mark.parametrize("name", ENTRIES)
def test_general_call_where_the_lean_one_does_not_apply(name):
    """A strided tensor, ``at_kink`` and a float16 tensor take the general Function."""
    x = torch.randn(8, 6, dtype=torch.float64, requires_grad=True)
    fn = getattr(rt, name)
    assert _grad_fn_name(fn(x.t())) == "_CoreJvpBackward"
    assert _grad_fn_name(fn(x.half())) == "_CoreJvpBackward"
    if rk.get(name).kinks:
        assert _grad_fn_name(fn(x, at_kink=0.5)) == "_CoreJvpBackward"


@pytest.mark.parametrize("name", ENTRIES)
def test_a_gradient_expanded_by_sum_equals_a_contiguous_one(name):
    """``y.sum().backward()`` hands backward an expanded (stride 0) gradient: the general
    code takes it, with the same bits as a contiguous gradient of ones."""
    x = torch.randn(1000, dtype=torch.float32, requires_grad=True)
    fn = getattr(rt, name)
    fn(x).sum().backward()
    a = x.grad.clone()
    x.grad = None
    fn(x).backward(torch.ones(1000))
    assert same_bits(a, x.grad)


@pytest.mark.parametrize("name", ["elu", "gelu", "silu", "softplus"])
def test_double_backward_through_the_lean_call(name):
    """create_graph: backward computes the torch formulas, which autograd differentiates;
    the second derivative against central differences of the first (float64)."""
    # (0, elu's kink, left out: its second derivative jumps there)
    x = torch.linspace(-3.05, 3.05, 62, dtype=torch.float64, requires_grad=True)
    fn = getattr(rt, name)
    (g1,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), x)
    xn = x.detach().numpy()
    h = 1e-5
    d = getattr(rk, name).derivative
    fd = (np.asarray(d(xn + h)) - np.asarray(d(xn - h))) / (2 * h)
    np.testing.assert_allclose(g2.numpy(), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["relu", "gelu", "elu"])
def test_vectorized_jacobian_and_torch_func(name):
    """Backward under vmap (``jacobian(vectorize=True)``, whose batched gradient has no
    memory of its own) and ``torch.func.grad``: the diagonal is the NumPy API's
    derivative, within the bound of the formulas in torch operations (16 ulp, float64;
    tests/test_torch_transforms.py)."""
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    fn = getattr(rt, name)
    d = torch.from_numpy(np.asarray(getattr(rk, name).derivative(x.numpy())))
    jac = torch.autograd.functional.jacobian(fn, x, vectorize=True)
    assert ulps(torch.diagonal(jac).contiguous(), d) <= 16
    gf = torch.func.vmap(torch.func.grad(lambda t: fn(t)))(x)
    assert ulps(gf, d) <= 16


def test_in_place_on_a_non_leaf_and_on_a_leaf():
    """relu keeps its output, so in place takes the lean call: the gradient is right and
    the version counter moves; on a leaf that requires grad, torch's error, x untouched."""
    x = torch.randn(100, dtype=torch.float32, requires_grad=True)
    h = x * 1.0
    v = h._version
    y = rt.relu(h, inplace=True)
    assert y is h and h._version > v and _grad_fn_name(y) == "_LeanBackward"
    y.backward(torch.ones(100))
    assert same_bits(x.grad, (x.detach() > 0).float())
    before = x.detach().clone()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        rt.relu(x, inplace=True)
    assert same_bits(x.detach(), before)


def test_in_place_for_an_entry_that_keeps_its_input_takes_the_general_call():
    x = torch.randn(100, dtype=torch.float64, requires_grad=True)
    h = x * 1.0
    y = rt.elu(h, inplace=True)
    assert _grad_fn_name(y) == "_CoreJvpBackward"
    y.backward(torch.ones(100))
    xn = x.detach().numpy()
    assert same_bits(x.grad, torch.from_numpy(np.asarray(rk.elu.derivative(xn))))


def test_without_grad_and_with_the_kernels_off():
    x = torch.randn(5000, dtype=torch.float32)
    with torch.no_grad():
        y = rt.gelu(x)
    assert y.grad_fn is None and same_bits(y, torch.from_numpy(rk.gelu(x.numpy())))
    z = torch.randn(5000, dtype=torch.float32, requires_grad=True)
    with _kernels.switched(enabled=False):
        w = rt.gelu(z)
        assert _grad_fn_name(w) == "_CoreJvpBackward"
        with torch.no_grad():
            assert same_bits(rt.gelu(x), torch.from_numpy(rk.gelu(x.numpy())))


def test_vectorized_jacobian_of_prelu_swiglu_and_a_few_bit_gelu():
    x = torch.linspace(-2, 2, 9, dtype=torch.float32)
    w = torch.tensor([0.25])
    jac = torch.autograd.functional.jacobian(lambda t: rt.prelu(t, w), x, vectorize=True)
    d = torch.from_numpy(np.asarray(rk.prelu.derivative(x.numpy(), weight=0.25)))
    assert ulps(torch.diagonal(jac).contiguous(), d) <= 16
    few = rt.GELU(bits=2)
    jac = torch.autograd.functional.jacobian(few, x, vectorize=True)
    (want,) = torch.autograd.grad(few(x.requires_grad_()).sum(), x)
    assert same_bits(torch.diagonal(jac).contiguous(), want)
    up = torch.linspace(3, -1, 9, dtype=torch.float32)
    jac = torch.autograd.functional.jacobian(lambda t: rt.swiglu(t, up), x.detach(), vectorize=True)
    dg, _ = rk.swiglu.derivative(x.detach().numpy(), up.numpy())
    assert same_bits(torch.diagonal(jac).contiguous(), torch.from_numpy(np.asarray(dg)))


def test_a_module_sees_its_settings_change_between_calls():
    """Settings validated once (per entry, dtype and values) are remembered: a module's
    changed slope, inplace flag or at_kink takes effect, and a bad value is still an
    error."""
    x = torch.linspace(-2, 2, 101, dtype=torch.float32)
    m = rt.LeakyReLU(0.1)
    a = m(x)
    m.negative_slope = 0.3
    b = m(x)
    want = torch.from_numpy(rk.leaky_relu(x.numpy(), negative_slope=0.3))
    assert not same_bits(a, b) and same_bits(b, want)
    m.negative_slope = "steep"
    with pytest.raises(TypeError, match="negative_slope"):
        m(x)
    m.negative_slope = 0.3
    m.inplace = 1
    with pytest.raises(TypeError, match="inplace must be True or False"):
        m(x)
    m.inplace = True
    h = x.clone()
    assert m(h) is h and same_bits(h, want)
    m.inplace = False
    m.at_kink = 0.5
    z = torch.zeros(3, requires_grad=True)
    m(z).sum().backward()
    assert same_bits(z.grad, torch.full((3,), 0.5))


def test_a_module_checks_each_dtype_once_validated_for_another():
    m = rt.ReLU()
    m(torch.randn(4))
    i = torch.tensor([-1, 2])
    assert torch.equal(m(i), torch.tensor([0, 2]))  # torch's integer relu
    h = torch.randn(6, dtype=torch.float64)
    assert same_bits(m(h), torch.from_numpy(rk.relu(h.numpy())))
    leaky = rt.LeakyReLU(1e39)  # a slope float64 holds and float32 overflows
    leaky(h)
    with pytest.raises(ValueError, match="overflows to inf in float32"):
        leaky(h.float())


def test_the_functional_forms_validate_what_they_have_not_seen():
    x = torch.linspace(-2, 2, 11, dtype=torch.float32)
    rt.leaky_relu(x, 0.1)
    for bad in (True, "0.1", None):
        with pytest.raises(TypeError):
            rt.leaky_relu(x, bad)
    with pytest.raises(TypeError, match="inplace must be True or False"):
        rt.leaky_relu(x, 0.1, 1)
    with pytest.raises(
        TypeError, match=r"negative_slope must be a finite real number, got \[0.1\]"
    ):
        rt.leaky_relu(x, [0.1])  # unhashable: the catalogue's message
    y = rt.leaky_relu(x, 0.1)
    assert same_bits(y, torch.from_numpy(rk.leaky_relu(x.numpy(), negative_slope=0.1)))


@pytest.mark.parametrize("backend", ["inductor", "aot_eager"])
def test_compiled_on_a_leaf_that_requires_grad(backend):
    """Compiled, the smooth entries run the kernels as operators, here on the leaf
    itself (no layer before it): the NumPy API's bits, values and gradients."""
    torch._dynamo.reset()
    x = torch.linspace(-3, 3, 101, dtype=torch.float32, requires_grad=True)
    y = torch.compile(lambda t: rt.gelu(t), backend=backend)(x)
    y.sum().backward()
    xn = x.detach().numpy()
    assert same_bits(y.detach(), torch.from_numpy(rk.gelu(xn)))
    assert same_bits(x.grad, torch.from_numpy(rk.gelu.derivative(xn)))
