"""float16 arrays on the kernels: widened to float64, the float64 kernel, rounded once.

The NumPy formulas (the fallback without numba) compute a float16 array in float64 and
round the result to float16 once; the kernels do the same with their float64 loops, so
the exact entries give the same float16 bits, and the others (whose float64 results are
within a few float64 ulp of each other) round to the same float16 but where a float64
result lies within those ulp of a float16 tie: at most 1 float16 ulp apart. Oracles: an
independent float64 evaluation rounded to float16, and NumPy's own conversions (the
conversion loops are compared with them on all 65,536 float16 values).
"""

from __future__ import annotations

import numpy as np
import pytest

import relukit as rk
from relukit import _dispatch, _kernels
from relukit import _kernels_threads as th
from relukit.catalogue import _REGISTRY

pytest.importorskip("numba")


@pytest.fixture
def runs(monkeypatch):
    """Records the dtype of every kernel launch (the conversions are not launches);
    chunks of 64 elements shared between threads."""
    calls = []
    real = th.run

    def run(kernel, *args, **kw):
        calls.append(args[0].dtype)
        return real(kernel, *args, **kw)

    monkeypatch.setattr(th, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(th, "GRAIN", dict.fromkeys(th.GRAIN, 64))
    monkeypatch.setattr(th, "run", run)
    _dispatch._CALLS.clear()
    yield calls
    _dispatch._CALLS.clear()


def numpy_path(fn, *args, **kwargs):
    """The same call on the NumPy formulas (the kernels switched off)."""
    with _kernels.switched(enabled=False):
        return fn(*args, **kwargs)


def exact(act, params) -> bool:
    return act.math.resolve(act.bind((), params))[0].exact


def half_edges(act, params) -> np.ndarray:
    fi = np.finfo(np.float16)
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0]
    vals += [fi.tiny, -fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal, fi.max, -fi.max]
    with np.errstate(over="ignore"):
        for loc, *_ in act.kink_points(**params):
            h = np.float16(loc)
            vals += [h, np.nextafter(h, np.float16(np.inf)), np.nextafter(h, np.float16(-1))]
    every = np.arange(0, 1 << 16, 7, dtype=np.uint16).view(np.float16)  # all binades
    snan = np.array([0x7C01, 0xFE03], dtype=np.uint16).view(np.float16)  # NaN payloads
    return np.concatenate([np.array(vals, np.float16), snan, every])


def ulp16_apart(a: np.ndarray, b: np.ndarray) -> int:
    both_nan = np.isnan(a) & np.isnan(b)
    ia = a.view(np.int16).astype(np.int64)
    ib = b.view(np.int16).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFF), ia)  # sign-magnitude to a monotone integer
    ib = np.where(ib < 0, -(ib & 0x7FFF), ib)
    return int(np.where(both_nan, 0, np.abs(ia - ib)).max())


CASES = [
    ("relu", {}),
    ("leaky_relu", {"negative_slope": 0.1}),
    ("relu6", {}),
    ("hardtanh", {}),
    ("prelu", {"weight": 0.25}),
    ("rrelu", {}),
    ("threshold", {"threshold": 0.5, "value": -2.0}),
    ("hardswish", {}),
    ("hardsigmoid", {}),
    ("sparse_plus", {}),
    ("elu", {"alpha": 0.7}),
    ("selu", {}),
    ("celu", {"alpha": 1.5}),
    ("softplus", {}),
    ("silu", {}),
    ("mish", {}),
    ("gelu", {}),
    ("squareplus", {}),
]


