"""Measure again every number the README and the docs show: ``python tools/measure.py``.

Runs the benchmarks and the experiments, stores what each writes with ``--json`` (and
its figures) in ``docs/measured/``, then rewrites the README and docs pages from them
(``docs/build_measured.py``, ``docs/build_experiments.py``). ``make measure`` runs it
with the project's virtual environment. Takes about 25 minutes on 2 cores; run it on an
otherwise idle machine, since the speed results are timings. ``--only`` measures some
of them (the others keep their stored results):

    python tools/measure.py --only accuracy           # 1 minute
    python tools/measure.py --only experiments        # 5 minutes
    python tools/measure.py --render                  # no measuring: rewrite the pages

``tests/test_measured.py`` checks that the README and docs show what is stored.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MEASURED = DOCS / "measured"
EXPERIMENTS = MEASURED / "experiments"

#: step -> the commands (argument lists after ``python -m``), with {out} for the result
STEPS: dict[str, list[list[str]]] = {
    "accuracy": [["relukit", "bench", "accuracy", "--json", "{out}/accuracy.json"]],
    "sweep": [
        [
            "relukit", "bench", "speed", "--sweep", "--repeat", "7",
            "--json", "{out}/sweep.json", "--plot", "{docs}/figures/bench/sweep.png",
        ]
    ],
    "speed": [["relukit", "bench", "speed", "--size", "2^26", "--json", "{out}/speed.json"]],
    "under-load": [
        ["relukit", "bench", "speed", "--under-load", "3", "--json", "{out}/under_load.json"]
    ],
    "floors": [["{root}/benchmarks/floors.py", "--json", "{out}/floors.json"]],
    "first-call": [["{root}/benchmarks/first_call.py", "--json", "{out}/first_call.json"]],
    "torch": [["relukit", "bench", "torch", "--rounds", "30", "--json", "{out}/torch.json"]],
    "experiments": [
        ["relukit", "experiment", name, "--out", "{out}/experiments/" + name, "--no-progress"]
        for name in ("dying-relu", "plasticity", "kink-choice")
    ]
    + [
        ["relukit", "experiment", "few-bit", "--out", "{out}/experiments/few-bit"],
        [
            "relukit", "experiment", "born-dead", "--json", "{out}/experiments/born-dead.json",
            "--plot", "{out}/experiments/born-dead.png",
        ],
        [
            "relukit", "experiment", "monitor-overhead",
            "--json", "{out}/experiments/monitor-overhead.json",
        ],
    ],
}  # fmt: skip


def _command(args: list[str]) -> list[str]:
    """The argument list as a command of this interpreter."""
    fields = {"out": str(MEASURED), "docs": str(DOCS), "root": str(ROOT)}
    args = [a.format(**fields) for a in args]
    if args[0] == "relukit":
        return [sys.executable, "-m", "relukit", *args[1:]]
    return [sys.executable, *args]


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"Python": platform.python_version()}
    for dist, label in (("numpy", "NumPy"), ("numba", "numba"), ("torch", "torch"), ("jax", "JAX")):
        with contextlib.suppress(md.PackageNotFoundError):
            out[label] = md.version(dist)
    return out


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, object]:
    """What a step was measured on (``machine.json`` keeps one per step)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "cpu": _cpu(),
        "cpus": os.cpu_count(),
        "load": round(load, 1),
        "date": datetime.date.today().isoformat(),
        "versions": _versions(),
    }


def run(steps: list[str]) -> None:
    """Run ``steps`` in order; each one's results replace the stored ones only on success."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT / "src")}
    record = MEASURED / "machine.json"
    for step in steps:
        info = machine()
        with tempfile.TemporaryDirectory() as tmp:
            print(f"measure: {step}", flush=True)
            (Path(tmp) / "experiments").mkdir()
            for args in STEPS[step]:
                cmd = [a.replace(str(MEASURED), tmp) for a in _command(args)]
                print("  " + " ".join(cmd[1:]), flush=True)
                subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
            for src in Path(tmp).rglob("*"):
                if src.is_file() and src.suffix in (".json", ".png"):
                    dst = MEASURED / src.relative_to(tmp)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst)
        # the steps not run again keep their record
        done = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
        done[step] = info
        record.write_text(json.dumps(done, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def render() -> None:
    """Rewrite the README and docs from the stored results."""
    for script in ("build_measured.py", "build_experiments.py"):
        subprocess.run([sys.executable, str(DOCS / script)], cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=tuple(STEPS), help="measure only these")
    parser.add_argument("--render", action="store_true", help="do not measure; rewrite only")
    args = parser.parse_args(argv)
    if not args.render:
        MEASURED.mkdir(exist_ok=True)
        run(list(args.only or STEPS))
    render()
    return 0


if __name__ == "__main__":
    sys.exit(main())
