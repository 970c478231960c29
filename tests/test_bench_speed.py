"""``relukit bench speed`` and ``--sweep``: run on tiny sizes, the output's structure and
arithmetic checked (never the timings)."""

from __future__ import annotations

import numpy as np
import pytest

import relukit as rk

# ---------------------------------------------------------------------------
# relukit bench speed (run on tiny sizes: the output's structure, not the timings)
# ---------------------------------------------------------------------------


def test_bench_speed_cli_writes_table_json_and_plot(tmp_path, capsys):
    import json

    from relukit.cli import main

    js, png = tmp_path / "speed.json", tmp_path / "speed.png"
    argv = ["bench", "speed", "--size", "1e3", "--size", "2^11", "--repeat", "1"]
    rc = main([*argv, "--no-subprocess", "--json", str(js), "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "size 1,000 (float32" in out and "size 2,048 (float32" in out
    assert "np.copyto(y, x)  (one thread)" in out and "np.heaviside(x, 0)" in out
    doc = json.loads(js.read_text())
    assert doc["dtype"] == "float32" and set(doc["results"]) == {"1000", "2048"}
    row = doc["results"]["2048"]
    assert row["np.copyto(y, x)  (one thread)"]["vs_copyto"] == 1.0
    for name in ("rk.relu(x, out=y)", "rk.relu.value_and_derivative(x)", "np.maximum(x, 0)"):
        r = row[name]
        assert r["seconds"] > 0 and r["gbps"] > 0
    # a ratio is the bandwidth of the case over the bandwidth of the copy, both from the row
    r, c = row["rk.relu.value_and_derivative(x)"], row["np.copyto(y, x)  (one thread)"]
    assert r["vs_copyto"] == pytest.approx((3 / r["seconds"]) / (2 / c["seconds"]))
    assert r["median"] >= r["seconds"]  # the median of the runs, and their minimum
    labels = {t["ratio"] for t in doc["ratios"]}
    assert "np.maximum(x, 0) time / rk.relu(x) time" in labels
    ratio = next(t for t in doc["ratios"] if t["ratio"].startswith("np.heaviside"))
    h, d = row["np.heaviside(x, 0)"], row["rk.relu.derivative(x)"]
    assert ratio["min"] == pytest.approx(h["seconds"] / d["seconds"])
    assert ratio["median"] == pytest.approx(h["median"] / d["median"])
    for word in ("PASS", "MISS", "target", "issue", "the limit"):
        assert word not in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_speed_figure_content():
    from relukit.bench.speed import figure

    results = {
        n: {
            "np.copyto(y, x)  (one thread)": {"gbps": 10.0, "group": "limit"},
            "rk.relu(x, out=y)": {"gbps": 8.0 + n / 1e6, "group": "relukit"},
            "np.maximum(x, 0)": {"gbps": 3.0, "group": "numpy"},
        }
        for n in (1000, 10**6)
    }
    fig = figure(results, "float64")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "array size (elements, float64)"
    assert "GB/s" in ax.get_ylabel()
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == set(results[1000])
    assert list(lines["rk.relu(x, out=y)"].get_ydata()) == [8.001, 9.0]
    assert list(lines["rk.relu(x, out=y)"].get_xdata()) == [1000, 10**6]
    assert lines["np.copyto(y, x)  (one thread)"].get_linestyle() == "--"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == list(results[1000])


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--size", "lots"], "--size must be a whole number of elements"),
        (["--size", "0"], "--size must be at least 1"),
        (["--size", "1.5"], "--size must be a whole number"),
        (["--repeat", "0"], "--repeat must be at least 1, got 0"),
        (["--threads", "0"], "--threads must be at least 1, got 0"),
        (["--sweep", "--entries", "rleu"], "unknown activation 'rleu'"),
        (["--under-load", "0"], "--under-load must be at least 1, got 0"),
    ],
)
def test_bench_speed_bad_arguments(argv, message, capsys):
    from relukit.cli import main

    assert main(["bench", "speed", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# ---------------------------------------------------------------------------
# relukit bench speed --sweep (tiny sizes: structure and arithmetic, not timings)
# ---------------------------------------------------------------------------


def test_bench_sweep_cli_table_json_and_plot(tmp_path, capsys):
    import json

    from relukit.cli import main

    js, png = tmp_path / "sweep.json", tmp_path / "sweep.png"
    argv = ["bench", "speed", "--sweep", "--size", "10", "--size", "300", "--repeat", "2"]
    argv += ["--entries", "relu", "silu", "gelu(tanh)", "--threads", "1"]
    assert main([*argv, "--json", str(js), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "10 float32 elements (one-thread np.copyto:" in out
    assert "| relu | value |" in out and "| gelu(tanh) | derivative |" in out
    assert "| silu | derivative |" in out and "| gelu | value |" not in out
    for word in ("PASS", "MISS", "target", "issue", "the limit"):
        assert word not in out
    doc = json.loads(js.read_text())
    assert doc["threads"] == 1 and doc["sizes"] == [10, 300]
    rows = [r for r in doc["rows"] if r["kind"] != "copy"]
    assert {(r["entry"], r["kind"], r["size"]) for r in rows} == {
        (e, k, n) for e in ("relu", "silu", "gelu(tanh)") for k in ("value", "derivative")
        for n in (10, 300)
    }  # fmt: skip
    for r in rows:
        med, best = r["relukit"]
        assert 0 < best <= med
        assert "NumPy" in r or (r["entry"], r["kind"]) == ("gelu(tanh)", "derivative")
    # the printed ratio is the peer's median over relukit's, from the same row
    r = next(r for r in rows if r["entry"] == "relu" and r["kind"] == "value" and r["size"] == 300)
    want = f"{r['NumPy'][0] / r['relukit'][0]:.2f} / {r['NumPy'][1] / r['relukit'][1]:.2f}"
    line = next(ln for ln in out.splitlines() if ln.startswith("| relu | value |") and want in ln)
    assert line
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_sweep_figure_content():
    from relukit.bench.sweep import figure

    rows = [
        {"entry": "np.copyto", "kind": "copy", "size": n, "copy": (0.5, 0.4)} for n in (10, 100)
    ]
    rows += [
        {"entry": e, "kind": "value", "size": n, "relukit": (n / 10, 1.0), "torch": (2.0, 1.5)}
        for e in ("relu", "silu")
        for n in (10, 100)
    ]
    fig = figure(rows, "value")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["relu (value)", "silu (value)"]
    ax = visible[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"relukit", "torch", "np.copyto (one thread)"}
    assert list(lines["relukit"].get_ydata()) == [1.0, 10.0]
    assert list(lines["relukit"].get_xdata()) == [10, 100]
    assert lines["np.copyto (one thread)"].get_linestyle() == "--"
    assert "ns per element" in fig.axes[0].get_ylabel()


def test_numpy_formulas_are_the_functions():
    from relukit.bench.sweep import numpy_formulas

    x = np.linspace(-5, 5, 101)
    for label, (value, derivative) in numpy_formulas().items():
        name, params = ("gelu", {"approximate": "tanh"}) if label == "gelu(tanh)" else (label, {})
        act = rk.get(name)
        if name == "prelu":
            params = {"weight": 0.25}
        np.testing.assert_allclose(value(x), act(x, **params), rtol=1e-6, atol=1e-12)
        if derivative is not None:
            mask = np.ones_like(x, dtype=bool)
            for k in act.kink_points(**params):
                mask &= x != k[0]
            np.testing.assert_allclose(
                derivative(x)[mask], act.derivative(x, **params)[mask], rtol=1e-6, atol=1e-12
            )


@pytest.mark.jax
@pytest.mark.torch
def test_bench_sweep_cases_compute_what_they_name():
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    from relukit.bench import sweep

    x = np.linspace(-3, 3, 300, dtype=np.float32)
    for kind in ("value", "derivative"):
        cases = sweep._cases("silu", "silu", {}, kind, x, {"jax": jax, "torch": torch})
        assert set(cases) == {"relukit", "NumPy", "torch", "JAX"}
        want = rk.silu(x) if kind == "value" else rk.silu.derivative(x)
        got_np = cases["NumPy"]()
        assert type(got_np) is np.ndarray  # NumPy's own formula (not another contender's)
        np.testing.assert_allclose(got_np, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(cases["JAX"]()), want, rtol=1e-5, atol=1e-6)
        t = cases["torch"]()
        t = t[0] if isinstance(t, tuple) else t
        np.testing.assert_allclose(t.detach().numpy(), want, rtol=1e-5, atol=1e-6)
