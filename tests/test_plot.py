"""rk.plot, ``relukit plot``, the demo figures and the docs figures: content, not only files.

The oracles are independent of the plotting code: float64 formulas for relu and leaky
relu, central finite differences of the value for every catalogue entry (away from
kinks), one-sided finite differences for the limits at each kink, and PyTorch autograd
for the value used at the kink.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the tests never open windows

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import relukit as rk
from relukit.catalogue import Activation, Kink, Math, Param
from relukit.cli import main
from relukit.plot import Curve, derivative_samples, value_samples

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = rk.catalogue()
IDS = [a.name for a in CATALOGUE]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def lines(ax, kind):
    """The lines of ``ax`` whose gid starts with ``kind`` (value, derivative, kink-...)."""
    return [ln for ln in ax.lines if (ln.get_gid() or "").startswith(kind + ":")]


def xy(line):
    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


def legend_texts(ax):
    """The legend's texts, long labels unwrapped."""
    return [" ".join(t.get_text().split()) for t in ax.get_legend().get_texts()]


def points(line):
    return sorted(map(tuple, np.asarray(line.get_xydata(), dtype=float).tolist()))


# an activation that is not in the catalogue, with kinks that move with its parameters
# (like hardtanh): clip(x) = min(max(x, low), high)
def _clip(m, x, low, high):
    return m.where(x < low, low, m.where(x > high, high, x))


def _clip_d(m, x, low, high):
    return m.where((x > low) & (x < high), 1.0, 0.0)


CLIP = Activation(
    name="clip_for_tests",
    formula="clip_for_tests(x) = min(max(x, low), high)",
    derivative_formula="clip_for_tests'(x) = 1 if low < x < high, 0 otherwise",
    latex="",
    derivative_latex="",
    math=Math(_clip, _clip_d, exact=True),
    params_list=(Param("low", -1.0, "lower bound"), Param("high", 1.0, "upper bound")),
    kinks=(
        Kink("low", lambda p: p["low"], lambda p: 0.0, lambda p: 1.0, lambda p: 0.0),
        Kink("high", lambda p: p["high"], lambda p: 1.0, lambda p: 0.0, lambda p: 0.0),
    ),
)


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def fd(act, x, h=1e-6, **params):
    """Central finite difference of the value, in float64."""
    return (
        np.asarray(act(x + h, **params), dtype=float)
        - np.asarray(act(x - h, **params), dtype=float)
    ) / (2 * h)


#: the gates' activations of the gated entries, written out in NumPy float64 (the
#: oracle of their figures: f(gate) * up and f'(gate) * up)
def _sig(g):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-g))


GATE_F = {
    "glu": (_sig, lambda g: _sig(g) * (1 - _sig(g))),
    "reglu": (lambda g: np.where(g > 0, g, 0.0), lambda g: (g > 0).astype(float)),
    "swiglu": (lambda g: g * _sig(g), lambda g: _sig(g) * (1 + g * (1 - _sig(g)))),
    "bilinear": (lambda g: g, lambda g: np.ones_like(g)),
}


def one_input(act, up=1.0):
    """``act`` as a function of x alone: a gated entry with its second input fixed."""
    if not act.gated:
        return act
    return lambda x, **p: act(x, up, **p)


# ---------------------------------------------------------------------------
# imports and backends
# ---------------------------------------------------------------------------


def _run(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    for k in [k for k, v in full.items() if v is None]:
        del full[k]
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120
    )


