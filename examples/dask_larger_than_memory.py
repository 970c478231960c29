"""relukit on a Dask array larger than memory, on a ``dask.distributed`` cluster.

The call is the one that works on NumPy: ``rk.gelu(x)``, ``rk.relu.derivative(x)``.
On a Dask array it only builds a graph (relukit uses Dask's own ops through the Array
API, nothing is computed); the cluster then streams the array chunk by chunk, so no
worker ever holds more than a few chunks. Here the chunks are generated on the
workers (``da.random``), pass through relukit, and are reduced (sum, count of
rectified entries, derivative mean) or written to a Zarr store chunk by chunk
(``--store``, needs ``zarr``), so the whole array never exists anywhere.

Run it (the default, 64 GiB of float64, is larger than the RAM of most machines; it
takes a while on a laptop, so start small)::

    python examples/dask_larger_than_memory.py --gib 0.5
    python examples/dask_larger_than_memory.py --gib 64 --workers 4 --memory-limit 2GiB
    python examples/dask_larger_than_memory.py --scheduler tcp://host:8786 --gib 500

``tests/test_dask_distributed.py`` runs :func:`main` on a small in-process
``LocalCluster`` and checks the numbers against NumPy.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import relukit as rk


def build(n: int, chunk: int, seed: int = 0, activation: str = "gelu") -> dict[str, Any]:
    """The lazy results for an ``n``-element standard-normal array in ``chunk``-sized chunks.

    Nothing is computed here: the values are Dask arrays (graphs).
    """
    import dask.array as da

    x = da.random.default_rng(seed).standard_normal(n, chunks=chunk)
    act = rk.get(activation)
    y = act(x)  # the same call as on NumPy
    d = act.derivative(x)
    return {
        "x": x,
        "y": y,
        "sum": y.sum(),
        "rectified": (y <= 0).sum(),
        "derivative_mean": d.mean(),
    }


def main(argv: list[str] | None = None, client: Any = None) -> dict[str, float]:
    """Parse ``argv``, run on ``client`` (or a new LocalCluster), print and return results."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gib", type=float, default=64.0, help="array size in GiB (float64)")
    p.add_argument("--chunk-mib", type=float, default=64.0, help="chunk size in MiB")
    p.add_argument("--activation", default="gelu", help="catalogue entry (default gelu)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="2GiB", help="per worker")
    p.add_argument("--scheduler", help="address of an existing dask scheduler")
    p.add_argument("--store", help="also write rk.<activation>(x) to this Zarr path")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.gib <= 0 or args.chunk_mib <= 0:
        raise ValueError("--gib and --chunk-mib must be positive")
    rk.get(args.activation)  # a clear error for an unknown name, before any cluster starts

    from dask.distributed import Client, LocalCluster

    n = int(args.gib * 2**30 // 8)
    chunk = max(1, int(args.chunk_mib * 2**20 // 8))
    own = None
    if client is None:
        if args.scheduler:
            client = own = Client(args.scheduler)
        else:
            cluster = LocalCluster(n_workers=args.workers, memory_limit=args.memory_limit)
            client = own = Client(cluster)
    try:
        lazy = build(n, chunk, args.seed, args.activation)
        t0 = time.perf_counter()
        total, rectified, dmean = client.compute(
            [lazy["sum"], lazy["rectified"], lazy["derivative_mean"]], sync=True
        )
        if args.store:
            lazy["y"].to_zarr(args.store, overwrite=True)
        dt = time.perf_counter() - t0
    finally:
        if own is not None:
            cluster = getattr(own, "cluster", None)
            own.close()
            if cluster is not None:
                cluster.close()
    out = {
        "n": float(n),
        "sum": float(total),
        "rectified_fraction": float(rectified) / n,
        "derivative_mean": float(dmean),
        "seconds": dt,
    }
    print(
        f"{args.activation} over {n:,} float64 ({n * 8 / 2**30:.2f} GiB) in chunks of "
        f"{chunk:,}: sum={out['sum']:.6g}, fraction <= 0: {out['rectified_fraction']:.4f}, "
        f"mean derivative {out['derivative_mean']:.6f}, {dt:.1f} s "
        f"({n * 8 / 2**30 / max(dt, 1e-9):.2f} GiB/s)"
    )
    return out


if __name__ == "__main__":
    main()
