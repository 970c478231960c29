"""The NaN rule: NaN in gives the input's NaN out, its sign and payload kept, quiet bit set.

For values, derivatives (with and without ``at_kink``), both at once, backward
(``grad_out * derivative``, with a finite ``grad_out`` and with a NaN one: the input's
NaN comes back whatever ``grad_out`` is) and backward from the output, for
every entry and parameter set, float16, float32 and float64, on every path: the numba
kernels, the NumPy formulas (the fallback: ``_kernels.switched(enabled=False)``), Python
floats, and the Array API path (torch CPU tensors through ``rk.<entry>``). The expected
bits are computed here from the input's bits (``bits | quiet bit``), independently of
relukit. A NaN never comes out of a number: ±inf give limits (see test_family.py).

The gated entries (``f(gate) * up``, two inputs) follow the same rule with the gate
first: the value and ``d/d gate = f'(gate) * up`` give the gate's NaN where the gate is
NaN (up a NaN too or not), else up's NaN where up is NaN; ``d/d up = f(gate)`` gives
the gate's NaN and does not depend on up (a NaN up leaves it a number). Their own
tests below: both calling forms, the gated backward kernel, Python floats, torch
tensors. (A NaN from numbers is possible there, by design: ``inf * 0``, test_gated.py;
the numbers here avoid it.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import relukit as rk
from _cases import CASES, GATED, GATED_IDS, IDS
from _values import DTYPES, NAN_BITS, QUIET, UINT, bits, float_bits, nans, quieted
from relukit import _dispatch, _kernels
from relukit._dispatch import backward

PATHS = ["kernels", "numpy formulas"]


@pytest.fixture(autouse=True)
def fresh_plans():
    _dispatch._CALLS.clear()
    yield
    _dispatch._CALLS.clear()


def mixed(dtype) -> tuple[np.ndarray, np.ndarray]:
    """NaNs with payloads among numbers (and ±inf, ±0), and where the NaNs are."""
    n = nans(dtype)
    fi = np.finfo(dtype)
    numbers = np.array(
        [0.0, -0.0, np.inf, -np.inf, 1.0, -1.0, -3.0, 6.0, float(fi.smallest_subnormal), -0.75],
        dtype=dtype,
    )
    x = np.empty(n.size + numbers.size, dtype)
    where = np.zeros(x.size, bool)
    where[::2][: n.size] = True
    x[where] = n
    x[~where] = numbers[: (~where).sum()]
    x = np.tile(x, 30)  # 500+ elements: the kernels' loops, not only their tails
    return x, np.tile(where, 30)


def uses_output(act, p: dict) -> bool:
    m, args = act.math.resolve(act.bind((), p))
    return m.can_use_output(args)


def results(act, p: dict, x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """kind -> (the input whose NaNs must come back, the result)."""
    g = np.linspace(-2.5, 3.5, x.size).astype(x.dtype)  # finite, both signs, no zero
    g[g == 0] = 1.0
    out = {
        "value": (x, act(x, **p)),
        "derivative": (x, act.derivative(x, **p)),
        "derivative at_kink": (x, act.derivative(x, **p, at_kink=0.25)),
        "both value": (x, act.value_and_derivative(x, **p)[0]),
        "both derivative": (x, act.value_and_derivative(x, **p, at_kink=1.0)[1]),
        "backward": (x, backward(act, x, g, p)),
        "backward at_kink": (x, backward(act, x, g, p, at_kink=2.0)),
    }
    # grad_out NaN too where x is NaN (other payloads): x's NaN comes back, whatever
    # grad_out is (a product of two NaNs alone could give either)
    gn = g.copy()
    gn[x != x] = np.resize(nans(x.dtype)[::-1], int((x != x).sum()))
    out["backward, grad_out NaN"] = (x, backward(act, x, gn, p))
    out["backward at_kink, grad_out NaN"] = (x, backward(act, x, gn, p, at_kink=2.0))
    if uses_output(act, p):
        out["backward from the output"] = (x, backward(act, x, g, p, from_output=True))
        out["backward from the output, grad_out NaN"] = (
            x,
            backward(act, x, gn, p, from_output=True),
        )
    return out


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f16", "f32", "f64"])
@pytest.mark.parametrize("name,p", CASES, ids=IDS)
def test_nan_in_gives_the_same_nan_out(name, p, dtype, path):
    act = rk.get(name)
    x, is_nan = mixed(dtype)
    before = bits(x).copy()
    with _kernels.switched(enabled=path == "kernels"), np.errstate(all="raise"):
        # (errstate: a signalling NaN must not raise FloatingPointError nor warn)
        got = results(act, p, x)
    for kind, (src, r) in got.items():
        assert r.dtype == x.dtype and r.shape == x.shape, kind
        want = bits(quieted(src[is_nan]))
        have = bits(r[is_nan])
        bad = have != want
        assert not bad.any(), (
            f"{kind}: NaN 0x{int(bits(src[is_nan][bad][0])):x} gave 0x{int(have[bad][0]):x}, "
            f"want 0x{int(want[bad][0]):x}"
        )
        assert not np.isnan(r[~is_nan]).any(), f"{kind}: a NaN out of a number"
    assert np.array_equal(bits(x), before)  # the input is left alone


@pytest.mark.parametrize("name,p", CASES, ids=IDS)
def test_python_float_nans(name, p):
    act = rk.get(name)
    for b in NAN_BITS[8]:
        v = float(np.array([b], np.uint64).view(np.float64)[0])
        want = b | QUIET[8]
        for path in PATHS:
            with _kernels.switched(enabled=path == "kernels"):
                vd = act.value_and_derivative(v, **p)
                for kind, r in (
                    ("value", act(v, **p)),
                    ("derivative", act.derivative(v, **p)),
                    ("derivative at_kink", act.derivative(v, **p, at_kink=0.5)),
                    ("both value", vd[0]),
                    ("both derivative", vd[1]),
                ):
                    assert type(r) is float and float_bits(r) == want, (path, kind, hex(b))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name,p", CASES, ids=IDS)
def test_torch_tensors_through_the_array_api(name, p, dtype):
    import torch

    act = rk.get(name)
    x, is_nan = mixed(getattr(np, dtype))
    t = torch.from_numpy(x.copy())
    got = {
        "value": act(t, **p),
        "derivative": act.derivative(t, **p),
        "derivative at_kink": act.derivative(t, **p, at_kink=0.25),
        "both value": act.value_and_derivative(t, **p)[0],
        "both derivative": act.value_and_derivative(t, **p)[1],
    }
    for kind, r in got.items():
        assert isinstance(r, torch.Tensor) and r.dtype == t.dtype, kind
        r = r.numpy()
        want = bits(quieted(x[is_nan]))
        have = bits(r[is_nan])
        bad = have != want
        assert not bad.any(), (
            f"{kind}: NaN 0x{int(bits(x[is_nan][bad][0])):x} gave 0x{int(have[bad][0]):x}, "
            f"want 0x{int(want[bad][0]):x}"
        )
        assert not np.isnan(r[~is_nan]).any(), kind


# ---------------------------------------------------------------------------
# gated entries: NaN in the gate or in up; the gate's NaN first
# ---------------------------------------------------------------------------


def gated_mixed(dtype) -> tuple[np.ndarray, np.ndarray]:
    """(gate, up): a NaN gate with a number up, a number gate with a NaN up, two
    different NaNs, and numbers (±0, ±inf and a subnormal among the gates; finite
    nonzero ups, so that no ``inf * 0`` makes a NaN of numbers)."""
    n = nans(dtype)
    fi = np.finfo(dtype)
    gates = np.array(
        [0.0, -0.0, np.inf, -np.inf, 1.0, -1.0, -3.0, 6.0, float(fi.smallest_subnormal), -0.75],
        dtype=dtype,
    )
    ups = np.array([2.0, -0.5, 3.0, -1.5, 0.25, 7.0, -2.0, 1.0, 4.0, -3.0], dtype=dtype)
    k = n.size
    g = np.concatenate([n, gates[:k], n, gates, gates])
    u = np.concatenate([ups[:k], n, np.roll(n, 1), ups, np.roll(ups, 3)])
    return np.tile(g, 20), np.tile(u, 20)  # 600+ elements: the kernels' loops too


def gated_want(g: np.ndarray, u: np.ndarray, with_up: bool) -> tuple[np.ndarray, np.ndarray]:
    """(where the result must be a NaN, its bits there): the gate's NaN quieted, else (for
    ``with_up``: the value and d/d gate) up's; independent of relukit."""
    gn, un = np.isnan(g), np.isnan(u)
    where = gn | un if with_up else gn
    src = np.where(gn, g, u)
    return where, bits(quieted(src[where]))


