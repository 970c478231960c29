"""``relukit bench accuracy|speed|torch``: the benchmark scripts, from the command line.

Each benchmark lives in ``relukit.bench.<name>`` and provides ``add_arguments(parser)``
and ``run(args) -> int``; the scripts in ``benchmarks/`` call the same functions.
Those modules import their heavy dependencies inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib

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
        b.set_defaults(func=mod.run)
