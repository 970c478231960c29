"""Generate the explorer page of the docs: ``python docs/build_explore.py``.

Writes ``docs/explore/explorer.html``, the page of ``relukit explore`` for the whole
catalogue (with the convention-table rows measured against PyTorch and JAX where they
are installed), which ``docs/explore.md`` shows in a frame. The file is built by
``make docs`` and not committed (it is about 2.6 MB and comes from the code).
"""

from __future__ import annotations

import argparse
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "explore" / "explorer.html"


def build(path: Path = PAGE) -> Path:
    """Write the explorer page to ``path``; returns it."""
    import relukit as rk
    from relukit.conventions import LIBRARIES

    path.parent.mkdir(parents=True, exist_ok=True)
    return rk.explore(libraries=LIBRARIES).save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PAGE, help="where to write the page")
    args = parser.parse_args(argv)
    path = build(args.out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