def check_gated(kind: str, r: np.ndarray, g: np.ndarray, u: np.ndarray, with_up: bool) -> None:
    assert r.dtype == g.dtype and r.shape == g.shape, kind
    where, want = gated_want(g, u, with_up)
    have = bits(r[where])
    bad = have != want
    assert not bad.any(), (
        f"{kind}: gate 0x{int(bits(g[where][bad][0])):x}, up 0x{int(bits(u[where][bad][0])):x} "
        f"gave 0x{int(have[bad][0]):x}, want 0x{int(want[bad][0]):x}"
    )
    assert not np.isnan(r[~where]).any(), f"{kind}: a NaN out of numbers"


def gated_results(act, p: dict, g: np.ndarray, u: np.ndarray, path: str) -> dict:
    """kind -> (the result, whether up's NaN comes through): both calling forms."""
    v, (dg, du) = act.value_and_derivative(g, u, **p, at_kink=1.0)
    d = act.derivative(g, u, **p)
    dk = act.derivative(g, u, **p, at_kink=0.25)
    x = np.stack([u, g], axis=-1)  # the split form: [up | gate] along dim=-1
    xs = act(x, **p)
    ds = act.derivative(x, **p, dim=1)
    out = {
        "value": (act(g, u, **p), True),
        "d/d gate": (d[0], True),
        "d/d up": (d[1], False),
        "d/d gate at_kink": (dk[0], True),
        "d/d up at_kink": (dk[1], False),
        "both value": (v, True),
        "both d/d gate": (dg, True),
        "both d/d up": (du, False),
        "split value": (xs[:, 0], True),
        "split d/d up": (ds[:, 0], False),
        "split d/d gate": (ds[:, 1], True),
    }
    if path == "kernels":
        # the gated backward kernel (relukit.torch's on CPU tensors; the NumPy API has no
        # gated backward): grad_out times each derivative, in one pass
        grad = np.linspace(-2.5, 3.5, g.size).astype(g.dtype)
        grad[grad == 0] = 1.0
        # and grad_out NaN (other payloads) where the gate or up is: the inputs' NaN
        # comes back whatever grad_out is
        gn = grad.copy()
        where = (g != g) | (u != u)
        gn[where] = np.resize(nans(g.dtype)[::-1], int(where.sum()))
        for at_kink in (None, 2.0):
            plan = _kernels.plan(act, "backward", g.dtype, act.bind((), p), at_kink)
            for label, gr in (("", grad), (", grad_out NaN", gn)):
                ga, gb = plan.run_gated(g, u, (None, None), gr)
                out[f"backward d/d gate at_kink={at_kink}{label}"] = (ga, True)
                if not label:  # (d/d up: f(gate) g, a NaN from g where up alone is NaN)
                    out[f"backward d/d up at_kink={at_kink}"] = (gb, False)
                else:
                    nan_gate = g != g
                    assert np.array_equal(bits(gb[nan_gate]), bits(quieted(g[nan_gate])))
    return out


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f16", "f32", "f64"])
@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_gated_nan_in_gives_the_same_nan_out(name, p, dtype, path):
    act = rk.get(name)
    g, u = gated_mixed(dtype)
    before = (bits(g).copy(), bits(u).copy())
    with _kernels.switched(enabled=path == "kernels"), np.errstate(all="raise"):
        # (errstate: a signalling NaN must not raise FloatingPointError nor warn)
        got = gated_results(act, p, g, u, path)
    for kind, (r, with_up) in got.items():
        check_gated(kind, r, g, u, with_up)
    assert np.array_equal(bits(g), before[0]) and np.array_equal(bits(u), before[1])


