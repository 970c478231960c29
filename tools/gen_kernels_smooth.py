"""Write ``src/relukit/_kernels_smooth_roots.py`` (the Taylor patches at the derivatives'
zeros, from ``relukit._tables.ROOTS``) and ``_kernels_smooth_loops.py`` (four loops per
entry, around the element functions of the hand-written ``_kernels_smooth.py``); run at
development time, then ``ruff format``:

    PYTHONPATH=src python tools/gen_kernels_smooth.py
    ruff format src/relukit/_kernels_smooth_roots.py src/relukit/_kernels_smooth_loops.py
"""

import pathlib

from relukit import _tables

_W = 0.1  # the float32 patch window of gelu, gelu(tanh) and mish'

ROOTS_HEAD = '''"""The Taylor patches at the zeros of the smooth entries' derivatives (silu', mish',
gelu'), from ``relukit._tables.ROOTS`` written out as constants so that LLVM unrolls them;
used by the element functions of :mod:`relukit._kernels_smooth`.

This file is written by ``tools/gen_kernels_smooth.py``; edit that script instead.
"""

from __future__ import annotations

from numba import njit

from relukit._kernels_math import ELEM
'''


def root_fn(key, name, terms=None, window=0.45):
    (hi, lo), _, coeffs = _tables.ROOTS[key]
    coeffs = coeffs[:terms]
    lines = [
        "@njit(**ELEM)",
        f"def _root_{name}(x, d):  # pragma: no cover - compiled",
        f"    # d, with the Taylor polynomial at the derivative's zero within {window} of it",
        f"    u = (x - {hi!r}) - {lo!r}",
        f"    p = {coeffs[-1]!r}",
    ]
    for c in reversed(coeffs[:-1]):
        lines.append(f"    p = p * u + {c!r}")
    lines += [
        f"    if u < {window} and u > -{window}:",
        "        d = p * u",
        "    return d",
        "",
        "",
    ]
    return "\n".join(lines)


LOOPS_HEAD = '''"""The loops of the smooth entries' numba kernels: value, derivative, fused
value-and-derivative and backward, one set per entry (float32 arrays of the entries with
float32 element functions get their own set, ``<name>_f32_<kind>``). The element
functions are in :mod:`relukit._kernels_smooth`.

This file is written by ``tools/gen_kernels_smooth.py``; edit that script instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from relukit._kernels_math import LOOP
'''

LOOPS = """

@njit(**_LOOP)
def {n}_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _{n}_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def {n}_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _{n}_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def {n}_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _{n}_v(_f64(v), a, b, c)
        d[i] = _kink(v, _{n}_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def {n}_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _{n}_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative
"""

NAMES = [
    "elu",
    "selu",
    "celu",
    "softplus",
    "silu",
    "mish",
    "hardswish",
    "hardsigmoid",
    "gelu",
    "gelu_tanh",
    "squareplus",
    "sparse_plus",
]
#: entries with float32 element functions ``_<name>_v32``/``_<name>_d32``: their loops
#: ``<name>_f32_<kind>`` are used for float32 arrays (relukit._kernels.static_plan)
F32 = ["elu", "selu", "celu", "softplus", "silu", "mish", "squareplus"]
out = ROOTS_HEAD + "\n"
# float64 (silu, mish; gelu has no float64 kernel): the full patch on +-0.45
for key in ("silu", "mish"):
    out += root_fn(key, key)
# float32: the direct formulas are accurate to 1e-14 relative from 0.02 of the zero on
# (silu' as (1 + x + e^x) / (1 + e^x), no cancellation but that of the exact 1 + x):
# 8 Taylor terms are enough there (the ninth is below 1e-17 relative)
out += root_fn("silu", "silu32", terms=8, window=0.02)
# gelu, gelu(tanh) (float32 only) and mish: the direct formulas' cancellation leaves
# less than 1e-14 relative error from 0.1 of the zero on (measured against mpmath),
# where 13 (mish 12) Taylor terms suffice
out += root_fn("gelu", "gelu32", terms=13, window=_W)
out += root_fn("gelu_tanh", "gelu_tanh32", terms=13, window=_W)
out += root_fn("mish", "mish32", terms=12, window=_W)
# the loops go to a module of their own (each file under 900 lines), which imports the
# element functions by name
elems = ["_kink"] + [f"_{n}_{k}" for n in NAMES for k in "vd"]
elems += [f"_{n}_{k}32" for n in F32 for k in "vd"]
loops_out = LOOPS_HEAD + "from relukit._kernels_smooth import (\n"
loops_out += (
    "".join(f"    {e},\n" for e in sorted(elems))
    + ")\n\n_LOOP = LOOP  # serial loops (prange is range): relukit._kernels shares out the chunks\n"
    "_f64 = np.float64  # the element functions take float64 (numba's float() keeps float32)\n"
)
for n in NAMES:
    loops_out += LOOPS.format(n=n)
for n in F32:
    loops = LOOPS.format(n=n).replace(f"_{n}_v(", f"_{n}_v32(").replace(f"_{n}_d(", f"_{n}_d32(")
    for kind in ("value", "derivative", "both", "backward"):
        loops = loops.replace(f"def {n}_{kind}(", f"def {n}_f32_{kind}(")
    loops_out += loops
src = pathlib.Path(__file__).parent.parent / "src" / "relukit"
(src / "_kernels_smooth_roots.py").write_text(out.rstrip() + "\n", encoding="utf-8")
(src / "_kernels_smooth_loops.py").write_text(loops_out.rstrip() + "\n", encoding="utf-8")
