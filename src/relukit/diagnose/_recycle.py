"""``relukit.recycle(model, report, optimizer)``: ReDo-style repair of dormant units.

For every activation site with units to recycle, and for the layer pair around it,

* the **incoming** weights of those units (rows of a ``Linear``'s weight, output channels
  of a ``Conv``) are re-drawn with the layer's own initialisation (``reset_parameters``
  of a temporary copy of the layer; the rows are copied over) and their bias is set to 0;
* the **outgoing** weights (the columns of every ``Linear``/``Conv`` that reads the
  site's output, also after dropout, pooling, batch norm and a flatten) are set to 0, so
  the network's function does not jump;
* the optimizer's per-parameter state for exactly those rows/columns (Adam/AdamW
  ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``; SGD ``momentum_buffer``; RMSprop
  ``square_avg``, ``grad_avg``; Adagrad ``sum``) is set to 0; step counts are kept.

When the pre-activation is the output of a batch norm that normalises a ``Linear``/``Conv``
output (``Conv -> BatchNorm -> ReLU``, as in a ResNet), the layer before the batch norm is
re-drawn as above and the batch norm's channel is reset too: weight 1, bias 0, running
mean 0, running variance 1, and its optimizer state zeroed.

Limits: the producer must be an ``nn.Linear`` or ``nn.Conv{1,2,3}d`` (groups=1) module
whose output *is* the pre-activation, or a batch norm fed directly by one; the site's
output may flow only into ``Linear``/``Conv`` modules, through dropout, pooling, batch
norm, identity and a flatten (module or ``torch.flatten``/``view``/``reshape`` to
``(N, -1)``). Residual additions, concatenations, functional ``F.linear``, the model's
output, or anything else reading the units make :func:`recycle` refuse that site (a
ValueError naming it and why), before anything is changed.

:func:`plan_site` and :func:`reinit_units` are shared with
:class:`relukit.ContinualBackprop`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from relukit.diagnose._report import DeadUnitReport, _check_tau

__all__ = ["RecycleResult", "SitePlan", "plan_site", "recycle", "reinit_units"]

_STATE_KEYS = (
    "exp_avg",
    "exp_avg_sq",
    "max_exp_avg_sq",
    "momentum_buffer",
    "square_avg",
    "grad_avg",
    "sum",
    "acc_delta",
    "exp_inf",
)
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BN = nn.modules.batchnorm._BatchNorm


@dataclass
class SitePlan:
    """The layers around one activation site that recycling changes.

    ``layer``: the Linear/Conv whose output rows/channels are the units' incoming
    weights; ``norm``: the batch norm between it and the activation (or None);
    ``consumers``: ``(name, module, spatial)`` of every layer reading the units.
    """

    site: str
    layer_name: str
    layer: nn.Linear | nn.modules.conv._ConvNd
    norm_name: str | None
    norm: nn.modules.batchnorm._BatchNorm | None
    consumers: list[tuple[str, nn.Linear | nn.modules.conv._ConvNd, int | None]]


def _n_out(m: nn.Linear | nn.modules.conv._ConvNd) -> int:
    return int(m.out_features if isinstance(m, nn.Linear) else m.out_channels)


def _layer_problem(m: nn.Module | None, name: str | None, what: str) -> str | None:
    if m is None:
        return f"{what} is not the output of a module of this model"
    if not isinstance(m, _LAYERS):
        return f"{what} comes from {type(m).__name__} {name!r}, not a Linear or Conv layer"
    if isinstance(m, nn.modules.conv._ConvNd) and m.groups != 1:
        return f"{what} comes from grouped convolution {name!r} (groups={m.groups})"
    return None


def plan_site(
    model: nn.Module,
    name: str,
    *,
    producer: str | None,
    producer_input: str | None,
    consumers: list[tuple[str, int | None]],
    escapes: list[str],
    n_units: int,
) -> SitePlan | str:
    """The :class:`SitePlan` of one site from its traced wiring, or why it cannot be made."""

    def get(qual: str | None) -> nn.Module | None:
        if qual is None:
            return None
        try:
            return model.get_submodule(qual)
        except AttributeError:
            return None

    prod = get(producer)
    norm_name: str | None = None
    norm: nn.modules.batchnorm._BatchNorm | None = None
    layer_name = producer
    if isinstance(prod, _BN):
        norm_name, norm = producer, prod
        if prod.num_features != n_units:
            return f"batch norm {producer!r} has {prod.num_features} channels, not {n_units}"
        layer_name = producer_input
        problem = _layer_problem(
            get(producer_input), producer_input, f"the input of batch norm {producer!r}"
        )
    else:
        problem = _layer_problem(prod, producer, "its pre-activation")
    if problem is not None:
        return problem
    layer = get(layer_name)
    assert isinstance(layer, _LAYERS) and layer_name is not None
    if escapes:
        return "its output is also " + "; ".join(escapes)
    if not consumers:
        return "no Linear or Conv layer reads its output"
    if _n_out(layer) != n_units:
        return f"{layer_name!r} has {_n_out(layer)} outputs but the site has {n_units} units"
    found: list[tuple[str, nn.Linear | nn.modules.conv._ConvNd, int | None]] = []
    for cname, spatial in consumers:
        c = get(cname)
        if not isinstance(c, _LAYERS):
            return f"read by {type(c).__name__} {cname!r}"
        if isinstance(c, nn.modules.conv._ConvNd) and c.groups != 1:
            return f"read by grouped convolution {cname!r}"
        n_in = c.in_features if isinstance(c, nn.Linear) else c.in_channels
        if n_in != n_units * (spatial or 1):
            return f"{cname!r} has {n_in} inputs, expected {n_units} x {spatial or 1}"
        found.append((cname, c, spatial))
    return SitePlan(name, layer_name, layer, norm_name, norm, found)


def consumer_columns(idx: torch.Tensor, spatial: int | None) -> torch.Tensor:
    """The input columns (channels) of a consumer that belong to units ``idx``."""
    if spatial is None:
        return idx
    return (idx[:, None] * spatial + torch.arange(spatial, device=idx.device)).reshape(-1)


def reinit_units(
    plan: SitePlan, units: list[int] | torch.Tensor, optimizer: Any = None
) -> list[str]:
    """Re-draw the incoming weights of ``units``, zero their outgoing weights and state.

    Returns the optimizer state entries touched (``"0.weight:exp_avg"``, ...).
    """
    layer = plan.layer
    log: list[str] = []
    with torch.no_grad():
        idx = torch.as_tensor(units, dtype=torch.long, device=layer.weight.device)
        if idx.numel() == 0:
            return log
        fresh = copy.deepcopy(layer)
        fresh.reset_parameters()
        layer.weight[idx] = fresh.weight[idx].to(layer.weight.dtype)
        _reset_state(optimizer, layer.weight, (idx,), log, f"{plan.layer_name}.weight")
        if layer.bias is not None:
            layer.bias[idx] = 0
            _reset_state(optimizer, layer.bias, (idx,), log, f"{plan.layer_name}.bias")
        norm = plan.norm
        if norm is not None:
            if norm.affine:
                norm.weight[idx] = 1
                norm.bias[idx] = 0
                _reset_state(optimizer, norm.weight, (idx,), log, f"{plan.norm_name}.weight")
                _reset_state(optimizer, norm.bias, (idx,), log, f"{plan.norm_name}.bias")
            if norm.running_mean is not None and norm.running_var is not None:
                norm.running_mean[idx] = 0
                norm.running_var[idx] = 1
        for cname, c, spatial in plan.consumers:
            index = (slice(None), consumer_columns(idx, spatial))
            c.weight[index] = 0
            _reset_state(optimizer, c.weight, index, log, f"{cname}.weight")
    return log


@dataclass
class RecycleResult:
    """What :func:`recycle` changed: per site, the units and the tensors touched."""

    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def n_recycled(self) -> int:
        return sum(len(v["units"]) for v in self.sites.values())

    def to_dict(self) -> dict[str, Any]:
        return {"n_recycled": self.n_recycled, "sites": self.sites, "skipped": self.skipped}

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}: {len(v['units'])} units" for n, v in self.sites.items())
        return f"RecycleResult({self.n_recycled} units recycled; {parts or 'nothing to do'})"


def _reset_state(optimizer: Any, p: torch.Tensor, index: tuple, log: list[str], pname: str) -> None:
    if optimizer is None:
        return
    state = optimizer.state.get(p)
    if not state:
        return
    for key in _STATE_KEYS:
        buf = state.get(key)
        if isinstance(buf, torch.Tensor) and buf.shape == p.shape:
            buf[index] = 0
            log.append(f"{pname}:{key}")


def recycle(
    model: nn.Module,
    report: DeadUnitReport,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    tau: float | None = None,
    which: Literal["dormant", "dead"] = "dormant",
    strict: bool = True,
) -> RecycleResult:
    """Re-initialise the dormant (or dead) units found by :func:`relukit.diagnose` (ReDo).

    Parameters
    ----------
    model
        The model the report was made for (unchanged architecture).
    report
        From ``rk.diagnose(model, data)``; its wiring (producer and consumer layers of
        each site) is used.
    optimizer
        If given, its moment estimates / momentum for exactly the recycled rows and
        columns are zeroed (not its step count).
    tau
        Dormancy threshold; default: the report's.
    which
        ``"dormant"`` (score <= tau; ReDo) or ``"dead"`` (pre-activation never > 0).
    strict
        True: a site with units to recycle whose layers cannot be followed raises a
        ValueError (nothing is changed). False: such sites are skipped and listed in
        ``result.skipped`` with the reason.

    Returns
    -------
    RecycleResult
        ``result.sites[site] = {"units", "producer", "consumers", "optimizer_state"}``
        (and ``"norm"``, the batch norm reset with them, where there is one).

    Examples
    --------
    >>> import torch
    >>> import relukit as rk
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    >>> with torch.no_grad():
    ...     model[0].weight[2] = 0.0
    ...     model[0].bias[2] = -1.0
    >>> x = torch.randn(100, 3)
    >>> rk.recycle(model, rk.diagnose(model, x))
    RecycleResult(1 units recycled; 1: 1 units)
    >>> rk.diagnose(model, x).dead_units()
    {'1': []}
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(report, DeadUnitReport):
        raise TypeError(
            f"report must be a DeadUnitReport from relukit.diagnose, got {type(report).__name__}"
        )
    if which not in ("dormant", "dead"):
        raise ValueError(f"which must be 'dormant' or 'dead', got {which!r}")
    t = report.tau if tau is None else _check_tau(tau)

    plans: list[tuple[SitePlan, list[int]]] = []
    skipped: dict[str, str] = {}
    for name, site in report.sites.items():
        units = site.dead_units if which == "dead" else site.dormant_units(t)
        if not units:
            continue
        plan = plan_site(
            model,
            name,
            producer=site.producer,
            producer_input=site.producer_input,
            consumers=site.consumers,
            escapes=site.escapes,
            n_units=site.n_units,
        )
        if isinstance(plan, str):
            msg = f"cannot recycle site {name!r}: {plan}"
            if strict:
                raise ValueError(msg + " (pass strict=False to skip such sites)")
            skipped[name] = msg
            continue
        plans.append((plan, units))

    result = RecycleResult()
    for plan, units in plans:
        log = reinit_units(plan, units, optimizer)
        result.sites[plan.site] = {
            "units": list(units),
            "producer": plan.layer_name,
            "consumers": [c[0] for c in plan.consumers],
            "optimizer_state": log,
        }
        if plan.norm_name is not None:
            result.sites[plan.site]["norm"] = plan.norm_name
    result.skipped = skipped
    return result
