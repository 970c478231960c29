"""``relukit.ContinualBackprop``: continual backpropagation (Dohare et al., 2024).

Plain backpropagation loses plasticity on long task sequences: units die or become
redundant, and the network stops learning new tasks. Continual backpropagation keeps
injecting fresh units: every step it re-initialises a small fraction of the *mature*
units that contribute least to the next layer, the way :func:`relukit.recycle` does
(incoming weights re-drawn with the layer's own initialiser, outgoing weights and the
optimizer's moments zeroed, a batch norm channel in between reset).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from relukit.diagnose._core import _Session
from relukit.diagnose._recycle import SitePlan, plan_site, reinit_units

__all__ = ["ContinualBackprop"]


def _out_magnitude(plan: SitePlan, n_units: int) -> torch.Tensor:
    """Per unit: sum of |outgoing weights| over every consumer (float64)."""
    total = torch.zeros(n_units, dtype=torch.float64, device=plan.layer.weight.device)
    for _, c, spatial in plan.consumers:
        w = c.weight.detach().abs()  # (summed in float64: a float16 sum may overflow)
        dims = [0] if w.ndim == 2 else [d for d in range(w.ndim) if d != 1]
        per_col = w.sum(dim=dims, dtype=torch.float64)
        if spatial is not None:
            per_col = per_col.reshape(n_units, spatial).sum(1)
        total += per_col
    return total


class ContinualBackprop:
    r"""Continual backpropagation: replace the least useful mature units, a few per step.

    Call :meth:`step` after every ``optimizer.step()``. For every activation site
    (module or functional, the sites of :func:`relukit.diagnose`) it keeps, per unit
    :math:`i`, an age and the contribution utility

    .. math::

        u_i \leftarrow \eta\, u_i + (1 - \eta)\, \overline{|h_i|} \sum_k |w_{ki}|,

    where :math:`\overline{|h_i|}` is the mean of the unit's output over the training
    batches since the previous step (a channel's over all positions), :math:`w_{ki}` its
    outgoing weights (all of a consumer's weights that read it) and :math:`\eta` the
    ``decay``. A unit is *mature* when its age exceeds ``maturity_threshold`` steps. Each
    step, ``replacement_rate`` × (number of mature units) is added to a per-site
    counter; its integer part is the number of mature units replaced now, those with the
    lowest bias-corrected utility :math:`u_i / (1 - \eta^{\text{age}_i})`. A replaced unit
    gets fresh incoming weights from its layer's initialiser (bias 0), zero outgoing
    weights (the network's function does not jump), zero optimizer state for exactly
    those weights (Adam moments, momentum), utility 0 and age 0; after a batch norm its
    channel is reset too. Memory: two numbers per unit.

    A unit whose output held a NaN (a NaN incoming weight or bias), or whose
    contribution is NaN otherwise (``inf × 0``: an overflowing output whose outgoing
    weights are 0), is broken: its utility is NaN until it is replaced, every other
    unit's utility is computed as usual (each unit's from its own output and weights),
    and among the mature units it ranks below every finite utility, so it is among the
    first replaced (several NaN units: in any order). This is the rule of
    :attr:`relukit.diagnose.SiteReport.score`, where such a unit is dormant and
    :func:`relukit.recycle` re-initialises it. Whatever the model's dtype (float16,
    bfloat16), the sums behind the utilities are float32 or wider.

    The wiring (which layer feeds a site, which layers read it) is traced in the first
    training forward pass after construction (eval-mode passes before it are not
    counted and trace nothing). Sites whose units flow elsewhere
    (residual sums, the model output) cannot be followed: ``strict=True`` raises a
    ValueError at the first :meth:`step`, ``strict=False`` leaves them alone and lists
    them in :attr:`skipped`.

    Parameters
    ----------
    model
        The network; its forward passes in training mode are watched.
    optimizer
        Its per-parameter state for replaced weights is zeroed (step counts kept). None:
        no optimizer state to reset.
    replacement_rate
        ρ: the fraction of mature units replaced per step (1e-4 in the paper).
    maturity_threshold
        m: steps a unit is protected after (re)initialisation (100 in the paper).
    decay
        η of the running utility, in [0, 1) (0.99 in the paper).
    functional, unit_dim
        As for :func:`relukit.diagnose`.
    strict
        See above.

    Attributes
    ----------
    n_replaced : dict[str, int]
        Units replaced so far, per site.
    skipped : dict[str, str]
        Sites left alone, with the reason (``strict=False``).

    References
    ----------
    S. Dohare, J. F. Hernandez-Garcia, Q. Lan, P. Rahman, A. R. Mahmood, R. S. Sutton,
    "Loss of plasticity in deep continual learning", Nature 632 (2024).

    Examples
    --------
    >>> import torch
    >>> import relukit as rk
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    >>> opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    >>> cbp = rk.ContinualBackprop(model, opt, replacement_rate=0.01, maturity_threshold=10)
    >>> for _ in range(20):
    ...     loss = model(torch.randn(16, 4)).pow(2).mean()
    ...     opt.zero_grad()
    ...     loss.backward()
    ...     opt.step()
    ...     _ = cbp.step()
    >>> cbp.n_replaced  # 32 mature units x 0.01 per step, from step 11 on
    {'1': 3}
    >>> cbp.close()
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        replacement_rate: float = 1e-4,
        maturity_threshold: int = 100,
        decay: float = 0.99,
        *,
        functional: bool | None = None,
        unit_dim: int | None = None,
        strict: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}"
            )
        if (
            isinstance(replacement_rate, bool)
            or not isinstance(replacement_rate, (int, float))
            or not (0 <= replacement_rate <= 1)
        ):
            raise ValueError(f"replacement_rate must be in [0, 1], got {replacement_rate!r}")
        if (
            isinstance(maturity_threshold, bool)
            or not isinstance(maturity_threshold, int)
            or maturity_threshold < 0
        ):
            raise ValueError(f"maturity_threshold must be an int >= 0, got {maturity_threshold!r}")
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not (0 <= decay < 1):
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.model = model
        self.optimizer = optimizer
        self.replacement_rate = float(replacement_rate)
        self.maturity_threshold = maturity_threshold
        self.decay = float(decay)
        self.strict = strict
        self.steps = 0
        self.n_replaced: dict[str, int] = {}
        self.skipped: dict[str, str] = {}
        self._plans: dict[str, SitePlan] | None = None
        self._util: dict[str, torch.Tensor] = {}
        self._age: dict[str, torch.Tensor] = {}
        self._pending: dict[str, float] = {}
        self._sess: _Session | None = _Session(
            model,
            functional=functional,
            trace=True,
            unit_dim=unit_dim,
            record=lambda: model.training,
            light=True,
            zeros=False,  # the utilities need no sparsity: no zero counts per step
        )

    # -- life cycle -------------------------------------------------------
    def close(self) -> None:
        """Remove the hooks; :meth:`step` is then an error."""
        if self._sess is not None:
            self._sess.close()
            self._sess = None

    def __enter__(self) -> ContinualBackprop:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _make_plans(self, sess: _Session) -> dict[str, SitePlan]:
        plans: dict[str, SitePlan] = {}
        for name, acc in sess.sites.items():
            info = sess.trace.get(name)
            plan = plan_site(
                self.model,
                name,
                producer=info.producer if info else None,
                producer_input=info.producer_input if info else None,
                consumers=list(info.consumers) if info else [],
                escapes=list(info.escapes) if info else ["not traced"],
                n_units=acc.n_units,
            )
            if isinstance(plan, str):
                msg = f"cannot replace units of site {name!r}: {plan}"
                if self.strict:
                    raise ValueError(msg + " (pass strict=False to leave such sites alone)")
                self.skipped[name] = msg
                continue
            plans[name] = plan
            dev = plan.layer.weight.device
            self._util[name] = torch.zeros(acc.n_units, dtype=torch.float64, device=dev)
            self._age[name] = torch.zeros(acc.n_units, dtype=torch.int64, device=dev)
            self._pending[name] = 0.0
            self.n_replaced[name] = 0
        return plans

    # -- the step ---------------------------------------------------------
    def step(self) -> dict[str, list[int]]:
        """Update utilities and ages; replace units. Returns the units replaced, per site."""
        sess = self._sess
        if sess is None:
            raise RuntimeError("this ContinualBackprop is closed")
        if sess.tracing:  # no training forward pass yet: nothing is known
            if sess.uncounted:
                raise RuntimeError(
                    "no activation site was seen: only eval-mode forward passes were made "
                    "since ContinualBackprop was created; it counts training-mode passes"
                )
            return {}
        if self._plans is None:
            if not sess.sites:
                raise RuntimeError(
                    "no activation site was seen: the first training-mode forward pass "
                    "after creating ContinualBackprop met no ReLU-family activation"
                )
            self._plans = self._make_plans(sess)
        self.steps += 1
        replaced: dict[str, list[int]] = {}
        eta = self.decay
        with torch.no_grad():
            for name, plan in self._plans.items():
                acc = sess.sites[name]
                util, age = self._util[name], self._age[name]
                if acc.abs_sum is not None and acc.n_values:
                    h = acc.abs_sum.to(torch.float64) / acc.n_values
                    util.mul_(eta).add_((1 - eta) * h * _out_magnitude(plan, acc.n_units))
                acc.reset()
                age += 1
                mature = age > self.maturity_threshold
                n_mature = int(mature.sum())
                if n_mature == 0 or self.replacement_rate == 0:
                    continue
                self._pending[name] += self.replacement_rate * n_mature
                k = min(math.floor(self._pending[name]), n_mature)
                if k == 0:
                    continue
                self._pending[name] -= k
                corrected = util / (1 - eta ** age.to(torch.float64)) if eta > 0 else util
                # a NaN utility (a broken unit) ranks below every number: replaced first
                corrected = torch.where(corrected.isnan(), -torch.inf, corrected)
                corrected = torch.where(mature, corrected, torch.inf)
                idx = torch.topk(corrected, k, largest=False).indices.sort().values
                reinit_units(plan, idx, self.optimizer)
                util[idx] = 0
                age[idx] = 0
                self.n_replaced[name] += k
                replaced[name] = [int(i) for i in idx]
        return replaced

    def __repr__(self) -> str:
        state = "closed" if self._sess is None else f"{self.steps} steps"
        return (
            f"ContinualBackprop(replacement_rate={self.replacement_rate:g}, "
            f"maturity_threshold={self.maturity_threshold}, decay={self.decay:g}, {state}, "
            f"{sum(self.n_replaced.values())} units replaced)"
        )
