"""relu and leaky_relu on every Python input: the rows of DESIGN §3, one test (or more) each.

The oracles here are written independently of relukit: plain Python comparisons in
float64, PyTorch's functions and autograd, and central finite differences.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import relukit as rk

FLOAT_DTYPES = [np.float16, np.float32, np.float64, np.longdouble]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
EDGES = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 1e308, -1e308]


def signbit(v: float) -> bool:
    return math.copysign(1.0, float(v)) < 0


def oracle_relu(x: float) -> float:
    if math.isnan(x):
        return math.nan
    return x if x > 0 else 0.0


def oracle_leaky(x: float, s: float) -> float:
    if math.isnan(x):
        return math.nan
    if x > 0:
        return x
    if math.isinf(x):
        return -math.inf * math.copysign(1, s) if s != 0 else -0.0
    return s * x


def same(a: float, b: float) -> bool:
    """Equal as floats, NaN == NaN, and the same sign of zero."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and signbit(a) == signbit(b)


# ---------------------------------------------------------------------------
# the tutorials' examples
# ---------------------------------------------------------------------------


def test_tutorial_scalars() -> None:
    assert rk.relu(2) == 2 and type(rk.relu(2)) is int
    assert rk.relu(-3.0) == 0.0 and type(rk.relu(-3.0)) is float
    assert rk.relu(-3) == 0 and type(rk.relu(-3)) is int


def test_tutorial_arange() -> None:
    y = rk.relu(np.arange(-3, 5))
    np.testing.assert_array_equal(y, [0, 0, 0, 0, 1, 2, 3, 4])
    assert y.dtype == np.arange(-3, 5).dtype


@pytest.mark.parametrize(
    ("act", "expected"),
    [
        ("relu", [1.0, 0.0, 0.0, 15.0, 0.0]),
        ("leaky_relu", [1.0, -0.1, 0.0, 15.0, -0.2]),
    ],
)
def test_tutorial_five_value_tables(act: str, expected: list[float]) -> None:
    xs = [1.0, -10.0, 0.0, 15.0, -20.0]
    f = rk.get(act)
    got = [f(x) for x in xs]
    assert got == pytest.approx(expected, abs=1e-15)
    np.testing.assert_allclose(f(np.array(xs)), expected, atol=1e-15)


def test_derivative_at_zero_both_conventions() -> None:
    assert rk.relu.derivative(0.0) == 0.0  # PyTorch, JAX, TF
    assert rk.relu.derivative(0.0, at_kink=1.0) == 1.0  # many tutorials
    assert rk.relu.derivative(0) == 0.0
    assert math.isnan(rk.relu.derivative(0.0, at_kink=math.nan))  # "undefined"
    assert rk.leaky_relu.derivative(0.0) == 0.01
    assert rk.leaky_relu.derivative(0.0, at_kink=1.0) == 1.0
    np.testing.assert_array_equal(rk.relu.derivative(np.array([-1.0, 0.0, 1.0])), [0, 0, 1])
    np.testing.assert_array_equal(
        rk.relu.derivative(np.array([-1.0, 0.0, 1.0]), at_kink=0.5), [0, 0.5, 1]
    )
    # at_kink replaces the value only exactly at the kink
    assert rk.relu.derivative(1e-300, at_kink=0.5) == 1.0
    assert rk.relu.derivative(-1e-300, at_kink=0.5) == 0.0


# ---------------------------------------------------------------------------
# values against an independent oracle, every float dtype
# ---------------------------------------------------------------------------


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_relu_scalar_matches_oracle(x: float) -> None:
    assert same(rk.relu(x), oracle_relu(x))
    assert type(rk.relu(x)) is float


@given(
    st.floats(allow_nan=True, allow_infinity=True),
    # (subnormal slopes are refused: tests/test_slopes.py)
    st.floats(-10, 10, allow_nan=False, allow_subnormal=False)
    | st.sampled_from([0.0, 0.01, -0.5, 1.0]),
)
def test_leaky_scalar_matches_oracle(x: float, s: float) -> None:
    got = rk.leaky_relu(x, s)
    want = oracle_leaky(x, s)
    if s * x != 0 or x > 0 or math.isnan(x) or math.isinf(x):
        assert same(got, want) or math.isclose(got, want, rel_tol=0, abs_tol=0)
    else:  # both zero: the sign follows IEEE multiplication s * x
        assert got == 0


def exact(v: np.floating) -> Fraction:
    """The exact rational value of a finite float of any width (longdouble included)."""
    return Fraction(*v.as_integer_ratio())


