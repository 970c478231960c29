"""Regenerate everything in docs/ that comes from the code or the stored results (``make docs``).

Runs, in order, each ``docs/build_*.py`` script: the reference pages, the catalogue and
its figures from the code; the experiments page, and the measured numbers of the README
and ``docs/benchmarks.md``, from the results stored in ``docs/measured/`` (which
``python tools/measure.py`` measures again). None of them runs a benchmark.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(HERE.glob("build_*.py"))
    for script in scripts:
        print(f"docs: running {script.name}", flush=True)
        old_argv = sys.argv
        sys.argv = [str(script)]
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                return int(exc.code) if isinstance(exc.code, int) else 1
        finally:
            sys.argv = old_argv
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
