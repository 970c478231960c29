"""The kernel runtime (relukit._kernels): settings, plans, threads, errors and fallbacks.

The numbers the kernels compute are tested elsewhere: one result per input on every
path (test_one_result.py), the NaN rule (test_nan_rule.py), the NumPy formulas against
the kernels (test_numpy_formulas.py), the primitives (test_prims.py), accuracy against
mpmath (test_accuracy.py). Here: what :func:`relukit._kernels.settings` and
``switched`` change and for whom, what a :class:`~relukit._kernels.Plan` is and when
there is none, how a call is shared between threads (relukit's pool; numba's threads
are in test_kernels_threads.py), a forked child, per-channel PReLU weights, the
dispatcher's per-call cache, ``backward``, peak memory, and numba missing or failing.
Independent oracles (the definitions element by element, PyTorch) pin the values.
No test times anything.
"""

from __future__ import annotations

import ast
import contextvars
import dataclasses
import math
import os
import pathlib
import subprocess
import sys
import threading
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
from _values import SettingsSpy, bits, gradient_for, inputs, same_bits
from relukit import _dispatch, _kernels
from relukit import _kernels_threads as th
from relukit._dispatch import backward
from relukit.catalogue import Math

pytest.importorskip("numba")

DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def fresh_plans():
    """Each test plans its kernels afresh (the dispatcher caches plans per call signature)."""
    _dispatch._CALLS.clear()
    yield
    _dispatch._CALLS.clear()


@pytest.fixture
def pool(monkeypatch):
    """Calls from 64 elements on shared in chunks of 64 by relukit's pool (4 threads),
    whatever the machine's load; yields the kernels that ran (by name)."""
    ran: list[str] = []
    real = th.run

    def run(kernel, *args, **kw):
        ran.append(kernel.py_func.__name__ if hasattr(kernel, "py_func") else kernel.__name__)
        return real(kernel, *args, **kw)

    monkeypatch.setattr(th, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(th, "GRAIN", dict.fromkeys(th.GRAIN, 64))
    monkeypatch.setattr(th, "_free_cpus", lambda: 64)
    monkeypatch.setattr(th, "NUMBA_THREADS", False)
    monkeypatch.setattr(th, "run", run)
    with _kernels.switched(enabled=True, threads=4):
        yield ran


def numpy_formulas(fn, *args, **kwargs):
    """The same call on the NumPy formulas (the kernels switched off)."""
    with _kernels.switched(enabled=False):
        return fn(*args, **kwargs)


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RELUKIT_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**full, **env},
    )


# ---------------------------------------------------------------------------
# settings: the environment, switched(), one context each
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, "True CPUS"),
        ({"RELUKIT_DISABLE_KERNELS": "1"}, "False CPUS"),
        ({"RELUKIT_DISABLE_KERNELS": "0", "RELUKIT_NUM_THREADS": "3"}, "True 3"),
        ({"RELUKIT_DISABLE_KERNELS": "no", "RELUKIT_NUM_THREADS": "0"}, "True 1"),
    ],
)
def test_environment_settings(env, expected):
    code = (
        "from relukit import _kernels as k, _kernels_threads as t\n"
        "s = k.settings(); print(s.enabled, s.threads, t.default_threads())"
    )
    res = _python(code, **env)
    assert res.returncode == 0, res.stderr
    enabled, threads, cpus = res.stdout.split()
    assert f"{enabled} {threads}" == expected.replace("CPUS", cpus)


def test_bad_thread_count_in_the_environment_warns_and_uses_the_cpus():
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "import os\nfrom relukit import _kernels as k\n"
        "print(k.settings().threads == len(os.sched_getaffinity(0)))"
    )
    res = _python(code, RELUKIT_NUM_THREADS="lots")
    assert res.stdout.strip() == "True", res.stderr
    assert "RELUKIT_NUM_THREADS='lots' is not an integer; using the CPU count" in res.stderr


def test_disabled_kernels_never_import_numba():
    code = (
        "import sys, numpy as np, relukit as rk\n"
        "y = rk.gelu(np.linspace(-3, 3, 1000)); d = rk.relu.derivative(np.ones(10, 'f4'))\n"
        "print('numba' in sys.modules, float(y[-1]))"
    )
    res = _python(code, RELUKIT_DISABLE_KERNELS="1")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[0] == "False" and float(res.stdout.split()[1]) == pytest.approx(
        3 * 0.9986501019683699, rel=1e-15
    )


def test_switched_changes_this_context_only_and_restores():
    base = _kernels.settings()
    with _kernels.switched(enabled=False, threads=3) as s:
        assert _kernels.settings() == s == _kernels.Settings(False, 3)
        with _kernels.switched(threads=1):
            assert _kernels.settings() == _kernels.Settings(False, 1)  # nested: kept
        assert _kernels.settings().threads == 3
        seen = []
        t = threading.Thread(target=lambda: seen.append(_kernels.settings()))
        t.start()
        t.join()
        assert seen == [base]  # another thread: its own (default) settings
        ctx = contextvars.copy_context()  # a copied context: these settings
        assert ctx.run(_kernels.settings) == s
    assert _kernels.settings() == base
    with pytest.raises(RuntimeError, match="boom"), _kernels.switched(enabled=False):
        raise RuntimeError("boom")
    assert _kernels.settings() == base  # restored after an exception too
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.threads = 2  # type: ignore[misc]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_switched_rejects_a_bad_thread_count(bad):
    with (
        pytest.raises(ValueError, match=rf"threads must be an int >= 1, got {bad!r}"),
        _kernels.switched(threads=bad),
    ):
        pass
    assert _kernels.settings().threads >= 1


