"""The explorer page (``relukit explore``, ``rk.explore``): its numbers are relukit's, its
command line checks first, and in a real browser it loads fast and its controls work.

The browser tests (marked ``browser``) drive Debian's headless Chromium with Selenium:
they move the sliders with the keyboard, click the ``at_kink`` switch, read the numbers
the page prints and compare them with ``rk.<entry>`` at the same points, and save
screenshots (into ``$RELUKIT_SCREENSHOTS`` when set, else the test's temporary folder).
"""

from __future__ import annotations

import html as html_lib
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import relukit as rk

ROOT = Path(__file__).resolve().parents[1]


def page_data(page: str) -> tuple[dict[str, Any], np.ndarray]:
    """The page's metadata and its unpacked float64 numbers."""
    from relukit.explorer._data import Blob

    meta = re.search(r'<script type="application/json" id="rk-meta">(.*?)</script>', page, re.S)
    blob = re.search(r'<script type="application/octet-stream" id="rk-blob">(.*?)</script>', page)
    assert meta and blob
    return json.loads(meta.group(1).replace("<\\/", "</")), Blob.decode(blob.group(1))


def combo(entry: dict[str, Any], **params: Any) -> dict[str, Any]:
    """The precomputed numbers of ``entry`` at these slider values (defaults elsewhere)."""
    index = 0
    for s in entry["sliders"]:
        v = params.get(s["name"], s["values"][s["start"]])
        index = index * len(s["values"]) + s["values"].index(v)
    return entry["combos"][index]


def ref(buf: np.ndarray, r: list[int]) -> np.ndarray:
    return buf[r[0] : r[0] + r[1]]


# ---------------------------------------------------------------------------
# import and availability
# ---------------------------------------------------------------------------


