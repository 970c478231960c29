"""Few-bit backward (``bits=``): the levels, the autograd Function (its Triton kernels:
tests/test_triton.py).

Oracles independent of the code under test: the optimum is checked by its optimality
conditions (each level is the normal-weighted mean of the derivative on its interval,
by scipy quadrature; each boundary where the derivative is continuous sits where the
derivative equals the mean of the two neighbouring levels) and against the reference
errors computed independently for the issue (gelu 0.290/0.133/0.065, silu
0.291/0.144/0.071); the gradient is checked against ``torch.nn.functional``'s exact
derivative times nothing but the level looked up with ``numpy.searchsorted``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
rt = pytest.importorskip("relukit.torch")
F = torch.nn.functional

from _torch_ref import close_to_torch, np_grad, np_value, same_bits  # noqa: E402
from relukit.torch import _levels  # noqa: E402

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parent.parent
NAMES = [
    ("gelu", {"approximate": "none"}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("softplus", {}),
    ("hardswish", {}),
]


def torch_value(name, x, params):
    if name == "gelu":
        return F.gelu(x, approximate=params.get("approximate", "none"))
    if name == "softplus":
        return F.softplus(x, params.get("beta", 1.0), params.get("threshold", 20.0))
    return getattr(F, name)(x)


def relukit_call(name, x, params, bits):
    if name == "softplus":
        return rt.softplus(x, params.get("beta", 1.0), params.get("threshold", 20.0), bits=bits)
    if name == "gelu":
        return rt.gelu(x, params.get("approximate", "none"), bits=bits)
    return getattr(rt, name)(x, bits=bits)


# ---------------------------------------------------------------------------
# the levels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "refs"), [("gelu", (0.290, 0.133, 0.065)), ("silu", (0.291, 0.144, 0.071))]
)
def test_error_within_ten_percent_of_reference_optimum(name, refs):
    for bits, ref in zip((1, 2, 3), refs, strict=True):
        b, lv = rt.derivative_levels(name, bits)
        err = _levels.relative_error(name, b, lv)
        assert err <= 1.10 * ref, (bits, err, ref)
        assert err >= 0.95 * ref, (bits, err, ref)  # below the optimum would be a wrong error


@pytest.mark.parametrize(("name", "params"), NAMES)
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_levels_are_optimal(name, params, bits):
    """Lloyd's conditions, by quadrature: levels are interval means, boundaries midpoints."""
    from scipy import integrate
    from scipy.stats import norm

    import relukit

    d = lambda x: float(relukit.get(name).derivative(float(x), **params))  # noqa: E731
    b, lv = rt.derivative_levels(name, bits, **params)
    assert len(b) == 2**bits - 1 and len(lv) == 2**bits
    assert all(u < v for u, v in itertools.pairwise(b))
    edges = [-12.0, *b, 12.0]
    for k in range(2**bits):
        lo, hi = edges[k], edges[k + 1]
        pts = [p for p in (-3.0, 3.0) if lo < p < hi]
        num = integrate.quad(lambda x: d(x) * norm.pdf(x), lo, hi, points=pts or None)[0]
        den = norm.cdf(hi) - norm.cdf(lo)
        assert lv[k] == pytest.approx(num / den, abs=2e-4)
    kinks = (-3.0, 3.0) if name == "hardswish" else ()
    for k, t in enumerate(b):
        if t in kinks:
            continue
        # f'(t) = (l_k + l_{k+1}) / 2, to the grid's resolution (0.005) times max |f''|
        assert d(t) == pytest.approx((lv[k] + lv[k + 1]) / 2, abs=0.01)


def test_table_rows_regenerate():
    """The committed table equals a fresh run of the dynamic programme (some rows)."""
    table = json.loads((ROOT / "src/relukit/torch/_levels.json").read_text())["entries"]
    for name, params, bits in [("gelu", {"approximate": "none"}, 2), ("hardswish", {}, 1)]:
        cname, key = _levels.canonical(name, params)
        row = table[_levels.key_string(cname, key)][str(bits)]
        b, lv = _levels.optimal_levels(cname, bits, key)
        assert list(b) == pytest.approx(row["boundaries"], abs=1e-12)
        assert list(lv) == pytest.approx(row["levels"], abs=1e-12)


