"""The kernel layer: numba fast paths for NumPy float arrays (a leaf: imports nothing above).

NumPy's ``where``/``maximum`` formulas make temporaries and run on one thread; the
kernels read ``x`` once and write each result once, in one pass for
``value_and_derivative`` and for ``backward`` (``grad_out * derivative``).

How it fits
-----------
The dispatcher (:mod:`relukit._dispatch`) checks that the activation is the registered
catalogue entry of its name, asks :func:`static_plan` once per call signature (entry,
kind, dtype, parameter values, ``at_kink``) and keeps the plan; :func:`execute` then
runs it on each array, or returns :data:`NOT_RUN` for the NumPy path. A kernel is used
when all of these hold:

* kernels are enabled (``RELUKIT_DISABLE_KERNELS`` unset or ``0``) and numba works;
* the entry has a :class:`KernelSpec` in :data:`KERNELS` that covers its parameters and
  the dtype (gelu(tanh) in float64 keeps the NumPy path's compensated tail);
* ``x`` is a plain ``numpy.ndarray`` of float32 or float64 in native byte order (or
  float16: widened to float64, the float64 kernel, rounded once to float16, as the
  NumPy path computes it, the conversions with the loops of
  :mod:`relukit._kernels_half`; hardtanh and threshold only with float16 parameters), with
  at least :data:`MIN_SIZE` elements (a strided, Fortran-ordered or unaligned ``x`` is
  copied to a C-contiguous array first, when no ``out`` is given);
* every ``out`` array is C-contiguous and aligned and is either ``x`` itself (in place)
  or does not overlap ``x``.

The piecewise-linear entries (relu, leaky_relu, relu6, hardtanh, prelu, threshold, and
rrelu in evaluation mode: leaky_relu's kernels with the mean slope), hardswish,
hardsigmoid and sparse_plus reproduce the NumPy path bit for bit, NaN payloads, ``-0.0``
and ``±inf`` included (``tests/test_kernels.py``). The smooth entries compute in float64
with the vectorisable functions of :mod:`relukit._kernels_math` (squareplus: ``sqrt``
and divisions in place of the NumPy path's ``hypot``; float32: one rounding at the end,
<= 0.5 ulp; float64: a few ulp), with the NumPy path's special values
(``tests/test_kernels_smooth.py``, ``relukit bench accuracy``); float32 arrays use the
``<name>_f32_<kind>`` loops where there are some (leaner functions, clipped arguments).

Threads
-------
The loops are serial numba functions that release the GIL. A call with work enough for
two threads (each entry's cost per element sets its :data:`GRAIN`: from 4,096 elements
for gelu, 65,536 for relu; never below :data:`PARALLEL_MIN_SIZE`) is shared out in one
of two ways:

* with numba's OpenMP or TBB threading layer (:data:`NUMBA_THREADS`), a parallel
  version of the loop (:mod:`relukit._kernels_par`) runs one slice per thread. Their
  threads spin briefly between calls, so back-to-back calls hand over in about a
  microsecond, as torch's do. A fork-join region waits for every thread, so it is
  started only on CPUs that other processes leave idle (:func:`_idle_cpus`): on a busy
  machine the call runs in the calling thread alone, never waiting for a descheduled
  worker;
* otherwise (numba's ``workqueue`` layer, a forked child, ``RELUKIT_THREADING=pool``),
  chunks of :data:`GRAIN` elements are shared between the calling thread and up to
  ``THREADS - 1`` workers of relukit's own pool, which take the next chunk from a shared
  counter until none is left; a worker that the OS has not scheduled yet takes nothing.

Either way the thread count follows the size and the CPUs left free by other processes.

numba is imported when a kernel is first planned, never by ``import relukit`` or for
arrays below :data:`MIN_SIZE`; each kernel is compiled on its first call for a dtype
and cached on disk (:mod:`relukit._kernel_cache`: in the user's cache directory, keyed
by the content of the kernel sources; with no writable location, compiled in memory in
each process after one warning). If numba is missing or a kernel fails to compile,
relukit warns once (``RuntimeWarning``) and uses the NumPy path from then on.

Settings
--------
``RELUKIT_KERNEL_MIN_SIZE``
    The smallest array (elements) given to a kernel (default :data:`DEFAULT_MIN_SIZE`),
    except that once numba is loaded, smaller float32/float64 arrays of the entries whose
    kernels are bit for bit the NumPy path run them too (:func:`small_ok`): 2 us per
    call where ``np.where`` formulas took 5-16. Tests set :data:`MIN_SIZE` to 1 to force
    the kernel path.
``RELUKIT_NUM_THREADS``
    The most threads one call uses (default: the CPUs this process may run on).
``RELUKIT_DISABLE_KERNELS=1``
    Never use a kernel (sets :data:`ENABLED` to False).
``RELUKIT_THREADING=pool``
    Share large calls with relukit's own thread pool, never numba's threads.
``NUMBA_CACHE_DIR``
    The compiled kernels are cached in its ``relukit`` subdirectory (default: the user's
    cache directory, :mod:`relukit._kernel_cache`).

Examples
--------
>>> import numpy as np
>>> import relukit as rk
>>> from relukit._dispatch import backward
>>> x = np.linspace(-1, 1, 5, dtype=np.float32)
>>> g = np.ones_like(x)
>>> backward(rk.relu, x, g)
array([0., 0., 0., 1., 1.], dtype=float32)
>>> backward(rk.leaky_relu, x, g, {"negative_slope": 0.5})
array([0.5, 0.5, 0.5, 1. , 1. ], dtype=float32)
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

# which entries have kernels, and how their parameters are packed
from relukit._kernels_specs import KERNELS, KernelSpec

__all__ = [
    "DEFAULT_MIN_SIZE", "ENABLED", "FRESH_LIMIT", "GRAIN", "KERNELS", "MIN_SIZE",
    "NOT_RUN", "NUMBA_THREADS", "PARALLEL_MIN_SIZE", "THREADS", "KernelSpec", "backward_kernel",
    "execute", "small_ok", "static_plan", "switched"
]  # fmt: skip

#: The default size threshold (elements). A kernel call costs about 0.6 us plus its
#: elements (``relukit bench speed --threshold``): from a few hundred elements on it
#: beats the NumPy path (``np.where`` and temporaries: 5 us for relu at 10**3 float32
#: elements, 20x that for gelu). Smaller arrays stay on the NumPy path, which also
#: keeps numba unimported for them.
DEFAULT_MIN_SIZE = 1 << 8

#: Elements per chunk of relukit's pool, by the kernel's cost per element (a multiple of
#: 64): about 25-35 us of one core's work each (single-thread float32, AMD Zen 4:
#: "memory" the piecewise-linear entries, about 0.09 ns per element; "light" hardswish,
#: hardsigmoid, sparse_plus, 0.25 ns; "compute" elu, selu, celu, silu, mish, squareplus,
#: 0.75-1.7 ns; "heavy" gelu and softplus, 1.1-2.7 ns), so that the pool's hand-over
#: (tens of us) never dominates. numba's threads (:func:`_run`) take slices of at least
#: an eighth of it, 3-4 us of work: a call gets a second thread once each has that
#: much to do, which is where two threads start to beat one (gelu from 4,096 elements,
#: silu from 8,192, relu from 65,536).
GRAIN = {"memory": 1 << 18, "light": 1 << 17, "compute": 1 << 15, "heavy": 1 << 14}

#: Below this size (elements) every kernel runs in the calling thread only.
PARALLEL_MIN_SIZE = 1 << 12


def _env_threads() -> int:
    raw = os.environ.get("RELUKIT_NUM_THREADS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            warnings.warn(
                f"RELUKIT_NUM_THREADS={raw!r} is not an integer; using the CPU count",
                RuntimeWarning,
                stacklevel=2,
            )
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


#: The most threads a kernel call uses (the calling thread included):
#: ``RELUKIT_NUM_THREADS``, else the CPUs this process may run on.
THREADS: int = _env_threads()


def _env_min_size() -> int:
    raw = os.environ.get("RELUKIT_KERNEL_MIN_SIZE", "")
    try:
        return max(1, int(raw)) if raw.strip() else DEFAULT_MIN_SIZE
    except ValueError:
        warnings.warn(
            f"RELUKIT_KERNEL_MIN_SIZE={raw!r} is not an integer; using {DEFAULT_MIN_SIZE}",
            RuntimeWarning,
            stacklevel=2,
        )
        return DEFAULT_MIN_SIZE


#: Smallest array size (elements) sent to a kernel; monkeypatch it to force kernels.
MIN_SIZE: int = _env_min_size()

#: False when ``RELUKIT_DISABLE_KERNELS`` is set to anything but ``""``/``0``/``false``.
ENABLED: bool = os.environ.get("RELUKIT_DISABLE_KERNELS", "").strip().lower() in (
    "",
    "0",
    "false",
    "no",
)


@contextlib.contextmanager
def switched(enabled: bool, min_size: int | None = None) -> Iterator[None]:
    """Set :data:`ENABLED` (and :data:`MIN_SIZE`) for the duration of a ``with`` block.

    For comparisons of the two paths (the accuracy benchmark, the tests): ``False``
    gives the NumPy path, ``True`` with ``min_size=1`` the kernels at any size. Not
    thread-safe: the settings are the module's.

    >>> import numpy as np, relukit as rk
    >>> with switched(False):
    ...     float(rk.relu(np.array([-1.0, 2.0]))[1])
    2.0
    """
    global ENABLED, MIN_SIZE
    old = ENABLED, MIN_SIZE
    ENABLED = enabled
    if min_size is not None:
        MIN_SIZE = min_size
    try:
        yield
    finally:
        ENABLED, MIN_SIZE = old


# The numba module once loaded (None: not tried yet; False: unavailable, warned).
_impl: Any = None
_np: Any = None  # NumPy, once a plan was made (execute runs only on planned calls)


def _broken(exc: BaseException) -> None:
    """Switch the kernels off for this process, with one RuntimeWarning."""
    global _impl
    if _impl is False:
        return
    _impl = False
    warnings.warn(
        f"relukit: the numba kernels are unavailable ({type(exc).__name__}: {exc}); "
        "using the NumPy path, which gives the same results more slowly "
        "(set RELUKIT_DISABLE_KERNELS=1 to skip the kernels and this warning)",
        RuntimeWarning,
        stacklevel=4,
    )


def _load() -> Any:
    """The kernel module, importing numba on first use; ``None`` when unavailable."""
    global _impl
    if _impl is None:
        try:
            from relukit import _kernels_numba
        except Exception as exc:  # ImportError, or numba failing to initialise
            _broken(exc)
            return None
        _impl = _kernels_numba
    return _impl or None


def _pack(np: Any, dtype: Any, p: tuple, at_kink: float | None, kinks: list[float]) -> Any:
    """The scalar blocks ``P`` (cast to ``dtype`` as NumPy would) and ``Q`` (float64).

    Python floats meet a float32 array as "weak" scalars (NEP 50): they are rounded to
    float32 first, and so they are here (``±inf`` when out of range, as in NumPy).
    """
    k0 = kinks[0] if kinks else 0.0
    k1 = kinks[-1] if kinks else 0.0
    kv = 0.0 if at_kink is None else at_kink
    block = (float(p[0]), float(p[1]), float(p[2]), kv, k0, k1, 1.0, 0.0)
    key = (dtype.char, *(v.hex() for v in block))  # hex: -0.0 and 0.0 differ, nan == nan
    cached = _PACKED.get(key)
    if cached is None:  # read-only, so sharing them between calls is safe
        with np.errstate(all="ignore"):
            cached = np.array(block, dtype=dtype), np.array(block, dtype=np.float64)
        for a in cached:
            a.flags.writeable = False
        if len(_PACKED) > 256:
            _PACKED.clear()
        _PACKED[key] = cached
    return cached


_PACKED: dict[tuple, tuple[Any, Any]] = {}


def _plain(np: Any, a: Any, dtype: Any) -> bool:
    return (
        type(a) is np.ndarray
        and a.dtype == dtype
        and a.flags.c_contiguous
        and a.flags.aligned
        and a.dtype.isnative
    )


def static_plan(
    act: Any, kind: str, x: Any, params: Mapping[str, Any], at_kink: float | None
) -> tuple[Any, Any, Any, int, tuple, int] | None:
    """``(kernel, P, Q, kk, extra_args, grain)`` for ``kind`` of ``act`` on ``x``'s dtype.

    ``None`` when no kernel covers the entry, the dtype or the parameters. ``act`` must
    be the registered catalogue entry (the dispatcher checks); only its ``name`` and
    ``kinks`` are read. Imports numba (call it for large arrays only). The plan depends
    on ``x`` only through its dtype, except for per-channel prelu weights (``extra_args``
    not empty), so the dispatcher caches plans without ``extra_args``.
    """
    if _impl is False:
        return None
    spec = KERNELS.get(act.name)
    if spec is None:
        return None
    global _np
    import numpy as np

    _np = np
    dtype = x.dtype
    half = dtype.char == "e"
    if half:  # float16: the float64 kernels on the widened array (see execute)
        dtype = np.dtype(np.float64)
    elif dtype.char not in "fd" or not dtype.isnative:
        return None
    p = spec.pack(params, dtype, x)
    if p is None:
        return None
    kinks = [k.location(params) for k in act.kinks]
    if len(kinks) > 2:
        return None
    if half and spec.half == "exact-params":
        with np.errstate(over="ignore"):
            if any(float(np.float16(v)) != v for v in (*p[:3], *kinks) if v == v):
                return None
    suffix, extra = (p[3], p[4]) if len(p) == 5 else ("", ())
    impl = _load()
    if impl is None:
        return None
    kernel = getattr(impl, f"{spec.prefix}{suffix}_{kind}", None)
    if dtype.char == "f":  # float32 loops with the lean functions, where there are some
        kernel = getattr(impl, f"{spec.prefix}{suffix}_f32_{kind}", kernel)
    if kernel is None:
        return None
    if spec.exact:
        _EXACT.add(kernel)
    kk = 1 if (at_kink is not None and kinks and kind != "value") else 0
    grain = GRAIN[spec.cost]
    if extra:  # per-channel prelu: chunks of whole (channel, inner) blocks
        block = extra[2] * extra[3]
        grain = max(1, grain // block) * block
    return kernel, *_pack(np, dtype, p[:3], at_kink, kinks), kk, extra, grain


#: the kernels that are bit for bit the NumPy path (:attr:`KernelSpec.exact`), as
#: planned: below :data:`MIN_SIZE` only these run, and only once numba is loaded
_EXACT: set[Any] = set()


def small_ok(x: Any) -> bool:
    """Whether an array below :data:`MIN_SIZE` may be planned for a kernel.

    Only once numba is loaded (by a larger call: small arrays never import it), and only
    non-empty float32/float64 arrays; :func:`execute` then runs only the kernels that are
    bit for bit the NumPy path (the piecewise-linear entries, hardswish, hardsigmoid,
    sparse_plus), so a result never depends on which path an earlier call loaded.
    """
    return _impl is not None and _impl is not False and x.size > 0 and x.dtype.char in "fd"


def _outs_fit(np: Any, x: Any, outs: tuple) -> bool:
    for o in outs:
        if o is None or o is x:
            continue
        if not _plain(np, o, x.dtype):
            return False
        # (may_share_memory compares bounds only: cheap.) In place through another view
        # needs the same start, shape and layout; any other overlap would be read after
        # being written
        if np.may_share_memory(o, x) and (
            o.__array_interface__["data"][0] != x.__array_interface__["data"][0]
        ):
            return False
    return True


# ---------------------------------------------------------------------------
# threads: a chunked, self-balancing schedule
# ---------------------------------------------------------------------------
#
# The loops are serial numba functions that release the GIL. A call on several chunks
# is shared out through a counter: the calling thread and the woken workers each take
# the next chunk until none is left, and the caller waits only for chunks that were
# taken. A worker that the OS has not scheduled yet (a busy machine) takes nothing, so
# the call never waits for it: at worst the calling thread does all the work, as in a
# single-threaded call. (A fork-join loop, numba's `parallel=True`, waits for every
# worker and can turn a 0.1 ms call into several ms on a loaded machine.)


class _Job:
    __slots__ = (
        "arrays", "chunks", "done", "error", "grain", "kernel", "left", "lock", "n", "next", "tail"
    )  # fmt: skip

    def __init__(self, kernel: Any, arrays: tuple, tail: tuple, n: int, grain: int) -> None:
        self.kernel, self.arrays, self.tail, self.n, self.grain = kernel, arrays, tail, n, grain
        self.chunks = -(-n // grain)
        self.next = itertools.count().__next__  # atomic under the GIL
        self.left = self.chunks
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def work(self) -> None:
        while True:
            i = self.next()
            if i >= self.chunks:
                return
            s = i * self.grain
            e = min(self.n, s + self.grain)
            try:
                self.kernel(*[a[s:e] for a in self.arrays], *self.tail)
            except BaseException as exc:  # reported by the calling thread
                self.error = exc
            with self.lock:
                self.left -= 1
                if self.left == 0:
                    self.done.set()


_queues: list[queue.SimpleQueue] = []


def _worker(q: queue.SimpleQueue) -> None:
    while True:
        job = q.get()
        job.work()


def _wake(count: int, job: _Job) -> None:
    while len(_queues) < count:
        q: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=_worker, args=(q,), name="relukit-kernel", daemon=True).start()
        _queues.append(q)
    for q in _queues[:count]:
        q.put(job)


# (time of the last look, CPUs free then, CPU counters then)
_load_seen: list[Any] = [-1.0, 1, None]


def _cpu_counters() -> tuple[float, float, float] | None:
    """(all CPUs' busy, all CPUs' total, this process's busy) clock ticks, or None."""
    try:
        with open("/proc/stat", "rb") as fh:
            f = [float(v) for v in fh.readline().split()[1:]]
        with open("/proc/self/stat", "rb") as fh:
            mine = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = f[3] + (f[4] if len(f) > 4 else 0.0)  # idle + iowait
    total = sum(f[:8])  # guest time is already in user time
    return total - idle, total, float(mine[11]) + float(mine[12])  # utime + stime


def _running_now() -> int:
    """Tasks running or runnable on the whole machine now (Linux ``/proc/loadavg``), or 1."""
    try:
        with open("/proc/loadavg", "rb") as fh:
            return int(fh.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 1


def _free_cpus() -> int:
    """CPUs that other processes leave free (this process's own threads do not count).

    From the CPU time the whole machine and this process used since the last look (at
    most 4 looks a second; Linux ``/proc``), else (the first look) from the 1-minute
    load average and, for :func:`_idle_cpus`, the tasks running at that moment. A
    helper thread on a CPU that other processes keep busy only adds hand-over costs:
    measured on a 2-core machine at load 3-4, relu on 2**18 float32 elements took
    62 us on two threads against 29 us on one.
    """
    now = time.monotonic()
    if now - _load_seen[0] < 0.25:
        return _load_seen[1]
    cpus = os.cpu_count() or 1
    counters = _cpu_counters()
    before = _load_seen[2]
    if counters is not None and before is not None and counters[1] > before[1]:
        busy, total, mine = (c - b for c, b in zip(counters, before, strict=True))
        others = cpus * max(0.0, busy - mine) / total  # in CPUs
        free = int(cpus - others + 0.5)
    else:  # the first look: no interval yet
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # pragma: no cover - Windows
            load = 0.0
        free = int(cpus - load + 1.5)  # + 1: this process, + 0.5: rounding
        # (this process counts in both the load average and the tasks running now)
        others = max(0.0, load - 1.0, float(_running_now() - 1))
    _load_seen[:] = [now, max(1, free), counters]
    _idle_seen[0] = max(1, int(cpus - others + 0.1))
    return _load_seen[1]


_idle_seen = [1]  # CPUs that other processes leave (almost) entirely idle, at the last look


def _idle_cpus() -> int:
    """CPUs that other processes leave idle: less than a tenth of one CPU used, in all.

    For numba's fork-join threads (:mod:`relukit._kernels_par`), which wait for every
    worker: a worker that shares its CPU with another process can stall a call for a
    time slice (milliseconds), so they are used only where no other process runs.
    """
    if _monotonic() - _load_seen[0] >= 0.25:
        _free_cpus()
    return _idle_seen[0]


_monotonic = time.monotonic


#: Whether large calls use numba's OpenMP/TBB threads (:mod:`relukit._kernels_par`):
#: None until the first parallel call decides (True when numba's threading layer is
#: OpenMP or TBB), False in a forked child (GNU OpenMP does not survive a fork) or
#: when ``RELUKIT_THREADING=pool``. Otherwise relukit's own pool shares the chunks.
NUMBA_THREADS: bool | None = (
    False if os.environ.get("RELUKIT_THREADING", "").strip().lower() == "pool" else None
)
_par: Any = None  # relukit._kernels_par, once imported


#: held while the first parallel call decides :data:`NUMBA_THREADS`: numba's workqueue
#: layer aborts the process when two threads run parallel regions at once, and the
#: probe is such a region
_decide_lock = threading.Lock()


def _numba_threads() -> bool:
    """:data:`NUMBA_THREADS`, deciding it (and importing ``_kernels_par``) on first use.

    One thread decides; threads that ask meanwhile wait for its answer.
    """
    global NUMBA_THREADS, _par
    decided = NUMBA_THREADS
    if decided is not None:
        return decided
    with _decide_lock:
        if NUMBA_THREADS is None:
            try:
                from relukit import _kernels_par

                usable = _kernels_par.usable()
                _par = _kernels_par
            except Exception:  # no parallel numba: the pool does the work
                usable = False
            NUMBA_THREADS = usable
        return NUMBA_THREADS


def _after_fork_in_child() -> None:
    global NUMBA_THREADS
    _queues.clear()  # the worker threads do not exist in a forked child
    NUMBA_THREADS = False  # nor can GNU OpenMP start its threads again there


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


#: Bytes of a new output array above which a call is shared out by relukit's pool, not numba's
#: threads: glibc maps allocations above 32 MiB afresh each time, so their pages fault
#: in as the kernel first writes them; with page faults in GNU OpenMP's threads about one
#: call in 30 stalled by 30-40 ms (relu's derivative on 10**7 float32 elements, measured
#: on this project's 2-core machine), against about one in 150 with relukit's pool, whose
#: chunks never wait for a late worker (one thread alone: none, but 1.5x the median)
FRESH_LIMIT = 1 << 25


def _run(
    kernel: Any,
    *args: Any,
    arrays: int = 2,
    grain: int = GRAIN["memory"],
    align: int = 64,
    fresh: int = 0,
) -> bool:
    """Run a kernel on ``args`` (its first ``arrays`` are the flat arrays to split).

    Returns False (after one warning) when numba fails. Below :data:`PARALLEL_MIN_SIZE`
    the calling thread runs the kernel alone. Above, with numba's OpenMP/TBB threads
    (:data:`NUMBA_THREADS`) and at most :data:`FRESH_LIMIT` bytes of newly allocated
    output (``fresh``), one slice per thread (at least ``grain // 8`` elements each,
    slice starts a multiple of ``align``) on as many CPUs as other processes leave idle;
    else up to :data:`THREADS` threads of relukit's pool share chunks of ``grain``.
    """
    n = args[0].shape[0]
    try:
        if n < PARALLEL_MIN_SIZE or n < grain >> 2 or THREADS < 2:
            kernel(*args)
            return True
        # (look at the machine first: the first look counts the tasks running now, and
        # the OpenMP threads that _numba_threads starts would be among them)
        idle = _idle_cpus()
        if fresh <= FRESH_LIMIT and (NUMBA_THREADS or (NUMBA_THREADS is None and _numba_threads())):
            k = THREADS if idle > THREADS else idle
            slices = n // (grain >> 3 if grain >> 3 > align else align)
            if slices < k:
                k = slices
            if k < 2:
                kernel(*args)
                return True
            par = _par.parallel(kernel, arrays)
            if k >= _par.MAX_THREADS:  # numba's threads as they are (fewer if asked so)
                if arrays == 2:
                    par(args[0], args[1], k, align, *args[2:])
                else:
                    par(*args[:arrays], k, align, *args[arrays:])
                return True
            old = _par.set_threads(k)
            try:
                par(*args[:arrays], k, align, *args[arrays:])
            finally:
                _par.set_threads(old)
            return True
        if n <= grain:
            kernel(*args)
            return True
        # at most 8 chunks per thread: each chunk costs a hand-over in Python (with the
        # GIL), and a late worker holds back one chunk at most
        most = -(-n // (8 * THREADS * align)) * align
        job = _Job(kernel, args[:arrays], args[arrays:], n, max(grain, most))
        helpers = min(THREADS, job.chunks, _free_cpus()) - 1
        if helpers < 1:  # no idle CPU for a helper: one thread, no hand-over cost
            kernel(*args)
            return True
        _wake(helpers, job)
        job.work()
        job.done.wait()
        if job.error is not None:
            raise job.error
    except Exception as exc:  # a compilation failure
        _broken(exc)
        return False
    return True


#: what :func:`execute` returns when the kernel did not run (the array does not fit:
#: too small, strided, overlapping ``out``; or numba failed and warned): the caller
#: takes the NumPy path
NOT_RUN = object()


def execute(plan: tuple, kind: str, x: Any, out: Any) -> Any:
    """Compute ``kind`` with the kernel of ``plan`` (:func:`static_plan`), or :data:`NOT_RUN`.

    ``kind`` is ``"value"``, ``"derivative"`` or ``"both"``; ``out`` has already been
    validated by the dispatcher (shape, dtype, writeable, pair for ``"both"``). Returns
    ``out`` itself when given, else the new array (the pair for ``"both"``).
    """
    n = x.size
    if not ENABLED or _impl is False:
        return NOT_RUN
    kernel, P, Q, kk, extra, grain = plan
    if n < MIN_SIZE and (n == 0 or kernel not in _EXACT or x.dtype.char == "e"):
        return NOT_RUN
    np = _np
    if x.__class__ is not np.ndarray:
        return NOT_RUN
    flags = x.flags
    if (
        kind != "both"
        and not extra
        and flags.c_contiguous
        and flags.aligned
        and x.dtype.char != "e"
    ):
        # the common case, with the least Python around it
        if out is None:
            y = np.empty(x.shape, x.dtype)
            fresh = y.nbytes
        elif out is x or (
            out.__class__ is np.ndarray
            and out.dtype == x.dtype  # (not a byte-swapped out: _outs_fit refuses it)
            and out.flags.c_contiguous
            and out.flags.aligned
            and not np.may_share_memory(out, x)
        ):
            y, fresh = out, 0  # (shape: checked by the dispatcher)
        elif _outs_fit(np, x, (out,)):  # another view of x's memory
            y, fresh = out, 0
        else:
            return _through_copy(plan, kind, x, out)
        xf, yf = (x, y) if x.ndim == 1 else (x.reshape(-1), y.reshape(-1))
        try:
            if n < PARALLEL_MIN_SIZE or n < grain >> 2:  # (less than two slices' work)
                if kind == "value":
                    kernel(xf, yf, P, Q)
                else:
                    kernel(xf, yf, P, Q, kk)
                return y
        except Exception as exc:  # a compilation failure
            _broken(exc)
            return NOT_RUN
        if kind == "value":
            ok = _run(kernel, xf, yf, P, Q, grain=grain, fresh=fresh)
        else:
            ok = _run(kernel, xf, yf, P, Q, kk, grain=grain, fresh=fresh)
        return y if ok else NOT_RUN
    if x.dtype.char == "e":  # float16 (planned for float64): widen, then round once
        if plan[4]:
            return NOT_RUN  # (per-channel prelu weights: the NumPy path)
        return _execute_half(np, plan, kind, x, out)
    if not (flags.c_contiguous and flags.aligned):
        if extra or out is not None:
            return NOT_RUN  # (per-channel weights follow x's layout; out= keeps its own)
        # strided, Fortran-ordered or unaligned: one contiguous copy, then the kernel
        # (the result is C-ordered; a view of x is never written)
        return execute(plan, kind, x.copy(order="C"), None)  # (a copy is aligned)
    # "both", and per-channel prelu: two outputs, or the weights' arguments
    outs = out if kind == "both" and out is not None else (out,)
    if out is not None and not _outs_fit(np, x, outs):
        return _through_copy(plan, kind, x, out)
    news = [np.empty(x.shape, x.dtype) if o is None else o for o in outs]
    if kind == "both" and out is None:
        news.append(np.empty(x.shape, x.dtype))
    flat = [a if a.ndim == 1 else a.reshape(-1) for a in (x, *news)]  # C-contiguous views
    args = (*flat, P, Q, *extra) if kind == "value" else (*flat, P, Q, kk, *extra)
    align = extra[2] * extra[3] if extra else 64  # (per-channel prelu: whole blocks)
    fresh = x.nbytes if out is None else 0  # (each new array is one allocation)
    if not _run(kernel, *args, arrays=len(flat), grain=grain, align=align, fresh=fresh):
        return NOT_RUN
    if out is not None:
        return out  # the caller's object itself (the pair for "both"), as the NumPy path
    return (news[0], news[1]) if kind == "both" else news[0]


def _through_copy(plan: tuple, kind: str, x: Any, out: Any) -> Any:
    """:func:`execute` for an ``out`` of the other byte order: the kernel's result, then
    copied (byte-swapped) into ``out``, so that the numbers are those of the call without
    ``out``; :data:`NOT_RUN` for any other ``out`` that does not fit."""
    outs = out if kind == "both" else (out,)
    if all(o.dtype == x.dtype for o in outs) or x.dtype.char == "e":
        return NOT_RUN
    res = execute(plan, kind, x, None)
    if res is NOT_RUN:
        return NOT_RUN
    for o, r in zip(outs, res if kind == "both" else (res,), strict=True):
        _np.copyto(o, r)
    return out


_half_mod: Any = None  # relukit._kernels_half, once a float16 array has been planned

#: Elements of a float16 array widened to float64 at a time (:func:`_execute_half`): the
#: float64 copies of one chunk (of ``x`` and of each result, 8 bytes an element each) are
#: all the memory a float16 call takes beyond its result, whatever the array's size
HALF_CHUNK = 1 << 18


def _same_place(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are views of the same elements (same start, same strides)."""
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.strides == b.strides
    )


def _execute_half(np: Any, plan: tuple, kind: str, x: Any, out: Any) -> Any:
    """:func:`execute` for a float16 ``x``: widened to float64, the float64 kernel, each
    result rounded once to float16, a chunk of :data:`HALF_CHUNK` elements at a time.

    The conversions are the loops of :mod:`relukit._kernels_half` (NumPy's bits), or
    NumPy's own casts for a byte-swapped or unaligned ``x`` or ``out``. New results are
    native float16 (as on the NumPy path). A strided ``x`` (or ``out``) is copied to (or
    written through) one contiguous float16 array first.
    """
    global _half_mod
    if _half_mod is None:
        try:
            from relukit import _kernels_half

            _half_mod = _kernels_half
        except Exception as exc:  # numba failing
            _broken(exc)
            return NOT_RUN
    k = 2 if kind == "both" else 1
    outs = (out if kind == "both" else (out,)) if out is not None else (None,) * k
    for o in outs:
        # a chunk written before a later chunk of x is read: only in place, element for
        # element (any other overlap takes the NumPy path, which reads all of x first)
        if o is not None and np.may_share_memory(o, x) and not _same_place(o, x):
            return NOT_RUN
    results = [np.empty(x.shape, np.float16) if o is None else o for o in outs]
    staged = [None if r.flags.c_contiguous else np.empty(r.shape, np.float16) for r in results]
    xs = (x if x.flags.c_contiguous else np.ascontiguousarray(x)).reshape(-1)
    dsts = [(r if t is None else t).reshape(-1) for r, t in zip(results, staged, strict=True)]
    n = xs.shape[0]
    step = min(n, HALF_CHUNK)
    wide_x = np.empty(step, np.float64)
    wide_ys = [np.empty(step, np.float64) for _ in range(k)]
    bits_in = xs.dtype.isnative and xs.flags.aligned  # (the bit loops read native float16)
    for s in range(0, n, step):
        e = min(n, s + step)
        wx = wide_x[: e - s]
        if bits_in:
            if not _run(_half_mod.half_to_double, xs[s:e].view(np.uint16), wx):
                return NOT_RUN
        else:
            wx[...] = xs[s:e]
        wys = [w[: e - s] for w in wide_ys]
        if execute(plan, kind, wx, tuple(wys) if kind == "both" else wys[0]) is NOT_RUN:
            return NOT_RUN
        for w, d in zip(wys, dsts, strict=True):
            chunk = d[s:e]
            if chunk.dtype.isnative and chunk.flags.aligned:
                if not _run(_half_mod.double_to_half, w, chunk.view(np.uint16)):
                    return NOT_RUN
            else:
                with np.errstate(over="ignore"):  # (overflow to ±inf is the intended limit)
                    np.copyto(chunk, w, casting="same_kind")
    for r, t in zip(results, staged, strict=True):
        if t is not None:
            np.copyto(r, t)
    if out is not None:
        return out  # the caller's object itself (the pair for "both")
    return (results[0], results[1]) if kind == "both" else results[0]


def backward_kernel(act: Any, x: Any, grad_out: Any, params: dict, at_kink: Any, out: Any) -> Any:
    """``grad_out * derivative`` in one pass when a kernel applies, else :data:`NOT_RUN`.

    Inputs are validated by the caller (:func:`relukit._dispatch.backward`).
    """
    import numpy as np

    if x.dtype.char not in "fd":  # (float16 gradients: the NumPy path)
        return NOT_RUN
    if not (ENABLED and x.size >= MIN_SIZE and _plain(np, grad_out, x.dtype)):
        return NOT_RUN
    if not (_plain(np, x, x.dtype) and _outs_fit(np, x, (out,))):
        return NOT_RUN
    same_g = out is None or out.ctypes.data == grad_out.ctypes.data
    if not same_g and np.may_share_memory(out, grad_out):
        return NOT_RUN
    plan = static_plan(act, "backward", x, params, at_kink)
    if plan is None:
        return NOT_RUN
    kernel, P, Q, kk, extra, grain = plan
    res = np.empty(x.shape, x.dtype.newbyteorder("=")) if out is None else out
    flat = [a.reshape(-1) for a in (x, grad_out, res)]
    align = extra[2] * extra[3] if extra else 64
    fresh = res.nbytes if out is None else 0
    if _run(kernel, *flat, P, Q, kk, *extra, arrays=3, grain=grain, align=align, fresh=fresh):
        return res
    return NOT_RUN
