"""Write the measured numbers into the README and the docs: ``python docs/build_measured.py``.

Every accuracy and speed figure of ``README.md`` and ``docs/benchmarks.md`` sits between
two markers, ``<!-- measured:NAME -->`` and ``<!-- /measured:NAME -->``, and is written
there by the function ``NAME`` of :data:`BLOCKS` from the results stored in
``docs/measured/`` (one file per benchmark, as the benchmark's ``--json`` writes it):

==================  ================================================================
accuracy.json       ``relukit bench accuracy``
sweep.json          ``relukit bench speed --sweep --repeat 7`` (and the figure
                    ``docs/figures/bench/sweep.png``)
speed.json          ``relukit bench speed --size 2^26``
under_load.json     ``relukit bench speed --under-load 3``
floors.json         ``python benchmarks/floors.py``
torch.json          ``relukit bench torch``
first_call.json     ``python benchmarks/first_call.py``
machine.json        the machine, the library versions and the date of the run
==================  ================================================================

``python tools/measure.py`` runs them all again and then this script, so regenerating
every number is one command (``make measure``). The claims the text makes (0.5 ulp
below float64, :data:`F64_BOUND` in float64) are fixed here; the exceptions to them,
and every "faster"/"slower", are read from the results. ``--check`` compares instead of
writing (``tests/test_measured.py`` does the same).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
MEASURED = DOCS / "measured"
TARGETS = (ROOT / "README.md", DOCS / "benchmarks.md")
FILES = ("accuracy", "sweep", "speed", "under_load", "floors", "torch", "first_call", "machine")

MARK = re.compile(
    r"<!-- measured:(?P<name>[\w-]+) -->(?P<body>.*?)<!-- /measured:(?P=name) -->", re.S
)

#: the precisions where relukit claims correct rounding (0.5 ulp)
LOW = ("float16", "bfloat16", "float32")
#: an error this close above 0.5 ulp still counts as correctly rounded (the reference's
#: own rounding at halfway points, up to 5e-5 ulp here)
TIE = 1e-3
#: relukit's claim in float64, in ulp
F64_BOUND = 4.0
#: relukit's three paths in accuracy.json, as the text names them: NumPy arrays (the
#: kernels), the NumPy formulas (the kernels switched off) and relukit.torch
PATHS = {
    "relukit": "NumPy arrays",
    "NumPy formulas": "the NumPy formulas",
    "relukit-torch": "relukit.torch",
}
#: the paths of results stored before the kernels ran at every size (the kernels forced
#: on, and relukit on torch tensors through the Array API); read as they were measured
PATHS_BEFORE = {
    "relukit": "NumPy arrays",
    "relukit kernels": "its kernels",
    "relukit-torch": "torch tensors",
}
#: why a known exception is one (shown only while the exception is measured)
WHY = {
    ("leaky_relu", "value", "float32"): "the slope 0.01 is not a float32 number",
    ("rrelu", "value", "float32"): "the mean slope 11/48 is not a float32 number",
}
#: PyTorch errors above this many ulp are listed
TORCH_LISTED = 100.0
#: a ratio (peer time / relukit time) at or above FASTER is "faster", below SLOWER "slower"
FASTER, SLOWER = 1.1, 0.9


def load(folder: Path = MEASURED) -> dict[str, Any]:
    """The stored results, by file stem (a missing file is left out)."""
    out = {}
    for stem in FILES:
        path = folder / f"{stem}.json"
        if path.exists():
            out[stem] = json.loads(path.read_text(encoding="utf-8"))
    return out


# ---------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------


def ulp(v: float | None) -> str:
    """An error in ulp as the tables print it."""
    if v is None:
        return "—"
    if math.isinf(v):
        return "inf"
    if v < 10:
        return f"{v:.2f}"
    if v < 1e4:
        return f"{v:.0f}"
    return f"{v:.1e}".replace("e+0", "e").replace("e+", "e")


def g2(v: float) -> str:
    """Two significant digits (a ratio, a time)."""
    return f"{v:.2g}" if v < 10 else f"{v:.0f}"


def span(values: list[float], fmt: Callable[[float], str] = g2) -> str:
    """``"0.55-0.74"``, or one number when they print alike."""
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


def names(items: list[str]) -> str:
    """``"a, b and c"``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def pow10(n: int) -> str:
    k = round(math.log10(n))
    return f"10^{k}" if 10**k == n else f"{n:,}"


