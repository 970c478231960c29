"""The documentation: generated pages are current, and every public name is documented.

The site itself is built by ``make docs`` (``mkdocs build --strict``) in CI; these tests
check what the build cannot: that the committed generated pages are what the generators
write now, and that the reference covers the whole public API.
"""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import relukit as rk

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _generator(name: str) -> dict:
    return runpy.run_path(str(DOCS / name))


def test_cli_reference_is_current() -> None:
    page = (DOCS / "reference" / "cli.md").read_text()
    assert page == _generator("build_cli.py")["render"](), "run python docs/build_cli.py"


def test_activation_reference_and_gallery_are_current() -> None:
    gen = _generator("build_api.py")
    assert (DOCS / "reference" / "activations.md").read_text() == gen["render"](), (
        "run python docs/build_api.py"
    )
    assert (DOCS / "gallery.md").read_text() == gen["render_gallery"]()
    assert (DOCS / "reference" / "torch.md").read_text() == gen["render_torch"]()


def test_cli_reference_has_every_command_and_option() -> None:
    import argparse

    from relukit.cli import build_parser

    page = (DOCS / "reference" / "cli.md").read_text()
    todo = [("relukit", build_parser())]
    while todo:
        name, parser = todo.pop()
        assert f"## {name} " in page or f"# {name} " in page, name
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{name} {k}", p) for k, p in action.choices.items()]
            for flag in action.option_strings:
                assert flag in page, (name, flag)


def test_every_public_name_is_in_the_reference() -> None:
    api = (DOCS / "reference" / "api.md").read_text()
    acts = (DOCS / "reference" / "activations.md").read_text()
    directives = set(re.findall(r"^::: ([\w.]+)", api, flags=re.M))
    documented = {d.rsplit(".", 1)[-1] for d in directives}
    activation_sections = set(re.findall(r"^## (\w+)$", acts, flags=re.M))
    for name in rk.__all__:
        if name == "__version__":
            continue
        obj = getattr(rk, name)
        if isinstance(obj, rk.Activation):
            assert obj.name in activation_sections, name
            if name != obj.name:  # an alias such as swish
                assert f"`rk.{name}`" in acts, name
        else:
            assert name in documented, f"{name} is missing from docs/reference/api.md"


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.rglob("*.md"):
        rel = page.relative_to(DOCS).as_posix()
        assert rel in nav, f"{rel} is not in mkdocs.yml's nav"


def test_docs_cite_only_files_in_the_repository() -> None:
    """No 'DESIGN §3' or 'CONVENTIONS.md' (files outside the repository) anywhere."""
    texts = [ROOT / "README.md", *DOCS.rglob("*.md"), *(ROOT / "src").rglob("*.py")]
    for path in texts:
        text = path.read_text(encoding="utf-8")
        assert "DESIGN §" not in text and "CONVENTIONS.md" not in text, path
        assert "(DESIGN" not in text and "DESIGN fixes" not in text, path
    for link in re.findall(r"\]\(((?:docs/)[^)#]+)", (ROOT / "README.md").read_text()):
        assert (ROOT / link).exists(), link


@pytest.mark.slow
def test_site_builds_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    api = (tmp_path / "reference" / "api" / "index.html").read_text()
    for name in ("relukit.catalogue.Activation", "relukit.diagnose.diagnose", "relukit.plot.plot"):
        assert f'id="{name}"' in api
    pytest.importorskip("torch")
    import relukit.torch as rt

    pages = api + (tmp_path / "reference" / "torch" / "index.html").read_text()
    for name in rt.__all__:  # every name relukit.torch exports is rendered
        assert re.search(rf'id="relukit\.torch\.(\w+\.)?{name}"', pages), name


def test_changelog_has_a_release_section_for_the_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{rk.__version__}] - " in text
    assert text.index("## [Unreleased]") < text.index(f"## [{rk.__version__}]")
