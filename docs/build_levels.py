"""Generate the few-bit derivative table and its figure: ``python docs/build_levels.py``.

For every entry of ``relukit.torch._levels.ENTRIES`` (gelu exact and tanh, silu, mish,
softplus, hardswish at their default parameters) and ``bits`` = 1..4, runs the exact
dynamic programme :func:`relukit.torch._levels.optimal_levels` on the catalogue's own
derivative and writes

* ``src/relukit/torch/_levels.json``: boundaries, levels and the relative weighted L2
  error of each row (what :func:`relukit.torch.derivative_levels` reads);
* ``docs/figures/fewbit/levels.png``: each entry's exact derivative and its 1- to 4-bit
  approximations, with the weighted error in the legend (``--no-figure`` skips it).

``tests/test_fewbit.py`` re-runs the programme for some rows and compares them with the
committed file, so the table cannot drift from the catalogue.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "src" / "relukit" / "torch" / "_levels.json"
FIGURE = ROOT / "docs" / "figures" / "fewbit" / "levels.png"


def build_table(path: Path = TABLE) -> dict:
    """Compute every row and write the JSON table; returns its content."""
    from relukit.torch import _levels as lv

    entries: dict[str, dict] = {}
    for name, params in lv.ENTRIES:
        cname, key = lv.canonical(name, params)
        rows = {}
        for bits in range(1, lv.MAX_BITS + 1):
            bounds, levels = lv.optimal_levels(cname, bits, key)
            err = lv.relative_error(cname, bounds, levels, **dict(key))
            rows[str(bits)] = {
                "boundaries": list(bounds),
                "levels": list(levels),
                "relative_error": round(err, 6),
            }
            print(f"{lv.key_string(cname, key):36s} bits={bits}  relative error {err:.4f}")
        entries[lv.key_string(cname, key)] = rows
    doc = {
        "about": "Optimal piecewise-constant derivatives for few-bit backward "
        "(docs/build_levels.py; see relukit/torch/_levels.py)",
        "weight": "standard normal density",
        "grid": {"cells": lv.GRID, "limit": lv.GRID_LIMIT},
        "entries": entries,
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return doc


def levels_figure() -> object:
    """One panel per entry: the exact derivative and its 1-4 bit approximations."""
    import matplotlib.pyplot as plt
    import numpy as np

    import relukit as rk
    from relukit.torch import _levels as lv

    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), constrained_layout=True)
    x = np.linspace(-5, 5, 2001)
    colours = ("#d62728", "#ff7f0e", "#2ca02c", "#1f77b4")
    for ax, (name, params) in zip(axes.flat, lv.ENTRIES, strict=True):
        ax.plot(x, rk.get(name).derivative(x, **params), color="black", lw=2.2, label="exact")
        for bits, colour in zip(range(1, lv.MAX_BITS + 1), colours, strict=True):
            bounds, levels = lv.derivative_levels(name, bits, **params)
            q = np.asarray(levels)[np.searchsorted(bounds, x, side="left")]
            err = lv.relative_error(name, bounds, levels, **params)
            ax.plot(x, q, color=colour, lw=1.2, label=f"{bits} bit: error {err:.3f}")
        extra = ", tanh" if params.get("approximate") == "tanh" else ""
        ax.set_title(f"{name}'{extra}")
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        "Few-bit derivatives: optimal 2^b levels (relative L2 error weighted by the "
        "standard normal density)"
    )
    return fig


def build_figure(path: Path = FIGURE, dpi: float = 100) -> Path:
    """Write :func:`levels_figure` to ``path`` (PNG, no date in the metadata)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = levels_figure()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-figure", action="store_true", help="write the table only")
    args = parser.parse_args()
    build_table()
    if not args.no_figure:
        print("wrote", build_figure())


if __name__ == "__main__":
    main()
