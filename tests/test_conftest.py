"""The test set-up itself (tests/conftest.py): the run's seed under pytest-xdist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PYTEST = [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider"]

PROBE = """
import os
import pathlib

import pytest


@pytest.mark.parametrize("i", range(8))
def test_probe(i):
    import conftest

    out = pathlib.Path(os.environ["PROBE_OUT"]) / f"{i}.txt"
    out.write_text(f"{os.environ.get('PYTEST_XDIST_WORKER')} {conftest.SEED}")
"""


@pytest.mark.slow
def test_every_xdist_worker_uses_the_seed_the_header_prints(tmp_path: Path) -> None:
    # a dev run draws a fresh seed: every worker must use the one in the header, or
    # RELUKIT_TEST_SEED=<seed> would not replay what the workers drew
    pytest.importorskip("xdist")
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(HERE / "conftest.py", suite / "conftest.py")
    (suite / "test_probe.py").write_text(PROBE, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RELUKIT_TEST_SEED", "CI")}
    env.update(HYPOTHESIS_PROFILE="dev", PROBE_OUT=str(out))
    res = subprocess.run(
        [*PYTEST, "--rootdir", str(suite), str(suite)],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    header = re.search(r"RELUKIT_TEST_SEED=(\d+)", res.stdout)
    assert header, res.stdout[-3000:]
    seen = [f.read_text().split() for f in sorted(out.iterdir())]
    assert len(seen) == 8
    assert {w for w, _ in seen} == {"gw0", "gw1"}
    assert {s for _, s in seen} == {header.group(1)}
