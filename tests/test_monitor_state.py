"""DeadUnitMonitor and diagnose keep O(units) state, whatever the batch and image size.

The state is measured independently of the accumulator code: every tensor reachable
from the monitor object (models and modules excluded) is found by walking the object
graph, and its bytes are summed.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
rk = pytest.importorskip("relukit")

pytestmark = pytest.mark.torch


def reachable_tensor_bytes(root: object) -> int:
    """Bytes of the distinct storages reachable from ``root`` (nn.Modules skipped)."""
    seen_obj: set[int] = set()
    storages: dict[int, int] = {}
    stack = [root]
    while stack:
        o = stack.pop()
        if id(o) in seen_obj or isinstance(o, (nn.Module, type, str, bytes, int, float)):
            continue
        seen_obj.add(id(o))
        if isinstance(o, torch.Tensor):
            s = o.untyped_storage()
            storages[s.data_ptr()] = s.nbytes()
            continue
        if isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        else:
            stack.extend(getattr(o, "__dict__", {}).values())
            for slot in getattr(type(o), "__slots__", ()):
                if hasattr(o, slot):
                    stack.append(getattr(o, slot))
    return sum(storages.values())


def cnn(act=nn.ReLU):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), act(),
        nn.Conv2d(8, 16, 3, padding=1), act(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4), act(),
    )  # fmt: skip


def monitor_state(act, batch, size, functional, fast, steps=3):
    model = cnn(act)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with rk.DeadUnitMonitor(model, every=100, functional=functional, fast=fast) as mon:
        for _ in range(steps):
            loss = model(torch.randn(batch, 3, size, size)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return reachable_tensor_bytes(mon)


@pytest.mark.parametrize("functional", [False, True])
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("act", [nn.ReLU, nn.LeakyReLU, nn.ELU])
def test_monitor_state_does_not_grow_with_batch_or_image_size(act, fast, functional):
    small = monitor_state(act, batch=2, size=8, functional=functional, fast=fast)
    big = monitor_state(act, batch=32, size=32, functional=functional, fast=fast)
    assert small == big
    # per unit (8 + 16 + 4 units): a few float32/float64 running values, never a batch
    assert 0 < big <= 3 * 8 * (8 + 16 + 4)
    # one activation of the big batch alone would be 32 * 8 * 32 * 32 * 4 bytes
    assert big < 32 * 8 * 32 * 32 * 4 / 1000


def test_monitor_counts_unchanged_by_the_per_step_reduction():
    # the dead fraction of a planted dead channel is found over a window of steps
    model = cnn()
    with torch.no_grad():
        model[3].weight[5] = 0.0
        model[3].bias[5] = -1.0  # channel 5 of the second conv never fires
    with rk.DeadUnitMonitor(model, every=2) as mon:
        for _ in range(4):
            model(torch.randn(4, 3, 16, 16))
    site = mon.records[-1]["sites"]["4"]
    assert site["n_units"] == 16
    assert site["dead_fraction"] >= 1 / 16


def test_diagnose_state_does_not_grow_with_the_data():
    from relukit.diagnose import _core

    sizes = []
    orig = _core._Session.close

    def close(self):
        sizes.append(reachable_tensor_bytes(self.sites))
        orig(self)

    _core._Session.close = close
    try:
        for n in (8, 256):
            rk.diagnose(cnn(), torch.randn(n, 3, 16, 16), batch_size=8)
    finally:
        _core._Session.close = orig
    assert sizes[0] == sizes[1] > 0
