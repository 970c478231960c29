"""``convert(model)``: swap torch.nn activations for relukit's, everywhere in a model.

The mapping is :data:`relukit.torch.modules.MODULES`: every catalogue entry whose
``torch.nn`` namesake exists. A converted module is the same object's state under
relukit's class (same attributes, same ``Parameter`` objects, same hooks).

>>> import torch, relukit.torch as rt
>>> m = rt.convert(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LeakyReLU(0.1)))
>>> m[1]
LeakyReLU(negative_slope=0.1)
>>> type(m[1]).__module__
'relukit.torch.modules'
"""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

from relukit.torch.modules import MODULES, torch_module

__all__ = ["convert"]

#: exact torch.nn type -> relukit's class
_REPLACE: dict[type, Any] = {
    base: cls
    for cls in MODULES.values()
    if (base := torch_module(cls.relukit_activation))  # type: ignore[attr-defined]
}


def _swap(m: nn.Module) -> nn.Module:
    cls = _REPLACE.get(type(m))
    if cls is None:
        return m
    new = cls.__new__(cls)
    new.__dict__ = {k: (v.copy() if isinstance(v, dict) else v) for k, v in m.__dict__.items()}
    new._relukit_init(None)  # validates the parameters through the catalogue
    return new


def convert(model: nn.Module, *, inplace: bool = True) -> nn.Module:
    """Replace every torch.nn activation module in ``model`` by relukit's equivalent.

    Exact types only (``torch.nn.ReLU``, ``LeakyReLU``, ``ReLU6``, ``Hardtanh``,
    ``Hardsigmoid``, ``ELU``, ``CELU``, ``SELU``, ``GELU``, ``SiLU``, ``Mish``,
    ``Softplus``, ``Hardswish``, ``PReLU``, and any other catalogue entry with a
    ``torch.nn`` namesake); subclasses and relukit modules are left alone. Settings,
    ``Parameter`` objects (a PReLU keeps its weight) and hooks are kept, so the state
    dict keys and values are unchanged and checkpoints load into either version.

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
