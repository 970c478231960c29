"""Which catalogue entries have kernels, and how their parameters are packed.

Part of the kernel layer (:mod:`relukit._kernels` imports it; it imports nothing of
relukit's): :data:`KERNELS` maps an entry's name to its :class:`KernelSpec`, whose
``pack`` turns the entry's bound parameters into the kernels' scalar arguments and
picks a loop variant (``suffix``), or declines (``None``: the NumPy path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["KERNELS", "SELU_SA", "SELU_SCALE", "KernelSpec", "Packed"]

Packed = tuple  # (p0, p1, p2) or (p0, p1, p2, suffix, extra_args)


def _no_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    return (0.0, 0.0, 0.0)


def _leaky_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    s = params["negative_slope"]
    # value: x * slope, or (x or -0.0 at ±inf) * 0 when slope == 0 (see relukit.activations.rectifiers)
    return (0.0 if s == 0 else s, s, 1.0 if s == 0 else 0.0)


def _threshold_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    return (params["threshold"], params["value"], 0.0)


def _rrelu_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    # evaluation (or lower == upper): leaky_relu with the mean slope, as
    # relukit.activations.rectifiers does; training draws a slope per element (NumPy path)
    if params["training"] and params["lower"] != params["upper"]:
        return None
    return _leaky_params({"negative_slope": (params["lower"] + params["upper"]) / 2}, dtype, x)


def _relu6_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    return (6.0, 0.0, 0.0)


def _hardtanh_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    return (params["min_val"], params["max_val"], 0.0)


def _prelu_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    import numpy as np

    w = params["weight"]
    widen = 1.0 if dtype.itemsize < 8 else 0.0  # the NumPy path computes float32 in float64
    # float32 arrays whose weights are float32 values: the product in float32 gives the
    # same (prelu_narrow_*: no widening, see relukit._kernels_numba._prelu_narrow_v)
    if type(w) is float:
        narrow = dtype.char == "f" and _is_float32(np, w)
        return (widen, w, 1.0 if w == 0 else 0.0, "_narrow" if narrow else "", ())
    if not isinstance(w, (list, tuple, np.ndarray)):
        return None
    try:
        wa = np.asarray(w)
    except (TypeError, ValueError):
        return None
    channels = x.shape[1] if x.ndim >= 2 else 1
    # anything the NumPy path would reject (or broadcast differently) is left to it
    if wa.dtype.kind not in "iuf" or wa.ndim > 1 or wa.size not in (1, channels):
        return None
    wa = wa.astype(np.float64)
    if not np.all(np.isfinite(wa)):
        return None
    if wa.size == 1:
        s = float(wa.reshape(()))
        narrow = dtype.char == "f" and _is_float32(np, s)
        return (widen, s, 1.0 if s == 0 else 0.0, "_narrow" if narrow else "", ())
    inner = x.size // (x.shape[0] * channels)
    weights = np.ascontiguousarray(wa.reshape(-1))
    with np.errstate(all="ignore"):
        rounded = weights.astype(dtype)
    narrow = dtype.char == "f" and bool(np.all(rounded.astype(np.float64) == weights))
    suffix = "_channel_narrow" if narrow else "_channel"
    return (widen, 0.0, 0.0, suffix, (weights, rounded, channels, inner))


def _is_float32(np: Any, w: float) -> bool:
    """Whether the float ``w`` is a float32 value (not rounded, not out of range)."""
    with np.errstate(over="ignore"):
        return float(np.float32(w)) == w


def _widen_flag(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    return (1.0 if dtype.itemsize < 8 else 0.0, 0.0, 0.0)


def _elu_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    alpha = float(params["alpha"])
    # float32 loops: alpha exp(x) is formed from alpha's bits and clipped where it rounds
    # to 0, for 1e-30 <= |alpha| <= 1e30 (relukit._kernels_smooth._times_exp_neg32);
    # other alphas (0 among them) take the NumPy path
    if dtype.char == "f" and not 1e-30 <= abs(alpha) <= 1e30:
        return None
    return (alpha, 0.0, 0.0)


def _celu_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    alpha = float(params["alpha"])
    # the loops take exp and expm1 of x / alpha <= 0 only: a negative alpha (allowed, as
    # in PyTorch) takes the NumPy path. float32 loops: x / alpha as x * (1 / alpha)
    # (relukit._kernels_smooth._celu_v32), for a normal 1 / alpha; other alphas, the same
    if not alpha > 0 or (dtype.char == "f" and not 1e-300 <= alpha <= 1e300):
        return None
    return (alpha, 1.0 / alpha if alpha else 0.0, 0.0)


#: selu's lambda and lambda * alpha as :mod:`relukit.activations` has them (the product
#: of the two rounded constants, as PyTorch forms it); tests check the copy
SELU_SCALE = 1.0507009873554805
SELU_SA = 1.7580993408473766


def _selu_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    return (SELU_SCALE, SELU_SA, 0.0)


def _softplus_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    beta = float(params["beta"])
    # float32 loops: exp(-|beta x|) is clipped where exp(.) / beta rounds to 0 for
    # beta >= 1e-262 (relukit._kernels_smooth._softplus_v32); smaller betas: NumPy path
    if dtype.char == "f" and not beta >= 1e-262:
        return None
    return (beta, float(params["threshold"]), 0.0)


def _squareplus_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    b = float(params["b"])
    # b, sqrt(b) and b / 4 as relukit.activations.curved forms them (Python floats)
    return (b, b**0.5, 0.25 * b)


def _gelu_params(params: Mapping[str, Any], dtype: Any, x: Any) -> Packed | None:
    tanh = params["approximate"] == "tanh"
    if tanh and dtype.itemsize == 8:
        return None  # float64 tanh-gelu keeps the NumPy path (see _kernels_smooth)
    return (0.0, 0.0, 0.0, "_tanh" if tanh else "", ())


@dataclass(frozen=True)
class KernelSpec:
    """How an activation maps onto the kernels of ``_kernels_numba``.

    ``prefix`` names the loops (``<prefix><suffix>_value`` ...); ``pack(params, dtype,
    x)`` returns ``(p0, p1, p2)``, ``(p0, p1, p2, suffix, extra_args)`` or ``None`` for
    parameters (or a dtype) it does not cover; ``exact`` says whether the results are
    bit-for-bit those of the NumPy path (else within the ulp bounds of
    ``tests/test_kernels_smooth.py``); ``cost`` picks the chunk size (:data:`GRAIN`).
    """

    prefix: str
    pack: Callable[[Mapping[str, Any], Any, Any], Packed | None]
    exact: bool = True
    cost: Literal["memory", "light", "compute", "heavy"] = "compute"  # GRAIN[cost]
    #: float16 arrays: the NumPy path widens them to float64 and rounds the result once,
    #: so the float64 kernel on the widened array gives the same; ``"exact-params"``:
    #: only when the parameters are float16 values (the NumPy path compares x with them
    #: rounded to float16)
    half: Literal["yes", "exact-params"] = "yes"


#: catalogue entry name -> its kernels. Only the registered catalogue entry of that name
#: is given them (the dispatcher checks ``catalogue.get(name) is act``): a look-alike
#: built with ``dataclasses.replace`` keeps its own formula.
KERNELS: dict[str, KernelSpec] = {
    "relu": KernelSpec("relu", _no_params, cost="memory"),
    "leaky_relu": KernelSpec("leaky_relu", _leaky_params, cost="memory"),
    "relu6": KernelSpec("relu6", _relu6_params, cost="memory"),
    "hardtanh": KernelSpec("hardtanh", _hardtanh_params, cost="memory", half="exact-params"),
    "prelu": KernelSpec("prelu", _prelu_params, cost="memory"),
    "threshold": KernelSpec("threshold", _threshold_params, cost="memory", half="exact-params"),
    "rrelu": KernelSpec("leaky_relu", _rrelu_params, cost="memory"),
    "hardswish": KernelSpec("hardswish", _no_params, cost="light"),
    "hardsigmoid": KernelSpec("hardsigmoid", _widen_flag, cost="light"),
    "elu": KernelSpec("elu", _elu_params, exact=False),
    "selu": KernelSpec("selu", _selu_params, exact=False),
    "celu": KernelSpec("celu", _celu_params, exact=False),
    "softplus": KernelSpec("softplus", _softplus_params, exact=False, cost="heavy"),
    "silu": KernelSpec("silu", _no_params, exact=False),
    "mish": KernelSpec("mish", _no_params, exact=False),
    "gelu": KernelSpec("gelu", _gelu_params, exact=False, cost="heavy"),
    "squareplus": KernelSpec("squareplus", _squareplus_params, exact=False),
    "sparse_plus": KernelSpec("sparse_plus", _no_params, cost="light"),
}
