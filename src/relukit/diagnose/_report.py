"""The result of :func:`relukit.diagnose`: per-site dead and dormant units, and sparsity."""

from __future__ import annotations

import functools
import html
import json
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DeadUnitReport", "SiteReport"]

_COLUMNS = (
    "site",
    "kind",
    "unit",
    "units",
    "dead",
    "dead %",
    "dormant",
    "mean act. rate",
    "sparsity %",
)
_LEFT = frozenset({"site", "kind", "unit"})


def _text_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], note: str | None, width: int
) -> str:
    """Plain-text table: title, header, a rule, the rows, the notes; at most ``width`` wide.

    When the rows are too wide, the headers of the other columns wrap onto several lines
    (down to their cells' width), then the site column (the first) wraps onto several
    lines. ``note``: one note per line.
    """
    cells = [max([0] + [len(r[i]) for r in rows]) for i in range(len(header))]
    heads = [[h] for h in header]
    widths = [max(len(h), c) for h, c in zip(header, cells, strict=True)]
    rest = sum(widths[1:]) + 2 * (len(widths) - 1)
    # too wide: wrap the header that saves most ("mean act. rate" -> "mean / act. /
    # rate"), down to its cells' width, until the table fits or nothing is left to wrap
    narrow = [
        max(c, *(len(word) for word in h.split())) for h, c in zip(header, cells, strict=True)
    ]
    while rest + len(header[0]) > width:
        i = max(range(1, len(header)), key=lambda k: widths[k] - narrow[k])
        if widths[i] <= narrow[i]:
            break
        heads[i] = textwrap.wrap(header[i], narrow[i])
        widths[i] = max(cells[i], *(len(part) for part in heads[i]))
        rest = sum(widths[1:]) + 2 * (len(widths) - 1)
    widths[0] = max(len(header[0]), min(widths[0], width - rest))
    depth = max(len(h) for h in heads)
    heads = [[""] * (depth - len(h)) + h for h in heads]  # headers sit on the rule

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if h in _LEFT else c.rjust(w)
            for c, w, h in zip(cells, widths, header, strict=True)
        ).rstrip()

    out = [*textwrap.wrap(title, width)]
    out += [line([h[k] for h in heads]) for k in range(depth)]
    out.append(line(["-" * w for w in widths]))
    for r in rows:
        first = textwrap.wrap(r[0], widths[0], break_on_hyphens=False) or [""]
        out.append(line([first[0], *r[1:]]))
        out += [line([part] + [""] * (len(r) - 1)) for part in first[1:]]
    for n in (note or "").splitlines():
        out += textwrap.wrap(n, width)
    return "\n".join(out)


def _html_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], note: str | None
) -> str:
    """The same table as HTML (cells escaped); numbers right-aligned."""
    e = html.escape

    def cell(tag: str, text: str, col: str) -> str:
        align = "left" if col in _LEFT else "right"
        return f"<{tag} style='text-align:{align}'>{e(text)}</{tag}>"

    head = "".join(cell("th", h, h) for h in header)
    body = "".join(
        "<tr>" + "".join(cell("td", c, h) for c, h in zip(r, header, strict=True)) + "</tr>"
        for r in rows
    )
    notes = "<br>".join(e(n) for n in (note or "").splitlines())
    foot = f"<tfoot><tr><td colspan='{len(header)}'>{notes}</td></tr></tfoot>" if note else ""
    return (
        f"<table><caption>{e(title)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody>{foot}</table>"
    )


@functools.cache
def _notebook_table_class() -> type:
    """A rich Table whose notebook display is plain text without colour codes, and HTML.

    rich's own tables give notebooks a ``text/plain`` full of ANSI escape codes (what a
    notebook then stores, and what ``nbconvert --to script`` and plain-text front ends
    show). Defined on first use: rich is imported only by :meth:`DeadUnitReport.table`.
    """
    from rich.table import Table

    class ReportTable(Table):
        relukit_bundle: dict[str, str]

        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kw: Any) -> Any:
            return dict(self.relukit_bundle)

    return ReportTable


