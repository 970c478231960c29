r"""Optimal piecewise-constant derivatives for few-bit backward (``bits=`` in relukit.torch).

With ``bits=b`` the backward of a smooth activation multiplies the incoming gradient
not by :math:`f'(x)` but by a piecewise-constant :math:`q(x)` with :math:`2^b` levels
on :math:`2^b` intervals, so that only the interval index (``b`` bits) of each element
has to be kept. The boundaries :math:`t_1 < \dots < t_{2^b - 1}` and levels
:math:`l_0, \dots, l_{2^b - 1}` minimise the derivative's L2 error weighted by the
standard normal density :math:`\varphi` (the distribution of a pre-activation after a
normalised layer):

.. math::

    E(t, l) = \int_{-\infty}^{\infty} \bigl(f'(x) - q(x)\bigr)^2 \varphi(x)\,dx,
    \qquad q(x) = l_k \text{ for } t_k < x \le t_{k+1},

and the error quoted is relative, :math:`\sqrt{E / \int f'(x)^2 \varphi(x)\,dx}`.

The minimum is found by an exact dynamic programme over a fine grid of cells
(:func:`optimal_levels`): ``GRID`` cells of width 0.005 on :math:`[-8, 8]` (the outer
cells reach to :math:`\pm\infty`), each with its normal mass and the
:math:`\varphi`-weighted mean of the catalogue's own derivative
(``relukit.get(name).derivative`` on NumPy, float64). For a fixed split into intervals
the best level is the interval's weighted mean, so the programme minimises the within-
interval weighted variance over every split into :math:`2^b` runs of cells, which it
does exactly (:math:`O(2^b N^2)`).

The default parameter sets are precomputed by ``docs/build_levels.py`` into
``_levels.json`` next to this file; other parameters (``Softplus(beta=2)``) run the same
programme on first use (a few seconds for 4 bits, O(N) memory) and are cached.

>>> from relukit.torch import derivative_levels
>>> bounds, levels = derivative_levels("gelu", 1)
>>> [round(v, 3) for v in bounds], [round(v, 3) for v in levels]
([0.0], [0.091, 0.909])
>>> round(relative_error("gelu", bounds, levels), 3)
0.29
"""

from __future__ import annotations

import functools
import json
import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "ENTRIES",
    "GRID",
    "MAX_BITS",
    "canonical",
    "derivative_levels",
    "optimal_levels",
    "relative_error",
]

#: the entries with a few-bit backward, and the parameter sets precomputed in the table
ENTRIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("gelu", {"approximate": "none"}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("softplus", {"beta": 1.0, "threshold": 20.0}),
    ("hardswish", {}),
)
#: the grid of the dynamic programme: cells of width ``2 * GRID_LIMIT / GRID`` on
#: ``[-GRID_LIMIT, GRID_LIMIT]`` (cell edges include the integers, so hardswish's kinks
#: at ±3 are edges)
GRID = 3200
GRID_LIMIT = 8.0
#: the largest ``bits`` supported
MAX_BITS = 4
_TABLE = Path(__file__).with_name("_levels.json")


def canonical(name: str, params: dict[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """``(catalogue name, sorted bound parameters)``: the table key of an entry.

    Validates through the catalogue (its error messages) and rejects entries without a
    few-bit backward.
    """
    import relukit

    act = relukit.get(name)
    supported = sorted({n for n, _ in ENTRIES})
    if act.name not in supported:
        raise ValueError(
            f"derivative_levels: no few-bit backward for {name!r}; "
            f"it exists for {', '.join(supported)}"
        )
    bound = act.bind((), dict(params))
    return act.name, tuple(sorted(bound.items()))


def key_string(name: str, params: tuple[tuple[str, Any], ...]) -> str:
    """The JSON key of ``(name, params)``, e.g. ``gelu(approximate='tanh')``."""
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in params)})"


def _derivative(name: str, params: tuple[tuple[str, Any], ...]) -> Callable[[Any], Any]:
    import relukit

    act = relukit.get(name)
    p = dict(params)
    return lambda x: act.derivative(x, **p)


def _cells(name: str, params: tuple[tuple[str, Any], ...], n: int, limit: float) -> Any:
    """Per-cell normal mass ``w`` and phi-weighted mean derivative ``d`` (float64)."""
    import numpy as np

    from relukit._optional import require

    ndtr = require(
        "scipy.special",
        "few-bit levels for parameters without a stored table",
        alternative="the default parameters' levels need no SciPy",
    ).ndtr

    edges = np.linspace(-limit, limit, n + 1)
    mass = np.diff(np.concatenate([[0.0], ndtr(edges[1:-1]), [1.0]]))
    # 8 points per cell, weighted by the normal density: the cell's mean derivative
    frac = (np.arange(8) + 0.5) / 8
    xs = edges[:-1, None] + (edges[1:] - edges[:-1])[:, None] * frac
    phi = np.exp(-0.5 * xs * xs)
    d = (phi * _derivative(name, params)(xs)).sum(1) / phi.sum(1)
    return edges, mass, d


