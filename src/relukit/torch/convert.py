"""``convert(model)``: swap torch.nn activations for relukit's, everywhere in a model.

The mapping is :data:`relukit.torch.modules.MODULES`: every catalogue entry whose
``torch.nn`` namesake exists. A converted module is the same object's state under
relukit's class (same attributes, same ``Parameter`` objects, same hooks); a module that
appears several times in the model (shared) is converted once and stays shared.

Gated feed-forward blocks (Hugging Face's ``LlamaMLP``, ``MistralMLP``, ``Qwen2MLP``,
``GemmaMLP``, ...: children ``gate_proj``, ``up_proj``, ``down_proj`` and ``act_fn``,
computing ``down_proj(act_fn(gate_proj(x)) * up_proj(x))``) become a
:class:`~relukit.torch.GatedMLP` on the same projections, whose SwiGLU, GeGLU, ReGLU or
GLU keeps two tensors for backward where eager torch keeps three.

What ``convert`` cannot reach: activations called as functions in a ``forward``
(``F.relu(x)``, ``torch.relu(x)``, ``x.relu()``, ``F.gelu`` inside
``nn.TransformerEncoderLayer``, which stores its activation as a function), subclasses
of the ``torch.nn`` modules, and scripted or traced modules. Use ``relukit.torch.relu``
and friends in your own ``forward`` for those.

>>> import torch, relukit.torch as rt
>>> m = rt.convert(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LeakyReLU(0.1)))
>>> m[1]
relukit.torch.LeakyReLU(negative_slope=0.1)
>>> type(m[1]).__module__
'relukit.torch.modules'
>>> rt.convert(torch.nn.Sequential(torch.nn.ReLU()), at_kink=1.0)
Sequential(
  (0): relukit.torch.ReLU(at_kink=1.0)
)
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

from torch import nn

from relukit.torch import _fewbit
from relukit.torch._levels import check_bits
from relukit.torch._mlp import GatedMLP, gated_mlp, share_hooks
from relukit.torch._params import _check_at_kink
from relukit.torch.modules import MODULES, torch_module

__all__ = ["convert"]

#: exact torch.nn type -> relukit's class
_REPLACE: dict[type, Any] = {
    base: cls
    for cls in MODULES.values()
    if (base := torch_module(cls.relukit_activation))  # type: ignore[attr-defined]
}


def _swap(m: nn.Module) -> nn.Module:
    """relukit's module with ``m``'s state, or ``m`` itself when its type has none.

    Raises the catalogue's TypeError/ValueError when ``m``'s settings are outside what
    relukit computes (``Softplus(beta=-1.0)``: torch accepts it).
    """
    cls = _REPLACE.get(type(m))
    if cls is None:
        return m
    new = cls.__new__(cls)
    new.__dict__ = {k: (v.copy() if isinstance(v, dict) else v) for k, v in m.__dict__.items()}
    share_hooks(new, m)  # the very hook dicts: handles taken on ``m`` still remove
    new._relukit_init(None)  # validates the parameters through the catalogue
    return new


def _names(names: list[str]) -> str:
    return " and ".join(repr(n) if n else "the model itself" for n in names)


def convert(
    model: nn.Module,
    *,
    inplace: bool = True,
    at_kink: float | None = None,
    bits: int | None = None,
) -> nn.Module:
    """Replace every torch.nn activation module in ``model`` by relukit's equivalent.

    Exact types only (``torch.nn.ReLU``, ``LeakyReLU``, ``ReLU6``, ``Hardtanh``,
    ``Hardsigmoid``, ``ELU``, ``CELU``, ``SELU``, ``GELU``, ``SiLU``, ``Mish``,
    ``Softplus``, ``Hardswish``, ``PReLU``, and any other catalogue entry with a
    ``torch.nn`` namesake); subclasses and relukit modules are left alone. Settings,
    ``Parameter`` objects (a PReLU keeps its weight) and hooks are kept, so the state
    dict keys and values are unchanged and checkpoints load into either version. A module
    used at several places in the model is converted once and stays one module.

    Gated feed-forward blocks (children ``gate_proj``, ``up_proj``, ``down_proj`` and
    ``act_fn``, as Hugging Face's Llama, Mistral, Qwen2 and Gemma MLPs) become a
    :class:`~relukit.torch.GatedMLP` with the same projections and relukit's SwiGLU,
    GeGLU, ReGLU or GLU (for an ``act_fn`` that is torch.nn's ``SiLU``, ``GELU``,
    ``ReLU`` or ``Sigmoid``, or Hugging Face's ``SiLUActivation``, ``GELUActivation``,
    ``GELUTanh`` or ``PytorchGELUTanh``): the same outputs (within rounding) and state
    dict, less saved memory.

    A module whose settings torch accepts but relukit does not compute
    (``nn.Softplus(beta=-1.0)``, ``nn.ELU(alpha=inf)``, ``nn.LeakyReLU(True)``) is left as
    torch's, and one ``UserWarning`` names every module left and why; the rest of the
    model is converted. ``convert`` cannot reach activations called as functions
    (``F.relu(x)`` in a ``forward``, the ``activation`` function of
    ``nn.TransformerEncoderLayer``): call ``relukit.torch.relu`` there.

    Parameters
    ----------
    model
        Any ``nn.Module`` (an activation module itself is converted too).
    inplace
        Modify ``model`` (default) or work on a deep copy.
    at_kink
        The derivative at the kinks for every converted module that has kinks (``ReLU``,
        ``LeakyReLU``, ``Hardswish``, ...); modules without kinks (``GELU``, ``SiLU``,
        ``CELU``, ...) have no choice to make and are converted as they are, and so is
        ``RReLU`` (in training it runs torch's random-slope ``rrelu``, which has no
        ``at_kink``). ``None`` (default): torch's values.
    bits
        A few-bit backward (1 to 4, as ``relukit.torch.gelu(x, bits=...)``) for every converted
        ``GELU``, ``SiLU``, ``Mish``, ``Softplus`` and ``Hardswish``. The other converted
        modules keep their exact backward, named in one ``UserWarning``; so do the gated
        units of the :class:`~relukit.torch.GatedMLP` blocks (``SwiGLU``, ``GeGLU``,
        ``ReGLU``, ``GLU``: no few-bit backward), named there as ``'<block>.act_fn'``.
        Where a module takes both (``Hardswish``, ``Softplus``), ``bits`` applies and
        ``at_kink`` does not (the few-bit derivative has its own value at the kinks).

    Returns
    -------
    nn.Module
        The converted model (``model`` itself when ``inplace``, unless ``model`` is an
        activation module, which cannot replace itself).

    Examples
    --------
    >>> import torch, relukit.torch as rt
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.GELU(), torch.nn.ReLU())
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     net = rt.convert(net, bits=2)
    >>> net[1], net[2]
    (relukit.torch.GELU(approximate='none', bits=2), relukit.torch.ReLU())
    >>> print(caught[0].message)
    relukit.torch.convert: bits=2 applies to GELU, SiLU, Mish, Softplus and Hardswish; these keep their exact backward: '2' (ReLU)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert: model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(inplace, bool):
        raise TypeError(f"convert: inplace must be True or False, got {inplace!r}")
    at_kink = _check_at_kink("convert", at_kink)
    bits = check_bits("relukit.torch.convert", bits)
    if not inplace:
        model = copy.deepcopy(model)

    done: dict[int, nn.Module] = {}  # id(old) -> its replacement (shared modules once)
    left: dict[int, tuple[list[str], nn.Module, str]] = {}
    exact: dict[int, tuple[list[str], nn.Module]] = {}

    def swap(name: str, m: nn.Module) -> nn.Module:
        key = id(m)
        if key in done:
            for seen in (left, exact):
                if key in seen:
                    seen[key][0].append(name)
            return done[key]
        try:
            new = _swap(m)
        except (TypeError, ValueError) as exc:  # settings torch accepts, relukit does not
            left[key] = ([name], m, str(exc))
            new = m
        if new is not m:
            _configure(new, at_kink, bits)
            if bits is not None and not isinstance(new, _FEWBIT):
                exact[key] = ([name], new)
        done[key] = new
        return new

    gated = _gated_blocks(model, at_kink)
    top = gated.get(id(model), model)
    placed: dict[int, tuple[list[str], nn.Module]] = {}  # id(GatedMLP) -> (names, it)
    if top is not model:
        placed[id(top)] = ([""], top)
    else:
        for prefix, parent in list(model.named_modules()):
            for cname, child in list(parent._modules.items()):
                if child is not None and id(child) in gated:
                    block = gated[id(child)]
                    setattr(parent, cname, block)
                    name = f"{prefix}.{cname}" if prefix else cname
                    placed.setdefault(id(block), ([], block))[0].append(name)
        top = swap("", model)
    if bits is not None:  # gated units have no few-bit backward: named in the warning
        for names, block in placed.values():
            unit = block.get_submodule("act_fn")
            exact[id(unit)] = ([f"{n}.act_fn" if n else "act_fn" for n in names], unit)
    if top is model:
        for prefix, parent in list(model.named_modules()):
            for cname, child in list(parent._modules.items()):  # shared ones too
                if child is None:
                    continue
                new = swap(f"{prefix}.{cname}" if prefix else cname, child)
                if new is not child:
                    setattr(parent, cname, new)
    if left:
        items = "; ".join(f"{_names(n)} ({m!r}): {why}" for n, m, why in left.values())
        warnings.warn(
            f"relukit.torch.convert: left {len(left)} module(s) as torch.nn's, with settings "
            f"relukit does not compute: {items}",
            UserWarning,
            stacklevel=2,
        )
    if exact:
        takes = ", ".join(c.__name__ for c in _FEWBIT_CLASSES[:-1])
        items = ", ".join(f"{_names(n)} ({type(m).__name__})" for n, m in exact.values())
        warnings.warn(
            f"relukit.torch.convert: bits={bits} applies to {takes} and "
            f"{_FEWBIT_CLASSES[-1].__name__}; these keep their exact backward: {items}",
            UserWarning,
            stacklevel=2,
        )
    return top


def _gated_blocks(model: nn.Module, at_kink: float | None) -> dict[int, nn.Module]:
    """id(block) -> its :class:`GatedMLP`, for every gated feed-forward block of ``model``
    (a block used at several places becomes one GatedMLP)."""
    found: dict[int, nn.Module] = {}
    for m in model.modules():
        if id(m) not in found and gated_mlp(m) is not None:
            found[id(m)] = GatedMLP.from_module(m, at_kink)
    return found


def _configure(m: nn.Module, at_kink: float | None, bits: int | None) -> None:
    """Give a converted module ``bits`` where it takes them, else ``at_kink`` where it
    has kinks (both validated already)."""
    mod: Any = m
    if bits is not None and isinstance(m, _FEWBIT):
        mod.bits = bits
    elif at_kink is not None and mod.relukit_activation.kinks and not isinstance(m, _RRELU):
        mod.at_kink = at_kink


#: the relukit classes with a few-bit backward (``bits=``)
_FEWBIT_CLASSES: tuple[type, ...] = tuple(MODULES[n] for n in _fewbit.PARAMS)
_FEWBIT = _FEWBIT_CLASSES
#: RReLU trains with torch's own random-slope rrelu, which has no at_kink
_RRELU = MODULES["rrelu"]
