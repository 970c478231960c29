"""Every entry on PyTorch, JAX and Dask arrays: the library's own ops, dtype/device kept.

The matrix is generated from the catalogue: entry × library × dtype (float16, float32,
float64, bfloat16 where the library has it). The oracle is the NumPy float64 result
(itself checked against mpmath in test_family.py) rounded to the dtype, and each
library's own activation (torch.nn.functional, jax.nn) away from the points where
those libraries are documented to differ (±inf, kinks).

A gated entry (``f(gate) * up``) takes the points as its gates and ``UPS`` as its second
input, and both of its derivatives are checked; its one-array form (split in halves
along the last axis, the gate the second half) must give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import relukit as rk

POINTS = [-np.inf, -40.0, -6.0, -3.0, -2.5, -1.0, -0.3, -0.0, 0.0, 0.3, 1.0, 2.5, 3.0, 6.0]
POINTS += [7.5, 25.0, np.inf, np.nan]
ENTRIES = [a.name for a in rk.catalogue()]
#: tolerance in units of the dtype's epsilon (computed wider and rounded once, or in
#: float32 on torch GPU/JAX with stable formulas: a few ulp)
EPS = {"float16": 2**-10, "bfloat16": 2**-7, "float32": 2**-23, "float64": 2**-52}


def _check_close(got: np.ndarray, want: np.ndarray, dtype: str, ulps: float = 4) -> None:
    want = np.asarray(want, dtype=np.float64)
    same_special = (np.isnan(got) & np.isnan(want)) | (got == want)
    tol = ulps * EPS[dtype] * np.maximum(np.abs(want), 1e-3)
    with np.errstate(invalid="ignore"):
        ok = same_special | (np.abs(got - want) <= tol)
    assert ok.all(), (got[~ok], want[~ok])


#: the gated entries' second input, one per point: signs, zero, and exact in bfloat16
UPS = list(np.resize([1.5, -0.75, 3.0, 0.0, -2.0, 0.5], len(POINTS)))


def _in(values: list[float], dtype: str) -> np.ndarray:
    """``values`` rounded to ``dtype``, as float64."""
    x = np.array(values, dtype=np.float64)
    if dtype != "bfloat16":
        return x.astype(dtype).astype(np.float64)
    import torch

    return torch.tensor(values, dtype=torch.bfloat16).double().numpy()


def _numpy_ref(name: str, dtype: str, **p):
    x = _in(POINTS, dtype)
    v, d = rk.get(name).value_and_derivative(x, **p)
    return x, v, d


def _gated_ref(name: str, dtype: str):
    """``(gate, up, value, (d/d gate, d/d up))`` of a gated entry in NumPy float64."""
    g, u = _in(POINTS, dtype), _in(UPS, dtype)
    v, pair = rk.get(name).value_and_derivative(g, u)
    return g, u, v, pair


def _check_gated(name: str, dtype: str, to_numpy, make, ulps: float = 4) -> None:
    """A gated entry on arrays made by ``make(values_float64)``: dtype kept, inputs
    untouched, value and both derivatives close to NumPy's float64 rounded, and the
    one-array form (``[up | gate]`` along the last axis) giving the same numbers."""
    act = rk.get(name)
    g64, u64, v_ref, (dg_ref, du_ref) = _gated_ref(name, dtype)
    g, u = make(g64), make(u64)
    v, (dg, du) = act.value_and_derivative(g, u)
    assert v.dtype == g.dtype and dg.dtype == g.dtype and du.dtype == g.dtype
    assert tuple(v.shape) == tuple(g.shape)
    np.testing.assert_array_equal(to_numpy(g), g64)  # untouched
    for got, want in ((v, v_ref), (dg, dg_ref), (du, du_ref)):
        # (near a zero of d/d gate the dtype's eps times up's scale, absolute)
        gotn = to_numpy(got)
        near = np.abs(want) < 1e-2 * np.abs(u64).max()
        _check_close(gotn[~near], want[~near], dtype, ulps)
        np.testing.assert_allclose(gotn[near], want[near], atol=8 * EPS[dtype] * 3.0)
    x = make(np.concatenate([u64, g64]))
    vs, ds = act.value_and_derivative(x)
    np.testing.assert_array_equal(to_numpy(vs), to_numpy(v))
    np.testing.assert_array_equal(to_numpy(ds), np.concatenate([to_numpy(du), to_numpy(dg)]))


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("name", ENTRIES)
def test_torch_tensors(name, dtype):
    import torch

    if rk.get(name).gated:
        tdt = getattr(torch, dtype)
        _check_gated(
            name,
            dtype,
            lambda t: t.double().numpy(),
            lambda a: torch.tensor(a, dtype=tdt),
        )
        return
    x64, v_ref, d_ref = _numpy_ref(name, dtype)
    t = torch.tensor(x64, dtype=getattr(torch, dtype))
    before = t.clone()
    v, d = rk.get(name).value_and_derivative(t)
    assert isinstance(v, torch.Tensor) and isinstance(d, torch.Tensor)
    assert v.dtype == t.dtype and d.dtype == t.dtype
    assert v.device == t.device and v.shape == t.shape
    torch.testing.assert_close(t, before, equal_nan=True, rtol=0, atol=0)  # untouched
    _check_close(v.double().numpy(), v_ref, dtype)
    _check_close(d.double().numpy(), d_ref, dtype)


def _bits(a) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", ENTRIES)
def test_torch_cpu_tensors_give_the_numpy_apis_bits(name, dtype):
    # one input, one result: rk.<entry>(t) on a CPU tensor that autograd does not need
    # is the NumPy API's result on t.numpy(), value and derivative (the derivative once
    # ran torch operations: float64 gelu', silu', elu', ... 1 ulp apart); a strided
    # view too, and rrelu's float16 product (once rounded twice)
    import torch

    act = rk.get(name)
    rng = np.random.default_rng(7)
    x = np.concatenate([_in(POINTS, dtype), rng.standard_normal(40) * 4, [-7.477, -1.596]])
    x = x.astype(dtype)
    params = {"lower": 0.1, "upper": 0.3} if name == "rrelu" else {}
    if act.gated:
        u = np.resize(np.array(UPS, dtype), x.shape)
        want = act.value_and_derivative(x, u, **params)
        got = act.value_and_derivative(torch.from_numpy(x), torch.from_numpy(u), **params)
        pairs = [(want[0], got[0]), *zip(want[1], got[1], strict=True)]
    else:
        t = torch.from_numpy(np.stack([x, x]).T.copy()).T[0]  # (a strided view)
        want = act.value_and_derivative(x, **params)
        got = act.value_and_derivative(t, **params)
        pairs = list(zip(want, got, strict=True))
        assert torch.equal(torch.from_numpy(x), t.contiguous()) or np.isnan(x).any()
    for w, g in pairs:
        assert isinstance(g, torch.Tensor) and g.dtype == getattr(torch, dtype)
        np.testing.assert_array_equal(_bits(g.numpy()), _bits(w))


@pytest.mark.torch
@pytest.mark.parametrize("name", [a.name for a in rk.catalogue() if a.torch_name])
def test_torch_agrees_with_torch_functional_at_finite_non_kink_points(name):
    import torch
    import torch.nn.functional as F

    x = torch.linspace(-7.9, 7.7, 302, dtype=torch.float64)  # (even: glu splits it)
    if name == "prelu":
        want = F.prelu(x, torch.tensor([0.25], dtype=x.dtype))
    else:  # the catalogue's defaults, which are PyTorch's (threshold has none there)
        act = rk.get(name)
        kw = {p.name: p.default for p in act.params_list if not p.keyword_only}
        want = getattr(F, name)(x, **kw)
    # PyTorch's gelu cancels in its left tail (1 + erf): agreement to 5e-16 absolute there
    torch.testing.assert_close(getattr(rk, name)(x), want, rtol=4e-15, atol=5e-16)


@pytest.mark.torch
def test_torch_integer_and_parameters():
    import torch

    r = rk.relu6(torch.tensor([-2, 3, 9], dtype=torch.int32))
    assert r.dtype == torch.int32 and r.tolist() == [0, 3, 6]
    g = rk.gelu(torch.tensor([-1, 2]))
    assert g.dtype == torch.get_default_dtype()
    w = torch.tensor([0.1, 0.5], dtype=torch.float32)
    x = torch.tensor([[-1.0, -1.0]], dtype=torch.float32)
    assert rk.prelu(x, w).tolist() == [[pytest.approx(-0.1), -0.5]]
    assert rk.softplus(torch.tensor([1.0]), beta=2.0, threshold=1.0).tolist() == [1.0]


@pytest.mark.torch
def test_torch_meta_device_is_kept():
    import torch

    x = torch.empty(5, device="meta")
    for name in ("relu", "gelu", "mish", "hardswish"):
        v = rk.get(name)(x)
        assert v.device.type == "meta" and v.shape == (5,)


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------


@pytest.mark.jax
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("name", ENTRIES)
def test_jax_arrays(name, dtype):
    import jax
    import jax.numpy as jnp

    if rk.get(name).gated:  # float32 computed in float32 in JAX: a few ulp
        jdt = getattr(jnp, dtype)
        _check_gated(
            name,
            dtype,
            lambda a: np.asarray(a, dtype=np.float64),
            lambda a: jnp.asarray(a.astype(np.float32), dtype=jdt),
            ulps=8,
        )
        return
    x64, v_ref, d_ref = _numpy_ref(name, dtype)
    x = jnp.asarray(x64.astype(np.float32), dtype=getattr(jnp, dtype))
    v, d = rk.get(name).value_and_derivative(x)
    assert isinstance(v, jax.Array) and v.dtype == x.dtype and d.dtype == x.dtype
    assert v.devices() == x.devices()
    # float32 is computed in float32 in JAX (no x64): a few ulp, more next to a zero of
    # the derivative (gelu, silu, mish have one): 1e-6 absolute there
    _check_close(np.asarray(v, dtype=np.float64), v_ref, dtype, ulps=8)
    dn = np.asarray(d, dtype=np.float64)
    near_zero = (np.abs(d_ref) < 1e-2) & (dtype == "float32")
    _check_close(dn[~near_zero], d_ref[~near_zero], dtype, ulps=8)
    np.testing.assert_allclose(dn[near_zero], d_ref[near_zero], atol=1e-6)


@pytest.mark.jax
@pytest.mark.parametrize("name", ENTRIES)
def test_jax_float64_with_x64(name):
    import jax
    import jax.numpy as jnp

    if not hasattr(jax, "enable_x64"):
        pytest.skip("this JAX has no jax.enable_x64 context")
    if rk.get(name).gated:
        with jax.enable_x64(True):
            _check_gated(
                name,
                "float64",
                lambda a: np.asarray(a, dtype=np.float64),
                lambda a: jnp.asarray(a, dtype=jnp.float64),
                ulps=16,
            )
        return
    x64, v_ref, d_ref = _numpy_ref(name, "float64")
    with jax.enable_x64(True):
        x = jnp.asarray(x64, dtype=jnp.float64)
        v, d = rk.get(name).value_and_derivative(x)
        assert v.dtype == jnp.float64 and d.dtype == jnp.float64
        # float64 in JAX: the same formulas; erfc from jax.scipy (no erfcx) for gelu
        _check_close(np.asarray(v), v_ref, "float64", ulps=16)
        _check_close(np.asarray(d), d_ref, "float64", ulps=16)


@pytest.mark.jax
@pytest.mark.parametrize(
    "name", [a.name for a in rk.catalogue() if a.jax_name and a.name not in ("prelu", "hardtanh")]
)
def test_jax_agrees_with_jax_nn_at_finite_points(name):
    import jax
    import jax.numpy as jnp

    x = jnp.linspace(-7.9, 7.7, 302, dtype=jnp.float32)  # (even: glu splits it)
    fn = getattr(jax.nn, rk.get(name).jax_name.rpartition(".")[2])
    kw = {"approximate": False} if name == "gelu" else {}
    want = np.asarray(fn(x, **kw), dtype=np.float64)
    got = np.asarray(getattr(rk, name)(x), dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-7)


@pytest.mark.jax
def test_jax_jit_of_the_derivative_methods():
    # jax.jit keeps a weak reference to the function it wraps: act.derivative and
    # act.value_and_derivative (small callable objects) must allow one
    import jax
    import jax.numpy as jnp

    x = jnp.asarray([-1.0, 0.0, 2.0], dtype=jnp.float32)
    for name in ("gelu", "relu", "swiglu"):
        act = rk.get(name)
        args = (x, x) if act.gated else (x,)
        want_d = act.derivative(*args)
        got_d = jax.jit(act.derivative)(*args)
        got_v, _ = jax.jit(act.value_and_derivative)(*args)
        np.testing.assert_allclose(np.asarray(got_v), np.asarray(act(*args)), rtol=1e-6)
        for w, g in zip(
            want_d if act.gated else (want_d,), got_d if act.gated else (got_d,), strict=True
        ):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)


@pytest.mark.jax
def test_jax_jit_and_vmap():
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda t: rk.mish(t) + rk.gelu(t, approximate="tanh"))
    x = jnp.linspace(-3, 3, 7)
    want = rk.mish(np.asarray(x, dtype=np.float64)) + rk.gelu(
        np.asarray(x, dtype=np.float64), approximate="tanh"
    )
    np.testing.assert_allclose(np.asarray(f(x)), want, rtol=2e-6)
    assert jax.vmap(rk.relu6)(jnp.asarray([[7.0], [-1.0]])).tolist() == [[6.0], [0.0]]


# ---------------------------------------------------------------------------
# Dask: lazy, chunked, the same numbers
# ---------------------------------------------------------------------------


class _Counter:
    """Count dask task executions (a Callback): 0 means nothing was computed."""

    def __init__(self) -> None:
        from dask.callbacks import Callback

        self.n = 0
        parent = self

        class C(Callback):
            def _start(self, dsk):
                parent.n += 1

        self.cb = C()


@pytest.mark.dask
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", ENTRIES)
def test_dask_arrays_stay_lazy(name, dtype):
    import dask.array as da

    if rk.get(name).gated:
        _dask_gated(name, dtype)
        return
    x64, v_ref, d_ref = _numpy_ref(name, dtype)
    x = da.from_array(x64.astype(dtype), chunks=5)
    counter = _Counter()
    with counter.cb:
        v, d = rk.get(name).value_and_derivative(x)
        assert counter.n == 0, "relukit computed the dask graph"
    assert isinstance(v, da.Array) and isinstance(d, da.Array)
    assert v.dtype == np.dtype(dtype) and v.chunks == x.chunks
    with counter.cb:
        vn, dn = da.compute(v, d)
    assert counter.n == 1
    assert vn.dtype == np.dtype(dtype)
    # the same operations chunk by chunk as the NumPy path: identical numbers
    v_np, d_np = rk.get(name).value_and_derivative(x64.astype(dtype))
    np.testing.assert_array_equal(vn, v_np)
    np.testing.assert_array_equal(dn, d_np)


def _dask_gated(name: str, dtype: str) -> None:
    """A gated entry on two Dask arrays: lazy, the chunks kept, NumPy's numbers."""
    import dask.array as da

    act = rk.get(name)
    g64, u64, _, _ = _gated_ref(name, dtype)
    g = da.from_array(g64.astype(dtype), chunks=5)
    u = da.from_array(u64.astype(dtype), chunks=5)
    counter = _Counter()
    with counter.cb:
        v, (dg, du) = act.value_and_derivative(g, u)
        assert counter.n == 0, "relukit computed the dask graph"
    assert isinstance(v, da.Array) and v.dtype == np.dtype(dtype) and v.chunks == g.chunks
    got = da.compute(v, dg, du)
    want = act.value_and_derivative(g64.astype(dtype), u64.astype(dtype))
    for a, b in zip(got, (want[0], *want[1]), strict=True):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_array_max_ulp(a, b, maxulp=1)  # formulas vs kernels: see below


