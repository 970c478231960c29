"""Does relu'(0) matter? (``relukit experiment kink-choice``)

Tutorials disagree on the derivative of ReLU at 0 (1 or 0); PyTorch, JAX and
TensorFlow use 0. The choice only matters at steps where some pre-activation is
*exactly* 0, which real arithmetic almost never gives but floating point does, more
often at lower precision (Bertoin et al., NeurIPS 2021, "Numerical influence of
ReLU'(0) on backpropagation").

For float16, bfloat16, float32 and float64, the same network (an MLP and a small CNN,
no batch norm) is trained on scikit-learn's 8×8 digits (pixels / 16, in [0, 1]) with
plain SGD, twice from the same initial weights and the same batches: once with
``relukit.torch.relu(x, at_kink=0.0)`` and once with ``at_kink=1.0``. Along the
``at_kink=0`` run, every step's gradient is also computed with ``at_kink=1`` at the
same weights and batch, which gives

* the fraction of steps with at least one pre-activation exactly 0 (where the choice
  can change the gradient), and the fraction whose gradient did change;
* the fraction of gradient entries (over all parameters and steps) that changed;

and both runs give their final test accuracy, compared per seed (paired intervals).
``at_kink`` acts only where a pre-activation is exactly 0, so the second gradient is
computed only at steps that met one, and when no step of the ``at_kink=0`` run met one,
the ``at_kink=1`` run would repeat it bit for bit and is not run. Deterministic for a
configuration (seeded generators, deterministic algorithms, one thread).
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from relukit.experiments._common import (
    claim,
    claims_html,
    deterministic,
    figure_grid,
    html_table,
    load_digits,
    mean_std_text,
    paired_interval,
    png,
    progress,
    render_page,
    rerun_command,
    save_metrics,
    write_report_files,
)
from relukit.experiments._config import (
    check_choices,
    check_int,
    check_ints,
    check_number,
    option,
)

__all__ = ["DTYPES", "MODELS", "KinkChoiceConfig", "run_kink_choice", "summary_table"]

DType = Literal["float16", "bfloat16", "float32", "float64"]
Model = Literal["mlp", "cnn"]
DTYPES: tuple[DType, ...] = get_args(DType)
MODELS: tuple[Model, ...] = get_args(Model)


@dataclass
class KinkChoiceConfig:
    """Configuration of :func:`run_kink_choice`; each field is an option of
    ``relukit experiment kink-choice`` (``--batch-size`` for ``batch_size``)."""

    dtypes: tuple[DType, ...] = option(DTYPES, "floating-point precisions", metavar="DTYPE")
    models: tuple[Model, ...] = option(MODELS, "networks", metavar="MODEL")
    hidden: tuple[int, ...] = option((64, 64), "mlp: hidden layer widths", metavar="WIDTH")
    channels: tuple[int, ...] = option(
        (4, 8), "cnn: channels of the convolution layers", metavar="C"
    )
    lr: float = option(0.1, "SGD learning rate")
    epochs: int = option(10, "training epochs")
    batch_size: int = option(32, "minibatch size")
    seeds: tuple[int, ...] = option(
        (0, 1, 2), "one run per seed; several give mean ± std and paired intervals", metavar="SEED"
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (:class:`~relukit.experiments._config.ConfigError`)."""
        self.dtypes = check_choices("dtypes", self.dtypes, DTYPES)
        self.models = check_choices("models", self.models, MODELS)
        self.seeds = check_ints("seeds", self.seeds, 0, unique=True)
        self.hidden = check_ints("hidden", self.hidden)
        self.channels = check_ints("channels", self.channels)
        check_int("epochs", self.epochs)
        check_int("batch_size", self.batch_size)
        check_number("lr", self.lr, 0, open_low=True)


