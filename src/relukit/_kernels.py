"""The kernel runtime: plans, settings and the calls of the numba kernels (no numba import).

Every float ndarray (float16, float32, float64, any size, strides or byte order) is
computed by a numba kernel compiled from the entry's formulas
(:mod:`relukit._kernels_build`), so that one input gives one result whatever the path:
the same bits for an array of 1 or 10**8 elements, strided or not, in place or not, on
one thread or many, and for a Python float (a 1-element array).

How it fits
-----------
The dispatcher (:mod:`relukit._dispatch`) asks :func:`plan` once per call signature
(entry, kind, dtype, parameter values, ``at_kink``) and keeps the :class:`Plan`; its
:meth:`Plan.run` then computes each array. A plan is ``None`` (:data:`NO_PLAN`) when the
kernels are switched off (:func:`settings`), numba is unavailable, or the parameters
need the NumPy formula (rrelu in training draws random slopes). Inputs that are not
C-contiguous, aligned and native are copied first; ``out`` arrays that are not are
written from a contiguous result; float16 is widened to float64 and rounded once, with
the conversion loops of :mod:`relukit._kernels_half`.

Working precision: the exact formulas (selections and a product by a parameter: the
piecewise-linear entries) run in the array's dtype with the parameters rounded to it,
as NumPy and PyTorch multiply; the others run in float64 and round once. float32 arrays
use the lean namespace (float32 results computed in float64 with cheaper functions)
where the entry's ``Math.lean`` accepts the parameters.

Settings
--------
:func:`settings` gives the current :class:`Settings` (a ``contextvars`` value, so
threads and async tasks each see their own); :func:`switched` changes them for a
``with`` block. Their defaults come from the environment:

``RELUKIT_DISABLE_KERNELS=1``
    Never use a kernel: the NumPy formulas instead (slower, within the stated ulp).
``RELUKIT_NUM_THREADS``
    The most threads one call uses (default: the CPUs this process may run on).
``RELUKIT_THREADING=pool``
    Share large calls with relukit's own thread pool, never numba's threads.

If numba is missing or a kernel fails to compile, relukit warns once (``RuntimeWarning``)
and uses the NumPy formulas from then on.

Examples
--------
>>> import numpy as np
>>> import relukit as rk
>>> from relukit._dispatch import backward
>>> x = np.linspace(-1, 1, 5, dtype=np.float32)
>>> backward(rk.relu, x, np.ones_like(x))
array([0., 0., 0., 1., 1.], dtype=float32)
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from relukit import _kernels_threads as threads

__all__ = [
    "NOT_RUN",
    "NO_ADDR",
    "NO_PLAN",
    "Plan",
    "Settings",
    "available",
    "backward_kernel",
    "plan",
    "settings",
    "switched",
]


# ---------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The kernels' settings for the current context (thread, task).

    Attributes
    ----------
    enabled
        Use the kernels (False: the NumPy formulas).
    threads
        The most threads one call uses, the calling thread included.
    """

    enabled: bool = True
    threads: int = 1


def _env_enabled() -> bool:
    raw = os.environ.get("RELUKIT_DISABLE_KERNELS", "").strip().lower()
    return raw in ("", "0", "false", "no")


# (Settings is a frozen dataclass: the default is shared, never changed)
_DEFAULT_SETTINGS = Settings(enabled=_env_enabled(), threads=threads.default_threads())
_SETTINGS: contextvars.ContextVar[Settings] = contextvars.ContextVar(
    "relukit_kernel_settings",
    default=_DEFAULT_SETTINGS,
)


def settings() -> Settings:
    """The kernels' :class:`Settings` in this context.

    >>> settings().enabled in (True, False)
    True
    """
    return _SETTINGS.get()