@pytest.mark.parametrize(("name", "params"), CASES, ids=[c[0] for c in CASES])
def test_half_kernel_equals_numpy_path(name, params, runs):
    if name not in _REGISTRY:  # pragma: no cover - a trimmed catalogue
        pytest.skip(f"{name} is not in the catalogue")
    act = rk.get(name)
    x = half_edges(act, params)
    before = x.copy()
    is_exact = exact(act, params)
    for kind, call in (
        ("value", lambda x: act(x, **params)),
        ("derivative", lambda x: act.derivative(x, at_kink=0.5, **params)),
        ("both", lambda x: act.value_and_derivative(x, **params)),
    ):
        runs.clear()
        got = call(x)
        assert runs == [np.dtype(np.float64)], f"{kind}: the float64 kernel did not run"
        want = numpy_path(call, x)
        for g, w in zip(
            got if kind == "both" else (got,), want if kind == "both" else (want,), strict=True
        ):
            assert g.dtype == np.float16 and g.shape == x.shape
            if is_exact:
                assert np.array_equal(g.view(np.uint16), w.view(np.uint16)), kind
            else:
                assert ulp16_apart(g, w) <= 1, kind
    assert np.array_equal(x.view(np.uint16), before.view(np.uint16))  # input untouched


def test_half_out_and_in_place(runs):
    x = half_edges(rk.gelu, {})
    want = numpy_path(rk.gelu, x)
    out = np.zeros_like(x)
    assert rk.gelu(x, out=out) is out
    y = x.copy()
    assert rk.gelu(y, out=y) is y
    v, d = np.zeros_like(x), np.zeros_like(x)
    assert rk.gelu.value_and_derivative(x, out=(v, d)) == (v, d)
    for got in (out, y, v):
        assert ulp16_apart(got, want) <= 1
    assert ulp16_apart(d, numpy_path(rk.gelu.derivative, x)) <= 1


def test_half_independent_oracle(runs):
    # silu in float64 with math.exp, rounded once to float16: the kernel's value
    import math

    x = np.linspace(-20, 20, 4001).astype(np.float16)
    want = np.array([v / (1.0 + math.exp(-v)) for v in x.astype(np.float64)]).astype(np.float16)
    assert ulp16_apart(rk.silu(x), want) <= 1


def test_half_parameters_that_float16_cannot_hold(runs):
    # float16 is computed in float64: hardtanh/threshold compare x with the float64
    # parameters, and the result is rounded once (an independent float64 evaluation)
    x = half_edges(rk.hardtanh, {"min_val": -0.7, "max_val": 0.9})
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        want_v = np.where(np.isnan(x64), x64, np.clip(x64, -0.7, 0.9)).astype(np.float16)
        want_d = np.where(np.isnan(x64), x64, (x64 > -0.7) & (x64 < 0.9)).astype(np.float16)
    v, d = rk.hardtanh.value_and_derivative(x, -0.7, 0.9)
    assert runs == [np.dtype(np.float64)]
    assert np.array_equal(v, want_v, equal_nan=True) and np.array_equal(d, want_d, equal_nan=True)
    t = rk.threshold(x, 0.3, -0.1)
    want_t = np.where(x64 > 0.3, x64, np.where(np.isnan(x64), x64, -0.1)).astype(np.float16)
    assert np.array_equal(t, want_t, equal_nan=True)


def test_half_gradients_are_grad_times_the_derivative(runs):
    # float16 gradients: grad_out * the float16 derivative, as NumPy multiplies them
    for act in (rk.relu, rk.gelu, rk.hardswish):
        x = half_edges(act, {})
        g = np.linspace(-3, 3, x.size).astype(np.float16)
        got = _dispatch.backward(act, x, g)
        with np.errstate(invalid="ignore"):
            want = g * act.derivative(x)
        assert got.dtype == np.float16 and np.array_equal(got.view(np.uint16), want.view(np.uint16))


def test_half_out_in_place_allocates_at_most_one_copy():
    # float16 is widened in chunks: rk.relu(x16, out=x16) needs about the array once more
    # plus the chunks, not 8 times the array (a float64 copy of everything)
    import tracemalloc

    x = np.linspace(-1, 1, 1 << 22).astype(np.float16)
    rk.relu(x[:1000], out=x[:1000].copy())  # (loads the kernels first)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        rk.relu(x, out=x)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # (a chunk widened and its result, in float64, and the next ones while they are made)
    assert peak <= x.nbytes + 4 * 8 * _kernels.HALF_CHUNK + (1 << 16), peak


# ---------------------------------------------------------------------------
# the conversion loops (relukit._kernels_half) against NumPy's own conversions
# ---------------------------------------------------------------------------


