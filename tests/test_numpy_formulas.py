"""The NumPy formulas (the fallback) against the kernels.

Without numba, or with ``RELUKIT_DISABLE_KERNELS=1`` (``_kernels.switched(enabled=False)``
here), every call computes the same formulas with NumPy (:data:`relukit._prims.numpy.NP`).
They give:

* the exact entries (selections and a product by a parameter): the kernels' bits;
* the others: float16 and float32 at most 1 ulp from the kernels (both round a float64
  result once; measured: 0 on every input here), float64 within the per-entry bounds of
  :data:`F64_ULPS` (measured, see the table's comment), with the same
  special values: NaN (the input's, quieted), the same infinities, the same signed
  zeros, ±0 and ±inf in giving the same limits, and ``at_kink`` at the kinks;
* the same for parameters at the edges of what each entry accepts (negative, tiny and
  huge alphas, slopes, bounds, weights) and the lean float32 forms' parameter limits.

Both sides are pinned to mpmath in test_accuracy.py; here they are held to each other.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import relukit as rk
from _cases import CASES, GATED, GATED_IDS, IDS
from _cases import ids as _ids
from _values import DTYPES, bits, edge_values, gradient_for, same_bits
from relukit import _dispatch, _kernels
from relukit._dispatch import backward

pytest.importorskip("numba")

INT = {2: np.int16, 4: np.int32, 8: np.int64}

#: float64: the most ulp between the kernels and the NumPy formulas, (value, derivative),
#: per entry (gelu per ``approximate``). Measured on 370,000 points per entry (the inputs
#: of :func:`sample`, 300,000 normal and uniform samples on [-45, 45] and next to the
#: derivatives' zeros, and log-uniform negative ones): each is at most the sum of both
#: sides' errors against mpmath (test_accuracy.py), where the two round differently (the
#: kernels fuse products and sums, and use their own exp, expm1 and log1p).
F64_ULPS: dict[str, tuple[int, int]] = {
    "elu": (1, 2),
    "selu": (2, 2),
    "celu": (1, 1),
    "gelu-approximate=none": (6, 4),
    "gelu-approximate=tanh": (4, 8),
    "silu": (4, 5),
    "mish": (3, 11),
    "softplus": (2, 2),
    "hardswish": (0, 0),
    "hardsigmoid": (0, 0),
    "squareplus": (3, 5),
    "sparse_plus": (0, 0),
    "squared_relu": (0, 0),
    # 1 ulp where scale r^2 is subnormal (r^2's rounding error is no float there: the
    # NumPy formula's error term is off by one subnormal ulp, the kernels' fused one not)
    "star_relu": (1, 0),
    "quick_gelu": (3, 5),
}


#: ulp added to every bound of an entry whose NumPy formula calls NumPy's float64 exp,
#: expm1 or log1p: those are not the same on every CPU (NumPy's SVML versions on AVX-512
#: machines, where F64_ULPS was measured; the C library's elsewhere). On an AMD EPYC
#: (AVX2) elu's and celu's values were 2 ulp apart.
NUMPY_LIBM_SLACK = 1


def f64_bound(name: str, p: dict) -> tuple[int, int]:
    label = f"{name}-approximate={p['approximate']}" if name == "gelu" else name
    v, d = F64_ULPS[label]
    if name in _NO_LIBM:
        return v, d
    return v + NUMPY_LIBM_SLACK, d + NUMPY_LIBM_SLACK


#: the entries whose formulas call no elementary function (sqrt is correctly rounded):
#: the same operations on every CPU
_NO_LIBM = {"hardswish", "hardsigmoid", "sparse_plus", "squared_relu", "star_relu", "squareplus"}


@pytest.fixture(autouse=True)
def fresh_plans():
    _dispatch._CALLS.clear()
    yield
    _dispatch._CALLS.clear()


def sample(dtype, act, p) -> np.ndarray:
    """Edge values, normal samples, the tails and the neighbourhood of derivatives' zeros."""
    rng = np.random.default_rng(5)
    with np.errstate(over="ignore"):
        parts = [
            edge_values(dtype, act, p),
            rng.standard_normal(3000) * 4,
            rng.uniform(-120, 60, 3000),
            rng.uniform(-1.7, -0.3, 3000),
            rng.uniform(-40, 40, 3000),
            -(10 ** rng.uniform(-300, 3, 500)),
            10 ** rng.uniform(-300, 3, 500),
        ]
        return np.concatenate([a.astype(dtype) for a in parts])