def _act_module() -> Any:
    import torch
    from torch import nn

    import relukit.torch as rt

    class KinkReLU(nn.Module):
        """relu with a switchable derivative at 0; notes whether a 0 was seen."""

        def __init__(self) -> None:
            super().__init__()
            self.at_kink = 0.0
            self.zero_seen = False

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.zero_seen:
                self.zero_seen = bool((x == 0).any())
            return rt.relu(x, at_kink=self.at_kink)

    return KinkReLU


def _make_model(cfg: KinkChoiceConfig, model: str, n_out: int) -> Any:
    from torch import nn

    act = _act_module()
    layers: list[nn.Module] = []
    if model == "mlp":
        d = 64
        for h in cfg.hidden:
            layers += [nn.Linear(d, h), act()]
            d = h
        layers.append(nn.Linear(d, n_out))
    else:
        c = 1
        for k in cfg.channels:
            layers += [nn.Conv2d(c, k, 3, padding=1), act()]
            c = k
        layers += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c * 16, n_out)]
    return nn.Sequential(*layers)


def _set(model: Any, at_kink: float) -> None:
    for m in model.modules():
        if hasattr(m, "zero_seen"):
            m.at_kink = at_kink
            m.zero_seen = False


def _zero_seen(model: Any) -> bool:
    return any(getattr(m, "zero_seen", False) for m in model.modules())


def _grads(model: Any, loss_fn: Any) -> list[Any]:
    model.zero_grad(set_to_none=True)
    loss_fn().backward()
    return [p.grad.detach().clone() for p in model.parameters()]


def _run_pair(cfg: KinkChoiceConfig, model_name: str, dtype: str, seed: int, data, advance):
    import torch
    from torch import nn

    xtr, ytr, xte, yte = data
    dt = getattr(torch, dtype)
    shape = (-1, 64) if model_name == "mlp" else (-1, 1, 8, 8)
    xa, xb = xtr.reshape(shape).to(dt), xte.reshape(shape).to(dt)
    torch.manual_seed(seed)
    init = _make_model(cfg, model_name, 10).to(dt)
    out: dict[str, Any] = {}
    n = xa.shape[0]
    for at_kink in (0.0, 1.0):
        if at_kink == 1.0 and out["fraction_of_steps_affected"] == 0:
            # no step met an exact 0: at_kink=1 would take the same steps, bit for bit
            out["accuracy_at_kink_1"] = out["accuracy_at_kink_0"]
            advance(out["steps"])
            break
        model = _make_model(cfg, model_name, 10).to(dt)
        model.load_state_dict(init.state_dict())
        _set(model, at_kink)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(seed)
        steps = zero_steps = changed_steps = changed_entries = entries = 0
        for _ in range(cfg.epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, cfg.batch_size):
                idx = perm[i : i + cfg.batch_size]

                def loss_fn(idx=idx, model=model) -> Any:
                    return nn.functional.cross_entropy(model(xa[idx]).float(), ytr[idx])

                if at_kink == 0.0:
                    _set(model, 0.0)
                    g0 = _grads(model, loss_fn)
                    entries += sum(g.numel() for g in g0)
                    if _zero_seen(model):  # else at_kink cannot act: the same gradient
                        zero_steps += 1
                        _set(model, 1.0)
                        g1 = _grads(model, loss_fn)
                        _set(model, 0.0)
                        diff = sum(int((a != b).sum()) for a, b in zip(g0, g1, strict=True))
                        changed_entries += diff
                        changed_steps += diff > 0
                        for p, g in zip(model.parameters(), g0, strict=True):
                            p.grad = g
                else:
                    model.zero_grad(set_to_none=True)
                    loss_fn().backward()
                opt.step()
                steps += 1
                advance()
        with torch.no_grad():
            acc = float((model(xb).float().argmax(1) == yte).float().mean())
        key = "0" if at_kink == 0.0 else "1"
        out[f"accuracy_at_kink_{key}"] = acc
        if at_kink == 0.0:
            out["fraction_of_steps_affected"] = zero_steps / steps
            out["fraction_of_steps_gradient_changed"] = changed_steps / steps
            out["fraction_of_gradient_entries_changed"] = changed_entries / entries
            out["steps"] = steps
    return out


