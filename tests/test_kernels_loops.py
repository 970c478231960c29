"""The kernels compiled from the formulas (relukit._kernels_build, relukit._kernels_loops).

* every catalogue entry, with every parameter set of test_family.py, gets a kernel of
  every kind (value, derivative, both, backward, and backward from the output where the
  entry allows it) for float32 and float64: its loop template plugged with element
  functions made from the entry's own formulas (:class:`~relukit.catalogue.Math`),
  lowered for the numba namespace of its working precision (``numba32``, the lean one,
  for float32 where ``Math.lean`` accepts the parameters; ``numba64`` otherwise) and
  named after the formula;
* a plugged kernel is an ordinary function for the disk cache (relukit._kernel_cache,
  numba's cache classes): a second process loads it instead of compiling it, and editing
  a kernel source file (the loop templates, say) makes the next process compile every
  kernel again (tests/test_kernel_cache.py tests the cache itself).

The numbers the kernels compute: test_one_result.py, test_nan_rule.py,
test_numpy_formulas.py, test_accuracy.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import relukit as rk
from _cases import CASES, GATED, GATED_IDS, IDS, ids
from relukit import _kernels

pytest.importorskip("numba")

from relukit import _kernels_build as kb
from relukit import _kernels_loops as kl
from relukit._prims import lower, numba32, numba64


def _element_formula(element) -> tuple:
    """(the lowered formula, the namespace) an element function was plugged with."""
    g = element.py_func.__globals__
    return g["_F"], g["_M"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,p", CASES, ids=IDS)
def test_every_entry_has_its_kernels_made_from_its_formulas(name, p, dtype):
    act = rk.get(name)
    params = act.bind((), p)
    formulas, args = act.math.resolve(params)
    kinds = ["value", "derivative", "both", "backward"]
    if formulas.can_use_output(args):
        kinds.append("backward_y")
    lean = dtype == np.float32 and not formulas.exact
    if lean and formulas.lean is not None:
        lean = formulas.lean(*args)
    m = numba32 if lean else numba64
    ns = "32" if lean else "64"
    for kind in kinds:
        plan = _kernels.plan(act, kind, dtype, params, None)
        assert plan is not None, kind
        py = plan.kernel.py_func
        base = f"{formulas.value.__module__}.{formulas.value.__qualname__}"
        assert py.__qualname__ == f"{base}_{kind}_{ns}"
        assert py.__module__ == kb.__name__
        assert py.__code__.co_filename == kl.__file__  # the loop template's own code
        g = py.__globals__
        value_fn = formulas.value
        deriv_fn = formulas.from_output if kind == "backward_y" else formulas.derivative
        assert _element_formula(g["_v"]) == (lower(value_fn, m), m)
        assert _element_formula(g["_d"]) == (lower(deriv_fn, m), m)
        _check_both_and_kinks(g, formulas, m, kind, at_kink=False)
        assert g["_w"] is (kb._same if formulas.exact else kb._widen)
        assert plan.kernel is kb.kernel(formulas, ns, kind, len(args))  # made once
        if act.kinks and kind in ("derivative", "both", "backward"):
            # with at_kink, the loop that tests for the kinks: its own kernel
            kp = _kernels.plan(act, kind, dtype, params, 0.25)
            assert kp.kernel.py_func.__qualname__ == f"{base}_{kind}_{ns}_at_kink"
            _check_both_and_kinks(kp.kernel.py_func.__globals__, formulas, m, kind, True)


def _check_both_and_kinks(g, formulas, m, kind, at_kink) -> None:
    """``_vd``: the entry's ``Math.both`` lowered for ``m``, else ``_v`` and ``_d`` one
    after the other; ``_kink``: the at_kink rule where the call gives ``at_kink`` (and
    the entry has kinks), else nothing."""
    if formulas.both is not None and kind != "backward_y":
        assert _element_formula(g["_vd"]) == (lower(formulas.both, m), m)
    else:
        pair = g["_vd"].py_func.__globals__
        assert (pair["_V"], pair["_D"]) == (g["_v"], g["_d"])
    assert g["_kink"] is (kl._kink if at_kink else kl._no_kink)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,p", GATED, ids=GATED_IDS)
def test_every_gated_entry_has_its_gated_kernels_made_from_its_formulas(name, p, dtype):
    """A gated entry, ``f(gate) * up``: the gated loop of each kind (two inputs, the two
    derivatives) plugged with the gate's activation ``f`` and its derivative, lowered for
    the lean namespace for float32 where the entry's lean tails reach far enough
    (``Math.lean_tails``; not geglu's erf form, not the exact entries), with the float64
    ones beside them for an infinite ``up`` (``_v64``, ``_d64``: ``0 * inf = nan`` where
    f(gate) is 0 in float64); the inputs widened to float64 for the smooth entries and
    kept in the dtype for the exact ones (their products are exact in float64: the same
    results), and no loop from the output."""
    act = rk.get(name)
    params = act.bind((), p)
    formulas, args = act.math.resolve(params)
    assert set(kl.GATED) == {"value", "derivative", "both", "backward"}
    assert not formulas.can_use_output(args)
    with pytest.raises(ValueError, match="no derivative from the output"):
        _kernels.plan(act, "backward_y", dtype, params, None)
    base = f"{formulas.value.__module__}.{formulas.value.__qualname__}"
    lean = np.dtype(dtype) == np.float32 and not formulas.exact and formulas.lean_tails
    lean = lean and (formulas.lean is None or formulas.lean(*args))
    ns, m = ("32", numba32) if lean else ("64", numba64)
    for kind, template in kl.GATED.items():
        plan = _kernels.plan(act, kind, dtype, params, None)
        assert plan is not None, kind
        py = plan.kernel.py_func
        assert py.__qualname__ == f"{base}_g_{kind}_{ns}"
        assert py.__module__ == kb.__name__
        assert py.__code__.co_filename == kl.__file__
        assert py.__code__.co_code == template.__code__.co_code  # the gated loop itself
        g = py.__globals__
        assert _element_formula(g["_v"]) == (lower(formulas.value, m), m)
        assert _element_formula(g["_d"]) == (lower(formulas.derivative, m), m)
        _check_both_and_kinks(g, formulas, m, kind, at_kink=False)
        assert g["_LEAN"] is lean
        assert _element_formula(g["_v64"]) == (lower(formulas.value, numba64), numba64)
        assert _element_formula(g["_d64"]) == (lower(formulas.derivative, numba64), numba64)
        assert g["_w"] is (kb._same if formulas.exact else kb._widen)
        assert plan.kernel is kb.kernel(formulas, ns, kind, len(args), gated=True)
        assert plan.kernel is not kb.kernel(formulas, ns, kind, len(args))  # not the 1-input


def test_per_channel_kernels():
    x = np.zeros((2, 3, 4))
    params = rk.prelu.bind((), {"weight": np.array([0.1, 0.2, 0.3])})
    for kind in ("value", "derivative", "both", "backward"):
        plan = _kernels.plan(rk.prelu, kind, np.float64, params, None, x)
        assert plan.kernel.py_func.__qualname__.endswith(f"_prelu_ch_{kind}_64")
        assert plan.channel.tolist() == [0.1, 0.2, 0.3]
    with pytest.raises(KeyError):  # (no per-channel loop from the output: no such formula)
        kl.CHANNEL["backward_y"]


def test_lowering_gives_the_formula_its_namespace():
    # the formula's own code with new globals: helper formulas lowered too
    from relukit.activations import curved

    f64 = lower(curved._gelu_erf, numba64)
    f32 = lower(curved._gelu_erf, numba32)
    assert f64 is not f32 and f64 is lower(curved._gelu_erf, numba64)  # cached
    assert f64.py_func.__code__ is curved._gelu_erf.__code__
    assert f64.py_func.__globals__["_gelu_parts"] is lower(curved._gelu_parts, numba64)
    from relukit._prims.numpy import NP

    assert lower(curved._gelu_erf, NP) is curved._gelu_erf  # Python namespaces: as written


def test_plug_rejects_a_name_the_templates_do_not_have():
    from numba import njit

    with pytest.raises(ValueError, match=r"no global \['_x'\]"):
        kl.plug(kl._value, "bad_value", __name__, njit, _x=njit(lambda v: v))


def test_at_most_three_formula_arguments():
    from relukit.catalogue import Math

    def f(m, x, a, b, c, d):  # pragma: no cover - never compiled
        return x

    with pytest.raises(ValueError, match="at most 3 formula arguments, got 4"):
        kb.kernel(Math(f, f), "64", "value", 4)


_PROBE = """
import json, numpy as np, relukit as rk
from relukit import _kernels
x = np.linspace(-3, 3, 64)
rk.relu(x); rk.silu.derivative(x)
out = {}
for act, kind in ((rk.relu, "value"), (rk.silu, "derivative")):
    k = _kernels.plan(act, kind, np.float64, act.bind(), None).kernel
    s = k.stats
    out[kind] = [sum(s.cache_hits.values()), sum(s.cache_misses.values()), k.py_func.__qualname__]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_plugged_kernels_are_loaded_from_the_disk_cache(tmp_path):
    # a copy of the package, so that its cache and its files can be changed freely
    pkg = tmp_path / "relukit"
    shutil.copytree(
        pathlib.Path(rk.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__")
    )
    cache = tmp_path / "numba"  # (not the developer's cache)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NUMBA_CACHE_DIR": str(cache)}
    env.pop("NUMBA_DISABLE_JIT", None)
    env.pop("RELUKIT_DISABLE_KERNELS", None)

    def run() -> dict:
        res = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
        )
        return {k: v[:2] for k, v in json.loads(res.stdout).items()}

    compiled = {"value": [0, 1], "derivative": [0, 1]}  # [hits, misses]
    loaded = {"value": [1, 0], "derivative": [1, 0]}
    assert run() == compiled
    assert run() == loaded
    names = " ".join(p.name for p in cache.glob("relukit/kernels-*/*.nbi"))
    assert "_relu_value_64" in names and "_silu_derivative_64" in names
    assert not list(pkg.rglob("*.nbi"))  # nothing next to the sources
    # editing the loop templates compiles every kernel again
    with open(pkg / "_kernels_loops.py", "a", encoding="utf-8") as f:
        f.write("# edited\n")
    assert run() == compiled
    assert run() == loaded


def _with_both() -> list:
    """The cases whose chosen formulas have a ``Math.both``."""
    out = []
    for name, p in CASES + GATED:
        act = rk.get(name)
        formulas, args = act.math.resolve(act.bind((), p))
        if formulas.both is not None and args is not None:
            out.append((name, p))
    return out


_BOTH = _with_both()


def _inputs(dtype) -> np.ndarray:
    """Edge values, the neighbourhoods of the derivatives' zeros, tiny and huge
    magnitudes, and random bit patterns (NaN and inf among them)."""
    rng = np.random.default_rng(7)
    f32 = np.finfo(np.float32)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, f32.tiny, -f32.tiny, f32.smallest_subnormal]
    edges += [-f32.smallest_subnormal, 3 * f32.smallest_subnormal, 2.0**-125, -(2.0**-126)]
    edges += [f32.max, -f32.max, 1e-30, -1e-30, 15.0, -15.0, 120.0, -120.0, 200.0, -200.0]
    near = np.concatenate([r + np.linspace(-0.6, 0.6, 4001) for r in (-1.2785, -0.7517, -2.0)])
    wide = rng.standard_normal(20000) * 10.0 ** rng.uniform(-40, 3, 20000)
    bits = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    with np.errstate(all="ignore"):  # (the float32 casts of huge and NaN values)
        x = np.concatenate([edges, near, wide, bits.astype(np.float64)])
        return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,p", _BOTH, ids=ids(_BOTH))
