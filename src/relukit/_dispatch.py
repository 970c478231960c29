"""Input routing and validation: Python scalars, sequences, NumPy, Array API arrays.

One function, :func:`apply`, serves every activation and every kind of evaluation
(``"value"``, ``"derivative"``, ``"both"``); :func:`default_call` is its shortcut for the
default parameters. The checks run in the order of their cost: Python ``float``/``int``
first, then NumPy, then lists/tuples, then any array that speaks the Array API standard
(PyTorch, JAX, CuPy, Dask), through ``array-api-compat``.

One input, one result: NumPy float arrays of every size, layout and byte order, and
Python floats (a one-element array), are computed by the same compiled kernel
(:mod:`relukit._kernels`), so a value never depends on how it was asked for. The
exact formulas (the piecewise-linear entries) give the kernels' bits in pure Python,
so a Python number for them never imports NumPy. Dask arrays run the same kernels on
each block; the other Array API libraries (PyTorch, JAX, CuPy) compute the formulas
with their own operations (:mod:`relukit._prims.numpy`).

NumPy is imported lazily, so ``import relukit`` stays light.
"""

from __future__ import annotations

import functools
import importlib
import math
import numbers
import struct
from typing import TYPE_CHECKING, Any

from relukit import _containers
from relukit._messages import ACCEPTED
from relukit._messages import describe as _describe

if TYPE_CHECKING:
    from relukit.catalogue import Activation

_np: Any = None
_ndarray: Any = None  # numpy.ndarray, once NumPy is imported
_kernels_mod: Any = None  # relukit._kernels, once imported


def numpy() -> Any:
    """Import NumPy on first use (keeps ``import relukit`` light)."""
    global _np, _ndarray
    if _np is None:
        import numpy

        _np = numpy
        _ndarray = numpy.ndarray
    return _np


def _kernels() -> Any:
    global _kernels_mod
    if _kernels_mod is None:
        from relukit import _kernels

        _kernels_mod = _kernels
    return _kernels_mod


def _bad_input(act: Activation, x: Any) -> TypeError:
    return TypeError(f"{act.name}: x must be {ACCEPTED}; got {_describe(x)}")


def check_at_kink(owner: Activation | str, at_kink: Any) -> float | None:
    """Validate ``at_kink``: ``None`` or a real number (NaN and ±inf allowed).

    ``owner`` names the caller in the message: an activation (``relu.derivative``) or a
    label (``"plot"``, ``"relukit.torch.relu"``). Every front end uses this one check.
    """
    if at_kink is None:
        return None
    who = owner if isinstance(owner, str) else f"{owner.name}.derivative"
    if isinstance(at_kink, bool) or not isinstance(at_kink, numbers.Real):
        raise TypeError(
            f"{who}: at_kink must be None (the PyTorch convention) or a real "
            f"number such as 0, 1, 0.5 or nan; got {_describe(at_kink)}"
        )
    try:
        return float(at_kink)
    except OverflowError:  # an int or Fraction beyond every float (10**400)
        raise ValueError(
            f"{who}: at_kink = {_describe(at_kink)} is too large to convert to a float; "
            "it must be None or a real number such as 0, 1, 0.5 or nan"
        ) from None


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------


def default_call(act: Activation, kind: str, x: Any, out: Any, at_kink: Any) -> Any:
    """:func:`apply` with the default parameters: the shortest paths first."""
    t = x.__class__
    if t is float and out is None and at_kink is None:
        return _scalar(act, kind, x, act._defaults, None)
    if t is _ndarray and at_kink is None:
        call = _CALLS.get((act, kind, x.dtype))
        if call is not None:
            plan = call.plan
            # (``switched(enabled=False)`` since planned: the NumPy formulas)
            if plan is not None and _kernels_mod._SETTINGS.get().enabled:
                res = plan.run_plain(x, out)  # (None: not the common case)
                if res is None and (
                    # (out= for an integer x, whose result is float, and the pair of
                    # "both": the general path checks them)
                    out is None or (kind != "both" and x.dtype.kind == "f" and _out_plain(x, out))
                ):
                    res = plan.run(x, out)
                if res is not None and res is not _kernels_mod.NOT_RUN:
                    return res
    return apply(act, kind, x, (), {}, out, at_kink)


def apply(
    act: Activation,
    kind: str,
    x: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    out: Any,
    at_kink: Any,
) -> Any:
    """Evaluate ``act`` on ``x``: ``kind`` is ``"value"``, ``"derivative"`` or ``"both"``."""
    tx = type(x)
    if tx is _ndarray:
        call = _cached_call(act, kind, x.dtype, args, kwargs, at_kink)
        if call is not None:
            plan = call.plan
            if plan is not None and _kernels_mod._SETTINGS.get().enabled:
                res = plan.run_plain(x, out)  # (None: not the common case)
                if res is not None and res is not _kernels_mod.NOT_RUN:
                    return res
            return _numpy(act, kind, x, call.params, out, call.at_kink, call=call)
    params = act.bind(args, kwargs, _call_name(act, kind))
    at_kink = check_at_kink(act, at_kink)
    if (tx is float or tx is int) and out is None:
        return _scalar(act, kind, x, params, at_kink)
    np = numpy()
    if tx is not np.ndarray and _containers.container_kind(tx) is not None:
        # pandas, xarray, masked arrays, np.matrix: the same kind of object back
        return _containers.apply(
            act,
            kind,
            x,
            args,
            kwargs,
            out,
            lambda arr, o=None: apply(act, kind, arr, args, kwargs, o, at_kink),
        )
    if isinstance(x, (np.ndarray, np.generic)):
        return _numpy(act, kind, x, params, out, at_kink)
    if isinstance(x, (list, tuple, range)):
        return _numpy(act, kind, _from_sequence(act, x), params, out, at_kink)
    if isinstance(x, (bool, complex, str, bytes)) or x is None:
        raise _bad_input(act, x)
    if isinstance(x, int) and tx is not int:  # IntEnum members, other int subclasses:
        x = int(x)  # their int value (a Python int back where ints are kept)
    if isinstance(x, numbers.Real):  # float/int with out=, Fraction, other real scalars
        if out is None:
            return _scalar(act, kind, x, params, at_kink)
        return _numpy(act, kind, _scalar_array(act, x), params, out, at_kink)
    return _array_api(act, kind, x, params, out, at_kink)


# ---------------------------------------------------------------------------
# the per-call-signature cache of the NumPy array path
# ---------------------------------------------------------------------------
#
# A call on a NumPy array binds and validates its parameters, checks ``at_kink`` and
# plans its kernel. All of that depends only on the activation, the kind, the dtype and
# the parameter values as passed, so it is done once per such signature and kept.
# Parameter values are keyed by type and exact value (``float.hex``: -0.0 and 0.0
# differ, NaN matches NaN; ``True`` and ``1`` differ); other values (arrays, Fractions)
# are not cached and take the general path. A call that raises caches nothing.


class _Call:
    """A cached call signature: its bound parameters, ``at_kink`` and kernel plan."""

    __slots__ = ("at_kink", "params", "plan", "planned")

    def __init__(self, params: dict, at_kink: float | None) -> None:
        self.params = params
        self.at_kink = at_kink
        self.plan: Any = None
        self.planned = False


_CALLS: dict[tuple, Any] = {}  # (also the gated entries' plans: _gated_plan)


def _value_key(v: Any) -> Any:
    t = v.__class__
    if t is float:
        return (t, v.hex())
    if t is int or t is str or t is bool:
        return (t, v)
    return None


@functools.cache
def _draws_seed(act: Activation) -> bool:
    return any(p.kind == "seed" for p in act.params_list)


