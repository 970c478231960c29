"""JAX front end: every catalogue entry as a ``jax.custom_jvp`` function.

``relukit.jax.<name>(x, *params, at_kink=None)`` computes the value with JAX's own ops
(the catalogue's formula) and differentiates to exactly ``relukit.<name>.derivative``:
the JVP rule *is* the catalogue's derivative, so ``jax.grad``, ``jax.jvp``, ``jax.vmap``
and ``jax.jit`` all see the declared kink convention, and ``at_kink`` changes the
derivative used at the kinks for autodiff too (``jax.nn.leaky_relu`` gives 1 at 0,
``relukit.jax.leaky_relu`` gives ``negative_slope``, or what ``at_kink`` says).

Plain ``relukit.relu(jax_array)`` works as well (the Array API path) and differentiates
through the formula, which is written so that ``jax.grad`` takes the declared branch;
this module adds ``at_kink`` and exact derivatives (no rounding from the chain rule).

Needs JAX (``pip install 'relukit[jax]'``). Derivatives are with respect to ``x`` only
(PReLU's ``weight`` is a constant here), except for the gated entries (``glu``,
``reglu``, ``geglu``, ``swiglu``, ``bilinear``), which take two inputs and differentiate
with respect to both: ``relukit.jax.swiglu(gate, up)`` is ``f(gate) * up``, with the
derivatives ``f'(gate) * up`` and ``f(gate)`` of ``relukit.swiglu.derivative`` (a custom
JVP with two primals); ``relukit.jax.swiglu(x, dim=-1)`` splits ``x`` in halves along
``dim``, the gate being the second half (as ``jax.nn.glu`` and ``torch.nn.GLU``), and its
gradient with respect to ``x`` is ``relukit.swiglu.derivative(x)``.

float32 is computed in float32 here (the NumPy API computes it in float64), float16 and
bfloat16 in float32: a parameter that float32 cannot hold is a ValueError. The NaN rule
holds for values (the input's NaN, sign and payload kept, quieted); gradients carry a
NaN, which XLA may make its own. Limits of XLA that this module does not hide: on the
CPU it flushes subnormals to zero (``jax.grad(rkj.relu)(1e-45)`` is 0, as
``jax.nn.relu``'s; the NumPy API gives 1), its simplifier may reassociate sums under
``jax.jit`` (squareplus of float32 inputs beyond about 1.8e38 gives inf there), and
``rrelu(training=True)`` draws with NumPy at call time, so under ``jax.jit`` or
``jax.vmap`` it needs a fixed ``rng=``.

>>> import jax
>>> import relukit.jax as rkj
>>> float(jax.grad(rkj.relu)(0.0)), float(jax.grad(lambda x: rkj.relu(x, at_kink=1.0))(0.0))
(0.0, 1.0)
>>> float(jax.grad(rkj.leaky_relu)(0.0))  # float32's 0.01, printed as a Python float
0.009999999776482582
>>> [float(g) for g in jax.grad(rkj.swiglu, argnums=(0, 1))(0.0, 4.0)]  # (d/d gate, d/d up)
[2.0, 0.0]
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from relukit import _dispatch
from relukit._prims.numpy import namespace
from relukit.catalogue import Activation, _HalfParams, catalogue

__all__ = [a.name for a in catalogue()] + ["make", "relu2", "swish"]

#: per dtype: the unsigned integer of its width and its quiet-NaN bit
_QUIET = {
    jnp.dtype(jnp.float16): (jnp.uint16, 0x0200),
    jnp.dtype(jnp.bfloat16): (jnp.uint16, 0x0040),
    jnp.dtype(jnp.float32): (jnp.uint32, 0x00400000),
    jnp.dtype(jnp.float64): (jnp.uint64, 0x0008000000000000),
}


def _same_nan(x: Any, r: Any) -> Any:
    """``r`` (of x's dtype), with x's NaN where x is NaN: its sign and payload, the quiet
    bit set by integer operations (XLA's conversions and selections may give another
    NaN, or keep a signalling one)."""
    it, q = _QUIET[jnp.dtype(x.dtype)]
    xb = jax.lax.bitcast_convert_type(x, it)
    rb = jax.lax.bitcast_convert_type(r, it)
    # (selected as integers: XLA's bfloat16 selection goes through float32, whose
    # conversion back gives one NaN for all)
    return jax.lax.bitcast_convert_type(jnp.where(x != x, xb | it(q), rb), x.dtype)


def _check(act: Activation, params: dict, dtype: Any) -> None:
    """The entry's parameter checks against ``dtype``; float32 input is computed in
    float32 here (not in float64, as the NumPy API does): its parameters too must not
    round to 0 or ±inf there."""
    if act.check_dtype is not None:
        act.check_dtype(params, dtype)
        if dtype == jnp.float32 and isinstance(act.check_dtype, _HalfParams):
            act.check_dtype.check(params, "float32")


def _at_kink(act: Activation, x: Any, params: dict, at_kink: float, d: Any) -> Any:
    """``d`` with ``at_kink`` where ``x`` is AT a kink, by the NumPy API's rule
    (:func:`relukit._dispatch.kink_at`): ``x == location`` in x's dtype would round the
    location to it and catch a neighbour."""
    name = jnp.dtype(x.dtype).name
    xc = x.astype(jnp.float32) if name in ("float16", "bfloat16") else x
    exact = act.math.resolve(params)[0].exact
    for k in act.kinks:
        d = jnp.where(xc == _dispatch.kink_at(k.location(params), name, exact), at_kink, d)
    return d


def _as_float(act: Activation, x: Any, what: str = "x") -> Any:
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"relukit.jax.{act.name}: {what} must be a real (integer or floating) JAX array "
            f"or number, got {_dispatch._describe(x)}"
        )
    try:
        if type(x) is int and not jax.config.jax_enable_x64:
            x = float(x)  # (beyond int32, jnp.asarray would refuse it)
        x = jnp.asarray(x)
    except OverflowError:  # a Python int beyond every float (10**400)
        raise ValueError(
            f"relukit.jax.{act.name}: {what} = {_dispatch._describe(x)} is too large to "
            "convert to a float"
        ) from None
    except TypeError:  # None, a str, an object
        raise TypeError(
            f"relukit.jax.{act.name}: {what} must be a real (integer or floating) JAX array "
            f"or number, got {_dispatch._describe(x)}"
        ) from None
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    if jnp.issubdtype(x.dtype, jnp.integer):
        return x.astype(jnp.result_type(float))
    raise TypeError(
        f"relukit.jax.{act.name}: {what} must be a real (integer or floating) JAX array or "
        f"number, got dtype {x.dtype}"
    )


def _formula(act: Activation, which: str, x: Any, params: dict) -> Any:
    """The catalogue's formula ``which`` on a JAX array: float16 and bfloat16 computed in
    float32 and rounded once, float32 and float64 in their own precision; NaN in gives
    the same NaN out."""
    work = x if x.dtype in (jnp.float32, jnp.float64) else x.astype(jnp.float32)
    m, args = act.math.resolve(params, work, jnp)
    if args is None:  # rrelu in training: its random slopes
        r = act.math.trained(jnp, work, params)[0 if which == "value" else 1]
    else:
        ns = namespace(jnp, f32=work.dtype != jnp.float64)
        r = getattr(m, which)(ns, work, *args)
    return _same_nan(x, r.astype(x.dtype))


def _gated(act: Activation, gate: Any, up: Any, params: dict, at_kink: float | None) -> Any:
    """``(f(gate) * up, f'(gate) * up, f(gate))`` of a gated entry on JAX arrays of one
    floating dtype and shape, as ``relukit.<entry>`` computes them on JAX arrays: float32
    and float64 in their own precision, float16 and bfloat16 in float32 and rounded
    once; a NaN gate gives its NaN, else a NaN ``up`` its NaN (``d/d up``: the gate's)."""
    dt = gate.dtype
    work = dt if dt in (jnp.float32, jnp.float64) else jnp.float32
    g, u = gate.astype(work), up.astype(work)
    m, resolved = act.math.resolve(params, g, jnp)
    args = resolved or ()  # (None only for rrelu in training; no gated entry draws)
    ns = namespace(jnp, f32=work != jnp.float64)
    f = m.value(ns, g, *args)
    d = m.derivative(ns, g, *args)
    if at_kink is not None:
        d = _at_kink(act, gate, params, at_kink, d)

    def nan(r: Any) -> Any:
        return _same_nan(gate, _same_nan(up, r.astype(dt)))

    return nan(f * u), nan(d * u), _same_nan(gate, f.astype(dt))


def _split(act: Activation, x: Any, dim: Any) -> tuple[Any, Any]:
    """``(gate, up)`` of the one-array form: ``x`` in halves along ``dim``, the gate the
    second half (as ``jax.nn.glu`` and ``torch.nn.GLU``); the checks of ``relukit``'s."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(
            f"relukit.jax.{act.name}: dim must be an int, got {_dispatch._describe(dim)}"
        )
    if x.ndim == 0:
        raise ValueError(
            f"relukit.jax.{act.name}: one argument is split in halves along dim; got a scalar "
            f"(pass the gate and up as two arguments: {act.name}(gate, up))"
        )
    try:
        axis = range(x.ndim)[int(dim)]
    except IndexError:
        raise ValueError(
            f"relukit.jax.{act.name}: dim={int(dim)} is out of range for an input with "
            f"{x.ndim} dimension(s)"
        ) from None
    if x.shape[axis] % 2:
        raise ValueError(
            f"relukit.jax.{act.name}: the size of x along dim ({axis}) must be even to split "
            f"it in halves (up, gate), got {x.shape[axis]}"
        )
    up, gate = jnp.split(x, 2, axis=axis)
    return gate, up


def _make_gated(act: Activation) -> Callable[..., Any]:
    """``f(gate, up, *params, at_kink=None)`` or ``f(x, *params, dim=-1, at_kink=None)``
    for a gated entry: a ``jax.custom_jvp`` of the two inputs whose JVP is the
    catalogue's pair of derivatives."""

    @functools.lru_cache(maxsize=64)
    def rule(key: tuple) -> Callable[[Any, Any], Any]:
        params, at_kink = dict(key[0]), key[1]

        @jax.custom_jvp
        def f(gate: Any, up: Any) -> Any:
            return _gated(act, gate, up, params, None)[0]

        def f_jvp(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
            (gate, up), (t_gate, t_up) = primals, tangents
            _, d_gate, d_up = _gated(act, gate, up, params, at_kink)
            # an input not differentiated has a symbolic zero tangent: its term is left
            # out (d * 0 would be NaN where d is ±inf or NaN: d/d gate at gate = inf)
            terms = [
                d * t
                for d, t in ((d_gate, t_gate), (d_up, t_up))
                if not isinstance(t, SymbolicZero)
            ]
            tangent = terms[0] + terms[1] if len(terms) == 2 else terms[0]
            return f(gate, up), tangent

        f.defjvp(f_jvp, symbolic_zeros=True)

        return f

    def fn(x: Any, *args: Any, dim: Any = -1, at_kink: float | None = None, **kwargs: Any) -> Any:
        if args:
            up, args = args[0], args[1:]
        else:
            up = kwargs.pop("up", None)
        params = act.bind(args, kwargs, f"relukit.jax.{act.name}")
        at = _dispatch.check_at_kink(act, at_kink)
        given = (x, up)
        x = _as_float(act, x, "x" if up is None else "gate")
        if up is None:
            gate, up = _split(act, x, dim)
        else:
            gate, up = x, _as_float(act, up, "up")
            # a Python number is weak, as in JAX's x16 * 3.0: the array's dtype
            pairs = zip(given, (gate, up), strict=True)
            weak = [v if type(v) in (int, float) else a for v, a in pairs]
            dt = jnp.result_type(*weak)
            if not jnp.issubdtype(dt, jnp.floating):
                dt = jnp.result_type(float)
            try:
                gate, up = jnp.broadcast_arrays(gate.astype(dt), up.astype(dt))
            except ValueError:
                raise ValueError(
                    f"relukit.jax.{act.name}: gate and up must have the same shape (or shapes "
                    f"that broadcast), got {tuple(gate.shape)} and {tuple(up.shape)}"
                ) from None
        _check(act, params, gate.dtype)
        return rule((tuple(params.items()), at))(gate, up)

    fn.__name__ = act.name
    fn.__qualname__ = act.name
    fn.__doc__ = (
        f"{act.summary}\n\n    {act.formula}\n\nJAX version of ``relukit.{act.name}``: "
        f"``{act.name}(gate, up)`` or ``{act.name}(x, dim=-1)`` (x split in halves, the gate "
        f"the second half, as jax.nn.glu); differentiates with respect to both inputs to "
        f"``relukit.{act.name}.derivative`` (``at_kink`` is honoured).\n"
    )
    return fn


def make(act: Activation | str) -> Callable[..., Any]:
    """Build ``f(x, *params, at_kink=None, **params)`` for one catalogue entry.

    A gated entry gives ``f(gate, up, *params, at_kink=None)``, or with one array
    ``f(x, *params, dim=-1, at_kink=None)`` (``x`` split in halves along ``dim``, the
    gate the second half), differentiable with respect to both inputs.

    >>> import jax.numpy as jnp
    >>> f = make("relu6")
    >>> f(jnp.asarray([-1.0, 3.0, 9.0])).tolist()
    [0.0, 3.0, 6.0]
    >>> make("reglu")(jnp.asarray([-1.0, 2.0]), jnp.asarray([5.0, 3.0])).tolist()
    [0.0, 6.0]
    """
    from relukit.catalogue import get

    act = get(act)
    if act.gated:
        return _make_gated(act)

    @functools.lru_cache(maxsize=64)
    def rule(key: tuple) -> Callable[[Any], Any]:
        params, at_kink = dict(key[0]), key[1]

        @jax.custom_jvp
        def f(x: Any) -> Any:
            return _formula(act, "value", x, params)

        @f.defjvp
        def f_jvp(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
            (x,), (t,) = primals, tangents
            d = _formula(act, "derivative", x, params)
            if at_kink is not None:
                d = _at_kink(act, x, params, at_kink, d)
            return f(x), d.astype(x.dtype) * t

        return f

    def fn(x: Any, *args: Any, at_kink: float | None = None, **kwargs: Any) -> Any:
        fresh = kwargs.get("rng") is None  # (rrelu: fresh slopes asked for)
        params = act.bind(args, kwargs)
        at = _dispatch.check_at_kink(act, at_kink)
        x = _as_float(act, x)
        _check(act, params, x.dtype)  # (leaky_relu's slope against x's dtype, ...)
        if params.get("training") and fresh and not jax.core.is_concrete(x):
            raise ValueError(
                f"relukit.jax.{act.name}: training=True draws its random slopes with NumPy "
                "when called; under jax.jit or jax.vmap they would be drawn once, when "
                "traced, and reused (the same slopes for every call, or every row): call it "
                "outside the transform, or pass rng= for one fixed draw"
            )
        try:
            # declaration order (bind's): the formulas take the parameters positionally
            key = (tuple(params.items()), at)
            hash(key)
        except TypeError:  # an array parameter (PReLU's weight): no caching
            return rule.__wrapped__(((tuple(params.items())), at))(x)
        return rule(key)(x)

    fn.__name__ = act.name
    fn.__qualname__ = act.name
    fn.__doc__ = (
        f"{act.summary}\n\n    {act.formula}\n\nJAX version of ``relukit.{act.name}``: "
        "differentiates to ``relukit.{0}.derivative`` (``at_kink`` is honoured).\n".format(act.name)
    )
    return fn


for _act in catalogue():
    globals()[_act.name] = make(_act)
swish = globals()["silu"]
relu2 = globals()["squared_relu"]  # (the alias of relukit.relu2)
del _act
