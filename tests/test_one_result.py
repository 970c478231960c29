"""One input, one result: a number never depends on how it was asked for.

For every catalogue entry with every parameter set of ``tests/test_family.py``, for
float16, float32 and float64, and for values, derivatives (with and without
``at_kink``), both at once, backward (``grad_out * derivative``) and backward from the
output (where the entry's ``Math.can_use_output`` allows it), the result is the same,
bit for bit (NaN payloads included), when the same input values come

* one element at a time, below 256 elements, in thousands, and at 10**5 elements on
  one thread or shared between two (numba's OpenMP threads, and relukit's own pool);
* strided (``x[::2]``), reversed, in Fortran order, unaligned (a view at a byte
  offset), in the non-native byte order;
* with ``out=`` a fresh array, a strided one, one of the other byte order, the input
  itself (in place), or a view overlapping the input shifted by one element;
* as a Python float, a NumPy scalar, a 0-d array and a 1-element array (float64).

The reference is the plain call: a C-contiguous aligned native array on one thread.
That reference is itself pinned to independent oracles elsewhere (mpmath in
test_accuracy.py and test_family.py, PyTorch in test_family.py). ``backward`` is also
``grad_out * derivative`` computed by NumPy from the derivative's array, as its
docstring states (and x's NaN where x is NaN, whatever ``grad_out`` is). Hypothesis draws further values; ±0, ±inf, NaN (with payloads,
signalling ones too) and subnormals are always among them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import relukit as rk
from _cases import ALL, CASES, GATED, GATED_IDS, IDS
from _values import (
    DTYPES,
    NAN_BITS,
    UINT,
    bits,
    edge_values,
    first_difference,
    float_bits,
    gradient_for,
    inputs,
    nans,
    same_bits,
)
from relukit import _dispatch, _kernels
from relukit import _kernels_threads as th
from relukit._dispatch import backward

pytest.importorskip("numba")

DTYPE_IDS = ["f16", "f32", "f64"]


@pytest.fixture(autouse=True)
def fresh_plans():
    """Each test plans afresh (the dispatcher keeps a plan per call signature)."""
    _dispatch._CALLS.clear()
    yield
    _dispatch._CALLS.clear()


# ---------------------------------------------------------------------------
# the calls: each takes its input arrays (x, or x and grad_out) and an optional out=
# ---------------------------------------------------------------------------

Call = Callable[..., Any]


def uses_output(act, p: dict) -> bool:
    m, args = act.math.resolve(act.bind((), p))
    return m.can_use_output(args)


def calls(act, p: dict) -> dict[str, tuple[int, Call]]:
    """kind -> (number of input arrays, the call)."""
    out: dict[str, tuple[int, Call]] = {
        "value": (1, lambda x, out=None: act(x, **p, out=out)),
        "derivative": (1, lambda x, out=None: act.derivative(x, **p, out=out)),
        "both": (1, lambda x, out=None: act.value_and_derivative(x, **p, out=out)),
        "backward": (2, lambda x, g, out=None: backward(act, x, g, p, out=out)),
    }
    if act.kinks:
        out["derivative at_kink"] = (
            1,
            lambda x, out=None: act.derivative(x, **p, at_kink=0.5, out=out),
        )
        out["backward at_kink"] = (
            2,
            lambda x, g, out=None: backward(act, x, g, p, at_kink=-3.0, out=out),
        )
    if uses_output(act, p):
        out["backward from the output"] = (
            2,
            lambda y, g, out=None: backward(act, y, g, p, out=out, from_output=True),
        )
    return out


def arrays_for(kind: str, act, p: dict, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """The input arrays of ``kind`` for the input values ``x``."""
    if kind == "backward from the output":
        with _kernels.switched(threads=1):
            y = np.asarray(act(x, **p))
        return (y, gradient_for(x))
    if kind.startswith("backward"):
        return (x, gradient_for(x))
    return (x,)


def reference(fn: Call, arrays: tuple[np.ndarray, ...]) -> Any:
    with _kernels.switched(threads=1):
        return fn(*arrays)


def each(want: Any, f: Callable[[np.ndarray], np.ndarray]) -> Any:
    return tuple(f(w) for w in want) if isinstance(want, tuple) else f(want)


def concat(results: list[Any]) -> Any:
    if isinstance(results[0], tuple):
        return tuple(np.concatenate(r) for r in zip(*results, strict=True))
    return np.concatenate(results)


# ---------------------------------------------------------------------------
# layouts of the same values
# ---------------------------------------------------------------------------


def strided(a: np.ndarray) -> np.ndarray:
    buf = np.full(2 * a.size, 7.0, a.dtype)  # (something else between the elements)
    buf[::2] = a
    return buf[::2]


def unaligned(a: np.ndarray) -> np.ndarray:
    view = np.frombuffer(bytearray(b"\0" + a.tobytes()), a.dtype, count=a.size, offset=1)
    assert not view.flags.aligned and view.flags.writeable
    return view


def swapped(a: np.ndarray) -> np.ndarray:
    s = a.astype(a.dtype.newbyteorder())
    assert not s.dtype.isnative
    return s


def fortran(a: np.ndarray, rows: int = 7) -> np.ndarray:
    cols = a.size // rows
    return np.asfortranarray(a[: rows * cols].reshape(rows, cols))


def as_fortran_want(w: np.ndarray, rows: int = 7) -> np.ndarray:
    cols = w.size // rows
    return w[: rows * cols].reshape(rows, cols)


LAYOUTS: dict[str, tuple[Callable, Callable]] = {
    # name: (the inputs' layout, the same selection of the reference)
    "strided": (strided, lambda w: w),
    "reversed": (lambda a: a[::-1], lambda w: w[::-1]),
    "fortran": (fortran, as_fortran_want),
    "unaligned": (unaligned, lambda w: w),
    "byteswapped": (swapped, lambda w: w),
}


def check(label: str, got: Any, want: Any, x: Any) -> None:
    assert same_bits(got, want), f"{label}: {first_difference(got, want, x)}"


def check_layouts(fn: Call, arrays: tuple, want: Any) -> None:
    x = arrays[0]
    before = [bits(a).copy() for a in arrays]
    for name, (make, select) in LAYOUTS.items():
        got = fn(*(make(a) for a in arrays))
        check(name, got, each(want, select), select(x))
    for a, b in zip(arrays, before, strict=True):
        assert np.array_equal(bits(a), b), "an input was modified"


def check_single_elements(fn: Call, arrays: tuple, want: Any, idx: np.ndarray) -> None:
    got = concat([fn(*(a[i : i + 1] for a in arrays)) for i in idx])
    check("one element at a time", got, each(want, lambda w: w[idx]), arrays[0][idx])


def check_sizes(fn: Call, arrays: tuple, want: Any, sizes=(5001, 100_003)) -> None:
    for n in sizes:
        big = tuple(np.resize(a, n) for a in arrays)
        got = fn(*big)
        check(f"{n} elements", got, each(want, lambda w, n=n: np.resize(w, n)), big[0])


@contextlib.contextmanager
def two_threads(monkeypatch, pool: bool) -> Iterator[list[str]]:
    """Calls of 4,096+ elements shared between two threads, whatever the machine's load:
    numba's OpenMP threads, or (``pool``) relukit's pool. Yields the hand-overs seen."""
    seen: list[str] = []
    with monkeypatch.context() as m:
        m.setattr(th, "_idle_cpus", lambda: 2)
        m.setattr(th, "_free_cpus", lambda: 2)
        m.setattr(th, "GRAIN", dict.fromkeys(th.GRAIN, 1024))
        if pool:
            m.setattr(th, "NUMBA_THREADS", False)
            real_wake = th._wake
            m.setattr(th, "_wake", lambda n, job: seen.append(f"pool+{n}") or real_wake(n, job))
        else:
            if not th._numba_threads():  # pragma: no cover - numba without OpenMP/TBB
                pytest.skip("numba's threading layer is neither OpenMP nor TBB")
            real_par = th._par.parallel
            m.setattr(th._par, "parallel", lambda k, a: seen.append("numba") or real_par(k, a))
        _dispatch._CALLS.clear()  # (a plan keeps the grain it was made with)
        with _kernels.switched(threads=2):
            yield seen
        _dispatch._CALLS.clear()


def check_threads(fn: Call, arrays: tuple, want: Any, monkeypatch, shared: bool) -> None:
    n = 100_003
    big = tuple(np.resize(a, n) for a in arrays)
    want_big = each(want, lambda w: np.resize(w, n))
    for pool in (False, True):
        with two_threads(monkeypatch, pool) as seen:
            got = fn(*big)
        check(f"{n} elements on two threads ({'pool' if pool else 'numba'})", got, want_big, big[0])
        if shared:  # (float16 gradients take the NumPy formula: no kernel to share)
            assert seen, "the call was not shared between threads"


def check_outs(fn: Call, arrays: tuple, want: Any, kind: str) -> None:
    x = arrays[0]
    n = x.size
    two = isinstance(want, tuple)  # (a tuple of results: "both", a gated entry's pair)
    dtype = (want[0] if two else want).dtype

    def fresh() -> np.ndarray:
        return np.full(n, 7.0, dtype)

    def outs(first: np.ndarray) -> Any:
        """``first`` as the out= of the first result, fresh arrays for the others."""
        return (first, *(fresh() for _ in want[1:])) if two else first

    def run(out: Any, *ins: np.ndarray) -> Any:
        res = fn(*(ins or arrays), out=out)
        assert res is out, "out= must return the out object itself"
        return res

    variants: dict[str, Any] = {
        "out= fresh": lambda: outs(fresh()),
        "out= strided": lambda: outs(strided(fresh())),
        "out= byteswapped": lambda: outs(swapped(fresh())),
    }
    for label, make in variants.items():
        out = make()
        check(label, run(out), want, x)
    # in place on each input
    for j in range(len(arrays)):
        if dtype != arrays[j].dtype:
            continue
        ins = [a.copy() for a in arrays]
        out = outs(ins[j])
        check(f"in place on input {j}", run(out, *ins), want, x)
    # an input and out= overlapping, shifted by one element, either way round
    for j in range(len(arrays)):
        if dtype != arrays[j].dtype:
            continue
        for shift in (1, -1):
            buf = np.empty(n + 1, dtype)
            src = buf[:n] if shift == 1 else buf[1:]
            dst = buf[1:] if shift == 1 else buf[:n]
            src[...] = arrays[j]
            ins = [a.copy() for a in arrays]
            ins[j] = src
            out = outs(dst)
            got = run(out, *ins)
            check(f"out= overlapping input {j} shifted by {shift}", got, want, x)


def check_python_numbers(fn: Call, x: np.ndarray, want: Any, idx: np.ndarray) -> None:
    """float64 values as Python floats, NumPy scalars and 0-d arrays."""
    two = isinstance(want, tuple)
    for i in idx:
        v = x[i]
        expect = tuple(int(bits(w[i])) for w in want) if two else int(bits(want[i]))
        for label, arg in (("Python float", float(v)), ("NumPy scalar", v), ("0-d", np.array(v))):
            got = fn(arg)
            if label == "Python float":
                kinds = (type(g) is float for g in (got if two else (got,)))
                assert all(kinds), (label, got)
                res = tuple(float_bits(g) for g in got) if two else float_bits(got)
            else:
                res = tuple(int(bits(g)) for g in got) if two else int(bits(got))
            assert res == expect, (label, float(v), got)


# ---------------------------------------------------------------------------
# every entry, every parameter set, every dtype, every kind, every path
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,p", CASES, ids=IDS)
def test_one_input_one_result(name, p, dtype, monkeypatch):
    act = rk.get(name)
    x = inputs(dtype, act, p)
    assert x.size < 256
    edges = edge_values(dtype, act, p).size
    idx = np.r_[0:edges, edges : x.size : 7]  # every edge value, and some random ones
    for kind, (arity, fn) in calls(act, p).items():
        arrays = arrays_for(kind, act, p, x)
        want = reference(fn, arrays)
        label = f"{name} {p} {np.dtype(dtype).name} {kind}"
        try:
            if kind in ("backward", "backward at_kink"):
                # grad_out * derivative, the derivative rounded to the dtype first (NumPy),
                # and x's NaN where x is NaN (whatever grad_out is there)
                at = -3.0 if kind == "backward at_kink" else None
                with _kernels.switched(threads=1), np.errstate(all="ignore"):
                    d = act.derivative(x, **p, at_kink=at)
                    prod = np.where(np.isnan(x), d, arrays[1] * d)
                    check("backward = g * derivative", want, prod, x)
            check_single_elements(fn, arrays, want, idx)
            check_sizes(fn, arrays, want)
            shared = not (dtype == np.float16 and kind.startswith("backward"))
            check_threads(fn, arrays, want, monkeypatch, shared)
            check_layouts(fn, arrays, want)
            check_outs(fn, arrays, want, kind)
            if dtype == np.float64 and arity == 1:
                check_python_numbers(fn, x, want, idx)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None


# ---------------------------------------------------------------------------
# gated entries: two inputs (gate, up), results as flat tuples
# ---------------------------------------------------------------------------


def gated_calls(act, p: dict) -> dict[str, Call]:
    """kind -> call(gate, up, out=None): the value, or a flat tuple of results (the pair
    of derivatives; "both": value, d/d gate, d/d up), out= flat likewise."""

    def pair(at_kink: float | None) -> Call:
        return lambda a, b, out=None: act.derivative(a, b, **p, at_kink=at_kink, out=out)

    def both(a: np.ndarray, b: np.ndarray, out: Any = None) -> Any:
        if out is None:
            v, (dg, du) = act.value_and_derivative(a, b, **p)
            return (v, dg, du)
        r = act.value_and_derivative(a, b, **p, out=(out[0], (out[1], out[2])))
        assert r[0] is out[0] and r[1][0] is out[1] and r[1][1] is out[2]
        return out

    out: dict[str, Call] = {
        "value": lambda a, b, out=None: act(a, b, **p, out=out),
        "derivative": pair(None),
        "both": both,
    }
    if act.kinks:
        out["derivative at_kink"] = pair(0.5)
    return out


def gated_inputs(dtype, act, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """(gate, up): the edge values and random ones as gates; the same values in another
    order as ups (NaNs, ±inf, ±0 and subnormals meet numbers and each other)."""
    g = inputs(dtype, act, p)
    return g, np.ascontiguousarray(np.random.default_rng(3).permutation(g))


def check_gated_python_numbers(fn: Call, a: np.ndarray, b: np.ndarray, want: Any, idx) -> None:
    """float64 pairs as Python floats (Python floats back), NumPy scalars (NumPy scalars
    back) and 0-d arrays (0-d arrays back)."""
    two = isinstance(want, tuple)
    for i in idx:
        expect = tuple(int(bits(w[i])) for w in want) if two else int(bits(want[i]))
        for label, args, kind in (
            ("Python floats", (float(a[i]), float(b[i])), float),
            ("NumPy scalars", (a[i], b[i]), np.float64),
            ("0-d arrays", (np.array(a[i]), np.array(b[i])), np.ndarray),
        ):
            got = fn(*args)
            got_all = got if two else (got,)
            assert all(type(r) is kind for r in got_all), (label, got)
            res = tuple(int(bits(r)) for r in got_all)
            assert res == (expect if two else (expect,)), (label, a[i], b[i], got)


def check_split_form(act, p: dict, a: np.ndarray, b: np.ndarray, want: dict) -> None:
    """The one-array form, [up | gate] along an axis: the pair form's bits."""
    for axis, x in ((-1, np.stack([b, a], axis=-1)), (0, np.concatenate([b, a]))):
        v = act(x, **p, dim=axis)
        d = act.derivative(x, **p, dim=axis)
        n = a.size
        if axis == -1:
            v, du, dg = v[:, 0], d[:, 0], d[:, 1]
        else:
            du, dg = d[:n], d[n:]
        check(f"split form dim={axis} value", v, want["value"], a)
        check(f"split form dim={axis} derivative", (dg, du), want["derivative"], a)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_gated_one_input_one_result(name, p, dtype, monkeypatch):
    act = rk.get(name)
    a, b = gated_inputs(dtype, act, p)
    edges = edge_values(dtype, act, p).size
    idx = np.r_[0:edges, edges : a.size : 7]
    wants = {}
    for kind, fn in gated_calls(act, p).items():
        arrays = (a, b)
        want = wants[kind] = reference(fn, arrays)
        label = f"{name} {p} {np.dtype(dtype).name} {kind}"
        try:
            check_single_elements(fn, arrays, want, idx)
            check_sizes(fn, arrays, want)
            check_threads(fn, arrays, want, monkeypatch, shared=True)
            check_layouts(fn, arrays, want)
            check_outs(fn, arrays, want, kind)
            if dtype == np.float64:
                check_gated_python_numbers(fn, a, b, want, idx)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None
    check_split_form(act, p, a, b, wants)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 4, 7), (2, 5, 300)])
