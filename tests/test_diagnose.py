"""Tests of relukit.diagnose: diagnose, DeadUnitReport, DeadUnitMonitor, recycle.

Oracles are independent of the code under test: pre-activations recomputed in float64
from the weights (``x @ W.T + b``, ``F.conv2d``), counted with NumPy.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def plant_dead(layer: nn.Module, units: list[int], bias: float = -1.0) -> None:
    """Zero the incoming weights of ``units`` and give them a negative bias."""
    with torch.no_grad():
        layer.weight[units] = 0.0
        layer.bias[units] = bias


def snapshot(model: nn.Module) -> dict:
    return {
        "params": {n: p.detach().clone() for n, p in model.named_parameters()},
        "buffers": {n: b.detach().clone() for n, b in model.named_buffers()},
        "grads": {
            n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()
        },
        "modes": {n: m.training for n, m in model.named_modules()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
    }


def assert_untouched(model: nn.Module, snap: dict) -> None:
    for n, p in model.named_parameters():
        assert torch.equal(p.detach(), snap["params"][n]), n
        g = snap["grads"][n]
        assert (p.grad is None) if g is None else torch.equal(p.grad, g), n
        assert p.requires_grad == snap["requires_grad"][n]
    for n, b in model.named_buffers():
        assert torch.equal(b, snap["buffers"][n]), n
    for n, m in model.named_modules():
        assert m.training == snap["modes"][n], n
        assert not m._forward_hooks, n
        assert not m._forward_pre_hooks, n
        assert not m._backward_hooks, n
        assert not getattr(m, "_forward_hooks_always_called", {}), n
    assert not torch.overrides._get_current_function_mode_stack()


def mlp(seed: int = 0, widths=(5, 8, 6, 3), act=nn.ReLU) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def dead_oracle(z: np.ndarray, unit_axis: int) -> list[int]:
    axes = tuple(a for a in range(z.ndim) if a != unit_axis % z.ndim)
    return [int(i) for i in np.flatnonzero(np.all(z <= 0, axis=axes))]


def lin64(x: np.ndarray, layer: nn.Linear) -> np.ndarray:
    w = layer.weight.detach().double().numpy()
    b = layer.bias.detach().double().numpy()
    return x @ w.T + b


# ---------------------------------------------------------------------------
# diagnose: planted dead units, independent counts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_planted_dead_units_match_independent_count(seed):
    import relukit as rk

    model = mlp(seed)
    plant_dead(model[0], [1, 4, 6])
    plant_dead(model[2], [0])
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(seed))
    report = rk.diagnose(model, x, batch_size=64)

    z1 = lin64(x.double().numpy(), model[0])
    z2 = lin64(np.maximum(z1, 0), model[2])
    expected = {"1": dead_oracle(z1, -1), "3": dead_oracle(z2, -1)}
    assert {1, 4, 6} <= set(expected["1"]) and 0 in expected["3"]
    assert report.dead_units() == expected
    np.testing.assert_allclose(report["1"].activation_rate, (z1 > 0).mean(0))
    np.testing.assert_allclose(report["3"].activation_rate, (z2 > 0).mean(0))
    assert report["1"].dead_fraction == len(expected["1"]) / 8
    # ReDo score: mean |h_i| / mean over the layer
    h = np.maximum(z1, 0)
    score = np.abs(h).mean(0) / np.abs(h).mean(0).mean()
    np.testing.assert_allclose(report["1"].score, score, rtol=1e-5, atol=1e-7)
    assert report.dormant_units(0.1)["1"] == [int(i) for i in np.flatnonzero(score <= 0.1)]
    assert report.n_samples == 300 and report.n_batches == 5


class Functional(nn.Module):
    """Every functional spelling, in a nested module."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 6)
        self.b = nn.Linear(6, 5)
        self.c = nn.Linear(5, 7)
        self.d = nn.Linear(7, 2)

    def forward(self, x):
        x = F.relu(self.a(x))
        x = torch.relu(self.b(x))
        x = self.c(x).relu()
        return self.d(F.leaky_relu(x, 0.2))


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = Functional()

    def forward(self, x):
        return F.relu(self.inner(x))


def test_functional_sites_found_named_and_counted():
    import relukit as rk

    torch.manual_seed(3)
    model = Outer()
    plant_dead(model.inner.a, [2, 5])
    plant_dead(model.inner.c, [0, 6])
    x = torch.randn(200, 4)
    report = rk.diagnose(model, x, batch_size=50)
    assert list(report) == [
        "inner.relu[0]",
        "inner.relu[1]",
        "inner.relu[2]",
        "inner.leaky_relu[3]",
        "relu[0]",
    ]
    assert [report[s].kind for s in report] == ["relu", "relu", "relu", "leaky_relu", "relu"]
    assert all(report[s].source == "functional" for s in report)

    m = model.inner
    z1 = lin64(x.double().numpy(), m.a)
    z2 = lin64(np.maximum(z1, 0), m.b)
    z3 = lin64(np.maximum(z2, 0), m.c)
    h3 = np.maximum(z3, 0)
    z4 = lin64(np.where(h3 > 0, h3, 0.2 * h3), m.d)  # leaky input = h3 >= 0
    assert report.dead_units() == {
        "inner.relu[0]": dead_oracle(z1, -1),
        "inner.relu[1]": dead_oracle(z2, -1),
        "inner.relu[2]": dead_oracle(z3, -1),
        "inner.leaky_relu[3]": dead_oracle(h3, -1),
        "relu[0]": dead_oracle(z4, -1),
    }
    assert report.dead_units()["inner.relu[0]"] == [2, 5]
    assert {0, 6} <= set(report.dead_units()["inner.relu[2]"])
    # leaky relu passes a gradient below 0: reported, but flagged
    assert report["inner.leaky_relu[3]"].zero_gradient_when_dead is False
    assert report["inner.relu[0]"].zero_gradient_when_dead is True
    assert report["inner.relu[0]"].producer == "inner.a"


