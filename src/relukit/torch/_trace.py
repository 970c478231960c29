"""relukit.torch under ``torch.jit.trace``: plain torch operations with relukit's gradients.

A trace records ATen ops, and only ATen ops can be saved (``torch.jit.save``): relukit's
autograd Functions are Python and would make a trace that cannot be saved or checked.
Under tracing each activation therefore computes its value with the catalogue's
formula in torch operations, detached, plus terms that leave the value unchanged, bit
for bit, and carry the gradient:

* at a finite ``x``, a term that is exactly ``-0.0`` with derivative ``f'(x)`` (the
  entry's derivative formula, :func:`gradient_term`); at ``x = ±inf`` where the value
  is infinite, ``x * f'(x)`` (which is that value), elsewhere the constant value
  (``f'`` is 0 there);
* ``at_kink``: at a kink, a term that is exactly ``-0.0`` with derivative ``at_kink``
  (:func:`kink_term`; for ``at_kink = 0`` none);
* a NaN input: the value (NaN anyway) becomes ``n * n`` with ``n`` the NaN itself, whose
  derivative ``2n`` is NaN;
* ``bits=``: the value becomes ``y.detach() + q * z``, with ``q`` the few-bit level of
  each element (the same as the eager backward's) and ``z`` exactly ``∓0.0`` with
  derivative 1, so that the gradient is ``g * q``. At ±inf the term is left out
  (``inf - inf`` is NaN), so the traced gradient there is 0.

A gated entry is traced as its formula, ``f(gate) * up`` in torch operations,
differentiated by torch's autograd. The trace keeps what torch's autograd keeps for these
ops (a few tensors per activation): it computes relukit's gradients, not its memory
saving; its second derivatives are 0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from relukit.torch._core import TorchPlan

    #: relukit.torch._core.formula, passed in by its caller (that module imports this one)
    Formula = Callable[[TorchPlan, str, torch.Tensor], Any]

__all__ = ["fewbit", "gated", "gradient_term", "kink_term", "prelu", "value"]


def gradient_term(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Exactly ``-0.0`` at finite ``x`` (so ``y + t`` is ``y``), with derivative ``d``.

    ``x - x.detach()`` is ``+0.0`` with derivative 1, ``x.detach() - x`` is ``+0.0`` with
    derivative -1; the product with ``d`` takes the sign that makes the term ``-0.0``.
    Where ``d`` is infinite at a finite ``x`` (squared_relu' of 2e38 in float32) that
    product would be ``0 * inf``, NaN: there ``-sqrt(±u)`` is ``-0.0`` with the infinite
    derivative, as in :func:`kink_term`. At a non-finite ``x`` the term is not used (the
    caller selects another value) and its derivative is 0, never NaN.
    """
    c = x.detach()
    fin = torch.isfinite(c)
    big = torch.isinf(d) & fin
    dd = torch.where(big | ~fin, 0.0, d)
    t = torch.where(torch.signbit(dd), (x - c) * dd, -((c - x) * dd))
    u = torch.where(big, torch.where(d > 0, c - x, x - c), 1.0)  # 1: sqrt' finite
    return torch.where(big, -u.sqrt(), t)


def kink_term(x: torch.Tensor, mask: torch.Tensor, at_kink: float) -> torch.Tensor:
    """Exactly ``-0.0`` where ``mask`` (``x`` at a kink, finite), with derivative ``at_kink``.

    ``u = x - x.detach()`` (or ``x.detach() - x``) is ``+0.0`` with derivative ``±1``;
    the sign of ``u`` is chosen so that ``at_kink * u`` is ``-0.0``, and adding ``-0.0``
    changes no number. An infinite ``at_kink`` times ``+0.0`` is NaN, so there
    ``-sqrt(±u)`` gives the infinite derivative, and for a NaN ``at_kink``
    ``-(sqrt(u) * sqrt(u))`` gives NaN (``0 * inf``). Elsewhere ``u`` is a constant
    (``0`` or ``1``), so the unused branch has a zero, finite derivative.
    """
    c = x.detach()
    if math.isnan(at_kink):
        s = torch.where(mask, x - c, 1.0).sqrt()
        return -(s * s)
    if math.isinf(at_kink):
        u = torch.where(mask, c - x, 1.0) if at_kink > 0 else torch.where(mask, x - c, 1.0)
        return -u.sqrt()
    if math.copysign(1.0, at_kink) > 0:
        return -(torch.where(mask, c - x, 0.0) * at_kink)
    return torch.where(mask, x - c, 0.0) * at_kink


