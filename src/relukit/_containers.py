"""Labelled and masked containers: pandas, xarray, NumPy masked arrays and ``np.matrix``.

An activation applied to one of these gives back the same kind of object, as NumPy's
own ufuncs (``np.maximum``) do:

=========================  ================================================================
input                      result
=========================  ================================================================
``pandas.Series``          a Series with the same index, name and ``attrs``
``pandas.DataFrame``       a DataFrame with the same index, columns and ``attrs``; each
                           column keeps its own dtype rule (integer columns stay integer
                           for relu and relu6)
``pandas.Index``           an Index with the same name (a RangeIndex gives an Index, as
                           ``np.maximum`` does)
``xarray.DataArray``       a DataArray with the same dims, coords, name and attrs (a Dask-
                           backed one stays lazy)
``numpy.ma.MaskedArray``   a masked array with the same mask; masked entries keep the
                           input's data, as NumPy's ``np.ma`` unary functions do
``numpy.matrix``           a matrix (NumPy's rule for ufuncs)
=========================  ================================================================

pandas' nullable dtypes (``Int64``, ``UInt8``, ``Float64``, ...; what
``dtype_backend="numpy_nullable"`` reads) are accepted as NumPy's ufuncs accept them:
``pd.NA`` stays ``NA``, and the result is nullable too (``Int64`` for relu of ``Int64``,
``Float64`` where the result has fractions). Other extension dtypes (nullable
``boolean``, strings, categories, pyarrow-backed columns) are refused, as bool and
object dtypes are.

The values are computed on the underlying NumPy (or Dask) array by the ordinary
dispatcher, so every rule of the plain array path (dtype kept, NaN propagated, limits at
±inf, ``at_kink``) holds. pandas and xarray are never imported here: a type is
recognised by its module name and then looked up in ``sys.modules``, which holds the
library already, since the object exists.

>>> import numpy as np, relukit as rk
>>> m = np.ma.masked_array([-1.0, -2.0, 3.0], mask=[False, True, False])
>>> rk.relu(m)
masked_array(data=[0.0, --, 3.0],
             mask=[False,  True, False],
       fill_value=1e+20)
>>> rk.relu(m).data          # the masked entry is left as it was
array([ 0., -2.,  3.])
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from relukit._messages import ACCEPTED, describe

if TYPE_CHECKING:
    from relukit.catalogue import Activation

Kind = Literal["series", "frame", "index", "dataarray", "masked", "matrix"]

#: what a pandas object may hold, for the messages
_PANDAS_ACCEPTED = (
    "NumPy integer and floating dtypes, and pandas' nullable Int*, UInt* and Float* dtypes"
)


_KINDS: dict[type, Kind | None] = {}


def container_kind(tx: type) -> Kind | None:
    """The kind of container ``tx`` is, or None for anything else (cached per type)."""
    try:
        return _KINDS[tx]
    except KeyError:
        kind = _KINDS[tx] = _container_kind(tx)
        return kind


def _container_kind(tx: type) -> Kind | None:
    module = tx.__module__ or ""
    if module.startswith("pandas"):
        pd = sys.modules.get("pandas")
        if pd is not None:
            if issubclass(tx, pd.Series):
                return "series"
            if issubclass(tx, pd.DataFrame):
                return "frame"
            if issubclass(tx, pd.Index):
                return "index"
        return None
    if module.startswith("xarray"):
        xr = sys.modules.get("xarray")
        if xr is not None and issubclass(tx, xr.DataArray):
            return "dataarray"
        return None
    np = sys.modules.get("numpy")
    if np is not None and issubclass(tx, np.ndarray):
        if issubclass(tx, np.ma.MaskedArray):
            return "masked"
        if issubclass(tx, np.matrix):
            return "matrix"
    return None


def apply(
    act: Activation,
    kind: str,
    x: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    out: Any,
    run: Callable[..., Any],
) -> Any:
    """Evaluate ``act`` on a container ``x`` and wrap the result(s) like ``x``.

    ``run(array, out=None)`` is the dispatcher's own evaluation of the same call on a
    plain array (passed in, so that this module does not import the dispatcher).
    """
    what = container_kind(type(x))

    def each(res: Any, wrap: Any) -> Any:
        return tuple(wrap(r) for r in res) if kind == "both" else wrap(res)

    if what == "matrix":
        np = sys.modules["numpy"]
        if out is not None:  # written through plain-array views of the same memory
            views = (
                tuple(np.asarray(o) for o in out)
                if kind == "both" and isinstance(out, tuple)
                else np.asarray(out)
            )
            run(np.asarray(x), views)
            return out
        return each(run(np.asarray(x)), np.asmatrix)
    if out is not None:
        raise TypeError(
            f"{act.name}: out= is supported for NumPy arrays only, not for a "
            f"{describe(x)}; use the returned object"
        )
    if what == "masked":
        return _masked(x, run, each)
    if what == "dataarray":
        return each(run(x.data), lambda r: x.copy(data=r))
    _check_numeric(act, x, what)
    if what == "series":
        data, mask = _parts(x)
        return each(run(data), lambda r: _like_series(x, _nullable(r, mask)))
    if what == "index":
        data, mask = _parts(x)
        return each(run(data), lambda r: _like_index(x, r, mask))
    return _frame(x, run, kind, args, kwargs)


def _is_nullable(obj: Any) -> bool:
    """Whether a pandas Series or Index holds one of pandas' nullable Int/UInt/Float
    arrays (values plus a mask of pd.NA)."""
    pd = sys.modules["pandas"]
    return isinstance(obj.array, (pd.arrays.IntegerArray, pd.arrays.FloatingArray))


def _numeric(obj: Any) -> bool:
    np = sys.modules["numpy"]
    d = obj.dtype
    return (isinstance(d, np.dtype) and d.kind in "iuf") or _is_nullable(obj)


def _check_numeric(act: Activation, x: Any, what: Kind | None) -> None:
    """pandas: real numbers only (no bool, object, string, category, pyarrow)."""
    columns = [x] if what in ("series", "index") else [x.iloc[:, j] for j in range(x.shape[1])]
    if not all(_numeric(c) for c in columns):
        raise TypeError(
            f"{act.name}: x must be {ACCEPTED}, or a pandas/xarray object of such numbers; "
            f"got {describe(x)} (accepted for pandas: {_PANDAS_ACCEPTED})"
        )


def _parts(obj: Any) -> tuple[Any, Any]:
    """``(values, mask)`` of a pandas Series or Index: a NumPy array, and where pd.NA is
    (``None`` for a NumPy-backed one). The NA places hold 0, computed and then masked."""
    if not _is_nullable(obj):
        return obj.to_numpy(), None
    np = sys.modules["numpy"]
    mask = np.asarray(obj.isna(), dtype=bool)
    return obj.to_numpy(dtype=obj.dtype.numpy_dtype, na_value=0), mask


def _nullable(r: Any, mask: Any) -> Any:
    """``r`` as a nullable pandas array with ``mask`` (or ``r`` itself without a mask)."""
    if mask is None:
        return r
    pd = sys.modules["pandas"]
    np = sys.modules["numpy"]
    r = np.asarray(r)
    if r.dtype.kind in "iu":
        return pd.arrays.IntegerArray(r, mask.copy())
    return pd.arrays.FloatingArray(r, mask.copy())


def _like_index(x: Any, r: Any, mask: Any) -> Any:
    pd = sys.modules["pandas"]
    return pd.Index(_nullable(r, mask), name=x.name, copy=False)


def _like_series(x: Any, r: Any) -> Any:
    res = type(x)(r, index=x.index, name=x.name, copy=False)
    res.attrs = dict(x.attrs)
    return res


def _frame(x: Any, run: Any, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    per_channel = any(hasattr(v, "__len__") for v in (*args, *kwargs.values()))
    columns = [x.iloc[:, j] for j in range(x.shape[1])]
    nullable = any(_is_nullable(c) for c in columns)
    n = 2 if kind == "both" else 1
    if not nullable and (len(set(x.dtypes)) <= 1 or per_channel):
        # one dtype (or per-column parameters, PReLU's weight on axis 1): the whole array
        results = run(x.to_numpy())
        parts = list(results) if kind == "both" else [results]
        frames = [type(x)(p, index=x.index, columns=x.columns, copy=False) for p in parts]
    else:
        pieces = [_parts(c) for c in columns]
        if per_channel:  # nullable columns with per-column parameters: one 2-D array
            np = sys.modules["numpy"]
            dtype = np.result_type(*(d.dtype for d, _ in pieces))
            whole = np.empty((x.shape[0], x.shape[1]), dtype=dtype)
            for j, (d, _) in enumerate(pieces):
                whole[:, j] = d
            res = run(whole)
            outs = [[r[:, j] for j in range(x.shape[1])] for r in (res if n == 2 else [res])]
        else:  # column by column, each with its own dtype rule
            cols = [run(d) for d, _ in pieces]
            outs = [[c[i] if n == 2 else c for c in cols] for i in range(n)]
        frames = []
        for out in outs:
            data = {j: _nullable(r, pieces[j][1]) for j, r in enumerate(out)}
            f = type(x)(data, index=x.index, copy=False)
            f.columns = x.columns
            frames.append(f)
    for f in frames:
        f.attrs = dict(x.attrs)
    return tuple(frames) if kind == "both" else frames[0]


#: what ``each`` maps for the masked constant (one item per result of a "both" call)
_BOTH_MASKED = (None, None)


def _masked(x: Any, run: Any, each: Any) -> Any:
    np = sys.modules["numpy"]
    if x is np.ma.masked:  # the masked constant: itself back, as NumPy's ufuncs give it
        return each(_BOTH_MASKED, lambda r: np.ma.masked)
    data = np.ma.getdata(x)
    mask = np.ma.getmask(x)

    def wrap(r: Any) -> Any:
        r = np.array(r, copy=True) if np.ndim(r) == 0 else r
        if mask is not np.ma.nomask:
            np.copyto(r, data, where=mask, casting="unsafe")  # masked: the input's data
        fill = x.fill_value if r.dtype == x.dtype else None
        return np.ma.masked_array(r, mask=np.ma.make_mask(mask, copy=True), fill_value=fill)

    return each(run(data), wrap)