# ---------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------


def paths(rows: list[dict]) -> dict[str, str]:
    """relukit's paths in ``rows`` (:data:`PATHS`, or :data:`PATHS_BEFORE` for results
    stored in the earlier format)."""
    return PATHS if any("NumPy formulas value" in r for r in rows) else PATHS_BEFORE


def _exceptions(rows: list[dict], dtypes: tuple[str, ...], bound: float) -> list[str]:
    """Each (entry, part, dtype) where some relukit path exceeds ``bound``, as text."""
    named = paths(rows)
    out = []
    for r in rows:
        if r["dtype"] not in dtypes:
            continue
        for part in ("value", "derivative"):
            got = {p: r[f"{p} {part}"] for p in named if r.get(f"{p} {part}") is not None}
            if not got or max(got.values()) <= bound:
                continue
            by_text: dict[str, list[str]] = {}
            for p, v in got.items():
                by_text.setdefault(ulp(v), []).append(named[p])
            if len(by_text) == 1:
                figures = next(iter(by_text))
            else:
                figures = ", ".join(f"{t} on {names(ps)}" for t, ps in by_text.items())
            what = r["entry"] if part == "value" else f"{r['entry']}'"
            if len(dtypes) > 1:
                what += f" in {r['dtype']}"
            torch = r.get(f"PyTorch {part}")
            if torch is not None:
                figures += f"; PyTorch {ulp(torch)}"
            why = WHY.get((r["entry"], part, r["dtype"]))
            out.append(f"{what} ({figures}" + (f": {why})" if why else ")"))
    return out


def accuracy_summary(data: dict[str, Any]) -> str:
    """The paragraph of claims and their measured exceptions (README and benchmarks)."""
    rows = data["accuracy"]
    low = _exceptions(rows, LOW, 0.5 + TIE)
    f64 = _exceptions(rows, ("float64",), F64_BOUND)
    largest = max(
        r[f"{p} {part}"]
        for r in rows
        if r["dtype"] == "float64"
        for p in paths(rows)
        for part in ("value", "derivative")
        if r.get(f"{p} {part}") is not None and r[f"{p} {part}"] <= F64_BOUND
    )
    if paths(rows) is PATHS:
        text = (
            "relukit on NumPy arrays (its numba kernels), its NumPy formulas (the kernels "
            "switched off, as without numba) and relukit.torch (CPU tensors, values and "
            "autograd gradients) alike"
        )
    else:
        text = (
            "relukit, on NumPy arrays, with its numba kernels forced on and on torch tensors alike"
        )
    text += (
        f": at most 0.5 ulp (to within {TIE:g}) in float16, bfloat16 and float32 for every entry"
    )
    text += f" except {names(low)}" if low else ""
    text += f"; in float64 at most {F64_BOUND:g} ulp (largest {ulp(largest)})"
    text += f" except {names(f64)}" if f64 else ""
    text += ". A prime marks the derivative."
    torch = []
    for entry in dict.fromkeys(r["entry"] for r in rows):
        for part in ("value", "derivative"):
            worst = [
                (r[f"PyTorch {part}"], r["dtype"])
                for r in rows
                if r["entry"] == entry and r.get(f"PyTorch {part}") is not None
            ]
            if not worst:
                continue
            v, dtype = max(worst, key=lambda w: w[0])
            if v > TORCH_LISTED:
                what = entry if part == "value" else f"{entry}'"
                torch.append(f"{what} ({ulp(v)} in {dtype})")
    if torch:
        text += (
            f" PyTorch on the same points is more than {TORCH_LISTED:g} ulp off (worst over "
            f"the four dtypes) for {names(torch)}; inf is a NaN or a wrong infinity where the "
            "result is finite."
        )
    return _wrap(text)


