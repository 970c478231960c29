"""Check the float32 kernels of hardswish and hardsigmoid on every float32 in (-3, 3).

    PYTHONPATH=src python tools/check_f32_sixth.py      # about a minute on 2 cores

Their float32 kernels compute the formulas with the lean namespace
(``relukit._prims.numba32``), whose ``div(a, 6)`` multiplies by the float64 ``1/6``,
where the float64 kernels (``relukit._prims.numba64``) divide by 6. The float64 results
differ in the last bit for about 3e8 of these inputs; this checks that the float32
results are the same for all of them: the float32 kernel on each float32 ``x`` against
the float64 kernel on ``x`` widened, rounded to float32 once. Outside (-3, 3) both take
the same branches (``x``, 0, 1). The inputs whose hardswish is ``x / 2`` rounded into the
float32 subnormals (``|x| < 2**-125``) are left out: there the float32 kernel breaks a
tie upwards (``tiny_half``) where rounding the float64 ``x / 2`` would round it to even
(``tests/test_prims.py`` checks every one of them against the correct rounding). Prints
the count of inputs whose results differ, per kernel (all zeros expected), and exits 1
if any does.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

import relukit as rk
from relukit import _kernels

STEP = 1 << 24
# bit patterns of the float32 values in (-3, 3): +0 ... below 3, -0 ... above -3
RANGES = ((0x00000000, 0x40400000), (0x80000000, 0xC0400000))
CASES = (
    ("hardswish value", rk.hardswish, "value"),
    ("hardswish derivative", rk.hardswish, "derivative"),
    ("hardsigmoid value", rk.hardsigmoid, "value"),
)


def _plans() -> list[tuple[str, object, object]]:
    """(name, float32 plan, float64 plan) per case: the kernels' own loops."""
    out = []
    for name, act, kind in CASES:
        p32 = _kernels.plan(act, kind, np.float32, act.bind(), None)
        p64 = _kernels.plan(act, kind, np.float64, act.bind(), None)
        if p32 is None or p64 is None:
            raise SystemExit("the kernels are switched off or numba is missing")
        out.append((name, p32, p64))
    return out


def _chunk(start: int, stop: int, bad: dict[str, int], plans: list) -> None:
    x32 = np.arange(start, stop, dtype=np.uint32).view(np.float32)
    x64 = x32.astype(np.float64)
    subnormal_half = np.abs(x64) < 2.0**-125
    with _kernels.switched(threads=1):
        for name, p32, p64 in plans:
            y32 = p32.run(x32)
            y64 = p64.run(x64).astype(np.float32)
            differ = y32.view(np.uint32) != y64.view(np.uint32)
            if "hardswish value" in name:
                differ &= ~subnormal_half
            bad[name] += int(np.count_nonzero(differ))


def main() -> int:
    t0 = time.perf_counter()
    plans = _plans()
    chunks = [(s, min(s + STEP, hi)) for lo, hi in RANGES for s in range(lo, hi, STEP)]
    counts = [{name: 0 for name, *_ in CASES} for _ in range(2)]

    def work(k: int) -> None:
        for start, stop in chunks[k::2]:
            _chunk(start, stop, counts[k], plans)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(stop - start for start, stop in chunks)
    print(f"{total} float32 inputs in (-3, 3), {time.perf_counter() - t0:.1f} s")
    failed = False
    for name, *_ in CASES:
        n = counts[0][name] + counts[1][name]
        failed |= n > 0
        print(f"  {name:22s} differ: {n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