def _fraction(count: np.ndarray | None, values: int) -> float:
    if count is None:
        return float("nan")
    return int(count.sum()) / values if values else 0.0


def redo_score(abs_mean: np.ndarray) -> np.ndarray:
    """ReDo scores ``s_i = mean|h_i| / mean_k mean|h_k|`` from each unit's mean ``|h|``.

    The layer's mean runs over the units whose mean is finite: a unit whose output held
    a NaN (a NaN weight or bias) has a NaN mean, one that overflowed +inf, and either
    would make every other unit's score NaN or 0. Such a unit keeps its own NaN (+inf)
    score, and the other units score against the rest of the layer. When the finite
    means are all 0 (a silent layer) or there are none, those units score 0.

    Parameters
    ----------
    abs_mean
        Per unit: mean of ``|h|`` over its outputs.

    Returns
    -------
    numpy.ndarray
        Per unit: the score (float64).
    """
    a = np.asarray(abs_mean, dtype=np.float64)
    finite = np.isfinite(a)
    layer = float(a[finite].mean()) if finite.any() else 0.0
    if not layer > 0:
        return np.where(finite, 0.0, a)
    return a / layer


def dormant_mask(score: np.ndarray, tau: float) -> np.ndarray:
    """Per unit: ReDo score ``<= tau``, or NaN (a unit whose output held a NaN, which
    counts as dormant as it counts as dead: NaN is not > 0)."""
    return ~(np.asarray(score) > tau)


def _check_tau(tau: Any) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not (tau >= 0):
        raise ValueError(f"tau must be a real number >= 0, got {tau!r}")
    return float(tau)


