"""What the first calls of a process cost: ``import relukit``, numba, loading the kernels.

    PYTHONPATH=src python benchmarks/first_call.py [--runs 5] [--entry gelu]
        [--size 1000000] [--dtype float32] [--json F]

``import relukit`` imports neither NumPy nor numba. The first call that needs a kernel
(any NumPy float array; a Python float given to an entry that is not piecewise linear)
imports numba, which takes a while and, when SciPy is installed, imports parts of it;
then relukit loads the compiled kernels that call uses from its disk cache (or compiles
them, when the cache is empty). Later calls pay neither.

Every figure comes from fresh Python processes, all sharing one new, empty kernel cache
(``NUMBA_CACHE_DIR`` set to a temporary directory, so that your own cache is neither
used nor changed):

1. one process fills the cache: its first call compiles the kernels
   (``compile_s``);
2. then ``--runs`` pairs of processes load them from the cache. In each pair, one
   process times ``import relukit`` and its first call ``rk.<entry>(x)`` on ``--size``
   elements (``import_s``, ``first_call_s``) and the median of five later calls
   (``later_call_s``); the other imports numba and compiles a one-line function by hand
   before its first call, which splits that call into importing numba
   (``numba_import_s``), numba's start (``numba_start_s``: the first function of a
   process makes numba load its NumPy support, which imports SciPy's BLAS bindings when
   SciPy is installed; a trivial function compiles in a few ms) and relukit's own part,
   loading the kernels the call uses (``kernel_load_s``).

It prints the median and the minimum over the runs; ``--json F`` writes them (seconds)
to ``F``, as ``tools/measure.py`` stores them in ``docs/measured/first_call.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: what one fresh process runs; prints one JSON line
CHILD = """
import json, sys, time
t0 = time.perf_counter()
import relukit as rk
t_import = time.perf_counter() - t0
import numpy as np
x = np.linspace(-4.0, 4.0, {size}, dtype="{dtype}")
out = {{"import_s": t_import}}
if {staged}:
    t0 = time.perf_counter()
    import numba
    out["numba_import_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    numba.njit(lambda v: v + 1.0)(1.0)  # numba's start: its first function loads its
    out["numba_start_s"] = time.perf_counter() - t0  # NumPy support (and SciPy's BLAS)
    out["scipy_after_numba"] = "scipy" in sys.modules
f = getattr(rk, "{entry}")
t0 = time.perf_counter()
f(x)
out["first_s"] = time.perf_counter() - t0
later = []
for _ in range(5):
    t0 = time.perf_counter()
    f(x)
    later.append(time.perf_counter() - t0)
out["later_s"] = sorted(later)[2]
print(json.dumps(out))
"""


def _child(entry: str, size: int, dtype: str, staged: bool, cache: str) -> dict[str, float]:
    code = CHILD.format(entry=entry, size=size, dtype=dtype, staged=staged)
    src = str(ROOT / "src")
    path = os.environ.get("PYTHONPATH", "")
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": cache,
        "PYTHONPATH": src + (os.pathsep + path if path else ""),
    }
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    if res.returncode != 0:
        raise RuntimeError(f"the child process failed: {res.stderr.strip()[-1000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values)}


def measure(entry: str = "gelu", size: int = 10**6, dtype: str = "float32", runs: int = 5) -> dict:
    """The figures of the module docstring, as a JSON-ready dict."""
    if runs < 1:
        raise ValueError(f"--runs must be at least 1, got {runs}")
    with tempfile.TemporaryDirectory() as cache:
        cold = _child(entry, size, dtype, False, cache)
        direct, staged = [], []
        for _ in range(runs):
            direct.append(_child(entry, size, dtype, False, cache))
            staged.append(_child(entry, size, dtype, True, cache))
    return {
        "entry": entry,
        "size": size,
        "dtype": dtype,
        "runs": runs,
        "compile_s": cold["first_s"],
        "import_s": _stats([r["import_s"] for r in direct]),
        "first_call_s": _stats([r["first_s"] for r in direct]),
        "later_call_s": _stats([r["later_s"] for r in direct]),
        "numba_import_s": _stats([r["numba_import_s"] for r in staged]),
        "numba_start_s": _stats([r["numba_start_s"] for r in staged]),
        "kernel_load_s": _stats([r["first_s"] for r in staged]),
        "scipy_imported_by_numba": any(r["scipy_after_numba"] for r in staged),
    }


def _fmt(s: float) -> str:
    return f"{s * 1e3:8.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="pairs of fresh processes (5)")
    parser.add_argument("--entry", default="gelu", help="the catalogue entry called (gelu)")
    parser.add_argument("--size", type=int, default=10**6, help="elements (1000000)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--json", metavar="F", help="write the figures (seconds) to F")
    args = parser.parse_args(argv)
    r = measure(args.entry, args.size, args.dtype, args.runs)
    print(
        f"rk.{r['entry']}(x), x: {r['size']:,} {r['dtype']} elements; fresh processes, "
        f"median (min) of {r['runs']}"
    )
    rows = [
        ("import relukit", r["import_s"]),
        ("first call, whole", r["first_call_s"]),
        ("  import numba", r["numba_import_s"]),
        ("  numba's start (its first function)", r["numba_start_s"]),
        ("  then the call (loads relukit's kernels)", r["kernel_load_s"]),
        ("later call (median of 5 in a process)", r["later_call_s"]),
    ]
    for label, s in rows:
        print(f"  {label:<40} {_fmt(s['median'])} ({_fmt(s['min']).strip()})")
    print(f"  {'first call, empty cache (compiles)':<40} {_fmt(r['compile_s'])}")
    print(f"  numba imported SciPy: {'yes' if r['scipy_imported_by_numba'] else 'no'}")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
