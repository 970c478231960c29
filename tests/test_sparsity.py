"""Activation sparsity in ``rk.diagnose`` and ``DeadUnitMonitor``.

The sparsity of an activation site is the fraction of exact zeros (``y == 0``, both
signs of zero; NaN is not zero) of the activation's output; at a gated site
(``f(gate) * up``) it is the fraction of zeros of the gate's activation ``f(gate)``, and
the zeros of the gated output are reported next to it.

Oracle: the outputs (and, for the gated stand-ins, the ``f(gate)`` they compute) are
captured by the test's own forward hooks or by the stand-in modules themselves and
counted with torch directly; nothing of the counting code under test is used.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


# ---------------------------------------------------------------------------
# oracle helpers
# ---------------------------------------------------------------------------


class Capture:
    """The outputs and positional inputs of named modules, from plain forward hooks."""

    def __init__(self, model: nn.Module, names: list[str]) -> None:
        self.outputs: dict[str, list[torch.Tensor]] = {n: [] for n in names}
        self.inputs: dict[str, list[tuple]] = {n: [] for n in names}
        self.on = True
        mods = dict(model.named_modules())
        self.handles = [mods[n].register_forward_hook(self._hook(n)) for n in names]

    def _hook(self, name: str):
        def hook(module, args, out):
            if self.on:
                self.outputs[name].append(out.detach().clone())
                self.inputs[name].append(tuple(a.detach().clone() for a in args))

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def zeros_per_unit(ts: list[torch.Tensor], unit_dim: int = -1) -> np.ndarray:
    """Per unit: how many values of the tensors are == 0 (torch's own comparison)."""
    total = None
    for t in ts:
        ud = unit_dim % t.ndim
        dims = tuple(d for d in range(t.ndim) if d != ud)
        c = (t == 0).sum(dim=dims).numpy().astype(np.int64)
        total = c if total is None else total + c
    assert total is not None
    return total


def fraction(ts: list[torch.Tensor]) -> float:
    zeros = sum(int((t == 0).sum()) for t in ts)
    values = sum(t.numel() for t in ts)
    return zeros / values


def plant(layer: nn.Linear, units: list[int], bias: float) -> None:
    """Zero the incoming weights of ``units``; their pre-activation is then ``bias``."""
    with torch.no_grad():
        layer.weight[units] = 0.0
        layer.bias[units] = bias


# ---------------------------------------------------------------------------
# stand-ins for modules of the new catalogue entries (how relukit.torch's modules are
# recognised: a ``relukit_activation`` class attribute naming the catalogue entry)
# ---------------------------------------------------------------------------


class SquaredReLUStandIn(nn.Module):
    relukit_activation = "relu2"  # an alias: the catalogue's squared_relu

    def forward(self, x):
        return F.relu(x) ** 2


class StarReLUStandIn(nn.Module):
    relukit_activation = "star_relu"

    def __init__(self, scale: float = 0.8944271909999159, bias: float = -0.4472135954999579):
        super().__init__()
        self.scale, self.bias = scale, bias

    def forward(self, x):
        return self.scale * F.relu(x) ** 2 + self.bias


class Gated(nn.Module):
    """A gated activation ``f(gate) * up``, two arrays or one split in halves (the gate
    is the second half, as torch.nn.GLU); keeps the ``f(gate)`` it computed (the oracle)."""

    def __init__(self, kind: str, f, dim: int = -1, **params) -> None:
        super().__init__()
        self.f = f
        self.dim = dim
        self.kept: list[torch.Tensor] = []
        for k, v in params.items():
            setattr(self, k, v)

    def forward(self, gate, up=None):
        if up is None:
            up, gate = gate.chunk(2, self.dim)
        a = self.f(gate)
        self.kept.append(a.detach().clone())
        return a * up


def gated_class(kind: str) -> type[Gated]:
    return type(f"{kind}StandIn", (Gated,), {"relukit_activation": kind})


def _swish(beta):
    return lambda g: g * torch.sigmoid(beta * g)


GATED = {
    "reglu": (F.relu, {}),
    "swiglu": (F.silu, {}),
    "swiglu-beta": (_swish(1.5), {"beta": 1.5}),
    "geglu": (F.gelu, {}),
    "geglu-tanh": (lambda g: F.gelu(g, approximate="tanh"), {"approximate": "tanh"}),
    "glu": (torch.sigmoid, {}),
    "bilinear": (lambda g: g, {}),
}


class GatedMLP(nn.Module):
    """Llama-style feed-forward block: down(act(gate(x), up(x)))."""

    def __init__(self, act: nn.Module, d: int = 4, h: int = 6) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d, h)
        self.up_proj = nn.Linear(d, h)
        self.act = act
        self.down_proj = nn.Linear(h, d)

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x), self.up_proj(x)))