def correctly_rounded(got: np.floating, exact_value: Fraction) -> bool:
    """``got`` is a nearest float of its dtype to ``exact_value`` (ties either way).

    Exact rational arithmetic, so the oracle is more precise than every dtype it checks
    (float16 up to longdouble); no tolerance at the checked dtype's epsilon is involved.
    """
    dtype = type(got)
    err = abs(exact(got) - exact_value)
    for toward in (dtype(np.inf), dtype(-np.inf)):
        nb = np.nextafter(got, toward)
        if np.isfinite(nb) and abs(exact(nb) - exact_value) < err:
            return False
    return True


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(data=st.data())
def test_array_values_every_float_dtype(dtype: type, data: st.DataObject) -> None:
    # hypothesis' default elements include ±0.0, ±inf, NaN and subnormals
    x = data.draw(hnp.arrays(dtype, hnp.array_shapes(max_dims=3, max_side=5)))
    y = rk.relu(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    # the elements stay NumPy scalars of the tested dtype (``tolist`` would round
    # longdouble to a Python float and weaken the check)
    for xi, yi in zip(x.ravel(), y.ravel(), strict=True):
        if np.isnan(xi):
            assert np.isnan(yi)
        elif xi > 0:
            assert yi == xi
        else:
            assert yi == 0 and not np.signbit(yi)
    z = rk.leaky_relu(x)
    assert z.dtype == x.dtype and z.shape == x.shape
    # leaky_relu(x) = slope * x for x <= 0, the product rounded once in the working type:
    # the dtype itself, float32 for float16 (relukit computes float16 in float32 and rounds
    # the result to float16), with the slope 0.01 rounded to the working type. Checked
    # against the exact product (fractions.Fraction), never a narrower float computation.
    work = np.float32 if dtype is np.float16 else dtype
    s = work(0.01)
    for xi, zi in zip(x.ravel(), z.ravel(), strict=True):
        if np.isnan(xi):
            assert np.isnan(zi)
        elif xi > 0 or np.isinf(xi):  # x itself, -inf included (slope > 0)
            assert zi == xi
        else:
            assert np.signbit(zi) == np.signbit(xi), (xi, zi)  # -0.0 stays -0.0, 0.0 stays 0.0
            w = work(xi) * s  # the working-type product, verified exactly below
            assert correctly_rounded(w, exact(xi) * exact(s)), (xi, w)
            assert zi == dtype(w) and np.isfinite(zi), (xi, zi, w)


@pytest.mark.parametrize("x", EDGES)
def test_edge_values_scalar_equals_array(x: float) -> None:
    for act in (rk.relu, rk.leaky_relu):
        s = act(x)
        a = act(np.array([x]))[0]
        assert same(s, a), (act.name, x, s, a)
        ds = act.derivative(x)
        da = act.derivative(np.array([x]))[0]
        assert same(ds, da), (act.name, x, ds, da)


# ---------------------------------------------------------------------------
# NaN, inf, -0.0
# ---------------------------------------------------------------------------


def test_nan_in_nan_out() -> None:
    nan = math.nan
    assert math.isnan(rk.relu(nan)) and max(0.0, nan) == 0.0  # the bug relukit fixes
    assert math.isnan(rk.leaky_relu(nan))
    assert math.isnan(rk.relu.derivative(nan)) and math.isnan(rk.leaky_relu.derivative(nan))
    for dt in FLOAT_DTYPES:
        x = np.array([nan, 1, -1], dtype=dt)
        assert np.isnan(rk.relu(x)[0]) and np.isnan(rk.leaky_relu(x)[0])
        assert np.isnan(rk.relu.derivative(x)[0]) and np.isnan(rk.leaky_relu.derivative(x)[0])
        v, d = rk.relu.value_and_derivative(x)
        assert np.isnan(v[0]) and np.isnan(d[0])


def test_infinities_give_limits_never_nan() -> None:
    inf = math.inf
    assert rk.relu(inf) == inf and rk.relu(-inf) == 0.0
    assert rk.relu.derivative(inf) == 1.0 and rk.relu.derivative(-inf) == 0.0
    assert rk.leaky_relu(-inf) == -inf and rk.leaky_relu(inf) == inf
    assert rk.leaky_relu(-inf, -0.5) == inf
    # PyTorch gives NaN here; the limit of 0 * x is 0
    r = rk.leaky_relu(-inf, 0.0)
    assert r == 0.0 and not math.isnan(r)
    for dt in FLOAT_DTYPES:
        x = np.array([-inf, inf], dtype=dt)
        y = rk.leaky_relu(x, negative_slope=0.0)
        assert not np.isnan(y).any()
        np.testing.assert_array_equal(y, [0.0, inf])
        np.testing.assert_array_equal(rk.leaky_relu.derivative(x, 0.0), [0.0, 1.0])


def test_negative_zero() -> None:
    assert not signbit(rk.relu(-0.0))
    assert signbit(rk.leaky_relu(-0.0))
    for dt in FLOAT_DTYPES:
        y = rk.relu(np.array([-0.0, 0.0], dtype=dt))
        assert not np.signbit(y).any()
        z = rk.leaky_relu(np.array([-0.0], dtype=dt))
        assert np.signbit(z).all()


# ---------------------------------------------------------------------------
# input kinds: Python, NumPy scalar, 0-d, n-d, empty, strided, big-endian, lists
# ---------------------------------------------------------------------------


def test_python_number_in_python_number_out() -> None:
    assert type(rk.relu(3)) is int and type(rk.relu(3.5)) is float
    assert type(rk.leaky_relu(3)) is float and rk.leaky_relu(3) == 3.0
    assert type(rk.relu.derivative(3)) is float
    v, d = rk.relu.value_and_derivative(2)
    assert (v, d) == (2, 1.0) and type(v) is int
    assert rk.relu(10**30) == 10**30  # big Python ints stay exact


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES)
def test_numpy_scalar_and_0d_keep_kind(dtype: type) -> None:
    s = dtype(3)
    y = rk.relu(s)
    assert isinstance(y, np.generic) and y.dtype == np.dtype(dtype)
    a = np.array(3, dtype=dtype)
    y0 = rk.relu(a)
    assert isinstance(y0, np.ndarray) and y0.shape == () and y0.dtype == a.dtype
    d0 = rk.relu.derivative(a)
    assert isinstance(d0, np.ndarray) and d0.shape == ()


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_dtypes(dtype: type) -> None:
    info = np.iinfo(dtype)
    x = np.array([info.min, 0, 1, info.max], dtype=dtype)
    y = rk.relu(x)
    assert y.dtype == x.dtype  # relu keeps integers
    np.testing.assert_array_equal(y, [max(int(info.min), 0), 0, 1, int(info.max)])
    z = rk.leaky_relu(x)
    assert z.dtype == np.float64  # fractions need a float: the default float
    np.testing.assert_allclose(z, [oracle_leaky(float(v), 0.01) for v in x.tolist()])
    assert rk.relu.derivative(x).dtype == np.float64
    # value_and_derivative: the value's dtype is the value call's (it was float64 for
    # relu and relu6, the value computed by the float kernel along with the derivative)
    for act in (rk.relu, rk.relu6):
        v, d = act.value_and_derivative(x)
        assert v.dtype == x.dtype and d.dtype == np.float64, act.name
        np.testing.assert_array_equal(v, act(x))
        np.testing.assert_array_equal(d, act.derivative(x))
        vo, do = np.empty_like(x), np.empty(x.shape)
        assert act.value_and_derivative(x, at_kink=0.5, out=(vo, do)) == (vo, do)
        np.testing.assert_array_equal(vo, act(x))
        np.testing.assert_array_equal(do, act.derivative(x, at_kink=0.5))


