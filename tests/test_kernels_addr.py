"""Kernels called by data addresses (relukit._kernels_addr, Plan.run_addr): run_flat's bits.

relukit.torch's lean call hands the kernels its tensors' data addresses instead of NumPy
arrays. The entries view the addresses as arrays inside numba and call the same serial
loops or their parallel versions, so their results must be run_flat's bit for bit
(run_flat itself is pinned to oracles elsewhere), on one thread and on several, and a
call that relukit's own pool would share must be handed back (NO_ADDR), never run
wrongly.
"""

from __future__ import annotations

import numpy as np
import pytest

from relukit import _kernels
from relukit import _kernels_threads as th

pytest.importorskip("numba")
torch = pytest.importorskip("torch")

from relukit.torch import _core  # noqa: E402
from relukit.torch._params import bind  # noqa: E402

UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}
SIZES = [0, 1, 63, 4095, 4096, 70_001, 300_000]


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(UINT[a.dtype])


def _x(n: int, dtype) -> np.ndarray:
    x = (np.random.default_rng(n).standard_normal(n) * 4).astype(dtype)
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 6.0], dtype)
    k = min(n, edges.size)
    x[:k] = edges[:k]
    return x


def _plans(name: str, dtype):
    pl = _core.plan(name, bind(name, ()))
    kps = _core._lean_plans(pl, torch.float32 if dtype == np.float32 else torch.float64)
    assert kps is not None
    return kps


@pytest.mark.parametrize("split", ["machine", "forced 2"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["relu", "gelu", "elu"])
def test_run_addr_gives_run_flats_bits(name, dtype, threads, split, monkeypatch):
    value, backward = _plans(name, dtype)
    if split == "forced 2":  # the parallel entries, whatever the machine's load
        if not th._numba_threads():  # pragma: no cover - numba without OpenMP/TBB
            pytest.skip("numba's threading layer is neither OpenMP nor TBB")
        monkeypatch.setattr(th, "split", lambda *a: 2)
    with _kernels.switched(threads=threads):
        for n in SIZES:
            x = _x(n, dtype)
            g = _x(n + 1, dtype)[:n].copy()
            # value, two arrays
            want, got = np.empty_like(x), np.full_like(x, 7.0)
            assert value.run_flat(x, want) is None
            assert value.run_addr(x.ctypes.data, got.ctypes.data, n=n) is None
            assert np.array_equal(_bits(got), _bits(want)), (name, n)
            # value in place (one array)
            inplace = x.copy()
            assert value.run_addr(inplace.ctypes.data, n=n) is None
            assert np.array_equal(_bits(inplace), _bits(want)), (name, n, "in place")
            # backward, three arrays (the input's derivative times g)
            want_b, got_b = np.empty_like(x), np.full_like(x, 7.0)
            assert backward.run_flat(x, g, want_b) is None
            res = backward.run_addr(x.ctypes.data, g.ctypes.data, got_b.ctypes.data, n=n)
            assert res is None
            assert np.array_equal(_bits(got_b), _bits(want_b)), (name, n, "backward")
            assert np.array_equal(_bits(x), _bits(_x(n, dtype))), "the input was written"


def test_the_two_dtypes_entries_are_distinct_functions():
    # numba's cache tells functions apart by name, and both take integer addresses
    from relukit import _kernels_addr

    value, _ = _plans("relu", np.float32)
    a = _kernels_addr.entry(value.kernel, 2, "float32", False)
    b = _kernels_addr.entry(value.kernel, 2, "float64", False)
    assert a is not b and a.py_func.__qualname__ != b.py_func.__qualname__
    assert _kernels_addr.entry(value.kernel, 2, "float32", False) is a


def test_a_call_for_relukits_pool_is_handed_back(monkeypatch):
    value, _ = _plans("gelu", np.float32)
    x = _x(300_000, np.float32)
    out = np.full_like(x, 7.0)
    monkeypatch.setattr(th, "split", lambda *a: 0)  # the pool's share (no numba threads)
    with _kernels.switched(threads=2):
        res = value.run_addr(x.ctypes.data, out.ctypes.data, n=x.size)
    assert res is _kernels.NO_ADDR
    assert (out == 7.0).all(), "nothing may be written when the call is handed back"


def test_the_torch_lean_calls_fall_back_to_arrays_for_the_pool(monkeypatch):
    monkeypatch.setattr(th, "split", lambda *a: 0)
    x = torch.randn(50_000, requires_grad=True)
    g = torch.randn(50_000)
    y = _core.apply(_core.plan("gelu", bind("gelu", ())), x, False, None)
    y.backward(g)
    monkeypatch.undo()
    x2 = x.detach().clone().requires_grad_()
    y2 = _core.apply(_core.plan("gelu", bind("gelu", ())), x2, False, None)
    y2.backward(g)
    assert torch.equal(y, y2) and torch.equal(x.grad, x2.grad)


def test_lean_backward_with_a_gradient_of_another_dtype_uses_arrays():
    # an address carries no dtype: a float64 gradient for a float32 input must not be
    # read as float32
    _, backward = _plans("gelu", np.float32)
    t = torch.randn(10_000)
    g64 = torch.randn(10_000, dtype=torch.float64)
    got = _core._lean_backward(backward, t, g64)
    want = np.empty(10_000, np.float32)
    backward.run_flat(t.numpy(), g64.numpy(), want)
    assert got is not None and np.array_equal(got.numpy(), want)
