"""Count the float32 inputs in (-3, 3) whose hardsigmoid is exactly halfway between two
float32 values (needs numba).

    python tools/count_f32_ties.py            # a few seconds on 2 cores

``(x + 3) / 6`` is such a tie where the exact quotient has 25 significant bits. A
float32 result must round it to even; a float32-arithmetic hardsigmoid (a quotient
corrected with its remainder, in float32) lands on either side of the tie by the
rounding of its constants instead, so it needs an exact tie check. The count says how
often that check decides (docs/benchmarks.md). Each input is checked exactly in float64:
``x + 3`` is exact there (else, for |x| < 2**-29, the quotient has more than 53 bits
and is no tie), the quotient is exact when ``6 q - s`` is 0 (a fused multiply-add), and
it is a tie when it is the midpoint of the two float32 values around it.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from numba import njit, prange

from relukit._prims.numba64 import _fma

# bit patterns of the float32 values in (-3, 3): +0 ... below 3, -0 ... above -3
RANGES = ((0x00000000, 0x40400000), (0x80000000, 0xC0400000))


@njit(parallel=True, cache=False)
def _count(lo: int, hi: int) -> int:  # pragma: no cover - compiled
    block = 1 << 16
    ties = 0
    for b in prange((hi - lo) // block):
        bits = np.arange(lo + b * block, lo + (b + 1) * block, dtype=np.int64).astype(np.uint32)
        xs = bits.view(np.float32)
        for i in range(block):
            x = np.float64(xs[i])
            s = x + 3.0
            if s - 3.0 != x:
                continue  # x + 3 rounded in float64: the quotient is no tie
            q = s / 6.0
            if _fma(q, 6.0, -s) != 0.0:
                continue  # the quotient is not a float64: no tie
            f = np.float32(q)
            if np.float64(f) == q:
                continue  # a float32 itself
            g = np.nextafter(f, np.float32(np.inf) if np.float64(f) < q else np.float32(-np.inf))
            if (np.float64(f) + np.float64(g)) * 0.5 == q:
                ties += 1
    return ties


def main() -> int:
    t0 = time.perf_counter()
    total = sum(hi - lo for lo, hi in RANGES)
    ties = sum(_count(lo, hi) for lo, hi in RANGES)
    print(f"{total} float32 inputs in (-3, 3), {time.perf_counter() - t0:.1f} s")
    print(f"  hardsigmoid (x + 3) / 6 exactly halfway between two float32: {ties}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
