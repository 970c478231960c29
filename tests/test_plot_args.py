"""rk.plot's arguments as a user passes them: bounds, misnamed keywords, figure content.

The command line's side (``relukit plot``) is in tests/test_cli.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import relukit as rk


@pytest.mark.parametrize("num", [1, 100_001, 10**8])
def test_num_is_bounded(num: int) -> None:
    before = plt.get_fignums()
    with pytest.raises(ValueError) as info:
        rk.plot("relu", num=num)
    assert str(info.value) == (
        f"plot: num must be an integer >= 2 and at most 100000 (points per curve), got {num!r}"
    )
    assert plt.get_fignums() == before  # no figure left open


def test_num_at_the_bound_draws() -> None:
    fig = rk.plot("relu", num=100_000)
    line = fig.axes[0].lines[0]
    assert len(line.get_xdata()) >= 100_000
    plt.close(fig)


# ---------------------------------------------------------------------------
# curves that coincide stay visible
# ---------------------------------------------------------------------------


def _seen(fig: Any, ax: Any, color: Any, xs: Any, ys: Any, radius: int = 3, tol: int = 40) -> float:
    """The fraction of the points (xs, ys) near which ``color`` shows in the rendered
    figure (a pixel within ``tol`` of it in every channel, in a square of ``radius``)."""
    import numpy as np
    from matplotlib.colors import to_rgb

    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    target = np.array(to_rgb(color)) * 255
    pts = ax.transData.transform(np.column_stack([xs, ys]))
    hits = 0
    for px, py in pts:
        r, c = round(img.shape[0] - py), round(px)
        win = img[r - radius : r + radius + 1, c - radius : c + radius + 1]
        hits += bool((np.abs(win - target).max(axis=-1) < tol).any())
    return hits / len(pts)


def _line(ax: Any, gid: str) -> Any:
    return next(ln for ln in ax.lines if ln.get_gid() == gid)


def test_relu_under_leaky_relu_stays_visible() -> None:
    """``relukit plot relu leaky_relu --derivative --negative-slope 0.1``: relu's line
    for x > 0 and its open circle at (0, 1) were hidden under leaky_relu's."""
    import numpy as np

    fig = rk.plot("relu", "leaky_relu", derivative=True, negative_slope=0.1)
    ax_v, ax_d = fig.axes
    xs = np.linspace(0.5, 5.5, 41)
    for ax, kind, ys in ((ax_v, "value", xs), (ax_d, "derivative", np.ones_like(xs))):
        relu, leaky = _line(ax, f"{kind}:relu"), _line(ax, f"{kind}:leaky_relu")
        # the figure's content: the later curve is narrower and broken (dashes)
        assert relu.get_linestyle() == "-" and leaky.get_linestyle() != "-"
        assert leaky.get_linewidth() < relu.get_linewidth()
        # and what a reader sees: relu's colour along the shared segment
        assert _seen(fig, ax, relu.get_color(), xs, ys) > 0.9, kind
        assert _seen(fig, ax, leaky.get_color(), xs, ys) > 0.9, kind
    # the open circles at (0, 1): relu's ring is larger than leaky_relu's circle
    big, small = _line(ax_d, "kink-limits:relu"), _line(ax_d, "kink-limits:leaky_relu")
    assert big.get_markersize() > small.get_markersize() + 2 * small.get_markeredgewidth()
    # relu's ring left of the centre, where no line passes: relu's colour, not orange
    cx, cy = ax_d.transData.transform((0.0, 1.0))
    r_px = (big.get_markersize() / 2) * fig.dpi / 72  # the ring's middle
    x_ring, y_ring = ax_d.transData.inverted().transform((cx - r_px, cy))
    assert _seen(fig, ax_d, big.get_markeredgecolor(), [x_ring], [y_ring], radius=1) == 1.0
    plt.close(fig)