def test_explore_is_exported_lazily_and_stays_a_function() -> None:
    code = (
        "import sys, relukit as rk; light = 'plotly' not in sys.modules;"
        "import relukit.explorer; print(light, callable(rk.explore), 'plotly' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["True", "True", "False"]
    assert "explore" in rk.__all__ and "explore" in dir(rk)


def test_without_plotly_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly -> ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'relukit\[explore\]'"):
        rk.explore("relu", offer=["relu"])
    from relukit.cli import main

    assert main(["explore", "relu", "--only", "--out", str(tmp_path / "p.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "relukit[explore]" in err
    assert not (tmp_path / "p.html").exists()


# ---------------------------------------------------------------------------
# the numbers on the page are relukit's
# ---------------------------------------------------------------------------

SMALL = ["relu", "leaky_relu", "hardtanh", "elu", "softplus", "threshold", "relu6"]


@pytest.fixture(scope="module")
def small_page() -> tuple[str, dict[str, Any], np.ndarray]:
    pytest.importorskip("plotly")
    page = rk.explore("relu", "leaky_relu", offer=SMALL).html
    meta, buf = page_data(page)
    return page, meta, buf


@pytest.mark.plotly
def test_page_numbers_are_relukits_evaluation(small_page: Any) -> None:
    """For every offered activation and every slider combination: the read-out arrays are
    ``act(x)`` and ``act.derivative(x)`` on the grid, the drawn curves are relukit's on
    their own x, and the dot at each kink is ``act.derivative(kink, at_kink=a)``."""
    _, meta, buf = small_page
    grid = ref(buf, meta["grid"])
    choices = [a["value"] for a in meta["atKink"]]
    assert choices == [None, 0.0, 1.0, 0.5]
    assert [e["name"] for e in meta["entries"]] == SMALL
    checked = 0
    for e in meta["entries"]:
        act = rk.get(e["name"])
        names = [s["name"] for s in e["sliders"]]
        values = [s["values"] for s in e["sliders"]]
        import itertools

        for vs, c in zip(itertools.product(*values), e["combos"], strict=True):
            p = dict(zip(names, vs, strict=True))
            if "error" in c:
                with pytest.raises(ValueError) as info:
                    act.bind((), p)
                assert c["error"] == str(info.value)
                continue
            np.testing.assert_array_equal(ref(buf, c["rv"]), act(grid, **p))
            np.testing.assert_array_equal(ref(buf, c["rd"]), act.derivative(grid, **p))
            vx, dx = ref(buf, c["vx"]), ref(buf, c["dx"])
            np.testing.assert_array_equal(ref(buf, c["vy"]), act(vx, **p))
            ok = ~np.isnan(dx)
            np.testing.assert_array_equal(ref(buf, c["dy"])[ok], act.derivative(dx[ok], **p))
            for k, (x, left, right, default) in zip(c["kinks"], act.kink_points(**p), strict=True):
                assert (k["x"], k["left"], k["right"]) == (x, left, right)
                if k.get("far"):
                    continue
                if -10 <= x <= 10:  # the value curve passes through the kink exactly
                    assert x in vx
                assert k["used"] == [act.derivative(x, **p, at_kink=a) for a in choices]
                assert k["used"][0] == default
            checked += 1
    assert checked > 200


@pytest.mark.plotly
def test_page_numbers_against_independent_formulas(small_page: Any) -> None:
    _, meta, buf = small_page
    grid = ref(buf, meta["grid"])
    entries = {e["name"]: e for e in meta["entries"]}
    # the read-out grid: short decimals, 0.02 apart near 0
    assert grid[0] == -10.0 and grid[-1] == 10.0 and 0.38 in grid and -1.5 in grid
    relu = combo(entries["relu"])
    np.testing.assert_array_equal(ref(buf, relu["rv"]), np.maximum(grid, 0.0))
    np.testing.assert_array_equal(ref(buf, relu["rd"]), (grid > 0).astype(float))
    for s in (0.0, 0.01, 0.2, 0.5):
        c = combo(entries["leaky_relu"], negative_slope=s)
        np.testing.assert_array_equal(ref(buf, c["rv"]), np.where(grid > 0, grid, s * grid))
        assert c["kinks"][0]["used"] == [s, 0.0, 1.0, 0.5]
    c = combo(entries["hardtanh"], min_val=-2.0, max_val=0.5)
    np.testing.assert_array_equal(ref(buf, c["rv"]), np.clip(grid, -2.0, 0.5))
    for alpha in (0.5, 1.0, 2.5):
        c = combo(entries["elu"], alpha=alpha)
        want = np.where(grid > 0, grid, [alpha * math.expm1(v) for v in grid])
        np.testing.assert_allclose(ref(buf, c["rv"]), want, rtol=1e-15, atol=0)


@pytest.mark.plotly
def test_gated_entries_are_drawn_against_the_gate_with_up_1() -> None:
    """A gated entry ``f(gate) * up`` is drawn as ``rk.plot(name, up=1)`` draws it: the
    value ``f(x)`` and the derivative with respect to the gate, ``f'(x)``, checked against
    float64 formulas written here; its fixed ``up`` is listed on its card."""
    pytest.importorskip("plotly")
    names = ["glu", "reglu", "swiglu", "bilinear"]
    meta, buf = page_data(rk.explore("glu", offer=names).html)
    grid = ref(buf, meta["grid"])
    entries = {e["name"]: e for e in meta["entries"]}
    assert list(entries) == names
    sig = 1.0 / (1.0 + np.exp(-grid))
    # 1 - sigmoid(t) written as sigmoid(-t): no cancellation for large t
    for beta in (0.5, 1.0, 2.0):
        c = combo(entries["swiglu"], beta=beta)
        sb = 1.0 / (1.0 + np.exp(-beta * grid))
        np.testing.assert_allclose(ref(buf, c["rv"]), grid * sb, rtol=1e-14, atol=1e-300)
        want = sb * (1.0 + beta * grid / (1.0 + np.exp(beta * grid)))
        np.testing.assert_allclose(ref(buf, c["rd"]), want, rtol=1e-13, atol=1e-300)
    c = combo(entries["glu"])
    np.testing.assert_allclose(ref(buf, c["rv"]), sig, rtol=1e-14, atol=0)
    want = sig / (1.0 + np.exp(grid))
    np.testing.assert_allclose(ref(buf, c["rd"]), want, rtol=1e-13, atol=1e-300)
    c = combo(entries["reglu"])
    np.testing.assert_array_equal(ref(buf, c["rv"]), np.maximum(grid, 0.0))
    np.testing.assert_array_equal(ref(buf, c["rd"]), (grid > 0).astype(float))
    assert [(k["x"], k["left"], k["right"]) for k in c["kinks"]] == [(0.0, 0.0, 1.0)]
    assert c["kinks"][0]["used"] == [0.0, 0.0, 1.0, 0.5]
    assert c["zero"] == [[-20.0, 0.0]]
    c = combo(entries["bilinear"])
    np.testing.assert_array_equal(ref(buf, c["rv"]), grid)
    np.testing.assert_array_equal(ref(buf, c["rd"]), np.ones_like(grid))
    for e in entries.values():
        up = [f for f in e["fixed"] if f["name"] == "up"]
        assert [f["value"] for f in up] == ["1.0"], e["name"]


@pytest.mark.plotly
def test_no_gradient_regions(small_page: Any) -> None:
    """Shaded where f'(x) = 0 on an interval: relu below 0, leaky_relu only at slope 0,
    hardtanh outside its bounds, relu6 outside [0, 6], elu nowhere."""
    _, meta, _ = small_page
    entries = {e["name"]: e for e in meta["entries"]}
    assert combo(entries["relu"])["zero"] == [[-20.0, 0.0]]
    assert combo(entries["relu6"])["zero"] == [[-20.0, 0.0], [6.0, 20.0]]
    assert combo(entries["leaky_relu"], negative_slope=0.01)["zero"] == []
    assert combo(entries["leaky_relu"], negative_slope=0.0)["zero"] == [[-20.0, 0.0]]
    assert combo(entries["hardtanh"], min_val=-2.0, max_val=0.5)["zero"] == [
        [-20.0, -2.0],
        [0.5, 20.0],
    ]
    assert combo(entries["elu"], alpha=1.0)["zero"] == []
    assert combo(entries["elu"], alpha=0.0)["zero"] == [[-20.0, 0.0]]
    assert combo(entries["threshold"], threshold=1.0, value=2.0)["zero"] == [[-20.0, 1.0]]
    assert combo(entries["softplus"])["zero"] == []
    # hardtanh with max_val < min_val is refused with the catalogue's own message
    bad = combo(entries["hardtanh"], min_val=1.0, max_val=-1.0)
    assert "max_val" in bad["error"] and "min_val" in bad["error"]


@pytest.mark.plotly
def test_dying_view_counts_dead_units(small_page: Any) -> None:
    """Dead: the derivative is 0 at every input of the unit. For relu that is
    ``max over inputs of z <= 0`` (computed here with NumPy alone); leaky_relu with a
    positive slope never has a dead unit."""
    from relukit.explorer._data import dying_samples

    _, meta, buf = small_page
    entries = {e["name"]: e for e in meta["entries"]}
    d = meta["dying"]
    e = dying_samples()
    assert e.shape == (d["units"], d["inputs"])
    means = np.asarray(d["means"])[:, None, None, None]
    spreads = np.asarray(d["spreads"])[None, :, None, None]
    z = means + spreads * e
    want_dead = (z.max(axis=-1) <= 0).mean(axis=-1).ravel()
    want_share = (z <= 0).mean(axis=(-2, -1)).ravel()
    relu = combo(entries["relu"])
    np.testing.assert_array_equal(ref(buf, relu["dead"]), want_dead)
    np.testing.assert_array_equal(ref(buf, relu["noGrad"]), want_share)
    assert ref(buf, combo(entries["leaky_relu"])["dead"]).max() == 0.0
    flat = combo(entries["leaky_relu"], negative_slope=0.0)
    np.testing.assert_array_equal(ref(buf, flat["dead"]), want_dead)
    # a large negative bias kills relu units: more dead as the mean goes down
    k = d["spreads"].index(1.0)
    by_mean = want_dead.reshape(len(d["means"]), len(d["spreads"]))[:, k]
    assert by_mean[0] > 0.9 and by_mean[d["means"].index(0.0)] < 0.2
    assert all(a >= b for a, b in itertools_pairwise(by_mean))
    counts = ref(buf, d["counts"]).reshape(len(d["means"]) * len(d["spreads"]), -1)
    assert (counts.sum(axis=1) == d["units"] * d["inputs"]).all()


def itertools_pairwise(seq: Any) -> Any:
    import itertools

    return itertools.pairwise(seq)


@pytest.mark.plotly
def test_convention_rows_and_formulas_are_the_catalogues(small_page: Any) -> None:
    from relukit.conventions import measure

    _, meta, _ = small_page
    entries = {e["name"]: e for e in meta["entries"]}
    rows = measure(libraries=("relukit", "tutorials"))
    assert entries["relu"]["conventions"] == [r for r in rows if r["question"].startswith("relu")
                                              and not r["question"].startswith("relu6")]  # fmt: skip
    assert [r["question"] for r in entries["leaky_relu"]["conventions"]] == [
        "leaky_relu'(0), slope 0.01",
        "leaky_relu(-inf), slope 0",
    ]
    assert entries["elu"]["conventions"] == []
    for e in meta["entries"]:
        act = rk.get(e["name"])
        assert (e["latex"], e["derivativeLatex"]) == (act.latex, act.derivative_latex)
        assert [k["note"] for k in e["kinkNotes"]] == [k.note for k in act.kinks]


@pytest.mark.plotly
def test_whole_catalogue_is_offered_and_the_page_is_small() -> None:
    t0 = time.perf_counter()
    page = rk.explore()
    seconds = time.perf_counter() - t0
    meta, _ = page_data(page.html)
    assert [e["name"] for e in meta["entries"]] == [a.name for a in rk.catalogue()]
    assert meta["start"]["shown"] == ["relu", "leaky_relu"]
    print(f"\nexplorer page: {page.size / 1e6:.2f} MB, written in {seconds:.1f} s")
    assert page.size < 4_000_000
    # offline: no address outside the page is loaded
    markup = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", "", page.html, flags=re.S)
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", markup)
    assert markup.count("<script") == 0 and page.html.count("<script") == 6
    # the page is reproducible: the same call writes the same bytes
    assert rk.explore().html == page.html


@pytest.mark.plotly
def test_embedded_plotly_js_is_the_one_plotly_writes_for() -> None:
    import plotly
    from plotly.offline import get_plotlyjs_version

    from relukit.explorer._page import PLOTLY_JS_VERSION, vendor_text

    head = vendor_text("plotly", "plotly-basic.min.js")[:200]
    assert f"v{PLOTLY_JS_VERSION}" in head
    assert get_plotlyjs_version() == PLOTLY_JS_VERSION, plotly.__version__


# ---------------------------------------------------------------------------
# the Python API's arguments
# ---------------------------------------------------------------------------


@pytest.mark.plotly
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"xlim": (-20, 5)}, ValueError, r"xlim must lie within \[-10, 10\].*\(-20, 5\)"),
        ({"xlim": (3, 1)}, ValueError, r"xlim must be finite with low < high, got \(3, 1\)"),
        ({"xlim": "wide"}, TypeError, r"xlim must be a pair of numbers \(low, high\), got 'wide'"),
        ({"at_kink": True}, TypeError, r"at_kink must be None .* got True \(bool\)"),
        ({"at_kink": float("nan")}, ValueError, r"at_kink must be None or a finite .* got nan"),
        ({"libraries": ["numpy"]}, ValueError, r"libraries must be some of relukit, PyTorch"),
        ({"libraries": "relukit"}, TypeError, r"libraries must be a sequence of names"),
        ({"offer": ["elu"]}, ValueError, r"relu, leaky_relu is shown but not offered"),
        ({"offer": []}, ValueError, r"offer must name at least one activation"),
        ({"title": 3}, TypeError, r"title must be a str, got 3 \(int\)"),
        ({"metrics": {"runs": []}}, ValueError, r"not the metrics of a dying-relu run"),
    ],
)
def test_explore_argument_errors(kwargs: dict[str, Any], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        rk.explore(**kwargs)


def test_unknown_activation_is_named() -> None:
    with pytest.raises(rk.UnknownActivationError, match="did you mean 'relu'"):
        rk.explore("reluu")
    with pytest.raises(TypeError, match=r"activations must be activation names .* got 3 \(int\)"):
        rk.explore(3)  # type: ignore[arg-type]


@pytest.mark.plotly
def test_notebook_display_and_save(tmp_path: Path) -> None:
    page = rk.explore("elu", offer=["elu"], xlim=(-3, 2), at_kink=0.25)
    shown = page._repr_html_()
    m = re.fullmatch(r'<iframe [^>]*srcdoc="([^"]*)"></iframe>', shown)
    assert m and html_lib.unescape(m.group(1)) == page.html
    assert 'sandbox="allow-scripts"' in shown
    path = page.save(tmp_path / "elu.html")
    assert path == tmp_path / "elu.html" and path.read_text(encoding="utf-8") == page.html
    meta, _ = page_data(page.html)
    assert meta["start"]["xlim"] == [-3.0, 2.0]
    assert [a["value"] for a in meta["atKink"]] == [None, 0.0, 1.0, 0.5, 0.25]
    assert meta["start"]["atKink"] == 4
    assert repr(page).startswith("<relukit explorer: elu (1 offered), ")


# ---------------------------------------------------------------------------
# metrics.json of a dying-relu run
# ---------------------------------------------------------------------------


def fake_metrics() -> dict[str, Any]:
    """The shape of dying_relu's metrics: two seeds, two variants, two layers."""
    runs = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        for variant, base in (("relu", 0.2), ("leaky_relu", 0.0)):
            runs.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "steps": [0, 25, 50],
                    "dead_fraction": {
                        "hidden 1": [0.0, base + shift, base + 2 * shift],
                        "hidden 2": [0.0, base / 2, base],
                    },
                    "final": {"dead_fraction": base},
                }
            )
    return {
        "config": {"dataset": "digits", "optimizer": "adam", "lr": 0.02, "epochs": 2,
                   "seeds": [0, 1], "negative_slope": 0.01},
        "summary": {"relu": {"dead_fraction_mean": 0.3, "dead_fraction_std": 0.05},
                    "leaky_relu": {"dead_fraction_mean": 0.0, "dead_fraction_std": 0.0}},
        "runs": runs,
    }  # fmt: skip


