"""``convert(model)``: swap torch.nn activations for relukit's, everywhere in a model.

>>> import torch, relukit.torch as rt
>>> m = rt.convert(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LeakyReLU(0.1)))
>>> m[1]
LeakyReLU(negative_slope=0.1)
>>> type(m[1]).__module__
'relukit.torch.modules'
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from torch import nn

from relukit.torch import modules as M

__all__ = ["convert"]

_Make = Callable[[Any], nn.Module]  # the argument: an instance of the key type

#: exact torch.nn type -> builder of the relukit module with the same settings
_REPLACE: dict[type, _Make] = {
    nn.ReLU: lambda m: M.ReLU(m.inplace),
    nn.LeakyReLU: lambda m: M.LeakyReLU(m.negative_slope, m.inplace),
    nn.ReLU6: lambda m: M.ReLU6(m.inplace),
    nn.Hardtanh: lambda m: M.Hardtanh(m.min_val, m.max_val, m.inplace),
    nn.Hardsigmoid: lambda m: M.Hardsigmoid(m.inplace),
    nn.ELU: lambda m: M.ELU(m.alpha, m.inplace),
    nn.CELU: lambda m: M.CELU(m.alpha, m.inplace),
    nn.SELU: lambda m: M.SELU(m.inplace),
    nn.GELU: lambda m: M.GELU(m.approximate),
    nn.SiLU: lambda m: M.SiLU(m.inplace),
    nn.Mish: lambda m: M.Mish(m.inplace),
    nn.Softplus: lambda m: M.Softplus(m.beta, m.threshold),
    nn.Hardswish: lambda m: M.Hardswish(m.inplace),
    nn.PReLU: lambda m: _prelu(m),
}


def _prelu(m: nn.PReLU) -> nn.Module:
    new = M.PReLU(m.num_parameters, device="meta")
    new.weight = m.weight  # the same Parameter: optimizers and checkpoints keep working
    return new


def _swap(m: nn.Module) -> nn.Module:
    make = _REPLACE.get(type(m))
    if make is None:
        return m
    new = make(m)
    new.train(m.training)
    return new


def convert(model: nn.Module, *, inplace: bool = True) -> nn.Module:
    """Replace every torch.nn activation module in ``model`` by relukit's equivalent.

    Exact types only (``torch.nn.ReLU``, ``LeakyReLU``, ``ReLU6``, ``Hardtanh``,
    ``Hardsigmoid``, ``ELU``, ``CELU``, ``SELU``, ``GELU``, ``SiLU``, ``Mish``,
    ``Softplus``, ``Hardswish``, ``PReLU``); subclasses and relukit modules are left
    alone. Constructor settings are kept; a PReLU keeps its weight ``Parameter`` (the
    same object), so the state dict keys and values are unchanged and checkpoints load
    into either version.

    Parameters
    ----------
    model
        Any ``nn.Module`` (an activation module itself is converted too).
    inplace
        Modify ``model`` (default) or work on a deep copy.

    Returns
    -------
    nn.Module
        The converted model (``model`` itself when ``inplace``, unless ``model`` is an
        activation module, which cannot replace itself).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert: model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(inplace, bool):
        raise TypeError(f"convert: inplace must be True or False, got {inplace!r}")
    if not inplace:
        model = copy.deepcopy(model)
    top = _swap(model)
    if top is not model:
        return top
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = _swap(child)
            if new is not child:
                setattr(parent, name, new)
    return model