def accuracy_table(data: dict[str, Any]) -> str:
    """Every entry and dtype: relukit's three paths and PyTorch, values and derivatives."""
    rows = data["accuracy"]
    which = paths(rows)
    heads = "kernels / formulas / relukit.torch" if which is PATHS else "NumPy / kernels / torch"
    out = [
        f"| entry | dtype | value: relukit ({heads}) | value: PyTorch "
        f"| derivative: relukit ({heads}) | derivative: PyTorch |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [r["entry"], r["dtype"]]
        for part in ("value", "derivative"):
            cells.append(" / ".join(ulp(r.get(f"{p} {part}")) for p in which))
            cells.append(ulp(r.get(f"PyTorch {part}")))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# speed: the sweep
# ---------------------------------------------------------------------------


def _rows(data: dict[str, Any]) -> list[dict]:
    return [r for r in data["sweep"]["rows"] if r["kind"] != "copy"]


def _entries(data: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(r["entry"] for r in _rows(data)))


def _row(data: dict[str, Any], entry: str, kind: str, size: int) -> dict | None:
    return next(
        (r for r in _rows(data) if (r["entry"], r["kind"], r["size"]) == (entry, kind, size)),
        None,
    )


def ratio(
    data: dict[str, Any], entry: str, kind: str, size: int, peer: str = "torch"
) -> float | None:
    """The peer's median time over relukit's (above 1: relukit is faster), or None."""
    r = _row(data, entry, kind, size)
    if r is None or peer not in r:
        return None
    return r[peer][0] / r["relukit"][0]


def _us(data: dict[str, Any], entry: str, kind: str, size: int, who: str = "relukit") -> float:
    r = _row(data, entry, kind, size)
    assert r is not None and who in r, (entry, kind, size, who)
    return r[who][0] * size / 1e3


def _cell(r: dict) -> str:
    ours = r["relukit"]
    parts = []
    for peer in ("torch", "NumPy", "JAX"):
        p = r.get(peer)
        if p is None:
            parts.append("–")
        elif peer == "torch":
            parts.append(f"{g2(p[0] / ours[0])} ({g2(p[1] / ours[1])})")
        else:
            parts.append(g2(p[0] / ours[0]))
    return f"{ours[0]:.2g} ns; " + " / ".join(parts)


#: the sizes of the README's sweep tables (those the stored sweep has)
TABLE_SIZES = (10**3, 10**5, 10**6, 10**7)


def _sweep_table(data: dict[str, Any], kind: str) -> str:
    sizes = [n for n in TABLE_SIZES if n in data["sweep"]["sizes"]]
    out = ["| entry | " + " | ".join(pow10(n) for n in sizes) + " |"]
    out.append("|---" * (len(sizes) + 1) + "|")
    for e in _entries(data):
        cells = []
        for n in sizes:
            r = _row(data, e, kind, n)
            cells.append("" if r is None else _cell(r))
        out.append(f"| {e} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def sweep_values(data: dict[str, Any]) -> str:
    """The README's value table."""
    return _sweep_table(data, "value")


def sweep_derivatives(data: dict[str, Any]) -> str:
    """The README's derivative table."""
    return _sweep_table(data, "derivative")


def _classify(data: dict[str, Any], kind: str, sizes: tuple[int, ...]) -> dict[str, list[str]]:
    """The entries ``faster`` than torch at every one of ``sizes``, ``slower`` at every
    one, ``level`` (within FASTER and SLOWER) at every one, or ``mixed``; each with its
    range of ratios."""
    groups: dict[str, list[str]] = {"faster": [], "level": [], "slower": [], "mixed": []}
    for e in _entries(data):
        rs = [r for n in sizes if (r := ratio(data, e, kind, n)) is not None]
        if not rs:
            continue
        if min(rs) >= FASTER:
            group = "faster"
        elif max(rs) < SLOWER:
            group = "slower"
        elif min(rs) >= SLOWER and max(rs) < FASTER:
            group = "level"
        else:
            group = "mixed"
        groups[group].append(f"{e} {span(rs)}x")
    return groups


def _groups_text(groups: dict[str, list[str]]) -> str:
    words = {
        "faster": "faster than torch",
        "level": "about level",
        "slower": "slower",
        "mixed": "faster or slower depending on the size",
    }
    parts = [f"{words[k]} for {names(v)}" for k, v in groups.items() if v]
    return "; ".join(parts)


def speed_intro(data: dict[str, Any]) -> str:
    """The README's first-screen sentence on speed (inline)."""
    big = max(n for n in data["sweep"]["sizes"] if n <= 10**7)
    out_cache = _classify(data, "value", (big,))
    in_cache = _classify(data, "value", (10**5, 10**6))
    bare = {k: [s.split()[0] for s in v] for k, v in in_cache.items()}
    n_fast, n_all = len(out_cache["faster"]), sum(len(v) for v in out_cache.values())
    text = (
        f"faster than torch out of cache ({pow10(big)} elements) for {n_fast} of the {n_all} "
        "entries torch has"
    )
    words = {
        "faster": "faster for",
        "level": "about level for",
        "slower": "slower for",
        "mixed": "faster or slower depending on the size for",
    }
    parts = [f"{words[k]} {names(v)}" for k, v in bare.items() if v]
    return text + "; in cache " + "; ".join(parts)


def sweep_summary(data: dict[str, Any]) -> str:
    """What the sweep says, size by size (README and benchmarks)."""
    sizes = data["sweep"]["sizes"]
    big = max(n for n in sizes if n <= 10**7)
    bullets = [
        f"**{pow10(big)} elements (out of cache), values:** "
        + _groups_text(_classify(data, "value", (big,)))
        + "; **derivatives:** "
        + _groups_text(_classify(data, "derivative", (big,)))
        + ".",
        "**10^5 and 10^6 elements (in cache), values:** "
        + _groups_text(_classify(data, "value", (10**5, 10**6)))
        + ".",
        "**10^6 elements, derivatives** (torch: the backward alone): "
        + _groups_text(_classify(data, "derivative", (10**6,)))
        + ".",
    ]
    if 1000 in sizes:
        smooth = [
            r
            for e in _entries(data)
            if e not in EXACT and (r := ratio(data, e, "value", 1000)) is not None
        ]
        bullets.append(
            f"**10^3 elements:** a relu call takes {_us(data, 'relu', 'value', 1000):.1f} µs "
            f"against {_us(data, 'relu', 'value', 1000, 'NumPy'):.1f} µs for `np.maximum` and "
            f"{_us(data, 'relu', 'value', 1000, 'torch'):.1f} µs for torch; torch's time over "
            f"relukit's is {span(smooth)} for the entries computed in float64."
        )
    if 10 in sizes:
        bullets.append(
            f"**10 elements:** relu takes {_us(data, 'relu', 'value', 10):.1f} µs a call "
            f"(torch {_us(data, 'relu', 'value', 10, 'torch'):.1f} µs, `np.maximum` "
            f"{_us(data, 'relu', 'value', 10, 'NumPy'):.1f} µs), silu "
            f"{_us(data, 'silu', 'value', 10):.1f} µs and gelu "
            f"{_us(data, 'gelu', 'value', 10):.1f} µs: the kernels run at every size, and the "
            "sweep calls every entry once on 1,024 elements before timing, so that the "
            "first call's cost (importing numba, loading the kernels) is not in the table."
        )
    return "\n".join(_wrap("- " + b, indent="  ") for b in bullets)


#: the entries whose formulas are exact in every dtype (selections and a product by a
#: parameter): they run in the input's dtype; every other entry computes float32 results
#: in float64 and rounds them once
EXACT = (
    "relu",
    "leaky_relu",
    "relu6",
    "hardtanh",
    "prelu",
    "threshold",
    "rrelu",
    "reglu",
    "bilinear",
)


def _where(info: dict[str, Any]) -> str:
    return f"{info['cpu']}, {info['cpus']} CPUs (load average {info['load']:g} at the start)"


def sweep_machine(data: dict[str, Any]) -> str:
    """Where and how the sweep was run (inline)."""
    info = data["machine"]["sweep"]
    return (
        f"{_where(info)}, relukit and torch on {data['sweep']['threads']} threads, {info['date']}"
    )


def machine(data: dict[str, Any]) -> str:
    """The machines, dates and versions of the stored results (a paragraph)."""
    steps = data["machine"]
    groups: dict[str, list[str]] = {}
    for step, info in sorted(steps.items()):
        v = info["versions"]
        order = [k for k in ("Python", "NumPy", "numba", "torch", "JAX") if k in v]
        versions = ", ".join(f"{k} {v[k]}" for k in order + sorted(set(v) - set(order)))
        key = f"{info['cpu']}, {info['cpus']} CPUs; {versions}"
        groups.setdefault(key, []).append(f"{step} {info['date']}")
    text = "Measured on " + "; and on ".join(
        f"{key} ({', '.join(runs)})" for key, runs in groups.items()
    )
    return _wrap(
        text + ". `make measure` (`python tools/measure.py`) measures everything again and "
        "rewrites every number on this page and in the README."
    )


# ---------------------------------------------------------------------------
# speed: large arrays, the scalar call, loaded machines, the floors
# ---------------------------------------------------------------------------

#: the cases of ``relukit bench speed`` shown in the large-array table, with their labels
HEADLINE_CASES = {
    "np.copyto(y, x)": "`np.copyto(y, x)` (one thread)",
    "rk.relu(x, out=y)": "`rk.relu(x, out=y)`",
    "rk.relu(x)": "`rk.relu(x)` (allocating)",
    "rk.relu.value_and_derivative(x, out=(y, d))": (
        "`rk.relu.value_and_derivative(x, out=(y, d))` (two outputs)"
    ),
    "np.maximum(x, 0)": "`np.maximum(x, 0)`",
    "np.heaviside(x, 0)": "`np.heaviside(x, 0)` (the tutorials' derivative)",
    "torch.relu(t)": "`torch.relu(t)`",
    "jax.jit(jax.nn.relu)(x)": "`jax.jit(jax.nn.relu)(x)`",
}


def _headline(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The largest size's cases, by name without the benchmark's note ("(one thread)")."""
    results = data["speed"]["results"]
    size = max(int(n) for n in results)
    return size, {k.split("  ")[0]: v for k, v in results[str(size)].items()}


def headline_table(data: dict[str, Any]) -> str:
    """The large-array table (benchmarks)."""
    size, row = _headline(data)
    copy = row["np.copyto(y, x)"]
    out = [
        f"| case ({size:,} float32 elements) | time (median) | bandwidth, x one-thread copyto "
        "(median; minimum) |",
        "|---|---|---|",
    ]
    for case, label in HEADLINE_CASES.items():
        r = row.get(case)
        if r is None:
            continue
        # vs_copyto is traffic/2 * copy_min/min; the same by medians:
        med = r["vs_copyto"] * r["seconds"] / copy["seconds"] * copy["median"] / r["median"]
        out.append(f"| {label} | {r['median'] * 1e3:.1f} ms | {med:.2f}; {r['vs_copyto']:.2f} |")
    return "\n".join(out)


def headline_sentence(data: dict[str, Any]) -> str:
    """relu's bandwidth and the scalar call (inline)."""
    size, row = _headline(data)
    copy, out_, alloc = row["np.copyto(y, x)"], row["rk.relu(x, out=y)"], row["rk.relu(x)"]
    text = (
        f"on {size:,} float32 elements `rk.relu(x, out=y)` takes "
        f"{out_['median'] * 1e3:.1f} ms against {copy['median'] * 1e3:.1f} ms for a one-thread "
        f"`np.copyto` of the same bytes (medians)"
    )
    torch = row.get("torch.relu(t)")
    if torch is not None:
        text += (
            f", and allocating `rk.relu(x)` {alloc['median'] * 1e3:.1f} ms against "
            f"{torch['median'] * 1e3:.1f} ms for `torch.relu(t)`"
        )
    return text


def scalar_sentence(data: dict[str, Any]) -> str:
    """``rk.relu(-3.0)`` against ``max(0.0, -3.0)`` (inline)."""
    s = data["speed"]["scalar"]
    return f"`rk.relu(-3.0)` takes {s['relu'] * 1e9:.0f} ns against {s['max'] * 1e9:.0f} ns for `max(0.0, -3.0)`"


def import_time(data: dict[str, Any]) -> str:
    """``import relukit`` in a fresh process, median (inline)."""
    return f"{data['first_call']['import_s']['median'] * 1e3:.0f} ms"


def _seconds(s: float) -> str:
    """A duration as the first-call sentence prints it: ms below a second."""
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.1f} s"


def first_call(data: dict[str, Any]) -> str:
    """The first call of a process that needs the kernels, and the later ones (inline)."""
    fc = data["first_call"]
    numba = "importing numba " + _seconds(fc["numba_import_s"]["median"])
    if "numba_start_s" in fc:
        numba += ", numba's start (its first function loads its NumPy support"
        if fc.get("scipy_imported_by_numba"):
            numba += ", and SciPy's BLAS bindings when SciPy is installed"
        numba += ") " + _seconds(fc["numba_start_s"]["median"])
    elif fc.get("scipy_imported_by_numba"):
        numba += " (numba imports parts of SciPy when SciPy is installed)"
    return (
        f"`rk.{fc['entry']}(x)` on {pow10(fc['size'])} {fc['dtype']} elements takes "
        f"{_seconds(fc['first_call_s']['median'])} the first time in a process: {numba}, "
        f"then relukit's own part, loading its kernel modules and the compiled kernels the "
        f"call uses from the disk cache {_seconds(fc['kernel_load_s']['median'])} (compiling "
        f"them "
        f"takes {_seconds(fc['compile_s'])}, once, when the cache is empty); later calls "
        f"take {fc['later_call_s']['median'] * 1e3:.1f} ms (medians of {fc['runs']} fresh "
        "processes)"
    )


def under_load(data: dict[str, Any]) -> str:
    """``rk.relu(x, out=y)`` idle and on a busy machine (a paragraph)."""
    u = data["under_load"]
    idle, busy = u["idle_s"], u["loaded_s"]
    return _wrap(
        f"`rk.relu(x, out=y)` on {u['size']:,} float32 elements (`relukit bench speed "
        f"--under-load {u['busy_processes']}`, {u['calls']} calls each): idle median "
        f"{idle['median'] * 1e3:.2f} ms, with {u['busy_processes']} processes spinning on the "
        f"{u['cpus']} CPUs {busy['median'] * 1e3:.2f} ms ({busy['median'] / idle['median']:.2f}x "
        "the idle median). On the busy machine the call runs in the calling thread alone, so "
        "it takes about what one thread takes on an idle machine: the ratio is the idle "
        "call's speed-up from its threads, which depends on the memory bandwidth the host "
        "has at the time."
    )


#: floors.json's single-thread pieces, with their labels
FLOOR_PIECES = {
    "widen and round": "widen to float64 and round back, alone",
    "exp": "relukit's float64 `exp` for float32 results, alone",
    "division": "one float64 division, alone",
    "erfcx": "relukit's float64 `erfcx` (gelu), alone",
}


def floors_table(data: dict[str, Any]) -> str:
    """The pieces of the smooth float32 kernels against torch (benchmarks)."""
    f = data["floors"]
    n = f["size"]
    st = f["single_thread_s"]

    def ns(key: str) -> str:
        return f"{st[key]['median'] / n * 1e9:.3f}"

    out = [f"| float32, {pow10(n)} elements, one thread | ns per element, median |", "|---|---|"]
    out += [f"| {label} | {ns(k)} |" for k, label in FLOOR_PIECES.items() if k in st]
    out.append(
        f"| `rk.silu` / `rk.gelu`, whole kernels | {ns('rk.silu (whole kernel)')} / "
        f"{ns('rk.gelu (whole kernel)')} |"
    )
    if "torch F.silu" in st:
        out.append(
            f"| torch `F.silu` / `F.gelu` / `torch.exp` | {ns('torch F.silu')} / "
            f"{ns('torch F.gelu')} / {ns('torch.exp')} |"
        )
    return "\n".join(out)


def floors_calls(data: dict[str, Any]) -> str:
    """The cost of a call at ``--small`` elements (inline)."""
    f = data["floors"]
    c = f["calls_s"]

    def us(key: str) -> str:
        found = next((v for k, v in c.items() if k.startswith(key)), None)
        assert found is not None, key
        return f"{found['median'] * 1e6:.1f} µs"

    text = (
        f"at {pow10(f['small'])} float32 elements on {f['threads']} threads relukit's "
        f"parallel relu loop called directly takes {us('relukit')}, `rk.relu(x)` "
        f"{us('rk.relu')}"
    )
    if any(k.startswith("torch") for k in c):
        text += f" and `torch.relu(t)` {us('torch')}"
    return text + f"; numba's parallel region alone costs {us('numba')}"


def floors_exp(data: dict[str, Any]) -> str:
    """relukit's float64 exp alone against torch's whole silu (inline)."""
    st, n = data["floors"]["single_thread_s"], data["floors"]["size"]
    text = f"relukit's float64 `exp` alone ({st['exp']['median'] / n * 1e9:.2f} ns per element"
    if "torch F.silu" in st:
        text += f" on one thread) against torch's whole float32 silu ({st['torch F.silu']['median'] / n * 1e9:.2f})"
    else:
        text += " on one thread)"
    return text


def torch_table(data: dict[str, Any]) -> str:
    """``relukit bench torch``: saved bytes, peak memory and step time (benchmarks)."""
    out = [
        "| model | saved for backward, relukit / torch.nn | peak memory of a step | "
        "step time (best round; median of rounds) |",
        "|---|---|---|---|",
    ]
    for r in data["torch"]:
        saved = (
            f"{r['saved_bytes_relukit'] / 2**20:.2f} / {r['saved_bytes_torch'] / 2**20:.2f} MiB "
            f"({r['saved_ratio']:.2f})"
        )
        if r.get("peak_bytes_torch"):
            peak = f"{r['peak_bytes_relukit'] / r['peak_bytes_torch']:.2f}"
        else:
            peak = "—"
        step = f"{r['time_ratio']:.2f}; {r['time_ratio_median']:.2f}"
        out.append(f"| {r['model']} | {saved} | {peak} | {step} |")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# the files
# ---------------------------------------------------------------------------

BLOCKS: dict[str, Callable[[dict[str, Any]], str]] = {
    f.__name__.replace("_", "-"): f
    for f in (
        accuracy_summary,
        accuracy_table,
        sweep_values,
        sweep_derivatives,
        sweep_summary,
        sweep_machine,
        speed_intro,
        machine,
        headline_table,
        headline_sentence,
        scalar_sentence,
        import_time,
        first_call,
        under_load,
        floors_table,
        floors_calls,
        floors_exp,
        torch_table,
    )
}


def _wrap(text: str, width: int = 88, indent: str = "") -> str:
    """``text`` broken into lines of at most ``width`` (never inside a code span)."""
    words = re.findall(r"`[^`]*`\S*|\S+", text)
    lines: list[str] = []
    line = ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = indent + w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    return "\n".join(lines)


def render_text(text: str, data: dict[str, Any]) -> str:
    """``text`` with every measured block rewritten from ``data``.

    A block whose markers stand on lines of their own is written on lines of its own; a
    block inside a line (a number in a sentence) stays inside it.
    """

    def one(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in BLOCKS:
            raise KeyError(f"unknown measured block {name!r} (known: {', '.join(BLOCKS)})")
        body = BLOCKS[name](data)
        if m.group("body").startswith("\n"):
            body = f"\n{body}\n"
        return f"<!-- measured:{name} -->{body}<!-- /measured:{name} -->"

    return MARK.sub(one, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    data = load()
    stale = []
    for path in TARGETS:
        old = path.read_text(encoding="utf-8")
        new = render_text(old, data)
        if args.check:
            if new != old:
                stale.append(path)
        elif new != old:
            path.write_text(new, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date: " + ", ".join(map(str, stale)) + " (python docs/build_measured.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
