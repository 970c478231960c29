"""``relukit explore``: write the interactive explorer page and open it in a browser."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from relukit.cli.plot import _number
from relukit.conventions import LIBRARIES

#: the extensions accepted for --out (a browser opens the page by its extension)
SUFFIXES = (".html", ".htm")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore",
        help="an interactive page: activations, derivatives, kinks and dead units",
        description="Write one self-contained HTML page (it works offline: Plotly, KaTeX and "
        "every number are inside) where you pick activations, move their parameters and a "
        "cursor, switch the derivative used at a kink (at_kink) and see where units get no "
        "gradient; then open it in your browser. With --out the page is only written. "
        "Needs the explore extra: pip install 'relukit[explore]'.",
    )
    p.add_argument(
        "activations",
        nargs="*",
        metavar="ACTIVATION",
        help="names or aliases shown when the page opens (default: relu leaky_relu)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the page here (.html) and do not open it; default: a temporary file, "
        "opened in the browser",
    )
    p.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open a browser; print where the page is",
    )
    p.add_argument(
        "--only",
        action="store_true",
        help="offer only the named activations (a smaller page); default: the whole catalogue",
    )
    p.add_argument(
        "--range",
        nargs=2,
        type=_number,
        default=None,
        metavar=("LOW", "HIGH"),
        help="x range shown first, within -10 10 (default: -6 6, widened to show the kinks)",
    )
    p.add_argument(
        "--at-kink",
        type=_number,
        default=None,
        metavar="V",
        help="derivative used AT a kink when the page opens, e.g. 1 or 0.5 (default: "
        "relukit's, PyTorch's value); the page switches between the default, 0, 1 and 0.5",
    )
    p.add_argument(
        "--metrics",
        type=Path,
        default=None,
        metavar="PATH",
        help="the metrics.json of a `relukit experiment dying-relu` run: the page then also "
        "shows the dead units measured in that run",
    )
    p.add_argument(
        "--libraries",
        nargs="+",
        default=None,
        choices=LIBRARIES,
        metavar="NAME",
        help="columns of the convention-table rows on the page, some of "
        f"{' '.join(LIBRARIES)} (default: relukit tutorials; PyTorch and JAX are measured "
        "live, which takes seconds)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out: Path | None = args.out
    if out is not None:
        if out.suffix.lower() not in SUFFIXES:
            raise ValueError(
                f"--out {out}: the page is HTML; give a file name ending in .html or .htm "
                f"(got {out.suffix or 'none'!r})"
            )
        from relukit.cli._paths import check_writable

        check_writable(out, "--out")  # before any work
    if args.only and not args.activations:
        raise ValueError("--only offers the named activations: name one or more")
    if args.range is not None:
        lo, hi = args.range
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"--range must be two finite numbers LOW < HIGH, got {lo:g} {hi:g}")
        if lo < -10 or hi > 10:
            raise ValueError(
                f"--range must lie within -10 10 (the range the page samples), got {lo:g} {hi:g}"
            )
    if args.at_kink is not None and not math.isfinite(args.at_kink):
        raise ValueError(
            f"--at-kink must be a finite number such as 0, 1 or 0.5, got {args.at_kink}"
        )
    if args.metrics is not None:
        from relukit.explorer import load_metrics

        try:  # checked now, before any work; explore() below reads the file itself
            load_metrics(args.metrics)
        except ValueError as exc:
            raise ValueError(f"--metrics {exc}") from None
    from relukit.catalogue import get

    shown = [get(a) for a in args.activations]  # an unknown name: one line, before the work
    from relukit.cli import CLIError
    from relukit.explorer import explore

    kw: dict[str, Any] = {}
    if args.libraries is not None:
        kw["libraries"] = args.libraries
    try:
        page = explore(
            *shown,
            offer=shown if args.only else None,
            xlim=None if args.range is None else (args.range[0], args.range[1]),
            at_kink=args.at_kink,
            metrics=args.metrics,  # the file, not load_metrics' result: explore() loads it
            **kw,
        )
    except ModuleNotFoundError as exc:
        if exc.name != "plotly":
            raise
        raise CLIError(str(exc)) from None
    if out is None:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="relukit-explore-")) / "explorer.html"
    path = page.save(out)
    print(f"wrote {path} ({page.size / 1e6:.1f} MB)")
    if args.out is None and not args.no_browser:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            print("no browser could be started; open the file above in one")
    return 0
