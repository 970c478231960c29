"""The explorer page: Plotly figures, KaTeX, the numbers and the script, in one file.

The figures' look (axes, line styles, markers, hover) is written here with Plotly's
Python objects, which check every attribute; the page's script (``page.js``) fills in
the data of the activations the reader picks, from the numbers of
:mod:`relukit.explorer._data`. Plotly's JavaScript (its basic bundle: scatter and bar
traces, the version that the pinned Plotly for Python writes figures for) and KaTeX
(with its fonts) are package data under ``vendor/``, embedded whole: the page needs no
network.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from relukit.catalogue import Activation
from relukit.explorer import _data

__all__ = ["PLOTLY_JS_VERSION", "render", "vendor_text"]

#: the version of the embedded plotly.js (vendor/plotly/plotly-basic.min.js)
PLOTLY_JS_VERSION = "4.1.1"

#: the colours of matplotlib's default cycle (the static plots'), in Plotly's D3 palette
COLORS = (
    "#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD",
    "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22", "#17BECF",
)  # fmt: skip

#: dashes of the 2nd, 3rd, ... curve of a panel (the static plots' rule: later curves
#: narrower and dashed, so that a curve under another stays visible)
DASHES = ("solid", "dash", "dot", "dashdot")


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ModuleNotFoundError as exc:
        if exc.name != "plotly" and not (exc.name or "").startswith("plotly."):
            raise
        raise ModuleNotFoundError(
            "relukit's explorer needs Plotly: pip install 'relukit[explore]'", name="plotly"
        ) from exc
    return go


def vendor_text(*parts: str) -> str:
    """A text file of ``relukit/explorer/vendor/``."""
    return resources.files("relukit.explorer").joinpath("vendor", *parts).read_text("utf-8")


def _vendor_bytes(*parts: str) -> bytes:
    return resources.files("relukit.explorer").joinpath("vendor", *parts).read_bytes()


def _katex_css() -> str:
    """KaTeX's style sheet with its WOFF2 fonts inlined (the WOFF and TTF fallbacks,
    for browsers older than WOFF2, are dropped)."""
    css = vendor_text("katex", "katex.min.css")

    def inline(m: re.Match[str]) -> str:
        font = base64.b64encode(_vendor_bytes("katex", "fonts", m.group(1) + ".woff2"))
        return f'src:url(data:font/woff2;base64,{font.decode("ascii")}) format("woff2")'

    css, n = re.subn(r'src:url\(fonts/([\w-]+)\.woff2\) format\("woff2"\)[^;}]*', inline, css)
    if n == 0 or "url(fonts/" in css:  # a KaTeX whose CSS is written differently
        raise RuntimeError("the vendored KaTeX style sheet has fonts that were not inlined")
    return css


def _looks(n_max: int) -> list[list[dict[str, Any]]]:
    """``looks[n - 1][i]``: width, dash and marker size of curve ``i`` of ``n`` in a panel
    (as :mod:`relukit.plot`: the first 3.4 wide, the last 1.4; markers larger for the
    curves drawn first, so that a ring shows around the one on top)."""
    out = []
    for n in range(1, n_max + 1):
        row = []
        for i in range(n):
            if n == 1:
                row.append({"width": 2.6, "dash": "solid", "size": 10})
            else:
                row.append(
                    {
                        "width": round(3.4 - 2.0 * i / (n - 1), 3),
                        "dash": DASHES[i % len(DASHES)],
                        "size": 9 + 4 * min(n - 1 - i, 2),
                    }
                )
        out.append(row)
    return out


def _figures(go: Any, xlim: tuple[float, float]) -> dict[str, Any]:
    """The layouts and trace styles of the page's figures, checked by Plotly."""
    from plotly.subplots import make_subplots

    axis = {"showgrid": True, "gridcolor": "#e6e6e6", "zeroline": True, "zerolinecolor": "#999"}
    curves = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.09,
        subplot_titles=("value f(x)", "derivative f′(x)"),
    )
    curves.update_layout(
        template="plotly_white",
        height=680,
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        hovermode="x",
        legend={"orientation": "h", "y": -0.08, "yanchor": "top", "x": 0},
        uirevision="keep",  # zoom and legend clicks survive a slider move
    )
    curves.update_xaxes(range=list(xlim), **axis)
    curves.update_yaxes(**axis)
    curves.update_xaxes(title_text="x", row=2, col=1)
    curves.update_yaxes(title_text="f(x)", row=1, col=1)
    curves.update_yaxes(title_text="f′(x)", row=2, col=1)

    dying = go.Figure()
    dying.update_layout(
        template="plotly_white",
        height=360,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        bargap=0.02,
        showlegend=False,
        xaxis={"title": {"text": "pre-activation z of one layer"}, **axis},
        yaxis={"title": {"text": "count (units × inputs)"}, **axis},
    )
    measured = go.Figure()
    measured.update_layout(
        template="plotly_white",
        height=340,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        xaxis={"title": {"text": "training step"}, **axis},
        yaxis={"title": {"text": "dead units (%)"}, "rangemode": "tozero", **axis},
        legend={"orientation": "h", "y": -0.25, "yanchor": "top", "x": 0},
    )
    hover = "%{fullData.name}: %{y}<extra></extra>"
    styles = {
        "value": go.Scatter(mode="lines", hovertemplate=hover, xaxis="x", yaxis="y"),
        "derivative": go.Scatter(mode="lines", hovertemplate=hover, xaxis="x2", yaxis="y2"),
        # open circles: filled with the background, so they hide the line's end
        "limits": go.Scatter(
            mode="markers",
            marker={"symbol": "circle", "color": "white", "line": {"width": 2}},
            hoverinfo="skip",
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
        ),
        "used": go.Scatter(
            mode="markers", hoverinfo="skip", showlegend=False, xaxis="x2", yaxis="y2"
        ),
        "histogram": go.Bar(
            marker={"color": "#8c8c8c"},
            hovertemplate="z in [%{x} ± 0.125]: %{y}<extra></extra>",
        ),
        "measured": go.Scatter(mode="lines"),
    }
    return {
        "curves": curves.to_plotly_json()["layout"],
        "dying": dying.to_plotly_json()["layout"],
        "measured": measured.to_plotly_json()["layout"],
        "styles": {k: v.to_plotly_json() for k, v in styles.items()},
    }