def test_empty_strided_bigendian_lists() -> None:
    for dt in (np.float32, np.int64):
        e = np.empty((0, 3), dtype=dt)
        assert rk.relu(e).shape == (0, 3) and rk.relu(e).dtype == dt
    base = np.linspace(-2, 2, 20).reshape(4, 5)
    view = base[::2, ::-2]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(rk.relu(view), np.where(view > 0, view, 0.0))
    be = np.array([-1.5, 2.5, -0.0], dtype=">f8")
    y = rk.relu(be)
    np.testing.assert_array_equal(y, [0.0, 2.5, 0.0])
    assert y.dtype.kind == "f" and y.dtype.itemsize == 8
    bei = np.array([-3, 4], dtype=">i4")
    np.testing.assert_array_equal(rk.relu(bei), [0, 4])
    for seq in ([-1, 2], (-1.0, 2.0), [[1, -2], [-3, 4]]):
        y = rk.relu(seq)
        assert isinstance(y, np.ndarray)
        np.testing.assert_array_equal(y, np.where(np.asarray(seq) > 0, seq, 0))
    assert rk.relu([]).shape == (0,)


# ---------------------------------------------------------------------------
# out= and in-place
# ---------------------------------------------------------------------------


def test_out_and_inplace() -> None:
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan], dtype=np.float32)
    out = np.empty_like(x)
    r = rk.relu(x, out=out)
    assert r is out
    np.testing.assert_array_equal(out, [0, 0, 0, 3, np.nan])
    assert not np.signbit(out).any()
    y = x.copy()
    assert rk.leaky_relu(y, 0.5, out=y) is y
    np.testing.assert_array_equal(y, [-1.0, -0.0, 0.0, 3.0, np.nan])
    d = np.empty_like(x)
    assert rk.relu.derivative(x, out=d, at_kink=1.0) is d
    np.testing.assert_array_equal(d, [0, 1, 1, 1, np.nan])
    v, dd = np.empty_like(x), np.empty_like(x)
    r2 = rk.relu.value_and_derivative(x, out=(v, dd))
    assert r2[0] is v and r2[1] is dd
    np.testing.assert_array_equal(v, rk.relu(x))
    np.testing.assert_array_equal(dd, rk.relu.derivative(x))
    i = np.array([-3, 5])
    assert rk.relu(i, out=i) is i and i.tolist() == [0, 5]


