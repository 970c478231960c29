"""The matplotlib Figure that :func:`relukit.plot` returns: shown once in a notebook.

``rk.plot`` makes its figures through pyplot, so that ``plt.show()`` shows them in a
script and a notebook shows a figure made in a cell even when it is assigned
(``fig = rk.plot("relu")``). A cell that *ends* with ``rk.plot(...)`` then offers the
figure twice: as the cell's value, and again when the inline backend shows the
cell's pyplot figures after it. :class:`Figure` is shown at most once per cell: the
second request of the same cell (the inline backend's, after the value's) is dropped.
Anywhere but IPython it is a plain :class:`matplotlib.figure.Figure`.

Importing this module imports matplotlib: only :mod:`relukit.plot` does, when a
figure is asked for.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure as _MplFigure

__all__ = ["Figure"]


class Figure(_MplFigure):
    """A matplotlib Figure shown once per notebook cell (see the module doc)."""

    #: the IPython execution count of the cell that last displayed this figure
    _relukit_shown_in: int | None = None

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import publish_display_data

        ip = get_ipython()
        if ip is None:  # pragma: no cover - IPython calls this only from a shell
            return
        count = ip.execution_count
        if self._relukit_shown_in == count:
            return  # already shown by this cell
        self._relukit_shown_in = count
        fmt = ip.display_formatter
        data: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        # the shell's own formatters for a Figure (PNG, SVG, ... as configured); the
        # display formatter itself would call this method again
        for mime, formatter in fmt.formatters.items():
            if mime not in fmt.active_types:
                continue
            result = formatter(self)
            if result is None:
                continue
            if isinstance(result, tuple):
                result, meta[mime] = result
            data[mime] = result
        if data:
            publish_display_data(data, meta)