def test_functional_false_sees_modules_only():
    import relukit as rk

    model = nn.Sequential(Outer(), nn.ReLU())
    report = rk.diagnose(model, torch.randn(10, 4), functional=False)
    assert list(report) == ["1"]


def test_inplace_functional_relu_reads_the_pre_activation():
    import relukit as rk

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 4)

        def forward(self, x):
            return F.elu(self.lin(x), inplace=True) + torch.relu_(self.lin(x) - 10.0)

    torch.manual_seed(0)
    model = M()
    x = torch.randn(64, 3)
    report = rk.diagnose(model, x)
    z = lin64(x.double().numpy(), model.lin)
    assert report.dead_units() == {
        "elu[0]": dead_oracle(z, -1),
        "relu_[1]": dead_oracle(z - 10, -1),
    }
    # the ELU output of a negative pre-activation is negative: |h| is what ReDo averages
    h = np.where(z > 0, z, np.expm1(z))
    np.testing.assert_allclose(report["elu[0]"].abs_mean, np.abs(h).mean(0), rtol=1e-5)


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 5, 3)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(5, 4, 3)
        self.fc = nn.Linear(4 * 2 * 2, 3)

    def forward(self, x):
        x = F.max_pool2d(self.act1(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


def test_conv_channels_planted_dead_match_independent_count():
    import relukit as rk

    torch.manual_seed(1)
    model = ConvNet()
    plant_dead(model.conv1, [0, 3], bias=-0.5)
    plant_dead(model.conv2, [2], bias=-0.5)
    x = torch.randn(40, 2, 10, 10)
    report = rk.diagnose(model, x, batch_size=16)
    xd = x.double()
    with torch.no_grad():
        z1 = F.conv2d(xd, model.conv1.weight.double(), model.conv1.bias.double())
        w2, b2 = model.conv2.weight.double(), model.conv2.bias.double()
        z2 = F.conv2d(F.max_pool2d(z1.clamp_min(0), 2), w2, b2)
    assert report.dead_units() == {
        "act1": dead_oracle(z1.numpy(), 1),
        "relu[0]": dead_oracle(z2.numpy(), 1),
    }
    assert {0, 3} <= set(report.dead_units()["act1"])
    assert report["act1"].unit == "channel" and report["act1"].n_units == 5
    assert report["act1"].n_values == 40 * 8 * 8
    np.testing.assert_allclose(
        report["act1"].activation_rate, (z1.numpy() > 0).mean(axis=(0, 2, 3))
    )
    # wiring: conv1 -> act1 -> pool -> conv2; conv2 -> relu -> flatten -> fc (4 positions)
    assert report["act1"].producer == "conv1" and report["act1"].consumers == [("conv2", None)]
    assert report["relu[0]"].consumers == [("fc", 4)] and not report["relu[0]"].escapes


def test_sequence_input_units_are_features_and_conv1d_units_are_channels():
    import relukit as rk

    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 6), nn.ReLU())
    r = rk.diagnose(seq, torch.randn(8, 5, 3))  # (N, T, F)
    assert r["1"].unit == "feature" and r["1"].n_units == 6 and r["1"].n_values == 40
    conv = nn.Sequential(nn.Conv1d(3, 4, 2), nn.ReLU())
    r = rk.diagnose(conv, torch.randn(8, 3, 5))  # (N, C, L)
    assert r["1"].unit == "channel" and r["1"].n_units == 4 and r["1"].n_values == 32
    r = rk.diagnose(conv, torch.randn(8, 3, 6), unit_dim=-1)  # override: last dim, L - 1 = 5
    assert r["1"].unit == "feature" and r["1"].n_units == 5 and r["1"].n_values == 32


def test_shared_activation_module_is_one_site_per_call():
    import relukit as rk

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l1, self.l2, self.l3 = nn.Linear(3, 4), nn.Linear(4, 5), nn.Linear(5, 2)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.l3(self.act(self.l2(self.act(self.l1(x)))))

    r = rk.diagnose(M(), torch.randn(20, 3))
    assert list(r) == ["act", "act[1]"]
    assert (r["act"].n_units, r["act[1]"].n_units) == (4, 5)


def test_all_torch_activation_modules_and_relukit_attribute_are_sites():
    import relukit as rk
    from relukit.diagnose._core import MODULE_KINDS

    class MyReLU(nn.Module):
        relukit_activation = "relu"  # how relukit.torch modules are recognised

        def forward(self, x):
            return x.clamp_min(0)

    acts = [t(0.0, 0.0) if t is nn.Threshold else t() for t in MODULE_KINDS] + [MyReLU()]
    layers: list[nn.Module] = []
    for a in acts:  # GLU halves its input: 8 features in, 4 units out
        layers += [nn.Linear(4, 8 if isinstance(a, nn.GLU) else 4), a]
    model = nn.Sequential(*layers)
    r = rk.diagnose(model, torch.randn(16, 4))
    assert len(r) == len(acts)
    assert [r[s].kind for s in r] == [*MODULE_KINDS.values(), "relu"]
    assert all(r[s].source == "module" for s in r)  # inner F.* calls are not double-counted


def test_relukit_torch_modules_are_sites():
    import relukit as rk

    rt = pytest.importorskip("relukit.torch")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), rt.ReLU(), nn.Linear(4, 5), rt.LeakyReLU(0.1))
    plant_dead(model[0], [1])
    x = torch.randn(64, 3)
    r = rk.diagnose(model, x)
    assert [r[s].kind for s in r] == ["relu", "leaky_relu"]
    z1 = lin64(x.double().numpy(), model[0])
    z2 = lin64(np.maximum(z1, 0), model[2])
    assert r.dead_units() == {"1": dead_oracle(z1, -1), "3": dead_oracle(z2, -1)}