def test_prelu_per_channel_weights_one_result(shape, dtype, monkeypatch):
    act = rk.prelu
    n = int(np.prod(shape))
    x = np.resize(inputs(dtype, act, {}), n).reshape(shape)
    w = np.array([0.0, -0.0, 0.25, -2.0, 1e-40])
    g = gradient_for(x)
    cases = {
        "value": lambda x, out=None: act(x, w, out=out),
        "derivative": lambda x, out=None: act.derivative(x, w, out=out),
        "both": lambda x, out=None: act.value_and_derivative(x, w, at_kink=0.5, out=out),
        "backward": lambda x, g, out=None: backward(act, x, g, {"weight": w}, out=out),
    }
    for kind, fn in cases.items():
        arrays = (x, g) if kind == "backward" else (x,)
        want = reference(fn, arrays)
        # independent: the channel's weight on its own slice (axis 1)
        wb = w.astype(dtype).reshape((1, -1) + (1,) * (x.ndim - 2))
        with np.errstate(all="ignore"):
            v = np.where(x > 0, x, np.where((wb == 0) & np.isinf(x), -0.0, x * wb))
            v = np.where(np.isnan(x), x, v)
        if kind == "value":
            assert np.array_equal(want, v, equal_nan=True)
            assert np.array_equal(np.signbit(want), np.signbit(v))
        for label, layout in (
            ("fortran", np.asfortranarray),
            ("byteswapped", lambda a: a.astype(a.dtype.newbyteorder())),
            ("strided", lambda a: np.repeat(a, 2, axis=-1)[..., ::2]),
        ):
            check(label, fn(*(layout(a) for a in arrays)), want, x)
        with two_threads(monkeypatch, pool=True):
            check("pool threads", fn(*arrays), want, x)
        with two_threads(monkeypatch, pool=False):
            check("numba threads", fn(*arrays), want, x)
        out = each(want, lambda w: np.empty_like(w))
        out = tuple(out) if isinstance(out, tuple) else out
        check("out=", fn(*arrays, out=out), want, x)


