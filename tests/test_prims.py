"""The math namespaces (relukit._prims): what each provides, and its primitives' accuracy.

* every namespace (numba64, the lean numba32, NumPy, the Array API namespaces of PyTorch
  and JAX in float32 and float64, Python's ``MATH``) has every name of
  ``relukit._prims.NAMES`` and the flags ``LEAN``/``EXP_TAIL``;
* the numba primitives against mpmath (40 digits) on their documented domains, ends
  included, with their special values (±0, ±inf, NaN, the clips); the float64 ones in
  ulp, the lean float32 ones to 6e-14 relative (a float32 result rounded from such a
  float64 value is within 0.5 + 1e-6 ulp) wherever their float32 result is not 0 or 1,
  and to the tighter bounds their docstrings state;
* the exact rounding errors (``square_err``, ``prod_err``) against Fractions, in every
  namespace and working precision;
* ``tiny_half``: a float32 result ``x/2 + c x**2`` (gelu, silu, hardswish next to 0) at a
  subnormal tie rounds up, as the true value lies above the tie, on every float32
  input whose half is subnormal, and float64 odd subnormals likewise; through
  ``rk.gelu``/``rk.silu``/``rk.hardswish``, the regression test of the subnormal results
  that came out one ulp low (0.0 for 1.4e-45).

No test times anything.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest

import relukit as rk
from relukit import _kernels
from relukit._prims import NAMES, check_namespace

numba = pytest.importorskip("numba")

from numba import njit  # noqa: E402

from relukit._prims import numba32 as n32  # noqa: E402
from relukit._prims import numba64 as n64  # noqa: E402

TINY64 = 5e-324
F32_MIN_NORMAL = 2.0**-126

# ---------------------------------------------------------------------------
# every namespace has every primitive
# ---------------------------------------------------------------------------


def _namespaces() -> list:
    from relukit._prims.numpy import MATH, NP, namespace

    out = [
        pytest.param(n64, False, id="numba64"),
        pytest.param(n32, True, id="numba32"),
        pytest.param(NP, False, id="numpy-float64"),
        pytest.param(namespace(np, True), False, id="numpy-float32"),
        pytest.param(MATH, False, id="math"),
    ]
    return out


@pytest.mark.parametrize("m,lean", _namespaces())
def test_every_namespace_has_every_primitive(m, lean):
    assert check_namespace(m) == []
    assert m.LEAN is lean
    assert isinstance(m.EXP_TAIL, float) and m.EXP_TAIL < -70
    assert all(callable(getattr(m, n)) for n in NAMES)


@pytest.mark.torch
@pytest.mark.parametrize("f32", [False, True], ids=["float64", "float32"])
def test_torch_namespace_has_every_primitive(f32):
    import array_api_compat
    import torch

    from relukit._prims.numpy import kind, namespace

    xp = array_api_compat.array_namespace(torch.zeros(1))
    m = namespace(xp, f32)
    assert kind(xp) == "torch"
    assert check_namespace(m) == [] and m.LEAN is False and m.F32 is f32
    dt = torch.float32 if f32 else torch.float64
    x = torch.tensor([-1.0, 0.0, 0.5, 3.0], dtype=dt)
    for name in ("exp", "expm1", "sigmoid", "sqrt", "isinf"):
        assert getattr(m, name)(x).dtype in (dt, torch.bool)
    # torch's own erfcx, accurate at full precision
    a = torch.tensor([0.0, 0.5, 3.0, 27.0], dtype=torch.float64)
    with mp.workdps(40):
        want = [float(mp.erfc(mp.mpf(v)) * mp.exp(mp.mpf(v) ** 2)) for v in a.tolist()]
    np.testing.assert_allclose(namespace(xp).erfcx(a).numpy(), want, rtol=4e-15)


@pytest.mark.jax
@pytest.mark.parametrize("f32", [False, True], ids=["float64", "float32"])
def test_jax_namespace_has_every_primitive(f32):
    import array_api_compat
    import jax.numpy as jnp

    from relukit._prims.numpy import kind, namespace

    xp = array_api_compat.array_namespace(jnp.zeros(1))
    m = namespace(xp, f32)
    assert kind(xp) == "jax"
    assert check_namespace(m) == [] and m.LEAN is False and m.F32 is f32
    s, t = m.sigmoid2(jnp.array([-2.0, 0.0, 2.0], dtype=jnp.float32))
    np.testing.assert_allclose(np.asarray(s + t), 1.0, rtol=1e-6)


def test_the_lean_namespace_shares_the_exact_primitives():
    # the selections and exact errors are the float64 namespace's own (one definition)
    for name in ("where", "clip", "pos", "isinf", "sqrt", "square_err", "prod_err", "expm1"):
        assert getattr(n32, name) is getattr(n64, name), name
    assert (n64.BACKEND, n32.BACKEND) == ("numba", "numba")
    assert n64.EXP_TAIL == -700.0 and -math.inf == n32.EXP_TAIL


# ---------------------------------------------------------------------------
# numba primitives as loops (the primitives inline into these as into the kernels)
# ---------------------------------------------------------------------------


def _loop1(fn):
    @njit(error_model="numpy")
    def apply(x):  # pragma: no cover - compiled
        y = np.empty_like(x)
        for i in range(x.shape[0]):
            y[i] = fn(x[i])
        return y

    return apply


def _loop2(fn):
    @njit(error_model="numpy")
    def apply(a, b):  # pragma: no cover - compiled
        y = np.empty_like(a)
        for i in range(a.shape[0]):
            y[i] = fn(a[i], b[i])
        return y

    return apply


def _loop_pair(fn):
    @njit(error_model="numpy")
    def apply(x):  # pragma: no cover - compiled
        y = np.empty_like(x)
        z = np.empty_like(x)
        for i in range(x.shape[0]):
            y[i], z[i] = fn(x[i])
        return y, z

    return apply


_LOOPS: dict = {}


def run1(fn, x):
    k = _LOOPS.get(("1", fn))
    if k is None:
        k = _LOOPS[("1", fn)] = _loop1(fn)
    return k(np.ascontiguousarray(x, dtype=np.float64))


def run2(fn, a, b):
    k = _LOOPS.get(("2", fn))
    if k is None:
        k = _LOOPS[("2", fn)] = _loop2(fn)
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return k(np.ascontiguousarray(a), np.ascontiguousarray(b))


def run_pair(fn, x):
    k = _LOOPS.get(("p", fn))
    if k is None:
        k = _LOOPS[("p", fn)] = _loop_pair(fn)
    return k(np.ascontiguousarray(x, dtype=np.float64))


def ulp_err(got: np.ndarray, ref: list) -> np.ndarray:
    """|got - ref| in float64 ulp of ref (the subnormal spacing below the normal range)."""
    out = np.empty(len(ref))
    for i, (g, r) in enumerate(zip(got.tolist(), ref, strict=True)):
        rf = float(r)
        spacing = max(math.ulp(abs(rf)), TINY64) if math.isfinite(rf) else math.inf
        out[i] = float(abs(mp.mpf(g) - r) / spacing) if math.isfinite(g) else math.inf
    return out


def rel_err(got: np.ndarray, ref: list) -> np.ndarray:
    return np.array(
        [float(abs(mp.mpf(g) - r) / abs(r)) for g, r in zip(got.tolist(), ref, strict=True)]
    )


def mp_ref(fn, x) -> list:
    with mp.workdps(40):
        return [fn(mp.mpf(float(v))) for v in np.asarray(x).tolist()]


RNG = np.random.default_rng(7)

# (primitive, inputs on its documented domain, mpmath reference, bound in ulp)
F64_CASES = {
    "exp": (
        np.concatenate([RNG.uniform(-708, 709, 400), [-708.0, 709.0, 709.78, -0.0, 1e-300]]),
        mp.exp,
        1.5,
    ),
    # subnormal results: 2**k built in two halves, one rounding into the subnormals
    "exp subnormal": (np.concatenate([RNG.uniform(-745, -708, 200), [-745.1]]), mp.exp, 1.0),
    "expm1_neg": (
        np.concatenate([RNG.uniform(-60, 0, 200), -(10 ** RNG.uniform(-300, 0, 200)), [-60.0]]),
        mp.expm1,
        1.5,
    ),
    "expm1": (
        np.concatenate([RNG.uniform(-60, 709, 300), 10 ** RNG.uniform(-300, 0, 100)]),
        mp.expm1,
        2.0,
    ),
    "log1p01": (
        np.concatenate([RNG.uniform(0, 1, 200), 10 ** RNG.uniform(-300, 0, 200), [1.0]]),
        mp.log1p,
        2.0,
    ),
    "erfcx": (
        np.concatenate(
            [[0.0, 1e-300, 4.0, 27.3], RNG.uniform(0, 27.3, 600), 10 ** RNG.uniform(-8, 0, 200)]
        ),
        lambda a: mp.erfc(a) * mp.exp(a * a),
        5.0,  # (documented: 4.5; dense scans measured 4.5)
    ),
    "sigmoid": (
        np.concatenate([RNG.uniform(-745, 40, 300), RNG.uniform(-5, 5, 200), [0.0, -0.0]]),
        lambda z: 1 / (1 + mp.exp(-z)),
        2.0,
    ),
}


@pytest.mark.parametrize("case", list(F64_CASES))
def test_float64_primitives_against_mpmath(case):
    x, ref, bound = F64_CASES[case]
    fn = getattr(n64, case.split()[0])
    got = run1(fn, x)
    err = ulp_err(got, mp_ref(ref, x))
    assert err.max() <= bound, (case, err.max(), x[np.argmax(err)])


def test_float64_sigmoid2_both_halves_against_mpmath():
    z = np.concatenate([RNG.uniform(-745, 745, 400), RNG.uniform(-5, 5, 200), [0.0, 36.0]])
    s, t = run_pair(n64.sigmoid2, z)
    assert ulp_err(s, mp_ref(lambda v: 1 / (1 + mp.exp(-v)), z)).max() <= 2.0
    assert ulp_err(t, mp_ref(lambda v: 1 / (1 + mp.exp(v)), z)).max() <= 2.0
    assert np.array_equal(s, run1(n64.sigmoid, z))  # sigmoid is sigmoid2's first half


def test_float64_times_exp_against_mpmath():
    x = np.concatenate([RNG.uniform(-700, 0, 300), [0.0, -0.0]])
    a = RNG.choice([-1.0, 1.0], x.size) * 10 ** RNG.uniform(-30, 30, x.size)
    got = run2(n64.times_exp, a, x)
    with mp.workdps(40):
        ref = [mp.mpf(float(ai)) * mp.exp(mp.mpf(float(xi))) for ai, xi in zip(a, x, strict=True)]
    assert ulp_err(got, ref).max() <= 2.0


def test_float64_special_values():
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 710.0, -746.0, -1e-310])
    got = run1(n64.exp, specials)
    assert np.array_equal(got, [1.0, 1.0, np.inf, 0.0, np.nan, np.inf, 0.0, 1.0], equal_nan=True)
    got = run1(n64.expm1_neg, np.array([-0.0, 0.0, -np.inf, np.nan, -1e300]))
    assert np.signbit(got[0]) and got[0] == 0 and not np.signbit(got[1])
    assert got[2] == -1.0 and np.isnan(got[3]) and got[4] == -1.0
    got = run1(n64.expm1, np.array([-0.0, 710.0, np.inf, -np.inf]))
    assert np.signbit(got[0]) and np.array_equal(got[1:], [np.inf, np.inf, -1.0])
    got = run1(n64.sigmoid, np.array([np.inf, -np.inf, np.nan, 800.0, -800.0]))
    assert np.array_equal(got, [1.0, 0.0, np.nan, 1.0, 0.0], equal_nan=True)
    assert np.isnan(run1(n64.log1p01, np.array([np.nan]))[0])
    assert run1(n64.log1p01, np.array([0.0]))[0] == 0.0
    assert run1(n64.erfcx, np.array([0.0]))[0] == pytest.approx(1.0, rel=2e-16)
    # NaN payloads pass through exp (the kernels' loops put the input's NaN back anyway)
    nan = np.array([0x7FF8000000000123], np.uint64).view(np.float64)
    assert np.isnan(run1(n64.exp, nan)[0])


def test_selections_and_simple_primitives():
    x = np.array([-np.inf, -2.0, -0.0, 0.0, 0.5, 3.0, np.inf, np.nan])
    assert np.array_equal(run2(n64.div, x, np.full(x.size, 4.0)), x / 4.0, equal_nan=True)
    assert np.array_equal(run1(n64.sqrt, np.abs(x)), np.sqrt(np.abs(x)), equal_nan=True)
    inf = run1(_isinf_as_float, x)
    assert np.array_equal(inf, np.isinf(x).astype(float))
    clipped = run1(_clip_minus1_1, x)
    assert np.array_equal(clipped, [-1, -1, -0.0, 0, 0.5, 1, 1, np.nan], equal_nan=True)
    assert np.signbit(clipped[2])  # -0.0 passes: a selection, not max/min arithmetic
    assert np.array_equal(run2(_where_pos, x, -x), np.where(x > 0, x, -x), equal_nan=True)


# pos: the positive part, +0.0 for x <= 0 (-0.0 included), NaN passing, in x's dtype
_POS_IN = [-np.inf, -3.0, -1e-45, -0.0, 0.0, 1e-45, 2.5, 3e38, np.inf, np.nan]
_POS_WANT = [0.0, 0.0, 0.0, 0.0, 0.0, 1e-45, 2.5, 3e38, np.inf, np.nan]


def _check_pos(got, dtype):
    got = np.asarray(got)
    assert got.dtype == dtype
    assert np.array_equal(got, np.array(_POS_WANT, dtype), equal_nan=True)
    assert not np.signbit(got[:5]).any()  # +0.0, never -0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pos_in_the_numba_namespaces(dtype):
    # in the array's own dtype (no float64 detour for the exact entries' float32 loops),
    # through a loop as in the kernels, and on its own
    x = np.array(_POS_IN, dtype)
    _check_pos(_pos_loop(x), dtype)
    _check_pos(np.array([_pos_one(v) for v in x], dtype), dtype)  # (returned as floats)
    assert n32.pos is n64.pos


@njit(error_model="numpy")
def _pos_loop(x):  # pragma: no cover - compiled
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        y[i] = n64.pos(x[i])
    return y


@njit
def _pos_one(v):  # pragma: no cover - compiled
    return n64.pos(v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pos_in_the_numpy_namespaces(dtype):
    from relukit._prims.numpy import MATH, namespace

    _check_pos(namespace(np, dtype is np.float32).pos(np.array(_POS_IN, dtype)), dtype)
    got = [MATH.pos(float(v)) for v in _POS_IN]
    assert np.array_equal(np.array(got, float), _POS_WANT, equal_nan=True)


@pytest.mark.torch
def test_pos_in_the_torch_namespace_and_its_gradient():
    # autograd through pos gives 0 at 0 (x <= 0 takes the constant branch), as PyTorch
    import array_api_compat
    import torch

    from relukit._prims.numpy import namespace

    for dt in (torch.float32, torch.float64):
        m = namespace(array_api_compat.array_namespace(torch.zeros(1)), dt is torch.float32)
        x = torch.tensor(_POS_IN, dtype=dt, requires_grad=True)
        y = m.pos(x)
        _check_pos(y.detach().numpy(), np.float32 if dt is torch.float32 else np.float64)
        (g,) = torch.autograd.grad(y.sum(), x)
        assert g.tolist()[:8] == [0, 0, 0, 0, 0, 1, 1, 1]


@njit(inline="always")
def _isinf_as_float(x):  # pragma: no cover - compiled
    return 1.0 if n64.isinf(x) else 0.0


@njit(inline="always")
def _clip_minus1_1(x):  # pragma: no cover - compiled
    return n64.clip(x, -1.0, 1.0)


@njit(inline="always")
def _where_pos(a, b):  # pragma: no cover - compiled
    return n64.where(a > 0, a, b)


# ---------------------------------------------------------------------------
# the lean float32 primitives (numba32): 6e-14 relative where float32 results are not 0/1
# ---------------------------------------------------------------------------

LEAN_BUDGET = 6e-14  # 2**-24 * 1e-6: a float32 rounding stays within 0.5 + 1e-6 ulp


def _f32_informative(ref: list) -> np.ndarray:
    """Where the float32 rounding of the reference is neither 0 nor ±1 (nor overflows)."""
    r = np.array([float(v) for v in ref])
    with np.errstate(over="ignore"):
        r32 = r.astype(np.float32)
    return (r32 != 0) & (np.abs(r32) != 1) & np.isfinite(r32)


A_MAX = 15 / math.sqrt(2)
# (primitive, inputs on its documented domain, reference, the docstring's bound)
LEAN_CASES = {
    # ln 2 in one part: r is off by |k| 2.32e-17, hence the second term
    "exp": (
        np.concatenate(
            [RNG.uniform(-708, 709, 300), RNG.uniform(-104, 89, 300), [-708.0, 709.0, 0.0]]
        ),
        mp.exp,
        lambda x: 4e-16 + 3.4e-17 * np.abs(x),
    ),
    "expm1_neg": (
        np.concatenate(
            [
                RNG.uniform(-60, 0, 100),
                RNG.uniform(-17, 0, 200),
                -(10 ** RNG.uniform(-45, 0, 100)),
                -(10 ** RNG.uniform(-300, 0, 50)),
                [-60.0],
            ]
        ),
        mp.expm1,
        lambda x: 2e-15,
    ),
    "log1p01": (
        np.concatenate([RNG.uniform(0, 1, 200), 10 ** RNG.uniform(-300, 0, 100), [1.0]]),
        mp.log1p,
        lambda x: 1e-15,
    ),
    "erfcx": (
        np.concatenate([RNG.uniform(0, A_MAX, 300), [0.0, A_MAX, 1e-300]]),
        lambda a: mp.erfc(a) * mp.exp(a * a),
        lambda x: 4.5e-15,  # (measured 4.3e-15 on 20,001 points)
    ),
    "sigmoid": (
        np.concatenate([RNG.uniform(-110, 20, 400), RNG.uniform(-3, 3, 200), [0.0]]),
        lambda z: 1 / (1 + mp.exp(-z)),
        lambda x: 1e-15 + 3.4e-17 * np.abs(x),  # (exp's bound, a division more)
    ),
}


@pytest.mark.parametrize("case", list(LEAN_CASES))
def test_lean_primitives_against_mpmath(case):
    x, ref_fn, bound = LEAN_CASES[case]
    got = run1(getattr(n32, case), x)
    ref = mp_ref(ref_fn, x)
    rel = rel_err(got, ref)
    keep = _f32_informative(ref)
    assert keep.sum() > 0.4 * x.size
    assert rel[keep].max() <= LEAN_BUDGET, (case, rel[keep].max())
    bad = rel > bound(x)
    assert not bad.any(), (case, rel[bad], x[bad])


def test_lean_sigmoid2_against_mpmath():
    z = np.concatenate([RNG.uniform(-110, 110, 400), RNG.uniform(-3, 3, 200), [0.0, 708.0]])
    s, t = run_pair(n32.sigmoid2, z)
    for got, ref in (
        (s, mp_ref(lambda v: 1 / (1 + mp.exp(-v)), z)),
        (t, mp_ref(lambda v: 1 / (1 + mp.exp(v)), z)),
    ):
        keep = _f32_informative(ref)
        assert rel_err(got, ref)[keep].max() <= LEAN_BUDGET


def test_lean_times_exp_is_a_times_exp_rounded_once():
    # a exp(x) with a's exponent moved by k: the product a exp(x), rounded the same way
    x = np.concatenate([RNG.uniform(-600, 0, 394), [-600.0, -0.0, 0.0, -1e-300, -172.0, -0.3466]])
    a = RNG.choice([-1, 1], 400) * 10 ** RNG.uniform(-30, 30, 400)
    a[:4] = [1e-30, -1e-30, 1e30, -1e30]
    got = run2(n32.times_exp, a, x)
    assert np.array_equal(got, a * run1(n32.exp, x))
    with mp.workdps(40):
        ref = [mp.mpf(float(ai)) * mp.exp(mp.mpf(float(xi))) for ai, xi in zip(a, x, strict=True)]
    keep = _f32_informative(ref)
    assert rel_err(got, ref)[keep].max() <= LEAN_BUDGET
    # below the clip (-600): a float32 result 0 for every |a| <= 1e30
    far = run2(n32.times_exp, np.array([1e30, -1e30]), np.array([-1e4, -np.inf]))
    assert np.array_equal(far.astype(np.float32), [0.0, -0.0])
    assert np.signbit(far[1])


def test_lean_clips_and_special_values():
    # beyond its clip a primitive gives a value whose float32 rounding is the limit
    with np.errstate(over="ignore"):
        assert run1(n32.exp, np.array([-1e4, 1e4])).astype(np.float32).tolist() == [0.0, np.inf]
    assert run1(n32.expm1_neg, np.array([-1e4, -np.inf])).tolist() == [-1.0, -1.0]
    got = run1(n32.expm1_neg, np.array([-0.0, 0.0, np.nan]))
    assert np.signbit(got[0]) and got[0] == 0 and not np.signbit(got[1]) and np.isnan(got[2])
    assert (
        run1(n32.erfcx, np.array([1e30, np.inf])).astype(np.float32).tolist()
        == [np.float32(run1(n32.erfcx, np.array([A_MAX]))[0])] * 2
    )
    got = run1(n32.sigmoid, np.array([np.inf, -np.inf, 1e4, -1e4, np.nan]))
    assert got[:4].astype(np.float32).tolist() == [1.0, 0.0, 1.0, 0.0] and np.isnan(got[4])
    for name in ("exp", "log1p01", "erfcx", "sigmoid"):
        assert np.isnan(run1(getattr(n32, name), np.array([np.nan]))[0]), name
    # div: a product with 1 / b, within 1 ulp of the quotient
    a = RNG.uniform(-10, 10, 500)
    b = RNG.uniform(0.1, 10, 500)
    np.testing.assert_array_max_ulp(run2(n32.div, a, b), a / b, maxulp=1)


# ---------------------------------------------------------------------------
# exact rounding errors, every namespace
# ---------------------------------------------------------------------------


def _err_cases(dtype) -> tuple[np.ndarray, np.ndarray]:
    # (magnitudes whose products' rounding errors are normal numbers: exact)
    rng = np.random.default_rng(3)
    e = 8 if dtype == np.float32 else 100
    a = (rng.choice([-1, 1], 300) * 10 ** rng.uniform(-e, e, 300)).astype(dtype)
    b = (rng.choice([-1, 1], 300) * 10 ** rng.uniform(-e, e, 300)).astype(dtype)
    return a, b


def _exact_err(a: float, b: float, p: float) -> Fraction:
    return Fraction(a) * Fraction(b) - Fraction(p)


def test_numba_exact_errors():
    a, b = _err_cases(np.float64)
    p, q = a * a, a * b
    assert [Fraction(v) for v in run2(n64.square_err, a, p).tolist()] == [
        _exact_err(x, x, y) for x, y in zip(a.tolist(), p.tolist(), strict=True)
    ]
    got = _prod_err_loop(np.stack([a, b]).T.reshape(-1), np.repeat(q, 2))[::2]
    assert [Fraction(v) for v in got.tolist()] == [
        _exact_err(x, y, z) for x, y, z in zip(a.tolist(), b.tolist(), q.tolist(), strict=True)
    ]


@njit(inline="always")
def _prod_err_pair(a, b, p):  # pragma: no cover - compiled
    return n64.prod_err(a, b, p)


@njit(error_model="numpy")
def _prod_err_loop(ab, p):  # pragma: no cover - compiled
    # (a, b) interleaved: prod_err of each pair, at the even positions
    y = np.zeros_like(ab)
    for i in range(0, ab.shape[0], 2):
        y[i] = _prod_err_pair(ab[i], ab[i + 1], p[i])
    return y


@pytest.mark.parametrize("f32", [False, True], ids=["float64", "float32"])
def test_numpy_namespace_exact_errors(f32):
    from relukit._prims.numpy import namespace

    dtype = np.float32 if f32 else np.float64
    m = namespace(np, f32)
    a, b = _err_cases(dtype)
    p, q = a * a, a * b
    se, pe = m.square_err(a, p), m.prod_err(a, b, q)
    assert se.dtype == dtype and pe.dtype == dtype
    rows = zip(a.tolist(), b.tolist(), p.tolist(), q.tolist(), se.tolist(), pe.tolist(),
               strict=True)  # fmt: skip
    for x, y, pp, qq, s, e in rows:
        assert Fraction(s) == _exact_err(x, x, pp)
        assert Fraction(e) == _exact_err(x, y, qq)


def test_math_namespace_exact_errors_and_primitives():
    from relukit._prims.numpy import MATH

    a, b = _err_cases(np.float64)
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        assert Fraction(MATH.square_err(x, x * x)) == _exact_err(x, x, x * x)
        assert Fraction(MATH.prod_err(x, y, x * y)) == _exact_err(x, y, x * y)
    # overflow gives the limit, not an error
    assert MATH.exp(1000.0) == math.inf and MATH.expm1(1000.0) == math.inf
    assert math.isnan(MATH.sqrt(-1.0)) and MATH.div(1.0, -0.0) == -math.inf
    assert math.isnan(MATH.div(0.0, 0.0))
    assert MATH.sigmoid2(0.0) == (0.5, 0.5) and MATH.expm1_neg(-0.0) == 0.0


# ---------------------------------------------------------------------------
# the shared erfcx polynomial (NumPy, Python floats, JAX, the float64 kernels)
# ---------------------------------------------------------------------------


def test_shared_erfcx_against_mpmath():
    from relukit._prims import shared
    from relukit._prims.numpy import MATH, NP

    a = np.concatenate([[0.0, 4.0, 27.3], RNG.uniform(0, 27.3, 400)])
    ref = mp_ref(lambda v: mp.erfc(v) * mp.exp(v * v), a)
    assert ulp_err(np.asarray(shared.erfcx(NP, a)), ref).max() <= 5.0
    assert ulp_err(np.array([shared.erfcx(MATH, v) for v in a.tolist()]), ref).max() <= 5.0
    # the kernels' float64 erfcx is this polynomial, lowered for numba
    np.testing.assert_array_max_ulp(run1(n64.erfcx, a), shared.erfcx(NP, a), maxulp=4)


# ---------------------------------------------------------------------------
# tiny_half: subnormal ties round up (the true x/2 + c x**2 lies above them)
# ---------------------------------------------------------------------------


def half_up_f32(x32: np.ndarray) -> np.ndarray:
    """The float32 nearest ``x/2 + c x**2`` (``c > 0``, ``|x| < 2**-124``): ``x = m 2**-149``
    with an integer ``m``; ``x/2`` is ``m/2`` subnormal steps, and the positive ``c x**2``
    (far below a step) breaks a tie upwards: ``floor((m + 1) / 2)`` steps."""
    x = x32.astype(np.float64)
    m = (x * 2.0**149).astype(np.int64)
    steps = np.floor_divide(m + 1, 2).astype(np.float64)
    # a negative x whose result rounds to zero: -0.0 (the true value is negative)
    return np.copysign(steps * 2.0**-149, x).astype(np.float32)


def test_half_up_oracle_against_mpmath():
    # the oracle is the correct rounding of the true gelu/silu/hardswish (mpmath)
    x = np.array([1, 2, 3, 5, 7, 0x7FFFFF, 0x800001, 0xFFFFFF, 0x1000001], np.uint32)
    x = np.concatenate([x, x | 0x80000000]).view(np.float32)
    want = half_up_f32(x)
    with mp.workprec(400):
        for xv, w in zip(x.tolist(), want.tolist(), strict=True):
            X = mp.mpf(xv)
            for true in (X * mp.ncdf(X), X / (1 + mp.exp(-X)), X * (X + 3) / 6):
                # the nearest float32 subnormal step (2**-149) to the true value
                steps = true * mp.mpf(2) ** 149
                nearest = mp.nint(steps)
                assert abs(steps - nearest) < mp.mpf(0.5)  # never a tie
                assert float(nearest) * 2.0**-149 == w, (xv, true)


TINY_ENTRIES = ("gelu", "silu", "hardswish")


@pytest.mark.parametrize("name", TINY_ENTRIES)
def test_regression_smallest_float32_subnormal_is_not_rounded_to_zero(name):
    # gelu(1.4e-45) was 0.0 on every path (x/2 rounded to even at a tie); the true value
    # 0.7e-45 + c 2e-90 rounds up, to 1.4e-45. 300 elements: a large-array call
    act = rk.get(name)
    got = act(np.full(300, 1.4e-45, np.float32))
    assert got.dtype == np.float32 and np.all(got == np.float32(1.4e-45))
    assert act(np.full(3, 1.4e-45, np.float32))[0] == np.float32(1.4e-45)
    assert act(np.full(300, -1.4e-45, np.float32))[0] == 0.0  # -0.7e-45 + tiny: -0.0
    # float64: the smallest subnormal too (5e-324 / 2 + c 2.5e-647)
    assert act(np.full(300, TINY64))[0] == TINY64 and act(TINY64) == TINY64


@pytest.mark.parametrize("name", TINY_ENTRIES)
def test_every_float32_input_with_a_subnormal_half(name):
    # all float32 |x| < 2**-124 (the subnormal results and the first normal binade): 2**25
    # inputs of each sign, against the integer oracle; 2,000 of 8,000 came out one step off
    act = rk.get(name)
    for sign in (0, 0x80000000):
        for start in range(0, 0x01800000, 1 << 22):
            bits = np.arange(start, min(start + (1 << 22), 0x01800000), dtype=np.uint32)
            x = (bits | np.uint32(sign)).view(np.float32)
            got = act(x)
            want = half_up_f32(x)
            bad = got.view(np.uint32) != want.view(np.uint32)
            # (0 and -0 compare as bits: -0.0 for the negative ones rounding to zero)
            assert not bad.any(), (x[bad][:5], got[bad][:5], want[bad][:5])


@pytest.mark.parametrize("name", TINY_ENTRIES)
def test_float64_odd_subnormals_round_up(name):
    act = rk.get(name)
    m = np.concatenate([np.arange(-2000, 2001), [2**52 - 1, -(2**52) + 1, 2**52 + 1]])
    x = m.astype(np.float64) * TINY64
    got = act(x)
    want = np.floor_divide(m + 1, 2).astype(np.float64) * TINY64  # half up, as for float32
    want = np.copysign(want, x)  # (-0.0 for -5e-324: the true value is negative)
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
    neg_zero = (m < 0) & (m >= -1)
    assert np.all(np.signbit(got[neg_zero]))


def test_tiny_half_primitives_directly():
    # float64: x/2 is a tie only for an odd subnormal x
    m = np.arange(-9, 10)
    x = m * TINY64
    r = np.full(x.size, 42.0)
    odd = m % 2 != 0
    want = np.where(odd, np.copysign(np.floor_divide(m + 1, 2) * TINY64, x), r)
    from relukit._prims.numpy import MATH, NP

    for label, got in (
        ("numba64", run2(n64.tiny_half, x, r)),
        ("numpy", NP.tiny_half(x, r)),
        (
            "math",
            np.array([MATH.tiny_half(a, b) for a, b in zip(x.tolist(), r.tolist(), strict=True)]),
        ),
    ):
        assert np.array_equal(got.view(np.uint64), want.view(np.uint64)), label
    # lean: every |x| < 2**-125 other than 0 gets x/2 biased upwards by far less than a
    # float32 step; the float32 rounding is then the half-up one
    x32 = np.array([1, 2, 3, 0x7FFFFF, 0xFFFFFF, 0x1000000], np.uint32)
    x32 = np.concatenate([x32, x32 | 0x80000000]).view(np.float32)
    got = run2(n32.tiny_half, x32.astype(np.float64), np.full(x32.size, 42.0))
    tiny = np.abs(x32.astype(np.float64)) < 2.0**-125
    assert np.array_equal(got[tiny].astype(np.float32), half_up_f32(x32[tiny]))
    assert np.all(got[~tiny] == 42.0)
    assert run2(n32.tiny_half, np.array([0.0]), np.array([42.0]))[0] == 42.0
    # the NumPy namespace for float32 results computed in float64 (the fallback) agrees
    from relukit._prims.numpy import namespace

    x64 = x32.astype(np.float64)
    got = namespace(np, to32=True).tiny_half(x64, np.full(x64.size, 42.0))
    assert np.array_equal(got[tiny].astype(np.float32), half_up_f32(x32[tiny]))


def test_lean_tiny_nudge_gives_tiny_halfs_rounding():
    # the lean forms of gelu, silu and hardswish round x h (h = 1/2 next to 0) from a
    # nudged x: the float32 rounding of tiny_half for every |x| < 2**-124 (2**25 inputs of
    # each sign), its float64 value where h is 1/2, x itself elsewhere, -0.0 kept
    bits = np.arange(0, 0x01000000, dtype=np.uint32)
    for sign in (0, 0x80000000):
        x32 = (bits | np.uint32(sign)).view(np.float32)
        x = x32.astype(np.float64)
        got = 0.5 * run1(n32.tiny_nudge, x)
        assert np.array_equal(
            got.astype(np.float32).view(np.uint32), half_up_f32(x32).view(np.uint32)
        )
        nonzero = x != 0
        half = run2(n32.tiny_half, x, np.zeros(x.size))
        assert np.array_equal(got[nonzero], half[nonzero])
    x = np.array([-0.0, 0.0, 2.0**-125, -(2.0**-125), 1.0, -3.0, np.inf, -np.inf])
    got = run1(n32.tiny_nudge, x)
    assert np.array_equal(got.view(np.uint64), x.view(np.uint64))
    assert np.isnan(run1(n32.tiny_nudge, np.array([np.nan]))[0])


def test_lean_unclipped_forms_are_the_clipped_ones_on_their_domain():
    # exp_near and sigmoid2_near: exp and sigmoid2 without the clips, for lean forms whose
    # argument is bounded already: the same bits on the domain, NaN and signed zeros included
    x = np.concatenate(
        [RNG.uniform(-708, 709, 2000), RNG.uniform(-3, 3, 500), [-708.0, 709.0, -0.0, 0.0, np.nan]]
    )
    assert np.array_equal(run1(n32.exp_near, x), run1(n32.exp, x), equal_nan=True)
    z = np.concatenate([RNG.uniform(-708, 708, 2000), RNG.uniform(-3, 3, 500), [-708.0, 708.0]])
    z = np.concatenate([z, [-0.0, 0.0, 1e-300, -1e-300, np.nan]])
    for got, want in zip(run_pair(n32.sigmoid2_near, z), run_pair(n32.sigmoid2, z), strict=True):
        assert np.array_equal(got.view(np.uint64), want.view(np.uint64))


@pytest.mark.parametrize("name", TINY_ENTRIES)
def test_numpy_formulas_give_the_same_subnormal_results(name):
    # the fallback (no kernels) follows the same rule for float32 and float64
    act = rk.get(name)
    x32 = np.arange(0, 1 << 16, dtype=np.uint32)
    x32 = np.concatenate([x32, x32 | 0x80000000]).view(np.float32)
    x64 = np.arange(-(1 << 12), 1 << 12).astype(np.float64) * TINY64
    with _kernels.switched(enabled=False):
        got32, got64 = act(x32), act(x64)
    assert np.array_equal(got32.view(np.uint32), half_up_f32(x32).view(np.uint32))
    assert np.array_equal(got64, act(x64))
