"""``relukit bench accuracy``: worst error in ulp, relukit vs PyTorch, against mpmath.

For every catalogue entry (default parameters, plus ``gelu(approximate="tanh")``) and
every float dtype (float16, bfloat16, float32, float64), the values and the derivatives
are evaluated on a dense grid that includes the tails, the neighbourhood of every kink,
tiny and subnormal inputs and the overflow range, by

* relukit on NumPy arrays (the numba kernels; bfloat16, which NumPy lacks: on torch
  tensors),
* relukit's NumPy formulas (the kernels switched off: what runs without numba),
* relukit.torch on CPU tensors, value and ``torch.autograd`` gradient,
* PyTorch (``torch.nn.functional`` and ``torch.autograd``),

and compared with a reference computed by mpmath at 60 significant digits from formulas
written independently here (the catalogue's definitions: PyTorch's kink conventions
at the kinks, PyTorch's ``threshold`` cut-over for softplus). The error of ``y`` is
``|y - ref| / ulp(ref)`` with ``ulp`` the spacing of the dtype at ``ref`` (subnormal
spacing near 0); a NaN or a wrong infinity counts as ``inf``.

Errors at points where the true result is within a few hundred ulp of an unrelated
zero of the function (the minimum of gelu, silu, mish: their derivatives cross 0) are
measured like every other point; that is where float64 derivatives lose digits (see the
notes printed under the table).

>>> from relukit.bench.accuracy import ulp_error
>>> import numpy as np
>>> float(ulp_error(np.array([1.0 + 2**-52]), np.array([1.0]), np.zeros(1), "float64")[0])
1.0
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

__all__ = ["DTYPES", "add_arguments", "grid", "measure", "reference", "run", "ulp_error"]

#: (precision bits, minimum normal exponent, largest finite value)
DTYPES: dict[str, tuple[int, int, float]] = {
    "float16": (11, -14, 65504.0),
    "bfloat16": (8, -126, 3.3895313892515355e38),
    "float32": (24, -126, 3.4028234663852886e38),
    "float64": (53, -1022, 1.7976931348623157e308),
}

#: the rows: (label, catalogue name, parameters)
VARIANTS: list[tuple[str, str, dict[str, Any]]] = []


def _variants() -> list[tuple[str, str, dict[str, Any]]]:
    import relukit as rk

    out: list[tuple[str, str, dict[str, Any]]] = []
    for act in rk.catalogue():
        if act.gated:  # f(gate) * up: the accuracy of f, times up (tests/test_gated.py)
            continue
        out.append((act.name, act.name, {}))
        if act.name == "gelu":
            out.append(("gelu(tanh)", "gelu", {"approximate": "tanh"}))
    return out


# ---------------------------------------------------------------------------
# the reference: mpmath, written independently of relukit's formulas
# ---------------------------------------------------------------------------


def _mp_functions() -> dict[str, tuple[Callable, Callable]]:
    import mpmath as mp

    def sig(x: Any) -> Any:
        return 1 / (1 + mp.exp(-x))

    lam = mp.mpf("1.0507009873554804934193349852946")
    alp = mp.mpf("1.6732632423543772848170429916717")
    # the kink values are PyTorch's (docs/design.md: the default derivative at a kink)
    selu_kink = mp.mpf(1.0507009873554805) * mp.mpf(1.6732632423543772)
    k_gelu = mp.mpf(0.044715)
    c_gelu = mp.sqrt(2 / mp.pi)

    def phi(x: Any) -> Any:
        return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)

    def cdf(x: Any) -> Any:
        if abs(x) > 1e4:  # mpmath's erfc fails there; 1 - cdf < 1e-10000
            return mp.mpf(1 if x > 0 else 0)
        return mp.erfc(-x / mp.sqrt(2)) / 2

    # (1 + tanh u) / 2 = sigmoid(2u): the tanh form cancels in the tail even at 60 digits
    def gelu_t(x: Any) -> Any:
        return x * sig(2 * c_gelu * (x + k_gelu * x**3))

    def gelu_t_d(x: Any) -> Any:
        u = c_gelu * (x + k_gelu * x**3)
        du = c_gelu * (1 + 3 * k_gelu * x**2)
        return sig(2 * u) + x / 2 * mp.sech(u) ** 2 * du

    def sp(x: Any) -> Any:
        return mp.log1p(mp.exp(x))

    def mish_d(x: Any) -> Any:
        t = mp.tanh(sp(x))
        return t + x * sig(x) * (1 - t * t)

    def squareplus(x: Any) -> tuple[Any, Any]:
        # (x + sqrt(x^2 + 4)) / 2 cancels for x < 0: 2 log10|x| more digits keep 60
        with mp.workdps(mp.mp.dps + 2 * int(mp.log10(abs(x) + 1)) + 10):
            r = mp.sqrt(x * x + 4)
            return +((x + r) / 2), +((1 + x / r) / 2)

    star_s, star_b = mp.mpf(0.8944271909999159), mp.mpf(-0.4472135954999579)  # the doubles
    quick = mp.mpf(1.702)  # the double nearest 1.702, as relukit and CLIP use it

    slope = mp.mpf(0.01)
    rrelu_slope = mp.mpf((1 / 8 + 1 / 3) / 2)  # the mean as PyTorch forms it, in double
    w = mp.mpf(0.25)
    sixth = mp.mpf(1) / 6
    return {
        "relu": (lambda x: max(x, 0), lambda x: mp.mpf(1 if x > 0 else 0)),
        "leaky_relu": (lambda x: x if x > 0 else slope * x, lambda x: 1 if x > 0 else slope),
        "relu6": (lambda x: min(max(x, 0), 6), lambda x: mp.mpf(1 if 0 < x < 6 else 0)),
        "hardtanh": (lambda x: min(max(x, -1), 1), lambda x: mp.mpf(1 if -1 < x < 1 else 0)),
        "elu": (lambda x: x if x > 0 else mp.expm1(x), lambda x: 1 if x > 0 else mp.exp(x)),
        "selu": (
            lambda x: lam * x if x > 0 else lam * alp * mp.expm1(x),
            lambda x: lam if x > 0 else (selu_kink if x == 0 else lam * alp * mp.exp(x)),
        ),
        "celu": (lambda x: x if x > 0 else mp.expm1(x), lambda x: 1 if x > 0 else mp.exp(x)),
        "gelu": (lambda x: x * cdf(x), lambda x: cdf(x) + x * phi(x)),
        "gelu(tanh)": (gelu_t, gelu_t_d),
        "silu": (lambda x: x * sig(x), lambda x: sig(x) * (1 + x * (1 - sig(x)))),
        "mish": (lambda x: x * mp.tanh(sp(x)), mish_d),
        "softplus": (lambda x: x if x > 20 else sp(x), lambda x: 1 if x > 20 else sig(x)),
        "hardswish": (
            lambda x: 0 if x <= -3 else (x if x >= 3 else x * (x + 3) / 6),
            lambda x: 0 if x <= -3 else (1 if x >= 3 else (2 * x + 3) / 6),
        ),
        "hardsigmoid": (
            lambda x: 0 if x <= -3 else (1 if x >= 3 else (x + 3) / 6),
            lambda x: sixth if -3 < x < 3 else 0,
        ),
        "prelu": (lambda x: x if x > 0 else w * x, lambda x: 1 if x > 0 else w),
        "threshold": (lambda x: x if x > 0 else 0, lambda x: mp.mpf(1 if x > 0 else 0)),
        "rrelu": (
            lambda x: x if x > 0 else rrelu_slope * x,
            lambda x: 1 if x > 0 else rrelu_slope,
        ),
        "squareplus": (lambda x: squareplus(x)[0], lambda x: squareplus(x)[1]),
        "squared_relu": (lambda x: max(x, 0) ** 2, lambda x: 2 * max(x, 0)),
        "star_relu": (
            lambda x: star_s * max(x, 0) ** 2 + star_b,
            lambda x: 2 * star_s * max(x, 0),
        ),
        "quick_gelu": (
            lambda x: x * sig(quick * x),
            lambda x: sig(quick * x) * (1 + quick * x * (1 - sig(quick * x))),
        ),
        "sparse_plus": (
            lambda x: 0 if x <= -1 else (x if x >= 1 else (x + 1) ** 2 / 4),
            lambda x: 0 if x <= -1 else (1 if x >= 1 else (x + 1) / 2),
        ),
    }


_REF_CACHE: dict[tuple[str, float], tuple[float, float, float, float]] = {}


def reference(label: str, xs: Any) -> tuple[Any, Any, Any, Any]:
    """Value and derivative of ``label`` at the float64 points ``xs`` as double-doubles.

    Returns ``(value_hi, value_lo, derivative_hi, derivative_lo)`` float64 arrays with
    ``hi + lo`` the mpmath result (60 digits); cached per point for the whole process.
    """
    import mpmath as mp
    import numpy as np

    out = np.empty((4, len(xs)))
    with mp.workdps(60):
        fns = _mp_functions()[label]  # the constants at 60 digits too
        for i, x in enumerate(xs.tolist()):
            key = (label, x)
            got = _REF_CACHE.get(key)
            if got is None:
                xm = mp.mpf(x)
                row = []
                for f in fns:
                    r = mp.mpf(f(xm))
                    hi = float(r)
                    lo = float(r - hi) if math.isfinite(hi) else 0.0
                    row += [hi, lo]
                got = _REF_CACHE[key] = tuple(row)  # type: ignore[assignment]
            out[:, i] = got
    return out[0], out[1], out[2], out[3]


# ---------------------------------------------------------------------------
# grid and error
# ---------------------------------------------------------------------------


def grid(dtype: str, points: int = 2000, kinks: tuple[float, ...] = ()) -> Any:
    """The finite test points of ``dtype``, as a sorted float64 array.

    A dense linear part on [-12, 12], log-spaced tails out to the largest finite value,
    log-spaced tiny values down to the smallest subnormal, ±0 and the 8 neighbours of
    every kink in ``dtype``.
    """
    import numpy as np

    bits, emin, fmax = DTYPES[dtype]
    tiny = 2.0 ** (emin - bits + 1)
    n_tail = max(points // 4, 8)
    with np.errstate(over="ignore"):
        parts = _parts(np, points, n_tail, tiny, fmax, bits)
    x = np.concatenate([parts[0], parts[1], -parts[1], parts[2], -parts[2], parts[3], parts[4]])
    x = np.concatenate([x, -parts[4]])
    return _finish(np, x, dtype, kinks)


def _parts(np: Any, points: int, n_tail: int, tiny: float, fmax: float, bits: int) -> list:
    return [
        np.linspace(-12.0, 12.0, points),
        np.geomspace(12.0, fmax * (1 - 2.0**-bits), n_tail),
        np.geomspace(tiny, 1.0, n_tail),
        # the region where the tails are still representable but small (float64)
        np.linspace(-40.0, -12.0, n_tail),
        np.array([0.0, 1.0, 0.5, 2.0, 3.0, 6.0, 20.0]),
    ]


def _finish(np: Any, x: Any, dtype: str, kinks: tuple[float, ...]) -> Any:
    x = _round_to(x, dtype)
    near = []
    for k in kinks:
        kk = float(_round_to(np.array([k]), dtype)[0])
        up = down = kk
        for _ in range(4):
            up = _next(up, dtype, +1)
            down = _next(down, dtype, -1)
            near += [up, down]
        near.append(kk)
    x = np.concatenate([x, _round_to(np.array(near, dtype=float), dtype), [-0.0]])
    x = x[np.isfinite(x)]
    return np.unique(x)


def _round_to(x: Any, dtype: str) -> Any:
    import numpy as np

    if dtype == "bfloat16":
        import torch

        return torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16).double().numpy()
    with np.errstate(over="ignore"):
        return x.astype(dtype).astype(np.float64)


def _next(v: float, dtype: str, direction: int) -> float:
    bits, emin, _ = DTYPES[dtype]
    if v == 0:
        step = 2.0 ** (emin - bits + 1)
    else:
        m, e = math.frexp(abs(v))
        step = 2.0 ** (max(e - 1, emin) - bits + 1)
    return v + direction * step


def ulp_error(y: Any, ref_hi: Any, ref_lo: Any, dtype: str) -> Any:
    """``|y - ref| / ulp(ref)`` elementwise, in units of the last place of ``dtype``.

    ``ref = ref_hi + ref_lo``; NaN where the reference is finite, or the wrong infinity,
    counts as ``inf``; a reference beyond the largest finite value expects ``±inf``.
    """
    import numpy as np

    bits, emin, fmax = DTYPES[dtype]
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        _, e = np.frexp(np.abs(ref_hi))
        e = np.where(ref_hi == 0, emin, e - 1)  # frexp(0) has exponent 0
        ulp = np.ldexp(1.0, np.maximum(e, emin) - bits + 1)
        err = np.abs((y - ref_hi) - ref_lo) / ulp
        overflow = np.abs(ref_hi) >= fmax + ulp / 2
        same_inf = np.isinf(y) & (np.sign(y) == np.sign(ref_hi))
        err = np.where(overflow, np.where(same_inf, 0.0, np.inf), err)
        err = np.where(np.isnan(y) | (np.isinf(y) & ~overflow), np.inf, err)
    return err


# ---------------------------------------------------------------------------
# the three contenders
# ---------------------------------------------------------------------------


def _relukit_numpy(name: str, params: dict, x: Any, dtype: str) -> tuple[Any, Any]:
    import numpy as np

    import relukit as rk

    act = rk.get(name)
    if dtype == "bfloat16":
        return _relukit_torch(name, params, x, dtype)
    xa = x.astype(dtype)
    v, d = act.value_and_derivative(xa, **params)
    return np.asarray(v, dtype=np.float64), np.asarray(d, dtype=np.float64)


def _torch_dtype(dtype: str) -> Any:
    import torch

    return getattr(torch, dtype)


def _numpy_formulas(name: str, params: dict, x: Any, dtype: str) -> tuple[Any, Any]:
    """relukit on NumPy arrays with the numba kernels switched off: the NumPy formulas
    (what runs where numba is missing)."""
    from relukit import _kernels

    if dtype == "bfloat16":
        return _relukit_torch(name, params, x, dtype)
    with _kernels.switched(enabled=False):
        return _relukit_numpy(name, params, x, dtype)


def _relukit_torch(name: str, params: dict, x: Any, dtype: str) -> tuple[Any, Any]:
    """relukit.torch's functional form and its autograd gradient, on CPU tensors."""
    import torch

    import relukit.torch as rt

    t = torch.from_numpy(x).to(_torch_dtype(dtype)).requires_grad_(True)
    if name == "prelu":
        v = rt.prelu(t, torch.tensor([0.25], dtype=t.dtype))
    elif name == "rrelu":
        v = rt.rrelu(t, **params)
    else:
        v = rt.function(name)(t, **params)
    (g,) = torch.autograd.grad(v.sum(), t)
    return v.detach().double().numpy(), g.double().numpy()


