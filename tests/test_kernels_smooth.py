"""The numba kernels of the smooth entries (relukit._kernels_smooth, relukit._kernels_math).

These kernels use their own vectorisable ``exp``/``expm1``/``log1p``/``erfc``, so they
are not bit-for-bit NumPy's: what is asserted is

* the same special values as the NumPy path: NaN where it gives NaN, the same infinities,
  the same signed zeros, the same ``at_kink`` values, and ``out=``/in-place/backward
  semantics;
* closeness to the NumPy path (float32: at most 1 ulp apart, both being roundings of
  float64 results; float64: a few ulp), on edge values, tails and random inputs;
* accuracy against mpmath (60 digits) on the accuracy benchmark's grid: float32 at most
  0.5 ulp (plus a rounding of the float64 intermediate), float64 at most 4 ulp (mish'
  8, as on the NumPy path);
* the elementary functions against mpmath, and the constants copied from the catalogue.

No test times anything.
"""

from __future__ import annotations

import ast
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import relukit as rk
from relukit import _dispatch, _kernels, _kernels_specs
from relukit.catalogue import _REGISTRY

DTYPES = [np.float32, np.float64]
UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}
INT = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def smooth_cases() -> list:
    """(entry, params) for every kernel that is not bit-for-bit the NumPy path."""
    out = []
    for name, spec in _kernels.KERNELS.items():
        if name in _REGISTRY and not spec.exact:
            out.append((_REGISTRY[name], {}))
    if "gelu" in _REGISTRY:
        out.append((_REGISTRY["gelu"], {"approximate": "tanh"}))
    out += [(_REGISTRY["elu"], {"alpha": 0.3}), (_REGISTRY["celu"], {"alpha": 2.5})]
    out += [(_REGISTRY["softplus"], {"beta": 2.0, "threshold": 5.0})]
    # squareplus: a small b, and one whose sqrt(b) takes the float64 hypot's scaled branch
    out += [(_REGISTRY["squareplus"], {"b": 0.01}), (_REGISTRY["squareplus"], {"b": 1e300})]
    return out


def case_id(case) -> str:
    act, params = case
    return act.name + "".join(f"-{k}={v}" for k, v in params.items())


CASES = smooth_cases()


def has_kernel(act, params, dtype) -> bool:
    return _kernels.KERNELS[act.name].pack(act.bind((), params), np.dtype(dtype), None) is not None


@pytest.fixture(autouse=True)
def fresh_plans():
    """Each test plans its kernels afresh (the dispatcher caches plans per call signature)."""
    _dispatch._CALLS.clear()
    yield
    _dispatch._CALLS.clear()


@pytest.fixture
def spy(monkeypatch):
    calls = []
    real = _kernels._run

    def run(kernel, *args, **kw):
        calls.append(kernel.__name__)
        return real(kernel, *args, **kw)

    monkeypatch.setattr(_kernels, "MIN_SIZE", 1)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_SIZE", 1)
    monkeypatch.setattr(_kernels, "GRAIN", {"memory": 64, "light": 64, "compute": 64, "heavy": 64})
    monkeypatch.setattr(_kernels, "THREADS", 3)
    monkeypatch.setattr(_kernels, "_free_cpus", lambda: 64)  # whatever the machine's load
    monkeypatch.setattr(_kernels, "NUMBA_THREADS", False)  # relukit's pool (its chunks)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    monkeypatch.setattr(_kernels, "_run", run)
    return calls


def numpy_path(fn, *args, **kwargs):
    """The same call with the kernels switched off."""
    with _kernels.switched(False):
        return fn(*args, **kwargs)