class HalfMLP(nn.Module):
    """The one-array form: one projection to 2h, split by the activation."""

    def __init__(self, act: nn.Module, d: int = 4, h: int = 6) -> None:
        super().__init__()
        self.proj = nn.Linear(d, 2 * h)
        self.act = act
        self.down_proj = nn.Linear(h, d)

    def forward(self, x):
        return self.down_proj(self.act(self.proj(x)))


class HFMLP(nn.Module):
    """Hugging Face's spelling: down(act_fn(gate(x)) * up(x)), act_fn a module."""

    def __init__(self, act_fn: nn.Module, d: int = 4, h: int = 6) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d, h)
        self.up_proj = nn.Linear(d, h)
        self.act_fn = act_fn
        self.down_proj = nn.Linear(h, d)

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


def planted_gated(model: nn.Module) -> None:
    """Gate unit 0 dead (gate = -300: relu, gelu, silu and sigmoid give exact zeros),
    gate unit 1 exactly 0 (f(0) = 0 but for sigmoid), up unit 2 exactly 0 (the gated
    output is 0 where f(gate) is not)."""
    g = model.gate_proj if hasattr(model, "gate_proj") else None
    if g is None:  # the one-array form: the gate is the second half of proj
        h = model.proj.out_features // 2
        plant(model.proj, [h + 0], -300.0)
        plant(model.proj, [h + 1], 0.0)
        plant(model.proj, [2], 0.0)
        return
    plant(g, [0], -300.0)
    plant(g, [1], 0.0)
    plant(model.up_proj, [2], 0.0)


# ---------------------------------------------------------------------------
# diagnose: plain activations
# ---------------------------------------------------------------------------


def _torch_modules() -> list:
    from relukit.diagnose._core import MODULE_KINDS

    return [t for t in MODULE_KINDS if t is not nn.GLU]


def _make(t):
    return t(0.0, 0.0) if t is nn.Threshold else t()


_MAKERS = [(lambda t=t: _make(t)) for t in _torch_modules()] + [
    SquaredReLUStandIn,
    StarReLUStandIn,
    lambda: StarReLUStandIn(1.0, 0.0),
]
_IDS = [t.__name__ for t in _torch_modules()] + ["squared_relu", "star_relu", "star_relu_b0"]


@pytest.mark.parametrize("make", _MAKERS, ids=_IDS)
def test_sparsity_of_each_activation_module_is_its_output_zeros(make):
    import relukit as rk

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), make(), nn.Linear(6, 5), make(), nn.Linear(5, 2))
    plant(model[0], [1], -2.0)  # dead: relu-like outputs are 0 there
    plant(model[0], [3], 0.0)  # pre-activation exactly 0
    x = torch.randn(96, 4)
    cap = Capture(model, ["1", "3"])
    with torch.no_grad():
        model.eval()
        model(x)
        model.train()
    cap.remove()
    report = rk.diagnose(model, x, batch_size=32)
    for s in ("1", "3"):
        site = report[s]
        np.testing.assert_array_equal(site.zero_count, zeros_per_unit(cap.outputs[s]))
        assert site.sparsity == pytest.approx(fraction(cap.outputs[s]), abs=0, rel=1e-12)
        assert site.output_sparsity == site.sparsity and not site.gated
        np.testing.assert_allclose(site.unit_sparsity, site.zero_count / 96)
    zeros = sum(int((t == 0).sum()) for s in ("1", "3") for t in cap.outputs[s])
    values = sum(t.numel() for s in ("1", "3") for t in cap.outputs[s])
    assert report.total_sparsity == pytest.approx(zeros / values, rel=1e-12)
    assert report.sparsity() == {s: report[s].sparsity for s in ("1", "3")}


