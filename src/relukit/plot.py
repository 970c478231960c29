"""Figures of the activations and their derivatives, drawn from the catalogue.

:func:`plot` draws any activations of the catalogue (by object or by name) and, on
request, their derivatives, into a new matplotlib :class:`~matplotlib.figure.Figure` or
into axes you give. The derivative is drawn honestly:

* the line is broken at every kink (no vertical connector where the derivative jumps,
  so relu' reads as two steps, not as a ramp);
* at each kink an open circle marks each one-sided limit and a filled dot the value
  relukit returns there (the PyTorch convention, or ``at_kink=`` when given), so the
  convention is visible in the figure;
* the kink points are sampled exactly, and the curves densely (``num`` points);
* curves that coincide stay visible: each later curve of a panel is narrower and
  dashed, with smaller kink markers (relu shows under leaky_relu for x > 0).

A gated entry (``glu``, ``reglu``, ``geglu``, ``swiglu``, ``bilinear``: ``f(gate) * up``)
is drawn as a function of the gate with its second input ``up`` fixed (``up=1`` unless
``up=`` says otherwise; a list of values draws one curve each): the value
``f(gate) * up`` and the derivative with respect to the gate, ``f'(gate) * up``, with the
kinks of ``f`` (reglu's at 0) marked as for relu.

matplotlib is imported only when a figure is asked for (``import relukit`` never
imports it; without matplotlib, :func:`plot` says to ``pip install 'relukit[plot]'``).
New figures are made through pyplot (``plt.show()`` shows them) and are shown once in a
notebook, also by a cell that ends with ``rk.plot(...)``. When matplotlib has no backend yet, ``MPLBACKEND`` is unset and there is
no display, the non-interactive ``Agg`` backend is selected; a backend that you chose
is never changed.

Examples
--------
>>> import relukit as rk
>>> fig = rk.plot("relu", derivative=True)
>>> [ax.get_ylabel() for ax in fig.axes]
['f(x)', "f'(x)"]
>>> fig = rk.plot("leaky_relu", negative_slope=[0.01, 0.1, 0.3])
>>> [line.get_label() for line in fig.axes[0].lines]
['leaky_relu(x), negative_slope=0.01', 'leaky_relu(x), negative_slope=0.1', 'leaky_relu(x), negative_slope=0.3']
>>> fig = rk.plot("swiglu", up=[1, 2])          # a gated entry: up fixed, the gate on x
>>> [line.get_label() for line in fig.axes[0].lines]
['swiglu(x, up=1)', 'swiglu(x, up=2)']
"""

from __future__ import annotations

import itertools
import math
import numbers
import os
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from relukit._dispatch import check_at_kink
from relukit._optional import require
from relukit.catalogue import Activation, catalogue, get

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from rich.console import Console

__all__ = ["demo_figures", "plot"]

#: ``style=`` names of relukit; any other string is passed to ``matplotlib.style``.
STYLES = {"dark": "dark_background", "light": "default", "print": "default"}

_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}

#: the most points per curve (``num=``): more than a 2400-dpi figure has pixels across,
#: and a bound keeps ``num=10**8`` from taking gigabytes
NUM_MAX = 100_000

#: marker look: open circles for the one-sided limits, a filled dot for the value used
_MARKER_SIZE = 6.5
_MARKER_EDGE = 1.6

#: line styles of the 2nd, 3rd, ... curve of a panel (the first is solid)
_DASHES: tuple[Any, ...] = ("-", (0, (5.0, 2.5)), (0, (1.5, 1.5)), (0, (6.0, 2.0, 1.5, 2.0)))


def _look(i: int, n: int) -> dict[str, Any]:
    """Line width, line style and marker size of curve ``i`` of ``n`` in one panel.

    Curves can coincide (relu and leaky_relu for x > 0 and their open circles at
    (0, 1); a sweep where the curves agree). Each later curve is narrower, broken into
    dashes and has smaller kink markers, so that the curves under it stay visible: the
    first curve's width is 3.4 points, the last one's 1.4, and a marker is 3.5 points
    wider than the next curve's (more than two marker edges, so its ring shows around
    the smaller one). One curve alone: ``{}`` (the defaults).
    """
    if n <= 1:
        return {}
    return {
        "linewidth": 3.4 - 2.0 * i / (n - 1),
        "linestyle": _DASHES[i % len(_DASHES)],
        "markersize": _MARKER_SIZE + 3.5 * min(n - 1 - i, 2),
    }


