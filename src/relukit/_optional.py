"""Optional dependencies: imported by the features that use them, named when missing.

``pip install relukit`` installs what ``import relukit`` and the NumPy API need (NumPy,
numba, array-api-compat). The rest comes with an extra, and :func:`require` turns a
missing package into one line that names it:

======================  ==============  ==========================================
package                 extra           used by
======================  ==============  ==========================================
matplotlib              ``plot``        ``rk.plot``, ``report.plot()``, figures
rich                    ``rich``        ``report.table()``, the command line's tables
scipy                   ``scipy``       exact gelu (``erfc``) on small NumPy arrays
                                        and Dask arrays
======================  ==============  ==========================================

>>> require("math", "this example").pi > 3
True
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "install_hint", "require", "scipy_special"]

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


def scipy_special() -> ModuleType:
    """``scipy.special`` (erfc and erfcx of gelu's NumPy path), or the line naming its extra."""
    return require(
        "scipy.special",
        "gelu (approximate='none') on NumPy arrays that the numba kernels do not take "
        "(fewer than 256 elements) and on Dask arrays",
        alternative="approximate='tanh' needs no SciPy",
    )