def test_threads_in_a_switched_block_and_outside(monkeypatch):
    # calls of other Python threads keep their own thread count
    inside: list[int] = []
    other: list[int] = []
    x = np.ones(100_000, np.float32)
    rk.relu(x)  # (planned: the calls below take the short path)
    default = _kernels.settings()
    with _kernels.switched(threads=1):
        monkeypatch.setattr(_kernels, "_SETTINGS", SettingsSpy(_kernels._SETTINGS, inside))
        rk.relu(x)
        spy = _kernels._SETTINGS
        spy.seen = other
        with ThreadPoolExecutor(1) as ex:
            ex.submit(rk.relu, x).result()
        monkeypatch.undo()
    assert inside and set(inside) == {1}
    assert other and set(other) == {default.threads}


# ---------------------------------------------------------------------------
# plans
# ---------------------------------------------------------------------------


def test_a_plan_is_frozen_and_runs():
    p = _kernels.plan(rk.silu, "value", np.float32, {}, None)
    assert isinstance(p, _kernels.Plan) and p.kind == "value" and p.dtype == np.float32
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.grain = 1  # type: ignore[misc]
    x = np.linspace(-3, 3, 1001, dtype=np.float32)
    assert same_bits(p.run(x), rk.silu(x))
    out = np.empty_like(x)
    assert p.run(x, out) is out and same_bits(out, rk.silu(x))
    assert not p.args.flags.writeable and not p.kinks.flags.writeable


def test_plan_arguments_working_precision_and_namespace():
    # exact formulas: the parameters in the array's dtype; the others in float64, with
    # the lean namespace for float32 where the entry's Math.lean accepts the parameters
    leaky = _kernels.plan(rk.leaky_relu, "value", np.float32, {"negative_slope": 0.1}, None)
    assert leaky.args.dtype == np.float32 and leaky.args[0] == np.float32(0.1)
    assert leaky.kernel.py_func.__qualname__.endswith("_value_64")
    elu = _kernels.plan(rk.elu, "derivative", np.float32, {"alpha": 2.0}, None)
    assert elu.args.dtype == np.float64 and elu.kernel.py_func.__qualname__.endswith("_32")
    for alpha in (1e31, 1e-31):  # outside the lean a * exp(x): float64 accuracy instead
        p = _kernels.plan(rk.elu, "derivative", np.float32, {"alpha": alpha}, None)
        assert p.kernel.py_func.__qualname__.endswith("_derivative_64")
    assert _kernels.plan(rk.elu, "value", np.float64, {"alpha": 2.0}, None).kernel.py_func.__qualname__.endswith("_64")  # fmt: skip
    half = _kernels.plan(rk.gelu, "value", np.float16, {"approximate": "none"}, None)
    assert half.dtype == np.float64  # float16: the float64 kernel on the widened array
    big = _kernels.plan(rk.relu, "value", np.dtype(">f4"), {}, None)
    assert big.dtype == np.float32  # (non-native arrays are copied to native first)
    kinks = _kernels.plan(rk.relu6, "derivative", np.float32, {}, 0.5)
    assert kinks.at_kink == 1 and list(kinks.kinks[3:]) == [0.5, 0.0, 6.0]
    assert _kernels.plan(rk.relu6, "derivative", np.float32, {}, None).at_kink == 0
    assert _kernels.plan(rk.relu6, "value", np.float32, {}, 0.5).at_kink == 0


def test_no_plan():
    assert _kernels.NO_PLAN is None
    with _kernels.switched(enabled=False):
        assert _kernels.plan(rk.relu, "value", np.float32, {}, None) is None
    assert _kernels.plan(rk.relu, "value", np.int64, {}, None) is None
    assert _kernels.plan(rk.relu, "value", np.complex128, {}, None) is None
    train = rk.rrelu.bind((), {"training": True, "rng": 0})
    assert _kernels.plan(rk.rrelu, "value", np.float32, train, None) is None
    # lower == upper draws nothing: leaky_relu's kernel with that slope
    same = rk.rrelu.bind((), {"training": True, "lower": 0.2, "upper": 0.2})
    assert _kernels.plan(rk.rrelu, "value", np.float32, same, None) is not None


def test_backward_from_the_output_needs_an_entry_that_allows_it():
    with pytest.raises(ValueError, match="elu: no derivative from the output for these"):
        _kernels.plan(rk.elu, "backward_y", np.float64, {"alpha": -1.0}, None)
    with pytest.raises(ValueError, match="no derivative from the output"):
        backward(rk.leaky_relu, np.ones(3), np.ones(3), {"negative_slope": -0.5},
                 from_output=True)  # fmt: skip
    with pytest.raises(ValueError, match="at_kink needs the input, not the output"):
        backward(rk.relu, np.ones(3), np.ones(3), at_kink=1.0, from_output=True)


def test_entries_with_the_same_formulas_share_their_kernels():
    leaky = _kernels.plan(rk.leaky_relu, "both", np.float32, {"negative_slope": 0.2}, None)
    params = rk.rrelu.bind((), {"lower": 0.1, "upper": 0.3})
    rrelu = _kernels.plan(rk.rrelu, "both", np.float32, params, None)
    assert rrelu.kernel is leaky.kernel and rrelu.args[0] == np.float32(0.2)


