"""Tests of relukit.ContinualBackprop and of the batch-norm-aware recycling it shares.

Oracles are independent of the code under test: which entries may change is written
down from the layer shapes; the utility is recomputed with NumPy (float64) from the
activations recorded by a plain forward hook and the weights after each step.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _param_state(model, opt):
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    state = {
        n: {k: v.clone() for k, v in opt.state[p].items() if torch.is_tensor(v)}
        for n, p in model.named_parameters()
        if p in opt.state
    }
    return params, buffers, state


def _changed_mask(shape, index) -> torch.Tensor:
    m = torch.zeros(shape, dtype=torch.bool)
    m[index] = True
    return m


def _assert_only(model, opt, before, expect):
    """``expect[name] = index`` of the entries allowed (and required) to be reset."""
    params, buffers, state = before
    named = dict(model.named_parameters()) | dict(model.named_buffers())
    for name, old in {**params, **buffers}.items():
        new = named[name].detach()
        if name not in expect or old.ndim == 0:
            assert torch.equal(new, old), name
            continue
        mask = _changed_mask(old.shape, expect[name])
        assert torch.equal(new[~mask], old[~mask]), name
        for key, buf in state.get(name, {}).items():
            now = opt.state[named[name]][key]
            if buf.shape != old.shape:  # step counts
                assert torch.equal(now, buf), (name, key)
                continue
            assert torch.all(now[mask] == 0), (name, key)
            assert torch.equal(now[~mask], buf[~mask]), (name, key)
    for name, s in state.items():
        if name not in expect:
            for key, buf in s.items():
                assert torch.equal(opt.state[named[name]][key], buf), (name, key)


class FunctionalMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(5, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


def _train(model, opt, cbp, x, y, steps):
    out = []
    for _ in range(steps):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(cbp.step())
    return out


@pytest.mark.parametrize("kind", ["module", "functional"])
@pytest.mark.parametrize("optim", ["adam", "sgd"])
def test_cbp_replaces_exactly_the_planted_dead_units(kind, optim):
    import relukit as rk

    torch.manual_seed(0)
    if kind == "module":
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
        first, second, site = model[0], model[2], "1"
        names = ("0", "2")
    else:
        model = FunctionalMLP()
        first, second, site = model.a, model.b, "relu[0]"
        names = ("a", "b")
    with torch.no_grad():
        first.weight[[1, 6]] = 0.0
        first.bias[[1, 6]] = -1.0
    if optim == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    # 8 units x 0.25 = 2 replacements once all are mature (age > 2, i.e. at step 3)
    cbp = rk.ContinualBackprop(model, opt, replacement_rate=0.25, maturity_threshold=2)
    x, y = torch.randn(64, 5), torch.randn(64, 3)
    assert _train(model, opt, cbp, x, y, 2) == [{}, {}]
    loss = F.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    before = _param_state(model, opt)
    out_before = model(x).detach()
    replaced = cbp.step()
    assert replaced == {site: [1, 6]} and cbp.n_replaced == {site: 2}
    rows = torch.tensor([1, 6])
    _assert_only(
        model,
        opt,
        before,
        {
            f"{names[0]}.weight": (rows,),
            f"{names[0]}.bias": (rows,),
            f"{names[1]}.weight": (slice(None), rows),
        },
    )
    w = first.weight.detach()
    assert torch.all(w[rows] != 0) and torch.all(w[rows].abs() <= 1 / 5**0.5)  # layer init
    assert torch.all(first.bias[rows] == 0) and torch.all(second.weight[:, rows] == 0)
    assert torch.equal(model(x).detach(), out_before)  # outgoing weights 0: no jump
    cbp.close()
    assert not any(m._forward_hooks for m in model.modules())


def _utility_oracle(hs, ws, decay, n):
    u = np.zeros(n)
    for h, w in zip(hs, ws, strict=True):
        u = decay * u + (1 - decay) * np.abs(h).mean(0) * np.abs(w).sum(0)
    return u


def test_cbp_utility_matches_formula():
    import relukit as rk

    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.1), nn.Linear(6, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    hs, ws = [], []
    model[1].register_forward_hook(lambda m, a, o: hs.append(o.detach().double().numpy()))
    cbp = rk.ContinualBackprop(model, opt, maturity_threshold=10**6, decay=0.9)
    for _ in range(5):
        x, y = torch.randn(16, 4), torch.randn(16, 2)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ws.append(model[2].weight.detach().double().numpy().copy())
        assert cbp.step() == {}
    # eval passes are not training steps: they do not enter the utility
    model.eval()
    model(torch.randn(3, 4))
    model.train()
    want = _utility_oracle(hs[:5], ws, 0.9, 6)
    np.testing.assert_allclose(cbp._util["1"].numpy(), want, rtol=1e-6)
    cbp.close()


class ConvBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 2 * 2, 3)

    def forward(self, x):
        h = F.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(h, 1))


def test_cbp_conv_batchnorm_resets_the_channel():
    import relukit as rk

    torch.manual_seed(1)
    model = ConvBN()
    with torch.no_grad():
        model.bn.bias[2] = -100.0  # channel 2 is dead after the batch norm
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    cbp = rk.ContinualBackprop(model, opt, replacement_rate=0.25, maturity_threshold=1)
    x, y = torch.randn(8, 2, 6, 6), torch.randn(8, 3)
    assert _train(model, opt, cbp, x, y, 1) == [{}]
    loss = F.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    before = _param_state(model, opt)
    assert cbp.step() == {"relu[0]": [2]}
    c = torch.tensor([2])
    _assert_only(
        model,
        opt,
        before,
        {
            "conv.weight": (c,),
            "conv.bias": (c,),
            "bn.weight": (c,),
            "bn.bias": (c,),
            "bn.running_mean": (c,),
            "bn.running_var": (c,),
            "fc.weight": (slice(None), torch.arange(8, 12)),  # channel 2 = columns 8..11
        },
    )
    assert model.bn.weight[2] == 1 and model.bn.bias[2] == 0
    assert model.bn.running_mean[2] == 0 and model.bn.running_var[2] == 1
    assert torch.all(model.fc.weight[:, 8:12] == 0)
    cbp.close()


class Block(nn.Module):
    """A torchvision-style basic block: the second relu reads a residual sum (in place)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.block = Block(4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.block(self.stem(x))), 1))


