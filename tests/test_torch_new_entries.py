"""The entries torch.nn has no module for (or a different one), in every torch mode.

SquaredReLU, StarReLU (learnable ``scale`` and ``bias``), QuickGELU, GLU (a drop-in for
``torch.nn.GLU``) and the gated units SwiGLU, GeGLU (``approximate=``), ReGLU
(``at_kink=``) and Bilinear, in the pair form ``(gate, up)`` and the split form (one
tensor in halves along ``dim``, the gate second, as ``torch.nn.GLU``).

Oracles: each entry's composite written out with torch's own operations in float64
(``F.silu(a) * b``, ``F.relu(x) ** 2``, ...), torch's autograd of that composite,
``torch.autograd.gradcheck``/``gradgradcheck`` (finite differences), and torch.nn.GLU.
Modes: eager, ``torch.func`` (grad, vmap, jacrev, jacfwd, per-sample gradients), double
backward, ``torch.compile(fullgraph=True)``, ``torch.export``, ``torch.jit.trace`` and
``torch.jit.script`` (both saved and loaded). Memory: what autograd saves, counted as
unique storage with ``saved_tensors_hooks``. (CPU bits against the NumPy API:
tests/test_torch_one_result.py.)
"""

from __future__ import annotations

import io
import math
import warnings

import pytest

torch = pytest.importorskip("torch")
rt = pytest.importorskip("relukit.torch")

from relukit.torch.modules import MODULES  # noqa: E402

pytestmark = pytest.mark.torch
F = torch.nn.functional
func = torch.func

SQRT_2_OVER_PI = math.sqrt(2 / math.pi)

#: gated entries: (name, constructor kwargs, f(gate) written with torch's operations)
GATED = [
    ("glu", {}, torch.sigmoid),
    ("swiglu", {}, F.silu),
    ("swiglu", {"beta": 1.5}, lambda a: a * torch.sigmoid(1.5 * a)),
    ("geglu", {}, F.gelu),
    ("geglu", {"approximate": "tanh"}, lambda a: F.gelu(a, approximate="tanh")),
    ("reglu", {}, F.relu),
    ("bilinear", {}, lambda a: a),
]
GATED_IDS = [f"{n}{kw or ''}" for n, kw, _ in GATED]

#: one-argument entries new to relukit.torch: (name, kwargs, composite)
ONE = [
    ("squared_relu", {}, lambda x: F.relu(x) ** 2),
    ("quick_gelu", {}, lambda x: x * torch.sigmoid(1.702 * x)),
    ("star_relu", {"scale": 1.5, "bias": -0.25}, lambda x: 1.5 * F.relu(x) ** 2 - 0.25),
]
ONE_IDS = [n for n, _, _ in ONE]