def _json_script(obj: Any, element_id: str) -> str:
    text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
    text = text.replace("</", "<\\/")  # no "</script>" inside the element
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _inline_script(js: str) -> str:
    return "<script>" + js.replace("</script", "<\\/script") + "</script>"


def render(
    *,
    shown: Sequence[Activation],
    offered: Sequence[Activation],
    xlim: tuple[float, float],
    at_kink: float | None,
    metrics: Mapping[str, Any] | None,
    libraries: tuple[str, ...],
    title: str,
) -> str:
    """The whole page as one HTML string."""
    import html

    go = _plotly()
    from relukit import __version__
    from relukit.conventions import measure

    choices = list(_data.AT_KINK_CHOICES)
    if at_kink not in choices:
        choices.append(at_kink)
    rows = measure(libraries=libraries)
    blob = _data.Blob()
    entries = [
        _data.entry_data(a, blob, conventions=rows, at_kink_choices=choices) for a in offered
    ]
    dying = _data.dying_axes()
    dying["counts"] = blob.add(dying["counts"])
    centers = [(a + b) / 2 for a, b in zip(dying["edges"][:-1], dying["edges"][1:], strict=True)]
    dying["centers"] = centers
    meta = {
        "version": __version__,
        "title": title,
        "grid": blob.add(_data.x_grid()),
        "span": list(_data.SPAN),
        "atKink": [
            {"value": a, "label": "relukit's default (PyTorch's)" if a is None else repr(a)}
            for a in choices
        ],
        "libraries": list(libraries),
        "start": {
            "shown": [a.name for a in shown],
            "xlim": list(xlim),
            "atKink": choices.index(at_kink),
        },
        "entries": entries,
        "dying": dying,
        "metrics": metrics,
        "colors": list(COLORS),
        "looks": _looks(len(offered)),
        "figures": _figures(go, xlim),
    }
    page_js = resources.files("relukit.explorer").joinpath("page.js").read_text("utf-8")
    page_css = resources.files("relukit.explorer").joinpath("page.css").read_text("utf-8")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f'<meta name="generator" content="relukit {__version__}">',
        f"<style>{_katex_css()}</style>",
        f"<style>{page_css}</style>",
        "</head><body>",
        _BODY.replace("{title}", html.escape(title)).replace("{version}", __version__),
        _json_script(meta, "rk-meta"),
        f'<script type="application/octet-stream" id="rk-blob">{blob.encoded()}</script>',
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>",
        _inline_script(vendor_text("plotly", "plotly-basic.min.js")),
        _inline_script(vendor_text("katex", "katex.min.js")),
        _inline_script(page_js),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