def test_new_entries_are_named_by_the_catalogue():
    import relukit as rk

    model = nn.Sequential(nn.Linear(3, 4), SquaredReLUStandIn(), nn.Linear(4, 4), StarReLUStandIn())
    report = rk.diagnose(model, torch.randn(8, 3))
    assert [report[s].kind for s in report] == ["squared_relu", "star_relu"]


def test_relukit_torch_squared_and_star_relu_modules():
    import relukit as rk

    rt = pytest.importorskip("relukit.torch")
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(3, 5), rt.SquaredReLU(), nn.Linear(5, 5), rt.StarReLU(), nn.Linear(5, 4),
        rt.StarReLU(scale=1.0, bias=0.0),
    )  # fmt: skip
    plant(model[0], [0], -1.0)
    x = torch.randn(40, 3)
    cap = Capture(model, ["1", "3", "5"])
    with torch.no_grad():
        model(x)
    cap.remove()
    report = rk.diagnose(model, x)
    assert [report[s].kind for s in report] == ["squared_relu", "star_relu", "star_relu"]
    for s in ("1", "3", "5"):
        np.testing.assert_array_equal(report[s].zero_count, zeros_per_unit(cap.outputs[s]))
    assert report["1"].sparsity >= 1 / 5  # unit 0 is dead: 0 for all 40 samples
    assert report["3"].sparsity == 0.0  # the bias moves relu's zeros off 0
    assert report["5"].sparsity > 0.0


def test_dead_units_are_all_zero_and_live_zeros_count_too():
    # relu: y == 0 exactly where z <= 0, so per unit zeros + positives = values, a dead
    # unit's sparsity is 1, and the layer's sparsity counts the live units' zeros too
    import relukit as rk

    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    plant(model[0], [2, 6], -1.0)
    report = rk.diagnose(model, torch.randn(200, 5))
    site = report["1"]
    np.testing.assert_array_equal(site.zero_count + site.positive_count, 200)
    assert site.dead_units == [2, 6]
    np.testing.assert_array_equal(site.unit_sparsity[site.dead], 1.0)
    assert site.sparsity > site.dead_fraction  # live units are 0 about half the time
    live = ~site.dead
    assert site.sparsity == pytest.approx(
        site.dead_fraction + live.mean() * site.unit_sparsity[live].mean()
    )


# ---------------------------------------------------------------------------
# edge cases: all zeros, no zeros, NaN, both zeros, dtypes
# ---------------------------------------------------------------------------


class Probe(nn.Module):
    """An activation site whose output is its input: the test decides every value."""

    relukit_activation = "hardtanh"

    def forward(self, x):
        return x.clone()


EDGE = {
    "all zeros": [[0.0, -0.0, 0.0], [-0.0, 0.0, 0.0]],
    "no zeros": [[1.0, -2.0, float("inf")], [float("-inf"), 1e-45, float("nan")]],
    "nan is not zero": [[float("nan"), 0.0, -0.0], [1.0, float("nan"), 0.0]],
    "denormal": [[1e-40, -1e-40, 0.0], [5e-324, 0.0, 3.0]],
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("case", list(EDGE))
def test_edge_values_diagnose_and_monitor(case, dtype):
    import relukit as rk

    x = torch.tensor(EDGE[case], dtype=dtype)
    x = torch.cat([x, x.flip(0)])  # two batches of 2 rows
    expected = int((x == 0).sum()) / x.numel()
    model = nn.Sequential(Probe())
    report = rk.diagnose(model, x, batch_size=2)
    assert report["0"].sparsity == expected
    np.testing.assert_array_equal(report["0"].zero_count, (x == 0).sum(0).numpy())
    if case == "all zeros":
        assert expected == 1.0
    if case == "no zeros":
        assert expected == (0.0 if dtype in (torch.float32, torch.float64) else 1 / 6)
    for fast in (True, False):
        with rk.DeadUnitMonitor(model, every=2, fast=fast) as mon:
            model(x[:2])
            model(x[2:])
        rec = mon.records[0]
        assert rec["sites"]["0"]["sparsity"] == expected
        assert rec["sparsity"] == expected
        assert mon.sparsity() == {"0": expected}


def test_monitor_count_switches_to_int64_for_huge_tensors(monkeypatch):
    # a tensor of 2**31 values or more would overflow an int32 count: the counter is
    # then int64 (exercised here by lowering the limit)
    import relukit as rk
    from relukit.diagnose import _core

    monkeypatch.setattr(_core, "INT32_COUNT_LIMIT", 4)
    x = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, float("nan")]])
    model = nn.Sequential(Probe())
    with rk.DeadUnitMonitor(model, every=1, fast=False) as mon:
        model(x)
    assert mon.records[0]["sites"]["0"]["sparsity"] == 3 / 6


