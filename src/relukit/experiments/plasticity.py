"""Loss of plasticity on a task stream (``relukit experiment plasticity``).

One network learns a long sequence of tasks, one after the other, never reset. The
tasks come from scikit-learn's 8×8 digits (shipped, no download):

* ``stream="labels"`` (default): every task relabels the same images with a fresh random
  permutation of the 10 classes, so each task is as hard as the first, and what was
  learnt before is of no help at the output (the *label-permuted* stream of Elsayed &
  Mahmood, 2024);
* ``stream="pixels"``: every task applies a fresh random permutation to the 64 pixels
  (the *permuted MNIST* stream of Dohare et al., 2024, on digits).

Each task is trained for ``steps_per_task`` minibatch steps of Adam. At the end of each
task the run records, for that task: the test accuracy (held-out images, the task's
labels/pixels), the fraction of dead hidden units (pre-activation <= 0 on every
training image of the task, :func:`relukit.diagnose`), the effective rank of the last
hidden layer's representation of those images (``exp`` of the entropy of its
normalised singular values, Roy & Vetterli 2007), and the mean weight magnitude
``mean |w|`` over the weight matrices.

Variants (same initial weights, same tasks and same batches for a seed, so they are
compared per seed): ``relu``; ``leaky_relu``; ``relu+redo`` (:func:`relukit.recycle`
of the τ-dormant units every ``redo_every`` steps, Sokar et al. 2023); ``relu+cbp``
(:class:`relukit.ContinualBackprop`, Dohare et al. 2024); ``relu+l2`` (Adam's
``weight_decay=l2``, an L2 penalty on every parameter, the simplest baseline of Dohare et
al.).

The claims are checked on paired per-seed differences between the first and the last
10 % of tasks, or between variants on the last 10 % (95 % Student-t intervals).
Deterministic for a configuration (seeded generators, deterministic algorithms, one
thread).
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from relukit.experiments._common import (
    band,
    claim,
    claims_html,
    deterministic,
    figure_grid,
    fit_ylim,
    load_digits,
    mean_std_text,
    png,
    progress,
    render_page,
    rerun_command,
    save_metrics,
    write_report_files,
)
from relukit.experiments._config import (
    check_choice,
    check_choices,
    check_int,
    check_ints,
    check_number,
    option,
)

__all__ = [
    "STREAMS",
    "VARIANTS",
    "PlasticityConfig",
    "effective_rank",
    "run_plasticity",
    "summary_table",
]

Variant = Literal["relu", "leaky_relu", "relu+redo", "relu+cbp", "relu+l2"]
Stream = Literal["labels", "pixels"]
VARIANTS: tuple[Variant, ...] = get_args(Variant)
STREAMS: tuple[Stream, ...] = get_args(Stream)
#: per-task metrics recorded for each variant, ``[seed][task]``
METRICS = ("task_accuracy", "dead_fraction", "effective_rank", "weight_magnitude")


@dataclass
class PlasticityConfig:
    """Configuration of :func:`run_plasticity`; each field is an option of
    ``relukit experiment plasticity`` (``--steps-per-task`` for ``steps_per_task``)."""

    stream: Stream = option("labels", "what changes between tasks: the labels or the pixels")
    tasks: int = option(30, "number of tasks in the stream")
    steps_per_task: int = option(100, "Adam steps per task", metavar="STEPS")
    hidden: tuple[int, ...] = option((64, 64), "hidden layer widths", metavar="WIDTH")
    lr: float = option(0.01, "Adam learning rate")
    batch_size: int = option(32, "minibatch size")
    seeds: tuple[int, ...] = option(
        (0, 1, 2, 3, 4),
        "one run per seed; several give mean ± std and paired intervals",
        metavar="SEED",
    )
    variants: tuple[Variant, ...] = option(VARIANTS, "variants to train", metavar="VARIANT")
    redo_every: int = option(
        50, "relu+redo: recycle dormant units every STEPS steps", metavar="STEPS"
    )
    tau: float = option(0.1, "relu+redo: dormancy threshold")
    cbp_replacement_rate: float = option(
        3e-3, "relu+cbp: fraction of mature units replaced per step", metavar="RATE"
    )
    cbp_maturity: int = option(
        100, "relu+cbp: steps before a unit may be replaced", metavar="STEPS"
    )
    cbp_decay: float = option(0.99, "relu+cbp: decay of the running unit utilities")
    l2: float = option(1e-3, "relu+l2: L2 penalty (Adam weight_decay)", metavar="LAMBDA")
    negative_slope: float = option(0.01, "leaky_relu: the slope for negative inputs")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (:class:`~relukit.experiments._config.ConfigError`)."""
        check_choice("stream", self.stream, STREAMS)
        self.variants = check_choices("variants", self.variants, VARIANTS)
        self.seeds = check_ints("seeds", self.seeds, 0, unique=True)
        self.hidden = check_ints("hidden", self.hidden)
        for name in ("tasks", "steps_per_task", "batch_size", "redo_every"):
            check_int(name, getattr(self, name))
        check_int("cbp_maturity", self.cbp_maturity, 0)
        check_number("lr", self.lr, 0, open_low=True)
        check_number("cbp_replacement_rate", self.cbp_replacement_rate, 0, 1)
        check_number("cbp_decay", self.cbp_decay, 0, 1, open_high=True)
        check_number("tau", self.tau, 0)
        check_number("l2", self.l2, 0)
        check_number("negative_slope", self.negative_slope)


