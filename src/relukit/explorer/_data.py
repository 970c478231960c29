"""The numbers of the explorer page, all computed by relukit's own activations.

Every number the page shows comes from the public API of the catalogue, evaluated here
in Python before the page is written: ``act(x, **params)``, ``act.derivative(x,
**params, at_kink=...)`` and ``act.kink_points(**params)``. The page's script only
*switches* between these precomputed arrays when a slider moves (it never evaluates an
activation), so the page shows one formula per activation: the catalogue's.

What is precomputed, for every activation offered and every combination of its
parameter sliders (the cartesian product of the slider grids):

* the value and the derivative on a fixed grid of x (:func:`x_grid`), for the read-out
  at the cursor;
* the curves as drawn: the value with every kink point added exactly, the derivative
  broken at each kink (each piece ends at the float beside the kink, as in
  :mod:`relukit.plot`);
* each kink's one-sided limits and the derivative used there for each ``at_kink``
  choice of the page (``act.derivative(kink, at_kink=a)``), and whether the kink is a
  visible jump (drawn with markers);
* the intervals where the derivative is exactly 0 (shaded: a unit there gets no
  gradient);
* the dying-unit view: for Gaussian pre-activations of one layer on a grid of means and
  spreads, the share of units whose derivative is 0 on every input (dead) and the share
  of pre-activations with derivative 0.

Parameter combinations that the catalogue rejects (``hardtanh`` with ``max_val <
min_val``) carry the catalogue's own error message instead of numbers.

A gated entry, ``f(gate) * up`` (``swiglu(gate, up)``), is drawn as ``rk.plot(name)``
draws it: against its gate ``x`` with ``up`` fixed at 1 (:data:`GATED_UP`, listed on its
card), so its curves are the value ``f(x)`` and the derivative with respect to the gate
(evaluated by the entry itself, as for the others). ``up`` scales both curves and moves
no kink, so it gets no slider.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relukit.catalogue import Activation, Param

__all__ = [
    "AT_KINK_CHOICES",
    "DYING_MEANS",
    "DYING_SPREADS",
    "SPAN",
    "Blob",
    "dying_preactivations",
    "dying_samples",
    "entry_data",
    "slider_values",
    "x_grid",
]

#: the x range that is sampled; the page shows any part of it
SPAN = (-10.0, 10.0)

#: the wider range where the no-gradient intervals are looked for (the dying-unit
#: histogram reaches further than the curves)
ZERO_SPAN = (-20.0, 20.0)

#: the ``at_kink`` switch of the page: None is relukit's default (PyTorch's value),
#: then the choices the tutorials make
AT_KINK_CHOICES: tuple[float | None, ...] = (None, 0.0, 1.0, 0.5)

#: the dying-unit view: the layer's pre-activation z = mean + spread * (0.8 a_u + 0.6 e_un)
#: for unit u and input n, with a_u (what differs between units: their biases and
#: weights) and e_un (what differs between inputs) standard normal; so z has the given
#: mean and spread, and the units of a layer differ as much as the inputs do
DYING_UNITS = 128
DYING_INPUTS = 32
DYING_UNIT_SHARE = 0.8
DYING_SEED = 0
DYING_MEANS = tuple(i / 4 for i in range(-16, 9))  # -4 to 2 in steps of 0.25
DYING_SPREADS = (0.5, 1.0, 1.5, 2.0, 3.0)
DYING_BIN_EDGES = tuple(i / 4 for i in range(-64, 65))  # -16 to 16, width 0.25


def _steps(lo: float, hi: float, step: float) -> tuple[float, ...]:
    """``lo, lo + step, ..., hi`` as the floats nearest the decimals (no drift)."""
    n = round((hi - lo) / step)
    scale = 10 ** max(0, -math.floor(math.log10(step)) + 2)
    return tuple(round((lo + i * step) * scale) / scale for i in range(n + 1))


#: the values each slider offers, per (activation, parameter): teaching choices, not
#: mathematics (the catalogue default is always added, and every value is validated by
#: the catalogue). Parameters not listed get :func:`_generic_values`.
SLIDERS: dict[tuple[str, str], tuple[Any, ...]] = {
    ("leaky_relu", "negative_slope"): _steps(0.0, 0.5, 0.01),
    ("prelu", "weight"): _steps(0.0, 1.0, 0.05),
    ("hardtanh", "min_val"): _steps(-3.0, 1.0, 0.5),
    ("hardtanh", "max_val"): _steps(-1.0, 3.0, 0.5),
    ("threshold", "threshold"): _steps(-3.0, 3.0, 0.5),
    ("threshold", "value"): _steps(-2.0, 2.0, 1.0),
    ("rrelu", "lower"): _steps(0.0, 0.5, 0.05),
    ("rrelu", "upper"): _steps(0.0, 0.5, 0.05),
    ("elu", "alpha"): _steps(0.0, 3.0, 0.25),
    ("celu", "alpha"): _steps(0.25, 3.0, 0.25),
    ("softplus", "beta"): (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
    ("softplus", "threshold"): (1.0, 2.0, 5.0, 10.0, 20.0),
    ("squareplus", "b"): _steps(0.5, 10.0, 0.5),
}


def x_grid() -> np.ndarray:
    """The x values of the read-out: 0.02 apart on [-2, 2], 0.05 on [-4, 4], 0.1 beyond.

    Each is the float nearest a short decimal (``-1.5``, ``0.38``), so the cursor shows
    the number a reader would type. 401 points over :data:`SPAN`.
    """
    hundredths = sorted(
        set(range(-200, 201, 2)) | set(range(-400, 401, 5)) | set(range(-1000, 1001, 10))
    )
    return np.array(hundredths, dtype=np.float64) / 100.0


def _generic_values(p: Param) -> tuple[Any, ...]:
    """Slider values for a parameter without a chosen grid: 21 values around the default."""
    if p.kind == "choice":
        return tuple(p.choices)
    d = float(p.default)
    span = max(1.0, abs(d))
    return tuple(d + span * i / 10 for i in range(-10, 11))


def is_slider(p: Param) -> bool:
    """Whether a parameter gets a slider: reals, choices and scalar weights do; flags and
    seeds (rrelu's ``training`` and ``rng``) stay at their defaults (the deterministic
    function is drawn)."""
    return p.kind in ("real", "choice", "weight")


def slider_values(act: Activation, p: Param) -> tuple[Any, ...]:
    """The values the slider of ``p`` offers: the chosen grid with the default added,
    in increasing order, without the values the catalogue rejects on their own."""
    values = list(SLIDERS.get((act.name, p.name), ()) or _generic_values(p))
    if p.kind != "choice":
        values = sorted({float(v) for v in [*values, p.default]})
    elif p.default not in values:
        values.insert(0, p.default)
    ok = []
    for v in values:
        try:
            p.validate(v, act.name)
        except (TypeError, ValueError):
            continue
        ok.append(v)
    return tuple(ok)


# ---------------------------------------------------------------------------
# the binary blob: every float64 array of the page, once each
# ---------------------------------------------------------------------------


@dataclass
class Blob:
    """Float64 arrays packed into one buffer; equal arrays are stored once.

    ``add`` returns ``[offset, length]`` in float64 elements, which the page's script
    turns into a ``Float64Array`` view of the unpacked buffer.
    """

    parts: list[bytes] = field(default_factory=list)
    _index: dict[bytes, list[int]] = field(default_factory=dict)
    _size: int = 0

    def add(self, values: Any) -> list[int]:
        a = np.ascontiguousarray(values, dtype="<f8")
        raw = a.tobytes()
        ref = self._index.get(raw)
        if ref is None:
            ref = [self._size, int(a.size)]
            self._index[raw] = ref
            self.parts.append(raw)
            self._size += int(a.size)
        return ref

    def encoded(self) -> str:
        """The buffer, gzip-compressed (no time stamp: the page is reproducible), base64."""
        packed = gzip.compress(b"".join(self.parts), compresslevel=9, mtime=0)
        return base64.b64encode(packed).decode("ascii")

    @staticmethod
    def decode(text: str) -> np.ndarray:
        """The inverse of :meth:`encoded` (for tests and tools)."""
        return np.frombuffer(gzip.decompress(base64.b64decode(text)), dtype="<f8")


def _num(v: float) -> float | None:
    """A number for JSON: non-finite ones become null."""
    v = float(v)
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------------------
# one activation
# ---------------------------------------------------------------------------


#: a gated entry, ``f(gate) * up``, is drawn against its gate with ``up`` fixed at this
#: value, as ``rk.plot(name)`` draws it: the value ``f(x)`` and the derivative with
#: respect to the gate, ``f'(x)`` (its kinks are those of ``f``)
GATED_UP = 1.0


def _value(act: Activation, x: Any, p: Mapping[str, Any]) -> Any:
    """``act(x, **p)``; for a gated entry, at the gate ``x`` with ``up = GATED_UP``."""
    return act(x, GATED_UP, **p) if act.gated else act(x, **p)


def _derivative(act: Activation, x: Any, p: Mapping[str, Any], at_kink: Any = None) -> Any:
    """``act.derivative(x, **p, at_kink=...)``; for a gated entry, the derivative with
    respect to the gate ``x`` at ``up = GATED_UP``."""
    if act.gated:
        return act.derivative(x, GATED_UP, **p, at_kink=at_kink)[0]
    return act.derivative(x, **p, at_kink=at_kink)


def _is_jump(left: float, right: float, value: float) -> bool:
    """Whether a kink is drawn: its one-sided limits or the value used differ (to 1e-6),
    the rule of the static plots (elu with alpha=1 at 0 and softplus at its threshold
    are no visible jump)."""

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)

    if math.isnan(value):
        return not close(left, right)
    return not (close(left, right) and close(value, left) and close(value, right))


def _derivative_trace(
    act: Activation, p: Mapping[str, Any], grid: np.ndarray, cuts: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, f'(x))`` broken (a NaN) at every kink; each piece ends at the float beside
    the kink, so its ends are the one-sided limits (no vertical joins)."""
    lo, hi = float(grid[0]), float(grid[-1])
    edges = [lo, *cuts, hi]
    xs: list[np.ndarray] = []
    for a, b in itertools.pairwise(edges):
        if a == b:
            continue
        start = np.nextafter(a, math.inf) if a in cuts else a
        stop = np.nextafter(b, -math.inf) if b in cuts else b
        inner = grid[(grid > start) & (grid < stop)]
        if xs:
            xs.append(np.array([np.nan]))
        xs.append(np.concatenate([[start], inner, [stop]]))
    x = np.concatenate(xs)
    y = np.full_like(x, np.nan)
    ok = ~np.isnan(x)
    y[ok] = _derivative(act, x[ok], p)
    return x, y