def test_matplotlib_is_imported_only_for_a_plot():
    code = """
import sys, io, contextlib
import relukit as rk
rk.relu(1.0); rk.leaky_relu.derivative([0.0, 1.0])
assert "matplotlib" not in sys.modules, "import relukit imported matplotlib"
from relukit.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["eval", "relu", "1", "-3"]) == 0
    assert main(["derivative", "leaky_relu", "0"]) == 0
assert "matplotlib" not in sys.modules, "relukit eval imported matplotlib"
fig = rk.plot("relu")
assert "matplotlib" in sys.modules
print("ok")
"""
    env = {"MPLBACKEND": None}
    r = _run(code, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_agg_without_display_and_the_users_backend_is_kept():
    headless = _run(
        "import relukit as rk, matplotlib; rk.plot('relu'); print(matplotlib.get_backend())",
        {"MPLBACKEND": None, "DISPLAY": None, "WAYLAND_DISPLAY": None},
    )
    assert headless.returncode == 0, headless.stderr
    assert headless.stdout.strip().lower() == "agg"
    chosen = _run(
        "import matplotlib; matplotlib.use('svg'); import relukit as rk; rk.plot('relu'); "
        "print(matplotlib.get_backend())",
        {"MPLBACKEND": None, "DISPLAY": None},
    )
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.strip().lower() == "svg"
    env_chosen = _run(
        "import relukit as rk, matplotlib; rk.plot('relu'); print(matplotlib.get_backend())",
        {"MPLBACKEND": "pdf", "DISPLAY": None},
    )
    assert env_chosen.stdout.strip().lower() == "pdf", env_chosen.stderr


def test_rk_plot_is_callable_after_importing_the_module():
    # importing relukit.plot makes the package attribute the module; it must still plot
    mod = importlib.import_module("relukit.plot")
    assert callable(rk.plot)
    fig = rk.plot("relu")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert isinstance(mod.plot("relu"), matplotlib.figure.Figure)


def test_monkeypatching_the_callable_module_is_undone_exactly():
    # pytest's monkeypatch reads the target's __dict__ to know what to put back: the
    # module facade must show the module's namespace there, or undo() deletes the
    # patched function from the module (rk.plot.save was gone after one test)
    mod = importlib.import_module("relukit.plot")
    original = mod.save
    assert vars(mod)["save"] is original
    with pytest.MonkeyPatch.context() as m:
        m.setattr(mod, "save", lambda *a, **k: None)
        assert mod.save is not original
    assert mod.save is original
    from relukit.plot import save

    assert save is original
    assert rk.plot.__name__ == "relukit.plot" and callable(rk.plot)


# ---------------------------------------------------------------------------
# sampling (no figures): exact kinks, endpoints, breaks
# ---------------------------------------------------------------------------


@given(
    lo=st.floats(-50, 49, allow_nan=False),
    width=st.floats(1e-3, 100),
    num=st.integers(2, 400),
    low=st.floats(-20, 0),
    span=st.floats(0.5, 20),
)
def test_samples_hit_kinks_exactly_and_never_bridge_them(lo, width, num, low, span):
    hi = lo + width
    curve = Curve(CLIP, {}, CLIP.bind((), {"low": low, "high": low + span}), False)
    kinks = [k for k in (low, low + span) if lo <= k <= hi]

    x, y = value_samples(curve, lo, hi, num)
    assert x[0] == lo and x[-1] == hi and np.all(np.diff(x) > 0)
    assert len(x) >= num
    for k in kinks:
        assert k in x  # the value curve passes through every kink exactly
    np.testing.assert_array_equal(y, np.clip(x, low, low + span))

    xd, yd = derivative_samples(curve, lo, hi, num)
    finite = ~np.isnan(xd)
    assert np.isnan(yd[~finite]).all()  # breaks in x are breaks in y
    inner = [k for k in kinks if lo < k < hi]
    assert (~finite).sum() == len(inner)  # one break per kink inside the range
    for k in kinks:
        assert k not in xd[finite]  # the kink itself is shown by the markers
    # no piece of line crosses a kink: consecutive points lie on the same side
    for a, b in itertools.pairwise(xd):
        if not (np.isnan(a) or np.isnan(b)):
            assert not any(a < k < b for k in kinks)
    # each piece ends right at the kink (the line reaches the open circle)
    for k in inner:
        assert np.min(np.abs(xd[finite] - k)) <= 4 * np.spacing(abs(k) + 1)
    oracle = np.where((xd > low) & (xd < low + span), 1.0, 0.0)
    np.testing.assert_array_equal(yd[finite], oracle[finite])


# ---------------------------------------------------------------------------
# content of the figures: every catalogue entry
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("act", CATALOGUE, ids=IDS)
def test_every_entry_value_derivative_and_kinks(act):
    # a gated entry: a function of the gate, up fixed at 1 (the default)
    f = one_input(act)
    fig = rk.plot(act.name, derivative=True, xlim=(-7.0, 7.0), num=801)
    ax_v, ax_d = fig.axes
    assert [ax_v.get_xlabel(), ax_v.get_ylabel(), ax_d.get_ylabel()] == ["x", "f(x)", "f'(x)"]
    assert ax_v.get_xlim() == (-7.0, 7.0)
    assert fig.get_suptitle() == f"{act.title} and its derivative"

    (value,) = ax_v.lines
    x, y = xy(value)
    assert x[0] == -7.0 and x[-1] == 7.0 and len(x) >= 801
    np.testing.assert_array_equal(y, np.asarray(f(x), dtype=float))

    (deriv,) = lines(ax_d, "derivative")
    xd, yd = xy(deriv)
    finite = ~np.isnan(xd)
    kinks = [k for k in act.kink_points() if -7 <= k[0] <= 7]
    away = finite & np.all([np.abs(xd - k[0]) > 1e-3 for k in kinks] or [finite], axis=0)
    # independent: the derivative line is the slope of the value (finite differences)
    np.testing.assert_allclose(yd[away], fd(f, xd[away]), rtol=1e-5, atol=1e-6)

    # a visible jump: limits or the value used differ by more than 1e-6 (softplus's
    # 2e-9 step at x = threshold is not marked)
    jumps = [k for k in kinks if not (close(k[1], k[2]) and close(k[3], k[1]))]
    if not jumps:
        assert not lines(ax_d, "kink-limits")
        return
    (open_,) = lines(ax_d, "kink-limits")
    (dot,) = lines(ax_d, "kink-used")
    assert points(open_) == sorted([(k[0], k[1]) for k in jumps] + [(k[0], k[2]) for k in jumps])
    assert points(dot) == sorted((k[0], k[3]) for k in jumps)
    h = 1e-6
    for kx, left, right, used in jumps:
        # independent: one-sided finite differences give the open circles' heights
        left_fd = (f(kx - h) - f(kx - 2 * h)) / h
        right_fd = (f(kx + 2 * h) - f(kx + h)) / h
        assert left == pytest.approx(left_fd, abs=1e-4)
        assert right == pytest.approx(right_fd, abs=1e-4)
        # the filled dot is what .derivative returns at the kink (d/d gate at up = 1)
        assert used == (act.derivative(kx, 1.0)[0] if act.gated else act.derivative(kx))
    assert legend_texts(ax_d)[-2:] == [
        "one-sided limits",
        "derivative used at the kink (PyTorch's)",
    ]
    # markers are drawn as hollow circles and filled dots, in the curve's colour
    assert open_.get_markerfacecolor() != deriv.get_color()
    assert dot.get_markerfacecolor() == deriv.get_color() == value.get_color()


def test_relu_figure_against_float64_formulas():
    fig = rk.plot("relu", derivative=True)
    ax_v, ax_d = fig.axes
    x, y = xy(ax_v.lines[0])
    assert 0.0 in x and x[0] == -6 and x[-1] == 6
    np.testing.assert_array_equal(y, np.maximum(x, 0.0))
    xd, yd = xy(lines(ax_d, "derivative")[0])
    ok = ~np.isnan(xd)
    np.testing.assert_array_equal(yd[ok], (xd[ok] > 0).astype(float))
    # one break, at 0: two steps, no vertical connector
    assert np.isnan(xd).sum() == 1
    assert points(lines(ax_d, "kink-limits")[0]) == [(0.0, 0.0), (0.0, 1.0)]
    assert points(lines(ax_d, "kink-used")[0]) == [(0.0, 0.0)]
    assert legend_texts(ax_v) == ["relu(x) = max(0, x)"]
    assert legend_texts(ax_d) == [
        "relu'(x) = 1 if x > 0, 0 if x <= 0",
        "one-sided limits",
        "derivative used at the kink (PyTorch's)",
    ]
    assert [ax_v.get_title(), ax_d.get_title()] == ["value", "derivative"]


@pytest.mark.torch
@pytest.mark.parametrize("name, slope", [("relu", None), ("leaky_relu", 0.01), ("leaky_relu", 0.3)])
def test_filled_dot_is_pytorch_autograd_at_the_kink(name, slope):
    torch = pytest.importorskip("torch")
    params = {} if slope is None else {"negative_slope": slope}
    fig = rk.plot(name, derivative="only", **params)
    (dot,) = lines(fig.axes[0], "kink-used")
    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    f = torch.nn.functional.relu if slope is None else torch.nn.functional.leaky_relu
    f(t, **params).backward()
    assert points(dot) == [(0.0, t.grad.item())]


def test_at_kink_moves_the_filled_dot_only():
    fig = rk.plot("relu", "leaky_relu", derivative="only", at_kink=1.0, negative_slope=0.2)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "f'(x)"
    assert not lines(ax, "value")
    for name, left in (("relu", 0.0), ("leaky_relu", 0.2)):
        assert points(lines_named(ax, "kink-used", name)[0]) == [(0.0, 1.0)]
        assert points(lines_named(ax, "kink-limits", name)[0]) == [(0.0, left), (0.0, 1.0)]
    assert legend_texts(ax)[-1] == "derivative used at the kink (at_kink=1)"
    fig = rk.plot("relu", derivative="only", at_kink=math.nan)
    (dot,) = lines(fig.axes[0], "kink-used")
    assert np.isnan(dot.get_ydata()[0])


def lines_named(ax, kind, name):
    return [ln for ln in ax.lines if ln.get_gid() == f"{kind}:{name}"]


# ---------------------------------------------------------------------------
# gated entries: a function of the gate, with up fixed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GATE_F))
@pytest.mark.parametrize("up", [1.0, -0.5, 2.5])
def test_gated_entries_are_drawn_in_the_gate_with_up_fixed(name, up):
    f, df = GATE_F[name]
    fig = rk.plot(name, derivative=True, up=up, num=301)
    ax_v, ax_d = fig.axes
    x, y = xy(lines(ax_v, "value")[0])
    # the composite written out in NumPy: f(gate) * up, and d/d gate = f'(gate) * up
    np.testing.assert_allclose(y, f(x) * up, rtol=1e-14, atol=1e-300)
    xd, yd = xy(lines(ax_d, "derivative")[0])
    ok = ~np.isnan(xd)
    np.testing.assert_allclose(yd[ok], df(xd[ok]) * up, rtol=1e-13, atol=1e-300)
    assert legend_texts(ax_v)[0].endswith(f"up={up:g}")
    assert legend_texts(ax_d)[0].startswith("d/d gate = ")  # the derivative that is drawn
    assert "d/d up" not in " ".join(legend_texts(ax_d))
    if name == "reglu":  # the kink of relu, scaled by up: limits 0 and up, used 0
        assert points(lines(ax_d, "kink-limits")[0]) == sorted([(0.0, 0.0), (0.0, up)])
        assert points(lines(ax_d, "kink-used")[0]) == [(0.0, 0.0)]
        assert np.isnan(xd).sum() == 1  # broken at 0, as relu'
    else:
        assert not lines(ax_d, "kink-limits") and np.isnan(xd).sum() == 0


def test_gated_up_sweeps_at_kink_and_labels():
    fig = rk.plot("reglu", derivative=True, up=[1, -0.5, 2], at_kink=1.0)
    ax_v, ax_d = fig.axes
    assert [ln.get_label() for ln in lines(ax_v, "value")] == [
        "reglu(x, up=1)", "reglu(x, up=-0.5)", "reglu(x, up=2)"
    ]  # fmt: skip
    assert [ln.get_label() for ln in lines(ax_d, "derivative")] == [
        "d/dx reglu(x, up=1)", "d/dx reglu(x, up=-0.5)", "d/dx reglu(x, up=2)"
    ]  # fmt: skip
    # at_kink replaces relu'(0): d/d gate at 0 is at_kink * up, as reglu.derivative says
    dots = [points(d) for d in lines(ax_d, "kink-used")]
    assert dots == [[(0.0, 1.0)], [(0.0, -0.5)], [(0.0, 2.0)]]
    assert [rk.reglu.derivative(0.0, u, at_kink=1.0)[0] for u in (1, -0.5, 2)] == [1, -0.5, 2]
    # the panels' titles are the two-input formula and the derivative that is drawn
    assert ax_v.get_title() == "reglu(gate, up) = max(0, gate) * up"
    assert ax_d.get_title() == "d/d gate = (1 if gate > 0 else 0) * up"
    # up = 0: no visible jump, no markers
    fig = rk.plot("reglu", derivative="only", up=0.0)
    assert not lines(fig.axes[0], "kink-limits")
    # a gated entry next to a one-input entry; up applies to the gated one only
    fig = rk.plot("relu", "swiglu", up=3.0)
    x, y = xy(lines_named(fig.axes[0], "value", "relu")[0])
    np.testing.assert_array_equal(y, np.maximum(x, 0.0))
    x, y = xy(lines_named(fig.axes[0], "value", "swiglu")[0])
    np.testing.assert_allclose(y, 3.0 * x * _sig(x), rtol=1e-14)
    assert legend_texts(fig.axes[0])[1].endswith("beta=1, up=3")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"up": 2.0}, TypeError, r"up= fixes the second input of a gated entry \(glu, reglu"),
        ({"up": math.nan, "extra": "swiglu"}, ValueError, "up must be a finite real number"),
        ({"up": math.inf, "extra": "swiglu"}, ValueError, "up must be a finite real number"),
        ({"up": True, "extra": "swiglu"}, TypeError, r"up must be a finite.*True \(bool\)"),
        ({"up": "1", "extra": "swiglu"}, TypeError, "up must be a finite real number"),
        ({"up": [], "extra": "swiglu"}, ValueError, "up was given as an empty list"),
        ({"up": [1.0, None], "extra": "swiglu"}, TypeError, "up must be a finite"),
        ({"beta": 0.0, "extra": "swiglu"}, ValueError, "beta must be a finite real number > 0"),
    ],
)
def test_gated_bad_up_is_a_clear_error(kwargs, exc, match):
    kwargs = dict(kwargs)
    acts = ["relu", *([kwargs.pop("extra")] if "extra" in kwargs else [])]
    n = len(plt.get_fignums())
    with pytest.raises(exc, match=match):
        rk.plot(*acts, **kwargs)
    assert len(plt.get_fignums()) == n


