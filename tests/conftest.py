"""Shared test configuration: markers for optional back ends, hypothesis profiles."""

from __future__ import annotations

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_OPTIONAL = {
    "torch": "torch",
    "jax": "jax",
    "dask": "dask",
    "pandas": "pandas",
    "xarray": "xarray",
}


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