def _pytorch(name: str, params: dict, x: Any, dtype: str) -> tuple[Any, Any] | None:
    """PyTorch's function with the catalogue's defaults; None where PyTorch has none."""
    import torch
    import torch.nn.functional as F

    import relukit as rk

    act = rk.get(name)
    fn: Callable[[Any], Any]
    if not act.torch_name:
        return None
    if name == "prelu":
        fn = lambda t: F.prelu(t, torch.tensor([0.25], dtype=t.dtype))  # noqa: E731
    else:
        kw = {p.name: p.default for p in act.params_list if not p.keyword_only}
        kw.update(params)
        fn = lambda t: getattr(F, name)(t, **kw)  # noqa: E731
    t = torch.from_numpy(x).to(_torch_dtype(dtype)).requires_grad_(True)
    v = fn(t)
    (g,) = torch.autograd.grad(v.sum(), t)
    return v.detach().double().numpy(), g.double().numpy()


CONTENDERS: dict[str, Callable[..., tuple[Any, Any] | None]] = {
    "relukit": _relukit_numpy,
    "NumPy formulas": _numpy_formulas,
    "relukit-torch": _relukit_torch,
    "PyTorch": _pytorch,
}


def measure(
    points: int = 2000,
    dtypes: tuple[str, ...] = tuple(DTYPES),
    entries: tuple[str, ...] | None = None,
    contenders: tuple[str, ...] = tuple(CONTENDERS),
) -> list[dict[str, Any]]:
    """One row per (entry, dtype): worst ulp error of values and derivatives per contender.

    Each row has ``entry``, ``dtype``, ``n`` (grid size) and, per contender ``c``,
    ``"<c> value"``, ``"<c> derivative"`` and ``"<c> worst at"`` (the input of the worst
    derivative error).
    """
    import numpy as np

    import relukit as rk

    rows = []
    for label, name, params in _variants():
        if entries and label not in entries and name not in entries:
            continue
        kinks = tuple(k[0] for k in rk.get(name).kink_points(**params))
        for dtype in dtypes:
            x = grid(dtype, points, kinks)
            vh, vl, dh, dl = reference(label, x)
            row: dict[str, Any] = {"entry": label, "dtype": dtype, "n": len(x)}
            for c in contenders:
                got = CONTENDERS[c](name, params, x, dtype)
                if got is None:  # the contender has no such function
                    for key in ("value", "derivative", "worst value at", "worst derivative at"):
                        row[f"{c} {key}"] = None
                    continue
                v, d = got
                ev = ulp_error(v, vh, vl, dtype)
                ed = ulp_error(d, dh, dl, dtype)
                row[f"{c} value"] = float(np.max(ev))
                row[f"{c} derivative"] = float(np.max(ed))
                row[f"{c} worst value at"] = float(x[np.argmax(ev)])
                row[f"{c} worst derivative at"] = float(x[np.argmax(ed)])
            rows.append(row)
    return rows


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if math.isinf(v):
        return "inf"
    if v < 10:
        return f"{v:.2f}"
    if v < 1e4:
        return f"{v:.0f}"
    return f"{v:.1e}"