_KEYS = (
    "fraction_of_steps_affected",
    "fraction_of_steps_gradient_changed",
    "fraction_of_gradient_entries_changed",
    "accuracy_at_kink_0",
    "accuracy_at_kink_1",
)


def run_kink_choice(
    cfg: KinkChoiceConfig | None = None,
    out: Path | None = None,
    *,
    json_path: Path | None = None,
    console: Any = None,
    progress_bar: bool = True,
) -> dict[str, Any]:
    """Run the experiment; returns the metrics (``out/metrics.json``, ``json_path``).

    ``metrics["precision"]`` has one entry per (model, dtype): the means over seeds of
    :data:`_KEYS`, the per-seed values (``per_seed``), and the paired difference of the
    test accuracies ``accuracy_difference`` (at_kink=0 minus at_kink=1) with its 95 %
    interval.
    """
    cfg = cfg or KinkChoiceConfig()
    cfg.validate()
    t0 = time.perf_counter()
    data = load_digits(scale="unit")
    n = data[0].shape[0]
    per_run = 2 * cfg.epochs * math.ceil(n / cfg.batch_size)
    total = per_run * len(cfg.seeds) * len(cfg.dtypes) * len(cfg.models)
    entries: list[dict[str, Any]] = []
    with deterministic(), progress(console, progress_bar, total, "kink-choice: steps") as adv:
        for model_name in cfg.models:
            for dtype in cfg.dtypes:
                runs = [_run_pair(cfg, model_name, dtype, s, data, adv) for s in cfg.seeds]
                per_seed = {k: [r[k] for r in runs] for k in _KEYS}
                diffs = [
                    a - b
                    for a, b in zip(
                        per_seed["accuracy_at_kink_0"], per_seed["accuracy_at_kink_1"], strict=True
                    )
                ]
                m, lo, hi, k = paired_interval(diffs)
                entries.append(
                    {
                        "model": model_name,
                        "dtype": dtype,
                        **{key: sum(v) / len(v) for key, v in per_seed.items()},
                        "accuracy_difference": m,
                        "accuracy_difference_interval": None if k < 2 else [lo, hi],
                        "steps": runs[0]["steps"],
                        "per_seed": per_seed,
                    }
                )
    metrics = {
        "config": asdict(cfg),
        "dataset_sizes": {"train": int(n), "test": int(data[2].shape[0])},
        "precision": entries,
        "claims": _claims(cfg, entries),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    save_metrics(metrics, out, json_path, write_outputs)
    return metrics


def _claims(cfg: KinkChoiceConfig, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    by = {(e["model"], e["dtype"]): e for e in entries}
    for model in cfg.models:
        if (model, "float64") in by:
            e = by[(model, "float64")]
            worst = max(e["per_seed"]["fraction_of_steps_affected"])
            # a claim about every step: one exact zero contradicts it
            verdict = "supported" if worst == 0 else "contradicted"
            out.append(
                {
                    "name": f"{model}, float64: relu'(0) never matters (no pre-activation is "
                    "exactly 0)",
                    "verdict": verdict,
                    "supported": verdict == "supported",
                    "estimate": worst,
                    "interval": None,
                    "n": len(cfg.seeds),
                    "evidence": f"largest fraction of steps with an exact 0 over "
                    f"{len(cfg.seeds)} seeds: {_pct(worst)} %",
                }
            )
        for low in ("float16", "bfloat16"):
            if (model, low) in by and (model, "float32") in by:
                a = by[(model, low)]["per_seed"]["fraction_of_steps_affected"]
                b = by[(model, "float32")]["per_seed"]["fraction_of_steps_affected"]
                out.append(
                    claim(
                        f"{model}: the choice affects more steps in {low} than in float32",
                        [x - y for x, y in zip(a, b, strict=True)],
                        what=f"steps affected, {low} − float32",
                        unit="points (% of steps)",
                        scale=100,
                    )
                )
        for dtype in cfg.dtypes:
            e = by[(model, dtype)]
            diffs = [
                x - y
                for x, y in zip(
                    e["per_seed"]["accuracy_at_kink_0"],
                    e["per_seed"]["accuracy_at_kink_1"],
                    strict=True,
                )
            ]
            out.append(
                claim(
                    f"{model}, {dtype}: relu'(0) = 0 trains to a higher accuracy than relu'(0) = 1",
                    diffs,
                    what="accuracy at_kink=0 − at_kink=1",
                    unit="points",
                    scale=100,
                )
            )
    return out


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------

HEADER = (
    "model",
    "dtype",
    "steps with an exact 0 (%)",
    "gradient entries changed (%)",
    "accuracy, relu'(0)=0 (%)",
    "accuracy, relu'(0)=1 (%)",
    "difference (points, 95% interval)",
)


def _pct(v: float) -> str:
    """A percentage with enough digits to tell a small share from none."""
    if v == 0:
        return "0"
    p = 100 * v
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1e}"


def summary_rows(metrics: dict[str, Any]) -> list[list[str]]:
    rows = []
    for e in metrics["precision"]:
        iv = e["accuracy_difference_interval"]
        diff = f"{100 * e['accuracy_difference']:+.2f}"
        if iv is not None:
            diff += f" [{100 * iv[0]:+.2f}, {100 * iv[1]:+.2f}]"
        rows.append(
            [
                e["model"],
                e["dtype"],
                _pct(e["fraction_of_steps_affected"]),
                _pct(e["fraction_of_gradient_entries_changed"]),
                mean_std_text(e["per_seed"]["accuracy_at_kink_0"]),
                mean_std_text(e["per_seed"]["accuracy_at_kink_1"]),
                diff,
            ]
        )
    return rows


def markdown_table(metrics: dict[str, Any]) -> str:
    """The summary as a Markdown table (for the README)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in summary_rows(metrics)]
    return "\n".join(lines)


def summary_table(metrics: dict[str, Any]) -> Any:
    from rich.table import Table

    cfg = metrics["config"]
    table = Table(
        title=f"kink-choice: SGD lr {cfg['lr']:g}, {cfg['epochs']} epochs on digits; "
        f"mean (± std) over seeds {list(cfg['seeds'])}"
    )
    for i, col in enumerate(HEADER):
        table.add_column(col, justify="left" if i < 2 else "right", overflow="fold")
    for r in summary_rows(metrics):
        table.add_row(*r)
    return table


def figure_kink(metrics: dict[str, Any]) -> Any:
    """Left: share of steps with an exact-0 pre-activation per dtype and model (log
    scale). Right: accuracy difference at_kink=0 − at_kink=1 per seed."""
    import numpy as np

    fig, (ax1, ax2) = figure_grid(2, cols=2, height=3.6, sharey=False)
    entries = metrics["precision"]
    models = list(dict.fromkeys(e["model"] for e in entries))
    dtypes = list(dict.fromkeys(e["dtype"] for e in entries))
    width = 0.8 / len(models)
    floor = 1e-4
    for j, model in enumerate(models):
        vals = [
            next(e for e in entries if e["model"] == model and e["dtype"] == d)[
                "fraction_of_steps_affected"
            ]
            for d in dtypes
        ]
        x = np.arange(len(dtypes)) + (j - (len(models) - 1) / 2) * width
        shown = [v > 0 for v in vals]  # a 0 has no bar on a log scale: only its label
        ax1.bar(
            [xi for xi, ok in zip(x, shown, strict=True) if ok],
            [100 * v for v in vals if v > 0],
            width,
            label=model,
            color=f"C{j}",
        )
        for xi, v in zip(x, vals, strict=True):
            ax1.annotate(
                _pct(v), (xi, max(100 * v, 100 * floor)), ha="center", va="bottom", fontsize=8
            )
        for xi, d in zip(x, dtypes, strict=True):
            e = next(e for e in entries if e["model"] == model and e["dtype"] == d)
            ys = [
                100 * (a - b)
                for a, b in zip(
                    e["per_seed"]["accuracy_at_kink_0"],
                    e["per_seed"]["accuracy_at_kink_1"],
                    strict=True,
                )
            ]
            ax2.plot(
                [xi] * len(ys),
                ys,
                "o",
                color=f"C{j}",
                alpha=0.7,
                label=model if d == dtypes[0] else None,
            )
    for ax in (ax1, ax2):
        ax.set_xticks(range(len(dtypes)), dtypes)
        ax.set_xlim(-0.5, len(dtypes) - 0.5)
    ax1.set_yscale("log")
    ax1.set_ylim(100 * floor / 2, 100 * 2)
    ax1.set_ylabel("steps with an exact-0 pre-activation (%)", fontsize=10)
    ax1.legend(fontsize=9)
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_ylabel("accuracy relu'(0)=0 − relu'(0)=1 (points)", fontsize=10)
    ax2.legend(fontsize=9)
    fig.tight_layout()
    return fig


def write_outputs(metrics: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write metrics.json, kink_choice.png and report.html into ``out``."""
    data = png(figure_kink(metrics))
    return write_report_files(out, metrics, {"kink_choice": data}, render_html(metrics, data))


def render_html(metrics: dict[str, Any], figure_png: bytes) -> str:
    e = html.escape
    cfg = metrics["config"]
    table = html_table(HEADER, summary_rows(metrics))
    nets = []
    if "mlp" in cfg["models"]:
        nets.append(f"an MLP with hidden widths {e(str(list(cfg['hidden'])))}")
    if "cnn" in cfg["models"]:
        nets.append(
            f"a CNN with 3&times;3 convolutions of {e(str(list(cfg['channels'])))} channels, "
            "max pooling and a linear layer"
        )
    dtypes = ", ".join(cfg["dtypes"])
    body = f"""<p>Does the derivative of ReLU at 0 matter? The same network ({" and ".join(nets)};
no batch norm) is trained on scikit-learn's digits (pixels / 16) with plain SGD (lr
{cfg["lr"]:g}, batch {cfg["batch_size"]}, {cfg["epochs"]} epochs), once with relu'(0) = 0
(<code>relukit.torch.relu(x, at_kink=0.0)</code>, PyTorch's convention) and once with
relu'(0) = 1, from the same weights and batches, in {e(dtypes)}. <i>Steps with an exact
0</i>: training steps of the relu'(0) = 0 run in which some pre-activation was exactly 0,
so that the choice could change the gradient; <i>gradient entries changed</i>: share of
all parameter-gradient entries that differ between the two choices at the same weights
and batch.</p>
<h2>Results (accuracy: mean &plusmn; std over seeds {e(str(list(cfg["seeds"])))})</h2>{table}
<h2>Claims, checked against these numbers</h2>{claims_html(metrics["claims"])}"""
    caption = (
        "Left: how often a training step met a pre-activation that is exactly 0, per "
        "precision and network (log scale; a 0 is written without a bar). Right: for each seed, "
        "the final test accuracy with relu'(0) = 0 minus the one with relu'(0) = 1, in "
        "percentage points; points above the line favour PyTorch's convention."
    )
    rerun = rerun_command("kink-choice", KinkChoiceConfig(**cfg))
    return render_page(
        "Does relu'(0) matter? Exact zeros by floating-point precision",
        body,
        [("kink choice by precision", figure_png, caption)],
        # the widths of a network that was not run are not part of this run
        config={
            k: v
            for k, v in cfg.items()
            if not (k == "hidden" and "mlp" not in cfg["models"])
            and not (k == "channels" and "cnn" not in cfg["models"])
        },
        seconds=metrics["seconds"],
        rerun=rerun,
        short=metrics.get("shortened"),
    )
