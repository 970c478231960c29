"""``nn.Module``s that are drop-in for ``torch.nn``'s activations, made from the catalogue.

Each class is generated from a catalogue entry (:func:`make_module`): when ``torch.nn``
has a module of the same name (``relu`` -> ``torch.nn.ReLU``, ``leaky_relu`` ->
``torch.nn.LeakyReLU``, ...), the class subclasses it, so the constructor, the
attributes (``inplace``, ``negative_slope``, ...), the state dict and
``isinstance(m, torch.nn.ReLU)`` are torch's; ``forward`` changes (to
:mod:`relukit.torch`'s autograd Functions), reading the parameters from the attributes
that carry the catalogue's parameter names, and the ``repr`` is torch's with relukit's
name (``relukit.torch.ReLU()``), so that ``print(model)`` shows which modules are
relukit's. Entries with kinks take one more keyword,
``at_kink``: the derivative used exactly at a kink (``None``: torch's value). An entry
with no ``torch.nn`` namesake gets a plain ``nn.Module`` whose constructor takes the
catalogue's parameters (``inplace`` too). ``relukit_activation`` is the catalogue entry.

Under ``torch.jit.script`` the ``forward`` of the ``torch.nn`` namesake runs (same
settings, same ``Parameter`` for PReLU): TorchScript cannot compile relukit's Python
autograd Functions, so a scripted model computes with torch's kernels (and has no
``at_kink``).

To add keywords to a generated class, subclass it::

    class GELU(make_module("gelu")):
        def __init__(self, approximate="none", *, bits=None): ...

>>> import torch, relukit.torch as rt
>>> rt.LeakyReLU(0.2, inplace=True)
relukit.torch.LeakyReLU(negative_slope=0.2, inplace=True)
>>> rt.ReLU(at_kink=1.0)
relukit.torch.ReLU(at_kink=1.0)
>>> isinstance(rt.ReLU(), torch.nn.ReLU), rt.ReLU.relukit_activation.name
(True, 'relu')
"""

from __future__ import annotations

import inspect
import linecache
import textwrap
from typing import Any

import torch
from torch import nn

from relukit.catalogue import Activation, catalogue, get
from relukit.torch import _fewbit, _prelu
from relukit.torch import _functions as _f
from relukit.torch._levels import check_bits

__all__ = ["MODULES", "make_module", "torch_module"]


def torch_module(act: Activation) -> type[nn.Module] | None:
    """The ``torch.nn`` module named like ``act`` (``leaky_relu`` -> ``LeakyReLU``), or None."""
    key = act.name.replace("_", "")
    for n, obj in vars(nn).items():
        if n.lower() == key and isinstance(obj, type) and issubclass(obj, nn.Module):
            return obj
    return None


def _no_bits(where: str, kwargs: dict[str, Any]) -> None:
    """A clear TypeError for ``bits=`` given to a module that has no few-bit backward."""
    if "bits" in kwargs:
        takes = ", ".join(torch_module(get(n)).__name__ for n in _fewbit.PARAMS)  # type: ignore[union-attr]
        raise TypeError(
            f"{where}: got bits={kwargs['bits']!r}, but only {takes} take bits= (a few-bit "
            f"backward for a smooth activation); {where.rsplit('.', 1)[-1]} keeps its exact "
            "backward"
        )


def _kink_repr(base: str, at_kink: float | None) -> str:
    if at_kink is None:
        return base
    return f"{base}, at_kink={at_kink!r}" if base else f"at_kink={at_kink!r}"