@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_gated_python_float_nans(name, p):
    act = rk.get(name)
    nan_bits = NAN_BITS[8]
    for i, b in enumerate(nan_bits):
        v = float(np.array([b], np.uint64).view(np.float64)[0])
        other = nan_bits[(i + 1) % len(nan_bits)]
        w = float(np.array([other], np.uint64).view(np.float64)[0])
        gate_nan, up_nan = b | QUIET[8], other | QUIET[8]
        for path in PATHS:
            with _kernels.switched(enabled=path == "kernels"):
                # (gate, up) -> the NaN of the value and d/d gate, of d/d up (None: a number)
                for gate, up, want, want_du in (
                    (v, 2.0, gate_nan, gate_nan),
                    (-1.5, w, up_nan, None),
                    (v, w, gate_nan, gate_nan),
                ):
                    value = act(gate, up, **p)
                    dg, du = act.derivative(gate, up, **p)
                    dgk, duk = act.derivative(gate, up, **p, at_kink=0.5)
                    bv, (bdg, bdu) = act.value_and_derivative(gate, up, **p)
                    where = (path, hex(b), gate, up)
                    for r in (value, dg, dgk, bv, bdg):
                        assert type(r) is float and float_bits(r) == want, where
                    for r in (du, duk, bdu):
                        assert type(r) is float, where
                        if want_du is None:
                            assert not math.isnan(r), where
                        else:
                            assert float_bits(r) == want_du, where


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_gated_torch_tensors_through_the_array_api(name, p, dtype):
    import torch

    act = rk.get(name)
    g, u = gated_mixed(getattr(np, dtype))
    tg, tu = torch.from_numpy(g.copy()), torch.from_numpy(u.copy())
    v, (dg, du) = act.value_and_derivative(tg, tu, **p)
    d = act.derivative(tg, tu, **p, at_kink=0.25)
    got = {
        "value": (act(tg, tu, **p), True),
        "d/d gate at_kink": (d[0], True),
        "d/d up at_kink": (d[1], False),
        "both value": (v, True),
        "both d/d gate": (dg, True),
        "both d/d up": (du, False),
    }
    for kind, (r, with_up) in got.items():
        assert isinstance(r, torch.Tensor) and r.dtype == tg.dtype, kind
        check_gated(kind, r.numpy(), g, u, with_up)