# ---------------------------------------------------------------------------
# the same with Hypothesis' values
# ---------------------------------------------------------------------------

_MANT = {2: 10, 4: 23, 8: 52}


@st.composite
def value_arrays(draw, dtype) -> np.ndarray:
    size = np.dtype(dtype).itemsize
    finite = draw(
        st.lists(
            st.floats(width=8 * size, allow_nan=True, allow_infinity=True, allow_subnormal=True),
            min_size=1,
            max_size=40,
        )
    )
    payloads = draw(
        st.lists(st.tuples(st.booleans(), st.integers(1, 2 ** _MANT[size] - 1)), max_size=6)
    )
    exp_bits = {2: 0x7C00, 4: 0x7F800000, 8: 0x7FF0000000000000}[size]
    sign = {2: 0x8000, 4: 0x80000000, 8: 0x8000000000000000}[size]
    drawn_nans = [exp_bits | pay | (sign if neg else 0) for neg, pay in payloads]
    fi = np.finfo(dtype)
    always = [0.0, -0.0, np.inf, -np.inf, float(fi.smallest_subnormal)]
    always += [-float(fi.smallest_subnormal), 5 * float(fi.smallest_subnormal)]
    with np.errstate(over="ignore"):
        x = np.array(finite + always, dtype=dtype)
    more = np.array(drawn_nans + list(NAN_BITS[size][:4]), dtype=UINT[size]).view(dtype)
    return np.concatenate([x, more])


