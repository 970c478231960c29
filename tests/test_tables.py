"""The generated tables: the committed module equals what tools/build_tables.py writes."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import mpmath as mp

from relukit._prims import tables as _tables

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("build_tables", ROOT / "tools/build_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_tables_equal_the_generator_output():
    script = _script()
    committed = (ROOT / "src/relukit/_prims/tables.py").read_text(encoding="utf-8")
    assert committed == script.render(), "run: python tools/build_tables.py"


def test_tables_are_what_they_claim():
    # independent of the generator: the zeros are zeros, the splits add up
    def silu_d(x):
        s = 1 / (1 + mp.exp(-x))
        return s * (1 + x * (1 - s))

    with mp.workdps(40):
        hi, lo = _tables.ROOTS["silu"][0]
        r = mp.mpf(hi) + mp.mpf(lo)
        assert abs(silu_d(r)) < 1e-30
        # the first Taylor coefficient is silu''(r), by numerical differentiation here
        assert abs(mp.diff(silu_d, r) - _tables.ROOTS["silu"][2][0]) < 1e-16
        c, rest, split = _tables.SQRT1_2["float64"]
        assert abs(mp.mpf(c) + mp.mpf(rest) - mp.sqrt(0.5)) < 1e-30
        assert split == 2.0**27 + 1
    assert math.isclose(_tables.INV_SQRT_2PI, 1 / math.sqrt(2 * math.pi), rel_tol=1e-16)