# ---------------------------------------------------------------------------
# gated sites
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GATED))
@pytest.mark.parametrize("form", ["two arrays", "one array"])
def test_gated_site_counts_zeros_of_the_gate_activation_and_of_the_output(name, form):
    import relukit as rk

    kind = name.split("-")[0]
    f, params = GATED[name]
    torch.manual_seed(3)
    act = gated_class(kind)(kind, f, **params)
    model = GatedMLP(act) if form == "two arrays" else HalfMLP(act)
    planted_gated(model)
    x = torch.randn(64, 4)
    pre = "gate_proj" if form == "two arrays" else "proj"
    cap = Capture(model, ["act", pre])
    with torch.no_grad():
        model(x)
    cap.remove()
    kept = list(act.kept)
    report = rk.diagnose(model, x, batch_size=16)
    site = report["act"]
    assert site.kind == kind and site.gated and site.n_units == 6
    gate = cap.outputs[pre][0]
    if form == "one array":
        gate = gate.chunk(2, -1)[1]
    # dead units: the gate <= 0 for every sample
    assert site.dead_units == [int(i) for i in torch.nonzero((gate <= 0).all(0)).flatten()]
    assert 0 in site.dead_units
    # sparsity: zeros of f(gate), as the module computed it
    np.testing.assert_array_equal(site.zero_count, zeros_per_unit(kept[-4:]))
    assert site.sparsity == pytest.approx(fraction(kept[-4:]), rel=1e-12)
    # the gated output's zeros, next to it
    np.testing.assert_array_equal(site.output_zero_count, zeros_per_unit(cap.outputs["act"]))
    assert site.output_sparsity == pytest.approx(fraction(cap.outputs["act"]), rel=1e-12)
    assert site.output_sparsity > site.sparsity  # up unit 2 is 0 where f(gate) is not
    if kind != "glu":  # sigmoid(0) = 1/2; every other f has f(0) = 0
        assert site.unit_sparsity[1] == 1.0
    d = site.to_dict()
    assert d["sparsity"] == site.sparsity and d["output_sparsity"] == site.output_sparsity


