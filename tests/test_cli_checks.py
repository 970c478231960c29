"""The command line refuses what it cannot do before any work, in one line (exit 2), and
says what it wrote: explore --metrics of a real run, experiment output formats, sizes
the machine cannot hold, plot ranges and kinks, number-like arguments."""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relukit.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def refused(code: int, out: str, err: str, *fragments: str) -> None:
    """Exit 2, nothing on stdout (no work done), one line on stderr with ``fragments``."""
    assert code == 2, out + err
    assert out == "", out
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err


# ---------------------------------------------------------------------------
# explore --metrics: the metrics.json that `relukit experiment dying-relu` writes
# ---------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.plotly
def test_explore_shows_the_metrics_of_a_real_dying_relu_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``relukit experiment dying-relu --out DIR`` then ``relukit explore --metrics
    DIR/metrics.json``: the page carries the run's dead units (the CLI once loaded the
    file and handed the converted result to explore(), which refused it)."""
    pytest.importorskip("sklearn")
    from relukit.explorer import load_metrics

    run_dir = tmp_path / "dr"
    code, out, err = run(
        capsys, "experiment", "dying-relu", "--dataset", "iris", "--hidden", "4",
        "--epochs", "1", "--seeds", "0", "1", "--variants", "relu", "leaky_relu",
        "--eval-every", "1", "--out", str(run_dir), "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    metrics = run_dir / "metrics.json"
    page = tmp_path / "page.html"
    code, out, err = run(
        capsys, "explore", "relu", "--only", "--metrics", str(metrics), "--out", str(page)
    )
    assert code == 0, err
    assert out.startswith(f"wrote {page} (") and err == ""
    found = re.search(
        r'<script type="application/json" id="rk-meta">(.*?)</script>',
        page.read_text(encoding="utf-8"),
        re.S,
    )
    assert found is not None
    meta = json.loads(found.group(1).replace("<\\/", "</"))
    expected = json.loads(json.dumps(load_metrics(metrics)))
    assert meta["metrics"] == expected
    assert set(expected["variants"]) == {"relu", "leaky_relu"}


# ---------------------------------------------------------------------------
# experiment outputs: checked before the run, and named when written
# ---------------------------------------------------------------------------

_BORN_DEAD = ["experiment", "born-dead", "--trials", "10", "--width", "2", "--depth", "1"]
_BORN_DEAD += ["--domain-points", "4"]


@pytest.mark.parametrize("name", ["x.txt", "x", "x.json"])
def test_born_dead_plot_format_is_checked_before_the_run(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--plot x.txt``: refused before the table is printed and --json written."""
    records, figure = tmp_path / "bd.json", tmp_path / name
    code, out, err = run(capsys, *_BORN_DEAD, "--json", str(records), "--plot", str(figure))
    refused(code, out, err, f"--plot {figure}", "the format comes from the extension")
    assert not records.exists() and not figure.exists()


def test_born_dead_says_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records, figure = tmp_path / "bd.json", tmp_path / "bd.png"
    code, out, err = run(capsys, *_BORN_DEAD, "--json", str(records), "--plot", str(figure))
    assert code == 0, err
    assert out.splitlines()[-1] == f"Wrote {records}, {figure}"
    assert records.is_file() and figure.read_bytes()[:4] == b"\x89PNG"
    code, out, err = run(capsys, *_BORN_DEAD)
    assert code == 0 and "Wrote" not in out  # nothing written, nothing said


