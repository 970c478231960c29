"""Activation sites, running per-unit counts, and the hook/trace session behind
:func:`relukit.diagnose`, :class:`relukit.DeadUnitMonitor` and :func:`relukit.recycle`.

An *activation site* is one place in a model's forward pass where a ReLU-family
activation is applied:

* a module: every ``torch.nn`` activation in :data:`MODULE_KINDS`, and every module whose
  type has a ``relukit_activation`` class attribute (the modules of ``relukit.torch``);
* a functional call made inside some module's ``forward`` (``F.relu``, ``torch.relu``,
  ``x.relu()``, ``F.leaky_relu``, ... see :data:`FUNCTION_KINDS`), seen through a
  :class:`torch.overrides.TorchFunctionMode`; also any function named like a catalogue
  entry that torch has no function for (``squared_relu``, ``reglu``, ``swiglu``, ...)
  and that dispatches through ``__torch_function__`` (``handle_torch_function``), as
  torch's own functions do; and relukit's own functional forms, ``relukit.torch.relu(x,
  at_kink=1.0)``, ``relukit.torch.squared_relu``, ``relukit.torch.reglu(gate, up)``, and
  the NumPy API's functions called on a torch tensor (``relukit.relu(x)``), which are
  plain Python: while a watched forward pass runs, the two functions they all run
  through are wrapped to dispatch through the mode (:func:`_watch_front`).
  ``torch.clamp(x, min=0)``, ``torch.maximum(x, 0)`` and ``x * (x > 0)`` are *not*
  recognised: they have many uses besides being an activation.

A *gated* site (``glu``, ``reglu``, ``geglu``, ``swiglu``, ``bilinear``: ``f(gate) * up``)
is called with two tensors ``(gate, up)`` or with one tensor split in halves along
``dim`` whose second half is the gate (``torch.nn.GLU``'s form); its pre-activation, for
dead units, is the gate, and its sparsity counts the zeros of ``f(gate)`` (see
:data:`GATE_ACTIVATIONS`) next to those of the gated output.

Site names: a module site is named by its qualified name (``"features.2"``); a
functional site by the qualified name of the module whose ``forward`` made the call,
the function's name and a counter, ``"block.relu[0]"`` (the root module's calls are
``"relu[0]"``). When one module or one forward is called several times within one
forward pass of the model (``self.act`` reused after every layer), each call is its own
site: the second call of ``"act"`` is ``"act[1]"``, because its units are different
units.

Units: for a 2-D pre-activation ``(N, F)`` a unit is one of the ``F`` features; for
``(N, C, *spatial)`` conv outputs (4-D and 5-D, and 3-D when the tensor came from a
convolution, normalisation or pooling module) a unit is a channel, and its counts run
over the batch and all spatial positions; a 3-D tensor from anything else is taken as a
sequence ``(N, T, F)`` whose units are the ``F`` features (the layout of
``nn.Linear`` applied to sequences). ``unit_dim=`` overrides the rule.
"""

from __future__ import annotations

import functools
import importlib
import math
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn
from torch.overrides import TorchFunctionMode, handle_torch_function

from relukit.catalogue import Activation, catalogue, get

__all__ = [
    "FUNCTION_KINDS",
    "GATE_ACTIVATIONS",
    "MODULE_KINDS",
    "Gate",
    "SiteAccumulator",
    "TraceInfo",
    "gate_for",
    "module_kind",
]


def _torch_tables() -> tuple[dict[type, str], dict[str, str]]:
    """``(MODULE_KINDS, FUNCTION_KINDS)`` from the catalogue entries' ``torch_name``.

    An entry whose ``torch_name`` is ``torch.nn.functional.<f>`` is recognised as the
    functional ``<f>`` (and its in-place ``<f>_`` where torch has one; also by the
    ``__name__`` the mode sees when it is not ``<f>``: ``F.threshold`` is torch's
    ``_threshold``, whose sites are named ``threshold``) and as the ``torch.nn`` module
    class spelled like ``<f>`` (``leaky_relu`` -> ``LeakyReLU``).
    An entry torch has no function for is recognised by its own name (``squared_relu``,
    ``reglu``): a function of that ``__name__`` that dispatches through
    ``__torch_function__``. Names torch uses for something else are left out
    (``F.bilinear`` is a layer, not the gated entry ``bilinear``).
    """
    import torch.nn.functional as F

    classes = {
        c.__name__.lower(): c
        for c in vars(nn.modules.activation).values()
        if isinstance(c, type) and issubclass(c, nn.Module)
    }
    modules: dict[type, str] = {}
    functions: dict[str, str] = {}
    for act in catalogue():
        path, _, fname = (act.torch_name or "").rpartition(".")
        if path != "torch.nn.functional":
            if not any(hasattr(m, act.name) for m in (F, torch, torch.Tensor)):
                functions[act.name] = act.name
            continue
        functions[fname] = act.name
        # the name the mode sees: F.threshold is torch's ``_threshold``
        alias = getattr(getattr(F, fname, None), "__name__", fname)
        if alias != fname:
            functions[alias] = act.name
            _PUBLIC_NAMES[alias] = fname
        if any(hasattr(m, fname + "_") for m in (F, torch, torch.Tensor)):
            functions[fname + "_"] = act.name
        cls = classes.get(fname.replace("_", ""))
        if cls is not None:
            modules[cls] = act.name
    return modules, functions


#: ``__name__`` of a torch function -> the name it is called by, where they differ
#: (``F.threshold`` is ``_threshold``): the name of its sites
_PUBLIC_NAMES: dict[str, str] = {}

#: how a site was found: a module's forward, or a functional call inside one
SiteSource = Literal["module", "functional"]

#: torch.nn activation module types recognised as sites, and their kind (catalogue name)
MODULE_KINDS: dict[type, str]
#: ``__name__`` of the torch functions recognised as functional activation sites
FUNCTION_KINDS: dict[str, str]
MODULE_KINDS, FUNCTION_KINDS = _torch_tables()

