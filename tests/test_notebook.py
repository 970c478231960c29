"""relukit in a real notebook: a kernel started and run by nbclient, as Jupyter does.

What the user sees is what the notebook stores for each cell: one figure for a cell
that draws one, one table for a cell that shows one, plain text without colour codes.
The kernel runs with the environment of a notebook server (no ``MPLBACKEND``, so
ipykernel chooses matplotlib's inline backend).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # a kernel start: a few seconds


def run_notebook(cells: list[str], tmp_path: Path) -> list[Any]:
    """Execute ``cells`` in a fresh python3 kernel; returns each cell's outputs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env["MPLCONFIGDIR"] = str(tmp_path / "mpl")
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    # the kernel is this interpreter (ipykernel's own kernel spec uses sys.executable)
    assert Path(sys.executable).exists()
    client.execute(env=env)
    return [cell.outputs for cell in nb.cells]


def images(outputs: list[Any]) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs)


def texts(outputs: list[Any]) -> list[str]:
    out = []
    for o in outputs:
        if o.output_type == "stream":
            out.append(o.text)
        elif "text/plain" in o.get("data", {}):
            out.append(o.data["text/plain"])
    return out


def test_a_plot_cell_shows_its_figure_once(tmp_path: Path) -> None:
    outs = run_notebook(
        [
            "import matplotlib; print(matplotlib.get_backend())\nimport relukit as rk",
            'rk.plot("relu", derivative=True)',
            'fig = rk.plot("leaky_relu")',
            "fig",  # the figure of the cell before, shown again on request
            'rk.plot("relu");',
            'import matplotlib.pyplot as plt\nfig2 = rk.plot("relu")\nplt.show()',
        ],
        tmp_path,
    )
    assert "inline" in texts(outs[0])[0]
    assert [images(o) for o in outs[1:]] == [1, 1, 1, 1, 1]
    # nothing but the figure: no "<Figure size ...>" output of its own beside it
    for o in outs[1:]:
        assert all("image/png" in x.get("data", {}) for x in o), o


@pytest.mark.torch
def test_a_report_shows_one_table_without_colour_codes(tmp_path: Path) -> None:
    setup = (
        "import torch, relukit as rk\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), "
        "torch.nn.Linear(8, 4), torch.nn.LeakyReLU())\n"
        "report = rk.diagnose(model, torch.randn(32, 3))"
    )
    outs = run_notebook(
        [
            setup,
            "print(report.summary())",
            "s = report.summary()",
            "report.table()",
            "report",
            "report.plot()",
        ],
        tmp_path,
    )
    printed = texts(outs[1])
    assert len(outs[1]) == 1 and len(printed) == 1  # printed once, nothing drawn beside
    assert printed[0].startswith("Dead units (32 samples")
    assert outs[2] == []  # summary() draws nothing as a side effect
    (shown,) = outs[3]
    assert shown.output_type == "execute_result"
    plain, page = shown.data["text/plain"], shown.data["text/html"]
    assert "\x1b" not in plain and plain.startswith("Dead units (32 samples")
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    assert page.startswith("<table") and body.count("<tr>") == 2  # one row per site
    (shown,) = outs[4]
    assert shown.data["text/html"].startswith("<table") and "\x1b" not in str(shown.data)
    assert images(outs[5]) == 1