def test_readme_error_table_matches_the_table():
    """The README's error table is the committed table's, rounded to 3 digits."""
    import re

    table = json.loads((ROOT / "src/relukit/torch/_levels.json").read_text())["entries"]
    readme = (ROOT / "README.md").read_text()
    readme = readme[readme.index("### Few-bit backward") :]  # its own section
    labels = {"gelu": "gelu(approximate='none')", "gelu (tanh)": "gelu(approximate='tanh')",
              "silu": "silu()", "mish": "mish()",
              "softplus": "softplus(beta=1.0, threshold=20.0)", "hardswish": "hardswish()"}  # fmt: skip
    for label, key in labels.items():
        m = re.search(rf"^\| {re.escape(label)} \| (.*) \|$", readme, re.M)
        assert m, label
        want = [f"{table[key][str(b)]['relative_error']:.3f}" for b in range(1, 5)]
        assert m.group(1).split(" | ") == want, label


def test_non_default_parameters_computed_on_the_fly():
    b, lv = rt.derivative_levels("softplus", 1, beta=2.0)
    # softplus' with beta=2 is sigmoid(2x): symmetric about (0, 1/2)
    assert b == (0.0,)
    assert lv[0] + lv[1] == pytest.approx(1.0, abs=1e-9)
    assert rt.derivative_levels("softplus", 1, beta=2.0) is rt.derivative_levels(
        "softplus", 1, beta=2.0
    )  # cached
    # alias names resolve through the catalogue
    assert rt.derivative_levels("swish", 2) == rt.derivative_levels("silu", 2)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        (("relu", 1), {}, ValueError, "no few-bit backward for 'relu'"),
        (("gelu", 0), {}, ValueError, "bits must be None .* from 1 to 4, got 0"),
        (("gelu", 5), {}, ValueError, "got 5"),
        (("gelu", 2.0), {}, TypeError, "got 2.0"),
        (("gelu", True), {}, TypeError, "got True"),
        (("gelu", 1), {"approximate": "fast"}, ValueError, "approximate"),
        (("softplus", 1), {"beta": -1.0}, ValueError, "beta"),
        (("silu", 1), {"beta": 1.0}, TypeError, "unexpected parameter 'beta'"),
    ],
)
def test_derivative_levels_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        rt.derivative_levels(*args, **kwargs)


# ---------------------------------------------------------------------------
# the autograd Function
# ---------------------------------------------------------------------------

SPECIALS = [0.0, -0.0, 3.0, -3.0, math.inf, -math.inf, 1e-40, -1e-40, 30.0, -30.0]


@pytest.mark.parametrize(
    ("name", "params"), [*NAMES, ("softplus", {"beta": 2.0, "threshold": 5.0})]
)
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_value_exact_gradient_is_level_times_grad(name, params, bits, dtype):
    torch.manual_seed(bits)
    x = torch.cat([torch.randn(997, dtype=dtype) * 2, torch.tensor(SPECIALS, dtype=dtype)])
    b, lv = rt.derivative_levels(name, bits, **params)
    xr = x.clone().requires_grad_()
    y = relukit_call(name, xr, params, bits)
    exact = relukit_call(name, x, params, None)  # bits=None: today's value path
    assert torch.equal(y.detach(), exact) and torch.equal(y.signbit(), exact.signbit())
    # the exact value: the NumPy API's bits, within a few ulp of torch.nn's where x is
    # finite (at ±inf relukit gives the limits, torch NaN for some)
    assert same_bits(y.detach(), np_value(name, x, **params))
    finite = x.isfinite()
    assert close_to_torch(y[finite], torch_value(name, x, params)[finite]).all()
    g = torch.randn_like(x)
    (gx,) = torch.autograd.grad(y, xr, g, retain_graph=True)
    idx = np.searchsorted(np.asarray(b), x.numpy(), side="left")  # t_k < x <= t_{k+1}
    want = g * torch.tensor(np.asarray(lv)[idx], dtype=dtype)
    assert torch.equal(gx, want)
    # at most 2**bits distinct multipliers
    (ones,) = torch.autograd.grad(y, xr, torch.ones_like(x))
    assert len(torch.unique(ones)) <= 2**bits