def _cached_call(
    act: Activation, kind: str, dtype: Any, args: tuple, kwargs: dict, at_kink: Any
) -> _Call | None:
    """The cached :class:`_Call` of this call signature, or ``None`` (not cacheable).

    ``None`` too for an entry with a random-seed parameter in training mode (rrelu with
    ``training=True``): binding draws a fresh seed for each call, so such a call is never
    cached. In evaluation mode (the default) nothing is drawn.
    """
    if _draws_seed(act) and kwargs.get("training", False) is not False:
        return None
    key: tuple = (act, kind, dtype)
    if args or kwargs:
        for v in args:
            k = _value_key(v)
            if k is None:
                return None
            key += (k,)
        for name, v in kwargs.items():
            k = _value_key(v)
            if k is None:
                return None
            key += (name, k)
    if at_kink is not None:
        k = _value_key(at_kink)
        if k is None:
            return None
        key += ("at_kink", k)
    call = _CALLS.get(key)
    if call is None:
        params = act.bind(args, kwargs, _call_name(act, kind))  # raises: nothing cached
        if act.check_dtype is not None:  # (the key holds x's dtype)
            act.check_dtype(params, _dtype_of(act, dtype))
        call = _Call(params, check_at_kink(act, at_kink))
        if len(_CALLS) >= 4096:
            _CALLS.clear()
        _CALLS[key] = call
    return call


def _dtype_of(act: Activation, dtype: Any) -> Any:
    """The floating dtype a NumPy array of ``dtype`` computes its derivative in."""
    np = numpy()
    return dtype.newbyteorder("=") if dtype.kind == "f" else np.dtype(np.float64)


def _call_name(act: Activation, kind: str) -> str:
    if kind == "value":
        return act.name
    return f"{act.name}.{'derivative' if kind == 'derivative' else 'value_and_derivative'}"


def _out_plain(x: Any, out: Any) -> bool:
    """``out`` is a writeable ndarray of ``x``'s shape and dtype (anything else takes the
    checks of :func:`_numpy`, which raise or convert)."""
    return (
        out.__class__ is _ndarray
        and out.shape == x.shape
        and out.dtype == x.dtype
        and out.flags.writeable
    )


# ---------------------------------------------------------------------------
# Python scalars
# ---------------------------------------------------------------------------


def _real(act: Activation, x: Any, what: str = "x") -> float:
    try:
        return float(x)
    except OverflowError:
        raise ValueError(
            f"{act.name}: {what} = {_describe(x)} is too large to convert to a float"
        ) from None


def _scalar(act: Activation, kind: str, x: Any, params: dict, at_kink: float | None) -> Any:
    if act.check_dtype is not None:
        act.check_dtype(params, "float64")  # (a Python number computes as a float64)
    math_, fargs = act.math.resolve(params)
    if kind == "value" and type(x) is int and act.integer_preserving and fargs is not None:
        from relukit._prims.numpy import MATH

        return math_.value(MATH, x, *fargs)  # (any int, also one beyond every float)
    xf = _real(act, x)
    if xf != xf:  # NaN in, the same NaN out (quieted, as the kernels give it back)
        q = _quiet(xf)
        return (q, q) if kind == "both" else q
    if fargs is None or not (math_.exact or not _kernels().available()):
        # a kernel on a one-element array: the bits of every array of this value
        arr = numpy().array([xf])
        res = _numpy(act, kind, arr, params, None, at_kink)
        return (float(res[0][0]), float(res[1][0])) if kind == "both" else float(res[0])
    from relukit._prims.numpy import MATH

    results = []
    if kind != "derivative":
        keep_int = type(x) is int and act.integer_preserving
        v = math_.value(MATH, x if keep_int else xf, *fargs)
        results.append(v if keep_int else float(v))
    if kind != "value":
        d = float(math_.derivative(MATH, xf, *fargs))
        if at_kink is not None:
            for k in act.kinks:
                if xf == k.location(params):
                    d = at_kink
        results.append(d)
    return tuple(results) if kind == "both" else results[0]


def _quiet(v: float) -> float:
    """The NaN ``v`` with its quiet bit set, its sign and payload kept (a signalling NaN
    given as a Python float keeps its bits through Python's arithmetic)."""
    bits = struct.unpack("<Q", struct.pack("<d", v))[0] | (1 << 51)
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


# ---------------------------------------------------------------------------
# NumPy
# ---------------------------------------------------------------------------


def _scalar_array(act: Activation, x: Any) -> Any:
    """A real scalar as a 0-d array (for ``out=``): an int as NumPy holds it, else (a
    Fraction, an int beyond int64) its float; ValueError for one beyond every float."""
    np = numpy()
    try:
        arr = np.asarray(x)
    except OverflowError:
        arr = np.asarray(None)
    if arr.dtype.kind in "iuf":
        return arr
    return np.asarray(_real(act, x))


def _from_sequence(act: Activation, x: Any, what: str = "x") -> Any:
    """A list/tuple/range as a NumPy array; ``what`` names the argument in the messages
    (``x``, or a gated entry's ``gate`` and ``up``)."""
    np = numpy()
    if isinstance(x, range):
        return np.asarray(x)
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"{act.name}: {what} must be {ACCEPTED}; got a {type(x).__name__} that NumPy "
            f"cannot turn into a numeric array ({exc})"
        ) from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{act.name}: {what} must be {ACCEPTED}; got a {type(x).__name__} whose items "
            f"make a NumPy array of dtype {arr.dtype} (only int and float items are accepted)"
        )
    if _holds_bool(x):  # NumPy turns [1, -2.5, True] into floats: refuse it as True itself
        raise TypeError(
            f"{act.name}: {what} must be {ACCEPTED}; got a {type(x).__name__} holding a bool "
            f"(only int and float items are accepted; bool is not, as for {what} itself)"
        )
    return arr


def _holds_bool(seq: Any) -> bool:
    """Whether a list/tuple holds a bool (``True``, ``np.True_``, a bool array) at any depth."""
    np = numpy()
    kinds = set(map(type, seq))  # (one pass in C; a loop only for nested items)
    if bool in kinds or np.bool_ in kinds:
        return True
    if all(k is float or k is int or issubclass(k, np.number) for k in kinds):
        return False
    for v in seq:
        if isinstance(v, (list, tuple)):
            if _holds_bool(v):
                return True
        elif getattr(getattr(v, "dtype", None), "kind", None) == "b":
            return True
    return False


def _work_dtype(act: Activation, kind: str, x: Any) -> Any:
    """The dtype of the result; raises for dtypes that are not real numbers."""
    np = numpy()
    k = x.dtype.kind
    if k == "f":
        return x.dtype.newbyteorder("=")
    if k in "iu":
        if kind == "value" and act.integer_preserving:
            return x.dtype.newbyteorder("=")
        return np.dtype(np.float64)
    raise TypeError(
        f"{act.name}: x must be {ACCEPTED}; got {_describe(x)} "
        "(bool, complex, object, string and datetime dtypes are not accepted)"
    )


def _check_out(act: Activation, out: Any, shape: tuple, dtype: Any, what: str = "out") -> None:
    np = numpy()
    if not isinstance(out, np.ndarray):
        raise TypeError(
            f"{act.name}: {what} must be a NumPy array of shape {shape} and dtype {dtype}, "
            f"got {_describe(out)}"
        )
    if out.shape != shape:
        raise ValueError(
            f"{act.name}: {what} has shape {out.shape}, but the result has shape {shape}"
        )
    if out.dtype.newbyteorder("=") != dtype.newbyteorder("="):
        # (either byte order: the result is written byte-swapped, as NumPy's ufuncs do)
        raise ValueError(
            f"{act.name}: {what} has dtype {out.dtype}, but the result has dtype "
            f"{dtype.newbyteorder('=')} (relukit does not cast on output; out may be of "
            "either byte order)"
        )
    if not out.flags.writeable:
        raise ValueError(f"{act.name}: {what} is read-only")


