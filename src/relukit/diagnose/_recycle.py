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

Limits: the producer must be an ``nn.Linear`` or ``nn.Conv{1,2,3}d`` (groups=1) module
whose output *is* the pre-activation (no batch norm or other op between them), and the
site's output may flow only into ``Linear``/``Conv`` modules, through dropout, pooling,
batch norm, identity and a flatten (module or ``torch.flatten``/``view``/``reshape`` to
``(N, -1)``). Residual additions, concatenations, functional ``F.linear``, the model's
output, or anything else reading the units make :func:`recycle` refuse that site (a
ValueError naming it and why), before anything is changed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from relukit.diagnose._report import DeadUnitReport, _check_tau

__all__ = ["RecycleResult", "recycle"]

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
        ``result.sites[site] = {"units", "producer", "consumers", "optimizer_state"}``.

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

    plans: list[tuple[str, Any, Any, Any, Any]] = []
    skipped: dict[str, str] = {}
    for name, site in report.sites.items():
        units = site.dead_units if which == "dead" else site.dormant_units(t)
        if not units:
            continue
        problem = None
        producer = consumers = None
        try:
            producer = model.get_submodule(site.producer) if site.producer is not None else None
        except AttributeError:
            producer = None
        if site.producer is None or producer is None:
            problem = "its pre-activation is not the output of a module of this model"
        elif not isinstance(producer, _LAYERS):
            problem = f"its input comes from {type(producer).__name__} {site.producer!r}, not a Linear or Conv layer"
        elif isinstance(producer, nn.modules.conv._ConvNd) and producer.groups != 1:
            problem = f"grouped convolution {site.producer!r} (groups={producer.groups})"
        elif site.escapes:
            problem = "its output is also " + "; ".join(site.escapes)
        elif not site.consumers:
            problem = "no Linear or Conv layer reads its output"
        else:
            n_out = (
                producer.out_features if isinstance(producer, nn.Linear) else producer.out_channels
            )
            if n_out != site.n_units:
                problem = (
                    f"{site.producer!r} has {n_out} outputs but the site has {site.n_units} units"
                )
            consumers = []
            for cname, spatial in site.consumers:
                c = model.get_submodule(cname)
                if not isinstance(c, _LAYERS):
                    problem = f"read by {type(c).__name__} {cname!r}"
                    break
                if isinstance(c, nn.modules.conv._ConvNd) and c.groups != 1:
                    problem = f"read by grouped convolution {cname!r}"
                    break
                n_in = c.in_features if isinstance(c, nn.Linear) else c.in_channels
                if n_in != site.n_units * (spatial or 1):
                    problem = (
                        f"{cname!r} has {n_in} inputs, expected {site.n_units} x {spatial or 1}"
                    )
                    break
                consumers.append((cname, c, spatial))
        if problem is not None:
            msg = f"cannot recycle site {name!r}: {problem}"
            if strict:
                raise ValueError(msg + " (pass strict=False to skip such sites)")
            skipped[name] = msg
            continue
        plans.append((name, units, site.producer, producer, consumers))

    result = RecycleResult()
    with torch.no_grad():
        for name, units, pname, producer, consumers in plans:
            idx = torch.as_tensor(units, dtype=torch.long, device=producer.weight.device)
            fresh = copy.deepcopy(producer)
            fresh.reset_parameters()
            log: list[str] = []
            producer.weight[idx] = fresh.weight[idx].to(producer.weight.dtype)
            _reset_state(optimizer, producer.weight, (idx,), log, f"{pname}.weight")
            if producer.bias is not None:
                producer.bias[idx] = 0
                _reset_state(optimizer, producer.bias, (idx,), log, f"{pname}.bias")
            done = []
            for cname, c, spatial in consumers:
                if spatial is None:
                    cols = idx
                else:
                    cols = (
                        idx[:, None] * spatial + torch.arange(spatial, device=idx.device)
                    ).reshape(-1)
                index = (slice(None), cols)
                c.weight[index] = 0
                _reset_state(optimizer, c.weight, index, log, f"{cname}.weight")
                done.append(cname)
            result.sites[name] = {
                "units": list(units),
                "producer": pname,
                "consumers": done,
                "optimizer_state": log,
            }
    result.skipped = skipped
    return result