@pytest.mark.parametrize("form", ["tensor", "list", "pairs", "loader", "generator"])
def test_data_forms_give_the_same_counts(form):
    import relukit as rk

    model = mlp(4)
    plant_dead(model[0], [3])
    x = torch.randn(100, 5)
    y = torch.zeros(100)
    ref = rk.diagnose(model, x, batch_size=100)
    if form == "tensor":
        data = x
    elif form == "list":
        data = list(x.split(7))
    elif form == "pairs":
        data = list(zip(x.split(9), y.split(9), strict=True))
    elif form == "loader":
        from torch.utils.data import DataLoader, TensorDataset

        data = DataLoader(TensorDataset(x, y), batch_size=13)
    else:
        data = (xb for xb in x.split(1))  # 100 batches, streamed
    r = rk.diagnose(model, data, batch_size=11)
    assert r.n_samples == 100
    for s in ref:
        np.testing.assert_array_equal(r[s].positive_count, ref[s].positive_count)
        np.testing.assert_allclose(r[s].abs_mean, ref[s].abs_mean, rtol=1e-6)


# ---------------------------------------------------------------------------
# the model is left as it was
# ---------------------------------------------------------------------------


def test_model_untouched_modes_grads_hooks():
    import relukit as rk

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 2)
    )
    model.train()
    model[3].eval()  # mixed modes must come back exactly
    model[0].weight.grad = torch.randn(6, 4)
    user_hook_calls = []
    h = model[2].register_forward_hook(lambda *a: user_hook_calls.append(1))
    h.remove()
    snap = snapshot(model)
    r1 = rk.diagnose(model, torch.randn(50, 4), batch_size=10)
    assert_untouched(model, snap)
    # eval mode during diagnosis: dropout off, batch-norm running stats used, so
    # the result is deterministic
    r2 = rk.diagnose(model, torch.randn(50, 4, generator=torch.Generator().manual_seed(1)))
    r3 = rk.diagnose(model, torch.randn(50, 4, generator=torch.Generator().manual_seed(1)))
    np.testing.assert_array_equal(r2["2"].positive_count, r3["2"].positive_count)
    assert r1["2"].n_units == 6
    assert not user_hook_calls


def test_model_untouched_when_forward_raises():
    import relukit as rk

    class Boom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            x = F.relu(self.lin(x))
            if self.calls == 2:
                raise RuntimeError("boom")
            return x

    model = nn.Sequential(Boom(), nn.ReLU())
    model.train()
    snap = snapshot(model)
    with pytest.raises(RuntimeError, match="boom"):
        rk.diagnose(model, torch.randn(10, 3), batch_size=4)
    assert_untouched(model, snap)


def test_user_hooks_are_kept():
    import relukit as rk

    model = mlp(0)
    calls = []
    h = model[1].register_forward_hook(lambda *a: calls.append(1))
    rk.diagnose(model, torch.randn(10, 5), batch_size=5)
    assert len(model[1]._forward_hooks) == 1 and calls == [1, 1]
    h.remove()


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors_and_leave_inputs_alone():
    import relukit as rk

    model = mlp(0)
    x = torch.randn(10, 5)
    x0 = x.clone()
    snap = snapshot(model)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got list"):
        rk.diagnose([model], x)
    with pytest.raises(TypeError, match=r"data must be a tensor.*got str"):
        rk.diagnose(model, "data")
    with pytest.raises(TypeError, match="data batch 1 is a int"):
        rk.diagnose(model, [x, 3])
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        rk.diagnose(model, x, batch_size=0)
    with pytest.raises(ValueError, match="tau must be a real number >= 0, got -1"):
        rk.diagnose(model, x, tau=-1)
    with pytest.raises(ValueError, match="tau must be a real number >= 0, got nan"):
        rk.diagnose(model, x, tau=float("nan"))
    with pytest.raises(ValueError, match="data is empty"):
        rk.diagnose(model, [])
    with pytest.raises(ValueError, match="unit_dim must be None"):
        rk.diagnose(model, x, unit_dim=2)
    conv = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU())
    with pytest.raises(ValueError, match=r"site '1' had 3 units.*must not change"):
        rk.diagnose(conv, [torch.randn(2, 1, 4, 3), torch.randn(2, 1, 4, 5)], unit_dim=-1)
    assert torch.equal(x, x0)
    assert_untouched(model, snap)
    assert_untouched(conv, snapshot(conv))
    with pytest.raises(KeyError, match="no activation site 'nope'; sites: 1, 3"):
        rk.diagnose(model, x)["nope"]


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------


def test_report_dict_json_summary_plot_repr():
    import matplotlib
    from rich.table import Table

    import relukit as rk

    matplotlib.use("Agg")
    model = mlp(0)
    plant_dead(model[0], [2])
    r = rk.diagnose(model, torch.randn(64, 5), tau=0.025)
    d = json.loads(r.to_json())
    assert d == json.loads(json.dumps(r.to_dict()))
    assert d["tau"] == 0.025 and d["n_samples"] == 64
    assert [s["name"] for s in d["sites"]] == ["1", "3"]
    assert d["sites"][0]["dead_units"] == r.dead_units()["1"]
    assert d["sites"][0]["n_units"] == 8 and len(d["sites"][0]["activation_rate"]) == 8
    assert r.dormant_units() == r.dormant_units(0.025)
    # dormant grows with tau, and dead units are dormant for every tau >= 0
    for s in r:
        assert set(r.dormant_units(0.0)[s]) <= set(r.dormant_units(0.5)[s])
        assert set(r.dead_units()[s]) <= set(r.dormant_units(0.0)[s])
    table = r.table()
    assert isinstance(table, Table) and table.row_count == 2
    text = r.summary()  # printable text, one row per site, 80 columns
    assert isinstance(text, str) and "dead %" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    rows = [line for line in text.splitlines() if line.strip("│ ").startswith(("1 ", "3 "))]
    assert len(rows) == 2
    assert [c.header for c in table.columns][:5] == ["site", "kind", "unit", "units", "dead"]
    assert list(table.columns[4].cells) == [str(len(r.dead_units()[s])) for s in r]
    fig = r.plot()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3"]
    bars = [p.get_height() for p in ax.patches]
    assert bars[:2] == pytest.approx([100 * r["1"].dead_fraction, 100 * r["3"].dead_fraction])
    assert ax.get_ylabel() == "units (%)"
    assert "1: 1/8 dead" in repr(r) and "2 sites" in repr(r)
    assert r.total_dead_fraction == pytest.approx(sum(map(len, r.dead_units().values())) / 14)


