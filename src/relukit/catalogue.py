"""The catalogue: the :class:`Activation` type, its parameters and kinks, and the registry.

Every activation is defined **once**, as an :class:`Activation` registered here by
:mod:`relukit.activations`. Its math (:class:`Math`: the value, the derivative and, where
it exists, the derivative from the output) is written once against a math namespace
``m`` (:mod:`relukit._prims`); every backend runs those same functions with its own
namespace: the numba kernels behind NumPy arrays and Python numbers, the Array API
libraries, torch and Triton. Every other front end (plots, the command line, the
generated docs) reads this catalogue, so adding an activation is one new block in
:mod:`relukit.activations`.

Examples
--------
>>> import relukit as rk
>>> rk.get("LeakyReLU") is rk.leaky_relu
True
>>> [a.name for a in rk.catalogue()][:2]
['relu', 'leaky_relu']
>>> rk.relu.kinks[0].at
'0'
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from relukit import _dispatch

__all__ = [
    "Activation",
    "Kink",
    "Param",
    "ParamKind",
    "UnknownActivationError",
    "catalogue",
    "get",
    "register",
]


class UnknownActivationError(LookupError, ValueError):
    """Raised by :func:`get` for a name that is neither an activation nor an alias."""


# ---------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------


def _is_real(value: Any) -> bool:
    """True for int/float/NumPy real scalars, False for bool, complex, str, arrays."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    return isinstance(value, numbers.Real)


#: what a parameter accepts: a real number, one of some strings, a real number or an
#: array of them (PReLU's weight), True/False, or a random seed (an int, a NumPy
#: ``Generator`` or None)
ParamKind = Literal["real", "choice", "weight", "flag", "seed"]

_SEED_BOUND = 2**63  # seeds drawn for a call are in [0, 2**63)


def _fresh_seed(value: Any) -> int | None:
    """The seed for one call: an int as given, one draw from a Generator, None: the OS."""
    if value is None:
        return int.from_bytes(os.urandom(8), "little") % _SEED_BOUND
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0:
        return int(value)
    integers = getattr(value, "integers", None)  # numpy.random.Generator
    if callable(integers) and hasattr(value, "bit_generator"):
        return int(integers(_SEED_BOUND))
    return None


