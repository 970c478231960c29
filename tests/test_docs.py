"""The documentation: generated pages are current, and every public name is documented.

The site itself is built by ``make docs`` (``mkdocs build --strict``) in CI; these tests
check what the build cannot: that the committed generated pages are what the generators
write now, and that the reference covers the whole public API.
"""

from __future__ import annotations

import html
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
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


def test_docs_name_only_settings_that_are_read() -> None:
    """Every ``RELUKIT_*`` environment variable that the README, the docs or a docstring
    names is one that relukit (or its test suite) reads: a removed setting (the kernels'
    old size threshold) would send users to a variable that does nothing."""
    texts = [ROOT / "README.md", *DOCS.rglob("*.md"), *(ROOT / "src").rglob("*.py")]
    named = set()
    for path in texts:
        named |= set(re.findall(r"\bRELUKIT_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    code = [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    read = set()
    for path in code:
        read |= set(
            re.findall(r"environ\.get\(\s*[\"'](RELUKIT_[A-Z0-9_]+)", path.read_text("utf-8"))
        )
    assert {"RELUKIT_DISABLE_KERNELS", "RELUKIT_NUM_THREADS"} <= read  # the search works
    assert named <= read, sorted(named - read)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as ``make docs`` builds it (``mkdocs build --strict``), once per module."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    out = tmp_path_factory.mktemp("site")
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def _article(page: Path) -> str:
    """The page's content (no navigation, header or footer)."""
    text = page.read_text(encoding="utf-8")
    found = re.search(r"<article.*?</article>", text, flags=re.S)
    assert found, page
    return found.group(0)


def _text(html_text: str) -> str:
    """Visible text of an HTML fragment without its formulas (``arithmatex`` elements)."""
    html_text = re.sub(r'<(span|div) class="arithmatex">.*?</\1>', " ", html_text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", html_text))


@pytest.mark.slow
def test_site_builds_without_warnings(site: Path) -> None:
    api = (site / "reference" / "api" / "index.html").read_text()
    for name in ("relukit.catalogue.Activation", "relukit.diagnose.diagnose", "relukit.plot.plot"):
        assert f'id="{name}"' in api
    pytest.importorskip("torch")
    import relukit.torch as rt

    pages = api + (site / "reference" / "torch" / "index.html").read_text()
    for name in rt.__all__:  # every name relukit.torch exports is rendered
        assert re.search(rf'id="relukit\.torch\.(\w+\.)?{name}"', pages), name


KATEX_VERSION = "0.19.1"


@pytest.mark.slow
def test_formulas_are_rendered_by_katex_from_the_site_itself(site: Path) -> None:
    """Every page with a formula loads KaTeX, its CSS and fonts from the site's own files."""
    pages = [p for p in site.rglob("*.html") if 'class="arithmatex"' in p.read_text()]
    assert site / "catalogue" / "index.html" in pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        scripts = re.findall(r'<script src="([^"]+)"', text)
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', text)
        # offline: no script, style sheet, font or image from another host
        loaded = re.findall(r'<(?:link|script|img)\b[^>]*\b(?:src|href)="([^"]+)"', text)
        for url in loaded:
            assert not re.match(r"(https?:)?//", url), (page, url)
            assert (page.parent / url.split("?")[0]).resolve().exists(), (page, url)
        for needed in ("katex.min.js", "auto-render.min.js", "javascripts/katex.js"):
            assert any(s.split("?")[0].endswith(needed) for s in scripts), (page, needed)
        assert any(s.split("?")[0].endswith("katex.min.css") for s in styles), page
    katex = site / "assets" / "katex"
    assert f'version:"{KATEX_VERSION}"' in (katex / "katex.min.js").read_text()
    assert "KaTeX " + KATEX_VERSION in (katex / "VENDORED.txt").read_text()
    assert "MIT License" in (katex / "LICENSE").read_text()
    # every font the stylesheet asks for first (woff2: what browsers load) is served
    css = (katex / "katex.min.css").read_text()
    fonts = re.findall(r"url\((fonts/[^)]+\.woff2)\)", css)
    assert len(fonts) >= 20
    for font in fonts:
        assert (katex / font).is_file(), font


def _chromium() -> str:
    """The path of a headless-capable Chromium; CI must have one (``.ci/run`` installs it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail(
            "CI must install chromium (apt-get install -y chromium): the site tests need it"
        )
    pytest.skip("no chromium: the rendered-page tests need a headless browser")


#: run after the page's own scripts (KaTeX's included); writes what it measured into the
#: page as JSON, which ``--dump-dom`` prints
_PROBE = r"""
<script>
window.addEventListener("load", () => {
  const out = {math: document.querySelectorAll(".arithmatex").length,
               katex: document.querySelectorAll(".arithmatex .katex").length,
               errors: document.querySelectorAll(".katex-error").length,
               raw: [...document.querySelectorAll(".arithmatex")]
                      .filter(e => /\\\[|\\\(/.test(e.textContent) && !e.querySelector(".katex"))
                      .length,
               cut: [], broken: []};
  for (const t of document.querySelectorAll("article table")) {
    const box = t.parentElement;
    if (box.scrollWidth > box.clientWidth + 1 || t.getBoundingClientRect().right >
        document.querySelector("article").getBoundingClientRect().right + 1) {
      out.cut.push(t.rows[0].textContent.trim().slice(0, 60));
    }
    for (const c of t.querySelectorAll("code")) {
      // a name without spaces laid out on two lines was broken inside the name
      if (!/\s/.test(c.textContent.trim()) && c.getClientRects().length > 1) {
        out.broken.push(c.textContent);
      }
    }
  }
  const pre = document.createElement("pre");
  pre.id = "relukit-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _probe(page: Path, width: int = 1280) -> dict:
    """Open ``page`` in headless Chromium at ``width`` px and return what _PROBE measured."""
    browser = _chromium()
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--window-size={width},2000",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probed.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    found = re.search(r'<pre id="relukit-probe">(.*?)</pre>', res.stdout, flags=re.S)
    assert found, (res.returncode, res.stderr[-2000:])
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.slow
def test_formulas_render_in_a_browser(site: Path) -> None:
    """The catalogue's formulas come out as KaTeX, not as raw LaTeX."""
    got = _probe(site / "catalogue" / "index.html")
    assert got["math"] >= 36, got
    assert got["katex"] == got["math"] and got["raw"] == 0 and got["errors"] == 0, got


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [
        "catalogue",
        "conventions",
        "benchmarks",
        "experiments",
        "reference/api",
        "reference/activations",
    ],
)
def test_tables_fit_at_1280_pixels(site: Path, page: str) -> None:
    """No table is cut off at an ordinary width, and no name in a table is broken."""
    got = _probe(site / page / "index.html")
    assert {"cut": got["cut"], "broken": got["broken"]} == {"cut": [], "broken": []}


@pytest.mark.slow
def test_api_pages_show_examples_as_code_and_link_their_references(site: Path) -> None:
    for name in ("api", "torch", "activations"):
        article = _article(site / "reference" / name / "index.html")
        text = _text(article)
        # a doctest outside a code block would be a Markdown quote (">>>")
        assert "<blockquote" not in article, name
        assert not re.search(r":(class|func|meth|attr|mod|data|exc|obj|math):", text), name
        # no private names: relukit._kernels, _try_fast_path, relukit.torch._functions
        private = re.findall(r"(?<![\w.])(?:[A-Za-z]\w*\.)*_[A-Za-z]\w*", text)
        assert private == [], (name, sorted(set(private)))
    api = _article(site / "reference" / "api" / "index.html")
    prompts = re.findall(r'<span class="gp">&gt;&gt;&gt; </span>', api)
    # the examples of catalogue(), bind, kink_points, call_signatures, display_name, the
    # torch and JAX modules, function, make_module, make, and those of Examples sections
    for obj in (
        "relukit.catalogue.catalogue",
        "relukit.catalogue.Activation.bind",
        "relukit.catalogue.Activation.kink_points",
        "relukit.catalogue.display_name",
        "relukit.torch",
        "relukit.torch.function",
        "relukit.torch.make_module",
        "relukit.jax",
        "relukit.jax.make",
    ):
        start = api.index(f'id="{obj}"')
        section = api[start : start + 6000]
        assert '<span class="gp">&gt;&gt;&gt; </span>' in section, obj
    assert len(prompts) >= 40
    # Sphinx roles became links to the sections they name
    for link in (
        "relukit.catalogue.Activation",
        "relukit.catalogue.get",
        "relukit.catalogue.Activation.derivative",
        "relukit.diagnose.diagnose",
        "relukit.diagnose.recycle",
        "relukit.diagnose.ContinualBackprop.step",
        "relukit.diagnose.DeadUnitMonitor.attach",
        "relukit.diagnose.SiteReport",
    ):
        assert f'href="#{link}"' in api, link


def test_changelog_has_a_release_section_for_the_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{rk.__version__}] - " in text
    assert text.index("## [Unreleased]") < text.index(f"## [{rk.__version__}]")
