"""relukit.torch.convert keeps a module's hooks: every kind ``nn.Module`` has, their
flags, and the handles taken before the conversion (``handle.remove()`` still removes).

Oracle: torch's own hook machinery on the unconverted module: a hook registered there
fires once per forward/backward/state-dict call, with the module it is registered on,
and not at all once its handle is removed. The converted module (relukit's ``ReLU`` or
``PReLU``, or a :class:`~relukit.torch.GatedMLP` for a Hugging Face-style block) must
behave the same, with itself as that module. Also: ``convert(..., bits=)`` names the
gated units (no few-bit backward) in its one warning.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import relukit.torch as rt  # noqa: E402
from relukit.torch import _mlp  # noqa: E402
from relukit.torch._mlp import GatedMLP  # noqa: E402

pytestmark = pytest.mark.torch


class HFStyleMLP(nn.Module):
    """The layout of transformers' LlamaMLP, written out."""

    def __init__(self, act: nn.Module, d: int = 8, hidden: int = 12):
        super().__init__()
        self.gate_proj = nn.Linear(d, hidden, bias=False)
        self.up_proj = nn.Linear(d, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d, bias=False)
        self.act_fn = act

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


Rec = Callable[[Any], None]

#: hook kind -> register a hook that records the module it is called with
KINDS: dict[str, Callable[[Any, Rec], Any]] = {
    "forward": lambda m, rec: m.register_forward_hook(lambda mod, args, out: rec(mod)),
    "forward with_kwargs": lambda m, rec: m.register_forward_hook(
        lambda mod, args, kwargs, out: rec(mod), with_kwargs=True
    ),
    "forward always_call": lambda m, rec: m.register_forward_hook(
        lambda mod, args, out: rec(mod), always_call=True
    ),
    "forward pre": lambda m, rec: m.register_forward_pre_hook(lambda mod, args: rec(mod)),
    "forward pre with_kwargs": lambda m, rec: m.register_forward_pre_hook(
        lambda mod, args, kwargs: rec(mod), with_kwargs=True
    ),
    "full backward": lambda m, rec: m.register_full_backward_hook(lambda mod, gin, gout: rec(mod)),
    "full backward pre": lambda m, rec: m.register_full_backward_pre_hook(
        lambda mod, gout: rec(mod)
    ),
    "legacy backward": lambda m, rec: m.register_backward_hook(lambda mod, gin, gout: rec(mod)),
    "state_dict pre": lambda m, rec: m.register_state_dict_pre_hook(lambda mod, *a: rec(mod)),
    "state_dict post": lambda m, rec: m.register_state_dict_post_hook(lambda mod, *a: rec(mod)),
    "load_state_dict pre": lambda m, rec: m.register_load_state_dict_pre_hook(
        lambda mod, *a: rec(mod)
    ),
    "load_state_dict post": lambda m, rec: m.register_load_state_dict_post_hook(
        lambda mod, keys: rec(mod)
    ),
}

#: model in which ``model[0]`` is converted -> the class it becomes
MODELS: dict[str, Callable[[], Any]] = {
    "ReLU": lambda: nn.Sequential(nn.ReLU()),
    "PReLU": lambda: nn.Sequential(nn.PReLU()),
    "gated MLP": lambda: nn.Sequential(HFStyleMLP(nn.SiLU())),
}
BECOMES = {"ReLU": rt.ReLU, "PReLU": rt.PReLU, "gated MLP": GatedMLP}


def exercise(model: Any) -> None:
    """One forward, backward, ``state_dict`` and ``load_state_dict``."""
    x = torch.randn(2, 8, requires_grad=True)
    with warnings.catch_warnings():  # legacy backward hook on a multi-node forward
        warnings.simplefilter("ignore")
        model(x).sum().backward()
    model.load_state_dict(model.state_dict())


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("model_name", list(MODELS))
def test_hooks_fire_after_convert_with_the_new_module(model_name, kind):
    model = MODELS[model_name]()
    seen: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # register_backward_hook's deprecation, if any
        KINDS[kind](model[0], seen.append)
    exercise(model)  # the oracle: torch's own module
    assert len(seen) == 1 and seen[0] is model[0]

    seen.clear()
    rt.convert(model)
    assert type(model[0]) is BECOMES[model_name]
    gc.collect()  # the old module is gone: hooks must not hold on to it
    exercise(model)
    assert len(seen) == 1, f"{kind} hook fired {len(seen)} times after convert"
    assert seen[0] is model[0]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("model_name", list(MODELS))
def test_a_handle_taken_before_convert_removes_the_hook(model_name, kind):
    model = MODELS[model_name]()
    seen: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        handle = KINDS[kind](model[0], seen.append)
    rt.convert(model)
    assert type(model[0]) is BECOMES[model_name]
    handle.remove()
    exercise(model)
    assert seen == []


