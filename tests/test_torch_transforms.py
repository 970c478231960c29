"""relukit.torch inside real PyTorch code: torch.func, double backward, TorchScript,
tracing, export, compile, DDP, autocast, checkpointing, and the ATen ops it runs.

Under these (``torch.func``, ``torch.compile``, tracers, double backward) relukit.torch
computes the catalogue's formulas with torch operations instead of the CPU kernels.
The oracles: the NumPy API (the kernels' bits: within a few ulp, as the formulas in
torch operations round differently from the kernels; tests/test_numpy_formulas.py
bounds the same difference for NumPy), torch.nn / torch.nn.functional (float64, within
``_torch_ref.TORCH_ULPS`` eps: tests/test_torch_modules.py), and
``torch.autograd.gradcheck``/``gradgradcheck`` (finite differences). Gated entries,
StarReLU, SquaredReLU and QuickGELU: tests/test_torch_new_entries.py.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import subprocess
import sys
import textwrap
import warnings

import pytest

torch = pytest.importorskip("torch")
rt = pytest.importorskip("relukit.torch")
import relukit as rk  # noqa: E402
from _torch_ref import bits, close_to_torch, np_grad, np_value, ulps  # noqa: E402

F = torch.nn.functional
nn = torch.nn
func = torch.func

pytestmark = pytest.mark.torch

# every catalogue entry that torch.nn.functional has, with its default parameters, and
# some other parameter values. torch's threshold has no defaults: the reference is given
# relukit's (0, 0) explicitly.
NO_TORCH_DEFAULTS = {"threshold": {"threshold": 0.0, "value": 0.0}}
DEFAULTS = [
    (a.name, NO_TORCH_DEFAULTS.get(a.name, {}))
    for a in rk.catalogue()
    if hasattr(F, a.name) and a.name not in ("prelu",) and not a.gated
]
OTHERS = [
    ("threshold", {"threshold": 1.5, "value": -4.0}),
    ("rrelu", {"lower": 0.2, "upper": 0.6}),
    ("leaky_relu", {"negative_slope": 0.1}),
    ("leaky_relu", {"negative_slope": -0.3}),
    ("hardtanh", {"min_val": -2.0, "max_val": 1.5}),
    ("elu", {"alpha": 0.7}),
    ("elu", {"alpha": -0.5}),
    ("celu", {"alpha": 1.5}),
    ("gelu", {"approximate": "tanh"}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}),
]
CASES = DEFAULTS + OTHERS
IDS = [f"{n}{kw or ''}" for n, kw in CASES]


def away_from_kinks(name, kw, shape=(4, 9), seed=0):
    """float64 inputs in [-8, 8], none within 0.05 of a kink (derivatives are defined)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64) * 16 - 8
    for loc, *_ in rk.get(name).kink_points(**kw):
        x = torch.where((x - loc).abs() < 0.05, x + 0.1, x)
    return x


def fns(name, kw):
    """relukit's functional form and torch's reference.

    rrelu runs in evaluation mode (``training=False``, the default of both), where torch
    documents it as leaky_relu with the mean slope: the reference is written that way
    because torch's own ``F.rrelu`` has no ``torch.func`` support (``vmap`` of
    ``aten::rrelu_with_noise`` raises, even in evaluation). Training mode runs torch's
    ``F.rrelu`` itself (tests/test_torch_modules.py).
    """
    mine = lambda t: getattr(rt, name)(t, **kw)  # noqa: E731
    if name == "rrelu":
        slope = (kw.get("lower", 1 / 8) + kw.get("upper", 1 / 3)) / 2
        return mine, lambda t: F.leaky_relu(t, slope)
    return mine, lambda t: getattr(F, name)(t, **kw)


# ---------------------------------------------------------------------------
# torch.func
# ---------------------------------------------------------------------------


#: float64: the most ulp between a formula in torch operations and the kernels (the
#: NumPy API), values and derivatives: tests/test_numpy_formulas.py's bounds (at most 11)
FORMULA_ULPS = 16


def numpy_derivative(name, kw, x):
    """The NumPy API's derivative at ``x`` (rrelu: in evaluation, leaky_relu's)."""
    return np_grad(name, x, torch.ones_like(x), **kw)


def check_first_order(name, kw, x, got, want_torch, what):
    """A first derivative (or the value) from a transform: within FORMULA_ULPS of the
    NumPy API's, and of torch.nn's within the bound of tests/_torch_ref.py."""
    if what == "value":
        want = np_value(name, x, **kw)
    else:
        want = numpy_derivative(name, kw, x)
    assert ulps(got, want) <= FORMULA_ULPS, (what, ulps(got, want))
    if name == "hardsigmoid" and what != "value":  # torch: 1/6 rounded to float32
        torch.testing.assert_close(got, want_torch, rtol=4e-8, atol=0, msg=what)
    else:
        assert close_to_torch(got, want_torch).all(), (what, got, want_torch)


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_torch_func_transforms_equal_numpy_api_and_torch_nn(name, kw):
    x = away_from_kinks(name, kw)
    mine, ref = fns(name, kw)
    first = {  # per element: the value or the first derivative
        "vmap(grad)": ("derivative", lambda f: func.vmap(func.grad(lambda t: f(t).sum()))(x)),
        "jacrev": ("derivative", lambda f: func.jacrev(f)(x[0]).diagonal()),
        "jacfwd": ("derivative", lambda f: func.jacfwd(f)(x[0]).diagonal()),
        "vmap": ("value", lambda f: func.vmap(f)(x)),
        "jvp": ("derivative", lambda f: func.jvp(f, (x,), (torch.ones_like(x),))[1]),
    }
    for what, (kind, tr) in first.items():
        xs = x[0] if what in ("jacrev", "jacfwd") else x
        check_first_order(name, kw, xs, tr(mine), tr(ref), kind if kind == "value" else what)
    for tr in (func.jacrev, func.jacfwd):  # element-wise: a diagonal Jacobian
        jac = tr(mine)(x[0])
        assert torch.equal(jac, torch.diag(jac.diagonal()))
    if name != "hardsigmoid":  # (torch has no second derivative of hardsigmoid)
        hess = lambda f: func.hessian(lambda t: f(t).sum())(x[0])  # noqa: E731
        torch.testing.assert_close(hess(mine), hess(ref), rtol=1e-9, atol=1e-12)


def test_per_sample_gradients_through_functional_call_equal_torch_nn():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(4, 8), nn.PReLU(8), nn.Linear(8, 8), nn.LeakyReLU(0.1), nn.Linear(8, 8),
        nn.GELU(), nn.Linear(8, 8), nn.ELU(), nn.Linear(8, 8), nn.ReLU6(), nn.Linear(8, 1),
    ).double()  # fmt: skip
    mine = rt.convert(copy.deepcopy(net))
    x = torch.randn(10, 4, dtype=torch.float64)

    def per_sample(model):
        params = {k: v.detach() for k, v in model.named_parameters()}

        def loss(p, xi):
            return func.functional_call(model, p, (xi[None],)).pow(2).sum()

        return func.vmap(func.grad(loss), in_dims=(None, 0))(params, x)

    a, b = per_sample(net), per_sample(mine)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-12, atol=1e-15)


