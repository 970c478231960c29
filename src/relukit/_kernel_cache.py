"""The on-disk cache of relukit's numba kernels, keyed by the content of their sources (a leaf).

numba's own cache (``cache=True``) writes next to the source file (``__pycache__``) and
stamps each function's entry with the content of the one file that holds it. A relukit
kernel is compiled from several files (the loop templates, the element functions, the
primitives of :mod:`relukit._prims`), so an installed update of a primitive
would leave the old machine code running; and an install whose ``site-packages`` is
read-only would cache nowhere. Every relukit dispatcher is therefore made by
:func:`njit` (or given to :func:`enable`), which gives it numba's own cache classes
with relukit's location and stamp:

Where
    ``$NUMBA_CACHE_DIR/relukit`` when ``NUMBA_CACHE_DIR`` is set, else the user's cache
    directory: ``$XDG_CACHE_HOME/relukit`` or ``~/.cache/relukit`` (Linux and other
    POSIX systems), ``~/Library/Caches/relukit`` (macOS), ``%LOCALAPPDATA%\\relukit``
    (Windows). Never next to the sources (uninstalling leaves nothing in
    ``site-packages``), and never a directory that other users can write (``relukit``
    itself must be the user's own and not world-writable, its parent not world-writable
    unless sticky): loading machine code from there would run whatever was put there.
Key
    Inside it, one directory per version of the code, ``kernels-<relukit version>-<key>``:
    ``key`` is a SHA-256 over the content of every file matched by :data:`SOURCES` and
    the versions of numba, llvmlite and NumPy (:func:`digest`, computed once per
    process, when the first kernel is made). Each function's index is stamped with the
    same key. Changing any of those files (an upgrade, a reinstall, an edit in a
    checkout) gives a new directory, compiled afresh; going back finds the old one.
Old directories
    A directory is touched when a process starts using it. When a process makes a new
    one, the ``kernels-*`` directories beyond the :data:`KEEP` most recently used are
    deleted, except those used in the last :data:`GRACE_S` seconds (another checkout or
    environment that runs now). Deleting is a rename and then a removal; a process
    whose directory goes away meanwhile compiles again and makes it again.
No writable location
    The kernels are compiled in memory, once per process (never the NumPy formulas
    instead), after one ``RuntimeWarning`` that says to set ``NUMBA_CACHE_DIR`` to a
    writable directory.

Clearing the cache is deleting the directory (:func:`root`).

Examples
--------
>>> from relukit import _kernel_cache
>>> @_kernel_cache.njit(cache=True, nogil=True)
... def twice(x):
...     return 2 * x
>>> twice(3)
6
>>> path = twice.stats.cache_path  # kernels-<version>-<key> in the cache directory
>>> path is None or path.startswith(str(_kernel_cache.root()))
True
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import numba
from numba.core import caching
from numba.core.dispatcher import Dispatcher

__all__ = ["GRACE_S", "KEEP", "SOURCES", "claim", "digest", "directory", "enable", "njit", "root"]

#: The package files compiled into the kernels, as globs relative to the package: every
#: ``_kernels*`` module (the generator, loop templates, parallel and float16 loops), the
#: namespaces of ``_prims`` (the primitives), the activations' formulas and the
#: catalogue's ``Math``, and the few-bit loops. A
#: new module whose code a kernel compiles goes here (``tests/test_kernel_cache.py``
#: checks that every module that makes kernels, and what it imports, is covered).
SOURCES: tuple[str, ...] = (
    "_kernels*.py",
    "_prims/*.py",
    "activations/*.py",
    "catalogue.py",
    "torch/_fewbit_numba.py",
)

#: The most recently used ``kernels-*`` directories that are kept (the current one among them).
KEEP = 4
#: A directory used this recently (seconds) is never deleted, whatever :data:`KEEP` says.
GRACE_S = 3600.0

_PACKAGE = "relukit"
_lock = threading.Lock()  # guards _warned
_choosing = threading.Lock()  # one thread chooses the directory, the others wait
_warned: set[str] = set()
_chosen: list[Path | None] = []  # the directory, once chosen


# ---------------------------------------------------------------------------
# the key
# ---------------------------------------------------------------------------


def _package_root() -> Any:
    return resources.files(_PACKAGE)


def _matches(base: Any, pattern: str) -> Iterable[Any]:
    """The files under ``base`` (a directory or importlib Traversable) matching ``pattern``."""
    head, _, rest = pattern.partition("/")
    try:
        children = list(base.iterdir())
    except (OSError, NotADirectoryError):
        return
    for child in children:
        if not fnmatch.fnmatchcase(child.name, head):
            continue
        if rest:
            if child.is_dir():
                yield from _matches(child, rest)
        elif child.is_file():
            yield child


def sources(package: Any = None) -> list[Any]:
    """The files of the package (or of ``package``, a directory) hashed into the key.

    Sorted by their path relative to the package, so that the key does not depend on the
    order in which the file system lists them.
    """
    base = _package_root() if package is None else package
    found = {}
    for pattern in SOURCES:
        for f in _matches(base, pattern):
            found[_relative(f, base)] = f
    return [found[k] for k in sorted(found)]


def _relative(f: Any, base: Any) -> str:
    try:
        return Path(str(f)).relative_to(Path(str(base))).as_posix()
    except ValueError:  # (a Traversable that is not a path: its name will do)
        return f.name


def digest(package: Any = None) -> str:
    """SHA-256 (hex) of the kernels' source files and of numba's, llvmlite's and NumPy's versions.

    Each file enters as its path relative to the package, its length and its bytes, so
    moving code from one file to another changes the key too.
    """
    import llvmlite
    import numpy

    base = _package_root() if package is None else package
    h = hashlib.sha256()
    for f in sources(base):
        data = f.read_bytes()
        h.update(f"{_relative(f, base)}\0{len(data)}\0".encode())
        h.update(data)
    for name, version in (
        ("numba", numba.__version__),
        ("llvmlite", llvmlite.__version__),
        ("numpy", numpy.__version__),
    ):
        h.update(f"{name}={version}\0".encode())
    return h.hexdigest()


@functools.cache
def _key() -> str:
    return digest()


def _dirname() -> str:
    # (relukit's version from the package already imported: this leaf module imports
    # nothing of relukit's, which would make an import cycle)
    version = getattr(sys.modules.get("relukit"), "__version__", "0")
    return f"kernels-{version}-{_key()[:16]}"


# ---------------------------------------------------------------------------
# the location
# ---------------------------------------------------------------------------


def _user_cache_dir() -> Path | None:
    """The platform's per-user cache directory (as ``platformdirs`` gives it), or None."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):  # unset, or relative (which the XDG spec ignores)
            base = os.path.expanduser("~/.cache")
    # (no home directory: expanduser leaves "~", which would be relative to the cwd)
    return Path(base) if os.path.isabs(base) else None


