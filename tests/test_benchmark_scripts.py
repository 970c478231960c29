"""The scripts in benchmarks/ and tools/ that no CLI command runs still run (small sizes)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, folder: str = "benchmarks"):
    path = ROOT / folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _figures(line: str) -> list[float]:
    return [float(v) for v in re.findall(r"\d+\.\d+", line)]


def test_floors_prints_every_piece_and_the_call_costs(capsys):
    from relukit import _kernels

    threads = _kernels.THREADS
    assert _load("floors").main(["--size", "4096", "--small", "8192", "--repeat", "2"]) == 0
    assert threads == _kernels.THREADS  # the single-thread part puts the count back
    out = capsys.readouterr().out
    for row in (
        "widen and round",
        "exp",
        "division",
        "erfcx",
        "rk.silu (whole kernel)",
        "rk.gelu (whole kernel)",
        "numba parallel region alone",
        "relukit's relu loop, parallel, called directly",
        "rk.relu(x), the whole call",
    ):
        line = next(v for v in out.splitlines() if v.strip().startswith(row))
        figures = _figures(line)
        assert figures and all(f > 0 for f in figures[:2]), line


def test_kernel_ns_prints_relu(capsys):
    assert _load("kernel_ns").main(["--size", "4096", "--repeat", "2", "--only", "relu"]) == 0
    out = capsys.readouterr().out
    assert "ns/element" in out
    rows = [v for v in out.splitlines() if v.startswith("relu ")]
    # with torch: relu's value and derivative, each with two timings and a ratio
    assert len(rows) == (2 if importlib.util.find_spec("torch") else 0)
    assert all(len(_figures(v)) == 5 for v in rows)


def test_count_f32_ties_agrees_with_exact_fractions():
    # 65,536 consecutive float32 values from 0.125 on: ties counted with Fractions
    from fractions import Fraction

    import numpy as np

    mod = _load("count_f32_ties", "tools")
    lo = 0x3E000000
    xs = np.arange(lo, lo + (1 << 16), dtype=np.uint32).view(np.float32)
    ties = 0
    for x in xs.tolist():
        q = (Fraction(x) + 3) / 6
        f = np.float32(float(q))
        if Fraction(float(f)) == q:
            continue
        g = np.nextafter(f, np.float32(np.inf) if Fraction(float(f)) < q else np.float32(-np.inf))
        ties += (Fraction(float(f)) + Fraction(float(g))) / 2 == q
    assert ties > 0
    assert mod._count(lo, lo + (1 << 16)) == ties