_BODY = """
<header>
  <h1>{title}</h1>
  <p>Pick activations, move their parameters and the cursor, and switch the derivative
  used at a kink. Every number here was computed by relukit {version} when this page was
  written; the page works offline.</p>
</header>
<div id="rk-loading">Unpacking the numbers…</div>
<main id="rk-main" hidden>
  <aside id="rk-controls">
    <section>
      <h2>Activations</h2>
      <div id="rk-pick"></div>
    </section>
    <section>
      <h2>x range</h2>
      <label>from <input id="rk-lo" type="number" step="0.5"></label>
      <label>to <input id="rk-hi" type="number" step="0.5"></label>
    </section>
    <section>
      <h2>Derivative at a kink (<code>at_kink</code>)</h2>
      <div id="rk-atkink" role="radiogroup"></div>
    </section>
    <section>
      <h2>Cursor</h2>
      <label>x = <output id="rk-cursor-x"></output>
      <input id="rk-cursor" type="range" min="0" step="1"></label>
      <table id="rk-readout"><thead><tr><th></th><th>f(x)</th><th>f′(x)</th></tr></thead>
      <tbody></tbody></table>
      <p class="rk-note" id="rk-readout-note"></p>
    </section>
  </aside>
  <div id="rk-right">
    <div id="rk-curves" class="rk-plot"></div>
    <p class="rk-note">Open circles: the one-sided limits of the derivative at a kink;
    filled dot: the derivative relukit returns there (<code>at_kink</code>). Shaded: where
    the derivative is exactly 0, so a unit whose pre-activation stays there gets no
    gradient.</p>
    <div id="rk-cards"></div>
    <section id="rk-dying">
      <h2>Where units die</h2>
      <p>The pre-activations <i>z</i> of one layer of <span id="rk-units"></span> units, each
      fed <span id="rk-inputs"></span> inputs: <i>z</i> = mean + spread · (0.8 <i>a</i><sub>unit</sub>
      + 0.6 <i>e</i><sub>unit, input</sub>) with <i>a</i> and <i>e</i> standard normal, so
      units differ (their biases and weights) as inputs do. A unit is <b>dead</b> when the
      derivative is 0 at every one of its inputs: it gets no gradient and cannot recover. A
      large negative bias moves the mean down.</p>
      <div class="rk-row">
        <label>mean <input id="rk-mean" type="range" min="0" step="1"> <output id="rk-mean-out"></output></label>
        <label>spread <input id="rk-spread" type="range" min="0" step="1"> <output id="rk-spread-out"></output></label>
        <label>shade the no-gradient region of <select id="rk-focus"></select></label>
      </div>
      <div id="rk-dying-plot" class="rk-plot"></div>
      <table id="rk-dying-readout"><thead><tr><th></th><th>dead units</th>
      <th>pre-activations with f′(z) = 0</th></tr></thead><tbody></tbody></table>
      <div id="rk-measured" hidden>
        <h3>Measured in a training run</h3>
        <p id="rk-measured-text"></p>
        <div id="rk-measured-plot" class="rk-plot"></div>
        <table id="rk-measured-table"><thead><tr><th>trained with</th>
        <th>dead units at the end (mean ± std over seeds)</th></tr></thead><tbody></tbody></table>
      </div>
    </section>
  </div>
</main>
"""