def test_vmap_then_backward():
    x = torch.randn(3, 5, requires_grad=True)
    for name in ("relu", "gelu", "elu"):
        x.grad = None
        func.vmap(getattr(rt, name))(x).sum().backward()
        ref = x.detach().clone().requires_grad_()
        getattr(F, name)(ref).sum().backward()
        torch.testing.assert_close(x.grad, ref.grad)


# ---------------------------------------------------------------------------
# gradcheck, gradgradcheck, second derivatives (float64)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_gradcheck_gradgradcheck_and_second_derivative_equal_torch(name, kw):
    x = away_from_kinks(name, kw).requires_grad_()
    mine, ref = fns(name, kw)
    assert torch.autograd.gradcheck(mine, (x,))
    assert torch.autograd.gradgradcheck(mine, (x,))
    g = torch.randn_like(x)
    (d1,) = torch.autograd.grad(mine(x), x, g, create_graph=True)
    (d1r,) = torch.autograd.grad(ref(x), x, g, create_graph=True)
    want = np_grad(name, x, g, **kw)
    assert ulps(d1, want) <= FORMULA_ULPS, ulps(d1, want)
    if name == "hardsigmoid":  # torch: 1/6 rounded to float32
        torch.testing.assert_close(d1, d1r, rtol=4e-8, atol=0)
    else:
        assert close_to_torch(d1, d1r, scale=g).all()
    (h,) = torch.autograd.grad(d1.pow(2).sum(), x)  # a gradient penalty
    try:
        (hr,) = torch.autograd.grad(d1r.pow(2).sum(), x)
    except RuntimeError:  # torch has no double backward here: relukit gives the a.e. value 0
        assert name == "hardsigmoid" and not h.any()
        return
    torch.testing.assert_close(h, hr, rtol=1e-10, atol=1e-13)


PRELU_SHAPES = [((5, 3), 1), ((5, 3), 3), ((4, 3, 2, 2), 3), ((6,), 1), ((), 1)]


@pytest.mark.parametrize(("shape", "nw"), PRELU_SHAPES)
def test_prelu_gradient_penalty_reaches_the_weight_like_torch(shape, nw):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64)
    ref = nn.PReLU(nw).double()
    with torch.no_grad():
        ref.weight.uniform_(-0.5, 0.5)
    mine = rt.convert(copy.deepcopy(ref))
    out = []
    for m in (ref, mine):
        xx = x.clone().requires_grad_()
        (gx,) = torch.autograd.grad(m(xx).pow(2).sum(), xx, create_graph=True)
        pen = gx.pow(2).sum()  # WGAN-GP style
        gw, hx = torch.autograd.grad(pen, (m.weight, xx))
        out.append((gw, hx))
    torch.testing.assert_close(out[1][0], out[0][0], rtol=1e-12, atol=0)
    torch.testing.assert_close(out[1][1], out[0][1], rtol=1e-12, atol=0)
    w = mine.weight.detach().clone().requires_grad_()
    xx = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(rt.prelu, (xx, w))
    assert torch.autograd.gradgradcheck(rt.prelu, (xx, w))
    for tr in (func.jacrev, func.jacfwd):  # w.r.t. the weight
        torch.testing.assert_close(tr(lambda v: rt.prelu(x, v))(w), tr(lambda v: F.prelu(x, v))(w))


def test_without_the_cpu_kernels_the_formulas_run(monkeypatch):
    # without numba (or with the kernels switched off) relukit.torch computes the
    # formulas with torch operations on CPU tensors too: the same numbers to a few ulp,
    # and every transform
    from relukit.torch import _core

    monkeypatch.setattr(_core, "_kernels_ok", lambda: False)
    for name, kw in [("elu", {"alpha": 0.7}), ("gelu", {}), ("relu6", {}), ("silu", {})]:
        x = away_from_kinks(name, kw).requires_grad_()
        assert _core.route(x) == "torch"
        mine, ref = fns(name, kw)
        y = mine(x)
        assert ulps(y, np_value(name, x, **kw)) <= FORMULA_ULPS
        assert close_to_torch(y, ref(x)).all()
        (d,) = torch.autograd.grad(mine(x).sum(), x, create_graph=True)
        (dr,) = torch.autograd.grad(ref(x).sum(), x, create_graph=True)
        assert ulps(d, numpy_derivative(name, kw, x)) <= FORMULA_ULPS
        assert close_to_torch(d, dr).all()
        assert torch.autograd.gradgradcheck(mine, (x,))
        vg = func.vmap(func.grad(lambda t, f=mine: f(t).sum()))(x.detach())
        assert ulps(vg, numpy_derivative(name, kw, x)) <= FORMULA_ULPS


# ---------------------------------------------------------------------------
# TorchScript, tracing, export, compile
# ---------------------------------------------------------------------------


def model(double=False):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(4, 8), nn.PReLU(8), nn.Linear(8, 8), nn.LeakyReLU(0.1), nn.Linear(8, 8),
        nn.GELU(), nn.Linear(8, 8), nn.ELU(), nn.Linear(8, 8), nn.ReLU(), nn.Hardswish(),
        nn.Mish(), nn.Hardtanh(-2.0, 2.0), nn.Softplus(2.0), nn.SiLU(), nn.Threshold(0.1, -1.0),
        nn.Linear(8, 1),
    )  # fmt: skip
    return net.double() if double else net


def test_jit_script_module_runs_and_round_trips():
    net = model()
    mine = rt.convert(copy.deepcopy(net))
    x = torch.randn(10, 4)
    scripted = torch.jit.script(mine)
    assert all(type(m).__module__ == "relukit.torch.modules" for m in list(mine)[1::2][:3])
    torch.testing.assert_close(scripted(x), net(x))
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    buf.seek(0)
    torch.testing.assert_close(torch.jit.load(buf)(x), net(x))
    with pytest.raises(torch.jit.Error, match="at_kink has no TorchScript form"):
        torch.jit.script(rt.ReLU(at_kink=1.0))(x)
    with pytest.raises(torch.jit.Error, match="bits has no TorchScript form"):
        torch.jit.script(rt.GELU(bits=2))(x)