def test_value_and_derivative_equals_separate() -> None:
    x = np.array([-1.0, 0.0, 2.0, np.inf, -np.inf, np.nan])
    for act in (rk.relu, rk.leaky_relu):
        v, d = act.value_and_derivative(x, at_kink=0.25)
        np.testing.assert_array_equal(v, act(x))
        np.testing.assert_array_equal(d, act.derivative(x, at_kink=0.25))


# ---------------------------------------------------------------------------
# derivative: finite differences away from the kink
# ---------------------------------------------------------------------------


@given(
    st.floats(-1e3, 1e3).filter(lambda v: abs(v) > 1e-3),
    st.floats(-2, 2, allow_subnormal=False),  # (subnormal slopes are refused)
)
def test_derivative_matches_central_differences(x: float, s: float) -> None:
    h = 1e-6 * max(1.0, abs(x))
    for f, kw in ((rk.relu, {}), (rk.leaky_relu, {"negative_slope": s})):
        fd = (f(x + h, **kw) - f(x - h, **kw)) / (2 * h)
        assert f.derivative(x, **kw) == pytest.approx(fd, rel=1e-6, abs=1e-9)


# ---------------------------------------------------------------------------
# PyTorch as an oracle (values and autograd)
# ---------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("slope", [0.01, 0.2, 1.5, -0.3])
def test_torch_oracle_values_and_gradients(slope: float) -> None:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.normal(size=200) * 10, [0.0, -0.0, 1e-30, -1e-30, 3.0]])
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    F.relu(t).sum().backward()
    np.testing.assert_array_equal(rk.relu(xs), F.relu(t).detach().numpy() + 0.0)
    np.testing.assert_array_equal(rk.relu.derivative(xs), t.grad.numpy())
    t.grad = None
    F.leaky_relu(t, slope).sum().backward()
    np.testing.assert_array_equal(rk.leaky_relu(xs, slope), F.leaky_relu(t, slope).detach())
    np.testing.assert_array_equal(rk.leaky_relu.derivative(xs, slope), t.grad.numpy())


@pytest.mark.torch
def test_torch_tensor_in_torch_tensor_out_with_autograd() -> None:
    import torch

    t = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    y = rk.leaky_relu(t, 0.1)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), rk.leaky_relu.derivative([-2.0, 0.0, 3.0], 0.1))
    t2 = torch.tensor([0.0], requires_grad=True)
    rk.relu(t2).sum().backward()
    assert t2.grad.item() == 0.0  # not 0.5, as maximum(x, 0) would give


# ---------------------------------------------------------------------------
# bad input: clear errors, inputs untouched
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (True, "got True (bool)"),
        ("1.0", "got '1.0' (str)"),
        (None, "got None (NoneType)"),
        (1 + 2j, "(complex)"),
        (np.array([True, False]), "dtype bool"),
        (np.array([1 + 1j]), "dtype complex128"),
        (np.array([1, "a"], dtype=object), "dtype object"),
        (["a", "b"], "dtype <U1"),
        ([1, None], "dtype object"),
        ([[1, 2], [3]], "cannot turn into a numeric array"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64"),
        ({1, 2}, "(set)"),
    ],
)
def test_bad_x_raises_typeerror_naming_it(bad: object, fragment: str) -> None:
    for call in (rk.relu, rk.leaky_relu, rk.relu.derivative, rk.leaky_relu.value_and_derivative):
        with pytest.raises(TypeError) as info:
            call(bad)
        msg = str(info.value)
        assert "x must be" in msg and fragment in msg, msg


@pytest.mark.parametrize(
    ("value", "exc", "fragment"),
    [
        ("0.1", TypeError, "got '0.1' (str)"),
        (True, TypeError, "got True (bool)"),
        (None, TypeError, "got None"),
        (1j, TypeError, "complex"),
        (math.nan, ValueError, "finite real number, got nan"),
        (math.inf, ValueError, "got inf"),
        ([0.1], TypeError, "got [0.1] (list)"),
    ],
)
def test_bad_parameter(value: object, exc: type, fragment: str) -> None:
    x = np.array([-1.0, 1.0])
    before = x.copy()
    with pytest.raises(exc) as info:
        rk.leaky_relu(x, negative_slope=value)
    assert "negative_slope" in str(info.value) and fragment in str(info.value)
    with pytest.raises(exc):
        rk.leaky_relu.derivative(-1.0, value)
    np.testing.assert_array_equal(x, before)


def test_bad_parameter_names_and_counts() -> None:
    with pytest.raises(
        TypeError, match=r"leaky_relu\(\) got an unexpected keyword argument 'alpha'"
    ):
        rk.leaky_relu(1.0, alpha=0.1)
    with pytest.raises(TypeError, match=r"relu\.derivative\(\) got an unexpected keyword argument"):
        rk.relu.derivative(1.0, negative_slope=0.1)
    with pytest.raises(TypeError, match="unexpected parameter 'alpha'; it accepts negative_slope"):
        rk.leaky_relu.bind((), {"alpha": 0.1})
    with pytest.raises(TypeError, match="takes 0 parameter"):
        rk.relu(1.0, 0.1)
    with pytest.raises(TypeError, match="multiple values"):
        rk.leaky_relu(1.0, 0.1, negative_slope=0.2)


