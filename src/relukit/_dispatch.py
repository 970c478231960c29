"""Input routing and validation: Python scalars, sequences, NumPy, Array API arrays.

One function, :func:`apply`, serves every activation and every kind of evaluation
(``"value"``, ``"derivative"``, ``"both"``). The order of the checks is the order of
their cost: Python ``float``/``int`` first (pure Python, no NumPy import), then NumPy,
then lists/tuples, then any array that speaks the Array API standard (PyTorch, JAX,
CuPy, Dask), through ``array-api-compat``.

NumPy is imported lazily, so ``import relukit`` stays light.
"""

from __future__ import annotations

import functools
import numbers
from typing import TYPE_CHECKING, Any, cast

from relukit import _containers
from relukit._messages import ACCEPTED
from relukit._messages import describe as _describe

if TYPE_CHECKING:
    from relukit.catalogue import Activation

_np: Any = None


def numpy() -> Any:
    """Import NumPy on first use (keeps ``import relukit`` light)."""
    global _np, _ndarray
    if _np is None:
        import numpy

        _np = numpy
        _ndarray = numpy.ndarray
    return _np


def _bad_input(act: Activation, x: Any) -> TypeError:
    return TypeError(f"{act.name}: x must be {ACCEPTED}; got {_describe(x)}")


def check_at_kink(owner: Activation | str, at_kink: Any) -> float | None:
    """Validate ``at_kink``: ``None`` or a real number (NaN and ±inf allowed).

    ``owner`` names the caller in the message: an activation (``relu.derivative``) or a
    label (``"plot"``, ``"relukit.torch.relu"``). Every front end uses this one check.
    """
    if at_kink is None:
        return None
    if isinstance(at_kink, bool) or not isinstance(at_kink, numbers.Real):
        who = owner if isinstance(owner, str) else f"{owner.name}.derivative"
        raise TypeError(
            f"{who}: at_kink must be None (the PyTorch convention) or a real "
            f"number such as 0, 1, 0.5 or nan; got {_describe(at_kink)}"
        )
    try:
        return float(at_kink)
    except OverflowError:  # an int or Fraction beyond every float (10**400)
        who = owner if isinstance(owner, str) else f"{owner.name}.derivative"
        raise ValueError(
            f"{who}: at_kink = {_describe(at_kink)} is too large to convert to a float; "
            "it must be None or a real number such as 0, 1, 0.5 or nan"
        ) from None


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


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
    if tx is _ndarray:  # the NumPy array fast path: validation cached per call signature
        if args or kwargs or at_kink is not None:
            call = _cached_call(act, kind, x, args, kwargs, at_kink)
        else:  # default parameters: the shortest key
            call = _CALLS.get((act, kind, x.dtype)) or _cached_call(act, kind, x, (), {}, None)
        if call is not None:
            plan = call[3]
            if (
                plan is not None
                and plan is not _UNPLANNED
                and (out is None or _out_ok(act, kind, x, out))
            ):
                res = _kernels_mod.execute(plan, kind, x, out)
                if res is not _kernels_mod.NOT_RUN:
                    return res
            return _numpy(act, kind, x, call[1], out, call[2], call=call)
    params = act.bind(args, kwargs)
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
    if isinstance(x, (list, tuple, range)):  # a range too, as NumPy takes it
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


def apply_array(act: Activation, kind: str, x: Any, out: Any) -> Any:
    """:func:`apply` for a NumPy array ``x`` with the default parameters, no ``at_kink``.

    The generated methods of each entry call it directly (``relukit.catalogue``): a
    planned kernel with an ``out`` of ``x``'s shape and dtype (or none) runs at once;
    anything else takes :func:`apply`, which checks and raises.
    """
    call = _CALLS.get((act, kind, x.dtype))
    if call is not None:
        plan = call[3]
        if plan.__class__ is tuple and (
            out is None
            or (
                out.__class__ is _ndarray
                and out.shape == x.shape
                and out.dtype == x.dtype
                and out.flags.writeable
            )
        ):
            res = _kernels_mod.execute(plan, kind, x, out)
            if res is not _kernels_mod.NOT_RUN:
                return res
    return apply(act, kind, x, (), {}, out, None)


# ---------------------------------------------------------------------------
# the per-call-signature cache of the NumPy array path
# ---------------------------------------------------------------------------
#
# A call on a NumPy array binds and validates its parameters, checks ``at_kink`` and
# (for large arrays) plans its kernel. All of that depends only on the activation, the
# kind, the dtype and the parameter values as passed, so it is done once per such
# signature and kept: ``[act, params, at_kink, kernel plan or _UNPLANNED]``. Parameter
# values are keyed by type and exact value (``float.hex``: -0.0 and 0.0 differ, NaN
# matches NaN; ``True`` and ``1`` differ); other values (arrays, Fractions) are not
# cached and take the general path. A call that raises caches nothing.