@given(st.lists(st.floats(-8, 8, width=32), min_size=1, max_size=64), st.integers(1, 4))
def test_gradient_hypothesis(values, bits):
    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    rt.gelu(x, bits=bits).sum().backward()
    b, lv = rt.derivative_levels("gelu", bits)
    bt = torch.tensor(b, dtype=torch.float32)
    idx = np.searchsorted(bt.numpy(), x.detach().numpy(), side="left")
    assert torch.equal(x.grad, torch.tensor(np.asarray(lv, np.float32)[idx]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 7, 8, 9, 1000, 4099])
def test_cpu_kernels_equal_torch_ops(dtype, n):
    """The numba kernels and the torch-op path give the same bytes and gradients."""
    from relukit.torch import _fewbit

    torch.manual_seed(n)
    x = torch.cat(
        [torch.randn(n, dtype=dtype) * 3, torch.tensor([*SPECIALS, math.nan], dtype=dtype)]
    )
    g = torch.randn_like(x)
    for bits in (1, 2, 3, 4):
        b, lv, sh, rb = _fewbit._constants("silu", (), bits, x)
        p1, p2 = _fewbit._encode_numba(x, b, bits), _fewbit.encode(x, rb, sh)
        assert torch.equal(p1, p2)
        assert torch.equal(
            _fewbit._decode_numba(g, p1, lv, bits), _fewbit.decode_multiply(g, p2, lv, sh)
        )
    assert _fewbit._use_numba(x) and not _fewbit._use_numba(x[::2])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_torch_op_path(dtype):
    """float16/bfloat16 take the torch-op path; levels are rounded to the gradient's dtype."""
    torch.manual_seed(0)
    x = (torch.randn(1001) * 2).to(dtype).requires_grad_()
    g = torch.randn(1001).to(dtype)
    y = rt.silu(x, bits=3)
    assert y.dtype == dtype and torch.equal(y.detach(), rt.silu(x.detach()))
    (gx,) = torch.autograd.grad(y, x, g)
    b, lv = rt.derivative_levels("silu", 3)
    bt = torch.tensor(b, dtype=dtype).double().numpy()  # boundaries as compared: in dtype
    idx = np.searchsorted(bt, x.detach().double().numpy(), side="left")
    want = g * torch.tensor(np.asarray(lv)[idx]).to(dtype)
    assert gx.dtype == dtype and torch.equal(gx, want)


def test_torch_compile_graph_break():
    """torch.compile (not fullgraph) runs the Function eagerly: same gradients."""
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(8, 16), rt.GELU(bits=3), torch.nn.Linear(16, 1))
    x = torch.randn(32, 8)
    m(x).sum().backward()
    want = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    torch.compile(m, backend="aot_eager")(x).sum().backward()
    assert all(torch.equal(p.grad, w) for p, w in zip(m.parameters(), want, strict=True))


@pytest.mark.parametrize("bits", [1, 3])
def test_shapes_empty_scalar_noncontiguous(bits):
    for x in (
        torch.empty(0, 5),
        torch.empty(0, 5)[:, ::2],
        torch.tensor(2.0),
        torch.randn(4, 6).t(),
    ):
        xr = x.clone().requires_grad_() if x.is_contiguous() else x.requires_grad_()
        y = rt.gelu(xr, bits=bits)
        assert y.shape == x.shape
        (g,) = torch.autograd.grad(y.sum(), xr)
        assert g.shape == x.shape
        b, lv = rt.derivative_levels("gelu", bits)
        idx = np.searchsorted(np.asarray(b, np.float32), x.detach().numpy(), side="left")
        assert torch.equal(g, torch.tensor(np.asarray(lv, np.float32)[idx]).reshape(x.shape))


