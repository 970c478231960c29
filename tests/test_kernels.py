"""The numba kernels (relukit._kernels): bit-for-bit equal to the NumPy path, everywhere.

Every kernel-covered catalogue entry is evaluated twice on arrays holding every edge
value (±0.0, ±inf, NaN of both signs, a signalling NaN, subnormals, the extremes, the
kink locations and their neighbours): once with the kernel forced (``MIN_SIZE = 1``)
and once with the kernels disabled, and the two results are compared as raw bits.
Independent oracles (a per-element Python definition, PyTorch autograd) pin what both
paths compute. No test times anything.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tracemalloc
import types
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import relukit as rk
from relukit import _dispatch, _kernels
from relukit.catalogue import _REGISTRY

DTYPES = [np.float32, np.float64]
UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def covered() -> list:
    """The catalogue entries whose kernels are bit-for-bit the NumPy path (entries added
    later are picked up); the others are tested in test_kernels_smooth.py."""
    return [_REGISTRY[n] for n, spec in _kernels.KERNELS.items() if n in _REGISTRY and spec.exact]


def param_sets(act) -> list[dict]:
    """Defaults, then each real parameter set in turn to awkward (valid) values."""
    sets = [{}]
    awkward = [0.0, -0.0, 0.3, -2.0, 6.0, 1e-50, 1e300, 0.1]
    for p in act.params_list:
        if p.kind not in ("real", "weight"):
            continue
        for v in awkward:
            try:
                p.validate(v, act.name)
                act.bind((), {p.name: v})
            except (TypeError, ValueError):
                continue
            sets.append({p.name: v})
    return sets


def edge_array(dtype, act=None, params=None, n_random: int = 300) -> np.ndarray:
    fi = np.finfo(dtype)
    snan = np.array([0x7F800001 if dtype == np.float32 else 0x7FF0000000000001]).astype(
        UINT[np.dtype(dtype)]
    )
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 0.5, -0.5, 6.0, -6.0]
    vals += [fi.tiny, -fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal, fi.max, -fi.max]
    with np.errstate(over="ignore"):  # a kink at 1e300 is inf in float32
        if act is not None:
            for loc, *_ in act.kink_points(**(params or {})):
                vals += [loc, np.nextafter(dtype(loc), dtype(np.inf)), np.nextafter(dtype(loc), -1)]
        edge = np.array(vals, dtype=dtype)
    rng = np.random.default_rng(0)
    rand = (rng.standard_normal(n_random) * 4).astype(dtype)
    return np.concatenate([edge, snan.view(dtype), rand, edge[::-1]])


def bits_equal(a, b) -> bool:
    return (
        type(a) is type(b)
        and a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(a.view(UINT[a.dtype]), b.view(UINT[b.dtype]))
    )


@pytest.fixture(autouse=True)
def fresh_plans():
    """Each test plans its kernels afresh (the dispatcher caches plans per call signature)."""
    _dispatch._CALLS.clear()
    yield
    _dispatch._CALLS.clear()


@pytest.fixture
def spy(monkeypatch):
    """Force kernels for any size and count the kernel launches."""
    calls = []
    real = _kernels._run

    def run(kernel, *args, **kw):
        calls.append(kernel.__name__)
        return real(kernel, *args, **kw)

    monkeypatch.setattr(_kernels, "MIN_SIZE", 1)
    # chunks of 64 elements shared between threads, even for tiny x
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(_kernels, "GRAIN", {"memory": 64, "light": 64, "compute": 64, "heavy": 64})
    monkeypatch.setattr(_kernels, "THREADS", 4)
    monkeypatch.setattr(_kernels, "_free_cpus", lambda: 64)  # whatever the machine's load
    monkeypatch.setattr(_kernels, "NUMBA_THREADS", False)  # relukit's pool (its chunks)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    monkeypatch.setattr(_kernels, "_run", run)
    return calls


def numpy_path(fn, *args, **kwargs):
    """The same call with the kernels switched off."""
    with _kernels.switched(False):
        return fn(*args, **kwargs)


def test_numba_not_imported_by_relukit_or_small_arrays():
    code = (
        "import sys, numpy as np, relukit as rk; import relukit._kernels; "
        "rk.relu(np.ones(10)); rk.leaky_relu.derivative(np.ones(10, np.float32)); "
        "print('numba' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


@pytest.mark.parametrize("env,expected", [
    ({"RELUKIT_DISABLE_KERNELS": "1"}, "False DEFAULT"),
    ({"RELUKIT_DISABLE_KERNELS": "0", "RELUKIT_KERNEL_MIN_SIZE": "5"}, "True 5"),
])  # fmt: skip
def test_environment_settings(env, expected, monkeypatch):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code = "from relukit import _kernels as k; print(k.ENABLED, k.MIN_SIZE)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == expected.replace("DEFAULT", str(_kernels.DEFAULT_MIN_SIZE))


def test_bad_min_size_environment_warns_and_uses_default(monkeypatch):
    monkeypatch.setenv("RELUKIT_KERNEL_MIN_SIZE", "lots")
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "from relukit import _kernels as k; print(k.MIN_SIZE == k.DEFAULT_MIN_SIZE)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "True"
    assert "RELUKIT_KERNEL_MIN_SIZE='lots' is not an integer" in res.stderr


# ---------------------------------------------------------------------------
# kernel == NumPy path, bit for bit
# ---------------------------------------------------------------------------


def _cases():
    for act in covered():
        for params in param_sets(act):
            yield pytest.param(act, params, id=f"{act.name}-{params}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("act,params", list(_cases()))
def test_kernel_equals_numpy_path(act, params, dtype, spy):
    x = edge_array(dtype, act, params)
    x_before = x.copy()
    try:  # a slope beyond the dtype's normal numbers (1e-50 in float32) is refused
        if act.check_dtype is not None:
            act.check_dtype(act.bind((), params), np.dtype(dtype))
    except ValueError as exc:  # by both paths, with the same message
        for call in (act, act.derivative, act.value_and_derivative):
            for run in (call, lambda *a, c=call, **k: numpy_path(c, *a, **k)):
                with pytest.raises(ValueError) as info:
                    run(x, **params)
                assert str(info.value) == str(exc)
        assert bits_equal(x, x_before)
        return
    for at_kink in (None, 1.0, 0.5, float("nan"), -0.0, 1e300):
        calls = {
            "value": lambda x: act(x, **params),
            "derivative": lambda x, k=at_kink: act.derivative(x, at_kink=k, **params),
            "both": lambda x, k=at_kink: act.value_and_derivative(x, at_kink=k, **params),
        }
        for kind, call in calls.items():
            if kind == "value" and at_kink is not None:
                continue
            n_before = len(spy)
            got = call(x)
            assert len(spy) == n_before + 1, f"{kind}: the kernel did not run"
            want = numpy_path(call, x)
            gots = got if kind == "both" else (got,)
            wants = want if kind == "both" else (want,)
            for g, w in zip(gots, wants, strict=True):
                assert bits_equal(g, w), (kind, at_kink)
    assert bits_equal(x, x_before)  # the input is never modified


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("act", covered(), ids=lambda a: a.name)
def test_out_and_in_place_equal_numpy_path(act, dtype, spy):
    x = edge_array(dtype, act)
    x = x[: x.size // 2 * 2].reshape(-1, 2)  # 2-D C-contiguous: same kernels, flat views
    want_v = numpy_path(act, x)
    want_d = numpy_path(act.derivative, x, at_kink=0.5)

    y = np.full_like(x, 7.0)
    assert act(x, out=y) is y and bits_equal(y, want_v)
    d = np.full_like(x, 7.0)
    assert act.derivative(x, at_kink=0.5, out=d) is d and bits_equal(d, want_d)
    pair = (np.full_like(x, 7.0), np.full_like(x, 7.0))
    res = act.value_and_derivative(x, at_kink=0.5, out=pair)
    assert res is pair and bits_equal(pair[0], want_v) and bits_equal(pair[1], want_d)
    assert len(spy) == 3

    xi = x.copy()
    assert act(xi, out=xi) is xi and bits_equal(xi, want_v)  # in place
    xi = x.copy()
    assert act.derivative(xi, at_kink=0.5, out=xi) is xi and bits_equal(xi, want_d)
    assert len(spy) == 5


@pytest.mark.parametrize("act", covered(), ids=lambda a: a.name)
def test_one_thread_below_parallel_min_size(act, spy, monkeypatch):
    woken = []
    real = _kernels._wake
    monkeypatch.setattr(_kernels, "_wake", lambda n, job: woken.append(n) or real(n, job))
    monkeypatch.setattr(_kernels, "NUMBA_THREADS", False)
    x = edge_array(np.float64, act)
    want = numpy_path(act.value_and_derivative, x, at_kink=0.5)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 10**9)
    got = act.value_and_derivative(x, at_kink=0.5)
    assert bits_equal(got[0], want[0]) and bits_equal(got[1], want[1])
    assert woken == []  # the calling thread alone
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 1)
    got = act.value_and_derivative(x, at_kink=0.5)
    assert bits_equal(got[0], want[0]) and bits_equal(got[1], want[1])
    chunks = -(-x.size // 64)
    assert woken == [min(4, chunks) - 1]  # one thread per chunk, at most THREADS


def test_thread_count_follows_the_size(monkeypatch):
    woken = []
    monkeypatch.setattr(_kernels, "_wake", lambda n, job: woken.append(n))
    monkeypatch.setattr(_kernels, "NUMBA_THREADS", False)
    monkeypatch.setattr(_kernels, "THREADS", 8)
    monkeypatch.setattr(_kernels, "_free_cpus", lambda: 64)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 1)
    calls = []

    def kernel(x, y):
        calls.append(x.size)
        y[:] = x

    for n, threads in ((64, 1), (65, 2), (64 * 3, 3), (64 * 100, 8)):
        x = np.arange(n, dtype=np.float64)
        y = np.zeros_like(x)
        calls.clear()
        woken.clear()
        assert _kernels._run(kernel, x, y, arrays=2, grain=64)
        assert np.array_equal(y, x)  # the caller did every chunk (no worker was woken)
        # chunks of the grain, or of an eighth of a thread's share when that is larger
        assert sum(calls) == n and max(calls) <= max(64, -(-n // (8 * 8 * 64)) * 64)
        assert woken == ([threads - 1] if threads > 1 else [])


def test_no_helper_thread_on_a_busy_machine(monkeypatch):
    woken = []
    monkeypatch.setattr(_kernels, "_wake", lambda n, job: woken.append(n))
    monkeypatch.setattr(_kernels, "NUMBA_THREADS", False)
    monkeypatch.setattr(_kernels, "THREADS", 4)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    x = np.arange(640, dtype=np.float64)
    y = np.zeros_like(x)

    def kernel(x, y):
        y[:] = x

    monkeypatch.setattr(_kernels, "_cpu_counters", lambda: None)  # the load average
    for load, helpers in ((0.2, [3]), (1.4, [3]), (2.5, [2]), (3.2, [1]), (4.0, []), (9.0, [])):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        monkeypatch.setattr(_kernels, "_load_seen", [-1.0, 1, None])  # look again now
        woken.clear()
        assert _kernels._run(kernel, x, y, arrays=2, grain=64)
        assert woken == helpers and np.array_equal(y, x)


def test_free_cpus_from_cpu_time_not_counting_this_process(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    # (busy, total, this process's busy) ticks over 100 ticks of wall time on 4 CPUs
    for others, mine, free in ((0, 0, 4), (0, 380, 4), (150, 200, 3), (260, 100, 1), (400, 0, 1)):
        readings = iter([(0.0, 0.0, 0.0), (float(others + mine), 400.0, float(mine))])
        monkeypatch.setattr(_kernels, "_cpu_counters", lambda r=readings: next(r))
        monkeypatch.setattr(_kernels, "_load_seen", [-1.0, 1, None])
        _kernels._free_cpus()  # the first look: counters kept
        _kernels._load_seen[0] = -1.0  # the next look is due
        assert _kernels._free_cpus() == free, (others, mine)
    assert _kernels._cpu_counters.__name__  # the real reader exists (used on Linux)


def test_cpu_counters_read_proc():
    got = _kernels._cpu_counters()
    if not os.path.exists("/proc/stat"):
        assert got is None
        return
    busy, total, mine = got
    assert 0 <= busy <= total and mine >= 0


def test_a_late_worker_is_not_waited_for(monkeypatch):
    # workers that are never scheduled (a busy machine): the caller does all the chunks
    monkeypatch.setattr(_kernels, "_wake", lambda n, job: None)
    monkeypatch.setattr(_kernels, "NUMBA_THREADS", False)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(_kernels, "THREADS", 4)
    monkeypatch.setattr(_kernels, "_free_cpus", lambda: 64)
    x = edge_array(np.float32, n_random=5000)
    y = np.empty_like(x)
    spec = _kernels.KERNELS["relu"]
    kernel = getattr(_kernels._load(), f"{spec.prefix}_value")
    P, Q = _kernels._pack(np, x.dtype, (0.0, 0.0, 0.0), None, [0.0])
    assert _kernels._run(kernel, x, y, P, Q, arrays=2, grain=256)
    assert bits_equal(y, numpy_path(rk.relu, x))


def test_threshold_decides_the_path(monkeypatch):
    calls = []
    real = _kernels._run
    monkeypatch.setattr(_kernels, "_run", lambda k, *a, **kw: calls.append(1) or real(k, *a, **kw))
    monkeypatch.setattr(_kernels, "NUMBA_THREADS", False)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    monkeypatch.setattr(_kernels, "MIN_SIZE", 1000)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 1)  # every launch through _run
    monkeypatch.setattr(_kernels, "GRAIN", {"memory": 64, "light": 64, "compute": 64, "heavy": 64})
    below = np.linspace(-1, 1, 999)
    above = np.linspace(-1, 1, 1000)
    monkeypatch.setattr(_kernels, "_impl", None)  # numba not loaded yet
    assert bits_equal(rk.relu(below), np.where(below > 0, below, 0.0))
    assert calls == [] and _kernels._impl is None  # (small arrays never load numba)
    assert bits_equal(rk.relu(above), np.where(above > 0, above, 0.0))
    assert calls == [1] and _kernels._impl is not None
    # numba loaded: below the threshold too for the bit-for-bit kernels, not the others
    assert bits_equal(rk.relu(below), np.where(below > 0, below, 0.0))
    assert calls == [1, 1]
    want = numpy_path(rk.silu, below)
    assert bits_equal(rk.silu(below), want) and calls == [1, 1]
    monkeypatch.setattr(_kernels, "ENABLED", False)
    rk.relu(above)
    rk.relu(below)
    assert calls == [1, 1]


def test_small_arrays_once_numba_is_loaded(spy, monkeypatch):
    # below MIN_SIZE, with numba loaded: every bit-for-bit kernel runs, empty arrays and
    # float16 stay on the NumPy path, and the results are the NumPy path's bits
    monkeypatch.setattr(_kernels, "MIN_SIZE", 1 << 20)
    _kernels._load()
    for act in covered():
        for dtype in DTYPES:
            x = edge_array(dtype, act, n_random=20)
            n = len(spy)
            got = (act(x), act.derivative(x, at_kink=0.5), *act.value_and_derivative(x))
            assert len(spy) == n + 3, act.name
            want = numpy_path(
                lambda x, a=act: (a(x), a.derivative(x, at_kink=0.5), *a.value_and_derivative(x)), x
            )
            assert all(bits_equal(g, w) for g, w in zip(got, want, strict=True)), act.name
    n = len(spy)
    assert rk.relu(np.empty(0, np.float32)).shape == (0,)
    assert rk.relu(np.ones(8, np.float16)).dtype == np.float16
    assert rk.silu(np.ones(8, np.float32)).dtype == np.float32  # (not bit for bit)
    assert len(spy) == n


class _Sub(np.ndarray):
    pass


def _layouts(dtype):
    base = edge_array(dtype, n_random=100)
    big_endian = base.astype(np.dtype(dtype).newbyteorder(">"))
    unaligned = np.frombuffer(b"\0" + base.tobytes(), dtype=dtype, offset=1, count=base.size)
    return {
        "strided": base[::2],
        "fortran": np.asfortranarray(base[:120].reshape(12, 10)),
        "byteswapped": big_endian,
        "unaligned": unaligned,
        "float16": np.clip(base, -1e4, 1e4).astype(np.float16),
        "int": np.arange(-50, 50, dtype=np.int64),
        "scalar": dtype(-2.0),
        "subclass": base.view(_Sub),
    }


COPIED = ("strided", "fortran", "unaligned")  # copied to C order, then the kernel


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("layout", list(_layouts(np.float32)))
def test_other_layouts(layout, dtype, spy):
    x = _layouts(dtype)[layout]
    x_before = np.array(x, copy=True)
    for act in covered():
        for call in (act, act.derivative):
            got = call(x)
            want = numpy_path(call, x)
            assert type(got) is type(want) and got.dtype == want.dtype
            if layout in COPIED:
                assert bits_equal(np.ascontiguousarray(got), np.ascontiguousarray(want))
            else:
                assert np.array_equal(np.asarray(got), np.asarray(want), equal_nan=True)
    assert np.array_equal(np.asarray(x), x_before, equal_nan=True)  # x never written
    if layout in COPIED:
        assert len(spy) == 2 * len(covered())
        y = np.empty_like(x)  # with out=: the NumPy path (out keeps its own layout)
        n = len(spy)
        rk.relu(x, out=y)
        assert len(spy) == n
    elif layout == "float16":  # widened: the float64 kernels (test_kernels_half.py)
        conversions = [s for s in spy if s in ("half_to_double", "double_to_half")]
        assert len(spy) - len(conversions) == 2 * len(covered())
        assert len(conversions) == 2 * 2 * len(covered())  # widened, then rounded
    else:
        assert spy == []


def test_overlapping_out_takes_the_numpy_path(spy):
    buf = edge_array(np.float64, n_random=100)
    x = buf[:-1]
    want = numpy_path(rk.relu, x.copy())
    shifted = buf[1:]  # overlaps x, shifted by one element: a kernel would corrupt it
    rk.relu(x, out=shifted)
    assert spy == []
    assert bits_equal(shifted, want)


def test_a_look_alike_gets_kernels_from_its_own_formula():
    import dataclasses

    from relukit.catalogue import Math

    def twice(m, x):
        return x * 2

    fake = dataclasses.replace(rk.relu, math=Math(twice, rk.relu.math.derivative, exact=True))
    x = np.array([-1.0, 2.0])
    assert np.array_equal(fake(x), [-2.0, 4.0])
    assert np.array_equal(rk.relu(x), [0.0, 2.0])


# ---------------------------------------------------------------------------
# independent oracles
# ---------------------------------------------------------------------------


def _ref(name, v, slope=0.01):
    """relu and leaky_relu per element, from the definition (DESIGN.md §3)."""
    if v != v:
        return v, v
    if name == "relu":
        return (v if v > 0 else 0.0), (1.0 if v > 0 else 0.0)
    neg = -0.0 if (slope == 0 and v == -np.inf) else v * slope
    return (v if v > 0 else neg), (1.0 if v > 0 else slope)


@given(
    x=hnp.arrays(np.float64, st.integers(1, 64), elements=st.floats(allow_subnormal=True)),
    slope=st.sampled_from([0.0, 0.01, 0.2, 1.0, -0.5]),
)
def test_kernels_match_the_definition(x, slope):
    old_min, old_on = _kernels.MIN_SIZE, _kernels.ENABLED
    _kernels.MIN_SIZE, _kernels.ENABLED = 1, True
    try:
        v, d = rk.relu.value_and_derivative(x)
        lv, ld = rk.leaky_relu.value_and_derivative(x, negative_slope=slope)
    finally:
        _kernels.MIN_SIZE, _kernels.ENABLED = old_min, old_on
    for name, (gv, gd), kw in (("relu", (v, d), {}), ("leaky", (lv, ld), {"slope": slope})):
        want = [_ref(name, float(e), **kw) for e in x]
        wv = np.array([w[0] for w in want])
        wd = np.array([w[1] for w in want])
        assert np.array_equal(gv, wv, equal_nan=True)
        assert np.array_equal(np.signbit(gv), np.signbit(wv))
        assert np.array_equal(gd, wd, equal_nan=True)


# ---------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("act", covered(), ids=lambda a: a.name)
def test_backward_is_grad_times_derivative(act, dtype, spy):
    x = edge_array(dtype, act)
    g = np.random.default_rng(1).standard_normal(x.size).astype(dtype)
    g[:4] = [np.inf, np.nan, -0.0, 0.0]
    for params in param_sets(act)[:4]:
        for at_kink in (None, 1.0):
            got = _dispatch.backward(act, x, g, params, at_kink=at_kink)
            with np.errstate(all="ignore"):
                want = g * numpy_path(act.derivative, x, at_kink=at_kink, **params)
            assert bits_equal(got, want)
            out = np.empty_like(x)
            assert _dispatch.backward(act, x, g, params, at_kink, out=out) is out
            assert bits_equal(out, want)
            gi = g.copy()
            _dispatch.backward(act, x, gi, params, at_kink, out=gi)  # in place on grad_out
            assert bits_equal(gi, want)
            assert bits_equal(numpy_path(_dispatch.backward, act, x, g, params, at_kink), want)
    prefix = _kernels.KERNELS[act.name].prefix
    # (float32 arrays of hardswish and hardsigmoid have loops of their own, <name>_f32_*)
    f32 = dtype == np.float32 and act.name in ("hardswish", "hardsigmoid")
    want_loops = {f"{prefix}_f32_backward" if f32 else f"{prefix}_backward"}
    if dtype == np.float32 and act.name == "prelu":  # float32 weights (0.25): in float32
        want_loops.add("prelu_narrow_backward")
    assert spy and set(spy) == want_loops


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_backward_matches_torch_autograd(dtype, spy):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal(500).astype(dtype)
    x[:3] = [0.0, -0.0, 1e-30]
    g = np.random.default_rng(3).standard_normal(500).astype(dtype)
    for name, fn, params in (
        ("relu", torch.relu, {}),
        ("leaky_relu", lambda t: torch.nn.functional.leaky_relu(t, 0.2), {"negative_slope": 0.2}),
    ):
        t = torch.from_numpy(x.copy()).requires_grad_(True)
        fn(t).backward(torch.from_numpy(g))
        got = _dispatch.backward(rk.get(name), x, g, params)
        assert np.array_equal(got, t.grad.numpy())


def test_backward_rejects_bad_input_and_leaves_inputs_alone():
    x = np.array([-1.0, 2.0])
    g = np.ones(2)
    with pytest.raises(TypeError, match=r"x must be a NumPy array of a floating dtype.*list"):
        _dispatch.backward(rk.get("relu"), [-1.0, 2.0], g)
    with pytest.raises(TypeError, match=r"grad_out must be a NumPy array.*int64"):
        _dispatch.backward(rk.get("relu"), x, np.ones(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"grad_out must have the shape and dtype of x"):
        _dispatch.backward(rk.get("relu"), x, np.ones(3))
    with pytest.raises(ValueError, match=r"grad_out must have the shape and dtype of x"):
        _dispatch.backward(rk.get("relu"), x, np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"out has shape \(3,\)"):
        _dispatch.backward(rk.get("relu"), x, g, out=np.empty(3))
    with pytest.raises(TypeError, match=r"unexpected parameter 'slope'"):
        _dispatch.backward(rk.get("leaky_relu"), x, g, {"slope": 0.1})
    with pytest.raises(TypeError, match=r"at_kink must be None"):
        _dispatch.backward(rk.get("relu"), x, g, at_kink="one")
    assert np.array_equal(x, [-1.0, 2.0]) and np.array_equal(g, [1.0, 1.0])


# ---------------------------------------------------------------------------
# no hidden copies
# ---------------------------------------------------------------------------


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_peak_memory_is_the_output_only(dtype, monkeypatch):
    monkeypatch.setattr(_kernels, "ENABLED", True)
    n = max(_kernels.MIN_SIZE, 1 << 20)
    x = np.linspace(-1, 1, n, dtype=dtype)
    y, d = np.empty_like(x), np.empty_like(x)
    slack = 64 * 1024  # Python objects; far below the nbytes / 8 of a boolean temporary
    for act in covered():
        act(x, out=y)  # compile / load the kernels (and their parallel versions) first
        act.derivative(x, out=y)
        act.value_and_derivative(x, out=(y, d))
        assert _peak(lambda a=act: a(x)) <= x.nbytes + slack
        assert _peak(lambda a=act: a.derivative(x)) <= x.nbytes + slack
        assert _peak(lambda a=act: a.value_and_derivative(x)) <= 2 * x.nbytes + slack
        assert _peak(lambda a=act: a(x, out=y)) <= slack
        assert _peak(lambda a=act: a.derivative(x, out=y)) <= slack
        assert _peak(lambda a=act: a.value_and_derivative(x, out=(y, d))) <= slack
    # the measurement does see NumPy's temporaries: the NumPy path allocates more
    monkeypatch.setattr(_kernels, "ENABLED", False)
    assert _peak(lambda: rk.relu(x, out=y)) >= x.nbytes // 8


# ---------------------------------------------------------------------------
# numba missing or failing: one warning, the NumPy path, never an error
# ---------------------------------------------------------------------------


def test_missing_numba_warns_once_and_falls_back(monkeypatch):
    import relukit

    monkeypatch.setattr(_kernels, "_impl", None)
    monkeypatch.setattr(_kernels, "MIN_SIZE", 1)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    monkeypatch.delitem(sys.modules, "relukit._kernels_numba", raising=False)
    monkeypatch.delattr(relukit, "_kernels_numba", raising=False)
    x = edge_array(np.float32, n_random=50)
    want = numpy_path(rk.relu, x)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = [rk.relu(x), rk.relu(x), rk.leaky_relu.derivative(x)]
    assert len(rec) == 1  # one warning for three calls
    assert str(rec[0].message).startswith("relukit: the numba kernels are unavailable")
    assert rec[0].category is RuntimeWarning
    assert "(ModuleNotFoundError: import of numba halted" in str(rec[0].message)
    assert bits_equal(got[0], want) and bits_equal(got[1], want)
    assert _kernels._impl is False


def test_failing_kernel_warns_once_and_falls_back(monkeypatch):
    def broken(*args):
        raise RuntimeError("compilation failed")

    fake = types.SimpleNamespace(**{f"{s.prefix}_{k}": broken for s in _kernels.KERNELS.values()
                                    for k in ("value", "derivative", "both", "backward")})  # fmt: skip
    monkeypatch.setattr(_kernels, "_impl", fake)
    monkeypatch.setattr(_kernels, "MIN_SIZE", 1)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    x = edge_array(np.float64, n_random=50)
    y = np.empty_like(x)
    g = np.ones_like(x)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        v = rk.relu(x, out=y)
        d = rk.leaky_relu.derivative(x)
        b = _dispatch.backward(rk.get("relu"), x, g)
    assert len(rec) == 1 and rec[0].category is RuntimeWarning
    assert "RuntimeError: compilation failed" in str(rec[0].message)
    assert v is y and bits_equal(y, numpy_path(rk.relu, x))
    assert bits_equal(d, numpy_path(rk.leaky_relu.derivative, x))
    with np.errstate(invalid="ignore"):  # the signalling NaN
        assert bits_equal(b, g * numpy_path(rk.relu.derivative, x))


# ---------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------


def test_concurrent_calls_from_threads(spy):
    xs = [edge_array(np.float32, n_random=20000) for i in range(8)]
    for i, x in enumerate(xs):
        x[-20000:] += i
    wants = [numpy_path(rk.relu, x) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        gots = list(pool.map(rk.relu, xs * 4))
    assert all(bits_equal(g, w) for g, w in zip(gots, wants * 4, strict=True))


def test_an_error_in_a_worker_chunk_warns_once_and_falls_back(spy, monkeypatch):
    import threading

    def kernel(x, y, P, Q):
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("worker failed")
        y[:] = 99.0
        import time

        time.sleep(0.01)  # leave chunks to the workers

    monkeypatch.setattr(_kernels, "_impl", types.SimpleNamespace(relu_value=kernel))
    x = edge_array(np.float64, n_random=2000)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = rk.relu(x)
    assert len(rec) == 1 and "RuntimeError: worker failed" in str(rec[0].message)
    assert bits_equal(got, numpy_path(rk.relu, x))


# ---------------------------------------------------------------------------
# relukit bench speed (run on tiny sizes: the output's structure, not the timings)
# ---------------------------------------------------------------------------


def test_bench_speed_cli_writes_table_json_and_plot(tmp_path, capsys):
    import json

    from relukit.cli import main

    js, png = tmp_path / "speed.json", tmp_path / "speed.png"
    argv = ["bench", "speed", "--size", "1e3", "--size", "2^11", "--repeat", "1"]
    rc = main([*argv, "--no-subprocess", "--json", str(js), "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "size 1,000 (float32" in out and "size 2,048 (float32" in out
    assert "np.copyto(y, x)  (one thread)" in out and "np.heaviside(x, 0)" in out
    doc = json.loads(js.read_text())
    assert doc["dtype"] == "float32" and set(doc["results"]) == {"1000", "2048"}
    row = doc["results"]["2048"]
    assert row["np.copyto(y, x)  (one thread)"]["vs_copyto"] == 1.0
    for name in ("rk.relu(x, out=y)", "rk.relu.value_and_derivative(x)", "np.maximum(x, 0)"):
        r = row[name]
        assert r["seconds"] > 0 and r["gbps"] > 0
    # a ratio is the bandwidth of the case over the bandwidth of the copy, both from the row
    r, c = row["rk.relu.value_and_derivative(x)"], row["np.copyto(y, x)  (one thread)"]
    assert r["vs_copyto"] == pytest.approx((3 / r["seconds"]) / (2 / c["seconds"]))
    assert r["median"] >= r["seconds"]  # the median of the runs, and their minimum
    labels = {t["ratio"] for t in doc["ratios"]}
    assert "np.maximum(x, 0) time / rk.relu(x) time" in labels
    ratio = next(t for t in doc["ratios"] if t["ratio"].startswith("np.heaviside"))
    h, d = row["np.heaviside(x, 0)"], row["rk.relu.derivative(x)"]
    assert ratio["min"] == pytest.approx(h["seconds"] / d["seconds"])
    assert ratio["median"] == pytest.approx(h["median"] / d["median"])
    for word in ("PASS", "MISS", "target", "issue", "the limit"):
        assert word not in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_speed_figure_content():
    from relukit.bench.speed import figure

    results = {
        n: {
            "np.copyto(y, x)  (one thread)": {"gbps": 10.0, "group": "limit"},
            "rk.relu(x, out=y)": {"gbps": 8.0 + n / 1e6, "group": "relukit"},
            "np.maximum(x, 0)": {"gbps": 3.0, "group": "numpy"},
        }
        for n in (1000, 10**6)
    }
    fig = figure(results, "float64")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "array size (elements, float64)"
    assert "GB/s" in ax.get_ylabel()
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == set(results[1000])
    assert list(lines["rk.relu(x, out=y)"].get_ydata()) == [8.001, 9.0]
    assert list(lines["rk.relu(x, out=y)"].get_xdata()) == [1000, 10**6]
    assert lines["np.copyto(y, x)  (one thread)"].get_linestyle() == "--"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == list(results[1000])


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--size", "lots"], "--size must be a whole number of elements"),
        (["--size", "0"], "--size must be at least 1"),
        (["--size", "1.5"], "--size must be a whole number"),
        (["--repeat", "0"], "--repeat must be at least 1, got 0"),
        (["--threads", "0"], "--threads must be at least 1, got 0"),
        (["--sweep", "--entries", "rleu"], "unknown activation 'rleu'"),
        (["--under-load", "0"], "--under-load must be at least 1, got 0"),
    ],
)
def test_bench_speed_bad_arguments(argv, message, capsys):
    from relukit.cli import main

    assert main(["bench", "speed", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


_FORK_SCRIPT = """
import os, sys, numpy as np, relukit as rk
from relukit import _kernels
_kernels.MIN_SIZE = 1
x = np.linspace(-1, 1, 1001, dtype=np.float32)
parent = rk.relu(x)
_kernels.PARALLEL_MIN_SIZE = 1
_kernels.GRAIN = {"memory": 64, "light": 64, "compute": 64, "heavy": 64}
_kernels.THREADS = 2
_kernels._free_cpus = lambda: 2
_kernels.NUMBA_THREADS = False
parent = rk.relu(x)  # worker threads started
assert _kernels._queues and _kernels._impl not in (None, False)
pid = os.fork()
if pid == 0:
    ok = np.array_equal(rk.relu(x), parent) and np.array_equal(rk.silu(x), rk.silu(x))
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_runs_the_kernels_with_new_threads():
    # in a fresh interpreter: forking this test process (JAX threads) could deadlock
    res = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0"  # the child computed the same result, no hang