class _RelukitModule(nn.Module):
    """What every generated module shares: ``at_kink``, validation, ``forward``."""

    # (no class annotations: TorchScript reads them and knows no ``float | None``)
    _pnames = ()  # the catalogue's parameter names, read from attributes of that name
    at_kink = None

    def _relukit_init(self, at_kink: Any) -> None:
        act = self._activation()
        if at_kink is not None and not act.kinks:
            raise TypeError(f"{type(self).__name__}: has no kinks, so it takes no at_kink")
        # validate through the catalogue (its messages); keep torch's values for the repr
        _f.bind(act.name, self._param_values())
        self.at_kink = _f._check_at_kink(act.name, at_kink)  # type: ignore[assignment]

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():  # TorchScript: torch.nn's own forward (same settings)
            if self.at_kink is not None:
                raise RuntimeError("relukit.torch: at_kink has no TorchScript form")
            if hasattr(self, "bits"):  # noqa: SIM102 (TorchScript decides hasattr when compiling)
                if self.bits is not None:
                    raise RuntimeError("relukit.torch: bits has no TorchScript form")
            return self._torch_forward(input)
        return self._relukit_forward(input)

    @torch.jit.unused
    def _relukit_forward(self, input: torch.Tensor) -> torch.Tensor:
        inplace = getattr(self, "inplace", False)
        return _f.apply(self._activation().name, input, self._param_values(), inplace, self.at_kink)

    @torch.jit.unused
    def _activation(self) -> Activation:
        """The catalogue entry (a class attribute, set by :func:`make_module`)."""
        act: Activation = type(self).relukit_activation  # type: ignore[attr-defined]
        return act

    @torch.jit.unused
    def _param_values(self) -> tuple[Any, ...]:
        names: tuple[str, ...] = self._pnames
        return tuple([getattr(self, n) for n in names])

    @torch.jit.unused
    def _torch_forward(self, input: torch.Tensor) -> torch.Tensor:  # replaced per class
        raise RuntimeError(f"{type(self).__name__} has no TorchScript form")

    def extra_repr(self) -> str:
        return _kink_repr(super().extra_repr(), self.at_kink)

    def _get_name(self) -> str:
        """The name in ``repr``/``print(model)``: ``relukit.torch.ReLU``, so that a printed
        model shows which modules are relukit's."""
        return f"relukit.torch.{type(self).__name__}"


class _PReLUForward:
    @torch.jit.unused
    def _relukit_forward(self, input: torch.Tensor) -> torch.Tensor:
        return _prelu.prelu(input, self.weight, at_kink=self.at_kink)  # type: ignore[attr-defined]

    def _relukit_init(self, at_kink: Any) -> None:  # the weight is validated by torch
        self.at_kink = _f._check_at_kink("prelu", at_kink)


class _RReLUForward:
    """RReLU reads torch's ``training`` flag: torch's ``F.rrelu`` in training, the lean
    leaky_relu with the mean slope in evaluation (:func:`relukit.torch.rrelu`)."""

    @torch.jit.unused
    def _relukit_forward(self, input: torch.Tensor) -> torch.Tensor:
        s: Any = self
        return _f.rrelu(input, s.lower, s.upper, s.training, s.inplace, at_kink=s.at_kink)

    @torch.jit.unused
    def _param_values(self) -> tuple[Any, ...]:
        s: Any = self
        return (s.lower, s.upper)

    def _relukit_init(self, at_kink: Any) -> None:
        s: Any = self
        _f._rrelu_bounds(s.lower, s.upper)  # validate (no random seed drawn)
        s.at_kink = _f._check_at_kink("rrelu", at_kink)


class _FewBitForward:
    """``bits=1..4``: the few-bit backward of :mod:`relukit.torch._fewbit`; ``None``
    (the default): the exact path. Set by the constructor's keyword-only ``bits``."""

    bits = None

    @torch.jit.unused
    def _relukit_forward(self, input: torch.Tensor) -> torch.Tensor:
        s: Any = self
        if s.bits is None:
            return _RelukitModule._relukit_forward(s, input)
        name = s._activation().name
        return _f.fewbit(name, input, s._param_values(), s.bits, getattr(s, "inplace", False))

    def extra_repr(self) -> str:
        base: str = super().extra_repr()  # type: ignore[misc]
        if self.bits is None:
            return base
        return f"{base}, bits={self.bits}" if base else f"bits={self.bits}"


#: the generated classes that need their own forward, by catalogue name
_MIXINS: dict[str, type] = {"prelu": _PReLUForward, "rrelu": _RReLUForward}
_MIXINS.update(dict.fromkeys(_fewbit.PARAMS, _FewBitForward))