def test_nan_input():
    x = torch.tensor([math.nan, 1.0], requires_grad=True)
    y = rt.silu(x, bits=2)
    assert y[0].isnan()
    y.sum().backward()
    assert x.grad[0] == rt.derivative_levels("silu", 2)[1][-1]  # the last interval


def test_gradient_error_matches_table():
    """On N(0, 1) samples the gradient's relative error is the table's weighted error."""
    torch.manual_seed(0)
    x = torch.randn(400_000, dtype=torch.float64, requires_grad=True)
    for bits in (1, 3):
        (gq,) = torch.autograd.grad(rt.gelu(x, bits=bits).sum(), x)
        (ge,) = torch.autograd.grad(F.gelu(x).sum(), x)
        rel = ((gq - ge).norm() / ge.norm()).item()
        b, lv = rt.derivative_levels("gelu", bits)
        assert rel == pytest.approx(_levels.relative_error("gelu", b, lv), rel=0.02)


def unique_saved_bytes(fn, x):
    """Bytes of the distinct storages autograd saves (counted by storage identity)."""
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(seen.values())


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_saved_bytes_per_element(bits):
    n = 1 << 16
    x = torch.randn(n, requires_grad=True)
    saved = unique_saved_bytes(lambda t: rt.gelu(t, bits=bits), x)
    # b/8 bytes per element (the levels are a shared cached constant)
    assert saved == bits * n // 8
    assert unique_saved_bytes(lambda t: rt.gelu(t), x) >= 4 * n  # the exact path saves x


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda x: rt.gelu(x, bits=0), ValueError, r"relukit.torch.gelu: bits must be"),
        (lambda x: rt.silu(x, bits=5), ValueError, "got 5"),
        (lambda x: rt.mish(x, bits="3"), TypeError, "got '3'"),
        (lambda x: rt.softplus(x, bits=1.5), TypeError, "got 1.5"),
        (lambda x: rt.hardswish(x, bits=2, at_kink=1.0), ValueError, "cannot be combined"),
        (lambda x: rt.gelu([1.0], bits=2), TypeError, "must be a torch.Tensor"),
        (lambda x: rt.GELU(bits=9), ValueError, r"relukit.torch.GELU: bits"),
        (lambda x: rt.SiLU(bits=0), ValueError, "SiLU"),
        (lambda x: rt.Hardswish(bits=1, at_kink=0.0), ValueError, "cannot be combined"),
        (lambda x: rt.Softplus(bits=-1), ValueError, "Softplus"),
    ],
)
def test_bad_bits(call, exc, match):
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    before = x.detach().clone()
    with pytest.raises(exc, match=match):
        y = call(x)
        y.sum().backward()
    assert torch.equal(x.detach(), before) and x.grad is None


def test_parameter_validation_not_shared_across_types():
    x = torch.randn(4, requires_grad=True)
    rt.softplus(x, 1.0, bits=1)  # a valid beta first (cached) ...
    with pytest.raises(TypeError, match=r"beta .* got True"):
        rt.softplus(x, True, bits=1)  # ... must not let True (== 1.0) through


def test_modules():
    assert repr(rt.GELU("tanh", bits=3)) == "relukit.torch.GELU(approximate='tanh', bits=3)"
    assert repr(rt.SiLU(bits=1)) == "relukit.torch.SiLU(bits=1)"
    assert repr(rt.Softplus(2, 5, bits=2)) == (
        "relukit.torch.Softplus(beta=2, threshold=5, bits=2)"
    )
    assert repr(rt.Mish()) == "relukit.torch.Mish()"
    assert isinstance(rt.GELU(bits=2), torch.nn.GELU)
    torch.manual_seed(0)
    x = torch.randn(64, requires_grad=True)
    for mod, name, params in [
        (rt.GELU(bits=2), "gelu", {}),
        (rt.SiLU(bits=2), "silu", {}),
        (rt.Mish(bits=2), "mish", {}),
        (rt.Softplus(2.0, 5.0, bits=2), "softplus", {"beta": 2.0, "threshold": 5.0}),
        (rt.Hardswish(bits=2), "hardswish", {}),
    ]:
        (g1,) = torch.autograd.grad(mod(x).sum(), x)
        (g2,) = torch.autograd.grad(relukit_call(name, x, params, 2).sum(), x)
        assert torch.equal(g1, g2)
    # bits=None is the exact gradient: the NumPy API's derivative, close to torch's
    (g1,) = torch.autograd.grad(rt.GELU()(x).sum(), x)
    (g2,) = torch.autograd.grad(F.gelu(x).sum(), x)
    assert same_bits(g1, np_grad("gelu", x, torch.ones_like(x)))
    assert close_to_torch(g1, g2, scale=1.0).all()


