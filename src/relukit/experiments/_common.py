"""What every experiment shares: data, determinism, progress, paired claims, figures, report.

A *claim* is a sentence checked against the per-seed numbers an experiment prints, with
one of three verdicts read off the 95 % Student-t interval of the paired per-seed
differences:

* **supported**: the interval lies entirely on the claimed side of 0;
* **contradicted**: it lies entirely on the other side;
* **inconclusive**: it contains 0, and the verdict says how many seeds would be needed
  for the interval to leave 0 if the mean and spread stayed what they are (one seed has
  no interval: it is always inconclusive).

>>> c = claim("b beats a", [0.02, 0.03, 0.025], unit="points", scale=100)
>>> c["verdict"], c["n"], round(c["estimate"], 3)
('supported', 3, 0.025)
>>> claim("b beats a", [0.02], unit="points", scale=100)["evidence"]
'+2.00 points (one seed: no interval; run 2 or more seeds)'
>>> c = claim("b beats a", [0.02, -0.01, 0.03], unit="points", scale=100)
>>> c["verdict"], c["seeds_needed"]
('inconclusive', 12)
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from relukit.experiments._config import flag

__all__ = [
    "changed_fields",
    "claim",
    "claims_html",
    "count_claim",
    "deterministic",
    "figure_grid",
    "html_table",
    "load_digits",
    "mean_std_text",
    "paired_interval",
    "png",
    "print_claims",
    "progress",
    "render_page",
    "rerun_command",
    "save_metrics",
    "seeds_needed",
    "shortened",
    "shortened_text",
    "t95",
    "verdict_of",
    "write_report_files",
]


def t95(n: int) -> float:
    """The t factor for a 95 % interval of a mean of ``n`` paired differences (inf if n < 2):
    the 0.975 quantile of Student's t with ``n − 1`` degrees of freedom.

    >>> round(t95(3), 3), t95(1)
    (4.303, inf)
    """
    if n < 2:
        return math.inf
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def paired_interval(diffs: Sequence[float]) -> tuple[float, float, float, int]:
    """Mean, 95 % interval (low, high) and count of paired differences.

    With fewer than two differences the interval is (-inf, inf).
    """
    n = len(diffs)
    if n == 0:
        raise ValueError("paired_interval needs at least one difference")
    m = sum(diffs) / n
    if n < 2:
        return m, -math.inf, math.inf, n
    se = math.sqrt(sum((d - m) ** 2 for d in diffs) / (n - 1) / n)
    h = t95(n) * se
    return m, m - h, m + h, n


VERDICTS = ("supported", "contradicted", "inconclusive")

#: the most seeds :func:`seeds_needed` looks for (beyond it: "no feasible number")
MAX_SEEDS = 100_000


def seeds_needed(diffs: Sequence[float]) -> int | None:
    """How many seeds the 95 % interval would need to exclude 0, at the observed mean and
    standard deviation of ``diffs``: the smallest ``n >= 2`` with
    ``t95(n) * sd / sqrt(n) < |mean|``. ``None`` with fewer than two differences, a mean
    of 0, or more than :data:`MAX_SEEDS`.

    >>> seeds_needed([0.02, -0.01, 0.03])
    12
    """
    n0 = len(diffs)
    if n0 < 2:
        return None
    m = sum(diffs) / n0
    sd = math.sqrt(sum((d - m) ** 2 for d in diffs) / (n0 - 1))
    if m == 0:
        return None
    if sd == 0:
        return 2

    def enough(n: int) -> bool:
        return t95(n) * sd / math.sqrt(n) < abs(m)

    if not enough(MAX_SEEDS):
        return None
    lo, hi = 1, 2  # enough(hi) once hi is found; the half-width falls with n
    while not enough(hi):
        lo, hi = hi, 2 * hi
    hi = min(hi, MAX_SEEDS)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return hi


def claim(
    name: str,
    diffs: Sequence[float],
    *,
    unit: str,
    scale: float = 1.0,
    what: str = "",
    side: Literal["above", "below"] = "above",
) -> dict[str, Any]:
    """Check ``name`` on paired per-seed differences: the claim says they are above 0
    (``side="above"``) or below 0 (``"below"``).

    The verdict (``"verdict"``) is ``supported`` when the 95 % interval is entirely on
    the claimed side, ``contradicted`` when it is entirely on the other, else
    ``inconclusive`` with ``seeds_needed`` (see :func:`seeds_needed`) in the evidence.
    ``"supported"`` is the verdict as a bool. ``what`` names the difference in the
    evidence text; ``scale`` and ``unit`` format it (100 and "points" for accuracies as
    fractions).
    """
    values = [float(d) for d in diffs]
    m, lo, hi, n = paired_interval(values)
    above, below = bool(lo > 0), bool(hi < 0)
    if side == "above":
        verdict = "supported" if above else "contradicted" if below else "inconclusive"
    else:
        verdict = "supported" if below else "contradicted" if above else "inconclusive"
    prefix = f"{what} = " if what else ""
    unit = f" {unit}" if unit else ""
    needed = seeds_needed(values) if verdict == "inconclusive" else None
    if n < 2:
        evidence = f"{prefix}{scale * m:+.2f}{unit} (one seed: no interval; run 2 or more seeds)"
        interval = None
    else:
        evidence = (
            f"{prefix}{scale * m:+.2f}{unit}, 95 % interval [{scale * lo:+.2f}, "
            f"{scale * hi:+.2f}] (paired over {n} seeds)"
        )
        interval = [lo, hi]
        if verdict == "inconclusive":
            if all(v == 0 for v in values):
                evidence += "; the difference is exactly 0 in every seed"
            elif needed is None:
                evidence += (
                    "; the interval contains 0, and the mean is too close to 0 for any "
                    "feasible number of seeds"
                )
            else:
                evidence += (
                    f"; the interval contains 0: about {needed} seeds would be needed to "
                    "tell at this spread"
                )
    return {
        "name": name,
        "verdict": verdict,
        "supported": verdict == "supported",
        "estimate": m,
        "interval": interval,
        "n": n,
        "seeds_needed": needed,
        "evidence": evidence,
    }


def count_claim(name: str, holds: Sequence[bool], evidence: str) -> dict[str, Any]:
    """A claim about every seed (no interval): ``supported`` when it holds in every seed,
    ``contradicted`` when in none, ``inconclusive`` when in some (``k of n`` is added to
    the evidence).

    >>> count_claim("dead units appear", [True, False, True], "relu")["verdict"]
    'inconclusive'
    """
    k, n = sum(bool(h) for h in holds), len(holds)
    verdict = "supported" if k == n else "contradicted" if k == 0 else "inconclusive"
    if verdict == "inconclusive":
        evidence += f"; it holds in {k} of {n} seeds"
    return {
        "name": name,
        "verdict": verdict,
        "supported": verdict == "supported",
        "n": n,
        "evidence": evidence,
    }


def verdict_of(c: dict[str, Any]) -> str:
    """The verdict of a claim (also of metrics written before verdicts had three values)."""
    v = c.get("verdict")
    if v in VERDICTS:
        return str(v)
    return "supported" if c.get("supported") else "inconclusive"


def mean_std_text(values: Sequence[float], scale: float = 100.0, digits: int = 1) -> str:
    """``"mean ± std"`` over seeds (``"mean"`` alone for one seed: no spread to show)."""
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return f"{scale * m:.{digits}f}"
    s = math.sqrt(sum((v - m) ** 2 for v in values) / n)
    return f"{scale * m:.{digits}f} ± {scale * s:.{digits}f}"


#: rich colours of the verdicts in the terminal
_COLOURS = {"supported": "green", "contradicted": "red", "inconclusive": "yellow"}


def print_claims(console: Any, claims: Sequence[dict[str, Any]]) -> None:
    """Each claim on a line: ``name: verdict (evidence)``, the verdict in colour."""
    from rich.markup import escape

    for c in claims:
        v = verdict_of(c)
        console.print(
            f"  {escape(c['name'])}: [{_COLOURS[v]}]{v}[/] ({escape(c['evidence'])})",
            highlight=False,
        )


def claims_html(claims: Sequence[dict[str, Any]]) -> str:
    """The claims as an HTML list, each verdict in a ``<span class='VERDICT'>``."""
    e = html.escape
    items = "".join(
        f"<li><b>{e(c['name'])}</b>: <span class='{verdict_of(c)}'>{verdict_of(c)}</span> "
        f"({e(c['evidence'])})</li>"
        for c in claims
    )
    legend = (
        "<p class='legend'>Verdicts, from the 95 % interval of the paired per-seed "
        "differences: <span class='supported'>supported</span> (entirely on the claimed "
        "side of 0), <span class='contradicted'>contradicted</span> (entirely on the other "
        "side), <span class='inconclusive'>inconclusive</span> (it contains 0; the number "
        "of seeds that would tell at the observed spread is given).</p>"
    )
    return f"{legend}<ul>{items}</ul>"


# ---------------------------------------------------------------------------
# data, determinism, progress
# ---------------------------------------------------------------------------


def load_digits(
    *, test_size: float = 0.25, split_seed: int = 0, scale: Literal["standard", "unit"] = "standard"
) -> tuple[Any, Any, Any, Any]:
    """scikit-learn's 8×8 digits (1797 images, shipped, no download) as float32 tensors.

    ``scale="standard"``: each pixel standardised with the training mean and std;
    ``"unit"``: pixel / 16, in [0, 1] (exact zeros kept). Fixed stratified split.
    """
    import numpy as np
    import torch
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    x, y = datasets.load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=test_size, random_state=split_seed, stratify=y
    )
    if scale == "unit":
        mu, sd = np.zeros(x.shape[1]), np.full(x.shape[1], 16.0)
    else:
        mu, sd = xtr.mean(0), xtr.std(0)
        sd = np.where(sd > 0, sd, 1.0)

    def as_x(a: Any) -> Any:
        return torch.tensor((a - mu) / sd, dtype=torch.float32)

    return as_x(xtr), torch.tensor(ytr), as_x(xte), torch.tensor(yte)


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Deterministic algorithms and one thread, restored afterwards."""
    import torch

    det = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(det)
        torch.set_num_threads(threads)