def render(rows: list[dict[str, Any]], contenders: tuple[str, ...]) -> str:
    """The rows as a Markdown table."""
    head = ["entry", "dtype"]
    for part in ("value", "derivative"):
        head += [f"{c} {part}" for c in contenders]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["entry"], r["dtype"]]
        for part in ("value", "derivative"):
            cells += [_fmt(r[f"{c} {part}"]) for c in contenders]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``relukit bench accuracy``."""
    parser.add_argument(
        "--points", type=int, default=2000, help="points in the dense part of the grid"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    parser.add_argument(
        "--entries", nargs="+", metavar="NAME", help="only these entries (default: all)"
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=tuple(DTYPES),
        default=list(DTYPES),
        help="float dtypes to measure (default: all four)",
    )


def run(args: argparse.Namespace) -> int:
    """Measure and print the table (and write JSON if asked)."""
    from relukit.cli._paths import check_outputs

    check_outputs(args)  # before any work: a bad --json fails now, not after the run
    if args.points < 10:
        raise ValueError(f"--points must be at least 10, got {args.points}")
    contenders = tuple(CONTENDERS)
    try:
        import mpmath  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ValueError(
            f"relukit bench accuracy needs mpmath and torch ({exc.name} is missing): "
            "pip install 'relukit[test]'"
        ) from None
    if args.entries:
        import relukit as rk

        for e in args.entries:
            if e != "gelu(tanh)":
                rk.get(e)
    rows = measure(args.points, tuple(args.dtypes), tuple(args.entries or ()), contenders)
    print("Worst error in ulp against mpmath (60 digits); values | derivatives.")
    print(render(rows, contenders))
    print(
        "\nrelukit: NumPy arrays, the numba kernels (bfloat16 via relukit.torch); NumPy "
        "formulas: the same with the kernels switched off (without numba); relukit-torch: "
        "relukit.torch on CPU tensors, value and autograd gradient; PyTorch: "
        "torch.nn.functional + autograd (— where PyTorch has no such function)."
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1)
    return 0
