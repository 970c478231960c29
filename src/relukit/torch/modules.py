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

Gated entries (``GLU``, ``SwiGLU``, ``GeGLU``, ``ReGLU``, ``Bilinear``) take two tensors,
``forward(gate, up)``, or one split in halves along ``dim`` (``forward(x)``: the second
half is the gate, as ``torch.nn.GLU``). Parameters the catalogue marks learnable
(StarReLU's ``scale`` and ``bias``) are ``nn.Parameter`` objects of shape ``(1,)`` unless the
module is made with ``learnable=False``.

Under ``torch.jit.script`` TorchScript cannot compile relukit's Python autograd
Functions: a module with a ``torch.nn`` namesake runs that module's own ``forward``
(torch's kernels, the same settings and ``Parameter``), any other runs the entry's
formula traced into torch operations when the model is scripted (its parameters are
constants of the scripted model, learned ones included, and its gradients relukit's, as
under ``torch.jit.trace``). ``at_kink`` and ``bits`` have no TorchScript form.

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
import types
from typing import Any, Optional

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
    for n, obj in vars(nn.modules.activation).items():
        if n.lower() == key and isinstance(obj, type) and issubclass(obj, nn.Module):
            return obj  # (an activation module: torch.nn.Bilinear is a layer)
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
        _f.bind(act.name, self._script_values())
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
    def _script_values(self) -> tuple[Any, ...]:
        """The parameter values as numbers (a learned parameter's current value)."""
        return tuple(
            float(v.detach().reshape(-1)[0]) if isinstance(v, torch.Tensor) else v
            for v in self._param_values()
        )

    @torch.jit.unused
    def _torch_forward(self, input: torch.Tensor) -> torch.Tensor:  # replaced per class
        raise RuntimeError(f"{type(self).__name__} has no TorchScript form")

    def extra_repr(self) -> str:
        return _kink_repr(super().extra_repr(), self.at_kink)

    def __getstate__(self) -> dict[str, Any]:
        # the traced TorchScript form (made when the model is scripted) is not pickled
        state = dict(nn.Module.__getstate__(self))
        state.pop("_scripted", None)
        return state

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


def _traced(act: Activation, pvals: tuple[Any, ...], arity: int) -> Any:
    """The entry's formula with these parameters, traced into torch operations (what a
    scripted model runs: :mod:`relukit.torch._trace`, relukit's gradients)."""
    from relukit.torch import _core

    pl = _core.plan(act.name, _f.bind(act.name, pvals))
    example = tuple(torch.zeros(4, dtype=torch.float64) for _ in range(arity))

    def one(x: torch.Tensor) -> torch.Tensor:
        return _core.apply(pl, x, False, None)

    def two(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        return _core.apply_gated(pl, gate, up, None)

    return torch.jit.trace(one if arity == 1 else two, example, check_trace=False)


class _TracedScript:
    """TorchScript form of an entry ``torch.nn`` lacks: its formula, traced when the model
    is scripted (``torch.jit.script`` calls ``__prepare_scriptable__`` first)."""

    def __prepare_scriptable__(self) -> Any:
        s: Any = self
        s._scripted = _traced(s._activation(), s._script_values(), 1)
        return self

    def _torch_forward(self, input: torch.Tensor) -> torch.Tensor:
        return self._scripted(input)  # type: ignore[attr-defined]


class _GatedForward:
    """Gated entries: ``forward(gate, up)``, or ``forward(x)`` split in halves along
    ``dim`` (the second half is the gate, as ``torch.nn.GLU``)."""

    dim = -1

    def forward(self, input: torch.Tensor, up: Optional[torch.Tensor] = None) -> torch.Tensor:  # noqa: UP045 (TorchScript)
        s: Any = self
        if torch.jit.is_scripting():
            if s.at_kink is not None:
                raise RuntimeError("relukit.torch: at_kink has no TorchScript form")
            if up is None:
                parts = input.chunk(2, s.dim)
                return s._scripted(parts[1], parts[0])
            return s._scripted(input, up)
        return s._relukit_gated(input, up)

    @torch.jit.unused
    def _relukit_gated(self, input: torch.Tensor, up: Optional[torch.Tensor]) -> torch.Tensor:  # noqa: UP045
        s: Any = self
        name = s._activation().name
        return _f.apply_gated(name, input, up, s._param_values(), s.at_kink, s.dim)

    def __prepare_scriptable__(self) -> Any:
        s: Any = self
        s._scripted = _traced(s._activation(), s._script_values(), 2)
        return self


class _LearnedForward:
    """Entries with learnable parameters (StarReLU's ``scale`` and ``bias``): with
    ``learnable=True`` (the default) they are ``nn.Parameter`` objects, and forward runs
    :func:`relukit.torch._core.apply_learned` (keeps the input and the parameters)."""

    @torch.jit.unused
    def _relukit_forward(self, input: torch.Tensor) -> torch.Tensor:
        s: Any = self
        act = s._activation()
        values = [getattr(s, n) for n in s._pnames]
        if not any(isinstance(v, torch.Tensor) for v in values):
            return _RelukitModule._relukit_forward(s, input)
        _f._tensor(act.name, input)
        if not input.is_floating_point():
            raise TypeError(
                f"relukit.torch.{act.name}: input must be a floating-point tensor, got "
                f"{input.dtype}"
            )
        if s.inplace:
            return input.copy_(_core_apply_learned(act, input, values))
        return _core_apply_learned(act, input, values)


def _core_apply_learned(act: Activation, x: torch.Tensor, values: list[Any]) -> torch.Tensor:
    from relukit.torch import _core

    ps = tuple(v if isinstance(v, torch.Tensor) else torch.tensor(v) for v in values)
    return _core.apply_learned(act, x, ps)


#: the generated classes that need their own forward, by catalogue name
_MIXINS: dict[str, type] = {"prelu": _PReLUForward, "rrelu": _RReLUForward}
_MIXINS.update(dict.fromkeys(_fewbit.PARAMS, _FewBitForward))


def _scriptable_twin(base: type[nn.Module]) -> Any:
    """``base.forward`` under the name ``_torch_forward``, for TorchScript.

    TorchScript compiles a method from the source of its function and allows one
    ``forward`` per class; a copy of torch's own function object whose code is renamed
    (the same bytecode, globals and source lines) compiles as a second method.
    """
    fn = base.forward
    qualname = f"{base.__name__}._torch_forward"
    # (co_name only: code objects have co_qualname from Python 3.11; the function's
    # __qualname__ below is what TorchScript and tracebacks read)
    code = fn.__code__.replace(co_name="_torch_forward")
    twin = types.FunctionType(code, fn.__globals__, "_torch_forward", fn.__defaults__)
    twin.__qualname__ = qualname
    twin.__module__ = fn.__module__
    twin.__annotations__ = dict(fn.__annotations__)
    return twin


def _generic_init(act: Activation) -> Any:
    names = [p.name for p in act.params_list]
    learned = [p.name for p in act.params_list if p.learnable]

    def __init__(
        self: Any,
        *args: Any,
        inplace: bool = False,
        at_kink: Any = None,
        dim: int = -1,
        learnable: bool = True,
        **kw: Any,
    ) -> None:
        where = f"relukit.torch.{type(self).__name__}"
        _no_bits(where, kw)
        nn.Module.__init__(self)
        bound = act.bind(args, kw)
        if not isinstance(inplace, bool):
            raise TypeError(f"{where}: inplace must be True or False, got {inplace!r}")
        if not isinstance(learnable, bool):
            raise TypeError(f"{where}: learnable must be True or False, got {learnable!r}")
        if act.gated:
            if inplace:
                raise TypeError(f"{where}: a gated unit has no in-place form")
            if isinstance(dim, bool) or not isinstance(dim, int):
                raise TypeError(f"{where}: dim must be an int, got {dim!r}")
            self.dim = dim
        for n in names:
            v = bound[n]
            if n in learned and learnable:
                v = nn.Parameter(torch.full((1,), float(v)))
            setattr(self, n, v)
        self.inplace = inplace
        self._relukit_init(at_kink)

    def extra_repr(self: Any) -> str:
        parts = []
        for n in names:
            v = getattr(self, n)
            if isinstance(v, torch.Tensor):
                parts.append(f"{n}={float(v.detach().reshape(-1)[0])!r}")
            else:
                parts.append(f"{n}={v!r}")
        if act.gated and self.dim != -1:
            parts.append(f"dim={self.dim}")
        if self.inplace:
            parts.append("inplace=True")
        if learned and not any(isinstance(getattr(self, n), torch.Tensor) for n in learned):
            parts.append("learnable=False")
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
        forms: tuple[type, ...] = (_GatedForward,) if act.gated else (_TracedScript,)
        if any(p.learnable for p in act.params_list):
            forms = (_LearnedForward, *forms)
        bases: tuple[type, ...] = (*forms, _RelukitModule)
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
        mixin = _GatedForward if act.gated else _MIXINS.get(act.name)
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