def inputs(dtype, act, params) -> np.ndarray:
    fi = np.finfo(dtype)
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, fi.tiny, -fi.tiny]
    vals += [fi.smallest_subnormal, -fi.smallest_subnormal, fi.max, -fi.max]
    # the branch points of the formulas and the tails (exp's under/overflow, clips)
    vals += [-1500.0, -1000.0, -800.0, -745.5, -709.0, -700.5, -700.0, -103.0, -88.0]
    vals += [-40.5, -40.0, -39.0, -27.0, -20.0, -14.0, -10.0, -3.0, -0.5, -0.49, 0.5]
    vals += [3.0, 20.0, 20.5, 39.0, 40.0, 40.5, 89.0, 710.0, 1500.0, 1e30]
    vals += [-1.2784645427610737, -1.1924312145154952, -0.7517915246935645, -0.7524614220710163]
    with np.errstate(over="ignore"):
        for loc, *_ in act.kink_points(**params):
            vals += [loc, float(np.nextafter(dtype(loc), dtype(np.inf)))]
            vals += [float(np.nextafter(dtype(loc), dtype(-np.inf)))]
        edge = np.array(vals, dtype=dtype)
    rng = np.random.default_rng(5)
    rand = np.concatenate([rng.standard_normal(1500) * 4, rng.uniform(-120, 60, 500)])
    near_roots = rng.uniform(-1.7, -0.3, 500)
    return np.concatenate([edge, rand.astype(dtype), near_roots.astype(dtype), -edge])


