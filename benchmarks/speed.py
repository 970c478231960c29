"""Throughput against a one-thread np.copyto, NumPy, PyTorch and JAX; the size sweep.

The same as ``relukit bench speed``; see :mod:`relukit.bench.speed`. The headline
bandwidth figures come from

    python benchmarks/speed.py --size 2^26 --repeat 10 --json speed.json --plot speed.png

the relu sizes 10^3 .. 10^8 from ``--full``, every entry's ns per element from 10 to
10^7 elements against NumPy, torch and JAX from

    python benchmarks/speed.py --sweep --plot docs/figures/bench/sweep.png

and the busy-machine case from ``--under-load 3``.
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