def _roots() -> list[Path]:
    """Where relukit's cache may live, in order of preference."""
    out = []
    if numba.config.CACHE_DIR:
        out.append(Path(os.path.abspath(numba.config.CACHE_DIR)) / "relukit")
    user = _user_cache_dir()
    if user is not None:
        out.append(user / "relukit")
    return out


def _check_private(path: Path) -> None:
    """Raise PermissionError unless ``path`` is the user's own and others cannot swap it."""
    if os.name != "posix":  # (Windows: the user's profile directory is private)
        return
    st = os.stat(path)
    if st.st_uid != os.geteuid():
        raise PermissionError(f"{path} belongs to another user")
    if st.st_mode & stat.S_IWOTH:
        raise PermissionError(f"{path} is writable by every user")
    parent = os.stat(path.parent)
    if parent.st_mode & stat.S_IWOTH and not parent.st_mode & stat.S_ISVTX:
        raise PermissionError(f"{path.parent} is writable by every user (no sticky bit)")


def claim(where: Path, name: str) -> Path:
    """The cache directory ``where/name``, made (and older ones pruned) or touched.

    Raises OSError when it cannot be made or written to, or when ``where`` is not
    private (:func:`_check_private`). Safe against other processes doing the same, or
    pruning, at the same time.
    """
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private(where)
    path = where / name
    for _ in range(5):  # (another process may prune it between two of these steps)
        try:
            path.mkdir(mode=0o700)
            made = True
        except FileExistsError:
            made = False
            try:
                os.utime(path)  # its last use, for pruning
            except FileNotFoundError:
                continue
        try:
            tempfile.TemporaryFile(dir=path).close()  # writable (as numba checks)
        except FileNotFoundError:
            continue
        if made:
            _prune(where, path)
        return path
    raise FileNotFoundError(f"{path} keeps being removed by another process")


def _prune(where: Path, current: Path) -> None:
    """Delete the ``kernels-*`` directories of ``where`` that are old and beyond :data:`KEEP`."""
    now = time.time()
    found = []
    for p in where.glob("kernels-*"):
        try:
            found.append((p.stat().st_mtime, p.name, p))
        except OSError:  # removed meanwhile
            continue
    found.sort(reverse=True)
    for i, (mtime, _, p) in enumerate(found):
        if p == current or i < KEEP or now - mtime < GRACE_S:
            continue
        doomed = where / f".deleting-{p.name}-{uuid.uuid4().hex[:8]}"
        try:
            p.rename(doomed)  # at once: nobody loads from a half-deleted directory
        except OSError:  # another process got there first
            continue
        shutil.rmtree(doomed, ignore_errors=True)
    for p in where.glob(".deleting-*"):  # left by a process that was stopped
        try:
            if now - p.stat().st_mtime > GRACE_S:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            continue