def test_math_both_gives_the_bits_of_the_value_and_the_derivative(name, p, dtype):
    """``Math.both`` shares the costly parts of the value and the derivative: bit for bit
    the two formulas', in both numba namespaces (the lean float32 one and float64), as
    the one-input loops plugged with the value, the derivative and both compute them."""
    act = rk.get(name)
    formulas, args = act.math.resolve(act.bind((), p))
    x = _inputs(dtype)
    A = np.zeros(3)
    A[: len(args)] = args
    P = np.zeros(6, dtype)
    for ns in ("32", "64") if dtype == np.float32 else ("64",):
        v_k = kb.kernel(formulas, ns, "value", len(args))
        d_k = kb.kernel(formulas, ns, "derivative", len(args))
        b_k = kb.kernel(formulas, ns, "both", len(args))
        v, d, bv, bd = (np.empty_like(x) for _ in range(4))
        v_k(x, v, A, P)
        d_k(x, d, A, P, 0)
        b_k(x, bv, bd, A, P, 0)
        uint = np.uint32 if dtype == np.float32 else np.uint64
        for got, want, what in ((bv, v, "value"), (bd, d, "derivative")):
            bad = np.flatnonzero(got.view(uint) != want.view(uint))
            assert bad.size == 0, (ns, what, x[bad[:5]], got[bad[:5]], want[bad[:5]])


def test_every_entry_with_a_shared_form_is_checked():
    # the gated entries' activations and their one-input twins (quick_gelu, gelu tanh)
    names = {name for name, _ in _BOTH}
    assert {"swiglu", "geglu", "quick_gelu", "gelu"} <= names
