"""Few-bit GELU backward on real training (``relukit experiment few-bit``).

Two models are trained with the exact GELU backward and with ``bits=b`` for each
``b`` in ``bits``, several seeds each; within a seed every variant starts from the same
weights and sees the same batches, so variants are compared per seed (paired):

* **digits**: an MLP (64 → 128 → 128 → 10, GELU) on scikit-learn's 8×8 digits (1797
  images, shipped with scikit-learn), Adam; final test loss and accuracy;
* **chars**: a small character-level transformer (pre-norm blocks: attention and a
  GELU MLP) trained on the source code of Python's own standard library modules
  (``textwrap``, ``argparse``, ... read from disk, so nothing is downloaded), next
  character prediction; final validation loss (held-out modules) and accuracy.

The difference ``few-bit − exact`` of each final metric is reported with a paired 95 %
interval (Student's t over seeds), and the claims "``bits=b`` costs accuracy" and
"ends with a higher loss" get a verdict: supported, contradicted or inconclusive (the
interval contains 0, with the seeds that would be needed to tell). Memory, per variant, for one training step of one
transformer block and of its MLP part: the bytes autograd saves, counted by unique
storage (``saved_tensors_hooks``, storage identity), and the profiler's peak of CPU
memory (``torch.profiler`` with ``profile_memory``, from its memory timeline). The step time ratio to the exact
backward is measured on the transformer (paired blocks of steps, median); it is noisy
on a busy machine and never asserted.

Determinism: seeded weights and batches, one thread while training.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from relukit.experiments._config import (
    ConfigError,
    check_choices,
    check_int,
    check_ints,
    option,
)

__all__ = ["FewBitConfig", "run_few_bit", "summarise", "summary_rows", "summary_table"]

#: standard-library modules whose source is the transformer's text (train, validation)
TRAIN_MODULES = ("argparse", "textwrap", "dataclasses", "functools", "configparser")
VALID_MODULES = ("shlex", "fractions")


Task = Literal["digits", "chars"]
TASKS: tuple[Task, ...] = get_args(Task)


@dataclass
class FewBitConfig:
    """Configuration of :func:`run_few_bit`; each field is an option of
    ``relukit experiment few-bit`` (``--digits-epochs`` for ``digits_epochs``)."""

    bits: tuple[int, ...] = option(
        (1, 2, 3, 4), "few-bit widths to compare with the exact backward (1 to 4)", metavar="B"
    )
    seeds: tuple[int, ...] = option(
        (0, 1, 2, 3),
        "seeds (at least 2); each runs exact and every B from the same weights and batches",
        metavar="SEED",
    )
    digits_epochs: int = option(15, "epochs of the digits MLP")
    chars_steps: int = option(100, "training steps of the character-level transformer")
    chars_context: int = option(48, "context length (characters) of the transformer")
    chars_width: int = option(48, "model width of the transformer (a multiple of 4 heads)")
    chars_layers: int = option(2, "transformer blocks")
    batch_size: int = option(32, "minibatch size of both tasks and of the measured block")
    timing_blocks: int = option(3, "paired blocks of steps timed per few-bit width")
    tasks: tuple[Task, ...] = option(
        TASKS, "which tasks to train: the digits MLP, the character-level transformer"
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (:class:`~relukit.experiments._config.ConfigError`)."""
        self.bits = check_ints("bits", self.bits, 1, high=4, unique=True)
        self.seeds = check_ints("seeds", self.seeds, 0, unique=True)
        if len(self.seeds) < 2:
            raise ConfigError(
                "seeds",
                "must list at least 2 seeds (paired intervals need them), got "
                + " ".join(map(str, self.seeds)),
            )
        for name in (
            "digits_epochs", "chars_steps", "chars_context", "chars_width", "chars_layers",
            "batch_size", "timing_blocks",
        ):  # fmt: skip
            check_int(name, getattr(self, name))
        if self.chars_width % 4:
            raise ConfigError(
                "chars_width", f"must be a multiple of 4 (heads), got {self.chars_width}"
            )
        self.tasks = check_choices("tasks", self.tasks, TASKS)