def test_quieted_helper():
    # the oracle: the same bits with the quiet bit set, NaN stays NaN, sign kept
    for dtype in DTYPES:
        n = nans(dtype)
        q = quieted(n)
        size = np.dtype(dtype).itemsize
        assert np.all(np.isnan(q)) and np.array_equal(np.signbit(q), np.signbit(n))
        assert np.all(q.view(UINT[size]) & UINT[size](QUIET[size]))
        assert np.array_equal(q.view(UINT[size]) & ~UINT[size](QUIET[size]),
                              n.view(UINT[size]) & ~UINT[size](QUIET[size]))  # fmt: skip
    assert math.isnan(float(quieted(nans(np.float64))[2]))


#: bfloat16 NaNs: quiet and signalling (payload in the low bits), both signs
BF16_NANS = [0x7FC0, 0xFFC0, 0x7F81, 0xFF85, 0x7FFF]


@pytest.mark.torch
@pytest.mark.parametrize("name", ["relu", "gelu", "elu", "leaky_relu", "swiglu"])
def test_relukit_torch_bfloat16_keeps_the_nans_sign_and_payload(name):
    # bfloat16 is computed in float32 and rounded once; torch's float32 -> bfloat16 cast
    # turns every NaN into 0xffff, so relukit puts the input's NaN (quieted) back
    torch = pytest.importorskip("torch")
    import relukit.torch as rt

    raw = torch.tensor([b - (1 << 16) if b >= 1 << 15 else b for b in BF16_NANS], dtype=torch.int16)
    x = torch.cat([raw.view(torch.bfloat16), torch.tensor([1.0, -2.0], dtype=torch.bfloat16)])
    want = [(b | 0x0040) for b in BF16_NANS]  # the quiet bit of bfloat16
    xr = x.clone().requires_grad_()
    fn = getattr(rt, name)
    # (the gated entry: x as the gate, a separate up: the gradient of a tensor used twice
    # is summed by torch's autograd, in bfloat16, whose NaN is torch's own)
    y = fn(xr, torch.ones_like(x)) if name == "swiglu" else fn(xr)
    y.backward(torch.ones_like(y))

    def top(t):
        return [v & 0xFFFF for v in t.detach().view(torch.int16)[: len(BF16_NANS)].tolist()]

    assert top(y) == want
    assert top(xr.grad) == want
    assert not y.detach()[len(BF16_NANS) :].isnan().any()