@dataclass
class SiteReport:
    """Counts for one activation site.

    Attributes
    ----------
    name, kind, source
        Site name, activation kind (``"relu"``, ``"leaky_relu"``, ...) and ``"module"``
        or ``"functional"``.
    unit
        ``"feature"`` (last dim) or ``"channel"`` (dim 1).
    n_units, n_values
        Number of units; number of values seen per unit (samples × positions).
    positive_count
        Per unit: how many of its pre-activations were > 0.
    abs_mean
        Per unit: mean of ``|h|`` over its post-activations ``h``.
    producer, consumers, escapes, producer_input
        How the site is wired, as seen in the first traced pass: the module whose
        output is the pre-activation, the modules that read the output (through
        dropout, pooling, batch norm and a flatten), the other uses of the output that
        :func:`recycle` cannot follow (residual sums, the model output), and the module
        a batch-norm producer normalised.
    zero_count
        Per unit: how many of its output values were exactly 0 (``h == 0``, +0 and -0;
        NaN is not 0); at a gated site, of the gate's activation ``f(gate)``.
    output_zero_count
        Gated sites only (None elsewhere): per unit, zeros of the gated output
        ``f(gate) * up``.
    gated
        The site is a gated linear unit (glu, reglu, geglu, swiglu, bilinear).
    """

    name: str
    kind: str
    source: str
    unit: str
    n_units: int
    n_values: int
    positive_count: np.ndarray
    abs_mean: np.ndarray
    tau: float = 0.1
    producer: str | None = None
    consumers: list[tuple[str, int | None]] = field(default_factory=list)
    escapes: list[str] = field(default_factory=list)
    producer_input: str | None = None
    zero_count: np.ndarray | None = None
    output_zero_count: np.ndarray | None = None
    gated: bool = False

    @property
    def unit_sparsity(self) -> np.ndarray:
        """Per unit: fraction of its output values (of ``f(gate)`` at a gated site) that
        were exactly 0. A dead ReLU unit has 1."""
        if self.zero_count is None:
            return np.full(self.n_units, np.nan)
        return self.zero_count / max(self.n_values, 1)

    @property
    def sparsity(self) -> float:
        """Fraction of the activation's output values that were exactly 0 (+0 or -0; NaN
        is not 0), over all units and values: the *activation sparsity*.

        Dead units are 0 everywhere (for relu-like kinds), and live units are 0 wherever
        their pre-activation was <= 0, so for relu ``sparsity >= dead_fraction``. At a
        gated site, ``f(gate) * up``, this is the fraction of zeros of the gate's
        activation ``f(gate)``: what ``act_fn(gate_proj(x))`` of a Hugging Face MLP
        holds, and the entries of ``up`` and the columns of the down projection that
        need not be computed. :attr:`output_sparsity` counts the gated output. NaN
        when the site's zeros were not counted.
        """
        return _fraction(self.zero_count, self.n_units * self.n_values)

    @property
    def output_sparsity(self) -> float:
        """Fraction of exact zeros of the site's output: at a gated site of
        ``f(gate) * up`` (the zeros of ``f(gate)`` and of ``up``), elsewhere
        :attr:`sparsity`."""
        if not self.gated:
            return self.sparsity
        return _fraction(self.output_zero_count, self.n_units * self.n_values)

    @property
    def zero_gradient_when_dead(self) -> bool:
        """True for relu and relu6: a dead unit gets no gradient and cannot recover."""
        from relukit.diagnose._core import ZERO_GRADIENT_KINDS

        return self.kind in ZERO_GRADIENT_KINDS

    @property
    def activation_rate(self) -> np.ndarray:
        """Per unit: fraction of its pre-activations that were > 0."""
        return self.positive_count / max(self.n_values, 1)

    @property
    def dead(self) -> np.ndarray:
        """Per unit: pre-activation <= 0 for every value seen (NaN counts as not > 0)."""
        return self.positive_count == 0

    @property
    def dead_units(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.dead)]

    @property
    def dead_fraction(self) -> float:
        return float(self.dead.mean()) if self.n_units else 0.0

    @property
    def score(self) -> np.ndarray:
        """ReDo score ``s_i = mean|h_i| / mean_k mean|h_k|`` (0 for all if the layer is silent).

        A unit whose output held a NaN (a NaN weight or bias upstream) has score NaN
        and is left out of the layer's mean ``mean_k``, as is a unit whose mean
        overflowed to +inf (score +inf): one broken unit does not change the other
        units' scores (see :func:`redo_score`).
        """
        return redo_score(self.abs_mean)

    def dormant(self, tau: float | None = None) -> np.ndarray:
        """Per unit: ReDo score <= ``tau`` (default: the report's tau). A unit with score
        NaN (its output held a NaN) is dormant, as it is dead, and :func:`relukit.recycle`
        re-initialises it."""
        return dormant_mask(self.score, _check_tau(self.tau if tau is None else tau))

    def dormant_units(self, tau: float | None = None) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.dormant(tau))]

    def dormant_fraction(self, tau: float | None = None) -> float:
        return float(self.dormant(tau).mean()) if self.n_units else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "unit": self.unit,
            "n_units": self.n_units,
            "n_values": self.n_values,
            "zero_gradient_when_dead": self.zero_gradient_when_dead,
            "dead_fraction": self.dead_fraction,
            "dormant_fraction": self.dormant_fraction(),
            "dead_units": self.dead_units,
            "dormant_units": self.dormant_units(),
            "gated": self.gated,
            "sparsity": self.sparsity,
            "output_sparsity": self.output_sparsity,
            "activation_rate": [float(v) for v in self.activation_rate],
            # (null for a score that is not a finite number: strict JSON has no NaN)
            "score": [float(v) if np.isfinite(v) else None for v in self.score],
            "unit_sparsity": [float(v) for v in self.unit_sparsity],
            "producer": self.producer,
            "consumers": [list(c) for c in self.consumers],
            "escapes": list(self.escapes),
            "producer_input": self.producer_input,
        }