# ---------------------------------------------------------------------------
# prelu with one weight per channel
# ---------------------------------------------------------------------------

needs_prelu = pytest.mark.skipif("prelu" not in _REGISTRY, reason="no prelu entry")


@needs_prelu
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(7, 5), (3, 5, 4, 6), (2, 5, 9)])
def test_prelu_per_channel_kernel_equals_numpy_path(shape, dtype, spy):
    act = _REGISTRY["prelu"]
    n = math.prod(shape)
    x = np.resize(edge_array(dtype, act), n).reshape(shape)
    weights = [
        [0.0, -0.0, 0.25, -2.0, 1e-50],  # one per channel (5)
        np.array([0.1, 0.2, 0.0, 3.0, -0.5], dtype=np.float32),
        [0.3],  # one weight as an array: the scalar kernel
    ]
    for w in weights:
        for at_kink in (None, 1.0):
            got = act.value_and_derivative(x, w, at_kink=at_kink)
            want = numpy_path(act.value_and_derivative, x, w, at_kink=at_kink)
            assert bits_equal(got[0], want[0]) and bits_equal(got[1], want[1])
            y = np.empty_like(x)
            assert act(x, w, out=y) is y and bits_equal(y, want[0])
            assert bits_equal(act.derivative(x, w, at_kink=at_kink), want[1])
            g = np.resize(edge_array(dtype), n).reshape(shape)[::-1].copy()
            with np.errstate(all="ignore"):
                want_b = g * want[1]
            assert bits_equal(_dispatch.backward(act, x, g, {"weight": w}, at_kink), want_b)
    assert "prelu_channel_both" in spy and "prelu_channel_backward" in spy
    assert "prelu_both" in spy  # the one-element weight
    if dtype == np.float32:  # float32 weights: the product in float32, the same bits
        assert "prelu_channel_narrow_both" in spy and "prelu_channel_narrow_backward" in spy