@contextlib.contextmanager
def switched(enabled: bool | None = None, threads: int | None = None) -> Iterator[Settings]:
    """Change the kernels' settings for the duration of a ``with`` block (this context only).

    >>> import numpy as np, relukit as rk
    >>> with switched(enabled=False):
    ...     float(rk.relu(np.array([-1.0, 2.0]))[1])
    2.0
    """
    new = settings()
    if enabled is not None:
        new = replace(new, enabled=bool(enabled))
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an int >= 1, got {threads!r}")
        new = replace(new, threads=threads)
    token = _SETTINGS.set(new)
    try:
        yield new
    finally:
        _SETTINGS.reset(token)


# ---------------------------------------------------------------------------
# numba, loaded on first use
# ---------------------------------------------------------------------------

_build: Any = None  # relukit._kernels_build once loaded; False: unavailable (warned)
_np: Any = None


def _broken(exc: BaseException) -> None:
    """Switch the kernels off for this process, with one RuntimeWarning."""
    global _build
    if _build is False:
        return
    _build = False
    warnings.warn(
        f"relukit: the numba kernels are unavailable ({type(exc).__name__}: {exc}); "
        "using the NumPy formulas, which give results within the stated accuracy more "
        "slowly (reinstall numba, or set RELUKIT_DISABLE_KERNELS=1 to skip the kernels "
        "and this warning)",
        RuntimeWarning,
        stacklevel=4,
    )


def _compile_error(exc: BaseException) -> bool:
    """``exc`` comes from numba failing to compile or load a kernel (not from the call)."""
    from numba.core import errors

    return isinstance(exc, (errors.NumbaError, errors.NumbaWarning, ImportError, OSError))


def _failed(exc: Exception) -> Any:
    """:data:`NOT_RUN` when ``exc`` is numba failing to compile or load a kernel (the
    kernels are switched off, with one warning); anything else is raised again."""
    if not _compile_error(exc):
        raise exc
    _broken(exc)
    return NOT_RUN


def _load() -> Any:
    global _build, _np
    if _build is None:
        try:
            import numpy

            from relukit import _kernels_build
        except Exception as exc:  # ImportError, or numba failing to initialise
            _broken(exc)
            return None
        _np = numpy
        _build = _kernels_build
    return _build or None


def available() -> bool:
    """Whether the kernels are on in this context and numba works."""
    return settings().enabled and _load() is not None


# ---------------------------------------------------------------------------
# plans
# ---------------------------------------------------------------------------

#: what :meth:`Plan.run` returns when numba failed (after one warning): the caller takes
#: the NumPy formulas
NOT_RUN = object()

#: "no kernel for this call": the NumPy formulas compute it
NO_PLAN = None

#: :meth:`Plan.run_addr`'s "take :meth:`Plan.run_flat`": relukit's pool shares this call
NO_ADDR = object()

_addr: Any = None  # relukit._kernels_addr, imported on the first call by addresses


