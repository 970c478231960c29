"""float16 <-> float64 conversions for the kernels' float16 path, as numba loops (a leaf).

The kernels compute a float16 array in float64: widen, run the float64 loop, round once
to float16. NumPy converts float16 one element at a time
(about 2 ns an element from float64 on this project's machine, more than the kernel);
these loops convert with integer operations on the bits, which LLVM vectorises, and
give NumPy's results bit for bit: float16 -> float64 is exact (subnormals, ±inf, NaN
payloads in the top significand bits); float64 -> float16 rounds to nearest even from
the float64 directly (no float32 step), with float16 subnormals, ±inf from 65520 on,
and NaN payloads as NumPy keeps them (``npy_doublebits_to_halfbits``'s rules).
``tests/test_kernels_half.py`` compares them with NumPy on all 65,536 float16 values,
on every tie between neighbouring float16 values and on the float64 values next to
them.

Importing this module imports numba; the loops compile on first use (cached on disk,
:mod:`relukit._kernel_cache`).
"""

from __future__ import annotations

import numpy as np

from relukit._kernel_cache import njit
from relukit._prims.numba64 import _bits_to_float, _float_to_bits

#: integer and IEEE semantics only, no division checks, the GIL released
FLAGS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": False}

_TWO_M24 = 5.960464477539063e-08  # 2**-24, the smallest float16 subnormal


@njit(**FLAGS, inline="always")
def _h2d(h):  # pragma: no cover - compiled
    # the float64 of the float16 bits h (0 <= h < 65536)
    neg = (h & 0x8000) != 0
    e = h & 0x7C00
    m = h & 0x03FF
    # normal: the exponent rebiased from 15 to 1023, the significand moved up 42 bits
    bits = ((h & 0x7FFF) + 0xFC000) << 42
    if e == 0x7C00:  # ±inf, NaN (payload kept)
        bits = 0x7FF0000000000000 | (m << 42)
    r = _bits_to_float(bits)
    if e == 0:  # zero or subnormal: m 2**-24, exact
        r = m * _TWO_M24
    return -r if neg else r


@njit(**FLAGS, inline="always")
def _d2h(d):  # pragma: no cover - compiled
    # the float16 bits of d rounded to nearest even (NumPy's double-to-half rules)
    b = _float_to_bits(d)
    sign = (b >> 48) & 0x8000
    dexp = b & 0x7FF0000000000000
    dsig = b & 0x000FFFFFFFFFFFFF
    # normal float16 range (2**-14 <= |d| < 65536): round the significand to 10 bits
    # (a half ulp added unless the rest is exactly a tie on an even last bit), then add
    # the rebiased exponent: a carry out of the significand moves into the exponent
    up = 0x0000020000000000 if (dsig & 0x000007FFFFFFFFFF) != 0x0000020000000000 else 0
    h = ((dsig + up) >> 42) + ((dexp - 0x3F00000000000000) >> 42)
    # subnormal float16 (2**-25 <= |d| < 2**-14): the 53-bit significand, shifted so
    # that the kept bits start at bit 53, rounded the same way
    shift = (dexp >> 52) - 998
    shift = 0 if shift < 0 else (10 if shift > 10 else shift)
    sig = (0x0010000000000000 + dsig) << shift
    sub_up = 0x0010000000000000 if (sig & 0x003FFFFFFFFFFFFF) != 0x0010000000000000 else 0
    if dexp <= 0x3F00000000000000:
        h = (sig + sub_up) >> 53
    if dexp < 0x3E60000000000000:  # below 2**-25: a signed zero
        h = 0
    if dexp >= 0x40F0000000000000:  # 65536 and above: inf (NaN: its top payload bits)
        h = 0x7C00
        if dexp == 0x7FF0000000000000 and dsig != 0:
            h = 0x7C00 + (dsig >> 42)
            if h == 0x7C00:
                h = 0x7C01
    return sign + h


@njit(**FLAGS)
def half_to_double(h, out):  # pragma: no cover - compiled
    """``out[i]`` = the float64 of the float16 bits ``h[i]`` (``h``: uint16)."""
    for i in range(h.shape[0]):
        out[i] = _h2d(np.int64(h[i]))


@njit(**FLAGS)
def double_to_half(d, out):  # pragma: no cover - compiled
    """``out[i]`` = the float16 bits of ``d[i]`` rounded to nearest even (``out``: uint16)."""
    for i in range(d.shape[0]):
        out[i] = _d2h(d[i])
