"""The command line: eval, derivative, list, demo, and its errors (one line, exit 2)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from relukit.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors and --help/--version
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_relu_prints_the_tutorial_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "eval", "relu", "1", "-10", "0", "15", "-20")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "Applying ReLU on (1.0) gives 1.0",
        "Applying ReLU on (-10.0) gives 0.0",
        "Applying ReLU on (0.0) gives 0.0",
        "Applying ReLU on (15.0) gives 15.0",
        "Applying ReLU on (-20.0) gives 0.0",
    ]


def test_eval_leaky_relu_and_slope(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", "leaky_relu", "-10", "1")
    assert code == 0
    assert out.splitlines() == [
        "Applying Leaky ReLU on (-10.0) gives -0.1",
        "Applying Leaky ReLU on (1.0) gives 1.0",
    ]
    code, out, _ = run(capsys, "eval", "LeakyReLU", "-10", "--negative-slope", "0.2")
    assert out.strip() == "Applying Leaky ReLU on (-10.0) gives -2.0"
    code, out, _ = run(capsys, "eval", "leaky-relu", "-1", "--precision", "3")
    assert out.strip() == "Applying Leaky ReLU on (-1.000) gives -0.010"


def test_eval_special_numbers_as_plain_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", "relu", "-inf", "nan", "-1e3", "inf", "-0.5")
    assert code == 0
    assert [line.split(" gives ")[1] for line in out.splitlines()] == [
        "0.0",
        "nan",
        "0.0",
        "inf",
        "0.0",
    ]


def test_eval_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "eval", "leaky_relu", "-inf", "nan", "2", "--negative-slope", "0", "--json"
    )
    data = json.loads(out)
    assert code == 0 and data["activation"] == "leaky_relu"
    assert data["params"] == {"negative_slope": 0.0}
    assert data["results"] == [
        {"x": "-inf", "value": -0.0},
        {"x": "nan", "value": "nan"},
        {"x": 2.0, "value": 2.0},
    ]


def test_derivative_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "derivative", "relu", "-3", "0", "2")
    assert code == 0
    assert [line.rsplit(" ", 1)[1] for line in out.splitlines()] == ["0.0", "0.0", "1.0"]
    assert out.splitlines()[1] == "The derivative of ReLU at (0.0) is 0.0"
    code, out, _ = run(capsys, "derivative", "relu", "-3", "0", "2", "--at-kink", "1")
    assert [line.rsplit(" ", 1)[1] for line in out.splitlines()] == ["0.0", "1.0", "1.0"]
    code, out, _ = run(capsys, "derivative", "leaky_relu", "0", "--json", "--at-kink", "nan")
    data = json.loads(out)
    assert data["at_kink"] == "nan" and data["results"][0]["derivative"] == "nan"


def test_list_shows_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    import relukit as rk

    code, out, _ = run(capsys, "list")
    assert code == 0
    for act in rk.catalogue():
        assert act.name in out
    code, out, _ = run(capsys, "list", "--json")
    data = json.loads(out)
    assert [e["name"] for e in data] == [a.name for a in rk.catalogue()]
    relu = data[0]
    assert relu["kinks"][0] == {
        "at": "0",
        "x": 0.0,
        "left": 0.0,
        "right": 1.0,
        "default": 0.0,
        "note": relu["kinks"][0]["note"],
    }


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["eval", "relux", "1"], "unknown activation 'relux'; did you mean 'relu'"),
        (["eval", "relu", "abc"], "'abc' is not a number"),
        (["eval", "relu", "1", "--negative-slope", "0.1"], "relu has no parameter"),
        (["eval", "leaky_relu", "1", "--negative-slope", "nan"], "finite real number"),
        (["eval", "relu"], "the following arguments are required: x"),
        (["eval", "relu", "1", "--precision", "99"], "--precision must be between"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert fragment in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_console_script_and_module_entry_points() -> None:
    for cmd in (
        [sys.executable, "-m", "relukit", "eval", "relu", "-2", "3"],
        [
            str(__import__("pathlib").Path(sys.executable).parent / "relukit"),
            "eval",
            "relu",
            "-2",
            "3",
        ],
    ):
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines() == [
            "Applying ReLU on (-2.0) gives 0.0",
            "Applying ReLU on (3.0) gives 3.0",
        ]
    res = subprocess.run(
        [sys.executable, "-m", "relukit", "eval", "nope", "1"], capture_output=True, text=True
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_demo_tables(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    from rich.console import Console

    from relukit.cli import demo

    console = Console(width=120, record=True)
    demo.tables(console)
    text = console.export_text()
    assert "Applying ReLU on (-10.0) gives 0.0" in text
    assert "Applying Leaky ReLU on (-10.0) gives -0.1" in text
    assert "The derivative of ReLU at (0.0) is 0.0   (with at_kink=1: 1.0)" in text


def test_demo_measures_the_gated_conventions_table_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    from relukit import conventions
    from relukit.cli import demo

    # the libraries that are installed are measured; here relukit and the paper only
    monkeypatch.setattr(conventions, "LIBRARIES", ("relukit", "tutorials"))
    monkeypatch.setattr(conventions, "GATED_LIBRARIES", ("relukit", "Shazeer 2020"))
    console = Console(width=250, record=True)
    demo.conventions(console)
    text = console.export_text()
    assert "relu'(0)" in text
    # on a narrow terminal every number is whole (wrapped, never cut with …)
    narrow = Console(width=60, record=True)
    demo.conventions(narrow)
    assert "…" not in narrow.export_text()
    assert "Gated linear units" in text and "glu of one array x = [1, 2]" in text
    assert "1 * sigmoid(2), the gate is the 2nd half" in text
    assert "Swish(xW) * xV: the activation on the 1st projection" in text


def test_demo_section_without_an_optional_library_is_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """A missing optional library skips its demo section with an install hint."""
    import types

    from rich.console import Console

    from relukit.cli import demo

    def needs_torch(out: object, console: object) -> None:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    def needs_other(out: object, console: object) -> None:
        raise ModuleNotFoundError(
            "No module named 'relukit_nonexistent'", name="relukit_nonexistent"
        )

    fake = types.ModuleType("relukit_fake_section")
    fake.demo = needs_torch  # type: ignore[attr-defined]
    fake.broken = needs_other  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "relukit_fake_section", fake)
    console = Console(width=200, record=True)
    demo._section("relukit_fake_section", "demo", tmp_path, console)  # type: ignore[arg-type]
    assert "skipped: it needs torch (pip install 'relukit[torch]')" in console.export_text()
    with pytest.raises(ModuleNotFoundError):  # a real bug is not hidden as a skip
        demo._section("relukit_fake_section", "broken", tmp_path, console)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# exact numbers, versions, output paths, terminal width (through a subprocess)
# ---------------------------------------------------------------------------


def cli(
    *argv: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "relukit", *argv],
        capture_output=True,
        encoding=full_env.get("PYTHONIOENCODING", "utf-8"),
        env=full_env,
        input=stdin,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["derivative", "leaky_relu", "-3"], "The derivative of Leaky ReLU at (-3.0) is 0.01"),
        (["eval", "relu", "0.04"], "Applying ReLU on (0.04) gives 0.04"),
        (["eval", "relu", "1e-3"], "Applying ReLU on (0.001) gives 0.001"),
        (["eval", "relu", "1e-300"], "Applying ReLU on (1e-300) gives 1e-300"),
        (["eval", "leaky_relu", "-10"], "Applying Leaky ReLU on (-10.0) gives -0.1"),
        (["eval", "elu", "-1"], "Applying ELU on (-1.0) gives -0.6321205588285577"),
        (["eval", "silu", "-inf"], "Applying SiLU on (-inf) gives -0.0"),
        (["derivative", "selu", "0"], "The derivative of SELU at (0.0) is 1.7580993408473766"),
        (["eval", "prelu", "-2"], "Applying PReLU on (-2.0) gives -0.5"),
        (["eval", "relu", "0.1", "--precision", "3"], "Applying ReLU on (0.100) gives 0.100"),
    ],
)
def test_numbers_are_printed_exactly(argv: list[str], expected: str) -> None:
    res = cli(*argv)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == expected


def test_exact_output_round_trips() -> None:
    """The printed text reads back as the very float relukit computed (an oracle: float())."""
    import relukit as rk

    xs = ["-3", "0.1", "2.5e-7", "-1e-310", "7"]
    res = cli("eval", "gelu", *xs)
    got = [float(line.rsplit(" ", 1)[1]) for line in res.stdout.splitlines()]
    assert got == [rk.gelu(float(x)) for x in xs]


def test_eval_weight_takes_several_numbers() -> None:
    res = cli("eval", "prelu", "-1", "-2", "3", "--weight", "0.1", "0.2", "0.3")
    assert res.returncode == 0, res.stderr
    # the oracle: weight[c] * x for x <= 0, x otherwise, channel c = the position
    assert res.stdout.splitlines() == [
        "Applying PReLU on (-1.0) gives -0.1",
        "Applying PReLU on (-2.0) gives -0.4",
        "Applying PReLU on (3.0) gives 3.0",
    ]
    res = cli("derivative", "prelu", "-1", "5", "--weight", "0.1", "0.2")
    assert [line.rsplit(" ", 1)[1] for line in res.stdout.splitlines()] == ["0.1", "1.0"]
    res = cli("eval", "prelu", "-1", "--weight", "0.1", "0.2")
    assert res.returncode == 2
    assert res.stderr.strip().endswith(
        "--weight has 2 values (one per channel), so give 2 input numbers "
        "(the channels, one each), got 1"
    )


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    import relukit as rk

    res = cli(flag)
    assert res.returncode == 0
    assert res.stdout.strip() == f"relukit {rk.__version__}"


def test_version_is_single_sourced() -> None:
    """pyproject.toml takes the version from relukit.__version__ (no second copy)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    from pathlib import Path

    import relukit as rk

    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "relukit.__version__"}
    assert rk.__version__.count(".") == 2


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("/proc/relukit-test.png", "cannot write there"),
        ("/nonexistent-relukit-folder/x.png", "does not exist"),
        ("FOLDER", "is a folder"),
    ],
)
def test_plot_output_checked_before_work(target: str, fragment: str, tmp_path: object) -> None:
    from pathlib import Path

    if target == "FOLDER":
        folder = Path(str(tmp_path)) / "fig.png"
        folder.mkdir()
        target = str(folder)
    res = cli("plot", "relu", "-o", target)
    assert res.returncode == 2
    assert fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr


