"""The on-disk cache of the compiled kernels (relukit._kernel_cache).

* the cache directory is keyed by the content of every source file compiled into the
  kernels (and numba's, llvmlite's and NumPy's versions): after a primitive changes in an
  installed copy, the next process computes with the new code; after it is put back,
  with the old code again (loaded from the older directory);
* a second process loads the kernels instead of compiling them (numba's cache hits, the
  index files unchanged);
* the cache lives under ``$NUMBA_CACHE_DIR/relukit``, else the user's cache directory
  (``$XDG_CACHE_HOME/relukit``, ``~/.cache/relukit``), never next to the sources and
  never in a directory that other users can write;
* with no writable location (a read-only install, an unwritable HOME) the kernels still
  run, compiled in memory, after exactly one RuntimeWarning that names NUMBA_CACHE_DIR;
* old ``kernels-*`` directories are pruned, and concurrent processes never fail on it.

The processes run with their own HOME, XDG_CACHE_HOME and NUMBA_CACHE_DIR in temporary
directories, so that the developer's cache is never touched.
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import threading
import time

import pytest

import relukit as rk

pytest.importorskip("numba")

PKG = pathlib.Path(rk.__file__).parent

# elu on float64 (the kernel path: 1,000 elements, one thread) and relu; the kernels'
# numba statistics, the cache directory and every warning raised on the way
_PROBE = """
import json, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import numpy as np
    import relukit as rk
    y = rk.elu(np.full(1000, -1.0))
    z = rk.relu(np.linspace(-1.0, 1.0, 1000))
    from relukit import _kernels
out = {"file": rk.__file__, "elu": float(y[0]), "relu": float(z[-1])}
for name, act in (("elu_value", rk.elu), ("relu_value", rk.relu)):
    k = _kernels.plan(act, "value", np.float64, act.bind(), None).kernel
    out[name] = {
        "signatures": len(k.signatures),
        "hits": sum(k.stats.cache_hits.values()),
        "misses": sum(k.stats.cache_misses.values()),
        "cache_path": k.stats.cache_path,
    }
