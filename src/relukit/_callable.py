"""Modules that are also the function of the same name (``rk.plot``, ``rk.diagnose``).

The public API (docs/design.md) fixes both the module names (``relukit.plot``,
``relukit.diagnose``) and the calls ``rk.plot(...)``, ``rk.diagnose(model, data)``.
Importing a submodule makes Python bind the *module* to the package attribute of the
same name, shadowing the lazily exported function. :func:`make_callable` therefore puts
a :class:`CallableModule` in ``sys.modules`` in place of the module while it is being
imported (the import system binds whatever ``sys.modules`` holds when the module's code
has run): a new module object that forwards calls to the function and every attribute
read, write and deletion to the real module, so both spellings work whatever was
imported first, and ``monkeypatch.setattr(relukit.plot, ...)`` reaches the module's
functions. No object's class is changed.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["CallableModule", "make_callable"]

# attributes the facade keeps itself (everything else lives in the real module)
_OWN = frozenset({"_relukit_module", "_relukit_function"})


class CallableModule(types.ModuleType):
    """A module object that is also a function: calls go to ``function``, attributes
    to ``module`` (read, set and deleted there).

    >>> import relukit as rk, relukit.plot
    >>> rk.plot is relukit.plot and callable(rk.plot), rk.plot.__name__
    (True, 'relukit.plot')
    """

    def __init__(self, module: types.ModuleType, function: Callable[..., Any]) -> None:
        super().__init__(module.__name__, module.__doc__)
        # the facade's own dict: the module's identity (name, doc, spec, ...) and these two
        object.__setattr__(self, "_relukit_module", module)
        object.__setattr__(self, "_relukit_function", function)
        for key in ("__package__", "__loader__", "__spec__", "__file__", "__path__"):
            if key in module.__dict__:
                object.__setattr__(self, key, module.__dict__[key])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._relukit_function(*args, **kwargs)

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        # the module's namespace, as every attribute read goes there: tools that read
        # ``vars(module)`` see its functions (pytest's monkeypatch takes the value to put
        # back from there, and would delete a patched function on undo otherwise)
        return object.__getattribute__(self, "_relukit_module").__dict__

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_relukit_module"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self._relukit_module, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._relukit_module, name)

    def __dir__(self) -> list[str]:
        return dir(self._relukit_module)

    def __repr__(self) -> str:
        return repr(self._relukit_module)


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Replace the module ``module_name`` in ``sys.modules`` by a :class:`CallableModule`
    that calls ``function``; call it at the end of the module's own code."""
    module = sys.modules[module_name]
    if not isinstance(module, CallableModule):
        sys.modules[module_name] = CallableModule(module, function)