@pytest.mark.parametrize("bad", ["1", True, [1.0], 1j])
def test_bad_at_kink(bad: object) -> None:
    with pytest.raises(TypeError, match="at_kink must be None"):
        rk.relu.derivative(0.0, at_kink=bad)


def test_bad_out_writes_nothing() -> None:
    x = np.array([-1.0, 2.0])
    cases = [
        (np.zeros(3), ValueError, "shape"),
        (np.zeros(2, dtype=np.float32), ValueError, "dtype float32"),
        (np.zeros((2, 1)), ValueError, "shape"),
        ([0.0, 0.0], TypeError, "out must be a NumPy array"),
    ]
    for out, exc, frag in cases:
        keep = out.copy() if isinstance(out, np.ndarray) else list(out)
        with pytest.raises(exc, match=frag):
            rk.relu(x, out=out)
        if isinstance(out, np.ndarray):
            np.testing.assert_array_equal(out, keep)
    ro = np.full(2, 7.0)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        rk.relu(x, out=ro)
    np.testing.assert_array_equal(ro, [7.0, 7.0])
    i = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="dtype"):
        rk.leaky_relu(np.array([1, -1]), out=i)  # result is float64
    with pytest.raises(TypeError, match="pair"):
        rk.relu.value_and_derivative(x, out=np.zeros(2))
    o = np.zeros(2)
    with pytest.raises(ValueError, match="overlap"):
        rk.relu.value_and_derivative(x, out=(o, o))
    np.testing.assert_array_equal(x, [-1.0, 2.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "fn",
    [rk.relu, rk.silu.derivative, lambda x, **k: rk.leaky_relu(x, 0.1, **k)],
    ids=["relu", "silu'", "leaky_relu(0.1)"],
)
def test_the_repeated_call_checks_its_out_as_the_first_did(fn, dtype) -> None:
    # the second call of a signature takes the short path (relukit._kernels.Plan.run_plain):
    # the same results, the same errors, nothing written where it refuses
    x = np.linspace(-3, 3, 24, dtype=dtype)
    want = np.asarray(fn(np.repeat(x, 2)[::2]))  # (strided: the general path)
    with _no_kernels():  # the NumPy formulas (float64: NumPy's exp may differ by an ulp)
        np.testing.assert_allclose(fn(x), want, rtol=4e-16 if dtype == np.float64 else 0)
    for _ in range(2):  # planned on the first call, the short path on the second
        np.testing.assert_array_equal(fn(x), want)
        out = np.full_like(x, 7)
        assert fn(x, out=out) is out
        np.testing.assert_array_equal(out, want)
        grid = x.reshape(4, 6).copy()
        np.testing.assert_array_equal(fn(grid), want.reshape(4, 6))
        np.testing.assert_array_equal(fn(x[::2]), want[::2])  # strided: the general path
        y = x.copy()
        assert fn(y, out=y) is y  # in place
        np.testing.assert_array_equal(y, want)
        # out overlapping x other than in place: as if computed first, then written
        buf = np.concatenate([x, x[-1:]])
        res = fn(buf[:-1], out=buf[1:])
        np.testing.assert_array_equal(res, want)
        for bad, exc, frag in [
            (np.zeros(25, dtype), ValueError, "shape"),
            (np.zeros((24, 1), dtype), ValueError, "shape"),
            (np.zeros(24, np.float16), ValueError, "dtype"),
            ([0.0] * 24, TypeError, "out must be a NumPy array"),
        ]:
            keep = bad.copy() if isinstance(bad, np.ndarray) else list(bad)
            with pytest.raises(exc, match=frag):
                fn(x, out=bad)
            if isinstance(bad, np.ndarray):
                np.testing.assert_array_equal(bad, keep)
        ro = np.full_like(x, 7)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            fn(x, out=ro)
        np.testing.assert_array_equal(ro, 7)
        xr = x.copy()
        xr.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            fn(xr, out=xr)
        np.testing.assert_array_equal(xr, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_repeated_gated_call_gives_what_the_first_gave(dtype) -> None:
    # rk.swiglu(gate, up) with the defaults takes a short path from its second call on
    # (relukit._kernels.Plan.run_gated_plain): the same bits and structure as the formulas
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((4, 6)) * 3).astype(dtype)
    b = rng.standard_normal((4, 6)).astype(dtype)
    a[0, :3] = [np.nan, np.inf, -np.inf]
    b[1, :2] = [np.inf, np.nan]
    # the general path (strided inputs) is the oracle: the same kernel, more checks
    sa, sb = np.repeat(a, 2, axis=1)[:, ::2], np.repeat(b, 2, axis=1)[:, ::2]
    want_v = rk.swiglu(sa, sb)
    want_d = rk.swiglu.derivative(sa, sb)
    want_b = rk.geglu.value_and_derivative(sa, sb)
    with _no_kernels():  # and the NumPy formulas (float64: NumPy's exp may differ by an ulp)
        np.testing.assert_allclose(
            rk.swiglu(a, b), want_v, rtol=4e-16 if dtype == np.float64 else 0
        )
    for _ in range(3):
        np.testing.assert_array_equal(rk.swiglu(a, b), want_v)
        d = rk.swiglu.derivative(a, b)
        assert isinstance(d, tuple) and len(d) == 2
        for got, want in zip(d, want_d, strict=True):
            np.testing.assert_array_equal(got, want)
        v, (dg, du) = rk.geglu.value_and_derivative(a, b)
        np.testing.assert_array_equal(v, want_b[0])
        np.testing.assert_array_equal(dg, want_b[1][0])
        np.testing.assert_array_equal(du, want_b[1][1])
        # other layouts, dtypes and shapes take the general path
        np.testing.assert_array_equal(rk.swiglu(a.T, b.T), want_v.T)
        np.testing.assert_array_equal(rk.swiglu(a[:, ::2], b[:, ::2]), want_v[:, ::2])
        np.testing.assert_array_equal(rk.swiglu(a, b[:1]), rk.swiglu(a, np.repeat(b[:1], 4, 0)))
        assert rk.swiglu(a, b.astype(np.float16)).dtype == dtype
        with pytest.raises(ValueError, match="same shape"):
            rk.swiglu(a, b[:, :5])
        keep = a.copy()
        assert rk.swiglu(a, b).shape == a.shape
        np.testing.assert_array_equal(a, keep)  # the inputs are not written


def _no_kernels():
    from relukit import _kernels

    return _kernels.switched(enabled=False)


def test_errors_do_not_modify_input() -> None:
    x = np.array([-1.0, 2.0])
    with pytest.raises(TypeError):
        rk.leaky_relu(x, "bad")
    with pytest.raises(ValueError):
        rk.relu(x, out=np.zeros(5))
    np.testing.assert_array_equal(x, [-1.0, 2.0])


# ---------------------------------------------------------------------------
# huge Python ints, byte-swapped out=, bools inside sequences, int subclasses
# ---------------------------------------------------------------------------

HUGE = 10**400  # beyond every float


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: rk.gelu(HUGE), "x"),
        (lambda: rk.gelu(-HUGE), "x"),
        (lambda: rk.leaky_relu(HUGE), "x"),
        (lambda: rk.relu.derivative(HUGE), "x"),
        (lambda: rk.silu.value_and_derivative(HUGE), "x"),
        (lambda: rk.leaky_relu(1.0, negative_slope=HUGE), "negative_slope"),
        (lambda: rk.leaky_relu(1.0, -HUGE), "negative_slope"),
        (lambda: rk.leaky_relu.derivative(1, HUGE), "negative_slope"),
        (lambda: rk.leaky_relu(np.ones(3), HUGE), "negative_slope"),
        (lambda: rk.leaky_relu(np.ones(300), negative_slope=HUGE), "negative_slope"),
        (lambda: rk.elu([1.0, -1.0], alpha=HUGE), "alpha"),
        (lambda: rk.rrelu(1.0, 0.1, HUGE), "upper"),
        (lambda: rk.relu.derivative(1.0, at_kink=HUGE), "at_kink"),
        (lambda: rk.relu.derivative(np.ones(3), at_kink=HUGE), "at_kink"),
        (lambda: rk.relu.derivative(np.ones(300), at_kink=-HUGE), "at_kink"),
        (lambda: rk.relu.value_and_derivative(0, at_kink=Fraction(HUGE)), "at_kink"),
        (lambda: rk.gelu(Fraction(HUGE, 3)), "x"),
        (lambda: rk.gelu(HUGE, out=np.empty(())), "x"),
        (lambda: rk.relu.derivative(-HUGE, out=np.empty(())), "x"),
    ],
)
def test_numbers_too_large_for_a_float_are_a_valueerror_naming_the_argument(call, name):
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert f"{name} = " in msg or f"{name} must be" in msg, msg
    assert "too large" in msg or "finite" in msg, msg