def test_jit_trace_in_grad_mode_with_default_checks():
    net = model()
    mine = rt.convert(copy.deepcopy(net))
    x = torch.randn(10, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TracerWarning: graphs differ, outputs differ
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # trace itself
        traced = torch.jit.trace(mine, x)
    torch.testing.assert_close(traced(x), net(x))
    buf = io.BytesIO()
    torch.jit.save(traced, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    torch.testing.assert_close(loaded(x), net(x))
    loaded(x).sum().backward()  # trains: gradients reach the parameters
    assert all(p.grad is not None for p in loaded.parameters())


def test_export_in_a_fresh_process():
    code = textwrap.dedent(
        """
        import copy, torch, relukit.torch as rt
        from torch import nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 8), nn.PReLU(8), nn.LeakyReLU(0.0), nn.GELU(),
                            nn.ELU(), nn.ReLU(), nn.Hardswish(), nn.SiLU(), nn.Linear(8, 2))
        mine = rt.convert(copy.deepcopy(net))
        x = torch.randn(5, 4)
        ep = torch.export.export(mine, (x,))
        x[0, :2] = float("-inf")
        want = mine(x)
        assert torch.equal(ep.module()(x).isnan(), want.isnan())
        torch.testing.assert_close(ep.module()(x), want, equal_nan=True)
        ops = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
        assert not any("item" in o or "local_scalar" in o for o in ops), ops
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def _compiled_like_eager_torch(net, x) -> None:
    """``net`` converted and compiled with ``fullgraph=True``: torch.nn's eager values and
    parameter gradients."""
    mine = rt.convert(copy.deepcopy(net))
    net(x).sum().backward()
    compiled = torch.compile(mine, backend="aot_eager", fullgraph=True)
    out = compiled(x)
    out.sum().backward()
    torch.testing.assert_close(out, net(x))
    for p, q in zip(mine.parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)


def test_compile_fullgraph_forward_and_backward():
    _compiled_like_eager_torch(model(), torch.randn(10, 4))


@pytest.mark.parametrize(
    "act",
    [
        lambda: nn.ReLU(inplace=True),
        lambda: nn.LeakyReLU(0.1, inplace=True),
        lambda: nn.SiLU(inplace=True),
        lambda: nn.ELU(inplace=True),
    ],
    ids=["relu", "leaky_relu", "silu", "elu"],
)
def test_compile_fullgraph_in_place_modules(act):
    """In-place modules after a layer (a ResNet's Conv-BN-ReLU) compile to one graph
    (asking whether the input is a view once broke it at every activation) and give
    torch.nn's values and gradients."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), act(), nn.Conv2d(4, 2, 3))
    _compiled_like_eager_torch(net, torch.randn(2, 3, 8, 8))


@pytest.fixture
def fresh_dynamo():
    """An empty Dynamo cache before and after: relukit specialises each float parameter
    value, and Dynamo's recompile limit (8) counts graphs per code object (one
    ``forward`` for every relukit.torch module), so these tests neither inherit nor leave
    cache entries."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


# the same code compiled again for other float parameters: Dynamo makes a float that
# changed between calls dynamic (a SymFloat); relukit specialises it to its value, so
# each value gets its own graph (guarded on that value) and fullgraph holds. The last
# parameters repeat an earlier one: that graph is reused.
RECOMPILES = [
    ("leaky_relu", [(0.1,), (0.2,), (-0.3,), (0.0,), (0.2,)]),
    ("hardtanh", [(-1.0, 1.0), (-2.0, 0.5), (-0.5, 3.0), (-2.0, 0.5)]),
    ("elu", [(1.0,), (0.5,), (-0.5,), (1.0,)]),
    ("celu", [(1.0,), (1.5,), (1.0,)]),
    ("softplus", [(1.0, 20.0), (2.0, 3.0), (0.5, 1.0), (2.0, 3.0)]),
    ("threshold", [(0.0, 0.0), (1.5, -4.0), (1.5, -4.0)]),
]


@pytest.mark.parametrize(("name", "params"), RECOMPILES, ids=[r[0] for r in RECOMPILES])
def test_compile_fullgraph_recompiles_for_other_float_parameters(name, params, fresh_dynamo):
    from torch._dynamo.testing import CompileCounterWithBackend

    names = rk.get(name).params
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(
        lambda t, *p: getattr(rt, name)(t, *p), backend=counter, fullgraph=True
    )
    on_specials = torch.compile(
        lambda t, *p: getattr(rt, name)(t, *p), backend="aot_eager", fullgraph=True
    )
    special = torch.tensor([-math.inf, math.inf, math.nan, -0.0, 0.0], dtype=torch.float64)
    for i, p in enumerate(params):
        kw = dict(zip(names, p, strict=True))
        x = away_from_kinks(name, kw, shape=(40,)).requires_grad_()
        want = getattr(F, name)(x, *p)
        (g_want,) = torch.autograd.grad(want.sum(), x)
        before = counter.frame_count
        got = compiled(x, *p)
        (g_got,) = torch.autograd.grad(got.sum(), x)
        # the formulas in torch operations: eager relukit's numbers (the kernels') to a
        # few ulp (the exact entries: to the bit), torch.nn's within the bound
        exact = name in ("leaky_relu", "hardtanh", "threshold")
        assert ulps(got, np_value(name, x, **kw)) <= (0 if exact else FORMULA_ULPS), p
        assert ulps(g_got, numpy_derivative(name, kw, x)) <= (0 if exact else FORMULA_ULPS), p
        assert close_to_torch(got, want).all() and close_to_torch(g_got, g_want).all(), p
        assert (counter.frame_count == before) == (p in params[:i]), (p, counter.frame_count)
        # ±inf, NaN, ±0: the graph keeps relukit's rules (the limits, the input's NaN, the
        # signed zeros: leaky_relu(-inf, 0.0) is -0.0, not NaN), as eager relukit
        eager = getattr(rt, name)(special, *p)
        assert torch.equal(on_specials(special, *p).view(torch.int64), eager.view(torch.int64))


def test_compile_fullgraph_at_kink_and_rrelu_bounds_change(fresh_dynamo):
    compiled = torch.compile(
        lambda t, k: rt.relu(t, at_kink=k), backend="aot_eager", fullgraph=True
    )
    for k in (0.5, 1.0, 0.25):
        x = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        compiled(x, k).sum().backward()
        assert x.grad.tolist() == [0.0, k, 1.0]
    compiled = torch.compile(lambda t, a, b: rt.rrelu(t, a, b), backend="aot_eager", fullgraph=True)
    x = torch.randn(50, dtype=torch.float64)
    for lo, hi in ((0.1, 0.3), (0.2, 0.2), (0.05, 0.4)):
        torch.testing.assert_close(compiled(x, lo, hi), F.leaky_relu(x, (lo + hi) / 2))


def test_compile_fullgraph_modules_of_one_class_with_other_floats(fresh_dynamo):
    torch.manual_seed(0)
    lin = [nn.Linear(6, 6).double() for _ in range(3)]
    net = nn.Sequential(
        lin[0], nn.LeakyReLU(0.1), lin[1], nn.LeakyReLU(-0.2), nn.ELU(0.5), lin[2],
        nn.ELU(2.0), nn.Hardtanh(-2.0, 1.0), nn.Hardtanh(-0.5, 0.5),
    )  # fmt: skip
    mine = rt.convert(copy.deepcopy(net))
    x = torch.randn(10, 6, dtype=torch.float64)
    net(x).sum().backward()
    out = torch.compile(mine, backend="aot_eager", fullgraph=True)(x)
    out.sum().backward()
    torch.testing.assert_close(out, net(x))
    for p, q in zip(mine.parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)
    # separate compiles of modules of one class: the second one recompiles the same
    # forward with another attribute value
    for slope in (0.1, 0.2, -0.3):
        got = torch.compile(rt.LeakyReLU(slope), backend="aot_eager", fullgraph=True)(x)
        torch.testing.assert_close(got, F.leaky_relu(x, slope), rtol=0, atol=0)


# on the CPU, compiled smooth entries call the kernels (custom operators): eager's bits
_EDGES = [-math.inf, math.inf, math.nan, 0.0, -0.0, 1e-45, -1e-45, -1.5, 3.0, -40.0, 40.0]


def _recording_backend(targets: list[str]):
    """aot_eager, writing down the operators of the forward and backward graphs."""
    from torch._dynamo.backends.common import aot_autograd

    def rec(gm, _inputs):
        targets.extend(str(n.target) for n in gm.graph.nodes if n.op == "call_function")
        return gm

    return aot_autograd(fw_compiler=rec, bw_compiler=rec)


def _edge_input(dtype, n=64):
    torch.manual_seed(3)
    x = torch.cat([torch.tensor(_EDGES, dtype=torch.float64), 4 * torch.randn(n).double()])
    return x.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    ("name", "kw"),
    [("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("elu", {"alpha": 0.7}),
     ("softplus", {"beta": 2.0, "threshold": 3.0}), ("mish", {})],
)  # fmt: skip
def test_compile_on_the_cpu_runs_the_kernels_with_eagers_bits(name, kw, dtype, fresh_dynamo):
    """A smooth entry compiled for a CPU tensor calls relukit's kernels (the operators
    ``relukit::value`` and ``relukit::grad``, forward and backward): values and
    gradients bit for bit those of eager mode and of the NumPy API."""
    x = _edge_input(dtype)
    g = torch.linspace(-2, 2, x.numel(), dtype=dtype)
    f = getattr(rt, name)
    targets: list[str] = []
    compiled = torch.compile(
        lambda t: f(t, **kw), backend=_recording_backend(targets), fullgraph=True
    )
    xc = x.clone().requires_grad_()
    y = compiled(xc)
    y.backward(g)
    xe = x.clone().requires_grad_()
    ye = f(xe, **kw)
    ye.backward(g)
    assert "relukit.value.default" in targets and "relukit.grad.default" in targets, targets
    assert torch.equal(bits(y), bits(ye)) and torch.equal(bits(y), bits(np_value(name, x, **kw)))
    assert torch.equal(bits(xc.grad), bits(xe.grad))


@pytest.mark.parametrize(("name", "kw"), [("swiglu", {}), ("geglu", {"approximate": "tanh"})])
def test_compile_on_the_cpu_runs_the_gated_kernels_with_eagers_bits(name, kw, fresh_dynamo):
    """The gated entries compiled for CPU tensors: the gated kernels as operators, both
    input gradients in one call, eager mode's bits."""
    a = _edge_input(torch.float32)
    b = _edge_input(torch.float32).flip(0) * 0.5
    g = torch.linspace(-2, 2, a.numel())
    f = getattr(rt, name)
    targets: list[str] = []
    compiled = torch.compile(
        lambda s, t: f(s, t, **kw), backend=_recording_backend(targets), fullgraph=True
    )
    outs = []
    for fn in (compiled, lambda s, t: f(s, t, **kw)):
        ac, bc = a.clone().requires_grad_(), b.clone().requires_grad_()
        y = fn(ac, bc)
        y.backward(g)
        outs.append((y, ac.grad, bc.grad))
    assert "relukit.gated_value.default" in targets, targets
    assert "relukit.gated_grad.default" in targets, targets
    for got, want in zip(*outs, strict=True):
        assert torch.equal(bits(got), bits(want))


@pytest.mark.parametrize(
    ("case", "f", "x", "opts"),
    [
        ("bfloat16", lambda t: rt.silu(t), _edge_input(torch.bfloat16), {}),
        ("float16", lambda t: rt.elu(t, 0.5), _edge_input(torch.float16), {}),
        ("transposed", lambda t: rt.gelu(t.t()), _edge_input(torch.float32).reshape(5, 15), {}),
        ("in place", lambda t: rt.SiLU(inplace=True)(t * 1.0), _edge_input(torch.float32), {}),
        ("dynamic shapes", lambda t: rt.gelu(t), _edge_input(torch.float32), {"dynamic": True}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_compile_on_the_cpu_other_dtypes_layouts_and_shapes(case, f, x, opts, fresh_dynamo):
    """The operators under compile take every CPU dtype, non-contiguous inputs, in-place
    modules and symbolic shapes: eager mode's bits, values and gradients."""
    compiled = torch.compile(f, backend="aot_eager", fullgraph=True, **opts)
    g = None
    for xs in (x, x[: x.shape[0] - 3]) if opts else (x,):
        outs = []
        for fn in (compiled, f):
            t = xs.clone().requires_grad_()
            y = fn(t)
            g = torch.linspace(-2, 2, y.numel(), dtype=y.dtype).reshape(y.shape)
            y.backward(g)
            outs.append((y, t.grad))
        for got, want in zip(*outs, strict=True):
            assert torch.equal(bits(got), bits(want)), case


def test_compile_keeps_exact_entries_and_export_in_torch_operations(fresh_dynamo):
    """relu (exact: Inductor fuses it with its neighbours) compiles to torch operations,
    and so does an exported program of a smooth entry (ATen operators only)."""
    targets: list[str] = []
    x = torch.randn(8, requires_grad=True)
    torch.compile(rt.relu, backend=_recording_backend(targets), fullgraph=True)(x).sum().backward()
    assert targets and not any("relukit" in t for t in targets), targets
    ep = torch.export.export(rt.GELU(), (torch.randn(8),))
    ops = [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]
    assert ops and not any("relukit" in t for t in ops), ops
    assert torch.equal(ep.module()(x.detach()), rt.gelu(x.detach()))


# ---------------------------------------------------------------------------
# DDP, autocast, checkpointing
# ---------------------------------------------------------------------------


def test_ddp_single_process_equals_torch_nn(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdv'}", rank=0, world_size=1)
    try:
        net = model()
        mine = rt.convert(copy.deepcopy(net))
        x = torch.randn(10, 4)
        grads = []
        for m in (net, mine):
            ddp = nn.parallel.DistributedDataParallel(m)
            ddp(x).sum().backward()
            grads.append([p.grad for p in m.parameters()])
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(b, a)
    finally:
        dist.destroy_process_group()


def test_autocast_and_checkpoint_equal_torch_nn():
    from torch.utils.checkpoint import checkpoint

    net = model()
    mine = rt.convert(copy.deepcopy(net))
    x = torch.randn(10, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = net(x), mine(x)
    assert a.dtype == b.dtype == torch.bfloat16
    torch.testing.assert_close(b, a)
    for m in (net, mine):
        checkpoint(m, x, use_reentrant=False).sum().backward()
    for p, q in zip(mine.parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)


# ---------------------------------------------------------------------------
# ATen ops per forward + backward: none on the CPU kernels' route; on the formulas'
# route (meta device, a dispatch mode) the formulas' own and a few more, and no tensor
# from Python data
# ---------------------------------------------------------------------------


class _Ops(torch.utils._python_dispatch.TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, fn, types, args=(), kwargs=None):
        self.ops.append(str(fn))
        return fn(*args, **(kwargs or {}))


def ops_of(f, *shape, device="meta"):
    x = torch.randn(*shape, device=device, requires_grad=True)
    g = torch.randn(*shape, device=device)
    f(x.detach().clone().requires_grad_()).backward(g)  # warm the per-entry caches
    with _Ops() as rec:
        f(x).backward(g)
    return rec.ops


#: ops that make a tensor from Python data, or read a tensor back to Python (a host
#: sync on a GPU). (``scalar_tensor``, torch.where's own way of taking a Python number,
#: fills a 0-d tensor on the device: no data from the host, no sync; the formulas'
#: ``where(x > 0, x, 0.0)`` use it, as torch's own decompositions do.)
FROM_PYTHON = ("lift_fresh", "_local_scalar_dense", "item")


OP_CASES = [(n, kw, None) for n, kw in CASES] + [
    (n, kw, 1.0)
    for n, kw in CASES
    if rk.get(n).kinks  # at_kink: entries with kinks
]


def _plan_of(name, kw):
    from relukit.torch import _core

    if name == "rrelu":  # (evaluation: leaky_relu with the mean slope)
        return _core.plan("leaky_relu", ((kw.get("lower", 1 / 8) + kw.get("upper", 1 / 3)) / 2,))
    return _core.plan(name, tuple(rk.get(name).bind((), kw).values()))


@pytest.mark.parametrize(
    ("name", "kw", "at_kink"), OP_CASES, ids=[f"{n}{kw or ''}-{a}" for n, kw, a in OP_CASES]
)
def test_aten_ops_per_forward_backward_are_the_formulas_and_a_few_more(name, kw, at_kink):
    from relukit.torch import _core

    extra = {} if at_kink is None else {"at_kink": at_kink}
    mine = ops_of(lambda t: getattr(rt, name)(t, **kw, **extra), 64, 32)
    pl = _plan_of(name, kw)
    x = torch.randn(64, 32, device="meta")
    with _Ops() as rec:  # the formulas themselves: the value and the derivative
        _core.formula(pl, "value", x)
        _core.formula(pl, "from_output" if pl.save_output else "derivative", x)
    # and: the product with g, aliases (x's NaN where x is NaN, whatever g is, moves from
    # the derivative to the product); at_kink: a comparison per kink and a where
    bound = len(rec.ops) + 4 + (3 * len(pl.kinks) if at_kink is not None else 0)
    assert len(mine) <= bound, (mine, rec.ops)
    assert not [o for o in mine if o.split(".")[1] in FROM_PYTHON], mine


#: what eager forward + backward on CPU tensors may run besides the kernels: memory, no
#: arithmetic (the kernels apply the NaN rule and the limits at ±inf: no fix-up pass)
ALLOCATION = {"aten::empty", "aten::empty_like", "aten::empty_strided", "aten::detach",
              "aten::to", "aten::resolve_conj", "aten::resolve_neg", "aten::view",
              "aten::as_strided", "aten::reshape", "aten::ones_like", "aten::fill_"}  # fmt: skip


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_cpu_eager_runs_no_aten_arithmetic(name, kw):
    from torch.profiler import ProfilerActivity, profile

    f = lambda t: getattr(rt, name)(t, **kw)  # noqa: E731
    x = torch.randn(64, 32, requires_grad=True)
    g = torch.randn(64, 32)
    f(x).backward(g)  # (warm the caches)
    x.grad = None  # (no accumulation into x.grad)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        f(x).backward(g)
    ops = {e.name for e in prof.events() if e.name.startswith("aten::")}
    assert ops <= ALLOCATION, ops - ALLOCATION


def test_prelu_ops_within_torch_plus_30():
    w = torch.full((32,), 0.25, device="meta", requires_grad=True)
    for frozen in (False, True):
        ww = w.detach() if frozen else w
        mine = ops_of(lambda t, v=ww: rt.prelu(t, v), 64, 32)
        ref = ops_of(lambda t, v=ww: F.prelu(t, v), 64, 32)
        assert len(mine) <= len(ref) + 30, (mine, ref)
        assert not [o for o in mine if o.split(".")[1] in FROM_PYTHON], mine


def test_special_values_without_tensors_from_python_data():
    # the limits at ±inf and the NaN rule are the formulas' own where()s with Python
    # numbers (the formulas' route: here under a dispatch mode)
    x = torch.tensor([-math.inf, math.inf, 1.0, math.nan], requires_grad=True)
    with _Ops() as rec:
        y = rt.gelu(x)
        y.backward(torch.ones(4))
    assert y.tolist()[:2] == [0.0, math.inf] and math.copysign(1, y[0].item()) < 0
    assert x.grad.tolist()[:3] == [0.0, 1.0, pytest.approx(1.0833154705876864)]
    assert y[3].isnan() and x.grad[3].isnan()
    assert not [o for o in rec.ops if o.split(".")[1] in FROM_PYTHON], rec.ops


def test_a_new_catalogue_entry_gets_a_module_and_autograd_without_edits(monkeypatch):
    # squareplus (jax.nn.squareplus), declared here the way activations.py declares an
    # entry: value and derivative against an array namespace, one parameter
    import importlib

    from relukit.torch import _core, _functions

    cat = importlib.import_module("relukit.catalogue")  # (relukit.catalogue is a function)
    from relukit.torch.modules import make_module

    def value(m, x, b):
        return (x + m.sqrt(x * x + b)) / 2

    def derivative(m, x, b):
        return (1 + x / m.sqrt(x * x + b)) / 2

    act = cat.Activation(
        name="squareplus_test",
        formula="(x + sqrt(x^2 + b)) / 2",
        derivative_formula="(1 + x / sqrt(x^2 + b)) / 2",
        latex="",
        derivative_latex="",
        math=cat.Math(value, derivative),
        params_list=(cat.Param("b", 4.0, "smoothness", low=0.0),),
    )
    monkeypatch.setitem(cat._REGISTRY, act.name, act)
    monkeypatch.setitem(cat._LOOKUP, "squareplustest", act)
    try:
        Squareplus = make_module(act.name)
        m = Squareplus(b=2.0)
        assert Squareplus.__name__ == "SquareplusTest"
        assert repr(m) == "relukit.torch.SquareplusTest(b=2.0)"
        x = torch.linspace(-5, 5, 23, dtype=torch.float64, requires_grad=True)
        want = (x + torch.sqrt(x * x + 2.0)) / 2  # torch's own autograd as the oracle
        torch.testing.assert_close(m(x), want)
        (d,) = torch.autograd.grad(m(x).sum(), x, create_graph=True)
        (dr,) = torch.autograd.grad(want.sum(), x, create_graph=True)
        torch.testing.assert_close(d, dr)
        assert torch.autograd.gradgradcheck(m, (x,))
        f = _functions.function(act.name)
        torch.testing.assert_close(
            func.vmap(func.grad(lambda t: f(t, 2.0).sum()))(x.detach()[:, None])[:, 0],
            dr.detach(),
        )
        with pytest.raises(ValueError, match="b must be"):
            Squareplus(b=-1.0)
    finally:
        _core._plan.cache_clear()


# ---------------------------------------------------------------------------
# any finite input, edge values included: the NumPy API's bits, torch.nn's numbers
# ---------------------------------------------------------------------------


def _same_bits(a, b):
    return bool(((a == b) & (torch.signbit(a) == torch.signbit(b)) | (a.isnan() & b.isnan())).all())


EXACT_ENTRIES = ("relu", "leaky_relu", "relu6", "hardtanh", "threshold", "rrelu")


def test_hypothesis_every_entry_numpy_bits_and_torch_nn_on_finite_inputs():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    values = st.lists(
        st.one_of(
            st.floats(width=32, allow_nan=False, allow_infinity=False),
            st.sampled_from([0.0, -0.0, 1e-45, -1e-45, 1.17e-38, -3.0, 3.0, 6.0, -1.0, 1.0]),
        ),
        min_size=1,
        max_size=40,
    )

    @settings(deadline=None)
    @given(values, st.sampled_from(CASES))
    def check(vals, case):
        name, kw = case
        x = torch.tensor(vals, dtype=torch.float32)
        g = torch.linspace(-2, 3, len(vals))
        a = x.clone().requires_grad_()
        b = x.clone().requires_grad_()
        ya, yb = getattr(rt, name)(a, **kw), getattr(F, name)(b, **kw)
        ya.backward(g)
        yb.backward(g)
        ya, yb = ya.detach(), yb.detach()
        # the NumPy API's bits (values and gradients)
        assert _same_bits(ya, np_value(name, x, **kw)), (ya, np_value(name, x, **kw))
        assert _same_bits(a.grad, np_grad(name, x, g, **kw))
        # torch.nn: the exact entries' numbers (relu(-0.0) is +0.0; a zero gradient
        # takes g's sign), the others within the bound of tests/_torch_ref.py
        if name in EXACT_ENTRIES:
            assert torch.equal(ya, yb) and torch.equal(a.grad, b.grad), (ya, yb, a.grad, b.grad)
        else:
            assert close_to_torch(ya, yb).all(), (ya, yb)
            if name == "hardsigmoid":  # (torch: 1/6 rounded to float32, here exact)
                assert torch.equal(a.grad, b.grad)
            else:
                near = close_to_torch(a.grad, b.grad, scale=g)
                if kw.get("approximate") == "tanh":
                    # torch's float32 gelu(tanh) gradient squares x: NaN once x * x
                    # overflows, |x| >= 2**64 (the limits there are 1 and 0)
                    near = near | (x.abs() >= 2.0**64)
                assert near.all(), (a.grad, b.grad)

    check()


def test_torch_gelu_tanh_gradient_is_nan_where_x_squared_overflows_and_relukits_is_not():
    # the defect the comparison above leaves out, pinned so that it is known when fixed
    x = torch.tensor([1.8e19, 2.0**64, 1e20, 3e38, -1e20, -3e38], requires_grad=True)
    (theirs,) = torch.autograd.grad(F.gelu(x, approximate="tanh").sum(), x)
    xx = x.detach().clone().requires_grad_()
    (ours,) = torch.autograd.grad(rt.gelu(xx, approximate="tanh").sum(), xx)
    assert not theirs[0].isnan() and theirs[2:].isnan().all(), theirs
    assert torch.equal(ours, torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])), ours


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "relu6", "hardtanh", "elu", "hardswish"])
def test_at_kink_in_forward_and_reverse_mode_and_in_place(name):
    act = rk.get(name)
    locs = [k[0] for k in act.kink_points()]
    x = torch.tensor([*locs, -7.5, -0.5, 0.5, 2.5, 7.5], dtype=torch.float64)
    # the catalogue's derivative with at_kink (NumPy, no torch) is the oracle
    want = torch.as_tensor(act.derivative(x.numpy(), at_kink=0.5))
    f = getattr(rt, name)
    fwd = func.jvp(lambda t: f(t, at_kink=0.5), (x,), (torch.ones_like(x),))[1]
    rev = func.vmap(func.grad(lambda t: f(t, at_kink=0.5)))(x)
    torch.testing.assert_close(fwd, want, rtol=1e-12, atol=0)
    torch.testing.assert_close(rev, want, rtol=1e-12, atol=0)
    leaf = x.clone().requires_grad_()
    f(leaf * 1, inplace=True, at_kink=0.5).sum().backward()
    torch.testing.assert_close(leaf.grad, want, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------
# second derivatives of entries that save their output (sparse_plus)
# ---------------------------------------------------------------------------


def test_sparse_plus_second_derivative_is_finite_like_the_formula():
    # sparse_plus''(x) = 0 for x < -1 or x > 1, 1/2 in between (differentiating the
    # formula by hand); the backward from the output, sqrt(y), must not give 0 * inf
    x = torch.tensor([-3.0, -2.0, -1.5, -0.5, 0.0, 0.25, 0.9, 1.5, 4.0], dtype=torch.float64)
    want = torch.where((x > -1) & (x < 1), 0.5, 0.0).double()
    xx = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(rt.sparse_plus(xx).sum(), xx, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), xx)
    torch.testing.assert_close(h, want, rtol=1e-15, atol=0)
    hess = func.hessian(lambda t: rt.sparse_plus(t).sum())(x)
    torch.testing.assert_close(hess.diagonal(), want, rtol=1e-15, atol=0)
    assert not hess.isnan().any()
    # the same through the module, and gradgradcheck (finite differences) away from ±1
    assert torch.autograd.gradgradcheck(rt.SparsePlus(), (xx,))


# ---------------------------------------------------------------------------
# torch.jit.trace keeps at_kink and bits= (plain ATen ops: the trace saves and loads)
# ---------------------------------------------------------------------------

TRACE_KINKED = {  # (module with at_kink=k, its kinks)
    "ReLU": (lambda k: rt.ReLU(at_kink=k), (0.0,)),
    "LeakyReLU": (lambda k: rt.LeakyReLU(0.1, at_kink=k), (0.0,)),
    "LeakyReLU-neg": (lambda k: rt.LeakyReLU(-0.2, at_kink=k), (0.0,)),
    "ReLU6": (lambda k: rt.ReLU6(at_kink=k), (0.0, 6.0)),
    "Hardtanh": (lambda k: rt.Hardtanh(-2.0, 1.0, at_kink=k), (-2.0, 1.0)),
    "Hardswish": (lambda k: rt.Hardswish(at_kink=k), (-3.0, 3.0)),
    "ELU": (lambda k: rt.ELU(0.5, at_kink=k), (0.0,)),
    "PReLU": (lambda k: rt.PReLU(3, 0.25, at_kink=k), (0.0,)),
}


def _trace_round_trip(module, example):
    """``torch.jit.trace`` with its default checks (warnings are errors), then save and load."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TracerWarning: graphs or outputs differ
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # jit itself
        traced = torch.jit.trace(module, example)
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
        buf.seek(0)
        return traced, torch.jit.load(buf)


@pytest.mark.parametrize("example_grad", [False, True])
@pytest.mark.parametrize("at_kink", [1.0, 0.5, -2.0, 0.0, -0.0, math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("name", sorted(TRACE_KINKED))
def test_jit_trace_keeps_at_kink(name, at_kink, example_grad):
    make, kinks = TRACE_KINKED[name]
    module = make(at_kink)
    torch.manual_seed(0)
    vals = torch.tensor([*kinks, *kinks, -0.0, -7.0, 0.5, -0.5, 2.0, 7.5, math.nan, 1e-30])
    x = torch.cat([vals, torch.randn(27 - len(vals)) * 4]).reshape(9, 3)  # 3 channels
    g = torch.linspace(-2.0, 3.0, x.numel()).reshape(x.shape)
    example = torch.randn(x.shape).requires_grad_(example_grad)
    traced, loaded = _trace_round_trip(module, example)
    y_want, g_want = _grad_of(module, x, g)
    at = sum(x == k for k in kinks).bool()
    assert at.any() and _same_bits(g_want[at], g[at] * at_kink)  # the eager oracle holds
    equal = lambda a, b: ((a == b) | (a.isnan() & b.isnan())).all()  # noqa: E731 (+0 == -0)
    for m in (traced, loaded):
        y, gr = _grad_of(m, x, g)
        assert _same_bits(y, y_want), (y, y_want)  # values: bit for bit, -0.0 included
        assert equal(gr[at], g_want[at]) and gr[x.isnan()].isnan().all(), (gr, g_want)
        if name == "ELU":  # traced: torch's gradient from the input (eager: from the output)
            tol = 4 * torch.finfo(x.dtype).eps * (g_want.abs() + 2 * g.abs())
            assert ((gr - g_want).abs() <= tol)[~(x.isnan() | at)].all(), (gr, g_want)
        else:
            assert equal(gr, g_want), (gr, g_want)


TRACE_FORMULAS = [(n, kw) for n, kw in CASES if n != "rrelu"] + [
    ("squareplus", {}),
    ("sparse_plus", {}),
    ("squared_relu", {}),
    ("quick_gelu", {}),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("name", "kw"), TRACE_FORMULAS, ids=[f"{n}{kw or ''}" for n, kw in TRACE_FORMULAS]
)
def test_jit_trace_formulas_give_the_eager_formulas_bits(name, kw, dtype):
    # TorchScript pools tensor constants that are equal or nearly so (-0.0 and 0.0; a
    # number and its high half in an exact product, 1e-8 apart): a traced formula must
    # not depend on constants told apart by so little. Traced with a small example, run
    # on inputs of every range: the eager formula's bits, value and derivative.
    from relukit.torch import _core

    pl = _plan_of(name, kw)
    g = torch.Generator().manual_seed(0)
    x = torch.cat(
        [
            torch.randn(2000, generator=g, dtype=torch.float64) * 4,
            torch.randn(500, generator=g, dtype=torch.float64) * 40,
            torch.tensor([0.0, -0.0, 3.0, -3.0, 1e-300, -1e-300, 700.0, -700.0, 1e30, -1e30]),
            torch.tensor([math.inf, -math.inf, math.nan]),
        ]
    ).to(dtype)
    for which in ("value", "derivative"):
        f = lambda t, w=which: _core.formula(pl, w, t)  # noqa: E731
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # (torch.jit itself)
            traced = torch.jit.trace(f, torch.randn(7, dtype=dtype), check_trace=False)
        for _ in range(3):  # the profiling executor optimises the graph after two runs
            got = traced(x)
        assert _same_bits(got, f(x)), (which, ulps(got, f(x)))


TRACE_BITS = [
    rt.GELU(bits=3),
    rt.GELU("tanh", bits=1),
    rt.SiLU(bits=2),
    rt.Mish(bits=4),
    rt.Softplus(2.0, 5.0, bits=2),
    rt.Hardswish(bits=3),
]


@pytest.mark.parametrize("example_grad", [False, True])
@pytest.mark.parametrize("module", TRACE_BITS, ids=repr)
def test_jit_trace_keeps_bits(module, example_grad):
    torch.manual_seed(0)
    # (a traced few-bit gradient at ±inf is 0, documented: not among these inputs)
    x = torch.cat([torch.randn(40) * 3, torch.tensor([0.0, -0.0, 3.0, -3.0, math.nan])])
    g = torch.randn(x.shape)
    traced, loaded = _trace_round_trip(module, torch.randn(7).requires_grad_(example_grad))
    y_want, g_want = _grad_of(module, x, g)
    exact = type(module)(*([module.approximate] if hasattr(module, "approximate") else []))
    _, g_exact = _grad_of(exact, x, g)
    assert not torch.equal(g_want[:40], g_exact[:40])  # the oracle is the few-bit gradient
    for m in (traced, loaded):
        y, gr = _grad_of(m, x, g)
        # traced: the formula in torch operations (float32 computed in float64, rounded
        # once): within 1 ulp of the kernels' value (tests/test_numpy_formulas.py)
        assert ulps(y, y_want) <= 1, (y, y_want)
        assert _same_bits(gr, g_want), (gr, g_want)  # the few-bit gradient: exactly


def test_jit_trace_keeps_minus_zero_limits_beside_other_zeros():
    # gelu(-inf) = hardswish(-inf) = -0.0; TorchScript pools a -0.0 constant with the
    # 0.0 of relu's threshold, so the traced fix-up must not be a constant
    f = lambda t: torch.cat([rt.relu(t), rt.gelu(t), rt.hardswish(t)])  # noqa: E731
    x = torch.tensor([-math.inf, -0.0, 1.0])
    want = f(x)
    assert torch.signbit(want[3]) and torch.signbit(want[6])
    for m in _trace_round_trip(f, torch.randn(3)):
        for _ in range(3):  # the profiling executor optimises the graph after two runs
            got = m(x.clone().requires_grad_())
        assert _same_bits(got.detach(), want), (got, want)


@pytest.mark.parametrize("module", ["SquaredReLU", "StarReLU"])
def test_jit_trace_and_script_where_the_derivative_overflows(module):
    # squared_relu'(2e38) = 4e38 is inf in float32: the traced value once added
    # 0 * inf = NaN, and at +inf the unused branch sent NaN into the gradient
    make = (lambda: rt.StarReLU(learnable=False)) if module == "StarReLU" else rt.SquaredReLU
    x = torch.tensor([math.inf, 2e38, 3.0, -1.0, -math.inf])
    want_y, want_g = _grad_of(make(), x, torch.ones(5))
    assert not want_y.isnan().any() and not want_g.isnan().any()
    scripted = torch.jit.script(make())
    assert _same_bits(scripted(x), want_y)
    for g in _trace_round_trip(make(), torch.randn(5)):
        got_y, got_g = _grad_of(g, x, torch.ones(5))
        assert _same_bits(got_y.detach(), want_y), (got_y, want_y)
        assert _same_bits(got_g, want_g), (got_g, want_g)


def test_jit_trace_gradient_at_nan_is_nan():
    x = torch.tensor([-1.0, math.nan, 2.0, 0.0])
    for name in NAN_PIECEWISE:
        f = _nan_fn(name)
        want = _grad_of(f, x, torch.ones(4))[1]
        assert want[1].isnan()
        for g in _trace_round_trip(f, torch.randn(4)):
            got = _grad_of(g, x, torch.ones(4))[1]
            assert got[1].isnan(), (name, got)
            # traced: torch's gradients from the input (the ELU family's eager ones come
            # from the output, a few ulp apart)
            torch.testing.assert_close(got, want, rtol=4e-7, atol=0, equal_nan=True)


def test_jit_trace_functional_forms_keep_at_kink_and_bits():
    x = torch.tensor([-1.0, 0.0, 0.0, 2.0])
    f = lambda t: rt.relu(t, at_kink=0.5) + rt.gelu(t, bits=1)  # noqa: E731
    traced, loaded = _trace_round_trip(f, torch.randn(4))
    want = _grad_of(f, x, torch.ones(4))[1]
    for m in (traced, loaded):
        torch.testing.assert_close(_grad_of(m, x, torch.ones(4))[1], want, rtol=0, atol=0)


# ---------------------------------------------------------------------------
# torch.export and FakeTensorMode with bits= (no process-wide state left behind)
# ---------------------------------------------------------------------------


def test_export_with_bits_leaves_eager_and_a_second_export_working():
    code = textwrap.dedent(
        """
        import torch, relukit.torch as rt
        from torch import nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 8), rt.GELU(bits=3), nn.Linear(8, 8),
                            rt.SiLU(bits=2), nn.Linear(8, 2))
        x = torch.randn(5, 4)
        for _ in range(2):
            ep = torch.export.export(net, (x,))
            torch.testing.assert_close(ep.module()(x), net(x))
            net(x).sum().backward()  # an eager training step after the export
            assert all(p.grad is not None for p in net.parameters())
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def test_bits_modules_under_fake_tensor_mode():
    from torch._subclasses.fake_tensor import FakeTensorMode

    code = textwrap.dedent(
        """
        import torch, relukit.torch as rt
        from torch._subclasses.fake_tensor import FakeTensorMode
        mods = [rt.GELU(bits=3), rt.SiLU(bits=1), rt.Softplus(bits=2), rt.Hardswish(bits=4)]
        with FakeTensorMode():
            for m in mods:
                x = torch.randn(6, 5, requires_grad=True)
                y = m(x)
                y.sum().backward()
                assert y.shape == x.shape and x.grad.shape == x.shape
        x = torch.randn(6, 5, requires_grad=True)  # eager afterwards: real tensors
        for m in mods:
            m(x).sum().backward()
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
    # and in this process, whatever the caches hold already
    with FakeTensorMode():
        x = torch.randn(3, 4, requires_grad=True)
        rt.GELU(bits=2)(x).sum().backward()
        assert x.grad.shape == (3, 4)
    assert rt.GELU(bits=2)(torch.randn(3)).shape == (3,)


# ---------------------------------------------------------------------------
# torch.compile prints no warnings
# ---------------------------------------------------------------------------


def test_compile_emits_no_warnings(fresh_dynamo):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(4, 6), rt.LeakyReLU(0.1), rt.GELU(), rt.RReLU().eval(), rt.Softplus(2.0),
        rt.PReLU(6), rt.ReLU(at_kink=1.0), rt.ELU(0.5), nn.Linear(6, 1),
    )  # fmt: skip
    x = torch.randn(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # torch's own deprecation notices (TorchScript parts Dynamo imports) are not ours
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.")
        out = torch.compile(net, backend="aot_eager", fullgraph=True)(x)
        out.sum().backward()
        f = torch.compile(  # (squareplus's formula has a graph break: not fullgraph)
            lambda t: rt.rrelu(t, 0.1, 0.3) + rt.function("squareplus")(t, b=2.0),
            backend="aot_eager",
        )
        f(x)
    torch.testing.assert_close(out, net(x))


# ---------------------------------------------------------------------------
# gradients at NaN inputs are NaN (the README's rule, as rk.<entry>.derivative(nan))
# ---------------------------------------------------------------------------


def _grad_of(f, x, g):
    """The value and the gradient of ``f`` at ``x`` for the output gradient ``g``."""
    xx = x.clone().requires_grad_()
    y = f(xx)
    y.backward(g)
    return y.detach(), xx.grad


NAN_CASES = [(n, kw) for n, kw in CASES] + [("squareplus", {}), ("sparse_plus", {})]


def _with_nan(dtype=torch.float64):
    return torch.tensor([-2.5, math.nan, 0.5, 1.75, -0.25, 4.0], dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("name", "kw"), NAN_CASES, ids=[f"{n}{kw or ''}" for n, kw in NAN_CASES])
def test_gradient_at_nan_is_nan_in_every_mode(name, kw, dtype):
    act = rk.get(name)
    x = _with_nan(dtype)
    assert math.isnan(float(act.derivative(math.nan, **kw)))  # the NumPy API's rule
    nan = x.isnan()
    f = lambda t: getattr(rt, name)(t, **kw)  # noqa: E731
    # the finite entries: the catalogue's derivative (float64 oracle, torch-independent;
    # torch's kernels are a few ulp from it, its hardsigmoid uses 1/6 rounded to float32)
    want = torch.as_tensor(act.derivative(x.double().numpy(), **kw)).to(dtype)
    tol = {"rtol": 1e-5 if dtype == torch.float32 else 1e-7, "atol": 1e-30}
    results = {}
    xx = x.clone().requires_grad_()
    f(xx).backward(torch.ones_like(x))
    results["eager"] = xx.grad  # plain eager CPU: the finite-input check finds the NaN
    results["grad"] = func.vmap(func.grad(f))(x)
    results["jvp"] = func.jvp(f, (x,), (torch.ones_like(x),))[1]
    with _Ops():  # under a dispatch mode: no data-dependent check, the fix always runs
        xx = x.clone().requires_grad_()
        f(xx).backward(torch.ones_like(x))
    results["mode"] = xx.grad
    if name not in ("gelu", "softplus"):  # (no in-place variant)
        xx = x.clone().requires_grad_()
        getattr(rt, name)(xx * 1, inplace=True, **kw).backward(torch.ones_like(x))
        results["inplace"] = xx.grad
    for mode, got in results.items():
        assert got[nan].isnan().all(), (mode, got)
        torch.testing.assert_close(got[~nan], want[~nan], **tol, msg=mode)


NAN_PIECEWISE = ["relu", "leaky_relu", "relu6", "hardtanh", "hardsigmoid", "elu", "selu",
                 "celu", "hardswish", "threshold"]  # fmt: skip


def _nan_fn(name):
    return lambda t: getattr(rt, name)(t, *((0.5, -1.0) if name == "threshold" else ()))


def test_gradient_at_nan_is_nan_compiled(fresh_dynamo):
    x = torch.tensor([-1.0, math.nan, 2.0, 0.0])
    for name in NAN_PIECEWISE:
        torch._dynamo.reset()  # one code object (the lambda) for every entry
        f = _nan_fn(name)
        got = _grad_of(torch.compile(f, backend="aot_eager", fullgraph=True), x, torch.ones(4))[1]
        want = _grad_of(f, x, torch.ones(4))[1]
        assert got[1].isnan() and _same_bits(got, want), (name, got, want)


@pytest.mark.parametrize("frozen", [False, True])
def test_prelu_gradient_at_nan_is_nan(frozen):
    x = torch.tensor([[-1.0, math.nan, 2.0], [math.nan, -3.0, 0.5]])
    w = torch.tensor([0.25, 0.5, -0.1], requires_grad=not frozen)
    want_finite = torch.where(x > 0, 1.0, w.detach().expand_as(x))
    for ctx in (contextlib.nullcontext, _Ops):
        xx = x.clone().requires_grad_()
        with ctx():
            rt.prelu(xx, w).sum().backward()
        nan = x.isnan()
        assert xx.grad[nan].isnan().all()
        assert torch.equal(xx.grad[~nan], want_finite[~nan])


# ---------------------------------------------------------------------------
# the formulas in a float32 working precision (CUDA float32 tensors on the formulas'
# route; the bfloat16 and float16 Triton kernels): no overflow in the intermediates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kw"), [("squareplus", {"b": 4.0}), ("squareplus", {"b": 1e-6})])
def test_formulas_in_float32_working_precision_do_not_overflow(name, kw):
    import array_api_compat.torch as xp

    from relukit._prims.numpy import ArrayNamespace

    m32 = ArrayNamespace(xp, f32=True)  # what a CUDA float32 tensor gets (here on the CPU)
    math_, args = rk.get(name).math.resolve(kw)
    x = torch.tensor([1e30, -1e30, 3e38, -3e38, 1e19, -1e19, 2.0, -2.0], dtype=torch.float32)
    want_v = np_value(name, x.double(), **kw).float()  # float64, rounded: no overflow
    want_d = np_grad(name, x.double(), torch.ones_like(x.double()), **kw).float()
    v = math_.value(m32, x, *args)
    d = math_.derivative(m32, x, *args)
    assert ulps(v, want_v) <= 2 and ulps(d, want_d) <= 2, (v, want_v, d, want_d)
