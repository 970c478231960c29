"""Placeholder: the content-keyed kernel cache (replaced by the real module)."""

from __future__ import annotations

from typing import Any

from numba import njit


def jit(fn: Any, **flags: Any) -> Any:
    return njit(cache=True, **flags)(fn)
