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

import numpy as np
import pytest

import relukit as rk
from _values import DTYPES, bits, edge_values, gradient_for, same_bits
from relukit import _dispatch, _kernels
from relukit._dispatch import backward
from test_family import PARAMS

pytest.importorskip("numba")

CASES = [(name, p) for name, ps in PARAMS.items() for p in ps]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for n, p in CASES]
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
}


def f64_bound(name: str, p: dict) -> tuple[int, int]:
    label = f"{name}-approximate={p['approximate']}" if name == "gelu" else name
    return F64_ULPS[label]


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
