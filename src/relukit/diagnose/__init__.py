"""Dead-unit diagnostics for PyTorch models (needs the ``torch`` extra).

* :func:`diagnose` finds dead and τ-dormant units of every ReLU-family activation site
  (modules and functional calls) and returns a :class:`DeadUnitReport`;
* :class:`DeadUnitMonitor` records dead/dormant fractions during training, cheaply;
* :func:`recycle` re-initialises dormant units of Linear/Conv layers (ReDo);
* :class:`ContinualBackprop` replaces the least useful mature units a few per step
  (continual backpropagation, Dohare et al. 2024).

Definitions (see docs/conventions.md): a unit is *dead* when its pre-activation is <= 0
for every input of the data set; it is *τ-dormant* when its ReDo score
``mean|h_i| / mean_k mean|h_k|`` is <= τ.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ModuleNotFoundError as _exc:  # pragma: no cover - exercised without the extra
    raise ModuleNotFoundError(
        "relukit.diagnose needs PyTorch, which is not installed: pip install 'relukit[torch]' "
        "(torch >= 2.3)",
        name="torch",
    ) from _exc


from relukit._callable import make_callable
from relukit.diagnose._cbp import ContinualBackprop
from relukit.diagnose._diagnose import diagnose
from relukit.diagnose._monitor import DeadUnitMonitor
from relukit.diagnose._recycle import RecycleResult, recycle
from relukit.diagnose._report import DeadUnitReport, SiteReport

__all__ = [
    "ContinualBackprop",
    "DeadUnitMonitor",
    "DeadUnitReport",
    "RecycleResult",
    "SiteReport",
    "diagnose",
    "recycle",
]


make_callable(__name__, diagnose)
