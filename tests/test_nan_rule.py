"""The NaN rule: NaN in gives the input's NaN out, its sign and payload kept, quiet bit set.

For values, derivatives (with and without ``at_kink``), both at once, backward
(``grad_out * derivative`` with a finite ``grad_out``) and backward from the output, for
every entry and parameter set, float16, float32 and float64, on every path: the numba
kernels, the NumPy formulas (the fallback: ``_kernels.switched(enabled=False)``), Python
floats, and the Array API path (torch CPU tensors through ``rk.<entry>``). The expected
bits are computed here from the input's bits (``bits | quiet bit``), independently of
relukit. A NaN never comes out of a number: ±inf give limits (see test_family.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import relukit as rk
from _values import DTYPES, NAN_BITS, QUIET, UINT, bits, float_bits, nans, quieted
from relukit import _dispatch, _kernels
from relukit._dispatch import backward
from test_family import PARAMS

CASES = [(name, p) for name, ps in PARAMS.items() for p in ps]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for n, p in CASES]
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
    if uses_output(act, p):
        out["backward from the output"] = (x, backward(act, x, g, p, from_output=True))
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
