"""``relukit plot``: activations and their derivatives as PNG, SVG or PDF.

Examples (shell)::

    relukit plot relu leaky_relu --derivative --negative-slope 0.1 --range -10 10 -o relu.png
    relukit plot leaky_relu --negative-slope 0.01 0.1 0.3 -o sweep.svg   # a sweep
    relukit plot --all --derivative -o gallery.png                       # the catalogue
    relukit plot relu --derivative-only --at-kink 1 --style dark -o d.pdf
    relukit plot swiglu reglu -d --up 1 -0.5 -o gated.png   # gated: the gate on x, up fixed

The format comes from the extension of ``-o`` (.png, .svg, .pdf); ``--show`` opens a
window instead of (or as well as) writing a file. matplotlib is imported only here,
when the command runs, never when the parser is built.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from relukit.catalogue import catalogue
from relukit.cli._common import param_help

FORMATS = (".png", ".svg", ".pdf")
#: accepted --dpi: matplotlib's pixel buffer is limited, and 2400 dpi is print quality
DPI_RANGE = (10.0, 2400.0)
#: --range lies within -RANGE_MAX RANGE_MAX: -1e308 1e308 overflows HIGH - LOW, and
#: matplotlib's tick spacing overflows from a width of about 5e307
RANGE_MAX = 1e300
_RANGE_TEXT = f"{RANGE_MAX:g}".replace("e+", "e")  # 1e300, as the option is written


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text.strip()!r} is not a number (write e.g. 1, -10, 0.5, 1e3, nan)"
        ) from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text.strip()!r} is not an integer") from None


def _param_options(p: argparse.ArgumentParser) -> list[str]:
    """``--<param>`` for every parameter in the catalogue; several values make a sweep."""
    names: list[str] = []
    for act in catalogue():
        for prm in act.params_list:
            if prm.name in names or prm.kind in ("flag", "seed"):
                continue  # plots are of the deterministic function (rrelu: evaluation)
            help_ = f"{param_help(prm.name)}; several values draw one curve each"
            flag = "--" + prm.name.replace("_", "-")
            kw: dict[str, Any] = {"dest": "param_" + prm.name, "nargs": "+", "default": None}
            if prm.kind == "choice":
                kw["choices"] = prm.choices
            else:
                kw["type"] = _number
                kw["metavar"] = "V"
            try:
                p.add_argument(flag, help=help_, **kw)
            except argparse.ArgumentError:  # a parameter named like a plot option
                continue
            names.append(prm.name)
    return names


def _gated_names() -> str:
    return ", ".join(a.name for a in catalogue() if a.gated)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="plot activations and their derivatives (PNG, SVG, PDF)",
        description="Plot activations and, with --derivative, their derivatives, drawn "
        "honestly: the derivative is broken at each kink, open circles mark the one-sided "
        "limits and a filled dot the value relukit uses there. Writes the file given by -o "
        "(format from the extension: .png, .svg, .pdf) and/or opens a window (--show).",
    )
    p.add_argument(
        "activations",
        nargs="*",
        metavar="ACTIVATION",
        help="names or aliases, e.g. relu leaky_relu (or --all)",
    )
    p.add_argument("--all", action="store_true", help="the whole catalogue, one panel each")
    what = p.add_mutually_exclusive_group()
    what.add_argument("-d", "--derivative", action="store_true", help="draw the derivatives too")
    what.add_argument("--derivative-only", action="store_true", help="draw the derivatives only")
    p.add_argument(
        "--range",
        nargs=2,
        type=_number,
        default=None,
        metavar=("LOW", "HIGH"),
        help="x range, within -1e300 1e300 (default: -6 6, widened to show every kink, "
        "e.g. -7 7 for relu6)",
    )
    p.add_argument(
        "--at-kink",
        type=_number,
        default=None,
        metavar="V",
        help="derivative shown AT a kink (the filled dot), a finite number, e.g. 1 or 0.5; "
        "default: relukit's convention (PyTorch's)",
    )
    p.add_argument(
        "--layout",
        choices=("overlay", "grid"),
        default=None,
        help="overlay: all in the same panel(s) (default); grid: one panel per activation "
        "(default with --all)",
    )
    p.add_argument(
        "--style",
        default=None,
        metavar="STYLE",
        help="dark (for dark backgrounds), light, or any matplotlib style name",
    )
    p.add_argument("--title", default=None, help="figure title ('' for none)")
    p.add_argument(
        "--num",
        type=_int,
        default=1001,
        metavar="N",
        # relukit.plot.NUM_MAX, written out: importing relukit.plot here would import
        # NumPy for every command (tests/test_cli.py checks that the two agree)
        help="points per curve, 2 to 100000 (default 1001)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the figure here; the format comes from the extension (.png, .svg, .pdf)",
    )
    p.add_argument(
        "--dpi",
        type=_number,
        default=150.0,
        metavar="DPI",
        help=f"resolution of a PNG in dots per inch, {DPI_RANGE[0]:g} to {DPI_RANGE[1]:g} "
        "(default 150)",
    )
    p.add_argument(
        "--up",
        nargs="+",
        type=_number,
        default=None,
        metavar="V",
        help=f"the second input of the gated entries ({_gated_names()}), which are drawn "
        "as functions of the gate: f(gate) * up and its derivative with respect to the gate "
        "(default 1); several values draw one curve each",
    )
    p.add_argument("--show", action="store_true", help="open a window (needs a display)")
    p.set_defaults(func=run, _plot_params=_param_options(p))


def run(args: argparse.Namespace) -> int:
    if args.all and args.activations:
        raise ValueError("give activation names or --all, not both")
    if not args.all and not args.activations:
        raise ValueError("give one or more activation names (e.g. relu leaky_relu) or --all")
    if args.output is None and not args.show:
        raise ValueError("give -o FILE (.png, .svg or .pdf) or --show")
    if args.output is not None and args.output.suffix.lower() not in FORMATS:
        raise ValueError(
            f"-o {args.output}: the format comes from the extension, which must be "
            f".png, .svg or .pdf (got {args.output.suffix or 'none'!r})"
        )
    if args.output is not None:
        from relukit.cli._paths import check_writable

        check_writable(args.output, "-o")
    if args.range is not None:
        lo, hi = args.range
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"--range must be two finite numbers LOW < HIGH, got {lo:g} {hi:g}")
        if max(-lo, hi) > RANGE_MAX:  # beyond it, HIGH - LOW or matplotlib's ticks overflow
            raise ValueError(
                f"--range must lie within -{_RANGE_TEXT} {_RANGE_TEXT} (wider ranges overflow "
                f"the floats that place the points and ticks), got {lo:g} {hi:g}"
            )
    if args.at_kink is not None and not math.isfinite(args.at_kink):
        raise ValueError(
            f"--at-kink must be a finite number for a plot (the filled dot at the kink "
            f"cannot be drawn at {args.at_kink}), e.g. 0, 1 or 0.5; relukit derivative "
            "takes nan and inf"
        )
    from relukit.plot import NUM_MAX  # NumPy, not matplotlib

    if not 2 <= args.num <= NUM_MAX:
        raise ValueError(f"--num must be between 2 and {NUM_MAX}, got {args.num}")
    if not DPI_RANGE[0] <= args.dpi <= DPI_RANGE[1]:
        raise ValueError(
            f"--dpi must be between {DPI_RANGE[0]:g} and {DPI_RANGE[1]:g}, got {args.dpi:g}"
        )

    import importlib

    # the module (``from relukit import plot`` may give the function of the same name)
    _plot = importlib.import_module("relukit.plot")  # imports matplotlib

    if args.show and not _plot.backend_is_interactive():
        import matplotlib

        raise ValueError(
            f"--show needs a window, but matplotlib's backend is "
            f"{matplotlib.get_backend()!r} (no display?); write a file with -o instead"
        )
    params: dict[str, Any] = {}
    for name in args._plot_params:
        values = getattr(args, "param_" + name)
        if values is not None:
            params[name] = values[0] if len(values) == 1 else list(values)
    acts = catalogue() if args.all else args.activations
    layout = args.layout or ("grid" if args.all else "overlay")
    derivative: bool | str = "only" if args.derivative_only else bool(args.derivative)
    fig = _plot.plot(
        *acts,
        derivative=derivative,
        xlim=None if args.range is None else tuple(args.range),
        layout=layout,
        style=args.style,
        at_kink=args.at_kink,
        num=args.num,
        title=args.title,
        up=None if args.up is None else (args.up[0] if len(args.up) == 1 else list(args.up)),
        **params,
    )
    plt = _plot._pyplot()
    try:
        if args.output is not None:
            path = _plot.save(fig, args.output, dpi=args.dpi)
            print(f"wrote {path}")
        if args.show:
            plt.show()
    finally:
        plt.close(fig)
    return 0
