"""Optional dependencies: imported by the features that use them, named when missing.

``pip install relukit`` installs what ``import relukit`` and the NumPy API need (NumPy,
numba, array-api-compat). The rest comes with an extra, and :func:`require` turns a
missing package into one line that names it:

======================  ==============  ==========================================
package                 extra           used by
======================  ==============  ==========================================
matplotlib              ``plot``        ``rk.plot``, ``report.plot()``, figures
rich                    ``rich``        ``report.table()``, the command line's tables
scipy                   ``scipy``       the few-bit backward of ``relukit.torch``
                                        for parameters whose levels are not
                                        precomputed; the experiments' statistics
======================  ==============  ==========================================

SciPy's users import it directly, so a missing SciPy is Python's own
``ModuleNotFoundError`` (the command line turns it into the line naming the extra);
nothing in ``import relukit`` or the NumPy API needs it.

>>> require("math", "this example").pi > 3
True
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "install_hint", "require"]

#: the extra that installs each optional package
EXTRAS = {"matplotlib": "plot", "rich": "rich", "scipy": "scipy"}


def install_hint(package: str) -> str:
    """``pip install 'relukit[EXTRA]'`` for ``package`` (its top-level name)."""
    return f"pip install 'relukit[{EXTRAS.get(package, package)}]'"


def require(module: str, feature: str, *, alternative: str = "") -> ModuleType:
    """Import ``module``; if its package is not installed, raise one line naming the extra.

    The error is a :class:`ModuleNotFoundError` (so an :class:`ImportError`) whose
    ``name`` is the package, as Python's own: ``except ModuleNotFoundError`` and
    ``exc.name`` keep working. ``alternative`` is added after the hint (what works
    without the package). An import error raised *inside* the package is not hidden.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.partition(".")[0]
        if (exc.name or "").partition(".")[0] != top:
            raise
        extra = f"; {alternative}" if alternative else ""
        raise ModuleNotFoundError(
            f"{feature} needs {top}, which is not installed: {install_hint(top)}{extra}",
            name=top,
        ) from None