@pytest.mark.dask
def test_dask_prelu_channels_and_integers():
    import dask.array as da

    x = da.from_array(np.array([[-1.0, -2.0], [3.0, -4.0]]), chunks=1)
    got = rk.prelu(x, [0.5, 0.25]).compute()
    np.testing.assert_array_equal(got, [[-0.5, -0.5], [3.0, -1.0]])
    r = rk.relu6(da.from_array(np.array([-2, 9], dtype=np.int64)))
    assert r.dtype == np.int64 and r.compute().tolist() == [0, 6]


def test_unknown_array_type_is_refused():
    class Fake:
        shape = (2,)
        dtype = "float32"

    with pytest.raises(TypeError, match="gelu: x must be"):
        rk.gelu(Fake())


def test_gelu_needs_no_scipy():
    # erfc/erfcx are not in the Array API: NumPy, Dask and JAX use relukit's own erfcx
    # polynomial (relukit._prims.shared), torch its torch.special.erfcx; SciPy is never
    # imported, with or without the kernels
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "import numpy as np, relukit as rk\n"
        "from relukit import _kernels\n"
        "with _kernels.switched(enabled=False):\n"
        "    v = rk.gelu(np.array([-1.0, 1.0]))\n"
        "print(repr(float(v[1])), 'scipy.special' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    value, imported = res.stdout.split()
    assert math.isclose(float(value), 0.8413447460685429, rel_tol=1e-15) and imported == "False"
