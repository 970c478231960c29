"""Generate ``docs/experiments.md`` from the stored experiment runs: ``python docs/build_experiments.py``.

One section per experiment of ``relukit experiment``: what it runs (from the run's own
configuration), its results table, its figure and its claims with their verdicts, all
read from ``docs/measured/experiments/`` (the ``metrics.json`` and figures of each
default run, stored by ``python tools/measure.py --only experiments``). The
monitor-overhead and few-bit figures are drawn here from their stored numbers. Nothing is run, so ``make
docs`` stays fast; ``tests/test_measured.py`` checks that the committed page is what
this script writes. ``--stdout`` prints the page instead.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
PAGE = DOCS / "experiments.md"
STORED = DOCS / "measured" / "experiments"
FIGURE = DOCS / "figures" / "experiments" / "monitor-overhead.png"
FEWBIT = DOCS / "figures" / "experiments" / "few-bit.png"


def _load(name: str) -> Any:
    return json.loads((STORED / name).read_text(encoding="utf-8"))


def _rel(path: Path) -> str:
    return path.relative_to(DOCS).as_posix()


def verdict(claim: dict[str, Any]) -> str:
    """supported / contradicted / inconclusive, from the claim's 95 % interval.

    A claim is supported when its interval lies on the side it predicts; an unsupported
    claim whose interval excludes 0 lies on the other side (contradicted); one whose
    interval contains 0 is inconclusive. A claim without an interval (a count) is
    supported or not. A ``verdict`` the experiment gives itself wins.
    """
    if claim.get("verdict"):
        return str(claim["verdict"])
    if claim["supported"]:
        return "supported"
    interval = claim.get("interval")
    if interval is None:
        return "not supported"
    lo, hi = interval
    return "inconclusive" if lo <= 0 <= hi else "contradicted"


def claims(items: list[dict[str, Any]]) -> list[str]:
    out = ["Claims, checked on this run (95 % intervals of paired differences over seeds):", ""]
    out += [f"- {c['name']}: **{verdict(c)}** ({c['evidence']})" for c in items]
    return [*out, ""]


def mean_std(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return f"{scale * m:.{digits}f}"
    s = math.sqrt(sum((v - m) ** 2 for v in values) / n)
    return f"{scale * m:.{digits}f} ± {scale * s:.{digits}f}"


def _seeds(cfg: dict[str, Any]) -> str:
    return f"{len(cfg['seeds'])} seed" + ("s" if len(cfg["seeds"]) != 1 else "")


def _seconds(m: dict[str, Any]) -> str:
    s = m.get("seconds")
    return "" if s is None else f" The run took {s:.0f} s on the machine that stored it."


# ---------------------------------------------------------------------------
# the sections
# ---------------------------------------------------------------------------


def dying_relu() -> list[str]:
    m = _load("dying-relu/metrics.json")
    cfg, summary = m["config"], m["summary"]
    labels = {"relu+recycle": "relu + recycling"}
    out = [
        "## dying-relu: do ReLU units die, and does recycling bring them back?",
        "",
        "    relukit experiment dying-relu",
        "",
        f"An MLP with hidden layers {' x '.join(map(str, cfg['hidden']))} on scikit-learn's "
        f"handwritten {cfg['dataset']} ({m['dataset_sizes']['train']} training and "
        f"{m['dataset_sizes']['test']} test images), "
        f"{ {'adam': 'Adam', 'sgd': 'SGD'}.get(cfg['optimizer'], cfg['optimizer']) } at learning rate "
        f"{cfg['lr']}, batch {cfg['batch_size']}, {cfg['epochs']} epochs, "
        f"{_seeds(cfg)}, trained with each activation from the same weights and batches; "
        f"`relu + recycling` re-draws the dead units every {cfg['recycle_every']} steps "
        f"during the first {cfg['recycle_until']:.0%} of training (ReDo). Dead units: "
        "pre-activation <= 0 on every training sample at the end; mean ± std over seeds."
        + _seconds(m),
        "",
        "| activation | dead units (%) | test accuracy (%) |",
        "|---|---|---|",
    ]
    for v in cfg["variants"]:
        s = summary[v]
        out.append(
            f"| {labels.get(v, v)} | {100 * s['dead_fraction_mean']:.1f} ± "
            f"{100 * s['dead_fraction_std']:.1f} | {100 * s['test_accuracy_mean']:.1f} ± "
            f"{100 * s['test_accuracy_std']:.1f} |"
        )
    out += [
        "",
        "![Dead units during training, per activation](measured/experiments/dying-relu/"
        "dead_fraction.png)",
        "",
        "![Test accuracy during training, per activation](measured/experiments/dying-relu/"
        "test_accuracy.png)",
        "",
    ]
    return out + claims(m["claims"])


def born_dead() -> list[str]:
    recs = _load("born-dead.json")
    relu = [r for r in recs if r["activation"] == "relu"]
    leaky = [r for r in recs if r["activation"] == "leaky_relu"]
    trials = relu[0]["trials"]
    out = [
        "## born-dead: how often is a fresh ReLU network dead?",
        "",
        "    relukit experiment born-dead",
        "",
        f"Networks of `depth` hidden layers of `width` units (2 inputs, one linear output), "
        f"drawn {trials:,} times each with He-normal weights and zero biases. *Dead at a "
        "point*: at one random input some hidden layer is all zero, so the output no "
        "longer depends on the input there; *constant*: the output is the same at every "
        "point of a sample of the input square. With zero biases each unit is off with "
        "probability 1/2, so the first probability is exactly $1 - (1 - 2^{-\\mathrm{width}})^{\\mathrm{depth}}$.",
        "",
        "| width | depth | relu: dead at a point | theory | relu: constant | leaky_relu: dead |",
        "|---|---|---|---|---|---|",
    ]
    for r in relu:
        lr = next(x for x in leaky if (x["width"], x["depth"]) == (r["width"], r["depth"]))
        out.append(
            f"| {r['width']} | {r['depth']} | {r['p_dead_at_point']:.4f} | "
            f"{r['theory_point']:.4f} | {r['p_constant_on_domain']:.4f} | "
            f"{lr['p_dead_at_point']:.4f} |"
        )
    # the measured frequency against the exact probability: a binomial 95 % band
    inside = [
        abs(r["p_dead_at_point"] - r["theory_point"])
        <= 1.96 * math.sqrt(r["theory_point"] * (1 - r["theory_point"]) / r["trials"])
        + 1 / r["trials"]
        for r in relu
    ]
    never = sum(x["p_dead_at_point"] == 0 for x in leaky)
    narrow = max(relu, key=lambda r: r["p_dead_at_point"])
    out += [
        "",
        "![P(dead) against depth, per width](measured/experiments/born-dead.png)",
        "",
        "Claims, checked on this run:",
        "",
        f"- relu's frequency of a dead point is the exact probability $1 - (1 - 2^{{-\\mathrm{{width}}}})^{{\\mathrm{{depth}}}}$ "
        f"within its binomial 95 % band: **{'supported' if all(inside) else 'not supported'}** "
        f"({sum(inside)} of {len(inside)} configurations)",
        f"- narrow deep relu networks are mostly born dead: "
        f"**{'supported' if narrow['p_dead_at_point'] > 0.5 else 'contradicted'}** (width "
        f"{narrow['width']}, depth {narrow['depth']}: {100 * narrow['p_dead_at_point']:.1f} % "
        "of the draws)",
        f"- LeakyReLU networks are never dead at a point: "
        f"**{'supported' if never == len(leaky) else 'contradicted'}** ({never} of "
        f"{len(leaky)} configurations at 0 of {trials:,} draws)",
        "",
    ]
    return out


def monitor_overhead() -> list[str]:
    rows = _load("monitor-overhead.json")
    out = [
        "## monitor-overhead: what does watching a training run cost?",
        "",
        "    relukit experiment monitor-overhead",
        "",
        f"A training step of an MLP (batch {rows[0]['batch_size']}, "
        f"{rows[0]['threads']} thread) with and without a `DeadUnitMonitor` attached, in "
        f"paired blocks ({rows[0]['repeats']} repeats; the median of the paired ratios): "
        "module sites only, and with functional calls watched too (`functional=True`, a "
        "`TorchFunctionMode` that sees `F.relu` inside `forward`).",
        "",
        "| hidden layers | step without monitor (µs) | monitor, modules | monitor + functional |",
        "|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {' x '.join(map(str, r['hidden']))} | {r['step_us']:.0f} | "
            f"{100 * r['slowdown_modules']:+.1f} % | {100 * r['slowdown_functional']:+.1f} % |"
        )
    dearer = all(r["slowdown_functional"] > r["slowdown_modules"] for r in rows)
    worst = max(r["slowdown_modules"] for r in rows)
    out += [
        "",
        f"![Slowdown of a training step with a DeadUnitMonitor]({_rel(FIGURE)})",
        "",
        "Claims, checked on this run (one run of paired blocks on a shared machine: "
        "differences of a few percent are within its noise):",
        "",
        f"- watching module sites costs at most {100 * worst:.0f} % of a step here",
        f"- watching functional calls too costs more than module sites alone: "
        f"**{'supported' if dearer else 'not supported'}** in "
        f"{sum(r['slowdown_functional'] > r['slowdown_modules'] for r in rows)} of "
        f"{len(rows)} sizes",
        "",
    ]
    return out


def monitor_figure(path: Path = FIGURE) -> Path:
    """Bar chart of the stored monitor-overhead rows."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "relukit"
    from matplotlib.figure import Figure

    rows = _load("monitor-overhead.json")
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.subplots()
    labels = [" x ".join(map(str, r["hidden"])) for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [100 * r["slowdown_modules"] for r in rows], 0.4,
           label="module sites")  # fmt: skip
    ax.bar([x + 0.2 for x in xs], [100 * r["slowdown_functional"] for r in rows], 0.4,
           label="+ functional calls")  # fmt: skip
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(list(xs), labels)
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("slowdown of a training step (%)")
    ax.set_title("DeadUnitMonitor: cost per training step")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path


