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