@needs_prelu
def test_prelu_bad_weights_raise_as_on_the_numpy_path(spy):
    x = np.ones((4, 3))
    for w, err, match in (
        ([0.1, 0.2], ValueError, "weight has 2 elements but x has 3 channel"),
        ([0.1, np.nan, 0.2], ValueError, "weight must be finite"),
        (np.ones((3, 1)), ValueError, "weight must be a scalar or 1-D"),
    ):
        with pytest.raises(err, match=match):
            rk.get("prelu")(x, w)
        with pytest.raises(err, match=match):
            _dispatch.backward(rk.get("prelu"), x, x, {"weight": w})
    assert spy == []
    assert np.array_equal(x, np.ones((4, 3)))


# ---------------------------------------------------------------------------
# the dispatcher's per-call-signature cache (validation, kernel plan)
# ---------------------------------------------------------------------------


def test_call_cache_keeps_validation_exact():
    x = np.linspace(-2, 2, 1000, dtype=np.float32)
    for _ in range(2):  # the second time from the cache: the same errors
        with pytest.raises(TypeError, match="negative_slope"):
            rk.leaky_relu(x, True)
        with pytest.raises(ValueError, match="finite"):
            rk.leaky_relu(x, float("inf"))
        with pytest.raises(TypeError, match="at_kink must be None"):
            rk.relu.derivative(x, at_kink="1")
    assert not any(k[0] is rk.leaky_relu and len(k) > 3 for k in _dispatch._CALLS)
    # -0.0 and 0.0 are different signatures (leaky_relu(-inf, ±0.0) differ in sign)
    a = rk.leaky_relu(np.array([-np.inf] * 300), 0.0)
    b = rk.leaky_relu(np.array([-np.inf] * 300), -0.0)
    assert np.all(np.signbit(a)) and np.array_equal(
        a, numpy_path(rk.leaky_relu, a * 0 - np.inf, 0.0)
    )
    assert np.array_equal(
        np.signbit(b), np.signbit(numpy_path(rk.leaky_relu, b * 0 - np.inf, -0.0))
    )
    # int 1 and float 1.0: two signatures (positional and keyword forms are the same one)
    for p in (1, 1.0):
        assert np.array_equal(rk.elu(x, p), rk.elu(x, alpha=p))
    keys = [k for k in _dispatch._CALLS if k[0] is rk.elu]
    assert len(keys) == 2


