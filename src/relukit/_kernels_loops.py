"""The loops of the numba kernels, written once per kind and plugged per entry (a leaf).

Each kernel is a serial loop over 1-D C-contiguous arrays of one dtype that calls two
element functions, value ``_v`` and derivative ``_d``: the loops of all entries differ
only in those two functions. They are written here once per kind, as plain Python
functions (templates) whose element functions are the global names ``_v`` and ``_d``,
and :func:`plug` makes one numba kernel per entry and kind by giving a template's code
new globals. numba resolves globals when it compiles, so each plugged kernel is
compiled with its own element functions inlined, as if it had been written out.

Why not a loop that takes the element function as an argument, or a closure over it:
numba keys the disk cache of such a kernel by a pickled dispatcher that carries a
random id, so it is compiled again in every process. A plugged kernel is an ordinary
function for the disk cache (:mod:`relukit._kernel_cache`, numba's cache classes): its
cache file is named from its module and ``__qualname__`` (``<entry>_<kind>``) and the
template's first line, its index is keyed by the signature and the bytes of the
template's code, and the whole cache directory by the content of every kernel source
file (this one, the element functions, :mod:`relukit._kernels_math`, ...): editing any
of them compiles the kernels again in the next process. :func:`plug` gives a kernel the
file name of its element functions (``_kernels_numba.py`` or ``_kernels_smooth.py``):
numba's messages about a plugged kernel give the template's line numbers with that
file's name.

Families and kinds
------------------
``PIECEWISE`` (the piecewise-linear entries, :mod:`relukit._kernels_numba`)
    element functions ``(x, p0, p1, p2, q1, one, zero)`` on the array's dtype, with
    ``p0, p1, p2, one, zero`` from the block ``P`` (the array's dtype) and ``q1`` from
    ``Q`` (float64), as packed by ``relukit._kernels._pack``;
``CHANNEL`` (prelu with one weight per channel)
    the same element functions, ``x`` viewed as ``(blocks, inner)``, block ``b`` in
    channel ``b % C``, the weights in ``W`` (float64) and ``WD`` (the dtype);
``SMOOTH`` (the smooth entries, :mod:`relukit._kernels_smooth`)
    element functions ``(x, a, b, c)`` on float64 (``x`` widened with ``np.float64``:
    numba's ``float()`` keeps a float32), ``a, b, c`` from ``Q``.

Each family has the kinds ``value``, ``derivative``, ``both`` (value and derivative in
one pass) and ``backward`` (``g * derivative``); every derivative goes through
the kink patch ``_kink`` (:func:`_kink_patch`), which puts ``at_kink`` (``P[3]``) at the
kinks ``P[4]``, ``P[5]`` when ``kk`` is 1.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from relukit._kernel_cache import njit
from relukit._kernels_math import ELEM, LOOP

#: flags of the piecewise-linear loops and element functions: IEEE semantics (no fused
#: multiply-add, so that products are rounded once, as NumPy's), the GIL released
PIECEWISE_FLAGS = {"cache": True, "fastmath": False, "nogil": True}

_f64 = np.float64  # the smooth element functions take float64 (float() keeps float32)
#: the element functions, value and derivative, and the kink patch: :func:`plug` gives
#: each kernel its own
_v: Any = None
_d: Any = None
_kink: Any = None


def _kink_patch(v, r, kk, kv, k0, k1):  # pragma: no cover - compiled
    # where(x == k0, at_kink, d), then where(x == k1, at_kink, d), when at_kink is given
    if kk != 0:
        if v == k0:
            return kv
        if v == k1:
            return kv
    return r


# ---------------------------------------------------------------------------
# piecewise-linear entries: element functions on the array's dtype
# ---------------------------------------------------------------------------


def _pl_value(x, y, P, Q):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    for i in range(x.shape[0]):
        y[i] = _v(x[i], p0, p1, p2, q1, one, zero)


def _pl_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


def _pl_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _v(v, p0, p1, p2, q1, one, zero)
        d[i] = _kink(v, _d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


def _pl_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = g[i] * _kink(v, _d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


# ---------------------------------------------------------------------------
# one weight per channel (prelu): the weight w (float64) and wd (the dtype) per block
# ---------------------------------------------------------------------------


def _ch_value(x, y, P, Q, W, WD, C, inner):  # pragma: no cover - compiled
    p0, one, zero = P[0], P[6], P[7]
    for b in range(x.shape[0] // inner):
        c = b % C
        w, wd = W[c], WD[c]
        flag = one if w == 0 else zero
        for i in range(b * inner, (b + 1) * inner):
            y[i] = _v(x[i], p0, wd, flag, w, one, zero)


def _ch_derivative(x, d, P, Q, kk, W, WD, C, inner):  # pragma: no cover - compiled
    p0, one, zero = P[0], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        c = b % C
        w, wd = W[c], WD[c]
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            d[i] = _kink(v, _d(v, p0, wd, zero, w, one, zero), kk, kv, k0, k1)


def _ch_both(x, y, d, P, Q, kk, W, WD, C, inner):  # pragma: no cover - compiled
    p0, one, zero = P[0], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        c = b % C
        w, wd = W[c], WD[c]
        flag = one if w == 0 else zero
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            y[i] = _v(v, p0, wd, flag, w, one, zero)
            d[i] = _kink(v, _d(v, p0, wd, flag, w, one, zero), kk, kv, k0, k1)


def _ch_backward(x, g, o, P, Q, kk, W, WD, C, inner):  # pragma: no cover - compiled
    p0, one, zero = P[0], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        c = b % C
        w, wd = W[c], WD[c]
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            o[i] = g[i] * _kink(v, _d(v, p0, wd, zero, w, one, zero), kk, kv, k0, k1)


# ---------------------------------------------------------------------------
# smooth entries: element functions on float64, parameters a, b, c from Q
# ---------------------------------------------------------------------------


def _sm_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _v(_f64(x[i]), a, b, c)


def _sm_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _d(_f64(v), a, b, c), kk, kv, k0, k1)


def _sm_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _v(_f64(v), a, b, c)
        d[i] = _kink(v, _d(_f64(v), a, b, c), kk, kv, k0, k1)


def _sm_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


def plug(
    template: Callable[..., None],
    name: str,
    home: dict[str, Any],
    flags: Mapping[str, Any],
    **elements: Any,
) -> Any:
    """The numba kernel ``name``: ``template`` with the global names ``elements``.

    Parameters
    ----------
    template : function
        A loop of this module, which calls its element functions by the global names
        ``_v`` and ``_d``.
    name : str
        The kernel's name and ``__qualname__`` (its numba cache file is named from it).
    home : dict
        The ``globals()`` of the module that holds the element functions: the kernel's
        ``__module__`` (its cache files are named from it) and file name.
    flags : mapping
        The ``numba.njit`` options (``cache=True`` for relukit's disk cache,
        :func:`relukit._kernel_cache.njit`).
    **elements
        The globals to plug in, ``_v=...`` and ``_d=...``.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        Compiled at its first call, for the dtypes it is called with.

    Examples
    --------
    >>> from relukit import _kernels_loops as kl, _kernels_numba as kn
    >>> flags = {**kl.PIECEWISE_FLAGS, "cache": False}
    >>> k = kl.plug(kl._pl_value, "my_relu_value", vars(kn), flags, _v=kn._relu_v, _d=kn._relu_d)
    >>> import numpy as np
    >>> y = np.empty(3)
    >>> k(np.array([-1.0, 0.5, 2.0]), y, np.zeros(8), np.zeros(8)); y.tolist()
    [0.0, 0.5, 2.0]
    """
    unknown = set(elements) - set(template.__globals__)
    if unknown:  # a misspelt name would leave the template's own (None) in place
        raise ValueError(f"the loop templates have no global {sorted(unknown)}")
    code = template.__code__.replace(co_filename=home["__file__"], co_name=name)
    fn = types.FunctionType(code, {**template.__globals__, **elements}, name)
    fn.__qualname__ = name
    fn.__module__ = home["__name__"]
    return njit(**flags)(fn)


@dataclass(frozen=True)
class Family:
    """The loops of one family of element functions, and how they are compiled."""

    #: kind (``value``, ``derivative``, ``both``, ``backward``) -> template
    loops: Mapping[str, Callable[..., None]]
    #: the ``numba.njit`` options of the loops
    flags: Mapping[str, Any]
    #: the kink patch the loops call (``_kink``), compiled with the family's flags
    kink: Any


def plug_all(home: dict[str, Any], family: Family, entries: Mapping[str, tuple[Any, Any]]) -> None:
    """Put ``<entry>_<kind>`` into ``home`` for every entry and kind of ``family``.

    ``entries`` maps an entry's name to its element functions ``(value, derivative)``;
    ``home`` is passed on to :func:`plug`.
    """
    for entry, (value, derivative) in entries.items():
        for kind, template in family.loops.items():
            name = f"{entry}_{kind}"
            home[name] = plug(
                template, name, home, family.flags, _v=value, _d=derivative, _kink=family.kink
            )


# the piecewise-linear loops call the patch as a function (LLVM inlines it), the smooth
# ones have numba inline it (as their element functions)
_KINK_PIECEWISE = plug(_kink_patch, "_kink_piecewise", globals(), PIECEWISE_FLAGS)
_KINK_SMOOTH = plug(_kink_patch, "_kink_smooth", globals(), ELEM)

PIECEWISE = Family(
    {"value": _pl_value, "derivative": _pl_derivative, "both": _pl_both, "backward": _pl_backward},
    PIECEWISE_FLAGS,
    _KINK_PIECEWISE,
)
CHANNEL = Family(
    {"value": _ch_value, "derivative": _ch_derivative, "both": _ch_both, "backward": _ch_backward},
    PIECEWISE_FLAGS,
    _KINK_PIECEWISE,
)
SMOOTH = Family(
    {"value": _sm_value, "derivative": _sm_derivative, "both": _sm_both, "backward": _sm_backward},
    LOOP,
    _KINK_SMOOTH,
)