def ulp_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in representable numbers of the same dtype (0 between -0.0 and +0.0)."""
    ia = a.view(INT[a.dtype]).astype(np.int64)
    ib = b.view(INT[b.dtype]).astype(np.int64)
    top = np.int64(1) << (8 * a.dtype.itemsize - 1)
    ia = np.where(ia < 0, -(ia + top), ia)  # monotone: -0.0 -> 0
    ib = np.where(ib < 0, -(ib + top), ib)
    return np.abs(ia - ib)


def assert_close(got, want, dtype, bound):
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    inf = np.isinf(want) | np.isinf(got)
    assert np.array_equal(got[inf], want[inf])  # the same infinities
    zeros = (got == 0) & (want == 0)
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]))  # signed zeros
    finite = ~nan & ~inf & ~zeros  # (a zero against the smallest subnormal: 1 ulp)
    if finite.any():
        worst = int(ulp_apart(got[finite], want[finite]).max())
        assert worst <= bound, worst


BOUND = {np.float32: 1, np.float64: 8}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_smooth_kernel_agrees_with_numpy_path(case, dtype, spy):
    act, params = case
    x = inputs(dtype, act, params)
    x_before = x.copy()
    if not has_kernel(act, params, dtype):  # gelu(tanh) in float64: the NumPy path
        assert np.array_equal(act(x, **params), numpy_path(act, x, **params), equal_nan=True)
        assert spy == []
        return
    for at_kink in (None, 0.25, float("nan")):
        v, d = act.value_and_derivative(x, at_kink=at_kink, **params)
        wv, wd = numpy_path(act.value_and_derivative, x, at_kink=at_kink, **params)
        assert_close(v, wv, dtype, BOUND[dtype])
        assert_close(d, wd, dtype, BOUND[dtype])
        assert np.array_equal(act.derivative(x, at_kink=at_kink, **params), d, equal_nan=True)
    assert np.array_equal(act(x, **params), v, equal_nan=True)
    assert {s.rsplit("_", 1)[1] for s in spy} == {"both", "derivative", "value"}
    assert np.array_equal(x.view(UINT[x.dtype]), x_before.view(UINT[x.dtype]))


@pytest.mark.parametrize("case", [c for c in CASES if c[0].kinks], ids=case_id)
def test_at_kink_is_used_exactly_at_the_kink(case, spy):
    act, params = case
    for dtype in DTYPES:
        locs = [dtype(k[0]) for k in act.kink_points(**params)]
        x = np.array([*locs, 1.5, -1.5], dtype=dtype)
        d = act.derivative(x, at_kink=0.125, **params)
        assert np.all(d[: len(locs)] == 0.125)
        default = act.derivative(x, **params)
        want = numpy_path(act.derivative, x, **params)
        assert_close(default, want, dtype, BOUND[dtype])


WITH_KERNEL = [
    pytest.param(c, dt, id=f"{case_id(c)}-{np.dtype(dt).name}")
    for c in CASES
    for dt in DTYPES
    if has_kernel(c[0], c[1], dt)
]


@pytest.mark.parametrize("case,dtype", WITH_KERNEL)
def test_out_in_place_and_backward(case, dtype, spy):
    act, params = case
    x = inputs(dtype, act, params)
    x = x[: x.size // 4 * 4].reshape(-1, 4)
    v, d = act.value_and_derivative(x, **params)
    y = np.full_like(x, 7.0)
    assert act(x, out=y, **params) is y and np.array_equal(y, v, equal_nan=True)
    pair = (np.full_like(x, 7.0), np.full_like(x, 7.0))
    assert act.value_and_derivative(x, out=pair, **params) is pair
    assert np.array_equal(pair[0], v, equal_nan=True)
    assert np.array_equal(pair[1], d, equal_nan=True)
    xi = x.copy()
    assert act(xi, out=xi, **params) is xi and np.array_equal(xi, v, equal_nan=True)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    g.flat[:3] = [np.inf, -0.0, np.nan]
    with np.errstate(all="ignore"):
        want = g * d  # the kernel's own derivative, rounded, times grad_out
    got = _dispatch.backward(act, x, g, params)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    gi = g.copy()
    assert _dispatch.backward(act, x, gi, params, out=gi) is gi  # in place on grad_out
    assert np.array_equal(gi, want, equal_nan=True)
    assert any(s.endswith("_backward") for s in spy)


@given(
    x=hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        st.integers(1, 300),
        elements=st.floats(-800, 800, allow_subnormal=True, width=32),
    ),
    case=st.sampled_from(CASES),
)
def test_random_inputs_agree_with_numpy_path(x, case):
    act, params = case
    old = _kernels.MIN_SIZE, _kernels.ENABLED
    _kernels.MIN_SIZE, _kernels.ENABLED = 1, True
    try:
        v, d = act.value_and_derivative(x, **params)
    finally:
        _kernels.MIN_SIZE, _kernels.ENABLED = old
    wv, wd = numpy_path(act.value_and_derivative, x, **params)
    assert_close(v, wv, x.dtype.type, BOUND[x.dtype.type])
    assert_close(d, wd, x.dtype.type, BOUND[x.dtype.type])


# ---------------------------------------------------------------------------
# accuracy against mpmath (the accuracy benchmark's grid and reference)
# ---------------------------------------------------------------------------


DEFAULTS = [c for c in CASES if not c[1] or c[1] == {"approximate": "tanh"}]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", DEFAULTS, ids=case_id)
def test_kernel_accuracy_against_mpmath(case, dtype, monkeypatch):
    pytest.importorskip("mpmath")
    from relukit.bench import accuracy as acc

    act, params = case
    label = "gelu(tanh)" if params else act.name  # the reference has the defaults only
    monkeypatch.setattr(_kernels, "MIN_SIZE", 1)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    kinks = tuple(k[0] for k in act.kink_points(**params))
    x = acc.grid(dtype, 200, kinks)
    vh, vl, dh, dl = acc.reference(label, x)
    v, d = act.value_and_derivative(x.astype(dtype), **params)
    bound = 0.5 + 1e-6 if dtype == "float32" else 4.0
    # mish' in float64 loses digits just outside the Taylor patch around its zero, on
    # the NumPy path too (6.9 ulp there; tests/test_accuracy.py documents it)
    d_bound = 8.0 if (dtype == "float64" and label == "mish") else bound
    assert acc.ulp_error(v, vh, vl, dtype).max() <= bound
    assert acc.ulp_error(d, dh, dl, dtype).max() <= d_bound


def test_elementary_functions_against_mpmath():
    mp = pytest.importorskip("mpmath")
    from numba import njit

    from relukit import _kernels_math as km

    @njit
    def apply(which, x, y):
        for i in range(x.shape[0]):
            v = x[i]
            if which == 0:
                y[i] = km.exp(v)
            elif which == 1:
                y[i] = km.expm1_neg(v)
            elif which == 2:
                y[i] = km.log1p01(v)
            else:
                y[i] = km.erfc(v)

    rng = np.random.default_rng(7)
    cases = [
        (0, rng.uniform(-708, 709, 400), mp.exp, 1.5),
        (1, np.concatenate([rng.uniform(-40, 0, 200), -(10 ** rng.uniform(-300, 0, 200))]),
         mp.expm1, 1.5),
        (2, np.concatenate([rng.uniform(0, 1, 200), 10 ** rng.uniform(-300, 0, 200)]),
         mp.log1p, 2.0),
        (3, rng.uniform(-5, 26, 400), mp.erfc, 2e-13 / 2**-52),
    ]  # fmt: skip
    with mp.workdps(40):
        for which, x, ref, bound in cases:
            y = np.empty_like(x)
            apply(which, x, y)
            r = np.array([float(ref(mp.mpf(float(v)))) for v in x])
            err = np.abs(y - r) / (np.abs(r) * 2.0**-52)
            assert err.max() <= bound, (which, err.max(), x[np.argmax(err)])
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 710.0, -746.0, -1e-310])
    y = np.empty_like(specials)
    apply(0, specials, y)
    assert np.array_equal(y, [*np.exp(specials[:5]).tolist(), np.inf, 0.0, 1.0], equal_nan=True)
    apply(1, specials[[1, 3, 4]], y[:3])
    assert np.signbit(y[0]) and y[0] == 0 and y[1] == -1.0 and np.isnan(y[2])
    apply(3, np.array([np.inf, -np.inf, np.nan, 0.0]), y[:4])
    assert np.array_equal(y[:3], [0.0, 2.0, np.nan], equal_nan=True)
    assert y[3] == pytest.approx(1.0, rel=2e-13)


def test_float32_elementary_functions_against_mpmath():
    # the lean versions behind the float32 loops: a float64 result within 6e-14 relative
    # (2**-24 * 1e-6) keeps a float32 rounding within 0.5 + 1e-6 ulp; each is asked for
    # a margin below that on its whole documented domain, ends included
    mp = pytest.importorskip("mpmath")
    from numba import njit

    from relukit import _kernels_math as km

    @njit
    def apply(which, x, y):
        for i in range(x.shape[0]):
            v = x[i]
            if which == 0:
                y[i] = km.exp_f32(v)
            elif which == 1:  # (x, a) interleaved
                y[i] = km.exp_f32_times(x[i - i % 2], x[i - i % 2 + 1])
            elif which == 2:
                y[i] = km.expm1_neg_f32(v)
            elif which == 3:
                y[i] = km.log1p01_f32(v)
            else:
                y[i] = km.erfcx_f32(v)

    rng = np.random.default_rng(8)
    a_max = 15 / math.sqrt(2)
    cases = [
        # (ln 2 in one part: r is off by |k| 2.32e-17, hence the bound's second term)
        (0, [*rng.uniform(-708, 709, 300), -708.0, 709.0, 0.0, 0.3465, -0.3466], mp.exp,
         lambda x: 1e-15 + 3.4e-17 * np.abs(x)),
        (2, [*rng.uniform(-60, 0, 200), *-(10 ** rng.uniform(-300, 0, 100)), -60.0], mp.expm1,
         2e-15),
        (3, [*rng.uniform(0, 1, 200), *(10 ** rng.uniform(-300, 0, 100)), 1.0], mp.log1p, 1e-15),
        (4, [*rng.uniform(0, a_max, 300), 0.0, a_max],
         lambda a: mp.erfc(a) * mp.exp(a * a), 3e-15),
    ]  # fmt: skip
    with mp.workdps(40):
        for which, xs, ref, bound in cases:
            x = np.array(xs)
            y = np.empty_like(x)
            apply(which, x, y)
            r = np.array([float(ref(mp.mpf(float(v)))) for v in x])
            rel = np.abs(y - r) / np.abs(r)
            bad = rel > (bound(x) if callable(bound) else bound)
            assert not bad.any(), (which, rel[bad], x[bad])
    # a exp(x) with a's exponent moved by k: the product a exp_f32(x), rounded once
    xa = np.empty(2 * 400)
    xa[0::2] = [*rng.uniform(-600, 0, 394), -600.0, -0.0, 0.0, -1e-300, -172.0, -0.3466]
    xa[1::2] = rng.choice([-1, 1], 400) * 10 ** rng.uniform(-30, 30, 400)
    xa[[1, 3, 5, 7]] = [1e-30, -1e-30, 1e30, -1e30]
    y2 = np.empty_like(xa)
    apply(1, xa, y2)
    e = np.empty(400)
    apply(0, xa[0::2].copy(), e)
    assert np.array_equal(y2[0::2], xa[1::2] * e)
    y = np.empty(3)
    apply(2, np.array([-0.0, 0.0, np.nan]), y)
    assert np.signbit(y[0]) and y[0] == 0 and not np.signbit(y[1]) and np.isnan(y[2])
    for which in (0, 3, 4):
        apply(which, np.array([np.nan]), y[:1])
        assert np.isnan(y[0])


def test_erfc_series_is_the_one_unrolled_in_the_kernel():
    pytest.importorskip("numba")
    from relukit import _kernels_math as km

    def clenshaw(z):
        t = 2 / (2 + z)
        s = 2 * t - 1
        b1 = b2 = 0.0
        for c in reversed(km._ERFC_G[1:]):
            b1, b2 = 2 * s * b1 - b2 + c, b1
        return t * math.exp(s * b1 - b2 + km._ERFC_G[0] - z * z)

    for z in (0.0, 0.3, 1.0, 4.0, 10.0):
        assert km.erfc(z) == pytest.approx(clenshaw(z), rel=1e-15)
        assert km.erfc(z) == pytest.approx(math.erfc(z), rel=2e-13)


# ---------------------------------------------------------------------------
# the constants copied from the catalogue, and the layering
# ---------------------------------------------------------------------------


def test_constants_match_the_catalogue():
    from relukit import _kernels_smooth as ks
    from relukit import _tables
    from relukit.activations import curved

    assert (_kernels_specs.SELU_SCALE, _kernels_specs.SELU_SA) == (
        curved._SELU_SCALE,
        curved._SELU_SA,
    )
    from relukit import _kernels_smooth_roots as roots

    src = pathlib.Path(roots.__file__).read_text()
    # the float64 patches (all terms) and the float32 ones (the leading terms)
    for key, name, terms in (
        ("silu", "silu", None),
        ("mish", "mish", None),
        ("silu", "silu32", 8),
        ("mish", "mish32", 12),
        ("gelu", "gelu32", 13),
        ("gelu_tanh", "gelu_tanh32", 13),
    ):
        (hi, lo), _, coeffs = _tables.ROOTS[key]
        fn = src[src.index(f"def _root_{name}(") :].split("\n\n\n", 1)[0]
        assert f"u = (x - {hi!r}) - {lo!r}" in fn
        numbers = [float(n.value) for n in ast.walk(ast.parse(fn)) if isinstance(n, ast.Constant)
                   and isinstance(n.value, float)]  # fmt: skip
        for c in coeffs[:terms]:
            assert abs(c) in numbers  # (a negative literal is -(constant))
        assert len(numbers) == 2 + len(coeffs[:terms]) + 2  # hi, lo, the terms, the window
    assert _tables.GELU_TANH_C["float64"][1] == ks._GELU_C2
    assert ks._GELU_K == curved._GELU_K
    assert ks._SQRT_2_OVER_PI == _tables.SQRT_2_OVER_PI
    assert ks._INV_SQRT_2PI == _tables.INV_SQRT_2PI
    assert _tables.SQRT1_2["float64"][0] == ks._SQRT1_2


KERNEL_MODULES = [
    "_kernels.py",
    "_kernels_specs.py",
    "_kernels_numba.py",
    "_kernels_smooth.py",
    "_kernels_smooth_roots.py",
    "_kernels_loops.py",
    "_kernels_math.py",
    "_kernels_half.py",
    "_kernels_par.py",
]


@pytest.mark.parametrize("module", KERNEL_MODULES)
def test_kernel_modules_import_nothing_above_them(module):
    # only other kernel modules: never the catalogue, the definitions or the dispatcher
    path = pathlib.Path(rk.__file__).parent / module
    seen = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("relukit"):
            if node.module == "relukit":
                seen += [a.name for a in node.names]
            else:
                seen.append(node.module.split(".")[-1])
        if isinstance(node, ast.Import):
            seen += [a.name.split(".")[-1] for a in node.names if a.name.startswith("relukit")]
    # (_kernel_cache: the kernels' disk cache, a leaf)
    assert all(name.startswith(("_kernels", "_kernel_cache")) for name in seen), (module, seen)


def test_erfcx64_against_mpmath():
    # the float64 gelu kernel's erfcx, on its whole domain [0, 27.3], ends included
    mp = pytest.importorskip("mpmath")
    from numba import njit

    from relukit import _kernels_math as km

    @njit
    def apply(x, y):
        for i in range(x.shape[0]):
            y[i] = km.erfcx64(x[i])

    rng = np.random.default_rng(11)
    a = np.concatenate(
        [[0.0, 1e-300, 4.0, 27.3], rng.uniform(0, 27.3, 600), 10 ** rng.uniform(-8, 0, 200)]
    )
    y = np.empty_like(a)
    apply(a, y)
    with mp.workdps(40):
        ref = [mp.erfc(mp.mpf(float(v))) * mp.exp(mp.mpf(float(v)) ** 2) for v in a]
    ulps = [
        float(abs(mp.mpf(float(g)) - r) / np.spacing(float(r))) for g, r in zip(y, ref, strict=True)
    ]
    assert max(ulps) <= 5.0, (max(ulps), a[int(np.argmax(ulps))])  # (dense scans: 4.5)


def test_gelu_float64_kernel_dense_against_mpmath(monkeypatch):
    # denser than the accuracy benchmark's grid: next to 0 (the Taylor series there), the
    # derivative's zero (its patch and just outside), the left tail down to where the
    # results are subnormal, and the clip at -40
    mp = pytest.importorskip("mpmath")
    monkeypatch.setattr(_kernels, "MIN_SIZE", 1)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    x = np.concatenate(
        [
            np.linspace(-0.35, 0.35, 301),
            np.linspace(-1.45, -0.1, 301),
            np.linspace(-39.5, -2, 401),
            np.linspace(-38.6, -37.3, 101),
            np.linspace(0.25, 8, 201),
        ]
    )
    v, d = rk.gelu.value_and_derivative(x)
    worst_v = worst_d = 0.0
    with mp.workdps(40):
        for xv, gv, gd in zip(x, v, d, strict=True):
            X = mp.mpf(float(xv))
            for got, ref, is_v in (
                (gv, X * mp.ncdf(X), True),
                (gd, mp.ncdf(X) + X * mp.npdf(X), False),
            ):
                r = float(ref)
                ulp = np.spacing(abs(r)) if abs(r) >= np.finfo(np.float64).tiny else 5e-324
                e = float(abs(mp.mpf(float(got)) - ref) / ulp) if r != 0 else float(got != 0)
                if is_v:
                    worst_v = max(worst_v, e)
                else:
                    worst_d = max(worst_d, e)
    # (measured: 5.2 and 4.0; the NumPy path: 6.5 and 7.8 on the same points)
    assert worst_v <= 6.0 and worst_d <= 5.0, (worst_v, worst_d)


def test_float32_sixth_loops_round_as_the_float64_division():
    """hardswish's and hardsigmoid's float32 loops multiply by 1/6 where the float64 loops
    (bit for bit the NumPy path: tests/test_kernels.py) divide by 6: the same float32
    results on every 16th float32 in (-3, 3) (all of them: tools/check_f32_sixth.py),
    although the float64 products differ from the quotients in the last bit."""
    from relukit import _kernels_numba as kn

    loops = [
        (kn.hardswish_f32_value, kn.hardswish_value, ()),
        (kn.hardswish_f32_derivative, kn.hardswish_derivative, (0,)),
        (kn.hardsigmoid_f32_value, kn.hardsigmoid_value, ()),
    ]
    p32, p64 = np.zeros(8, np.float32), np.zeros(8, np.float64)
    last_bit_differs = 0
    for lo, hi in ((0x00000000, 0x40400000), (0x80000000, 0xC0400000)):
        for start in range(lo, hi, 1 << 26):
            x32 = np.arange(start + 5, min(start + (1 << 26), hi), 16, dtype=np.uint32)
            x32 = x32.view(np.float32)
            assert np.all(np.abs(x32) < 3)
            x64 = x32.astype(np.float64)
            last_bit_differs += int(np.count_nonzero((x64 + 3.0) / 6.0 != (x64 + 3.0) * (1 / 6)))
            for f32, f64, kk in loops:
                y32, y64 = np.empty_like(x32), np.empty_like(x64)
                f32(x32, y32, p32, p64, *kk)
                f64(x64, y64, p64, p64, *kk)
                np.testing.assert_array_equal(
                    y32.view(np.uint32), y64.astype(np.float32).view(np.uint32)
                )
    assert last_bit_differs > 10**6  # (the products are not the quotients in float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_celu_with_a_negative_alpha_takes_the_numpy_path(dtype, spy):
    # celu allows alpha < 0 (as PyTorch); x / alpha is then positive and can exceed the
    # domain of the loops' exp and expm1 (x / alpha <= 0): -inf and inf, not garbage
    x = np.concatenate([-np.geomspace(1e-3, 3e38, 200), np.geomspace(1e-3, 10, 20)]).astype(dtype)
    for fn in (rk.celu, rk.celu.derivative, rk.celu.value_and_derivative):
        spy.clear()
        got = fn(x, alpha=-2.0)
        assert not spy
        with _kernels.switched(False):
            want = fn(x, alpha=-2.0)
        pairs = zip(got, want, strict=True) if isinstance(got, tuple) else [(got, want)]
        for g, w in pairs:
            assert np.array_equal(g, w, equal_nan=True)
    with _kernels.switched(False), np.errstate(all="ignore"):
        big = rk.celu(np.array([-2e3], dtype), alpha=-2.0)
    assert big[0] == -np.inf  # -2 * expm1(1000)


def test_float32_exp_clip_and_the_parameters_it_allows(spy):
    """The float32 loops of elu and selu (derivative: alpha exp(x) formed from alpha's
    bits, argument clipped at -600), celu (x / alpha as x (1 / alpha), clipped at -708)
    and softplus (value, clipped at -708): below the clip, the float32 result is a signed
    zero for every parameter they take (1e-30 <= |alpha| <= 1e30 for elu, a normal
    1 / alpha for celu, beta >= 1e-262); other parameters take the NumPy path."""
    x = np.concatenate([-np.geomspace(90, 3e38, 300), [-np.inf, -600.5, -599.9, -708.5, -707.9]])
    x = x.astype(np.float32)
    cases = [
        (rk.elu.derivative, {"alpha": 1.0}),
        (rk.elu.derivative, {"alpha": -2.0}),
        (rk.elu.derivative, {"alpha": 1e30}),
        (rk.elu.derivative, {"alpha": -1e30}),
        (rk.elu.derivative, {"alpha": 1e-30}),
        (rk.selu.derivative, {}),
        (rk.celu.derivative, {"alpha": 0.5}),
        (rk.celu.derivative, {"alpha": 1e-300}),
        (rk.celu, {"alpha": 1e300}),
        (rk.softplus, {"beta": 1.0}),
        (rk.softplus, {"beta": 3e-37}),
    ]
    for fn, params in cases:
        spy.clear()
        got = fn(x, **params)
        assert spy, (fn, params)  # the float32 kernel ran
        with _kernels.switched(False):
            want = fn(x, **params)
        # the NumPy path: float64 exp (subnormal below -708), rounded once to float32
        np.testing.assert_array_max_ulp(got, want, maxulp=1)
        zero = want == 0
        assert np.array_equal(np.signbit(got[zero]), np.signbit(want[zero])), (fn, params)
    outside = [
        (rk.celu, {"alpha": -2.0}),  # (exp of x / alpha > 0: the loops' domain is <= 0)
        (rk.celu.derivative, {"alpha": -0.5}),
        (rk.elu.derivative, {"alpha": 1.1e30}),
        (rk.elu.derivative, {"alpha": -9e-31}),
        (rk.elu.derivative, {"alpha": 0.0}),
        (rk.elu, {"alpha": 1e300}),
        (rk.celu.derivative, {"alpha": 1e-301}),
        (rk.softplus, {"beta": 1e-300}),
    ]
    for fn, params in outside:
        spy.clear()
        got = fn(x, **params)
        assert not spy  # outside what the clip allows: the NumPy path, bit for bit
        with _kernels.switched(False):
            want = fn(x, **params)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


#: parameters at the edges of what each entry accepts (negative, tiny and huge alphas,
#: slopes, bounds, weights): the kernels must agree with the NumPy path or leave it the
#: call (celu with alpha < 0 once returned wrong values here)
UNUSUAL = [
    *[("elu", {"alpha": a}) for a in (-2.0, 1e-5, 1e20)],
    *[("celu", {"alpha": a}) for a in (-2.0, -0.5, 1e-5, 1e5)],
    *[("softplus", {"beta": b, "threshold": t}) for b in (1e-5, 50.0) for t in (-5.0, 1e30)],
    *[("squareplus", {"b": b}) for b in (1e-30, 1e30)],
    *[("leaky_relu", {"negative_slope": s}) for s in (-2.0, 0.0, -0.0, 1e30)],
    ("hardtanh", {"min_val": 0.5, "max_val": 0.5}),
    ("hardtanh", {"min_val": -1e30, "max_val": 1e30}),
    ("threshold", {"threshold": 1.0, "value": -5.0}),
    ("threshold", {"threshold": -1e30, "value": 3.0}),
    *[("prelu", {"weight": w}) for w in (-1.0, 0.0, 1e30)],
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "name,params", UNUSUAL, ids=[n + "".join(f"-{v}" for v in p.values()) for n, p in UNUSUAL]
)
def test_unusual_parameters_agree_with_numpy_path(name, params, dtype, spy):
    act = rk.get(name)
    with np.errstate(over="ignore"):
        x = np.concatenate(
            [-np.geomspace(1e-40, 3e38, 150), np.geomspace(1e-40, 3e38, 150),
             np.linspace(-10, 10, 201), [np.nan, -np.inf, np.inf, 0.0, -0.0]]
        ).astype(dtype)  # fmt: skip
    exact = _kernels.KERNELS[name].exact
    for fn in (act, act.derivative):
        with np.errstate(all="ignore"):
            got = fn(x, **params)
        with _kernels.switched(False), np.errstate(all="ignore"):
            want = fn(x, **params)
        if exact:
            assert np.array_equal(got.view(UINT[x.dtype]), want.view(UINT[x.dtype]))
        else:
            assert_close(got, want, dtype, BOUND[dtype])
