"""``relukit experiment NAME``: the options come from the configuration dataclasses.

The option contract below was recorded from ``relukit experiment NAME --help`` before
the options were derived from the configurations: every option there keeps its name
and its meaning (what it sets, and the choices it accepts). Nothing here trains
anything: the run functions are replaced where a command is run through ``main``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import re
from pathlib import Path
from typing import Any, Literal

import pytest

from relukit.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]

#: experiment -> its configuration class
CONFIGS = {
    "dying-relu": "relukit.experiments.dying_relu:DyingReluConfig",
    "born-dead": "relukit.experiments.born_dead:BornDeadConfig",
    "monitor-overhead": "relukit.experiments.monitor_overhead:MonitorOverheadConfig",
    "plasticity": "relukit.experiments.plasticity:PlasticityConfig",
    "kink-choice": "relukit.experiments.kink_choice:KinkChoiceConfig",
    "few-bit": "relukit.experiments.few_bit:FewBitConfig",
}

# The contract, recorded from `relukit experiment NAME --help` of the code before the
# options were derived: option -> (tokens after it, what it sets, the value set).
# "what it sets" is a configuration field, or "args.X" for an option that stays in the
# command line (outputs, progress).
OLD_OPTIONS: dict[str, dict[str, tuple[list[str], str, Any]]] = {
    "dying-relu": {
        "--dataset": (["wine"], "dataset", "wine"),
        "--epochs": (["3"], "epochs", 3),
        "--lr": (["0.5"], "lr", 0.5),
        "--optimizer": (["sgd"], "optimizer", "sgd"),
        "--seeds": (["2", "5"], "seeds", (2, 5)),
        "--hidden": (["8", "4"], "hidden", (8, 4)),
        "--batch-size": (["16"], "batch_size", 16),
        "--activations": (["relu", "elu"], "variants", ("relu", "elu")),
        "--recycle-every": (["7"], "recycle_every", 7),
        "--recycle-which": (["dormant"], "recycle_which", "dormant"),
        "--recycle-until": (["0.25"], "recycle_until", 0.25),
        "--eval-every": (["5"], "eval_every", 5),
        "--tau": (["0.2"], "tau", 0.2),
        "--out": (["d"], "args.out", Path("d")),
        "--json": (["m.json"], "args.json", Path("m.json")),
        "--no-progress": ([], "args.no_progress", True),
    },
    "born-dead": {
        "--width": (["4", "6"], "width", (4, 6)),
        "--depth": (["2"], "depth", (2,)),
        "--trials": (["10"], "trials", 10),
        "--seed": (["3"], "seed", 3),
        "--bias": (["normal"], "bias", "normal"),
        "--input-dim": (["3"], "input_dim", 3),
        "--domain-points": (["16"], "domain_points", 16),
        "--json": (["r.json"], "args.json", Path("r.json")),
        "--plot": (["p.png"], "args.plot", Path("p.png")),
    },
    "monitor-overhead": {
        "--width": (["8", "16"], "width", (8, 16)),
        "--depth": (["2"], "depth", 2),
        "--batch-size": (["8"], "batch_size", 8),
        "--repeats": (["2"], "repeats", 2),
        "--block": (["3"], "block", 3),
        "--out": (["d"], "args.out", Path("d")),
        "--json": (["m.json"], "args.json", Path("m.json")),
    },
    "plasticity": {
        "--stream": (["pixels"], "stream", "pixels"),
        "--tasks": (["4"], "tasks", 4),
        "--steps-per-task": (["5"], "steps_per_task", 5),
        "--hidden": (["16"], "hidden", (16,)),
        "--lr": (["0.002"], "lr", 0.002),
        "--batch-size": (["8"], "batch_size", 8),
        "--seeds": (["2", "3"], "seeds", (2, 3)),
        "--variants": (["relu+l2", "relu"], "variants", ("relu+l2", "relu")),
        "--cbp-replacement-rate": (["0.01"], "cbp_replacement_rate", 0.01),
        "--l2": (["0.01"], "l2", 0.01),
        "--redo-every": (["10"], "redo_every", 10),
        "--out": (["d"], "args.out", Path("d")),
        "--json": (["m.json"], "args.json", Path("m.json")),
        "--no-progress": ([], "args.no_progress", True),
    },
    "kink-choice": {
        "--dtypes": (["float64", "float32"], "dtypes", ("float64", "float32")),
        "--models": (["cnn"], "models", ("cnn",)),
        "--lr": (["0.05"], "lr", 0.05),
        "--epochs": (["2"], "epochs", 2),
        "--batch-size": (["64"], "batch_size", 64),
        "--seeds": (["4"], "seeds", (4,)),
        "--out": (["d"], "args.out", Path("d")),
        "--json": (["m.json"], "args.json", Path("m.json")),
        "--no-progress": ([], "args.no_progress", True),
    },
    "few-bit": {
        "--bits": (["2", "4"], "bits", (2, 4)),
        "--seeds": (["5", "6"], "seeds", (5, 6)),
        "--digits-epochs": (["2"], "digits_epochs", 2),
        "--chars-steps": (["3"], "chars_steps", 3),
        "--tasks": (["chars"], "tasks", ("chars",)),
        "--json": (["m.json"], "args.json", Path("m.json")),
        "--out": (["d"], "args.out", Path("d")),
    },
}

#: the choices each option of the old contract accepted
OLD_CHOICES = {
    ("dying-relu", "--dataset"): ("digits", "iris", "wine", "breast_cancer"),
    ("dying-relu", "--optimizer"): ("adam", "sgd"),
    ("dying-relu", "--activations"): ("relu", "leaky_relu", "elu", "relu+recycle"),
    ("dying-relu", "--recycle-which"): ("dead", "dormant"),
    ("born-dead", "--bias"): ("zero", "normal"),
    ("plasticity", "--stream"): ("labels", "pixels"),
    ("plasticity", "--variants"): ("relu", "leaky_relu", "relu+redo", "relu+cbp", "relu+l2"),
    ("kink-choice", "--dtypes"): ("float16", "bfloat16", "float32", "float64"),
    ("kink-choice", "--models"): ("mlp", "cnn"),
    ("few-bit", "--tasks"): ("digits", "chars"),
}

#: options that are new: configuration fields that had no option before
ADDED = {
    "dying-relu": {"--variants", "--negative-slope", "--test-size", "--split-seed"},
    "born-dead": {"--negative-slope"},
    "monitor-overhead": set(),
    "plasticity": {"--tau", "--cbp-maturity", "--cbp-decay", "--negative-slope"},
    "kink-choice": {"--hidden", "--channels"},
    "few-bit": {
        "--chars-context",
        "--chars-width",
        "--chars-layers",
        "--batch-size",
        "--timing-blocks",
    },
}

#: a configuration with every field away from its default, per experiment
NON_DEFAULT: dict[str, dict[str, Any]] = {
    "dying-relu": dict(
        dataset="iris", hidden=(8, 4), optimizer="sgd", lr=0.05, epochs=3, batch_size=16,
        seeds=(3, 1), variants=("relu", "elu"), eval_every=5, recycle_every=7,
        recycle_which="dormant", recycle_until=0.25, tau=0.2, negative_slope=0.05,
        test_size=0.3, split_seed=2,
    ),
    "born-dead": dict(
        width=(4,), depth=(2, 3), trials=10, seed=3, bias="normal", input_dim=3,
        domain_points=16, negative_slope=0.2,
    ),
    "monitor-overhead": dict(width=(8, 16), depth=2, batch_size=8, repeats=2, block=3),
    "plasticity": dict(
        stream="pixels", tasks=4, steps_per_task=5, hidden=(16,), lr=0.002, batch_size=8,
        seeds=(2, 3), variants=("relu+l2", "relu"), redo_every=10, tau=0.05,
        cbp_replacement_rate=0.01, cbp_maturity=20, cbp_decay=0.9, l2=0.01,
        negative_slope=0.1,
    ),
    "kink-choice": dict(
        dtypes=("float64", "float32"), models=("cnn",), hidden=(16,), channels=(2, 4),
        lr=0.05, epochs=2, batch_size=64, seeds=(4,),
    ),
    "few-bit": dict(
        bits=(2, 4), seeds=(5, 6), digits_epochs=2, chars_steps=3, chars_context=16,
        chars_width=24, chars_layers=1, batch_size=8, timing_blocks=2, tasks=("chars",),
    ),
}  # fmt: skip


def _config_class(name: str) -> Any:
    module, _, cls = CONFIGS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise LookupError(name)


def _parser(name: str) -> argparse.ArgumentParser:
    return _subparser(_subparser(build_parser(), "experiment"), name)


def _options(name: str) -> set[str]:
    return {s for a in _parser(name)._actions for s in a.option_strings} - {"-h", "--help"}


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _cli_fields(cls: Any) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)]


def _build(name: str, argv: list[str]) -> tuple[argparse.Namespace, Any]:
    from relukit.cli._config_args import config_from_args

    args = build_parser().parse_args(["experiment", name, *argv])
    return args, config_from_args(_config_class(name), args)


def _text(value: Any) -> str:
    """A default as typed on the command line: ``0 1 2`` for a tuple."""
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------
# the contract: every old option kept, with its meaning; the new ones are listed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CONFIGS))
def test_option_set_is_the_old_one_plus_the_new_fields(name):
    old = set(OLD_OPTIONS[name])
    now = _options(name)
    assert old <= now, f"options dropped: {sorted(old - now)}"
    assert now - old == ADDED[name]


@pytest.mark.parametrize(
    ("name", "option"), [(n, o) for n, opts in OLD_OPTIONS.items() for o in opts]
)
def test_old_option_keeps_its_meaning(name, option):
    tokens, where, expected = OLD_OPTIONS[name][option]
    args, cfg = _build(name, [option, *tokens])
    got = getattr(args, where[5:]) if where.startswith("args.") else getattr(cfg, where)
    assert got == expected
    choices = OLD_CHOICES.get((name, option))
    action = _parser(name)._option_string_actions[option]
    if choices is not None:
        assert tuple(action.choices) == choices
    else:
        assert action.choices is None


# ---------------------------------------------------------------------------
# derived from the configuration: fields, help, defaults, parsed configurations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_config_field_has_an_option_with_the_fields_help(name):
    cls = _config_class(name)
    parser = _parser(name)
    for f in _cli_fields(cls):
        action = parser._option_string_actions.get(_flag(f.name))
        assert action is not None, f"{name}: no option for the field {f.name}"
        assert action.dest == f.name
        text = f.metadata.get("help", "")
        assert text and action.help.startswith(text.replace("%", "%%")), (f.name, action.help)


def _help_entries(name: str, capsys: Any, monkeypatch: Any) -> dict[str, str]:
    """``{option: its help text, whitespace normalised}`` from ``--help``'s output."""
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exc:
        main(["experiment", name, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    body = text[text.index("options:") :].splitlines()[1:]
    entries: dict[str, str] = {}
    current = None
    for line in body:
        m = re.match(r"^  (--?[\w-]+)", line)
        if m:
            current = m.group(1)
            entries[current] = line
        elif current is not None:
            entries[current] += " " + line
    return {k: " ".join(v.split()) for k, v in entries.items()}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_help_shows_the_dataclass_defaults(name, capsys, monkeypatch):
    cls = _config_class(name)
    entries = _help_entries(name, capsys, monkeypatch)
    for f in _cli_fields(cls):
        entry = entries[_flag(f.name)]
        shown = re.findall(r"[(;] ?default: ([^();]*)\)$", entry)
        assert shown, f"{name} {_flag(f.name)}: no default in {entry!r}"
        assert shown[0] == _text(f.default), (f.name, entry)
        # typed back in, the default shown gives the default configuration's value
        _, cfg = _build(name, [_flag(f.name), *shown[0].split()])
        assert getattr(cfg, f.name) == f.default


@pytest.mark.parametrize("name", list(CONFIGS))
def test_command_line_builds_the_configuration(name):
    cls = _config_class(name)
    values = NON_DEFAULT[name]
    assert set(values) == {f.name for f in _cli_fields(cls)}
    default = cls()
    for key, value in values.items():
        assert getattr(default, key) != value, key  # every field away from its default
    argv: list[str] = []
    for key, value in values.items():
        argv += [_flag(key), *_text(value).split()]
    _, cfg = _build(name, argv)
    assert cfg == cls(**values)
    assert _build(name, [])[1] == default


class _Ran(Exception):
    """Raised by a replaced run function, with the configuration it was given."""


@pytest.mark.parametrize(
    ("name", "module", "func"),
    [
        ("dying-relu", "relukit.experiments.dying_relu", "run_dying_relu"),
        ("plasticity", "relukit.experiments.plasticity", "run_plasticity"),
        ("kink-choice", "relukit.experiments.kink_choice", "run_kink_choice"),
        ("few-bit", "relukit.experiments.few_bit", "run_few_bit"),
        ("born-dead", "relukit.experiments.born_dead", "run_born_dead"),
        ("monitor-overhead", "relukit.experiments.monitor_overhead", "run_monitor_overhead"),
    ],
)
def test_main_runs_the_configuration_of_the_command_line(name, module, func, monkeypatch, tmp_path):
    """Through ``relukit``: Python's spelling (``--batch_size``) is accepted too."""

    def fake(cfg, *args, **kwargs):
        raise _Ran(cfg)

    monkeypatch.setattr(importlib.import_module(module), func, fake)
    monkeypatch.chdir(tmp_path)  # a default output folder lands here
    values = NON_DEFAULT[name]
    argv = ["experiment", name]
    for key, value in values.items():
        argv += ["--" + key, *_text(value).split()]  # underscores, as in Python
    with pytest.raises(_Ran) as ran:
        main(argv)
    assert ran.value.args[0] == _config_class(name)(**values)


@pytest.mark.parametrize(
    ("name", "argv", "message"),
    [
        ("dying-relu", ["--epochs", "0"], "--epochs must be an integer >= 1, got 0"),
        ("dying-relu", ["--lr", "-1"], "--lr must be a finite number > 0, got -1.0"),
        ("dying-relu", ["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
        ("dying-relu", ["--seeds", "1", "-2"], "--seeds must be integers >= 0, got -2"),
        ("dying-relu", ["--test-size", "1"], "--test-size must be in (0, 1), got 1.0"),
        ("plasticity", ["--cbp-decay", "1"], "--cbp-decay must be in [0, 1), got 1.0"),
        ("kink-choice", ["--channels", "0"], "--channels must be integers >= 1, got 0"),
        ("few-bit", ["--bits", "5"], "--bits must be integers from 1 to 4, got 5"),
        (
            "few-bit",
            ["--seeds", "0"],
            "--seeds must list at least 2 seeds (paired intervals need them), got 0",
        ),
        ("born-dead", ["--negative-slope", "1"], "--negative-slope must be in (0, 1), got 1.0"),
        ("monitor-overhead", ["--block", "0"], "--block must be an integer >= 1, got 0"),
    ],
)
def test_bad_value_is_one_line_naming_the_option_before_any_work(
    name, argv, message, monkeypatch, tmp_path, capsys
):
    for module in ("dying_relu", "plasticity", "kink_choice", "few_bit"):
        mod = importlib.import_module(f"relukit.experiments.{module}")
        monkeypatch.setattr(mod, f"run_{module}", _never)
    monkeypatch.setattr("relukit.experiments.born_dead.run_born_dead", _never)
    monkeypatch.setattr("relukit.experiments.monitor_overhead.run_monitor_overhead", _never)
    out = tmp_path / "out"
    outputs = ["--json", str(tmp_path / "m.json")]
    if name != "born-dead":
        outputs += ["--out", str(out)]
    assert main(["experiment", name, *argv, *outputs]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"relukit experiment: error: {message}\n"
    assert captured.out == ""
    assert not out.exists() and not (tmp_path / "m.json").exists()  # nothing was made


def _never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the experiment ran")


def test_cli_experiment_restates_no_option():
    """The experiments' options are not written out one by one in cli/experiment.py:
    what is left is the outputs of the commands (--out, --json, --plot, --no-progress)."""
    tree = ast.parse((ROOT / "src/relukit/cli/experiment.py").read_text())
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "add_argument"
    ]
    assert len(calls) <= 4


def test_experiment_modules_hold_no_command_line():
    """Parsers and commands live in relukit.cli; the experiments import neither argparse
    nor relukit.cli."""
    for path in (ROOT / "src/relukit/experiments").glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
        bad = {m for m in imported if m == "argparse" or m.startswith("relukit.cli")}
        assert not bad, (path.name, bad)


# ---------------------------------------------------------------------------
# the generic derivation, on a configuration of its own
# ---------------------------------------------------------------------------


Colour = Literal["red", "green", "blue"]


@dataclasses.dataclass
class _Toy:
    count: int = dataclasses.field(default=3, metadata={"help": "how many"})
    rate: float = dataclasses.field(default=0.5, metadata={"help": "a rate in %"})
    name: str = dataclasses.field(default="x", metadata={"help": "a name"})
    fast: bool = dataclasses.field(default=False, metadata={"help": "go fast"})
    colour: Colour = dataclasses.field(default="red", metadata={"help": "one colour"})
    colours: tuple[Colour, ...] = dataclasses.field(
        default=("red", "blue"), metadata={"help": "colours", "metavar": "C"}
    )
    sizes: list[float] = dataclasses.field(
        default_factory=lambda: [1.0, 2.5], metadata={"help": "sizes"}
    )
    widths: tuple[int, ...] = dataclasses.field(
        default=(4,), metadata={"help": "widths", "aliases": ("--w",)}
    )
    secret: int = dataclasses.field(default=7, metadata={"cli": False})


def _toy_parser() -> argparse.ArgumentParser:
    from relukit.cli import Parser
    from relukit.cli._config_args import add_config_options

    p = Parser(prog="toy")
    add_config_options(p, _Toy)
    return p


def test_generic_options_from_a_dataclass():
    from relukit.cli._config_args import config_from_args

    p = _toy_parser()
    assert config_from_args(_Toy, p.parse_args([])) == _Toy()
    argv = ["--count", "5", "--rate", "0.25", "--name", "y", "--fast", "--colour", "blue"]
    argv += ["--colours", "green", "--sizes", "3", "--w", "1", "2"]
    cfg = config_from_args(_Toy, p.parse_args(argv))
    assert cfg == _Toy(5, 0.25, "y", True, "blue", ("green",), [3.0], (1, 2))
    assert isinstance(cfg.colours, tuple) and isinstance(cfg.sizes, list)
    assert config_from_args(_Toy, p.parse_args(["--no-fast"])).fast is False
    assert "--secret" not in p._option_string_actions
    help_ = " ".join(p.format_help().split())
    assert "--fast, --no-fast go fast (default: False)" in help_
    assert "--colour {red,green,blue} one colour (default: red)" in help_
    assert "--colours C [C ...] colours (from red, green, blue; default: red blue)" in help_
    assert "--sizes SIZES [SIZES ...] sizes (default: 1.0 2.5)" in help_
    assert "--widths WIDTHS [WIDTHS ...], --w WIDTHS [WIDTHS ...] widths (default: 4)" in help_
    assert "a rate in % (default: 0.5)" in help_


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--count", "x"], "argument --count: invalid int value: 'x'"),
        (["--colour", "pink"], "argument --colour: invalid choice: 'pink'"),
        (["--colours", "red", "pink"], "argument --colours: invalid choice: 'pink'"),
    ],
)
def test_generic_options_reject_bad_text(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        _toy_parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_generic_options_refuse_what_they_cannot_derive():
    from relukit.cli import Parser
    from relukit.cli._config_args import add_config_options

    @dataclasses.dataclass
    class Odd:
        x: dict[str, int] = dataclasses.field(default_factory=dict, metadata={"help": "?"})

    with pytest.raises(TypeError, match=r"Odd\.x: no command-line option for dict"):
        add_config_options(Parser(prog="odd"), Odd)

    @dataclasses.dataclass
    class Clash:
        out: int = dataclasses.field(default=1, metadata={"help": "clashes"})

    p = Parser(prog="clash")
    p.add_argument("--out")
    with pytest.raises(ValueError, match=r"Clash\.out: the command already has an option --out"):
        add_config_options(p, Clash)
