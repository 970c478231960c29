"""Gated feed-forward blocks (Hugging Face's ``LlamaMLP`` and its kin) run through relukit.

The feed-forward block of Llama, Mistral, Qwen2, Gemma and many more Hugging Face models
is ``down_proj(act_fn(gate_proj(x)) * up_proj(x))``: four children named ``gate_proj``,
``up_proj``, ``down_proj`` and ``act_fn``. Eager torch keeps three tensors of the
intermediate size for backward around the product (``gate_proj(x)`` for ``act_fn``,
``act_fn(...)`` and ``up_proj(x)`` for the product); relukit's gated entries keep the
two inputs and recompute the activation (:func:`relukit.torch._core.apply_gated`).

:func:`gated_mlp` recognises such a block by its children and its activation, and
:class:`GatedMLP` runs it with the same ``nn.Linear`` objects (the same parameters and
state-dict keys), so :func:`relukit.torch.convert` can swap it in place.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CHILDREN", "HOOKS", "GatedMLP", "gate_of", "gated_mlp", "share_hooks"]

#: the children that make a module a gated feed-forward block
CHILDREN = ("gate_proj", "up_proj", "down_proj", "act_fn")

#: ``nn.Module``'s per-module hook containers in torch 2.x (dicts; older torches lack
#: some, newer ones may add more: :func:`share_hooks` takes any ``*hook*`` dict too)
HOOKS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)


def share_hooks(new: nn.Module, old: nn.Module) -> None:
    """Make ``new`` use ``old``'s hook containers themselves (not copies).

    The handles ``old.register_*_hook`` returned keep working on ``new``
    (``handle.remove()`` removes the hook from the dict ``new`` calls), and so do the
    flags torch keeps beside the hooks (``with_kwargs=``, ``always_call=``, full or
    legacy backward hooks). Every container of :data:`HOOKS` that ``old`` has is shared,
    and any other dict attribute whose name contains ``hook`` (a newer torch's); the
    ones this torch lacks are skipped. ``_is_full_backward_hook`` (a flag, not a dict)
    is copied. A hook torch calls with the module it was registered on
    (``register_load_state_dict_pre_hook``: a wrapper holding a weak reference to
    ``old``) is given ``new`` instead, as the forward and backward hooks are; else it
    would fail once ``old`` is gone.

    >>> calls = []
    >>> old = nn.ReLU()
    >>> handle = old.register_forward_hook(lambda *a: calls.append(1))
    >>> new = nn.ReLU()
    >>> share_hooks(new, old)
    >>> _ = new(torch.ones(1))
    >>> handle.remove()
    >>> _ = new(torch.ones(1))
    >>> calls
    [1]
    """
    found = vars(old)
    names = dict.fromkeys((*HOOKS, *(k for k in found if "hook" in k)))
    for name in names:
        hooks = getattr(old, name, None)
        if isinstance(hooks, dict):
            new.__dict__[name] = hooks
            for hook in hooks.values():
                _rebind(hook, old, new)
    if "_is_full_backward_hook" in found:
        new.__dict__["_is_full_backward_hook"] = found["_is_full_backward_hook"]


def _rebind(hook: Any, old: nn.Module, new: nn.Module) -> None:
    """Point torch's ``_WrappedHook`` ``hook`` at ``new`` where it calls ``old``."""
    ref = getattr(hook, "module", None) if getattr(hook, "with_module", False) else None
    if isinstance(ref, weakref.ref) and ref() is old:
        hook.module = weakref.ref(new)


def gate_of(act: nn.Module) -> tuple[str, dict[str, Any]] | None:
    """``(gated entry, parameters)`` for the activation module ``act`` of a gated block,
    or None where relukit has no gated entry computing it exactly.

    torch.nn's ``SiLU``, ``GELU``, ``ReLU``, ``Sigmoid`` (relukit's modules of those
    names, with their ``at_kink``, too) and Hugging Face's ``SiLUActivation``,
    ``GELUActivation`` (when it calls ``F.gelu``), ``GELUTanh`` and ``PytorchGELUTanh``
    (``F.gelu(approximate="tanh")``). Approximations written out differently
    (``NewGELUActivation``, ``FastGELUActivation``) are left alone: they round otherwise.

    >>> import torch
    >>> gate_of(torch.nn.SiLU()), gate_of(torch.nn.GELU(approximate="tanh"))
    (('swiglu', {}), ('geglu', {'approximate': 'tanh'}))
    >>> gate_of(torch.nn.Tanh()) is None
    True
    """
    kink = getattr(act, "at_kink", None)
    extra: dict[str, Any] = {} if kink is None else {"at_kink": kink}
    if getattr(act, "bits", None) is not None or getattr(act, "inplace", False):
        return None
    name = type(act).__name__
    if isinstance(act, nn.SiLU) or name == "SiLUActivation":
        return "swiglu", extra
    if isinstance(act, nn.GELU):
        return "geglu", {"approximate": act.approximate, **extra}
    if isinstance(act, nn.ReLU):
        return "reglu", extra
    if isinstance(act, nn.Sigmoid):
        return "glu", extra
    if name in ("GELUTanh", "PytorchGELUTanh"):
        fn = getattr(act, "act", None)
        partial = isinstance(fn, functools.partial) and fn.func is F.gelu and not fn.args
        if partial and dict(fn.keywords) == {"approximate": "tanh"}:  # type: ignore[union-attr]
            return "geglu", {"approximate": "tanh"}
        return None
    if name == "GELUActivation" and getattr(act, "act", None) is F.gelu:
        return "geglu", {"approximate": "none"}
    return None


def gated_mlp(m: nn.Module) -> tuple[str, dict[str, Any]] | None:
    """``(gated entry, parameters)`` when ``m`` is a gated feed-forward block relukit can
    run (children :data:`CHILDREN`, three ``nn.Linear`` and a known activation), else None.
    """
    if isinstance(m, GatedMLP):
        return None
    children = dict(m.named_children())
    if set(children) != set(CHILDREN):
        return None
    if not all(isinstance(children[n], nn.Linear) for n in CHILDREN[:3]):
        return None
    return gate_of(children["act_fn"])


class GatedMLP(nn.Module):
    """``down_proj(f(gate_proj(x)) * up_proj(x))`` with a relukit gated unit.

    Made by :func:`relukit.torch.convert` from a Hugging Face-style block (or directly):
    the three projections are the block's own modules, so parameters, hooks and
    state-dict keys stay as they were; the block's own hooks of every kind are kept, in
    the block's own containers (:func:`share_hooks`: handles taken on the block still
    remove them). ``act_fn`` is relukit's gated module (``SwiGLU``, ``GeGLU``,
    ``ReGLU``, ``GLU``), called with the two projections. Other attributes
    of the block (``config``, ``hidden_size``, ...) are kept.

    Backward keeps ``x`` (shared by both projections), the two projections and the
    product (for ``down_proj``'s weight): the activation's output is recomputed.

    >>> import torch, relukit.torch as rt
    >>> lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
    >>> act = rt.modules.MODULES["swiglu"]()
    >>> mlp = rt.GatedMLP(lin(4, 6), lin(4, 6), lin(6, 4), act)
    >>> x = torch.randn(2, 4)
    >>> ref = mlp.down_proj(torch.nn.functional.silu(mlp.gate_proj(x)) * mlp.up_proj(x))
    >>> torch.allclose(mlp(x), ref)
    True
    """

    def __init__(
        self, gate_proj: nn.Module, up_proj: nn.Module, down_proj: nn.Module, act_fn: nn.Module
    ) -> None:
        super().__init__()
        self.gate_proj = gate_proj
        self.up_proj = up_proj
        self.down_proj = down_proj
        self.act_fn = act_fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x), self.up_proj(x)))

    @classmethod
    def from_module(cls, m: nn.Module, at_kink: float | None = None) -> GatedMLP:
        """The :class:`GatedMLP` of the block ``m`` (see :func:`gated_mlp`), sharing its
        projections; ``at_kink`` for a ReGLU without one of its own."""
        from relukit.torch.modules import MODULES

        found = gated_mlp(m)
        if found is None:
            raise TypeError(f"{type(m).__name__} is not a gated feed-forward block relukit runs")
        name, params = found
        if at_kink is not None and name == "reglu":
            params = {"at_kink": at_kink, **params}
        act = MODULES[name](**params)
        new = cls(m.gate_proj, m.up_proj, m.down_proj, act)  # type: ignore[arg-type]
        for k, v in m.__dict__.items():  # config, hidden_size, ... (not torch's own state)
            if not k.startswith("_") and k != "training" and k not in new.__dict__:
                new.__dict__[k] = v
        new.train(m.training)
        share_hooks(new, m)  # the very dicts: handles taken on ``m`` still remove
        setattr(new, "relukit_replaces", type(m).__name__)  # noqa: B010 (a plain attribute)
        return new

    def extra_repr(self) -> str:
        return f"replaces={getattr(self, 'relukit_replaces', None)!r}"

    def _get_name(self) -> str:
        return "relukit.torch.GatedMLP"
