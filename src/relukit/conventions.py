"""The convention table: what relukit, PyTorch, JAX and the tutorials' code give.

Every cell is *measured* when the table is built (PyTorch and JAX only if installed),
so the table in the README and in ``relukit demo`` cannot drift from the libraries.
The "tutorials" column runs the code the tutorials print: ``max(0.0, x)`` for relu,
``1 if x > 0 else 0`` for its derivative (or ``x >= 0`` where they write 1 at 0),
``max(negative_slope * x, x)`` for leaky relu.

>>> rows = measure(libraries=("relukit", "tutorials"))
>>> rows[0]["question"], rows[0]["relukit"], rows[0]["tutorials"]
("relu'(0)", '0.0', '1 or 0')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["LIBRARIES", "measure", "render_markdown"]

LIBRARIES = ("relukit", "PyTorch", "JAX", "tutorials")


def _show(v: Any) -> str:
    if isinstance(v, str):
        return v
    if hasattr(v, "dtype") and getattr(v, "ndim", 0) == 1:
        return f"{[_show(float(e)) if 'float' in str(v.dtype) else int(e) for e in v]} {v.dtype}"
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return repr(float(v))  # 0.0, -0.0, 1.0, 0.01, nan, inf


def _relukit() -> dict[str, Callable[[], Any]]:
    import numpy as np

    import relukit as rk

    inf, nan = math.inf, math.nan
    return {
        "relu'(0)": lambda: rk.relu.derivative(0.0),
        "leaky_relu'(0), slope 0.01": lambda: rk.leaky_relu.derivative(0.0),
        "relu(nan)": lambda: rk.relu(nan),
        "relu'(nan)": lambda: rk.relu.derivative(nan),
        "relu(-0.0)": lambda: rk.relu(-0.0),
        "leaky_relu(-inf), slope 0": lambda: rk.leaky_relu(-inf, 0.0),
        "relu on int [-3, 2]": lambda: rk.relu(np.array([-3, 2])),
    }


def _torch() -> dict[str, Callable[[], Any]]:
    import torch
    import torch.nn.functional as F

    def grad(f: Callable, x: float) -> float:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        f(t).backward()
        assert t.grad is not None
        return float(t.grad)

    inf, nan = math.inf, math.nan
    return {
        "relu'(0)": lambda: grad(F.relu, 0.0),
        "leaky_relu'(0), slope 0.01": lambda: grad(lambda t: F.leaky_relu(t, 0.01), 0.0),
        "relu(nan)": lambda: float(F.relu(torch.tensor(nan))),
        "relu'(nan)": lambda: grad(F.relu, nan),
        "relu(-0.0)": lambda: float(F.relu(torch.tensor(-0.0))),
        "leaky_relu(-inf), slope 0": lambda: float(F.leaky_relu(torch.tensor(-inf), 0.0)),
        "relu on int [-3, 2]": lambda: F.relu(torch.tensor([-3, 2])).numpy(),
    }


def _jax() -> dict[str, Callable[[], Any]]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    inf, nan = math.inf, math.nan
    return {
        "relu'(0)": lambda: float(jax.grad(jax.nn.relu)(0.0)),
        "leaky_relu'(0), slope 0.01": lambda: float(
            jax.grad(lambda v: jax.nn.leaky_relu(v, 0.01))(0.0)
        ),
        "relu(nan)": lambda: float(jax.nn.relu(nan)),
        "relu'(nan)": lambda: float(jax.grad(jax.nn.relu)(nan)),
        "relu(-0.0)": lambda: float(jax.nn.relu(jnp.float32(-0.0))),
        "leaky_relu(-inf), slope 0": lambda: float(jax.nn.leaky_relu(-inf, 0.0)),
        "relu on int [-3, 2]": lambda: np.asarray(jax.nn.relu(jnp.array([-3, 2]))),
    }


def _tutorials() -> dict[str, Callable[[], Any]]:
    inf, nan = math.inf, math.nan
    relu = lambda x: max(0.0, x)  # noqa: E731
    drelu = lambda x: 1 if x > 0 else 0  # noqa: E731
    leaky = lambda x, a=0.01: max(a * x, x)  # noqa: E731
    return {
        "relu'(0)": lambda: "1 or 0",
        "leaky_relu'(0), slope 0.01": lambda: "1 or 0.01",
        "relu(nan)": lambda: relu(nan),
        "relu'(nan)": lambda: drelu(nan),
        "relu(-0.0)": lambda: relu(-0.0),
        "leaky_relu(-inf), slope 0": lambda: leaky(-inf, 0.0),
        "relu on int [-3, 2]": lambda: f"[{relu(-3)!r}, {relu(2)!r}] mixed",
    }


_SOURCES: dict[str, Callable[[], dict[str, Callable[[], Any]]]] = {
    "relukit": _relukit,
    "PyTorch": _torch,
    "JAX": _jax,
    "tutorials": _tutorials,
}


def measure(libraries: tuple[str, ...] = LIBRARIES) -> list[dict[str, str]]:
    """Measure every question for every library; "not installed" where one is missing.

    Returns a list of rows ``{"question": ..., "relukit": ..., "PyTorch": ..., ...}``.
    """
    columns: dict[str, dict[str, Callable[[], Any]] | None] = {}
    for lib in libraries:
        try:
            columns[lib] = _SOURCES[lib]()
        except ImportError:
            columns[lib] = None
    questions = list(_relukit())
    rows = []
    for q in questions:
        row = {"question": q}
        for lib, funcs in columns.items():
            if funcs is None:
                row[lib] = "not installed"
                continue
            try:
                row[lib] = _show(funcs[q]())
            except Exception as exc:  # a library raising is a result too
                row[lib] = f"error: {type(exc).__name__}"
        rows.append(row)
    return rows


def render_markdown(rows: list[dict[str, str]]) -> str:
    """The rows as a Markdown table (as in the README)."""
    libs = [k for k in rows[0] if k != "question"]
    head = "| question | " + " | ".join(libs) + " |"
    sep = "|---" * (len(libs) + 1) + "|"
    body = ["| " + " | ".join([r["question"], *(r[lib] for lib in libs)]) + " |" for r in rows]
    return "\n".join([head, sep, *body])
