"""The dying-ReLU experiment (``relukit experiment dying-relu``).

The same MLP is trained on a real data set that ships with scikit-learn (default: the
8×8 handwritten digits, 1797 images, no download) with ReLU, LeakyReLU, ELU, and ReLU
with recycling (:func:`relukit.recycle` of the dead units, ``recycle_which="dead"``,
every ``recycle_every`` steps during the first ``recycle_until`` fraction of training;
``recycle_which="dormant"`` and ``recycle_until=1`` give ReDo's schedule), at a
learning rate where plain ReLU loses units (default: Adam, lr 0.02, four hidden layers
of 32). Every variant of one seed starts from the *same* initial weights and sees the
same batches, so variants are compared per seed (paired).

The claims are checked against the per-seed numbers (:func:`_claims`): a comparison is
supported or contradicted only when the 95 % confidence interval of the paired
difference over seeds excludes zero, and inconclusive otherwise.

Every ``eval_every`` steps the run records, per hidden layer, the fraction of dead
units on the whole training set (:func:`relukit.diagnose`: pre-activation <= 0 for
every training image) and the test accuracy. The output folder gets ``metrics.json``,
``dead_fraction.png``, ``test_accuracy.png`` and a self-contained ``report.html``.

Determinism: ``torch.manual_seed(seed)`` for the weights, a seeded generator for the
batches, ``torch.use_deterministic_algorithms(True)`` and one thread while training
(all restored afterwards): the same configuration gives bit-identical metrics.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from relukit.experiments._common import (
    band,
    claim,
    claims_html,
    count_claim,
    deterministic,
    figure_grid,
    fit_ylim,
    html_table,
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

__all__ = ["DATASETS", "VARIANTS", "DyingReluConfig", "run_dying_relu", "summary_table"]

Dataset = Literal["digits", "iris", "wine", "breast_cancer"]
Variant = Literal["relu", "leaky_relu", "elu", "relu+recycle"]
Optimizer = Literal["adam", "sgd"]
DATASETS: tuple[Dataset, ...] = get_args(Dataset)
VARIANTS: tuple[Variant, ...] = get_args(Variant)
OPTIMIZERS: tuple[Optimizer, ...] = get_args(Optimizer)


@dataclass
class DyingReluConfig:
    """Configuration of :func:`run_dying_relu`; each field is an option of
    ``relukit experiment dying-relu`` (``--batch-size`` for ``batch_size``)."""

    dataset: Dataset = option(
        "digits", "the scikit-learn data set to train on (shipped, no download)"
    )
    hidden: tuple[int, ...] = option((32, 32, 32, 32), "hidden layer widths", metavar="WIDTH")
    optimizer: Optimizer = option("adam", "the optimizer")
    lr: float = option(0.02, "learning rate")
    epochs: int = option(20, "training epochs")
    batch_size: int = option(64, "minibatch size")
    seeds: tuple[int, ...] = option(
        (0, 1, 2, 3, 4, 5, 6, 7),
        "one run per seed; several give mean ± std and paired intervals",
        metavar="SEED",
    )
    variants: tuple[Variant, ...] = option(
        VARIANTS, "variants to train", metavar="VARIANT", aliases=("--activations",)
    )
    eval_every: int = option(
        25, "measure dead units and test accuracy every STEPS steps", metavar="STEPS"
    )
    recycle_every: int = option(25, "relu+recycle: recycle every STEPS steps", metavar="STEPS")
    recycle_which: Literal["dead", "dormant"] = option(
        "dead", "relu+recycle: which units to recycle"
    )
    recycle_until: float = option(
        0.5, "relu+recycle: recycle only during this fraction of training", metavar="FRACTION"
    )
    tau: float = option(0.1, "dormancy threshold")
    negative_slope: float = option(0.01, "leaky_relu: the slope for negative inputs")
    test_size: float = option(0.25, "fraction of the data set held out for testing")
    split_seed: int = option(0, "seed of the train/test split")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (:class:`~relukit.experiments._config.ConfigError`)."""
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        self.variants = check_choices("variants", self.variants, VARIANTS)
        self.seeds = check_ints("seeds", self.seeds, 0, unique=True)
        self.hidden = check_ints("hidden", self.hidden)
        for name in ("epochs", "batch_size", "eval_every", "recycle_every"):
            check_int(name, getattr(self, name))
        check_int("split_seed", self.split_seed, 0)
        check_number("lr", self.lr, 0, open_low=True)
        check_number("tau", self.tau, 0)
        check_choice("recycle_which", self.recycle_which, ("dead", "dormant"))
        check_number("recycle_until", self.recycle_until, 0, 1)
        check_number("negative_slope", self.negative_slope)
        check_number("test_size", self.test_size, 0, 1, open_low=True, open_high=True)


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
    json_path: Path | None = None,
    console: Any = None,
    progress_bar: bool = True,
) -> dict[str, Any]:
    """Run the experiment; returns the metrics (also written to ``out/metrics.json``).

    ``out``: folder for ``metrics.json``, the figures and ``report.html`` (None: write
    nothing); ``json_path``: also write the metrics there. ``console``: a rich Console
    for the progress bar (None: a new one).
    """
    cfg = cfg or DyingReluConfig()
    cfg.validate()
    t0 = time.perf_counter()
    data = load_data(cfg)
    steps_per_epoch = math.ceil(data[0].shape[0] / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs * len(cfg.seeds) * len(cfg.variants)

    runs: list[dict[str, Any]] = []
    with (
        deterministic(),
        progress(console, progress_bar, total, "dying-relu: steps") as advance,
    ):
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
    save_metrics(metrics, out, json_path, write_outputs)
    return metrics


def _paired_diffs(runs: list[dict[str, Any]], a: str, b: str, key: str) -> list[float]:
    """Per seed, ``a − b`` of a final metric (same seed = same init, same batches)."""
    fa = {r["seed"]: r["final"][key] for r in runs if r["variant"] == a}
    fb = {r["seed"]: r["final"][key] for r in runs if r["variant"] == b}
    return [fa[k] - fb[k] for k in fa if k in fb]


def _claims(runs: list[dict[str, Any]], variants: Sequence[str]) -> list[dict[str, Any]]:
    """The claims, checked against the per-seed numbers.

    A comparison is supported (contradicted) only when the 95 % interval of the paired
    difference over seeds (Student's t) is entirely on the claimed (the other) side of 0,
    and inconclusive otherwise; a single seed is always inconclusive. The claims about
    every seed are supported when they hold in every seed, contradicted when in none.
    """
    out = []

    def finals(v: str, key: str) -> list[float]:
        return [r["final"][key] for r in runs if r["variant"] == v]

    if "relu" in variants:
        dead = finals("relu", "dead_fraction")
        out.append(
            count_claim(
                "ReLU at this learning rate loses units",
                [d > 0 for d in dead],
                f"relu ends with dead units in {sum(d > 0 for d in dead)} of "
                f"{len(dead)} seeds (mean {sum(dead) / len(dead):.1%}, min {min(dead):.1%})",
            )
        )
    if "relu" in variants and "leaky_relu" in variants:
        out.append(
            claim(
                "LeakyReLU loses fewer units than ReLU",
                _paired_diffs(runs, "relu", "leaky_relu", "dead_fraction"),
                what="dead units relu − leaky_relu",
                unit="points (% of hidden units)",
                scale=100,
            )
        )
        lk = finals("leaky_relu", "dead_fraction")
        rv = finals("leaky_relu", "revived_fraction")
        out.append(
            count_claim(
                "LeakyReLU does not lose units (none dead at the end)",
                [d == 0 for d in lk],
                f"leaky_relu ends with units whose pre-activation is <= 0 on every "
                f"training sample in {sum(d > 0 for d in lk)} of {len(lk)} seeds (mean "
                f"{sum(lk) / len(lk):.1%}); they still get gradient negative_slope and can "
                f"come back: {sum(rv) / len(rv):.1%} of its units were dead at some "
                f"evaluation and alive at the end",
            )
        )
    if "relu" in variants and "relu+recycle" in variants:
        out.append(
            claim(
                "recycling removes dead units",
                _paired_diffs(runs, "relu", "relu+recycle", "dead_fraction"),
                what="dead units relu − relu+recycle",
                unit="points (% of hidden units)",
                scale=100,
            )
        )
        out.append(
            claim(
                "recycling recovers accuracy",
                _paired_diffs(runs, "relu+recycle", "relu", "test_accuracy"),
                what="test accuracy relu+recycle − relu",
                unit="points",
                scale=100,
            )
        )
    return out


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------

HEADER = (
    "activation",
    "dead units (%)",
    "dormant units (%)",
    "revived (%)",
    "test accuracy (%)",
    "recycled (units)",
)


def summary_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Per variant: mean ± std over seeds of the final numbers (the mean alone for one seed)."""
    rows = []
    for variant in metrics["summary"]:
        finals = [r["final"] for r in metrics["runs"] if r["variant"] == variant]

        def col(key: str, scale: float = 100.0, finals: list = finals) -> str:
            return mean_std_text([f[key] for f in finals], scale=scale)

        rows.append(
            [
                variant,
                col("dead_fraction"),
                col("dormant_fraction"),
                col("revived_fraction"),
                col("test_accuracy"),
                col("units_recycled", 1.0) if variant == "relu+recycle" else "",
            ]
        )
    return rows


def summary_table(metrics: dict[str, Any]) -> Any:
    """The final table (rich Table): dead fraction and test accuracy per activation."""
    from rich.table import Table

    cfg = metrics["config"]
    spread = "mean ± std" if len(cfg["seeds"]) > 1 else "one seed"
    table = Table(
        title=(
            f"dying-relu on {cfg['dataset']}: {cfg['optimizer']} lr={cfg['lr']:g}, "
            f"{cfg['epochs']} epochs, {spread} over seeds {list(cfg['seeds'])}"
        )
    )
    for col in HEADER:
        table.add_column(col, justify="left" if col == "activation" else "right", overflow="fold")
    for row in summary_rows(metrics):
        table.add_row(*row)
    return table


def _variant_runs(metrics: dict[str, Any], variant: str) -> list[dict[str, Any]]:
    return [r for r in metrics["runs"] if r["variant"] == variant]


def figure_dead_fraction(metrics: dict[str, Any]) -> Any:
    """Dead fraction per hidden layer over steps, one panel per activation."""
    variants = list(metrics["summary"])
    fig, axes = figure_grid(len(variants), cols=2, height=3.0)
    top = 0.0
    for ax, variant in zip(axes, variants, strict=True):
        runs = _variant_runs(metrics, variant)
        for layer in runs[0]["dead_fraction"]:
            _, hi = band(
                ax,
                runs[0]["steps"],
                [r["dead_fraction"][layer] for r in runs],
                label=layer,
                scale=100.0,
            )
            top = max(top, hi)
        ax.set_title(variant, fontsize=11)
        ax.set_xlabel("training step")
    fit_ylim(axes[0], 0.0, max(top, 1.0), floor=-1.0)
    for ax in axes[:: min(2, len(axes))]:
        ax.set_ylabel("dead units (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    return fig


def figure_accuracy(metrics: dict[str, Any]) -> Any:
    """Test accuracy over steps per activation: the whole run (left) and its second half
    with the y axis fitted to the values there (right); nothing is cut off."""
    fig, axes = figure_grid(2, cols=2, height=3.6, sharey=False)
    steps = metrics["runs"][0]["steps"]
    half = [i for i, s in enumerate(steps) if s >= steps[-1] / 2] or [len(steps) - 1]
    lo: float | None = None
    hi: float | None = None
    for variant in metrics["summary"]:
        runs = _variant_runs(metrics, variant)
        accs = [r["test_accuracy"] for r in runs]
        band(axes[0], steps, accs, label=variant, scale=100.0)
        a, b = band(
            axes[1],
            [steps[i] for i in half],
            [[v[i] for i in half] for v in accs],
            label=variant,
            scale=100.0,
        )
        lo, hi = (a, b) if lo is None or hi is None else (min(lo, a), max(hi, b))
    axes[0].set_ylim(0, 101)
    assert lo is not None and hi is not None
    fit_ylim(axes[1], lo, hi, ceil=100.5)
    axes[0].set_title("whole run", fontsize=11)
    axes[1].set_title("second half, zoomed", fontsize=11)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=9)
    fig.tight_layout()
    return fig


def write_outputs(metrics: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write metrics.json, the two figures and report.html into ``out``."""
    pngs = {
        "dead_fraction": png(figure_dead_fraction(metrics)),
        "test_accuracy": png(figure_accuracy(metrics)),
    }
    return write_report_files(out, metrics, pngs, render_html(metrics, pngs))


def render_html(metrics: dict[str, Any], pngs: dict[str, bytes]) -> str:
    """A self-contained HTML report: configuration, final table, claims, figures (base64)."""
    e = html.escape
    cfg = metrics["config"]
    table = html_table(HEADER, summary_rows(metrics))
    sizes = metrics["dataset_sizes"]
    spread = "mean &plusmn; std" if len(cfg["seeds"]) > 1 else "one seed"
    body = f"""<p>The same MLP (hidden widths {e(str(list(cfg["hidden"])))}) trained on
<b>{e(cfg["dataset"])}</b> ({sizes["train"]} training, {sizes["test"]} test samples,
standardised, fixed split) with {e(cfg["optimizer"])} at lr={cfg["lr"]:g} for {cfg["epochs"]}
epochs; each seed starts every activation from the same initial weights. <i>Dead</i>: the
unit's pre-activation is &le; 0 for every training sample (for relu its output and gradient
are then 0 everywhere; leaky_relu and elu still pass a gradient there). <i>Dormant</i>: ReDo
score &le; {cfg["tau"]:g}. relu+recycle re-initialises its {e(cfg["recycle_which"])} units
(<code>relukit.recycle</code>) every {cfg["recycle_every"]} steps during the first
{100 * cfg["recycle_until"]:g}% of training.</p>
<h2>Final table ({spread} over seeds {e(str(list(cfg["seeds"])))})</h2>{table}
<p><i>revived</i>: units dead at some evaluation during training and alive at the end
(recycled units included).</p>
<h2>Claims, checked against these numbers</h2>{claims_html(metrics["claims"])}"""
    figures = [
        (
            "dead units per hidden layer",
            pngs["dead_fraction"],
            "Share of dead units in each hidden layer during training, one panel per "
            "activation. Lines: mean over seeds; shaded: lowest to highest seed.",
        ),
        (
            "test accuracy",
            pngs["test_accuracy"],
            "Test accuracy during training, one line per activation (mean over seeds; "
            "shaded: lowest to highest seed). Left: the whole run, from chance level at step "
            "0; right: the second half of training with the axis fitted to its values.",
        ),
    ]
    rerun = rerun_command("dying-relu", DyingReluConfig(**cfg))
    return render_page(
        "The dying ReLU, measured",
        body,
        figures,
        config=cfg,
        seconds=metrics["seconds"],
        rerun=rerun,
        short=metrics.get("shortened"),
    )
