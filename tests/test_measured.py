"""The measured numbers: the README and the docs show what the stored results say.

Every accuracy and speed figure of README.md and docs/benchmarks.md is written by
``docs/build_measured.py`` from ``docs/measured/*.json`` (``python tools/measure.py``
measures them again), and docs/experiments.md by ``docs/build_experiments.py`` from the
stored experiment runs. These tests check that the committed pages are what the
generators write now, that no figure sits outside the generated blocks, and, with an
independent reading of the stored results, that the text lists every exception to its
accuracy claims.
"""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MEASURED = DOCS / "measured"
README = ROOT / "README.md"
BENCHMARKS = DOCS / "benchmarks.md"


@pytest.fixture(scope="module")
def gen() -> dict:
    return runpy.run_path(str(DOCS / "build_measured.py"))


def _outside_blocks(text: str) -> str:
    """``text`` without its measured blocks, code blocks and inline code."""
    text = re.sub(r"<!-- measured:([\w-]+) -->.*?<!-- /measured:\1 -->", " ", text, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", " ", text)


def _section(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i : text.index(end, i + len(start))]


#: a measured figure: a number with an error or time unit, or a speed ratio ("1.23x")
FIGURE = re.compile(
    r"\d(?:[\d.,]*\d)?\s*(?:ulp|ns|µs|us|ms|s|GB/s)\b|\d\.\d+\s*x\b|\d+(?:\.\d+)?-\d+(?:\.\d+)?x\b"
)


#: the claims the text makes by design (checked against the stored results below)
CLAIMS = ("0.5 + 1e-6 ulp", "0.5 ulp")


def test_every_accuracy_and_speed_figure_is_generated() -> None:
    """No hand-written figure in the README's Accuracy and Speed sections or the benchmarks page."""
    readme = README.read_text(encoding="utf-8")
    parts = {
        "README accuracy": _section(readme, "### Accuracy", "## Speed"),
        "README speed": _section(readme, "## Speed", "## Plots"),
        "README import time": _section(readme, "## Install", "## A short tour"),
        "benchmarks": _section(
            BENCHMARKS.read_text(encoding="utf-8"), "# Benchmarks", "\n## PyTorch memory"
        ),
    }
    for name, text in parts.items():
        text = _outside_blocks(text)
        for claim in CLAIMS:
            text = text.replace(claim, " ")
        found = FIGURE.findall(text)
        assert found == [], (name, found)


def test_readme_and_docs_show_the_stored_results(gen: dict) -> None:
    data = gen["load"]()
    assert set(data) == set(gen["FILES"]), "a stored result is missing from docs/measured/"
    used = set()
    for path in gen["TARGETS"]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"<!-- measured:([\w-]+) -->", text))
        assert gen["render_text"](text, data) == text, (
            f"{path.name} does not show the stored results: python docs/build_measured.py"
        )
    assert used == set(gen["BLOCKS"]), "a generated block is used nowhere, or unknown"
    assert "measured:accuracy-summary" in README.read_text()


def _worst(row: dict, part: str) -> float:
    """relukit's worst path: NumPy arrays, the NumPy formulas and relukit.torch (results
    stored earlier have the kernels forced on instead of the formulas)."""
    middle = "NumPy formulas" if f"NumPy formulas {part}" in row else "relukit kernels"
    return max(row[f"{p} {part}"] for p in ("relukit", middle, "relukit-torch"))


def test_the_accuracy_text_lists_every_exception_to_its_claims() -> None:
    """Read accuracy.json here, independently of the generator: every relukit error above
    0.5 ulp below float64, or above 4 ulp in float64, is named in the README with its figure."""
    rows = json.loads((MEASURED / "accuracy.json").read_text())
    text = " ".join(README.read_text(encoding="utf-8").split())
    summary = _section(text, "<!-- measured:accuracy-summary -->", "<!-- /measured")
    found = 0
    for row in rows:
        bound = 4.0 if row["dtype"] == "float64" else 0.5 + 1e-3  # (ties: see TIE)
        for part in ("value", "derivative"):
            worst = _worst(row, part)
            if worst <= bound:
                continue
            found += 1
            name = row["entry"] if part == "value" else row["entry"] + "'"
            where = "" if row["dtype"] == "float64" else f" in {row['dtype']}"
            listed = re.search(rf"(?<![\w(]){re.escape(name + where)} \(([^()]*)\)", summary)
            assert listed and f"{worst:.2f}" in listed.group(1), (row, part)
    assert found >= 2  # leaky_relu's and rrelu's float32 slopes at least
    assert "rrelu in float32 (0.83" in summary  # the mean slope 11/48 is not a float32 number


def test_stored_accuracy_has_the_benchmarks_format() -> None:
    """The stored rows are what ``relukit bench accuracy --json`` writes today."""
    pytest.importorskip("torch")
    pytest.importorskip("mpmath")
    from relukit.bench.accuracy import measure

    stored = json.loads((MEASURED / "accuracy.json").read_text())
    fresh = measure(points=40, dtypes=("float32",), entries=("relu",))
    assert set(fresh[0]) == set(stored[0])
    assert {r["entry"] for r in stored} >= {"relu", "gelu(tanh)", "rrelu", "mish"}


