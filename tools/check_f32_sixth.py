"""Check the float32 loops of hardswish and hardsigmoid on every float32 in (-3, 3).

    python tools/check_f32_sixth.py            # about a minute on 2 cores

Their float32 loops (``hardswish_f32_*``, ``hardsigmoid_f32_*`` in
``src/relukit/_kernels_smooth.py``) multiply by the float64 ``1/6`` where the float64
loops (and the NumPy path) divide by 6. The float64 results differ in the last bit for
about 3e8 of these inputs; this checks that the float32 results are the same for all of
them: the float32 loop on each float32 ``x`` against the float64 loop on ``x`` widened,
rounded to float32 (what the NumPy path computes: tests/test_kernels.py). Outside
(-3, 3) both loops take the same branches (``x``, 0, 1). Prints the count of inputs
whose results differ, per loop (all zeros expected), and exits 1 if any does.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

from relukit import _kernels_numba as kn

STEP = 1 << 24
# bit patterns of the float32 values in (-3, 3): +0 ... below 3, -0 ... above -3
RANGES = ((0x00000000, 0x40400000), (0x80000000, 0xC0400000))
LOOPS = (
    ("hardswish value", kn.hardswish_f32_value, kn.hardswish_value),
    ("hardswish derivative", kn.hardswish_f32_derivative, kn.hardswish_derivative),
    ("hardsigmoid value", kn.hardsigmoid_f32_value, kn.hardsigmoid_value),
)


def _chunk(start: int, stop: int, bad: dict[str, int]) -> None:
    x32 = np.arange(start, stop, dtype=np.uint32).view(np.float32)
    x64 = x32.astype(np.float64)
    y32, y64 = np.empty_like(x32), np.empty_like(x64)
    p32, q = np.zeros(8, np.float32), np.zeros(8, np.float64)
    p64 = np.zeros(8, np.float64)
    for name, f32, f64 in LOOPS:
        args = (0,) if "derivative" in name else ()
        f32(x32, y32, p32, q, *args)
        f64(x64, y64, p64, q, *args)
        bad[name] += int(
            np.count_nonzero(y32.view(np.uint32) != y64.astype(np.float32).view(np.uint32))
        )


def main() -> int:
    t0 = time.perf_counter()
    chunks = [(s, min(s + STEP, hi)) for lo, hi in RANGES for s in range(lo, hi, STEP)]
    counts = [{name: 0 for name, *_ in LOOPS} for _ in range(2)]

    def work(k: int) -> None:
        for start, stop in chunks[k::2]:
            _chunk(start, stop, counts[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(stop - start for start, stop in chunks)
    print(f"{total} float32 inputs in (-3, 3), {time.perf_counter() - t0:.1f} s")
    failed = False
    for name, *_ in LOOPS:
        n = counts[0][name] + counts[1][name]
        failed |= n > 0
        print(f"  {name:22s} differ: {n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
