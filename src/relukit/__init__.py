"""relukit: the ReLU family of activation functions, defined once and done right.

Every activation is an :class:`Activation` object from one catalogue: call it for the
value, ``.derivative`` for the derivative (with a declared, selectable convention at
every kink), ``.value_and_derivative`` for both. Inputs can be Python numbers (a Python
number comes back), lists, NumPy arrays (dtype and shape kept, ``out=``), or any Array
API array (PyTorch, JAX, CuPy, Dask).

>>> import relukit as rk
>>> rk.relu(-3.0), rk.relu(2)
(0.0, 2)
>>> rk.leaky_relu.derivative(0.0)
0.01
>>> rk.get("LeakyReLU").name
'leaky_relu'

``import relukit`` imports neither NumPy nor torch, numba, matplotlib or JAX; each is
imported when a call needs it.
"""

from __future__ import annotations

from typing import Any

from relukit.activations import (
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    silu,
    softplus,
    swish,
)
from relukit.catalogue import Activation, Kink, Param, UnknownActivationError, catalogue, get

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Kink",
    "Param",
    "UnknownActivationError",
    "__version__",
    "catalogue",
    "celu",
    "elu",
    "gelu",
    "get",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "silu",
    "softplus",
    "swish",
]

# Names provided by optional, heavier submodules, imported on first access (PEP 562).
_LAZY: dict[str, tuple[str, str]] = {
    "plot": ("relukit.plot", "plot"),
    "diagnose": ("relukit.diagnose", "diagnose"),
    "DeadUnitMonitor": ("relukit.diagnose", "DeadUnitMonitor"),
    "recycle": ("relukit.diagnose", "recycle"),
    "ContinualBackprop": ("relukit.diagnose", "ContinualBackprop"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        import importlib

        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'relukit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