def test_empty_layer_mean_gives_score_zero():
    import relukit as rk

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    plant_dead(model[0], [0, 1, 2])
    r = rk.diagnose(model, torch.randn(5, 2))
    assert r.dead_units() == {"1": [0, 1, 2]}
    assert r.dormant_units(0.0) == {"1": [0, 1, 2]}
    np.testing.assert_array_equal(r["1"].score, [0, 0, 0])


def test_diagnose_is_callable_whatever_was_imported_first():
    code = (
        "import relukit as rk, sys\n"
        "assert 'torch' not in sys.modules\n"
        "import relukit.diagnose\n"
        "import torch\n"
        "m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())\n"
        "print(type(rk.diagnose(m, torch.randn(4, 2))).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "DeadUnitReport"


# ---------------------------------------------------------------------------
# recycle
# ---------------------------------------------------------------------------


def _train_steps(model, opt, x, y, n=3):
    for _ in range(n):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("optim", ["adam", "adamw", "sgd"])
def test_recycle_revives_planted_units_and_resets_exactly_their_state(optim):
    import relukit as rk

    model = mlp(5, widths=(5, 8, 3))  # one hidden layer: only the planted units are dead
    x, y = torch.randn(64, 5), torch.randn(64, 3)
    if optim == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    elif optim == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    _train_steps(model, opt, x, y)
    plant_dead(model[0], [1, 6])
    report = rk.diagnose(model, x)
    assert report.dead_units()["1"] == [1, 6]
    before = snapshot(model)
    state_before = {
        p: {k: v.clone() if torch.is_tensor(v) else v for k, v in opt.state[p].items()}
        for p in model.parameters()
    }
    res = rk.recycle(model, report, opt, which="dead")
    assert res.sites["1"]["units"] == [1, 6] and res.n_recycled == 2
    assert res.sites["1"]["producer"] == "0" and res.sites["1"]["consumers"] == ["2"]

    w0, b0, w2 = model[0].weight.detach(), model[0].bias.detach(), model[2].weight.detach()
    rows, other = [1, 6], [0, 2, 3, 4, 5, 7]
    assert torch.all(w0[rows] != 0) and torch.all(b0[rows] == 0)  # re-drawn, bias 0
    assert torch.equal(w0[other], before["params"]["0.weight"][other])
    assert torch.equal(b0[other], before["params"]["0.bias"][other])
    assert torch.all(w2[:, rows] == 0)  # outgoing weights zeroed
    assert torch.equal(w2[:, other], before["params"]["2.weight"][:, other])
    # the re-drawn rows follow the layer's own init: kaiming_uniform(a=sqrt(5)) bound 1/sqrt(5)
    assert torch.all(w0[rows].abs() <= 1 / 5**0.5)
    # the function did not jump
    assert torch.allclose(model(x), model(x))
    keys = {"adam": ["exp_avg", "exp_avg_sq"], "adamw": ["exp_avg", "exp_avg_sq"]}.get(
        optim, ["momentum_buffer"]
    )
    for p, idx_fn in (
        (model[0].weight, lambda t: (t[rows], t[other])),
        (model[0].bias, lambda t: (t[rows], t[other])),
        (model[2].weight, lambda t: (t[:, rows], t[:, other])),
    ):
        for k in keys:
            got_r, got_o = idx_fn(opt.state[p][k])
            _, want_o = idx_fn(state_before[p][k])
            assert torch.all(got_r == 0), k
            assert torch.equal(got_o, want_o), k
        if "step" in state_before[p]:
            assert torch.equal(
                torch.as_tensor(opt.state[p]["step"]), torch.as_tensor(state_before[p]["step"])
            )
    # untouched layers and their state
    for name in ("2.bias",):
        p = dict(model.named_parameters())[name]
        assert torch.equal(p.detach(), before["params"][name])
        for k in keys:
            assert torch.equal(opt.state[p][k], state_before[p][k])
    assert rk.diagnose(model, x).dead_units()["1"] == []


def test_recycle_conv_flatten_linear_columns():
    import relukit as rk

    torch.manual_seed(2)
    model = ConvNet()
    plant_dead(model.conv2, [1, 3], bias=-5.0)
    x = torch.randn(16, 2, 10, 10)
    report = rk.diagnose(model, x)
    assert report.dead_units()["relu[0]"] == [1, 3]
    res = rk.recycle(model, report, which="dead", strict=False)
    assert res.sites["relu[0]"]["consumers"] == ["fc"]
    w = model.fc.weight.detach()
    # channel c owns the 4 flattened columns 4c .. 4c+3
    assert torch.all(w[:, 4:8] == 0) and torch.all(w[:, 12:16] == 0)
    assert torch.all(w[:, 0:4] != 0) and torch.all(w[:, 8:12] != 0)
    assert rk.diagnose(model, x).dead_units()["relu[0]"] == []


def test_recycle_refuses_what_it_cannot_follow_and_changes_nothing():
    import relukit as rk

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)
            self.act = nn.ReLU()

        def forward(self, x):
            h = self.act(self.a(x))
            return self.b(h) + h  # h also flows into the residual sum

    torch.manual_seed(0)
    model = Residual()
    plant_dead(model.a, [2])
    report = rk.diagnose(model, torch.randn(32, 4))
    assert report["act"].escapes
    snap = snapshot(model)
    with pytest.raises(ValueError, match=r"cannot recycle site 'act': its output is also used by"):
        rk.recycle(model, report, which="dead")
    assert_untouched(model, snap)
    res = rk.recycle(model, report, which="dead", strict=False)
    assert "act" in res.skipped and res.n_recycled == 0
    assert_untouched(model, snap)

    ln = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 1)).eval()
    with torch.no_grad():
        ln[1].bias[1] = -100.0
    rep = rk.diagnose(ln, torch.randn(20, 3))
    snap = snapshot(ln)
    with pytest.raises(ValueError, match="comes from LayerNorm '1', not a Linear or Conv"):
        rk.recycle(ln, rep, which="dead")
    assert_untouched(ln, snap)
    # a batch norm fed by a Linear is followed (tests/test_cbp.py checks the entries)
    bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1)).eval()
    with torch.no_grad():
        bn[1].bias[1] = -100.0
    rep = rk.diagnose(bn, torch.randn(20, 3))
    assert rk.recycle(bn, rep, which="dead").sites["2"]["norm"] == "1"
    with pytest.raises(TypeError, match="report must be a DeadUnitReport"):
        rk.recycle(bn, {"2": [1]})
    with pytest.raises(ValueError, match="which must be 'dormant' or 'dead'"):
        rk.recycle(bn, rep, which="all")