@dataclass(frozen=True, eq=False)
class Plan:
    """One kernel call signature: an entry's kernel with its packed arguments.

    Attributes
    ----------
    kernel
        The numba loop (value, derivative, both, backward or backward_y).
    kind
        Which of these.
    dtype
        The dtype the kernel runs on (float64 for float16 arrays, which are widened).
    args
        The formula's arguments, packed: float64, or the dtype for exact formulas.
    kinks
        The kink block: ``at_kink`` and the kink locations, in ``dtype``.
    at_kink
        1 when ``at_kink`` replaces the derivative at the kinks, else 0.
    grain
        Elements per chunk when the call is shared between threads.
    channel
        PReLU's per-channel weights in ``dtype`` (``None``: one weight).
    inplace
        For a value plan: the loop that writes the value over its input (``out=x``),
        which, unlike the two-array loop run in place, is vectorised.
    """

    kernel: Any
    kind: str
    dtype: Any
    args: Any
    kinks: Any
    at_kink: int
    grain: int
    channel: Any = None
    inplace: Any = None

    def run_gated(self, a: Any, b: Any, outs: tuple[Any, ...], g: Any = None) -> Any:
        """A gated entry's kernel on ``a`` (the gate) and ``b`` (and ``g``, the output's
        gradient, for ``"backward"``): C-contiguous arrays of one shape and of this
        plan's dtype (float16: widened here). ``outs``: the result arrays (new ones are
        made where an entry is ``None``); returns them, or :data:`NOT_RUN`."""
        try:
            return _execute_gated(self, a, b, g, outs)
        except Exception as exc:
            return _failed(exc)

    def run_backward(self, x: Any, grad_out: Any, out: Any = None) -> Any:
        """A backward plan (``"backward"``, ``"backward_y"``): ``grad_out`` times the
        derivative at ``x`` (the output for ``"backward_y"``), arrays of this plan's
        dtype and one shape; into ``out`` when given. Returns the result, or
        :data:`NOT_RUN`."""
        try:
            return _execute_backward(self, x, grad_out, out)
        except Exception as exc:
            return _failed(exc)

    @functools.cached_property
    def _flat_tail(self) -> tuple[Any, ...]:
        return (
            (self.args, self.kinks)
            if self.kind == "value"
            else (self.args, self.kinks, self.at_kink)
        )

    def _flat_kernel(self, arrays: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        """The loop for :meth:`run_flat`'s (or :meth:`run_addr`'s) arrays and the arrays
        to give it: for one array the in-place loop, or the two-array loop given it
        twice."""
        if len(arrays) != 1:
            return self.kernel, arrays
        if self.inplace is not None:
            return self.inplace, arrays
        return self.kernel, (arrays[0], arrays[0])

    def run_flat(self, *arrays: Any, fresh: int = 0) -> Any:
        """The kernel on 1-D arrays that the caller has made plain: C-contiguous,
        aligned, native, of this plan's dtype (not float16), one length, the output
        overlapping no input. ``(x, out)`` for a value plan, ``(x,)`` to write the value
        over ``x`` (the in-place loop), ``(x, grad_out, out)`` for a backward plan;
        ``fresh``: the bytes of newly allocated output. For one weight only (no
        ``channel``). relukit.torch's eager route, which makes its arrays so, calls this:
        none of :meth:`run`'s checks, whose Python cost is a large share of a small
        call. Returns None, or :data:`NOT_RUN` when numba failed."""
        kernel, arrays = self._flat_kernel(arrays)
        n = arrays[0].shape[0]
        ths = _SETTINGS.get().threads
        try:
            if n < threads.PARALLEL_MIN_SIZE or n < self.grain >> 2 or ths < 2:
                if n:
                    kernel(*arrays, *self._flat_tail)  # (one thread: threads.run's own test)
            else:
                threads.run(
                    kernel,
                    *arrays,
                    *self._flat_tail,
                    arrays=len(arrays),
                    grain=self.grain,
                    fresh=fresh,
                    threads=ths,
                )
        except Exception as exc:
            return _failed(exc)
        return None

    @functools.cached_property
    def _addr_dtype(self) -> str:
        return _np.dtype(self.dtype).name

    def run_addr(self, *addresses: int, n: int, fresh: int = 0) -> Any:
        """:meth:`run_flat` by the arrays' data addresses (``int``) and their length
        ``n``: no NumPy array is made (:mod:`relukit._kernels_addr`), which in a model
        saves more than the small kernels take. The memory must be as
        :meth:`run_flat` asks, and alive for the call. Returns None, :data:`NOT_RUN`
        when numba failed, or :data:`NO_ADDR` where relukit's own pool would share the
        call (the caller then passes arrays to :meth:`run_flat`)."""
        kernel, addresses = self._flat_kernel(addresses)
        if not n:
            return None
        global _addr
        if _addr is None:
            from relukit import _kernels_addr as _addr
        arrays = len(addresses)
        try:
            k = threads.split(n, self.grain, 64, fresh, _SETTINGS.get().threads)
            if k == 1:
                _addr.entry(kernel, arrays, self._addr_dtype, False)(
                    *addresses, n, *self._flat_tail
                )
            elif k:
                par = _addr.entry(kernel, arrays, self._addr_dtype, True)
                threads.call_parallel(par, k, *addresses, n, k, 64, *self._flat_tail)
            else:
                return NO_ADDR
        except Exception as exc:
            return _failed(exc)
        return None

    @functools.cached_property
    def _plain_ok(self) -> bool:
        return self.kind in ("value", "derivative") and self.channel is None

    def run_plain(self, x: Any, out: Any = None) -> Any:
        """The common call with the least Python around it, or ``None`` where it is not
        one: ``x`` a C-contiguous, aligned ndarray of this plan's dtype; ``out`` None,
        ``x`` itself, or a writeable C-contiguous aligned ndarray of ``x``'s shape and
        dtype that does not overlap ``x``; a value or derivative plan with one weight.
        Returns the result array (``out`` when given), ``None`` (take :meth:`run`), or
        :data:`NOT_RUN` when numba failed. On small arrays the checks of :meth:`run`
        cost more than the kernel: this is the path of ``rk.relu(x)``."""
        if not self._plain_ok:
            return None
        f = x.flags
        dt = self.dtype
        xd = x.dtype
        if not (f.c_contiguous and f.aligned) or (xd is not dt and xd != dt):
            return None
        np = _np
        if out is None:
            y = np.empty(x.shape, dt)
        elif out is x:
            if not f.writeable:
                return None
            y = x
        else:
            if out.__class__ is not np.ndarray:
                return None
            od = out.dtype
            if out.shape != x.shape or (od is not dt and od != dt):
                return None
            g = out.flags
            if not (g.writeable and g.c_contiguous and g.aligned) or np.may_share_memory(out, x):
                return None
            y = out
        n = x.size
        if not n:
            return y
        xf, yf = (x, y) if x.ndim == 1 else (x.reshape(-1), y.reshape(-1))
        kernel = self.kernel
        arrays: tuple[Any, ...] = (xf, yf)
        if y is x and self.inplace is not None:
            kernel, arrays = self.inplace, (xf,)
        grain = self.grain
        ths = _SETTINGS.get().threads
        try:
            if n < threads.PARALLEL_MIN_SIZE or n < grain >> 2 or ths < 2:
                # (one thread: threads.run's own first test, written out here and in
                # run_flat and run_gated_plain: a helper function for these few lines
                # measured 0.1 us, 5% of a call on 10**3 elements)
                kernel(*arrays, *self._flat_tail)
            else:
                threads.run(
                    kernel,
                    *arrays,
                    *self._flat_tail,
                    arrays=len(arrays),
                    grain=max(grain >> 6, 1) << 6,
                    fresh=y.nbytes if out is None else 0,
                    threads=ths,
                )
        except Exception as exc:
            return _failed(exc)
        return y

    def run_gated_plain(self, a: Any, b: Any) -> Any:
        """:meth:`run_gated` into new arrays for the common call, with the least Python
        around it: ``a`` and ``b`` C-contiguous, aligned ndarrays of this plan's dtype
        and one shape. Returns the results (a tuple), ``None`` where the call is not
        such a call (take :meth:`run_gated`), or :data:`NOT_RUN` when numba failed."""
        dt = self.dtype
        ad, bd = a.dtype, b.dtype
        if (ad is not dt and ad != dt) or (bd is not dt and bd != dt) or a.shape != b.shape:
            return None
        f, g = a.flags, b.flags
        if not (f.c_contiguous and f.aligned and g.c_contiguous and g.aligned):
            return None
        np = _np
        outs = tuple(np.empty(a.shape, dt) for _ in range(_GATED_OUTS[self.kind]))
        n = a.size
        if n:
            arrays = [v.reshape(-1) for v in (a, b, *outs)] if a.ndim != 1 else (a, b, *outs)
            ths = _SETTINGS.get().threads
            try:
                if n < threads.PARALLEL_MIN_SIZE or n < self.grain >> 2 or ths < 2:
                    self.kernel(*arrays, *self._flat_tail)
                else:
                    threads.run(
                        self.kernel,
                        *arrays,
                        *self._flat_tail,
                        arrays=len(arrays),
                        grain=self.grain,
                        fresh=0,
                        threads=ths,
                    )
            except Exception as exc:
                return _failed(exc)
        return outs

    def run(self, x: Any, out: Any = None) -> Any:
        """Compute on the ndarray ``x`` (any layout, this plan's dtype or float16).

        ``out`` (already checked by the caller: shape, dtype, writeable) is an array,
        or a pair for ``"both"``. Returns ``out`` itself when given, else the new
        array(s); :data:`NOT_RUN` when numba failed.
        """
        try:
            return _execute(self, x, out)
        except Exception as exc:
            return _failed(exc)


#: the result arrays of a gated plan by kind (value; d/d gate, d/d up; all three)
_GATED_OUTS = {"value": 1, "derivative": 2, "both": 3}


def _pack(np: Any, dtype: Any, values: tuple, exact: bool) -> Any:
    """The formula's arguments as a read-only array: the dtype for exact formulas (a
    parameter meets the array in its dtype, as in NumPy), else float64."""
    key = (dtype.char, exact, *(v.hex() for v in values))  # -0.0 != 0.0, nan == nan
    hit = _PACKED.get(key)
    if hit is None:
        with np.errstate(all="ignore"):
            hit = np.array([*values, 0.0, 0.0, 0.0][:3], dtype=dtype if exact else np.float64)
        hit.flags.writeable = False
        if len(_PACKED) > 512:
            _PACKED.clear()
        _PACKED[key] = hit
    return hit


_PACKED: dict[tuple, Any] = {}


def _kink_block(
    np: Any, dtype: Any, at_kink: float | None, kinks: list[float], exact: bool = False
) -> Any:
    k0 = kinks[0] if kinks else 0.0
    k1 = kinks[-1] if kinks else 0.0
    kv = 0.0 if at_kink is None else at_kink
    with np.errstate(all="ignore"):
        block = np.array([0.0, 0.0, 0.0, kv, k0, k1], dtype=dtype)
    # a kink that the dtype cannot hold (softplus's threshold / beta = 1/3 in float32)
    # is at no input of it: NaN, equal to nothing (rounded, it would catch a neighbour).
    # The exact entries compute in the dtype with their parameters rounded to it: their
    # kink is that rounded number (hardtanh's min_val = -0.3 at float32's -0.3)
    for i, k in ((4, k0), (5, k1)):
        if not exact and float(block[i]) != k:
            block[i] = np.nan
    block.flags.writeable = False
    return block


def plan(
    act: Any, kind: str, dtype: Any, params: Mapping[str, Any], at_kink: float | None, x: Any = None
) -> Plan | None:
    """The :class:`Plan` of ``kind`` of ``act`` on arrays of ``dtype``, or ``None``.

    ``kind`` is ``value``, ``derivative``, ``both``, ``backward`` or ``backward_y``.
    ``x`` is needed only for per-channel PReLU weights (their shape follows ``x``; such
    plans are not to be cached).
    """
    if not settings().enabled:
        return NO_PLAN
    build = _load()
    if build is None:
        return NO_PLAN
    np = _np
    dtype = np.dtype(dtype).newbyteorder("=")
    half = dtype.char == "e"
    if half:
        dtype = np.dtype(np.float64)  # float16: the float64 kernels on the widened array
    elif dtype.char not in "fd":
        return NO_PLAN
    math = act.math
    channel = None
    if math.channel is not None and x is not None:
        math.resolve(params, x, np)  # the entry's own checks of the weight against x
        w = params[math.channel]
        if not isinstance(w, float):
            wa = np.asarray(w, dtype=np.float64).reshape(-1)
            if wa.size > 1:
                channel = wa
                params = {**params, math.channel: 0.0}
    formulas, args = math.resolve(params)
    if args is None:
        return NO_PLAN  # (rrelu in training: random slopes, the NumPy formula)
    if kind == "backward_y" and not formulas.can_use_output(args):
        raise ValueError(f"{act.name}: no derivative from the output for these parameters")
    kinks = [k.location(params) for k in act.kinks] if channel is None else [0.0]
    if len(kinks) > 2:
        return NO_PLAN
    gated = bool(getattr(act, "gated", False))
    # (a gated entry: where the lean tails reach far enough for f(gate) * up; an
    # infinite up takes the float64 primitives: relukit._kernels_loops)
    lean = dtype.char == "f" and not formulas.exact and (formulas.lean_tails or not gated)
    if lean and formulas.lean is not None and not formulas.lean(*args):
        lean = False
    arity = len(args) if channel is None else 1
    kk = 1 if (at_kink is not None and kinks and kind not in ("value", "backward_y")) else 0
    kernel = build.kernel(
        formulas, "32" if lean else "64", kind, arity, channel is not None, gated, kk == 1
    )
    grain = threads.GRAIN[formulas.work]
    extra = None
    if channel is not None:
        with np.errstate(all="ignore"):
            extra = channel.astype(dtype)
    values = tuple(float(a) for a in args)
    if half:
        # float16 computes as PyTorch does, with the parameters and kinks rounded to
        # float32 (its "opmath"): the float64 kernel on float16 values and float32
        # parameters gives those products and comparisons exactly
        with np.errstate(all="ignore"):
            values = tuple(float(np.float32(v)) for v in values)
            kinks = [float(np.float32(k)) for k in kinks]
    inplace = None
    if kind == "value" and channel is None and not gated:
        inplace = build.kernel(formulas, "32" if lean else "64", "value_inplace", arity)
    return Plan(
        kernel,
        kind,
        dtype,
        _pack(np, dtype, values, formulas.exact and not gated),
        _kink_block(np, dtype, at_kink, kinks, formulas.exact),
        kk,
        grain,
        extra,
        inplace,
    )


# ---------------------------------------------------------------------------
# running a plan
# ---------------------------------------------------------------------------


def _plain(np: Any, a: Any, dtype: Any) -> bool:
    return (
        type(a) is np.ndarray
        and a.dtype == dtype
        and a.flags.c_contiguous
        and a.flags.aligned
        and a.dtype.isnative
    )


def _same_memory(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are the very same elements (in place)."""
    if a is b:
        return True
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.strides == b.strides
        and a.shape == b.shape
    )


def _may_alias(np: Any, a: Any, b: Any) -> bool:
    """``a`` may overlap ``b`` other than as the very same memory (in place)."""
    return bool(np.may_share_memory(a, b)) and not _same_memory(a, b)


def _tail(plan: Plan, x: Any) -> tuple[tuple, int]:
    """The kernel's arguments after the arrays, and the alignment of thread slices."""
    tail: tuple = (plan.args, plan.kinks)
    if plan.kind != "value":
        tail = (*tail, plan.at_kink)
    if plan.channel is None:
        return tail, 64
    c = x.shape[1] if x.ndim >= 2 else 1
    if plan.channel.size != c:
        raise ValueError(f"{plan.channel.size} weights for {c} channel(s)")
    inner = x.size // (x.shape[0] * c) if x.size else 1
    # slices start at whole (channel, inner) blocks: the loops count channels from there
    return (*tail, plan.channel, c, inner), max(1, c * inner)


def _execute(plan: Plan, x: Any, out: Any) -> Any:
    np = _np
    if x.dtype.char == "e":
        return _execute_half(plan, x, out)
    dtype = plan.dtype
    two = plan.kind == "both"
    outs = (out if two else (out,)) if out is not None else ((None, None) if two else (None,))
    # the input: C-contiguous, aligned, native, in the kernel's dtype
    xk = x if _plain(np, x, dtype) else np.ascontiguousarray(x, dtype=dtype)
    # the outputs: written directly where they are plain arrays of the dtype that do not
    # overlap the input other than in place; else a new array, copied into ``out`` after
    direct = [
        o
        if o is not None and _plain(np, o, dtype) and not _may_alias(np, o, xk)
        else np.empty(x.shape, dtype)
        for o in outs
    ]
    if two and direct[0] is direct[1]:
        direct[1] = np.empty(x.shape, dtype)
    tail, align = _tail(plan, x)
    fresh = sum(a.nbytes for a, o in zip(direct, outs, strict=True) if a is not o)
    kernel, arrays = plan.kernel, (xk, *direct)
    if out is not None and out is xk and plan.inplace is not None:
        # (in place: the same array object; a view of the same memory made anew takes
        # the two-array loop, with the same bits: a look at the views costs microseconds,
        # as much as a small call)
        kernel, arrays = plan.inplace, (xk,)
    if xk.size:
        threads.run(
            kernel,
            *(a.reshape(-1) for a in arrays),
            *tail,
            arrays=len(arrays),
            grain=max(plan.grain // align, 1) * align,
            align=align,
            fresh=fresh,
            threads=settings().threads,
        )
    for a, o in zip(direct, outs, strict=True):
        if o is not None and a is not o:
            np.copyto(o, a)
    if out is not None:
        return out  # the caller's object itself (the pair for "both")
    return (direct[0], direct[1]) if two else direct[0]


def _execute_gated(plan: Plan, a: Any, b: Any, g: Any, outs: tuple[Any, ...]) -> tuple[Any, ...]:
    np = _np
    half = a.dtype.char == "e"
    ins = [a, b] if g is None else [a, b, g]
    ins = [v.astype(np.float64) if half else np.ascontiguousarray(v, plan.dtype) for v in ins]
    news = [
        o
        if o is not None and not half and _plain(np, o, plan.dtype)
        else np.empty(a.shape, plan.dtype)
        for o in outs
    ]
    tail, align = _tail(plan, a)
    if a.size:
        threads.run(
            plan.kernel,
            *(v.reshape(-1) for v in (*ins, *news)),
            *tail,
            arrays=len(ins) + len(news),
            grain=plan.grain,
            align=align,
            fresh=0,
            threads=settings().threads,
        )
    results = []
    for n_, o in zip(news, outs, strict=True):
        # (float16: overflow to ±inf and underflow are the rounding intended, no warning)
        if o is not None and n_ is not o:
            with np.errstate(all="ignore"):
                np.copyto(o, n_, casting="same_kind")
            n_ = o
        elif half:
            with np.errstate(all="ignore"):
                n_ = n_.astype(np.float16)
        results.append(n_)
    return tuple(results)


#: float16 arrays are widened to float64 and rounded back in chunks of this many
#: elements, so that a call needs at most a few MB beyond its output (not 8x the array)
HALF_CHUNK = 1 << 18


def _execute_half(plan: Plan, x: Any, out: Any) -> Any:
    """float16: each chunk widened to float64 (exactly), the float64 kernel, each result
    rounded once to float16 (NumPy's bits), with the loops of :mod:`relukit._kernels_half`."""
    np = _np
    two = plan.kind == "both"
    outs = (out if two else (out,)) if out is not None else ((None, None) if two else (None,))
    xc = np.ascontiguousarray(x)  # (float16: a copy only when strided or unaligned)
    flat_x = xc.reshape(-1)
    # each result goes chunk by chunk straight into a C-contiguous out (either byte
    # order) that is x itself (in place: a chunk of x is widened before its results are
    # written) or does not overlap x; else into a new array, copied into out at the end
    news = [
        o
        if o is not None and o.flags.c_contiguous and not _may_alias(np, o, xc)
        else np.empty(x.shape, np.float16)
        for o in outs
    ]
    flat_out = [a.reshape(-1) for a in news]
    tail, align = _tail(plan, x)
    n = flat_x.size
    step = max(HALF_CHUNK // align, 1) * align
    s = settings()
    # the float64 buffers, made once: a chunk's are not alive next to the last one's
    wide_buf = np.empty(min(n, step), np.float64)
    res_buf = [np.empty(min(n, step), np.float64) for _ in news]
    for start in range(0, n, step):
        stop = min(n, start + step)
        wide = _widen_half(np, flat_x[start:stop], wide_buf[: stop - start])
        res = [r[: stop - start] for r in res_buf]
        threads.run(
            plan.kernel,
            wide,
            *res,
            *tail,
            arrays=1 + len(res),
            grain=max(plan.grain // align, 1) * align,
            align=align,
            fresh=0,
            threads=s.threads,
        )
        for r, f in zip(res, flat_out, strict=True):
            chunk = f[start:stop]
            if chunk.dtype.isnative and chunk.flags.aligned:
                _narrow_half(np, r, chunk)
            else:  # (the bit loops write native float16: through one chunk)
                native = np.empty(chunk.shape, np.float16)
                _narrow_half(np, r, native)
                chunk[...] = native
    for a, o in zip(news, outs, strict=True):
        if o is not None and a is not o:
            np.copyto(o, a)
    if out is not None:
        return out
    return (news[0], news[1]) if two else news[0]


_half: Any = None  # relukit._kernels_half, once a float16 array is seen


def _half_mod() -> Any:
    global _half
    if _half is None:
        from relukit import _kernels_half

        _half = _kernels_half
    return _half


def _widen_half(np: Any, x: Any, wide: Any = None) -> Any:
    """float16 -> float64, exactly (NumPy's bits), with a vectorised loop; into ``wide``
    (a C-contiguous float64 array of x's size) when given."""
    if wide is None:
        wide = np.empty(x.shape, np.float64)
    if not (x.dtype.isnative and x.flags.aligned and x.flags.c_contiguous):
        wide.reshape(-1)[...] = x.reshape(-1)  # (NumPy's exact conversion)
        return wide
    _half_mod().half_to_double(x.reshape(-1).view(np.uint16), wide.reshape(-1))
    return wide


def _narrow_half(np: Any, w: Any, out: Any) -> None:
    """float64 -> float16 into the flat C-contiguous float16 array ``out``, rounded once
    to nearest even (NumPy's bits)."""
    _half_mod().double_to_half(w, out.view(np.uint16))


def backward_kernel(
    act: Any,
    x: Any,
    grad_out: Any,
    params: Mapping[str, Any],
    at_kink: Any,
    out: Any,
    from_output: bool = False,
) -> Any:
    """``grad_out * derivative`` in one pass, or :data:`NOT_RUN` (the NumPy formula).

    Inputs are validated by the caller (:func:`relukit._dispatch.backward`); ``x`` is
    the output when ``from_output``. float16 gradients take the NumPy formula.
    """
    if x.dtype.char not in "fd" or getattr(act, "gated", False):
        return NOT_RUN  # (a gated entry's backward takes two inputs: Plan.run_gated)
    kind = "backward_y" if from_output else "backward"
    p = plan(act, kind, x.dtype, params, at_kink, x)
    if p is None:
        return NOT_RUN
    return p.run_backward(x, grad_out, out)


def _execute_backward(p: Plan, x: Any, grad_out: Any, out: Any) -> Any:
    np = _np
    xs = x if _plain(np, x, p.dtype) else np.ascontiguousarray(x, dtype=p.dtype)
    gs = grad_out if _plain(np, grad_out, p.dtype) else np.ascontiguousarray(grad_out, p.dtype)
    res = out
    if (
        res is None
        or not _plain(np, res, p.dtype)
        or (_may_alias(np, res, xs) or _may_alias(np, res, gs))
    ):
        res = np.empty(x.shape, p.dtype)
    tail, align = _tail(p, x)
    if x.size:
        threads.run(
            p.kernel,
            xs.reshape(-1),
            gs.reshape(-1),
            res.reshape(-1),
            *tail,
            arrays=3,
            grain=max(p.grain // align, 1) * align,
            align=align,
            fresh=res.nbytes if res is not out else 0,
            threads=settings().threads,
        )
    if out is not None and res is not out:
        np.copyto(out, res)
        return out
    return res
