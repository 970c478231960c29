"""``relukit.diagnose(model, data)``: find dead and dormant units of a PyTorch model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from relukit.diagnose._core import _Session
from relukit.diagnose._report import DeadUnitReport, SiteReport, _check_tau

__all__ = ["diagnose"]


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def _batches(data: Any, batch_size: int) -> Iterator[torch.Tensor]:
    """Model inputs from a tensor, an iterable of tensors / (input, target) pairs, a DataLoader."""
    if isinstance(data, torch.Tensor):
        if data.ndim == 0:
            raise ValueError("data must have a batch dimension, got a 0-d tensor")
        for i in range(0, data.shape[0], batch_size):
            yield data[i : i + batch_size]
        return
    if isinstance(data, (str, bytes, dict)) or not isinstance(data, Iterable):
        raise TypeError(
            f"data must be a tensor, an iterable of tensors or of (input, target) batches, "
            f"or a DataLoader; got {type(data).__name__}"
        )
    for k, item in enumerate(data):
        if isinstance(item, (tuple, list)) and item:
            item = item[0]
        if not isinstance(item, torch.Tensor):
            raise TypeError(
                f"data batch {k} is a {type(item).__name__}; expected a tensor or an "
                f"(input, target) pair whose input is a tensor"
            )
        yield item


def _zero_count(acc: Any, nonzero: torch.Tensor | None) -> np.ndarray:
    """Per unit: values that were 0, from the count of those that were not."""
    per_unit = acc.zero_values // max(acc.n_units, 1)
    if nonzero is None:
        return np.zeros(acc.n_units, np.int64)
    return per_unit - nonzero.cpu().numpy().astype(np.int64)


def diagnose(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int = 256,
    tau: float = 0.1,
    device: str | torch.device | None = None,
    functional: bool = True,
    unit_dim: int | None = None,
) -> DeadUnitReport:
    """Find the dead and τ-dormant units of every ReLU-family activation site of ``model``.

    Runs ``model`` on ``data`` (in eval mode, without gradients) and counts, per unit of
    every activation site, how often its pre-activation ``z`` was > 0, the mean of
    ``|h|`` for its output ``h = act(z)``, and how often ``h`` was exactly 0. A unit is

    * **dead** when ``z <= 0`` for every sample (and every position, for a conv channel);
    * **τ-dormant** when its ReDo score ``s_i = mean|h_i| / ((1/K) Σ_k mean|h_k|)`` is
      ``<= tau`` (Sokar et al. 2023; all units of a silent layer have score 0).

    A unit whose output held a NaN (a NaN weight or bias) is dead (NaN is not > 0) and
    dormant, with score NaN; it is left out of the layer's mean, so the other units'
    scores are what they would be without it.

    A site's **sparsity** is the fraction of its output values that are exactly 0
    (``h == 0``: +0 and -0; NaN is not 0), over all units and samples: the activation
    sparsity that ReLU-fication work on language models reports. A dead ReLU unit is 0
    everywhere; sparsity also counts the zeros of live units. At a gated site
    (``f(gate) * up``: glu, reglu, geglu, swiglu, bilinear, called with ``(gate, up)``
    or with one tensor whose second half is the gate) the pre-activation is the gate,
    and the sparsity counts the zeros of ``f(gate)``; the gated output's zeros are in
    ``output_sparsity`` (see :class:`SiteReport`).

    Sites are ``torch.nn`` activation modules, relukit's torch modules, and (with
    ``functional=True``) calls such as ``F.relu``, ``torch.relu``, ``x.relu()``,
    ``F.leaky_relu``, ``F.threshold`` inside ``forward``, relukit's functional forms
    (``relukit.torch.relu(x, at_kink=1.0)``, ``relukit.torch.squared_relu``) and the
    NumPy API's functions on a torch tensor (``relukit.relu(x)``). A module site is named by its qualified name
    (``"features.2"``), a functional site by the module whose ``forward`` made the call,
    the function and a counter (``"block.relu[0]"``); a unit is a feature of an
    ``(N, F)`` or ``(N, T, F)`` output and a channel of a conv output ``(N, C, ...)``.

    The model is left as it was: every hook is removed (also when ``forward`` raises),
    the train/eval mode of every submodule is restored, parameters, buffers and
    ``.grad`` are untouched. Memory does not grow with the data: only per-unit running
    counts are kept.

    Parameters
    ----------
    model
        A ``torch.nn.Module``.
    data
        A tensor (split into batches of ``batch_size`` along dim 0), or an iterable of
        tensors or of ``(input, target, ...)`` batches (the first element is the model
        input), such as a ``DataLoader``.
    batch_size
        Batch size when ``data`` is a tensor.
    tau
        Dormancy threshold (ReDo used 0.025 and 0.1).
    device
        Where to run; None: the device of the model's first parameter.
    functional
        Also find functional activation calls (a ``TorchFunctionMode``; slower).
    unit_dim
        None (auto, see above), 1 (channels) or -1 (last-dim features).

    Returns
    -------
    DeadUnitReport

    Examples
    --------
    >>> import torch
    >>> import relukit as rk
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    >>> with torch.no_grad():
    ...     model[0].weight[2] = 0.0
    ...     model[0].bias[2] = -1.0  # unit 2 can never fire
    >>> report = rk.diagnose(model, torch.randn(100, 3))
    >>> report.dead_units()
    {'1': [2]}
    >>> report["1"].dead_fraction
    0.25
    >>> report["1"].sparsity >= 0.25  # dead units are 0 everywhere, live ones sometimes
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    tau = _check_tau(tau)
    dev = _model_device(model) if device is None else torch.device(device)

    modes = {m: m.training for m in model.modules()}
    sess: _Session | None = None
    n_samples = n_batches = 0
    try:
        model.eval()
        sess = _Session(model, functional=functional, trace=True, unit_dim=unit_dim)
        with torch.no_grad():
            for x in _batches(data, batch_size):
                x = x.to(dev)
                model(x)
                n_samples += int(x.shape[0]) if x.ndim else 1
                n_batches += 1
    finally:
        if sess is not None:
            sess.close()
        for m, training in modes.items():
            m.training = training
    if n_batches == 0:
        raise ValueError("data is empty: diagnose needs at least one batch")

    sites = []
    for name, acc in sess.sites.items():
        info = sess.trace.get(name)
        pos = (
            acc.pos_count.cpu().numpy().astype(np.int64)
            if acc.pos_count is not None
            else np.zeros(acc.n_units, np.int64)
        )
        absm = (
            acc.abs_sum.cpu().numpy() / max(acc.n_values, 1)
            if acc.abs_sum is not None
            else np.zeros(acc.n_units)
        )
        sites.append(
            SiteReport(
                name=name,
                kind=acc.kind,
                source=acc.source,
                unit="channel" if acc.unit_dim == 1 else "feature",
                n_units=acc.n_units,
                n_values=acc.n_values,
                positive_count=pos,
                abs_mean=absm,
                zero_count=_zero_count(acc, acc.nonzero),
                output_zero_count=_zero_count(acc, acc.out_nonzero) if acc.gated else None,
                gated=acc.gated,
                tau=tau,
                producer=info.producer if info else None,
                consumers=list(info.consumers) if info else [],
                escapes=list(info.escapes) if info else ["not traced"],
                producer_input=info.producer_input if info else None,
            )
        )
    return DeadUnitReport(sites, tau=tau, n_samples=n_samples, n_batches=n_batches)
