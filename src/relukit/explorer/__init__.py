"""An interactive explorer of the catalogue: one self-contained HTML page.

:func:`explore` writes a page (no server, no network: Plotly, KaTeX and the numbers are
all inside it) where a reader picks one or several activations and sees

* their value and derivative over an adjustable x range, with the exact numbers at a
  cursor (the read-out prints them as Python's ``repr`` does);
* a slider for each parameter (``negative_slope``, ``alpha``, ``min_val``, ...);
* the kinks drawn as :func:`relukit.plot` draws them (open circles for the one-sided
  limits, a filled dot for the derivative used there) and a switch for ``at_kink``
  (relukit's default, PyTorch's value; 0; 1; 0.5) that moves the dot;
* the region where the derivative is exactly 0 shaded (a unit there gets no gradient);
* the formula (rendered), the kink conventions and the rows of the convention table;
* a dying-unit view: pre-activations of one layer (a Gaussian whose mean and spread
  are sliders), with the share of dead units for each activation shown, and, given the
  ``metrics.json`` of a ``relukit experiment dying-relu`` run, the dead units measured
  there.

Every number on the page is computed by relukit itself when the page is written (see
:mod:`relukit.explorer._data`); the page's script only switches between them.

Needs the ``explore`` extra (Plotly): ``pip install 'relukit[explore]'``.

Examples
--------
>>> import relukit as rk, tempfile, pathlib
>>> page = rk.explore("relu", "leaky_relu", offer=["relu", "leaky_relu"])
>>> page
<relukit explorer: relu, leaky_relu (2 offered), ... MB>
>>> path = page.save(pathlib.Path(tempfile.mkdtemp()) / "explorer.html")
>>> path.read_text(encoding="utf-8") == page.html
True
"""

from __future__ import annotations

import html as _html
import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relukit.catalogue import Activation, catalogue, get

__all__ = ["Explorer", "explore", "load_metrics"]

#: how far the page samples x (``xlim`` must lie inside)
SPAN = (-10.0, 10.0)

#: the activations a page shows first when none is named
DEFAULT_SHOWN = ("relu", "leaky_relu")