def _restore_kind(x: Any, res: Any) -> Any:
    """NumPy scalar in -> NumPy scalar out; array (0-d included) in -> array out."""
    np = numpy()
    if isinstance(x, np.generic):
        return res[()] if isinstance(res, np.ndarray) else res
    return res if isinstance(res, np.ndarray) else np.asarray(res)


def _numpy(
    act: Activation,
    kind: str,
    x: Any,
    params: dict,
    out: Any,
    at_kink: float | None,
    call: _Call | None = None,
) -> Any:
    """The NumPy path: the kernels, or the NumPy formulas where there is no plan.

    ``call`` is the cached entry of this call signature (see :func:`_cached_call`): its
    kernel plan is made on the first call and kept.
    """
    np = numpy()
    vdtype = _work_dtype(act, "value", x)
    ddtype = _work_dtype(act, "derivative", x)
    if call is None and act.check_dtype is not None:  # (a cached call was checked)
        act.check_dtype(params, ddtype)
    if out is not None:
        if kind == "both":
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(
                    f"{act.name}.value_and_derivative: out must be a pair (value_out, "
                    f"derivative_out) of NumPy arrays, got {_describe(out)}"
                )
            _check_out(act, out[0], x.shape, vdtype, "out[0]")
            _check_out(act, out[1], x.shape, ddtype, "out[1]")
            if np.shares_memory(out[0], out[1]):
                raise ValueError(f"{act.name}: out[0] and out[1] must not overlap")
        else:
            _check_out(act, out, x.shape, vdtype if kind == "value" else ddtype)
    xa = x if isinstance(x, np.ndarray) else np.asarray(x)
    if xa.dtype.kind == "f" or (
        # (integers keep their dtype in the value of relu, relu6: the exact formula on
        # the integers, for value_and_derivative's value too)
        xa.dtype.kind in "iu" and not (kind != "derivative" and act.integer_preserving)
    ):
        if xa.dtype.kind in "iu":
            xa = xa.astype(np.float64)  # (integers become the default float: the same kernel)
        kernels = _kernels()
        enabled = kernels.settings().enabled  # (the plan is kept, the switch may change)
        p = None
        if call is not None and call.planned:
            p = call.plan if enabled else None
        else:
            p = kernels.plan(act, kind, xa.dtype, params, at_kink, xa)
            # (a cached call has scalar parameters only: PReLU's one weight too, whose
            # plan does not depend on x; per-channel weights are never cached)
            if call is not None and enabled and (p is None or p.channel is None):
                call.plan, call.planned = p, True
        if p is not None:
            res = p.run(xa, out)
            if res is not _kernels_mod.NOT_RUN:
                return res if out is not None else _restore_both(x, res, kind)
    with np.errstate(all="ignore"):  # overflow to ±inf is the intended limit, not an error
        results = _numpy_formula(act, kind, xa, params, at_kink, vdtype, ddtype)
    if out is not None:
        outs = out if kind == "both" else (out,)
        for o, r in zip(outs, results, strict=True):
            np.copyto(o, r)
        return out
    return _restore_both(x, tuple(results) if kind == "both" else results[0], kind)


def _restore_both(x: Any, res: Any, kind: str) -> Any:
    if kind == "both":
        return (_restore_kind(x, res[0]), _restore_kind(x, res[1]))
    return _restore_kind(x, res)


def _numpy_formula(
    act: Activation,
    kind: str,
    x: Any,
    params: dict,
    at_kink: float | None,
    vdtype: Any,
    ddtype: Any,
) -> list[Any]:
    """The formulas on NumPy arrays: exact formulas in the dtype (float16 in float64),
    the others in float64, each result rounded once to its dtype."""
    np = numpy()
    from relukit._prims.numpy import NP, namespace

    channel = act.math.channel is not None
    # (per-channel weights are resolved against the array below: a 1-D weight of several
    # elements is no scalar)
    m_, fargs = (act.math, ()) if channel else act.math.resolve(params)
    work = x
    ns = NP
    if x.dtype.kind == "f" and (x.dtype.itemsize < 8 and not (m_.exact and x.dtype.itemsize == 4)):
        work = x.astype(np.float64)
        if x.dtype.itemsize == 4:  # float32 results from float64: float32's subnormal ties
            ns = namespace(np, to32=True)
    if fargs is not None and channel:
        m_, fargs = act.math.resolve(params, work, np)
    kinks = [k.location(params) for k in act.kinks]
    if x.dtype == np.float16:
        fargs, kinks = _opmath(np, fargs), list(_opmath(np, kinks) or ())
    if fargs is None:  # rrelu in training: the random slopes
        v, d = act.math.trained(np, work, params) if act.math.train is not None else (None, None)
    else:
        v = m_.value(ns, work, *fargs) if kind != "derivative" else None
        d = m_.derivative(ns, work, *fargs) if kind != "value" else None
    results = []
    nan = work != work
    if kind != "derivative":
        v = np.where(nan, work + 0, v)  # NaN in: the same NaN (quieted) out
        results.append(np.asarray(v).astype(vdtype, copy=False))
    if kind != "value":
        d = np.asarray(d, dtype=work.dtype)
        if at_kink is not None:
            for k in kinks:
                d = np.where(work == k, at_kink, d)
        d = np.where(nan, work + 0, d)
        results.append(d.astype(ddtype, copy=False))
    return results


def _opmath(np: Any, args: Any) -> Any:
    """float16 computes with its scalar parameters and kink locations rounded to float32,
    as PyTorch's "opmath" and the kernels (:func:`relukit._kernels.plan`) do; arrays (one
    weight per channel) are left as they are, as the kernels leave them."""
    if args is None:
        return None
    with np.errstate(all="ignore"):  # (a parameter beyond float32 is its infinity there)
        return tuple(float(np.float32(a)) if np.ndim(a) == 0 else a for a in args)


# ---------------------------------------------------------------------------
# Array API (PyTorch, JAX, CuPy, Dask, ...)
# ---------------------------------------------------------------------------