def test_parameter_dependent_kinks_follow_the_parameters():
    fig = rk.plot(CLIP, derivative="only", low=-2.0, high=3.0)
    ax = fig.axes[0]
    assert points(lines(ax, "kink-limits")[0]) == [(-2.0, 0.0), (-2.0, 1.0), (3.0, 0.0), (3.0, 1.0)]
    assert points(lines(ax, "kink-used")[0]) == [(-2.0, 0.0), (3.0, 0.0)]
    xd, yd = xy(lines(ax, "derivative")[0])
    assert np.isnan(xd).sum() == 2
    # a kink outside the range gets no marker and no break
    fig = rk.plot(CLIP, derivative="only", low=-2.0, high=30.0, xlim=(-6, 6))
    ax = fig.axes[0]
    assert points(lines(ax, "kink-used")[0]) == [(-2.0, 0.0)]
    assert np.isnan(xy(lines(ax, "derivative")[0])[0]).sum() == 1
    # formula labels show the values drawn
    assert legend_texts(ax)[0] == (
        "clip_for_tests'(x) = 1 if low < x < high, 0 otherwise; low=-2, high=30"
    )


@pytest.mark.parametrize(
    "params, half",
    [({}, 6.0), ({"low": -5.0, "high": 5.0}, 6.0), ({"high": 5.5}, 7.0), ({"low": -30.0}, 31.0)],
)
def test_default_range_shows_every_kink(params, half):
    fig = rk.plot(CLIP, derivative=True, **params)
    for ax in fig.axes:
        assert ax.get_xlim() == (-half, half)
    kinks = [k[0] for k in CLIP.kink_points(**params)]
    (dot,) = lines(fig.axes[1], "kink-used")
    assert sorted(dot.get_xdata()) == sorted(kinks)


