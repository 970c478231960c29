"""The command line: eval, derivative, list, demo, and its errors (one line, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

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
        "Applying Relu on (1.0) gives 1.0",
        "Applying Relu on (-10.0) gives 0.0",
        "Applying Relu on (0.0) gives 0.0",
        "Applying Relu on (15.0) gives 15.0",
        "Applying Relu on (-20.0) gives 0.0",
    ]


def test_eval_leaky_relu_and_slope(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", "leaky_relu", "-10", "1")
    assert code == 0
    assert out.splitlines() == [
        "Applying Leaky Relu on (-10.0) gives -0.1",
        "Applying Leaky Relu on (1.0) gives 1.0",
    ]
    code, out, _ = run(capsys, "eval", "LeakyReLU", "-10", "--negative-slope", "0.2")
    assert out.strip() == "Applying Leaky Relu on (-10.0) gives -2.0"
    code, out, _ = run(capsys, "eval", "leaky-relu", "-1", "--precision", "3")
    assert out.strip() == "Applying Leaky Relu on (-1.000) gives -0.010"


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
    assert out.splitlines()[1] == "The derivative of Relu at (0.0) is 0.0"
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
            "Applying Relu on (-2.0) gives 0.0",
            "Applying Relu on (3.0) gives 3.0",
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
    assert "Applying Relu on (-10.0) gives 0.0" in text
    assert "Applying Leaky Relu on (-10.0) gives -0.1" in text
    assert "The derivative of Relu at (0.0) is 0.0   (with at_kink=1: 1.0)" in text


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