def test_recycle_resnet_block_batchnorm_site_and_skips_residual_sums():
    import relukit as rk

    torch.manual_seed(4)
    model = TinyResNet()
    with torch.no_grad():
        model.block.bn1.bias[1] = -100.0
    x = torch.randn(6, 1, 5, 5)
    report = rk.diagnose(model, x)
    assert report.dead_units()["block.relu"] == [1]
    site = report["block.relu"]
    assert (site.producer, site.producer_input) == ("block.bn1", "block.conv1")
    # after `out += x` the pre-activation is no longer bn2's output
    assert report["block.relu[1]"].producer is None
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    F.mse_loss(model(x), torch.randn(6, 2)).backward()
    opt.step()
    before = _param_state(model, opt)
    with pytest.raises(ValueError, match=r"cannot recycle site 'stem.2': its output is also"):
        rk.recycle(model, report, opt, which="dormant", tau=10.0)
    res = rk.recycle(model, report, opt, which="dead", strict=False)
    assert res.sites["block.relu"]["units"] == [1]
    assert res.sites["block.relu"]["producer"] == "block.conv1"
    assert res.sites["block.relu"]["norm"] == "block.bn1"
    assert res.sites["block.relu"]["consumers"] == ["block.conv2"]
    c = torch.tensor([1])
    _assert_only(
        model,
        opt,
        before,
        {
            "block.conv1.weight": (c,),
            "block.conv1.bias": (c,),
            "block.bn1.weight": (c,),
            "block.bn1.bias": (c,),
            "block.bn1.running_mean": (c,),
            "block.bn1.running_var": (c,),
            "block.conv2.weight": (slice(None), c),
        },
    )
    assert rk.diagnose(model, x).dead_units()["block.relu"] == []


def test_cbp_strict_refuses_residual_and_bad_arguments():
    import relukit as rk

    torch.manual_seed(0)
    model = TinyResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    cbp = rk.ContinualBackprop(model, opt)
    assert cbp.step() == {}  # nothing seen yet
    model(torch.randn(2, 1, 5, 5))
    with pytest.raises(ValueError, match=r"cannot replace units of site 'stem.2'.*strict=False"):
        cbp.step()
    cbp.close()
    with pytest.raises(RuntimeError, match="closed"):
        cbp.step()
    loose = rk.ContinualBackprop(model, opt, strict=False)
    model(torch.randn(2, 1, 5, 5))
    assert loose.step() == {}
    assert set(loose.skipped) == {"stem.2", "block.relu[1]"} and loose.n_replaced == {
        "block.relu": 0
    }
    loose.close()
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        rk.ContinualBackprop("model", opt)
    with pytest.raises(TypeError, match="optimizer must be"):
        rk.ContinualBackprop(model, "adam")
    for kw, msg in (
        ({"replacement_rate": 1.5}, "replacement_rate must be in"),
        ({"replacement_rate": float("nan")}, "replacement_rate must be in"),
        ({"maturity_threshold": -1}, "maturity_threshold must be an int"),
        ({"maturity_threshold": 1.5}, "maturity_threshold must be an int"),
        ({"decay": 1.0}, "decay must be in"),
    ):
        with pytest.raises(ValueError, match=msg):
            rk.ContinualBackprop(model, opt, **kw)
    assert not any(m._forward_hooks for m in model.modules())
    eval_first = rk.ContinualBackprop(nn.Sequential(nn.Linear(2, 2), nn.ReLU()).eval())
    eval_first.model(torch.randn(1, 2))
    with pytest.raises(RuntimeError, match="no activation site was seen"):
        eval_first.step()
    eval_first.close()


def test_cbp_deterministic_for_a_seed():
    import relukit as rk

    def run():
        torch.manual_seed(7)
        model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        with rk.ContinualBackprop(model, opt, replacement_rate=0.05, maturity_threshold=3) as c:
            reps = _train(model, opt, c, torch.randn(32, 3), torch.randn(32, 1), 12)
        return reps, [p.detach().clone() for p in model.parameters()]

    (r1, p1), (r2, p2) = run(), run()
    n = sum(len(v) for r in r1 for v in r.values())
    assert r1 == r2 and 5 <= n <= 7  # at most 0.8 per step over 9 mature steps
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))