def test_a_look_alike_gets_kernels_from_its_own_formula():
    def twice(m, x):
        return x * 2

    fake = dataclasses.replace(rk.relu, math=Math(twice, rk.relu.math.derivative, exact=True))
    x = np.array([-1.0, 2.0])
    assert np.array_equal(fake(x), [-2.0, 4.0])
    assert np.array_equal(rk.relu(x), [0.0, 2.0])
    assert (
        _kernels.plan(fake, "value", np.float64, {}, None).kernel
        is not _kernels.plan(rk.relu, "value", np.float64, {}, None).kernel
    )


#: the float32 formulas that nudge x next to 0 (``m.tiny_nudge``: f(x) = x/2 + c x**2 + ...
#: with c > 0 there, whose float32 results from a float64 x/2 are ties)
NUDGED = [
    ("silu", {}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("quick_gelu", {}),
    ("hardswish", {}),
]


def _half_rounded_up(x: np.ndarray) -> np.ndarray:
    """f(x) in float32 for |x| < 2**-100 and f = x/2 + c x**2 (c > 0): x/2 where it is a
    float32; else, a tie between two subnormals, the one above (x = m 2**-149, m odd:
    (m + 1)/2 units), since c x**2 > 0 breaks the tie upward; x's sign (-2**-149 gives
    -0.0). Integers only."""
    m = np.rint(x.astype(np.float64) * 2.0**149).astype(np.int64)
    units = -((-m) // 2)  # ceil(m / 2)
    return np.copysign(units.astype(np.float64) * 2.0**-149, x).astype(np.float32)


def test_float32_values_that_nudge_run_the_loop_without_it_and_redo_the_tiny_elements(pool):
    from relukit import _kernels_loops as loops
    from relukit._prims import used_names

    # the entries whose formulas nudge are these, and their float32 value loop is the one
    # that leaves the nudge to a second pass over the few tiny elements
    nudging = {
        (a.name, str(p))
        for a in rk.catalogue()
        if not a.gated
        for p in ([{}, {"approximate": "tanh"}] if a.name == "gelu" else [{}])
        if "tiny_nudge" in used_names(a.math.resolve(a.bind((), p))[0].value)
    }
    assert nudging == {(n, str(p)) for n, p in NUDGED}
    rng = np.random.default_rng(7)
    tiny = np.array([1e-45, -1e-45, 3e-45, -3e-45, 2.9e-39, -1.1754942e-38, 2.3509886e-38,
                     -2.3509886e-38, 2.350989e-38, 1.1754944e-38], np.float32)  # fmt: skip
    for name, p in NUDGED:
        act = rk.get(name)
        plan = _kernels.plan(act, "value", np.float32, act.bind((), p), None)
        assert plan.kernel.py_func.__code__.co_code == loops._value_redo_tiny.__code__.co_code
        assert plan.inplace.py_func.__code__.co_code == loops._value_inplace.__code__.co_code
        for n, where in ((1, [0]), (64, [63]), (1000, [0, 64, 500, 999]), (1000, []),
                         (257, [128, 256])):  # fmt: skip
            x = (3.0 * rng.standard_normal(n)).astype(np.float32)
            x[rng.integers(0, n, 5)] = 0.0  # zeros need no second pass
            x[where] = np.resize(tiny, len(where))
            got = act(x, **p)
            inplace = x.copy()
            act(inplace, **p, out=inplace)  # (the loop with the nudge on every element)
            assert same_bits(got, inplace), (name, n, where)
            assert same_bits(got[where], _half_rounded_up(x[where])), (name, n, where)
        assert same_bits(act(tiny, **p), _half_rounded_up(tiny)), name


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
    assert np.all(np.signbit(a)) and np.all(a == 0)
    assert np.all(np.signbit(b)) and np.all(b == 0)  # (-0.0 is the slope 0 too)
    # int 1 and float 1.0: two signatures (an int parameter is validated as an int)
    for p in (1, 1.0):
        assert same_bits(rk.elu(x, p), rk.elu(x, alpha=p))
    keys = [k for k in _dispatch._CALLS if k[0] is rk.elu]
    assert {k[-1][0] for k in keys} == {int, float}


def test_call_cache_plans_once_and_follows_the_switches(monkeypatch):
    x = np.linspace(-2, 2, 5000)
    plans = []
    real = _kernels.plan
    monkeypatch.setattr(_kernels, "plan", lambda *a, **k: plans.append(a[1]) or real(*a, **k))
    want_formulas = numpy_formulas(rk.silu, x.copy())
    plans.clear()
    for _ in range(3):
        got = rk.silu(x)
    assert plans.count("value") == 1  # planned once, then from the cache
    assert not same_bits(got, want_formulas)  # (the kernels and the formulas differ here)
    with _kernels.switched(enabled=False):  # switched off: the NumPy formulas, at once
        assert same_bits(rk.silu(x), want_formulas)
        assert same_bits(rk.silu(x, out=np.empty_like(x)), want_formulas)
    assert same_bits(rk.silu(x), got)  # and back on: the kernels again
    _dispatch._CALLS.clear()
    with _kernels.switched(enabled=False):  # a signature first seen switched off ...
        assert same_bits(rk.silu(x), want_formulas)
        assert same_bits(rk.silu(x), want_formulas)
    assert same_bits(rk.silu(x), got)  # ... gets its kernel once switched on


# ---------------------------------------------------------------------------
# threads: relukit's pool (numba's OpenMP threads: test_kernels_threads.py)
# ---------------------------------------------------------------------------


def _copy_kernel(calls: list[int]):
    def kernel(x, y):
        calls.append(x.size)
        y[:] = x

    return kernel


def test_thread_count_follows_the_size(monkeypatch):
    woken = []
    monkeypatch.setattr(th, "_wake", lambda n, job: woken.append(n))
    monkeypatch.setattr(th, "NUMBA_THREADS", False)
    monkeypatch.setattr(th, "_free_cpus", lambda: 64)
    monkeypatch.setattr(th, "PARALLEL_MIN_SIZE", 1)
    calls: list[int] = []
    for n, threads in ((64, 1), (65, 2), (64 * 3, 3), (64 * 100, 8)):
        x = np.arange(n, dtype=np.float64)
        y = np.zeros_like(x)
        calls.clear()
        woken.clear()
        th.run(_copy_kernel(calls), x, y, arrays=2, grain=64, threads=8)
        assert np.array_equal(y, x)  # the caller did every chunk (no worker was woken)
        # chunks of the grain, or of an eighth of a thread's share when that is larger
        assert sum(calls) == n and max(calls) <= max(64, -(-n // (8 * 8 * 64)) * 64)
        assert woken == ([threads - 1] if threads > 1 else [])
    calls.clear()
    th.run(_copy_kernel(calls), x, y, arrays=2, grain=64, threads=1)
    assert calls == [x.size] and woken == [7]  # threads=1: one call, no helper


def test_below_parallel_min_size_the_caller_runs_alone(monkeypatch):
    woken = []
    monkeypatch.setattr(th, "_wake", lambda n, job: woken.append(n))
    monkeypatch.setattr(th, "NUMBA_THREADS", False)
    monkeypatch.setattr(th, "_free_cpus", lambda: 64)
    calls: list[int] = []
    x = np.arange(th.PARALLEL_MIN_SIZE - 1, dtype=np.float64)
    th.run(_copy_kernel(calls), x, np.empty_like(x), arrays=2, grain=64, threads=8)
    assert calls == [x.size] and woken == []


def test_no_helper_thread_on_a_busy_machine(monkeypatch):
    woken = []
    monkeypatch.setattr(th, "_wake", lambda n, job: woken.append(n))
    monkeypatch.setattr(th, "NUMBA_THREADS", False)
    monkeypatch.setattr(th, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    x = np.arange(640, dtype=np.float64)
    y = np.zeros_like(x)
    monkeypatch.setattr(th, "_cpu_counters", lambda: None)  # the load average
    for load, helpers in ((0.2, [3]), (1.4, [3]), (2.5, [2]), (3.2, [1]), (4.0, []), (9.0, [])):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        monkeypatch.setattr(th, "_load_seen", [-1.0, 1, None])  # look again now
        woken.clear()
        th.run(_copy_kernel([]), x, y, arrays=2, grain=64, threads=4)
        assert woken == helpers and np.array_equal(y, x)


def test_free_cpus_from_cpu_time_not_counting_this_process(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    # (busy, total, this process's busy) ticks over 100 ticks of wall time on 4 CPUs
    for others, mine, free in ((0, 0, 4), (0, 380, 4), (150, 200, 3), (260, 100, 1), (400, 0, 1)):
        readings = iter([(0.0, 0.0, 0.0), (float(others + mine), 400.0, float(mine))])
        monkeypatch.setattr(th, "_cpu_counters", lambda r=readings: next(r))
        monkeypatch.setattr(th, "_load_seen", [-1.0, 1, None])
        th._free_cpus()  # the first look: counters kept
        th._load_seen[0] = -1.0  # the next look is due
        assert th._free_cpus() == free, (others, mine)


def test_cpu_counters_read_proc():
    got = th._cpu_counters()
    if not os.path.exists("/proc/stat"):
        assert got is None
        return
    busy, total, mine = got
    assert 0 <= busy <= total and mine >= 0


def test_a_late_worker_is_not_waited_for(monkeypatch):
    # workers that are never scheduled (a busy machine): the caller does all the chunks
    monkeypatch.setattr(th, "_wake", lambda n, job: None)
    monkeypatch.setattr(th, "NUMBA_THREADS", False)
    monkeypatch.setattr(th, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(th, "_free_cpus", lambda: 64)
    x = np.resize(inputs(np.float32), 5000)
    y = np.empty_like(x)
    p = _kernels.plan(rk.relu, "value", np.float32, {}, None)
    th.run(p.kernel, x, y, p.args, p.kinks, arrays=2, grain=256, threads=4)
    want = np.where(x > 0, x, np.where(np.isnan(x), x, np.float32(0)))
    assert np.array_equal(y, want, equal_nan=True) and not np.signbit(y[x == 0]).any()


def test_the_pool_shares_every_kind_and_gives_the_serial_bits(pool):
    x = np.resize(inputs(np.float64, rk.hardswish), 3001)
    g = gradient_for(x)
    with _kernels.switched(threads=1):
        want = (rk.hardswish(x), *rk.hardswish.value_and_derivative(x, at_kink=0.5),
                backward(rk.hardswish, x, g))  # fmt: skip
    got = (rk.hardswish(x), *rk.hardswish.value_and_derivative(x, at_kink=0.5),
           backward(rk.hardswish, x, g))  # fmt: skip
    assert all(same_bits(a, b) for a, b in zip(got, want, strict=True))
    assert len(pool) == 6


def test_concurrent_calls_from_threads(pool):
    with np.errstate(invalid="ignore"):  # (the signalling NaNs)
        xs = [np.resize(inputs(np.float32), 20000) + i for i in range(8)]
    with _kernels.switched(threads=1):
        wants = [(rk.relu(x), rk.silu(x)) for x in xs]
    with ThreadPoolExecutor(4) as ex:
        gots = list(ex.map(lambda x: (rk.relu(x), rk.silu(x)), xs * 4))
    for g, w in zip(gots, wants * 4, strict=True):
        assert same_bits(g[0], w[0]) and same_bits(g[1], w[1])


def test_an_error_in_a_worker_chunk_reaches_the_caller(monkeypatch):
    # an error that is no compilation failure is raised, not turned into a fallback
    monkeypatch.setattr(th, "NUMBA_THREADS", False)
    monkeypatch.setattr(th, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(th, "_free_cpus", lambda: 64)

    def kernel(x, y):
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("worker failed")
        y[:] = 99.0
        import time

        time.sleep(0.01)  # leave chunks to the workers

    x = np.zeros(64 * 50)
    with pytest.raises(RuntimeError, match="worker failed"):
        th.run(kernel, x, np.empty_like(x), arrays=2, grain=64, threads=4)


_FORK_SCRIPT = """
import os, sys, numpy as np, relukit as rk
from relukit import _kernels, _kernels_threads as th
x = np.linspace(-1, 1, 100_001, dtype=np.float32)
th.PARALLEL_MIN_SIZE = 1
th.GRAIN = dict.fromkeys(th.GRAIN, 1024)
th._free_cpus = lambda: 2
th.NUMBA_THREADS = False
with _kernels.switched(threads=2):
    parent = rk.relu(x), rk.silu(x)
    assert th._queues  # worker threads started
    pid = os.fork()
    if pid == 0:
        ok = np.array_equal(rk.relu(x), parent[0]) and np.array_equal(rk.silu(x), parent[1])
        os._exit(0 if ok and th._queues else 3)
    _, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_runs_the_kernels_with_new_threads():
    # in a fresh interpreter: forking this test process (JAX threads) could deadlock
    res = _python(_FORK_SCRIPT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0"  # the child computed the same results, no hang


# ---------------------------------------------------------------------------
# prelu with one weight per channel
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(7, 5), (3, 5, 4, 6), (2, 5, 9)])
def test_prelu_per_channel_kernel_equals_the_numpy_formula(shape, dtype, pool):
    act = rk.prelu
    n = math.prod(shape)
    x = np.resize(inputs(dtype, act), n).reshape(shape)
    weights = [
        [0.0, -0.0, 0.25, -2.0, 1e-50],  # one per channel (5)
        np.array([0.1, 0.2, 0.0, 3.0, -0.5], dtype=np.float32),
        [0.3],  # one weight as an array: the one-weight kernel
    ]
    for w in weights:
        for at_kink in (None, 1.0):
            got = act.value_and_derivative(x, w, at_kink=at_kink)
            want = numpy_formulas(act.value_and_derivative, x, w, at_kink=at_kink)
            assert same_bits(got, want)  # (exact formulas: the same bits)
            y = np.empty_like(x)
            assert act(x, w, out=y) is y and same_bits(y, want[0])
            assert same_bits(act.derivative(x, w, at_kink=at_kink), want[1])
            g = gradient_for(x)
            with np.errstate(all="ignore"):
                want_b = g * want[1]
            assert same_bits(backward(act, x, g, {"weight": w}, at_kink), want_b)
    names = " ".join(pool)
    assert "_ch_both" in names and "_ch_backward" in names and "_prelu_both" in names


def test_prelu_bad_weights_raise_and_write_nothing():
    x = np.ones((4, 3))
    out = np.full_like(x, 7.0)
    for w, err, match in (
        ([0.1, 0.2], ValueError, "weight has 2 elements but x has 3 channel"),
        ([0.1, np.nan, 0.2], ValueError, "weight must be finite"),
        (np.ones((3, 1)), ValueError, "weight must be a scalar or 1-D"),
        (np.array(["a", "b", "c"]), TypeError, "weight must be a real number or a 1-D array"),
    ):
        with pytest.raises(err, match=match):
            rk.prelu(x, w, out=out)
        with pytest.raises(err, match=match):
            backward(rk.prelu, x, x, {"weight": w}, out=out)
    assert np.array_equal(x, np.ones((4, 3))) and np.all(out == 7.0)


# ---------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_backward_matches_torch_autograd(dtype):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal(500).astype(dtype)
    x[:3] = [0.0, -0.0, 1e-30]
    g = np.random.default_rng(3).standard_normal(500).astype(dtype)
    for name, fn, params in (
        ("relu", torch.relu, {}),
        ("leaky_relu", lambda t: torch.nn.functional.leaky_relu(t, 0.2), {"negative_slope": 0.2}),
        ("relu6", torch.nn.functional.relu6, {}),
        # (torch's float64 hardsigmoid backward multiplies by a float32 1/6)
        *([("hardsigmoid", torch.nn.functional.hardsigmoid, {})] if dtype == np.float32 else []),
    ):
        t = torch.from_numpy(x.copy()).requires_grad_(True)
        fn(t).backward(torch.from_numpy(g))
        got = backward(rk.get(name), x, g, params)
        assert np.array_equal(got, t.grad.numpy()), name


def test_backward_rejects_bad_input_and_leaves_inputs_alone():
    x = np.array([-1.0, 2.0])
    g = np.ones(2)
    with pytest.raises(TypeError, match=r"x must be a NumPy array of a floating dtype.*list"):
        backward(rk.relu, [-1.0, 2.0], g)
    with pytest.raises(TypeError, match=r"grad_out must be a NumPy array.*int64"):
        backward(rk.relu, x, np.ones(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"grad_out must have the shape and dtype of x"):
        backward(rk.relu, x, np.ones(3))
    with pytest.raises(ValueError, match=r"grad_out must have the shape and dtype of x"):
        backward(rk.relu, x, np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"out has shape \(3,\)"):
        backward(rk.relu, x, g, out=np.empty(3))
    ro = np.empty(2)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"out is read-only"):
        backward(rk.relu, x, g, out=ro)
    with pytest.raises(TypeError, match=r"unexpected parameter 'slope'"):
        backward(rk.leaky_relu, x, g, {"slope": 0.1})
    with pytest.raises(TypeError, match=r"at_kink must be None"):
        backward(rk.relu, x, g, at_kink="one")
    assert np.array_equal(x, [-1.0, 2.0]) and np.array_equal(g, [1.0, 1.0])


@pytest.mark.parametrize("act", [a for a in rk.catalogue() if a.gated], ids=lambda a: a.name)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_backward_of_a_gated_entry_is_a_type_error_and_the_kernels_stay_on(act, dtype):
    # backward is grad_out * f'(x) for one input; a gated entry has two (its derivative
    # is the pair). It once ran the gated kernel with one input's arguments: numba's
    # TypingError switched the kernels off for the whole process.
    x = np.linspace(-2, 2, 300).astype(dtype)
    g = np.ones_like(x)
    before = x.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (the kernels' "unavailable" warning would raise)
        with pytest.raises(
            TypeError, match=rf"{act.name} backward: .*gated.*derivative\(gate, up\)"
        ):
            backward(act, x, g)
        assert _kernels.plan(rk.silu, "value", dtype, {}, None) is not None
        np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------------------
# independent oracles
# ---------------------------------------------------------------------------


def _ref(name, v, slope=0.01):
    """relu and leaky_relu per element, from the definition (docs/design.md)."""
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
    v, d = rk.relu.value_and_derivative(x)
    lv, ld = rk.leaky_relu.value_and_derivative(x, negative_slope=slope)
    for name, (gv, gd), kw in (("relu", (v, d), {}), ("leaky", (lv, ld), {"slope": slope})):
        want = [_ref(name, float(e), **kw) for e in x]
        wv = np.array([w[0] for w in want])
        wd = np.array([w[1] for w in want])
        assert np.array_equal(gv, wv, equal_nan=True)
        assert np.array_equal(np.signbit(gv), np.signbit(wv))
        assert np.array_equal(gd, wd, equal_nan=True)


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
def test_threshold_kernel_awkward_parameters(t, value, dtype, pool):
    x = inputs(dtype, rk.threshold, {"threshold": t})
    for at_kink in (None, -0.0, 2.0):
        got_v, got_d = rk.threshold.value_and_derivative(x, t, value, at_kink=at_kink)
        want = numpy_formulas(rk.threshold.value_and_derivative, x, t, value, at_kink=at_kink)
        assert same_bits((got_v, got_d), want)
        assert same_bits(rk.threshold(x, t, value), want[0])
    assert pool and all("threshold" in name for name in pool)
    if dtype == np.float64:  # independent oracle: the definition, element by element
        ref = np.array([_threshold_ref(float(v), t, value) for v in x])
        assert np.array_equal(got_v, ref, equal_nan=True)
        assert np.array_equal(np.signbit(got_v), np.signbit(ref))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_rrelu_evaluation_is_leaky_relu_training_draws(dtype, pool):
    x = inputs(dtype, rk.rrelu)
    lower, upper = 0.1, 0.4
    got = rk.rrelu.value_and_derivative(x, lower, upper)
    assert pool == ["_leaky_both_64"]  # leaky_relu's kernel
    # the oracle: leaky_relu with the mean slope rounded to the dtype, from the definition
    slope = dtype((lower + upper) / 2)
    with np.errstate(all="ignore"):
        ref = np.where(x > 0, x, x * slope)
    assert np.array_equal(got[0], ref, equal_nan=True)
    # training draws one slope per element: the NumPy formula, the same draws for one seed
    pool.clear()
    v, d = rk.rrelu.value_and_derivative(x, lower, upper, training=True, rng=7)
    assert pool == []
    v2, d2 = numpy_formulas(rk.rrelu.value_and_derivative, x, lower, upper, training=True, rng=7)
    assert same_bits(v, v2) and same_bits(d, d2)
    neg = x < 0
    assert len(np.unique(d[neg])) > 1 and np.all((d[neg] >= lower) & (d[neg] <= upper))
    # lower == upper draws nothing: the kernel again
    same = rk.rrelu(x, 0.2, 0.2, training=True)
    assert pool == ["_leaky_value_64"]
    assert same_bits(same, rk.leaky_relu(x, 0.2))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_threshold_and_rrelu_kernels_match_torch(dtype):
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


# ---------------------------------------------------------------------------
# no hidden copies
# ---------------------------------------------------------------------------


def _peak(fn, repeat: int = 3) -> int:
    """The fewest bytes ``fn()`` allocates at its peak, over ``repeat`` calls.

    tracemalloc sees every thread: a thread left by an earlier test (Dask's, a thread
    pool's) may allocate during one call; an allocation of ``fn`` itself shows in every
    call, so the minimum is ``fn``'s own.
    """
    peaks = []
    for _ in range(repeat):
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            fn()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        finally:
            tracemalloc.stop()
    return min(peaks)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_peak_memory_is_the_output_only(dtype):
    x = np.linspace(-1, 1, 1 << 20, dtype=dtype)
    y, d = np.empty_like(x), np.empty_like(x)
    slack = 64 * 1024  # Python objects; far below the nbytes / 8 of a boolean temporary
    for act in rk.catalogue():
        if act.gated:  # two inputs, or one split in halves: test_gated_peak_memory_...
            continue
        calls = {
            "value": (lambda a=act: a(x), x.nbytes),
            "derivative": (lambda a=act: a.derivative(x), x.nbytes),
            "both": (lambda a=act: a.value_and_derivative(x), 2 * x.nbytes),
            "value out": (lambda a=act: a(x, out=y), 0),
            "derivative out": (lambda a=act: a.derivative(x, out=y), 0),
            "both out": (lambda a=act: a.value_and_derivative(x, out=(y, d)), 0),
        }
        for call, _ in calls.values():
            call()  # compile / load every kernel first (a cold cache compiles on first use)
        for what, (call, limit) in calls.items():
            assert _peak(call) <= limit + slack, (act.name, what, _peak(call))
    # the measurement does see NumPy's temporaries: the NumPy formulas allocate more
    with _kernels.switched(enabled=False):
        assert _peak(lambda: rk.relu(x, out=y)) >= x.nbytes // 8


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_gated_peak_memory_is_the_output_only(dtype):
    # both calling forms: the kernel writes into out= (the split form's derivative: into
    # the halves of one array, never two arrays joined afterwards)
    x = np.linspace(-1, 1, 1 << 20, dtype=dtype)
    h = x.size // 2
    gate, up = x[h:].copy(), x[:h].copy()
    v, v2, d = np.empty(h, dtype), np.empty(h, dtype), np.empty_like(x)
    dg, du = np.empty(h, dtype), np.empty(h, dtype)
    slack = 64 * 1024
    for act in (a for a in rk.catalogue() if a.gated):
        calls = {
            "split value": (lambda a=act: a(x), h),
            "split derivative": (lambda a=act: a.derivative(x), 2 * h),
            "split both": (lambda a=act: a.value_and_derivative(x), 3 * h),
            "split value out": (lambda a=act: a(x, out=v), 0),
            "split derivative out": (lambda a=act: a.derivative(x, out=d), 0),
            "split both out": (lambda a=act: a.value_and_derivative(x, out=(v, d)), 0),
            "pair value": (lambda a=act: a(gate, up), h),
            "pair derivative": (lambda a=act: a.derivative(gate, up), 2 * h),
            "pair value out": (lambda a=act: a(gate, up, out=v), 0),
            "pair derivative out": (lambda a=act: a.derivative(gate, up, out=(dg, du)), 0),
            "pair both out": (
                lambda a=act: a.value_and_derivative(gate, up, out=(v2, (dg, du))),
                0,
            ),
        }
        for what, (call, elements) in calls.items():
            call()  # compile / load the kernels first
            limit = elements * x.itemsize + slack
            assert _peak(call) <= limit, (act.name, what, _peak(call), limit)
        # the results written in place are the ones returned without out=
        want = act.value_and_derivative(gate, up)
        act.value_and_derivative(x, out=(v, d))
        np.testing.assert_array_equal(v, want[0])
        np.testing.assert_array_equal(d, np.concatenate([want[1][1], want[1][0]]))
        act.value_and_derivative(gate, up, out=(v2, (dg, du)))
        np.testing.assert_array_equal(v2, want[0])
        np.testing.assert_array_equal(dg, want[1][0])
        np.testing.assert_array_equal(du, want[1][1])


def test_gated_out_overlapping_the_input_is_computed_from_the_input():
    # out= that shares memory with an input: the kernel writes a new array, copied after
    x = np.linspace(-3, 3, 4000)
    for act in (a for a in rk.catalogue() if a.gated):
        want_d = act.derivative(x)
        got = x.copy()
        assert act.derivative(got, out=got) is got
        np.testing.assert_array_equal(got, want_d)
        gate, up = x[2000:].copy(), x[:2000].copy()
        want = act(gate, up)
        assert act(gate, up, out=gate) is gate
        np.testing.assert_array_equal(gate, want)
        g2, u2 = x[2000:].copy(), x[:2000].copy()
        want_pair = act.derivative(g2, u2)
        res = act.derivative(g2, u2, out=(u2, g2))  # d/d gate into up, d/d up into gate
        np.testing.assert_array_equal(res[0], want_pair[0])
        np.testing.assert_array_equal(res[1], want_pair[1])


# ---------------------------------------------------------------------------
# numba missing or failing: one warning, the NumPy formulas, never an error
# ---------------------------------------------------------------------------


def test_missing_numba_warns_once_and_falls_back(monkeypatch):
    x = np.resize(inputs(np.float32), 500)
    want = numpy_formulas(rk.relu, x)
    want_d = numpy_formulas(rk.leaky_relu.derivative, x)
    _dispatch._CALLS.clear()
    monkeypatch.setattr(_kernels, "_build", None)
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    monkeypatch.delitem(sys.modules, "relukit._kernels_build", raising=False)
    monkeypatch.delattr(rk, "_kernels_build", raising=False)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = [rk.relu(x), rk.relu(x), rk.leaky_relu.derivative(x)]
    assert len(rec) == 1  # one warning for three calls
    msg = str(rec[0].message)
    assert msg.startswith("relukit: the numba kernels are unavailable") and "ModuleNotFound" in msg
    assert "RELUKIT_DISABLE_KERNELS=1" in msg and rec[0].category is RuntimeWarning
    assert same_bits(got[0], want) and same_bits(got[1], want) and same_bits(got[2], want_d)
    assert _kernels._build is False and not _kernels.available()


def test_a_kernel_that_fails_to_compile_warns_once_and_falls_back(monkeypatch):
    from numba.core.errors import TypingError

    def broken(*args):
        raise TypingError("compilation failed")

    fake = types.SimpleNamespace(kernel=lambda *a, **k: broken)
    monkeypatch.setattr(_kernels, "_build", fake)
    x = np.resize(inputs(np.float64), 500)
    y = np.empty_like(x)
    g = np.ones_like(x)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        v = rk.relu(x, out=y)
        d = rk.leaky_relu.derivative(x)
        b = backward(rk.relu, x, g)
    assert len(rec) == 1 and rec[0].category is RuntimeWarning
    assert "(TypingError: " in str(rec[0].message) and "compilation failed" in str(rec[0].message)
    monkeypatch.undo()
    assert v is y and same_bits(y, numpy_formulas(rk.relu, x))
    assert same_bits(d, numpy_formulas(rk.leaky_relu.derivative, x))
    with np.errstate(invalid="ignore"):  # (the signalling NaN)
        assert same_bits(b, g * numpy_formulas(rk.relu.derivative, x))


def test_an_error_that_is_no_compilation_failure_is_raised(monkeypatch):
    def broken(*args):
        raise ZeroDivisionError("not a compiler's error")

    monkeypatch.setattr(_kernels, "_build", types.SimpleNamespace(kernel=lambda *a, **k: broken))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning
        with pytest.raises(ZeroDivisionError, match="not a compiler's error"):
            rk.relu(np.ones(10))


# ---------------------------------------------------------------------------
# the layering
# ---------------------------------------------------------------------------

PKG = pathlib.Path(rk.__file__).parent
KERNEL_MODULES = [
    "_kernels.py",
    "_kernels_build.py",
    "_kernels_loops.py",
    "_kernels_threads.py",
    "_kernels_par.py",
    "_kernels_half.py",
    "_prims/__init__.py",
    "_prims/numba64.py",
    "_prims/numba32.py",
    "_prims/numpy.py",
    "_prims/shared.py",
    "_prims/tables.py",
]


@pytest.mark.parametrize("module", KERNEL_MODULES)
def test_kernel_modules_import_nothing_above_them(module):
    # the primitives, the runtime and its loops never import the catalogue, the entries
    # or the dispatcher: the formulas are handed to them
    seen = []
    for node in ast.walk(ast.parse((PKG / module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("relukit"):
            seen.append(node.module)
            if node.module == "relukit":
                seen += [f"relukit.{a.name}" for a in node.names]
        if isinstance(node, ast.Import):
            seen += [a.name for a in node.names if a.name.startswith("relukit")]
    allowed = ("relukit._kernels", "relukit._kernel_cache", "relukit._prims")
    assert all(name.startswith(allowed) for name in seen if name != "relukit"), (module, seen)
    assert bits(np.zeros(1)).dtype == np.uint64  # (the helpers: native bits)


# ---------------------------------------------------------------------------
# parameters refused for the dtype; first calls from many threads
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("slope", [1e-50, 1e300, 1e39])
def test_a_slope_beyond_the_dtypes_normal_numbers_is_refused_by_both_paths(slope):
    # the kernels and the NumPy formulas refuse it with one message, writing nothing
    x = np.linspace(-2, 2, 301, dtype=np.float32)
    x_before = x.copy()
    calls = (rk.leaky_relu, rk.leaky_relu.derivative, rk.leaky_relu.value_and_derivative)
    for call in calls:
        messages = set()
        for run in (call, lambda *a, c=call, **k: numpy_formulas(c, *a, **k)):
            with pytest.raises(ValueError, match="negative_slope") as info:
                run(x, negative_slope=slope)
            messages.add(str(info.value))
        assert len(messages) == 1, messages
        assert "float32" in messages.pop()
    assert same_bits(x, x_before)


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
from relukit import _kernels_threads
print("wrong", wrong, "numba threads", _kernels_threads.NUMBA_THREADS)
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


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "gelu", "silu", "hardswish"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_runs_the_one_array_loop_with_the_same_bits(name, dtype, monkeypatch):
    """``out=x`` runs the value loop over the one array (a two-array loop given the same
    array twice is not vectorised: the compiler's overlap check fails): the same bits as
    out of place, on one thread and shared between threads."""
    ran: list[int] = []
    real = th.run

    def spy(kernel, *args, arrays=2, **kw):
        ran.append(arrays)
        return real(kernel, *args, arrays=arrays, **kw)

    monkeypatch.setattr(th, "run", spy)
    act = rk.get(name)
    x = (np.random.default_rng(3).standard_normal(300_000) * 4).astype(dtype)
    x[:6] = [np.nan, -np.inf, np.inf, -0.0, 0.0, 5e-45 if dtype == np.float32 else 5e-324]
    want = act(x)
    act(x.copy(), out=x.copy())  # (planned: the calls below take the short path)
    plan = _dispatch._CALLS[(act, "value", x.dtype)].plan
    ran.clear()
    kernels = {"inplace": plan.inplace, "kernel": plan.kernel}
    try:  # one thread: the loop is called directly (a Plan is frozen: set around that)
        for name_, tag in (("inplace", 1), ("kernel", 2)):
            k = kernels[name_]
            object.__setattr__(plan, name_, lambda *a, _k=k, _t=tag: ran.append(_t) or _k(*a))
        with _kernels.switched(threads=1):
            y = x.copy()
            assert act(y, out=y) is y
            assert ran == [1], ran
            np.testing.assert_array_equal(y.view(np.uint8), want.view(np.uint8))
    finally:
        for name_, k in kernels.items():
            object.__setattr__(plan, name_, k)
    monkeypatch.setattr(th, "run", spy)
    with _kernels.switched(threads=2):  # shared between threads: th.run with one array
        ran.clear()
        y = x.copy()
        assert act(y, out=y) is y
        assert ran == [1], ran
        np.testing.assert_array_equal(y.view(np.uint8), want.view(np.uint8))
