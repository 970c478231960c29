"""The catalogue's parameter sets (``test_family.PARAMS``) as test cases: the one-input
entries and the gated ones (two inputs, gate and up), with their pytest ids."""

from __future__ import annotations

from typing import Any

import relukit as rk
from test_family import PARAMS

#: every entry with every parameter set
ALL: list[tuple[str, dict[str, Any]]] = [(name, p) for name, ps in PARAMS.items() for p in ps]


def ids(cases: list) -> list[str]:
    """``name-key=value-...`` for each ``(name, params)``."""
    return [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for n, p in cases]


#: the one-input entries
CASES = [(name, p) for name, p in ALL if not rk.get(name).gated]
IDS = ids(CASES)
#: the gated entries
GATED = [(name, p) for name, p in ALL if rk.get(name).gated]
GATED_IDS = ids(GATED)