# ---------------------------------------------------------------------------
# monitor
# ---------------------------------------------------------------------------


def _inplace_relu():
    return nn.ReLU(inplace=True)


def _inplace_leaky():
    return nn.LeakyReLU(0.1, inplace=True)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("act", [nn.ReLU, nn.LeakyReLU, nn.ELU, _inplace_relu, _inplace_leaky])
def test_monitor_windows_match_independent_counts(act, fast):
    import relukit as rk

    model = mlp(7, act=act)
    plant_dead(model[0], [0, 5])
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # weights fixed: counts are exact
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, 5, generator=gen) for _ in range(7)]
    with rk.DeadUnitMonitor(model, every=3, tau=0.1, fast=fast) as mon:
        for xb in batches:
            loss = model(xb).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        # after the first pass the hooks are swapped for forward wrappers (fast path)
        assert ("forward" in model[1].__dict__) == fast
        assert bool(model[1]._forward_hooks) != fast
        model.eval()
        model(torch.randn(4, 5))  # eval passes are not steps
        model.train()
    assert [r["step"] for r in mon.records] == [3, 6, 7]
    assert [r["steps"] for r in mon.records] == [3, 3, 1]
    assert mon.step_count == 7
    for rec, window in zip(mon.records, (batches[0:3], batches[3:6], batches[6:7]), strict=True):
        z = lin64(torch.cat(window).double().numpy(), model[0])
        dead = np.all(z <= 0, axis=0)
        assert rec["sites"]["1"]["dead_fraction"] == pytest.approx(dead.mean())
        h = torch.as_tensor(z)
        h = act()(h).numpy()
        s = np.abs(h).mean(0)
        score = s / s.mean()
        assert rec["sites"]["1"]["dormant_fraction"] == pytest.approx((score <= 0.1).mean())
    hist = mon.history()
    assert hist["1"]["step"] == [3, 6, 7] and len(hist["3"]["dead_fraction"]) == 3
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert "forward" not in m.__dict__


def test_monitor_functional_sites_and_cleanup_on_error():
    import matplotlib

    import relukit as rk

    matplotlib.use("Agg")
    torch.manual_seed(0)
    model = Outer()
    with pytest.raises(RuntimeError, match="stop"), rk.DeadUnitMonitor(model, every=2) as mon:
        for _ in range(4):
            model(torch.randn(5, 4))
        raise RuntimeError("stop")
    assert set(mon.records[0]["sites"]) == {
        "inner.relu[0]",
        "inner.relu[1]",
        "inner.relu[2]",
        "inner.leaky_relu[3]",
        "relu[0]",
    }
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    assert not torch.overrides._get_current_function_mode_stack()
    fig = mon.plot()
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 5
    assert fig.axes[0].get_xlabel() == "training step"
    assert "detached" in repr(mon)


def test_monitor_bad_arguments():
    import relukit as rk

    with pytest.raises(ValueError, match="every must be an int >= 1, got 0"):
        rk.DeadUnitMonitor(mlp(), every=0)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        rk.DeadUnitMonitor("model")
    mon = rk.DeadUnitMonitor(mlp(), every=2).attach()
    with pytest.raises(RuntimeError, match="already attached"):
        mon.attach()
    mon.detach()


# ---------------------------------------------------------------------------
# relukit's own functional forms and F.threshold are functional sites
# ---------------------------------------------------------------------------