def _array_api(
    act: Activation, kind: str, x: Any, params: dict, out: Any, at_kink: float | None
) -> Any:
    try:
        import array_api_compat
    except ImportError:  # pragma: no cover - array-api-compat is a dependency
        raise _bad_input(act, x) from None
    if not array_api_compat.is_array_api_obj(x):
        raise _bad_input(act, x)
    if out is not None:
        raise TypeError(
            f"{act.name}: out= is supported for NumPy arrays only; for "
            f"{type(x).__module__.split('.')[0]} arrays use the returned array"
        )
    xp = array_api_compat.array_namespace(x)
    from relukit._prims.numpy import astype, namespace
    from relukit._prims.numpy import kind as lib

    if lib(xp) == "dask":
        return _dask(act, kind, x, params, at_kink)
    if lib(xp) == "torch":
        # a CPU tensor that autograd does not need: the NumPy path on its memory (one
        # input, one result: the derivative's bits too, and rrelu's and PReLU's)
        view = _front_end("torch").numpy_view(x)
        if view is not None and (act.math.train is None or _formulas_args(act, params)):
            return _to_torch(x, _numpy(act, kind, view, params, None, at_kink))
    if xp.isdtype(x.dtype, "real floating"):
        vx = dx = x
    elif xp.isdtype(x.dtype, "integral"):
        info = xp.__array_namespace_info__()
        fdt = info.default_dtypes(device=array_api_compat.device(x))["real floating"]
        dx = xp.astype(x, fdt)
        vx = x if act.integer_preserving else dx
    else:
        raise _bad_input(act, x)
    if act.check_dtype is not None:
        act.check_dtype(params, dx.dtype)
    exact = _formulas(act, params).exact
    results = []
    for which, xi in (("value", vx), ("derivative", dx)):
        if kind not in (which, "both"):
            continue
        if not xp.isdtype(xi.dtype, "real floating"):  # relu, relu6 on integers: exact
            m_, a_ = act.math.resolve(params, xi, xp)
            results.append(getattr(m_, which)(namespace(xp), xi, *(a_ or ())))
            continue
        if which == "value" and lib(xp) in ("torch", "jax") and _differentiable_front(act):
            # relukit.torch's Function, relukit.jax's custom_jvp: autograd (torch.func,
            # jax.grad) then gives the entry's derivative formula, with its conventions, at
            # every input (autograd through the value's formula may not: inf * 0 in a
            # tail); the values are this path's (on the CPU the kernels' bits)
            results.append(_front_value(act, lib(xp), xi, params))
            continue
        work, f32 = _working(xp, xi, exact)
        w = xi if work == xi.dtype else astype(xp, xi, work)
        m_, a_ = act.math.resolve(params, w, xp)
        if a_ is None:
            r = act.math.trained(xp, w, params)[0 if which == "value" else 1]
        else:
            r = getattr(m_, which)(namespace(xp, f32, to32=_to32(xp, xi, f32)), w, *a_)
        if which == "derivative" and at_kink is not None:
            for k in act.kinks:
                r = xp.where(w == k.location(params), at_kink, r)
        results.append(_same_nan(xp, xi, r))
    return tuple(results) if kind == "both" else results[0]


#: The front end that computes the value on each library's arrays (see _front_value),
#: by module name. The front ends are built on the catalogue and on this module (at import
#: time), so this module must not import them: it looks one up, by name, only when a torch
#: tensor or a JAX array arrives, and uses only ``plan``/``apply``/``apply_gated``
#: (relukit.torch) and the entries' functions or ``make`` (relukit.jax).
FRONT_ENDS = {"torch": "relukit.torch._core", "jax": "relukit.jax"}


def kink_at(loc: float, dtype: str, exact: bool) -> float:
    """The number an input of ``dtype`` (a name) must equal to be AT the kink ``loc``, or
    NaN where none is: float16 and bfloat16 compute with the kinks rounded to float32
    (their "opmath"), and so does float32 for the exact entries (computed in the dtype,
    their parameters rounded to it); the other entries compute float32 in float64, where
    a kink that float32 cannot hold (softplus's threshold / beta = 1/3) is at no float32
    input; float64 takes it as it is."""
    if dtype in ("float16", "bfloat16") or dtype == "float32":
        r = _round_f32(loc)
        if dtype == "float32" and not exact and r != loc:
            return math.nan
        return r
    return loc


def _round_f32(v: float) -> float:
    """``v`` rounded to float32 (nearest, ties to even), in plain Python arithmetic: no
    NumPy, so that torch.compile traces it as constants."""
    if v == 0 or not math.isfinite(v):
        return v
    if abs(v) < 2.0**-126:  # subnormal in float32: a multiple of 2**-149
        return round(v * 2.0**149) * 2.0**-149
    m, e = math.frexp(v)
    r = math.ldexp(round(m * 2.0**24), e - 24)
    return r if abs(r) < 2.0**128 else math.copysign(math.inf, v)


def _formulas_args(act: Activation, params: dict) -> bool:
    """The entry computes by its formulas with these parameters (not rrelu's random
    slopes in training, which each library draws its own way)."""
    return act.math.resolve(params)[1] is not None


def _to_torch(like: Any, res: Any) -> Any:
    """The NumPy path's result(s) ``res`` (arrays, or tuples of them) as CPU tensors."""
    if isinstance(res, tuple):
        return tuple(_to_torch(like, r) for r in res)
    import torch

    return torch.from_numpy(numpy().asarray(res))


def _front_end(library: str) -> Any:
    """The front-end module for ``library`` (``"torch"`` or ``"jax"``), imported on first use."""
    return importlib.import_module(FRONT_ENDS[library])


def _front_gated(act: Activation, library: str, a: Any, b: Any, params: dict) -> Any:
    """The gated entry ``act`` at ``(a, b)`` by relukit.torch or relukit.jax."""
    front = _front_end(library)
    if library == "torch":
        return front.apply_gated(front.plan(act.name, tuple(params.values())), a, b, None)
    fn: Any = getattr(front, act.name, None)
    if getattr(fn, "__name__", None) != act.name:
        fn = front.make(act)
    return fn(a, b, **params)


def _differentiable_front(act: Activation) -> bool:
    """The entry's value on torch tensors and JAX arrays runs through relukit.torch and
    relukit.jax (every entry but the gated ones, PReLU's weights and rrelu's random
    slopes, which keep the formulas and the library's autograd)."""
    return not (act.gated or act.math.channel is not None or act.math.train is not None)


def _front_value(act: Activation, library: str, x: Any, params: dict) -> Any:
    """The value of ``act`` at the torch tensor or JAX array ``x`` by relukit.torch or
    relukit.jax (``params`` validated already)."""
    front = _front_end(library)
    if library == "torch":
        return front.apply(front.plan(act.name, tuple(params.values())), x, False, None)
    fn: Any = getattr(front, act.name, None)
    if getattr(fn, "__name__", None) != act.name:  # (an entry made outside the catalogue)
        fn = front.make(act)
    return fn(x, **params)


def formula(act: Activation, which: str, x: Any, params: dict) -> Any:
    """An entry's formula ``which`` (``"value"``, ``"derivative"``, ``"from_output"``) on an
    Array API array ``x`` (for ``"from_output"``, the output), in the working precision
    of :func:`_working`, with NaN in giving the same NaN out. For the front ends that
    compute with a library's own operations (torch autograd's formulas, JAX)."""
    import array_api_compat

    from relukit._prims.numpy import astype, namespace

    xp = array_api_compat.array_namespace(x)
    work, f32 = _working(xp, x, _formulas(act, params).exact)
    w = x if work == x.dtype else astype(xp, x, work)
    m_, a_ = act.math.resolve(params, w, xp)
    if a_ is None:
        r = act.math.trained(xp, w, params)[0 if which == "value" else 1]
    else:
        fn: Any = m_.from_output if which == "from_output" else getattr(m_, which)
        r = fn(namespace(xp, f32, to32=_to32(xp, x, f32)), w, *a_)
    return _same_nan(xp, x, r)


def _formulas(act: Activation, params: dict) -> Any:
    """The entry's :class:`~relukit.catalogue.Math` for these parameters, before ``x`` is
    known (per-channel weights are checked against ``x`` when the formula is applied)."""
    return act.math if act.math.channel is not None else act.math.resolve(params)[0]


def _to32(xp: Any, x: Any, f32: bool) -> bool:
    """``x`` is float32 computed in float64 (on the CPU): results rounded to float32."""
    return not f32 and x.dtype == xp.float32


def _same_nan(xp: Any, x: Any, r: Any) -> Any:
    """``r`` in ``x``'s dtype, with ``x``'s NaNs (quieted) where ``x`` is NaN: put back in
    ``x``'s own dtype, since a conversion may lose a NaN's payload (torch's float16 ->
    float32 gives 0x7fffffff for every NaN)."""
    from relukit._prims.numpy import astype

    if r.dtype != x.dtype:
        r = astype(xp, r, x.dtype)
    return xp.where(x != x, x + 0, r)


