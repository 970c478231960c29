"""`import relukit` stays light, and the catalogue look-up behaves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import relukit as rk

HEAVY = ("numpy", "torch", "matplotlib", "numba", "jax", "dask", "scipy", "sklearn", "rich")


def test_import_is_light() -> None:
    code = (
        "import sys, relukit; relukit.relu(-3.0); relukit.leaky_relu.derivative(2);"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]", res.stdout


def test_scalar_path_never_imports_numpy() -> None:
    code = (
        "import sys, relukit as rk; rk.relu(2); rk.relu(-3.0); rk.relu.derivative(0.0, at_kink=1);"
        "rk.leaky_relu(-2.0, 0.1); rk.relu.value_and_derivative(1.5);"
        "print('numpy' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["leaky_relu", "leaky-relu", "LeakyReLU", "Leaky ReLU", "lrelu"])
def test_get_accepts_names_and_aliases(name: str) -> None:
    assert rk.get(name) is rk.leaky_relu


def test_get_errors() -> None:
    with pytest.raises(rk.UnknownActivationError, match="did you mean 'relu'") as info:
        rk.get("relux")
    assert isinstance(info.value, LookupError) and isinstance(info.value, ValueError)
    with pytest.raises(TypeError, match="must be a name"):
        rk.get(3)  # type: ignore[arg-type]
    assert rk.get(rk.relu) is rk.relu


def test_catalogue_and_metadata() -> None:
    names = [a.name for a in rk.catalogue()]
    assert names[:2] == ["relu", "leaky_relu"] and len(set(names)) == len(names)
    assert rk.leaky_relu.params["negative_slope"].default == 0.01
    assert rk.relu.kinks[0].at == "0" and rk.relu.formula.startswith("relu(x)")
    assert rk.leaky_relu.kink_points(negative_slope=0.3) == [(0.0, 0.3, 1.0, 0.3)]
    assert repr(rk.leaky_relu) == "<relukit activation leaky_relu(x, negative_slope=0.01)>"
    # a gated entry: its second input and the split form's dim (inspect's signature too)
    assert repr(rk.swiglu) == "<relukit activation swiglu(x, up=None, beta=1.0, *, dim=-1)>"
    assert rk.glu.signature() == "glu(x, up=None, *, dim=-1)"
    import inspect

    assert str(inspect.signature(rk.swiglu)) == "(x, up=None, beta=1.0, *, dim=-1, out=None)"
    for act in rk.catalogue():
        assert act.__doc__ and act.formula and act.derivative_formula and act.latex
        for k in act.kinks:
            loc, left, right, default = k.resolve(act.bind())
            # the declared convention is what we return (a gated entry: d/d gate at up = 1)
            got = act.derivative(loc, 1.0)[0] if act.gated else act.derivative(loc)
            assert got == default


def test_register_rejects_duplicates() -> None:
    from relukit.catalogue import register

    with pytest.raises(ValueError, match="already registered"):
        register(rk.relu)


def test_help_shows_every_call_with_its_keywords() -> None:
    import pydoc

    text = pydoc.render_doc(rk.leaky_relu, renderer=pydoc.plaintext)
    assert "leaky_relu(x, negative_slope=0.01, *, out=None)" in text
    assert "leaky_relu.derivative(x, negative_slope=0.01, *, at_kink=None, out=None)" in text
    assert "leaky_relu.value_and_derivative(x, negative_slope=0.01, *, at_kink=None" in text
    import inspect

    assert str(inspect.signature(rk.relu)) == "(x, *, out=None)"
    assert str(inspect.signature(rk.relu.derivative)) == "(x, *, at_kink=None, out=None)"


def test_dir_and_all_are_the_public_names() -> None:
    assert dir(rk) == sorted(rk.__all__)
    for name in ("plot", "diagnose", "recycle", "DeadUnitMonitor", "Kink", "relu"):
        assert name in rk.__all__
    for private in ("Any", "annotations", "activations", "catalogue_module", "_LAZY"):
        assert private not in dir(rk)
    assert all(hasattr(rk, name) for name in rk.__all__)


def test_star_import_without_torch_works_and_use_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
        "from relukit import *\n"
        "try:\n    diagnose(None, None)\nexcept ModuleNotFoundError as e:\n    print(e.name)\n"
        "print(relu(-1.0))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["torch", "0.0"]


def test_display_names_and_kink_repr() -> None:
    titles = {a.name: a.title for a in rk.catalogue()}
    assert titles["relu"] == "ReLU" and titles["leaky_relu"] == "Leaky ReLU"
    assert titles["gelu"] == "GELU" and titles["silu"] == "SiLU" and titles["prelu"] == "PReLU"
    assert titles["relu6"] == "ReLU6" and titles["elu"] == "ELU"
    # the gated units as Shazeer (2020) writes them (the command line prints the titles)
    assert [titles[n] for n in ("glu", "reglu", "geglu", "swiglu", "bilinear")] == [
        "GLU", "ReGLU", "GeGLU", "SwiGLU", "Bilinear"
    ]  # fmt: skip
    assert titles["squared_relu"] == "Squared ReLU" and titles["quick_gelu"] == "Quick GELU"
    assert repr(rk.relu.kinks[0]) == "Kink(at='0', left=0.0, right=1.0, default=0.0)"
    r = repr(rk.leaky_relu.kinks[0])  # depends on negative_slope: the note says how
    assert r.startswith("Kink(at='0', note=") and "negative_slope" in r
    assert "lambda" not in repr(rk.hardswish.kinks) and "function" not in repr(rk.selu.kinks)