class OneCall(nn.Module):
    """``o(f(l(x)))``: one functional activation call of ``f`` in ``forward``."""

    def __init__(self, f, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.l = nn.Linear(4, 6)
        self.o = nn.Linear(6, 1)
        self.f = f

    def forward(self, x):
        return self.o(self.f(self.l(x)))


def _relu(z):
    return np.maximum(z, 0.0)


# label -> (the call, its site kind, its output as a NumPy function of the pre-activation)
FUNCTIONAL_FORMS = {
    "F.threshold": (lambda rk, rt: lambda z: F.threshold(z, 0.0, 0.0), "threshold", _relu),
    "F.threshold_inplace": (
        lambda rk, rt: lambda z: F.threshold(z, 0.0, 0.0, inplace=True),
        "threshold",
        _relu,
    ),
    "rt.relu": (lambda rk, rt: rt.relu, "relu", _relu),
    "rt.relu_at_kink": (lambda rk, rt: lambda z: rt.relu(z, at_kink=1.0), "relu", _relu),
    "rt.relu_inplace": (lambda rk, rt: lambda z: rt.relu(z, inplace=True), "relu", _relu),
    "rt.leaky_relu": (
        lambda rk, rt: lambda z: rt.leaky_relu(z, 0.2),
        "leaky_relu",
        lambda z: np.where(z > 0, z, 0.2 * z),
    ),
    "rt.squared_relu": (lambda rk, rt: rt.squared_relu, "squared_relu", lambda z: _relu(z) ** 2),
    "rt.function_relu6": (
        lambda rk, rt: rt.function("relu6"),
        "relu6",
        lambda z: np.clip(z, 0.0, 6.0),
    ),
    "rk.relu": (lambda rk, rt: rk.relu, "relu", _relu),
    "rk.squared_relu": (lambda rk, rt: rk.squared_relu, "squared_relu", lambda z: _relu(z) ** 2),
}


@pytest.mark.parametrize("label", sorted(FUNCTIONAL_FORMS))
def test_relukit_functional_forms_and_threshold_are_functional_sites(label):
    import relukit as rk

    rt = pytest.importorskip("relukit.torch")
    make, kind, act = FUNCTIONAL_FORMS[label]
    model = OneCall(make(rk, rt))
    plant_dead(model.l, [1, 5])
    x = torch.randn(120, 4, generator=torch.Generator().manual_seed(1))
    report = rk.diagnose(model, x, batch_size=50)

    z = lin64(x.double().numpy(), model.l)
    assert list(report) == [f"{kind}[0]"]
    site = report[f"{kind}[0]"]
    assert (site.kind, site.source) == (kind, "functional")
    assert site.dead_units == dead_oracle(z, -1) == [1, 5]
    np.testing.assert_allclose(site.activation_rate, (z > 0).mean(0))
    np.testing.assert_allclose(site.abs_mean, np.abs(act(z)).mean(0), rtol=1e-5, atol=1e-7)
    assert site.producer == "l"


@pytest.mark.parametrize("label", ["rt.reglu", "rk.reglu", "rt.reglu_split"])
def test_relukit_gated_functional_forms_are_gated_sites(label):
    import relukit as rk

    rt = pytest.importorskip("relukit.torch")

    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.g = nn.Linear(4, 6)
            self.u = nn.Linear(4, 6)

        def forward(self, x):
            g, u = self.g(x), self.u(x)
            if label == "rt.reglu":
                return rt.reglu(g, u)
            if label == "rk.reglu":
                return rk.reglu(g, u)
            return rt.reglu(torch.cat([u, g], -1))  # one tensor: the second half gates

    model = Gated()
    plant_dead(model.g, [0, 2])
    plant_dead(model.u, [4], bias=0.0)  # up is 0 for unit 4: zeros of the output only
    x = torch.randn(80, 4, generator=torch.Generator().manual_seed(2))
    report = rk.diagnose(model, x)

    g = lin64(x.double().numpy(), model.g)
    u = lin64(x.double().numpy(), model.u)
    assert list(report) == ["reglu[0]"]
    site = report["reglu[0]"]
    assert (site.kind, site.source, site.gated) == ("reglu", "functional", True)
    assert site.dead_units == dead_oracle(g, -1)
    assert {0, 2} <= set(site.dead_units)
    assert site.sparsity == pytest.approx((_relu(g) == 0).mean())
    assert site.output_sparsity == pytest.approx((_relu(g) * u == 0).mean())


def test_relukit_torch_runs_untouched_outside_a_session():
    """The functional forms are seen through wrappers that exist only while a watched
    forward pass runs; relukit.torch modules stay module sites (not counted twice)."""
    import relukit as rk

    rt = pytest.importorskip("relukit.torch")
    from relukit import _dispatch
    from relukit.torch import _core as tc

    def current():
        return (tc.apply, tc.apply_gated, _dispatch.apply, _dispatch.apply_gated)

    before = current()
    seen: list[tuple] = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(tuple(a is b for a, b in zip(current(), before, strict=True)))
            if x.shape[0] == 1:
                raise RuntimeError("boom")
            return rt.relu(x)

    model = nn.Sequential(nn.Linear(3, 4), rt.ReLU(), nn.Linear(4, 4), Spy())
    r = rk.diagnose(model, torch.randn(16, 3))
    assert [(s, r[s].kind, r[s].source) for s in r] == [
        ("1", "relu", "module"),
        ("3.relu[0]", "relu", "functional"),
    ]
    assert seen == [(False,) * 4]  # wrapped while the pass runs
    assert current() == before  # and only then
    with pytest.raises(RuntimeError, match="boom"):
        rk.diagnose(model, torch.randn(1, 3))
    assert seen[-1] == (False,) * 4 and current() == before  # also when forward raises
    with rk.DeadUnitMonitor(model, every=1, functional=False) as mon:
        model(torch.randn(4, 3))
    assert seen[-1] == (True,) * 4  # functional=False: nothing wrapped
    assert list(mon.records[0]["sites"]) == ["1"]
    assert current() == before


def test_relukit_functional_calls_seen_by_nested_sessions_not_other_threads():
    """Two sessions on one forward pass both see relukit's functional calls (as they
    both see F.relu); a call made by another thread meanwhile is not counted."""
    import threading

    import relukit as rk

    rt = pytest.importorskip("relukit.torch")
    model = OneCall(rt.relu)
    plant_dead(model.l, [1, 5])
    with rk.DeadUnitMonitor(model, every=1) as a, rk.DeadUnitMonitor(model, every=1) as b:
        model(torch.randn(8, 4))
    for mon in (a, b):
        assert mon.records[0]["sites"]["relu[0]"]["dead_fraction"] == pytest.approx(2 / 6)

    started = threading.Event()
    done: list[torch.Size] = []

    def other() -> None:
        started.wait()
        done.append(rt.relu(torch.randn(3, 9)).shape)

    thread = threading.Thread(target=other)

    class WaitsForTheThread(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l = nn.Linear(4, 6)

        def forward(self, x):
            started.set()
            thread.join()  # its rt.relu runs while this pass is watched
            return rt.relu(self.l(x))

    thread.start()
    report = rk.diagnose(WaitsForTheThread(), torch.randn(5, 4))
    assert done == [torch.Size([3, 9])]
    assert list(report) == ["relu[0]"] and report["relu[0]"].n_units == 6


# ---------------------------------------------------------------------------
# the monitor decides on the first counted pass (not an eval pass before training)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["F.relu", "rt.relu"])
@pytest.mark.parametrize("first_eval", [False, True])
def test_monitor_watches_functional_sites_after_an_eval_pass(first_eval, call):
    import relukit as rk

    rt = pytest.importorskip("relukit.torch")
    model = OneCall(F.relu if call == "F.relu" else rt.relu)
    plant_dead(model.l, [1, 5])
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, 4, generator=gen) for _ in range(6)]
    with rk.DeadUnitMonitor(model, every=3) as mon:
        if first_eval:  # a validation pass before training: not counted, decides nothing
            model.eval()
            with torch.no_grad():
                model(torch.randn(8, 4, generator=gen))
            model.train()
        for xb in batches:
            model(xb)
    assert [r["step"] for r in mon.records] == [3, 6]
    for rec, window in zip(mon.records, (batches[:3], batches[3:]), strict=True):
        z = lin64(torch.cat(window).double().numpy(), model.l)
        assert list(rec["sites"]) == ["relu[0]"]
        site = rec["sites"]["relu[0]"]
        assert site["dead_fraction"] == pytest.approx(np.all(z <= 0, axis=0).mean())
        assert site["sparsity"] == pytest.approx((z <= 0).mean())