def _working(xp: Any, x: Any, exact: bool) -> tuple[Any, bool]:
    """``(dtype to compute in, whether it is float32)`` for a floating ``x``.

    On the CPU (NumPy, Dask, torch CPU tensors) float32 and below are computed in
    float64 and rounded once; on GPUs (torch CUDA, CuPy) and in JAX float32 stays float32
    and float16/bfloat16 are computed in float32 (as PyTorch does). Exact formulas keep
    float32 (their one product is exact in the dtype, as the kernels compute it).
    """
    from relukit._prims.numpy import kind as lib

    dt = x.dtype
    if dt == xp.float64:
        return xp.float64, False
    k = lib(xp)
    cpu = k in ("numpy", "dask") or (k == "torch" and x.device.type == "cpu")
    if dt == xp.float32 and (exact or not cpu):
        return xp.float32, True
    if cpu and not exact:
        return xp.float64, False
    return xp.float32, True


def _dask(act: Activation, kind: str, x: Any, params: dict, at_kink: float | None) -> Any:
    """A Dask array: the NumPy path on each block (the kernels' bits), lazily."""
    np = numpy()
    meta = np.empty((0,) * x.ndim, dtype=x.dtype)
    if act.math.channel is not None:
        # the entry's checks of per-channel weights against the whole array, now (an
        # array of x's shape that takes no memory); each block gets its channels' slice
        act.math.resolve(params, np.broadcast_to(np.zeros((), x.dtype), x.shape), np)
    which = ("value", "derivative") if kind == "both" else (kind,)
    outs = []
    for w in which:
        dtype = _work_dtype(act, w, meta)
        fn = functools.partial(_dask_block, act, w, params, at_kink)
        outs.append(x.map_blocks(fn, dtype=dtype, meta=np.empty((0,) * x.ndim, dtype)))
    return tuple(outs) if kind == "both" else outs[0]


def _dask_block(
    act: Activation, kind: str, params: dict, at_kink: Any, block: Any, block_info: Any = None
) -> Any:
    np = numpy()
    block = np.asarray(block)
    channel = act.math.channel
    if channel is not None and block.ndim >= 2 and block_info is not None:
        w = params[channel]
        wa = None if isinstance(w, float) else np.asarray(w).reshape(-1)
        if wa is not None and wa.size > 1:  # one weight per channel: this block's channels
            lo, hi = block_info[0]["array-location"][1]
            params = {**params, channel: wa[lo:hi]}
    return _numpy(act, kind, block, params, None, at_kink)


# ---------------------------------------------------------------------------
# backward: grad_out * derivative in one pass
# ---------------------------------------------------------------------------


def backward(
    act: Any,
    x: Any,
    grad_out: Any,
    params: dict[str, Any] | None = None,
    at_kink: float | None = None,
    out: Any = None,
    from_output: bool = False,
) -> Any:
    """Return ``grad_out * act.derivative(x)``: the gradient with respect to ``x``.

    One pass over ``x`` and ``grad_out``; bit-for-bit equal to ``grad_out *
    act.derivative(x, **params, at_kink=at_kink)`` computed by NumPy from the
    derivative's array, so IEEE rules apply: an infinite or NaN ``grad_out`` where the
    derivative is 0 gives NaN (PyTorch's ``threshold_backward`` would give 0 there).
    Where ``x`` is NaN the result is ``x``'s NaN (quieted), whatever ``grad_out`` is:
    where both are NaN, the product alone could give either, depending on how the CPU's
    instruction is given its operands.

    Parameters
    ----------
    act
        A catalogue entry (``rk.relu``, ``rk.get("relu")``).
    x, grad_out
        NumPy arrays of the same shape and the same floating dtype (CPU torch tensors
        can be passed as ``t.numpy()`` views).
    params
        The activation's parameters by name (``{"negative_slope": 0.1}``); defaults
        for the missing ones.
    at_kink
        The derivative used exactly at a kink (``None``: the PyTorch convention).
    out
        Optional array (same shape and dtype) to write into; it may be ``grad_out``
        or ``x`` itself.
    from_output
        ``x`` is the activation's output (the entry's derivative from the output is
        used; ``at_kink`` must then be ``None``).

    Returns
    -------
    numpy.ndarray
        ``out`` when given, else a new array.

    Examples
    --------
    >>> import numpy as np
    >>> import relukit as rk
    >>> from relukit._dispatch import backward
    >>> backward(rk.relu, np.array([-1.0, 0.0, 2.0]), np.array([5.0, 5.0, 5.0]))
    array([0., 0., 5.])
    >>> backward(rk.relu, np.array([0.0]), np.array([5.0]), at_kink=1.0)
    array([5.])
    """
    np = numpy()
    if act.gated:  # (the gated kernels take two inputs and give two gradients)
        raise TypeError(
            f"{act.name} backward: a gated entry has two inputs, gate and up, and backward "
            f"takes one; use {act.name}.derivative(gate, up), the pair (d/d gate, d/d up)"
        )
    bound = act.bind((), dict(params or {}))
    at_kink = check_at_kink(act, at_kink)
    for name, a in (("x", x), ("grad_out", grad_out)):
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise TypeError(
                f"{act.name} backward: {name} must be a NumPy array of a floating dtype, "
                f"got {_describe(a)}"
            )
    if grad_out.shape != x.shape or grad_out.dtype != x.dtype:
        raise ValueError(
            f"{act.name} backward: grad_out must have the shape and dtype of x "
            f"({x.shape}, {x.dtype}), got ({grad_out.shape}, {grad_out.dtype})"
        )
    if from_output and at_kink is not None:
        raise ValueError(f"{act.name} backward: at_kink needs the input, not the output")
    dtype = x.dtype.newbyteorder("=")
    if act.check_dtype is not None:
        act.check_dtype(bound, dtype)
    if out is not None:
        _check_out(act, out, x.shape, dtype)
    res = _kernels().backward_kernel(act, x, grad_out, bound, at_kink, out, from_output)
    if res is not _kernels_mod.NOT_RUN:
        return res
    # (overflow to ±inf is the intended limit; a signalling NaN is no error either)
    with np.errstate(all="ignore"):
        if from_output:
            from relukit._prims.numpy import NP

            m_, fargs = act.math.resolve(bound)
            y = x.astype(np.float64)
            d = np.asarray(m_.from_output(NP, y, *fargs), dtype=np.float64)
            d = np.where(y != y, y + 0, d).astype(dtype)  # NaN in: the same NaN out
        else:
            d = _numpy_formula(act, "derivative", x, bound, at_kink, dtype, dtype)[0]
        nan = np.isnan(x)  # (x's NaN, whatever grad_out is there: d holds it)
        res = np.multiply(grad_out, d, out=out)
        np.copyto(res, d, where=nan)
        return res


# ---------------------------------------------------------------------------
# gated entries: f(gate) * up, two arrays or one split in halves
# ---------------------------------------------------------------------------


def apply_gated(
    act: Activation,
    kind: str,
    x: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    out: Any,
    at_kink: Any,
) -> Any:
    """Evaluate the gated entry ``act``: ``act(gate, up)`` or ``act(x, dim=-1)``.

    ``kind`` ``"value"`` gives ``f(gate) * up``; ``"derivative"`` the pair
    ``(f'(gate) * up, f(gate))`` (in the split form one array shaped like ``x``: the
    derivative with respect to the first half, ``up``, then the second, the gate);
    ``"both"`` the value and that derivative.
    """
    plain = (
        out is None
        and at_kink is None
        and not kwargs
        and len(args) == 1
        and x.__class__ is _ndarray
        and args[0].__class__ is _ndarray
    )
    if plain:
        # ``act(gate, up)`` on two arrays with the defaults: the plan kept by the first
        # such call (below), with the least Python around the kernel
        plan = _CALLS.get((act, "gated", kind, x.dtype))
        if plan is not None and _kernels_mod._SETTINGS.get().enabled:
            res = plan.run_gated_plain(x, args[0])
            if res is not None and res is not _kernels_mod.NOT_RUN:
                return _gated_result(kind, res)
    res = _apply_gated(act, kind, x, args, kwargs, out, at_kink)
    if plain and x.dtype.char in "fd" and x.dtype == args[0].dtype:
        _keep_gated_plan(act, kind, x.dtype)
    return res


