"""The kernel loops written once per kind (relukit._kernels_loops) and plugged per entry.

* every entry covered by ``relukit._kernels.KERNELS`` finds its four kernels (value,
  derivative, both, backward) for float32 and float64 (gelu(tanh): float32 only), and
  they are plugged with that entry's own element functions (float32 ones where listed,
  gelu's float64 ones for float64);
* a plugged kernel is an ordinary function for the disk cache (relukit._kernel_cache,
  numba's cache classes): a second process loads it instead of compiling it, and editing
  a kernel source file (the element functions of one family, say) makes the next process
  compile every kernel again (tests/test_kernel_cache.py tests the cache itself).

The numerical results of the kernels are tested in test_kernels.py (bit for bit against
the NumPy path) and test_kernels_smooth.py (against mpmath).
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
from relukit import _kernels

pytest.importorskip("numba")

KINDS = ("value", "derivative", "both", "backward")
#: the entries with float32 element functions ``_<name>_v32``/``_<name>_d32``
F32 = {
    "elu",
    "selu",
    "celu",
    "softplus",
    "silu",
    "mish",
    "squareplus",
    "gelu",
    "hardswish",
    "hardsigmoid",
}


def _plans(name: str, dtype: str):
    act = rk.get(name)
    x = np.zeros(4, dtype)
    variants = [act.bind()]
    if name == "gelu":
        variants.append(act.bind((), {"approximate": "tanh"}))
    if name == "prelu":
        variants.append({"weight": np.array([0.25, 0.5])})  # one weight per channel
        x = np.zeros((2, 2, 3), dtype)
    for params in variants:
        for kind in KINDS:
            yield params, kind, _kernels.static_plan(act, kind, x, params, None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(_kernels.KERNELS))
def test_every_entry_has_its_four_kernels(name, dtype):
    from relukit import _kernels_numba, _kernels_smooth

    spec = _kernels.KERNELS[name]
    for params, kind, plan in _plans(name, dtype):
        tanh = name == "gelu" and params["approximate"] == "tanh"
        if tanh and dtype == "float64":  # the NumPy path's compensated tail
            assert plan is None
            continue
        assert plan is not None, (name, dtype, kind, params)
        kernel = plan[0]
        suffix = "_tanh" if tanh else ""
        if name == "prelu" and isinstance(params["weight"], np.ndarray):
            suffix = "_channel"
        if name == "prelu" and dtype == "float32":  # (the weights are float32 values)
            suffix += "_narrow"
        f32 = dtype == "float32" and name in F32 and not tanh
        f64 = name == "gelu" and dtype == "float64"  # (gelu's are named for both dtypes)
        expected = f"{spec.prefix}{suffix}{'_f32' if f32 else ''}_{kind}"
        assert kernel.py_func.__qualname__ == expected
        home = _kernels_numba if f"_{spec.prefix}_v" in vars(_kernels_numba) else _kernels_smooth
        # plugged with this entry's element functions (the per-channel loops: prelu's)
        element = f"_{spec.prefix}{suffix.replace('_channel', '')}"
        funcs = kernel.py_func.__globals__
        width = "32" if f32 else "64" if f64 else ""
        assert funcs["_v"] is getattr(home, f"{element}_v{width}")
        assert funcs["_d"] is getattr(home, f"{element}_d{width}")
        assert kernel.py_func.__code__.co_filename == home.__file__


def test_plug_rejects_a_name_the_templates_do_not_have():
    from relukit import _kernels_loops as kl
    from relukit import _kernels_numba as kn

    with pytest.raises(ValueError, match=r"no global \['_w'\]"):
        kl.plug(kl._pl_value, "bad_value", vars(kn), kl.PIECEWISE_FLAGS, _w=kn._relu_v)


_PROBE = """
import json, numpy as np
from relukit import _kernels_numba as kn
x = np.linspace(-3, 3, 64)
y, d = np.empty_like(x), np.empty_like(x)
P = np.array([0, 0, 0, 0, 0, 0, 1, 0], float)
kn.relu_value(x, y, P, P)
kn.silu_backward(x, y, d, P, P, 0)
out = {}
for name in ("relu_value", "silu_backward"):
    s = getattr(kn, name).stats
    out[name] = [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
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

    def run() -> dict:
        res = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
        )
        return json.loads(res.stdout)

    compiled = {"relu_value": [0, 1], "silu_backward": [0, 1]}  # [hits, misses]
    loaded = {"relu_value": [1, 0], "silu_backward": [1, 0]}
    assert run() == compiled
    assert run() == loaded
    names = {p.name.split("-")[0] for p in cache.glob("relukit/kernels-*/*.nbi")}
    assert {"relukit._kernels_numba.relu_value", "relukit._kernels_smooth.silu_backward"} <= names
    assert not list(pkg.rglob("*.nbi"))  # nothing next to the sources
    # editing the piecewise-linear element functions compiles every kernel again
    with open(pkg / "_kernels_numba.py", "a", encoding="utf-8") as f:
        f.write("# edited\n")
    assert run() == compiled
    assert run() == loaded
