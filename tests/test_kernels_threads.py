"""Large calls on numba's OpenMP/TBB threads (relukit._kernels_par): same bits, safe gates.

The parallel kernels run the serial loops on one slice per thread, so their results
must be the serial results bit for bit (the serial results are pinned to independent
oracles in tests/test_kernels.py). The gates are checked without timing anything: no
parallel region where another process uses a CPU, none in a forked child, and numba's
thread count left as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import relukit as rk
from relukit import _dispatch, _kernels
from relukit import _kernels_threads as th

numba = pytest.importorskip("numba")
if not th._numba_threads():  # pragma: no cover - numba without OpenMP/TBB here
    pytest.skip("numba's threading layer is neither OpenMP nor TBB", allow_module_level=True)

UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def bits_equal(a, b) -> bool:
    return a.dtype == b.dtype and np.array_equal(a.view(UINT[a.dtype]), b.view(UINT[b.dtype]))


def edge_array(dtype, n: int) -> np.ndarray:
    x = (np.random.default_rng(n).standard_normal(n) * 4).astype(dtype)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 6.0, -3.0, 3.0]
    x[: len(edges)] = edges
    x[-len(edges) :] = edges
    return x


@pytest.fixture
def serial(monkeypatch):
    """A function running a call with every kernel in the calling thread only."""

    def run(fn, *args, **kwargs):
        with _kernels.switched(threads=1):
            _dispatch._CALLS.clear()
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def threads(monkeypatch):
    """Force numba's threads from 64 elements on, whatever the machine's load; count regions."""
    made = []
    real = th._par.parallel

    def parallel(kernel, arrays):
        made.append(kernel.py_func.__name__)
        return real(kernel, arrays)

    monkeypatch.setattr(th, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(th, "GRAIN", dict.fromkeys(th.GRAIN, 64 * 8))
    monkeypatch.setattr(th, "NUMBA_THREADS", True)
    monkeypatch.setattr(th, "_idle_cpus", lambda: 2)
    monkeypatch.setattr(th._par, "parallel", parallel)
    _dispatch._CALLS.clear()  # (a plan keeps the grain it was made with)
    with _kernels.switched(threads=2):
        yield made
    _dispatch._CALLS.clear()


# sizes: below two slices, one element over a multiple of the alignment, and uneven
@pytest.mark.parametrize("n", [100, 129, 64 * 7 + 3, 5001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_every_kind_equals_the_serial_kernel(n, dtype, threads, serial):
    x = edge_array(dtype, n)
    g = edge_array(dtype, n)[::-1].copy()
    got = (
        rk.relu(x),
        rk.relu.derivative(x, at_kink=0.5),
        *rk.relu.value_and_derivative(x),
        _dispatch.backward(rk.relu, x, g),
    )
    want = (
        serial(rk.relu, x),
        serial(rk.relu.derivative, x, at_kink=0.5),
        *serial(rk.relu.value_and_derivative, x),
        serial(_dispatch.backward, rk.relu, x, g),
    )
    assert all(bits_equal(a, b) for a, b in zip(got, want, strict=True))
    assert bool(threads) == (n >= 128)  # two slices of at least 64 elements


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "hardswish", "leaky_relu"])
def test_other_entries_equal_the_serial_kernel(name, threads, serial):
    act = getattr(rk, name)
    x = edge_array(np.float32, 3001)
    assert bits_equal(act(x), serial(act, x))
    assert bits_equal(act.derivative(x), serial(act.derivative, x))
    assert threads  # the parallel kernels ran


def test_out_and_in_place(threads, serial):
    x = edge_array(np.float32, 2049)
    want = serial(rk.silu, x)
    out = np.full_like(x, 7.0)
    assert rk.silu(x, out=out) is out and bits_equal(out, want)
    y = x.copy()
    rk.silu(y, out=y)
    assert bits_equal(y, want)


@pytest.mark.parametrize("shape", [(4, 3, 50), (3, 5, 7, 11), (2, 700)])
def test_prelu_per_channel_slices_keep_whole_channel_blocks(shape, threads, serial):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    w = np.linspace(-0.5, 0.5, shape[1])
    assert bits_equal(rk.prelu(x, w), serial(rk.prelu, x, w))
    assert bits_equal(rk.prelu.derivative(x, w), serial(rk.prelu.derivative, x, w))
    # oracle independent of the kernels: the channel's weight on its own slice
    want = np.where(x > 0, x, x * w.reshape((1, -1) + (1,) * (x.ndim - 2)))
    np.testing.assert_allclose(rk.prelu(x, w), want, rtol=1e-6)


def test_concurrent_calls_from_python_threads(threads, serial):
    # several Python threads starting parallel regions at once (numba's OpenMP layer is
    # thread-safe): every result is the serial one
    from concurrent.futures import ThreadPoolExecutor

    xs = [edge_array(np.float32, 5000 + 64 * i) for i in range(8)]
    wants = [serial(rk.silu, x) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        gots = list(pool.map(rk.silu, xs * 3))
    assert all(bits_equal(g, w) for g, w in zip(gots, wants * 3, strict=True))
    assert len(threads) >= 1  # the parallel kernels ran


def test_numba_thread_count_is_restored(threads):
    before = numba.get_num_threads()
    rk.relu(edge_array(np.float32, 4096))
    assert threads and numba.get_num_threads() == before


def test_no_parallel_region_when_another_process_uses_a_cpu(threads, monkeypatch, serial):
    monkeypatch.setattr(th, "_idle_cpus", lambda: 1)
    x = edge_array(np.float32, 4096)
    assert bits_equal(rk.relu(x), serial(rk.relu, x))
    assert threads == []


def test_large_new_outputs_go_to_the_pool(threads, monkeypatch, serial):
    # outputs that glibc maps afresh (page faults in the OpenMP threads): relukit's pool
    woken = []
    monkeypatch.setattr(th, "FRESH_LIMIT", 4096 * 4 - 1)
    monkeypatch.setattr(th, "_free_cpus", lambda: 2)
    monkeypatch.setattr(th, "_wake", lambda n, job: woken.append(n))
    x = edge_array(np.float32, 4096)
    y = np.empty_like(x)
    want = serial(rk.relu, x)
    assert bits_equal(rk.relu(x, out=y), want)  # out=: numba's threads
    assert threads == ["_relu_value_64"] and woken == []
    assert bits_equal(rk.relu(x), want)  # a new 16 KiB array: the pool
    assert threads == ["_relu_value_64"] and woken == [1]


def test_idle_cpus_allow_for_a_tenth_of_a_cpu(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    # (CPUs other processes used over the last look) -> (free for the pool, idle)
    for others, free, idle in ((0.0, 2, 2), (0.05, 2, 2), (0.2, 2, 1), (0.9, 1, 1), (2.0, 1, 1)):
        ticks = 1000.0
        readings = iter([(0.0, 0.0, 0.0), (others / 2 * ticks, ticks, 0.0)])
        monkeypatch.setattr(th, "_cpu_counters", lambda r=readings: next(r))
        monkeypatch.setattr(th, "_load_seen", [-1.0, 1, None])
        th._free_cpus()  # the first look: counters kept
        th._load_seen[0] = -1.0  # the next look is due
        assert (th._free_cpus(), th._idle_cpus()) == (free, idle), others


def test_first_look_counts_the_tasks_running_now(monkeypatch):
    # no interval measured yet: the load average, and the tasks running at this moment
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(th, "_cpu_counters", lambda: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    for running, idle in ((1, 2), (2, 1), (5, 1)):  # (this process is one of them)
        monkeypatch.setattr(th, "_running_now", lambda r=running: r)
        monkeypatch.setattr(th, "_load_seen", [-1.0, 1, None])
        assert th._idle_cpus() == idle, running


def test_running_now_reads_proc():
    n = th._running_now()
    assert n >= 1  # at least this test (1 where /proc/loadavg does not exist)


def test_usable_means_a_spinning_layer():
    from relukit import _kernels_par

    assert _kernels_par.usable() == (numba.threading_layer() in ("omp", "tbb"))


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("RELUKIT_")}, **env},
    )


def test_pool_chosen_by_environment():
    code = (
        "import numpy as np, relukit as rk\n"
        "from relukit import _kernels_threads as th\n"
        "rk.relu(np.ones(200_000, np.float32))\n"
        "print(th.NUMBA_THREADS, th._par)\n"
    )
    r = _python(code, RELUKIT_THREADING="pool")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "None"]


_FORK = """
import os, numpy as np, relukit as rk
from relukit import _kernels, _kernels_threads as th
th._idle_cpus = lambda: 2
x = np.linspace(-1, 1, 200_001, dtype=np.float32)
with _kernels.switched(threads=2):
    parent = rk.relu(x)
    assert th.NUMBA_THREADS and th._par._made  # a parallel region ran
    pid = os.fork()
    if pid == 0:  # GNU OpenMP cannot start threads here: relukit's pool or one thread
        ok = np.array_equal(rk.relu(x), parent) and not th.NUMBA_THREADS
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_use_openmp():
    r = _python(_FORK)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0", r.stderr
