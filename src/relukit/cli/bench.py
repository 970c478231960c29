"""``relukit bench accuracy|speed|torch``: the benchmark scripts, from the command line.

Each benchmark lives in ``relukit.bench.<name>`` and provides ``add_arguments(parser)``
and ``run(args) -> int``; the scripts in ``benchmarks/`` call the same functions.
Those modules import their heavy dependencies inside ``run``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
from collections.abc import Callable
from typing import Any

BENCHMARKS = {
    "accuracy": "worst error in ulp per activation and dtype, relukit vs PyTorch (mpmath reference)",
    "speed": "speed against a one-thread np.copyto, NumPy, PyTorch and JAX "
    "(--sweep: every entry from 10 to 1e7 elements)",
    "torch": "saved-for-backward bytes, peak memory and step time vs torch.nn",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="run a benchmark (accuracy, speed, torch)",
        description="Run a benchmark; ratios are against peers measured in the same process.",
    )
    bsub = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", parser_class=type(p))
    bsub.required = True
    for name, help_ in BENCHMARKS.items():
        try:
            mod = importlib.import_module(f"relukit.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"relukit.bench.{name}":
                raise
            continue
        b = bsub.add_parser(name, help=help_, description=help_)
        mod.add_arguments(b)
        b.set_defaults(func=functools.partial(_checked_run, name, mod, mod.run))


#: bytes held per element of ``--size`` by ``bench speed``, beyond the elements
#: themselves: the float64 draw, the input, the two outputs and the temporaries of the
#: allocating cases (measured: 3.4 GB at 1e8 float32 elements)
_SPEED_BYTES = {"float32": 8 + 6 * 4, "float64": 8 + 6 * 8}
#: bytes per grid point, per entry and dtype, of ``bench accuracy``: the grid holds about
#: 2.2 points per --points, and each keeps its 60-digit reference in a cache (about 500
#: bytes; measured: 105 MB for 1e5 points, one entry, one dtype)
_ACCURACY_BYTES = 1100


def _check_sizes(name: str, mod: Any, args: argparse.Namespace) -> None:
    """Refuse, before any work, sizes the machine cannot hold (one line, exit 2)."""
    from relukit.cli._common import check_memory

    if name == "speed" and args.size:
        parse_size: Callable[[str], int] = mod.parse_size
        sizes = {text: parse_size(text) for text in args.size}
        text, n = max(sizes.items(), key=lambda kv: kv[1])
        dtype = "float32" if args.sweep else args.dtype
        check_memory(
            n * _SPEED_BYTES.get(dtype, _SPEED_BYTES["float64"]),
            f"--size {text} ({n:.3g} {dtype} elements)",
            "give a smaller --size",
        )
    elif name == "accuracy" and isinstance(getattr(args, "points", None), int):
        variants = getattr(mod, "_variants", lambda: ())
        entries = len(args.entries) if args.entries else max(len(variants()), 1)
        check_memory(
            args.points * _ACCURACY_BYTES * entries * len(args.dtypes),
            f"--points {args.points}",
            "give fewer --points (or fewer --entries, --dtypes)",
        )


def _checked_run(
    name: str, mod: Any, run: Callable[[argparse.Namespace], int], args: argparse.Namespace
) -> int:
    """``run(args)`` once the sizes in ``args`` are known to fit in memory."""
    _check_sizes(name, mod, args)
    return run(args)
