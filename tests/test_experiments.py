"""Tests of relukit.experiments (born-dead, dying-relu) and ``relukit experiment``."""

from __future__ import annotations

import json
import math

import pytest

from relukit.cli import main

# ---------------------------------------------------------------------------
# born-dead (NumPy only)
# ---------------------------------------------------------------------------

KEYS = {
    "activation",
    "width",
    "depth",
    "trials",
    "p_dead_at_point",
    "p_constant_on_domain",
    "theory_point",
}


def test_born_dead_matches_closed_form_within_binomial_bound():
    from relukit.experiments.born_dead import born_dead

    trials = 4000
    recs = born_dead([2, 3, 5], [1, 5, 20], trials=trials, seed=7, domain_points=32)
    assert len(recs) == 18
    for r in recs:
        assert set(r) == KEYS
        n, h = r["width"], r["depth"]
        p = 1 - (1 - 2.0**-n) ** h  # the closed form, written here independently
        assert r["theory_point"] == pytest.approx(p, rel=1e-12)
        if r["activation"] == "relu":
            sigma = math.sqrt(p * (1 - p) / trials)
            # 4.5 sigma: a false alarm about once in 150 000 configurations
            assert abs(r["p_dead_at_point"] - p) <= 4.5 * sigma + 1e-12, r
            # constant on the whole domain needs more than dead at one point
            assert r["p_constant_on_domain"] <= r["p_dead_at_point"] + 4.5 * sigma
        else:
            assert r["p_dead_at_point"] == 0.0  # leaky relu is never exactly zero
            assert r["p_constant_on_domain"] == 0.0
    # one hidden layer without bias is never constant on a symmetric domain
    assert all(r["p_constant_on_domain"] == 0 for r in recs if r["depth"] == 1)


def test_born_dead_deterministic_and_independent_of_other_configs():
    from relukit.experiments.born_dead import born_dead

    a = born_dead([3], [5], trials=300, seed=1)
    b = born_dead([2, 3], [1, 5], trials=300, seed=1)
    assert a == [r for r in b if r["width"] == 3 and r["depth"] == 5]
    assert born_dead([3], [5], trials=300, seed=2) != a


def test_born_dead_bias_normal_and_bad_arguments():
    from relukit.experiments.born_dead import born_dead

    recs = born_dead([2], [5], trials=500, seed=0, bias="normal")
    assert {r["activation"] for r in recs} == {"relu", "leaky_relu"}
    assert recs[1]["p_dead_at_point"] == 0.0
    with pytest.raises(ValueError, match="bias must be 'zero' or 'normal', got 'uniform'"):
        born_dead(bias="uniform")
    with pytest.raises(ValueError, match="widths must be integers >= 1, got 0"):
        born_dead([0])
    with pytest.raises(ValueError, match="trials must be integers >= 1, got -5"):
        born_dead(trials=-5)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        born_dead(seed=-1)


def test_born_dead_cli_json_and_plot(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    out, png = tmp_path / "out.json", tmp_path / "out.png"
    argv = ["experiment", "born-dead", "--width", "2", "3", "--depth", "1", "4"]
    argv += ["--trials", "400", "--seed", "7", "--json", str(out), "--plot", str(png)]
    assert main(argv) == 0
    recs = json.loads(out.read_text())
    assert len(recs) == 8 and all(set(r) == KEYS for r in recs)
    assert [(r["activation"], r["width"], r["depth"]) for r in recs[:2]] == [
        ("relu", 2, 1),
        ("leaky_relu", 2, 1),
    ]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "Born dead" in text and "1-(1-2^-N)^H" in text


def test_born_dead_figure_content():
    import matplotlib

    matplotlib.use("Agg")
    from relukit.experiments.born_dead import born_dead, plot_born_dead

    recs = born_dead([2, 5], [1, 3], trials=200, seed=0)
    fig = plot_born_dead(recs)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "depth H (hidden layers)" and ax.get_ylabel() == "probability"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["width N = 2", "width N = 5"]
    assert "closed form 1 − (1 − 2^−N)^H" in labels
    # the closed-form curve of width 2 passes through 1 - (3/4)^H at H = 1..3
    curve = ax.get_lines()[0]
    assert list(curve.get_xdata()) == [1, 2, 3]
    assert list(curve.get_ydata()) == pytest.approx([1 - 0.75**h for h in (1, 2, 3)])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--width", "0"], "expected an integer >= 1"),
        (["--trials", "x"], "expected an integer >= 1"),
        (["--bias", "uniform"], "invalid choice"),
    ],
)
def test_born_dead_cli_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "born-dead", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# ---------------------------------------------------------------------------
# dying-relu (torch + scikit-learn); tiny configurations
# ---------------------------------------------------------------------------


