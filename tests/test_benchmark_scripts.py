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

    before = _kernels.settings()
    assert _load("floors").main(["--size", "4096", "--small", "8192", "--repeat", "2"]) == 0
    assert _kernels.settings() == before  # the single-thread part puts the count back
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


def test_kernel_ns_prints_relu(capsys, monkeypatch):
    from _values import SettingsSpy
    from relukit import _kernels

    seen: list[int] = []
    monkeypatch.setattr(_kernels, "_SETTINGS", SettingsSpy(_kernels._SETTINGS, seen))
    assert _load("kernel_ns").main(["--size", "4096", "--repeat", "2", "--only", "relu"]) == 0
    assert seen[1:] and set(seen[1:]) == {1}  # relukit's kernels on one thread
    out = capsys.readouterr().out
    assert "ns/element" in out
    rows = [v for v in out.splitlines() if v.startswith("relu ")]
    # with torch: relu's value and derivative, each with two timings and a ratio
    assert len(rows) == (2 if importlib.util.find_spec("torch") else 0)
    assert all(len(_figures(v)) == 5 for v in rows)


def test_kernel_ns_prints_the_gated_units_against_the_composite(capsys):
    pytest.importorskip("torch")
    args = ["--size", "4096", "--repeat", "2", "--only", "swiglu", "geglu_tanh"]
    assert _load("kernel_ns").main(args) == 0
    out = capsys.readouterr().out
    for name in ("swiglu", "geglu_tanh"):
        rows = [v for v in out.splitlines() if v.startswith(name + " ")]
        assert [v.split()[1] for v in rows] == ["value", "deriv"], out
        assert all(len(_figures(v)) == 5 and min(_figures(v)) > 0 for v in rows)
    assert "relu " not in out  # (--only)


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


def test_check_f32_sixth_finds_no_difference_on_a_slice():
    # the full check runs every float32 in (-3, 3); here the subnormals, a block next to
    # 0.5 and the last block below 3, of both signs
    mod = _load("check_f32_sixth", "tools")
    plans = mod._plans()
    bad = {name: 0 for name, *_ in mod.CASES}
    for lo, hi in ((0, 1 << 16), (0x007F0000, 0x00810000), (0x3F000000, 0x3F010000),
                   (0x403F0000, 0x40400000)):  # fmt: skip
        mod._chunk(lo, hi, bad, plans)
        mod._chunk(lo | 0x80000000, hi | 0x80000000, bad, plans)
    assert bad == {name: 0 for name, *_ in mod.CASES}


def test_fit_f32_polys_fits_what_numba32_uses():
    # the script's fits are the polynomials of the lean primitives (their first
    # coefficients, and a worst error far below the 6e-14 budget)
    pytest.importorskip("mpmath")
    import inspect

    from relukit._prims import numba32

    mod = _load("fit_f32_polys", "tools")
    coeffs, worst = mod.fit("exp")
    assert worst < 1e-15
    assert repr(coeffs[0]) in inspect.getsource(numba32._exp_poly32)


def test_first_call_times_fresh_processes_and_splits_the_first_call(capsys, tmp_path):
    import json

    out = tmp_path / "first_call.json"
    args = ["--runs", "1", "--entry", "relu", "--size", "1000", "--json", str(out)]
    assert _load("first_call").main(args) == 0
    r = json.loads(out.read_text())
    assert (r["entry"], r["size"], r["dtype"], r["runs"]) == ("relu", 1000, "float32", 1)
    for key in ("import_s", "first_call_s", "later_call_s", "numba_import_s", "kernel_load_s"):
        assert 0 < r[key]["min"] <= r[key]["median"], key
    # a later call pays neither numba's import nor the kernels' load (microseconds against
    # a good part of a second). (Loading from the cache against compiling relu is not
    # compared: both import numba, and relu compiles in about the time the kernels load,
    # so which is first depends on the machine's load.)
    assert r["later_call_s"]["median"] < r["first_call_s"]["median"]
    assert r["compile_s"] > 0
    assert isinstance(r["scipy_imported_by_numba"], bool)
    text = capsys.readouterr().out
    assert "import numba" in text and "empty cache" in text


def test_torch_call_floor_prints_the_three_models_and_the_route_times(capsys):
    pytest.importorskip("torch")
    assert _load("torch_call_floor").main(["--rounds", "2"]) == 0
    out = capsys.readouterr().out
    for row in ("torch.nn ReLU", "relukit.torch ReLU", "minimal Function", "route check"):
        line = next(s for s in out.splitlines() if row in s)
        assert all(v > 0 for v in _figures(line)), line


def test_idle_gap_prints_every_row_with_a_time_per_gap(capsys):
    from relukit import _kernels

    before = _kernels.settings()
    assert _load("idle_gap").main(["--size", "8192", "--calls", "2"]) == 0
    assert _kernels.settings() == before  # the one-thread rows put the count back
    out = capsys.readouterr().out
    rows = ["relukit, default threads", "relukit, 1 thread", "relukit, pool threads"]
    try:
        import torch  # noqa: F401

        rows += ["torch, 2 threads", "torch, 1 thread"]
    except ImportError:  # pragma: no cover - optional peer
        pass
    for row in rows:
        line = next(v for v in out.splitlines() if v.startswith(row))
        figures = [float(v) for v in re.findall(r"\d+", line[26:])]
        assert len(figures) == 8 and all(f >= 0 for f in figures), line
