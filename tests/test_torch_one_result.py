"""relukit.torch on CPU tensors gives the NumPy API's bits: one input, one result.

For every catalogue entry with every parameter set of ``_torch_ref.PARAMS`` (the
defaults and others), float16, float32 and float64, the value and the gradient of relukit.torch
on a CPU tensor are, bit for bit (signed zeros and NaN payloads included),

* value: ``rk.<entry>(t.numpy())``;
* gradient: ``rk.<entry>.derivative(t.numpy()) * g`` (NumPy's product, in the dtype),
  also with ``at_kink``;

in the functional form (``rt.<entry>``), the generic one (``rt.function(name)``) and the
module (``rt.<Module>``), on contiguous and strided tensors, with autograd recording and
without, in place where the entry has an in-place form. Gated entries: in the pair form
``(gate, up)`` (both gradients: ``.derivative``'s pair times ``g``) and the split form
(the second half is the gate; the gradient of the one tensor is ``.derivative`` of it).
StarReLU with learnable ``scale`` and ``bias``: the same bits for the value and the
input's gradient. The inputs are tests/_values.py's: ±0.0, ±inf, subnormals, the
extremes, every kink and its neighbours, NaNs of both signs with payloads (quiet and
signalling), random values. The gradients ``g`` hold ±0, ±inf and a NaN.

The NumPy API is pinned to independent oracles elsewhere (mpmath in test_accuracy.py,
the formulas in test_family.py); here relukit.torch is held to it. The NaN rule (NaN in,
NaN out, values and gradients) and the limits at ±inf are also checked on their own,
against values written from the mathematics (``_torch_ref.inf_limits``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
rt = pytest.importorskip("relukit.torch")
pytest.importorskip("numba")

import relukit as rk  # noqa: E402
from _torch_ref import (  # noqa: E402
    PARAMS,
    case_id,
    cases,
    inf_limits,
    np_grad,
    np_value,
    same_bits,
    where_bits_differ,
)
from _values import bits as nan_bits  # noqa: E402
from _values import gradient_for, inputs, nans, quieted  # noqa: E402
from relukit.torch.modules import MODULES  # noqa: E402

pytestmark = pytest.mark.torch

DTYPES = [torch.float16, torch.float32, torch.float64]
DTYPE_IDS = ["f16", "f32", "f64"]
ONE = [a.name for a in rk.catalogue() if not a.gated]
GATED = [a.name for a in rk.catalogue() if a.gated]
ONE_CASES = cases(ONE)
GATED_CASES = cases(GATED)
NUMPY = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def test_every_catalogue_entry_has_parameter_sets():
    assert {a.name for a in rk.catalogue()} == set(PARAMS)


def data(name, p, dtype, n_random=200):
    """The edge values of tests/_values.py (with the entry's kinks) and random ones."""
    act = rk.get(name)
    kink_params = {} if name == "prelu" else p
    x = torch.from_numpy(inputs(NUMPY[dtype], act, kink_params, n_random=n_random))
    g = torch.from_numpy(gradient_for(x.numpy()))
    return x, g


# ---------------------------------------------------------------------------
# the three forms of every one-argument entry
# ---------------------------------------------------------------------------


def _weight(p, dtype):
    return torch.tensor([p["weight"]], dtype=dtype)


def functional(name, p, dtype):
    """``rt.<name>`` with the parameters as torch.nn.functional takes them."""
    f = getattr(rt, name)
    if name == "prelu":
        w = _weight(p, dtype)
        return lambda t, **kw: f(t, w, **kw)
    return lambda t, **kw: f(t, **p, **kw)


def generic(name, p, dtype):
    f = rt.function(name)
    return lambda t, **kw: f(t, **p, **kw)


def module(name, p, dtype, **kw):
    cls = MODULES[name]
    if name == "prelu":
        m = cls(1, p["weight"], **kw).to(dtype)
        m.weight.requires_grad_(False)  # the input's gradient only
        return m
    if name == "star_relu":
        return cls(**p, learnable=False, **kw)
    m = cls(**p, **kw)
    return m.eval() if name == "rrelu" else m  # (rrelu: random slopes in training)


def check_value_and_grad(f, name, p, x, g, at_kink=None):
    """``f(x)``'s value and gradient are the NumPy API's bits (recording and not)."""
    want_y = np_value(name, x, **p)
    want_g = np_grad(name, x, g, at_kink=at_kink, **p)
    with torch.no_grad():
        y0 = f(x.clone())
    assert same_bits(y0, want_y), where_bits_differ(y0, want_y, x)
    xx = x.clone().requires_grad_()
    y = f(xx)
    assert same_bits(y.detach(), want_y), where_bits_differ(y.detach(), want_y, x)
    (gx,) = torch.autograd.grad(y, xx, g)
    assert same_bits(gx, want_g), where_bits_differ(gx, want_g, x)


FORMS = [
    (form, name, p)
    for form in ("functional", "generic", "module")
    for name, p in ONE_CASES
    if not (form == "generic" and name == "prelu")  # (a weight tensor: no generic form)
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("form", "name", "p"), FORMS, ids=[f"{f}-{case_id(n, p)}" for f, n, p in FORMS]
)
def test_value_and_gradient_are_the_numpy_apis_bits(form, name, p, dtype):
    x, g = data(name, p, dtype)
    make = {"functional": functional, "generic": generic, "module": module}[form]
    check_value_and_grad(make(name, p, dtype), name, p, x, g)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "p"), ONE_CASES, ids=[case_id(*c) for c in ONE_CASES])