def plasticity() -> list[str]:
    m = _load("plasticity/metrics.json")
    cfg = m["config"]
    k = 3
    labels = {
        "relu+redo": f"relu + ReDo (every {cfg['redo_every']} steps)",
        "relu+cbp": f"relu + CBP (ρ = {cfg['cbp_replacement_rate']:g}, m = {cfg['cbp_maturity']})",
        "relu+l2": f"relu + L2 ({cfg['l2']:g})",
    }
    out = [
        "## plasticity: does one network keep learning a stream of tasks?",
        "",
        "    relukit experiment plasticity",
        "",
        f"One MLP (hidden layers {' x '.join(map(str, cfg['hidden']))}, Adam lr {cfg['lr']}, "
        f"batch {cfg['batch_size']}) trains on {cfg['tasks']} digits tasks in a row, never "
        f"reset, {cfg['steps_per_task']} steps per task; each task "
        + (
            "relabels the images with a fresh permutation of the 10 classes"
            if cfg["stream"] == "labels"
            else "permutes the pixels afresh"
        )
        + f". {_seeds(cfg)}, every variant of a seed from the same weights, tasks and "
        f"batches. First / last: mean over the first / last {k} tasks; mean ± std over "
        "seeds." + _seconds(m),
        "",
        "| activation | accuracy, first (%) | accuracy, last (%) | dead units, first → last (%) "
        "| effective rank, first → last |",
        "|---|---|---|---|---|",
    ]
    for v in cfg["variants"]:
        d = m["variants"][v]

        def ends(key: str, d: dict = d) -> tuple[list[float], list[float]]:
            runs = d[key]
            return (
                [sum(r[:k]) / k for r in runs],
                [sum(r[-k:]) / k for r in runs],
            )

        acc0, acc1 = ends("task_accuracy")
        dead0, dead1 = ends("dead_fraction")
        rank0, rank1 = ends("effective_rank")
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        out.append(
            f"| {labels.get(v, v)} | {mean_std(acc0)} | {mean_std(acc1)} | "
            f"{100 * mean(dead0):.1f} → {100 * mean(dead1):.1f} | "
            f"{mean(rank0):.1f} → {mean(rank1):.1f} |"
        )
    out += [
        "",
        "![Accuracy, dead units and effective rank over the tasks, per variant]"
        "(measured/experiments/plasticity/plasticity.png)",
        "",
    ]
    return out + claims(m["claims"])


