"""How a kernel call is shared between threads (a leaf: imports nothing of relukit's).

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
  ``threads - 1`` workers of relukit's own pool, which take the next chunk from a shared
  counter until none is left; a worker that the OS has not scheduled yet takes nothing.

Either way the thread count follows the size and the CPUs left free by other processes.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
import warnings
from typing import Any

__all__ = [
    "FRESH_LIMIT",
    "GRAIN",
    "NUMBA_THREADS",
    "PARALLEL_MIN_SIZE",
    "call_parallel",
    "default_threads",
    "run",
    "split",
]

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


def default_threads() -> int:
    """The most threads a kernel call uses (the calling thread included):
    ``RELUKIT_NUM_THREADS``, else the CPUs this process may run on."""
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


def split(n: int, grain: int, align: int, fresh: int, threads: int) -> int:
    """How a call of ``n`` elements runs (:func:`run`'s choice): ``1``, in the calling
    thread alone; ``k >= 2``, in ``k`` slices on numba's threads; ``0``, in chunks
    shared with relukit's pool (numba's threads unusable, or more than
    :data:`FRESH_LIMIT` bytes of new output, ``fresh``)."""
    if n < PARALLEL_MIN_SIZE or n < grain >> 2 or threads < 2:
        return 1
    # (look at the machine first: the first look counts the tasks running now, and
    # the OpenMP threads that _numba_threads starts would be among them)
    idle = _idle_cpus()
    if fresh <= FRESH_LIMIT and (NUMBA_THREADS or (NUMBA_THREADS is None and _numba_threads())):
        k = threads if idle > threads else idle
        slices = n // (grain >> 3 if grain >> 3 > align else align)
        if slices < k:
            k = slices
        return k if k >= 2 else 1
    return 0


def call_parallel(par: Any, k: int, *args: Any) -> None:
    """``par(*args)``, a parallel loop of :mod:`relukit._kernels_par` (or its entry by
    addresses) told to make ``k`` slices (:func:`split`), on ``k`` of numba's threads."""
    if k >= _par.MAX_THREADS:  # numba's threads as they are (fewer if asked so)
        par(*args)
        return
    old = _par.set_threads(k)
    try:
        par(*args)
    finally:
        _par.set_threads(old)


def run(
    kernel: Any,
    *args: Any,
    arrays: int = 2,
    grain: int = GRAIN["memory"],
    align: int = 64,
    fresh: int = 0,
    threads: int = 1,
) -> None:
    """Run a kernel on ``args`` (its first ``arrays`` are the flat arrays to split).

    Raises what numba raises (a compilation failure). Below :data:`PARALLEL_MIN_SIZE`
    the calling thread runs the kernel alone. Above, with numba's OpenMP/TBB threads
    (:data:`NUMBA_THREADS`) and at most :data:`FRESH_LIMIT` bytes of newly allocated
    output (``fresh``), one slice per thread (at least ``grain // 8`` elements each,
    slice starts a multiple of ``align``) on as many CPUs as other processes leave idle;
    else up to ``threads`` threads of relukit's pool share chunks of ``grain``.
    """
    n = args[0].shape[0]
    k = split(n, grain, align, fresh, threads)
    if k == 1:
        kernel(*args)
        return
    if k:
        call_parallel(_par.parallel(kernel, arrays), k, *args[:arrays], k, align, *args[arrays:])
        return
    if n <= grain:
        kernel(*args)
        return
    # at most 8 chunks per thread: each chunk costs a hand-over in Python (with the
    # GIL), and a late worker holds back one chunk at most
    most = -(-n // (8 * threads * align)) * align
    job = _Job(kernel, args[:arrays], args[arrays:], n, max(grain, most))
    helpers = min(threads, job.chunks, _free_cpus()) - 1
    if helpers < 1:  # no idle CPU for a helper: one thread, no hand-over cost
        kernel(*args)
        return
    _wake(helpers, job)
    job.work()
    job.done.wait()
    if job.error is not None:
        raise job.error