def effective_rank(features: Any) -> float:
    r"""Effective rank ``exp(-Σ p_k log p_k)``, ``p_k = σ_k / Σ σ``, of a (samples × units)
    matrix (Roy & Vetterli 2007); 0 for an all-zero matrix.

    >>> import torch
    >>> effective_rank(torch.eye(4))
    4.0
    >>> effective_rank(torch.ones(5, 3))
    1.0
    """
    import torch

    s = torch.linalg.svdvals(features.detach().to(torch.float64))
    total = float(s.sum())
    if not total > 0:
        return 0.0
    p = s / total
    p = p[p > 0]
    return round(float(torch.exp(-(p * p.log()).sum())), 10)


def _make_model(cfg: PlasticityConfig, variant: str, n_in: int, n_out: int) -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    d = n_in
    for h in cfg.hidden:
        layers.append(nn.Linear(d, h))
        layers.append(nn.LeakyReLU(cfg.negative_slope) if variant == "leaky_relu" else nn.ReLU())
        d = h
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


def _run_one(cfg: PlasticityConfig, variant: str, seed: int, data: tuple, advance: Any) -> dict:
    import torch
    from torch import nn

    from relukit.diagnose import ContinualBackprop, diagnose, recycle

    xtr, ytr, xte, yte = data
    n_classes = int(ytr.max()) + 1
    torch.manual_seed(seed)
    model = _make_model(cfg, variant, xtr.shape[1], n_classes)
    decay = cfg.l2 if variant == "relu+l2" else 0.0
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=decay)
    cbp = (
        ContinualBackprop(
            model,
            opt,
            replacement_rate=cfg.cbp_replacement_rate,
            maturity_threshold=cfg.cbp_maturity,
            decay=cfg.cbp_decay,
        )
        if variant == "relu+cbp"
        else None
    )
    tasks_gen = torch.Generator().manual_seed(10_000 + seed)
    batch_gen = torch.Generator().manual_seed(20_000 + seed)
    weights = [m.weight for m in model if isinstance(m, nn.Linear)]
    hist: dict[str, list[float]] = {k: [] for k in METRICS}
    hist["units_replaced"] = []
    n = xtr.shape[0]
    try:
        for _ in range(cfg.tasks):
            if cfg.stream == "labels":
                perm = torch.randperm(n_classes, generator=tasks_gen)
                xa, xb, ya, yb = xtr, xte, perm[ytr], perm[yte]
            else:
                perm = torch.randperm(xtr.shape[1], generator=tasks_gen)
                xa, xb, ya, yb = xtr[:, perm], xte[:, perm], ytr, yte
            replaced = 0
            model.train()
            for step in range(1, cfg.steps_per_task + 1):
                idx = torch.randint(0, n, (cfg.batch_size,), generator=batch_gen)
                loss = nn.functional.cross_entropy(model(xa[idx]), ya[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if cbp is not None:
                    replaced += sum(len(v) for v in cbp.step().values())
                elif variant == "relu+redo" and step % cfg.redo_every == 0:
                    report = diagnose(model, xa, batch_size=4096, tau=cfg.tau)
                    replaced += recycle(model, report, opt, which="dormant").n_recycled
            advance()
            model.eval()
            with torch.no_grad():
                acc = float((model(xb).argmax(1) == yb).float().mean())
                rank = effective_rank(model[:-1](xa))
                mag = float(sum(w.abs().sum() for w in weights) / sum(w.numel() for w in weights))
            report = diagnose(model, xa, batch_size=4096)
            units = sum(s.n_units for s in report.sites.values())
            dead = sum(len(s.dead_units) for s in report.sites.values()) / units
            hist["task_accuracy"].append(acc)
            hist["dead_fraction"].append(dead)
            hist["effective_rank"].append(rank)
            hist["weight_magnitude"].append(mag)
            hist["units_replaced"].append(replaced)
    finally:
        if cbp is not None:
            cbp.close()
    return hist


def _window(values: list[float], k: int, last: bool) -> float:
    part = values[-k:] if last else values[:k]
    return sum(part) / len(part)


def _claims(cfg: PlasticityConfig, variants: dict[str, dict[str, list]]) -> list[dict[str, Any]]:
    """The claims, checked on paired per-seed numbers (first/last 10 % of the tasks)."""
    k = max(1, round(0.1 * cfg.tasks))
    out: list[dict[str, Any]] = []

    def per_seed(v: str, key: str, last: bool) -> list[float]:
        return [_window(run, k, last) for run in variants[v][key]]

    def diff(a: list[float], b: list[float]) -> list[float]:
        return [x - y for x, y in zip(a, b, strict=True)]

    first, last = (f"first {k} tasks", f"last {k} tasks") if k > 1 else ("first task", "last task")
    pct, hidden = ("points", 100.0), ("points (% of hidden units)", 100.0)
    if "relu" in variants:
        # (claim, metric, later window minus earlier (True) or earlier minus later, unit)
        for name, key, grows, (unit, scale) in (
            (
                f"ReLU loses plasticity: its accuracy on the {last} is below the {first}",
                "task_accuracy",
                False,
                pct,
            ),
            ("ReLU's dead units grow with tasks", "dead_fraction", True, hidden),
            (
                "ReLU's last hidden layer loses effective rank with tasks",
                "effective_rank",
                False,
                ("", 1.0),
            ),
        ):
            early, late = per_seed("relu", key, False), per_seed("relu", key, True)
            a, b = (late, early) if grows else (early, late)
            label = {"task_accuracy": "accuracy", "dead_fraction": "dead units"}.get(
                key, key.replace("_", " ")
            )
            what = f"{label} ({last}) − ({first})" if grows else f"{label} ({first}) − ({last})"
            out.append(claim(name, diff(a, b), what=what, unit=unit, scale=scale))
        names = {
            "leaky_relu": "LeakyReLU",
            "relu+redo": "ReDo",
            "relu+cbp": "CBP",
            "relu+l2": "L2 regularisation",
        }
        for v, label in names.items():
            if v not in variants:
                continue
            out.append(
                claim(
                    f"{label} keeps more accuracy on the {last} than ReLU",
                    diff(
                        per_seed(v, "task_accuracy", True), per_seed("relu", "task_accuracy", True)
                    ),
                    what=f"accuracy {v} − relu ({last})",
                    unit="points",
                    scale=100,
                )
            )
        for v, label in (("relu+redo", "ReDo"), ("relu+cbp", "CBP")):
            if v in variants:
                out.append(
                    claim(
                        f"{label} has fewer dead units than ReLU on the {last}",
                        diff(
                            per_seed("relu", "dead_fraction", True),
                            per_seed(v, "dead_fraction", True),
                        ),
                        what=f"dead units relu − {v} ({last})",
                        unit="points (% of hidden units)",
                        scale=100,
                    )
                )
    return out


def run_plasticity(
    cfg: PlasticityConfig | None = None,
    out: Path | None = None,
    *,
    json_path: Path | None = None,
    console: Any = None,
    progress_bar: bool = True,
) -> dict[str, Any]:
    """Run the experiment; returns the metrics (``out/metrics.json``, ``json_path``).

    ``metrics["variants"][name][metric]`` is a ``[seed][task]`` list for every metric in
    :data:`METRICS` and ``units_replaced``; ``metrics["claims"]`` the checked claims.
    """
    cfg = cfg or PlasticityConfig()
    cfg.validate()
    t0 = time.perf_counter()
    data = load_digits()
    variants: dict[str, dict[str, list]] = {
        v: {k: [] for k in (*METRICS, "units_replaced")} for v in cfg.variants
    }
    total = len(cfg.seeds) * len(cfg.variants) * cfg.tasks
    with deterministic(), progress(console, progress_bar, total, "plasticity: tasks") as adv:
        for seed in cfg.seeds:
            for v in cfg.variants:
                hist = _run_one(cfg, v, seed, data, adv)
                for key, values in hist.items():
                    variants[v][key].append(values)
    metrics = {
        "config": asdict(cfg),
        "dataset_sizes": {"train": int(data[0].shape[0]), "test": int(data[2].shape[0])},
        "variants": variants,
        "claims": _claims(cfg, variants),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    save_metrics(metrics, out, json_path, write_outputs)
    return metrics


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------

_COLUMNS = (
    ("activation", None, None, None),
    ("accuracy, first 10% of tasks (%)", "task_accuracy", False, 100.0),
    ("accuracy, last 10% (%)", "task_accuracy", True, 100.0),
    ("dead units, first (%)", "dead_fraction", False, 100.0),
    ("dead units, last (%)", "dead_fraction", True, 100.0),
    ("effective rank, first (of width)", "effective_rank", False, 1.0),
    ("effective rank, last", "effective_rank", True, 1.0),
    ("mean |w|, last (×100)", "weight_magnitude", True, 100.0),
)


def summary_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary table (mean ± std over seeds)."""
    k = max(1, round(0.1 * metrics["config"]["tasks"]))
    rows = []
    for v, m in metrics["variants"].items():
        row = [v]
        for _, key, last, scale in _COLUMNS[1:]:
            digits = 2 if key == "weight_magnitude" else 1
            row.append(
                mean_std_text([_window(r, k, last) for r in m[key]], scale=scale, digits=digits)
            )
        rows.append(row)
    header = [c[0] for c in _COLUMNS]
    header[5] = f"effective rank, first (of {metrics['config']['hidden'][-1]})"
    return header, rows


def summary_table(metrics: dict[str, Any]) -> Any:
    """The summary table as a rich Table (columns wrap to the terminal's width)."""
    from rich.table import Table

    cfg = metrics["config"]
    k = max(1, round(0.1 * cfg["tasks"]))
    table = Table(
        title=f"plasticity: {cfg['tasks']} {cfg['stream']}-permuted digits tasks, "
        f"{cfg['steps_per_task']} Adam steps each; first/last = {k} tasks; "
        f"mean ± std over seeds {list(cfg['seeds'])}"
    )
    header, rows = summary_rows(metrics)
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


_FIGURES = (
    ("task_accuracy", "test accuracy at the task's end (%)", 100.0),
    ("dead_fraction", "dead hidden units (%)", 100.0),
    ("effective_rank", "effective rank, last hidden layer", 1.0),
    ("weight_magnitude", "mean |w| of the weights", 1.0),
)


def figure_metrics(metrics: dict[str, Any]) -> Any:
    """Four panels (accuracy, dead units, effective rank, weight magnitude) per task:
    one line per variant (mean over seeds), band = min..max over seeds."""
    cfg = metrics["config"]
    fig, axes = figure_grid(4, cols=2, height=3.4, sharey=False)
    x = list(range(1, cfg["tasks"] + 1))
    for ax, (key, label, scale) in zip(axes, _FIGURES, strict=True):
        lo, hi = math.inf, -math.inf
        for v, m in metrics["variants"].items():
            a, b = band(ax, x, m[key], label=v, scale=scale)
            lo, hi = min(lo, a), max(hi, b)
        floor = 0.0 if key != "weight_magnitude" else None
        fit_ylim(ax, lo, hi, floor=floor, ceil=100.0 if scale == 100.0 else None)
        ax.set_xlabel("task")
        ax.set_ylabel(label, fontsize=10)
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def write_outputs(metrics: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write metrics.json, plasticity.png and report.html into ``out``."""
    data = png(figure_metrics(metrics))
    return write_report_files(out, metrics, {"plasticity": data}, render_html(metrics, data))


def render_html(metrics: dict[str, Any], figure_png: bytes) -> str:
    e = html.escape
    cfg = metrics["config"]
    header, rows = summary_rows(metrics)
    table = "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    table += "</table>"
    lost = next((c for c in metrics["claims"] if c["name"].startswith("ReLU loses")), None)
    visible = (
        "<p>The loss of plasticity <b>is visible</b> in this run: see the claims.</p>"
        if lost and lost["supported"]
        else "<p><b>The loss of plasticity is not visible in this run</b> (ReLU's accuracy "
        "on the last tasks is not measurably below the first): the stream may be too "
        "short, the learning rate too low or the network too wide for it; the other "
        "claims are then about noise.</p>"
    )
    stream = (
        "a fresh random permutation of the 10 class labels (same images)"
        if cfg["stream"] == "labels"
        else "a fresh random permutation of the 64 pixels"
    )
    sizes = metrics["dataset_sizes"]
    body = f"""<p>One MLP (hidden widths {e(str(list(cfg["hidden"])))}) learns {cfg["tasks"]}
tasks in a row, never reset: each task is scikit-learn's digits ({sizes["train"]} training,
{sizes["test"]} test images) with {stream}. {cfg["steps_per_task"]} Adam steps
(lr {cfg["lr"]:g}, batch {cfg["batch_size"]}) per task. For a seed, every variant starts
from the same weights and sees the same tasks and batches. relu+redo recycles its
&tau;-dormant units (&tau; = {cfg["tau"]:g}) every {cfg["redo_every"]} steps;
relu+cbp is continual backpropagation (replacement rate {cfg["cbp_replacement_rate"]:g},
maturity {cfg["cbp_maturity"]} steps, decay {cfg["cbp_decay"]:g}); relu+l2 adds an L2
penalty {cfg["l2"]:g}&middot;w to every gradient (Adam's weight_decay).
<i>Dead</i>: pre-activation &le; 0 on every training image of the task.</p>
{visible}
<h2>Summary (mean &plusmn; std over seeds {e(str(list(cfg["seeds"])))})</h2>{table}
<h2>Claims, checked against these numbers</h2>{claims_html(metrics["claims"])}"""
    caption = (
        "Per task, at the end of its training: test accuracy (top left), the share of dead "
        "hidden units (top right), the effective rank of the last hidden layer (bottom "
        "left) and the mean absolute weight (bottom right). Lines: mean over seeds; "
        "shaded: lowest to highest seed."
    )
    rerun = rerun_command("plasticity", PlasticityConfig(**cfg))
    return render_page(
        "Loss of plasticity on a task stream",
        body,
        [("plasticity per task", figure_png, caption)],
        config=cfg,
        seconds=metrics["seconds"],
        rerun=rerun,
        short=metrics.get("shortened"),
    )