def _gated_result(kind: str, res: tuple[Any, ...]) -> Any:
    """A gated kernel's flat results as the call returns them."""
    if kind == "value":
        return res[0]
    if kind == "derivative":
        return (res[0], res[1])
    return (res[0], (res[1], res[2]))


def _keep_gated_plan(act: Activation, kind: str, dtype: Any) -> None:
    """Keep the plan of ``act(gate, up)`` with the defaults for ``dtype`` (after such a
    call succeeded) for :func:`apply_gated`'s short path."""
    kernels = _kernels()
    if kernels.settings().enabled and dtype.isnative:
        p = _gated_plan(act, kind, dtype, dict(act._defaults), None)
        if p is not None and p.dtype == dtype:
            _CALLS[(act, "gated", kind, dtype)] = p


def _apply_gated(
    act: Activation,
    kind: str,
    x: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    out: Any,
    at_kink: Any,
) -> Any:
    kwargs = dict(kwargs)
    dim = kwargs.pop("dim", -1)
    if args:
        up, args = args[0], args[1:]
    else:
        up = kwargs.pop("up", None)
    params = act.bind(args, kwargs, _call_name(act, kind))
    at_kink = check_at_kink(act, at_kink)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{act.name}: dim must be an int, got {_describe(dim)}")
    np = numpy()
    if isinstance(x, np.ma.MaskedArray) or isinstance(up, np.ma.MaskedArray):
        return _gated_masked(act, kind, x, up, params, out, at_kink, int(dim))
    for v in (x, up):
        if _containers.container_kind(type(v)) not in (None, "matrix"):
            raise TypeError(
                f"{act.name}: the gated entries take NumPy or Array API arrays, not a "
                f"{_containers.describe(v)}; pass its values (.to_numpy(), .values)"
            )
    if up is None:
        return _gated_split(act, kind, x, params, out, at_kink, int(dim))
    return _gated_pair(act, kind, x, up, params, out, at_kink)


def _gated_masked(
    act: Activation,
    kind: str,
    x: Any,
    up: Any,
    params: dict,
    out: Any,
    at_kink: Any,
    dim: int,
) -> Any:
    """A gated entry on masked arrays: the results are masked wherever an input they
    depend on is (``f(gate) * up`` and its derivatives depend on both), computed on the
    arrays' data."""
    np = numpy()
    if out is not None:
        raise TypeError(
            f"{act.name}: out= is supported for NumPy arrays only, not for a masked array; "
            "use the returned object"
        )
    data = np.ma.getdata(x)
    mask = np.ma.getmaskarray(x)
    if up is None:
        res = _gated_split(act, kind, data, params, None, at_kink, dim)
        axis = range(data.ndim)[dim]  # (checked by _gated_split)
        h = data.shape[axis] // 2
        both = np.take(mask, range(h), axis) | np.take(mask, range(h, 2 * h), axis)
        full = np.concatenate([both, both], axis=axis)  # (d/d up, d/d gate) in one array
    else:
        res = _gated_pair(act, kind, data, np.ma.getdata(up), params, None, at_kink)
        both = mask | np.ma.getmaskarray(up)
        full = both

    def wrap(r: Any) -> Any:
        if isinstance(r, tuple):
            return tuple(wrap(v) for v in r)
        m = both if np.shape(r) == both.shape else full
        return np.ma.masked_array(r, mask=np.broadcast_to(m, np.shape(r)).copy())

    return wrap(res)


def _gated_operand(act: Activation, what: str, v: Any) -> Any:
    """A NumPy operand of a gated entry (or ``None`` for another array library)."""
    np = numpy()
    if isinstance(v, (bool, np.bool_, complex, str, bytes)) or v is None:
        raise TypeError(f"{act.name}: {what} must be {ACCEPTED}; got {_describe(v)}")
    if isinstance(v, (np.ndarray, np.generic)):
        if v.dtype.kind not in "iuf":
            raise TypeError(
                f"{act.name}: {what} must be {ACCEPTED}; got {_describe(v)} (bool, complex, "
                "object, string and datetime dtypes are not accepted)"
            )
        return np.asarray(v)
    if isinstance(v, (list, tuple, range)):
        return _from_sequence(act, v, what)
    if isinstance(v, numbers.Real):
        return np.asarray(_real(act, v, what))
    return None


def _py_number(v: Any) -> bool:
    """A Python int or float (an int subclass such as an IntEnum member too), not a
    NumPy scalar (np.float64 is a float subclass) and not a bool."""
    np = numpy()
    return isinstance(v, (int, float)) and not isinstance(v, (bool, np.generic))


def _gated_pair(
    act: Activation, kind: str, gate: Any, up: Any, params: dict, out: Any, at_kink: Any
) -> Any:
    np = numpy()
    scalars = _py_number(gate) and _py_number(up) and out is None
    # NumPy scalars (with Python numbers) give NumPy scalars, as NumPy's functions do
    np_scalars = (
        out is None
        and all(isinstance(v, np.generic) or _py_number(v) for v in (gate, up))
        and not scalars
    )
    a = _gated_operand(act, "gate", gate)
    b = _gated_operand(act, "up", up)
    if a is None or b is None:
        return _gated_xp(act, kind, gate, up, params, at_kink, out)
    # a Python number is weak, as in NumPy's own x16 * 2.0 (NEP 50): the array's dtype
    weak = [float(v) if _py_number(v) else w.dtype for v, w in ((gate, a), (up, b))]
    if act.check_dtype is not None:
        act.check_dtype(params, np.result_type(*weak, np.float16))
    dtype = np.result_type(*weak)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)  # integers: the default float
    dtype = dtype.newbyteorder("=")
    try:
        a, b = np.broadcast_arrays(a.astype(dtype, copy=False), b.astype(dtype, copy=False))
    except ValueError:
        raise ValueError(
            f"{act.name}: gate and up must have the same shape (or shapes that broadcast), "
            f"got {np.shape(gate)} and {np.shape(up)}"
        ) from None
    res = _gated_numpy(act, kind, a, b, params, at_kink, _gated_direct_outs(kind, out, a, b))
    if scalars or np_scalars:
        one = float if scalars else (lambda r: r[()])  # (a 0-d array: its NumPy scalar)
        if kind == "value":
            return one(res)
        if kind == "derivative":
            return (one(res[0]), one(res[1]))
        return (one(res[0]), (one(res[1][0]), one(res[1][1])))
    if out is None:
        return res
    return _gated_copy_out(act, kind, res, out)


def _flat_outs(kind: str, out: Any) -> list[Any]:
    """``out`` of a gated call as a flat list: value, then (d/d gate, d/d up)."""
    if kind == "value":
        return [out]
    if kind == "derivative":
        return list(out) if isinstance(out, tuple) else [out]
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], tuple):
        return [out[0], *out[1]]
    return [out]