out["warnings"] = [[w.category.__name__, str(w.message)] for w in caught]
print(json.dumps(out))
"""

# where the kernels of a process would be cached, without compiling any
_WHERE = """
import json, numpy as np, relukit as rk
from relukit import _kernels
k = _kernels.plan(rk.relu, "value", np.float64, {}, None).kernel
print(json.dumps(k.stats.cache_path))
"""

_CLEARED = (
    "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_DISABLE_JIT", "RELUKIT_DISABLE_KERNELS",
    "RELUKIT_THREADING", "PYTHONPATH",
)  # fmt: skip


def _install(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of the package (an "installed" one) in ``tmp_path/site``; the site dir."""
    site = tmp_path / "site"
    shutil.copytree(PKG, site / "relukit", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _env(site: pathlib.Path, home: pathlib.Path | str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(
        PYTHONPATH=str(site),
        HOME=str(home),
        RELUKIT_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",  # only what relukit itself writes lands in site
    )
    env.update(extra)
    return env


def _run(env: dict[str, str], code: str = _PROBE, cwd: pathlib.Path | None = None) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=cwd
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def _compiled_files(root: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for ext in ("*.nbi", "*.nbc") for p in root.rglob(ext))


@pytest.mark.slow
def test_a_changed_primitive_is_used_by_the_next_process_and_its_revert_too(tmp_path):
    site = _install(tmp_path)
    env = _env(site, tmp_path / "home", NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    math_py = site / "relukit" / "_prims" / "numba64.py"
    original = math_py.read_text(encoding="utf-8")

    first = _run(env)
    assert first["file"].startswith(str(site))
    assert first["elu_value"]["signatures"] == 1  # the kernel path
    assert first["elu"] == pytest.approx(math.expm1(-1.0), rel=1e-14, abs=0)
    # a new version of a primitive (in another file than elu's formula, its lines
    # unchanged): expm1 on x <= 0 doubled, as a reinstall over the old one would
    changed = (
        original + "\n\n_expm1_neg_old = expm1_neg\n\n\n@njit(**ELEM)\n"
        "def expm1_neg(x):  # pragma: no cover - compiled\n"
        "    return 2.0 * _expm1_neg_old(x)\n"
    )
    math_py.write_text(changed, encoding="utf-8")
    second = _run(env)
    assert second["elu"] == pytest.approx(2.0 * math.expm1(-1.0), rel=1e-14, abs=0)
    assert second["elu_value"]["misses"] == 1  # compiled, not loaded from the old cache
    assert second["relu"] == 1.0
    # put back: the old kernels again, loaded from the older directory
    math_py.write_text(original, encoding="utf-8")
    third = _run(env)
    assert third["elu"] == first["elu"]
    assert third["elu_value"]["hits"] == 1 and third["elu_value"]["misses"] == 0
    assert third["elu_value"]["cache_path"] == first["elu_value"]["cache_path"]
    assert second["elu_value"]["cache_path"] != first["elu_value"]["cache_path"]
    assert not _compiled_files(site)  # nothing next to the sources


@pytest.mark.slow
def test_a_second_process_loads_the_kernels_without_compiling(tmp_path):
    site = _install(tmp_path)
    numba_dir = tmp_path / "numba"
    env = _env(site, tmp_path / "home", NUMBA_CACHE_DIR=str(numba_dir))

    first = _run(env)
    assert first["elu_value"] == {
        "signatures": 1, "hits": 0, "misses": 1, "cache_path": first["elu_value"]["cache_path"]
    }  # fmt: skip
    cache = pathlib.Path(first["elu_value"]["cache_path"])
    assert cache.parent == numba_dir / "relukit"
    assert cache.name.startswith(f"kernels-{rk.__version__}-")
    index = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in cache.glob("*.nbi")}
    assert any("elu_value" in p.name for p in index) and any("relu_value" in p.name for p in index)

    second = _run(env)
    for name in ("elu_value", "relu_value"):
        assert second[name]["hits"] == 1 and second[name]["misses"] == 0, second
        assert second[name]["cache_path"] == str(cache)
    assert second["elu"] == first["elu"] and second["relu"] == first["relu"]
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in cache.glob("*.nbi")} == index
    assert not second["warnings"]
    assert not _compiled_files(site)


@pytest.mark.parametrize(
    ("numba", "xdg", "where"),
    [
        (True, True, "numba/relukit"),  # NUMBA_CACHE_DIR first
        (False, True, "xdg/relukit"),  # then XDG_CACHE_HOME
        (False, False, "home/.cache/relukit"),  # then ~/.cache
    ],
)
def test_the_cache_directory(tmp_path, numba, xdg, where):
    if sys.platform in ("darwin", "win32"):
        pytest.skip("the XDG layout is the Linux one")  # (the other platforms: their own)
    site = _install(tmp_path)
    extra = {}
    if numba:
        extra["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    if xdg:
        extra["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    path = pathlib.Path(_run(_env(site, tmp_path / "home", **extra), _WHERE))
    assert path.parent == tmp_path / where
    assert path.name.startswith(f"kernels-{rk.__version__}-")
    assert path.is_dir()


def test_a_directory_that_other_users_can_write_is_not_used(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    site = _install(tmp_path)
    shared = tmp_path / "numba" / "relukit"
    shared.mkdir(parents=True)
    shared.chmod(0o777)  # anyone could put machine code there
    env = _env(site, tmp_path / "home", NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    path = pathlib.Path(_run(env, _WHERE))
    assert path.parent == tmp_path / "home" / ".cache" / "relukit"
    # a world-writable parent without the sticky bit: its entries can be swapped
    open_parent = tmp_path / "open"
    open_parent.mkdir()
    open_parent.chmod(0o777)
    env = _env(site, tmp_path / "home", NUMBA_CACHE_DIR=str(open_parent))
    path = pathlib.Path(_run(env, _WHERE))
    assert path.parent == tmp_path / "home" / ".cache" / "relukit"


@pytest.mark.slow
def test_a_read_only_install_with_no_writable_cache_still_runs_the_kernels(tmp_path):
    site = _install(tmp_path)
    # no writable location: HOME below a file, no XDG_CACHE_HOME or NUMBA_CACHE_DIR;
    # the package read-only (as root this does not stop writes: hence the file check)
    env = _env(site, "/dev/null/home")
    for p in [site, *site.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        out = _run(env, cwd=tmp_path)
    finally:
        for p in [site, *site.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    for name in ("elu_value", "relu_value"):
        assert out[name]["signatures"] == 1, out  # the kernels ran (compiled in memory)
        assert out[name]["cache_path"] is None
    assert out["elu"] == pytest.approx(math.expm1(-1.0), rel=1e-14, abs=0)
    assert out["relu"] == 1.0
    warned = [m for c, m in out["warnings"] if c == "RuntimeWarning"]
    assert len(warned) == 1, out["warnings"]
    assert "NUMBA_CACHE_DIR" in warned[0] and "writable" in warned[0]
    assert not _compiled_files(site)


_LOST = """
import json, shutil, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import numpy as np
    import relukit as rk
    from relukit import _kernel_cache as kc
    d = kc.directory()
    shutil.rmtree(d)
    d.write_text("not a directory")  # (another program's file where the cache was)
    y = rk.elu(np.full(1000, -1.0))
    z = rk.relu(np.linspace(-1.0, 1.0, 1000))
    from relukit import _kernels
kernels = [_kernels.plan(a, "value", np.float64, a.bind(), None).kernel for a in (rk.elu, rk.relu)]
print(json.dumps({
    "elu": float(y[0]), "relu": float(z[-1]),
    "signatures": [len(k.signatures) for k in kernels],
    "warnings": [[w.category.__name__, str(w.message)] for w in caught],
}))
"""


@pytest.mark.slow
def test_a_cache_that_cannot_be_written_or_read_is_not_an_error(tmp_path):
    site = _install(tmp_path)
    env = _env(site, tmp_path / "home", NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    # the directory gone and replaced by a file after it was chosen: saving fails
    out = _run(env, _LOST)
    assert out["signatures"] == [1, 1]
    assert out["elu"] == pytest.approx(math.expm1(-1.0), rel=1e-14, abs=0)
    assert out["relu"] == 1.0
    warned = [m for c, m in out["warnings"] if c == "RuntimeWarning"]
    assert len(warned) == 1 and "could not be saved" in warned[0], out["warnings"]
    assert "NUMBA_CACHE_DIR" in warned[0]
    # damaged data files: compiled again (and saved again), no error
    shutil.rmtree(tmp_path / "numba")
    first = _run(env)
    cache = pathlib.Path(first["elu_value"]["cache_path"])
    for f in cache.glob("*.nbc"):
        f.write_bytes(b"not a pickle")
    again = _run(env)
    assert again["elu_value"]["misses"] == 1 and again["elu"] == first["elu"]
    assert not again["warnings"]
    assert _run(env)["elu_value"]["hits"] == 1


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/x"),
        ("linux", {"HOME": "/h", "XDG_CACHE_HOME": "relative"}, "/h/.cache"),  # ignored
        ("linux", {"HOME": "/h"}, "/h/.cache"),
        ("darwin", {"HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/h/Library/Caches"),
        ("linux", {"HOME": "relative"}, None),  # no usable home: not the current directory
    ],
)
def test_the_user_cache_directory(monkeypatch, platform, env, expected):
    from relukit import _kernel_cache as kc

    for name in ("HOME", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", platform)
    got = kc._user_cache_dir()
    assert got == (None if expected is None else pathlib.Path(expected))


# ---------------------------------------------------------------------------
# the source list and the key (in this process)
# ---------------------------------------------------------------------------


def _relukit_imports(path: pathlib.Path) -> set[str]:
    """The relukit modules that the file ``path`` imports (``relukit.x.y`` names)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("relukit"):
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("relukit"))
    return names


def _module_file(name: str) -> pathlib.Path | None:
    rel = pathlib.Path(*name.split(".")[1:])
    if not rel.parts:
        return PKG / "__init__.py"
    for p in (PKG / rel.with_suffix(".py"), PKG / rel / "__init__.py"):
        if p.is_file():
            return p
    return None  # a name imported from a module, not a module


def test_the_key_covers_every_kernel_source_file():
    from relukit import _kernel_cache as kc

    hashed = set(kc.sources())
    assert {*PKG.glob("_kernels*.py"), *(PKG / "activations").glob("*.py")} <= hashed
    assert PKG / "torch" / "_fewbit_numba.py" in hashed
    # every module that makes kernels is hashed, and so is every relukit module it
    # imports (the functions it compiles may come from there)
    makers = {p for p in PKG.rglob("*.py") if "relukit._kernel_cache" in _relukit_imports(p)}
    assert {PKG / "_kernels_build.py", PKG / "_kernels_half.py", PKG / "_kernels_par.py"} <= makers
    assert PKG / "torch" / "_fewbit_numba.py" in makers
    # the primitives and formulas that the kernels compile are hashed too
    assert {*(PKG / "_prims").glob("*.py"), PKG / "catalogue.py"} <= hashed
    assert makers <= hashed
    for maker in makers:
        for name in _relukit_imports(maker) - {"relukit._kernel_cache"}:
            f = _module_file(name)
            assert f is None or f in hashed or f == PKG / "__init__.py", (maker, name)


def test_the_key_changes_with_every_source_file_and_the_compiler(tmp_path, monkeypatch):
    import llvmlite
    import numba

    from relukit import _kernel_cache as kc

    root = tmp_path / "relukit"
    shutil.copytree(PKG, root, ignore=shutil.ignore_patterns("__pycache__"))
    base = kc.digest(root)
    assert base == kc.digest(root)  # deterministic
    assert len(kc.sources(root)) == len(kc.sources())
    seen = {base}
    for f in kc.sources(root):
        old = f.read_bytes()
        f.write_bytes(old + b"\n")
        seen.add(kc.digest(root))
        f.write_bytes(old)
    assert len(seen) == len(kc.sources(root)) + 1  # each file changes the key
    assert kc.digest(root) == base
    (root / "plot.py").write_text("# not compiled into a kernel\n", encoding="utf-8")
    assert kc.digest(root) == base
    for mod in (numba, llvmlite):
        with monkeypatch.context() as m:
            m.setattr(mod, "__version__", mod.__version__ + ".post1")
            assert kc.digest(root) != base


# ---------------------------------------------------------------------------
# old directories, races
# ---------------------------------------------------------------------------


def test_old_directories_are_pruned_when_a_new_one_is_made(tmp_path):
    from relukit import _kernel_cache as kc

    root = tmp_path / "relukit"
    root.mkdir(mode=0o700)
    now = time.time()
    ages = {f"kernels-0.0.{i}-{i:016x}": now - (i + 1) * 86400 for i in range(6)}
    for name, t in ages.items():
        (root / name).mkdir()
        (root / name / "f.nbi").write_bytes(b"x")
        os.utime(root / name, (t, t))
    (root / "kernels-0.0.9-recent").mkdir()  # used a moment ago by another process:
    os.utime(root / "kernels-0.0.9-recent", (now - 60, now - 60))  # kept, whatever the count
    (root / "notes.txt").write_text("kept", encoding="utf-8")  # not ours: left alone

    # reusing a directory touches it and deletes nothing
    used = kc.claim(root, "kernels-0.0.5-0000000000000005")
    assert used.stat().st_mtime >= now - 1
    assert len(list(root.glob("kernels-*"))) == 7
    # a new one: the most recently used are kept (the new one among them)
    new = kc.claim(root, "kernels-0.1.0-abc")
    assert new.is_dir()
    left = {p.name for p in root.iterdir()}
    assert left == {
        "kernels-0.1.0-abc", "kernels-0.0.9-recent", "kernels-0.0.5-0000000000000005",
        "kernels-0.0.0-0000000000000000", "notes.txt",
    }  # fmt: skip
    assert kc.KEEP == 4


def test_concurrent_processes_never_fail_on_the_directories(tmp_path, monkeypatch):
    from relukit import _kernel_cache as kc

    monkeypatch.setattr(kc, "KEEP", 1)  # as much pruning as can be: every new directory
    monkeypatch.setattr(kc, "GRACE_S", 0.0)  # deletes all the others
    root = tmp_path / "relukit"
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(i: int) -> None:
        try:
            start.wait()
            for j in range(20):
                d = kc.claim(root, f"kernels-0.0.0-{(i + j) % 6}")
                assert d.parent == root
                # (pruned by another thread meanwhile: numba's save would make it again)
                with contextlib.suppress(FileNotFoundError):
                    (d / f"{i}-{j}.tmp").write_bytes(b"x")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_the_cache_module_is_a_leaf():
    # relukit._kernel_cache imports nothing of relukit but its version (the kernel
    # modules import it; `import relukit` never does)
    imports = _relukit_imports(PKG / "_kernel_cache.py")
    assert imports <= {"relukit", "relukit.__version__"}, imports
    res = subprocess.run(
        [sys.executable, "-c", "import sys, relukit; print('relukit._kernel_cache' in sys.modules)"],
        env={**os.environ, "PYTHONPATH": str(PKG.parent)}, capture_output=True, text=True,
    )  # fmt: skip
    assert res.stdout.strip() == "False", res.stderr