def test_inplace():
    a = torch.randn(50, requires_grad=True)
    b = a * 1.0
    y = rt.silu(b, inplace=True, bits=3)
    assert y is b
    assert same_bits(y.detach(), rt.silu(a.detach()))
    y.sum().backward()
    (want,) = torch.autograd.grad(rt.silu(a, bits=3).sum(), a)
    assert torch.equal(a.grad, want)


def test_no_graph_is_value_only():
    x = torch.randn(10)
    assert same_bits(rt.gelu(x, bits=2), np_value("gelu", x))
    with torch.no_grad():
        y = rt.gelu(x.requires_grad_(), bits=2)
    assert y.grad_fn is None and same_bits(y, np_value("gelu", x))


def test_forward_ad_equals_backward():
    import torch.autograd.forward_ad as fwad

    torch.manual_seed(0)
    x, t = torch.randn(40), torch.randn(40)
    with fwad.dual_level():
        out = fwad.unpack_dual(rt.mish(fwad.make_dual(x, t), bits=3))
    xr = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(rt.mish(xr, bits=3), xr, t)
    assert torch.equal(out.tangent, g) and same_bits(out.primal, rt.mish(x))


def test_func_transforms():
    from torch.func import grad, jacfwd, jacrev, vmap

    torch.manual_seed(0)
    xs = torch.randn(4, 5)
    f = lambda t: rt.silu(t, bits=2).sum()  # noqa: E731
    per_sample = vmap(grad(f))(xs)
    assert torch.equal(per_sample, grad(f)(xs))
    j1 = jacrev(lambda t: rt.silu(t, bits=2))(xs[0])
    j2 = jacfwd(lambda t: rt.silu(t, bits=2))(xs[0])
    assert torch.equal(j1, j2)


