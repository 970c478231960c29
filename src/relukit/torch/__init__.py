"""PyTorch front end: drop-in activation modules with exact, memory-lean backward.

``import relukit.torch as rt`` gives functional forms with the signatures of
``torch.nn.functional`` (``rt.relu(t)``, ``rt.leaky_relu(t, 0.1)``, ``rt.elu(t)``, ...)
and ``nn.Module`` subclasses of torch's (``rt.ReLU()``, ``rt.LeakyReLU(0.1,
inplace=True)``, ...), each with one more keyword, ``at_kink``. ``rt.convert(model)``
swaps the torch.nn activations of any model for these.

Backward saves only what the derivative needs: the output where the derivative from it
is exact (relu, leaky_relu with a slope >= 0, relu6, hardtanh; the next layer
usually keeps that tensor anyway, where torch keeps the input as a second one), the
input otherwise. On CPU tensors the values and gradients are the NumPy API's, bit for
bit (``rt.gelu(t)`` is ``rk.gelu(t.numpy())``).
``torch.func`` transforms, double backward, ``torch.compile``, ``torch.export``,
``torch.jit.trace`` and ``torch.jit.script`` work.

>>> import torch, relukit.torch as rt
>>> x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
>>> y = rt.LeakyReLU(0.1)(x)
>>> y.sum().backward()
>>> y.detach(), x.grad
(tensor([-0.2000,  0.0000,  3.0000]), tensor([0.1000, 0.1000, 1.0000]))

Needs the ``torch`` extra; ``import relukit`` never imports torch.
"""

from __future__ import annotations

from typing import Any

try:
    import torch as _torch  # noqa: F401
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised without the extra
    raise ModuleNotFoundError(
        "relukit.torch needs PyTorch, which is not installed: pip install 'relukit[torch]' "
        "(torch >= 2.3)",
        name="torch",
    ) from _exc

from relukit.torch import _functions as _fn
from relukit.torch import _prelu
from relukit.torch import modules as _modules

# the functional forms with torch.nn.functional's signatures, named for type checkers
# (every other catalogue entry gets the generic form below)
from relukit.torch._functions import (  # noqa: F401
    celu,
    elu,
    function,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    mish,
    relu,
    relu6,
    rrelu,
    selu,
    silu,
    softplus,
)
from relukit.torch._levels import derivative_levels
from relukit.torch._mlp import GatedMLP
from relukit.torch._prelu import prelu  # noqa: F401
from relukit.torch.convert import convert
from relukit.torch.modules import make_module

__all__ = ["GatedMLP", "convert", "derivative_levels", "function", "make_module"]

# every catalogue entry's module class and functional form, derived from the catalogue
# (a new entry needs no edit here): the hand-written form where _functions (or _prelu)
# has one
for _name, _cls in _modules.MODULES.items():
    globals()[_cls.__name__] = _cls
    globals()[_name] = getattr(_fn, _name, None) or getattr(_prelu, _name, None) or function(_name)
    __all__ += [_cls.__name__, _name]
__all__.sort()
del _name, _cls


def __getattr__(name: str) -> Any:
    """Only for type checkers: the generated classes and functional forms (``GELU``,
    ``threshold``, ...) are in the module's namespace already, so an unknown name is an
    error."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