def _variants(cfg: FewBitConfig) -> list[int | None]:
    return [None, *dict.fromkeys(cfg.bits)]


def _label(bits: int | None) -> str:
    return "exact" if bits is None else f"{bits}-bit"


# ---------------------------------------------------------------------------
# models and data
# ---------------------------------------------------------------------------


def _digits() -> tuple[Any, ...]:
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    mu, sd = xtr.mean(0), xtr.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    f = lambda a: torch.tensor((a - mu) / sd, dtype=torch.float32)  # noqa: E731
    return f(xtr), torch.tensor(ytr), f(xte), torch.tensor(yte)


def _text() -> tuple[Any, Any, int]:
    """Byte tokens of standard-library sources: (train, valid, vocabulary size 128)."""
    import importlib
    import inspect

    import torch

    def load(names: Sequence[str]) -> Any:
        text = "\n".join(inspect.getsource(importlib.import_module(n)) for n in names)
        data = text.encode("ascii", "replace")
        return torch.tensor(list(data), dtype=torch.long).clamp_max(127)

    return load(TRAIN_MODULES), load(VALID_MODULES), 128


def _mlp(bits: int | None) -> Any:
    from torch import nn

    import relukit.torch as rt

    return nn.Sequential(
        nn.Linear(64, 128), rt.GELU(bits=bits), nn.Linear(128, 128), rt.GELU(bits=bits),
        nn.Linear(128, 10),
    )  # fmt: skip


def _block_cls() -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    import relukit.torch as rt

    class Block(nn.Module):
        """Pre-norm transformer block: causal attention and a GELU MLP (4x width)."""

        def __init__(self, d: int, heads: int, bits: int | None) -> None:
            super().__init__()
            self.heads = heads
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), rt.GELU(bits=bits), nn.Linear(4 * d, d))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, -1).unbind(2)
            a = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
            )
            x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
            return x + self.mlp(self.ln2(x))

    return Block


def _transformer(cfg: FewBitConfig, vocab: int, bits: int | None) -> Any:
    import torch
    from torch import nn

    block = _block_cls()

    class CharLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = cfg.chars_width
            self.emb = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(torch.randn(cfg.chars_context, d) * 0.02)
            self.blocks = nn.Sequential(*(block(d, 4, bits) for _ in range(cfg.chars_layers)))
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab)

        def forward(self, idx: torch.Tensor) -> torch.Tensor:
            h = self.emb(idx) + self.pos[: idx.shape[1]]
            return self.head(self.ln(self.blocks(h)))

    return CharLM()


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