# ---------------------------------------------------------------------------
# relukit experiment few-bit (a tiny configuration)
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_experiment_tiny(tmp_path):
    pytest.importorskip("sklearn")
    from relukit.experiments import few_bit as fb

    cfg = fb.FewBitConfig(
        bits=(1, 3), seeds=(0, 1), digits_epochs=1, chars_steps=2, timing_blocks=1
    )
    m = fb.run_few_bit(cfg)
    assert [(r["task"], r["variant"]) for r in m["summary"]] == [
        (t, v) for t in ("digits", "chars") for v in ("exact", "1-bit", "3-bit")
    ]
    for r in m["summary"]:
        assert 0 <= r["accuracy"] <= 1 and r["loss"] > 0
        if r["bits"] is not None:
            lo, hi = r["loss_diff"][1:]
            assert lo <= r["loss_diff"][0] <= hi
            lo_l, hi_a = r["loss_diff"][1], r["accuracy_diff"][2]
            assert r["within_noise"] == (lo_l <= 0 and hi_a >= 0)
    mem = m["memory"]
    # the few-bit block keeps strictly less: the GELU input (4 x width per token) is gone
    hidden = cfg.batch_size * cfg.chars_context * 4 * cfg.chars_width
    for label, bits in (("1-bit", 1), ("3-bit", 3)):
        saved = mem["exact"]["mlp_saved"] - mem[label]["mlp_saved"]
        # the input (float32) goes, the codes (bits / 8 bytes per element) come in
        assert saved == 4 * hidden - bits * hidden // 8
        assert mem[label]["block_peak"] < mem["exact"]["block_peak"]
    fb.write_outputs(m, tmp_path / "out", tmp_path / "m.json")
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Few-bit GELU backward" in report and "3-bit" in report and "digits" in report
    assert json.loads((tmp_path / "m.json").read_text())["config"]["bits"] == [1, 3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bits", "5"], "--bits must be integers from 1 to 4, got 5"),
        (["--seeds", "0"], "--seeds must list at least 2 seeds (paired intervals need them)"),
        (["--chars-width", "30"], "--chars-width must be a multiple of 4 (heads), got 30"),
        (["--out", "/proc/no/such"], "cannot write the output folder '/proc/no/such'"),
        (["--json", "/proc/no/such/m.json"], "cannot write the output file '/proc/no/such/m.json'"),
    ],
)
def test_experiment_cli_errors_before_any_work(args, message):
    r = subprocess.run(
        [sys.executable, "-m", "relukit", "experiment", "few-bit", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "seed 0 done" not in r.stdout


def test_experiment_cli_prints_and_writes_what_the_run_returns(tmp_path, monkeypatch, capsys):
    """``relukit experiment few-bit``: the configuration of the command line is run; both
    tables, the claims and the files come from what the run returned (no training)."""
    from relukit.cli import main
    from relukit.experiments import few_bit as fb

    seen = []

    def fake_run(cfg, progress=None):
        seen.append(cfg)
        runs = [
            {
                "task": "digits",
                "seed": s,
                "bits": b,
                "loss": 0.5 + s / 10,
                "accuracy": 0.9 - s / 100,
            }
            for s in cfg.seeds
            for b in (None, *cfg.bits)
        ]
        summary, claims = fb.summarise(runs, cfg)
        mem = {"block_saved": 2**20, "mlp_saved": 2**19, "block_peak": 2**21, "mlp_peak": 2**20}
        return {
            "config": dataclasses.asdict(cfg), "runs": runs, "summary": summary, "claims": claims,
            "memory": {"exact": mem, "2-bit": mem}, "step_time_ratio": {"2-bit": {"median": 1.5, "min": 1.25}},
            "seconds": 1.0, "threads": 1,
        }  # fmt: skip

    monkeypatch.setattr(fb, "run_few_bit", fake_run)
    out, js = tmp_path / "out", tmp_path / "m.json"
    argv = ["experiment", "few-bit", "--bits", "2", "--seeds", "0", "1", "--tasks", "digits"]
    assert main([*argv, "--chars-width", "16", "--out", str(out), "--json", str(js)]) == 0
    assert seen == [fb.FewBitConfig(bits=(2,), seeds=(0, 1), tasks=("digits",), chars_width=16)]
    text = " ".join(capsys.readouterr().out.split())
    assert "final quality" in text and "memory and step time" in text
    assert "1.50x, 1.25x" in text and "costs accuracy against the exact one" in text
    assert json.loads(js.read_text())["config"]["chars_width"] == 16
    assert (out / "metrics.json").read_text() == js.read_text()
    assert "Few-bit GELU backward" in (out / "report.html").read_text()


def test_levels_figure_content():
    import runpy

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mod = runpy.run_path(str(ROOT / "docs" / "build_levels.py"))
    fig = mod["levels_figure"]()
    try:
        axes = fig.axes
        assert [a.get_title() for a in axes] == [
            "gelu'", "gelu', tanh", "silu'", "mish'", "softplus'", "hardswish'"
        ]  # fmt: skip
        for ax, (name, params) in zip(axes, NAMES, strict=True):
            labels = [t.get_text() for t in ax.get_legend().get_texts()]
            assert labels[0] == "exact" and len(labels) == 5
            for bits, label in enumerate(labels[1:], start=1):
                b, lv = rt.derivative_levels(name, bits, **params)
                err = _levels.relative_error(name, b, lv, **params)
                assert label == f"{bits} bit: error {err:.3f}"
            # each approximation is a step function with at most 2**bits values
            for bits, line in enumerate(ax.get_lines()[1:], start=1):
                assert len(set(np.round(line.get_ydata(), 12))) <= 2**bits
    finally:
        plt.close(fig)
    assert (ROOT / "docs/figures/fewbit/levels.png").stat().st_size > 10_000
    assert "docs/figures/fewbit/levels.png" in (ROOT / "README.md").read_text()