def test_results_stored_in_the_earlier_format_still_render(gen: dict) -> None:
    """accuracy.json written before the NumPy formulas had a column (the kernels forced on
    instead) is shown with the columns it has, under their own names."""
    old = {"entry": "gelu", "dtype": "float64", "n": 3}
    for path, v in (("relukit", 5.17), ("relukit kernels", 5.17), ("relukit-torch", 5.47)):
        old |= {f"{path} value": v, f"{path} derivative": 1.0}
    old |= {"PyTorch value": 9e15, "PyTorch derivative": 1.0}
    table = gen["accuracy_table"]({"accuracy": [old]})
    assert "relukit (NumPy / kernels / torch)" in table
    assert "| gelu | float64 | 5.17 / 5.17 / 5.47 | 9.0e15 |" in table
    text = " ".join(gen["accuracy_summary"]({"accuracy": [old]}).split())
    assert "gelu (5.17 on NumPy arrays and its kernels, 5.47 on torch tensors" in text
    new = {k.replace("relukit kernels", "NumPy formulas"): v for k, v in old.items()}
    assert "relukit (kernels / formulas / relukit.torch)" in gen["accuracy_table"](
        {"accuracy": [new]}
    )


def test_the_exact_entries_are_the_catalogues() -> None:
    """The speed text's "entries computed in float64" are all but the generator's EXACT,
    which must be the catalogue's exact formulas (those that run in the input's dtype)."""
    import relukit as rk

    exact = set()
    for act in rk.catalogue():
        variants = act.math.choices[1].values() if act.math.choices else [act.math]
        if all(m.exact for m in variants):
            exact.add(act.name)
    gen = runpy.run_path(str(DOCS / "build_measured.py"))
    assert set(gen["EXACT"]) == exact


def test_stored_sweep_covers_every_entry_and_the_table_sizes(gen: dict) -> None:
    import relukit as rk

    sweep = json.loads((MEASURED / "sweep.json").read_text())
    entries = {r["entry"] for r in sweep["rows"]}
    assert {a.name for a in rk.catalogue()} | {"gelu(tanh)"} <= entries
    assert set(gen["TABLE_SIZES"]) <= set(sweep["sizes"])


def test_measure_tool_writes_every_stored_file(gen: dict) -> None:
    tool = runpy.run_path(str(ROOT / "tools" / "measure.py"))
    commands = " ".join(" ".join(c) for cmds in tool["STEPS"].values() for c in cmds)
    for stem in gen["FILES"]:
        if stem != "machine":  # written by the tool itself
            assert f"{{out}}/{stem}.json" in commands, stem
    assert "measure:" in (ROOT / "Makefile").read_text()


@pytest.mark.torch
def test_under_load_writes_json(tmp_path: Path) -> None:
    from relukit.cli import main

    out = tmp_path / "under_load.json"
    assert main(["bench", "speed", "--under-load", "1", "--repeat", "2", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["busy_processes"] == 1 and doc["size"] == 4_000_000
    assert 0 < doc["idle_s"]["min"] <= doc["idle_s"]["median"]
    assert 0 < doc["loaded_s"]["min"] <= doc["loaded_s"]["median"]


def test_floors_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "floors.json"
    floors = runpy.run_path(str(ROOT / "benchmarks" / "floors.py"))
    assert (
        floors["main"](["--size", "4096", "--small", "8192", "--repeat", "2", "--json", str(out)])
        == 0
    )
    doc = json.loads(out.read_text())
    for piece in ("widen and round", "exp", "division", "erfcx", "rk.silu (whole kernel)"):
        assert doc["single_thread_s"][piece]["median"] > 0, piece
    assert any(k.startswith("rk.relu") for k in doc["calls_s"])


def test_experiments_page_is_current_and_has_every_experiment() -> None:
    gen = runpy.run_path(str(DOCS / "build_experiments.py"))
    page = (DOCS / "experiments.md").read_text(encoding="utf-8")
    assert page == gen["render"](), "run python docs/build_experiments.py"
    from relukit.cli.experiment import EXPERIMENTS

    sections = re.split(r"^## ", page, flags=re.M)[1:]
    assert len(EXPERIMENTS) >= 6
    for name in (e.name for e in EXPERIMENTS):
        section = next((s for s in sections if s.startswith(f"{name}:")), None)
        assert section is not None, f"docs/experiments.md has no section for {name}"
        assert f"relukit experiment {name}" in section, name
        figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section)
        assert figures, f"{name} has no figure"
        for fig in figures:
            assert (DOCS / fig).is_file(), fig
        assert "Claims" in section and "**" in section, f"{name} states no claims"


def test_claim_verdicts_follow_the_interval() -> None:
    gen = runpy.run_path(str(DOCS / "build_experiments.py"))
    verdict = gen["verdict"]
    assert verdict({"supported": True, "interval": [0.1, 0.3]}) == "supported"
    assert verdict({"supported": False, "interval": [-2.59, 46.77]}) == "inconclusive"
    assert verdict({"supported": False, "interval": [-0.14, -0.03]}) == "contradicted"
    assert verdict({"supported": False, "interval": None}) == "not supported"
    assert (
        verdict({"supported": False, "interval": None, "verdict": "inconclusive"}) == "inconclusive"
    )


def test_markers_stand_alone_or_inside_a_sentence() -> None:
    """A block's markers are on lines of their own, or inside a line that starts with text:
    a line that starts with an HTML comment would be a raw HTML block in Markdown, and the
    figure after it would lose its formatting."""
    for path in (README, BENCHMARKS):
        for line in path.read_text(encoding="utf-8").splitlines():
            s = line.strip()
            if re.fullmatch(r"<!-- /?measured:[\w-]+ -->", s):
                continue
            assert not s.startswith("<!-- measured:"), (path.name, line)