def optimal_levels(
    name: str,
    bits: int,
    params: tuple[tuple[str, Any], ...] = (),
    *,
    grid: int = GRID,
    limit: float = GRID_LIMIT,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Boundaries and levels minimising the normal-weighted L2 error (see module doc).

    The exact dynamic programme over ``grid`` cells: ``best[k][j]`` is the least
    weighted within-run variance of cells ``0..j-1`` split into ``k + 1`` runs, and
    ``best[k][j] = min_i best[k-1][i] + cost(i, j)`` with ``cost`` from prefix sums.
    Returns ``2**bits - 1`` boundaries (cell edges) and ``2**bits`` levels (weighted means).
    """
    import numpy as np

    edges, w, d = _cells(name, params, grid, limit)
    n, k_total = len(d), 2**bits
    s0 = np.concatenate([[0.0], np.cumsum(w)])
    s1 = np.concatenate([[0.0], np.cumsum(w * d)])
    s2 = np.concatenate([[0.0], np.cumsum(w * d * d)])
    i = np.arange(n + 1)

    def cost(j: Any) -> Any:
        """cost[i, c] of the run of cells i..j[c]-1 (inf unless i < j[c])."""
        m = s0[j][None, :] - s0[:, None]
        s = s1[j][None, :] - s1[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (s2[j][None, :] - s2[:, None]) - np.where(m > 0, s * s / m, 0.0)
        c[i[:, None] >= j[None, :]] = np.inf
        return c

    best = cost(i)[0] if n < 256 else np.concatenate([cost(j)[0] for j in _chunks(n + 1)])
    choices = []
    for _ in range(1, k_total):
        new, arg = np.empty(n + 1), np.empty(n + 1, dtype=np.int64)
        for j in _chunks(n + 1):  # columns in chunks: O(N) memory, not O(N^2)
            total = best[:, None] + cost(j)
            arg[j] = np.argmin(total, axis=0)
            new[j] = total[arg[j], np.arange(len(j))]
        choices.append(arg)
        best = new
    cuts = [n]
    for arg in reversed(choices):
        cuts.append(int(arg[cuts[-1]]))
    cuts.reverse()
    starts = [0, *cuts[:-1]]
    levels = tuple(
        float((s1[b] - s1[a]) / (s0[b] - s0[a])) for a, b in zip(starts, cuts, strict=True)
    )
    bounds = tuple(float(edges[c]) for c in cuts[:-1])
    return bounds, levels


def _chunks(n: int, size: int = 256) -> list[Any]:
    import numpy as np

    return [np.arange(a, min(a + size, n)) for a in range(0, n, size)]


def relative_error(
    name: str,
    boundaries: Any,
    levels: Any,
    points: int = 400_001,
    limit: float = 12.0,
    **params: Any,
) -> float:
    r"""Relative normal-weighted L2 error :math:`\sqrt{E / \int f'^2 \varphi}` of a quantiser.

    Evaluated by the trapezoid rule on ``points`` points over ``[-limit, limit]``,
    independently of the grid of :func:`optimal_levels`.
    """
    import numpy as np

    key = canonical(name, params)
    x = np.linspace(-limit, limit, points)
    phi = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    d = _derivative(*key)(x)
    q = np.asarray(levels, dtype=np.float64)[
        np.searchsorted(np.asarray(boundaries, dtype=np.float64), x, side="left")
    ]
    err = np.trapezoid((d - q) ** 2 * phi, x)
    ref = np.trapezoid(d * d * phi, x)
    return float(math.sqrt(err / ref))


@functools.cache
def _table() -> dict[str, Any]:
    return json.loads(_TABLE.read_text(encoding="utf-8"))["entries"]


@functools.lru_cache(maxsize=128)
def _levels(
    name: str, params: tuple[tuple[str, Any], ...], bits: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    row = _table().get(key_string(name, params), {}).get(str(bits))
    if row is not None:
        return tuple(row["boundaries"]), tuple(row["levels"])
    return optimal_levels(name, bits, params)


def check_bits(where: str, bits: Any) -> int | None:
    """``None`` or an integer in ``1..MAX_BITS`` (Python or NumPy, returned as a Python
    int), else a TypeError/ValueError naming ``bits``."""
    if bits is None:
        return None
    # numbers.Integral: int and NumPy's integer scalars (np.int64(3)), not bool or np.bool_
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
        raise TypeError(
            f"{where}: bits must be None (exact backward) or an integer from 1 to {MAX_BITS}, "
            f"got {bits!r}"
        )
    if not 1 <= int(bits) <= MAX_BITS:
        raise ValueError(
            f"{where}: bits must be None (exact backward) or an integer from 1 to {MAX_BITS}, "
            f"got {bits}"
        )
    return int(bits)


def derivative_levels(
    name: str, bits: int, **params: Any
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    r"""The few-bit derivative of ``name``: ``(boundaries, levels)`` for ``bits`` bits.

    ``boundaries`` are ``2**bits - 1`` increasing numbers, ``levels`` are ``2**bits``
    multipliers; the backward of ``relukit.torch.<name>(x, ..., bits=bits)`` multiplies
    the incoming gradient by ``levels[k]`` where ``k`` is the number of boundaries
    strictly below ``x`` (:math:`t_k < x \le t_{k+1}`). They minimise the derivative's
    L2 error weighted by the standard normal density (module doc, :func:`optimal_levels`).

    Parameters
    ----------
    name : str
        ``"gelu"``, ``"silu"``, ``"mish"``, ``"softplus"`` or ``"hardswish"`` (aliases too).
    bits : int
        1 to 4.
    **params
        The activation's parameters (``approximate=``, ``beta=``, ``threshold=``).

    Examples
    --------
    >>> from relukit.torch import derivative_levels
    >>> b, lv = derivative_levels("silu", 2)
    >>> len(b), len(lv)
    (3, 4)
    >>> [round(v, 2) for v in b]
    [-0.67, 0.0, 0.67]
    """
    bits_ = check_bits("derivative_levels", bits)
    if bits_ is None:
        raise TypeError("derivative_levels: bits must be an int from 1 to 4, got None")
    cname, key = canonical(name, params)
    return _levels(cname, key, bits_)