def test_strided_tensors_give_the_same_bits(name, p, dtype):
    x, g = data(name, p, dtype, n_random=60)
    f = functional(name, p, dtype)
    want_y, want_g = np_value(name, x, **p), np_grad(name, x, g, **p)
    # every other element of a longer tensor, and a column of a 2-d one
    strided = torch.zeros(2 * len(x), dtype=dtype)[::2]
    column = torch.zeros(len(x), 3, dtype=dtype)[:, 1]
    for view in (strided, column):
        assert not view.is_contiguous()
        view.copy_(x)
        leaf = view.requires_grad_()
        y = f(leaf)
        assert same_bits(y.detach(), want_y), where_bits_differ(y.detach(), want_y, x)
        (gx,) = torch.autograd.grad(y, leaf, g)
        assert same_bits(gx, want_g), where_bits_differ(gx, want_g, x)


KINKED = [(n, p) for n, p in ONE_CASES if rk.get(n).kinks]


@pytest.mark.parametrize("at_kink", [0.5, -2.0, math.nan])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "p"), KINKED, ids=[case_id(*c) for c in KINKED])
def test_at_kink_gradient_is_the_numpy_apis(name, p, dtype, at_kink):
    x, g = data(name, p, dtype, n_random=40)
    f = functional(name, p, dtype)
    check_value_and_grad(lambda t: f(t, at_kink=at_kink), name, p, x, g, at_kink=at_kink)
    m = module(name, p, dtype, at_kink=at_kink)
    check_value_and_grad(m, name, p, x, g, at_kink=at_kink)


#: the entries with an in-place form (as torch's; prelu has none, rrelu's is torch's own)
INPLACE = [(n, p) for n, p in ONE_CASES if rt._core._INPLACE_OK[n] and n not in ("prelu", "rrelu")]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "p"), INPLACE, ids=[case_id(*c) for c in INPLACE])
def test_in_place_gives_the_same_bits(name, p, dtype):
    x, g = data(name, p, dtype, n_random=40)
    f = functional(name, p, dtype)
    want_y, want_g = np_value(name, x, **p), np_grad(name, x, g, **p)
    t = x.clone()
    with torch.no_grad():
        out = f(t, inplace=True)
    assert out is t and same_bits(t, want_y), where_bits_differ(t, want_y, x)
    leaf = x.clone().requires_grad_()
    a = leaf * 1
    y = f(a, inplace=True)
    assert y is a and same_bits(y.detach(), want_y)
    y.backward(g)
    assert same_bits(leaf.grad, want_g), where_bits_differ(leaf.grad, want_g, x)


