"""relukit.torch.convert on gated feed-forward blocks: Hugging Face's tiny models and
blocks written the same way (children gate_proj, up_proj, down_proj, act_fn).

Oracles: the unpatched model itself (float64: the patched model's logits and gradients
must equal its own up to rounding), and torch's composite ``down(f(gate(x)) * up(x))``
written out here.
"""

from __future__ import annotations

import copy
import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import relukit.torch as rt  # noqa: E402
from relukit.torch._mlp import GatedMLP, gate_of  # noqa: E402

pytestmark = pytest.mark.torch


class HFStyleMLP(nn.Module):
    """The layout of transformers' LlamaMLP, written out."""

    def __init__(self, act: nn.Module, d: int = 8, hidden: int = 12, bias: bool = False):
        super().__init__()
        self.gate_proj = nn.Linear(d, hidden, bias=bias)
        self.up_proj = nn.Linear(d, hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, d, bias=bias)
        self.act_fn = act
        self.hidden_size = d

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


def saved_storage(fn, *args, params=()):
    """(output, bytes saved for backward by unique storage, ``params``' storage excluded)."""
    seen = {}
    skip = {p.untyped_storage().data_ptr() for p in params}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in skip:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(*args)
    return out, sum(seen.values())


ACTS = [
    (lambda: nn.SiLU(), "swiglu"),
    (lambda: nn.GELU(), "geglu"),
    (lambda: nn.GELU(approximate="tanh"), "geglu"),
    (lambda: nn.ReLU(), "reglu"),
    (lambda: nn.Sigmoid(), "glu"),
]


@pytest.mark.parametrize(("make", "entry"), ACTS, ids=[e + str(i) for i, (_, e) in enumerate(ACTS)])
def test_a_block_written_as_hugging_face_does_is_patched_and_equal(make, entry):
    torch.manual_seed(0)
    ref = HFStyleMLP(make(), bias=True).double()
    mine = rt.convert(copy.deepcopy(ref))
    assert isinstance(mine, GatedMLP)
    assert type(mine.act_fn) is rt.modules.MODULES[entry]
    assert mine.gate_proj is not ref.gate_proj  # (a deep copy was converted)
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert mine.hidden_size == 8  # other attributes are kept
    x = torch.randn(5, 3, 8, dtype=torch.float64, requires_grad=True)
    y0 = ref(x)
    y1 = mine(x)
    torch.testing.assert_close(y1, y0, rtol=1e-14, atol=1e-15)
    g0 = torch.autograd.grad(y0.square().sum(), [x, *ref.parameters()])
    g1 = torch.autograd.grad(y1.square().sum(), [x, *mine.parameters()])
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-13, atol=1e-14)


def test_the_patched_block_keeps_less_for_backward():
    # eager keeps x, gate(x), f(gate(x)), up(x) and the product; relukit recomputes f
    torch.manual_seed(0)
    d, hidden = 64, 176
    ref = HFStyleMLP(nn.SiLU(), d, hidden)
    mine = rt.convert(copy.deepcopy(ref))
    x = torch.randn(32, d, requires_grad=True)
    _, b_ref = saved_storage(ref, x, params=list(ref.parameters()))
    _, b_mine = saved_storage(mine, x, params=list(mine.parameters()))
    n, item = 32, 4
    assert b_ref == n * (d + 4 * hidden) * item
    assert b_mine == n * (d + 3 * hidden) * item
    assert b_mine <= 0.8 * b_ref


def test_gated_unit_alone_keeps_two_thirds_of_eager():
    a = torch.randn(64, 100, requires_grad=True)
    b = torch.randn(64, 100, requires_grad=True)
    _, eager = saved_storage(lambda a, b: F.silu(a) * b, a, b)
    _, mine = saved_storage(rt.modules.MODULES["swiglu"](), a, b)
    assert mine == 2 * a.numel() * 4 and mine <= 2 / 3 * eager