#: kinds whose gradient is exactly 0 for a pre-activation <= 0: a dead unit of these
#: kinds never learns again (the catalogue's ``zero_gradient_below``). Other kinds
#: (leaky_relu, elu, gelu, ...) still pass a gradient there, so "dead" only says the
#: unit sits on the negative side everywhere.
ZERO_GRADIENT_KINDS = frozenset(a.name for a in catalogue() if a.zero_gradient_below)

#: kinds whose output is never negative (the catalogue's ``nonnegative_output``)
_NONNEGATIVE_KINDS = frozenset(a.name for a in catalogue() if a.nonnegative_output)

#: gated kinds (``f(gate) * up``, the catalogue's ``gated``)
GATED_KINDS = frozenset(a.name for a in catalogue() if a.gated)


def _gate_activation(act: Activation) -> Callable[..., torch.Tensor]:
    """``f`` of the gated entry ``act`` on a torch tensor, from the entry's own formula
    (keywords: its parameters, defaults from the catalogue)."""
    from relukit import _dispatch

    def f(gate: torch.Tensor, **params: Any) -> torch.Tensor:
        with torch.no_grad():
            return _dispatch.formula(act, "value", gate, act.bind((), params))

    f.__name__ = f.__qualname__ = f"{act.name}_gate"
    return f


#: the gate's activation ``f`` of every gated catalogue entry, computed from the entry's
#: formula in the gate's dtype (what ``act_fn(gate_proj(x))`` of a Hugging Face MLP
#: holds): a gated site's sparsity is the fraction of zeros of ``f(gate)``. Keyword
#: arguments are the entry's parameters, read from the module's attributes of the same
#: name (how relukit.torch's modules keep them) or from the call's keywords.
GATE_ACTIVATIONS: dict[str, Callable[..., torch.Tensor]] = {
    a.name: _gate_activation(a) for a in catalogue() if a.gated
}


@dataclass(frozen=True)
class Gate:
    """How a gated site's call gives its gate, and the gate's activation ``f``.

    A call with two tensors ``(gate, up)`` gates with the first; a call with one tensor
    splits it in halves along ``dim`` and gates with the second half (``torch.nn.GLU``,
    ``jax.nn.glu`` and relukit's one-array form: ``first * f(second)``). ``fn`` is None
    for a gated kind without an entry in :data:`GATE_ACTIVATIONS`: its sparsity is then
    the gated output's.
    """

    fn: Callable[[torch.Tensor], torch.Tensor] | None
    dim: int = -1

    def gate(self, args: tuple) -> torch.Tensor | None:
        """The gate of a call with positional ``args`` (None if there is none)."""
        if not args or not isinstance(args[0], torch.Tensor):
            return None
        if len(args) > 1 and isinstance(args[1], torch.Tensor):
            return args[0]
        x = args[0]
        if not -x.ndim <= self.dim < x.ndim or x.shape[self.dim] % 2:
            return None  # not a call this site can split: left uncounted, never an error
        return x.chunk(2, self.dim)[1]


def gate_for(kind: str, owner: nn.Module | dict[str, Any] | None) -> Gate:
    """The :class:`Gate` of a gated site of ``kind`` (a module, or a call's keywords).

    The split dimension is ``owner.dim`` (``torch.nn.GLU``'s attribute) or the ``dim``
    keyword, -1 by default; the entry's parameters (``approximate``, ``beta``) are read
    the same way, with the catalogue's defaults.
    """

    def read(name: str, default: Any) -> Any:
        if isinstance(owner, nn.Module):
            return getattr(owner, name, default)
        return owner.get(name, default) if owner else default

    dim = read("dim", -1)
    fn = GATE_ACTIVATIONS.get(kind)
    if fn is not None:
        params = {p.name: read(p.name, p.default) for p in get(kind).params_list}
        if params:
            fn = functools.partial(fn, **params)
    return Gate(fn, dim if isinstance(dim, int) and not isinstance(dim, bool) else -1)


#: a count of more values than this is kept in int64 (int32 is cheaper to sum into)
INT32_COUNT_LIMIT = 2**31 - 1
# up to this many values, torch.count_nonzero is the cheapest count on the CPU (one
# call, int64, ~2 us); above, its full reduction is up to 10x slower than bool().sum()
_SMALL_COUNT = 4096


def sum_dtype(t: torch.Tensor) -> torch.dtype | None:
    """The dtype to sum ``t`` into for a per-unit statistic: float32 for a floating dtype
    narrower than float32 (float16, bfloat16, float8), else None (``t``'s own: float32
    and float64 stay, integers sum into int64).

    A float16 sum overflows to inf past 65504 (a few hundred values of 100), and a
    bfloat16 running sum stops growing once it is 256 times the values added to it:
    the sums of ``|h|`` of a half-precision model (or under autocast) must not be kept
    in its dtype. float32 rather than float64: the per-step reductions run on the
    model's device, where float64 is slow or absent (MPS).
    """
    if t.dtype.itemsize < 4 and t.is_floating_point():
        return torch.float32
    return None


def count_nonzero(t: torch.Tensor, dims: tuple[int, ...] | None = None) -> torch.Tensor:
    """Values of ``t`` that are not 0 (NaN is not 0; +0 and -0 are), in one reduction.

    ``t.bool()`` is ``t != 0`` (NaN is true); summing it into int32 is the cheapest
    exact count of a large tensor on the CPU (``(t == 0).sum()`` costs 2 to 4x more:
    its comparison and its int64 sum are not vectorised), int64 where int32 could
    overflow. ``dims``: count per unit over these dimensions (int64), else one count
    for the whole tensor.
    """
    if dims is not None:
        return t.bool().sum(dim=dims, dtype=torch.int64)
    n = t.numel()
    if n <= _SMALL_COUNT:
        return torch.count_nonzero(t)
    return t.bool().sum(dtype=torch.int64 if n > INT32_COUNT_LIMIT else torch.int32)