# ---------------------------------------------------------------------------
# the NaN rule, the limits at ±inf, -0.0 (checked on their own)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "p"), ONE_CASES, ids=[case_id(*c) for c in ONE_CASES])
def test_nan_in_nan_out_values_and_gradients(name, p, dtype):
    # NaNs with payloads (quiet and signalling, both signs), and a gradient that is a NaN
    # of another payload there: the input's NaN, quieted, whatever the gradient is
    npdt = NUMPY[dtype]
    n = nans(npdt)
    x = torch.from_numpy(np.concatenate([n, np.array([1.0, -1.0, 0.0], npdt)]))
    g = torch.from_numpy(np.concatenate([n[::-1], np.array([2.0, 2.0, 2.0], npdt)]))
    f = functional(name, p, dtype)
    xx = x.clone().requires_grad_()
    y = f(xx)
    (gx,) = torch.autograd.grad(y, xx, g)
    want = nan_bits(quieted(n))
    k = n.size
    assert np.array_equal(nan_bits(y[:k].detach().numpy()), want), y
    assert np.array_equal(nan_bits(gx[:k].numpy()), want), gx
    assert not y[k:].isnan().any() and not gx[k:].isnan().any(), (y, gx)


LIMITED = [(n, p) for n, p in ONE_CASES if inf_limits(n, p) is not None]


def test_limits_are_written_for_every_entry():
    assert LIMITED == ONE_CASES


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "p"), LIMITED, ids=[case_id(*c) for c in LIMITED])
def test_infinities_give_the_limits(name, p, dtype):
    lim = inf_limits(name, p)
    x = torch.tensor([-math.inf, math.inf], dtype=dtype, requires_grad=True)
    y = functional(name, p, dtype)(x)
    (gx,) = torch.autograd.grad(y, x, torch.ones_like(x))
    got = (y[0].item(), gx[0].item(), y[1].item(), gx[1].item())
    rel = float(torch.finfo(dtype).eps)  # (the limit rounded to the dtype)
    assert got == pytest.approx(lim, rel=rel, abs=0), got  # never NaN, infinities exact


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_minus_zero(dtype):
    z = torch.tensor([-0.0], dtype=dtype)
    for name in ("relu", "relu6", "squared_relu"):  # a rectified output has no sign bit
        assert not torch.signbit(getattr(rt, name)(z)).any(), name
    for name in ("leaky_relu", "elu", "selu", "celu", "silu", "gelu", "mish", "hardswish"):
        assert torch.signbit(getattr(rt, name)(z)).all(), name  # x * (something > 0)
    assert torch.signbit(rt.hardtanh(z)).all()  # x itself (the identity branch)
    assert torch.signbit(rt.prelu(z, torch.tensor([0.25], dtype=dtype))).all()


# ---------------------------------------------------------------------------
# gated entries: pair and split forms
# ---------------------------------------------------------------------------


