"""Parallel versions of the serial kernel loops, on numba's OpenMP or TBB threads.

Imported by :mod:`relukit._kernels` when a call is large enough to share out. Each
parallel kernel splits the flat arrays into one slice per thread (slice starts are
multiples of ``align`` elements) and runs the serial loop on each slice in a
``prange``; it is made on first use from a template (:func:`parallel`) and, like the
serial loops, compiled once and cached on disk (:mod:`relukit._kernel_cache`).

Why numba's threading layer, and only OpenMP or TBB: their worker threads spin for a
few milliseconds after a parallel region, so back-to-back calls hand over in about a
microsecond (as torch's OpenMP threads do). numba's fallback layer (``workqueue``)
wakes its workers through the operating system for every call, which costs tens of
microseconds: with it, :mod:`relukit._kernels` keeps its own pool instead
(:func:`usable`). A fork-join region waits for every thread, so a worker that the OS
has descheduled (a busy machine) stalls the call for a time slice: the caller only
starts a region when other processes leave the CPUs free (``_kernels._free_cpus``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numba
from numba import prange

from relukit._kernel_cache import njit
from relukit._kernels_loops import plug

_PAR = {"cache": True, "nogil": True, "parallel": True}

#: the serial loop that a template calls: each parallel kernel gets its own (parallel())
_k: Any = None


def _split1(x, nthreads, align, *tail):  # pragma: no cover - compiled
    n = x.shape[0]
    step = -(-n // (nthreads * align)) * align
    for c in prange(-(-n // step)):
        s = c * step
        e = min(n, s + step)
        _k(x[s:e], *tail)


def _split2(x, y, nthreads, align, *tail):  # pragma: no cover - compiled
    # kernel(x, y, *tail) on nthreads slices, each a multiple of align elements
    n = x.shape[0]
    step = -(-n // (nthreads * align)) * align
    for c in prange(-(-n // step)):
        s = c * step
        e = min(n, s + step)
        _k(x[s:e], y[s:e], *tail)


def _split3(x, y, z, nthreads, align, *tail):  # pragma: no cover - compiled
    n = x.shape[0]
    step = -(-n // (nthreads * align)) * align
    for c in prange(-(-n // step)):
        s = c * step
        e = min(n, s + step)
        _k(x[s:e], y[s:e], z[s:e], *tail)


def _split4(a, b, c, d, nthreads, align, *tail):  # pragma: no cover - compiled
    n = a.shape[0]
    step = -(-n // (nthreads * align)) * align
    for i in prange(-(-n // step)):
        s = i * step
        e = min(n, s + step)
        _k(a[s:e], b[s:e], c[s:e], d[s:e], *tail)


def _split5(a, b, c, d, f, nthreads, align, *tail):  # pragma: no cover - compiled
    n = a.shape[0]
    step = -(-n // (nthreads * align)) * align
    for i in prange(-(-n // step)):
        s = i * step
        e = min(n, s + step)
        _k(a[s:e], b[s:e], c[s:e], d[s:e], f[s:e], *tail)


_TEMPLATES: dict[int, Callable[..., None]] = {
    1: _split1,
    2: _split2,
    3: _split3,
    4: _split4,
    5: _split5,
}
_made: dict[Any, Any] = {}


def parallel(kernel: Any, arrays: int) -> Any:
    """The parallel version of the serial loop ``kernel`` (a numba dispatcher).

    Its arguments are ``kernel``'s first ``arrays`` arrays, then ``nthreads, align``,
    then ``kernel``'s other arguments. It is a template of this module plugged with
    ``kernel`` (:func:`relukit._kernels_loops.plug`), named ``<kernel>_parallel``.
    """
    made = _made.get(kernel)  # (a kernel's array count is its own: one entry each)
    if made is None:
        py = kernel.py_func
        name = f"{py.__qualname__}_parallel"
        made = _made[kernel] = plug(
            _TEMPLATES[arrays], name, py.__module__, njit(**_PAR), _k=kernel
        )
    return made


@njit(**_PAR)
def _probe(a):  # pragma: no cover - compiled
    for i in prange(a.shape[0]):
        a[i] = i


_layer: list[str] = []
_layer_lock = threading.Lock()


def usable() -> bool:
    """Whether numba's threading layer is one with spinning workers (OpenMP, TBB).

    Runs a two-element parallel loop once, which makes numba choose its layer (by its
    own rules: ``NUMBA_THREADING_LAYER`` and what is installed), then asks which. Under
    a lock: the workqueue layer aborts the process on parallel regions run at once.
    """
    with _layer_lock:
        if not _layer:
            import numpy as np

            try:
                _probe(np.zeros(2))
                _layer.append(str(numba.threading_layer()))
            except Exception:  # no layer loads: the pool does the work
                _layer.append("none")
    return _layer[0] in ("omp", "tbb")


#: numba's most threads (``NUMBA_NUM_THREADS``): a call for as many runs on numba's
#: threads as they are set (``numba.set_num_threads`` lowers them), with no change
MAX_THREADS: int = numba.config.NUMBA_NUM_THREADS


def set_threads(n: int) -> int:
    """Lower numba's thread count for this thread to ``n`` (at most); returns the old one.

    Only for a call that wants fewer threads than :data:`MAX_THREADS` (numba starts a
    region on every thread it is set to use, even for two slices).
    """
    old = numba.get_num_threads()
    n = min(n, old)
    if n != old:
        numba.set_num_threads(n)
    return old