def test_half_to_double_is_numpys_on_all_65536_values():
    from relukit import _kernels_half as kh

    h = np.arange(65536, dtype=np.uint16)  # every float16, NaN payloads and -0.0 included
    out = np.empty(h.size)
    kh.half_to_double(h, out)
    want = h.view(np.float16).astype(np.float64)
    assert np.array_equal(out.view(np.uint64), want.view(np.uint64))


def test_double_to_half_is_numpys_at_every_tie_and_beside_it():
    from relukit import _kernels_half as kh

    f = np.arange(65536, dtype=np.uint16).view(np.float16)
    s = np.unique(f[np.isfinite(f)].astype(np.float64))
    ties = (s[:-1] + s[1:]) / 2  # exact in float64: where rounding to even decides
    rng = np.random.default_rng(3)
    d = np.concatenate(
        [
            s, ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf),
            [65504.0, 65519.99999999999, 65520.0, 1e300, np.inf, -np.inf, 2.0**-25,
             2.0**-26, 5e-324, -5e-324, 0.0, -0.0],
            rng.standard_normal(20000) * 10.0 ** rng.uniform(-12, 8, 20000),
            np.frombuffer(rng.bytes(8 * 20000), np.float64),  # NaNs with payloads too
        ]
    )  # fmt: skip
    got = np.empty(d.size, np.uint16)
    kh.double_to_half(d, got)
    with np.errstate(all="ignore"):
        want = d.astype(np.float16).view(np.uint16)
    assert np.array_equal(got, want)


def test_half_layouts_that_keep_numpys_conversions(runs):
    # byte-swapped input, a strided view and a strided out= give the NumPy path's bits
    x = half_edges(rk.relu, {})
    want = numpy_path(rk.relu, x)
    swapped = x.astype(x.dtype.newbyteorder())
    for arr in (swapped, np.repeat(x, 2)[::2]):
        got = rk.relu(arr)
        assert np.array_equal(got.astype(np.float16).view(np.uint16), want.view(np.uint16))
    out = np.zeros(2 * x.size, np.float16)[::2]
    assert rk.relu(x, out=out) is out
    assert np.array_equal(out.view(np.uint16), want.view(np.uint16))


def _extra_peak(fn) -> int:
    """Bytes allocated at the peak of ``fn()`` beyond what was allocated before."""
    import tracemalloc

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["relu", "gelu"])
def test_large_float16_calls_work_in_bounded_chunks(name):
    # widened to float64 a chunk at a time: in place, the extra memory is a few chunks'
    # float64 (not 8 bytes per element of the whole array); a new result adds its own size
    act = rk.get(name)
    n = 10**7
    x = np.random.default_rng(0).standard_normal(n).astype(np.float16)
    x[:4] = [np.inf, -np.inf, np.nan, -0.0]
    bound = 3 * 8 * _kernels.HALF_CHUNK + (1 << 20)
    assert bound < x.nbytes  # (else the test could not tell)
    want_v = numpy_path(act, x[:300_000])
    want_d = numpy_path(act.derivative, x[:300_000])
    y = x.copy()
    assert _extra_peak(lambda: act(y, out=y)) < bound
    np.testing.assert_array_max_ulp(y[:300_000], want_v, maxulp=1)
    d = np.empty_like(x)
    assert _extra_peak(lambda: act.derivative(x, out=d)) < bound
    np.testing.assert_array_max_ulp(d[:300_000], want_d, maxulp=1)
    v, d = np.empty_like(x), np.empty_like(x)
    assert _extra_peak(lambda: act.value_and_derivative(x, out=(v, d))) < bound
    np.testing.assert_array_equal(v, y)
    res: list = []
    assert _extra_peak(lambda: res.append(act(x))) < bound + x.nbytes
    np.testing.assert_array_equal(res[0], y)
    # strided and byte-swapped arrays take the same chunks
    xs = x.astype(">f2")
    assert _extra_peak(lambda: act(xs, out=xs)) < bound
    np.testing.assert_array_equal(xs, y)