# ---------------------------------------------------------------------------
# matplotlib, imported on demand
# ---------------------------------------------------------------------------


def _pyplot() -> Any:
    """Import ``matplotlib.pyplot``, choosing ``Agg`` only when nothing was chosen.

    A backend counts as chosen when pyplot is already imported, ``MPLBACKEND`` is set, or
    ``matplotlib.use``/``rcParams["backend"]`` set one. Without a display (no
    ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux) matplotlib's own automatic choice ends on
    Agg as well; selecting it here just skips probing for GUI toolkits.
    """
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib = require("matplotlib", "plotting (relukit.plot)")

        chosen = bool(os.environ.get("MPLBACKEND"))
        if not chosen:
            getter = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
            chosen = getter() is not None if getter is not None else True
        headless = sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        )
        if not chosen and headless:
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fig_cls() -> type:
    """The Figure class of new figures: shown once per notebook cell (:mod:`relukit._figure`)."""
    from relukit._figure import Figure

    return Figure


def backend_is_interactive() -> bool:
    """True when matplotlib's current backend can open a window (``plt.show()`` works)."""
    import matplotlib

    _pyplot()
    name = matplotlib.get_backend().lower()
    return name not in _NON_INTERACTIVE and not name.startswith("module://matplotlib_inline")


def _style_context(style: str | None) -> Any:
    import contextlib

    plt = _pyplot()
    if style is None:
        return contextlib.nullcontext()
    if not isinstance(style, str):
        raise TypeError(
            f"plot: style must be None, 'dark', 'light' or a matplotlib style name, "
            f"got {style!r} ({type(style).__name__})"
        )
    name = STYLES.get(style, style)
    if name != "default" and name not in plt.style.available and not os.path.exists(name):
        raise ValueError(
            f"plot: unknown style {style!r}; use None, 'dark', 'light', 'print' or a "
            f"matplotlib style ({', '.join(sorted(plt.style.available)[:6])}, ...)"
        )
    return plt.style.context(name)


# ---------------------------------------------------------------------------
# what to draw: one Curve per activation and parameter combination
# ---------------------------------------------------------------------------


#: the second input of a gated entry when ``up=`` is not given
UP_DEFAULT = 1.0


@dataclass(frozen=True)
class Curve:
    """One activation with one set of parameters (one line in each panel).

    A gated entry is drawn as a function of its gate with ``up`` fixed: the value
    ``f(gate) * up`` and the derivative with respect to the gate, ``f'(gate) * up``.
    """

    act: Activation
    given: Mapping[str, Any]  # the parameters the user gave for this curve
    params: Mapping[str, Any]  # all parameters, validated (defaults filled in)
    swept: bool  # part of a sweep (several curves for this activation)
    up: float | None = None  # a gated entry's second input (None for the others)

    def value(self, x: Any) -> Any:
        """The value at the NumPy array ``x`` (a gated entry's ``f(x) * up``)."""
        if self.act.gated:
            return self.act(x, self.up, **self.params)
        return self.act(x, **self.params)

    def derivative(self, x: Any) -> Any:
        """The derivative at ``x`` (a gated entry's, with respect to the gate)."""
        if self.act.gated:
            return self.act.derivative(x, self.up, **self.params)[0]
        return self.act.derivative(x, **self.params)

    def kink_points(self) -> list[tuple[float, float, float, float]]:
        """``(x, left, right, used)`` of each kink of the drawn derivative: a gated
        entry's are its activation's, times ``up`` (d/d gate = f'(gate) * up)."""
        points = self.act.kink_points(**self.params)
        if not self.act.gated:
            return points
        u = float(self.up if self.up is not None else UP_DEFAULT)
        return [(x, left * u, right * u, used * u) for x, left, right, used in points]

    def label(self, kind: str, long: bool) -> str:
        """Legend text: the formula (``long``) or ``name(x)``, then the parameter values.

        A long label lists every parameter (defaults included) after the formula,
        ``...; negative_slope=0.01``, and is wrapped to lines of at most 64 characters; a
        short label lists the parameters that were given, ``leaky_relu(x), negative_slope=0.1``.
        A gated entry's label names its fixed ``up``: ``swiglu(x, up=1)`` and
        ``d/dx swiglu(x, up=1)`` (x is the gate), or the formula of the two inputs and
        that of the derivative with respect to the gate, then ``up=1``.
        """
        gated = self.act.gated
        if long:
            text = _formula_text(self.act, kind)
            shown = {**self.params, **({"up": self.up} if gated else {})}
            values = ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items())
            text = f"{text}; {values}" if values else text
            return textwrap.fill(text, 64, subsequent_indent="    ", break_on_hyphens=False)
        if gated:
            call = f"{self.act.name}(x, up={_fmt(self.up)})"
            text = call if kind == "value" else f"d/dx {call}"
        else:
            text = f"{self.act.name}(x)" if kind == "value" else f"{self.act.name}'(x)"
        given = {k: v for k, v in self.given.items() if k != "up"}
        return ", ".join([text, *(f"{k}={_fmt(v)}" for k, v in given.items())])