def test_plot_output_check_comes_before_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """The path is refused before the figure is drawn (nothing imports matplotlib)."""
    code = (
        "import sys; from relukit.cli import main; rc = main(['plot', 'relu', '-o', "
        "'/proc/x.png']); print(rc, 'matplotlib' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["2", "False"]


def test_write_failure_after_the_check_is_one_line() -> None:
    """A disk that fills up while writing (/dev/full: every write fails with ENOSPC)
    gives one line on stderr and exit 2, not a traceback."""
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    code = (
        "import sys; from relukit.cli import main, plot; "
        "plot.FORMATS = plot.FORMATS + ('',); "  # /dev/full has no extension
        "sys.exit(main(['plot', 'relu', '-o', '/dev/full', '--num', '11']))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        check=False,
    )
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


@pytest.mark.parametrize("dpi", ["0", "-5", "1e9", "nan", "inf"])
def test_dpi_is_bounded(dpi: str) -> None:
    res = cli("plot", "relu", "-o", "/tmp/relukit-dpi.png", "--dpi", dpi)
    assert res.returncode == 2
    assert "--dpi must be between 10 and 2400" in res.stderr


@pytest.mark.parametrize("columns", ["80", "60"])
def test_list_fits_the_terminal_and_cuts_nothing(columns: str) -> None:
    import relukit as rk

    res = cli("list", env={"COLUMNS": columns})
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= int(columns)
    assert "…" not in res.stdout  # wrapped, never cut with an ellipsis
    words = set(res.stdout.split())
    for act in rk.catalogue():  # every name and short formula word is there (wrapped)
        assert act.name in words or columns != "80"
        for word in act.formula.split():
            if len(word) <= 8:
                assert word in words, (act.name, word)


@pytest.mark.parametrize("columns", [60, 80, 100, 132, 200])
def test_list_breaks_no_name_number_or_formula_word(columns: int) -> None:
    """At any width every name, alias, ``parameter=default``, kink number and formula
    word is printed whole (no ``rectified_l`` / ``inear_unit``, no ``0.166666666666666`` /
    ``66``), and text in brackets is text, not markup (prelu's ``weight[c]``)."""
    import re

    from relukit.cli._common import fmt
    from relukit.cli.listing import describe

    res = cli("list", env={"COLUMNS": str(columns)})
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert max(len(line) for line in out.splitlines()) <= columns
    words = set(out.split())

    def whole(token: str) -> bool:
        return re.search(rf"(?<![\w.]){re.escape(token)}(?![\w.])", out) is not None

    import relukit as rk

    for act in rk.catalogue():
        e = describe(act)
        tokens = [e["name"], *e["aliases"], *(f"{k}={v!r}" for k, v in e["params"].items())]
        for k in e["kinks"]:
            tokens += [fmt(k["default"]), fmt(k["left"]), fmt(k["right"])]
        for tok in tokens:
            assert whole(tok), (act.name, tok)
        for word in e["formula"].split():
            assert word in words, (act.name, word)
    assert "weight[c]" in out


def _all_parsers() -> list[tuple[str, object]]:
    import argparse

    from relukit.cli import build_parser

    todo = [("relukit", build_parser())]
    found = []
    while todo:
        name, parser = todo.pop()
        found.append((name, parser))
        for action in parser._actions:  # type: ignore[attr-defined]
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{name} {k}", p) for k, p in action.choices.items()]
    return found


def test_every_option_has_help_text() -> None:
    import argparse

    missing = []
    for name, parser in _all_parsers():
        for action in parser._actions:  # type: ignore[attr-defined]
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_top_level_help_lists_every_experiment_and_benchmark() -> None:
    import argparse

    res = cli("--help", env={"COLUMNS": "80"})
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    nested = 0
    for name, parser in _all_parsers():
        if name.count(" ") != 1:
            continue
        for action in parser._actions:  # type: ignore[attr-defined]
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices:
                    nested += 1
                    assert sub in text, sub
    assert nested >= 5  # experiments and benchmarks
    assert max(len(line) for line in res.stdout.splitlines()) <= 80


def test_readme_shell_examples_print_what_the_readme_shows() -> None:
    """Each ``$ relukit ...`` line of the README (and the docs' start page) with output
    shown under it prints exactly that output."""
    import re
    import shlex
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    checked = 0
    for page in (root / "README.md", root / "docs" / "index.md"):
        for block in re.findall(r"```console\n(.*?)```", page.read_text(), flags=re.S):
            lines = block.splitlines()
            for i, line in enumerate(lines):
                if not line.startswith("$ relukit "):
                    continue
                expected = []
                for nxt in lines[i + 1 :]:
                    if nxt.startswith("$ "):
                        break
                    expected.append(nxt)
                if not expected:
                    continue
                argv = shlex.split(line[2:].split("  #")[0])[1:]
                res = cli(*argv)
                assert res.returncode == 0, (line, res.stderr)
                assert res.stdout.splitlines() == expected, line
                checked += 1
    assert checked >= 5


# ---------------------------------------------------------------------------
# output paths: checked without creating, changing or deleting the user's files
# ---------------------------------------------------------------------------


def _links(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """``el -> real`` (an existing file) and ``dl -> missing`` (a dangling link)."""
    d = tmp_path
    real, missing = d / "real.png", d / "missing.png"
    real.write_bytes(b"old content")
    el, dl = d / "el.png", d / "dl.png"
    el.symlink_to(real.name)
    dl.symlink_to(missing.name)
    return el, real, dl, missing


def test_a_refused_run_leaves_links_and_their_targets_alone(tmp_path: Path) -> None:
    """The path check passes, a later check refuses the run: every file is as it was."""
    import os

    el, real, dl, missing = _links(tmp_path)
    before = os.stat(real)
    for link in (el, dl):
        res = cli("plot", "relu", "-o", str(link), "--dpi", "0")
        assert res.returncode == 2 and "--dpi" in res.stderr
        # the first output path is fine, the second is not: the run stops at the check
        res = cli("experiment", "born-dead", "--json", str(link), "--plot", "/proc/x.png")
        assert res.returncode == 2 and "/proc/x.png" in res.stderr
    assert el.is_symlink() and dl.is_symlink()
    assert not missing.exists()  # no empty target created
    assert real.read_bytes() == b"old content"
    assert os.stat(real).st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in el.parent.iterdir()) == [
        "dl.png",
        "el.png",
        "real.png",
    ]  # no probe file left behind


def test_plot_writes_through_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    el, real, dl, missing = _links(tmp_path)
    for link, target in ((el, real), (dl, missing)):
        res = cli("plot", "relu", "-o", str(link), "--num", "11", "--dpi", "20")
        assert res.returncode == 0, res.stderr
        assert link.is_symlink()
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_experiment_json_through_a_dangling_symlink(tmp_path: Path) -> None:
    """``ln -s tgt.json dl.json; relukit experiment born-dead --json dl.json``: the
    results land in tgt.json and dl.json stays a link."""
    d = tmp_path
    (d / "dl.json").symlink_to("tgt.json")
    (d / "el.json").symlink_to("real.json")
    (d / "real.json").write_text("old")
    argv = ["experiment", "born-dead", "--width", "2", "--depth", "1", "--trials", "5"]
    argv += ["--domain-points", "4"]
    for name in ("dl.json", "el.json"):
        res = cli(*argv, "--json", str(d / name))
        assert res.returncode == 0, res.stderr
        assert (d / name).is_symlink()
        records = json.loads((d / name).resolve().read_text())
        assert {r["activation"] for r in records} == {"relu", "leaky_relu"}
    assert sorted(p.name for p in d.iterdir()) == ["dl.json", "el.json", "real.json", "tgt.json"]


def test_a_dangling_link_into_a_missing_folder_is_refused_first(tmp_path: Path) -> None:
    d = tmp_path
    (d / "dl.png").symlink_to(d / "nowhere" / "x.png")
    res = cli("plot", "relu", "-o", str(d / "dl.png"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "nowhere" in res.stderr and "does not exist" in res.stderr
    assert (d / "dl.png").is_symlink() and not (d / "nowhere").exists()


_SMALL_BENCH = {
    "accuracy": ["--points", "10", "--entries", "relu", "--dtypes", "float64"],
    "speed": ["--size", "1000", "--repeat", "1", "--no-subprocess"],
    "sweep": ["--sweep", "--size", "10", "--entries", "relu", "--repeat", "1"],
    "torch": ["--models", "mlp-leaky", "--steps", "1", "--rounds", "1", "--no-memory"],
}


@pytest.mark.torch
@pytest.mark.parametrize(
    ("bench", "option", "path", "fragment"),
    [
        ("accuracy", "--json", "/proc/relukit-bench.json", "cannot write there"),
        ("speed", "--json", "/proc/relukit-bench.json", "cannot write there"),
        ("speed", "--plot", "/nonexistent-relukit-folder/b.png", "does not exist"),
        ("speed", "--plot", "TMP/bench.unknown-format", "format"),
        ("sweep", "--json", "FOLDER", "is a folder"),
        ("sweep", "--plot", "/proc/relukit-bench.png", "cannot write there"),
        ("torch", "--json", "/proc/relukit-bench.json", "cannot write there"),
    ],
)
def test_bench_output_paths_are_checked_before_any_work(
    bench: str, option: str, path: str, fragment: str, tmp_path: Path
) -> None:
    """``relukit bench ... --json PATH`` / ``--plot PATH`` refuses a bad path at once:
    one line, exit 2, nothing measured (no table printed)."""
    if path == "FOLDER":
        path = str(tmp_path)
    path = path.replace("TMP", str(tmp_path))
    sub = "speed" if bench == "sweep" else bench
    res = cli("bench", sub, *_SMALL_BENCH[bench], option, path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout == ""  # refused before measuring anything
    assert len(res.stderr.strip().splitlines()) == 1 and fragment in res.stderr, res.stderr
    assert option in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("num", ["1", "100001", "100000000"])
def test_num_is_bounded_like_dpi(num: str, tmp_path: Path) -> None:
    """``--num 100000000`` took 7 GB and 39 s: it is refused at once, one line, exit 2."""
    out = tmp_path / "n.png"
    res = cli("plot", "relu", "--num", num, "-o", str(out))
    assert res.returncode == 2
    assert res.stderr.strip().endswith(f"--num must be between 2 and 100000, got {num}")
    assert not out.exists()


def test_num_help_states_the_bound_of_rk_plot() -> None:
    from relukit.plot import NUM_MAX

    res = cli("plot", "--help", env={"COLUMNS": "200"})
    assert f"points per curve, 2 to {NUM_MAX} (default 1001)" in res.stdout


# ---------------------------------------------------------------------------
# any terminal encoding
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_printing_never_fails_on_the_terminal_encoding(encoding: str, tmp_path: Path) -> None:
    """``PYTHONIOENCODING=ascii relukit plot relu -o ä.png`` wrote the file and then
    exited 2 on printing its name; names the terminal cannot show are escaped."""
    env = {"PYTHONIOENCODING": encoding}
    out = tmp_path / "äπ.png"
    res = cli("plot", "relu", "-o", str(out), "--num", "11", "--dpi", "20", env=env)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert res.stdout.strip().endswith(".png") and "\\u03c0.png" in res.stdout
    if encoding == "ascii":  # rich's tables and rules too (the demo takes a while)
        res = cli("demo", "--quick", "--out", str(tmp_path / "démo"), env=env)
        assert res.returncode == 0, res.stderr
        assert "You may need" not in res.stdout + res.stderr
        assert (tmp_path / "démo" / "relu.png").exists()
    res = cli("eval", "relu", "π", env=env)
    assert res.returncode == 2 and "is not a number" in res.stderr
    for argv in (["list"], ["--help"], ["eval", "--help"], ["list", "--json"]):
        res = cli(*argv, env=env)
        assert res.returncode == 0 and res.stderr == "", (argv, res.stderr)


# ---------------------------------------------------------------------------
# help texts and misspelled options
# ---------------------------------------------------------------------------


def test_top_level_help_names_each_experiment_once() -> None:
    res = cli("--help", env={"COLUMNS": "80"})
    text = " ".join(res.stdout.split())
    for name in ("dying-relu", "born-dead", "plasticity", "kink-choice", "few-bit"):
        assert text.count(name) == 1, (name, res.stdout)
    for name in ("accuracy", "speed", "torch"):
        assert text.count(name) == 1, (name, res.stdout)


@pytest.mark.parametrize("command", ["eval", "derivative"])
def test_json_with_precision_is_refused(command: str) -> None:
    """``--json --precision 2`` used to drop the precision without a word."""
    res = cli(command, "relu", "0.1234", "--json", "--precision", "2")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == (
        f"relukit {command}: error: --precision formats the text output; --json prints "
        "exact numbers (give one of them)"
    )


@pytest.mark.parametrize(
    ("argv", "prog", "hint"),
    [
        (["eval", "leaky_relu", "-1", "--slope", "0.1"], "relukit eval", "--negative-slope"),
        (["derivative", "elu", "0", "--alpa", "2"], "relukit derivative", "--alpha"),
        (["plot", "relu", "-o", "x.png", "--dpii", "3"], "relukit plot", "--dpi"),
        (["bench", "speed", "--szie", "10"], "relukit bench speed", "--size"),
        (["eval", "relu", "1", "--frobnicate"], "relukit eval", None),
    ],
)
def test_unknown_option_names_the_subcommand_and_suggests(
    argv: list[str], prog: str, hint: str | None
) -> None:
    res = cli(*argv)
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith(f"usage: {prog} "), res.stderr  # the subcommand's usage
    assert lines[-1].startswith(f"{prog}: error: unrecognized arguments: "), res.stderr
    assert lines[-1].endswith(f"(see {prog} --help)")
    if hint is None:
        assert "did you mean" not in res.stderr
    else:
        assert f"did you mean {hint}?" in lines[-1]
    assert "Traceback" not in res.stderr


def test_python_spelling_of_options_is_accepted() -> None:
    """``--negative_slope 0.1`` (the Python keyword's spelling) works like --negative-slope."""
    expected = "Applying Leaky ReLU on (-1.0) gives -0.1"
    for flag in ("--negative_slope", "--negative-slope"):
        res = cli("eval", "leaky_relu", "-1", flag, "0.1")
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == expected
    res = cli("eval", "leaky_relu", "-1", "--negative_slope=0.1")
    assert res.stdout.strip() == expected
    res = cli("derivative", "relu", "0", "--at_kink", "1")
    assert res.stdout.strip() == "The derivative of ReLU at (0.0) is 1.0"
    # after --, nothing is an option: a title may contain underscores
    res = cli("eval", "relu", "--", "1")
    assert res.returncode == 0, res.stderr


def test_eval_help_gives_each_activation_its_own_default() -> None:
    """``--threshold``: softplus's default is 20, threshold's 0 (the help said 0.0 for
    both); ``--rng`` takes what the command line can give (an integer seed)."""
    import argparse
    import re

    import relukit as rk
    from relukit.cli import build_parser

    res = cli("eval", "--help", env={"COLUMNS": "300"})
    text = " ".join(res.stdout.split())
    assert "for softplus: beta * x above which softplus(x) is x (default 20.0)" in text
    assert "threshold, softplus; default 0.0" not in text
    rng = re.search(r"--rng SEED (.*?) --", text)
    assert rng is not None, text
    assert "Generator" not in rng.group(1) and "integer seed" in rng.group(1)
    res = cli("eval", "rrelu", "-1", "--training", "--rng", "3")
    assert res.returncode == 0, res.stderr

    # every activation's own default, next to its name, for every parameter option
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub.choices["eval"]._actions}
    for act in rk.catalogue():
        for p in act.params_list:
            if p.kind == "seed":
                continue
            d = re.escape(repr(p.default))
            own = rf"for {act.name}: [^;]*\(default {d}\)"
            shared = rf"\(for (\w+, )*{act.name}(, \w+)*; default {d}\)"
            assert re.search(own, helps[p.name]) or re.search(shared, helps[p.name]), (
                act.name,
                p.name,
                helps[p.name],
            )


# ---------------------------------------------------------------------------
# numbers from standard input
# ---------------------------------------------------------------------------


def test_dash_reads_numbers_from_standard_input() -> None:
    """``seq -3 3 | relukit eval relu -``; the oracle: max(0, x) written out."""
    seq = "".join(f"{i}\n" for i in range(-3, 4))  # what `seq -3 3` prints
    res = cli("eval", "relu", "-", stdin=seq)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"Applying ReLU on ({float(i)!r}) gives {float(max(0, i))!r}" for i in range(-3, 4)
    ]
    res = cli("derivative", "relu", "-", "--at-kink", "1", stdin=seq)
    assert res.returncode == 0, res.stderr
    assert [line.rsplit(" ", 1)[1] for line in res.stdout.splitlines()] == [
        "0.0",
        "0.0",
        "0.0",
        "1.0",
        "1.0",
        "1.0",
        "1.0",
    ]
    # numbers on one line, several lines, tabs and commas; '-' among other numbers
    res = cli("eval", "leaky_relu", "5", "-", "7", "--json", stdin="-1e3\t2,\n  inf nan\n")
    data = json.loads(res.stdout)
    assert [r["x"] for r in data["results"]] == [5.0, -1000.0, 2.0, "inf", "nan", 7.0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1\nabc\n", "standard input: 'abc' is not a number"),
        ("", "no numbers on standard input"),
        ("  \n", "no numbers on standard input"),
        ("1 2", "give '-' (the numbers on standard input) once"),
    ],
)
def test_bad_standard_input_is_one_line(text: str, fragment: str) -> None:
    argv = ["-", "-"] if "once" in fragment else ["-"]
    res = cli("eval", "relu", *argv, stdin=text)
    assert res.returncode == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and fragment in res.stderr, res.stderr


# ---------------------------------------------------------------------------
# gated entries: two inputs, the gates as numbers and --up
# ---------------------------------------------------------------------------


def _silu(g: float) -> float:
    import math

    return g / (1.0 + math.exp(-g))


def test_eval_gated_takes_the_gates_and_up(capsys: pytest.CaptureFixture[str]) -> None:
    """``relukit eval swiglu 1 -2 --up 3``; the oracle: silu(g) * up written out."""
    code, out, err = run(capsys, "eval", "swiglu", "1", "-2", "--up", "3")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("Applying SwiGLU on (gate=1.0, up=3.0) gives ")
    assert lines[1].startswith("Applying SwiGLU on (gate=-2.0, up=3.0) gives ")
    for line, g in zip(lines, (1.0, -2.0), strict=True):
        got = float(line.rsplit(" ", 1)[1])
        assert got == pytest.approx(_silu(g) * 3.0, rel=1e-15)
    # one up per number
    code, out, _ = run(capsys, "eval", "reglu", "-1", "2", "3", "--up", "5", "-2", "0.5")
    assert [float(line.rsplit(" ", 1)[1]) for line in out.splitlines()] == [0.0, -4.0, 1.5]
    # parameters as for the other entries; JSON names both inputs
    code, out, _ = run(capsys, "eval", "swiglu", "2", "--up", "-1", "--beta", "2", "--json")
    data = json.loads(out)
    assert code == 0 and data["activation"] == "swiglu" and data["params"] == {"beta": 2.0}
    (r,) = data["results"]
    assert r["gate"] == 2.0 and r["up"] == -1.0 and "x" not in r
    assert r["value"] == pytest.approx(-2.0 / (1.0 + math.exp(-4.0)), rel=1e-15)
    code, out, _ = run(capsys, "eval", "glu", "nan", "1", "--up", "2", "inf", "--json")
    assert [r["value"] for r in json.loads(out)["results"]] == ["nan", "inf"]


def test_derivative_gated_prints_both_partials(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "derivative", "swiglu", "0", "1", "--up", "4")
    assert code == 0 and err == ""
    lines = out.splitlines()
    # silu'(0) = 1/2, silu(0) = 0; silu'(1) = s (1 + 1 - s), s = sigmoid(1)
    assert lines[0] == (
        "The derivatives of SwiGLU at (gate=0.0, up=4.0) are 2.0 (d/d gate) and 0.0 (d/d up)"
    )
    s = 1.0 / (1.0 + math.exp(-1.0))
    d_gate, d_up = (float(w) for w in re.findall(r"are (\S+) \(d/d gate\) and (\S+)", lines[1])[0])
    assert d_gate == pytest.approx(s * (2.0 - s) * 4.0, rel=1e-15)
    assert d_up == pytest.approx(_silu(1.0), rel=1e-15)
    # reglu's kink: relu'(0) = 0 unless --at-kink says otherwise; d/d gate = at_kink * up
    code, out, _ = run(capsys, "derivative", "reglu", "0", "--up", "3", "--at-kink", "1")
    assert out.strip().endswith("are 3.0 (d/d gate) and 0.0 (d/d up)")
    code, out, _ = run(capsys, "derivative", "reglu", "0", "2", "--up", "3", "--json")
    data = json.loads(out)
    assert data["results"] == [
        {"gate": 0.0, "up": 3.0, "derivative": {"gate": 0.0, "up": 0.0}},
        {"gate": 2.0, "up": 3.0, "derivative": {"gate": 3.0, "up": 2.0}},
    ]
    # the gates from standard input
    res = cli("derivative", "bilinear", "-", "--up", "2", stdin="3\n-1\n")
    assert res.returncode == 0, res.stderr
    assert [line.split(" are ")[1] for line in res.stdout.splitlines()] == [
        "2.0 (d/d gate) and 3.0 (d/d up)",
        "2.0 (d/d gate) and -1.0 (d/d up)",
    ]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["eval", "swiglu", "1"], "swiglu takes two inputs, gate and up: give the gates as "
         "numbers and --up U"),
        (["derivative", "glu", "1"], "glu takes two inputs"),
        (["eval", "relu", "1", "--up", "2"], "relu takes one input; --up is the second input "
         "of the gated entries (glu, reglu, geglu, swiglu, bilinear)"),
        (["eval", "swiglu", "1", "2", "3", "--up", "1", "2"], "--up has 2 values: give one "
         "(for every number) or 3 (one per number)"),
        (["eval", "swiglu", "1", "--up", "x"], "'x' is not a number"),
        (["eval", "swiglu", "1", "--up", "1", "--beta", "0"], "beta must be a finite real "
         "number > 0"),
    ],
)  # fmt: skip
def test_gated_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert fragment in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_list_marks_the_gated_entries(capsys: pytest.CaptureFixture[str]) -> None:
    import relukit as rk

    code, out, _ = run(capsys, "list", "--json")
    data = {e["name"]: e for e in json.loads(out)}
    for act in rk.catalogue():
        e = data[act.name]
        assert e["gated"] is act.gated
        assert e["inputs"] == (["gate", "up"] if act.gated else ["x"])
        assert e["signature"] == act.call_signatures()["value"]
        assert e["derivative"] == act.derivative_formula
    assert data["swiglu"]["params"] == {"beta": 1.0}
    assert data["star_relu"]["params"] == {
        "scale": rk.star_relu.params["scale"].default,
        "bias": rk.star_relu.params["bias"].default,
    }
    assert data["squared_relu"]["aliases"][0] == "relu2"
    assert data["reglu"]["kinks"][0]["at"] == "0"
    # the table (and the blocks of a narrow terminal) say which entries take two inputs
    for columns in ("200", "60"):
        res = cli("list", env={"COLUMNS": columns})
        text = " ".join(res.stdout.split())
        for act in rk.catalogue():
            assert act.name in text
        assert text.count("2 inputs: gate, up") == sum(a.gated for a in rk.catalogue())
