"""Packaging: ranges in the extras, exact versions in constraints.txt, the wheel's content.

The clean-environment install of the wheel runs in CI (``make wheel-check``, see
``.ci/wheel-check``); here the metadata and the built archives are checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import relukit as rk

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
META = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(req: str) -> str:
    return re.split(r"[\[<>=!~ ;]", req, maxsplit=1)[0].lower()


def test_extras_take_ranges_not_exact_pins() -> None:
    for extra, reqs in META["project"]["optional-dependencies"].items():
        for req in reqs:
            spec = req.split(";")[0]  # the version, not the environment marker
            assert "==" not in spec, f"[{extra}] pins {req}: use a range, pin in constraints.txt"
    assert "torch>=2.3" in META["project"]["optional-dependencies"]["torch"]


def test_constraints_pin_every_dependency_exactly() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.lower()] = version
    reqs = list(META["project"]["dependencies"])
    for extra_reqs in META["project"]["optional-dependencies"].values():
        reqs += [r for r in extra_reqs if not r.startswith("relukit[")]
    missing = sorted({_name(r) for r in reqs} - set(pins))
    assert missing == []
    assert pins["torch"] == "2.13.0"


def test_makefile_and_ci_use_the_constraints() -> None:
    make = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in make
    ci = (ROOT / ".ci" / "run").read_text() + (ROOT / ".ci" / "wheel-check").read_text()
    assert "make docs" in ci and "make wheel-check" in ci and "constraints.txt" in ci


def test_no_placeholder_urls_and_a_citation() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert "example.invalid" not in text
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf'^version: "{re.escape(rk.__version__)}"$', cff, flags=re.M)
    assert re.search(r"^cff-version: 1\.2\.0$", cff, flags=re.M)


@pytest.mark.slow
def test_wheel_and_sdist_build_with_everything_in_them(tmp_path: Path) -> None:
    pytest.importorskip("build")
    res = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    (wheel,) = tmp_path.glob(f"relukit-{rk.__version__}-py3-none-any.whl")
    (sdist,) = tmp_path.glob(f"relukit-{rk.__version__}.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "relukit").rglob("*.py")
    }
    assert sources <= names
    assert "relukit/py.typed" in names
    meta = zipfile.ZipFile(wheel).read(f"relukit-{rk.__version__}.dist-info/METADATA").decode()
    assert f"Version: {rk.__version__}" in meta
    assert 'Requires-Dist: torch>=2.3; extra == "torch"' in meta
    entry = (
        zipfile.ZipFile(wheel).read(f"relukit-{rk.__version__}.dist-info/entry_points.txt").decode()
    )
    assert "relukit = relukit.cli:main" in entry
    import tarfile

    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    for needed in ("tests/test_core.py", "docs/index.md", "constraints.txt", "CITATION.cff"):
        assert needed in members, needed


def _extra(name: str) -> set[str]:
    """The package names an extra installs, following ``relukit[...]`` references."""
    out: set[str] = set()
    for req in META["project"]["optional-dependencies"][name]:
        if req.startswith("relukit["):
            for inner in req[len("relukit[") : req.index("]")].split(","):
                out |= _extra(inner.strip())
        else:
            out.add(_name(req))
    return out


def test_pip_install_relukit_pulls_only_what_import_and_the_numpy_api_need() -> None:
    assert {_name(r) for r in META["project"]["dependencies"]} == {
        "numpy",
        "numba",
        "array-api-compat",
    }
    # each optional package has an extra of its own, and `all` has them all
    extras = META["project"]["optional-dependencies"]
    assert _extra("plot") == {"matplotlib"}
    assert _extra("rich") == {"rich"}
    assert _extra("scipy") == {"scipy"}
    assert {"matplotlib", "rich", "scipy", "torch", "jax", "dask", "triton"} <= _extra("all")
    assert {"nbclient", "nbformat", "ipykernel"} <= _extra("test")
    from relukit._optional import EXTRAS

    for package, extra in EXTRAS.items():
        assert _extra(extra) == {package} and extra in extras


def test_the_demo_installs_what_the_demo_uses_and_make_test_the_rest() -> None:
    demo = _extra("demo")
    assert {"torch", "scikit-learn", "scipy", "matplotlib", "rich"} <= demo
    for heavy in ("jax", "dask", "triton", "pytest", "mypy", "ruff", "mkdocs", "hypothesis"):
        assert heavy not in demo, heavy
    make = (ROOT / "Makefile").read_text()
    demo_rule = make[make.index("\ndemo:") :].split("\n\n")[0]
    test_rule = make[make.index("\ntest:") :].split("\n\n")[0]
    stamp = {
        line.split(":")[0]: block
        for block in make.split("\n\n")
        for line in block.splitlines()[:1]
        if line.startswith("$(") and "pyproject.toml constraints.txt" in line
    }
    demo_stamp = demo_rule.split(":")[1].split()[0]
    test_stamp = test_rule.split(":")[1].split()[0]
    assert "-e '.[demo]'" in stamp[demo_stamp] and "[all" not in stamp[demo_stamp]
    assert "-e '.[all,test,docs]'" in stamp[test_stamp]


def _make_dry_run(tmp_path: Path, target: str) -> str:
    res = subprocess.run(
        ["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return res.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_installs_once_then_only_runs(tmp_path: Path) -> None:
    import os
    import time

    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    fresh = _make_dry_run(tmp_path, "demo")
    assert "-m venv .venv" in fresh and "pip install" in fresh and "relukit demo" in fresh
    # as after a first run: the venv and both stamps, newer than the inputs
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("")
    (tmp_path / ".venv" / "bin" / "python").chmod(0o755)
    later = time.time() + 5
    for stamp in (".venv/.installed-demo", ".venv/.installed"):
        (tmp_path / stamp).write_text("")
        os.utime(tmp_path / stamp, (later, later))
    again = _make_dry_run(tmp_path, "demo")
    assert "pip install" not in again and "relukit demo" in again
    assert "pip install" not in _make_dry_run(tmp_path, "test")
    os.utime(tmp_path / "constraints.txt", (later + 5, later + 5))  # a pin changed
    assert "pip install" in _make_dry_run(tmp_path, "demo")