def _formula_text(act: Activation, kind: str) -> str:
    """The formula of what is drawn: a gated entry's two-input form (``glu(gate, up) =
    ...``, without its split form) and its derivative with respect to the gate only."""
    if kind == "value":
        return act.formula.split("; ")[0] if act.gated else act.formula
    return act.derivative_formula.split(", d/d up")[0] if act.gated else act.derivative_formula


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else repr(v)


def _check_up(v: Any) -> float:
    """A gated entry's fixed second input: a finite real number, as a float."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(
            f"plot: up must be a finite real number (the gated entries' second input), "
            f"or a list of them, got {v!r} ({type(v).__name__})"
        )
    try:
        u = float(v)
    except OverflowError:  # an int beyond every float
        u = math.inf
    if not math.isfinite(u):
        raise ValueError(
            f"plot: up must be a finite real number (the gated entries' second input), got {v!r}"
        )
    return u


def _is_sweep(v: Any) -> bool:
    if isinstance(v, (list, tuple)):
        return True
    return isinstance(v, np.ndarray) and v.ndim == 1


#: keywords of :func:`plot` itself, for the hint after a misspelt one
_KEYWORDS = (
    "derivative", "xlim", "ax", "layout", "style", "at_kink", "num", "title", "figsize", "up"
)  # fmt: skip


def _hint(name: str) -> str:
    """A hint for a keyword that no drawn activation takes: the x range's name
    (``range=`` is the command line's ``--range``), or a close spelling of a keyword."""
    import difflib

    if name.lower().replace("_", "") in ("range", "xrange", "xlims", "limits", "xlimits"):
        return "; the x range is xlim=(low, high), e.g. xlim=(-2, 2)"
    if name in {p for a in catalogue() for p in a.params}:
        return ""  # a real parameter, of another activation
    close = difflib.get_close_matches(name, _KEYWORDS, n=1, cutoff=0.75)
    return f"; did you mean {close[0]}=?" if close else ""


def _gated_names() -> str:
    return ", ".join(a.name for a in catalogue() if a.gated)


def _curves(
    acts: Sequence[Activation], params: Mapping[str, Any], up: Any = None
) -> list[list[Curve]]:
    """Split ``params`` over the activations that accept them; expand sweeps (``up``, the
    gated entries' second input, sweeps like a parameter of theirs)."""
    for name in params:
        if not any(name in a.params for a in acts):
            owners = "; ".join(
                f"{a.name}: {', '.join(a.params) if a.params else 'no parameters'}" for a in acts
            )
            raise TypeError(
                f"plot: no activation drawn accepts parameter {name!r} ({owners}){_hint(name)}"
            )
    if up is not None:
        if not any(a.gated for a in acts):
            raise TypeError(
                f"plot: up= fixes the second input of a gated entry ({_gated_names()}), "
                f"and none is drawn ({', '.join(a.name for a in acts)})"
            )
        if _is_sweep(up):
            if not len(up):
                raise ValueError("plot: up was given as an empty list; give one value or more")
            up = [_check_up(u) for u in up]
        else:
            up = _check_up(up)
    out = []
    for act in acts:
        mine = {k: v for k, v in params.items() if k in act.params}
        if act.gated:
            mine["up"] = UP_DEFAULT if up is None else up
        names = list(mine)
        choices = []
        for k in names:
            v = mine[k]
            if _is_sweep(v):
                values = list(v)
                if not values:
                    raise ValueError(
                        f"plot: {k} was given as an empty list; give one value or more"
                    )
                choices.append(values)
            else:
                choices.append([v])
        combos = list(itertools.product(*choices))
        swept = len(combos) > 1
        curves = []
        for combo in combos:
            chosen = dict(zip(names, combo, strict=True))
            u = chosen.pop("up", None)
            bound = act.bind((), chosen)
            given = {k: bound[k] for k in names if k != "up"}
            if up is not None and u is not None:
                given["up"] = u  # given by the user: listed in a sweep's labels
            curves.append(Curve(act, given, bound, swept, u))
        out.append(curves)
    return out


# ---------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------


def _kinks_in(curve: Curve, lo: float, hi: float) -> list[tuple[float, float, float, float]]:
    return [k for k in curve.kink_points() if lo <= k[0] <= hi]


def value_samples(curve: Curve, lo: float, hi: float, num: int) -> tuple[Any, Any]:
    """``(x, f(x))`` on ``num`` points of ``[lo, hi]`` plus every kink point, exactly."""
    x = np.linspace(lo, hi, num)
    kinks = [k[0] for k in _kinks_in(curve, lo, hi)]
    if kinks:
        x = np.unique(np.concatenate([x, np.asarray(kinks, dtype=np.float64)]))
    return x, np.asarray(curve.value(x), dtype=np.float64)


def derivative_samples(curve: Curve, lo: float, hi: float, num: int) -> tuple[Any, Any]:
    """``(x, f'(x))`` with the line broken (a NaN) at every kink.

    Each piece between two kinks runs from the float just after one kink to the float
    just before the next, so its ends are the one-sided limits and no vertical segment
    joins the pieces. The kink points themselves are not on the line: the markers show
    them.
    """
    grid = np.linspace(lo, hi, num)
    cuts = sorted({k[0] for k in _kinks_in(curve, lo, hi)})
    edges = [lo, *cuts, hi]
    xs: list[Any] = []
    ys: list[Any] = []
    for a, b in itertools.pairwise(edges):
        if a == b:
            continue
        start = np.nextafter(a, math.inf) if a in cuts else a
        stop = np.nextafter(b, -math.inf) if b in cuts else b
        inner = grid[(grid > start) & (grid < stop)]
        seg = np.concatenate([[start], inner, [stop]]).astype(np.float64)
        if xs:
            xs.append(np.array([np.nan]))
            ys.append(np.array([np.nan]))
        xs.append(seg)
        ys.append(np.asarray(curve.derivative(seg), dtype=np.float64))
    return np.concatenate(xs), np.concatenate(ys)


def _is_jump(left: float, right: float, value: float) -> bool:
    """Whether a kink is visible: the one-sided limits or the value used differ."""

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)

    if math.isnan(value):
        return not close(left, right)
    return not (close(left, right) and close(value, left) and close(value, right))


