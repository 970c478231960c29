"""Shared test configuration: markers for optional back ends, hypothesis profiles."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles. ``ci`` is deterministic: the same examples on every run
# (``derandomize``: the seed comes from each test's own name) and no example database, so
# a CI result depends on the code alone. ``dev`` keeps exploring with fresh random draws
# on every local run. Both print the failing example and the ``@reproduce_failure`` blob.
# Choose with HYPOTHESIS_PROFILE=ci|dev (``.ci/run`` sets ci); the default is ``ci`` when
# the CI variable is set, ``dev`` otherwise.
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None, print_blob=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)

# The global random generators (Python's, NumPy's legacy one, torch's) are seeded before
# every test from RELUKIT_TEST_SEED and the test's id, so a test that draws from them (a
# model's initial weights, torch.randn) sees the same numbers on every run with that seed.
# The ci profile fixes the seed to 0; dev runs draw a new one, printed in the session
# header so that a failure can be replayed with RELUKIT_TEST_SEED=<seed>.
_seed_env = os.environ.get("RELUKIT_TEST_SEED")
if _seed_env is not None:
    SEED = int(_seed_env)
elif PROFILE == "ci":
    SEED = 0
else:
    SEED = random.SystemRandom().randrange(2**31)


class _SeedToWorkers:
    """pytest-xdist: each worker imports this file and would draw a seed of its own; the
    controller hands its seed (the one the header prints) to every worker."""

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["relukit_test_seed"] = SEED


def pytest_configure(config: pytest.Config) -> None:
    global SEED
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: the controller's seed
        SEED = int(workerinput["relukit_test_seed"])
    elif config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_SeedToWorkers(), "relukit-seed-to-workers")


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"relukit tests: hypothesis profile {PROFILE!r}, RELUKIT_TEST_SEED={SEED} "
        "(set both to replay this run)"
    )


@pytest.fixture(autouse=True)
def _seed_global_generators(request: pytest.FixtureRequest) -> None:
    """Seed the global generators per test, from the run seed and the test's id."""
    seed = (SEED + zlib.crc32(request.node.nodeid.encode())) % 2**32
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


_OPTIONAL = {
    "torch": "torch",
    "jax": "jax",
    "dask": "dask",
    "pandas": "pandas",
    "xarray": "xarray",
    "plotly": "plotly",
    "transformers": "transformers",
}

#: what the browser tests drive: Selenium, and Debian's chromium and chromium-driver
BROWSER = {"chromium": "/usr/bin/chromium", "chromedriver": "/usr/bin/chromedriver"}


def _browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (the test extra)"
    for path in BROWSER.values():
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked torch/jax/dask when that library is missing (CI installs all).

    In CI (``CI`` set) a missing optional library is an error, not a skip, so that a
    broken install can never pass as green.
    """
    for marker, module in _OPTIONAL.items():
        if importlib.util.find_spec(module) is not None:
            continue
        if os.environ.get("CI"):
            raise pytest.UsageError(f"CI must install {module} (tests marked {marker!r} need it)")
        skip = pytest.mark.skip(reason=f"{module} is not installed")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)
    why = _browser_missing()
    if why is not None and any("browser" in item.keywords for item in items):
        if os.environ.get("CI"):  # .ci/run installs them
            raise pytest.UsageError(f"CI must install the browser: {why}")
        skip = pytest.mark.skip(reason=why)
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)
