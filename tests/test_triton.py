"""The Triton kernels generated from the catalogue's formulas (:mod:`relukit.torch._triton_gen`).

No GPU is needed: the kernels run under Triton's CPU interpreter (``TRITON_INTERPRET=1``,
which must be set before Triton is imported: each check runs in a subprocess) against
relukit.torch's CPU results, and they are compiled to GPU code (PTX and cubin) for an
H100. tests/_triton_checks.py does the work and documents the bounds; here each group
runs and must report no failure:

* ``one``: every one-argument entry and parameter set, float32, float64, float16 and
  bfloat16: the value, the backward with and without ``at_kink``, the backward from the
  output where the plan keeps the output; NaN in gives NaN out.
* ``gated``: every gated entry and parameter set, the four dtypes, every pair of edge
  values and random ones: the value and both gradients (``at_kink`` for reglu).
* ``fewbit``: the few-bit entries, bits 1 to 4, the four dtypes: the value and the
  packed codes in one kernel (the codes also against ``torch.bucketize``), and the
  backward from the codes; one partial byte, and two programs of 1024 elements.
* ``compile``: every kernel of every entry, kind and dtype (and the codes' backward)
  compiles for ``GPUTarget("cuda", 90, 32)`` with ``TRITON_DEFAULT_FP_FUSION=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.torch, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "_triton_checks.py"


def _run(*args: str, interpret: bool) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("torch")
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(ROOT / "src")
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    return subprocess.run(
        [sys.executable, "-W", "ignore", str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.parametrize(("group", "count"), [("one", 395), ("gated", 120), ("fewbit", 448)])
def test_kernels_under_the_interpreter_match_the_cpu(group, count):
    r = _run("interpret", group, interpret=True)
    assert r.returncode == 0, (r.stdout[-4000:], r.stderr[-3000:])
    assert f"checked {count}" in r.stdout, r.stdout[-2000:]  # (every case ran)


def test_every_kernel_compiles_for_cuda():
    r = _run("compile", "all", interpret=False)
    if "SKIP ptxas" in r.stdout:
        pytest.skip("Triton's CUDA toolchain (ptxas) is not installed here")
    assert r.returncode == 0, (r.stdout[-4000:], r.stderr[-3000:])
    assert "checked 432" in r.stdout, r.stdout[-2000:]


def test_the_checks_fail_on_a_wrong_kernel(tmp_path):
    # the harness can fail: kernels whose values are 1e-5 too large (100 float32 ulps)
    # are reported, entry by entry
    code = (
        "import sys, runpy; sys.argv = ['x', 'interpret', 'one'];"
        "from relukit.torch import _triton_gen as G;"
        "v = G.value;"
        "G.value = lambda *a, **k: v(*a, **k) * (1 + 1e-5);"
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TRITON_INTERPRET": "1"}
    pytest.importorskip("triton")
    r = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode != 0 and "FAIL relu" in r.stdout and "value" in r.stdout, r.stdout[-2000:]
