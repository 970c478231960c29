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
(PReLU's ``weight`` is a constant here).

>>> import jax
>>> import relukit.jax as rkj
>>> float(jax.grad(rkj.relu)(0.0)), float(jax.grad(lambda x: rkj.relu(x, at_kink=1.0))(0.0))
(0.0, 1.0)
>>> float(jax.grad(rkj.leaky_relu)(0.0))  # float32's 0.01, printed as a Python float
0.009999999776482582
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from relukit import _dispatch
from relukit._prims.numpy import namespace
from relukit.catalogue import Activation, catalogue

__all__ = [a.name for a in catalogue()] + ["make", "swish"]


def _as_float(act: Activation, x: Any) -> Any:
    try:
        x = jnp.asarray(x)
    except OverflowError:  # a Python int beyond every float (10**400)
        raise ValueError(
            f"relukit.jax.{act.name}: x = {_dispatch._describe(x)} is too large to convert "
            "to a float"
        ) from None
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    if jnp.issubdtype(x.dtype, jnp.integer):
        return x.astype(jnp.result_type(float))
    raise TypeError(
        f"relukit.jax.{act.name}: x must be a real (integer or floating) JAX array or "
        f"number, got dtype {x.dtype}"
    )


def _formula(act: Activation, which: str, x: Any, params: dict) -> Any:
    """The catalogue's formula ``which`` on a JAX array: float16 and bfloat16 computed in
    float32 and rounded once, float32 and float64 in their own precision; NaN in gives
    the same NaN out."""
    work = x if x.dtype in (jnp.float32, jnp.float64) else x.astype(jnp.float32)
    m, args = act.math.resolve(params, work, jnp)
    if args is None:  # rrelu in training: its random slopes
        r = act.math.train(jnp, work, params)[0 if which == "value" else 1]
    else:
        ns = namespace(jnp, f32=work.dtype != jnp.float64)
        r = getattr(m, which)(ns, work, *args)
    r = jnp.where(work != work, work, r)
    return r.astype(x.dtype)


def make(act: Activation | str) -> Callable[..., Any]:
    """Build ``f(x, *params, at_kink=None, **params)`` for one catalogue entry.

    >>> import jax.numpy as jnp
    >>> f = make("relu6")
    >>> f(jnp.asarray([-1.0, 3.0, 9.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    from relukit.catalogue import get

    act = get(act)

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
                for k in act.kinks:
                    d = jnp.where(x == k.location(params), at_kink, d)
            return f(x), d.astype(x.dtype) * t

        return f

    def fn(x: Any, *args: Any, at_kink: float | None = None, **kwargs: Any) -> Any:
        params = act.bind(args, kwargs)
        at = _dispatch.check_at_kink(act, at_kink)
        x = _as_float(act, x)
        if act.check_dtype is not None:  # (leaky_relu's slope against x's dtype)
            act.check_dtype(params, x.dtype)
        try:
            key = (tuple(sorted(params.items())), at)
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
del _act
