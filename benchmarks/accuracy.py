"""Worst error in ulp of relukit and PyTorch against mpmath, per entry and float dtype.

The same code as ``relukit bench accuracy`` (``relukit.bench.accuracy``); run it as

    python benchmarks/accuracy.py [--points N] [--json FILE] [--entries NAME ...]

and it prints a Markdown table: for each catalogue entry and each of float16, bfloat16,
float32, float64, the maximum error in ulp of the values and of the derivatives, for
relukit on NumPy arrays, relukit on torch tensors and PyTorch (torch.nn.functional and
autograd), on a dense grid with the tails, the kinks' neighbours and subnormals.
"""

from __future__ import annotations

import argparse

from relukit.bench import accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    accuracy.add_arguments(parser)
    return accuracy.run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
