"""Generate ``src/relukit/_prims/tables.py``: ``python tools/build_tables.py`` (needs mpmath).

Every number in that module is computed here with mpmath at 60 significant digits and
rounded once to the float64 or float32 it is stored as:

* constants split for exact products (Dekker): ``C`` rounded, and ``REST`` = the true
  constant minus ``C``, with the splitter ``2^s + 1`` of that precision;
* for each derivative with a zero in the range used (silu', mish', gelu' exact and tanh),
  the zero ``r`` as ``r_hi + r_lo`` (float64 and float32 ``r_hi``) and the Taylor
  coefficients of the derivative at ``r``, ``c_k = f^(k)(r) / k!`` for ``k = 1..n``.
  ``n`` is :data:`N_TERMS`; :func:`check_truncation` asserts that the first dropped term
  is below ``2^-60`` anywhere within :data:`ROOT_WIDTH` of the zero.

``tests/test_tables.py`` runs :func:`render` and checks that the committed module equals
it, so the tables cannot drift from their definition. ``--check`` does the same here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mpmath as mp

TARGET = Path(__file__).resolve().parents[1] / "src" / "relukit" / "_prims" / "tables.py"
DPS = 60
#: half-width of the interval around a derivative's zero where the polynomial is used
ROOT_WIDTH = 0.45
#: Taylor terms kept per zero (the first dropped term is < 2^-60 on |u| <= ROOT_WIDTH)
N_TERMS = {"silu": 23, "mish": 24, "gelu": 22, "gelu_tanh": 25}
#: the tanh-gelu coefficient, as the float64 that the float64 formula multiplies by
GELU_K = 0.044715


def _sig(x: mp.mpf) -> mp.mpf:
    return 1 / (1 + mp.exp(-x))


def _silu_d(x: mp.mpf) -> mp.mpf:
    s = _sig(x)
    return s * (1 + x * (1 - s))


def _mish_d(x: mp.mpf) -> mp.mpf:
    t = mp.tanh(mp.log1p(mp.exp(x)))
    return t + x * _sig(x) * (1 - t * t)


def _gelu_d(x: mp.mpf) -> mp.mpf:
    return mp.erfc(-x / mp.sqrt(2)) / 2 + x * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def _gelu_tanh_d(x: mp.mpf) -> mp.mpf:
    k = mp.mpf(GELU_K)
    c = mp.sqrt(2 / mp.pi)
    u = c * (x + k * x**3)
    return _sig(2 * u) + x / 2 * mp.sech(u) ** 2 * c * (1 + 3 * k * x**2)


#: name: (derivative, a start point for the root finder)
DERIVATIVES = {
    "silu": (_silu_d, -1.28),
    "mish": (_mish_d, -1.19),
    "gelu": (_gelu_d, -0.75),
    "gelu_tanh": (_gelu_tanh_d, -0.75),
}


def _f32(x: mp.mpf) -> mp.mpf:
    """``x`` rounded to float32's 24-bit significand (to nearest)."""
    with mp.workprec(24):
        return +x


def _split(c: mp.mpf) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(rounded, rest, splitter) for float64 and for float32."""
    hi64, hi32 = float(c), _f32(c)
    return (hi64, float(c - hi64), 134217729.0), (float(hi32), float(c - hi32), 4097.0)


def roots() -> dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, ...]]]:
    """The zeros of the derivatives and the Taylor coefficients there."""
    out = {}
    with mp.workdps(DPS):
        for name, (f, start) in DERIVATIVES.items():
            r = mp.findroot(f, start)
            coeffs = mp.taylor(f, r, N_TERMS[name] + 1)
            check_truncation(name, coeffs)
            hi32 = _f32(r)
            out[name] = (
                (float(r), float(r - float(r))),
                (float(hi32), float(r - hi32)),
                tuple(float(c) for c in coeffs[1 : N_TERMS[name] + 1]),
            )
    return out


def check_truncation(name: str, coeffs: list[mp.mpf]) -> None:
    """The first dropped Taylor term is below 2^-60 within ROOT_WIDTH of the zero."""
    n = N_TERMS[name]
    dropped = abs(coeffs[n + 1]) * mp.mpf(ROOT_WIDTH) ** (n + 1)
    if dropped >= mp.mpf(2) ** -60:
        raise ValueError(f"{name}: term {n + 1} is {float(dropped):g} at |u| = {ROOT_WIDTH}")


def _fmt(obj: object, indent: int = 0) -> str:
    """Python source for nested dicts/tuples of floats, laid out as ``ruff format`` does.

    A dict, a tuple of more than 3 items and a tuple holding such a tuple are written one
    item per line with a trailing comma; short tuples of numbers stay on one line.
    """
    pad = " " * indent
    if isinstance(obj, dict):
        items = [f'{pad}    "{k}": {_fmt(v, indent + 4)},' for k, v in obj.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, tuple) and _exploded(obj):
        items = [f"{pad}    {_fmt(v, indent + 4)}," for v in obj]
        return "(\n" + "\n".join(items) + f"\n{pad})"
    if isinstance(obj, tuple):
        return "(" + ", ".join(_fmt(v) for v in obj) + ")"
    return repr(obj)


def _exploded(obj: object) -> bool:
    return isinstance(obj, dict) or (
        isinstance(obj, tuple) and (len(obj) > 3 or any(_exploded(v) for v in obj))
    )


def render() -> str:
    """The module's text."""
    with mp.workdps(DPS):
        sqrt1_2 = _split(mp.sqrt(mp.mpf(1) / 2))
        c2 = 2 * mp.sqrt(2 / mp.pi)
        k32 = float(_f32(mp.mpf(GELU_K)))
        (c2_64, c2_rest64, _), (c2_32, c2_rest32, _) = _split(c2)
        consts = {
            "TWO_OVER_SQRTPI": float(2 / mp.sqrt(mp.pi)),
            "INV_SQRT_2PI": float(1 / mp.sqrt(2 * mp.pi)),
            "SQRT_2_OVER_PI": float(mp.sqrt(2 / mp.pi)),
        }
    lines = [
        '"""Constants and polynomial tables, generated by ``tools/build_tables.py``: do not edit.',
        "",
        "Computed with mpmath at 60 digits and rounded once; ``tests/test_tables.py`` checks",
        "that this file equals what the script writes now.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        *(f"{k} = {v!r}" for k, v in consts.items()),
        "",
        "#: per precision: (sqrt(1/2) rounded, the rest, the splitter 2^s + 1 for exact products)",
        f"SQRT1_2 = {_fmt({'float64': sqrt1_2[0], 'float32': sqrt1_2[1]})}",
        "",
        "#: per precision: (0.044715 as that precision has it, 2 sqrt(2/pi) rounded, the rest)",
        "GELU_TANH_C = "
        + _fmt({"float64": (GELU_K, c2_64, c2_rest64), "float32": (k32, c2_32, c2_rest32)}),
        "",
        "#: half-width of the interval around a zero where the Taylor polynomial is used",
        f"ROOT_WIDTH = {ROOT_WIDTH!r}",
        "",
        "#: zeros of derivatives: name -> ((r_hi, r_lo) float64, (r_hi, r_lo) float32,",
        "#: Taylor coefficients of u^1..u^n at the zero)",
        "ROOTS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, ...]]] = "
        + _fmt(roots()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        same = TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET} is {'up to date' if same else 'OUT OF DATE'}")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