def _train_digits(cfg: FewBitConfig, data: tuple[Any, ...], seed: int, bits: int | None) -> dict:
    import torch
    from torch.nn import functional as F

    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    model = _mlp(bits)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(cfg.digits_epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), cfg.batch_size):
            j = perm[i : i + cfg.batch_size]
            loss = F.cross_entropy(model(xtr[j]), ytr[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        out = model(xte)
        return {
            "loss": F.cross_entropy(out, yte).item(),
            "accuracy": (out.argmax(1) == yte).float().mean().item(),
        }


def _batch(data: Any, ctx: int, n: int, gen: Any) -> tuple[Any, Any]:
    import torch

    starts = torch.randint(0, len(data) - ctx - 1, (n,), generator=gen)
    x = torch.stack([data[s : s + ctx] for s in starts.tolist()])
    y = torch.stack([data[s + 1 : s + ctx + 1] for s in starts.tolist()])
    return x, y


def _train_chars(
    cfg: FewBitConfig, text: tuple[Any, Any, int], seed: int, bits: int | None
) -> dict:
    import torch
    from torch.nn import functional as F

    train, valid, vocab = text
    torch.manual_seed(seed)
    model = _transformer(cfg, vocab, bits)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(cfg.chars_steps):
        x, y = _batch(train, cfg.chars_context, cfg.batch_size, gen)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    vgen = torch.Generator().manual_seed(12345)  # the same validation batches for all
    losses, accs = [], []
    with torch.no_grad():
        for _ in range(8):
            x, y = _batch(valid, cfg.chars_context, 64, vgen)
            out = model(x).flatten(0, 1)
            losses.append(F.cross_entropy(out, y.flatten()).item())
            accs.append((out.argmax(1) == y.flatten()).float().mean().item())
    return {"loss": statistics.fmean(losses), "accuracy": statistics.fmean(accs)}


# ---------------------------------------------------------------------------
# memory and time
# ---------------------------------------------------------------------------


def unique_saved_bytes(fn: Any) -> int:
    """Bytes of the distinct storages autograd saves while ``fn()`` runs."""
    import torch

    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


@contextlib.contextmanager
def _quiet_fd2() -> Iterator[None]:
    """Silence file descriptor 2 (the profiler's C++ start/stop lines); Python errors still
    propagate (as exceptions) and are printed after it is restored."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def profiler_peak_bytes(fn: Any) -> int:
    """Peak of the memory torch allocates while ``fn()`` runs, above what existed before.

    From ``torch.profiler`` (``profile_memory=True``) and its memory timeline (every
    tensor allocation and free, the ones autograd makes between ops included).
    """
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import Action, MemoryProfileTimeline

    with (
        _quiet_fd2(),
        profile(
            activities=[ProfilerActivity.CPU],
            profile_memory=True,
            record_shapes=True,
            with_stack=True,
        ) as prof,
    ):
        fn()
    cur = peak = 0
    for _, action, _, size in MemoryProfileTimeline(prof._memory_profile()).timeline:
        if action == Action.CREATE:
            cur += size
        elif action == Action.DESTROY:
            cur -= size
        peak = max(peak, cur)
    return int(peak)


def _memory(cfg: FewBitConfig, bits: int | None) -> dict[str, int]:
    import torch

    torch.manual_seed(0)
    d, t, b = cfg.chars_width, cfg.chars_context, cfg.batch_size
    block = _block_cls()(d, 4, bits)
    x = torch.randn(b, t, d, requires_grad=True)

    def step_block() -> Any:
        out = block(x)
        out.sum().backward()

    def step_mlp() -> Any:
        out = block.mlp(block.ln2(x))
        out.sum().backward()

    return {
        "block_saved": unique_saved_bytes(lambda: block(x)),
        "mlp_saved": unique_saved_bytes(lambda: block.mlp(block.ln2(x))),
        "block_peak": profiler_peak_bytes(step_block),
        "mlp_peak": profiler_peak_bytes(step_mlp),
    }


def _step_time_ratio(cfg: FewBitConfig, bits: int, text: tuple[Any, Any, int]) -> dict:
    """Median and minimum of (few-bit step time / exact step time), paired blocks."""
    import torch
    from torch.nn import functional as F

    train, _, vocab = text
    models = {}
    for v in (None, bits):
        torch.manual_seed(0)
        models[v] = _transformer(cfg, vocab, v)
    gen = torch.Generator().manual_seed(0)
    x, y = _batch(train, cfg.chars_context, cfg.batch_size, gen)

    def block(m: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(10):
            loss = F.cross_entropy(m(x).flatten(0, 1), y.flatten())
            m.zero_grad()
            loss.backward()
        return time.perf_counter() - t0

    for m in models.values():
        block(m)  # warm-up
    ratios = []
    for _ in range(cfg.timing_blocks):
        a = block(models[None])
        f = block(models[bits])
        b2 = block(models[None])
        ratios.append(2 * f / (a + b2))
    return {"median": statistics.median(ratios), "min": min(ratios)}


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------


def _interval(diffs: Sequence[float]) -> tuple[float, float, float]:
    """Mean and paired 95 % interval of ``diffs`` (Student's t)."""
    from scipy.stats import t as student

    n = len(diffs)
    m = statistics.fmean(diffs)
    half = student.ppf(0.975, n - 1) * statistics.stdev(diffs) / math.sqrt(n) if n > 1 else 0
    return float(m), float(m - half), float(m + half)


def summarise(
    runs: list[dict[str, Any]], cfg: FewBitConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The summary rows (means, paired differences to exact) and the claims.

    For each task and ``bits``: "costs accuracy" (few-bit − exact accuracy below 0) and
    "ends with a higher loss" (few-bit − exact loss above 0), each supported,
    contradicted or inconclusive (:func:`relukit.experiments._common.claim`); a row's
    ``verdict`` is its accuracy claim's.
    """
    from relukit.experiments._common import claim

    summary, claims = [], []
    for task in cfg.tasks:
        ex = {r["seed"]: r for r in runs if r["task"] == task and r["bits"] is None}
        for bits in _variants(cfg):
            rs = {r["seed"]: r for r in runs if r["task"] == task and r["bits"] == bits}
            row: dict[str, Any] = {"task": task, "variant": _label(bits), "bits": bits}
            diffs: dict[str, list[float]] = {}
            for key in ("loss", "accuracy"):
                vals = [rs[s][key] for s in cfg.seeds]
                row[key] = statistics.fmean(vals)
                if bits is not None:
                    diffs[key] = [rs[s][key] - ex[s][key] for s in cfg.seeds]
                    m, lo, hi = _interval(diffs[key])
                    row[f"{key}_diff"] = [m, lo, hi]
            if bits is not None:
                # within seed noise: each interval includes zero or favours few-bit
                row["within_noise"] = bool(row["loss_diff"][1] <= 0 <= row["accuracy_diff"][2])
                acc = claim(
                    f"{task}: the {bits}-bit backward costs accuracy against the exact one",
                    diffs["accuracy"],
                    what=f"accuracy {bits}-bit − exact",
                    unit="points",
                    scale=100,
                    side="below",
                )
                loss = claim(
                    f"{task}: the {bits}-bit backward ends with a higher loss than the exact one",
                    diffs["loss"],
                    what=f"loss {bits}-bit − exact",
                    unit="",
                    side="above",
                )
                row["verdict"] = acc["verdict"]
                claims += [acc, loss]
            summary.append(row)
    return summary, claims


def run_few_bit(cfg: FewBitConfig, progress: Any = None) -> dict[str, Any]:
    """Train, measure and summarise (see module doc); returns the metrics dictionary."""
    import torch

    cfg.validate()
    say = progress or (lambda msg: None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    runs: list[dict[str, Any]] = []
    try:
        text = _text()
        tasks = {"digits": (_digits(), _train_digits), "chars": (text, _train_chars)}
        for task in cfg.tasks:
            data, train = tasks[task]
            for seed in cfg.seeds:
                for bits in _variants(cfg):
                    r = train(cfg, data, seed, bits)
                    runs.append({"task": task, "seed": seed, "bits": bits, **r})
                say(f"{task}: seed {seed} done ({time.perf_counter() - t_start:.0f} s)")
        memory = {_label(b): _memory(cfg, b) for b in _variants(cfg)}
        timing = {_label(b): _step_time_ratio(cfg, b, text) for b in cfg.bits}
    finally:
        torch.set_num_threads(threads)
    summary, claims = summarise(runs, cfg)
    return {
        "config": asdict(cfg),
        "runs": runs,
        "summary": summary,
        "claims": claims,
        "memory": memory,
        "step_time_ratio": timing,
        "seconds": time.perf_counter() - t_start,
        "threads": 1,
    }


def _fmt_diff(d: list[float] | None, pct: bool) -> str:
    if d is None:
        return "—"
    s = 100 if pct else 1
    u = " pp" if pct else ""
    return f"{s * d[0]:+.3f}{u} [{s * d[1]:+.3f}, {s * d[2]:+.3f}]"


def summary_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """The quality table: task, variant, loss, accuracy, paired differences to exact."""
    rows = []
    for r in metrics["summary"]:
        rows.append(
            [
                r["task"],
                r["variant"],
                f"{r['loss']:.4f}",
                f"{100 * r['accuracy']:.2f}%",
                _fmt_diff(r.get("loss_diff"), False),
                _fmt_diff(r.get("accuracy_diff"), True),
                r.get("verdict", "—"),
            ]
        )
    return rows


QUALITY_HEADER = [
    "task",
    "backward",
    "final loss",
    "accuracy",
    "Δ loss vs exact (95% CI)",
    "Δ accuracy vs exact (95% CI)",
    "costs accuracy?",
]
MEMORY_HEADER = [
    "backward",
    "block: saved (unique)",
    "vs exact",
    "block: profiler peak",
    "MLP: saved (unique)",
    "vs exact",
    "step time vs exact (median, min)",
]


def memory_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """The memory table: unique saved bytes and profiler peak per variant."""
    mem = metrics["memory"]
    ex = mem["exact"]
    rows = []
    for label, m in mem.items():
        t = metrics["step_time_ratio"].get(label)
        rows.append(
            [
                label,
                f"{m['block_saved'] / 2**20:.2f} MiB",
                f"{m['block_saved'] / ex['block_saved']:.2f}x",
                f"{m['block_peak'] / 2**20:.2f} MiB",
                f"{m['mlp_saved'] / 2**20:.2f} MiB",
                f"{m['mlp_saved'] / ex['mlp_saved']:.2f}x",
                "—" if t is None else f"{t['median']:.2f}x, {t['min']:.2f}x",
            ]
        )
    return rows


def render_html(metrics: dict[str, Any]) -> str:
    """A self-contained HTML report of both tables."""
    e = html.escape

    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{e(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><tr>{head}</tr>{body}</table>"

    from relukit.experiments._common import claims_html

    cfg = metrics["config"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>relukit: few-bit GELU backward</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}
.supported{{color:#1a7f37;font-weight:bold}}.contradicted{{color:#cf222e;font-weight:bold}}
.inconclusive{{color:#9a6700;font-weight:bold}}.legend{{color:#444}}
</style></head><body>
<h1>Few-bit GELU backward on real training</h1>
<p>Exact GELU backward against <code>bits=b</code> (the derivative replaced by its optimal
2<sup>b</sup>-level approximation). Seeds {e(str(cfg["seeds"]))}; every variant of a seed
starts from the same weights and sees the same batches. Δ = few-bit − exact, mean over seeds
with a paired 95 % interval (Student's t).</p>
<h2>Quality</h2>
{table(QUALITY_HEADER, summary_rows(metrics))}
<h2>Claims, checked against these numbers</h2>
{claims_html(metrics.get("claims", []))}
<h2>Memory and time: one transformer block (batch {cfg["batch_size"]}, context
{cfg["chars_context"]}, width {cfg["chars_width"]})</h2>
<p>Saved = bytes autograd keeps for backward, counted by unique storage; peak = the
profiler's peak of CPU memory during one forward and backward; step time = whole
transformer training step, paired blocks, one thread (a shared machine makes it noisy).</p>
{table(MEMORY_HEADER, memory_rows(metrics))}
<p>Run time: {metrics["seconds"]:.0f} s.</p>
</body></html>
"""


def write_outputs(metrics: dict[str, Any], out: Path | None, json_path: Path | None) -> None:
    """``out/report.html`` and ``out/metrics.json``, and the metrics at ``json_path``."""
    text = json.dumps(metrics, indent=2, allow_nan=False) + "\n"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(text)
        (out / "report.html").write_text(render_html(metrics), encoding="utf-8")
    if json_path is not None:
        json_path.write_text(text)


def summary_table(metrics: dict[str, Any]) -> Any:
    """The quality table and the memory/time table, as one ``rich`` renderable."""
    from rich.console import Group
    from rich.table import Table

    tables = []
    for title, header, rows in (
        ("Few-bit GELU backward: final quality (Δ = few-bit − exact, paired 95% CI)",
         QUALITY_HEADER, summary_rows(metrics)),
        ("One transformer block: memory and step time", MEMORY_HEADER, memory_rows(metrics)),
    ):  # fmt: skip
        table = Table(title=title)
        for h in header:
            table.add_column(h, justify="right")
        for r in rows:
            table.add_row(*r)
        tables.append(table)
    return Group(*tables)