# modules that keep the unit (feature/channel) identity of their input: data flowing
# through them still belongs to the same units (used to follow site -> consumer)
_PASSTHROUGH_MODULES: tuple[type, ...] = (
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.modules.batchnorm._BatchNorm,
)
_PASSTHROUGH_FUNCTIONS = frozenset(
    {
        "dropout",
        "dropout1d",
        "dropout2d",
        "dropout3d",
        "alpha_dropout",
        "feature_alpha_dropout",
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "_max_pool1d",
        "_max_pool2d",
        "_max_pool3d",
        "max_pool1d_with_indices",
        "max_pool2d_with_indices",
        "max_pool3d_with_indices",
        "avg_pool1d",
        "avg_pool2d",
        "avg_pool3d",
        "adaptive_avg_pool1d",
        "adaptive_avg_pool2d",
        "adaptive_avg_pool3d",
        "adaptive_max_pool1d",
        "adaptive_max_pool2d",
        "adaptive_max_pool3d",
        "_adaptive_max_pool1d",
        "_adaptive_max_pool2d",
        "_adaptive_max_pool3d",
        "contiguous",
        "clone",
        "detach",
    }
)
_FLATTEN_FUNCTIONS = frozenset({"flatten", "view", "reshape"})
# producers after which a 3-D tensor is (N, C, L) rather than (N, T, F)
_CHANNEL_FIRST_MODULES: tuple[type, ...] = (
    nn.modules.conv._ConvNd,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
    nn.MaxPool1d,
    nn.AvgPool1d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveMaxPool1d,
)


_INPLACE_DUNDERS = frozenset(
    f"__i{op}__"
    for op in [
        "add",
        "sub",
        "mul",
        "matmul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "and",
        "or",
        "xor",
        "lshift",
        "rshift",
    ]
)
_METADATA_ONLY = frozenset({"requires_grad_", "share_memory_"})


def _writes_in_place(fname: str) -> bool:
    """True for torch functions that overwrite their first argument (``add_``, ``+=``)."""
    if fname in _INPLACE_DUNDERS:
        return True
    return fname.endswith("_") and not fname.startswith("_") and fname not in _METADATA_ONLY


def module_kind(module: nn.Module) -> str | None:
    """The activation kind of ``module`` if it is an activation site, else None."""
    kind = getattr(type(module), "relukit_activation", None)
    if kind is not None:
        name = str(getattr(kind, "name", kind))
        try:  # an alias ("relu2") is the catalogue's name ("squared_relu")
            return get(name).name
        except LookupError:
            return name
    for t in type(module).__mro__:
        if t in MODULE_KINDS:
            return MODULE_KINDS[t]
    if hasattr(type(module), "relukit_activation"):  # a relukit module without an entry
        return type(module).__name__.lower()
    return None


# ---------------------------------------------------------------------------
# running counts
# ---------------------------------------------------------------------------


