"""Root pytest configuration: doctest collection of modules that need optional extras.

``--doctest-modules`` imports every module under ``src/relukit``; those that need an
optional library (torch, JAX, Dask, scikit-learn) are not collected when it is missing,
except in CI, where a missing library is an install error and must fail loudly.
"""

from __future__ import annotations

import importlib.util
import os

_NEEDS = {
    "torch": [
        "src/relukit/torch/*",
        "src/relukit/diagnose/*",
        "src/relukit/experiments/*",
        "src/relukit/bench/torch.py",
    ],
    "jax": ["src/relukit/jax.py"],
    "plotly": ["src/relukit/explorer/*"],
}

collect_ignore_glob: list[str] = []
for _module, _globs in _NEEDS.items():
    if importlib.util.find_spec(_module) is None and not os.environ.get("CI"):
        collect_ignore_glob += _globs
