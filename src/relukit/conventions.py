"""The convention table: what relukit, PyTorch, JAX and the tutorials' code give.

Every cell is *measured* when the table is built (PyTorch and JAX only if installed),
so the table in the README and in ``relukit demo`` cannot drift from the libraries.
The "tutorials" column runs the code the tutorials print: ``max(0.0, x)`` for relu,
``1 if x > 0 else 0`` for its derivative (or ``x >= 0`` where they write 1 at 0),
``max(negative_slope * x, x)`` for leaky relu.

A second table, :func:`measure_gated`, sets the calling conventions of the gated
units (``f(gate) * up``) next to PyTorch's (``torch.nn.GLU``/``F.glu``: one tensor, the
gate its second half; no SwiGLU), JAX's (``jax.nn.glu(x, axis)``), Hugging Face's
gated MLP (``down_proj(act_fn(gate_proj(x)) * up_proj(x))``, measured on a tiny
``LlamaMLP`` where ``transformers`` is installed) and the paper's (Shazeer 2020, "GLU
Variants Improve Transformer": ``f(xW) * xV``, the activation on the first projection;
written from the paper, the one column that is not code).

>>> rows = measure(libraries=("relukit", "tutorials"))
>>> rows[0]["question"], rows[0]["relukit"], rows[0]["tutorials"]
("relu'(0)", '0.0', '1 or 0')
>>> gated = measure_gated(libraries=("relukit", "Shazeer 2020"))
>>> gated[0]["question"], gated[0]["relukit"]
('glu of one array x = [1, 2]', '0.8807970779778824: 1 * sigmoid(2), the gate is the 2nd half')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["GATED_LIBRARIES", "LIBRARIES", "measure", "measure_gated", "render_markdown"]

LIBRARIES = ("relukit", "PyTorch", "JAX", "tutorials")
#: the columns of the gated units' table
GATED_LIBRARIES = ("relukit", "PyTorch", "JAX", "Hugging Face", "Shazeer 2020")


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
    return _measure(_SOURCES, list(_relukit()), libraries)


def measure_gated(libraries: tuple[str, ...] = GATED_LIBRARIES) -> list[dict[str, str]]:
    """The gated units' calling conventions, measured as :func:`measure` measures.

    Rows: which half of one array is the gate (``glu``), which of two inputs takes the
    activation (SwiGLU), SwiGLU's derivative with respect to the gate, ReGLU's at its
    kink, and GeGLU's GELU.
    """
    return _measure(_GATED_SOURCES, list(_gated_relukit()), libraries)


def _measure(
    sources: dict[str, Callable[[], dict[str, Callable[[], Any]]]],
    questions: list[str],
    libraries: tuple[str, ...],
) -> list[dict[str, str]]:
    columns: dict[str, dict[str, Callable[[], Any]] | None] = {}
    for lib in libraries:
        try:
            columns[lib] = sources[lib]()
        except ImportError:
            columns[lib] = None
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


# ---------------------------------------------------------------------------
# the gated units: f(gate) * up, one array or two
# ---------------------------------------------------------------------------

_SPLIT = "glu of one array x = [1, 2]"
_TWO = "swiglu of two inputs, gate = 1, up = 2"
_DGATE = "swiglu's d/d gate at gate = 1, up = 2"
_KINK = "reglu's d/d gate at gate = 0, up = 1"
_GEGLU = "geglu's gelu"


def _sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def _half(v: float) -> str:
    """Which half of x = [1, 2] gated: 1 * sigmoid(2) or 2 * sigmoid(1)."""
    if math.isclose(v, 1.0 * _sig(2.0), rel_tol=1e-6):
        return f"{_show(v)}: 1 * sigmoid(2), the gate is the 2nd half"
    if math.isclose(v, 2.0 * _sig(1.0), rel_tol=1e-6):
        return f"{_show(v)}: 2 * sigmoid(1), the gate is the 1st half"
    return _show(v)


def _first(v: float, where: str) -> str:
    """Which of (1, 2) took the activation: silu(1) * 2 or silu(2) * 1."""
    if math.isclose(v, 2.0 * _sig(1.0), rel_tol=1e-6):
        return f"{_show(v)}: silu(1) * 2, {where}"
    if math.isclose(v, 2.0 * _sig(2.0), rel_tol=1e-6):
        return f"{_show(v)}: silu(2) * 1, the activation on the 2nd input"
    return _show(v)


def _gated_relukit() -> dict[str, Callable[[], Any]]:
    import numpy as np

    import relukit as rk

    default = rk.geglu.params["approximate"].default
    return {
        _SPLIT: lambda: _half(float(rk.glu(np.array([1.0, 2.0]))[0])),
        _TWO: lambda: _first(rk.swiglu(1.0, 2.0), "the activation on the 1st input (gate)"),
        _DGATE: lambda: rk.swiglu.derivative(1.0, 2.0)[0],
        _KINK: lambda: rk.reglu.derivative(0.0, 1.0)[0],
        _GEGLU: lambda: f"approximate={default!r} (exact), 'tanh' available",
    }


def _gated_torch() -> dict[str, Callable[[], Any]]:
    import torch
    import torch.nn.functional as F

    def grad(f: Callable, g: float, u: float) -> float:
        t = torch.tensor(g, dtype=torch.float64, requires_grad=True)
        f(t, torch.tensor(u, dtype=torch.float64)).backward()
        assert t.grad is not None
        return float(t.grad)

    def missing(name: str, module: str, composite: str) -> str:
        have = [f"{m}.{n}" for m, n in ((F, name), (torch.nn, module)) if hasattr(m, n)]
        return ", ".join(have) if have else f"no {name} ({composite} by hand)"

    return {
        _SPLIT: lambda: _half(float(F.glu(torch.tensor([1.0, 2.0], dtype=torch.float64))[0])),
        _TWO: lambda: missing("swiglu", "SwiGLU", "F.silu(gate) * up"),
        _DGATE: lambda: grad(lambda g, u: F.silu(g) * u, 1.0, 2.0),
        _KINK: lambda: grad(lambda g, u: F.relu(g) * u, 0.0, 1.0),
        _GEGLU: lambda: missing("geglu", "GeGLU", "F.gelu(gate) * up"),
    }


def _gated_jax() -> dict[str, Callable[[], Any]]:
    import jax
    import jax.numpy as jnp

    def missing(name: str, composite: str) -> str:
        return f"jax.nn.{name}" if hasattr(jax.nn, name) else f"no {name} ({composite} by hand)"

    return {
        _SPLIT: lambda: _half(float(jax.nn.glu(jnp.asarray([1.0, 2.0]))[0])),
        _TWO: lambda: missing("swiglu", "jax.nn.silu(gate) * up"),
        _DGATE: lambda: float(jax.grad(lambda g: jax.nn.silu(g) * 2.0)(1.0)),
        _KINK: lambda: float(jax.grad(lambda g: jax.nn.relu(g) * 1.0)(0.0)),
        _GEGLU: lambda: missing("geglu", "jax.nn.gelu(gate) * up"),
    }


def _llama_mlp(act: str, gate: float, up: float) -> tuple[float, float]:
    """Hugging Face's gated MLP (``LlamaMLP``), 1 unit wide, with ``gate_proj`` weight
    ``gate``, ``up_proj`` weight ``up`` and ``down_proj`` 1, at x = 1, in float64:
    ``(output, d output / d gate_proj weight)`` (= d/d gate, since x = 1)."""
    import warnings

    import torch
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaMLP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = LlamaConfig(
            hidden_size=1,
            intermediate_size=1,
            hidden_act=act,
            num_hidden_layers=1,
            num_attention_heads=1,
            num_key_value_heads=1,
            vocab_size=4,  # (room for the default bos/eos token ids)
        )
        mlp = LlamaMLP(cfg).double()
    with torch.no_grad():
        mlp.gate_proj.weight.fill_(gate)
        mlp.up_proj.weight.fill_(up)
        mlp.down_proj.weight.fill_(1.0)
    y = mlp(torch.ones(1, 1, dtype=torch.float64)).sum()
    y.backward()
    g = mlp.gate_proj.weight.grad
    assert g is not None
    return float(y.detach()), float(g.sum())


def _gated_hf() -> dict[str, Callable[[], Any]]:
    import transformers  # noqa: F401  (ImportError: "not installed")

    def gemma() -> str:
        from transformers import GemmaConfig

        return f"{GemmaConfig().hidden_act} (Gemma's default)"

    return {
        _SPLIT: lambda: "— (two projections)",
        _TWO: lambda: _first(
            _llama_mlp("silu", 1.0, 2.0)[0], "act_fn(gate_proj(x)) * up_proj(x) (LlamaMLP)"
        ),
        _DGATE: lambda: _llama_mlp("silu", 1.0, 2.0)[1],
        _KINK: lambda: _llama_mlp("relu", 0.0, 1.0)[1],
        _GEGLU: gemma,
    }


def _gated_paper() -> dict[str, Callable[[], Any]]:
    # Shazeer (2020), "GLU Variants Improve Transformer", equations (5) and (6): the
    # paper's text, not code
    return {
        _SPLIT: lambda: "— (two projections)",
        _TWO: lambda: "Swish(xW) * xV: the activation on the 1st projection",
        _DGATE: lambda: "—",
        _KINK: lambda: "—",
        _GEGLU: lambda: "GELU(xW) * xV",
    }


_GATED_SOURCES: dict[str, Callable[[], dict[str, Callable[[], Any]]]] = {
    "relukit": _gated_relukit,
    "PyTorch": _gated_torch,
    "JAX": _gated_jax,
    "Hugging Face": _gated_hf,
    "Shazeer 2020": _gated_paper,
}


def render_markdown(rows: list[dict[str, str]]) -> str:
    """The rows as a Markdown table (as in the README)."""
    libs = [k for k in rows[0] if k != "question"]
    head = "| question | " + " | ".join(libs) + " |"
    sep = "|---" * (len(libs) + 1) + "|"
    body = ["| " + " | ".join([r["question"], *(r[lib] for lib in libs)]) + " |" for r in rows]
    return "\n".join([head, sep, *body])
