"""The README's convention table is what the libraries give today (it cannot drift)."""

from __future__ import annotations

from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.torch
@pytest.mark.jax
def test_conventions_table_is_measured() -> None:
    from relukit.conventions import measure, render_markdown

    text = README.read_text()
    start = text.index("<!-- conventions-table:start -->") + len("<!-- conventions-table:start -->")
    end = text.index("<!-- conventions-table:end -->")
    assert text[start:end].strip() == render_markdown(measure()).strip()


def _block(text: str, name: str) -> str:
    start = text.index(f"<!-- {name}:start -->") + len(f"<!-- {name}:start -->")
    return text[start : text.index(f"<!-- {name}:end -->")].strip()


@pytest.mark.torch
@pytest.mark.jax
@pytest.mark.transformers
def test_gated_conventions_table_is_measured() -> None:
    """The gated units' calling conventions in the README and on the conventions page
    are what relukit, PyTorch, JAX and Hugging Face's LlamaMLP give today."""
    from relukit.conventions import GATED_LIBRARIES, measure_gated, render_markdown

    rows = measure_gated()
    table = render_markdown(rows).strip()
    assert _block(README.read_text(), "gated-conventions-table") == table
    page = README.parent / "docs" / "conventions.md"
    assert _block(page.read_text(), "gated-conventions-table") == table
    assert [k for k in rows[0] if k != "question"] == list(GATED_LIBRARIES)
    cells = {r["question"]: r for r in rows}
    split = cells["glu of one array x = [1, 2]"]
    for lib in ("relukit", "PyTorch", "JAX"):  # torch.nn.GLU and jax.nn.glu: the 2nd half
        assert split[lib].endswith("the gate is the 2nd half"), (lib, split[lib])
    two = cells["swiglu of two inputs, gate = 1, up = 2"]
    assert "1st input" in two["relukit"] and "gate_proj" in two["Hugging Face"]
    # relukit's two-input form is Hugging Face's: the same number, measured
    assert two["relukit"].split(":")[0] == two["Hugging Face"].split(":")[0]
    assert "no swiglu" in two["PyTorch"] and "no swiglu" in two["JAX"]


def test_gated_conventions_columns_say_when_a_library_is_missing(monkeypatch) -> None:
    import sys

    from relukit.conventions import measure_gated

    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    rows = measure_gated(libraries=("relukit", "Hugging Face"))
    assert all(r["Hugging Face"] == "not installed" for r in rows)
    assert rows[3]["relukit"] == "0.0"  # reglu'(0) with respect to the gate: PyTorch's


def test_readme_starts_with_the_two_commands() -> None:
    lines = [ln for ln in README.read_text().splitlines() if ln.startswith("make ")]
    assert lines[0].startswith("make demo") and lines[1].startswith("make test")


def test_doctests_compare_printed_numbers_exactly() -> None:
    """The README's, the docs' and the docstrings' outputs are what users see: no loose
    number comparison (doctest's NUMBER would let ``0.01`` stand for
    ``0.009999999776482582`` and ``0.`` for ``-0.``)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    meta = tomllib.loads((README.parent / "pyproject.toml").read_text())
    flags = meta["tool"]["pytest"]["ini_options"]["doctest_optionflags"]
    assert "NUMBER" not in flags, flags
    assert "NUMBER" not in meta["tool"]["pytest"]["ini_options"]["addopts"]


@pytest.mark.jax
def test_readme_jax_gradient_is_what_jax_prints() -> None:
    """The README shows float32 results as Python prints them (float32 0.01 is not 0.01)."""
    import jax
    import numpy as np

    import relukit.jax as rkj

    text = README.read_text()
    shown = repr(float(jax.grad(rkj.leaky_relu)(0.0)))
    assert shown == repr(float(np.float32(0.01)))  # the oracle: float32's nearest to 0.01
    assert f"({shown}, 1.0)" in text