def test_load_metrics_aggregates_over_seeds(tmp_path: Path) -> None:
    from relukit.explorer import load_metrics

    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(fake_metrics()))
    m = load_metrics(path)
    assert list(m["variants"]) == ["relu", "leaky_relu"]
    h1 = m["variants"]["relu"]["layers"]["hidden 1"]
    assert h1["mean"] == pytest.approx([0.0, 0.25, 0.3])
    assert h1["low"] == [0.0, 0.2, 0.2] and h1["high"] == [0.0, 0.30000000000000004, 0.4]
    assert m["variants"]["relu"]["finalMean"] == 0.3
    assert (m["dataset"], m["seeds"], m["negativeSlope"]) == ("digits", [0, 1], 0.01)
    assert load_metrics(fake_metrics()) == m


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, r"cannot read it \(No such file or directory\)"),
        ("{not json", r"not JSON \(Expecting property name"),
        ('{"config": {}}', r"not the metrics of a dying-relu run \(missing or wrong 'runs'\)"),
        ('{"config": {}, "runs": [], "summary": {}}', r"not the metrics .* 'dataset'"),
    ],
)
def test_load_metrics_errors(tmp_path: Path, content: str | None, match: str) -> None:
    from relukit.explorer import load_metrics

    path = tmp_path / "metrics.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_metrics(path)
    assert str(path) in str(info.value)
    if content is not None:
        assert path.read_text() == content  # left as it was


