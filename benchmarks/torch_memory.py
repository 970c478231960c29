"""Saved-for-backward bytes, peak memory and step time: relukit.torch vs torch.nn.

The same as ``relukit bench torch``; see :mod:`relukit.bench.torch`.

    python benchmarks/torch_memory.py --steps 5 --json torch_memory.json
"""

from __future__ import annotations

import argparse
import sys

from relukit.bench import torch as bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_arguments(parser)
    return bench.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
