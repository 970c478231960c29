"""Print the README's two sweep tables (value, derivative) from a ``--sweep --json`` file.

    relukit bench speed --sweep --json sweep.json --plot docs/figures/bench/sweep.png
    python tools/readme_sweep.py sweep.json [--sizes 1000 100000 1000000 10000000]

Each cell: relukit's ns per element (median), then torch's time over relukit's, median
(minimum), then NumPy's and JAX's (medians); ``-`` where the peer has no such function.
"""

from __future__ import annotations

import argparse
import json
import math


def _g(v: float) -> str:
    return f"{v:.2g}" if v < 10 else f"{v:.0f}"


def _cell(row: dict) -> str:
    ours = row["relukit"]
    parts = []
    for peer in ("torch", "NumPy", "JAX"):
        p = row.get(peer)
        if p is None:
            parts.append("–")
        elif peer == "torch":
            parts.append(f"{_g(p[0] / ours[0])} ({_g(p[1] / ours[1])})")
        else:
            parts.append(_g(p[0] / ours[0]))
    return f"{ours[0]:.2g} ns; " + " / ".join(parts)


def tables(doc: dict, sizes: list[int]) -> str:
    rows = [r for r in doc["rows"] if r["kind"] != "copy"]
    entries = list(dict.fromkeys(r["entry"] for r in rows))
    out = []
    for kind in ("value", "derivative"):
        head = " | ".join(f"10^{round(math.log10(n))}" for n in sizes)
        out += [f"\n{kind}:\n", f"| entry | {head} |", "|---" * (len(sizes) + 1) + "|"]
        for e in entries:
            cells = []
            for n in sizes:
                r = next(
                    (r for r in rows if (r["entry"], r["kind"], r["size"]) == (e, kind, n)), None
                )
                cells.append("" if r is None else _cell(r))
            out.append(f"| {e} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json_file")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10**3, 10**5, 10**6, 10**7])
    args = ap.parse_args()
    with open(args.json_file, encoding="utf-8") as fh:
        print(tables(json.load(fh), args.sizes))


if __name__ == "__main__":
    main()