def test_invisible_jumps_get_no_markers_and_do_not_widen_the_range():
    # softplus switches to x at beta * x > threshold: its derivative steps by ~2e-9 there
    if "softplus" not in IDS:
        pytest.skip("softplus is not in the catalogue")
    (kx, left, right, _), *_ = rk.get("softplus").kink_points()
    assert 0 < right - left < 1e-6
    fig = rk.plot("softplus", derivative=True)
    assert fig.axes[0].get_xlim() == (-6.0, 6.0)
    fig = rk.plot("softplus", derivative="only", xlim=(-2 * kx, 2 * kx))
    assert not lines(fig.axes[0], "kink-limits") and not lines(fig.axes[0], "kink-used")
    xd, _ = xy(lines(fig.axes[0], "derivative")[0])
    assert np.isnan(xd).sum() == 1  # the line is still not drawn across the kink
    # an at_kink value away from both limits makes it a visible point again
    fig = rk.plot("softplus", derivative="only", xlim=(-2 * kx, 2 * kx), at_kink=0.5)
    assert points(lines(fig.axes[0], "kink-used")[0]) == [(kx, 0.5)]


# ---------------------------------------------------------------------------
# sweeps, several activations, ax=, grid, styles
# ---------------------------------------------------------------------------


def test_sweep_draws_one_curve_per_value():
    slopes = [0.01, 0.1, 0.3]
    fig = rk.plot("leaky_relu", negative_slope=slopes, derivative=True)
    ax_v, ax_d = fig.axes
    assert len(ax_v.lines) == 3
    for line, s in zip(ax_v.lines, slopes, strict=True):
        x, y = xy(line)
        np.testing.assert_allclose(y, np.where(x > 0, x, s * x), rtol=0, atol=0)
        assert line.get_label() == f"leaky_relu(x), negative_slope={s:g}"
    dots = lines(ax_d, "kink-used")
    assert [points(d) for d in dots] == [[(0.0, s)] for s in slopes]
    colours = [ln.get_color() for ln in ax_v.lines]
    assert len(set(colours)) == 3
    assert [ln.get_color() for ln in lines(ax_d, "derivative")] == colours
    assert ax_v.get_title() == rk.leaky_relu.formula  # the formula goes on top
    # a sweep by tuple or array is the same; an empty one is an error
    assert len(rk.plot("leaky_relu", negative_slope=np.array(slopes)).axes[0].lines) == 3
    with pytest.raises(ValueError, match="negative_slope was given as an empty list"):
        rk.plot("leaky_relu", negative_slope=[])