def test_call_cache_plans_once_and_follows_the_switches(monkeypatch):
    x = np.linspace(-2, 2, 5000, dtype=np.float32)
    plans = []
    real = _kernels.static_plan
    monkeypatch.setattr(_kernels, "static_plan", lambda *a: plans.append(a[1]) or real(*a))
    want = numpy_path(rk.silu, x)
    for _ in range(3):
        rk.silu(x)
    assert plans == ["value"]  # planned once, then from the cache
    monkeypatch.setattr(_kernels, "ENABLED", False)
    assert bits_equal(rk.silu(x), want)  # switched off: the NumPy path, exactly
    monkeypatch.setattr(_kernels, "ENABLED", True)
    small = x[:10]
    assert bits_equal(rk.silu(small), numpy_path(rk.silu, small))  # below MIN_SIZE


# ---------------------------------------------------------------------------
# relukit bench speed --sweep (tiny sizes: structure and arithmetic, not timings)
# ---------------------------------------------------------------------------


def test_bench_sweep_cli_table_json_and_plot(tmp_path, capsys):
    import json

    from relukit.cli import main

    js, png = tmp_path / "sweep.json", tmp_path / "sweep.png"
    argv = ["bench", "speed", "--sweep", "--size", "10", "--size", "300", "--repeat", "2"]
    argv += ["--entries", "relu", "silu", "gelu(tanh)", "--threads", "1"]
    assert main([*argv, "--json", str(js), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "10 float32 elements (one-thread np.copyto:" in out
    assert "| relu | value |" in out and "| gelu(tanh) | derivative |" in out
    assert "| silu | derivative |" in out and "| gelu | value |" not in out
    for word in ("PASS", "MISS", "target", "issue", "the limit"):
        assert word not in out
    doc = json.loads(js.read_text())
    assert doc["threads"] == 1 and doc["sizes"] == [10, 300]
    rows = [r for r in doc["rows"] if r["kind"] != "copy"]
    assert {(r["entry"], r["kind"], r["size"]) for r in rows} == {
        (e, k, n) for e in ("relu", "silu", "gelu(tanh)") for k in ("value", "derivative")
        for n in (10, 300)
    }  # fmt: skip
    for r in rows:
        med, best = r["relukit"]
        assert 0 < best <= med
        assert "NumPy" in r or (r["entry"], r["kind"]) == ("gelu(tanh)", "derivative")
    # the printed ratio is the peer's median over relukit's, from the same row
    r = next(r for r in rows if r["entry"] == "relu" and r["kind"] == "value" and r["size"] == 300)
    want = f"{r['NumPy'][0] / r['relukit'][0]:.2f} / {r['NumPy'][1] / r['relukit'][1]:.2f}"
    line = next(ln for ln in out.splitlines() if ln.startswith("| relu | value |") and want in ln)
    assert line
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_sweep_figure_content():
    from relukit.bench.sweep import figure

    rows = [
        {"entry": "np.copyto", "kind": "copy", "size": n, "copy": (0.5, 0.4)} for n in (10, 100)
    ]
    rows += [
        {"entry": e, "kind": "value", "size": n, "relukit": (n / 10, 1.0), "torch": (2.0, 1.5)}
        for e in ("relu", "silu")
        for n in (10, 100)
    ]
    fig = figure(rows, "value")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["relu (value)", "silu (value)"]
    ax = visible[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"relukit", "torch", "np.copyto (one thread)"}
    assert list(lines["relukit"].get_ydata()) == [1.0, 10.0]
    assert list(lines["relukit"].get_xdata()) == [10, 100]
    assert lines["np.copyto (one thread)"].get_linestyle() == "--"
    assert "ns per element" in fig.axes[0].get_ylabel()


def test_numpy_formulas_are_the_functions():
    from relukit.bench.sweep import numpy_formulas

    x = np.linspace(-5, 5, 101)
    for label, (value, derivative) in numpy_formulas().items():
        name, params = ("gelu", {"approximate": "tanh"}) if label == "gelu(tanh)" else (label, {})
        act = rk.get(name)
        if name == "prelu":
            params = {"weight": 0.25}
        np.testing.assert_allclose(value(x), act(x, **params), rtol=1e-6, atol=1e-12)
        if derivative is not None:
            mask = np.ones_like(x, dtype=bool)
            for k in act.kink_points(**params):
                mask &= x != k[0]
            np.testing.assert_allclose(
                derivative(x)[mask], act.derivative(x, **params)[mask], rtol=1e-6, atol=1e-12
            )


@pytest.mark.jax
@pytest.mark.torch
def test_bench_sweep_cases_compute_what_they_name():
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    from relukit.bench import sweep

    x = np.linspace(-3, 3, 300, dtype=np.float32)
    for kind in ("value", "derivative"):
        cases = sweep._cases("silu", "silu", {}, kind, x, {"jax": jax, "torch": torch})
        assert set(cases) == {"relukit", "NumPy", "torch", "JAX"}
        want = rk.silu(x) if kind == "value" else rk.silu.derivative(x)
        got_np = cases["NumPy"]()
        assert type(got_np) is np.ndarray  # NumPy's own formula (not another contender's)
        np.testing.assert_allclose(got_np, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(cases["JAX"]()), want, rtol=1e-5, atol=1e-6)
        t = cases["torch"]()
        t = t[0] if isinstance(t, tuple) else t
        np.testing.assert_allclose(t.detach().numpy(), want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# threshold and rrelu (evaluation): awkward parameter pairs, the training path
# ---------------------------------------------------------------------------


def _threshold_ref(v: float, t: float, value: float) -> float:
    """threshold per element, from its definition (NaN fails both comparisons)."""
    if v > t:
        return v
    return value if v <= t else v


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "t,value",
    [(-0.0, -0.0), (0.0, -0.0), (1e300, -1e300), (-1e300, 2.5), (5e-324, 5e-324),
     (-1e-45, 3.0), (3.4028235e38, -3.4028235e38), (1.0, float(np.nextafter(1.0, 2.0)))],
)  # fmt: skip
def test_threshold_kernel_awkward_parameters(t, value, dtype, spy):
    x = edge_array(dtype, rk.threshold, {"threshold": t})
    for at_kink in (None, -0.0, 2.0):
        got_v, got_d = rk.threshold.value_and_derivative(x, t, value, at_kink=at_kink)
        want_v, want_d = numpy_path(rk.threshold.value_and_derivative, x, t, value, at_kink=at_kink)
        assert bits_equal(got_v, want_v) and bits_equal(got_d, want_d)
        assert bits_equal(rk.threshold(x, t, value), want_v)
    assert spy and set(spy) <= {"threshold_both", "threshold_value"}
    if dtype == np.float64:  # independent oracle: the definition, element by element
        ref = np.array([_threshold_ref(float(v), t, value) for v in x])
        assert np.array_equal(got_v, ref, equal_nan=True)
        assert np.array_equal(np.signbit(got_v), np.signbit(ref))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_rrelu_evaluation_is_leaky_relu_kernel_training_keeps_numpy(dtype, spy):
    x = edge_array(dtype, rk.rrelu)
    lower, upper = 0.1, 0.4
    got = rk.rrelu.value_and_derivative(x, lower, upper)
    assert spy == ["leaky_relu_both"]
    want = numpy_path(rk.rrelu.value_and_derivative, x, lower, upper)
    assert all(bits_equal(g, w) for g, w in zip(got, want, strict=True))
    # the oracle: leaky_relu with the mean slope, from the definition
    slope = dtype((lower + upper) / 2)
    with np.errstate(all="ignore"):
        ref = np.where(x > 0, x, x * slope)
    assert np.array_equal(got[0], ref, equal_nan=True)
    # training draws one slope per element: the NumPy path, the same draws for one seed
    del spy[:]
    v, d = rk.rrelu.value_and_derivative(x, lower, upper, training=True, rng=7)
    assert spy == []
    v2, d2 = numpy_path(rk.rrelu.value_and_derivative, x, lower, upper, training=True, rng=7)
    assert bits_equal(v, v2) and bits_equal(d, d2)
    neg = x < 0
    assert len(np.unique(d[neg])) > 1 and np.all((d[neg] >= lower) & (d[neg] <= upper))
    # lower == upper draws nothing: the kernel again
    same = rk.rrelu(x, 0.2, 0.2, training=True)
    assert spy == ["leaky_relu_value"]
    assert bits_equal(same, numpy_path(rk.leaky_relu, x, 0.2))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_threshold_and_rrelu_kernels_match_torch(dtype, spy):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).standard_normal(1000).astype(dtype)
    x[:6] = [0.0, -0.0, 0.5, -np.inf, np.inf, np.nan]
    t = torch.from_numpy(x.copy())
    got = rk.threshold(x, 0.5, -3.0)
    want = torch.nn.functional.threshold(t, 0.5, -3.0).numpy()
    assert np.array_equal(got, want, equal_nan=True)
    got = rk.rrelu(x, 0.1, 0.3)
    want = torch.nn.functional.rrelu(t, 0.1, 0.3, training=False).numpy()
    assert np.array_equal(got, want, equal_nan=True)
    assert spy == ["threshold_value", "leaky_relu_value"]


_FIRST_CALLS_AT_ONCE = """
import threading
import numpy as np
import relukit as rk

x = np.random.default_rng(0).standard_normal(1 << 20)
want = {"relu": np.maximum(x, 0.0), "leaky_relu": np.where(x > 0, x, 0.01 * x)}
barrier = threading.Barrier(8)
wrong = []


def first_call(name):
    barrier.wait()  # eight threads make their first call at the same moment
    if not np.array_equal(rk.get(name)(x), want[name]):
        wrong.append(name)


threads = [
    threading.Thread(target=first_call, args=(("relu", "leaky_relu")[i % 2],)) for i in range(8)
]
for t in threads:
    t.start()
for t in threads:
    t.join()
from relukit import _kernels
print("wrong", wrong, "numba threads", _kernels.NUMBA_THREADS)
"""


@pytest.mark.parametrize("layer", ["workqueue", "default"])
def test_first_calls_from_eight_threads_at_once(layer, monkeypatch):
    # numba's workqueue layer aborts the process on concurrent parallel regions: the
    # probe that decides whether to use numba's threads must run once, under a lock
    if layer != "default":
        monkeypatch.setenv("NUMBA_THREADING_LAYER", layer)
    monkeypatch.setenv("RELUKIT_NUM_THREADS", "8")
    monkeypatch.delenv("RELUKIT_THREADING", raising=False)
    res = subprocess.run(
        [sys.executable, "-c", _FIRST_CALLS_AT_ONCE], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("wrong [] numba threads"), res.stdout
    if layer == "workqueue":  # no spinning workers: relukit's own pool does the work
        assert res.stdout.strip().endswith("False"), res.stdout
