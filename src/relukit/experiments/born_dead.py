"""How often is a freshly initialised ReLU network dead? (``relukit experiment born-dead``)

A network with ``depth`` hidden layers of ``width`` units (input dimension
``input_dim``, one linear output) is drawn ``trials`` times with symmetric He-normal
weights ``W ~ N(0, 2 / fan_in)`` and zero biases (``bias="normal"``: biases ``N(0, 1)``).
For each draw:

* **dead at a point**: at one random nonzero input ``x0 ~ N(0, I)``, some hidden layer
  outputs all zeros (then everything after it is constant);
* **constant on the domain**: the network gives the same output at every point of a
  sample of ``domain_points`` points drawn uniformly from ``[-1, 1]^input_dim``.

With zero biases each unit of a layer whose input is nonzero is inactive with
probability 1/2, independently, so the first probability is exactly
``1 − (1 − 2^−N)^H`` (``theory_point``); being constant over a domain is at most as
likely. LeakyReLU is never exactly zero at a nonzero input, so it is never dead.

Everything is vectorised over trials (batched matmuls in NumPy, float64): 4000 trials ×
9 configurations × 2 activations take a few seconds.

>>> recs = born_dead(widths=[2], depths=[3], trials=500, seed=0)
>>> [(r["activation"], r["width"], r["depth"], r["trials"]) for r in recs]
[('relu', 2, 3, 500), ('leaky_relu', 2, 3, 500)]
>>> recs[0]["theory_point"] == 1 - (1 - 2**-2) ** 3
True
>>> recs[1]["p_dead_at_point"]
0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from relukit.experiments._config import check_choice, check_int, check_ints, check_number, option

__all__ = [
    "RECORD_KEYS",
    "BornDeadConfig",
    "born_dead",
    "plot_born_dead",
    "run_born_dead",
    "summary_table",
    "theory_point",
]

RECORD_KEYS = (
    "activation",
    "width",
    "depth",
    "trials",
    "p_dead_at_point",
    "p_constant_on_domain",
    "theory_point",
)


@dataclass
class BornDeadConfig:
    """Configuration of :func:`run_born_dead`; each field is an option of
    ``relukit experiment born-dead`` (``--input-dim`` for ``input_dim``)."""

    width: tuple[int, ...] = option((2, 3, 5), "hidden layer widths to try", metavar="N")
    depth: tuple[int, ...] = option((1, 5, 20), "numbers of hidden layers to try", metavar="H")
    trials: int = option(4000, "random networks per configuration")
    seed: int = option(7, "seed of the random networks")
    bias: Literal["zero", "normal"] = option("zero", "bias init")
    input_dim: int = option(2, "input dimension")
    domain_points: int = option(256, "points sampled from [-1, 1]^input_dim")
    negative_slope: float = option(0.01, "leaky_relu: the slope for negative inputs")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (:class:`~relukit.experiments._config.ConfigError`)."""
        self.width = check_ints("width", self.width)
        self.depth = check_ints("depth", self.depth)
        for name in ("trials", "input_dim", "domain_points"):
            check_int(name, getattr(self, name))
        check_int("seed", self.seed, 0)
        check_choice("bias", self.bias, ("zero", "normal"))
        check_number("negative_slope", self.negative_slope, 0, 1, open_low=True, open_high=True)


def run_born_dead(cfg: BornDeadConfig) -> list[dict[str, Any]]:
    """:func:`born_dead` for every width and depth of ``cfg``."""
    cfg.validate()
    return born_dead(
        cfg.width,
        cfg.depth,
        trials=cfg.trials,
        seed=cfg.seed,
        bias=cfg.bias,
        input_dim=cfg.input_dim,
        domain_points=cfg.domain_points,
        negative_slope=cfg.negative_slope,
    )


def summary_table(records: list[dict[str, Any]], cfg: BornDeadConfig) -> Any:
    """The records as a ``rich`` table, one row per activation, width and depth."""
    from rich.table import Table

    table = Table(
        title=f"Born dead: {cfg.trials} random networks per row (He-normal, {cfg.bias} "
        "bias); N units per hidden layer, H hidden layers"
    )
    for col in (
        "activation",
        "width N",
        "depth H",
        "P(dead at x)",
        "P(constant)",
        "1-(1-2^-N)^H",
    ):
        table.add_column(col, justify="left" if col == "activation" else "right", overflow="fold")
    for r in records:
        table.add_row(
            r["activation"],
            str(r["width"]),
            str(r["depth"]),
            f"{r['p_dead_at_point']:.4f}",
            f"{r['p_constant_on_domain']:.4f}",
            f"{r['theory_point']:.4f}",
        )
    return table


def theory_point(width: int, depth: int) -> float:
    """``1 − (1 − 2^−width)^depth``: P(some hidden layer is all zero at a fixed x ≠ 0)."""
    return 1.0 - (1.0 - 2.0**-width) ** depth


def _positive_ints(name: str, values: Sequence[int]) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be integers >= 1, got {v!r}")
        out.append(int(v))
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