def test_two_parameters_sweep_the_product():
    fig = rk.plot(CLIP, low=[-1.0, -2.0], high=[1.0, 2.0, 3.0])
    assert len(fig.axes[0].lines) == 6
    labels = [ln.get_label() for ln in fig.axes[0].lines]
    assert "clip_for_tests(x), low=-2, high=3" in labels


def test_parameters_apply_to_the_activations_that_have_them():
    fig = rk.plot("relu", "leaky_relu", negative_slope=0.2)
    ax = fig.axes[0]
    (relu_line,) = lines_named(ax, "value", "relu")
    (leaky_line,) = lines_named(ax, "value", "leaky_relu")
    x, y = xy(relu_line)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    x, y = xy(leaky_line)
    np.testing.assert_allclose(y, np.where(x > 0, x, 0.2 * x), rtol=0, atol=0)
    assert legend_texts(ax) == [
        "relu(x) = max(0, x)",
        "leaky_relu(x) = x if x > 0, negative_slope * x if x <= 0; negative_slope=0.2",
    ]
    # long labels are wrapped, so the legends stay narrow
    assert all(
        len(line) <= 64 for t in ax.get_legend().get_texts() for line in t.get_text().split("\n")
    )
    assert fig.get_suptitle() == "ReLU and Leaky ReLU"
    with pytest.raises(TypeError, match="no activation drawn accepts parameter 'negative_slope'"):
        rk.plot("relu", negative_slope=0.2)
    with pytest.raises(ValueError, match="negative_slope"):
        rk.plot("leaky_relu", negative_slope=math.inf)


