"""``relukit.DeadUnitMonitor``: dead and dormant fractions and activation sparsity per site
during training."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from relukit.diagnose._core import SessionHook, _Session
from relukit.diagnose._report import _check_tau, dormant_mask, redo_score

__all__ = ["DeadUnitMonitor"]


class DeadUnitMonitor:
    """Record the dead and τ-dormant fraction and the activation sparsity of every
    activation site while training.

    The monitor hooks the model's activation sites (the same sites as
    :func:`relukit.diagnose`) and counts, from the training batches themselves, which
    units fired. A *step* is one forward pass of the model in training mode
    (``model.training``; eval-mode passes, e.g. for validation, are not counted unless
    ``train_only=False``). After every ``every`` steps one record is appended to
    :attr:`records`: per site, the fraction of units whose pre-activation was <= 0 for
    every value of those ``every`` batches (dead over the window), the fraction with
    ReDo score <= ``tau`` over the window (a unit whose output held a NaN counts as dead
    and dormant, and is left out of the layer's mean: see
    :attr:`relukit.diagnose.SiteReport.score`), and the *sparsity*: the fraction of the
    activation's output values that were exactly 0 over the window (at a gated site,
    ``f(gate) * up``, the zeros of ``f(gate)``, with the gated output's in
    ``output_sparsity``; see :attr:`relukit.diagnose.SiteReport.sparsity`). Counts stay
    on the model's device and are read once per window, so the cost is a few
    reductions per site and step (the zeros: one), and the state kept between steps is
    per unit (the largest pre-activation and the sum of ``|output|``, in float32 or
    wider whatever the model's dtype: a float16 model's sums would overflow) plus one
    count of nonzero values per site: its size does not depend on the batch or image
    size.

    A record is ``{"step": ..., "steps": ..., "sparsity": ..., "sites": {site: {
    "dead_fraction", "dormant_fraction", "sparsity", "n_units"}}}`` (and
    ``"output_sparsity"`` for gated sites); the record's ``"sparsity"`` is over all
    sites' values of the window. :meth:`sparsity` gives the running sparsity per site
    over every step counted so far.

    Use it as a context manager (hooks are removed on exit, also on error) or call
    :meth:`attach` / :meth:`detach`. A window cut short by ``detach`` is recorded too,
    with its own ``steps`` count.

    A copy of the model made while the monitor is attached (``copy.deepcopy``,
    ``torch.optim.swa_utils.AveragedModel(model)``, an EMA model) is a plain model: it
    computes with its own parameters, its forward passes are not counted, and it
    pickles (``torch.save``); so does the monitored model itself, without the monitor.

    Parameters
    ----------
    model
        The ``torch.nn.Module`` being trained.
    every
        Window length in steps.
    tau
        Dormancy threshold.
    functional
        Watch functional calls (``F.relu`` in ``forward``) through a
        ``TorchFunctionMode`` active during the model's forward only. None (default):
        watch them in the first counted forward pass (the first in training mode,
        unless ``train_only=False``; eval-mode passes before it do not decide) and keep
        watching only if the model makes such calls there; module-only models then pay
        only for their module hooks (within a
        few percent per training step of a 4-layer MLP, against +14 to +38% with the
        mode on: ``relukit experiment monitor-overhead``).
    train_only
        Count only forward passes made in training mode.
    unit_dim
        None (auto), 1 (channels) or -1 (last-dim features); see :func:`relukit.diagnose`.
    fast
        After the first pass, replace the hooks of module-only models with thin
        ``forward`` wrappers (instance attributes, removed on exit), which cost less
        than PyTorch's hook dispatch (not where a module already has an instance
        ``forward``).

    Examples
    --------
    >>> import torch
    >>> import relukit as rk
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
    >>> with rk.DeadUnitMonitor(model, every=5) as mon:
    ...     for step in range(10):
    ...         loss = model(torch.randn(16, 4)).pow(2).mean()
    ...         opt.zero_grad()
    ...         loss.backward()
    ...         opt.step()
    >>> [r["step"] for r in mon.records]
    [5, 10]
    >>> sorted(mon.history())
    ['1']
    >>> 0.0 < mon.sparsity()["1"] < 1.0  # about half of a ReLU's outputs are 0
    True
    """

    def __init__(
        self,
        model: nn.Module,
        every: int = 100,
        *,
        tau: float = 0.1,
        functional: bool | None = None,
        train_only: bool = True,
        unit_dim: int | None = None,
        fast: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        self.model = model
        self.every = every
        self.tau = _check_tau(tau)
        self.functional = functional
        self.train_only = train_only
        self.unit_dim = unit_dim
        self.records: list[dict[str, Any]] = []
        self.step_count = 0
        self._window = 0
        self.fast = fast
        self._sess: _Session | None = None
        self._handle: Any = None
        self._patched: list[nn.Module] = []
        # per site, over the windows recorded: [zeros, values counted]
        self._zero_totals: dict[str, list[int]] = {}

    # -- life cycle -------------------------------------------------------
    def attach(self) -> DeadUnitMonitor:
        """Hook the model's activation sites and start counting; returns the monitor."""
        if self._sess is not None:
            raise RuntimeError("this DeadUnitMonitor is already attached")
        model = self.model
        self._sess = _Session(
            model,
            functional=self.functional,
            trace=True,
            unit_dim=self.unit_dim,
            record=lambda: model.training or not self.train_only,
            light=True,
        )
        self._handle = model.register_forward_hook(
            SessionHook(self._after_forward), always_call=True
        )
        return self

    def detach(self) -> None:
        """Remove the hooks and the forward wrappers; a window cut short is recorded first."""
        if self._sess is None:
            return
        try:
            if self._window:
                self._flush()
        finally:
            self._sess.close()
            if self._handle is not None:
                self._handle.remove()
            for m in self._patched:
                if m.__dict__.get("forward") is not None:
                    del m.__dict__["forward"]
            self._patched = []
            self._sess = None
            self._handle = None

    # -- the fast path ----------------------------------------------------
    def _try_fast_path(self) -> None:
        """Swap the hooks for thin ``forward`` wrappers once the sites are known.

        PyTorch's hook dispatch costs more than the counting itself on small layers.
        After the first (traced) pass, if every site is an activation *module* (no
        functional sites), the hooks are removed and each site module, and the model,
        get an instance attribute ``forward`` that calls the original and updates the
        counts; :meth:`detach` deletes these attributes again. Not taken when a module
        already has an instance ``forward`` or an in-place site's kind does not keep
        the sign of its input (softplus, hardsigmoid).
        """
        sess = self._sess
        if sess is None or sess.functional or sess.tracing or not sess.sites:
            return
        modules = dict(self.model.named_modules())
        plan: dict[str, dict[int, Any]] = {}
        for site, acc in sess.sites.items():
            if acc.source != "module":
                return
            base, k = site, 0
            if site.endswith("]") and "[" in site:
                base, _, idx = site[:-1].rpartition("[")
                k = int(idx)
            m = modules.get(base)
            if m is None or "forward" in m.__dict__:
                return
            if getattr(m, "inplace", False) and acc.kind in ("softplus", "hardsigmoid"):
                return
            plan.setdefault(base, {})[k] = acc
        if "forward" in self.model.__dict__:
            return
        sess.close()
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        counts: dict[str, int] = {}
        state = {"recording": False}
        for base, accs in plan.items():
            m = modules[base]
            m.__dict__["forward"] = _SiteForward(m, base, accs, counts, state)
            self._patched.append(m)
        self.model.__dict__["forward"] = _RootForward(self.model, self, counts, state)
        self._patched.append(self.model)

    def __enter__(self) -> DeadUnitMonitor:
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    # -- counting ---------------------------------------------------------
    def _after_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        sess = self._sess
        if sess is None or sess.stack or not sess.recording:
            return
        self._count_step()
        if self.fast:
            self._try_fast_path()

    def _count_step(self) -> None:
        self.step_count += 1
        self._window += 1
        if self._window >= self.every:
            self._flush()

    def _flush(self) -> None:
        sess = self._sess
        assert sess is not None
        sites: dict[str, dict[str, float]] = {}
        zeros_all = values_all = 0
        for name, acc in sess.sites.items():
            alive_t = acc.alive_mask()
            if alive_t is None or acc.abs_sum is None:
                continue
            alive = alive_t.cpu().numpy()
            # (the sums are float32 at least, whatever the model's dtype; float64 here)
            absm = acc.abs_sum.to(torch.float64).cpu().numpy() / max(acc.n_values, 1)
            score = redo_score(absm)  # (a NaN unit is left out of the layer's mean)
            site: dict[str, float] = {
                "dead_fraction": float(1.0 - alive.mean()),
                "dormant_fraction": float(dormant_mask(score, self.tau).mean()),
            }
            counted = _zeros(acc)
            if counted is not None:
                zeros, values, out_zeros = counted
                site["sparsity"] = zeros / values
                if out_zeros is not None:
                    site["output_sparsity"] = out_zeros / values
                total = self._zero_totals.setdefault(name, [0, 0])
                total[0] += zeros
                total[1] += values
                zeros_all += zeros
                values_all += values
            site["n_units"] = acc.n_units
            sites[name] = site
            acc.reset()
        self.records.append(
            {
                "step": self.step_count,
                "steps": self._window,
                "sparsity": zeros_all / values_all if values_all else None,
                "sites": sites,
            }
        )
        self._window = 0

    # -- results ----------------------------------------------------------
    def history(self) -> dict[str, dict[str, list[float]]]:
        """``{site: {"step": [...], "dead_fraction": [...], "dormant_fraction": [...],
        "sparsity": [...]}}`` (and ``"output_sparsity"`` for gated sites), one value per
        record."""
        out: dict[str, dict[str, list[float]]] = {}
        keys = ("dead_fraction", "dormant_fraction", "sparsity")
        for r in self.records:
            for name, v in r["sites"].items():
                h = out.setdefault(name, {"step": [], **{k: [] for k in keys}})
                h["step"].append(r["step"])
                for k in keys:
                    h[k].append(v.get(k, float("nan")))
                if "output_sparsity" in v:
                    h.setdefault("output_sparsity", []).append(v["output_sparsity"])
        return out

    def sparsity(self) -> dict[str, float]:
        """The running activation sparsity per site: the fraction of exact zeros of its
        output (of ``f(gate)`` at a gated site) over every step counted so far, the
        window under way included (its counts are read from the device now)."""
        totals = {k: list(v) for k, v in self._zero_totals.items()}
        if self._sess is not None:
            for name, acc in self._sess.sites.items():
                counted = _zeros(acc)
                if counted is not None:
                    total = totals.setdefault(name, [0, 0])
                    total[0] += counted[0]
                    total[1] += counted[1]
        return {k: z / n for k, (z, n) in totals.items() if n}

    def plot(self, *, dormant: bool = True) -> Any:
        """Dead (and dormant) fraction per site over steps; returns a matplotlib Figure."""
        from relukit._optional import require

        plt = require("matplotlib.pyplot", "DeadUnitMonitor.plot")

        hist = self.history()
        ncols = 2 if dormant else 1
        fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 3.5), squeeze=False)
        plt.close(fig)
        keys = ["dead_fraction", "dormant_fraction"][:ncols]
        for ax, key in zip(axes[0], keys, strict=True):
            for name, h in hist.items():
                ax.plot(h["step"], [100 * v for v in h[key]], marker=".", label=name)
            ax.set_xlabel("training step")
            ax.set_ylabel("units (%)")
            label = "dead" if key == "dead_fraction" else f"dormant (τ={self.tau:g})"
            ax.set_title(f"{label}, per window of {self.every} steps")
            ax.set_ylim(-2, 102)
            if hist:
                ax.legend(fontsize="small")
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        state = "attached" if self._sess is not None else "detached"
        return (
            f"DeadUnitMonitor(every={self.every}, tau={self.tau:g}, {state}, "
            f"{self.step_count} steps, {len(self.records)} records)"
        )