def _zero_intervals(
    act: Activation, p: Mapping[str, Any], kinks: list[tuple[float, float, float, float]]
) -> list[list[float]]:
    """The intervals of ``ZERO_SPAN`` where the derivative is exactly 0.

    The derivative is evaluated on a grid 0.01 apart (kink points added); a run of two
    or more points where it is 0 is an interval, widened to a kink next to it whose
    one-sided limit on the run's side is 0 (relu: ``[-20, 0]``, whatever ``at_kink``). An isolated zero (gelu's
    minimum) is no interval: a unit is never held there.
    """
    lo, hi = ZERO_SPAN
    g = np.arange(round(lo * 100), round(hi * 100) + 1, dtype=np.float64) / 100.0
    ks = [k for k in kinks if lo <= k[0] <= hi]
    if ks:
        g = np.unique(np.concatenate([g, [k[0] for k in ks]]))
    zero = np.asarray(_derivative(act, g, p)) == 0
    out: list[list[float]] = []
    i = 0
    n = len(g)
    while i < n:
        if not zero[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and zero[j + 1]:
            j += 1
        a, b = float(g[i]), float(g[j])
        # a kink just outside the run whose limit on the run's side is 0 (the value
        # used at it may differ: at_kink): the interval reaches the kink
        if i > 0 and any(k[0] == g[i - 1] and k[2] == 0 for k in ks):
            a = float(g[i - 1])
        if j + 1 < n and any(k[0] == g[j + 1] and k[1] == 0 for k in ks):
            b = float(g[j + 1])
        if b > a:
            out.append([a, b])
        i = j + 1
    return out


def dying_samples() -> np.ndarray:
    """The standardised pre-activations of the dying-unit view, shape (units, inputs).

    ``0.8 a_u + 0.6 e_un`` with ``a_u`` and ``e_un`` standard normal from a fixed seed:
    mean 0 and spread 1 over the layer, and a unit-to-unit part (0.8² = 64 % of the
    variance), so whole units can fall below 0 as a bias moves the mean down.
    """
    rng = np.random.default_rng(DYING_SEED)
    a = rng.standard_normal((DYING_UNITS, 1))
    e = rng.standard_normal((DYING_UNITS, DYING_INPUTS))
    share = DYING_UNIT_SHARE
    return share * a + math.sqrt(1.0 - share * share) * e


def dying_preactivations() -> np.ndarray:
    """``mean + spread * dying_samples()`` for every mean and spread of the view, shape
    (means, spreads, units, inputs)."""
    means = np.asarray(DYING_MEANS)[:, None, None, None]
    spreads = np.asarray(DYING_SPREADS)[None, :, None, None]
    return means + spreads * dying_samples()[None, None]


def _dying(act: Activation, p: Mapping[str, Any], z: np.ndarray) -> tuple[Any, Any]:
    """Per (mean, spread): the share of dead units and of pre-activations with f' = 0."""
    no_grad = np.asarray(_derivative(act, z, p)) == 0
    dead = no_grad.all(axis=-1).mean(axis=-1)  # every input of the unit: no gradient
    return dead.ravel(), no_grad.mean(axis=(-2, -1)).ravel()


def _kink_rows(
    act: Activation,
    p: Mapping[str, Any],
    at_kink_choices: Sequence[float | None],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for x, left, right, default in act.kink_points(**p):
        if not math.isfinite(x) or not ZERO_SPAN[0] <= x <= ZERO_SPAN[1]:
            rows.append({"x": _num(x), "left": _num(left), "right": _num(right), "far": True})
            continue
        used = [float(_derivative(act, x, p, a)) for a in at_kink_choices]
        rows.append(
            {
                "x": x,
                "value": _num(_value(act, x, p)),
                "left": _num(left),
                "right": _num(right),
                "default": _num(default),
                "used": [_num(u) for u in used],
                "show": [bool(SPAN[0] <= x <= SPAN[1] and _is_jump(left, right, u)) for u in used],
            }
        )
    return rows


def _combo(
    act: Activation,
    p: dict[str, Any],
    grid: np.ndarray,
    blob: Blob,
    z: np.ndarray,
    at_kink_choices: Sequence[float | None],
) -> dict[str, Any]:
    """The numbers of one parameter combination (or the catalogue's error message)."""
    try:
        act.bind((), p)
    except (TypeError, ValueError) as exc:
        return {"error": str(exc)}
    kinks = act.kink_points(**p)
    cuts = sorted({k[0] for k in kinks if SPAN[0] <= k[0] <= SPAN[1]})
    vx = np.unique(np.concatenate([grid, cuts])) if cuts else grid
    dx, dy = _derivative_trace(act, p, grid, cuts)
    dead, no_grad = _dying(act, p, z)
    return {
        "rv": blob.add(_value(act, grid, p)),
        "rd": blob.add(_derivative(act, grid, p)),
        "vx": blob.add(vx),
        "vy": blob.add(_value(act, vx, p)),
        "dx": blob.add(dx),
        "dy": blob.add(dy),
        "kinks": _kink_rows(act, p, at_kink_choices),
        "zero": _zero_intervals(act, p, kinks),
        "dead": blob.add(dead),
        "noGrad": blob.add(no_grad),
    }


_CONVENTION_QUESTION = re.compile(r"^(?P<name>\w+?)(?:'|\(| on )")


def convention_rows(act: Activation, rows: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The rows of the convention table (:func:`relukit.conventions.measure`) about
    ``act``: those whose question starts with its name (``relu'(0)``, ``relu on int``)."""
    out = []
    for row in rows:
        m = _CONVENTION_QUESTION.match(row["question"])
        if m and m.group("name") == act.name:
            out.append(dict(row))
    return out


def entry_data(
    act: Activation,
    blob: Blob,
    *,
    conventions: Sequence[Mapping[str, str]] = (),
    at_kink_choices: Sequence[float | None] = AT_KINK_CHOICES,
) -> dict[str, Any]:
    """Everything the page knows about one activation, from its catalogue entry."""
    grid = x_grid()
    z = dying_preactivations()
    sliders = [p for p in act.params_list if is_slider(p)]
    values = [slider_values(act, p) for p in sliders]
    combos = [
        _combo(act, dict(zip((p.name for p in sliders), vs, strict=True)), grid, blob, z,
               at_kink_choices)
        for vs in itertools.product(*values)
    ]  # fmt: skip
    return {
        "name": act.name,
        "title": act.title,
        "summary": act.summary,
        "signature": act.signature(),
        "formula": act.formula,
        "derivativeFormula": act.derivative_formula,
        "latex": act.latex,
        "derivativeLatex": act.derivative_latex,
        "torch": act.torch_name,
        "jax": act.jax_name,
        "differences": act.differences,
        "kinkNotes": [{"at": k.at, "note": k.note} for k in act.kinks],
        "sliders": [
            {
                "name": p.name,
                "doc": p.doc,
                "kind": p.kind,
                "values": [v if p.kind == "choice" else float(v) for v in vs],
                "labels": [repr(v) for v in vs],
                "start": vs.index(p.default if p.kind == "choice" else float(p.default)),
            }
            for p, vs in zip(sliders, values, strict=True)
        ],
        "fixed": [
            *(
                [{"name": "up", "value": repr(GATED_UP), "doc": "the second input; x is the gate"}]
                if act.gated
                else []
            ),
            *(
                {"name": p.name, "value": repr(p.default), "doc": p.doc}
                for p in act.params_list
                if not is_slider(p)
            ),
        ],
        "combos": combos,
        "conventions": convention_rows(act, conventions),
    }


def dying_axes() -> dict[str, Any]:
    """The grids of the dying-unit view and the histogram of its samples (counts per bin
    for each mean and spread), with the x range that shows each histogram."""
    e = dying_samples()
    edges = np.asarray(DYING_BIN_EDGES)
    counts = []
    ranges = []
    for m in DYING_MEANS:
        for s in DYING_SPREADS:
            z = m + s * e
            counts.append(np.histogram(z, bins=edges)[0].astype(np.float64))
            ranges.append([float(z.min()) - 0.5, float(z.max()) + 0.5])
    return {
        "means": list(DYING_MEANS),
        "spreads": list(DYING_SPREADS),
        "units": DYING_UNITS,
        "inputs": DYING_INPUTS,
        "unitShare": DYING_UNIT_SHARE,
        "edges": list(DYING_BIN_EDGES),
        "counts": np.concatenate(counts),
        "ranges": ranges,
    }