@pytest.mark.torch
@pytest.mark.plotly
@pytest.mark.slow
def test_a_real_dying_relu_run_is_read(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from relukit.experiments.dying_relu import DyingReluConfig, run_dying_relu
    from relukit.explorer import load_metrics

    cfg = DyingReluConfig(dataset="iris", hidden=(8,), epochs=1, seeds=(0, 1), eval_every=1)
    run_dying_relu(cfg, json_path=tmp_path / "metrics.json", progress_bar=False)
    m = load_metrics(tmp_path / "metrics.json")
    assert set(m["variants"]) == {"relu", "leaky_relu", "elu", "relu+recycle"}
    assert list(m["variants"]["relu"]["layers"]) == ["hidden 1"]
    page = rk.explore("relu", offer=["relu"], metrics=tmp_path / "metrics.json")
    meta, _ = page_data(page.html)
    assert meta["metrics"] == json.loads(json.dumps(m))


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import webbrowser

    urls: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: urls.append(url) or True)
    return urls


@pytest.mark.plotly
def test_cli_out_writes_the_page_and_opens_nothing(
    tmp_path: Path, opened: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from relukit.cli import main

    out = tmp_path / "page.html"
    assert main(["explore", "relu6", "elu", "--only", "--out", str(out), "--at-kink", "1"]) == 0
    assert opened == []
    meta, _ = page_data(out.read_text(encoding="utf-8"))
    assert [e["name"] for e in meta["entries"]] == ["relu6", "elu"]
    assert meta["start"]["xlim"] == [-7.0, 7.0]  # widened to show relu6's kink at 6
    assert meta["atKink"][meta["start"]["atKink"]]["value"] == 1.0
    assert capsys.readouterr().out.startswith(f"wrote {out} (")


@pytest.mark.plotly
def test_cli_without_out_opens_the_browser(
    opened: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from relukit.cli import main

    assert main(["explore", "relu", "--only", "--range", "-2", "2"]) == 0
    assert len(opened) == 1 and opened[0].startswith("file://")
    path = Path(capsys.readouterr().out.split()[1])
    assert path.as_uri() == opened[0] and path.is_file()
    assert main(["explore", "relu", "--only", "--no-browser"]) == 0
    assert len(opened) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "{tmp}/missing/p.html"], "--out {tmp}/missing/p.html: folder '{tmp}/missing' does not exist"),
        (["--out", "{tmp}"], "--out {tmp}: the page is HTML; give a file name ending in .html or .htm (got 'none')"),
        (["--out", "{tmp}/p.png"], "--out {tmp}/p.png: the page is HTML"),
        (["--metrics", "{tmp}/none.json"], "--metrics {tmp}/none.json: cannot read it"),
        (["--range", "-20", "2"], "--range must lie within -10 10 (the range the page samples), got -20 2"),
        (["--range", "2", "1"], "--range must be two finite numbers LOW < HIGH, got 2 1"),
        (["--at-kink", "nan"], "--at-kink must be a finite number such as 0, 1 or 0.5, got nan"),
        (["--only"], "--only offers the named activations: name one or more"),
        (["reluu"], "unknown activation 'reluu'; did you mean 'relu'"),
    ],
)  # fmt: skip
def test_cli_checks_before_any_work(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    opened: list[str],
    argv: list[str],
    message: str,
) -> None:
    import relukit.explorer
    from relukit.cli import main

    def no_work(*a: Any, **k: Any) -> Any:
        raise AssertionError("the page was built before the arguments were checked")

    monkeypatch.setattr(relukit.explorer, "explore", no_work)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    before = sorted(tmp_path.rglob("*"))
    assert main(["explore", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"relukit explore: error: {message.replace('{tmp}', str(tmp_path))}" in err
    assert sorted(tmp_path.rglob("*")) == before and opened == []


def test_cli_rejects_unknown_library(capsys: pytest.CaptureFixture[str]) -> None:
    from relukit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["explore", "--libraries", "numpy"])
    assert info.value.code == 2
    assert "invalid choice: 'numpy'" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# in a real browser
# ---------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("RELUKIT_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.add_argument("--window-size=1400,1000")
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def full_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("plotly")
    path = tmp_path_factory.mktemp("explorer") / "explorer.html"
    rk.explore("relu", "leaky_relu").save(path)
    return path


def load(browser: Any, path: Path) -> tuple[float, float]:
    """Open the page; wait until its numbers are unpacked and drawn. Returns (the page's
    own time to usable, from navigation start, in ms; the wall time of the whole load)."""
    t0 = time.perf_counter()
    browser.get(path.as_uri())
    for _ in range(400):
        ready = browser.execute_script(
            "return window.relukitExplorer && window.relukitExplorer.readyMs"
        )
        if ready:
            return float(ready), (time.perf_counter() - t0) * 1000
        time.sleep(0.025)
    raise AssertionError("the page never became ready")


def readout(browser: Any, table: str = "rk-readout") -> dict[str, list[str]]:
    rows = browser.find_elements("css selector", f"#{table} tbody tr")
    return {r.get_attribute("data-name"): [c.text for c in r.find_elements("css selector", "td")]
            for r in rows}  # fmt: skip


def cursor_x(browser: Any) -> float:
    return float(browser.find_element("id", "rk-cursor-x").text)


def move_cursor_to(browser: Any, x: float) -> None:
    """Move the cursor to ``x``: the slider is set one step short (as a drag would leave
    it, firing its input event), then the right arrow key takes the last step."""
    from selenium.webdriver.common.keys import Keys

    from relukit.explorer._data import x_grid

    i = list(x_grid()).index(x)
    slider = browser.find_element("id", "rk-cursor")
    browser.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        slider,
        i - 1,
    )
    slider.send_keys(Keys.ARROW_RIGHT)
    assert cursor_x(browser) == x


