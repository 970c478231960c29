"""Write ``src/relukit/_kernels_smooth_roots.py`` (the Taylor patches at the derivatives'
zeros, from ``relukit._tables.ROOTS``, used by the hand-written element functions of
``_kernels_smooth.py``); run at development time, then ``ruff format``:

    PYTHONPATH=src python tools/gen_kernels_smooth.py
    ruff format src/relukit/_kernels_smooth_roots.py

The loops around the element functions are not generated: ``_kernels_smooth.py`` plugs
them from the templates of ``_kernels_loops.py``. The kernels' disk cache is keyed by the
content of every kernel source file (``relukit._kernel_cache``), this one's output
included: the next process compiles them again with the new patches.
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

from relukit._kernel_cache import njit
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


out = ROOTS_HEAD + "\n"
# float64 (silu, mish): the full patch on +-0.45; gelu on +-0.55, where its 22 terms are
# still within 3 ulp (measured against mpmath) and the direct formula, just outside,
# within 5
for key in ("silu", "mish"):
    out += root_fn(key, key)
out += root_fn("gelu", "gelu", window=0.55)
# float32: the direct formulas are accurate to 1e-14 relative from 0.02 of the zero on
# (silu' as (1 + x + e^x) / (1 + e^x), no cancellation but that of the exact 1 + x):
# 8 Taylor terms are enough there (the ninth is below 1e-17 relative)
out += root_fn("silu", "silu32", terms=8, window=0.02)
# gelu, gelu(tanh) and mish in float32: the direct formulas' cancellation leaves
# less than 1e-14 relative error from 0.1 of the zero on (measured against mpmath),
# where 13 (mish 12) Taylor terms suffice
out += root_fn("gelu", "gelu32", terms=13, window=_W)
out += root_fn("gelu_tanh", "gelu_tanh32", terms=13, window=_W)
out += root_fn("mish", "mish32", terms=12, window=_W)
src = pathlib.Path(__file__).parent.parent / "src" / "relukit"
(src / "_kernels_smooth_roots.py").write_text(out.rstrip() + "\n", encoding="utf-8")
