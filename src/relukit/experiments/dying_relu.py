"""The dying-ReLU experiment (``relukit experiment dying-relu``).

The same MLP is trained on a real data set that ships with scikit-learn (default: the
8×8 handwritten digits, 1797 images, no download) with ReLU, LeakyReLU, ELU, and ReLU
with recycling (:func:`relukit.recycle` of the dead units, ``recycle_which="dead"``,
every ``recycle_every`` steps during the first ``recycle_until`` fraction of training;
``recycle_which="dormant"`` and ``recycle_until=1`` give ReDo's schedule), at a
learning rate where plain ReLU loses units (default: Adam, lr 0.02, four hidden layers
of 32). Every variant of one seed starts from the *same* initial weights and sees the
same batches, so variants are compared per seed (paired).

The claims of the dead-units issue are checked against the per-seed numbers and
reported as supported or not (:func:`_claims`): a comparison counts only when the
95 % confidence interval of the paired difference over seeds excludes zero.

Every ``eval_every`` steps the run records, per hidden layer, the fraction of dead
units on the whole training set (:func:`relukit.diagnose`: pre-activation <= 0 for
every training image) and the test accuracy. The output folder gets ``metrics.json``,
``dead_fraction.png``, ``test_accuracy.png`` and a self-contained ``report.html``.

Determinism: ``torch.manual_seed(seed)`` for the weights, a seeded generator for the
batches, ``torch.use_deterministic_algorithms(True)`` and one thread while training
(all restored afterwards): the same configuration gives bit-identical metrics.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["DATASETS", "VARIANTS", "DyingReluConfig", "run_dying_relu", "summary_table"]

DATASETS = ("digits", "iris", "wine", "breast_cancer")
VARIANTS = ("relu", "leaky_relu", "elu", "relu+recycle")
OPTIMIZERS = ("adam", "sgd")


@dataclass
class DyingReluConfig:
    """Configuration of :func:`run_dying_relu` (the CLI options map one to one)."""

    dataset: str = "digits"
    hidden: tuple[int, ...] = (32, 32, 32, 32)
    optimizer: str = "adam"
    lr: float = 0.02
    epochs: int = 20
    batch_size: int = 64
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)
    variants: tuple[str, ...] = VARIANTS
    eval_every: int = 25
    recycle_every: int = 25
    recycle_which: Literal["dead", "dormant"] = "dead"
    recycle_until: float = 0.5
    tau: float = 0.1
    negative_slope: float = 0.01
    test_size: float = 0.25
    split_seed: int = 0

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        for v in self.variants:
            if v not in VARIANTS:
                raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {v!r}")
        if not self.variants:
            raise ValueError("variants must not be empty")
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        for name in ("epochs", "batch_size", "eval_every", "recycle_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        for h in self.hidden:
            if isinstance(h, bool) or not isinstance(h, int) or h < 1:
                raise ValueError(f"hidden layer widths must be ints >= 1, got {h!r}")
        if not self.hidden:
            raise ValueError("hidden must list at least one layer width")
        for s in self.seeds:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"seeds must be ints >= 0, got {s!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not (self.tau >= 0):
            raise ValueError(f"tau must be >= 0, got {self.tau!r}")
        if self.recycle_which not in ("dormant", "dead"):
            raise ValueError(
                f"recycle_which must be 'dormant' or 'dead', got {self.recycle_which!r}"
            )
        if not (0 <= self.recycle_until <= 1):
            raise ValueError(f"recycle_until must be in [0, 1], got {self.recycle_until!r}")
        if not (0 < self.test_size < 1):
            raise ValueError(f"test_size must be in (0, 1), got {self.test_size!r}")


# ---------------------------------------------------------------------------
# data, model, determinism
# ---------------------------------------------------------------------------


def load_data(cfg: DyingReluConfig) -> tuple[Any, Any, Any, Any]:
    """Standardised train/test tensors of a scikit-learn toy data set (fixed split)."""
    import numpy as np
    import torch
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loader = {
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
    }[cfg.dataset]
    x, y = loader(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=cfg.test_size, random_state=cfg.split_seed, stratify=y
    )
    mu, sd = xtr.mean(0), xtr.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    as_x = lambda a: torch.tensor((a - mu) / sd, dtype=torch.float32)  # noqa: E731
    return as_x(xtr), torch.tensor(ytr), as_x(xte), torch.tensor(yte)


def make_model(cfg: DyingReluConfig, variant: str, n_in: int, n_out: int) -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    d = n_in
    for h in cfg.hidden:
        layers.append(nn.Linear(d, h))
        if variant == "leaky_relu":
            layers.append(nn.LeakyReLU(cfg.negative_slope))
        elif variant == "elu":
            layers.append(nn.ELU())
        else:
            layers.append(nn.ReLU())
        d = h
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


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


# ---------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------


def _train_one(
    cfg: DyingReluConfig, variant: str, seed: int, data: tuple[Any, ...], advance: Any
) -> dict[str, Any]:
    import torch
    from torch import nn

    from relukit.diagnose import diagnose, recycle

    xtr, ytr, xte, yte = data
    n_classes = int(max(ytr.max(), yte.max())) + 1
    torch.manual_seed(seed)
    model = make_model(cfg, variant, xtr.shape[1], n_classes)
    if cfg.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    sites = [str(2 * i + 1) for i in range(len(cfg.hidden))]
    layer_names = [f"hidden {i + 1}" for i in range(len(cfg.hidden))]

    hist: dict[str, Any] = {
        "steps": [],
        "test_accuracy": [],
        "dead_fraction": {n: [] for n in layer_names},
        "recycled": [],
    }

    ever_dead: dict[str, Any] = {}

    def evaluate(step: int) -> None:
        report = diagnose(model, xtr, batch_size=2048, tau=cfg.tau)
        for site in sites:
            dead = report[site].dead
            ever_dead[site] = dead if site not in ever_dead else ever_dead[site] | dead
        was = model.training
        model.eval()
        with torch.no_grad():
            acc = float((model(xte).argmax(1) == yte).float().mean())
        model.train(was)
        hist["steps"].append(step)
        hist["test_accuracy"].append(acc)
        for site, name in zip(sites, layer_names, strict=True):
            hist["dead_fraction"][name].append(report[site].dead_fraction)

    step = 0
    n = xtr.shape[0]
    total_steps = cfg.epochs * math.ceil(n / cfg.batch_size)
    model.train()
    evaluate(0)
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            advance()
            if step % cfg.eval_every == 0:
                evaluate(step)
            if (
                variant == "relu+recycle"
                and step % cfg.recycle_every == 0
                and step <= cfg.recycle_until * total_steps
            ):
                report = diagnose(model, xtr, batch_size=2048, tau=cfg.tau)
                res = recycle(model, report, opt, which=cfg.recycle_which)
                hist["recycled"].append({"step": step, "units": res.n_recycled})
    if hist["steps"][-1] != step:
        evaluate(step)
    final = diagnose(model, xtr, batch_size=2048, tau=cfg.tau)
    n_units = sum(final[s].n_units for s in sites)
    hist["final"] = {
        "test_accuracy": hist["test_accuracy"][-1],
        "dead_fraction": sum(len(final[s].dead_units) for s in sites) / n_units,
        "dormant_fraction": sum(len(final[s].dormant_units()) for s in sites) / n_units,
        "dead_fraction_per_layer": {
            name: final[s].dead_fraction for s, name in zip(sites, layer_names, strict=True)
        },
        "units_recycled": sum(r["units"] for r in hist["recycled"]),
        # dead at some evaluation, alive at the end (recycled units count as revived)
        "revived_fraction": sum(int((ever_dead[s] & ~final[s].dead).sum()) for s in sites)
        / n_units,
    }
    return hist


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    var = sum((v - m) ** 2 for v in values) / len(values)
    return m, math.sqrt(var)


def run_dying_relu(
    cfg: DyingReluConfig | None = None,
    out: Path | None = None,
    *,
    console: Any = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the experiment; returns the metrics (also written to ``out/metrics.json``).

    ``out``: folder for ``metrics.json``, the figures and ``report.html`` (None: write
    nothing). ``console``: a rich Console for the progress bar (None: a new one).
    """
    cfg = cfg or DyingReluConfig()
    cfg.validate()
    t0 = time.perf_counter()
    data = load_data(cfg)
    steps_per_epoch = math.ceil(data[0].shape[0] / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs * len(cfg.seeds) * len(cfg.variants)

    runs: list[dict[str, Any]] = []
    with deterministic(), _progress(console, progress, total) as advance:
        for seed in cfg.seeds:
            for variant in cfg.variants:
                hist = _train_one(cfg, variant, seed, data, advance)
                runs.append({"variant": variant, "seed": seed, **hist})

    summary: dict[str, dict[str, float]] = {}
    for variant in cfg.variants:
        finals = [r["final"] for r in runs if r["variant"] == variant]
        row: dict[str, float] = {}
        for key in (
            "dead_fraction",
            "dormant_fraction",
            "test_accuracy",
            "units_recycled",
            "revived_fraction",
        ):
            row[f"{key}_mean"], row[f"{key}_std"] = _mean_std([f[key] for f in finals])
        summary[variant] = row
    metrics = {
        "config": asdict(cfg),
        "dataset_sizes": {"train": int(data[0].shape[0]), "test": int(data[2].shape[0])},
        "summary": summary,
        "claims": _claims(runs, cfg.variants),
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if out is not None:
        write_outputs(metrics, Path(out))
    return metrics


@contextlib.contextmanager
def _progress(console: Any, enabled: bool, total: int) -> Iterator[Any]:
    if not enabled:
        yield lambda: None
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
        task = prog.add_task("dying-relu: training steps", total=total)
        yield lambda: prog.advance(task)


# two-sided 95 % quantiles of Student's t by degrees of freedom (1.96 beyond the table)
_T95 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14)


def _t95(n: int) -> float:
    """The t factor for a 95 % interval of a mean of ``n`` paired differences."""
    df = n - 1
    if df < 1:
        return math.inf
    return _T95[df - 1] if df <= len(_T95) else (2.13 if df < 20 else 2.09 if df < 30 else 1.96)


def _paired(runs: list[dict[str, Any]], a: str, b: str, key: str) -> tuple[float, float, int]:
    """Mean and standard error of ``a − b`` over seeds (same seed = same init, same batches)."""
    fa = {r["seed"]: r["final"][key] for r in runs if r["variant"] == a}
    fb = {r["seed"]: r["final"][key] for r in runs if r["variant"] == b}
    d = [fa[k] - fb[k] for k in fa if k in fb]
    n = len(d)
    m = sum(d) / n
    se = math.sqrt(sum((v - m) ** 2 for v in d) / (n - 1) / n) if n > 1 else math.inf
    return m, se, n


def _claims(runs: list[dict[str, Any]], variants: Sequence[str]) -> list[dict[str, Any]]:
    """The issue's claims, checked against the per-seed numbers.

    A comparison "holds" only when the 95 % confidence interval of the paired
    difference over seeds (Student's t) excludes 0; a single seed never supports one.
    """
    out = []

    def finals(v: str, key: str) -> list[float]:
        return [r["final"][key] for r in runs if r["variant"] == v]

    if "relu" in variants:
        dead = finals("relu", "dead_fraction")
        out.append(
            {
                "claim": "ReLU at this learning rate loses units",
                "holds": bool(min(dead) > 0),
                "evidence": f"relu ends with dead units in {sum(d > 0 for d in dead)} of "
                f"{len(dead)} seeds (mean {sum(dead) / len(dead):.1%}, min {min(dead):.1%})",
            }
        )
    if "relu" in variants and "leaky_relu" in variants:
        m, se, n = _paired(runs, "relu", "leaky_relu", "dead_fraction")
        lk = finals("leaky_relu", "dead_fraction")
        rv = finals("leaky_relu", "revived_fraction")
        out.append(
            {
                "claim": "LeakyReLU loses fewer units than ReLU",
                "holds": bool(m > _t95(n) * se),
                "evidence": f"dead fraction relu − leaky_relu = {m:+.1%} ± {se:.1%} "
                f"(paired over {n} seeds, ± 1 standard error)",
            }
        )
        out.append(
            {
                "claim": "LeakyReLU does not lose units (none dead at the end)",
                "holds": bool(max(lk) == 0),
                "evidence": f"leaky_relu ends with units whose pre-activation is <= 0 on every "
                f"training sample in {sum(d > 0 for d in lk)} of {len(lk)} seeds (mean "
                f"{sum(lk) / len(lk):.1%}); they still get gradient negative_slope and can "
                f"come back: {sum(rv) / len(rv):.1%} of its units were dead at some "
                f"evaluation and alive at the end",
            }
        )
    if "relu" in variants and "relu+recycle" in variants:
        m, se, n = _paired(runs, "relu+recycle", "relu", "dead_fraction")
        out.append(
            {
                "claim": "recycling removes dead units",
                "holds": bool(-m > _t95(n) * se),
                "evidence": f"dead fraction relu+recycle − relu = {m:+.1%} ± {se:.1%} "
                f"(paired over {n} seeds)",
            }
        )
        m, se, n = _paired(runs, "relu+recycle", "relu", "test_accuracy")
        out.append(
            {
                "claim": "recycling recovers accuracy",
                "holds": bool(m > _t95(n) * se),
                "evidence": f"test accuracy relu+recycle − relu = {100 * m:+.2f} ± "
                f"{100 * se:.2f} points (paired over {n} seeds, ± 1 standard error; "
                f"supported only if the 95 % interval, ± {_t95(n):.2f} standard errors, "
                f"lies above 0)",
            }
        )
    return out


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------


def _pm(mean: float, std: float, pct: bool = True) -> str:
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if pct else f"{mean:.1f} ± {std:.1f}"


def summary_table(metrics: dict[str, Any]) -> Any:
    """The final table (rich Table): dead fraction and test accuracy per activation."""
    from rich.table import Table

    cfg = metrics["config"]
    table = Table(
        title=(
            f"dying-relu on {cfg['dataset']}: {cfg['optimizer']} lr={cfg['lr']:g}, "
            f"{cfg['epochs']} epochs, mean ± std over seeds {list(cfg['seeds'])}"
        )
    )
    for col in (
        "activation",
        "dead units %",
        "dormant units %",
        "revived %",
        "test accuracy %",
        "recycled",
    ):
        table.add_column(col, justify="left" if col == "activation" else "right")
    for variant, row in metrics["summary"].items():
        table.add_row(
            variant,
            _pm(row["dead_fraction_mean"], row["dead_fraction_std"]),
            _pm(row["dormant_fraction_mean"], row["dormant_fraction_std"]),
            _pm(row["revived_fraction_mean"], row["revived_fraction_std"]),
            _pm(row["test_accuracy_mean"], row["test_accuracy_std"]),
            _pm(row["units_recycled_mean"], row["units_recycled_std"], pct=False)
            if variant == "relu+recycle"
            else "",
        )
    return table


def _mean_curve(runs: list[dict[str, Any]], get: Any) -> tuple[Any, Any, Any]:
    import numpy as np

    steps = np.asarray(runs[0]["steps"])
    vals = np.asarray([get(r) for r in runs], dtype=float)
    return steps, vals.mean(0), vals.std(0)


def figure_dead_fraction(metrics: dict[str, Any]) -> Any:
    """Dead fraction per hidden layer over steps, one panel per activation."""
    import matplotlib.pyplot as plt

    variants = list(metrics["summary"])
    fig, axes = plt.subplots(
        1, len(variants), figsize=(3.6 * len(variants), 3.4), sharey=True, squeeze=False
    )
    plt.close(fig)
    for ax, variant in zip(axes[0], variants, strict=True):
        runs = [r for r in metrics["runs"] if r["variant"] == variant]
        for layer in runs[0]["dead_fraction"]:
            steps, m, _ = _mean_curve(runs, lambda r, layer=layer: r["dead_fraction"][layer])
            ax.plot(steps, 100 * m, label=layer)
        ax.set_title(variant)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("dead units on the training set (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle("Dead fraction per hidden layer (mean over seeds)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize="small")
    return fig


def figure_accuracy(metrics: dict[str, Any]) -> Any:
    """Test accuracy over steps per activation (mean ± std over seeds)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    plt.close(fig)
    for variant in metrics["summary"]:
        runs = [r for r in metrics["runs"] if r["variant"] == variant]
        steps, m, s = _mean_curve(runs, lambda r: r["test_accuracy"])
        (line,) = ax.plot(steps, 100 * m, label=variant)
        ax.fill_between(steps, 100 * (m - s), 100 * (m + s), color=line.get_color(), alpha=0.15)
    lows = [
        min(100 * v for v in r["test_accuracy"][1:]) for r in metrics["runs"] if len(r["steps"]) > 2
    ]
    if lows:  # the step-0 point (chance level) would flatten the curves: leave it below
        ax.set_ylim(max(0.0, min(lows) - 3), 100.5)
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Test accuracy (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def write_outputs(metrics: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write metrics.json, the two figures and report.html into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "metrics": out / "metrics.json",
        "dead_fraction": out / "dead_fraction.png",
        "test_accuracy": out / "test_accuracy.png",
        "report": out / "report.html",
    }
    paths["metrics"].write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    pngs = {
        "dead_fraction": _png(figure_dead_fraction(metrics)),
        "test_accuracy": _png(figure_accuracy(metrics)),
    }
    for key, data in pngs.items():
        paths[key].write_bytes(data)
    paths["report"].write_text(render_html(metrics, pngs), encoding="utf-8")
    return paths


def render_html(metrics: dict[str, Any], pngs: dict[str, bytes]) -> str:
    """A self-contained HTML report: configuration, final table, claims, figures (base64)."""
    import torch

    import relukit

    e = html.escape
    cfg = metrics["config"]
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            e(v),
            _pm(r["dead_fraction_mean"], r["dead_fraction_std"]),
            _pm(r["dormant_fraction_mean"], r["dormant_fraction_std"]),
            _pm(r["revived_fraction_mean"], r["revived_fraction_std"]),
            _pm(r["test_accuracy_mean"], r["test_accuracy_std"]),
            _pm(r["units_recycled_mean"], r["units_recycled_std"], pct=False)
            if v == "relu+recycle"
            else "",
        )
        for v, r in metrics["summary"].items()
    )
    claims = "".join(
        f"<li><b>{e(c['claim'])}</b>: "
        f"<span class='{'yes' if c['holds'] else 'no'}'>"
        f"{'supported' if c['holds'] else 'NOT supported'}</span> ({e(c['evidence'])})</li>"
        for c in metrics["claims"]
    )
    cfg_rows = "".join(f"<tr><td>{e(k)}</td><td>{e(str(v))}</td></tr>" for k, v in cfg.items())
    imgs = "".join(
        f"<figure><img alt='{e(k)}' src='data:image/png;base64,"
        f"{base64.b64encode(v).decode('ascii')}'/><figcaption>{e(k)}</figcaption></figure>"
        for k, v in pngs.items()
    )
    sizes = metrics["dataset_sizes"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>relukit: dying-ReLU experiment</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.yes {{ color: #1a7f37; font-weight: bold; }} .no {{ color: #cf222e; font-weight: bold; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>The dying ReLU, measured</h1>
<p>The same MLP (hidden widths {e(str(list(cfg["hidden"])))}) trained on <b>{e(cfg["dataset"])}</b>
({sizes["train"]} training, {sizes["test"]} test samples, standardised, fixed split) with
{e(cfg["optimizer"])} at lr={cfg["lr"]:g} for {cfg["epochs"]} epochs; each seed starts every
activation from the same initial weights. <i>Dead</i>: the unit's pre-activation is &le; 0 for
every training sample (for relu its output and gradient are then 0 everywhere; leaky_relu and
elu still pass a gradient there). <i>Dormant</i>: ReDo score &le; {cfg["tau"]:g}.
relu+recycle re-initialises its {e(cfg["recycle_which"])} units
(<code>relukit.recycle</code>) every {cfg["recycle_every"]} steps during the first
{100 * cfg["recycle_until"]:g}% of training.</p>
<h2>Final table (mean &plusmn; std over seeds {e(str(list(cfg["seeds"])))})</h2>
<table><tr><th>activation</th><th>dead units %</th><th>dormant units %</th>
<th>revived %</th><th>test accuracy %</th><th>units recycled</th></tr>{rows}</table>
<p><i>revived</i>: units dead at some evaluation during training and alive at the end
(recycled units included).</p>
<h2>Claims, checked against these numbers</h2><ul>{claims}</ul>
<h2>Figures</h2>{imgs}
<h2>Configuration</h2><table>{cfg_rows}</table>
<p>relukit {e(relukit.__version__)}, torch {e(torch.__version__)};
ran in {metrics["seconds"]:.1f} s. Rerun: <code>relukit experiment dying-relu --dataset {e(cfg["dataset"])}
--optimizer {e(cfg["optimizer"])} --lr {cfg["lr"]:g} --epochs {cfg["epochs"]}
--seeds {" ".join(str(s) for s in cfg["seeds"])}</code></p>
</body></html>
"""