def test_torch_glu_module_and_functional_glu_are_gated_sites():
    # torch.nn.GLU halves its input: the gate (second half) is the pre-activation
    import relukit as rk

    class FunctionalGLU(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(4, 12)

        def forward(self, x):
            return F.glu(self.proj(x), -1)

    torch.manual_seed(4)
    mod = nn.Sequential(nn.Linear(4, 12), nn.GLU(), nn.Linear(6, 2))
    fun = FunctionalGLU()
    with torch.no_grad():
        fun.proj.load_state_dict(mod[0].state_dict())
    plant(mod[0], [6 + 0], -300.0)  # sigmoid(-300) is exactly 0 in float32
    plant(mod[0], [2], 0.0)  # the first half (up) is 0: output zeros only
    plant(fun.proj, [6 + 0], -300.0)
    plant(fun.proj, [2], 0.0)
    x = torch.randn(50, 4)
    z = mod[0](x).detach()
    gate, up = z[:, 6:], z[:, :6]
    ra = rk.diagnose(mod, x)["1"]
    rb = rk.diagnose(fun, x)["glu[0]"]
    for site in (ra, rb):
        assert site.kind == "glu" and site.n_units == 6
        assert site.dead_units == [int(i) for i in torch.nonzero((gate <= 0).all(0)).flatten()]
        np.testing.assert_array_equal(site.zero_count, zeros_per_unit([torch.sigmoid(gate)]))
        out = up * torch.sigmoid(gate)
        np.testing.assert_array_equal(site.output_zero_count, zeros_per_unit([out]))
        assert site.sparsity == pytest.approx(1 / 6)
        assert site.output_sparsity == pytest.approx(2 / 6)


def test_gated_sparsity_is_the_hugging_face_act_fn_sparsity():
    # the fused ReGLU site and act_fn = nn.ReLU of the Hugging Face spelling, same weights:
    # one and the same sparsity (the zeros of relu(gate))
    import relukit as rk

    torch.manual_seed(5)
    fused = GatedMLP(gated_class("reglu")("reglu", F.relu))
    hf = HFMLP(nn.ReLU())
    hf.load_state_dict(fused.state_dict(), strict=False)
    planted_gated(fused)
    planted_gated(hf)
    x = torch.randn(128, 4)
    a = rk.diagnose(fused, x)["act"]
    b = rk.diagnose(hf, x)["act_fn"]
    np.testing.assert_array_equal(a.zero_count, b.zero_count)
    assert a.sparsity == b.sparsity and a.dead_units == b.dead_units


def _squared_relu(x):
    from torch.overrides import handle_torch_function, has_torch_function

    if has_torch_function((x,)):
        return handle_torch_function(_squared_relu, (x,), x)
    return F.relu(x) ** 2


def _reglu(gate, up):
    from torch.overrides import handle_torch_function, has_torch_function

    if has_torch_function((gate, up)):
        return handle_torch_function(_reglu, (gate, up), gate, up)
    return F.relu(gate) * up


_squared_relu.__name__ = "squared_relu"
_reglu.__name__ = "reglu"


def test_functions_named_like_new_entries_are_functional_sites():
    # a function that dispatches through __torch_function__ (as torch's own functions
    # do) and carries a catalogue entry's name is a functional site of that kind
    import relukit as rk

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 6)
            self.g = nn.Linear(6, 5)
            self.u = nn.Linear(6, 5)

        def forward(self, x):
            h = _squared_relu(self.a(x))
            return _reglu(self.g(h), self.u(h))

    torch.manual_seed(6)
    model = M()
    plant(model.g, [0], -1.0)
    x = torch.randn(30, 4)
    with torch.no_grad():
        h = F.relu(model.a(x)) ** 2
        g, u = model.g(h), model.u(h)
    report = rk.diagnose(model, x)
    assert list(report) == ["squared_relu[0]", "reglu[1]"]
    assert [report[s].kind for s in report] == ["squared_relu", "reglu"]
    np.testing.assert_array_equal(report["squared_relu[0]"].zero_count, zeros_per_unit([h]))
    np.testing.assert_array_equal(report["reglu[1]"].zero_count, zeros_per_unit([F.relu(g)]))
    np.testing.assert_array_equal(
        report["reglu[1]"].output_zero_count, zeros_per_unit([F.relu(g) * u])
    )
    assert report["reglu[1]"].dead_units == [0]


def test_every_gated_entry_has_a_gate_activation_matching_the_catalogue():
    # the table of gate activations agrees with the catalogue's own values
    import relukit as rk
    from relukit.diagnose._core import GATE_ACTIVATIONS

    gated = [a for a in rk.catalogue() if a.gated]
    assert sorted(GATE_ACTIVATIONS) == sorted(a.name for a in gated)
    g = torch.linspace(-6, 6, 97, dtype=torch.float64)
    u = torch.linspace(2, -1, 97, dtype=torch.float64)
    for a in gated:
        choices = [{}]
        if a.name == "geglu":
            choices = [{"approximate": "none"}, {"approximate": "tanh"}]
        if a.name == "swiglu":
            choices = [{"beta": 1.0}, {"beta": 1.7}]
        for p in choices:
            ours = (GATE_ACTIVATIONS[a.name](g, **p) * u).numpy()
            ref = a(g.numpy(), u.numpy(), **p)
            np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15, err_msg=a.name)


