"""Throughput on large arrays against np.copyto (the memory limit), NumPy, PyTorch, JAX.

The same as ``relukit bench speed``; see :mod:`relukit.bench.speed`. The issue's
headline numbers come from

    python benchmarks/speed.py --size 2^26 --repeat 10 --json speed.json --plot speed.png

and the size sweep (10^3 .. 10^8) from ``--full``.
"""

from __future__ import annotations

import argparse
import sys

from relukit.bench import speed as bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_arguments(parser)
    try:
        return bench.run(parser.parse_args(argv))
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
        return 2  # pragma: no cover - parser.error exits


if __name__ == "__main__":
    sys.exit(main())
