"""PyTorch front end: drop-in activation modules with exact, memory-lean backward.

``import relukit.torch as rt`` gives functional forms with the signatures of
``torch.nn.functional`` (``rt.relu(t)``, ``rt.leaky_relu(t, 0.1)``, ``rt.elu(t)``, ...)
and ``nn.Module`` subclasses of torch's (``rt.ReLU()``, ``rt.LeakyReLU(0.1,
inplace=True)``, ...), each with one more keyword, ``at_kink``. ``rt.convert(model)``
swaps the torch.nn activations of any model for these.

Backward saves only what the derivative needs: 1 bit per element for the
piecewise-linear activations, only the output for ELU/CELU/SELU (see
:mod:`relukit.torch._functions` for the table and the exactness guarantees).

>>> import torch, relukit.torch as rt
>>> x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
>>> y = rt.LeakyReLU(0.1)(x)
>>> y.sum().backward()
>>> y.detach(), x.grad
(tensor([-0.2000,  0.0000,  3.0000]), tensor([0.1000, 0.1000, 1.0000]))

Needs the ``torch`` extra; ``import relukit`` never imports torch.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised without the extra
    raise ModuleNotFoundError(
        "relukit.torch needs PyTorch, which is not installed: pip install 'relukit[torch]' "
        "(it pins torch==2.13.0)",
        name="torch",
    ) from _exc

from relukit.torch._functions import (
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
)
from relukit.torch._levels import derivative_levels
from relukit.torch.convert import convert
from relukit.torch.modules import (
    CELU,
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    SiLU,
    Softplus,
)

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "SELU",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Softplus",
    "celu",
    "convert",
    "derivative_levels",
    "elu",
    "gelu",
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
]
