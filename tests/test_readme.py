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