def test_monitor_conv1d_channels_after_an_eval_pass():
    """The producer of a 3-D pre-activation (a Conv1d: units are channels) is traced in
    the first counted pass, not lost in an eval pass before it."""
    import relukit as rk

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 7, 1))
    with torch.no_grad():
        model[0].bias[2] = -1e6  # channel 2 never fires
    with rk.DeadUnitMonitor(model, every=2) as mon:
        model.eval()
        model(torch.randn(3, 2, 9))
        model.train()
        for _ in range(2):
            model(torch.randn(3, 2, 9))
    site = mon.records[0]["sites"]["1"]
    assert site["n_units"] == 4
    assert site["dead_fraction"] == 0.25


def test_continual_backprop_traces_the_first_training_pass_after_an_eval_pass():
    """ContinualBackprop's session traces the wiring in the first *training* pass: an
    eval pass before it neither hides the sites nor leaves them untraced."""
    import relukit as rk

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    cbp = rk.ContinualBackprop(model, opt, replacement_rate=0.5, maturity_threshold=0)
    try:
        model.eval()
        model(torch.randn(5, 3))
        with pytest.raises(RuntimeError, match="no activation site was seen"):
            cbp.step()
        model.train()
        model(torch.randn(5, 3))
        replaced = cbp.step()  # age 1 > 0: all 4 units mature, 0.5 * 4 replaced
        assert list(replaced) == ["1"] and len(replaced["1"]) == 2
        assert cbp.n_replaced == {"1": 2} and cbp.skipped == {}
    finally:
        cbp.close()


# ---------------------------------------------------------------------------
# a NaN unit: dead and dormant itself, and leaves the other units' scores alone
# ---------------------------------------------------------------------------


def _nan_unit_model() -> nn.Sequential:
    """``relu(x + b)`` per unit (identity weights), ``b = [0, nan, 0, 0]``."""
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(4))
        model[0].bias.zero_()
        model[0].bias[1] = float("nan")
    return model


def test_nan_unit_is_dormant_and_does_not_poison_the_layer_score():
    import relukit as rk

    model = _nan_unit_model()
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(0)).abs() + 0.5
    report = rk.diagnose(model, x)
    s = report["1"]

    h = x.double().numpy()  # units 0, 2, 3: h = x > 0; unit 1: NaN
    healthy = [0, 2, 3]
    means = h[:, healthy].mean(0)
    np.testing.assert_allclose(s.score[healthy], means / means.mean(), rtol=1e-6)
    assert np.isnan(s.score[1])
    assert s.dead_units == [1]
    assert s.dormant_units() == [1] and s.dormant_units(0.5) == [1]
    assert s.dormant_fraction() == 0.25
    d = json.loads(report.to_json(), parse_constant=lambda c: pytest.fail(f"JSON has {c}"))
    assert d["sites"][0]["score"][1] is None
    assert d["sites"][0]["dormant_units"] == [1]

    w_before = model[0].weight.detach().clone()
    result = rk.recycle(model, report)
    assert result.sites["1"]["units"] == [1]  # only the broken unit is re-drawn
    w_after = model[0].weight.detach()
    assert torch.equal(w_after[healthy], w_before[healthy])
    assert torch.isfinite(model[0].bias).all()
    assert np.isfinite(rk.diagnose(model, x)["1"].score).all()  # no NaN unit left


def test_monitor_nan_unit_is_dormant_alone():
    import relukit as rk

    model = _nan_unit_model()
    gen = torch.Generator().manual_seed(0)
    with rk.DeadUnitMonitor(model, every=2) as mon:
        for _ in range(2):
            model(torch.randn(50, 4, generator=gen).abs() + 0.5)
    site = mon.records[0]["sites"]["1"]
    assert site["dead_fraction"] == 0.25
    assert site["dormant_fraction"] == 0.25


# ---------------------------------------------------------------------------
# half-precision models: per-unit sums in float32 at least
# ---------------------------------------------------------------------------

# incoming weight of each unit (all 4 inputs alike, bias 0): with x in [0, 1), units
# at about 50 (a float16 sum of a few hundred overflows), unit 2 at about 0.005
# (dormant), unit 4 dead
_HALF_SLOPES = [25.0, 30.0, 0.0025, 20.0, -1.0, 25.0, 28.0, 22.0]