@dataclass(frozen=True)
class Param:
    """A parameter of an activation.

    Parameters
    ----------
    name
        The keyword, spelled as in PyTorch/JAX (``negative_slope``, ``alpha``, ...).
    default
        The default value (PyTorch's default).
    doc
        One line for the docs and ``relukit list``.
    kind
        ``"real"`` (a real number), ``"choice"`` (one of ``choices``), ``"weight"``
        (a real number or an array of them, e.g. PReLU's per-channel weight), ``"flag"``
        (True or False) or ``"seed"`` (None, an int >= 0 or a ``numpy.random.Generator``;
        validation turns it into the int seed of this one call, so the value and the
        derivative of one call see the same random numbers).
    finite
        For ``"real"``: reject NaN and ±inf.
    low, high
        For ``"real"``: the open or closed bounds (see ``low_inclusive``/``high_inclusive``).
    choices
        For ``"choice"``: the accepted values.
    keyword_only
        Passed by keyword only (after ``*`` in the signature), as ``training`` and
        ``rng`` of rrelu.
    learnable
        For ``"real"``: relukit.torch's module learns it (an ``nn.Parameter`` of shape
        ``(1,)``, StarReLU's scale and bias), unless made with ``learnable=False``.
    """

    name: str
    default: Any
    doc: str = ""
    kind: ParamKind = "real"
    finite: bool = True
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    choices: tuple[Any, ...] = ()
    keyword_only: bool = False
    learnable: bool = False

    def accepted(self) -> str:
        """Describe the accepted values, for error messages and docs."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "weight":
            return "a real number or an array of real numbers"
        if self.kind == "flag":
            return "True or False"
        if self.kind == "seed":
            return "None, an int >= 0 or a numpy.random.Generator"
        text = "a finite real number" if self.finite else "a real number"
        if self.low is not None:
            text += f" {'>=' if self.low_inclusive else '>'} {self.low:g}"
        if self.high is not None:
            text += (" and" if self.low is not None else "") + (
                f" {'<=' if self.high_inclusive else '<'} {self.high:g}"
            )
        return text

    def validate(self, value: Any, owner: str) -> Any:
        """Return ``value`` normalised (a Python float for reals) or raise.

        Raises
        ------
        TypeError
            For a value of the wrong type (bool, str, None, complex, ...).
        ValueError
            For a value of the right type outside the accepted range.
        """
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise ValueError(
                f"{owner}: {self.name} must be {self.accepted()}, got {_dispatch._describe(value)}"
            )
        if self.kind == "flag":
            if isinstance(value, bool) or type(value).__name__ == "bool_":
                return bool(value)
            raise TypeError(
                f"{owner}: {self.name} must be {self.accepted()}, "
                f"got {value!r} ({type(value).__name__})"
            )
        if self.kind == "seed":
            seed = _fresh_seed(value)
            if seed is None:
                raise TypeError(
                    f"{owner}: {self.name} must be {self.accepted()}, "
                    f"got {value!r} ({type(value).__name__})"
                )
            return seed
        if self.kind == "weight" and not _is_real(value):
            # arrays are validated by the activation's own code (shape, dtype)
            if hasattr(value, "shape") and hasattr(value, "dtype"):
                return value
            if isinstance(value, (list, tuple)):
                return value
        if not _is_real(value):
            raise TypeError(
                f"{owner}: {self.name} must be {self.accepted()}, got {_dispatch._describe(value)}"
            )
        try:
            value = float(value)
        except OverflowError:  # an int or Fraction beyond every float (10**400)
            raise ValueError(
                f"{owner}: {self.name} must be {self.accepted()}, got "
                f"{_dispatch._describe(value)}, which is too large to convert to a float"
            ) from None
        bad = (self.finite and not math.isfinite(value)) or math.isnan(value)
        if self.low is not None:
            bad |= value < self.low if self.low_inclusive else value <= self.low
        if self.high is not None:
            bad |= value > self.high if self.high_inclusive else value >= self.high
        if bad:
            raise ValueError(f"{owner}: {self.name} must be {self.accepted()}, got {value!r}")
        return value


# ---------------------------------------------------------------------------
# kinks
# ---------------------------------------------------------------------------

ParamFn = Callable[[Mapping[str, Any]], float]


def _const(v: float) -> ParamFn:
    return lambda p: v


@dataclass(frozen=True)
class Kink:
    """A point where the derivative jumps, and the convention relukit uses there.

    Parameters
    ----------
    at
        The location as text (``"0"``, ``"6"``, ``"min_val"``), for docs and tables.
    location
        The location as a function of the bound parameters.
    left, right
        The one-sided limits of the derivative, as functions of the parameters.
    default
        The derivative relukit returns AT the kink when ``at_kink`` is not given
        (PyTorch autograd's value), as a function of the parameters.
    note
        Why this default, and what JAX / TF do (for the docs).
    """

    at: str
    location: ParamFn
    left: ParamFn
    right: ParamFn
    default: ParamFn
    note: str = ""

    @staticmethod
    def fixed(
        at: float,
        left: float | ParamFn,
        right: float | ParamFn,
        default: float | ParamFn,
        note: str = "",
    ) -> Kink:
        """Build a kink at a fixed location with constant or parameter-dependent limits."""
        wrap = lambda v: v if callable(v) else _const(float(v))  # noqa: E731
        return Kink(f"{at:g}", _const(float(at)), wrap(left), wrap(right), wrap(default), note)

    def __repr__(self) -> str:
        try:
            _, left, right, used = self.resolve({})
        except (KeyError, TypeError, ValueError):  # depends on the activation's parameters
            return f"Kink(at={self.at!r}, note={self.note!r})"
        return f"Kink(at={self.at!r}, left={left!r}, right={right!r}, default={used!r})"

    def resolve(self, params: Mapping[str, Any]) -> tuple[float, float, float, float]:
        """Return ``(location, left, right, default)`` as numbers for these parameters."""
        return (
            float(self.location(params)),
            float(self.left(params)),
            float(self.right(params)),
            float(self.default(params)),
        )


# ---------------------------------------------------------------------------
# the math of an entry
# ---------------------------------------------------------------------------

Formula = Callable[..., Any]


#: float32's largest finite number plus half its last ulp (at or above: rounds to inf),
#: and half its smallest subnormal (at or below: rounds to 0)
_F32_INF = 2.0**128 * (1 - 2.0**-25)
_F32_ZERO = 2.0**-150


def _is_half(dtype: Any) -> bool:
    """Whether a dtype (NumPy, torch or JAX dtype object, or name) is float16 or
    bfloat16. (No cache: a dict filled under torch.compile is a guard that recompiles.)"""
    name = getattr(dtype, "name", None)  # NumPy and JAX dtypes
    if not isinstance(name, str):  # torch.float16, or a name already
        name = str(dtype).rpartition(".")[2]
    return name in ("float16", "bfloat16")


class _HalfParams:
    """The default ``check_dtype`` of an entry with real parameters and inexact formulas:
    float16 and bfloat16 inputs compute with the parameters rounded to float32 (PyTorch's
    "opmath"), so a parameter that is not 0 there must not become 0 or ±inf, where the
    formulas would give NaN (``x / 0``, ``0 * inf``) or a wrong limit; such a value is a
    ValueError naming the parameter, rather than a silently wrong result."""

    __slots__ = ("names", "owner")

    def __init__(self, owner: str, names: tuple[str, ...]) -> None:
        self.owner, self.names = owner, names

    def __call__(self, params: Mapping[str, Any], dtype: Any) -> None:
        if _is_half(dtype):
            self.check(params, dtype)

    def check(self, params: Mapping[str, Any], dtype: Any) -> None:
        """The check for an input of ``dtype`` computed in float32 (relukit.jax computes
        float32 input in float32)."""
        for name in self.names:
            v = params[name]
            if not isinstance(v, (int, float)) or v == 0 or not math.isfinite(v):
                continue
            if abs(v) >= _F32_INF or abs(v) <= _F32_ZERO:
                to = "inf" if abs(v) >= _F32_INF else "0"
                dt = getattr(dtype, "name", None) or str(dtype).rpartition(".")[2]
                raise ValueError(
                    f"{self.owner}: {name} = {v!r} rounds to {to} in float32, the precision "
                    f"{dt} input is computed in; give float32 or float64 input, or {name} "
                    f"of magnitude between 1.4e-45 and 3.4e+38"
                )


@dataclass(frozen=True)
class Math:
    """An activation's math, written once against a namespace ``m`` (:mod:`relukit._prims`).

    Each formula is ``f(m, x, *args)``: ``args`` are the formula's arguments, by default
    the activation's parameters in order (see ``args``). Every backend runs the same
    functions: NumPy and the Array API libraries, Python floats, the numba kernels,
    torch and Triton. NaN inputs need no care in a formula: every backend returns the
    input's NaN (quieted) for values, derivatives and gradients.

    Attributes
    ----------
    value, derivative
        The value and the derivative (without ``at_kink``: the kinks' default
        convention comes out of the formula itself, e.g. ``where(x > 0, 1, 0)``).
    from_output
        The derivative written from the output ``y`` (NNlib style): backward then keeps
        the output instead of the input. Valid where ``output_ok(*args)`` holds.
    both
        ``both(m, x, *args) -> (value, derivative)``: the two at once, bit for bit
        those of :attr:`value` and :attr:`derivative`, for the kernels that need both
        (a gated entry's backward, ``both`` calls), where the formulas share their
        costly parts (an ``exp``, a division): the compilers do not merge the two
        calls' common work on their own. Written from the same helpers as the two
        formulas (``tests/test_kernels.py`` pins it to them); ``None``: the two
        formulas, called one after the other.
    args
        ``args(params, x=None, xp=None)``: the formula's arguments from the bound
        parameters (with ``x`` and its namespace where a parameter must be shaped to
        ``x``, as PReLU's weight), or ``None`` where no formula applies (rrelu in
        training: ``train`` computes it).
    exact
        The formulas are exact in every precision (selections, and a product by a
        parameter rounded to the input's dtype: the piecewise-linear entries). They run
        in the input's dtype, and Python floats give the kernels' bits through
        :mod:`math`. Otherwise a formula runs in float64 for float32 and float16 inputs
        on the CPU and its result is rounded once.
    lean
        ``lean(*args)``: whether the lean float32 namespace (``m.LEAN``) suits these
        arguments; ``None``: always.
    lean_tails
        The lean forms stay accurate (6e-14 relative) in the tails down to values of
        1e-84, so that ``f(gate) * up`` with any finite float32 ``up`` is right too: a
        gated entry's float32 kernels may use them. False where the lean forms clip
        sooner (gelu's erf form clips x at -15, where gelu is 5e-50).
    choices
        ``(param, {value: Math})``: a choice parameter selects a whole formula (gelu's
        ``approximate``); the chosen Math's formulas take the other arguments.
    train
        ``train(xp, x, params) -> (value, derivative)`` for parameters that ``args``
        declines.
    channel
        The parameter that may hold one value per channel (axis 1 of ``x``: PReLU's
        weight); the kernels then take it per block.
    cost
        The kernels' work per element, which sets how large a call must be before it
        is shared between threads: ``"memory"`` (a few operations: the exact entries),
        ``"light"`` (a division or two), ``"compute"`` (an ``exp``), ``"heavy"`` (more).
    """

    value: Formula
    derivative: Formula
    from_output: Formula | None = None
    both: Formula | None = None
    output_ok: Callable[..., bool] | None = None
    args: Callable[..., tuple[Any, ...] | None] | None = None
    exact: bool = False
    lean: Callable[..., bool] | None = None
    lean_tails: bool = True
    choices: tuple[str, Mapping[str, Math]] | None = None
    train: Callable[..., tuple[Any, Any]] | None = None
    channel: str | None = None
    cost: Literal["memory", "light", "compute", "heavy"] | None = None

    @property
    def work(self) -> Literal["memory", "light", "compute", "heavy"]:
        """:attr:`cost`, by default ``"memory"`` for exact formulas, else ``"compute"``."""
        return self.cost or ("memory" if self.exact else "compute")

    @staticmethod
    def choice(param: str, variants: Mapping[str, Math]) -> Math:
        """A Math whose formulas are chosen by the value of the parameter ``param``."""
        first = next(iter(variants.values()))
        return Math(first.value, first.derivative, choices=(param, dict(variants)))

    def resolve(
        self, params: Mapping[str, Any], x: Any = None, xp: Any = None
    ) -> tuple[Math, tuple[Any, ...] | None]:
        """``(math, args)``: the formulas for these parameters and their arguments
        (``args`` is ``None`` where :attr:`train` computes the value instead)."""
        if self.choices is not None:
            name, variants = self.choices
            rest = {k: v for k, v in params.items() if k != name}
            return variants[params[name]].resolve(rest, x, xp)
        if self.args is not None:
            return self, self.args(params, x, xp)
        return self, tuple(params.values())

    def trained(self, xp: Any, x: Any, params: Mapping[str, Any]) -> tuple[Any, Any]:
        """``(value, derivative)`` by :attr:`train`, for the parameters that ``args``
        declines."""
        if self.train is None:
            raise TypeError("these parameters need a train formula, and the entry has none")
        return self.train(xp, x, params)

    def can_use_output(self, args: tuple[Any, ...] | None) -> bool:
        """Whether :attr:`from_output` gives the derivative for these arguments."""
        if self.from_output is None or args is None:
            return False
        return self.output_ok is None or bool(self.output_ok(*args))


# ---------------------------------------------------------------------------
# the activation object
# ---------------------------------------------------------------------------

#: how the words of a name are written in titles, as in the papers and torch.nn
_DISPLAY_WORDS = {
    w.lower(): w
    for w in (
        *("ReLU", "ReLU6", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU"),
        *("GLU", "ReGLU", "GeGLU", "SwiGLU"),  # the gated units, as Shazeer (2020) writes them
    )
}


def display_name(name: str) -> str:
    """The name as people write it: ``"ReLU"``, ``"Leaky ReLU"``, ``"GELU"``, ``"Hardtanh"``.

    >>> display_name("leaky_relu"), display_name("silu"), display_name("hardswish")
    ('Leaky ReLU', 'SiLU', 'Hardswish')
    """
    return " ".join(_DISPLAY_WORDS.get(w, w.capitalize()) for w in name.split("_"))


@dataclass(eq=False)
class Activation:
    """One activation function: value, derivative and metadata, defined once.

    Call it like a function: ``act(x, *params, out=None)``. See :mod:`relukit` for
    the input semantics (Python numbers, lists, NumPy, Array API arrays).

    Attributes
    ----------
    name : str
        Canonical name (``"leaky_relu"``).
    aliases : tuple of str
        Other accepted names (``"leaky-relu"``, ``"LeakyReLU"`` are matched anyway).
    formula, derivative_formula : str
        Plain-text formulas.
    latex, derivative_latex : str
        The same in LaTeX.
    params : Mapping[str, Param]
        The parameters in positional order, with defaults and accepted ranges.
    kinks : tuple of Kink
        The points where the derivative jumps, with the convention used there.
    integer_preserving : bool
        Integer inputs give integer outputs (relu, relu6); otherwise the default float.
    nonnegative_output : bool
        The value is >= 0 at every input, for every parameter value (relu, softplus,
        ...): sums of outputs need no ``abs``.
    gated : bool
        A gated linear unit (swiglu, geglu, reglu, glu, bilinear): the value is
        ``f(gate) * up`` for two inputs, ``f`` the formulas of :attr:`math`. Called with
        two arrays, ``act(gate, up)``, or with one split in halves along ``dim`` (as
        ``torch.nn.GLU``: the gate is the second half), ``act(x, dim=-1)``; the
        derivative is the pair ``(d/d gate, d/d up)`` (one array shaped like ``x`` in the
        split form: ``d/d up`` in the first half, ``d/d gate`` in the second).
    zero_gradient_below : bool
        For every parameter value, the value and the derivative are 0 at every x <= 0
        and the value is > 0 at every x > 0 (relu, relu6; squared_relu where x**2 does
        not underflow, above 1.5e-162, below which its gradient 2x is negligible too): a
        unit whose pre-activation
        never exceeds 0 gets no gradient and cannot recover (a dead unit), and the sum
        of the outputs alone tells whether it ever was > 0.
    """

    name: str
    formula: str
    derivative_formula: str
    latex: str
    derivative_latex: str
    math: Math
    summary: str = ""
    params_list: tuple[Param, ...] = ()
    kinks: tuple[Kink, ...] = ()
    aliases: tuple[str, ...] = ()
    integer_preserving: bool = False
    title: str = ""
    torch_name: str | None = None
    jax_name: str | None = None
    differences: str = ""
    examples: str = ""
    nonnegative_output: bool = False
    zero_gradient_below: bool = False
    gated: bool = False
    #: optional ``f(params)`` run by :meth:`bind` after each parameter is validated, for
    #: checks across parameters (hardtanh's ``max_val >= min_val``); raises ValueError.
    check_params: Callable[[dict], None] | None = None
    #: optional ``f(params, dtype)``: checks of the bound parameters against the
    #: floating dtype a call computes in (leaky_relu's slope must round to a normal
    #: number of it); raises ValueError. Every front end runs it before computing:
    #: ``dtype`` is a NumPy dtype, a torch or JAX dtype, or ``"float64"`` for Python
    #: numbers.
    check_dtype: Callable[[dict, Any], None] | None = None
    params: Mapping[str, Param] = field(init=False)
    # made per entry in __post_init__ (a _Method with the entry's own signature); typed as
    # a callable here: the API page shows the annotation, and the class is private
    derivative: Callable[..., Any] = field(init=False, repr=False)
    """``act.derivative(x, *params, at_kink=None, out=None)``: the derivative. ``at_kink``
    is the value used exactly at a kink (None: PyTorch autograd's value, listed in
    the entry's ``kinks``); a gated entry gives the pair ``(d/d gate, d/d up)``.
    """
    value_and_derivative: Callable[..., Any] = field(init=False, repr=False)
    """``act.value_and_derivative(x, *params, at_kink=None, out=None)``: ``(value,
    derivative)`` in one pass; ``out=`` takes a pair of arrays.
    """
    #: set by :func:`register`; a copy made with ``dataclasses.replace`` is not registered
    #: (the fast kernels, keyed by name, then leave it to its own formulas)
    registered: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.params = MappingProxyType({p.name: p for p in self.params_list})
        reals = tuple(p.name for p in self.params_list if p.kind == "real")
        if self.check_dtype is None and reals and not self.math.exact:
            self.check_dtype = _HalfParams(self.name, reals)
        if not self.title:
            self.title = display_name(self.name)
        self._defaults = {p.name: p.default for p in self.params_list}
        self.__doc__ = self._make_doc()
        self.__signature__ = self._signature("value")
        self.derivative = _Method(self, "derivative")
        self.value_and_derivative = _Method(self, "both")

    # -- parameters ---------------------------------------------------------
    def bind(
        self,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        call: str | None = None,
    ) -> dict:
        """Map positional and keyword parameters to a validated ``{name: value}`` dict.

        ``call`` names the call in the messages of a wrong keyword (``"leaky_relu"``,
        ``"leaky_relu.derivative"``), which then read as Python's own.

        >>> import relukit as rk
        >>> rk.leaky_relu.bind((0.2,))
        {'negative_slope': 0.2}
        """
        if not args and not kwargs:
            return dict(self._defaults)
        plist = self.params_list
        positional = [p for p in plist if not p.keyword_only]
        if len(args) > len(positional):
            raise TypeError(
                f"{self.name}() takes {len(positional)} "
                f"{'positional ' if len(positional) < len(plist) else ''}parameter(s) after x "
                f"({', '.join(p.name for p in positional) or 'none'}), got {len(args)}"
            )
        bound = dict(self._defaults)
        for p, v in zip(positional, args, strict=False):
            bound[p.name] = v
        given = set(p.name for p in positional[: len(args)])
        for k, v in (kwargs or {}).items():
            if k not in bound:
                accepted = ", ".join(p.name for p in plist) or "no parameters"
                if call is not None:
                    raise TypeError(
                        f"{call}() got an unexpected keyword argument {k!r} (it accepts {accepted})"
                    )
                raise TypeError(
                    f"{self.name}() got an unexpected parameter {k!r}; it accepts {accepted}"
                )
            if k in given:
                raise TypeError(f"{self.name}() got multiple values for parameter {k!r}")
            bound[k] = v
        for p in plist:
            bound[p.name] = p.validate(bound[p.name], self.name)
        if self.check_params is not None:
            self.check_params(bound)
        return bound

    def kink_points(self, *args: Any, **kwargs: Any) -> list[tuple[float, float, float, float]]:
        """The kinks as ``(x, left derivative, right derivative, derivative used at x)``.

        >>> import relukit as rk
        >>> rk.leaky_relu.kink_points(negative_slope=0.1)
        [(0.0, 0.1, 1.0, 0.1)]
        """
        params = self.bind(args, kwargs)
        return [k.resolve(params) for k in self.kinks]

    # -- evaluation -----------------------------------------------------------
    # ``act(x, ...)`` is the value; ``act.derivative`` and ``act.value_and_derivative``
    # are :class:`_Method` objects (made in ``__post_init__``) with the entry's own
    # signature for ``help()`` and ``inspect``. A Python float or a NumPy array with the
    # default parameters takes the shortest path in :mod:`relukit._dispatch`.
    def __call__(self, x: Any, *args: Any, out: Any = None, **kwargs: Any) -> Any:
        """Evaluate the activation (see the class docstring)."""
        if self.gated:
            return _dispatch.apply_gated(self, "value", x, args, kwargs, out, None)
        if not args and not kwargs:
            return _dispatch.default_call(self, "value", x, out, None)
        return _dispatch.apply(self, "value", x, args, kwargs, out, None)

    def _signature(self, kind: str) -> Any:
        import inspect

        P = inspect.Parameter
        params = [
            P(
                p.name,
                P.KEYWORD_ONLY if p.keyword_only else P.POSITIONAL_OR_KEYWORD,
                default=p.default,
            )
            for p in self.params_list
        ]
        extra = ["out"] if kind == "value" else ["at_kink", "out"]
        first = [P("x", P.POSITIONAL_OR_KEYWORD)]
        if self.gated:
            first.append(P("up", P.POSITIONAL_OR_KEYWORD, default=None))
            extra = ["dim", *extra]
        return inspect.Signature(
            [
                *first,
                *params,
                *(P(k, P.KEYWORD_ONLY, default=-1 if k == "dim" else None) for k in extra),
            ]
        )

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # activations pickle by name (e.g. inside Dask graphs or torch checkpoints)
        return (get, (self.name,))

    # -- text -----------------------------------------------------------------
    def signature(self) -> str:
        """``leaky_relu(x, negative_slope=0.01)``; a gated entry's names its second input
        and the split form's ``dim``: ``swiglu(x, up=None, beta=1.0, *, dim=-1)``."""
        ps = "".join(f", {p.name}={p.default!r}" for p in self.params_list if not p.keyword_only)
        kw = [f"{p.name}={p.default!r}" for p in self.params_list if p.keyword_only]
        if self.gated:
            kw.append("dim=-1")
        first = "x, up=None" if self.gated else "x"
        return f"{self.name}({first}{ps}{', *, ' + ', '.join(kw) if kw else ''})"

    def __repr__(self) -> str:
        return f"<relukit activation {self.signature()}>"

    def call_signatures(self) -> dict[str, str]:
        """The three calls with their full signatures, for ``help()`` and the docs.

        >>> import relukit as rk
        >>> rk.leaky_relu.call_signatures()["derivative"]
        'leaky_relu.derivative(x, negative_slope=0.01, *, at_kink=None, out=None)'
        """
        ps = "".join(f", {p.name}={p.default!r}" for p in self.params_list)
        xs, dim = ("x, up=None", "dim=-1, ") if self.gated else ("x", "")
        return {
            "value": f"{self.name}({xs}{ps}, *, {dim}out=None)",
            "derivative": f"{self.name}.derivative({xs}{ps}, *, {dim}at_kink=None, out=None)",
            "value_and_derivative": (
                f"{self.name}.value_and_derivative({xs}{ps}, *, {dim}at_kink=None, out=None)"
            ),
        }

    def _make_doc(self) -> str:
        sig = self.call_signatures()
        lines = [
            f"{sig['value']}",
            "",
            self.summary or self.title,
            "",
            f"    {self.formula}",
            "",
            "Calls",
            "-----",
            sig["value"],
            "    The value; x is a Python number, a list, a NumPy array (``out=`` writes",
            "    into an array of the result's dtype and shape) or any Array API array.",
            sig["derivative"],
            "    The derivative; ``at_kink`` is the value used exactly at a kink (None:",
            "    PyTorch autograd's value, listed under Kinks).",
            sig["value_and_derivative"],
            "    ``(value, derivative)`` in one pass; ``out=`` takes a pair of arrays.",
            "",
        ]
        if self.params_list:
            lines += ["Parameters", "----------"]
            for p in self.params_list:
                lines += [f"{p.name} : default {p.default!r}", f"    {p.doc} ({p.accepted()})."]
        if self.kinks:
            lines += ["", "Kinks (derivative used at the kink by default):"]
            for k in self.kinks:
                lines.append(f"    x = {k.at}: {k.note}")
        if self.differences:
            lines += ["", "Differences from other libraries:", f"    {self.differences}"]
        if self.examples:
            lines += ["", "Examples", "--------", *self.examples.strip("\n").splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


# ---------------------------------------------------------------------------
# the derivative calls, with each entry's own signature
# ---------------------------------------------------------------------------


class _Method:
    """``act.derivative`` / ``act.value_and_derivative`` of one activation.

    A small callable object per entry, so that ``help(rk.leaky_relu.derivative)`` and
    ``inspect.signature`` show the entry's own parameters; the call goes straight to
    :mod:`relukit._dispatch`.
    """

    __slots__ = ("__dict__", "__weakref__", "_act", "_kind")  # (weakref: jax.jit caches by it)

    def __init__(self, act: Activation, kind: str) -> None:
        self._act = act
        self._kind = kind
        self.__signature__ = act._signature(kind)
        name = "derivative" if kind == "derivative" else "value_and_derivative"
        self.__doc__ = f"{act.call_signatures()[name]}\n\n" + (
            "The derivative; ``at_kink`` is the value used exactly at a kink (None: "
            "PyTorch autograd's value, listed in the entry's docs)."
            if kind == "derivative"
            else "``(value, derivative)`` in one pass; ``out=`` takes a pair of arrays."
        )

    def __call__(
        self, x: Any, *args: Any, at_kink: Any = None, out: Any = None, **kwargs: Any
    ) -> Any:
        act, kind = self._act, self._kind
        if act.gated:
            return _dispatch.apply_gated(act, kind, x, args, kwargs, out, at_kink)
        if not args and not kwargs and at_kink is None:
            return _dispatch.default_call(act, kind, x, out, None)
        return _dispatch.apply(act, kind, x, args, kwargs, out, at_kink)

    def __repr__(self) -> str:
        name = "derivative" if self._kind == "derivative" else "value_and_derivative"
        return f"<relukit {self._act.name}.{name}>"

    def __reduce__(self) -> tuple[Any, tuple[Any, str]]:
        return (
            getattr,
            (self._act, "derivative" if self._kind == "derivative" else "value_and_derivative"),
        )


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------

_REGISTRY: dict[str, Activation] = {}
_LOOKUP: dict[str, Activation] = {}


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def register(act: Activation) -> Activation:
    """Add an activation to the catalogue (its name and aliases become look-up keys)."""
    if act.name in _REGISTRY:
        raise ValueError(f"activation {act.name!r} is already registered")
    for key in {_key(act.name), *(_key(a) for a in act.aliases)}:
        if key in _LOOKUP:
            raise ValueError(
                f"name {key!r} of {act.name!r} is already used by {_LOOKUP[key].name!r}"
            )
        _LOOKUP[key] = act
    _REGISTRY[act.name] = act
    act.registered = True  # the dispatcher's kernels are keyed by the registered entries
    return act


def get(name: str | Activation) -> Activation:
    """Look an activation up by name or alias (case, ``-``, ``_`` and spaces ignored).

    Parameters
    ----------
    name
        ``"relu"``, ``"leaky-relu"``, ``"LeakyReLU"``, ... or an :class:`Activation`.

    Raises
    ------
    UnknownActivationError
        (a ``LookupError`` and ``ValueError``) naming the closest known names.

    Examples
    --------
    >>> import relukit as rk
    >>> rk.get("Leaky ReLU").name
    'leaky_relu'
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(
            "activation must be a name (str) or a relukit Activation, "
            f"got {_dispatch._describe(name)}"
        )
    act = _LOOKUP.get(_key(name))
    if act is None:
        names = sorted(_REGISTRY)
        close = difflib.get_close_matches(name.lower(), names, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownActivationError(
            f"unknown activation {name!r}{hint} (known: {', '.join(names)})"
        )
    return act


def catalogue() -> list[Activation]:
    """All registered activations, in catalogue order.

    >>> import relukit as rk
    >>> all(isinstance(a, rk.Activation) for a in rk.catalogue())
    True
    """
    return list(_REGISTRY.values())