def test_the_reported_cases():
    calls = []
    net = nn.Sequential(nn.ReLU())
    h = net[0].register_forward_hook(lambda *a: calls.append(1))
    rt.convert(net)
    h.remove()
    net(torch.ones(1))
    assert calls == []

    m = nn.Sequential(HFStyleMLP(nn.SiLU()))
    m[0].register_forward_hook(lambda mod, args, kwargs, out: calls.append(2), with_kwargs=True)
    m[0].register_full_backward_hook(lambda *a: calls.append(3))
    rt.convert(m)
    m(torch.randn(2, 8, requires_grad=True)).sum().backward()
    assert calls == [2, 3]


def test_hooks_registered_on_the_old_module_after_convert_reach_the_new_one():
    model = nn.Sequential(HFStyleMLP(nn.SiLU()))
    old = model[0]
    rt.convert(model)
    seen: list[Any] = []
    old.register_forward_hook(lambda mod, args, out: seen.append(mod))
    model(torch.randn(2, 8))
    assert seen == [model[0]]


def test_a_hook_removed_before_convert_stays_removed():
    model = nn.Sequential(nn.ReLU(), HFStyleMLP(nn.GELU()))
    seen: list[Any] = []
    handles = [m.register_forward_hook(lambda *a: seen.append(1)) for m in model]
    for h in handles:
        h.remove()
    rt.convert(model)
    model(torch.randn(2, 8))
    assert seen == []


def test_share_hooks_skips_containers_this_torch_lacks():
    old, new = nn.ReLU(), nn.ReLU()
    del old.__dict__["_forward_hooks_always_called"]  # as a torch without always_call
    mine = new._forward_hooks_always_called
    _mlp.share_hooks(new, old)
    assert new._forward_hooks_always_called is mine
    for name in _mlp.HOOKS:
        if name != "_forward_hooks_always_called":
            assert getattr(new, name) is getattr(old, name), name


def test_share_hooks_takes_a_newer_torchs_hook_dicts():
    old, new = nn.ReLU(), nn.ReLU()
    old.__dict__["_some_future_hooks"] = {}
    _mlp.share_hooks(new, old)
    assert new.__dict__["_some_future_hooks"] is old.__dict__["_some_future_hooks"]


def test_share_hooks_copies_the_backward_hook_flag():
    old, new = nn.ReLU(), nn.ReLU()
    old.register_full_backward_hook(lambda *a: None)
    _mlp.share_hooks(new, old)
    assert new._is_full_backward_hook is True
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks"):
        new.register_backward_hook(lambda *a: None)


# ---------------------------------------------------------------------------
# bits: gated units have no few-bit backward, so the warning names them
# ---------------------------------------------------------------------------


def _converted_with_bits(model: Any, bits: int = 2) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = rt.convert(model, bits=bits)
    return out, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_bits_names_the_gated_units_in_the_one_warning():
    model, msgs = _converted_with_bits(nn.Sequential(HFStyleMLP(nn.SiLU()), nn.GELU()))
    assert isinstance(model[0], GatedMLP) and model[1].bits == 2
    assert len(msgs) == 1
    assert msgs[0].startswith("relukit.torch.convert: bits=2 applies to GELU, SiLU")
    assert msgs[0].endswith("these keep their exact backward: '0.act_fn' (SwiGLU)")


def test_bits_names_gated_and_plain_modules_together():
    model = nn.Sequential(HFStyleMLP(nn.ReLU()), nn.ReLU(), HFStyleMLP(nn.GELU()))
    model, msgs = _converted_with_bits(model, bits=3)
    assert len(msgs) == 1 and "bits=3" in msgs[0]
    for part in ("'0.act_fn' (ReGLU)", "'2.act_fn' (GeGLU)", "'1' (ReLU)"):
        assert part in msgs[0], part


def test_bits_names_every_place_of_a_shared_block():
    block = HFStyleMLP(nn.SiLU())
    model, msgs = _converted_with_bits(nn.Sequential(block, nn.Linear(8, 8), block))
    assert model[0] is model[2]
    assert len(msgs) == 1
    assert msgs[0].endswith("'0.act_fn' and '2.act_fn' (SwiGLU)")


def test_bits_names_the_unit_of_a_block_converted_itself():
    model, msgs = _converted_with_bits(HFStyleMLP(nn.SiLU()))
    assert isinstance(model, GatedMLP)
    assert len(msgs) == 1 and msgs[0].endswith("'act_fn' (SwiGLU)")


def test_no_bits_no_warning_for_gated_blocks():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = rt.convert(nn.Sequential(HFStyleMLP(nn.SiLU()), nn.GELU()))
    assert isinstance(model[0], GatedMLP)


def test_bits_on_a_model_without_gated_blocks_or_exact_modules_warns_not():
    model, msgs = _converted_with_bits(nn.Sequential(nn.Linear(8, 8), nn.SiLU()))
    assert msgs == [] and model[1].bits == 2