@given(data=st.data())
def test_hypothesis_values_one_result(data):
    name, p = data.draw(st.sampled_from(ALL), label="entry")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    act = rk.get(name)
    x = data.draw(value_arrays(dtype), label="x")
    if act.gated:  # (gate, up): x and as many drawn ups
        gkinds = gated_calls(act, p)
        kind = data.draw(st.sampled_from(sorted(gkinds)), label="kind")
        up = np.resize(data.draw(value_arrays(dtype), label="up"), x.size)
        kinds = {kind: (2, gkinds[kind])}
    else:
        kinds = calls(act, p)
        kind = data.draw(st.sampled_from(sorted(kinds)), label="kind")
    arity, fn = kinds[kind]
    _dispatch._CALLS.clear()
    arrays = (x, up) if act.gated else arrays_for(kind, act, p, x)
    want = reference(fn, arrays)
    idx = np.arange(x.size)
    check_single_elements(fn, arrays, want, idx)
    check_sizes(fn, arrays, want, sizes=(5001,))
    check_layouts(fn, arrays, want)
    check_outs(fn, arrays, want, kind)
    if dtype == np.float64 and arity == 1:
        check_python_numbers(fn, x, want, idx)
    if dtype == np.float64 and act.gated:
        check_gated_python_numbers(fn, x, up, want, idx)


