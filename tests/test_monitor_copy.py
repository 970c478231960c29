"""Copies of a monitored model (``copy.deepcopy``, ``AveragedModel``, pickling) are plain.

A copy made while :class:`relukit.DeadUnitMonitor` is attached (an EMA/SWA model built
inside the ``with`` block) must compute with its own parameters, must not be counted
into the monitor, must keep working after the monitor exits, and must pickle. The
oracle for the records is a second run of the same model on the same batches with no
copy at all.
"""

from __future__ import annotations

import copy
import io

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional
rk = pytest.importorskip("relukit")

pytestmark = pytest.mark.torch


class Functional(nn.Module):
    """Activation sites as functional calls (``F.relu`` in ``forward``): hooks stay on."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.b = nn.Linear(8, 3)

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.LeakyReLU(), nn.Linear(8, 3)
    )


MODELS = {"modules": mlp, "functional": Functional}


def batches(seed: int, n: int) -> list:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(5, 4, generator=g) for _ in range(n)]


def reference_records(make, fast):
    torch.manual_seed(0)
    model = make()
    with rk.DeadUnitMonitor(model, every=2, fast=fast) as mon:
        for x in batches(1, 6):
            model(x)
    return mon.records


def loaded(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("when", [0, 1, 3])  # forwards before the copy is made
def test_a_copy_made_inside_the_monitor_is_a_plain_model(kind, fast, when):
    make = MODELS[kind]
    torch.manual_seed(0)
    model = make()
    xs, others = batches(1, 6), batches(2, 20)
    with rk.DeadUnitMonitor(model, every=2, fast=fast) as mon:
        for x in xs[:when]:
            model(x)
        twin = copy.deepcopy(model)
        avg = torch.optim.swa_utils.AveragedModel(model)
        steps = mon.step_count
        for x in others[:5]:
            twin(x)
            avg(x)
        assert mon.step_count == steps, "the copies' forwards were counted"
        for x in xs[when:]:
            model(x)
            twin(others[5])
        # the copy computes with its own parameters, not the original's
        model.eval()  # (eval passes are not counted)
        with torch.no_grad():
            for p in twin.parameters():
                p.zero_()
            assert twin(xs[0]).abs().max() == 0
            assert model(xs[0]).abs().max() > 0
    assert mon.records == reference_records(make, fast)
    for x in others[6:14]:  # after the monitor's exit
        twin(x)
        avg(x)
    with torch.no_grad():
        want = avg(others[0])
        assert torch.equal(loaded(avg)(others[0]), want)
        assert loaded(twin)(others[0]).abs().max() == 0
        assert torch.equal(loaded(model)(others[0]), model(others[0]))


def test_pickling_the_monitored_model_while_attached():
    torch.manual_seed(0)
    model = mlp()
    xs = batches(3, 4)
    with rk.DeadUnitMonitor(model, every=2) as mon:
        model(xs[0])  # the fast path is on from here
        saved = loaded(model)
        steps = mon.step_count
        with torch.no_grad():
            assert torch.equal(saved(xs[1]), model(xs[1]))
        assert mon.step_count == steps + 1  # the original's pass only
    with torch.no_grad():
        assert torch.equal(saved(xs[2]), model(xs[2]))