def _zeros(acc: Any) -> tuple[int, int, int | None] | None:
    """``(zeros, values, zeros of the gated output or None)`` of a light accumulator
    (a read from the device), or None when it counted nothing."""
    if acc.nonzero is None or not acc.zero_values:
        return None
    n = acc.zero_values
    out = None if acc.out_nonzero is None else n - int(acc.out_nonzero)
    return n - int(acc.nonzero), n, out


# ---------------------------------------------------------------------------
# the fast path's forward wrappers
# ---------------------------------------------------------------------------


class _PlainForward:
    """The class's own ``forward`` of ``module``: what a copy of a patched module runs.

    A copy of a module (``copy.deepcopy``, pickling) copies its instance ``forward``
    too; the wrappers below turn into this in the copy, which then computes with its
    own parameters and counts nothing (the wrapper would call the original's forward).
    """

    __slots__ = ("module",)

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return type(self.module).forward(self.module, *args, **kwargs)


class _Wrapper:
    """Base of the fast path's wrappers: copies and pickles are :class:`_PlainForward`."""

    __slots__ = ("module", "orig")

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.orig = module.forward  # (the class's forward: no instance forward was there)

    def __deepcopy__(self, memo: dict) -> _PlainForward:
        # (the module is being copied: the memo holds its copy already)
        return _PlainForward(copy.deepcopy(self.module, memo))

    def __reduce__(self) -> tuple[type, tuple]:
        return (_PlainForward, (self.module,))


