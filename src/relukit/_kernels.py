"""Fast paths for large contiguous float arrays (numba); see issue "Speed".

:func:`lookup` is called by the NumPy path of :mod:`relukit._dispatch` for every array
evaluation. It returns a zero-argument callable that computes the result (writing into
``out`` when given) or ``None`` when the NumPy path should be used. Results must be
bit-for-bit identical to the NumPy path. numba is imported only when a kernel is needed.
"""

from __future__ import annotations

from typing import Any


def lookup(act: Any, kind: str, x: Any, params: dict, at_kink: float | None, out: Any) -> Any:
    """Return a callable computing ``kind`` of ``act`` on ``x`` with a kernel, or ``None``."""
    return None