@dataclass(frozen=True)
class Explorer:
    """An explorer page: ``.html`` is the whole self-contained page.

    In a notebook it displays inline (the page in an ``iframe``, so its styles and
    scripts stay apart from the notebook's); :meth:`save` writes it.
    """

    html: str
    shown: tuple[str, ...]
    offered: tuple[str, ...]

    @property
    def size(self) -> int:
        """The page's size in bytes (UTF-8)."""
        return len(self.html.encode("utf-8"))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (UTF-8) and return it as a :class:`~pathlib.Path`."""
        p = Path(path)
        p.write_text(self.html, encoding="utf-8")
        return p

    def _repr_html_(self) -> str:
        # srcdoc keeps the page whole (its own scripts, styles and fonts) and offline
        return (
            '<iframe class="relukit-explorer" title="relukit explorer" '
            'style="width:100%;height:1500px;border:0" sandbox="allow-scripts" '
            f'srcdoc="{_html.escape(self.html, quote=True)}"></iframe>'
        )

    def __repr__(self) -> str:
        return (
            f"<relukit explorer: {', '.join(self.shown)} ({len(self.offered)} offered), "
            f"{self.size / 1e6:.1f} MB>"
        )


def _names(acts: Sequence[str | Activation], what: str) -> list[Activation]:
    out: list[Activation] = []
    for a in acts:
        if not isinstance(a, (str, Activation)):
            raise TypeError(
                f"explore: {what} must be activation names or relukit Activations, "
                f"got {a!r} ({type(a).__name__})"
            )
        act = get(a)
        if act.name not in {o.name for o in out}:
            out.append(act)
    return out


def _check_xlim(xlim: Any) -> tuple[float, float]:
    from relukit.plot import _check_xlim as pair  # (rk.plot's check: the same messages)

    lo, hi = pair(xlim, "explore")
    if lo < SPAN[0] or hi > SPAN[1]:
        raise ValueError(
            f"explore: xlim must lie within [{SPAN[0]:g}, {SPAN[1]:g}] (the range the page "
            f"samples), got {xlim!r}"
        )
    return lo, hi


def _auto_xlim(acts: Sequence[Activation]) -> tuple[float, float]:
    """``(-6, 6)``, widened (to at most ±10) to show every kink of the default
    parameters, as the static plots do (relu6: ``(-7, 7)``)."""
    far = max(
        (abs(k[0]) for a in acts for k in a.kink_points() if abs(k[0]) <= SPAN[1]),
        default=0.0,
    )
    half = 6.0 if far <= 5.0 else min(float(math.ceil(far) + 1), SPAN[1])
    return -half, half


def _check_at_kink(at_kink: Any) -> float | None:
    if at_kink is None:
        return None
    if isinstance(at_kink, bool) or not isinstance(at_kink, numbers.Real):
        raise TypeError(
            "explore: at_kink must be None (relukit's default, PyTorch's value) or a "
            f"finite real number such as 0, 1 or 0.5; got {at_kink!r} ({type(at_kink).__name__})"
        )
    v = float(at_kink)
    if not math.isfinite(v):
        raise ValueError(
            f"explore: at_kink must be None or a finite real number such as 0, 1 or 0.5 "
            f"(a dot at nan or inf cannot be drawn); got {v!r}"
        )
    return v


def load_metrics(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read and check the ``metrics.json`` of a ``relukit experiment dying-relu`` run.

    Returns what the explorer shows of it: per trained variant (``relu``,
    ``leaky_relu``, ``elu``, ``relu+recycle``), the share of dead units per hidden
    layer at each evaluation step (mean, lowest and highest over the seeds) and the
    final dead share (mean and spread over seeds, from the file's summary).

    Raises
    ------
    ValueError
        The file is missing, not JSON, or not the metrics of a dying-relu run; the
        message says which and what is expected.
    """
    where = "metrics"
    if isinstance(source, Mapping):
        metrics: Any = source
    else:
        where = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{where}: cannot read it ({exc.strerror or exc})") from None
        try:
            metrics = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not JSON ({exc.msg} at line {exc.lineno})") from None
    expected = (
        "the metrics.json of a `relukit experiment dying-relu` run (with 'config', "
        "'summary' and 'runs', each run with 'variant', 'steps' and 'dead_fraction' per layer)"
    )
    try:
        cfg = metrics["config"]
        runs = metrics["runs"]
        summary = metrics["summary"]
        variants: dict[str, Any] = {}
        for r in runs:
            v = variants.setdefault(r["variant"], {"steps": list(r["steps"]), "runs": []})
            if list(r["steps"]) != v["steps"]:
                raise ValueError("the seeds of a variant were evaluated at different steps")
            layers = {str(k): [float(x) for x in vals] for k, vals in r["dead_fraction"].items()}
            if any(len(vals) != len(v["steps"]) for vals in layers.values()):
                raise ValueError("a layer has not one dead share per step")
            v["runs"].append(layers)
        out: dict[str, Any] = {
            "dataset": str(cfg["dataset"]),
            "optimizer": str(cfg["optimizer"]),
            "lr": float(cfg["lr"]),
            "epochs": int(cfg["epochs"]),
            "seeds": [int(s) for s in cfg["seeds"]],
            "negativeSlope": float(cfg.get("negative_slope", 0.01)),
            "variants": {},
        }
        for name, v in variants.items():
            layers_out = {}
            for layer in v["runs"][0]:
                per_seed = [run[layer] for run in v["runs"]]
                cols = list(zip(*per_seed, strict=True))
                layers_out[layer] = {
                    "mean": [sum(c) / len(c) for c in cols],
                    "low": [min(c) for c in cols],
                    "high": [max(c) for c in cols],
                }
            final = summary.get(name, {})
            out["variants"][name] = {
                "steps": v["steps"],
                "layers": layers_out,
                "finalMean": float(final["dead_fraction_mean"])
                if "dead_fraction_mean" in final
                else None,
                "finalStd": float(final["dead_fraction_std"])
                if "dead_fraction_std" in final
                else None,
            }
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}; expected {expected}") from None
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(
            f"{where}: not the metrics of a dying-relu run (missing or wrong {exc}); "
            f"expected {expected}"
        ) from None
    if not out["variants"]:
        raise ValueError(f"{where}: the run has no variants; expected {expected}")
    return out