def ulp_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Representable numbers between a and b (0 between -0.0 and +0.0)."""
    ia = a.view(INT[a.dtype.itemsize]).astype(np.int64)
    ib = b.view(INT[b.dtype.itemsize]).astype(np.int64)
    top = np.int64(1) << (8 * a.dtype.itemsize - 1)
    ia = np.where(ia < 0, -(ia + top), ia)
    ib = np.where(ib < 0, -(ib + top), ib)
    return np.abs(ia - ib)


def assert_close(got: np.ndarray, want: np.ndarray, bound: int, what: str, x) -> int:
    """Within ``bound`` ulp, with the same NaNs (bits), infinities and signed zeros."""
    assert got.dtype == want.dtype and got.shape == want.shape, what
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), what
    assert np.array_equal(bits(got[nan]), bits(want[nan])), f"{what}: NaN bits"
    inf = np.isinf(want) | np.isinf(got)
    assert np.array_equal(got[inf], want[inf]), f"{what}: infinities at {x[inf & (got != want)]}"
    zeros = (got == 0) & (want == 0)
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(want[zeros])), f"{what}: zeros"
    rest = ~nan & ~inf
    d = ulp_apart(got[rest], want[rest])
    worst = int(d.max()) if d.size else 0
    assert worst <= bound, f"{what}: {worst} ulp at x={x[rest][np.argmax(d)]!r}"
    return worst


def both_paths(fn, *args, **kwargs):
    """(kernels, NumPy formulas) results of the same call."""
    with np.errstate(all="ignore"):
        k = fn(*args, **kwargs)
        with _kernels.switched(enabled=False):
            f = fn(*args, **kwargs)
    return k, f


def kinds(act, p, x):
    g = gradient_for(x)
    out = {
        "value": lambda: act(x, **p),
        "derivative": lambda: act.derivative(x, **p),
        "derivative at_kink": lambda: act.derivative(x, **p, at_kink=0.25),
        "both": lambda: act.value_and_derivative(x, **p),
        "backward": lambda: backward(act, x, g, p),
    }
    m, args = act.math.resolve(act.bind((), p))
    if m.can_use_output(args):
        with np.errstate(all="ignore"):
            y = act(x, **p)
        out["backward from the output"] = lambda: backward(act, y, g, p, from_output=True)
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=["f16", "f32", "f64"])
@pytest.mark.parametrize("name,p", CASES, ids=IDS)
def test_numpy_formulas_against_the_kernels(name, p, dtype):
    act = rk.get(name)
    x = sample(dtype, act, p)
    exact = act.math.resolve(act.bind((), p))[0].exact
    if exact:
        bv = bd = 0
    elif dtype == np.float64:
        bv, bd = f64_bound(name, p)
    else:
        bv = bd = 1  # (both round a float64 result once)
    for kind, call in kinds(act, p, x).items():
        k, f = both_paths(call)
        if exact:
            assert same_bits(k, f), kind
            continue
        if kind == "both":
            assert_close(k[0], f[0], bv, "both value", x)
            assert_close(k[1], f[1], bd, "both derivative", x)
            continue
        # backward: grad_out * derivative, one rounding more than the derivative (and its
        # ulp can be half the derivative's)
        bound = {"value": bv, "derivative": bd, "derivative at_kink": bd}.get(kind, 2 * bd + 1)
        assert_close(k, f, bound, kind, x)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f16", "f32", "f64"])
@pytest.mark.parametrize("name,p", CASES, ids=IDS)
def test_special_values_are_the_same(name, p, dtype):
    # ±0, ±inf, the kinks and their neighbours, and at_kink at the kinks: the same bits
    act = rk.get(name)
    fi = np.finfo(dtype)
    vals = [0.0, -0.0, np.inf, -np.inf, float(fi.max), -float(fi.max)]
    with np.errstate(over="ignore"):
        kinks = [np.asarray(k[0]).astype(dtype) for k in act.kink_points(**p)]
    kinks = [float(k) for k in kinks if np.isfinite(k)]
    x = np.array(vals + kinks, dtype=dtype)
    for at_kink in (None, 0.25, float("nan"), -0.0):
        k, f = both_paths(act.value_and_derivative, x, **p, at_kink=at_kink)
        assert same_bits(k, f), (at_kink, k, f)
        if at_kink is not None and kinks:
            got = k[1][len(vals) :]
            assert np.array_equal(bits(got), bits(np.full(len(kinks), at_kink, dtype)))


# ---------------------------------------------------------------------------
# gated entries: f(gate) * up, two inputs, the pair of derivatives
# ---------------------------------------------------------------------------

#: float64, gated: the most ulp between the kernels and the NumPy formulas, (value,
#: d/d gate, d/d up). Measured on the pairs of :func:`gated_sample` and 450,000 more
#: (normal, uniform and log-uniform gates; ups of the same kinds and log-uniform on
#: [1e-10, 1e10]): d/d up is f(gate), as f's one-input entry (gelu for geglu, silu for
#: swiglu with beta = 1); the products by up round once more. reglu and bilinear are
#: exact: the same bits.
GATED_F64_ULPS: dict[str, tuple[int, int, int]] = {
    "glu": (4, 3, 2),
    "geglu-approximate=none": (6, 5, 6),
    "geglu-approximate=tanh": (4, 8, 4),
    "swiglu-beta=1.0": (4, 6, 4),
    "swiglu-beta=2.0": (4, 5, 3),
    "swiglu-beta=0.5": (4, 7, 4),
}


def gated_bound(name: str, p: dict, dtype) -> tuple[int, int, int]:
    if rk.get(name).math.resolve(rk.get(name).bind((), p))[0].exact:
        return (0, 0, 0)
    if dtype != np.float64:
        return (1, 1, 1)  # (both round a float64 result once)
    return GATED_F64_ULPS[_ids([(name, p)])[0].rstrip("-")]


def gated_sample(dtype, act, p) -> tuple[np.ndarray, np.ndarray]:
    """(gate, up): every pair of edge values (±0, ±inf, NaNs, subnormals, the tails, the
    kinks: inf * 0 among them), then the samples of :func:`sample` against the same
    samples in another order."""
    edge = edge_values(dtype, act, p)
    g_edge, u_edge = (a.reshape(-1) for a in np.meshgrid(edge, edge))
    x = sample(dtype, act, p)
    up = np.random.default_rng(6).permutation(x)
    return np.concatenate([g_edge, x]), np.concatenate([u_edge, up])


def gated_kinds(act, p, g, u) -> dict:
    return {
        "value": lambda: (act(g, u, **p),),
        "derivative": lambda: act.derivative(g, u, **p),
        "derivative at_kink": lambda: act.derivative(g, u, **p, at_kink=0.25),
        "both": lambda: (lambda r: (r[0], *r[1]))(act.value_and_derivative(g, u, **p)),
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=["f16", "f32", "f64"])
@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_gated_numpy_formulas_against_the_kernels(name, p, dtype):
    act = rk.get(name)
    g, u = gated_sample(dtype, act, p)
    bv, bg, bu = gated_bound(name, p, dtype)
    for kind, call in gated_kinds(act, p, g, u).items():
        k, f = both_paths(call)
        labels = {1: ("value",), 2: ("d/d gate", "d/d up"), 3: ("value", "d/d gate", "d/d up")}
        bound = {"value": bv, "d/d gate": bg, "d/d up": bu}
        assert len(k) == len(f)
        for label, kk, ff in zip(labels[len(k)], k, f, strict=True):
            if bound[label] == 0:
                assert same_bits(kk, ff), f"{kind} {label}"
            else:
                assert_close(kk, ff, bound[label], f"{kind} {label}", g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_gated_backward_kernel_is_grad_out_times_the_derivatives(name, p, dtype):
    """The gated backward kernel (relukit.torch's on float32 and float64 CPU tensors; the
    NumPy API has no gated backward) gives ``grad_out`` times each derivative of the NumPy
    formulas, the derivative rounded to the dtype first: one rounding more than the
    derivative. (float16: relukit.torch multiplies the derivatives' float16 arrays.)"""
    act = rk.get(name)
    g, u = gated_sample(dtype, act, p)
    grad = gradient_for(g)
    _, bg, bu = gated_bound(name, p, dtype)
    for at_kink in (None, 0.25):
        params = act.bind((), p)
        plan = _kernels.plan(act, "backward", dtype, params, at_kink)
        with np.errstate(all="ignore"):
            ga, gb = plan.run_gated(g, u, (None, None), grad)
            with _kernels.switched(enabled=False):
                dg, du = act.derivative(g, u, **p, at_kink=at_kink)
            want = (grad * dg, grad * du)
        bounds = (2 * bg + 1, 2 * bu + 1)
        for label, got, w, b in zip(("d/d gate", "d/d up"), (ga, gb), want, bounds, strict=True):
            assert got.dtype == w.dtype, label
            assert_close(got, w, b, f"backward {label} at_kink={at_kink}", g)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f16", "f32", "f64"])
@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_gated_special_values_are_the_same(name, p, dtype):
    # gates ±0, ±inf, ±max, NaN and the kinks, times ups of the same and a few numbers
    # (inf * 0 among them), at_kink at the kinks: the same bits; d/d gate at a kink is
    # at_kink * up (the IEEE product in float64, rounded once; up's NaN where up is NaN)
    act = rk.get(name)
    fi = np.finfo(dtype)
    vals = [0.0, -0.0, np.inf, -np.inf, float(fi.max), -float(fi.max), np.nan]
    with np.errstate(over="ignore"):
        kinks = [np.asarray(k[0]).astype(dtype) for k in act.kink_points(**p)]
    kinks = [float(k) for k in kinks if np.isfinite(k)]
    gates = np.array(vals + kinks, dtype=dtype)
    ups = np.array(vals + kinks + [1.0, -2.5, 3.0], dtype=dtype)
    g, u = (a.reshape(-1) for a in np.meshgrid(gates, ups))
    at = np.isin(g, np.array(kinks, dtype=dtype)) & ~np.isnan(g)
    for at_kink in (None, 0.25, float("nan"), -0.0):
        k, f = both_paths(act.value_and_derivative, g, u, **p, at_kink=at_kink)
        assert same_bits(k, f), (at_kink, k, f)
        if at_kink is not None and kinks:
            got = k[1][0][at]
            with np.errstate(invalid="ignore"):
                ua = u[at].astype(np.float64)
                want = np.where(np.isnan(ua), ua, np.float64(at_kink) * ua).astype(dtype)
            assert np.array_equal(bits(got), bits(want)), (at_kink, got, want)


def test_gated_float32_kernels_keep_inf_times_zero_nan():
    """float32 gates whose f(gate) is 0 in float64 (an underflow) times an infinite up:
    nan, as the NumPy formulas, the float64 kernels and the composite give. The float32
    kernels once used the lean primitives, whose clipped tails are tiny but not 0 (their
    float32 rounding is the limit), and gave ±inf."""
    import math

    # f(gate) in float64, written out: sigmoid(-800) <= exp(-800), -800 sigmoid(-800),
    # -100 Phi(-100) = -50 erfc(100 / sqrt 2): all below the smallest subnormal
    assert math.exp(-800.0) == 0.0 and math.erfc(100 / math.sqrt(2)) == 0.0
    gates = {"glu": [-800.0], "swiglu": [-800.0], "geglu": [-800.0, -100.0]}
    for name, more in gates.items():
        g = np.array([-3.4e38, -1e30, *more], np.float32)
        u = np.resize(np.array([np.inf, -np.inf], np.float32), g.size)
        act = rk.get(name)
        for enabled in (True, False):
            with _kernels.switched(enabled=enabled), np.errstate(all="ignore"):
                v, (dg, du) = act.value_and_derivative(g, u)
            assert np.isnan(v).all() and np.isnan(dg).all(), (name, enabled, v, dg)
            assert (du == 0).all(), (name, enabled, du)  # f(gate) rounded: ±0


@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_gated_float32_tails_times_a_large_up(name, p):
    """float32 gates far in f's tails (f(gate) down to 1e-300) times ups up to float32's
    largest, whose products are still float32 numbers: the float32 kernels (which use
    the lean primitives where the entry's tails allow, ``Math.lean_tails``) within 1 ulp
    of the NumPy formulas (float64, rounded once), values and both derivatives; the
    same bits for the elements beside an infinite up as without it (an infinite up
    takes the float64 primitives for its own element only)."""
    act = rk.get(name)
    g = np.concatenate([np.linspace(-40, -4, 3001), np.linspace(4, 40, 3001), [-700.0]])
    g = g.astype(np.float32)
    u = np.resize(np.array([3.4e38, -1e38, 1e30, -3e36, 7e20], np.float32), g.size)
    calls = gated_kinds(act, p, g, u)
    for kind, call in calls.items():
        k, f = both_paths(call)
        for i, (kk, ff) in enumerate(zip(k, f, strict=True)):
            assert_close(kk, ff, 1, f"{kind} {i}", g)
    u_inf = u.copy()
    u_inf[::7] = np.inf
    rest = np.ones(g.size, bool)
    rest[::7] = False
    for kind, call in gated_kinds(act, p, g, u).items():
        with np.errstate(all="ignore"):
            plain = call()
        with np.errstate(all="ignore"):
            mixed = gated_kinds(act, p, g, u_inf)[kind]()
        for a, b in zip(plain, mixed, strict=True):
            assert same_bits(a[rest], b[rest]), kind


@pytest.mark.parametrize("path", ["kernels", "numpy formulas"])
def test_gated_roundings_and_signalling_nans_do_not_warn(path):
    """Under NumPy's default error handling: a float16 result that overflows to inf
    (300 * 300) or underflows, and a signalling NaN gate, give their results with no
    RuntimeWarning on either path (the float16 kernels' results were rounded with a
    warning, the NumPy formulas widened a signalling NaN with one)."""
    import warnings

    h = np.array([300.0, 1e-4, 2.0], np.float16)
    snan = np.array([0x7F800001], np.uint32).view(np.float32)
    with _kernels.switched(enabled=path == "kernels"), warnings.catch_warnings():
        warnings.simplefilter("error")
        v, (dg, du) = rk.reglu.value_and_derivative(h, h)
        out = np.empty(3, np.float16)
        rk.swiglu(h, h, out=out)
        n = rk.swiglu(snan, np.ones(1, np.float32))
        ns = rk.glu.derivative(snan, np.ones(1, np.float32))
    assert v.tolist() == [np.inf, 0.0, 4.0] and same_bits(dg, h)  # (d/d gate = up)
    assert np.isinf(out[0]) and out[1] == 0.0
    assert int(n.view(np.uint32)[0]) == 0x7FC00001
    assert [int(r.view(np.uint32)[0]) for r in ns] == [0x7FC00001, 0x7FC00001]


#: parameters at the edges of what each entry accepts (negative, tiny and huge alphas,
#: slopes, bounds, weights): the kernels must agree with the NumPy formulas (celu with
#: alpha < 0 once returned wrong values in the kernels)
UNUSUAL = [
    *[("elu", {"alpha": a}) for a in (-2.0, 1e-5, 1e20, 0.0)],
    *[("celu", {"alpha": a}) for a in (-2.0, -0.5, 1e-5, 1e5)],
    *[("softplus", {"beta": b, "threshold": t}) for b in (1e-5, 50.0) for t in (-5.0, 1e30)],
    *[("squareplus", {"b": b}) for b in (1e-30, 1e30)],
    *[("leaky_relu", {"negative_slope": s}) for s in (-2.0, 0.0, -0.0, 1e30)],
    ("hardtanh", {"min_val": 0.5, "max_val": 0.5}),
    ("hardtanh", {"min_val": -1e30, "max_val": 1e30}),
    ("threshold", {"threshold": 1.0, "value": -5.0}),
    ("threshold", {"threshold": -1e30, "value": 3.0}),
    *[("prelu", {"weight": w}) for w in (-1.0, 0.0, 1e30)],
    ("rrelu", {"lower": 0.0, "upper": 1e30}),
]


#: the slopes that meet x in its dtype (README, Accuracy: "Slopes meet x in its dtype")
SLOPES = {"leaky_relu": ("negative_slope",), "rrelu": ("lower", "upper")}


def unfit_slope(name: str, p: dict, dtype) -> str | None:
    """The first slope of ``p`` that is not 0 and does not round to a normal number of
    ``dtype`` (NumPy's own rounding, independent of relukit), or None."""
    fi = np.finfo(dtype)
    for k in SLOPES.get(name, ()):
        with np.errstate(over="ignore", under="ignore"):
            r = abs(float(np.asarray(p[k]).astype(dtype)))
        if p[k] != 0 and not (fi.tiny <= r <= fi.max):
            return k
    return None


def test_unfit_slope_helper():
    # the oracle of the rejected cases: 1e30 overflows float16 only, 1e-40 is subnormal
    # in float32, 0 is always fine
    assert unfit_slope("leaky_relu", {"negative_slope": 1e30}, np.float16) == "negative_slope"
    assert unfit_slope("leaky_relu", {"negative_slope": 1e30}, np.float32) is None
    assert unfit_slope("rrelu", {"lower": 0.0, "upper": 1e30}, np.float16) == "upper"
    assert unfit_slope("rrelu", {"lower": 1e-40, "upper": 0.5}, np.float32) == "lower"
    assert unfit_slope("leaky_relu", {"negative_slope": 0.0}, np.float16) is None
    assert unfit_slope("prelu", {"weight": 1e30}, np.float16) is None


@pytest.mark.parametrize("dtype", DTYPES, ids=["f16", "f32", "f64"])
@pytest.mark.parametrize(
    "name,p", UNUSUAL, ids=[n + "".join(f"-{v}" for v in p.values()) for n, p in UNUSUAL]
)
def test_unusual_parameters(name, p, dtype):
    act = rk.get(name)
    with np.errstate(over="ignore"):
        x = np.concatenate(
            [-np.geomspace(1e-40, 3e38, 150), np.geomspace(1e-40, 3e38, 150),
             np.linspace(-10, 10, 201), [np.nan, -np.inf, np.inf, 0.0, -0.0]]
        ).astype(dtype)  # fmt: skip
    bad = unfit_slope(name, p, dtype)
    if bad is not None:
        # by design (README, Accuracy): a slope that is not 0 and does not round to a
        # normal number of x's dtype is refused, on both paths, x left alone
        before = bits(x).copy()
        what = "overflows to inf" if abs(p[bad]) > 1 else "is below the normal numbers"
        msg = re.escape(f"{name}: {bad} = {p[bad]!r} {what} in {np.dtype(dtype).name}, ")
        msg += rf".*{bad} must be 0 or of magnitude between"  # (and the accepted range)
        for fn in (act, act.derivative):
            for enabled in (True, False):
                with _kernels.switched(enabled=enabled), pytest.raises(ValueError, match=msg):
                    fn(x, **p)
        assert np.array_equal(bits(x), before)
        return
    exact = act.math.resolve(act.bind((), p))[0].exact
    bound = 0 if exact else (1 if dtype != np.float64 else 4)
    for fn in (act, act.derivative):
        k, f = both_paths(fn, x, **p)
        if exact:
            assert same_bits(k, f)
        else:
            assert_close(k, f, bound, fn.__repr__(), x)


def test_celu_with_a_negative_alpha_against_the_definition():
    # x / alpha > 0 for x < 0: the expm1 of any x (not the x <= 0 one); an independent
    # oracle from math.expm1 and math.exp, every path
    import math

    x = np.concatenate([-np.geomspace(1e-3, 1e3, 200), np.geomspace(1e-3, 10, 20), [-2e3]])
    want_v = [v if v > 0 else -2.0 * math.expm1(v / -2.0) if v > -1400 else -math.inf for v in x]
    want_d = [1.0 if v > 0 else math.exp(v / -2.0) if v > -1400 else math.inf for v in x]
    for enabled in (True, False):
        with _kernels.switched(enabled=enabled), np.errstate(all="ignore"):
            v, d = rk.celu.value_and_derivative(x, alpha=-2.0)
        np.testing.assert_allclose(v, want_v, rtol=4e-15)
        np.testing.assert_allclose(d, want_d, rtol=4e-15)
    assert v[-1] == -np.inf and d[-1] == np.inf


def test_float32_lean_forms_and_the_parameters_they_allow():
    """The float32 kernels of elu and selu (derivative: alpha exp(x) formed from alpha's
    bits, argument clipped at -600), celu (x / alpha as x (1 / alpha)) and softplus
    (clipped at -708) use the lean namespace for the parameters it allows
    (1e-30 <= |alpha| <= 1e30 for elu, a normal 1 / alpha for celu, beta >= 1e-262) and
    the float64 one otherwise; both give the NumPy formulas' float32 results, signed
    zeros included, far below the clips too."""
    x = np.concatenate([-np.geomspace(90, 3e38, 300), [-np.inf, -600.5, -599.9, -708.5, -707.9]])
    x = np.concatenate([x, np.linspace(-30, 5, 301)]).astype(np.float32)
    lean = [
        (rk.elu, "derivative", {"alpha": 1.0}),
        (rk.elu, "derivative", {"alpha": -2.0}),
        (rk.elu, "derivative", {"alpha": 1e30}),
        (rk.elu, "derivative", {"alpha": -1e30}),
        (rk.elu, "derivative", {"alpha": 1e-30}),
        (rk.selu, "derivative", {}),
        (rk.celu, "derivative", {"alpha": 0.5}),
        (rk.celu, "derivative", {"alpha": 1e-300}),
        (rk.celu, "value", {"alpha": 1e300}),
        (rk.softplus, "value", {"beta": 1.0}),
        (rk.softplus, "value", {"beta": 3e-37}),
    ]
    wide = [
        (rk.elu, "derivative", {"alpha": 1.1e30}),
        (rk.elu, "derivative", {"alpha": -9e-31}),
        (rk.elu, "derivative", {"alpha": 0.0}),
        (rk.elu, "value", {"alpha": 1e31}),
        (rk.celu, "derivative", {"alpha": 1e-301}),
        (rk.softplus, "value", {"beta": 1e-300}),
    ]
    for cases, suffix in ((lean, "_32"), (wide, "_64")):
        for act, kind, p in cases:
            plan = _kernels.plan(act, kind, np.float32, act.bind((), p), None)
            assert plan.kernel.py_func.__qualname__.endswith(f"_{kind}{suffix}"), (act, p)
            fn = act if kind == "value" else act.derivative
            k, f = both_paths(fn, x, **p)
            assert_close(k, f, 1, f"{act.name} {kind} {p}", x)