def _half_model(dtype) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(_HALF_SLOPES)[:, None].expand(8, 4))
        model[0].bias.zero_()
        model[2].weight.fill_(1.0)
        model[2].weight[0, 6] = 0.01  # unit 6: the least useful live unit downstream
    return model.to(dtype)


def _half_batches(dtype) -> list:
    gen = torch.Generator().manual_seed(0)
    return [torch.rand(512, 4, generator=gen).to(dtype) for _ in range(4)]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_model_dormant_units_match_float64_oracle(dtype):
    """The sums of |h| of a float16 model overflowed to inf in the monitor (a dormant
    unit next to units at ~50 was reported as not dormant): they are float32 now."""
    import relukit as rk

    dt = getattr(torch, dtype)
    model = _half_model(dt)
    xs = _half_batches(dt)

    # oracle: the pre-activations in float64 from the (half-precision) weights
    z = np.concatenate([lin64(x.double().numpy(), model[0]) for x in xs])
    means = _relu(z).mean(0)
    score = means / means.mean()
    dormant = [int(i) for i in np.flatnonzero(score <= 0.1)]
    dead = dead_oracle(z, -1)
    assert (dormant, dead) == ([2, 4], [4])  # (the model is what it is meant to be)

    with rk.DeadUnitMonitor(model, every=4) as mon:
        for x in xs:
            model(x)
    site = mon.records[0]["sites"]["1"]
    assert site["dead_fraction"] == len(dead) / 8
    assert site["dormant_fraction"] == len(dormant) / 8

    report = rk.diagnose(model, torch.cat(xs), batch_size=512)
    s = report["1"]
    assert s.dead_units == dead
    assert s.dormant_units() == dormant
    np.testing.assert_allclose(s.score, score, rtol=2e-2, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_continual_backprop_half_precision_model_replaces_the_least_useful(dtype):
    """Utilities of a float16 model were inf for every unit at ~50 (ties): the unit
    whose outgoing weight is 0.01 was not told from the others."""
    import relukit as rk

    dt = getattr(torch, dtype)
    model = _half_model(dt)
    xs = _half_batches(dt)
    z = np.concatenate([lin64(x.double().numpy(), model[0]) for x in xs])
    util = _relu(z).mean(0) * np.abs(model[2].weight.detach().double().numpy()).sum(0)
    lowest = sorted(int(i) for i in np.argsort(util)[:3])
    assert lowest == [2, 4, 6]

    cbp = rk.ContinualBackprop(model, None, replacement_rate=3 / 8, maturity_threshold=0)
    try:
        for x in xs:
            model(x)
        assert cbp.step() == {"1": lowest}
    finally:
        cbp.close()


# ---------------------------------------------------------------------------
# relukit.torch's rrelu: an rrelu site (it computes through leaky_relu in evaluation)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["rt.rrelu", "rt.function", "rt.RReLU", "rk.rrelu"])
def test_relukit_rrelu_is_an_rrelu_site_in_training_and_evaluation(form):
    import relukit as rk

    rt = pytest.importorskip("relukit.torch")
    lo, hi = 0.1, 0.3

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.l = nn.Linear(4, 6)
            self.act = rt.RReLU(lo, hi)
            self.o = nn.Linear(6, 1)

        def forward(self, x):
            z = self.l(x)
            if form == "rt.rrelu":
                h = rt.rrelu(z, lo, hi, self.training)
            elif form == "rt.function":
                h = rt.function("rrelu")(z, lo, hi, training=self.training)
            elif form == "rk.rrelu":
                h = rk.rrelu(z, lo, hi)
            else:
                h = self.act(z)
            return self.o(h)

    model = Net()
    plant_dead(model.l, [3])
    x = torch.randn(100, 4, generator=torch.Generator().manual_seed(1))
    name = "act" if form == "rt.RReLU" else "rrelu[0]"
    source = "module" if form == "rt.RReLU" else "functional"

    report = rk.diagnose(model, x)  # evaluation: the slope is (lo + hi) / 2
    assert list(report) == [name]
    site = report[name]
    assert (site.kind, site.source) == ("rrelu", source)
    z = lin64(x.double().numpy(), model.l)
    assert site.dead_units == dead_oracle(z, -1) == [3]
    h = np.where(z > 0, z, (lo + hi) / 2 * z)
    np.testing.assert_allclose(site.abs_mean, np.abs(h).mean(0), rtol=1e-5, atol=1e-7)

    if form == "rk.rrelu":
        return  # (the NumPy API's rrelu has no training mode)
    model.train()  # training: torch's own random-slope rrelu runs
    with rk.DeadUnitMonitor(model, every=2) as mon:
        model(x)
        model.eval()
        model(x)  # (not counted)
        model.train()
        model(x)
    assert list(mon.records[0]["sites"]) == [name]
    assert mon.records[0]["sites"][name]["dead_fraction"] == pytest.approx(1 / 6)


# ---------------------------------------------------------------------------
# ContinualBackprop: a NaN unit is replaced first, the others rank as before
# ---------------------------------------------------------------------------


def test_continual_backprop_replaces_a_nan_unit_first():
    import relukit as rk

    model = _nan_unit_model()  # unit 1: NaN
    with torch.no_grad():
        model[2].weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 0.01]]))  # unit 3: least useful
        model[2].bias.zero_()
    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn(50, 4, generator=gen).abs() + 0.5 for _ in range(2)]
    cbp = rk.ContinualBackprop(model, None, replacement_rate=0.5, maturity_threshold=0)
    try:
        for x in xs:
            model(x)
        # 4 mature units x 0.5: the NaN unit, then the lowest finite utility
        assert cbp.step() == {"1": [1, 3]}
        assert torch.isfinite(model[0].bias).all() and torch.isfinite(model[0].weight).all()
        for x in xs:
            assert torch.isfinite(model(x)).all()
        assert cbp.step() == {"1": [1, 3]}  # (outgoing weights 0: utility 0, finite)
    finally:
        cbp.close()
