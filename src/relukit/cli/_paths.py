"""Output paths of the command line, checked before any work starts.

A command that writes a file checks, before it computes anything, that the file can be
written there: the folder exists, is a folder, and accepts a new file (tried for real,
so read-only mounts, ``/proc`` and missing permissions are caught even for root). A
failure is one line of text (a :class:`ValueError` from :func:`check_writable`, which
names the option; a :class:`relukit.cli.CLIError` from :func:`check_output_path`, which
also creates a missing output folder); ``relukit`` prints it on stderr and exits with
status 2.

The check creates, changes and deletes none of the user's files: a symbolic link is
followed to the file it names (the command later writes through the link, which stays
a link, and a dangling link gets its target created then); an existing file is opened
for writing without being created, truncated or appended to; a new file's folder is
tried with a temporary file of relukit's own, removed at once.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

__all__ = [
    "PathProblem",
    "check_figure_format",
    "check_output_path",
    "check_outputs",
    "check_writable",
    "probe_file",
]


class PathProblem(OSError):
    """The path itself is wrong (a folder where a file goes, a missing folder): its
    ``strerror`` is the whole explanation."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.strerror = message
        self.filename = str(path)


def probe_file(path: str | os.PathLike[str]) -> None:
    """Raise :class:`OSError` unless a file can be written at ``path``; touch nothing.

    ``path`` may be a symbolic link (to an existing file or dangling): the file it
    names is checked. :class:`PathProblem` (an ``OSError``) when the path is a folder
    or its folder is missing or not a folder; the system's ``OSError`` when the file
    or folder refuses to be written.
    """
    p = Path(path)
    try:
        os.stat(p)
    except OSError as exc:  # a loop of links is an error now, not after the work
        if exc.errno == errno.ELOOP:
            raise
    target = Path(os.path.realpath(p))  # where the bytes will go
    try:
        st = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise PathProblem("is a folder; give a file name", p)
        if stat.S_ISREG(st.st_mode):
            # no O_CREAT, O_TRUNC or write: the file is left exactly as it is
            os.close(os.open(target, os.O_WRONLY | os.O_APPEND))
        return  # a device or pipe (/dev/null, /dev/stdout): opened when written
    parent = target.parent
    if not parent.is_dir():
        if parent.exists():
            raise PathProblem(f"{str(parent)!r} is not a folder", p)
        raise PathProblem(f"folder {str(parent)!r} does not exist", p)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".relukit-check-")
    os.close(fd)
    os.unlink(tmp)


def check_writable(path: str | os.PathLike[str], option: str = "-o") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if a file can be written there.

    Nothing is created, changed or deleted (see the module's description); a symbolic
    link is checked at the file it names and kept.

    Parameters
    ----------
    path
        The file the command will write.
    option
        The option that named it, for the message (``"-o"``, ``"--json"``).

    Raises
    ------
    ValueError
        One line naming the option, the path and the reason.

    Examples
    --------
    >>> check_writable("/nonexistent-folder/plot.png")
    Traceback (most recent call last):
    ...
    ValueError: -o /nonexistent-folder/plot.png: folder '/nonexistent-folder' does not exist
    """
    p = Path(path)
    where = f"{option} {p}"
    try:
        probe_file(p)
    except PathProblem as exc:
        raise ValueError(f"{where}: {exc.strerror}") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"{where}: cannot write there ({reason})") from None
    return p


def check_outputs(args: object, json: str | None = "json", figure: str | None = None) -> None:
    """Check the output files named in ``args``, those given, before any work.

    ``json`` and ``figure`` are the attributes of ``args`` that hold a JSON file and an
    image file (``--json``, ``--plot``). An image's format comes from its extension and
    must be one that matplotlib writes (checked without importing matplotlib's
    backends: the names are matplotlib's own list). For the benchmarks:
    ``relukit bench accuracy --json FILE`` fails before it measures.
    """
    for attr, is_figure in ((json, False), (figure, True)):
        value = None if attr is None else getattr(args, attr, None)
        if value is None:
            continue
        option = "--" + str(attr).replace("_", "-")
        if is_figure:
            check_figure_format(value, option)
        check_writable(value, option)


def check_figure_format(path: str | os.PathLike[str], option: str = "--plot") -> None:
    """Raise a one-line :class:`ValueError` unless matplotlib writes ``path``'s format.

    The format comes from the extension; the accepted ones are matplotlib's own list,
    read without importing its backends.

    >>> check_figure_format("fig.txt")
    Traceback (most recent call last):
    ...
    ValueError: --plot fig.txt: the format comes from the extension, which must be one of ...
    """
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in formats:
        raise ValueError(
            f"{option} {path}: the format comes from the extension, which must be "
            f"one of {', '.join('.' + f for f in sorted(formats))} "
            f"(got {Path(path).suffix or 'none'!r})"
        )


def check_output_path(path: str | os.PathLike[str], *, folder: bool) -> None:
    """Check, before any work, that ``path`` can be written; else raise a one-line error.

    ``folder=True``: ``path`` is an output folder; it is created (with its parents) if
    missing, and an unnamed temporary file is created in it and dropped. ``folder=False``:
    ``path`` is a file; its folder is created if missing, and then it is checked as
    :func:`probe_file` does: no file of the user's is created, changed or deleted, and a
    symbolic link is checked at the file it names and kept.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_path(d / "report", folder=True)
    >>> (d / "report").is_dir(), list((d / "report").iterdir())
    (True, [])
    >>> check_output_path(d / "report", folder=False)
    Traceback (most recent call last):
    ...
    relukit.cli.CLIError: cannot write the output file '...report': it is a folder
    """
    from relukit.cli import CLIError

    p = Path(path)
    what = "output folder" if folder else "output file"
    try:
        if folder:
            if p.exists() and not p.is_dir():
                raise CLIError(f"cannot use {str(p)!r} as the {what}: it is not a folder")
            p.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=p):
                pass
        else:
            if p.is_dir():
                raise CLIError(f"cannot write the {what} {str(p)!r}: it is a folder")
            if not p.is_symlink():  # a link's folder is where it points (not created)
                p.parent.mkdir(parents=True, exist_ok=True)
            probe_file(p)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CLIError(f"cannot write the {what} {str(p)!r}: {reason}") from None
