"""Input values and bit comparisons shared by the kernel tests (not a test module).

The edge values every test of the kernels uses: ±0.0, ±inf, NaN of both signs with
payloads (quiet and signalling), subnormals, the extremes, the tails where the
formulas switch branches, and every kink with its neighbours in the dtype.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

DTYPES = (np.float16, np.float32, np.float64)
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
#: the quiet bit of a NaN, per item size
QUIET = {2: 0x0200, 4: 0x00400000, 8: 0x0008000000000000}
#: NaN bit patterns per item size: quiet and signalling, both signs, with payloads
NAN_BITS = {
    2: (0x7E00, 0xFE00, 0x7C01, 0xFC01, 0x7E2A, 0xFD55, 0x7D00),
    4: (0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FC12345, 0xFFA5A5A5, 0x7F812345),
    8: (
        0x7FF8000000000000,
        0xFFF8000000000000,
        0x7FF0000000000001,
        0xFFF0000000000001,
        0x7FF8000000012345,
        0xFFF4DEADBEEF0123,
        0x7FF00000BADC0FFE,
    ),
}


def nans(dtype: Any) -> np.ndarray:
    """NaNs of ``dtype``: quiet and signalling, both signs, several payloads."""
    size = np.dtype(dtype).itemsize
    return np.array(NAN_BITS[size], dtype=UINT[size]).view(dtype)


def quieted(a: np.ndarray) -> np.ndarray:
    """``a`` (NaNs) with the quiet bit set: what the NaN rule gives back."""
    size = a.dtype.itemsize
    return (a.view(UINT[size]) | UINT[size](QUIET[size])).view(a.dtype)


def bits(a: Any) -> np.ndarray:
    """The bits of a float array (any byte order) as native unsigned integers."""
    a = np.asarray(a)
    native = a.astype(a.dtype.newbyteorder("="), copy=False)
    return np.ascontiguousarray(native).view(UINT[a.dtype.itemsize]).reshape(a.shape)


def same_bits(got: Any, want: Any) -> bool:
    """The same arrays (or pairs of arrays) bit for bit: dtype, shape and every bit."""
    if isinstance(want, tuple):
        return (
            isinstance(got, tuple)
            and len(got) == len(want)
            and all(same_bits(g, w) for g, w in zip(got, want, strict=True))
        )
    got, want = np.asarray(got), np.asarray(want)
    return (
        got.dtype.newbyteorder("=") == want.dtype.newbyteorder("=")
        and got.shape == want.shape
        and np.array_equal(bits(got), bits(want))
    )


def float_bits(v: float) -> int:
    """The IEEE bits of a Python float (NaN payloads included)."""
    return int(struct.unpack("<Q", struct.pack("<d", v))[0])


def first_difference(got: Any, want: Any, x: Any) -> str:
    """A readable description of where two results differ (for assertion messages)."""
    if isinstance(want, tuple):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if not same_bits(g, w):
                return f"[{i}] " + first_difference(g, w, x)
        return "no difference"
    g, w = np.asarray(got), np.asarray(want)
    if g.shape != w.shape or g.dtype.newbyteorder("=") != w.dtype.newbyteorder("="):
        return f"shape/dtype {g.shape} {g.dtype} != {w.shape} {w.dtype}"
    bad = np.flatnonzero(bits(g).reshape(-1) != bits(w).reshape(-1))
    i = int(bad[0])
    xs = np.asarray(x).reshape(-1)
    xi = xs[i] if i < xs.size else "?"
    return (
        f"{bad.size} element(s) differ, first at {i}: x={xi!r} got {g.reshape(-1)[i]!r} "
        f"(0x{int(bits(g).reshape(-1)[i]):x}), want {w.reshape(-1)[i]!r} "
        f"(0x{int(bits(w).reshape(-1)[i]):x})"
    )


def kink_values(act: Any, params: dict, dtype: Any) -> list[float]:
    """Every kink of ``act`` rounded to ``dtype``, with its two neighbours there."""
    out: list[float] = []
    with np.errstate(over="ignore"):
        for loc, *_ in act.kink_points(**params):
            k = np.asarray(loc).astype(dtype)
            if not np.isfinite(k):
                continue
            out += [float(k), float(np.nextafter(k, dtype(np.inf))), float(np.nextafter(k, -1))]
    return out


def edge_values(dtype: Any, act: Any = None, params: dict | None = None) -> np.ndarray:
    """The edge values of ``dtype`` (and of ``act``'s kinks), NaNs with payloads at the end."""
    fi = np.finfo(dtype)
    vals = [0.0, 1.0, 0.5, 3.0, 6.0, 2.0, 20.0, 20.5, 40.0, 1500.0, 1e30, 1e300]
    vals += [0.3, 0.29999998, 1.5, 2.9999999999999996, 5.999999999, 7.0, 39.0, 41.0]
    vals += [700.0, 709.0, 710.0, 745.0, 746.0, 800.0, 1000.0, 89.0, 104.0, 17.0]
    vals += [1e-300, 1e-40, 1e-20, 1e-8, 1e-4]
    vals += [float(fi.tiny), float(fi.smallest_subnormal), 3 * float(fi.smallest_subnormal)]
    vals += [float(fi.max), float(np.nextafter(fi.tiny, dtype(0))), math.inf]
    vals = vals + [-v for v in vals]
    vals += [-1.2784645427610737, -1.1924312145154952, -0.7517915246935645]
    vals += [-0.7524614220710163, -0.75, -1.28, -1.19]  # next to derivatives' zeros
    if act is not None:
        vals += kink_values(act, params or {}, dtype)
    with np.errstate(over="ignore", under="ignore"):
        edge = np.array(vals, dtype=np.float64).astype(dtype)
    return np.concatenate([edge, nans(dtype)])


def random_values(dtype: Any, n: int, seed: int = 0) -> np.ndarray:
    """``n`` values of ``dtype``: normal samples scaled by 4, and log-uniform magnitudes."""
    rng = np.random.default_rng(seed)
    half = n // 2
    fi = np.finfo(dtype)
    mags = 10 ** rng.uniform(
        np.log10(float(fi.smallest_subnormal)), np.log10(float(fi.max)), n - half
    )
    with np.errstate(over="ignore", under="ignore"):
        return np.concatenate(
            [
                (rng.standard_normal(half) * 4).astype(dtype),
                (mags * rng.choice([-1, 1], mags.size)).astype(dtype),
            ]
        )


def inputs(
    dtype: Any, act: Any = None, params: dict | None = None, n_random: int = 120
) -> np.ndarray:
    """Edge values then random ones, C-contiguous."""
    return np.ascontiguousarray(
        np.concatenate([edge_values(dtype, act, params), random_values(dtype, n_random)])
    )


def gradient_for(x: np.ndarray, seed: int = 1) -> np.ndarray:
    """A gradient array for ``x``: random values with ±0, ±inf and a NaN among them."""
    rng = np.random.default_rng(seed)
    g = (rng.standard_normal(x.size) * 3).astype(x.dtype)
    g[:: max(1, x.size // 5)] = 1.0
    if x.size > 20:
        g[[3, 7, 11, 13, 17]] = [0.0, -0.0, np.inf, -np.inf, np.nan]
    return g.reshape(x.shape)


class SettingsSpy:
    """Stands for ``relukit._kernels._SETTINGS`` (a ContextVar) in a test and records the
    thread count of every read: what each kernel call was allowed."""

    def __init__(self, var: Any, seen: list[int]) -> None:
        self.var, self.seen = var, seen

    def get(self) -> Any:
        s = self.var.get()
        self.seen.append(s.threads)
        return s

    def set(self, value: Any) -> Any:
        return self.var.set(value)

    def reset(self, token: Any) -> Any:
        return self.var.reset(token)