def _gated_direct_outs(kind: str, out: Any, a: Any, b: Any) -> tuple[Any, ...] | None:
    """The ``out`` arrays the kernel may write directly (so that ``out=`` allocates
    nothing): those that share no memory with the inputs (the kernel reads an element
    of each input after writing others); ``None`` where a new array is written and
    then copied, or for all when ``out`` does not have the result's structure (then
    :func:`_gated_copy_out` says so)."""
    if out is None:
        return None
    np = numpy()
    flat = _flat_outs(kind, out)
    if len(flat) != {"value": 1, "derivative": 2, "both": 3}[kind]:
        return None
    direct = []
    for o in flat:
        ok = (
            isinstance(o, np.ndarray)
            and o.shape == a.shape
            and o.dtype == a.dtype
            and o.flags.writeable
            and not np.may_share_memory(o, a)
            and not np.may_share_memory(o, b)
        )
        direct.append(o if ok else None)
    return tuple(direct)


def _gated_copy_out(act: Activation, kind: str, res: Any, out: Any) -> Any:
    np = numpy()
    flat_res = (
        [res] if kind == "value" else list(res) if kind == "derivative" else [res[0], *res[1]]
    )
    flat_out = (
        [out] if kind == "value" else list(out) if kind == "derivative" else [out[0], *out[1]]
    )
    if len(flat_out) != len(flat_res):
        raise TypeError(f"{act.name}: out must match the result's structure for {kind}")
    for o, r in zip(flat_out, flat_res, strict=True):
        _check_out(act, o, r.shape, r.dtype)
    for o, r in zip(flat_out, flat_res, strict=True):
        if o is not r:  # (else the kernel wrote it)
            np.copyto(o, r)
    return out


def _gated_plan(act: Activation, kind: str, dtype: Any, params: dict, at_kink: float | None) -> Any:
    """The kernel plan of a gated entry, made once per setting while the kernels are on."""
    kernels = _kernels()
    if not kernels.settings().enabled:
        return kernels.plan(act, kind, dtype, params, at_kink)
    # kept with the one-input calls (_CALLS: one cache to clear); a plan is frozen, and
    # making one costs about as much as the kernel on 10**4 elements
    key = ("gated", act.name, kind, dtype.str, tuple(params.items()), at_kink)
    hit = _CALLS.get(key)
    if hit is None:
        hit = kernels.plan(act, kind, dtype, params, at_kink)
        if hit is not None:
            if len(_CALLS) >= 4096:
                _CALLS.clear()
            _CALLS[key] = hit
    return hit


def _gated_numpy(
    act: Activation,
    kind: str,
    a: Any,
    b: Any,
    params: dict,
    at_kink: float | None,
    outs: tuple[Any, ...] | None = None,
) -> Any:
    """``f(a) * b`` and its derivatives on NumPy arrays of one float dtype and shape;
    ``outs`` (value, then d/d gate, d/d up; ``None`` entries for new arrays) are written
    by the kernel where it runs."""
    np = numpy()
    kernel_kind = {"value": "value", "derivative": "derivative", "both": "both"}[kind]
    p = _gated_plan(act, kernel_kind, a.dtype, params, at_kink)
    if p is not None:
        n_out = {"value": 1, "derivative": 2, "both": 3}[kind]
        res = p.run_gated(a, b, outs or (None,) * n_out)
        if res is not _kernels_mod.NOT_RUN:
            return _gated_result(kind, res)
    from relukit._prims.numpy import NP, namespace

    m_, fargs = act.math.resolve(params)
    assert fargs is not None  # (no gated entry trains its arguments)
    kinks = [k.location(params) for k in act.kinks]
    if a.dtype == np.float16:
        fargs, kinks = _opmath(np, fargs), list(_opmath(np, kinks) or ())
    # float32, where the kernels use the lean primitives (relukit._kernels.plan): float64
    # with float32's subnormal ties broken as they do (d/d up = f(gate) is then the
    # one-input entry's float32 result)
    lean = a.dtype == np.float32 and not m_.exact and m_.lean_tails
    ns = namespace(np, to32=True) if lean else NP
    with np.errstate(all="ignore"):  # (a signalling NaN widened is no "invalid" error)
        work = a.astype(np.float64)
        wb = b.astype(np.float64)
        f = m_.value(ns, work, *fargs)
        v = _nan_of(np, work, wb, f * wb)
        if kind == "value":
            return v.astype(a.dtype)
        d = np.asarray(m_.derivative(ns, work, *fargs), dtype=np.float64)
        if at_kink is not None:
            for k in kinks:
                d = np.where(work == k, at_kink, d)
        dg = _nan_of(np, work, wb, d * wb).astype(a.dtype)
        du = np.where(work != work, work + 0, f).astype(a.dtype)
        v = v.astype(a.dtype)  # (overflow to ±inf is the rounding intended)
    pair = (dg, du)
    return pair if kind == "derivative" else (v, pair)


def _nan_of(np: Any, a: Any, b: Any, r: Any) -> Any:
    """The gated NaN rule: the gate's NaN, else the input's, else ``r``."""
    return np.where(a != a, a + 0, np.where(b != b, b + 0, r))


def _gated_split(
    act: Activation, kind: str, x: Any, params: dict, out: Any, at_kink: Any, dim: int
) -> Any:
    """The split form: ``x`` in halves along ``dim``; the gate is the second half."""
    np = numpy()
    arr = _gated_operand(act, "x", x)
    xp_x = x if arr is None else arr
    shape = tuple(xp_x.shape)
    if not shape:
        raise ValueError(
            f"{act.name}: one argument is split in halves along dim; got a scalar (pass the "
            f"gate and up as two arguments: {act.name}(gate, up))"
        )
    try:
        axis = range(len(shape))[dim]
    except IndexError:
        raise ValueError(
            f"{act.name}: dim={dim} is out of range for an input with {len(shape)} dimension(s)"
        ) from None
    if shape[axis] % 2:
        raise ValueError(
            f"{act.name}: the size of x along dim ({axis}) must be even to split it in halves "
            f"(up, gate), got {shape[axis]}"
        )
    h = shape[axis] // 2
    index_up = tuple(slice(0, h) if i == axis else slice(None) for i in range(len(shape)))
    index_gate = tuple(slice(h, None) if i == axis else slice(None) for i in range(len(shape)))
    up, gate = xp_x[index_up], xp_x[index_gate]
    if arr is None:
        res = _gated_xp(act, kind, gate, up, params, at_kink, None)
        xp = _xp_of(x)
        join = lambda pair: xp.concat([pair[1], pair[0]], axis=axis)  # noqa: E731
    else:
        if out is None and kind != "value":  # the result's array, its halves written
            out = _split_result(kind, arr, index_gate)
        direct = _split_outs(act, kind, arr, out, index_gate, index_up)
        res = _gated_pair(act, kind, gate, up, params, direct, at_kink)
        if direct is not None:
            return out
        join = lambda pair: np.concatenate([pair[1], pair[0]], axis=axis)  # noqa: E731
    if kind == "value":
        r = res
    elif kind == "derivative":
        r = join(res)
    else:
        r = (res[0], join(res[1]))
    if out is None:
        return r
    if arr is None:
        raise TypeError(f"{act.name}: out= is supported for NumPy arrays only")
    if kind != "both":  # (the derivative is one array here)
        return _gated_copy_out(act, "value", r, out)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{act.name}.value_and_derivative: out must be a pair of arrays")
    _gated_copy_out(act, "value", r[0], out[0])
    _gated_copy_out(act, "value", r[1], out[1])
    return out


def _split_dtype(arr: Any) -> Any:
    """The result dtype of the split form on the NumPy array ``arr``."""
    np = numpy()
    return arr.dtype.newbyteorder("=") if arr.dtype.kind == "f" else np.dtype(np.float64)


