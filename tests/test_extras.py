"""The install footprint: `pip install relukit` needs numpy, numba and array-api-compat only.

matplotlib (the ``plot`` extra), rich (``rich``) and SciPy (``scipy``) are imported only by
the features that use them, and a missing one is a one-line message naming the extra.
Each check runs in a fresh interpreter in which those packages are hidden by a
``sys.meta_path`` wrapper: every finder answers "not found" for them, exactly as when
they are not installed (``importlib.util.find_spec`` returns None, ``import`` raises
ModuleNotFoundError with its ``name``).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

HIDE = """
import sys

class _Hidden:
    def __init__(self, inner):
        self.inner = inner

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        find = getattr(self.inner, "find_spec", None)
        return None if find is None else find(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

sys.meta_path[:] = [_Hidden(f) for f in sys.meta_path]
"""


def run_hidden(code: str, hidden: tuple[str, ...] = ("matplotlib", "rich", "scipy")) -> str:
    """Run ``code`` with ``hidden`` packages absent; returns stdout (asserts exit 0)."""
    src = f"HIDDEN = {set(hidden)!r}\n{HIDE}\n{textwrap.dedent(code)}"
    res = subprocess.run(
        [sys.executable, "-c", src], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_the_blocker_hides_like_an_absent_package() -> None:
    out = run_hidden(
        """
        import importlib.util
        print(importlib.util.find_spec("rich"))
        try:
            import matplotlib.pyplot
        except ModuleNotFoundError as e:
            print(e.name)
        """
    )
    assert out.split() == ["None", "matplotlib"]


def test_import_and_the_numpy_api_work_without_plot_rich_scipy() -> None:
    out = run_hidden(
        """
        import sys
        import numpy as np
        import relukit as rk
        print(rk.relu(np.array([-1.0, 2.0])).tolist())
        print(rk.leaky_relu.derivative(np.array([-1.0, 0.0, 3.0], dtype=np.float32)).tolist())
        big = np.linspace(-3, 3, 10_000)
        for f in (rk.silu, rk.mish, rk.elu, rk.softplus, rk.gelu):  # numba kernels
            f(big); f.derivative(big)
        print(repr(rk.gelu(0.5)))  # a Python float: the one-element kernel
        print(rk.gelu(np.array([0.5, -1.0]), approximate="tanh").shape)
        print(sorted(m for m in ("matplotlib", "rich", "scipy") if m in sys.modules))
        """
    )
    lines = out.splitlines()
    assert lines[0] == "[-0.0, 2.0]" or lines[0] == "[0.0, 2.0]"
    f32 = float(np.float32(0.01))  # relu's kink convention: the negative side's slope at 0
    assert lines[1] == str([f32, f32, 1.0])
    assert float(lines[2]) == pytest.approx(0.5 * 0.5 * math.erfc(-0.5 / math.sqrt(2)), rel=1e-15)
    assert lines[3] == "(2,)"
    assert lines[4] == "[]"


def _message(out: str) -> str:
    (line,) = [ln for ln in out.splitlines() if ln.startswith("MSG ")]
    return line[4:]


@pytest.mark.parametrize(
    ("call", "package", "extra"),
    [
        ("rk.plot('relu', derivative=True)", "matplotlib", "plot"),
        ("rk.plot('gelu')", "matplotlib", "plot"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(call: str, package: str, extra: str) -> None:
    out = run_hidden(
        f"""
        import numpy as np
        import relukit as rk
        try:
            {call}
        except ImportError as e:
            assert isinstance(e, ModuleNotFoundError) and e.name == {package!r}, (e, e.name)
            print("MSG " + str(e))
        """
    )
    msg = _message(out)
    assert "\n" not in msg
    assert f"pip install 'relukit[{extra}]'" in msg, msg
    assert package in msg.lower()


def test_gelu_needs_no_scipy_on_any_numpy_array() -> None:
    """gelu's erfc is relukit's own erfcx polynomial: small arrays, the derivative and the
    NumPy formulas (the kernels switched off, as without numba) need no SciPy."""
    out = run_hidden(
        """
        import json, sys
        import numpy as np
        import relukit as rk
        from relukit import _kernels
        x = np.array([0.5, -1.0, -12.0])
        for enabled in (True, False):
            with _kernels.switched(enabled=enabled):
                print(json.dumps([rk.gelu(x).tolist(), rk.gelu.derivative(x).tolist()]))
        print("scipy" in sys.modules)
        """
    )
    *rows, imported = out.splitlines()
    assert imported == "False" and len(rows) == 2

    def phi(v: float) -> float:
        return 0.5 * math.erfc(-v / math.sqrt(2))

    def density(v: float) -> float:
        return math.exp(-v * v / 2) / math.sqrt(2 * math.pi)

    xs = (0.5, -1.0, -12.0)
    for row in rows:
        values, derivatives = json.loads(row)
        assert values == pytest.approx([v * phi(v) for v in xs], rel=1e-14)
        assert derivatives == pytest.approx([phi(v) + v * density(v) for v in xs], rel=1e-13)


@pytest.mark.torch
def test_report_summary_needs_no_rich_and_table_and_plot_name_their_extra() -> None:
    out = run_hidden(
        """
        import torch
        import relukit as rk
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
        report = rk.diagnose(model, torch.randn(16, 3))
        print(report.summary().splitlines()[0])
        print(report._repr_html_()[:6])
        for f in (report.table, report.plot):
            try:
                f()
            except ImportError as e:
                print("MSG " + str(e))
        """
    )
    lines = out.splitlines()
    assert lines[0].startswith("Dead units (16 samples")
    assert lines[1] == "<table"
    msgs = [ln[4:] for ln in lines if ln.startswith("MSG ")]
    assert len(msgs) == 2
    assert "pip install 'relukit[rich]'" in msgs[0]
    assert "pip install 'relukit[plot]'" in msgs[1]


def test_the_command_line_runs_without_them_and_names_the_extra() -> None:
    out = run_hidden(
        """
        import contextlib, io, os, sys, tempfile
        from relukit.cli import main
        png = os.path.join(tempfile.mkdtemp(), "relu.png")
        demo = os.path.join(tempfile.mkdtemp(), "demo")
        for argv in (
            ["--version"], ["eval", "relu", "-2", "3"], ["list"], ["plot", "relu", "-o", png],
            ["demo", "--out", demo],
        ):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                try:
                    status = main(argv)
                except SystemExit as e:
                    status = e.code
            print("STATUS", status, err.getvalue().strip().replace("\\n", " | "))
        """
    )
    lines = [ln for ln in out.splitlines() if ln.startswith("STATUS")]
    assert lines[0] == "STATUS 0 " and "relukit " in out  # --version printed to stdout
    assert lines[1].startswith("STATUS 0")
    assert re.fullmatch(
        r"STATUS 2 relukit list: error: .*pip install 'relukit\[rich\]'.*", lines[2]
    )
    assert "pip install 'relukit[plot]'" in lines[3] and lines[3].startswith("STATUS 2")
    assert lines[4].startswith("STATUS 2 relukit demo: error: relukit demo needs rich")
    assert "pip install 'relukit[demo]'" in lines[4]


def test_the_readme_quotes_the_message_a_user_gets() -> None:
    msg = _message(
        run_hidden(
            """
            import relukit as rk
            try:
                rk.plot("relu")
            except ModuleNotFoundError as e:
                print(f"MSG {type(e).__name__}: {e}")
            """
        )
    )
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"`{msg}`" in readme
