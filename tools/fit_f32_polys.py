"""Fit the polynomials of the lean float32 primitives in ``relukit._prims.numba32`` (needs mpmath).

    python tools/fit_f32_polys.py

A float32 result rounded from a float64 value within 6e-14 relative of the true one is
within 0.5 + 1e-6 ulp (``src/relukit/_prims/numba32.py``), so the lean primitives do
not need Taylor polynomials accurate to the last float64 bit: near-minimax (Chebyshev,
mpmath's ``chebyfit`` at 40 digits) polynomials of lower degree keep them near 1e-15.
Prints, for each, the coefficients (highest degree first, each rounded once to float64)
and the worst relative error of the rounded polynomial on 20001 points of its interval:

``exp``    ``e**r`` on ``|r| <= 0.3466`` (``ln 2 / 2`` and the rounding of the reduction),
           degree 10 (Taylor needs 12 for the same error)
``expm1``  ``(e**r - 1 - r) / r**2`` there, degree 9 (Taylor: 10):
           ``expm1(r) = r + r**2 p(r)``
``atanh``  ``atanh(sqrt z) / sqrt z`` on ``[0, 1/9]``, degree 9 in ``z = s**2``:
           ``log(1 + e) = 2 s P(s**2)``, ``s = e / (2 + e)`` in [0, 1/3] (the series
           needed 15 terms)
"""

from __future__ import annotations

import mpmath as mp

R = mp.mpf("0.3466")


def _expm1_core(r: mp.mpf) -> mp.mpf:
    return (mp.expm1(r) - r) / (r * r) if r != 0 else mp.mpf(1) / 2


def _atanh_core(z: mp.mpf) -> mp.mpf:
    return mp.atanh(mp.sqrt(z)) / mp.sqrt(z) if z != 0 else mp.mpf(1)


FITS = {
    "exp": (mp.exp, (-R, R), 10),
    "expm1": (_expm1_core, (-R, R), 9),
    "atanh": (_atanh_core, (mp.mpf(0), mp.mpf(1) / 9), 9),
}


def fit(name: str) -> tuple[list[float], float]:
    """(coefficients rounded to float64, highest degree first; worst relative error)."""
    mp.mp.dps = 40
    f, (a, b), degree = FITS[name]
    poly = mp.chebyfit(f, [a, b], degree + 1)
    coeffs = [float(c) for c in poly]
    worst = max(
        abs(mp.polyval([mp.mpf(c) for c in coeffs], t) / f(t) - 1) for t in mp.linspace(a, b, 20001)
    )
    return coeffs, float(worst)


def main() -> None:
    for name in FITS:
        coeffs, worst = fit(name)
        print(f"{name}: degree {len(coeffs) - 1}, worst relative error {worst:.3g}")
        for c in coeffs:
            print(f"    {c!r},")


if __name__ == "__main__":
    main()