def explore(
    *activations: str | Activation,
    offer: Sequence[str | Activation] | None = None,
    xlim: tuple[float, float] | None = None,
    at_kink: float | None = None,
    metrics: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    libraries: Sequence[str] = ("relukit", "tutorials"),
    title: str = "relukit explorer",
) -> Explorer:
    """An interactive page of activations, their derivatives and their dead regions.

    The page is self-contained HTML (Plotly and KaTeX inside, no network); every number
    on it was computed by relukit when the page was written: the value and the
    derivative of each activation on a grid of x for every combination of its slider
    values, the kinks with their one-sided limits and the derivative used at each for
    each ``at_kink`` choice, the no-gradient regions and the dying-unit shares.

    Parameters
    ----------
    *activations
        The activations shown when the page opens (names, aliases or
        :class:`~relukit.Activation`); default ``relu`` and ``leaky_relu``.
    offer
        The activations the reader can pick from; default the whole catalogue. Fewer
        make a smaller page.
    xlim
        The x range shown first, within ``[-10, 10]`` (the range sampled); default
        ``(-6, 6)``, widened to show the kinks of the activations shown first.
    at_kink
        The derivative used AT a kink when the page opens: None (relukit's default, the
        value PyTorch's autograd gives), or a number; the page switches between None,
        0, 1, 0.5 (and this number, if another).
    metrics
        The ``metrics.json`` of a ``relukit experiment dying-relu`` run (a path, or the
        dict the run returned): the dying-unit view then also shows the dead units
        measured in that run (see :func:`load_metrics`).
    libraries
        The columns of the convention table rows on the page
        (:data:`relukit.conventions.LIBRARIES`: ``"relukit"``, ``"PyTorch"``, ``"JAX"``,
        ``"tutorials"``); PyTorch and JAX are measured live, which takes seconds.
    title
        The page's title.

    Returns
    -------
    Explorer
        ``.html`` (the page), ``.save(path)``, and inline display in a notebook.

    Examples
    --------
    >>> import relukit as rk
    >>> page = rk.explore("relu", "leaky_relu", offer=["relu", "leaky_relu", "elu"])
    >>> page.shown, page.offered
    (('relu', 'leaky_relu'), ('relu', 'leaky_relu', 'elu'))
    >>> page.size < 3_000_000
    True
    """
    from relukit.conventions import LIBRARIES

    shown = _names(activations or DEFAULT_SHOWN, "activations")
    offered = catalogue() if offer is None else _names(offer, "offer")
    if not offered:
        raise ValueError("explore: offer must name at least one activation")
    missing = [a.name for a in shown if a.name not in {o.name for o in offered}]
    if missing:
        raise ValueError(
            f"explore: {', '.join(missing)} is shown but not offered; add it to offer= "
            f"(offered: {', '.join(o.name for o in offered)})"
        )
    lim = _auto_xlim(shown) if xlim is None else _check_xlim(xlim)
    at = _check_at_kink(at_kink)
    if isinstance(libraries, str) or not all(isinstance(v, str) for v in libraries):
        raise TypeError(f"explore: libraries must be a sequence of names, got {libraries!r}")
    bad = [v for v in libraries if v not in LIBRARIES]
    if bad or not libraries:
        raise ValueError(
            f"explore: libraries must be some of {', '.join(LIBRARIES)}, got {list(libraries)!r}"
        )
    if not isinstance(title, str):
        raise TypeError(f"explore: title must be a str, got {title!r} ({type(title).__name__})")
    run = None if metrics is None else load_metrics(metrics)

    from relukit.explorer._page import render

    page = render(
        shown=shown,
        offered=offered,
        xlim=lim,
        at_kink=at,
        metrics=run,
        libraries=tuple(libraries),
        title=title,
    )
    return Explorer(page, tuple(a.name for a in shown), tuple(a.name for a in offered))