def test_reglu_takes_convert_at_kink():
    torch.manual_seed(0)
    m = rt.convert(HFStyleMLP(nn.ReLU()).double(), at_kink=1.0)
    assert m.act_fn.at_kink == 1.0
    g = torch.zeros(3, 12, dtype=torch.float64, requires_grad=True)  # every gate at the kink
    u = torch.full((3, 12), 2.0, dtype=torch.float64)
    (dg,) = torch.autograd.grad(m.act_fn(g, u).sum(), g)
    assert torch.equal(dg, torch.full_like(g, 2.0))  # at_kink * up


def test_blocks_relukit_cannot_compute_exactly_are_left_alone():
    class NewGELUActivation(nn.Module):  # transformers' tanh GELU written out
        def forward(self, x):
            return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))

    for act in (NewGELUActivation(), nn.Tanh(), nn.SiLU(inplace=True)):
        m = HFStyleMLP(act)
        assert rt.convert(m) is m
        assert type(m.act_fn) is type(act) or isinstance(m.act_fn, nn.SiLU)
    assert gate_of(nn.Tanh()) is None


def test_a_shared_block_stays_shared_and_hooks_follow():
    block = HFStyleMLP(nn.SiLU())
    calls = []
    block.register_forward_hook(lambda *a: calls.append(1))
    model = nn.Sequential(block, nn.Linear(8, 8), block)
    rt.convert(model)
    assert isinstance(model[0], GatedMLP) and model[0] is model[2]
    model(torch.randn(2, 8))
    assert len(calls) == 2


def test_convert_not_in_place_leaves_the_model():
    m = nn.Sequential(HFStyleMLP(nn.SiLU()))
    new = rt.convert(m, inplace=False)
    assert isinstance(new[0], GatedMLP) and isinstance(m[0], HFStyleMLP)


# ---------------------------------------------------------------------------
# tiny transformers models, randomly initialised from a config (no downloads)
# ---------------------------------------------------------------------------

CONFIG = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    head_dim=8,
)
MODELS = [
    ("LlamaConfig", "LlamaForCausalLM", "swiglu"),
    ("MistralConfig", "MistralForCausalLM", "swiglu"),
    ("Qwen2Config", "Qwen2ForCausalLM", "swiglu"),
    ("GemmaConfig", "GemmaForCausalLM", "geglu"),
]


@pytest.mark.transformers
@pytest.mark.slow
@pytest.mark.parametrize(("config", "model", "entry"), MODELS, ids=[m[1] for m in MODELS])
def test_tiny_transformers_model_patched_equals_unpatched(config, model, entry):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(transformers, model)(getattr(transformers, config)(**CONFIG)).double()
    mine = rt.convert(copy.deepcopy(ref))
    mlps = [layer.mlp for layer in mine.model.layers]
    assert all(isinstance(m, GatedMLP) for m in mlps)
    assert all(type(m.act_fn) is rt.modules.MODULES[entry] for m in mlps)
    if entry == "geglu":  # Gemma's gelu_pytorch_tanh
        assert all(m.act_fn.approximate == "tanh" for m in mlps)
    sd0, sd1 = ref.state_dict(), mine.state_dict()
    assert list(sd0) == list(sd1)
    assert all(torch.equal(sd0[k], sd1[k]) for k in sd0)
    ids = torch.randint(0, CONFIG["vocab_size"], (2, 16))
    y0, b0 = saved_storage(lambda i: ref(i).logits, ids)
    y1, b1 = saved_storage(lambda i: mine(i).logits, ids)
    torch.testing.assert_close(y1, y0, rtol=1e-13, atol=1e-13)
    assert b1 < b0
    y0.square().mean().backward()
    y1.square().mean().backward()
    p0, p1 = dict(ref.named_parameters()), dict(mine.named_parameters())
    for k in p0:
        torch.testing.assert_close(p1[k].grad, p0[k].grad, rtol=1e-11, atol=1e-13, msg=k)