@contextlib.contextmanager
def progress(console: Any, enabled: bool, total: int, label: str) -> Iterator[Callable[..., None]]:
    """A rich progress bar; yields ``advance(n=1)`` (a no-op when disabled)."""
    if not enabled:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n=1: prog.advance(task, n)


# ---------------------------------------------------------------------------
# figures and the HTML page
# ---------------------------------------------------------------------------

#: the report's content width in pixels; figures are made for it at 100 dpi, so their
#: text is shown at its real size (10 pt ticks)
REPORT_WIDTH_PX = 1000
DPI = 100


def figure_grid(n: int, *, cols: int = 2, height: float = 3.3, sharey: bool = True) -> Any:
    """A figure of ``n`` panels, at most ``cols`` per row, as wide as the report."""
    import matplotlib.pyplot as plt

    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    width = REPORT_WIDTH_PX / DPI * (1.0 if cols > 1 else 0.7)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, height * rows), sharey=sharey, squeeze=False
    )
    plt.close(fig)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    for ax in flat[:n]:
        ax.tick_params(labelsize=10)
        ax.grid(alpha=0.3)
    return fig, flat[:n]


def band(ax: Any, x: Sequence[float], runs: Sequence[Sequence[float]], *, label: str, scale=1.0):
    """Mean over seeds as a line, min..max over seeds as a band; returns (low, high)."""
    import numpy as np

    v = scale * np.asarray(runs, dtype=float)
    m = v.mean(0)
    (line,) = ax.plot(x, m, label=label, lw=1.6)
    if v.shape[0] > 1:
        ax.fill_between(x, v.min(0), v.max(0), color=line.get_color(), alpha=0.18, lw=0)
    return float(np.nanmin(v)), float(np.nanmax(v))


