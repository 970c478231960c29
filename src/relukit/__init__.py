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

from relukit.activations import (
    bilinear,
    celu,
    elu,
    geglu,
    gelu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    mish,
    prelu,
    quick_gelu,
    reglu,
    relu,
    relu2,
    relu6,
    rrelu,
    selu,
    silu,
    softplus,
    sparse_plus,
    squared_relu,
    squareplus,
    star_relu,
    swiglu,
    swish,
    threshold,
)
from relukit.catalogue import Activation, Kink, Param, UnknownActivationError, catalogue, get

#: the one place the version is written; pyproject.toml reads it from here
__version__ = "0.1.0"

__all__ = [
    "Activation",
    "ContinualBackprop",
    "DeadUnitMonitor",
    "Kink",
    "Param",
    "UnknownActivationError",
    "__version__",
    "bilinear",
    "catalogue",
    "celu",
    "diagnose",
    "elu",
    "explore",
    "geglu",
    "gelu",
    "get",
    "glu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "mish",
    "plot",
    "prelu",
    "quick_gelu",
    "recycle",
    "reglu",
    "relu",
    "relu2",
    "relu6",
    "rrelu",
    "selu",
    "silu",
    "softplus",
    "sparse_plus",
    "squared_relu",
    "squareplus",
    "star_relu",
    "swiglu",
    "swish",
    "threshold",
]

# Names provided by optional, heavier submodules, imported on first access (PEP 562).
_LAZY: dict[str, tuple[str, str]] = {
    "plot": ("relukit.plot", "plot"),
    "explore": ("relukit.explorer", "explore"),
    "diagnose": ("relukit.diagnose", "diagnose"),
    "DeadUnitMonitor": ("relukit.diagnose", "DeadUnitMonitor"),
    "recycle": ("relukit.diagnose", "recycle"),
    "ContinualBackprop": ("relukit.diagnose", "ContinualBackprop"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        module, attr = _LAZY[name]
        import importlib

        try:
            value = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            # ``from relukit import *`` works without the torch extra; the use says why not
            return _NeedsExtra(f"relukit.{name}", str(exc))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'relukit' has no attribute {name!r}")


class _NeedsExtra:
    """Stands for a name whose optional dependency is missing; calling it says which."""

    def __init__(self, name: str, message: str) -> None:
        self._name, self._message = name, message

    def __call__(self, *args: object, **kwargs: object) -> object:
        raise ModuleNotFoundError(self._message, name="torch")

    def __repr__(self) -> str:
        return f"<{self._name}: unavailable ({self._message})>"


def __dir__() -> list[str]:
    """The public names only (what ``from relukit import *`` gives)."""
    return sorted(__all__)