def _tiny(**kw):
    from relukit.experiments.dying_relu import DyingReluConfig

    base = dict(hidden=(8, 8), epochs=1, batch_size=256, seeds=(0,), eval_every=2, recycle_every=2)
    base.update(kw)
    return DyingReluConfig(**base)


@pytest.mark.torch
def test_dying_relu_outputs_and_keys(tmp_path):
    pytest.importorskip("sklearn")
    import matplotlib

    matplotlib.use("Agg")
    from relukit.experiments.dying_relu import VARIANTS, run_dying_relu

    m = run_dying_relu(_tiny(seeds=(0, 1)), tmp_path, progress=False)
    assert {p.name for p in tmp_path.iterdir()} == {
        "metrics.json",
        "dead_fraction.png",
        "test_accuracy.png",
        "report.html",
    }
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["summary"] == m["summary"]
    assert list(m["summary"]) == list(VARIANTS)
    assert m["dataset_sizes"] == {"train": 1347, "test": 450}  # digits, 25 % test
    assert len(m["runs"]) == 2 * len(VARIANTS)
    for run in m["runs"]:
        steps = run["steps"]
        assert steps[0] == 0 and steps[-1] == 6  # ceil(1347 / 256) = 6 steps
        assert set(run["dead_fraction"]) == {"hidden 1", "hidden 2"}
        assert all(len(v) == len(steps) for v in run["dead_fraction"].values())
        assert all(0 <= a <= 1 for a in run["test_accuracy"])
        assert run["final"]["test_accuracy"] == run["test_accuracy"][-1]
    for v, row in m["summary"].items():
        accs = [r["final"]["test_accuracy"] for r in m["runs"] if r["variant"] == v]
        assert row["test_accuracy_mean"] == pytest.approx(sum(accs) / 2)
        assert row["test_accuracy_std"] == pytest.approx(abs(accs[0] - accs[1]) / 2)
    assert {c["name"] for c in m["claims"]} >= {
        "ReLU at this learning rate loses units",
        "recycling recovers accuracy",
    }
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "<script" not in html
    assert "src='http" not in html and 'src="http' not in html  # self-contained
    for v in VARIANTS:
        assert f"<td>{v}</td>" in html


@pytest.mark.torch
def test_dying_relu_deterministic_and_restores_torch_settings():
    pytest.importorskip("sklearn")
    import torch

    from relukit.experiments.dying_relu import run_dying_relu

    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    a = run_dying_relu(_tiny(variants=("relu", "relu+recycle")), None, progress=False)
    b = run_dying_relu(_tiny(variants=("relu", "relu+recycle")), None, progress=False)
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    c = run_dying_relu(_tiny(variants=("relu",), seeds=(1,)), None, progress=False)
    assert c["runs"][0]["test_accuracy"] != a["runs"][0]["test_accuracy"]
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det


@pytest.mark.torch
def test_dying_relu_figures_content():
    pytest.importorskip("sklearn")
    import matplotlib

    matplotlib.use("Agg")
    from relukit.experiments.dying_relu import (
        figure_accuracy,
        figure_dead_fraction,
        run_dying_relu,
    )

    m = run_dying_relu(_tiny(variants=("relu", "elu")), None, progress=False)
    fig = figure_dead_fraction(m)
    assert [ax.get_title() for ax in fig.axes] == ["relu", "elu"]
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == ["hidden 1", "hidden 2"]
    run = m["runs"][0]
    assert list(lines[0].get_xdata()) == run["steps"]
    assert list(lines[0].get_ydata()) == pytest.approx(
        [100 * v for v in run["dead_fraction"]["hidden 1"]]
    )
    fig = figure_accuracy(m)
    ax = fig.axes[0]
    assert [ln.get_label() for ln in ax.get_lines()] == ["relu", "elu"]
    assert list(ax.get_lines()[1].get_ydata()) == pytest.approx(
        [100 * v for v in m["runs"][1]["test_accuracy"]]
    )
    assert ax.get_ylabel() == "test accuracy (%)"


