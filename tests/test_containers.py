"""pandas, xarray, NumPy masked arrays and np.matrix: the same kind of object comes back.

Oracles: NumPy's own ufuncs on the same containers (``np.maximum`` keeps a Series'
index, a matrix stays a matrix), the float64 formulas written out here, and the
containers' own metadata before the call.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import relukit as rk

EDGE = [-math.inf, -3.0, -0.0, 0.0, 5e-324, 2.5, math.inf, math.nan]


def leaky_oracle(v: float, slope: float = 0.01) -> float:
    return v if v > 0 else slope * v if not math.isnan(v) else math.nan


# ---------------------------------------------------------------------------
# pandas
# ---------------------------------------------------------------------------


@pytest.mark.pandas
def test_series_keeps_index_name_attrs_like_np_maximum() -> None:
    pd = pytest.importorskip("pandas")
    s = pd.Series(EDGE, index=[f"r{i}" for i in range(len(EDGE))], name="pre", dtype=float)
    s.attrs["units"] = "V"
    before = s.copy()
    r = rk.relu(s)
    assert type(r) is pd.Series
    pd.testing.assert_index_equal(r.index, s.index)
    assert r.name == "pre" and r.attrs == {"units": "V"}
    # the oracle: NumPy's own ufunc on the Series (NaN kept; relu(-0.0) is +0.0 in relukit)
    expected = np.maximum(s, 0.0).to_numpy()
    got = r.to_numpy()
    np.testing.assert_array_equal(got, expected)
    assert not np.signbit(got[~np.isnan(got)]).any()
    pd.testing.assert_series_equal(s, before)  # input untouched
    assert s.attrs == {"units": "V"}


@pytest.mark.pandas
def test_series_integer_dtype_and_derivative() -> None:
    pd = pytest.importorskip("pandas")
    s = pd.Series([-2, 0, 3], index=[10, 20, 30])
    assert rk.relu(s).dtype == np.int64
    assert rk.relu(s).tolist() == [0, 0, 3]
    d = rk.leaky_relu.derivative(s, at_kink=0.5)
    assert d.tolist() == [0.01, 0.5, 1.0] and list(d.index) == [10, 20, 30]
    v, d = rk.relu.value_and_derivative(s)
    assert type(v) is type(d) is pd.Series
    assert d.tolist() == [0.0, 0.0, 1.0]


@pytest.mark.pandas
def test_dataframe_keeps_index_columns_and_column_dtypes() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {"ints": [-1, 2, -3], "floats": [-0.5, math.nan, math.inf]},
        index=pd.Index(["a", "b", "c"], name="row"),
    )
    df.attrs["source"] = "test"
    r = rk.relu(df)
    assert type(r) is pd.DataFrame
    pd.testing.assert_index_equal(r.index, df.index)
    pd.testing.assert_index_equal(r.columns, df.columns)
    assert r.attrs == {"source": "test"}
    assert r["ints"].dtype == np.int64 and r["ints"].tolist() == [0, 2, 0]
    np.testing.assert_array_equal(r["floats"].to_numpy(), [0.0, math.nan, math.inf])
    lk = rk.leaky_relu(df, negative_slope=0.1)
    assert lk["ints"].tolist() == [leaky_oracle(v, 0.1) for v in (-1.0, 2.0, -3.0)]


@pytest.mark.pandas
def test_dataframe_prelu_weight_per_column() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame([[-1.0, -1.0], [2.0, -4.0]], columns=["u", "v"])
    r = rk.prelu(df, [0.1, 0.5])
    assert r.to_numpy().tolist() == [[-0.1, -0.5], [2.0, -2.0]]
    assert list(r.columns) == ["u", "v"]


@pytest.mark.pandas
def test_pandas_bad_dtypes_show_type_and_shape_not_content() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"words": ["secret-cell-content"] * 500})
    with pytest.raises(TypeError) as info:
        rk.relu(df)
    msg = str(info.value)
    assert "pandas.DataFrame of shape (500, 1)" in msg
    assert "secret-cell-content" not in msg and len(msg) < 400
    with pytest.raises(TypeError, match=r"pandas\.Series of shape \(2,\) and dtype Float64"):
        rk.relu(pd.Series([1.0, None], dtype="Float64"))
    with pytest.raises(TypeError, match="out= is supported for NumPy arrays only"):
        rk.relu(pd.Series([1.0]), out=np.empty(1))


# ---------------------------------------------------------------------------
# xarray
# ---------------------------------------------------------------------------


@pytest.mark.xarray
def test_dataarray_keeps_dims_coords_name_attrs() -> None:
    xr = pytest.importorskip("xarray")
    da = xr.DataArray(
        np.array([[-1.0, 2.0, -0.0], [math.nan, -math.inf, 3.0]]),
        dims=("time", "unit"),
        coords={"time": [0, 1], "unit": ["a", "b", "c"], "label": ("unit", ["x", "y", "z"])},
        name="pre",
        attrs={"units": "V"},
    )
    r = rk.leaky_relu(da)
    assert type(r) is xr.DataArray
    assert r.dims == da.dims and r.name == "pre" and r.attrs == {"units": "V"}
    xr.testing.assert_identical(r.coords.to_dataset(), da.coords.to_dataset())
    expected = [[leaky_oracle(v) for v in row] for row in da.values.tolist()]
    np.testing.assert_array_equal(r.values, expected)
    d = rk.relu.derivative(da)
    np.testing.assert_array_equal(d.values, [[0.0, 1.0, 0.0], [math.nan, 0.0, 1.0]])
    assert da.values[0, 0] == -1.0  # input untouched


@pytest.mark.xarray
@pytest.mark.dask
def test_dask_backed_dataarray_stays_lazy() -> None:
    xr = pytest.importorskip("xarray")
    da_mod = pytest.importorskip("dask.array")
    x = xr.DataArray(da_mod.from_array(np.array([-1.0, 2.0, -3.0]), chunks=2), dims="i")
    r = rk.relu(x)
    assert isinstance(r.data, da_mod.Array)  # not computed
    assert r.compute().values.tolist() == [0.0, 2.0, 0.0]


# ---------------------------------------------------------------------------
# NumPy masked arrays and matrices
# ---------------------------------------------------------------------------


def test_masked_array_keeps_mask_and_leaves_masked_data_alone() -> None:
    data = np.array([-1.0, -2.0, 3.0, math.nan])
    m = np.ma.masked_array(data.copy(), mask=[False, True, False, True], fill_value=-7.0)
    r = rk.relu(m)
    assert isinstance(r, np.ma.MaskedArray)
    assert r.mask.tolist() == [False, True, False, True]
    assert r.mask is not m.mask  # not shared: changing one leaves the other
    assert r.data[0] == 0.0 and r.data[2] == 3.0
    assert r.data[1] == -2.0  # masked: the input's data, as np.ma's unary functions
    assert np.isnan(r.data[3])
    assert r.fill_value == -7.0
    np.testing.assert_array_equal(m.data, data)  # input untouched
    # np.ma's own rule for a unary function, the oracle for the masked entries
    np.testing.assert_array_equal(np.ma.abs(m).data[m.mask], r.data[m.mask])


def test_masked_array_int_derivative_and_no_mask() -> None:
    m = np.ma.masked_array([-3, 0, 4], mask=[False, False, True])
    r = rk.relu(m)
    assert r.dtype == m.dtype and r.tolist() == [0, 0, None]
    d = rk.relu.derivative(m, at_kink=1.0)
    assert d.dtype == np.float64 and d.tolist() == [0.0, 1.0, None]
    assert d.data[2] == 4.0
    v, d = rk.relu.value_and_derivative(m)
    assert v.mask.tolist() == d.mask.tolist() == [False, False, True]
    plain = np.ma.masked_array([-1.0, 1.0])  # nomask stays nomask
    assert rk.relu(plain).mask is np.ma.nomask
    with pytest.raises(TypeError, match="out= is supported for NumPy arrays only"):
        rk.relu(m, out=np.empty(3))


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_matrix_follows_numpys_rule() -> None:
    mt = np.matrix([[1.0, -2.0], [-0.5, 4.0]])
    r = rk.leaky_relu(mt, negative_slope=0.5)
    expected = np.maximum(mt, 0.5 * mt)  # NumPy's own ufunc result on a matrix
    assert type(r) is type(expected) is np.matrix
    np.testing.assert_array_equal(np.asarray(r), np.asarray(expected))
    v, d = rk.relu.value_and_derivative(mt)
    assert type(v) is type(d) is np.matrix
    assert d.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    out = np.matrix(np.empty((2, 2)))
    assert rk.relu(mt, out=out) is out and out.tolist() == [[1.0, 0.0], [0.0, 4.0]]


def test_plain_ndarray_path_unchanged() -> None:
    x = np.array([-1.0, 2.0])
    assert type(rk.relu(x)) is np.ndarray


def test_error_messages_show_type_and_shape_never_content() -> None:
    big = np.full((200, 300), "marker-text", dtype=object)
    with pytest.raises(TypeError) as info:
        rk.relu(big)
    msg = str(info.value)
    assert "numpy.ndarray of shape (200, 300) and dtype object" in msg
    assert "marker-text" not in msg
    with pytest.raises(TypeError) as info:
        rk.relu({"key-marker": 1})
    assert "got an object of length 1 (dict)" in str(info.value) and "key-marker" not in str(
        info.value
    )


def test_parameter_and_at_kink_errors_show_type_and_shape_not_content() -> None:
    big = np.full(10_000, 0.123456789)
    for call in (
        lambda: rk.leaky_relu(1.0, negative_slope=big.tolist()),
        lambda: rk.gelu(1.0, approximate=big),
        lambda: rk.relu.derivative(1.0, at_kink=big),
        lambda: rk.get(big),
    ):
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        msg = str(info.value)
        assert "0.123456789" not in msg and len(msg) < 300, msg
        assert "numpy.ndarray of shape (10000,)" in msg or "list" in msg, msg
    with pytest.raises(ValueError) as info:
        rk.relu.derivative(10**5000)
    assert len(str(info.value)) < 200