def kink_choice() -> list[str]:
    m = _load("kink-choice/metrics.json")
    cfg = m["config"]
    out = [
        "## kink-choice: does relu'(0) matter?",
        "",
        "    relukit experiment kink-choice",
        "",
        f"An MLP (hidden layers {' x '.join(map(str, cfg['hidden']))}) and a small CNN "
        f"({' and '.join(map(str, cfg['channels']))} channels, no batch norm) train on "
        f"digits with plain SGD (lr {cfg['lr']}, batch {cfg['batch_size']}, "
        f"{cfg['epochs']} epochs) from the same weights and batches with relu'(0) = 0 and "
        f"relu'(0) = 1 (`relukit.torch.relu(x, at_kink=...)`), in "
        f"{', '.join(cfg['dtypes'])}, {_seeds(cfg)}. The choice can only matter at a "
        "pre-activation that is exactly 0." + _seconds(m),
        "",
        "| model | dtype | steps with an exact 0 (%) | gradient entries changed (%) | "
        "accuracy, relu'(0)=0 (%) | accuracy, relu'(0)=1 (%) | difference (points, 95 % "
        "interval) |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in m["precision"]:
        seeds = p["per_seed"]
        lo, hi = p["accuracy_difference_interval"]
        out.append(
            f"| {p['model']} | {p['dtype']} | {100 * p['fraction_of_steps_affected']:.2f} | "
            f"{100 * p['fraction_of_gradient_entries_changed']:.2g} | "
            f"{mean_std(seeds['accuracy_at_kink_0'])} | {mean_std(seeds['accuracy_at_kink_1'])} "
            f"| {100 * p['accuracy_difference']:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}] |"
        )
    out += [
        "",
        "![Steps with an exact zero and accuracy, per precision](measured/experiments/"
        "kink-choice/kink_choice.png)",
        "",
    ]
    return out + claims(m["claims"])


def few_bit() -> list[str]:
    m = _load("few-bit/metrics.json")
    cfg = m["config"]
    out = [
        "## few-bit: is a 1-4 bit GELU backward as good as the exact one?",
        "",
        "    relukit experiment few-bit",
        "",
        "Trains an MLP on scikit-learn's digits and a small character-level transformer on "
        "Python's standard-library sources with the exact GELU backward and with "
        f"`bits` = {', '.join(map(str, cfg['bits']))} (`relukit.torch.GELU(bits=b)`: exact "
        "forward, `b` bits per element kept for backward), "
        f"{_seeds(cfg)}; paired 95 % intervals of few-bit minus exact." + _seconds(m),
        "",
        "| task | backward | final loss | accuracy (%) | Δ loss (95 % interval) "
        "| Δ accuracy (points, 95 % interval) |",
        "|---|---|---|---|---|---|",
    ]

    def diff(d: list[float] | None, scale: float, digits: int) -> str:
        if d is None:
            return ""
        m_, lo, hi = (scale * v for v in d)
        return f"{m_:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"

    for r in m["summary"]:
        out.append(
            f"| {r['task']} | {r['variant']} | {r['loss']:.4f} | {100 * r['accuracy']:.2f} | "
            f"{diff(r.get('loss_diff'), 1, 3)} | {diff(r.get('accuracy_diff'), 100, 2)} |"
        )
    mem, times = m["memory"], m["step_time_ratio"]
    exact = mem["exact"]
    out += [
        "",
        "One transformer block: bytes kept for backward (unique storage), the profiler's "
        "peak, and the step time of the whole transformer relative to the exact backward "
        "(median and minimum of paired blocks, 1 thread):",
        "",
        "| backward | block saved | MLP part saved | block peak | step time (median, min) |",
        "|---|---|---|---|---|",
    ]
    for label, v in mem.items():
        t_ = times.get(label)
        out.append(
            f"| {label} | {v['block_saved'] / 2**20:.2f} MiB "
            f"({v['block_saved'] / exact['block_saved']:.2f}x) | "
            f"{v['mlp_saved'] / 2**20:.2f} MiB ({v['mlp_saved'] / exact['mlp_saved']:.2f}x) | "
            f"{v['block_peak'] / 2**20:.2f} MiB | "
            + ("1.00" if t_ is None else f"{t_['median']:.2f}, {t_['min']:.2f}")
            + " |"
        )
    out += [
        "",
        f"![Few-bit minus exact backward, with 95 % intervals]({_rel(FEWBIT)})",
        "",
        "![Exact derivatives and their 1-4 bit approximations](figures/fewbit/levels.png)",
        "",
        "Claims, checked on this run (95 % intervals of paired differences over seeds; "
        "*within the seed noise*: the loss interval reaches 0 or below and the accuracy "
        "interval 0 or above):",
        "",
    ]
    for r in m["summary"]:
        if r.get("bits") is None:
            continue
        lo = r["loss_diff"]
        acc = r["accuracy_diff"]
        ok = r["within_noise"]
        out.append(
            f"- {r['task']}, {r['variant']} backward within the seed noise of the exact one: "
            f"**{'supported' if ok else 'contradicted'}** (Δ loss {diff(lo, 1, 3)}, "
            f"Δ accuracy {diff(acc, 100, 2)} points)"
        )
    smaller = [
        k for k, v in mem.items() if k != "exact" and v["block_saved"] < exact["block_saved"]
    ]
    out.append(
        f"- every few-bit backward keeps less for backward than the exact one: "
        f"**{'supported' if len(smaller) == len(mem) - 1 else 'contradicted'}** "
        f"({len(smaller)} of {len(mem) - 1})"
    )
    return [*out, ""]


def few_bit_figure(path: Path | None = None) -> Path:
    """Few-bit minus exact, loss and accuracy with their intervals, per task and bits."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    path = FEWBIT if path is None else path
    m = _load("few-bit/metrics.json")
    rows = [r for r in m["summary"] if r.get("bits") is not None]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (key, scale, label) in zip(
        axes,
        (("loss_diff", 1, "Δ final loss"), ("accuracy_diff", 100, "Δ accuracy (points)")),
        strict=True,
    ):
        for i, task in enumerate(tasks):
            rs = [r for r in rows if r["task"] == task]
            xs = [r["bits"] + 0.15 * (i - (len(tasks) - 1) / 2) for r in rs]
            mid = [scale * r[key][0] for r in rs]
            err = [
                [scale * (r[key][0] - r[key][1]) for r in rs],
                [scale * (r[key][2] - r[key][0]) for r in rs],
            ]
            ax.errorbar(xs, mid, yerr=err, fmt="o", capsize=3, label=task)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(sorted({r["bits"] for r in rows}))
        ax.set_xlabel("bits kept per element")
        ax.set_ylabel(label + ", few-bit − exact")
    axes[0].legend()
    fig.suptitle("Few-bit GELU backward against the exact one (95 % intervals over seeds)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path


SECTIONS = (dying_relu, born_dead, monitor_overhead, plasticity, kink_choice, few_bit)


def render() -> str:
    """The page as Markdown."""
    out = [
        "# Experiments",
        "",
        "<!-- generated by docs/build_experiments.py from docs/measured/experiments/: "
        "do not edit -->",
        "",
        "Each experiment is seeded and deterministic, and writes its numbers as JSON and its "
        "figures (`--out DIR`: `metrics.json`, the figures and `report.html`), so anyone can "
        "rerun and check it. The numbers and figures below are those of the default runs "
        "stored in `docs/measured/experiments/`; `python tools/measure.py --only "
        "experiments` runs them again and rewrites this page. Options: the "
        "[command-line reference](reference/cli.md#relukit-experiment).",
        "",
        "Each experiment has one configuration dataclass (`DyingReluConfig`, `BornDeadConfig`, "
        "`MonitorOverheadConfig`, `PlasticityConfig`, `KinkChoiceConfig`, `FewBitConfig`, in "
        "`relukit.experiments.<name>`), and its command-line options are that dataclass's "
        "fields: `--batch-size` sets `batch_size` (`--batch_size` is accepted too), with the "
        "field's default and help text; only where the results go (`--out`, `--json`, "
        "`--plot`, `--no-progress`) belongs to the command. From Python the same run is, for "
        'example, `run_dying_relu(DyingReluConfig(epochs=5), "out")`. A configuration '
        "checks its values when it is made: on the command line a bad value is one line "
        "naming the option (`--epochs must be an integer >= 1, got 0`), exit status 2, "
        "before anything runs. Repeated seeds, variants, precisions or models are dropped (a "
        "repeated seed would only repeat a run and narrow the intervals). Every report's "
        "rerun command names each field that differs from the default, so it reproduces the "
        "run exactly. `dying-relu --activations` is another spelling of `--variants`.",
        "",
    ]
    for section in SECTIONS:
        out += section()
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    monitor_figure()
    few_bit_figure()
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