@pytest.mark.parametrize(
    ("acts", "kw"),
    [
        (("relu", "leaky_relu"), {"derivative": "only", "negative_slope": 0.1}),
        (("leaky_relu",), {"negative_slope": [0.01, 0.1, 0.3]}),  # a sweep: x > 0 shared
        (("relu", "leaky_relu"), {"derivative": True, "layout": "grid"}),
        (("leaky_relu",), {"negative_slope": [0.1, 0.3], "derivative": True, "layout": "grid"}),
    ],
)
def test_every_curve_of_a_panel_shows_where_curves_coincide(
    acts: tuple[str, ...], kw: dict[str, Any]
) -> None:
    import numpy as np

    fig = rk.plot(*acts, **kw)
    xs = np.linspace(0.5, 4.5, 31)
    for ax in fig.axes:
        lines = [
            ln
            for ln in ax.lines
            if ln.get_gid() and ln.get_gid().split(":")[0] in ("value", "derivative")
        ]
        kinds = {ln.get_gid().split(":")[0] for ln in lines}
        for kind in kinds:
            same = [ln for ln in lines if ln.get_gid().startswith(kind)]
            ys_of = {ln: np.interp(xs, *ln.get_data()) for ln in same}
            for ln in same:
                # visible along most of the shared segment (before: nowhere, 0.0)
                assert _seen(fig, ax, ln.get_color(), xs, ys_of[ln]) > 0.5, (kind, ln.get_label())
    plt.close(fig)


def test_cli_svg_draws_coinciding_curves_apart(tmp_path: Path) -> None:
    """The command line's figure, read back from the SVG it wrote: the element of each
    curve (matplotlib writes each line's gid as the id of its group) with its style."""
    import os
    import re
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    out = tmp_path / "both.svg"
    argv = ["plot", "relu", "leaky_relu", "--derivative", "--negative-slope", "0.1"]
    res = subprocess.run(
        [sys.executable, "-m", "relukit", *argv, "-o", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    assert res.returncode == 0, res.stderr
    ns = {"svg": "http://www.w3.org/2000/svg"}
    root = ET.parse(out).getroot()

    def style(gid: str) -> dict[str, str]:
        g = root.find(f".//svg:g[@id='{gid}']", ns)
        assert g is not None, gid
        path = g.find("svg:path", ns)
        return dict(kv.split(": ") for kv in path.get("style").split("; "))

    for kind in ("value", "derivative"):
        relu, leaky = style(f"{kind}:relu"), style(f"{kind}:leaky_relu")
        assert "stroke-dasharray" not in relu and "stroke-dasharray" in leaky
        assert float(leaky["stroke-width"]) < float(relu["stroke-width"])

    def radius(gid: str) -> float:
        g = root.find(f".//svg:g[@id='{gid}']", ns)
        d = g.find(".//svg:defs/svg:path", ns).get("d")
        return float(re.match(r"M 0 ([\d.]+)", d).group(1))

    assert radius("kink-limits:relu") > radius("kink-limits:leaky_relu") + 1.0


@pytest.mark.parametrize("name", ["range", "x_range", "xrange"])
def test_range_keyword_points_to_xlim(name: str) -> None:
    """``rk.plot("relu", range=(-2, 2))``: the command line's --range is ``xlim=`` here."""
    before = plt.get_fignums()
    with pytest.raises(TypeError) as info:
        rk.plot("relu", **{name: (-2, 2)})
    msg = str(info.value)
    assert msg.startswith(f"plot: no activation drawn accepts parameter {name!r}")
    assert "the x range is xlim=(low, high), e.g. xlim=(-2, 2)" in msg
    assert plt.get_fignums() == before


def test_misspelt_plot_keyword_gets_a_suggestion() -> None:
    with pytest.raises(TypeError, match=r"did you mean derivative="):
        rk.plot("relu", derivatives=True)
    with pytest.raises(TypeError) as info:  # a real parameter of another activation
        rk.plot("relu", negative_slope=0.1)
    assert "did you mean" not in str(info.value)