# ---------------------------------------------------------------------------
# the monitor
# ---------------------------------------------------------------------------


class MonitoredNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l1 = nn.Linear(5, 8)
        self.act1 = nn.ReLU()
        self.l2 = nn.Linear(8, 6)
        self.act2 = SquaredReLUStandIn()
        self.mlp = GatedMLP(gated_class("reglu")("reglu", F.relu), d=6, h=7)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        return self.out(self.mlp(self.act2(self.l2(self.act1(self.l1(x))))))


@pytest.mark.parametrize("fast", [True, False])
def test_monitor_running_sparsity_matches_captured_outputs(fast):
    import relukit as rk

    torch.manual_seed(7)
    model = MonitoredNet()
    plant(model.l1, [0, 3], -1.0)
    planted_gated(model.mlp)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # fixed weights: exact oracle
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, 5, generator=gen) for _ in range(5)]
    names = ["act1", "act2", "mlp.act"]
    cap = Capture(model, names)
    gate_act = model.mlp.act
    with rk.DeadUnitMonitor(model, every=2, fast=fast) as mon:
        for xb in batches:
            loss = model(xb).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert ("forward" in model.act1.__dict__) == fast
        cap.on = False
        model.eval()
        model(torch.randn(4, 5))  # eval passes are not counted
        model.train()
        assert mon.sparsity()["act1"] == pytest.approx(fraction(cap.outputs["act1"]))
    cap.remove()
    kept = gate_act.kept[:5]  # the training passes' f(gate)
    assert [r["steps"] for r in mon.records] == [2, 2, 1]
    for i, rec in enumerate(mon.records):
        w = slice(2 * i, 2 * i + 2)
        sites = rec["sites"]
        for s in ("act1", "act2"):
            assert sites[s]["sparsity"] == pytest.approx(fraction(cap.outputs[s][w]), rel=1e-12)
            assert "output_sparsity" not in sites[s]
        assert sites["mlp.act"]["sparsity"] == pytest.approx(fraction(kept[w]), rel=1e-12)
        assert sites["mlp.act"]["output_sparsity"] == pytest.approx(
            fraction(cap.outputs["mlp.act"][w]), rel=1e-12
        )
        zeros = sum(int((t == 0).sum()) for t in kept[w])
        zeros += sum(int((t == 0).sum()) for s in ("act1", "act2") for t in cap.outputs[s][w])
        values = sum(t.numel() for t in kept[w])
        values += sum(t.numel() for s in ("act1", "act2") for t in cap.outputs[s][w])
        assert rec["sparsity"] == pytest.approx(zeros / values, rel=1e-12)
    # running (since attach) sparsity per site
    run = mon.sparsity()
    assert run["act1"] == pytest.approx(fraction(cap.outputs["act1"][:5]), rel=1e-12)
    assert run["mlp.act"] == pytest.approx(fraction(kept), rel=1e-12)
    hist = mon.history()
    assert hist["act2"]["sparsity"] == [r["sites"]["act2"]["sparsity"] for r in mon.records]
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert "forward" not in m.__dict__


def test_monitor_functional_sites_count_sparsity():
    import relukit as rk

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 6)
            self.b = nn.Linear(6, 8)

        def forward(self, x):
            return F.glu(self.b(F.relu(self.a(x))))

    torch.manual_seed(8)
    model = M()
    plant(model.a, [1], -1.0)
    plant(model.b, [4 + 2], -300.0)
    xs = [torch.randn(6, 4) for _ in range(3)]
    with rk.DeadUnitMonitor(model, every=3) as mon:
        for xb in xs:
            model(xb)
    with torch.no_grad():
        h = [F.relu(model.a(xb)) for xb in xs]
        gates = [model.b(t)[:, 4:] for t in h]
    rec = mon.records[0]["sites"]
    assert rec["relu[0]"]["sparsity"] == pytest.approx(fraction(h), rel=1e-12)
    assert rec["glu[1]"]["sparsity"] == pytest.approx(
        fraction([torch.sigmoid(g) for g in gates]), rel=1e-12
    )