def kink_markers(
    curve: Curve, lo: float, hi: float, at_kink: float | None
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Open-circle points (one-sided limits) and filled-dot points (value used).

    A kink where both limits and the value used agree to 1e-6 is no visible jump and gets
    no marker: elu with ``alpha=1`` at 0, or softplus at ``x = threshold / beta`` where
    the derivative jumps from ``sigmoid(20)`` to 1 (by 2e-9).
    """
    limits, used = [], []
    scale = _up_scale(curve)
    for x, left, right, default in _kinks_in(curve, lo, hi):
        # (a gated entry's at_kink replaces f'(kink): d/d gate there is at_kink * up)
        value = default if at_kink is None else at_kink * scale
        if not _is_jump(left, right, value):
            continue
        limits += [(x, left), (x, right)]
        used.append((x, value))
    return limits, used


# ---------------------------------------------------------------------------
# drawing
# ---------------------------------------------------------------------------


def _fg() -> Any:
    import matplotlib as mpl

    return mpl.rcParams["text.color"]


def _draw_value(ax: Axes, curve: Curve, lim: tuple[float, float], num: int, **kw: Any) -> Any:
    x, y = value_samples(curve, *lim, num)
    kw.setdefault("linewidth", 2.0)
    (line,) = ax.plot(x, y, **kw)
    line.set_gid(f"value:{curve.act.name}")
    return line


def _draw_derivative(
    ax: Axes,
    curve: Curve,
    lim: tuple[float, float],
    num: int,
    at_kink: float | None,
    markersize: float = _MARKER_SIZE,
    **kw: Any,
) -> tuple[Any, bool]:
    """The derivative line (broken at kinks) and its kink markers; returns (line, marked)."""
    x, y = derivative_samples(curve, *lim, num)
    kw.setdefault("linewidth", 1.8)
    (line,) = ax.plot(x, y, **kw)
    line.set_gid(f"derivative:{curve.act.name}")
    color = line.get_color()
    limits, used = kink_markers(curve, *lim, at_kink)
    if not limits:
        return line, False
    common: dict[str, Any] = dict(
        linestyle="none",
        marker="o",
        markersize=markersize,
        label="_nolegend_",
        clip_on=False,  # a kink at the edge of the range shows whole circles
        color=color,  # (and the markers do not use up a colour of the cycle)
    )
    (open_,) = ax.plot(
        [p[0] for p in limits],
        [p[1] for p in limits],
        markerfacecolor=ax.get_facecolor(),  # hollow, and hides the line's end
        markeredgecolor=color,
        markeredgewidth=_MARKER_EDGE,
        zorder=3,
        **common,
    )
    open_.set_gid(f"kink-limits:{curve.act.name}")
    (dot,) = ax.plot(
        [p[0] for p in used],
        [p[1] for p in used],
        markerfacecolor=color,
        markeredgecolor=color,
        zorder=4,
        **common,
    )
    dot.set_gid(f"kink-used:{curve.act.name}")
    return line, True


def _marker_handles(at_kink: float | None) -> list[Any]:
    """Two legend entries that explain the kink markers."""
    from matplotlib.lines import Line2D

    fg = _fg()
    used = (
        "derivative used at the kink (PyTorch's)"
        if at_kink is None
        else f"derivative used at the kink (at_kink={at_kink:g})"
    )
    return [
        Line2D([], [], linestyle="none", marker="o", markersize=_MARKER_SIZE,
               markerfacecolor="none", markeredgecolor=fg, markeredgewidth=_MARKER_EDGE,
               label="one-sided limits"),
        Line2D([], [], linestyle="none", marker="o", markersize=_MARKER_SIZE,
               markerfacecolor=fg, markeredgecolor=fg, label=used),
    ]  # fmt: skip


def _finish(ax: Axes, lim: tuple[float, float], ylabel: str | None) -> None:
    ax.set_xlim(*lim)
    ax.margins(y=0.08)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel("x")
    if ylabel:
        ax.set_ylabel(ylabel)


def _panel(
    ax: Axes,
    curves: Iterable[Curve],
    derivative: bool | str,
    lim: tuple[float, float],
    num: int,
    at_kink: float | None,
    long: bool,
) -> tuple[list[Any], bool]:
    """Draw curves into one axes: values solid, derivatives dashed (solid when alone).

    Several curves: each later one narrower (and, where the line style does not tell
    values from derivatives, dashed), so that curves that coincide stay visible.
    """
    handles: list[Any] = []
    marked = False
    curves = list(curves)
    for i, curve in enumerate(curves):
        color = None
        look = _look(i, len(curves))
        width = {"linewidth": look["linewidth"]} if look else {}
        if derivative != "only":
            style = {"linestyle": look["linestyle"]} if look and not derivative else {}
            line = _draw_value(
                ax, curve, lim, num, label=curve.label("value", long), **width, **style
            )
            handles.append(line)
            # one curve: the derivative takes the next colour; several: the same colour
            color = line.get_color() if len(curves) > 1 else None
        if derivative:
            line, m = _draw_derivative(
                ax,
                curve,
                lim,
                num,
                at_kink,
                markersize=look.get("markersize", _MARKER_SIZE),
                label=curve.label("derivative", long),
                color=color,
                linestyle="--" if derivative is True else look.get("linestyle", "-"),
                **width,
            )
            handles.append(line)
            marked |= m
    return handles, marked


def _ylabel(derivative: bool | str) -> str:
    if derivative is True:
        return "f(x), f'(x)"
    return "f'(x)" if derivative == "only" else "f(x)"


def _default_title(acts: Sequence[Activation], derivative: bool | str) -> str:
    titles = list(dict.fromkeys(a.title for a in acts))
    names = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
    if derivative == "only":
        return ("Derivative of " if len(titles) == 1 else "Derivatives of ") + names
    if derivative:
        return names + (" and its derivative" if len(titles) == 1 else " and their derivatives")
    return names


# ---------------------------------------------------------------------------
# the public function
# ---------------------------------------------------------------------------


def plot(
    *activations: str | Activation,
    derivative: bool | Literal["only"] = False,
    xlim: tuple[float, float] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
    layout: Literal["overlay", "grid"] = "overlay",
    style: str | None = None,
    at_kink: float | None = None,
    num: int = 1001,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    up: float | Sequence[float] | None = None,
    **params: Any,
) -> Figure:
    """Plot activations and, on request, their derivatives; returns the ``Figure``.

    Parameters
    ----------
    *activations
        Names or aliases (``"relu"``, ``"LeakyReLU"``) or :class:`~relukit.Activation`
        objects; ``*rk.catalogue()`` for all of them.
    derivative
        ``False`` (values only, the default), ``True`` (values and derivatives) or
        ``"only"`` (derivatives only). With ``True`` and ``layout="overlay"``, a new
        figure has two panels side by side, ``f(x)`` and ``f'(x)``, one colour per curve.
        The derivative line is broken at each kink; open circles mark the one-sided
        limits and a filled dot the value relukit uses there.
    xlim
        The x range ``(low, high)``, finite, ``low < high``. Default ``(-6, 6)``, widened
        symmetrically to ``(-L, L)`` with ``L = ceil(|kink|) + 1`` when a kink of the
        drawn curves lies outside ``(-5, 5)`` (relu6: ``(-7, 7)``), so every kink shows.
    ax
        Draw into this matplotlib ``Axes`` (values solid, derivatives dashed) or into a
        pair of axes ``(values_ax, derivatives_ax)``; the returned figure is
        ``ax.figure``. Only with ``layout="overlay"``.
    layout
        ``"overlay"``: every activation in the same panel(s). ``"grid"``: one panel per
        activation (values solid, derivatives dashed, sweeps in the same panel).
    style
        ``None`` (matplotlib's current style), ``"dark"`` (for dark backgrounds),
        ``"light"``/``"print"`` (matplotlib's default, white) or any name from
        ``matplotlib.style.available``.
    at_kink
        The derivative to show AT each kink (the filled dot), as in
        :meth:`Activation.derivative`; default: relukit's convention (PyTorch's).
    num
        Points per curve, 2 to 100,000 (``NUM_MAX``); kink points are always added
        exactly.
    title
        The figure title; default from the names (``"ReLU and its derivative"``);
        ``""`` for none.
    figsize
        ``(width, height)`` in inches for a new figure.
    up
        The second input of the gated entries (``glu``, ``reglu``, ``geglu``,
        ``swiglu``, ``bilinear``), which are drawn as functions of the gate: the value
        ``f(gate) * up`` and the derivative with respect to the gate, ``f'(gate) * up``.
        A finite number (default 1) or a list of them (one curve each); a ``TypeError``
        when no gated entry is drawn.
    **params
        Activation parameters (``negative_slope=0.1``). A list, tuple or 1-d array is a
        sweep: one curve per value (the product of the values when several parameters
        are swept). A parameter applies to the drawn activations that have it; one that
        none of them has is a ``TypeError`` (``range=`` gets the hint that the x range
        is ``xlim=``, the command line's ``--range``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError, ValueError
        For an unknown activation, parameter or option, naming the bad value.

    Examples
    --------
    >>> import relukit as rk
    >>> fig = rk.plot("relu", "leaky_relu", derivative="only", negative_slope=0.1)
    >>> ax = fig.axes[0]
    >>> for text in ax.get_legend().get_texts():
    ...     print(text.get_text())
    relu'(x) = 1 if x > 0, 0 if x <= 0
    leaky_relu'(x) = 1 if x > 0, negative_slope if x <= 0;
        negative_slope=0.1
    one-sided limits
    derivative used at the kink (PyTorch's)
    >>> dot = next(ln for ln in ax.lines if ln.get_gid() == "kink-used:relu")
    >>> dot.get_xydata().tolist()
    [[0.0, 0.0]]
    >>> fig = rk.plot(*rk.catalogue(), layout="grid", derivative=True)
    >>> len(fig.axes) == len(rk.catalogue())
    True
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """
    if not activations:
        raise TypeError(
            "plot: give at least one activation, e.g. rk.plot('relu'), or "
            "rk.plot(*rk.catalogue(), layout='grid') for all of them"
        )
    acts = [get(a) for a in activations]
    if not (isinstance(derivative, bool) or derivative == "only"):
        raise ValueError(f"plot: derivative must be True, False or 'only', got {derivative!r}")
    if layout not in ("overlay", "grid"):
        raise ValueError(f"plot: layout must be 'overlay' or 'grid', got {layout!r}")
    if isinstance(num, bool) or not isinstance(num, numbers.Integral) or not 2 <= num <= NUM_MAX:
        raise ValueError(
            f"plot: num must be an integer >= 2 and at most {NUM_MAX} (points per curve), "
            f"got {num!r}"
        )
    at_kink = check_at_kink("plot", at_kink)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"plot: title must be a string or None, got {title!r}")
    if ax is not None and layout == "grid":
        raise ValueError("plot: ax= works with layout='overlay' only (a grid makes its own axes)")
    groups = _curves(acts, params, up)
    lim = _auto_xlim(groups, at_kink) if xlim is None else _check_xlim(xlim)
    if title is None:
        title = _default_title(acts, derivative)
        if layout == "grid" and acts == catalogue():
            title = "The relukit catalogue" + (
                ": f(x) solid, f'(x) dashed" if derivative is True else ""
            )
    plt = _pyplot()
    before = set(plt.get_fignums())
    try:
        with _style_context(style):
            if layout == "grid":
                return _grid(plt, groups, derivative, lim, int(num), at_kink, title, figsize, acts)
            return _overlay(plt, groups, derivative, lim, int(num), at_kink, title, figsize, ax)
    except BaseException:
        for n in set(plt.get_fignums()) - before:  # no half-drawn figure is left open
            plt.close(n)
        raise


def _auto_xlim(groups: list[list[Curve]], at_kink: float | None) -> tuple[float, float]:
    """``(-6, 6)``, or ``(-L, L)`` wide enough to show every marked kink with a margin."""
    far = max(
        (
            abs(x)
            for g in groups
            for c in g
            for x, left, right, used in c.kink_points()
            if _is_jump(left, right, used if at_kink is None else at_kink * _up_scale(c))
        ),
        default=0.0,
    )
    half = 6.0 if not far < math.inf or far <= 5.0 else float(math.ceil(far) + 1)
    return -half, half


def _up_scale(curve: Curve) -> float:
    return float(curve.up) if curve.act.gated and curve.up is not None else 1.0


def _check_xlim(xlim: Any, who: str = "plot") -> tuple[float, float]:
    """``(low, high)`` as floats: a pair of finite real numbers, low < high (``who``
    names the caller in the errors: ``rk.explore`` checks its ``xlim`` here too)."""
    try:
        lo, hi = xlim
        ok = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (lo, hi))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TypeError(f"{who}: xlim must be a pair of numbers (low, high), got {xlim!r}")
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{who}: xlim must be finite with low < high, got {xlim!r}")
    return lo, hi


def _overlay(
    plt: Any,
    groups: list[list[Curve]],
    derivative: bool | str,
    lim: tuple[float, float],
    num: int,
    at_kink: float | None,
    title: str,
    figsize: tuple[float, float] | None,
    ax: Any,
) -> Figure:
    long = all(len(g) == 1 for g in groups)  # formulas as labels unless there are sweeps
    curves = [c for g in groups for c in g]
    pair = None
    created = ax is None
    # a new figure: the legends go under the axes, where they cannot hide a curve
    legend_kw: dict[str, Any] = (
        {"fontsize": 8, "loc": "upper center", "bbox_to_anchor": (0.5, -0.15), "frameon": False}
        if created
        else {"fontsize": 8, "loc": "best", "framealpha": 0.85}
    )
    if created:
        if derivative is True:
            fig, pair = plt.subplots(
                1, 2, figsize=figsize or (11.5, 5.0), layout="constrained", FigureClass=_fig_cls()
            )
        else:
            fig, ax = plt.subplots(
                figsize=figsize or (6.6, 5.0), layout="constrained", FigureClass=_fig_cls()
            )
        if title:
            fig.suptitle(title)
    else:
        if isinstance(ax, (list, tuple, np.ndarray)):
            axes = list(np.ravel(ax))
            if len(axes) != 2 or derivative is not True:
                raise ValueError(
                    "plot: ax= takes one Axes, or a pair (values_ax, derivatives_ax) "
                    f"with derivative=True; got {len(axes)} axes with derivative={derivative!r}"
                )
            pair = axes
        fig = (pair[0] if pair is not None else ax).figure
    if pair is not None:
        ax_v, ax_d = pair
        handles_v, handles_d, marked = [], [], False
        for i, c in enumerate(curves):
            # later curves narrower and dashed: a curve on top of another leaves it visible
            look = _look(i, len(curves))
            width, style = look.get("linewidth", 2.0), look.get("linestyle", "-")
            line = _draw_value(
                ax_v, c, lim, num, label=c.label("value", long), linewidth=width, linestyle=style
            )
            handles_v.append(line)
            line, m = _draw_derivative(
                ax_d, c, lim, num, at_kink, markersize=look.get("markersize", _MARKER_SIZE),
                label=c.label("derivative", long), color=line.get_color(), linewidth=width,
                linestyle=style,
            )  # fmt: skip
            handles_d.append(line)
            marked |= m
        _finish(ax_v, lim, "f(x)")
        _finish(ax_d, lim, "f'(x)")
        ax_v.legend(handles=handles_v, **legend_kw)
        ax_d.legend(handles=handles_d + (_marker_handles(at_kink) if marked else []), **legend_kw)
        if len(groups) == 1 and not long:  # a sweep of one activation: formulas on top
            ax_v.set_title(textwrap.fill(_formula_text(curves[0].act, "value"), 70), fontsize=9)
            ax_d.set_title(
                textwrap.fill(_formula_text(curves[0].act, "derivative"), 70), fontsize=9
            )
        else:
            ax_v.set_title("value", fontsize=10)
            ax_d.set_title("derivative", fontsize=10)
        if title and not created:
            ax_v.set_title(title)
        return fig
    handles, marked = _panel(ax, curves, derivative, lim, num, at_kink, long)
    _finish(ax, lim, _ylabel(derivative))
    ax.legend(handles=handles + (_marker_handles(at_kink) if marked else []), **legend_kw)
    if title and not created:
        ax.set_title(title)
    return fig


def _grid(
    plt: Any,
    groups: list[list[Curve]],
    derivative: bool | str,
    lim: tuple[float, float],
    num: int,
    at_kink: float | None,
    title: str,
    figsize: tuple[float, float] | None,
    acts: Sequence[Activation],
) -> Figure:
    n = len(groups)
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=figsize or (3.4 * ncols, 2.9 * nrows + 0.6),
        layout="constrained",
        squeeze=False,
        FigureClass=_fig_cls(),
    )
    flat = list(axes.ravel())
    marked_any = False
    for i, (ax, curves) in enumerate(zip(flat, groups, strict=False)):
        handles, marked = _panel(ax, curves, derivative, lim, num, at_kink, long=False)
        marked_any |= marked
        _finish(ax, lim, _ylabel(derivative) if i % ncols == 0 else None)
        ax.set_title(curves[0].act.title, fontsize=10)
        ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.85)
    for ax in flat[n:]:
        fig.delaxes(ax)
    if marked_any:
        fig.legend(
            handles=_marker_handles(at_kink),
            loc="outside lower center",
            ncols=2,
            fontsize=8,
            frameon=False,
        )
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------
# files: the demo and the docs figures
# ---------------------------------------------------------------------------


def save(fig: Figure, path: str | os.PathLike[str], dpi: float = 100, **savefig_kw: Any) -> Path:
    """Save ``fig`` to ``path`` (format from the extension: .png, .svg or .pdf).

    Raises ``ValueError`` for another extension, a bad ``dpi`` or a missing folder.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(
            f"cannot write {str(path)!r}: the format comes from the extension, "
            f"which must be .png, .svg or .pdf (got {path.suffix or 'none'!r})"
        )
    if isinstance(dpi, bool) or not isinstance(dpi, numbers.Real) or not dpi > 0:
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
    try:
        fig.savefig(path, format=fmt, dpi=float(dpi), **savefig_kw)
    except OSError as exc:
        raise ValueError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    return path


def tutorial_figure(**kw: Any) -> Figure:
    """relu and its derivative, as in the tutorials (and ``relukit demo``'s relu.png)."""
    return plot("relu", derivative=True, **kw)


def gallery_figure(**kw: Any) -> Figure:
    """The whole catalogue, one panel each, values and derivatives."""
    return plot(*catalogue(), layout="grid", derivative=True, **kw)


def demo_figures(out: Path, console: Console) -> list[Path]:
    """Write ``relu.png`` and ``gallery.png`` into ``out`` and say where they are."""
    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in (("relu.png", tutorial_figure), ("gallery.png", gallery_figure)):
        fig = make()
        try:
            written.append(save(fig, out / name, dpi=110))
        finally:
            plt.close(fig)
    console.rule("[bold]Figures[/]")
    console.print(f"relu and its derivative: [bold]{written[0].resolve()}[/]", highlight=False)
    console.print(
        f"the whole catalogue ({len(catalogue())} activations): [bold]{written[1].resolve()}[/]",
        highlight=False,
    )
    return written


# ---------------------------------------------------------------------------
# `rk.plot` is both this module and its function
# ---------------------------------------------------------------------------


from relukit._callable import make_callable  # noqa: E402

make_callable(__name__, plot)