@pytest.mark.torch
def test_dying_relu_cli(tmp_path, capsys):
    pytest.importorskip("sklearn")
    import matplotlib

    matplotlib.use("Agg")
    out = tmp_path / "run"
    argv = ["experiment", "dying-relu", "--epochs", "1", "--seeds", "3", "--hidden", "8"]
    argv += ["--batch-size", "512", "--activations", "relu", "leaky_relu", "--no-progress"]
    argv += ["--dataset", "iris", "--lr", "0.05", "--optimizer", "sgd", "--out", str(out)]
    assert main(argv) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["dataset"] == "iris" and m["config"]["optimizer"] == "sgd"
    assert m["config"]["seeds"] == [3] and list(m["summary"]) == ["relu", "leaky_relu"]
    text = capsys.readouterr().out
    assert "dying-relu on iris" in text and "leaky_relu" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lr", "-1"], "expected a finite number > 0, got '-1'"),
        (["--lr", "nan"], "expected a finite number > 0"),
        (["--epochs", "0"], "expected an integer >= 1"),
        (["--seeds", "-2"], "expected an integer >= 0"),
        (["--dataset", "mnist"], "invalid choice"),
        (["--activations", "tanh"], "invalid choice"),
    ],
)
def test_dying_relu_cli_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "dying-relu", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_dying_relu_config_validation():
    from relukit.experiments.dying_relu import DyingReluConfig

    for kw, msg in [
        ({"dataset": "mnist"}, "dataset must be one of digits, iris, wine, breast_cancer"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of adam, sgd"),
        ({"variants": ("tanh",)}, "variant must be one of"),
        ({"hidden": ()}, "hidden must list at least one layer width"),
        ({"lr": float("inf")}, "lr must be a finite number > 0"),
        ({"recycle_which": "all"}, "recycle_which must be 'dormant' or 'dead'"),
        ({"seeds": ()}, "seeds must not be empty"),
    ]:
        with pytest.raises(ValueError, match=msg):
            DyingReluConfig(**kw).validate()


@pytest.mark.torch
def test_demo_writes_report(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    import matplotlib
    from rich.console import Console

    matplotlib.use("Agg")
    import relukit.experiments as ex

    monkeypatch.setattr(
        ex,
        "DEMO_CONFIG",
        {"epochs": 1, "seeds": (0,), "hidden": (8,), "batch_size": 512, "eval_every": 2},
    )
    console = Console(record=True, width=120)
    ex.demo(tmp_path, console)
    assert (tmp_path / "dying-relu" / "report.html").is_file()
    text = console.export_text()
    assert "report.html" in text and "relu+recycle" in text


@pytest.mark.torch
def test_monitor_overhead_cli_runs(capsys):
    argv = ["experiment", "monitor-overhead", "--width", "4", "--depth", "1", "--repeats", "1"]
    argv += ["--block", "2"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "DeadUnitMonitor" in text and "monitor + functional" in text
    from relukit.experiments.monitor_overhead import measure_monitor_overhead

    r = measure_monitor_overhead((4,), repeats=1, block=2)
    assert set(r) >= {"step_us", "slowdown_modules", "slowdown_functional"}
    assert r["step_us"] > 0 and r["hidden"] == [4]


def test_claims_use_paired_t_intervals():
    from relukit.experiments.dying_relu import _claims

    def runs(acc_relu, acc_rec):
        out = []
        for seed, (a, b) in enumerate(zip(acc_relu, acc_rec, strict=True)):
            for variant, acc in (("relu", a), ("relu+recycle", b)):
                final = {"test_accuracy": acc, "dead_fraction": 0.1, "revived_fraction": 0.0}
                out.append({"variant": variant, "seed": seed, "final": final})
        return out

    def holds(r):
        c = {c["name"]: c for c in _claims(r, ["relu", "relu+recycle"])}
        return c["recycling recovers accuracy"]["supported"]

    # differences 1, 3: mean 2, standard error 1; t(1 dof) = 12.7 -> not supported
    assert not holds(runs([0.90, 0.90], [0.91, 0.93]))
    # the same differences repeated over 10 seeds: standard error 0.33 -> supported
    assert holds(runs([0.90] * 10, [0.91, 0.93] * 5))
    assert not holds(runs([0.90], [0.99]))  # one seed never supports a claim
    assert not holds(runs([0.90] * 4, [0.89] * 4))  # recycling worse