def test_draws_into_given_axes():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="mine")
    out = rk.plot(rk.relu, derivative=True, ax=ax)
    assert out is fig
    # mine + value + derivative + open circles + filled dot
    assert len(ax.lines) == 5
    assert ax.get_ylabel() == "f(x), f'(x)"
    assert ax.get_title() == "ReLU and its derivative"
    assert lines(ax, "derivative")[0].get_linestyle() == "--"

    fig, (a, b) = plt.subplots(1, 2)
    assert rk.plot("relu", "leaky_relu", derivative=True, ax=(a, b)) is fig
    assert len(lines(a, "value")) == 2 and len(lines(b, "derivative")) == 2
    assert not lines(a, "derivative") and not lines(b, "value")
    with pytest.raises(ValueError, match="pair"):
        rk.plot("relu", ax=(a, b))
    with pytest.raises(ValueError, match="layout='overlay'"):
        rk.plot("relu", ax=a, layout="grid")


def test_grid_has_one_panel_per_activation():
    fig = rk.plot(*CATALOGUE, layout="grid", derivative=True)
    assert len(fig.axes) == len(CATALOGUE)
    assert fig.get_suptitle() == "The relukit catalogue: f(x) solid, f'(x) dashed"
    for ax, act in zip(fig.axes, CATALOGUE, strict=True):
        assert ax.get_title() == act.title
        (v,) = lines(ax, "value")
        (d,) = lines(ax, "derivative")
        x, y = xy(v)
        np.testing.assert_array_equal(y, np.asarray(one_input(act)(x), dtype=float))
        if act.gated:  # drawn in the gate, up = 1
            assert legend_texts(ax) == [f"{act.name}(x, up=1)", f"d/dx {act.name}(x, up=1)"]
        else:
            assert legend_texts(ax) == [f"{act.name}(x)", f"{act.name}'(x)"]
        assert d.get_linestyle() == "--"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "one-sided limits",
        "derivative used at the kink (PyTorch's)",
    ]
    # a sweep stays inside its panel; a 5-panel grid drops its empty axes
    fig = rk.plot(
        "relu", "leaky_relu", CLIP, "relu", "leaky_relu", layout="grid", negative_slope=[0.1, 0.2]
    )
    assert len(fig.axes) == 5
    assert len(lines(fig.axes[1], "value")) == 2


