"""The kernels called with data addresses: relukit.torch's eager CPU route, no NumPy arrays.

A torch tensor reaches a numba loop as a NumPy array (``t.numpy().reshape(-1)``), and
numba unboxes every array argument: for a backward's three arrays that is 4-5 us of
Python and C-API work per call, half of what relu's kernel takes on 65,536 elements,
and in a model (where Python runs with its code and data evicted from the caches by
the operators around it) several times more. relukit.torch's lean call hands the
kernels the tensors' data addresses (``t.data_ptr()``) and their length instead: each
entry made here views the addresses as 1-D arrays inside numba (``numba.carray``) and
calls the serial loop, or its parallel version (:mod:`relukit._kernels_par`) with the
slice count the caller chose (:func:`relukit._kernels_threads.split`). Measured (AMD
EPYC Zen 4, 2 threads, medians): ``rt.ReLU()`` forward and backward on 1,000 float32
elements 43.7 us with addresses against 50.3 with arrays, on 65,536 82.2 against 93.4;
a no-grad call 7.6 against 9.4 us; the ResNet of ``relukit bench torch``, both ways in
one process, 60 rounds: 1.055-1.079x torch.nn's best step against 1.069-1.083x.

The caller guarantees what :meth:`relukit._kernels.Plan.run_flat` asks of its arrays:
C-contiguous, aligned, native, of the plan's dtype, one length, the output overlapping
no input, and alive for the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import carray, types
from numba.extending import intrinsic

from relukit._kernel_cache import njit
from relukit._kernels_loops import plug

__all__ = ["entry"]

_FLAGS = {"cache": True, "nogil": True}


def _pointer_intrinsic(ty: Any) -> Any:
    @intrinsic
    def as_pointer(typingctx, addr):  # pragma: no cover - compiled
        """The integer ``addr`` as a pointer to ``ty``."""
        if not isinstance(addr, types.Integer):
            return None
        sig = types.CPointer(ty)(addr)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(types.CPointer(ty)))

        return sig, codegen

    return as_pointer


_POINTERS = {
    "float32": _pointer_intrinsic(types.float32),
    "float64": _pointer_intrinsic(types.float64),
}

#: the plugged globals: the serial loop, its parallel version, the pointer maker
_k: Any = None
_kp: Any = None
_ptr: Any = None


def _serial1(a, n, *tail):  # pragma: no cover - compiled
    _k(carray(_ptr(a), (n,)), *tail)


def _serial2(a, b, n, *tail):  # pragma: no cover - compiled
    _k(carray(_ptr(a), (n,)), carray(_ptr(b), (n,)), *tail)


def _serial3(a, b, c, n, *tail):  # pragma: no cover - compiled
    _k(carray(_ptr(a), (n,)), carray(_ptr(b), (n,)), carray(_ptr(c), (n,)), *tail)


def _parallel1(a, n, k, align, *tail):  # pragma: no cover - compiled
    _kp(carray(_ptr(a), (n,)), k, align, *tail)


def _parallel2(a, b, n, k, align, *tail):  # pragma: no cover - compiled
    _kp(carray(_ptr(a), (n,)), carray(_ptr(b), (n,)), k, align, *tail)


def _parallel3(a, b, c, n, k, align, *tail):  # pragma: no cover - compiled
    _kp(carray(_ptr(a), (n,)), carray(_ptr(b), (n,)), carray(_ptr(c), (n,)), k, align, *tail)


_SERIAL: dict[int, Callable[..., None]] = {1: _serial1, 2: _serial2, 3: _serial3}
_PARALLEL: dict[int, Callable[..., None]] = {1: _parallel1, 2: _parallel2, 3: _parallel3}
_made: dict[tuple[Any, ...], Any] = {}


def entry(kernel: Any, arrays: int, dtype: str, parallel: bool) -> Any:
    """The entry by addresses of the serial loop ``kernel`` (a numba dispatcher) whose
    first ``arrays`` (1 to 3) arguments are arrays of ``dtype`` (``"float32"`` or
    ``"float64"``).

    Its arguments are the arrays' addresses, their length ``n``, then (``parallel``:
    the parallel version's) ``k, align``, then ``kernel``'s other arguments. Named
    ``<kernel>_addr32`` (``_addr32_parallel``, ``_addr64``, ...) and, like the loops,
    compiled on first use and cached on disk.
    """
    key = (kernel, arrays, dtype, parallel)
    made = _made.get(key)
    if made is None:
        py = kernel.py_func
        extra: dict[str, Any] = {"_k": kernel, "_ptr": _POINTERS[dtype]}
        if parallel:
            from relukit import _kernels_par

            extra["_kp"] = _kernels_par.parallel(kernel, arrays)
        template = (_PARALLEL if parallel else _SERIAL)[arrays]
        # (the dtype in the name: the two entries of one loop take the same argument
        # types, integers, and numba's cache tells functions apart by name)
        name = f"{py.__qualname__}_addr{dtype[5:]}{'_parallel' if parallel else ''}"
        made = _made[key] = plug(template, name, py.__module__, njit(**_FLAGS), **extra)
    return made