@pytest.mark.torch
def test_numbers_too_large_for_a_float_in_the_torch_front_end():
    import torch

    import relukit.torch as rt

    t = torch.ones(3)
    for call, name in (
        (lambda: rt.leaky_relu(t, HUGE), "negative_slope"),
        (lambda: rt.LeakyReLU(-HUGE), "negative_slope"),
        (lambda: rt.ELU(alpha=HUGE)(t), "alpha"),
        (lambda: rt.relu(t, at_kink=HUGE), "at_kink"),
    ):
        with pytest.raises(ValueError, match=f"{name}.*too large to convert to a float"):
            call()


@pytest.mark.jax
def test_numbers_too_large_for_a_float_in_the_jax_front_end():
    import relukit.jax as rkj

    for call, name in (
        (lambda: rkj.gelu(HUGE), "x"),
        (lambda: rkj.leaky_relu(1.0, HUGE), "negative_slope"),
        (lambda: rkj.relu(1.0, at_kink=-HUGE), "at_kink"),
    ):
        with pytest.raises(ValueError, match=f"{name}.*too large to convert to a float"):
            call()


def test_real_scalars_with_out():
    o = np.empty(())
    assert rk.gelu(Fraction(1, 3), out=o) is o and o == rk.gelu(1 / 3)
    assert rk.silu(10**30, out=o) is o and o == 1e30  # (beyond int64: its float)
    i = np.empty((), dtype=np.int64)
    assert rk.relu(-7, out=i) is i and i == 0