class SiteAccumulator:
    """Running per-unit counts of one site: positives of the pre-activation, sum of |post|,
    and the values that are not 0 (the site's sparsity).

    Memory is O(units), whatever the number of samples. The zero counts are per unit in
    full mode (:func:`relukit.diagnose`) and one number in light mode (the monitor);
    ``nonzero`` counts the activation's output, or ``f(gate)`` at a gated site, whose
    gated output is counted in ``out_nonzero``. ``zero_values``: values counted (the
    whole tensor, all units). Whatever the model's dtype, the counts are int64 and the
    sums of ``|post|`` float64 in full mode, float32 at least in light mode
    (:func:`sum_dtype`): a float16 model's sums would overflow to inf.
    """

    __slots__ = (
        "abs_sum",
        "gate",
        "kind",
        "light",
        "n_units",
        "n_values",
        "name",
        "nonzero",
        "out_nonzero",
        "pos_count",
        "pre_max",
        "source",
        "unit_dim",
        "zero_values",
        "zeros",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        source: SiteSource,
        unit_dim: int,
        n_units: int,
        light: bool = False,
        gate: Gate | None = None,
        zeros: bool = True,
    ) -> None:
        self.light = light  # light: running max instead of positive counts (monitor)
        self.pre_max: torch.Tensor | None = None
        self.name = name
        self.kind = kind
        self.source = source
        self.unit_dim = unit_dim  # 1 (channel) or -1 (last-dim feature)
        self.n_units = n_units
        self.n_values = 0  # values seen per unit
        self.pos_count: torch.Tensor | None = None  # int64, on the model's device
        # float64 (light mode: float32 at least, float64 for a float64 model)
        self.abs_sum: torch.Tensor | None = None
        self.gate = gate  # gated sites: how a call gives the gate, and f
        self.zeros = zeros  # count zeros (the sparsity); ContinualBackprop does not
        self.nonzero: torch.Tensor | None = None  # of the output, or of f(gate)
        self.out_nonzero: torch.Tensor | None = None  # gated sites: of f(gate) * up
        self.zero_values = 0

    @property
    def gated(self) -> bool:
        return self.gate is not None and self.gate.fn is not None

    def add_light(self, pre: torch.Tensor, post: torch.Tensor) -> None:
        """Fast path for the monitor: per-unit running max of ``pre`` and sum of ``|post|``,
        and the number of values of the output (of ``f(gate)``) that are not 0.

        Each call reduces the batch to one value per unit at once (one number for the
        zero count), so the state kept between steps is O(units), whatever the batch and
        spatial size; nothing is read back to the host.
        """
        pre = pre.detach()
        post = post.detach()
        if pre.ndim < 2 or pre.shape[self.unit_dim] != self.n_units:
            self.add_pre(pre)
            self.add_gate(pre)
            self.add_post(post)
            return
        self.n_values += pre.numel() // self.n_units
        d = self._dims(post)
        if self._sum_tells_alive():
            # relu, relu6: h >= 0 and h > 0 exactly where z > 0, so the sum of h alone
            # tells alive (> 0) from dead, and gives the ReDo score
            s = post.sum(d, dtype=sum_dtype(post))
        else:
            m = pre.amax(d)
            self.pre_max = m if self.pre_max is None else torch.maximum(self.pre_max, m)
            s = post.abs().sum(d, dtype=sum_dtype(post))
        self.abs_sum = s if self.abs_sum is None else self.abs_sum + s
        if self.zeros:
            self.add_gate(pre)
            self._count_post(post)

    def _sum_tells_alive(self) -> bool:
        # not at a gated site: f(gate) * up has either sign, whatever f
        return self.kind in ZERO_GRADIENT_KINDS and self.gate is None

    def alive_mask(self) -> torch.Tensor | None:
        """Light mode: per unit, was the pre-activation ever > 0 (None if nothing seen)."""
        if self._sum_tells_alive():  # sum of h >= 0 is > 0 iff some z > 0
            return None if self.abs_sum is None else self.abs_sum > 0
        return None if self.pre_max is None else self.pre_max > 0

    def _dims(self, t: torch.Tensor) -> tuple[int, ...]:
        ud = self.unit_dim % t.ndim
        return tuple(d for d in range(t.ndim) if d != ud)

    def _check(self, t: torch.Tensor) -> None:
        if t.shape[self.unit_dim] != self.n_units:
            raise ValueError(
                f"activation site {self.name!r} had {self.n_units} units, then a tensor of "
                f"shape {tuple(t.shape)} ({t.shape[self.unit_dim]} units along dim "
                f"{self.unit_dim}); a site's unit count must not change between batches"
            )

    def add_pre(self, pre: torch.Tensor) -> None:
        pre = _as2d(pre)
        self._check(pre)
        if self.light:  # max is ~5x cheaper than counting (pre > 0) on CPU
            m = pre.amax(dim=self._dims(pre))
            self.pre_max = m if self.pre_max is None else torch.maximum(self.pre_max, m)
            self.n_values += pre.numel() // self.n_units
            return
        c = (pre > 0).sum(dim=self._dims(pre))
        self.pos_count = c if self.pos_count is None else self.pos_count + c
        self.n_values += pre.numel() // self.n_units

    def add_post(self, post: torch.Tensor) -> None:
        post = _as2d(post)
        self._check(post)
        if self.light:
            a = post if self.kind in _NONNEGATIVE_KINDS else post.abs()
            s = a.sum(dim=self._dims(post), dtype=sum_dtype(post))
        else:
            s = post.abs().sum(dim=self._dims(post), dtype=torch.float64)
        self.abs_sum = s if self.abs_sum is None else self.abs_sum + s
        if self.zeros:
            self._count_post(post)

    def add_gate(self, gate: torch.Tensor) -> None:
        """Gated sites: count the values of ``f(gate)`` that are not 0."""
        if not (self.zeros and self.gated):
            return
        assert self.gate is not None and self.gate.fn is not None
        self.nonzero = self._count(self.nonzero, self.gate.fn(gate.detach()))

    def _count_post(self, post: torch.Tensor) -> None:
        self.zero_values += post.numel()
        if self.gated:
            self.out_nonzero = self._count(self.out_nonzero, post)
        else:
            self.nonzero = self._count(self.nonzero, post)

    def _count(self, total: torch.Tensor | None, t: torch.Tensor) -> torch.Tensor:
        """``total`` plus the values of ``t`` that are not 0 (per unit in full mode)."""
        if self.light:
            c = count_nonzero(t)
        else:
            t = _as2d(t)
            c = count_nonzero(t, self._dims(t))
        # the running total is int64: a window of steps may pass 2**31 values
        return c.to(torch.int64) if total is None else total + c

    def reset(self) -> None:
        self.n_values = 0
        self.pre_max = None
        self.pos_count = None
        self.abs_sum = None
        self.nonzero = None
        self.out_nonzero = None
        self.zero_values = 0