class DeadUnitReport:
    """Dead and dormant units of every activation site of a model, from :func:`relukit.diagnose`.

    A unit is **dead** when its pre-activation was <= 0 for every value seen (every
    sample, and for conv channels every position); for relu and relu6 such a unit
    outputs 0 and gets gradient 0 everywhere. For activations with a gradient on the
    negative side (leaky_relu, elu, gelu, ...) the same test is reported, but the unit
    can still learn: see ``SiteReport.zero_gradient_when_dead``. A unit is
    **τ-dormant** when its ReDo score ``mean|h_i| / mean_k mean|h_k|`` is <= τ. A site's
    **sparsity** is the fraction of its output values that were exactly 0 (of
    ``f(gate)`` at a gated site; see :attr:`SiteReport.sparsity`).

    Index with a site name (``report["fc1.relu"]``) for a :class:`SiteReport`.
    """

    def __init__(self, sites: list[SiteReport], *, tau: float, n_samples: int, n_batches: int):
        self.tau = _check_tau(tau)
        self.sites: dict[str, SiteReport] = {s.name: s for s in sites}
        self.n_samples = n_samples
        self.n_batches = n_batches

    def __getitem__(self, name: str) -> SiteReport:
        try:
            return self.sites[name]
        except KeyError:
            raise KeyError(
                f"no activation site {name!r}; sites: {', '.join(self.sites) or 'none'}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.sites)

    def __len__(self) -> int:
        return len(self.sites)

    def dead_units(self) -> dict[str, list[int]]:
        """``{site: [indices of dead units]}`` for every site (empty lists included)."""
        return {n: s.dead_units for n, s in self.sites.items()}

    def dormant_units(self, tau: float | None = None) -> dict[str, list[int]]:
        """``{site: [indices of τ-dormant units]}``; ``tau`` defaults to the report's."""
        return {n: s.dormant_units(tau) for n, s in self.sites.items()}

    def activation_rate(self) -> dict[str, np.ndarray]:
        """``{site: per-unit fraction of pre-activations > 0}``."""
        return {n: s.activation_rate for n, s in self.sites.items()}

    def dead_fraction(self) -> dict[str, float]:
        return {n: s.dead_fraction for n, s in self.sites.items()}

    def dormant_fraction(self, tau: float | None = None) -> dict[str, float]:
        return {n: s.dormant_fraction(tau) for n, s in self.sites.items()}

    def sparsity(self) -> dict[str, float]:
        """``{site: fraction of its output values that were exactly 0}`` (of ``f(gate)``
        at gated sites)."""
        return {n: s.sparsity for n, s in self.sites.items()}

    @property
    def total_sparsity(self) -> float:
        """Exact zeros over all output values of all sites (each site weighs by its
        number of values; gated sites count ``f(gate)``)."""
        zeros = values = 0
        for s in self.sites.values():
            if s.zero_count is not None:
                zeros += int(s.zero_count.sum())
                values += s.n_units * s.n_values
        return zeros / values if values else 0.0

    @property
    def total_dead_fraction(self) -> float:
        """Dead units over all units of all sites."""
        n = sum(s.n_units for s in self.sites.values())
        return sum(len(s.dead_units) for s in self.sites.values()) / n if n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tau": self.tau,
            "n_samples": self.n_samples,
            "n_batches": self.n_batches,
            "total_dead_fraction": self.total_dead_fraction,
            "total_sparsity": self.total_sparsity,
            "sites": [s.to_dict() for s in self.sites.values()],
        }

    def to_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("indent", 2)
        return json.dumps(self.to_dict(), **kwargs)

    def _table_parts(self, tau: float | None) -> tuple[str, list[str], list[list[str]], str | None]:
        """Title, header, rows (one per site) and footnote of the summary table."""
        t = _check_tau(self.tau if tau is None else tau)
        title = f"Dead units ({self.n_samples} samples; dormant = ReDo score <= {t:g})"
        rows = []
        for s in self.sites.values():
            rows.append(
                [
                    s.name,
                    s.kind if s.zero_gradient_when_dead else f"{s.kind}*",
                    s.unit,
                    str(s.n_units),
                    str(len(s.dead_units)),
                    f"{100 * s.dead_fraction:.1f}",
                    str(len(s.dormant_units(t))),
                    f"{float(s.activation_rate.mean()) if s.n_units else 0.0:.3f}",
                    f"{100 * s.sparsity:.1f}",
                ]
            )
        notes = []
        if any(not s.zero_gradient_when_dead for s in self.sites.values()):
            notes.append("* gradient is not 0 on the negative side: 'dead' units can recover")
        gated = sorted({s.kind for s in self.sites.values() if s.gated})
        if gated:
            notes.append(
                f"sparsity % of gated sites ({', '.join(gated)}): exact zeros of f(gate); "
                "of f(gate) * up: SiteReport.output_sparsity"
            )
        return title, list(_COLUMNS), rows, "\n".join(notes) or None

    def summary(self, tau: float | None = None, width: int = 80) -> str:
        """The per-site table as plain text, ready for ``print``.

        ``print(report.summary())`` shows one row per site: units, dead, dead %,
        dormant (ReDo score <= ``tau``), the mean activation rate and the sparsity (% of
        output values exactly 0). The text has no colour codes and nothing is drawn as a
        side effect (no rich console is involved); :meth:`table` gives the same table as
        a rich renderable. The title, the notes, the headers and the site column wrap to
        ``width`` characters; the number columns keep their width.

        >>> print(DeadUnitReport([], tau=0.1, n_samples=4, n_batches=1).summary())
        Dead units (4 samples; dormant = ReDo score <= 0.1)
        site  kind  unit  units  dead  dead %  dormant  mean act. rate  sparsity %
        ----  ----  ----  -----  ----  ------  -------  --------------  ----------
        """
        if isinstance(width, bool) or not isinstance(width, int) or width < 20:
            raise ValueError(f"summary: width must be an int >= 20, got {width!r}")
        title, header, rows, note = self._table_parts(tau)
        return _text_table(title, header, rows, note, width)

    def _repr_html_(self) -> str:
        """The summary table as HTML (what a notebook shows for a report)."""
        return _html_table(*self._table_parts(None))

    def table(self, tau: float | None = None) -> Any:
        """A :class:`rich.table.Table` with one row per site (needs rich: ``print`` it
        with a rich console). In a notebook it shows as an HTML table, and its plain-text
        form is :meth:`summary`'s, without colour codes."""
        from relukit._optional import require

        require("rich", "DeadUnitReport.table (a rich table; summary() needs no rich)")
        title, header, rows, note = self._table_parts(tau)
        table = _notebook_table_class()(title=title, caption=note)
        for col in header:
            table.add_column(col, justify="left" if col in _LEFT else "right")
        for row in rows:
            table.add_row(*row)
        table.relukit_bundle = {
            "text/plain": _text_table(title, header, rows, note, 80),
            "text/html": _html_table(title, header, rows, note),
        }
        return table

    def __rich__(self) -> Any:
        return self.table()

    def plot(self, *, ax: Any = None) -> Any:
        """Bar chart of dead and dormant fraction per site; returns the Figure."""
        if ax is None:
            from relukit._optional import require

            plt = require("matplotlib.pyplot", "DeadUnitReport.plot")

            fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(self.sites) + 2), 3.5))
            plt.close(fig)
        else:
            fig = ax.figure
        names = list(self.sites)
        x = np.arange(len(names))
        dead = [100 * self.sites[n].dead_fraction for n in names]
        dorm = [100 * self.sites[n].dormant_fraction() for n in names]
        ax.bar(x - 0.2, dead, width=0.4, label="dead")
        ax.bar(x + 0.2, dorm, width=0.4, label=f"dormant (τ={self.tau:g})")
        ax.set_xticks(x, names, rotation=30 if len(names) > 3 else 0, ha="right")
        ax.set_ylabel("units (%)")
        ax.set_xlabel("activation site")
        ax.set_title(f"Dead and dormant units ({self.n_samples} samples)")
        ax.set_ylim(0, 100)
        ax.legend()
        return fig

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{n}: {len(s.dead_units)}/{s.n_units} dead" for n, s in self.sites.items()
        )
        return f"DeadUnitReport({len(self.sites)} sites, {self.n_samples} samples; {parts})"