def gated_data(name, p, dtype):
    """Every pair of edge values (gate, up), some random ones, and a gradient."""
    v, _ = data(name, p, dtype, n_random=0)
    v = v[:: max(1, len(v) // 40)]  # 40 of them: 1600 pairs
    a = v.repeat_interleave(len(v))
    b = v.repeat(len(v))
    gen = torch.Generator().manual_seed(0)
    a = torch.cat([a, (torch.randn(300, generator=gen, dtype=torch.float64) * 4).to(dtype)])
    b = torch.cat([b, (torch.randn(300, generator=gen, dtype=torch.float64) * 4).to(dtype)])
    g = torch.from_numpy(gradient_for(a.numpy()))
    return a, b, g


def np_gated(name, p, a, b, g, at_kink=None):
    act = rk.get(name)
    # (float16: the NumPy API warns where f(a) * b overflows to inf)
    with np.errstate(all="ignore"):
        y = torch.from_numpy(np.asarray(act(a.numpy(), b.numpy(), **p)))
        da, db = act.derivative(a.numpy(), b.numpy(), at_kink=at_kink, **p)
        return y, torch.from_numpy(da * g.numpy()), torch.from_numpy(db * g.numpy())


def gated_forms(name, p):
    f = getattr(rt, name)
    m = MODULES[name](**p)
    return {
        "functional": lambda a, b: f(a, b, **p),
        "generic": lambda a, b: rt.function(name)(a, b, **p),
        "module": m,
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "p"), GATED_CASES, ids=[case_id(*c) for c in GATED_CASES])
@pytest.mark.parametrize("form", ["functional", "generic", "module"])
def test_gated_pair_form_is_the_numpy_apis_bits(form, name, p, dtype):
    a, b, g = gated_data(name, p, dtype)
    want_y, want_ga, want_gb = np_gated(name, p, a, b, g)
    f = gated_forms(name, p)[form]
    with torch.no_grad():
        y0 = f(a, b)
    assert same_bits(y0, want_y), where_bits_differ(y0, want_y, a)
    aa, bb = a.clone().requires_grad_(), b.clone().requires_grad_()
    y = f(aa, bb)
    assert same_bits(y.detach(), want_y), where_bits_differ(y.detach(), want_y, a)
    ga, gb = torch.autograd.grad(y, (aa, bb), g)
    assert same_bits(ga, want_ga), where_bits_differ(ga, want_ga, a)
    assert same_bits(gb, want_gb), where_bits_differ(gb, want_gb, a)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "p"), GATED_CASES, ids=[case_id(*c) for c in GATED_CASES])
@pytest.mark.parametrize("form", ["functional", "module"])
def test_gated_split_form_is_the_numpy_apis_bits(form, name, p, dtype):
    a, b, g = gated_data(name, p, dtype)
    x = torch.stack([b.reshape(-1, 2), a.reshape(-1, 2)], 1).reshape(-1, 4)  # (up | gate)
    gy = g.reshape(-1, 2)
    act = rk.get(name)
    with np.errstate(all="ignore"):
        want_y = torch.from_numpy(np.asarray(act(x.numpy(), **p)))
        d = np.asarray(act.derivative(x.numpy(), **p))
        want_g = torch.from_numpy(d * np.concatenate([gy.numpy(), gy.numpy()], axis=-1))
    f = MODULES[name](**p) if form == "module" else (lambda t: getattr(rt, name)(t, **p))
    xx = x.clone().requires_grad_()
    y = f(xx)
    assert same_bits(y.detach(), want_y), where_bits_differ(y.detach(), want_y)
    (gx,) = torch.autograd.grad(y, xx, gy)
    assert same_bits(gx, want_g), where_bits_differ(gx, want_g)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_reglu_at_kink_is_the_numpy_apis(dtype):
    a, b, g = gated_data("reglu", {}, dtype)
    for at_kink in (1.0, 0.5, math.nan):
        _, want_ga, want_gb = np_gated("reglu", {}, a, b, g, at_kink=at_kink)
        aa, bb = a.clone().requires_grad_(), b.clone().requires_grad_()
        ga, gb = torch.autograd.grad(rt.reglu(aa, bb, at_kink=at_kink), (aa, bb), g)
        assert same_bits(ga, want_ga) and same_bits(gb, want_gb), at_kink


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", GATED)
def test_gated_nan_rule(name, dtype):
    nan = math.nan
    a = torch.tensor([nan, 1.0, nan, 0.5, -2.0], dtype=dtype, requires_grad=True)
    b = torch.tensor([1.0, nan, nan, 2.0, 3.0], dtype=dtype, requires_grad=True)
    y = getattr(rt, name)(a, b)
    ga, gb = torch.autograd.grad(y, (a, b), torch.ones_like(y))
    assert y[:3].isnan().all() and not y[3:].isnan().any()
    assert ga[:3].isnan().all() and not ga[3:].isnan().any()
    # f(gate): NaN where the gate is NaN, finite where only up is
    assert gb[0].isnan() and gb[2].isnan() and not gb[1].isnan() and not gb[3:].isnan().any()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", GATED)