def card_slider(browser: Any, name: str, param: str) -> Any:
    return browser.find_element(
        "css selector", f'.rk-card[data-name="{name}"] input[data-param="{param}"]'
    )


def trace(browser: Any, div: str, name: str) -> dict[str, Any]:
    return browser.execute_script(
        "const t = document.getElementById(arguments[0]).data.find(t => t.name === arguments[1]);"
        "return t ? {x: Array.from(t.x), y: Array.from(t.y)} : null;",
        div,
        name,
    )


def severe_console_messages(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.browser
@pytest.mark.plotly
def test_page_loads_in_under_two_seconds(browser: Any, full_page: Path, shots: Path) -> None:
    size = full_page.stat().st_size
    times = [load(browser, full_page) for _ in range(3)]
    page_ms = sorted(t[0] for t in times)[1]
    wall_ms = sorted(t[1] for t in times)[1]
    print(
        f"\nexplorer page: {size / 1e6:.2f} MB; usable {page_ms:.0f} ms after navigation "
        f"start in headless Chromium (median of 3), {wall_ms:.0f} ms from driver.get"
    )
    assert size < 4_000_000
    assert page_ms < 2000
    assert severe_console_messages(browser) == []
    # offline: the page loaded nothing from anywhere (fonts are data: URLs)
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert [u for u in loaded if not u.startswith("data:")] == []
    # the formulas are rendered by KaTeX, none failed
    assert len(browser.find_elements("css selector", ".rk-card .katex")) == 4
    assert browser.find_elements("css selector", ".katex-error") == []
    browser.save_screenshot(str(shots / "explorer-relu-leaky_relu.png"))


@pytest.mark.browser
@pytest.mark.plotly
def test_every_formula_renders(browser: Any, full_page: Path) -> None:
    load(browser, full_page)
    for box in browser.find_elements("css selector", "#rk-pick input"):
        if not box.is_selected():
            box.click()
    assert len(browser.find_elements("css selector", ".rk-card")) == len(rk.catalogue())
    assert len(browser.find_elements("css selector", ".rk-card .katex")) == 2 * len(rk.catalogue())
    assert browser.find_elements("css selector", ".katex-error") == []
    assert severe_console_messages(browser) == []


@pytest.mark.browser
@pytest.mark.plotly
def test_cursor_read_out_is_relukits(browser: Any, full_page: Path) -> None:
    load(browser, full_page)
    for x in (-1.5, -0.02, 0.0, 0.38, 2.5):
        move_cursor_to(browser, x)
        got = readout(browser)
        assert got["relu"] == [
            repr(rk.relu(x)),
            repr(rk.relu.derivative(x)) + (" *" if x == 0 else ""),
        ]
        assert got["leaky_relu"][0] == repr(rk.leaky_relu(x))
        assert got["leaky_relu"][1].rstrip(" *") == repr(rk.leaky_relu.derivative(x))
    # the drawn curves are relukit's at their own points
    t = trace(browser, "rk-curves", "leaky_relu")
    assert t["y"] == [rk.leaky_relu(v) for v in t["x"]]
    assert min(t["x"]) == -6.0 and max(t["x"]) == 6.0
    # the x range: typed into its fields; a range outside [-10, 10] is refused
    from selenium.webdriver.common.keys import Keys

    for field, value in (("rk-lo", "-2"), ("rk-hi", "3.5"), ("rk-hi", "12")):
        box = browser.find_element("id", field)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(value, Keys.TAB)
    assert browser.find_element("id", "rk-hi").get_attribute("value") == "3.5"
    t = trace(browser, "rk-curves", "relu")
    assert (min(t["x"]), max(t["x"])) == (-2.0, 3.5)
    assert t["y"] == [rk.relu(v) for v in t["x"]]
    axis = browser.execute_script("return document.getElementById('rk-curves').layout.xaxis.range")
    assert axis == [-2, 3.5]


@pytest.mark.browser
@pytest.mark.plotly
def test_parameter_slider_moves_curves_and_read_out(browser: Any, full_page: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    load(browser, full_page)
    move_cursor_to(browser, -1.5)
    slider = card_slider(browser, "leaky_relu", "negative_slope")
    out = slider.find_element("xpath", "following-sibling::output")
    assert out.text == "0.01"
    for _ in range(9):
        slider.send_keys(Keys.ARROW_RIGHT)
    assert out.text == "0.1"
    got = readout(browser)["leaky_relu"]
    assert got == [repr(rk.leaky_relu(-1.5, 0.1)), repr(rk.leaky_relu.derivative(-1.5, 0.1))]
    t = trace(browser, "rk-curves", "leaky_relu")
    assert t["y"] == [rk.leaky_relu(v, negative_slope=0.1) for v in t["x"]]
    d = trace(browser, "rk-curves", "leaky_relu′")
    assert [y for y in d["y"] if y is not None] == [
        rk.leaky_relu.derivative(v, negative_slope=0.1) for v in d["x"] if v is not None
    ]
    # slope 0: leaky_relu is relu, and its no-gradient region appears
    labels = lambda: [  # noqa: E731
        (s.get("label") or {}).get("text")
        for s in browser.execute_script("return document.getElementById('rk-curves').layout.shapes")
    ]
    assert "no gradient: leaky_relu" not in labels()
    slider.send_keys(Keys.HOME)
    assert out.text == "0.0"
    assert "no gradient: leaky_relu" in labels() and "no gradient: relu" in labels()
    assert readout(browser)["leaky_relu"][1] == repr(rk.leaky_relu.derivative(-1.5, 0.0))


@pytest.mark.browser
@pytest.mark.plotly
def test_at_kink_switch_moves_the_dot(browser: Any, full_page: Path, shots: Path) -> None:
    load(browser, full_page)
    move_cursor_to(browser, 0.0)
    radios = browser.find_elements("css selector", "#rk-atkink input")
    assert [r.find_element("xpath", "..").text for r in radios] == [
        "relukit's default (PyTorch's)", "0.0", "1.0", "0.5"]  # fmt: skip
    for radio, at_kink in zip(radios, (None, 0.0, 1.0, 0.5), strict=True):
        radio.click()
        want = rk.relu.derivative(0.0, at_kink=at_kink)
        dot = trace(browser, "rk-curves", "relu: used at the kink")
        assert dot == {"x": [0.0], "y": [want]}
        limits = trace(browser, "rk-curves", "relu: one-sided limits")
        assert limits == {"x": [0.0, 0.0], "y": [0.0, 1.0]}
        assert readout(browser)["relu"][1] == repr(want) + " *"
        leaky = rk.leaky_relu.derivative(0.0, at_kink=at_kink)
        assert readout(browser)["leaky_relu"][1] == repr(leaky) + " *"
        used = browser.find_element("css selector", '.rk-card[data-name="relu"] td.rk-used')
        assert used.text == repr(want)
        if at_kink == 1.0:
            browser.save_screenshot(str(shots / "explorer-at_kink-1.png"))


@pytest.mark.browser
@pytest.mark.plotly
def test_dying_view_in_the_browser(browser: Any, full_page: Path, shots: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    from relukit.explorer._data import DYING_MEANS, DYING_SPREADS, dying_samples

    load(browser, full_page)
    mean = browser.find_element("id", "rk-mean")
    assert browser.find_element("id", "rk-mean-out").text == "0.0"
    for _ in range(8):
        mean.send_keys(Keys.ARROW_LEFT)
    assert browser.find_element("id", "rk-mean-out").text == "-2.0"
    z = -2.0 + 1.0 * dying_samples()
    dead = float((z.max(axis=1) <= 0).mean())
    cells = {
        r.get_attribute("data-name"): r.find_element("css selector", "td.rk-dead")
        for r in browser.find_elements("css selector", "#rk-dying-readout tbody tr")
    }
    assert float(cells["relu"].get_attribute("data-share")) == dead
    assert cells["relu"].text.startswith(f"{100 * dead:.1f} % ({round(dead * 128)} of 128)")
    assert cells["leaky_relu"].text == "0.0 % (0 of 128)"
    assert dead > 0.5
    k = DYING_MEANS.index(-2.0) * len(DYING_SPREADS) + DYING_SPREADS.index(1.0)
    bars = browser.execute_script(
        "return Array.from(document.getElementById('rk-dying-plot').data[0].y)"
    )
    assert sum(bars) == 128 * 32 and k >= 0
    shapes = browser.execute_script("return document.getElementById('rk-dying-plot').layout.shapes")
    assert [(s["x1"], s["label"]["text"]) for s in shapes] == [(0.0, "relu: no gradient")]
    section = browser.find_element("id", "rk-dying")
    browser.execute_script("arguments[0].scrollIntoView()", section)
    section.screenshot(str(shots / "explorer-dying-units.png"))


@pytest.mark.browser
@pytest.mark.plotly
def test_two_other_activations_and_a_training_run(
    browser: Any, tmp_path: Path, shots: Path
) -> None:
    page = rk.explore("relu6", "elu", offer=["relu", "leaky_relu", "relu6", "elu"],
                      metrics=fake_metrics())  # fmt: skip
    path = page.save(tmp_path / "p.html")
    load(browser, path)
    move_cursor_to(browser, 6.0)
    got = readout(browser)
    assert got["relu6"] == [repr(rk.relu6(6.0)), repr(rk.relu6.derivative(6.0)) + " *"]
    assert got["elu"] == [repr(rk.elu(6.0)), repr(rk.elu.derivative(6.0))]
    slider = card_slider(browser, "elu", "alpha")
    from selenium.webdriver.common.keys import Keys

    slider.send_keys(Keys.END)
    move_cursor_to(browser, -1.0)
    assert readout(browser)["elu"] == [repr(rk.elu(-1.0, 3.0)), repr(rk.elu.derivative(-1.0, 3.0))]
    measured = browser.find_element("id", "rk-measured")
    assert measured.is_displayed()
    rows = [r.text for r in browser.find_elements("css selector", "#rk-measured-table tbody tr")]
    assert rows == ["relu 30.0 % ± 5.0", "leaky_relu (negative_slope=0.01) 0.0 % ± 0.0"]
    # the run's curves are shown for the activations picked that it trained: none yet
    assert (
        browser.execute_script("return document.getElementById('rk-measured-plot').data.length")
        == 0
    )
    browser.find_element("css selector", '#rk-pick input[value="relu"]').click()
    names = browser.execute_script(
        "return document.getElementById('rk-measured-plot').data.map(t => t.name)"
    )
    assert names == ["relu, hidden 1", "relu, hidden 2"]
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(shots / "explorer-relu-relu6-elu.png"))
    browser.execute_script("arguments[0].scrollIntoView()", measured)
    measured.screenshot(str(shots / "explorer-training-run.png"))
    assert severe_console_messages(browser) == []


@pytest.mark.plotly
@pytest.mark.slow
def test_docs_build_writes_the_explorer_page(tmp_path: Path) -> None:
    import runpy

    build = runpy.run_path(str(ROOT / "docs" / "build_explore.py"))["build"]
    path = build(tmp_path / "explore" / "explorer.html")
    meta, _ = page_data(path.read_text(encoding="utf-8"))
    assert [e["name"] for e in meta["entries"]] == [a.name for a in rk.catalogue()]
    assert meta["libraries"] == ["relukit", "PyTorch", "JAX", "tutorials"]
    page = (ROOT / "docs" / "explore.md").read_text(encoding="utf-8")
    assert '<iframe src="explorer.html"' in page  # site/explore/index.html frames it
    assert "explore.md" in (ROOT / "mkdocs.yml").read_text()


def test_every_file_of_the_page_is_package_data() -> None:
    """The wheel carries the script, the style sheet and the vendored assets."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["relukit"]
    src = ROOT / "src" / "relukit"
    files = [
        p.relative_to(src).as_posix()
        for p in (src / "explorer").rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    ]
    assert len(files) > 20
    missing = [f for f in files if not any(fnmatch.fnmatchcase(f, g) for g in globs)]
    assert missing == []


@pytest.mark.browser
@pytest.mark.plotly
def test_notebook_frame_runs_the_page(browser: Any, tmp_path: Path) -> None:
    """``_repr_html_`` (a sandboxed iframe with the page in srcdoc, as a notebook shows
    it) works: the page unpacks its numbers and draws inside the frame."""
    page = rk.explore("leaky_relu", offer=["leaky_relu"])
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><html><body>{page._repr_html_()}</body></html>")
    browser.get(host.as_uri())
    browser.switch_to.frame(browser.find_element("css selector", "iframe.relukit-explorer"))
    try:
        for _ in range(400):
            if browser.execute_script(
                "return window.relukitExplorer && window.relukitExplorer.readyMs"
            ):
                break
            time.sleep(0.025)
        assert readout(browser)["leaky_relu"] == [
            repr(rk.leaky_relu(-1.0)),
            repr(rk.leaky_relu.derivative(-1.0)),
        ]
        assert browser.find_elements("css selector", ".katex-error") == []
    finally:
        browser.switch_to.default_content()