class _SiteForward(_Wrapper):
    """An activation site's ``forward``: the original, then the site's counts."""

    __slots__ = ("accs", "base", "counts", "inplace_sign", "state")

    def __init__(self, module: nn.Module, base: str, accs: dict, counts: dict, state: dict) -> None:
        super().__init__(module)
        self.base, self.accs, self.counts, self.state = base, accs, counts, state
        self.inplace_sign = bool(getattr(module, "inplace", False))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.orig(*args, **kwargs)
        if self.state["recording"] and args and isinstance(out, torch.Tensor):
            counts, base = self.counts, self.base
            k = counts.get(base, 0)
            counts[base] = k + 1
            acc = self.accs.get(k)
            if acc is not None:
                if acc.gate is not None:  # a gated site: the gate is the pre-activation
                    pre = acc.gate.gate(args)
                    if pre is not None:
                        acc.add_light(pre, out)
                else:  # in place, the input is gone; the output has the same sign
                    acc.add_light(out if self.inplace_sign else args[0], out)
        return out


class _RootForward(_Wrapper):
    """The model's ``forward``: starts a pass (training mode decides), counts the step."""

    __slots__ = ("counts", "monitor", "state")

    def __init__(
        self, model: nn.Module, monitor: DeadUnitMonitor, counts: dict, state: dict
    ) -> None:
        super().__init__(model)
        self.monitor, self.counts, self.state = monitor, counts, state

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        mon = self.monitor
        self.counts.clear()
        self.state["recording"] = rec = self.module.training or not mon.train_only
        out = self.orig(*args, **kwargs)
        if rec:
            mon._count_step()
        return out