def fit_ylim(ax: Any, low: float, high: float, *, floor: float | None = None, ceil=None) -> None:
    """Y limits that show every plotted value, with a margin (clamped to floor/ceil)."""
    pad = 0.05 * max(high - low, 1e-9)
    lo, hi = low - pad, high + pad
    if floor is not None:
        lo = max(lo, floor)
    if ceil is not None:
        hi = min(hi, ceil)
    ax.set_ylim(lo, hi)


def png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def render_page(
    title: str,
    body: str,
    figures: Sequence[tuple[str, bytes, str]],
    *,
    config: dict[str, Any],
    seconds: float,
    rerun: str,
    short: dict[str, Any] | None = None,
) -> str:
    """A self-contained HTML report: ``body`` (HTML), then figures (PNG, base64) each with
    a caption in words, then the configuration and how to rerun it.

    ``figures``: ``(alt text, png bytes, caption)``. ``short`` (from :func:`shortened`):
    a run shortened for the demo, said in a box above the body.
    """
    import torch

    import relukit

    e = html.escape
    imgs = "".join(
        f"<figure><img alt='{e(alt)}' src='data:image/png;base64,"
        f"{base64.b64encode(data).decode('ascii')}'/><figcaption>{e(caption)}</figcaption>"
        "</figure>"
        for alt, data, caption in figures
    )
    note = f"<p class='short'>{e(shortened_text(short))}</p>\n" if short else ""
    cfg_rows = "".join(f"<tr><td>{e(k)}</td><td>{e(str(v))}</td></tr>" for k, v in config.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>relukit: {e(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: {REPORT_WIDTH_PX}px; margin: 2em auto;
  padding: 0 1em; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.supported {{ color: #1a7f37; font-weight: bold; }}
.contradicted {{ color: #cf222e; font-weight: bold; }}
.inconclusive {{ color: #9a6700; font-weight: bold; }}
.legend {{ color: #444; font-size: 0.95em; }}
.short {{ background: #fff8c5; border: 1px solid #d4a72c; padding: 0.6em 0.9em; }}
img {{ width: 100%; }}
figure {{ margin: 1.5em 0; }} figcaption {{ color: #444; font-size: 0.95em; }}
</style></head><body>
<h1>{e(title)}</h1>
{note}{body}
<h2>Figures</h2>{imgs}
<h2>Configuration</h2><table>{cfg_rows}</table>
<p>relukit {e(relukit.__version__)}, torch {e(torch.__version__)}; ran in {seconds:.1f} s.
Rerun: <code>{e(rerun)}</code></p>
</body></html>
"""


def _value_text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return " ".join(_value_text(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _option_text(v: Any) -> str:
    """A value as the command line takes it back exactly (``0.0123456789``, ``1 2``)."""
    if isinstance(v, (list, tuple)):
        return " ".join(_option_text(x) for x in v)
    return str(v)


def changed_fields(cfg: Any) -> list[tuple[str, Any, Any]]:
    """``(field, value, default)`` for every field of the configuration dataclass ``cfg``
    whose value differs from its default, in the order of the fields."""
    import dataclasses

    def same(a: Any, b: Any) -> bool:
        as_tuple = lambda v: tuple(v) if isinstance(v, list) else v  # noqa: E731
        return bool(as_tuple(a) == as_tuple(b))

    full = type(cfg)()
    out = []
    for f in dataclasses.fields(cfg):
        value, default = getattr(cfg, f.name), getattr(full, f.name)
        if not same(value, default):
            out.append((f.name, value, default))
    return out


def rerun_command(experiment: str, cfg: Any) -> str:
    """The command that reruns ``cfg``: ``relukit experiment EXPERIMENT`` with an option for
    every field that differs from the default (each field is an option, named after it;
    a field the command line does not offer is left out).

    >>> from relukit.experiments.kink_choice import KinkChoiceConfig
    >>> rerun_command("kink-choice", KinkChoiceConfig(models=("cnn",), lr=0.05))
    'relukit experiment kink-choice --models cnn --lr 0.05'
    """
    import dataclasses

    offered = {f.name for f in dataclasses.fields(cfg) if f.metadata.get("cli", True)}
    parts = [f"relukit experiment {experiment}"]
    for name, value, _ in changed_fields(cfg):
        if name in offered:
            parts.append(f"{flag(name)} {_option_text(value)}")
    return " ".join(parts)


def shortened(experiment: str, cfg: Any) -> dict[str, Any]:
    """What a short run (the demo's) changed from the full experiment: ``{"command": the
    full experiment's command, "changes": [[name, value, full value], ...]}``."""
    return {
        "command": f"relukit experiment {experiment}",
        "changes": [
            [name.replace("_", " "), _value_text(v), _value_text(full)]
            for name, v, full in changed_fields(cfg)
        ],
    }


def shortened_text(short: dict[str, Any]) -> str:
    """One sentence: what was shortened, and the command of the full experiment."""
    changes = "; ".join(
        f"{name} {value} (full experiment: {full})" for name, value, full in short["changes"]
    )
    return (
        f"Shortened for the demo: {changes}. Everything else is as in the full experiment, "
        f"{short['command']}."
    )


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table (cells escaped)."""
    e = html.escape
    head = "<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def write_report_files(
    out: Path, metrics: dict[str, Any], pngs: dict[str, bytes], report: str
) -> dict[str, Path]:
    """Write ``metrics.json``, each ``NAME.png`` of ``pngs`` and ``report.html`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "report": out / "report.html"}
    paths["metrics"].write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    for name, data in pngs.items():
        paths[name] = out / f"{name}.png"
        paths[name].write_bytes(data)
    paths["report"].write_text(report, encoding="utf-8")
    return paths


def save_metrics(
    metrics: dict[str, Any],
    out: Path | None,
    json_path: Path | None,
    write_outputs: Callable[[dict[str, Any], Path], Any],
) -> None:
    """``write_outputs(metrics, out)`` if ``out``; the metrics as JSON to ``json_path`` if given."""
    if out is not None:
        write_outputs(metrics, Path(out))
    if json_path is not None:
        Path(json_path).write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