def _as2d(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    if t.ndim < 2:  # a single sample: all of its values are units
        t = t.reshape(1, -1)
    return t


def _has_tensor(out: Any) -> bool:
    if isinstance(out, torch.Tensor):
        return True
    return isinstance(out, (tuple, list)) and any(isinstance(e, torch.Tensor) for e in out)


def auto_unit_dim(t: torch.Tensor, producer: nn.Module | None) -> int:
    """1 (channel) for (N, C, ...) conv-like tensors, -1 (feature) otherwise."""
    if t.ndim >= 4:
        return 1
    if t.ndim == 3 and isinstance(producer, _CHANNEL_FIRST_MODULES):
        return 1
    return -1


# ---------------------------------------------------------------------------
# tracing (which layer feeds a site, which layers read its output)
# ---------------------------------------------------------------------------


@dataclass
class TraceInfo:
    """How a site is wired, as seen in the first traced forward pass.

    ``producer``: qualified name of the module whose output is the pre-activation
    (None if it was not a module's output). ``consumers``: ``(module name, spatial)``
    for every module reading the site's output, possibly through pass-through layers
    (dropout, pooling, batch norm) and a flatten; ``spatial`` is the number of flattened
    positions per unit (None when not flattened). ``escapes``: other uses of the output
    (functional ops such as residual additions, the model output) that :func:`recycle`
    cannot follow. ``producer_input``: when the producer is a normalisation module
    (batch norm), the module whose output it normalised (None otherwise or unknown).
    """

    producer: str | None = None
    consumers: list[tuple[str, int | None]] = field(default_factory=list)
    escapes: list[str] = field(default_factory=list)
    producer_input: str | None = None


class _Origin:
    __slots__ = ("flat", "ref", "site")

    def __init__(self, t: torch.Tensor, site: str, flat: int | None) -> None:
        self.ref = weakref.ref(t)
        self.site = site
        self.flat = flat


# ---------------------------------------------------------------------------
# the session: hooks on the model, optionally a TorchFunctionMode
# ---------------------------------------------------------------------------


class SessionHook:
    """A hook of a session on one module of the model, as registered with torch.

    A copy of the model (``copy.deepcopy``: an ``AveragedModel`` or EMA model built
    while a monitor is attached; pickling: ``torch.save``) copies the modules' hook
    dicts too. The copy gets :class:`InertHook` in place of each such hook: its
    forward passes are its own, never counted into the session (which they would be
    through the original closures), and it pickles.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., None]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> None:
        return self.fn(*args)

    def __deepcopy__(self, memo: dict) -> InertHook:
        return InertHook()

    def __reduce__(self) -> tuple[type, tuple]:
        return (InertHook, ())


class InertHook:
    """What a copy of a watched module gets for each of the session's hooks: nothing."""

    __slots__ = ()

    def __call__(self, *args: Any) -> None:
        return None


class _Mode(TorchFunctionMode):
    def __init__(self, sess: _Session) -> None:
        super().__init__()
        self.sess = sess

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        sess = self.sess
        if sess.internal:
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if type(func) is _FrontCall:  # relukit.torch.relu(x), rk.relu(x) on a tensor
            kind: str | None = func.kind
        else:
            kind = FUNCTION_KINDS.get(name)
            name = _PUBLIC_NAMES.get(name, name)
        top = sess.stack[-1] if sess.stack else None
        in_site_module = top is not None and top[1] is not None
        if kind is None or in_site_module or not args or not isinstance(args[0], torch.Tensor):
            out = func(*args, **kwargs)
            if (
                sess.tracing
                and sess.recording
                and not in_site_module
                and (top is None or not top[2])
            ):
                sess.trace_function(name, args, kwargs, out)
            return out
        parent = top[0] if top is not None else ""
        return sess.functional_site(parent, name, kind, func, args, kwargs)


# ---------------------------------------------------------------------------
# relukit's own functional forms: relukit.torch.relu(x), rk.relu(x) on a torch tensor
# ---------------------------------------------------------------------------


class _FrontCall:
    """One call of a relukit function on torch tensors, as :class:`_Mode` sees it: a
    function of the tensors alone (``run``), named like the catalogue entry ``kind``.

    relukit.torch's functional forms (``rt.relu``, ``rt.leaky_relu(x, 0.1)``, the
    generic ``rt.function(name)``, the gated ``rt.reglu(gate, up)``) and the NumPy
    API's functions (``rk.relu(t)``) are plain Python: torch's ``__torch_function__``
    never sees them. The wrappers of :func:`_watch_front` hand such a call to
    ``handle_torch_function`` as one of these. Keywords given back by the mode (the
    call's own, so that a gated site reads ``dim``, ``approximate``, ``beta``) are
    ignored: ``run`` holds the call's arguments. ``run`` calls the wrapper again, as
    torch's functions dispatch again inside a mode's handler: a session's mode further
    down the stack sees the call next, and the original runs when none is left.
    """

    def __init__(self, kind: str, run: Callable[..., Any]) -> None:
        self.kind = kind
        self.__name__ = kind
        self.run = run

    def __call__(self, *tensors: torch.Tensor, **kwargs: Any) -> Any:
        return self.run(*tensors)


def _current_mode() -> Any:
    """The innermost torch function mode of this thread (None if there is none)."""
    get_mode = getattr(torch.overrides, "_get_current_function_mode", None)
    if get_mode is not None:
        return get_mode()
    stack = torch.overrides._get_current_function_mode_stack()
    return stack[-1] if stack else None


def _watched() -> bool:
    """A session's :class:`_Mode` is this thread's innermost torch function mode (inside
    the mode's own handler it is not: the call there runs unwatched)."""
    return torch._C._is_torch_function_mode_enabled() and type(_current_mode()) is _Mode


@functools.cache
def _rrelu_code() -> Any:
    """The code of ``relukit.torch.rrelu`` (None if relukit.torch has none)."""
    m = _front_module("relukit.torch._functions")
    return getattr(getattr(m, "rrelu", None), "__code__", None)


def _front_kind(plan: Any) -> str:
    """The kind of a watched ``_core.apply`` call: its plan's entry, except that
    ``relukit.torch.rrelu`` (and ``relukit.torch.function("rrelu")``) in evaluation
    computes as ``leaky_relu`` with the mean slope: it is an ``rrelu`` site, as it is
    in training (torch's ``F.rrelu``) and as torch's ``F.rrelu`` and ``nn.RReLU`` are.
    (The module ``relukit.torch.RReLU`` is a module site of kind ``rrelu``: the calls
    made inside a site module are not sites.)

    The caller is found on the stack (``rrelu`` -> ``_functions.apply`` -> this
    wrapper), whatever name ``rrelu`` was imported under; only for ``leaky_relu``.
    """
    kind: str = plan.act.name
    if kind != "leaky_relu":
        return kind
    code = _rrelu_code()
    f: Any = sys._getframe(2)  # (0: here, 1: the wrapper, 2: its caller)
    for _ in range(3):
        if f is None:
            break
        if f.f_code is code:
            return "rrelu"
        f = f.f_back
    return kind


def _front_apply(orig: Callable[..., Any]) -> Callable[..., Any]:
    """``relukit.torch._core.apply(plan, x, inplace, at_kink)``, watched."""

    def apply(plan: Any, x: torch.Tensor, inplace: bool, at_kink: Any) -> Any:
        if _watched():
            call = _FrontCall(_front_kind(plan), lambda t: apply(plan, t, inplace, at_kink))
            return handle_torch_function(call, (x,), x, **plan.params)
        return orig(plan, x, inplace, at_kink)

    return apply


def _front_apply_gated(orig: Callable[..., Any]) -> Callable[..., Any]:
    """``relukit.torch._core.apply_gated(plan, gate, up, at_kink)``, watched."""

    def apply_gated(plan: Any, a: torch.Tensor, b: torch.Tensor, at_kink: Any) -> Any:
        if _watched():
            call = _FrontCall(plan.act.name, lambda g, u: apply_gated(plan, g, u, at_kink))
            return handle_torch_function(call, (a, b), a, b, **plan.params)
        return orig(plan, a, b, at_kink)

    return apply_gated


def _api_apply(orig: Callable[..., Any]) -> Callable[..., Any]:
    """``relukit._dispatch.apply(act, kind, x, args, kwargs, out, at_kink)`` (the NumPy
    API's ``rk.relu(x, ...)``; ``default_call`` goes through it for tensors), watched
    for the value on a torch tensor."""

    def apply(
        act: Any, kind: str, x: Any, args: tuple, kwargs: dict, out: Any, at_kink: Any
    ) -> Any:
        if kind == "value" and isinstance(x, torch.Tensor) and _watched():
            call = _FrontCall(act.name, lambda t: apply(act, kind, t, args, kwargs, out, at_kink))
            return handle_torch_function(call, (x,), x, **kwargs)
        return orig(act, kind, x, args, kwargs, out, at_kink)

    return apply


def _api_apply_gated(orig: Callable[..., Any]) -> Callable[..., Any]:
    """``relukit._dispatch.apply_gated`` (``rk.reglu(gate, up)``, ``rk.reglu(x, dim=-1)``),
    watched for the value on torch tensors."""

    def apply_gated(
        act: Any, kind: str, x: Any, args: tuple, kwargs: dict, out: Any, at_kink: Any
    ) -> Any:
        if kind == "value" and isinstance(x, torch.Tensor) and _watched():
            if args and isinstance(args[0], torch.Tensor):  # (gate, up)
                rest = args[1:]
                call = _FrontCall(
                    act.name,
                    lambda g, u: apply_gated(act, kind, g, (u, *rest), kwargs, out, at_kink),
                )
                return handle_torch_function(call, (x, args[0]), x, args[0], **kwargs)
            call = _FrontCall(
                act.name, lambda t: apply_gated(act, kind, t, args, kwargs, out, at_kink)
            )
            return handle_torch_function(call, (x,), x, **kwargs)
        return orig(act, kind, x, args, kwargs, out, at_kink)

    return apply_gated


#: the functions every relukit call on torch tensors runs through, and their wrappers:
#: relukit.torch's functional forms and modules call ``_core.apply``/``apply_gated``,
#: the NumPy API's entries ``_dispatch.apply``/``apply_gated`` (all looked up as module
#: attributes at call time, so replacing the attribute reaches every caller)
_FRONT_WRAPPERS: dict[tuple[str, str], Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    ("relukit.torch._core", "apply"): _front_apply,
    ("relukit.torch._core", "apply_gated"): _front_apply_gated,
    ("relukit._dispatch", "apply"): _api_apply,
    ("relukit._dispatch", "apply_gated"): _api_apply_gated,
}
_front_lock = threading.Lock()
_front_users = 0
#: the modules of :data:`_FRONT_WRAPPERS`, imported once (None: not importable)
_front_modules: dict[str, Any] = {}
#: while watched: (module, name, the original, the wrapper put in its place)
_front_installed: list[tuple[Any, str, Any, Any]] = []


def _front_module(name: str) -> Any:
    if name not in _front_modules:
        try:
            _front_modules[name] = importlib.import_module(name)
        except Exception:  # pragma: no cover - relukit.torch unusable: nothing to watch
            _front_modules[name] = None
    return _front_modules[name]


def _watch_front(on: bool) -> None:
    """Make relukit's own functions on torch tensors visible to the sessions' modes
    (``on``), or stop when no session watches any more.

    While at least one session watches the functional calls of a forward pass, the
    functions of :data:`_FRONT_WRAPPERS` are replaced by wrappers that hand a call on
    torch tensors to ``handle_torch_function`` (as a :class:`_FrontCall`) when a
    session's mode is the calling thread's innermost mode, and otherwise call the
    original (other threads, other modes, NumPy arrays). Outside a watched forward
    pass relukit runs untouched: nothing is added to its calls when no diagnostic
    runs. (About 2 us per watched forward pass, against the tens of us the mode costs.)
    """
    global _front_users
    with _front_lock:
        if not on:
            if _front_users == 0:
                return
            _front_users -= 1
            if _front_users == 0:
                for m, name, orig, wrapper in _front_installed:
                    if getattr(m, name, None) is wrapper:  # (unless replaced since)
                        setattr(m, name, orig)
                _front_installed.clear()
            return
        _front_users += 1
        if _front_users > 1:
            return
        for (mod, name), wrap in _FRONT_WRAPPERS.items():
            m = _front_module(mod)
            orig = getattr(m, name, None) if m is not None else None
            if orig is None:  # pragma: no cover - renamed: not watched
                continue
            wrapper = wrap(orig)
            setattr(m, name, wrapper)
            _front_installed.append((m, name, orig, wrapper))


class _Session:
    """Hooks recording every activation site of ``model``.

    ``record`` decides per forward pass whether to count (the monitor counts training
    passes only); ``trace`` follows producers/consumers in the next counted forward
    pass (a pass not counted traces nothing, and with ``functional=None`` does not
    decide whether functional calls are watched).
    """

    _pending_site: str | None = None

    def __init__(
        self,
        model: nn.Module,
        *,
        functional: bool | None = True,
        trace: bool = False,
        unit_dim: int | None = None,
        record: Callable[[], bool] = lambda: True,
        light: bool = False,
        zeros: bool = True,
    ) -> None:
        if unit_dim not in (None, 1, -1):
            raise ValueError(
                f"unit_dim must be None (auto), 1 (channel) or -1 (feature), got {unit_dim!r}"
            )
        self.model = model
        # None (auto): watch functional calls in the first (traced) pass, keep doing so
        # only if some were found
        self.auto_functional = functional is None
        self.functional = True if functional is None else bool(functional)
        self.unit_dim = unit_dim
        self.record = record
        self.sites: dict[str, SiteAccumulator] = {}
        self.trace: dict[str, TraceInfo] = {}
        self.tracing = trace
        self.internal = False
        self.stack: list[tuple[str, str | None, bool]] = []  # (name, site kind, is leaf)
        self.calls: dict[str, int] = {}  # per forward pass: module calls, functional calls
        self.origins: dict[int, _Origin] = {}
        self.module_inputs: dict[str, str] = {}  # traced: module -> module whose output it read
        self.recording = True
        self.uncounted = 0  # forward passes not counted (``record`` said no)
        self.light = light
        self.zeros = zeros  # count the zeros of the outputs (the sparsity)
        self.handles: list[Any] = []
        self.stack_handles: list[Any] = []
        self.names = {m: n for n, m in model.named_modules()}
        self.mode: _Mode | None = None
        self._mode_entered = False
        self._install()

    # -- hooks ------------------------------------------------------------
    def _install(self) -> None:
        for name, m in self.model.named_modules():
            kind = module_kind(m)
            leaf = next(iter(m.children()), None) is None
            root = m is self.model
            if root or self.functional or self.tracing:
                hs = self.handles if root else self.stack_handles
                hs.append(m.register_forward_pre_hook(self._push(name, kind, leaf, root)))
            if kind is not None:
                if getattr(m, "inplace", False):  # the input is overwritten: read it before
                    self.handles.append(m.register_forward_pre_hook(self._site_pre(name, kind)))
                    self.handles.append(
                        m.register_forward_hook(self._site_post(name), always_call=True)
                    )
                else:  # one hook sees both the pre-activation and the output
                    self.handles.append(
                        m.register_forward_hook(self._site_both(name, kind), always_call=True)
                    )
            if root or self.functional or self.tracing:
                hs = self.handles if root else self.stack_handles
                hs.append(m.register_forward_hook(self._pop(root), always_call=True))

    def close(self) -> None:
        for h in self.handles + self.stack_handles:
            h.remove()
        self.handles.clear()
        self.stack_handles.clear()
        self._exit_mode()
        self.stack.clear()
        self.origins.clear()

    def _enter_mode(self) -> None:
        if self.functional and not self._mode_entered:
            self.mode = _Mode(self)
            self.mode.__enter__()
            self._mode_entered = True
            _watch_front(True)

    def _exit_mode(self) -> None:
        if self._mode_entered and self.mode is not None:
            self._mode_entered = False
            try:
                self.mode.__exit__(None, None, None)
            finally:
                self.mode = None
                _watch_front(False)

    def _push(self, name: str, kind: str | None, leaf: bool, root: bool):
        def hook(module: nn.Module, args: tuple) -> None:
            if root and not self.stack:
                self.calls = {}
                self.recording = bool(self.record())
                self._enter_mode()
            self.stack.append((name, kind, leaf))

        return SessionHook(hook)

    def _pop(self, root: bool):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if self.stack:
                self.stack.pop()
            # a pass that is not counted (the monitor: eval mode) traces nothing: the
            # first counted pass is the traced one
            if self.tracing and self.recording:
                self._trace_module(module, args, output)
                if root and not self.stack:
                    self._trace_output(output)
            if root and not self.stack:
                self._exit_mode()
                if not self.recording:
                    self.uncounted += 1
                if self.tracing and self.recording:
                    self.tracing = False
                    self.origins.clear()
                    if self.auto_functional and not any(
                        a.source == "functional" for a in self.sites.values()
                    ):
                        self.functional = False
                    if not self.functional:  # the module stack is only needed for tracing
                        for h in self.stack_handles:
                            h.remove()
                        self.stack_handles.clear()

        return SessionHook(hook)

    def _call_name(self, base: str) -> str:
        k = self.calls.get(base, 0)
        self.calls[base] = k + 1
        return base if k == 0 else f"{base}[{k}]"

    def _site_input(
        self, site: str, kind: str, owner: nn.Module | dict[str, Any], args: tuple
    ) -> tuple[torch.Tensor | None, Gate | None]:
        """The pre-activation of a call (the gate at a gated site) and the site's Gate."""
        if kind not in GATED_KINDS:
            return args[0], None
        acc = self.sites.get(site)
        gate = acc.gate if acc is not None and acc.gate is not None else gate_for(kind, owner)
        return gate.gate(args), gate

    def _site_both(self, name: str, kind: str):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if not args or not isinstance(args[0], torch.Tensor):
                return
            site = self._call_name(name)
            if not self.recording or not isinstance(output, torch.Tensor):
                return
            pre, gate = self._site_input(site, kind, module, args)
            if pre is None:
                return
            self.internal = True
            try:
                acc = self.sites.get(site)
                if acc is not None and acc.light and not self.tracing:
                    acc.add_light(pre, output)  # the monitor's hot path
                    return
                with torch.no_grad():
                    acc = self._acc(site, kind, "module", pre, gate)
                    acc.add_pre(pre)
                    acc.add_gate(pre)
                    acc.add_post(output)
                if self.tracing:
                    self._trace_pre(site, pre)
                    self.origins[id(output)] = _Origin(output, site, None)
            finally:
                self.internal = False

        return SessionHook(hook)

    def _site_pre(self, name: str, kind: str):
        def hook(module: nn.Module, args: tuple) -> None:
            if not args or not isinstance(args[0], torch.Tensor):
                return
            site = self._call_name(name)
            self._pending_site = site
            if not self.recording:
                return
            pre, gate = self._site_input(site, kind, module, args)
            if pre is None:
                self._pending_site = None
                return
            self.internal = True
            try:
                with torch.no_grad():
                    acc = self._acc(site, kind, "module", pre, gate)
                    acc.add_pre(pre)
                    acc.add_gate(pre)
                if self.tracing:
                    self._trace_pre(site, pre)
            finally:
                self.internal = False

        return SessionHook(hook)

    def _site_post(self, name: str):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            site = getattr(self, "_pending_site", None)
            self._pending_site = None
            if site is None or not self.recording or not isinstance(output, torch.Tensor):
                return
            self.internal = True
            try:
                with torch.no_grad():
                    self.sites[site].add_post(output)
                if self.tracing:
                    self.origins[id(output)] = _Origin(output, site, None)
            finally:
                self.internal = False

        return SessionHook(hook)

    def functional_site(self, parent: str, fname: str, kind: str, func, args, kwargs):
        base = f"{parent}.{fname}" if parent else fname
        k = self.calls.get("\0" + parent, 0)
        self.calls["\0" + parent] = k + 1
        site = f"{base}[{k}]"
        opts = kwargs
        if len(args) > 1 and isinstance(args[1], int) and not isinstance(args[1], bool):
            opts = {"dim": args[1], **kwargs}  # F.glu(x, dim)
        pre, gate = self._site_input(site, kind, opts, args)
        if pre is None:
            return func(*args, **kwargs)
        if self.recording:
            self.internal = True
            try:
                with torch.no_grad():
                    acc = self._acc(site, kind, "functional", pre, gate)
                    acc.add_pre(pre)
                    acc.add_gate(pre)
                if self.tracing:
                    self._trace_pre(site, pre)
            finally:
                self.internal = False
        out = func(*args, **kwargs)
        if self.recording and isinstance(out, torch.Tensor):
            self.internal = True
            try:
                with torch.no_grad():
                    self.sites[site].add_post(out)
                if self.tracing:
                    self.origins[id(out)] = _Origin(out, site, None)
            finally:
                self.internal = False
        return out

    def _acc(
        self,
        site: str,
        kind: str,
        source: SiteSource,
        pre: torch.Tensor,
        gate: Gate | None = None,
    ) -> SiteAccumulator:
        acc = self.sites.get(site)
        if acc is None:
            t = _as2d(pre)
            ud = self.unit_dim
            if ud is None:
                ud = auto_unit_dim(t, self._producer_module(pre))
            acc = SiteAccumulator(
                site,
                kind,
                source,
                ud,
                int(t.shape[ud]),
                light=self.light,
                gate=gate,
                zeros=self.zeros,
            )
            self.sites[site] = acc
        return acc

    # -- tracing ----------------------------------------------------------
    def _lookup(self, t: Any) -> _Origin | None:
        if not isinstance(t, torch.Tensor):
            return None
        o = self.origins.get(id(t))
        if o is not None and o.ref() is t:
            return o
        return None

    def _producer_module(self, pre: torch.Tensor) -> nn.Module | None:
        o = self._lookup(pre)
        if o is not None and o.site.startswith("\0module:"):
            return self.model.get_submodule(o.site[len("\0module:") :])
        return None

    def _trace_pre(self, site: str, pre: torch.Tensor) -> None:
        info = self.trace.setdefault(site, TraceInfo())
        o = self._lookup(pre)
        if o is not None and o.site.startswith("\0module:"):
            info.producer = o.site[len("\0module:") :]
            info.producer_input = self.module_inputs.get(info.producer)

    def _trace_module(self, module: nn.Module, args: tuple, output: Any) -> None:
        if module_kind(module) is not None or not isinstance(output, torch.Tensor):
            return
        if next(iter(module.children()), None) is not None:
            return  # containers: their leaves were traced
        name = self.names.get(module, "?")
        self.internal = True
        try:
            o = self._lookup(args[0]) if args else None
            if o is not None and not o.site.startswith("\0module:"):
                site = o.site
                if isinstance(module, _PASSTHROUGH_MODULES):
                    self.origins[id(output)] = _Origin(output, site, o.flat)
                    return
                if isinstance(module, nn.Flatten) and o.flat is None:
                    x = args[0]
                    if module.start_dim in (1, -x.ndim + 1) and module.end_dim == -1:
                        spatial = math.prod(x.shape[2:]) if x.ndim > 2 else None
                        self.origins[id(output)] = _Origin(output, site, spatial or 1)
                        return
                if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
                    self.trace[site].consumers.append((name, o.flat))
                else:
                    self.trace[site].escapes.append(f"read by {type(module).__name__} {name!r}")
            elif o is not None and isinstance(module, nn.modules.batchnorm._BatchNorm):
                self.module_inputs[name] = o.site[len("\0module:") :]
            for a in args[1:]:
                o2 = self._lookup(a)
                if o2 is not None and not o2.site.startswith("\0module:"):
                    self.trace[o2.site].escapes.append(f"extra argument of {name!r}")
            self.origins[id(output)] = _Origin(output, "\0module:" + name, None)
        finally:
            self.internal = False

    def trace_function(self, fname: str, args: tuple, kwargs: dict, out: Any) -> None:
        self.internal = True
        try:
            if _writes_in_place(fname) and args and isinstance(args[0], torch.Tensor):
                o0 = self._lookup(args[0])
                if o0 is not None and o0.site.startswith("\0module:"):
                    # an in-place op (out += identity): the tensor is no longer the
                    # module's output, so it must not be taken for a producer
                    del self.origins[id(args[0])]
            found = [
                (i, o)
                for i, a in enumerate(list(args) + list(kwargs.values()))
                if (o := self._lookup(a)) is not None and not o.site.startswith("\0module:")
            ]
            if not found or not _has_tensor(out):
                return  # metadata queries (x.size(0), x.shape) are harmless
            (i, o), rest = found[0], found[1:]
            x = args[0] if args else None
            ok = False
            if i == 0 and not rest and isinstance(out, torch.Tensor) and x is not None:
                if fname in _PASSTHROUGH_FUNCTIONS and out.shape[:2] == x.shape[:2]:
                    self.origins[id(out)] = _Origin(out, o.site, o.flat)
                    ok = True
                elif fname in _FLATTEN_FUNCTIONS:
                    if out.shape == x.shape:
                        self.origins[id(out)] = _Origin(out, o.site, o.flat)
                        ok = True
                    elif (
                        o.flat is None
                        and x.ndim > 2
                        and out.ndim == 2
                        and out.shape[0] == x.shape[0]
                        and out.shape[1] == math.prod(x.shape[1:])
                    ):
                        self.origins[id(out)] = _Origin(out, o.site, math.prod(x.shape[2:]))
                        ok = True
            if not ok:
                for _, o3 in found:
                    self.trace[o3.site].escapes.append(f"used by torch function {fname!r}")
        finally:
            self.internal = False

    def _trace_output(self, output: Any) -> None:
        outs = output if isinstance(output, (tuple, list)) else (output,)
        for t in outs:
            o = self._lookup(t)
            if o is not None and not o.site.startswith("\0module:"):
                self.trace[o.site].escapes.append("is (part of) the model's output")
