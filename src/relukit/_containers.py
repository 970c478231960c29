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
``xarray.DataArray``       a DataArray with the same dims, coords, name and attrs (a Dask-
                           backed one stays lazy)
``numpy.ma.MaskedArray``   a masked array with the same mask; masked entries keep the
                           input's data, as NumPy's ``np.ma`` unary functions do
``numpy.matrix``           a matrix (NumPy's rule for ufuncs)
=========================  ================================================================

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

Kind = Literal["series", "frame", "dataarray", "masked", "matrix"]


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
        return each(run(x.to_numpy()), lambda r: _like_series(x, r))
    return _frame(x, run, kind, args, kwargs)


def _check_numeric(act: Activation, x: Any, what: Kind | None) -> None:
    """pandas: only real numeric NumPy dtypes (no bool, object, category, nullable)."""
    dtypes = [x.dtype] if what == "series" else list(x.dtypes)
    np = sys.modules["numpy"]
    ok = all(isinstance(d, np.dtype) and d.kind in "iuf" for d in dtypes)
    if not ok:
        raise TypeError(
            f"{act.name}: x must be {ACCEPTED}, or a pandas/xarray object of such numbers; "
            f"got {describe(x)} (only integer and floating dtypes are accepted)"
        )


def _like_series(x: Any, r: Any) -> Any:
    res = type(x)(r, index=x.index, name=x.name, copy=False)
    res.attrs = dict(x.attrs)
    return res


def _frame(x: Any, run: Any, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    per_channel = any(hasattr(v, "__len__") for v in (*args, *kwargs.values()))
    if len(set(x.dtypes)) <= 1 or per_channel:
        # one dtype (or per-column parameters, PReLU's weight on axis 1): the whole array
        results = run(x.to_numpy())
        parts = list(results) if kind == "both" else [results]
        frames = [type(x)(p, index=x.index, columns=x.columns, copy=False) for p in parts]
    else:  # mixed dtypes: column by column, each with its own dtype rule
        cols = [run(x.iloc[:, j].to_numpy()) for j in range(x.shape[1])]
        n = 2 if kind == "both" else 1
        frames = []
        for i in range(n):
            data = {j: (c[i] if kind == "both" else c) for j, c in enumerate(cols)}
            f = type(x)(data, index=x.index, copy=False)
            f.columns = x.columns
            frames.append(f)
    for f in frames:
        f.attrs = dict(x.attrs)
    return tuple(frames) if kind == "both" else frames[0]


def _masked(x: Any, run: Any, each: Any) -> Any:
    np = sys.modules["numpy"]
    data = np.ma.getdata(x)
    mask = np.ma.getmask(x)

    def wrap(r: Any) -> Any:
        r = np.array(r, copy=True) if np.ndim(r) == 0 else r
        if mask is not np.ma.nomask:
            np.copyto(r, data, where=mask, casting="unsafe")  # masked: the input's data
        fill = x.fill_value if r.dtype == x.dtype else None
        return np.ma.masked_array(r, mask=np.ma.make_mask(mask, copy=True), fill_value=fill)

    return each(run(data), wrap)