def test_gated_nan_gradients_keep_the_inputs_nan_whatever_the_gradient(name, dtype):
    # the gate's NaN, else up's (d/d gate); the gate's (d/d up), with payloads, where the
    # incoming gradient is a NaN of another payload
    npdt = NUMPY[dtype]
    n = nans(npdt)
    k = n.size
    one = np.ones(k, npdt)
    a = np.concatenate([n, one * 0.5])  # the gate NaN, then up NaN
    b = np.concatenate([one * 2.0, n[::-1]])
    g = np.concatenate([np.roll(n, 1), np.roll(n, 2)])
    ta = torch.from_numpy(a).requires_grad_()
    tb = torch.from_numpy(b).requires_grad_()
    ga, gb = torch.autograd.grad(getattr(rt, name)(ta, tb), (ta, tb), torch.from_numpy(g))
    assert np.array_equal(nan_bits(ga[:k].numpy()), nan_bits(quieted(n)))
    assert np.array_equal(nan_bits(ga[k:].numpy()), nan_bits(quieted(n[::-1])))
    assert np.array_equal(nan_bits(gb[:k].numpy()), nan_bits(quieted(n)))


# ---------------------------------------------------------------------------
# StarReLU with learnable scale and bias
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "p", PARAMS["star_relu"], ids=[case_id("star_relu", p) for p in PARAMS["star_relu"]]
)
def test_star_relu_learnable_is_the_numpy_apis_bits(p, dtype):
    x, g = data("star_relu", p, dtype)
    m = MODULES["star_relu"](**p).to(dtype)
    assert {n for n, _ in m.named_parameters()} == {"scale", "bias"}
    # the parameters as NumPy's values: float(scale), float(bias) of the module's dtype
    pn = {"scale": m.scale.item(), "bias": m.bias.item()}
    check_value_and_grad(m, "star_relu", pn, x, g)
    with torch.no_grad():
        assert same_bits(m(x), np_value("star_relu", x, **pn))


# ---------------------------------------------------------------------------
# bfloat16 (NumPy has none): the float32 result, rounded to bfloat16
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "p"), ONE_CASES, ids=[case_id(*c) for c in ONE_CASES])
def test_bfloat16_is_the_float32_result_rounded(name, p):
    x, g = data(name, p, torch.float32, n_random=60)
    xb, gb = x.bfloat16(), g.bfloat16()
    results = []
    for dtype, t, gt in ((torch.bfloat16, xb, gb), (torch.float32, xb.float(), gb.float())):
        f = functional(name, p, dtype)
        leaf = t.clone().requires_grad_()
        y = f(leaf)
        (gx,) = torch.autograd.grad(y, leaf, gt)
        results.append((y.detach(), gx))
    (y16, g16), (y32, g32) = results
    y32, g32 = _to_bfloat16(y32), _to_bfloat16(g32)
    assert same_bits(y16, y32), where_bits_differ(y16, y32, xb)
    assert same_bits(g16, g32), where_bits_differ(g16, g32, xb)


def _to_bfloat16(t: torch.Tensor) -> torch.Tensor:
    """``t`` (float32) rounded to bfloat16, a NaN with its sign and payload: its top 16
    bits (torch's cast gives 0xffff for every NaN)."""
    top = (t.view(torch.int32) >> 16).to(torch.int16).view(torch.bfloat16)
    return torch.where(t != t, top, t.bfloat16())