_ndarray: Any = None  # numpy.ndarray, once NumPy is imported
_kernels_mod: Any = None  # relukit._kernels, once a plan has been made
_UNPLANNED = object()
_CALLS: dict[tuple, list] = {}


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


def _out_ok(act: Activation, kind: str, x: Any, out: Any) -> bool:
    """``out`` is one array of ``x``'s float dtype and shape (else: the checks that raise)."""
    if kind == "both" or out.__class__ is not _ndarray:
        return False
    _check_out(act, out, x.shape, x.dtype)
    return True


def _cached_call(
    act: Activation, kind: str, x: Any, args: tuple, kwargs: dict, at_kink: Any
) -> list | None:
    """The cached ``[act, params, at_kink, plan]`` of this call signature, or ``None``.

    ``None`` too for an entry with a random-seed parameter in training mode (rrelu with
    ``training=True``): binding draws a fresh seed for each call, so such a call is never
    cached. In evaluation mode (the default) nothing is drawn.
    """
    if _draws_seed(act) and kwargs.get("training", False) is not False:
        return None
    key: tuple = (act, kind, x.dtype)
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
        params = act.bind(args, kwargs)  # raises for bad values: nothing cached
        if act.check_dtype is not None:  # (the key holds x's dtype)
            act.check_dtype(params, _work_dtype(act, "derivative", x))
        call = [act, params, check_at_kink(act, at_kink), _UNPLANNED]
        if len(_CALLS) >= 4096:
            _CALLS.clear()
        _CALLS[key] = call
    return call


# ---------------------------------------------------------------------------
# Python scalars: never touch NumPy
# ---------------------------------------------------------------------------


def _scalar(act: Activation, kind: str, x: Any, params: dict, at_kink: float | None) -> Any:
    if act.check_dtype is not None:
        act.check_dtype(params, "float64")  # (a Python number computes as a float64)
    if kind == "value" and type(x) is int and act.integer_preserving:
        return act.scalar_value_fn(x, **params)  # (any int, also one beyond every float)
    try:
        xf = float(x)
    except OverflowError:
        raise ValueError(
            f"{act.name}: x = {_describe(x)} is too large to convert to a float"
        ) from None
    if kind != "derivative":
        v = act.scalar_value_fn(x if type(x) is int and act.integer_preserving else xf, **params)
        if kind == "value":
            return v
    d = act.scalar_derivative_fn(xf, **params)
    if at_kink is not None:
        for k in act.kinks:
            if xf == k.location(params):
                d = at_kink
    return d if kind == "derivative" else (v, d)


# ---------------------------------------------------------------------------
# NumPy
# ---------------------------------------------------------------------------


def _scalar_array(act: Activation, x: Any) -> Any:
    """A real scalar as a 0-d array (for ``out=``): an int as NumPy holds it, else (a
    Fraction, an int beyond int64) its float; ValueError for one beyond every float."""
    np = numpy()
    arr = np.asarray(x)
    if arr.dtype.kind in "iuf":
        return arr
    try:
        return np.asarray(float(x))
    except OverflowError:
        raise ValueError(
            f"{act.name}: x = {_describe(x)} is too large to convert to a float"
        ) from None


