"""The Triton primitives in float32: the namespace ``m`` of the CUDA kernels for float16
and bfloat16 tensors (computed in float32 and rounded once, as PyTorch does).

The functions are those of :mod:`relukit._prims.triton64` (Triton's own operations in
the working dtype); only the precision facts differ. Imported only when a CUDA kernel is
made (or by the tests).
"""

from __future__ import annotations

from relukit._prims.triton64 import (  # noqa: F401  (the namespace)
    BACKEND,
    JIT,
    LEAN,
    clip,
    div,
    erfcx,
    exp,
    expm1,
    expm1_neg,
    fma,
    isinf,
    log1p01,
    lower_patch,
    lower_poly,
    pos,
    prepare_globals,
    prod_err,
    sigmoid,
    sigmoid2,
    sqrt,
    square_err,
    times_exp,
    tiny_half,
    where,
)

#: the working precision is float32 (the results are float16 or bfloat16)
F32 = True
#: below it exp(x) is subnormal in float32
EXP_TAIL = -80.0
