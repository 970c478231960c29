"""The numba kernels, compiled from the catalogue's formulas (imports numba).

For an entry's :class:`~relukit.catalogue.Math` and a kind of call, :func:`kernel`
lowers the formula for a numba namespace (:func:`relukit._prims.lower`: the formula's
own code, with ``m`` bound to :mod:`relukit._prims.numba64` or the lean
:mod:`relukit._prims.numba32`), wraps it into an element function and plugs that into
the loop of the kind (:mod:`relukit._kernels_loops`). Nothing is written per entry here:
a new catalogue entry gets its kernels from its formulas alone.

Kernels are made on first use and compiled on their first call for a dtype; the machine
code is cached on disk (see :mod:`relukit._kernel_cache` for where).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numba import njit

from relukit import _kernel_cache
from relukit import _kernels_loops as loops
from relukit._prims import lower, numba32, numba64, used_names

__all__ = ["Namespace", "kernel"]

#: which numba namespace: ``"64"`` (float64 accuracy) or ``"32"`` (lean, float32 results)
Namespace = Literal["64", "32"]
_NAMESPACES = {"64": numba64, "32": numba32}

#: the loops of the smooth entries: products followed by sums may be fused (contract),
#: no division checks (which would stop vectorisation), IEEE semantics otherwise, the
#: GIL released
SMOOTH_FLAGS = {"fastmath": {"contract"}, "nogil": True, "error_model": "numpy"}
#: the loops of the exact entries: IEEE semantics, every product rounded once
EXACT_FLAGS = {"fastmath": False, "nogil": True, "error_model": "numpy"}

# the element functions plugged into the loops: (x, a0, a1, a2) -> the formula at x with
# the formula's first 0..3 arguments (globals _F, the lowered formula, and _M, the namespace)
_F: Any = None
_M: Any = None


def _e0(x, a0, a1, a2):  # pragma: no cover - compiled
    return _F(_M, x)


def _e1(x, a0, a1, a2):  # pragma: no cover - compiled
    return _F(_M, x, a0)


def _e2(x, a0, a1, a2):  # pragma: no cover - compiled
    return _F(_M, x, a0, a1)


def _e3(x, a0, a1, a2):  # pragma: no cover - compiled
    return _F(_M, x, a0, a1, a2)


_ELEMENTS = (_e0, _e1, _e2, _e3)


# the value and the derivative at once where the entry has no ``Math.both``: its two
# element functions (globals _V and _D), one after the other
_V: Any = None
_D: Any = None


def _vd_pair(x, a0, a1, a2):  # pragma: no cover - compiled
    return _V(x, a0, a1, a2), _D(x, a0, a1, a2)


_inline = njit(inline="always", nogil=True, error_model="numpy")


@_inline
def _widen(v):  # pragma: no cover - compiled
    return np.float64(v)  # (numba's float() keeps a float32)


@_inline
def _same(v):  # pragma: no cover - compiled
    return v


def _element(fn: Callable[..., Any], m: Any, arity: int, name: str) -> Any:
    if arity > len(_ELEMENTS) - 1:
        raise ValueError(f"{name}: the kernels take at most 3 formula arguments, got {arity}")
    return loops.plug(_ELEMENTS[arity], f"{name}.element", __name__, _inline, _F=lower(fn, m), _M=m)


def _jit(flags: dict[str, Any]) -> Callable[[Callable[..., Any]], Any]:
    return _kernel_cache.njit(cache=True, **flags)


_KERNELS: dict[tuple[Any, ...], Any] = {}


def kernel(
    math: Any,
    ns: Namespace,
    kind: str,
    arity: int,
    channel: bool = False,
    gated: bool = False,
    at_kink: bool = False,
) -> Any:
    """The loop of ``kind`` for the formulas of ``math`` (a numba dispatcher).

    ``kind`` is ``value``, ``derivative``, ``both``, ``backward`` or ``backward_y``
    (the derivative from the output); ``arity`` the number of formula arguments;
    ``channel`` gives the per-channel loops (one argument per block, PReLU's weight),
    ``gated`` the loops of a gated entry (``f(a) * b``: :data:`relukit._kernels_loops.GATED`),
    ``at_kink`` whether ``at_kink`` replaces the derivative at the entry's kinks (the
    loops test it on every element only then: ``_kink``, else ``_no_kink``).
    Kernels are shared by entries with the same formulas (rrelu and leaky_relu).
    """
    formulas = (math.value, math.derivative, math.from_output, math.both)
    key = (*formulas, ns, kind, arity, channel, gated, at_kink)
    hit = _KERNELS.get(key)
    if hit is not None:
        return hit
    m = _NAMESPACES[ns]
    base = f"{math.value.__module__}.{math.value.__qualname__}"
    loop = "ch_" if channel else "g_" if gated else ""
    name = f"{base}_{loop}{kind}_{ns}{'_at_kink' if at_kink else ''}"
    derivative = math.from_output if kind == "backward_y" else math.derivative
    if derivative is None:
        raise ValueError(f"{base}: no derivative from the output")
    template = (loops.CHANNEL if channel else loops.GATED if gated else loops.KINDS)[kind]
    v = _element(math.value, m, arity, f"{name}.v")
    d = _element(derivative, m, arity, f"{name}.d")
    if math.both is not None and kind != "backward_y":
        vd = _element(math.both, m, arity, f"{name}.vd")
    else:
        vd = loops.plug(_vd_pair, f"{name}.vd", __name__, _inline, _V=v, _D=d)
    extra: dict[str, Any] = {}
    if template is loops._value and m is numba32 and "tiny_nudge" in used_names(math.value):
        # the bulk without the nudge, the few elements it changes redone afterwards
        template = loops._value_redo_tiny
        extra = {"_vb": _element(math.value, numba32.BULK, arity, f"{name}.vb")}
    if gated:  # the float64 elements for the lean loops' tails (see _kernels_loops)
        lean = m is numba32
        extra = {
            "_LEAN": lean,
            "_v64": _element(math.value, numba64, arity, f"{name}.v64") if lean else v,
            "_d64": _element(derivative, numba64, arity, f"{name}.d64") if lean else d,
        }
    out = _KERNELS[key] = loops.plug(
        template,
        name,
        __name__,
        _jit(EXACT_FLAGS if math.exact else SMOOTH_FLAGS),
        _v=v,
        _d=d,
        _vd=vd,
        _kink=loops._kink if at_kink else loops._no_kink,
        # (the exact entries in the dtype, gated ones included: see _kernels_loops)
        _w=_same if math.exact else _widen,
        **extra,
    )
    return out