def _split_result(kind: str, arr: Any, index_gate: tuple) -> Any:
    """New arrays for the split form's derivative (shaped like ``arr``), and for the
    value with it (``"both"``): written by halves, never joined from two."""
    np = numpy()
    dtype = _split_dtype(arr)
    d = np.empty(arr.shape, dtype)
    return d if kind == "derivative" else (np.empty(arr[index_gate].shape, dtype), d)


def _split_outs(
    act: Activation, kind: str, arr: Any, out: Any, index_gate: tuple, index_up: tuple
) -> Any:
    """``out`` of the split form as the two-array form's ``out`` (the derivative's array
    as its halves), so that the results are written in place; ``None`` when there is
    no ``out`` (or a malformed one: then the checks after the call say what is wrong)."""
    np = numpy()
    dtype = _split_dtype(arr)
    half = arr[index_gate].shape

    def fits(o: Any, shape: tuple) -> bool:
        return (
            isinstance(o, np.ndarray)
            and o.shape == shape
            and o.dtype == dtype
            and o.flags.writeable
        )

    if out is None:
        return None
    if kind == "value":
        return out if fits(out, half) else None
    if kind == "derivative":
        return (out[index_gate], out[index_up]) if fits(out, arr.shape) else None
    if not (isinstance(out, tuple) and len(out) == 2):
        return None
    v, d = out
    if not (fits(v, half) and fits(d, arr.shape)) or np.shares_memory(v, d):
        return None
    return (v, (d[index_gate], d[index_up]))


def _xp_of(x: Any) -> Any:
    import array_api_compat

    return array_api_compat.array_namespace(x)


def _gated_one_library(act: Activation, gate: Any, up: Any) -> tuple[Any, Any]:
    """``(gate, up)`` as arrays of one Array API library: a real number (Python, NumPy
    scalar or 0-d array) next to an array of another library becomes an array of that
    library, its dtype (a floating one) and device, as ``F.silu(t) * 2.0`` treats it."""
    import array_api_compat as c

    np = numpy()

    def foreign(v: Any) -> bool:  # an array of another library than NumPy
        return c.is_array_api_obj(v) and not isinstance(v, (np.ndarray, np.generic))

    ref = gate if foreign(gate) else up
    if foreign(gate) and foreign(up):
        return gate, up
    other = up if ref is gate else gate
    if isinstance(other, np.ndarray) and other.ndim > 0:
        raise TypeError(
            f"{act.name}: gate and up must come from one array library, got "
            f"{type(gate).__module__}.{type(gate).__name__} and "
            f"{type(up).__module__}.{type(up).__name__}"
        )
    xp = c.array_namespace(ref)
    dt = ref.dtype if xp.isdtype(ref.dtype, "real floating") else None
    what = "gate" if other is gate else "up"
    number = xp.asarray(_real(act, other, what), dtype=dt, device=c.device(ref))
    return (ref, number) if ref is gate else (number, ref)


def _gated_dask(act: Activation, kind: str, gate: Any, up: Any, params: dict, at_kink: Any) -> Any:
    """Dask arrays: the NumPy path (the kernels) on each pair of blocks, lazily, so that
    the numbers are NumPy's (one input, one result)."""
    import dask.array as da

    np = numpy()
    dt = np.result_type(gate.dtype, up.dtype)
    dt = dt if dt.kind == "f" else np.dtype(np.float64)
    try:  # one shape and the same blocks for both (the blocks meet pairwise)
        gate, up = da.broadcast_arrays(gate, up)
    except ValueError:
        raise ValueError(
            f"{act.name}: gate and up must have the same shape (or shapes that broadcast), "
            f"got {gate.shape} and {up.shape}"
        ) from None
    ind = tuple(range(gate.ndim))
    _, (gate, up) = da.core.unify_chunks(gate, ind, up, ind)
    meta = np.empty((0,) * gate.ndim, dt)
    which: tuple[Any, ...] = {"value": ("value",), "derivative": (0, 1)}.get(kind, ("value", 0, 1))
    outs = [
        da.map_blocks(
            functools.partial(_gated_dask_block, act, w, params, at_kink),
            gate,
            up,
            dtype=dt,
            meta=meta,
        )
        for w in which
    ]
    if kind == "value":
        return outs[0]
    return (outs[0], outs[1]) if kind == "derivative" else (outs[0], (outs[1], outs[2]))


def _gated_dask_block(
    act: Activation, which: Any, params: dict, at_kink: Any, a: Any, b: Any
) -> Any:
    np = numpy()
    a, b = np.asarray(a), np.asarray(b)
    if which == "value":
        return _gated_pair(act, "value", a, b, params, None, at_kink)
    return _gated_pair(act, "derivative", a, b, params, None, at_kink)[which]


def _gated_xp(
    act: Activation, kind: str, gate: Any, up: Any, params: dict, at_kink: Any, out: Any
) -> Any:
    """A gated entry on Array API arrays (PyTorch, JAX, CuPy): the formulas; Dask: the
    NumPy path on each block."""
    import array_api_compat

    if not (array_api_compat.is_array_api_obj(gate) or array_api_compat.is_array_api_obj(up)):
        raise TypeError(f"{act.name}: gate and up must be {ACCEPTED}; got {_describe(gate)}")
    if out is not None:
        raise TypeError(f"{act.name}: out= is supported for NumPy arrays only")
    gate, up = _gated_one_library(act, gate, up)
    if array_api_compat.is_dask_array(gate):
        return _gated_dask(act, kind, gate, up, params, at_kink)
    if array_api_compat.is_torch_array(gate):  # (as _array_api: the NumPy path)
        front = _front_end("torch")
        ga, ua = front.numpy_view(gate), front.numpy_view(up)
        if ga is not None and ua is not None:
            return _to_torch(gate, _gated_pair(act, kind, ga, ua, params, None, at_kink))
    xp = array_api_compat.array_namespace(gate, up)
    from relukit._prims.numpy import astype, namespace
    from relukit._prims.numpy import kind as lib

    dt = xp.result_type(gate.dtype, up.dtype)
    if not xp.isdtype(dt, "real floating"):
        info = xp.__array_namespace_info__()
        dt = info.default_dtypes(device=array_api_compat.device(gate))["real floating"]
    a = gate if gate.dtype == dt else astype(xp, gate, dt)
    b = up if up.dtype == dt else astype(xp, up, dt)
    if act.check_dtype is not None:
        act.check_dtype(params, dt)
    if kind == "value" and lib(xp) in ("torch", "jax"):
        # relukit.torch's and relukit.jax's gated functions: autograd gives the catalogue's
        # derivative pair (see _front_value)
        return _front_gated(act, lib(xp), a, b, params)
    work, f32 = _working(xp, a, False)
    wa = a if work == a.dtype else astype(xp, a, work)
    wb = b if work == b.dtype else astype(xp, b, work)
    m_, fargs = act.math.resolve(params, wa, xp)
    assert fargs is not None  # (no gated entry trains its arguments)
    ns = namespace(xp, f32)
    f = m_.value(ns, wa, *fargs)

    def nan(r: Any) -> Any:
        return xp.where(wa != wa, wa + 0, xp.where(wb != wb, wb + 0, r))

    def back(r: Any) -> Any:
        return r if r.dtype == dt else astype(xp, r, dt)

    v = back(nan(f * wb))
    if kind == "value":
        return v
    d = m_.derivative(ns, wa, *fargs)
    if at_kink is not None:
        for k in act.kinks:
            d = xp.where(wa == k.location(params), at_kink, d)
    pair = (back(nan(d * wb)), back(xp.where(wa != wa, wa + 0, f)))
    return pair if kind == "derivative" else (v, pair)
