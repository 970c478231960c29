"""Packaging: ranges in the extras, exact versions in constraints.txt, the wheel's content.

The clean-environment install of the wheel runs in CI (``make wheel-check``, see
``.ci/wheel-check``); here the metadata and the built archives are checked.
"""

from __future__ import annotations

import re
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