def test_huge_int_stays_an_int_where_ints_are_kept():
    assert rk.relu(HUGE) == HUGE and rk.relu(-HUGE) == 0 and type(rk.relu(-HUGE)) is int
    assert rk.relu6(HUGE) == 6


@pytest.mark.parametrize("order", [">", "<"])
@pytest.mark.parametrize("dtype", ["f2", "f4", "f8"])
@pytest.mark.parametrize("n", [5, 3000])  # the NumPy path, and the kernels
def test_out_of_the_other_byte_order(order, dtype, n):
    # an out= of the result's dtype in the other byte order gets the same numbers as the
    # call without out=, as np.maximum(xb, 0, out=xb) does
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    x[:4] = [0.0, -0.0, np.inf, -np.inf]
    swapped = x.astype(order + dtype)  # (one of the two is the native order)
    for act in (rk.relu, rk.gelu):
        for a in (x, swapped):
            want = act(a)
            assert want.dtype.isnative
            for odt in (order + dtype, dtype):
                o = np.zeros(n, dtype=odt)
                assert act(a, out=o) is o
                assert o.dtype == np.dtype(odt)
                np.testing.assert_array_equal(o, want)
            ab = a.copy()
            assert act(ab, out=ab) is ab  # in place
            np.testing.assert_array_equal(ab, want)
    xb = swapped.copy()
    with np.errstate(invalid="ignore"):
        np.maximum(xb, 0, out=xb)
    np.testing.assert_array_equal(xb, rk.relu(swapped))
    for a in (x, swapped):
        d = np.zeros(n, dtype=order + dtype)
        assert rk.relu.derivative(a, out=d, at_kink=0.5) is d
        np.testing.assert_array_equal(d, rk.relu.derivative(a, at_kink=0.5))
        v, dd = np.zeros(n, dtype=order + dtype), np.zeros(n, dtype=dtype)
        assert rk.gelu.value_and_derivative(a, out=(v, dd)) == (v, dd)
        want_v, want_d = rk.gelu.value_and_derivative(a)
        np.testing.assert_array_equal(v, want_v)
        np.testing.assert_array_equal(dd, want_d)
        if dtype != "f2":  # grad_out * derivative in one pass (float32/float64 kernels)
            from relukit._dispatch import backward

            g = np.linspace(-2, 2, n).astype(a.dtype)
            o = np.zeros(n, dtype=order + dtype)
            assert backward(rk.gelu, a, g, out=o) is o
            np.testing.assert_array_equal(o, backward(rk.gelu, a, g))


def test_out_of_another_dtype_is_still_refused_in_either_byte_order():
    x = np.ones(300, np.float32)
    for dt in (">f8", "<f8", ">f2", ">i4"):
        o = np.full(300, 7, dtype=dt)
        with pytest.raises(ValueError, match=f"out has dtype {np.dtype(dt)}"):
            rk.relu(x, out=o)
        assert (o == 7).all()


BOOL_SEQUENCES = [
    [1, -2.5, True],
    [True, 2.0],
    (0.5, False),
    [[1.0, -1.0], [2.0, False]],
    [1.0, np.True_],
    [np.array([True, False]), np.array([1.5, 2.0])],
    (np.array([1.0, 2.0]), [np.bool_(False), 3.0]),
]


@pytest.mark.parametrize("seq", BOOL_SEQUENCES, ids=range(len(BOOL_SEQUENCES)))
def test_sequences_holding_bools_are_refused_as_bool_is(seq):
    for call in (rk.relu, rk.gelu, rk.relu.derivative, rk.leaky_relu.value_and_derivative):
        with pytest.raises(TypeError) as info:
            call(seq)
        msg = str(info.value)
        assert "x must be" in msg and "bool" in msg, msg
    with pytest.raises(TypeError, match="bool"):  # as for a bool itself
        rk.relu(True)