def _luminance(colour):
    r, g, b, _ = matplotlib.colors.to_rgba(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("style, dark", [(None, False), ("dark", True), ("light", False)])
def test_styles_for_print_and_dark_backgrounds(style, dark):
    before = dict(plt.rcParams)
    fig = rk.plot("relu", derivative=True, style=style)
    ax_v, ax_d = fig.axes
    assert (_luminance(fig.get_facecolor()) < 0.2) is dark
    assert (_luminance(ax_v.get_facecolor()) < 0.2) is dark
    assert (_luminance(fig._suptitle.get_color()) > 0.8) is dark
    assert (_luminance(ax_v.xaxis.label.get_color()) > 0.8) is dark
    # the hollow circles are filled with the background, so they read as hollow on both
    (open_,) = lines(ax_d, "kink-limits")
    assert matplotlib.colors.same_color(open_.get_markerfacecolor(), ax_d.get_facecolor())
    assert dict(plt.rcParams) == before  # the style does not leak
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"derivative": "yes"}, ValueError, "derivative must be True, False or 'only'"),
        ({"derivative": 1}, ValueError, "derivative must be"),
        ({"layout": "stack"}, ValueError, "layout must be 'overlay' or 'grid'"),
        ({"xlim": (3, -3)}, ValueError, "low < high"),
        ({"xlim": (0, math.inf)}, ValueError, "finite"),
        ({"xlim": 5}, TypeError, "xlim must be a pair"),
        ({"xlim": ("a", 1)}, TypeError, "xlim must be a pair"),
        ({"num": 1}, ValueError, "num must be an integer >= 2"),
        ({"num": 2.5}, ValueError, "num must be an integer"),
        ({"at_kink": True}, TypeError, "at_kink must be None"),
        ({"at_kink": "1"}, TypeError, "at_kink must be None"),
        ({"style": "neon"}, ValueError, "unknown style 'neon'"),
        ({"style": 3}, TypeError, "style must be"),
        ({"title": 3}, TypeError, "title must be"),
        ({"alpha": 1.0}, TypeError, "parameter 'alpha'"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        rk.plot("relu", **kwargs)


def test_bad_activations_are_clear_errors():
    with pytest.raises(TypeError, match="at least one activation"):
        rk.plot()
    with pytest.raises(rk.UnknownActivationError, match="reluu"):
        rk.plot("reluu")
    with pytest.raises(TypeError, match="activation must be a name"):
        rk.plot(3)
    slopes = [0.1, 0.2]
    with pytest.raises(TypeError, match="negative_slope"):
        rk.plot("leaky_relu", negative_slope=[0.1, "a"])
    assert slopes == [0.1, 0.2]  # inputs untouched


def _boom(m, x):
    raise RuntimeError("boom")


BROKEN = Activation(
    name="broken_for_tests",
    formula="broken(x)",
    derivative_formula="broken'(x)",
    latex="",
    derivative_latex="",
    math=Math(_boom, _boom),
)


def test_no_figure_is_left_open_by_an_error():
    n = len(plt.get_fignums())
    with pytest.raises(ValueError):
        rk.plot("relu", style="neon")
    with pytest.raises(RuntimeError, match="boom"):  # fails after the figure was made
        rk.plot("relu", BROKEN, derivative=True)
    with pytest.raises(RuntimeError, match="boom"):
        rk.plot("relu", BROKEN, layout="grid")
    assert len(plt.get_fignums()) == n


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<svg", ".pdf": b"%PDF-"}


@pytest.mark.parametrize("ext", [".png", ".svg", ".pdf"])
def test_cli_writes_valid_files(tmp_path, capsys, ext):
    out = tmp_path / f"relu{ext}"
    argv = ["plot", "relu", "leaky_relu", "--derivative", "--negative-slope", "0.1"]
    assert main([*argv, "--range", "-10", "10", "-o", str(out), "--dpi", "60"]) == 0
    data = out.read_bytes()
    if ext == ".svg":
        assert MAGIC[ext] in data[:400] and data.rstrip().endswith(b"</svg>")
    else:
        assert data.startswith(MAGIC[ext])
    if ext == ".pdf":
        assert data.rstrip().endswith(b"%%EOF")
    if ext == ".png":
        assert data[12:16] == b"IHDR" and data.rstrip().endswith(b"IEND\xaeB`\x82")
    assert capsys.readouterr().out.strip() == f"wrote {out}"


@pytest.fixture
def saved(monkeypatch):
    """Record the figures that ``relukit plot`` saves, to check their content."""
    plot_mod = importlib.import_module("relukit.plot")
    figs = []
    original = plot_mod.save

    def spy(fig, path, **kw):
        figs.append(fig)
        return original(fig, path, **kw)

    monkeypatch.setattr(plot_mod, "save", spy)
    return figs


def test_cli_content(tmp_path, saved, capsys):
    out = str(tmp_path / "a.png")
    argv = ["plot", "relu", "leaky_relu", "-d", "--negative-slope", "0.1", "--range", "-10", "10"]
    assert main([*argv, "-o", out, "--dpi", "40"]) == 0
    ax_v, ax_d = saved[-1].axes
    assert ax_v.get_xlim() == (-10.0, 10.0)
    assert legend_texts(ax_v)[1] == (
        "leaky_relu(x) = x if x > 0, negative_slope * x if x <= 0; negative_slope=0.1"
    )
    assert points(lines_named(ax_d, "kink-used", "leaky_relu")[0]) == [(0.0, 0.1)]

    assert main(["plot", "leaky_relu", "--negative-slope", "0.01", "0.1", "0.3", "-o", out]) == 0
    assert len(saved[-1].axes[0].lines) == 3

    args = ["plot", "relu", "--derivative-only", "--at-kink", "1", "--style", "dark", "-o", out]
    assert main(args) == 0
    (ax,) = saved[-1].axes
    assert points(lines(ax, "kink-used")[0]) == [(0.0, 1.0)]
    assert _luminance(saved[-1].get_facecolor()) < 0.2

    assert main(["plot", "--all", "--dpi", "40", "--num", "101", "-o", out]) == 0
    assert len(saved[-1].axes) == len(CATALOGUE)
    # a gated entry with its second input fixed (--up, several values: a sweep)
    assert main(["plot", "swiglu", "-d", "--up", "2", "-0.5", "--beta", "1.5", "-o", out]) == 0
    ax_v, ax_d = saved[-1].axes
    assert [ln.get_label() for ln in lines(ax_v, "value")] == [
        "swiglu(x, up=2), beta=1.5", "swiglu(x, up=-0.5), beta=1.5"
    ]  # fmt: skip
    x, y = xy(lines(ax_v, "value")[1])
    np.testing.assert_allclose(y, -0.5 * x * _sig(1.5 * x), rtol=1e-14)
    assert main(["plot", "relu", "-d", "--title", "", "-o", out]) == 0
    assert saved[-1].get_suptitle() == ""
    assert plt.get_fignums() == []  # the command closes its figures
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["plot", "relu", "-o", "{tmp}/a.jpg"], "must be .png, .svg or .pdf (got '.jpg')"),
        (["plot", "relu", "-o", "{tmp}/a"], "must be .png, .svg or .pdf (got 'none')"),
        (["plot", "relu", "-o", "{tmp}/no/a.png"], "does not exist"),
        (["plot", "relu"], "give -o FILE"),
        (["plot", "-o", "{tmp}/a.png"], "give one or more activation names"),
        (["plot", "relu", "--all", "-o", "{tmp}/a.png"], "not both"),
        (["plot", "reluu", "-o", "{tmp}/a.png"], "unknown activation 'reluu'"),
        (["plot", "relu", "--range", "3", "-3", "-o", "{tmp}/a.png"], "--range"),
        (["plot", "relu", "--dpi", "0", "-o", "{tmp}/a.png"], "--dpi"),
        (["plot", "relu", "--negative-slope", "0.1", "-o", "{tmp}/a.png"], "negative_slope"),
        (["plot", "relu", "--style", "neon", "-o", "{tmp}/a.png"], "unknown style"),
        (["plot", "relu", "--show"], "--show needs a window"),
        (["plot", "relu", "--up", "2", "-o", "{tmp}/a.png"], "second input of a gated entry"),
        (["plot", "glu", "--up", "nan", "-o", "{tmp}/a.png"], "up must be a finite real"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("relukit plot: error:")
    assert message in err
    assert list(tmp_path.rglob("*")) == []  # nothing written


# ---------------------------------------------------------------------------
# demo and docs figures
# ---------------------------------------------------------------------------


def test_demo_figures(tmp_path):
    from rich.console import Console

    from relukit.plot import demo_figures

    buf = io.StringIO()
    paths = demo_figures(tmp_path / "out", Console(file=buf, width=300))
    assert [p.name for p in paths] == ["relu.png", "gallery.png"]
    for p in paths:
        assert p.read_bytes().startswith(MAGIC[".png"])
        assert str(p.resolve()) in buf.getvalue()
    assert plt.get_fignums() == []


def test_build_figures_script(tmp_path):
    spec = importlib.util.spec_from_file_location("build_figures", ROOT / "docs/build_figures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (tmp_path / "removed_entry.png").write_bytes(b"stale")
    (tmp_path / "relu.png").write_bytes(b"old")
    # two entries (one with parameter-dependent kinks) and the gallery, to stay fast
    paths = mod.build(tmp_path, dpi=30, names=["relu", "leaky_relu"])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["gallery.png", "leaky_relu.png", "relu.png"]  # the stale file is gone
    assert sorted(p.name for p in paths) == names
    for p in paths:
        assert p.read_bytes().startswith(MAGIC[".png"])


def test_committed_docs_figures_cover_the_catalogue():
    figures = ROOT / "docs" / "figures"
    have = {p.name for p in figures.glob("*.png")}
    want = {f"{a.name}.png" for a in CATALOGUE} | {"gallery.png"}
    assert want <= have, f"run python docs/build_figures.py (missing {sorted(want - have)})"