def _fix(
    x: torch.Tensor, y: torch.Tensor, kinks: tuple[float, ...], at_kink: Any, nan: bool
) -> torch.Tensor:
    """``y = f(x)`` with the NaN and ``at_kink`` additions of the module doc."""
    if nan:
        isnan = x.isnan()
        n = torch.where(isnan, x, 0.0)  # 0 elsewhere: a zero, finite derivative there
        y = torch.where(isnan, n * n, y)
    if kinks and at_kink is not None:
        mask = x == kinks[0]
        for loc in kinks[1:]:
            mask = mask | (x == loc)
        if at_kink == 0:  # no term: TorchScript pools the constants -0.0 and 0.0 into one
            y = torch.where(mask, y.detach(), y)
        else:
            y = torch.where(mask, y.detach() + kink_term(x, mask, at_kink), y)
    return y


def value(
    pl: TorchPlan, x: torch.Tensor, inplace: bool, at_kink: Any, formula: Formula
) -> torch.Tensor:
    """Catalogue entry ``pl`` on ``x`` under tracing (see the module doc); ``formula`` is
    :func:`relukit.torch._core.formula`."""
    src = x.clone() if inplace else x  # in place: computed from a copy, written back
    c = src.detach()
    y = formula(pl, "value", c)
    d = formula(pl, "derivative", c)
    fin = torch.isfinite(c)
    # at x = ±inf, where the value is infinite: x * f'(x), that value (d is 0 at finite
    # x there: the branch is not used, and its derivative must not be 0 * inf)
    inf = torch.where(torch.isinf(y) & ~fin, src * torch.where(fin, 0.0, d), y)
    out = torch.where(fin, y + gradient_term(src, d), inf)
    out = _fix(src, out, pl.kinks if at_kink is not None else (), at_kink, True)
    return x.copy_(out) if inplace else out


def gated(
    pl: TorchPlan, a: torch.Tensor, b: torch.Tensor, at_kink: Any, formula: Formula
) -> torch.Tensor:
    """Gated entry ``pl`` on ``(a, b)`` under tracing: ``f(a) * b`` in torch operations;
    ``formula`` is :func:`relukit.torch._core.formula`."""
    f = formula(pl, "value", a)
    if at_kink is not None and pl.kinks:
        mask = a == pl.kinks[0]
        for loc in pl.kinks[1:]:
            mask = mask | (a == loc)
        f = torch.where(mask, f.detach() + kink_term(a, mask, at_kink), f)
    r = f * b
    return torch.where(a != a, a, torch.where(b != b, b, r))


def prelu(x: torch.Tensor, w: torch.Tensor, at_kink: Any) -> torch.Tensor:
    """PReLU under tracing: torch's ``F.prelu`` (its own checks) with the additions."""
    return _fix(x, F.prelu(x, w), (0.0,), at_kink, True)


def fewbit(
    x: torch.Tensor,
    rounded: tuple[float, ...],
    levels: tuple[float, ...],
    inplace: bool,
    value: Any,
) -> torch.Tensor:
    """The exact value with the few-bit gradient ``g * levels[k]`` under tracing.

    ``rounded`` are the boundaries rounded to ``x``'s dtype: ``k`` counts the
    boundaries strictly below ``x`` (NaN: all of them, as the eager codes).
    """
    src = x.clone() if inplace else x
    y = value(src, False).detach()
    q = torch.full_like(src, levels[-1])
    for t, lv in zip(reversed(rounded), reversed(levels[:-1]), strict=True):
        q = torch.where(src <= t, lv, q)
    c = src.detach()
    # z: ±0.0 with derivative 1, the sign making q * z = -0.0 (so y + q * z = y)
    z = torch.where(torch.signbit(q), src - c, -(c - src))
    out = torch.where(src.isinf(), y, y + q * z)  # inf - inf is NaN: no gradient at ±inf
    return x.copy_(out) if inplace else out