# ---------------------------------------------------------------------------
# specific regressions of path-dependent results
# ---------------------------------------------------------------------------


def test_gelu_derivative_is_the_same_for_1_and_1000_elements():
    # gelu' at -1.596 was 5 ulp off for a 1-element array and 1 ulp off for 1,000
    x = np.float64(-1.596)
    one = rk.gelu.derivative(np.array([x]))
    many = rk.gelu.derivative(np.full(1000, x))
    assert same_bits(one[0], many[500]) and same_bits(one[0], np.float64(rk.gelu.derivative(x)))


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "mish"])
def test_float64_smooth_entries_do_not_depend_on_size_or_alignment(name):
    # these once differed by up to 9 ulp between the NumPy path (< 256 elements), the
    # kernels, unaligned arrays and an overlapping out=
    act = rk.get(name)
    x = np.linspace(-12, 12, 2401)
    want = act(x)
    for n in (1, 10, 255, 256, 2401):
        assert same_bits(act(x[:n]), want[:n]), n
    assert same_bits(act(unaligned(x)), want)
    buf = np.empty(x.size + 1)
    buf[:-1] = x
    assert same_bits(act(buf[:-1], out=buf[1:]), want)


def test_python_float_nan_keeps_its_payload_quieted():
    # a NaN given as a Python float comes back as the array path gives it
    for b in NAN_BITS[8]:
        v = float(np.array([b], np.uint64).view(np.float64)[0])
        for act in (rk.relu, rk.gelu, rk.leaky_relu):
            want = act(np.array([v]))
            got = act(v)
            assert float_bits(got) == int(bits(want)[0]), (act.name, hex(b), hex(float_bits(got)))
            d = act.derivative(v)
            assert float_bits(d) == int(bits(act.derivative(np.array([v])))[0])


def test_nans_helper_has_signalling_and_quiet_nans():
    for dtype in DTYPES:
        n = nans(dtype)
        assert np.all(np.isnan(n))
        size = np.dtype(dtype).itemsize
        quiet = (n.view(UINT[size]) & UINT[size]({2: 0x200, 4: 0x400000, 8: 1 << 51}[size])) != 0
        assert quiet.any() and (~quiet).any() and np.signbit(n).any()
