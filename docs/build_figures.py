"""Generate the figures of the docs from the catalogue: ``python docs/build_figures.py``.

Writes ``docs/figures/<name>.png`` (the activation and its derivative, with the kink
markers) for every catalogue entry, and ``docs/figures/gallery.png`` (the whole
catalogue, one panel each). Figures of activations no longer in the catalogue are
removed, so the folder cannot drift from the code. The README and ``docs/catalogue.md``
show these files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

FIGURES = Path(__file__).resolve().parent / "figures"
DPI = 100  # small files: they are committed


def build(out: Path = FIGURES, dpi: float = DPI, names: list[str] | None = None) -> list[Path]:
    """Write the figures into ``out``; returns the paths written.

    ``names`` limits the per-entry figures to those activations (the gallery is always
    written). PNGs in ``out`` that belong to no catalogue entry are removed.
    """
    import matplotlib

    matplotlib.use("Agg")  # a script: never open windows
    # reproducible files: no creation date in the metadata, fixed hash salt in SVGs
    matplotlib.rcParams["svg.hashsalt"] = "relukit"
    import matplotlib.pyplot as plt

    import relukit as rk
    from relukit.plot import gallery_figure, save

    out.mkdir(parents=True, exist_ok=True)
    written = []
    acts = rk.catalogue() if names is None else [rk.get(n) for n in names]
    for act in acts:
        fig = rk.plot(act, derivative=True, figsize=(10, 4.4))
        written.append(save(fig, out / f"{act.name}.png", dpi=dpi, metadata={"Software": None}))
        plt.close(fig)
    fig = gallery_figure()
    written.append(save(fig, out / "gallery.png", dpi=dpi, metadata={"Software": None}))
    plt.close(fig)
    keep = {f"{a.name}.png" for a in rk.catalogue()} | {"gallery.png"}
    for old in out.glob("*.png"):
        if old.name not in keep:
            old.unlink()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIGURES, help="output folder")
    parser.add_argument("--dpi", type=float, default=DPI, help="resolution (default 100)")
    args = parser.parse_args()
    for path in build(args.out, args.dpi):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
