"""The scale-out example on a dask.distributed LocalCluster (in-process, small size).

The example streams a Dask array through relukit chunk by chunk; here it runs on
8 MiB in 1 MiB chunks and its reductions are checked against NumPy on the same
random numbers (materialised, which is fine at this size).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import relukit as rk

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dask_larger_than_memory.py"


def _load():
    spec = importlib.util.spec_from_file_location("dask_larger_than_memory", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.mark.dask
@pytest.mark.parametrize("activation", ["relu", "gelu", "mish"])
def test_example_on_local_cluster_matches_numpy(client, activation, capsys):
    ex = _load()
    out = ex.main(
        ["--gib", str(8 / 1024), "--chunk-mib", "1", "--activation", activation], client=client
    )
    n = 8 * 2**20 // 8
    assert out["n"] == n
    x = ex.build(n, 2**20 // 8, 0, activation)["x"].compute()  # same seed, same numbers
    y = rk.get(activation)(x)
    assert out["sum"] == pytest.approx(float(y.sum()), rel=1e-9)
    assert out["rectified_fraction"] == pytest.approx(float((y <= 0).mean()), abs=1e-12)
    d = rk.get(activation).derivative(x)
    assert out["derivative_mean"] == pytest.approx(float(d.mean()), rel=1e-9)
    assert activation in capsys.readouterr().out


@pytest.mark.dask
def test_example_graph_is_lazy_and_chunked():
    import dask.array as da

    ex = _load()
    lazy = ex.build(10_000, 1_000, 1, "silu")
    assert isinstance(lazy["y"], da.Array)
    assert lazy["y"].chunks == ((1_000,) * 10,)
    # computing one chunk of the result needs only the matching chunk of x
    one = lazy["y"].blocks[3].compute()
    # (the NumPy array takes relukit's numba kernel, the Dask chunk NumPy's formula: the
    # smooth kernels are within a few ulp of it, not bit for bit)
    np.testing.assert_allclose(
        one, rk.silu(lazy["x"].blocks[3].compute()), rtol=4 * np.finfo(np.float64).eps, atol=0
    )


@pytest.mark.dask
def test_example_rejects_bad_arguments():
    ex = _load()
    with pytest.raises(ValueError, match="--gib and --chunk-mib must be positive"):
        ex.main(["--gib", "0"])
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        ex.main(["--gib", "1", "--activation", "nope"])
