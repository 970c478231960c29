"""Modules that are also the function of the same name (``rk.plot``, ``rk.diagnose``).

The public API (docs/design.md) fixes both the module names (``relukit.plot``, ``relukit.diagnose``) and the
calls ``rk.plot(...)``, ``rk.diagnose(model, data)``. Importing a submodule makes Python
bind the *module* to the package attribute of the same name, shadowing the lazily
exported function; :func:`make_callable` gives the module a ``__call__`` that forwards
to the function, so both spellings work whatever was imported first.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Make the module ``module_name`` callable as ``function``.

    >>> import relukit as rk, relukit.plot
    >>> rk.plot is relukit.plot and callable(rk.plot)
    True
    """

    class CallableModule(types.ModuleType):
        __doc__ = function.__doc__

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

    CallableModule.__name__ = CallableModule.__qualname__ = f"CallableModule[{module_name}]"
    sys.modules[module_name].__class__ = CallableModule