def test_continual_backprop_does_not_pay_for_zero_counts():
    import relukit as rk

    torch.manual_seed(9)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    cbp = rk.ContinualBackprop(model, opt)
    for _ in range(3):
        model(torch.randn(5, 3)).sum().backward()
        opt.step()
        cbp.step()
    acc = cbp._sess.sites["1"]
    assert acc.nonzero is None and acc.zero_values == 0
    cbp.close()


# ---------------------------------------------------------------------------
# the report: table, HTML, JSON
# ---------------------------------------------------------------------------


def test_report_table_html_and_json_carry_sparsity():
    import relukit as rk

    torch.manual_seed(10)
    model = nn.Sequential(
        nn.Linear(4, 6), nn.LeakyReLU(), nn.Linear(6, 12), nn.GLU(), nn.Linear(6, 5), nn.ReLU()
    )
    plant(model[4], [0, 1], -1.0)
    report = rk.diagnose(model, torch.randn(32, 4))
    text = report.summary()
    rule = next(i for i, ln in enumerate(text.splitlines()) if ln.startswith("----"))
    assert "sparsity" in "\n".join(text.splitlines()[1:rule])  # the header, maybe wrapped
    for s in report:
        row = next(ln for ln in text.splitlines() if ln.startswith(s + " "))
        assert row.split()[-1] == f"{100 * report[s].sparsity:.1f}"
    assert max(len(ln) for ln in text.splitlines()) <= 80
    assert "f(gate)" in text  # the note on gated sites
    html = report._repr_html_()
    assert "sparsity %" in html
    assert f"<td style='text-align:right'>{100 * report['5'].sparsity:.1f}</td>" in html
    d = json.loads(report.to_json())
    assert d["total_sparsity"] == pytest.approx(report.total_sparsity)
    by = {s["name"]: s for s in d["sites"]}
    assert by["5"]["sparsity"] == report["5"].sparsity
    assert by["3"]["gated"] is True and by["5"]["gated"] is False
    assert by["3"]["output_sparsity"] == report["3"].output_sparsity
    assert len(by["5"]["unit_sparsity"]) == 5
    # the rich table has the same column
    table = report.table()
    assert [c.header for c in table.columns][-1] == "sparsity %"


def test_summary_stays_within_width_with_long_kinds():
    import relukit as rk

    model = nn.Sequential(nn.Linear(3, 4), nn.Hardsigmoid(), nn.Linear(4, 4), nn.LeakyReLU())
    text = rk.diagnose(model, torch.randn(8, 3)).summary()
    assert max(len(ln) for ln in text.splitlines()) <= 80
    assert "hardsigmoid*" in text


# ---------------------------------------------------------------------------
# end to end: a small MLP trained with the monitor, then diagnosed
# ---------------------------------------------------------------------------


def test_end_to_end_small_mlp():
    import relukit as rk

    torch.manual_seed(11)
    model = nn.Sequential(
        nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), SquaredReLUStandIn(), nn.Linear(32, 1)
    )
    plant(model[0], [5, 6, 7], -3.0)
    x = torch.randn(512, 10)
    y = x[:, :1] * 2 - x[:, 1:2]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    with rk.DeadUnitMonitor(model, every=8) as mon:
        for i in range(32):
            xb, yb = x[16 * i : 16 * (i + 1)], y[16 * i : 16 * (i + 1)]
            loss = (model(xb) - yb).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert len(mon.records) == 4
    for rec in mon.records:
        for s in ("1", "3"):
            v = rec["sites"][s]
            assert 0.0 < v["sparsity"] < 1.0
            assert v["sparsity"] >= v["dead_fraction"]  # dead units are 0 everywhere
    cap = Capture(model, ["1", "3"])
    with torch.no_grad():
        model(x)
    cap.remove()
    report = rk.diagnose(model, x, batch_size=100)
    assert {5, 6, 7} <= set(report["1"].dead_units)
    for s in ("1", "3"):
        np.testing.assert_array_equal(report[s].zero_count, zeros_per_unit(cap.outputs[s]))
        assert report[s].sparsity >= report[s].dead_fraction
    assert f"{100 * report['3'].sparsity:.1f}" in report.summary()