def pair(shape=(5, 6), seed=0):
    """A gate and an up tensor (float64), the gate away from reglu's kink at 0."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(shape, generator=g, dtype=torch.float64) * 3
    a = torch.where(a.abs() < 0.05, a + 0.1, a)
    b = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    return a, b


def grads(f, *ins, g=None):
    """``f(*ins)`` and the gradients of ``(f(*ins) * g).sum()`` w.r.t. each input."""
    leaves = [t.clone().requires_grad_() for t in ins]
    y = f(*leaves)
    gy = torch.ones_like(y) if g is None else g
    return y.detach(), torch.autograd.grad(y, leaves, gy)


def close(got, want, rtol=1e-13, atol=1e-14):
    """Within rounding (the composites round f(gate) before the product, and cancel
    near the derivatives' zeros: an absolute 50 eps on values of order 1)."""
    torch.testing.assert_close(got, want, rtol=rtol, atol=atol)


@pytest.fixture
def fresh_dynamo():
    """An empty Dynamo cache before and after (every gated module class shares one
    ``forward``, and Dynamo's recompile limit counts graphs per code object)."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _round_trip(m):
    buf = io.BytesIO()
    torch.jit.save(m, buf)
    buf.seek(0)
    return torch.jit.load(buf)


# ---------------------------------------------------------------------------
# gated entries: pair and split forms against the composite, eager
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kw", "f"), GATED, ids=GATED_IDS)
def test_gated_pair_and_split_forms_equal_the_composite(name, kw, f):
    a, b = pair()
    g = torch.randn(a.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    want_y, (want_ga, want_gb) = grads(lambda u, v: f(u) * v, a, b, g=g)
    for form in (getattr(rt, name), rt.function(name), MODULES[name](**kw)):
        call = form if isinstance(form, torch.nn.Module) else (lambda u, v, h=form: h(u, v, **kw))
        y, (ga, gb) = grads(call, a, b, g=g)
        close(y, want_y)
        close(ga, want_ga)
        close(gb, want_gb)
    # the split form: (up | gate) along dim, the gate second (as torch.nn.GLU)
    for dim in (-1, 0, 1):
        x = torch.cat([b, a], dim)
        m = MODULES[name](**kw, dim=dim)
        y, (gx,) = grads(m, x, g=g)
        close(y, want_y)
        close(gx, torch.cat([want_gb, want_ga], dim))
        y2, (gx2,) = grads(lambda t, d=dim: getattr(rt, name)(t, dim=d, **kw), x, g=g)
        close(y2, want_y)
        close(gx2, gx)


@pytest.mark.parametrize(("name", "kw", "f"), GATED, ids=GATED_IDS)
def test_gated_broadcasting_and_dtype_promotion_like_torch(name, kw, f):
    a, _ = pair((4, 6))
    b = torch.randn(6, dtype=torch.float32)  # broadcast, and float32 -> float64
    want_y, (want_ga, want_gb) = grads(lambda u, v: f(u) * v, a, b)
    y, (ga, gb) = grads(lambda u, v: getattr(rt, name)(u, v, **kw), a, b)
    assert y.dtype == torch.float64 and gb.shape == b.shape and gb.dtype == torch.float32
    close(y, want_y)
    close(ga, want_ga)
    close(gb, want_gb, rtol=1e-6, atol=1e-6)


def test_glu_is_a_drop_in_for_torch_nn_glu():
    assert isinstance(rt.GLU(), torch.nn.GLU) and rt.GLU is MODULES["glu"]
    for dim in (-1, 0, 1):
        ref, mine = torch.nn.GLU(dim), rt.GLU(dim)
        assert mine.dim == ref.dim and repr(mine) == "relukit.torch." + repr(ref)
        assert mine.state_dict() == ref.state_dict()  # (none: both keep only dim)
        mine.load_state_dict(ref.state_dict())
        for dtype in (torch.float32, torch.float64):
            x = torch.randn(6, 8, generator=torch.Generator().manual_seed(dim + 5), dtype=dtype)
            g = torch.randn(ref(x).shape, dtype=dtype)
            y_ref, (g_ref,) = grads(ref, x, g=g)
            y, (gx,) = grads(mine, x, g=g)
            eps = torch.finfo(dtype).eps  # within a few ulp of torch's (F.glu's float32
            close(y, y_ref, rtol=4 * eps, atol=4 * eps)  # rounds sigmoid before the
            close(gx, g_ref, rtol=8 * eps, atol=8 * eps)  # product; relukit: once)
    # torch.nn.GLU's errors for the split
    for x, err in ((torch.randn(3, 5), "Halving dimension must be even"),
                   (torch.tensor(1.0), "does not support scalars")):  # fmt: skip
        with pytest.raises(RuntimeError, match=err):
            torch.nn.GLU()(x)
        with pytest.raises(RuntimeError, match=err):
            rt.GLU()(x)


def test_gated_errors_name_the_argument():
    a, b = pair()
    with pytest.raises(TypeError, match=r"up must be a torch\.Tensor or None, got 1.*dim=1"):
        rt.glu(a, 1)
    with pytest.raises(TypeError, match=r"relukit\.torch\.swiglu: up must be a torch\.Tensor"):
        rt.swiglu(a, [1.0])
    with pytest.raises(
        TypeError, match=r"relukit\.torch\.SwiGLU: a gated unit has no in-place form"
    ):
        MODULES["swiglu"](inplace=True)
    with pytest.raises(ValueError, match="approximate"):
        MODULES["geglu"](approximate="fast")
    with pytest.raises(TypeError, match=r"no kinks.*at_kink|takes no at_kink"):
        MODULES["swiglu"](at_kink=1.0)
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        rt.reglu(torch.tensor([1, 2]), torch.tensor([3, 4]))


def test_reglu_at_kink_in_every_form():
    a = torch.tensor([-1.0, 0.0, 0.0, 2.0], dtype=torch.float64)
    b = torch.tensor([3.0, -2.0, 5.0, 7.0], dtype=torch.float64)
    for at_kink, want in ((None, 0.0), (1.0, 1.0), (0.5, 0.5)):
        kw = {} if at_kink is None else {"at_kink": at_kink}
        ga_want = torch.tensor([0.0, want * -2.0, want * 5.0, 7.0], dtype=torch.float64)
        _, (ga, gb) = grads(lambda u, v, kw=kw: rt.reglu(u, v, **kw), a, b)
        assert torch.equal(ga, ga_want) and torch.equal(gb, F.relu(a))
        _, (ga2, _) = grads(MODULES["reglu"](**kw), a, b)
        assert torch.equal(ga2, ga_want)
        grad_a = func.grad(lambda u, kw=kw: rt.reglu(u, b, **kw).sum())(a)
        assert torch.equal(grad_a, ga_want)
        tangent = func.jvp(lambda u, kw=kw: rt.reglu(u, b, **kw), (a,), (torch.ones_like(a),))[1]
        assert torch.equal(tangent, ga_want)


# ---------------------------------------------------------------------------
# one-argument entries: the composite, eager; StarReLU's learnable parameters
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kw", "f"), ONE, ids=ONE_IDS)
def test_new_one_argument_entries_equal_the_composite(name, kw, f):
    x, _ = pair((40,))
    g = torch.randn(x.shape, dtype=torch.float64)
    want_y, (want_g,) = grads(f, x, g=g)
    m = MODULES[name](**kw, **({"learnable": False} if name == "star_relu" else {}))
    for form in (lambda t: getattr(rt, name)(t, **kw), rt.function(name) if not kw else None, m):
        if form is None:
            continue
        y, (gx,) = grads(form, x, g=g)
        close(y, want_y)
        close(gx, want_g)


def star_relu_composite(x, s, b):
    return s * F.relu(x) ** 2 + b


def test_star_relu_learnable_parameters_gradients():
    x, _ = pair((3, 8))
    m = MODULES["star_relu"](scale=1.5, bias=-0.25).double()
    assert [n for n, _ in m.named_parameters()] == ["scale", "bias"]
    assert m.scale.shape == (1,) and m.scale.requires_grad
    assert MODULES["star_relu"](learnable=False).state_dict() == {}
    g = torch.randn(x.shape, dtype=torch.float64)
    y = m(x)
    y.backward(g)
    s = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([-0.25], dtype=torch.float64, requires_grad=True)
    want = star_relu_composite(x, s, b)
    want.backward(g)
    close(y.detach(), want.detach())
    close(m.scale.grad, s.grad)
    close(m.bias.grad, b.grad)

    # finite differences, through the module's parameters
    def of_params(xx, ss, bb):
        return func.functional_call(m, {"scale": ss, "bias": bb}, (xx,))

    ins = (x.clone().requires_grad_(), s.detach().clone().requires_grad_(),
           b.detach().clone().requires_grad_())  # fmt: skip
    assert torch.autograd.gradcheck(of_params, ins)
    assert torch.autograd.gradgradcheck(of_params, ins)
    # an optimizer step moves them, and the module computes with the new values
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    opt.step()
    close(m(x), star_relu_composite(x, m.scale.detach(), m.bias.detach()))


def test_star_relu_parameter_gradients_with_a_nan_input_are_nan():
    # a NaN in x is never hidden: the gradients of scale and bias are NaN (bias's sum
    # once left the NaN element out); without NaN they are the sums
    m = MODULES["star_relu"](scale=1.5, bias=-0.25)
    m(torch.tensor([1.0, math.nan, -2.0])).sum().backward()
    assert m.scale.grad.isnan().all() and m.bias.grad.isnan().all()
    m.zero_grad()
    m(torch.tensor([1.0, 3.0, -2.0])).sum().backward()
    assert m.bias.grad.tolist() == [3.0] and m.scale.grad.tolist() == [10.0]


def test_star_relu_per_sample_gradients_of_its_parameters():
    x, _ = pair((6, 5))
    m = MODULES["star_relu"](scale=1.5, bias=-0.25).double()
    params = {k: v.detach() for k, v in m.named_parameters()}

    def loss(p, xi):
        return func.functional_call(m, p, (xi,)).pow(2).sum()

    per = func.vmap(func.grad(loss), in_dims=(None, 0))(params, x)
    for i in range(len(x)):
        s = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([-0.25], dtype=torch.float64, requires_grad=True)
        gs, gb = torch.autograd.grad(star_relu_composite(x[i], s, b).pow(2).sum(), (s, b))
        close(per["scale"][i], gs)
        close(per["bias"][i], gb)


# ---------------------------------------------------------------------------
# torch.func and double backward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kw", "f"), GATED, ids=GATED_IDS)
def test_gated_torch_func_and_double_backward(name, kw, f):
    a, b = pair((4, 6))
    mine = lambda u, v: getattr(rt, name)(u, v, **kw)  # noqa: E731
    ref = lambda u, v: f(u) * v  # noqa: E731
    for argnums in (0, 1, (0, 1)):
        got = func.vmap(func.grad(lambda u, v: mine(u, v).sum(), argnums=argnums))(a, b)
        want = func.vmap(func.grad(lambda u, v: ref(u, v).sum(), argnums=argnums))(a, b)
        close(got, want)
    for tr in (func.jacrev, func.jacfwd):
        close(tr(mine, argnums=(0, 1))(a[0], b[0]), tr(ref, argnums=(0, 1))(a[0], b[0]))
        split = lambda t: getattr(rt, name)(t, **kw)  # noqa: E731
        x = torch.cat([b[0], a[0]])
        close(tr(split)(x), tr(lambda t: ref(t[6:], t[:6]))(x))
    close(
        func.jvp(mine, (a, b), (torch.ones_like(a), torch.ones_like(b)))[1],
        func.jvp(ref, (a, b), (torch.ones_like(a), torch.ones_like(b)))[1],
    )
    ins = (a.clone().requires_grad_(), b.clone().requires_grad_())
    assert torch.autograd.gradcheck(mine, ins)
    assert torch.autograd.gradgradcheck(mine, ins)
    x = torch.cat([b, a], -1).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: getattr(rt, name)(t, **kw), (x,))
    if name != "reglu":  # (relu'' is 0: torch's and relukit's agree trivially)
        # a gradient penalty: the second derivative equals torch's of the composite
        pens = []
        for h in (mine, ref):
            u, v = a.clone().requires_grad_(), b.clone().requires_grad_()
            ga, gb = torch.autograd.grad(h(u, v).sum(), (u, v), create_graph=True)
            pens.append(torch.autograd.grad((ga.pow(2) + gb.pow(2)).sum(), (u, v)))
        close(pens[0][0], pens[1][0], rtol=1e-10, atol=1e-12)
        close(pens[0][1], pens[1][1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "kw", "f"), ONE, ids=ONE_IDS)
def test_one_argument_torch_func_and_double_backward(name, kw, f):
    x, _ = pair((4, 6))
    mine = lambda t: getattr(rt, name)(t, **kw)  # noqa: E731
    close(func.vmap(func.grad(lambda t: mine(t).sum()))(x),
          func.vmap(func.grad(lambda t: f(t).sum()))(x))  # fmt: skip
    for tr in (func.jacrev, func.jacfwd):
        close(tr(mine)(x[0]), tr(f)(x[0]))
    close(func.hessian(lambda t: mine(t).sum())(x[0]), func.hessian(lambda t: f(t).sum())(x[0]))
    xx = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(mine, (xx,))
    assert torch.autograd.gradgradcheck(mine, (xx,))


# ---------------------------------------------------------------------------
# compile, export, trace, script
# ---------------------------------------------------------------------------


class PairNet(torch.nn.Module):
    """Linear -> gated unit (gate, up) -> Linear, float64."""

    def __init__(self, act):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Linear(4, 6).double()
        self.b = torch.nn.Linear(4, 6).double()
        self.act = act
        self.out = torch.nn.Linear(6, 2).double()

    def forward(self, x):
        return self.out(self.act(self.a(x), self.b(x)))


class SplitNet(torch.nn.Module):
    """Linear -> gated unit (one tensor, split) -> Linear, float64."""

    def __init__(self, act):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Linear(4, 12).double()
        self.act = act
        self.out = torch.nn.Linear(6, 2).double()

    def forward(self, x):
        return self.out(self.act(self.a(x)))


def gated_net(name, kw, split):
    return (SplitNet if split else PairNet)(MODULES[name](**kw))


def one_net(name, kw):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 6), MODULES[name](**kw), torch.nn.Linear(6, 2)
    ).double()


NETS = [(n, kw, False) for n, kw, _ in GATED] + [(n, kw, True) for n, kw, _ in GATED]
NET_IDS = [f"{n}{kw or ''}-{'split' if s else 'pair'}" for n, kw, s in NETS]


def _train_step(net, x):
    net.zero_grad()
    out = net(x)
    out.sum().backward()
    return out.detach(), [p.grad for p in net.parameters()]


@pytest.mark.parametrize(("name", "kw", "split"), NETS, ids=NET_IDS)
def test_gated_compile_export_trace_script(name, kw, split, fresh_dynamo):
    net = gated_net(name, kw, split)
    x = torch.randn(5, 4, dtype=torch.float64)
    want, want_grads = _train_step(net, x)
    got, got_grads = _train_step(torch.compile(net, backend="aot_eager", fullgraph=True), x)
    close(got, want)
    for p, q in zip(got_grads, want_grads, strict=True):
        close(p, q)
    ep = torch.export.export(net, (x,))
    close(ep.module()(x), want)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (torch.jit itself)
        for m in (torch.jit.trace(net, x), torch.jit.script(net)):
            loaded = _round_trip(m)
            for mm in (m, loaded):
                got, got_grads = _train_step(mm, x)
                close(got, want)
                for p, q in zip(got_grads, want_grads, strict=True):
                    close(p, q)


@pytest.mark.parametrize(("name", "kw", "f"), ONE, ids=ONE_IDS)
def test_one_argument_compile_export_trace_script(name, kw, f, fresh_dynamo):
    net = one_net(name, kw)
    x = torch.randn(5, 4, dtype=torch.float64)
    want, want_grads = _train_step(net, x)
    got, got_grads = _train_step(torch.compile(net, backend="aot_eager", fullgraph=True), x)
    close(got, want)
    for p, q in zip(got_grads, want_grads, strict=True):
        close(p, q)
    close(torch.export.export(net, (x,)).module()(x), want)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (torch.jit itself)
        traced, scripted = torch.jit.trace(net, x), torch.jit.script(net)
    for m in (traced, _round_trip(traced)):  # trained parameters included (StarReLU's)
        got, got_grads = _train_step(m, x)
        close(got, want)
        for p, q in zip(got_grads, want_grads, strict=True):
            close(p, q)
    lin_want = [g for (n, _), g in zip(net.named_parameters(), want_grads, strict=True)
                if not n.startswith("1.")]  # fmt: skip
    for m in (scripted, _round_trip(scripted)):
        # TorchScript: the entry's formula traced when scripted; learned parameters are
        # constants of the scripted model (no gradient), the Linear layers' are right
        got, _ = _train_step(m, x)
        close(got, want)
        lin_got = [p.grad for n, p in m.named_parameters() if not n.startswith("1.")]
        assert len(lin_got) == len(lin_want) == 4  # two Linear weights and biases
        for p, q in zip(lin_got, lin_want, strict=True):
            close(p, q)


def test_gated_at_kink_has_no_torchscript_form():
    with pytest.raises(torch.jit.Error, match="at_kink has no TorchScript form"):
        torch.jit.script(MODULES["reglu"](at_kink=1.0))(torch.randn(2, 4))


# ---------------------------------------------------------------------------
# memory: unique storage saved for backward
# ---------------------------------------------------------------------------


def saved_storages(fn, *ins):
    """The distinct storages autograd saves (by storage identity), and their bytes."""
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*ins)
    return len(seen), sum(seen.values())


@pytest.mark.parametrize(("name", "kw", "f"), GATED, ids=GATED_IDS)
def test_gated_keeps_exactly_its_two_inputs(name, kw, f):
    a, b = (t.float().requires_grad_() for t in pair((64, 32)))
    n = a.numel() * 4
    mine = saved_storages(lambda u, v: getattr(rt, name)(u, v, **kw), a, b)
    assert mine == (2, 2 * n)  # the gate and up: f(gate) is recomputed in backward
    if name in ("swiglu", "geglu") and kw.get("beta", 1.0) == 1.0:
        # eager torch keeps the gate, f(gate) and up (F.silu(a) * b, F.gelu(a) * b)
        assert saved_storages(lambda u, v: f(u) * v, a, b) == (3, 3 * n)
    # the split form: the one input tensor (both halves are views of it)
    x = torch.cat([b, a], -1).detach().requires_grad_()
    assert saved_storages(lambda t: getattr(rt, name)(t, **kw), x) == (1, 2 * n)


@pytest.mark.parametrize(("name", "kw", "f"), ONE, ids=ONE_IDS)
def test_one_argument_entries_keep_one_tensor(name, kw, f):
    x = torch.randn(64, 32, requires_grad=True)
    kept = saved_storages(lambda t: getattr(rt, name)(t, **kw), x)
    assert kept == (1, x.numel() * 4), kept  # the input (star_relu: and not its output)
    if name == "star_relu":  # learnable: the input and the two parameters (one each)
        m = MODULES["star_relu"]()
        assert saved_storages(m, x) == (3, x.numel() * 4 + 2 * 4)


def test_star_relu_forward_mode_ad():
    import torch.autograd.forward_ad as fwad

    x, _ = pair((3, 8))
    t = torch.randn(x.shape, dtype=torch.float64)
    m = MODULES["star_relu"](scale=1.5, bias=-0.25).double()
    with fwad.dual_level():
        got = fwad.unpack_dual(m(fwad.make_dual(x, t))).tangent
    s, b = torch.tensor([1.5], dtype=torch.float64), torch.tensor([-0.25], dtype=torch.float64)
    want = func.jvp(lambda u: star_relu_composite(u, s, b), (x,), (t,))[1]
    close(got, want)