def _scriptable_twin(base: type[nn.Module]) -> Any:
    """``base.forward`` as a function named ``_torch_forward``, for TorchScript.

    TorchScript compiles from source and allows one ``forward`` per class, so the source
    of torch's ``forward`` is compiled again under another name (registered with
    :mod:`linecache`, where ``inspect.getsource`` finds it).
    """
    fn = base.forward
    src = textwrap.dedent(inspect.getsource(fn)).replace("def forward(", "def _torch_forward(", 1)
    filename = f"<relukit.torch: TorchScript form of torch.nn.{base.__name__}.forward>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace: dict[str, Any] = {}
    exec(compile(src, filename, "exec"), fn.__globals__, namespace)
    twin = namespace["_torch_forward"]
    twin.__qualname__ = f"{base.__name__}._torch_forward"
    return twin


def _generic_init(act: Activation) -> Any:
    names = [p.name for p in act.params_list]

    def __init__(self: Any, *args: Any, inplace: bool = False, at_kink: Any = None, **kw: Any):
        _no_bits(f"relukit.torch.{type(self).__name__}", kw)
        nn.Module.__init__(self)
        bound = act.bind(args, kw)
        for n in names:
            setattr(self, n, bound[n])
        if not isinstance(inplace, bool):
            raise TypeError(f"{act.name}: inplace must be True or False, got {inplace!r}")
        self.inplace = inplace
        self._relukit_init(at_kink)

    def extra_repr(self: Any) -> str:
        parts = [f"{n}={getattr(self, n)!r}" for n in names]
        if self.inplace:
            parts.append("inplace=True")
        return _kink_repr(", ".join(parts), self.at_kink)

    return __init__, extra_repr


def make_module(name: str) -> type[nn.Module]:
    """Build the ``nn.Module`` class of catalogue entry ``name`` (see the module doc).

    >>> import torch
    >>> from relukit.torch.modules import make_module
    >>> ReLU6 = make_module("relu6")
    >>> ReLU6.__name__, issubclass(ReLU6, torch.nn.ReLU6)
    ('ReLU6', True)
    """
    act = get(name)
    base = torch_module(act)
    kinked = bool(act.kinks)
    doc = f"{act.summary}\n\n    {act.formula}\n"
    if base is None:
        init, extra_repr = _generic_init(act)
        ns = {"__init__": init, "extra_repr": extra_repr}
        cls_name = act.title.replace(" ", "")
        bases: tuple[type, ...] = (_RelukitModule,)
    else:
        cls_name = base.__name__
        doc = f"``torch.nn.{cls_name}`` running relukit's autograd Function.\n\n" + doc
        sig = inspect.signature(base.__init__)

        fewbit = act.name in _fewbit.PARAMS

        def __init__(self: Any, *args: Any, at_kink: Any = None, **kwargs: Any) -> None:
            if not fewbit:
                _no_bits(f"relukit.torch.{cls_name}", kwargs)
            bits = kwargs.pop("bits", None) if fewbit else None
            base.__init__(self, *args, **kwargs)
            self._relukit_init(at_kink)
            if fewbit:
                self.bits = check_bits(f"relukit.torch.{cls_name}", bits)
                if bits is not None and at_kink is not None:
                    raise ValueError(
                        f"relukit.torch.{cls_name}: at_kink and bits cannot be combined"
                    )

        params = list(sig.parameters.values())
        kw_only = inspect.Parameter.KEYWORD_ONLY
        if kinked:
            params.append(inspect.Parameter("at_kink", kw_only, default=None))
        if fewbit:
            params.append(inspect.Parameter("bits", kw_only, default=None))
        __init__.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        ns = {"__init__": __init__, "_torch_forward": _scriptable_twin(base)}
        mixin = _MIXINS.get(act.name)
        bases = (mixin, _RelukitModule, base) if mixin else (_RelukitModule, base)
    ns.update(
        {
            "__doc__": doc,
            "__module__": __name__,
            "__qualname__": cls_name,
            "relukit_activation": act,
            "_pnames": () if act.name == "prelu" else tuple(act.params),
        }
    )
    return type(cls_name, bases, ns)


#: every catalogue entry's module class, by catalogue name
MODULES: dict[str, type[nn.Module]] = {a.name: make_module(a.name) for a in catalogue()}
globals().update({cls.__name__: cls for cls in MODULES.values()})
__all__ += sorted(cls.__name__ for cls in MODULES.values())


def __getattr__(name: str) -> type[nn.Module]:
    """Only for type checkers: the generated classes (``ReLU``, ``GELU``, ...) are in the
    module's namespace already, so an unknown name is an error."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
