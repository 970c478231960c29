"""Fit ``erfcx(a) = exp(a**2) erfc(a)`` on ``[0, A]`` for the gelu kernels (needs mpmath).

    python tools/fit_erfcx.py --to 27.3 --degree 22 --over-t   # float64 gelu (_ERFCX_64)
    python tools/fit_erfcx.py --to 10.606601717798213 --degree 18   # float32 (_ERFCX_F32)
    python tools/fit_erfcx.py --to 10.606601717798213 --degree 16 --gelu-d   # float32 gelu'

The polynomial is in ``s = C1 t + C0`` with ``t = 4 / (4 + a)`` mapped onto [-1, 1]
(``t`` in [4 / (4 + A), 1]): mpmath's ``chebyfit`` at 40 digits. ``--over-t`` fits
``erfcx(a) / t`` (between 0.16 and 1), whose Horner sums in float64 do not cancel where
``erfcx`` itself is small (erfcx(27.3) = 0.02). ``--gelu-d`` fits, for the lean float32
gelu' (``src/relukit/activations/curved.py``), ``Q = k(a) / (|x| - |r|)`` with
``k(a) = erfcx(a) / 2 - a / sqrt(pi)``, ``a = |x| / sqrt 2`` and ``r`` gelu''s zero
(``k(|r| / sqrt 2) = 0``): gelu'(x) is ``E k`` for x <= 0 and ``1 - E k`` above
(``E = exp(-x**2 / 2)``), and ``(|x| - |r|) Q`` keeps its relative accuracy at the zero.
Prints the constants T0, C1, C0, the coefficients (highest degree first, each rounded
once to float64), the fit's absolute error and the rounded polynomial's worst relative
error on 4001 points.
"""

from __future__ import annotations

import argparse

import mpmath as mp


def _erfcx(a: mp.mpf) -> mp.mpf:
    return mp.erfc(a) * mp.exp(a * a)


def _gelu_k(a: mp.mpf) -> mp.mpf:
    return _erfcx(a) / 2 - a / mp.sqrt(mp.pi)


def fit(to: float, degree: int, over_t: bool = False, gelu_d: bool = False) -> tuple[list, dict]:
    mp.mp.dps = 40
    a_max = mp.mpf(to)
    t0 = 4 / (4 + a_max)
    # the map's constants as the kernel has them (rounded to float64): the fit is made
    # for the map the kernel computes, not for one a rounding away from it
    c1 = mp.mpf(float(2 / (1 - t0)))
    c0 = mp.mpf(float(-1 - 2 * t0 / (1 - t0)))
    root = mp.findroot(_gelu_k, mp.mpf("0.53")) * mp.sqrt(2)  # |r|, gelu'(r) = 0

    def f(s: mp.mpf) -> mp.mpf:
        t = (s - c0) / c1
        a = 4 / t - 4
        if gelu_d:
            return _gelu_k(a) / (a * mp.sqrt(2) - root)
        return _erfcx(a) / (t if over_t else 1)

    poly, err = mp.chebyfit(f, [-1, 1], degree + 1, error=True)
    rounded = [mp.mpf(float(c)) for c in poly]
    # (the points avoid s where a is exactly |r| / sqrt 2: Q is finite there, f's quotient not)
    worst = max(
        abs(mp.polyval(rounded, s) / f(s) - 1)
        for s in (-1 + 2 * mp.mpf(i) / 4000 + mp.mpf(10) ** -9 for i in range(4001))
        if s <= 1
    )
    return poly, {"T0": t0, "C1": c1, "C0": c0, "abs_err": err, "rel_err": worst}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--to", type=float, required=True, help="the interval's end A")
    ap.add_argument("--degree", type=int, required=True)
    ap.add_argument(
        "--over-t",
        action="store_true",
        help="fit erfcx(a) / t instead (no cancellation in float64 where erfcx is small)",
    )
    ap.add_argument(
        "--gelu-d",
        action="store_true",
        help="fit (erfcx(a) / 2 - a / sqrt(pi)) / (|x| - |r|) for the float32 gelu'",
    )
    args = ap.parse_args()
    if args.over_t and args.gelu_d:
        ap.error("--over-t and --gelu-d fit different functions: give one")
    poly, info = fit(args.to, args.degree, args.over_t, args.gelu_d)
    for k in ("T0", "C1", "C0"):
        print(f"{k} = {float(info[k])!r}")
    print("coefficients (highest degree first):")
    for c in poly:
        print(f"    {float(c)!r},")
    print(f"abs error {mp.nstr(info['abs_err'], 3)}, relative {mp.nstr(info['rel_err'], 3)}")


if __name__ == "__main__":
    main()