@pytest.mark.torch
def test_few_bit_and_monitor_overhead_say_what_they_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The printing around the run (the runs themselves take minutes): every file
    written is named on a last ``Wrote ...`` line, as dying-relu does."""
    pytest.importorskip("sklearn")
    from relukit.experiments import few_bit, monitor_overhead

    def write_outputs(metrics: Any, out: Path | None, json_path: Path | None) -> None:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "metrics.json").write_text("{}")
            (out / "report.html").write_text("<p>")
        if json_path is not None:
            json_path.write_text("{}")

    monkeypatch.setattr(few_bit, "run_few_bit", lambda cfg, progress: {"claims": []})
    monkeypatch.setattr(few_bit, "summary_table", lambda metrics: "the table")
    monkeypatch.setattr(few_bit, "write_outputs", write_outputs)
    fb, fb_json = tmp_path / "fb", tmp_path / "fb.json"
    code, out, err = run(capsys, "experiment", "few-bit", "--out", str(fb), "--json", str(fb_json))
    assert code == 0, err
    assert out.splitlines()[-1] == f"Wrote {fb / 'report.html'}, {fb / 'metrics.json'}, {fb_json}"

    monkeypatch.setattr(monitor_overhead, "run_monitor_overhead", lambda cfg: [{"width": 4}])
    monkeypatch.setattr(monitor_overhead, "summary_table", lambda rows: "the table")
    mo, mo_json = tmp_path / "mo", tmp_path / "mo.json"
    code, out, err = run(
        capsys, "experiment", "monitor-overhead", "--out", str(mo), "--json", str(mo_json)
    )
    assert code == 0, err
    assert out.splitlines()[-1] == f"Wrote {mo / 'metrics.json'}, {mo_json}"
    assert json.loads(mo_json.read_text()) == [{"width": 4}]


# ---------------------------------------------------------------------------
# sizes the machine cannot hold
# ---------------------------------------------------------------------------


def _needs_memory_limit() -> None:
    """The check compares with the machine's memory, read with os.sysconf (POSIX)."""
    try:
        os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pytest.skip("the machine's memory cannot be read here")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["bench", "speed", "--size", "1e13", "--no-subprocess", "--repeat", "1"], "--size 1e13"),
        (["bench", "speed", "--size", "2^70", "--no-subprocess", "--repeat", "1"], "--size 2^70"),
        (["bench", "speed", "--sweep", "--size", "1e13", "--entries", "relu"], "--size 1e13"),
        (
            ["bench", "accuracy", "--points", "10000000000000", "--entries", "relu",
             "--dtypes", "float32"],
            "--points 10000000000000",
        ),
        (
            ["experiment", "born-dead", "--trials", "10000000000000", "--width", "2",
             "--depth", "1"],
            "--trials 10000000000000",
        ),
    ],
)  # fmt: skip
def test_sizes_beyond_the_memory_are_refused_before_any_work(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No numpy MemoryError traceback, no header printed first: one line, exit 2."""
    _needs_memory_limit()
    code, out, err = run(capsys, *argv)
    refused(code, out, err, fragment, "of memory, more than the", "this machine has")


def test_born_dead_default_sizes_pass_the_memory_check() -> None:
    from relukit.cli._common import memory_limit
    from relukit.cli.experiment import _born_dead_bytes
    from relukit.experiments.born_dead import BornDeadConfig

    needed = _born_dead_bytes(BornDeadConfig())
    assert 50e6 < needed < 1e9  # about 220 MB: any machine runs the defaults
    limit = memory_limit()
    assert limit is None or needed < limit


def test_a_memory_error_during_the_run_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from relukit.experiments import born_dead

    def out_of_memory(cfg: Any) -> Any:
        raise MemoryError("Unable to allocate 146. TiB for an array with shape (10, 1, 2)")

    monkeypatch.setattr(born_dead, "run_born_dead", out_of_memory)
    code, out, err = run(capsys, *_BORN_DEAD)
    refused(code, out, err, "relukit experiment: error: not enough memory: Unable to allocate")


# ---------------------------------------------------------------------------
# plot: a range whose floats overflow, a kink value that cannot be drawn
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--range", "-1e308", "1e308"], "--range must lie within -1e300 1e300"),
        (["--range", "0", "1.5e300"], "--range must lie within -1e300 1e300"),
        (["-d", "--at-kink", "inf"], "--at-kink must be a finite number for a plot"),
        (["-d", "--at-kink", "-inf"], "--at-kink must be a finite number for a plot"),
        (["--derivative-only", "--at-kink", "nan"], "--at-kink must be a finite number"),
    ],
)
def test_plot_refuses_what_it_cannot_draw(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.png"
    with _no_warnings():
        code, stdout, err = run(capsys, "plot", "relu", *argv, "-o", str(out))
    refused(code, stdout, err, fragment)
    assert not out.exists()


def test_plot_draws_the_widest_range_it_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.png"
    with _no_warnings():
        code, stdout, err = run(
            capsys, "plot", "relu", "-d", "--range", "-1e300", "1e300", "--num", "11",
            "--dpi", "20", "-o", str(out),
        )  # fmt: skip
    assert code == 0 and err == "", err
    assert out.read_bytes()[:4] == b"\x89PNG"


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    """A warning (numpy's overflow RuntimeWarning) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------------
# arguments that look like negative numbers but are none
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["eval", "derivative"])
@pytest.mark.parametrize("token", ["-0x1", "-e5", "-1,5", "-.5.5", "-1e"])
def test_a_number_like_argument_is_named_as_no_number(
    command: str, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``relukit eval relu -0x1`` said "the following arguments are required: x"."""
    code, out, err = run(capsys, command, "relu", "1", token)
    refused(code, out, err, f"{token!r} is not a number")
    code, out, err = run(capsys, command, "relu", token)
    refused(code, out, err, f"{token!r} is not a number")


def test_options_and_real_negative_numbers_are_unchanged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "eval", "relu", "-1e3", "-.5", "-inf", "2")
    assert code == 0 and err == "" and len(out.splitlines()) == 4
    code, out, err = run(capsys, "eval", "relu", "1", "-x")  # an unknown option stays one
    assert code == 2 and "unrecognized arguments: -x" in err