def _warn_once(tag: str, message: str) -> None:
    """A RuntimeWarning, once per process for each ``tag``, shown at the caller's line.

    The caller is the first frame outside relukit and the import machinery (kernels are
    made while a kernel module is imported by the first call that needs a kernel).
    """
    with _lock:
        if tag in _warned:
            return
        _warned.add(tag)
    here = os.path.dirname(os.path.abspath(__file__))
    level = 2  # (the caller of this function)
    frame: Any = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if "importlib" in name and "_bootstrap" in name:
            frame = frame.f_back  # (not counted: warnings skips these frames itself)
            continue
        if not (name.startswith(here) or name.startswith("<relukit.")):  # (or an entry's
            break  # generated function)
        level, frame = level + 1, frame.f_back
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def _choose() -> Path | None:
    tried = []
    for where in _roots():
        try:
            return claim(where, _dirname())
        except OSError as exc:
            tried.append(f"{where}: {exc.strerror or exc}")
    _warn_once(
        "nowhere",
        "relukit: no writable, private cache directory for the compiled kernels (tried "
        + ("; ".join(tried) or "none: no home directory")
        + "); they run, but every process compiles again the ones it uses (up to a few "
        "seconds each). To keep them, set NUMBA_CACHE_DIR to a writable directory (relukit "
        "caches under $NUMBA_CACHE_DIR/relukit).",
    )
    return None


def directory() -> Path | None:
    """This process's cache directory, ``<root>/kernels-<version>-<key>``, or None.

    Chosen (made, touched, older ones pruned) on the first call; None, after one
    RuntimeWarning, when no location is writable.
    """
    if not _chosen:
        with _choosing:
            if not _chosen:
                _chosen.append(_choose())
    return _chosen[0]


def root() -> Path | None:
    """The directory that holds relukit's caches (delete it to clear them), or None."""
    d = directory()
    return None if d is None else d.parent


# ---------------------------------------------------------------------------
# numba's cache, with relukit's location and stamp
# ---------------------------------------------------------------------------


class _Locator(caching._CacheLocator):
    """A fixed directory and stamp: :func:`directory` and :func:`digest`."""

    def __init__(self, py_func: Any, path: Path) -> None:
        self._py_file = py_func.__code__.co_filename  # (numba's warnings name it)
        self._lineno = py_func.__code__.co_firstlineno
        self._path = str(path)

    def ensure_cache_path(self) -> None:
        # made again if another process pruned it meanwhile
        os.makedirs(self._path, mode=0o700, exist_ok=True)
        tempfile.TemporaryFile(dir=self._path).close()

    def get_cache_path(self) -> str:
        return self._path

    def get_source_stamp(self) -> str:
        return _key()

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> None:  # pragma: no cover
        return None  # (never chosen by numba's own search)


class _Impl(caching.CompileResultCacheImpl):
    """numba's cache of compile results, in :func:`directory`.

    Files are named from the function's module and ``__qualname__`` (the plugged loops
    have their own) and its first line, as numba names them.
    """

    def __init__(self, py_func: Any) -> None:
        # (numba's __init__ searches locators next to the source: not called)
        self._lineno = py_func.__code__.co_firstlineno
        self._locator = _Locator(py_func, _directory_or_fail())
        qualname = getattr(py_func, "__qualname__", py_func.__name__)
        fullname = f"{py_func.__module__}.{qualname}"
        self._filename_base = self.get_filename_base(fullname, getattr(sys, "abiflags", ""))


def _directory_or_fail() -> Path:
    d = directory()
    if d is None:  # pragma: no cover - enable() checks first
        raise OSError("no cache directory")
    return d


class _FunctionCache(caching.FunctionCache):
    """numba's per-function cache; a file that cannot be read or written is not an error.

    The code is compiled and in memory either way: an unreadable entry (a partial or
    foreign file) is compiled again and overwritten; a failed save is warned about once.
    """

    _impl_class = _Impl

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        try:
            return super().load_overload(sig, target_context)
        except Exception:
            return None

    def save_overload(self, sig: Any, data: Any) -> None:
        try:
            super().save_overload(sig, data)
        except Exception as exc:
            _warn_once(
                "save",
                f"relukit: a compiled kernel could not be saved in {self.cache_path} "
                f"({type(exc).__name__}: {exc}); it runs, but the next process compiles "
                "it again. Set NUMBA_CACHE_DIR to a writable directory to keep the kernels.",
            )


def enable(dispatcher: Any) -> Any:
    """Give the numba ``dispatcher`` relukit's disk cache; returns it.

    With no writable cache directory, it keeps numba's in-memory compilation (after the
    one warning of :func:`directory`).
    """
    if not isinstance(dispatcher, Dispatcher):  # NUMBA_DISABLE_JIT: the Python function
        return dispatcher
    if directory() is not None:
        dispatcher._cache = _FunctionCache(dispatcher.py_func)  # type: ignore[attr-defined]
    return dispatcher


def njit(**flags: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**flags)`` whose ``cache=True`` means relukit's cache (:func:`enable`).

    Every relukit kernel is made with it (the loops, their element functions, the
    parallel and float16 loops, the few-bit loops), so they all share one directory.
    """
    cache = flags.pop("cache", False)

    def make(fn: Callable[..., Any]) -> Any:
        dispatcher = numba.njit(**flags)(fn)
        return enable(dispatcher) if cache else dispatcher

    return make
