"""Output paths of the command line, checked before any work starts.

A command that writes a file checks, before it computes anything, that the file can be
written there: the folder exists, is a folder, and accepts a new file (tried for real,
so read-only mounts, ``/proc`` and missing permissions are caught even for root). A
failure is a :class:`ValueError` with one line of text; ``relukit`` prints it on stderr
and exits with status 2.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["check_writable"]


def check_writable(path: str | os.PathLike[str], option: str = "-o") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if a file can be written there.

    An existing file is opened for appending (its content is left as it is); for a new
    file a temporary file is created and removed in the same folder.

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
    if p.is_dir():
        raise ValueError(f"{where}: is a folder; give a file name")
    parent = p.parent
    if not parent.exists():
        raise ValueError(f"{where}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ValueError(f"{where}: {str(parent)!r} is not a folder")
    try:
        if p.exists():
            with open(p, "ab"):
                pass
        else:
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=".relukit-check-")
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"{where}: cannot write there ({reason})") from None
    return p