def born_dead(
    widths: Sequence[int] = (2, 3, 5),
    depths: Sequence[int] = (1, 5, 20),
    *,
    trials: int = 4000,
    seed: int = 7,
    bias: str = "zero",
    input_dim: int = 2,
    domain_points: int = 256,
    negative_slope: float = 0.01,
) -> list[dict[str, Any]]:
    """Estimate P(dead at a point) and P(constant on the domain) at initialisation.

    Returns one record per (activation, width, depth) with the keys
    :data:`RECORD_KEYS`. The same random networks are used for relu and leaky_relu
    (common random numbers), and each (width, depth) has its own random stream derived
    from ``seed``, so a configuration's numbers do not depend on which others are run.
    """
    import numpy as np

    widths = _positive_ints("widths", widths)
    depths = _positive_ints("depths", depths)
    (trials,) = _positive_ints("trials", [trials])
    (input_dim,) = _positive_ints("input_dim", [input_dim])
    (domain_points,) = _positive_ints("domain_points", [domain_points])
    if bias not in ("zero", "normal"):
        raise ValueError(f"bias must be 'zero' or 'normal', got {bias!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if not (isinstance(negative_slope, (int, float)) and 0 < negative_slope < 1):
        raise ValueError(f"negative_slope must be in (0, 1), got {negative_slope!r}")

    records: list[dict[str, Any]] = []
    for width in widths:
        for depth in depths:
            rng = np.random.default_rng([seed, width, depth, 0 if bias == "zero" else 1])
            x0 = rng.standard_normal((trials, 1, input_dim))
            dom = rng.uniform(-1.0, 1.0, (trials, domain_points, input_dim))
            x = np.concatenate([x0, dom], axis=1)  # point 0 is x0
            weights = []
            fan_in = input_dim
            for _ in range(depth):
                w = rng.standard_normal((trials, fan_in, width)) * math.sqrt(2.0 / fan_in)
                b = (
                    rng.standard_normal((trials, 1, width))
                    if bias == "normal"
                    else np.zeros((trials, 1, width))
                )
                weights.append((w, b))
                fan_in = width
            v = rng.standard_normal((trials, width, 1)) * math.sqrt(1.0 / width)
            c = rng.standard_normal((trials, 1, 1)) if bias == "normal" else 0.0
            for act in ("relu", "leaky_relu"):
                h = x
                dead = np.zeros(trials, dtype=bool)
                for w, b in weights:
                    z = h @ w + b
                    h = (
                        np.maximum(z, 0.0)
                        if act == "relu"
                        else np.where(z > 0, z, negative_slope * z)
                    )
                    dead |= np.all(h[:, 0, :] == 0.0, axis=1)
                out = (h @ v + c)[:, 1:, 0]
                constant = out.max(axis=1) == out.min(axis=1)
                records.append(
                    {
                        "activation": act,
                        "width": width,
                        "depth": depth,
                        "trials": trials,
                        "p_dead_at_point": float(dead.mean()),
                        "p_constant_on_domain": float(constant.mean()),
                        "theory_point": theory_point(width, depth),
                    }
                )
    return records


def plot_born_dead(records: list[dict[str, Any]]) -> Any:
    """P(dead at a point) and P(constant) against depth, per width, beside the closed form."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    plt.close(fig)
    widths = sorted({r["width"] for r in records})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = []
    for k, width in enumerate(widths):
        col = colors[k % len(colors)]
        rows = {
            act: sorted(
                (r for r in records if r["width"] == width and r["activation"] == act),
                key=lambda r: r["depth"],
            )
            for act in ("relu", "leaky_relu")
        }
        depths = [r["depth"] for r in rows["relu"] or rows["leaky_relu"]]
        dd = np.arange(1, max(depths) + 1)
        ax.plot(dd, [theory_point(width, int(h)) for h in dd], "-", color=col, lw=1)
        handles.append(Line2D([], [], color=col, label=f"width N = {width}"))
        if rows["relu"]:
            d = [r["depth"] for r in rows["relu"]]
            ax.plot(d, [r["p_dead_at_point"] for r in rows["relu"]], "o", color=col)
            ax.plot(
                d, [r["p_constant_on_domain"] for r in rows["relu"]], "s", mfc="none", color=col
            )
        if rows["leaky_relu"]:
            d = [r["depth"] for r in rows["leaky_relu"]]
            ax.plot(d, [r["p_dead_at_point"] for r in rows["leaky_relu"]], "x", color=col)
    handles += [
        Line2D([], [], color="k", lw=1, label="closed form 1 − (1 − 2^−N)^H"),
        Line2D([], [], color="k", marker="o", ls="", label="relu: dead at a point"),
        Line2D([], [], color="k", marker="s", mfc="none", ls="", label="relu: constant on domain"),
        Line2D([], [], color="k", marker="x", ls="", label="leaky_relu: dead at a point"),
    ]
    ax.legend(handles=handles, fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_xlabel("depth H (hidden layers)")
    ax.set_ylabel("probability")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("Born dead: randomly initialised networks (He-normal)")
    fig.tight_layout()
    return fig