def _from_sequence(act: Activation, x: Any) -> Any:
    np = numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"{act.name}: x must be {ACCEPTED}; got a {type(x).__name__} that NumPy "
            f"cannot turn into a numeric array ({exc})"
        ) from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{act.name}: x must be {ACCEPTED}; got a {type(x).__name__} whose items "
            f"make a NumPy array of dtype {arr.dtype} (only int and float items are accepted)"
        )
    if _holds_bool(x):  # NumPy turns [1, -2.5, True] into floats: refuse it as True itself
        raise TypeError(
            f"{act.name}: x must be {ACCEPTED}; got a {type(x).__name__} holding a bool "
            "(only int and float items are accepted; bool is not, as for x itself)"
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
    """The dtype to compute in; raises for dtypes that are not real numbers."""
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
    if out.dtype != dtype and out.dtype.newbyteorder("=") != dtype.newbyteorder("="):
        # (either byte order: the result is written byte-swapped, as NumPy's ufuncs do)
        dtype = dtype.newbyteorder("=")
        raise ValueError(
            f"{act.name}: {what} has dtype {out.dtype}, but the result has dtype {dtype} "
            "(relukit does not cast on output; out may be of either byte order)"
        )
    if not out.flags.writeable:
        raise ValueError(f"{act.name}: {what} is read-only")


def _restore_kind(x: Any, res: Any) -> Any:
    """NumPy scalar in -> NumPy scalar out; array (0-d included) in -> array out."""
    np = numpy()
    if isinstance(x, np.generic):
        return res[()] if isinstance(res, np.ndarray) else res
    return res if isinstance(res, np.ndarray) else np.asarray(res)


def _apply_at_kink(act: Activation, xp: Any, x: Any, d: Any, params: dict, at_kink: float) -> Any:
    for k in act.kinks:
        d = xp.where(x == k.location(params), at_kink, d)
    return d


def _kernel_ok(act: Activation) -> bool:
    """Whether ``act`` is the registered catalogue entry of its name (kernels are keyed by
    name; a look-alike built with ``dataclasses.replace`` keeps its own formula).
    :func:`relukit.catalogue.register` marks the entries it registers."""
    return act.registered


def _numpy(
    act: Activation,
    kind: str,
    x: Any,
    params: dict,
    out: Any,
    at_kink: float | None,
    kernels: bool = True,
    call: list | None = None,
) -> Any:
    """The NumPy path; ``kernels=False`` skips the numba fast path (see ``_kernels``).

    ``call`` is the cached entry of this call signature (see :func:`_cached_call`): its
    kernel plan is made on the first large array and kept.
    """
    np = numpy()
    dt = x.dtype
    if dt.kind == "f":
        vdtype = ddtype = dt if dt.isnative else dt.newbyteorder("=")
    else:
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

    if kernels and x.__class__ is np.ndarray:
        global _kernels_mod
        _kernels = _kernels_mod
        if _kernels is None:
            from relukit import _kernels

            _kernels_mod = _kernels
        if _kernels.ENABLED and (x.size >= _kernels.MIN_SIZE or _kernels.small_ok(x)):
            plan = _UNPLANNED if call is None else call[3]
            if plan is _UNPLANNED:
                plan = (
                    _kernels.static_plan(act, kind, x, params, at_kink) if _kernel_ok(act) else None
                )
                if call is not None and (plan is None or not plan[4]):
                    call[3] = plan  # (per-channel prelu plans depend on x's shape)
            if plan is not None:
                res = _kernels.execute(cast("tuple[Any, ...]", plan), kind, x, out)
                if res is not _kernels.NOT_RUN:
                    return res

    with np.errstate(all="ignore"):  # overflow to ±inf is the intended limit, not an error
        results = _numpy_compute(act, kind, x, params, at_kink, vdtype, ddtype)
    if out is not None:
        outs = out if kind == "both" else (out,)
        for o, r in zip(outs, results, strict=True):
            np.copyto(o, r)
        return out
    results = [_restore_kind(x, r) for r in results]
    return tuple(results) if kind == "both" else results[0]


def _numpy_compute(
    act: Activation,
    kind: str,
    x: Any,
    params: dict,
    at_kink: float | None,
    vdtype: Any,
    ddtype: Any,
) -> list[Any]:
    np = numpy()
    results = []
    if kind in ("value", "both"):
        xv = x.astype(vdtype, copy=False)
        results.append(act.value_fn(np, xv, **params))
    if kind in ("derivative", "both"):
        xd = x.astype(ddtype, copy=False)
        d = act.derivative_fn(np, xd, **params)
        if at_kink is not None:
            d = _apply_at_kink(act, np, xd, d, params, at_kink)
        results.append(d)
    return results


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
    results = []
    if kind in ("value", "both"):
        results.append(act.value_fn(xp, vx, **params))
    if kind in ("derivative", "both"):
        d = act.derivative_fn(xp, dx, **params)
        if at_kink is not None:
            d = _apply_at_kink(act, xp, dx, d, params, at_kink)
        results.append(d)
    return tuple(results) if kind == "both" else results[0]


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
) -> Any:
    """Return ``grad_out * act.derivative(x)``: the gradient with respect to ``x``.

    One pass over ``x`` and ``grad_out`` (a kernel on large float32/float64 arrays);
    bit-for-bit equal to ``grad_out * act.derivative(x, **params, at_kink=at_kink)``
    computed with NumPy, so IEEE rules apply: an infinite or NaN ``grad_out`` where the
    derivative is 0 gives NaN (PyTorch's ``threshold_backward`` would give 0 there).

    Parameters
    ----------
    act
        A registered :class:`~relukit.Activation` (``rk.relu``, ``rk.get("relu")``).
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
    dtype = x.dtype.newbyteorder("=")
    if act.check_dtype is not None:
        act.check_dtype(bound, dtype)
    if out is not None:
        _check_out(act, out, x.shape, dtype)
        if not out.dtype.isnative:  # the numbers of the call without out=, byte-swapped
            np.copyto(out, backward(act, x, grad_out, bound, at_kink))
            return out
    if _kernel_ok(act):
        from relukit import _kernels

        res = _kernels.backward_kernel(act, x, grad_out, bound, at_kink, out)
        if res is not _kernels.NOT_RUN:
            return res
    d = _numpy(act, "derivative", x, bound, None, at_kink, kernels=False)
    with np.errstate(all="ignore"):
        return np.multiply(grad_out, d, out=out)