def test_int_subclasses_are_their_int_value():
    import enum

    class Level(enum.IntEnum):
        HIGH = 3
        LOW = -2

    for v, want in ((Level.HIGH, 3), (Level.LOW, 0)):
        got = rk.relu(v)
        assert got == want and type(got) is int
    assert type(rk.relu6(Level.HIGH)) is int and rk.relu6(Level.HIGH) == 3
    assert rk.gelu(Level.HIGH) == rk.gelu(3) and type(rk.gelu(Level.HIGH)) is float
    assert rk.leaky_relu(Level.LOW) == rk.leaky_relu(-2) == -0.02
    assert rk.relu.derivative(Level.HIGH) == 1.0
    assert rk.relu.value_and_derivative(Level.LOW) == (0, 0.0)
    assert type(rk.relu.value_and_derivative(Level.LOW)[0]) is int
    np.testing.assert_array_equal(rk.relu([Level.HIGH, Level.LOW]), [3, 0])


# ---------------------------------------------------------------------------
# gated entries (f(gate) * up): the same rules for each input
# ---------------------------------------------------------------------------

GATED = [a for a in rk.catalogue() if a.gated]


def _silu(g: float) -> float:
    return g / (1.0 + math.exp(-g))


@pytest.mark.parametrize("act", GATED, ids=lambda a: a.name)
def test_gated_kinds_in_kinds_out(act) -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    # Python numbers (an int subclass too): Python floats, the pair of derivatives too
    for g, u in ((1.0, 2.0), (1, 2), (Level.HIGH, 2.0), (1.0, Level.HIGH)):
        v = act(g, u)
        dg, du = act.derivative(g, u)
        assert type(v) is float and type(dg) is float and type(du) is float
        assert v == act(float(g), float(u))
    # NumPy scalars: NumPy scalars of the result dtype; 0-d arrays: 0-d arrays
    v = act(np.float32(1.0), np.float32(2.0))
    assert isinstance(v, np.float32), type(v)
    dg, du = act.derivative(np.float32(1.0), 2.0)
    assert isinstance(dg, np.float32) and isinstance(du, np.float32)
    v0 = act(np.array(1.0), np.array(2.0))
    assert isinstance(v0, np.ndarray) and v0.shape == ()
    w, (dg, du) = act.value_and_derivative(np.float64(1.0), np.float64(2.0))
    assert isinstance(w, np.float64) and isinstance(du, np.float64)


def test_gated_python_numbers_against_the_formula() -> None:
    assert rk.swiglu(1.0, 2.0) == pytest.approx(2 * _silu(1.0), rel=1e-15)
    assert rk.bilinear(3, -2) == -6.0 and rk.reglu(-1.0, 5.0) == 0.0
    assert rk.glu(0.0, 3.0) == 1.5 and rk.glu.derivative(0.0, 3.0) == (0.75, 0.5)


@pytest.mark.parametrize("act", GATED, ids=lambda a: a.name)
def test_gated_out_in_both_forms_and_bad_out_writes_nothing(act) -> None:
    g, u = np.array([1.0, -2.0, 3.0]), np.array([0.5, 2.0, -1.0])
    o = np.empty(3)
    assert act(g, u, out=o) is o
    np.testing.assert_array_equal(o, act(g, u))
    pair = (np.empty(3), np.empty(3))
    assert act.derivative(g, u, out=pair) is pair
    for got, want in zip(pair, act.derivative(g, u), strict=True):
        np.testing.assert_array_equal(got, want)
    x = np.concatenate([u, g])
    os_ = np.empty(3)
    assert act(x, out=os_) is os_
    np.testing.assert_array_equal(os_, o)
    od = np.empty(6)
    assert act.derivative(x, out=od) is od
    np.testing.assert_array_equal(od, np.concatenate(pair[::-1]))
    for bad, kw in ((np.zeros(3, np.float32), {}), (np.zeros(4), {}), (np.zeros(6), {})):
        keep = bad.copy()
        with pytest.raises(ValueError, match=f"{act.name}: out has"):
            act(g, u, out=bad, **kw)
        np.testing.assert_array_equal(bad, keep)  # nothing written
    np.testing.assert_array_equal(g, [1.0, -2.0, 3.0])  # inputs untouched


@pytest.mark.parametrize("act", GATED, ids=lambda a: a.name)
def test_gated_sequences_name_the_input(act) -> None:
    np.testing.assert_array_equal(act([1.0, -2.0], (3.0, 4.0)), act(np.array([1.0, -2.0]),
                                                                      np.array([3.0, 4.0])))  # fmt: skip
    for seq, what in (([1.0, True], "gate"), (["a", 1.0], "gate")):
        with pytest.raises(TypeError, match=f"{act.name}: {what} must be"):
            act(seq, [1.0, 2.0])
        with pytest.raises(TypeError, match=f"{act.name}: up must be"):
            act([1.0, 2.0], seq)
    with pytest.raises(TypeError, match=f"{act.name}: x must be .*bool"):
        act([1.0, True])
    with pytest.raises(ValueError, match=f"{act.name}: up = .*too large"):
        act(1.0, 10**400)
