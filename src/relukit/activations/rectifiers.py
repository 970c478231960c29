"""Piecewise-linear members of the family: one block per activation.

See :mod:`relukit.activations` for what a block holds and the conventions it follows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from relukit._prims.numpy import MATH, kind, namespace
from relukit.catalogue import Activation, Kink, Math, Param, register

__all__ = [
    "hardsigmoid",
    "hardtanh",
    "leaky_relu",
    "prelu",
    "relu",
    "relu6",
    "rrelu",
    "threshold",
]

# ---------------------------------------------------------------------------
# relu
# ---------------------------------------------------------------------------


def _relu(m, x):
    # the positive part: -0.0 gives +0 (a rectified output carries no sign bit), and
    # autograd through it gives 0 at 0, as PyTorch
    return m.pos(x)


def _relu_d(m, x):
    return m.where(x > 0, 1, 0)


def _relu_dy(m, y):
    # y > 0 exactly when x > 0, and y = 0 at the kink: the same values as _relu_d.
    return m.where(y > 0, 1, 0)


relu = register(
    Activation(
        name="relu",
        summary="Rectified linear unit: the positive part of x.",
        formula="relu(x) = max(0, x)",
        derivative_formula="relu'(x) = 1 if x > 0, 0 if x <= 0",
        latex=r"\mathrm{relu}(x) = \max(0, x)",
        derivative_latex=r"\mathrm{relu}'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}",
        math=Math(_relu, _relu_d, from_output=_relu_dy, exact=True),
        kinks=(
            Kink.fixed(
                0,
                left=0,
                right=1,
                default=0,
                note="relu'(0) = 0, as PyTorch, JAX, TF, scikit-learn and NNlib; many "
                "tutorials write 1 (pass at_kink=1)",
            ),
        ),
        aliases=("rectifier", "rectified_linear_unit"),
        integer_preserving=True,
        nonnegative_output=True,
        zero_gradient_below=True,
        torch_name="torch.nn.functional.relu",
        jax_name="jax.nn.relu",
        differences="PyTorch and TF return -0.0 for relu(-0.0) and PyTorch's autograd "
        "gives relu'(nan) = 1; relukit returns +0.0 and relu'(nan) = nan.",
        examples="""
>>> import relukit as rk
>>> rk.relu(2), rk.relu(-3.0), rk.relu(float("nan"))
(2, 0.0, nan)
>>> rk.relu([-2.0, -0.0, 0.5, float("inf")])
array([0. , 0. , 0.5, inf])
>>> rk.relu.derivative(0.0), rk.relu.derivative(0.0, at_kink=1.0)
(0.0, 1.0)
""",
    )
)

# ---------------------------------------------------------------------------
# slopes meet x in its dtype (leaky_relu, rrelu)
# ---------------------------------------------------------------------------

#: per floating dtype: the magnitudes that round to a normal finite number of it (from
#: half an ulp below the smallest normal number to half an ulp above the largest, ties
#: to even: exact for every float64 slope), and that range as the messages print it
_NORMAL_RANGE = {
    "float16": (2.0**-14 * (1 - 2.0**-11), 2.0**15 * (2 - 2.0**-11), "6.104e-05", "65504"),
    "bfloat16": (2.0**-126 * (1 - 2.0**-8), 2.0**127 * (2 - 2.0**-8), "1.1755e-38", "3.3895e+38"),
    "float32": (
        2.0**-126 * (1 - 2.0**-24),
        2.0**127 * (2 - 2.0**-24),
        "1.1754944e-38",
        "3.4028235e+38",
    ),
    # (a Python float is a float64: normal from 2**-1022 on, up to the largest float)
    "float64": (2.0**-1022, math.inf, "2.2250738585072014e-308", "1.7976931348623157e+308"),
}


#: (low, high, low as text, high as text, dtype name) by dtype object, as looked up
_LIMITS: dict[Any, tuple[float, float, str, str, str]] = {}


def _limits(dtype: Any) -> tuple[float, float, str, str, str]:
    dt = getattr(dtype, "name", None)  # NumPy and JAX dtypes (byte-swapped ones too)
    if not isinstance(dt, str):  # torch.float32, or a name already
        dt = str(dtype).rpartition(".")[2]
    low, high, low_text, high_text = _NORMAL_RANGE.get(dt, (0.0, math.inf, "", ""))
    limits = (low, high, low_text, high_text, dt)
    if len(_LIMITS) < 64:  # (a few dtypes in practice)
        _LIMITS[dtype] = limits
    return limits


def check_slope(owner: str, name: str, value: float, dtype: Any) -> None:
    """Raise ValueError unless the slope ``value`` is 0 or rounds to a normal ``dtype`` number.

    ``x * slope`` is computed in ``x``'s floating dtype, the slope rounded to it first
    (as NumPy and PyTorch do). A slope that overflows there gives ``0 * inf = nan`` at
    ±0, and a subnormal one has lost its relative precision (1e-40 in float32 keeps 17
    of 24 bits: the products are 57 ulp off), so both are refused rather than computed
    wrongly. ``dtype``: a NumPy, torch or JAX dtype (or its name); only float16,
    bfloat16, float32 and float64 are checked (longdouble holds every float64 slope).

    >>> check_slope("leaky_relu", "negative_slope", 1e-40, "float64")
    >>> check_slope("leaky_relu", "negative_slope", 1e39, "float32")
    Traceback (most recent call last):
    ...
    ValueError: leaky_relu: negative_slope = 1e+39 overflows to inf in float32, the dtype ...
    """
    limits = _LIMITS.get(dtype)
    if limits is None:
        limits = _limits(dtype)
    if value == 0 or limits[0] <= abs(value) < limits[1]:
        return
    low, high, low_text, high_text, dt = limits
    size = abs(value)
    what = "overflows to inf" if size >= high else "is below the normal numbers (subnormal or 0)"
    raise ValueError(
        f"{owner}: {name} = {value!r} {what} in {dt}, the dtype x * {name} is computed in "
        f"for this input; {name} must be 0 or of magnitude between {low_text} and "
        f"{high_text} for {dt} input (the normal {dt} numbers)"
    )


# ---------------------------------------------------------------------------
# leaky_relu
# ---------------------------------------------------------------------------

_SLOPE = Param(
    "negative_slope", 0.01, "slope for x < 0 (PyTorch's name and default; Keras uses alpha=0.3)"
)


def _leaky(m, x, negative_slope):
    # -inf * 0 is NaN, but the limit of 0 * x as x -> -inf is 0: with a zero slope -inf
    # gives -0.0 (as 0 * any finite x < 0; +inf takes the identity branch anyway). That
    # product is the only NaN a non-NaN x can give here (a NaN x comes out as itself
    # whatever the formula says). `x > 0` picks the identity branch; the slope branch at
    # 0 makes autograd give the slope.
    neg = x * negative_slope
    return m.where(x > 0, x, m.where(neg != neg, -0.0, neg))


def _leaky_d(m, x, negative_slope):
    return m.where(x > 0, 1, negative_slope)


def _leaky_dy(m, y, negative_slope):
    # for negative_slope >= 0 (then y > 0 exactly when x > 0; see _output_ok)
    return m.where(y > 0, 1, negative_slope)


def _slope_ok(negative_slope: float) -> bool:
    # a negative slope maps x < 0 to y > 0: the output cannot tell the branch
    return negative_slope >= 0


def _slope_args(p: Mapping[str, Any], x: Any = None, xp: Any = None) -> tuple[float]:
    # -0.0 is the slope 0 (the kernels see one zero)
    return (p["negative_slope"] + 0.0,)


_LEAKY_MATH = Math(
    _leaky, _leaky_d, from_output=_leaky_dy, output_ok=_slope_ok, args=_slope_args, exact=True
)


def _leaky_check_dtype(p: dict, dtype: Any) -> None:
    check_slope("leaky_relu", "negative_slope", p["negative_slope"], dtype)


leaky_relu = register(
    Activation(
        name="leaky_relu",
        summary="Leaky rectified linear unit: x for x > 0, negative_slope * x otherwise.",
        formula="leaky_relu(x) = x if x > 0, negative_slope * x if x <= 0",
        derivative_formula="leaky_relu'(x) = 1 if x > 0, negative_slope if x <= 0",
        latex=r"\mathrm{leaky\_relu}(x) = \begin{cases} x & x > 0 \\ "
        r"\text{negative\_slope} \cdot x & x \le 0 \end{cases}",
        derivative_latex=r"\mathrm{leaky\_relu}'(x) = \begin{cases} 1 & x > 0 \\ "
        r"\text{negative\_slope} & x \le 0 \end{cases}",
        math=_LEAKY_MATH,
        params_list=(_SLOPE,),
        check_dtype=_leaky_check_dtype,
        kinks=(
            Kink(
                "0",
                location=lambda p: 0.0,
                left=lambda p: p["negative_slope"],
                right=lambda p: 1.0,
                default=lambda p: p["negative_slope"],
                note="leaky_relu'(0) = negative_slope, as PyTorch, TF and NNlib; JAX gives 1",
            ),
        ),
        aliases=("leaky", "lrelu", "leakyrelu"),
        torch_name="torch.nn.functional.leaky_relu",
        jax_name="jax.nn.leaky_relu",
        differences="JAX uses leaky_relu'(0) = 1. PyTorch and tf.nn return NaN for "
        "leaky_relu(-inf) with negative_slope=0; relukit returns the limit -0.0. The "
        "slope meets x in x's dtype (float64 for Python numbers and integer arrays), as "
        "in NumPy and PyTorch: a negative_slope that is not 0 and does not round to a "
        "normal number of that dtype (1e39 or 1e-40 for float32, 1e-5 for float16) is a "
        "ValueError, where PyTorch and JAX return NaN at ±0 or products many ulp off.",
        examples="""
>>> import relukit as rk
>>> rk.leaky_relu(-10.0), rk.leaky_relu(-10.0, negative_slope=0.1)
(-0.1, -1.0)
>>> rk.leaky_relu(float("-inf"), 0.0)
-0.0
>>> rk.leaky_relu.derivative([-1.0, 0.0, 2.0])
array([0.01, 0.01, 1.  ])
""",
    )
)

# ---------------------------------------------------------------------------
# relu6
# ---------------------------------------------------------------------------


def _relu6(m, x):
    # `<=`/`>=` put 0 and 6 in the constant branches: autograd gives 0 there, as PyTorch.
    return m.where(x <= 0, 0, m.where(x >= 6, 6, x))


def _relu6_d(m, x):
    return m.where((x > 0) & (x < 6), 1, 0)


def _relu6_dy(m, y):
    return m.where((y > 0) & (y < 6), 1, 0)


relu6 = register(
    Activation(
        name="relu6",
        summary="ReLU capped at 6: min(max(0, x), 6).",
        formula="relu6(x) = min(max(0, x), 6)",
        derivative_formula="relu6'(x) = 1 if 0 < x < 6, 0 otherwise",
        latex=r"\mathrm{relu6}(x) = \min(\max(0, x), 6)",
        derivative_latex=r"\mathrm{relu6}'(x) = \begin{cases} 1 & 0 < x < 6 \\ "
        r"0 & \text{otherwise} \end{cases}",
        math=Math(_relu6, _relu6_d, from_output=_relu6_dy, exact=True),
        kinks=(
            Kink.fixed(0, left=0, right=1, default=0, note="relu6'(0) = 0, as PyTorch, JAX, TF"),
            Kink.fixed(6, left=1, right=0, default=0, note="relu6'(6) = 0, as PyTorch, JAX, TF"),
        ),
        aliases=("relu_6",),
        integer_preserving=True,
        nonnegative_output=True,
        zero_gradient_below=True,
        torch_name="torch.nn.functional.relu6",
        jax_name="jax.nn.relu6",
        differences="JAX turns integer input into float32 (relukit and PyTorch keep int). "
        "PyTorch returns -0.0 for relu6(-0.0) and its autograd gives relu6'(nan) = 1; "
        "relukit returns +0.0 and nan.",
        examples="""
>>> import relukit as rk
>>> rk.relu6([-1.0, 3.0, 7.0]), rk.relu6(8)
(array([0., 3., 6.]), 6)
>>> rk.relu6.derivative([0.0, 3.0, 6.0])
array([0., 1., 0.])
""",
    )
)

# ---------------------------------------------------------------------------
# hardtanh
# ---------------------------------------------------------------------------


def _hardtanh_check(p: dict) -> None:
    if p["max_val"] < p["min_val"]:
        raise ValueError(
            f"hardtanh: max_val must be >= min_val, got min_val={p['min_val']!r} and "
            f"max_val={p['max_val']!r}"
        )


def _hardtanh(m, x, min_val, max_val):
    return m.where(x <= min_val, min_val, m.where(x >= max_val, max_val, x))


def _hardtanh_d(m, x, min_val, max_val):
    return m.where((x > min_val) & (x < max_val), 1, 0)


def _hardtanh_dy(m, y, min_val, max_val):
    return m.where((y > min_val) & (y < max_val), 1, 0)


hardtanh = register(
    Activation(
        name="hardtanh",
        summary="Hard tanh: x clipped to [min_val, max_val].",
        formula="hardtanh(x) = min(max(x, min_val), max_val)",
        derivative_formula="hardtanh'(x) = 1 if min_val < x < max_val, 0 otherwise",
        latex=r"\mathrm{hardtanh}(x) = \min(\max(x, \text{min\_val}), \text{max\_val})",
        derivative_latex=r"\mathrm{hardtanh}'(x) = \begin{cases} 1 & \text{min\_val} < x < "
        r"\text{max\_val} \\ 0 & \text{otherwise} \end{cases}",
        math=Math(_hardtanh, _hardtanh_d, from_output=_hardtanh_dy, exact=True),
        check_params=_hardtanh_check,
        params_list=(
            Param("min_val", -1.0, "lower end of the linear region"),
            Param("max_val", 1.0, "upper end of the linear region (>= min_val)"),
        ),
        kinks=(
            Kink(
                "min_val",
                location=lambda p: p["min_val"],
                left=lambda p: 0.0,
                # (min_val = max_val: a constant, 0 on both sides)
                right=lambda p: 1.0 if p["max_val"] > p["min_val"] else 0.0,
                default=lambda p: 0.0,
                note="hardtanh'(min_val) = 0, as PyTorch",
            ),
            Kink(
                "max_val",
                location=lambda p: p["max_val"],
                left=lambda p: 1.0 if p["max_val"] > p["min_val"] else 0.0,
                right=lambda p: 0.0,
                default=lambda p: 0.0,
                note="hardtanh'(max_val) = 0, as PyTorch",
            ),
        ),
        aliases=("hard_tanh",),
        torch_name="torch.nn.functional.hardtanh",
        jax_name="jax.nn.hard_tanh",
        differences="jax.nn.hard_tanh has no min_val/max_val (always [-1, 1]). PyTorch's "
        "autograd gives hardtanh'(nan) = 1 on some paths; relukit gives nan. "
        "min_val == max_val is accepted (a constant), as in PyTorch.",
        examples="""
>>> import relukit as rk
>>> rk.hardtanh([-2.0, 0.5, 2.0])
array([-1. ,  0.5,  1. ])
>>> rk.hardtanh(5.0, min_val=0.0, max_val=2.0), rk.hardtanh.derivative(1.0)
(2.0, 0.0)
""",
    )
)

# ---------------------------------------------------------------------------
# hardsigmoid
# ---------------------------------------------------------------------------


def _hardsigmoid(m, x):
    # (x + 3) / 6 rather than x / 6 + 1/2: exact cancellation near -3 (Sterbenz). The lean
    # namespace multiplies by 1/6: the same float32 results on every float32 input
    # (checked on all of them by tools/check_f32_sixth.py).
    return m.where(x <= -3, 0, m.where(x >= 3, 1, m.div(x + 3, 6.0)))


def _hardsigmoid_d(m, x):
    # 1/6 as x * 0 + 1/6: a constant in the working precision of x (where both branches
    # are constants, Triton would make them float32 whatever x is)
    return m.where((x > -3) & (x < 3), x * 0.0 + 1 / 6, 0.0)


hardsigmoid = register(
    Activation(
        name="hardsigmoid",
        summary="Hard sigmoid: relu6(x + 3) / 6.",
        formula="hardsigmoid(x) = min(max(x + 3, 0), 6) / 6",
        derivative_formula="hardsigmoid'(x) = 1/6 if -3 < x < 3, 0 otherwise",
        latex=r"\mathrm{hardsigmoid}(x) = \frac{\min(\max(x + 3, 0), 6)}{6}",
        derivative_latex=r"\mathrm{hardsigmoid}'(x) = \begin{cases} 1/6 & -3 < x < 3 \\ "
        r"0 & \text{otherwise} \end{cases}",
        math=Math(_hardsigmoid, _hardsigmoid_d, cost="light"),
        kinks=(
            Kink.fixed(-3, left=0, right=1 / 6, default=0, note="hardsigmoid'(-3) = 0, as PyTorch"),
            Kink.fixed(3, left=1 / 6, right=0, default=0, note="hardsigmoid'(3) = 0, as PyTorch"),
        ),
        aliases=("hard_sigmoid",),
        nonnegative_output=True,
        torch_name="torch.nn.functional.hardsigmoid",
        jax_name="jax.nn.hard_sigmoid",
        differences="Keras' hard_sigmoid used slope 0.2 (x/5 + 1/2) before Keras 3; "
        "relukit, PyTorch and JAX use 1/6.",
        examples="""
>>> import relukit as rk
>>> rk.hardsigmoid([-4.0, 0.0, 1.5, 4.0])
array([0.  , 0.5 , 0.75, 1.  ])
""",
    )
)

# ---------------------------------------------------------------------------
# prelu
# ---------------------------------------------------------------------------


def _prelu_weight(xp: Any, x: Any, weight: Any) -> Any:
    """The weight as a scalar or an array that broadcasts along axis 1 of ``x``."""
    if isinstance(weight, float):
        return weight
    if isinstance(weight, (list, tuple)) or type(weight).__module__ == "numpy":
        import numpy as np

        w = np.asarray(weight)
        if w.dtype.kind not in "iuf":
            raise TypeError(
                f"prelu: weight must be a real number or a 1-D array of real numbers, got "
                f"an array of dtype {w.dtype}"
            )
        if not np.all(np.isfinite(w)):
            raise ValueError(f"prelu: weight must be finite, got {weight!r}")
    else:
        w = weight
    ndim = len(getattr(w, "shape", ()))
    size = math.prod(w.shape) if ndim else 1
    if ndim > 1:
        raise ValueError(f"prelu: weight must be a scalar or 1-D, got shape {tuple(w.shape)}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if size not in (1, channels):
        raise ValueError(
            f"prelu: weight has {size} elements but x has {channels} channel(s) on axis 1 "
            f"(x.shape = {tuple(x.shape)}); pass 1 weight or one per channel"
        )
    kw = {"device": x.device} if hasattr(x, "device") and kind(xp) != "numpy" else {}
    w = xp.asarray(w, dtype=x.dtype, **kw)
    if size == 1:
        return xp.reshape(w, ()) if ndim else w
    return xp.reshape(w, (1, channels) + (1,) * (x.ndim - 2))


def _prelu(m, x, weight):
    # 0 * -inf: the limit -0.0, as leaky_relu with a zero slope
    neg = x * weight
    return m.where(x > 0, x, m.where(neg != neg, -0.0, neg))


def _prelu_d(m, x, weight):
    return m.where(x > 0, 1, weight)


def _prelu_args(p: Mapping[str, Any], x: Any = None, xp: Any = None) -> tuple[Any]:
    """The weight: a Python float, or (with ``x``) an ``xp`` array shaped to broadcast
    along axis 1 of ``x``; -0.0 is the weight 0."""
    w = p["weight"]
    if x is None:
        return (_prelu_scalar_weight(w) + 0.0,)
    return (_prelu_weight(xp, x, w),)


def _prelu_scalar_weight(weight: Any) -> float:
    if isinstance(weight, float):
        return weight
    import numpy as np

    w = np.asarray(weight, dtype=float)
    if w.size != 1 or w.ndim > 1:
        raise ValueError(
            f"prelu: x has 1 channel (a scalar), so weight must have 1 element, got shape {w.shape}"
        )
    return float(w.reshape(()))


def _prelu_kink_w(p: Any) -> float:
    w = p["weight"]
    try:
        return float(w)
    except (TypeError, ValueError):
        return math.nan  # per-channel weights: one value per channel


prelu = register(
    Activation(
        name="prelu",
        summary="Parametric ReLU: x for x > 0, weight * x otherwise, one weight per channel.",
        formula="prelu(x) = x if x > 0, weight[c] * x if x <= 0 (c: the index on axis 1)",
        derivative_formula="prelu'(x) = 1 if x > 0, weight[c] if x <= 0 (w.r.t. x)",
        latex=r"\mathrm{prelu}(x) = \begin{cases} x & x > 0 \\ w_c\,x & x \le 0 \end{cases}",
        derivative_latex=r"\frac{\partial\,\mathrm{prelu}}{\partial x} = \begin{cases} 1 & "
        r"x > 0 \\ w_c & x \le 0 \end{cases}",
        math=Math(_prelu, _prelu_d, args=_prelu_args, exact=True, channel="weight"),
        params_list=(
            Param(
                "weight",
                0.25,
                "the negative slope: a scalar, or a 1-D array with one slope per channel "
                "(axis 1, as torch.nn.functional.prelu; 0.25 is torch.nn.PReLU's init)",
                kind="weight",
            ),
        ),
        kinks=(
            Kink(
                "0",
                location=lambda p: 0.0,
                left=_prelu_kink_w,
                right=lambda p: 1.0,
                default=_prelu_kink_w,
                note="prelu'(0) = weight (per channel), as PyTorch",
            ),
        ),
        aliases=("parametric_relu",),
        torch_name="torch.nn.functional.prelu",
        jax_name=None,
        differences="JAX has no prelu. PyTorch gives nan for prelu(-inf) with weight 0; "
        "relukit -0.0. The derivative is with respect to x only.",
        examples="""
>>> import relukit as rk
>>> import numpy as np
>>> x = np.array([[-1.0, -1.0], [2.0, -4.0]])
>>> rk.prelu(x, [0.1, 0.5])
array([[-0.1, -0.5],
       [ 2. , -2. ]])
>>> rk.prelu.derivative(0.0, weight=0.3)
0.3
""",
    )
)

# ---------------------------------------------------------------------------
# threshold
# ---------------------------------------------------------------------------


def _threshold(m, x, threshold, value):
    # x > threshold keeps x; x <= threshold gives value
    return m.where(x > threshold, x, value)


def _threshold_d(m, x, threshold, value):
    return m.where(x > threshold, 1, 0)


threshold = register(
    Activation(
        name="threshold",
        summary="Threshold: x where x > threshold, a constant value elsewhere.",
        formula="threshold(x) = x if x > threshold, value if x <= threshold",
        derivative_formula="threshold'(x) = 1 if x > threshold, 0 if x <= threshold",
        latex=r"\mathrm{threshold}(x) = \begin{cases} x & x > \text{threshold} \\ "
        r"\text{value} & x \le \text{threshold} \end{cases}",
        derivative_latex=r"\mathrm{threshold}'(x) = \begin{cases} 1 & x > \text{threshold} "
        r"\\ 0 & x \le \text{threshold} \end{cases}",
        math=Math(_threshold, _threshold_d, exact=True),
        params_list=(
            Param("threshold", 0.0, "inputs above it pass unchanged"),
            Param("value", 0.0, "the output for inputs at or below threshold"),
        ),
        kinks=(
            Kink(
                "threshold",
                location=lambda p: p["threshold"],
                left=lambda p: 0.0,
                right=lambda p: 1.0,
                default=lambda p: 0.0,
                note="threshold'(threshold) = 0, as PyTorch; the value jumps there by "
                "threshold - value (none for the defaults)",
            ),
        ),
        torch_name="torch.nn.functional.threshold",
        jax_name=None,
        differences="torch.nn.Threshold has no defaults (threshold and value are "
        "required); relukit's defaults, 0 and 0, make it relu. With threshold=theta and "
        "value=0 it is Keras' ThresholdedReLU. Integer inputs become floats here (value "
        "may be fractional); PyTorch keeps the integer dtype. JAX has no threshold.",
        examples="""
>>> import relukit as rk
>>> rk.threshold([-1.0, 0.5, 2.0], 1.0, -5.0)
array([-5., -5.,  2.])
>>> rk.threshold.derivative(1.0, threshold=1.0), rk.threshold(float("nan"))
(0.0, nan)
""",
    )
)

# ---------------------------------------------------------------------------
# rrelu
# ---------------------------------------------------------------------------


def _rrelu_check(p: dict) -> None:
    if p["upper"] < p["lower"]:
        raise ValueError(
            f"rrelu: upper must be >= lower, got lower={p['lower']!r} and upper={p['upper']!r}"
        )


def _rrelu_args(p: Mapping[str, Any], x: Any = None, xp: Any = None) -> tuple[float] | None:
    # evaluation (or lower == upper): leaky_relu with the mean slope; training draws a
    # slope per element (_rrelu_train)
    if p["training"] and p["lower"] != p["upper"]:
        return None
    return ((p["lower"] + p["upper"]) / 2 + 0.0,)


def _rrelu_check_dtype(p: dict, dtype: Any) -> None:
    check_slope("rrelu", "lower", p["lower"], dtype)
    check_slope("rrelu", "upper", p["upper"], dtype)
    if not p["training"]:  # evaluation: the mean is the slope
        check_slope("rrelu", "(lower + upper) / 2", (p["lower"] + p["upper"]) / 2, dtype)


def _rrelu_slopes(xp: Any, x: Any, p: Mapping[str, Any]) -> Any:
    """One U(lower, upper) slope per element, from the call's seed ``rng``.

    ``rng`` is already this call's int seed (the ``seed`` parameter kind), so the value
    and the derivative of one ``value_and_derivative`` call draw the same slopes.
    """
    import numpy as np

    shape = tuple(getattr(x, "shape", ()))
    draws = np.random.default_rng(p["rng"]).uniform(p["lower"], p["upper"], size=shape)
    if xp is MATH:
        return float(draws)
    if kind(xp) == "numpy":
        return draws.astype(x.dtype)
    device = getattr(x, "device", None) if kind(xp) in ("torch", "cupy") else None
    return xp.asarray(draws, dtype=x.dtype, **({"device": device} if device else {}))


def _rrelu_train(xp: Any, x: Any, p: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(value, derivative)`` in training: prelu's formula with one weight per element."""
    m = namespace(xp) if xp is not MATH else MATH
    slope = _rrelu_slopes(xp, x, p)
    return _prelu(m, x, slope), _prelu_d(m, x, slope)


def _rrelu_mean(p: Any) -> float:
    return (p["lower"] + p["upper"]) / 2


rrelu = register(
    Activation(
        name="rrelu",
        summary="Randomized leaky ReLU: a random slope U(lower, upper) per element in "
        "training, the mean slope (lower + upper) / 2 in evaluation.",
        formula="rrelu(x) = x if x > 0, a * x if x <= 0; a ~ U(lower, upper) per element "
        "when training, a = (lower + upper) / 2 otherwise",
        derivative_formula="rrelu'(x) = 1 if x > 0, a if x <= 0 (the same a as the value)",
        latex=r"\mathrm{rrelu}(x) = \begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases},"
        r"\quad a \sim \mathcal{U}(\text{lower}, \text{upper})\ \text{(training)},\ "
        r"a = \tfrac{\text{lower} + \text{upper}}{2}\ \text{(evaluation)}",
        derivative_latex=r"\mathrm{rrelu}'(x) = \begin{cases} 1 & x > 0 \\ a & x \le 0 "
        r"\end{cases}",
        math=Math(
            _leaky,
            _leaky_d,
            from_output=_leaky_dy,
            output_ok=_slope_ok,
            args=_rrelu_args,
            train=_rrelu_train,
            exact=True,
        ),
        check_params=_rrelu_check,
        check_dtype=_rrelu_check_dtype,
        params_list=(
            Param("lower", 1 / 8, "lower end of the slopes' uniform distribution", low=0.0),
            Param("upper", 1 / 3, "upper end of the slopes' uniform distribution", low=0.0),
            Param(
                "training",
                False,
                "draw a slope per element (True) or use the mean slope (False)",
                kind="flag",
                keyword_only=True,
            ),
            Param(
                "rng",
                None,
                "the random slopes in training: None (fresh each call), an int seed (the "
                "same slopes for the same seed and shape) or a numpy.random.Generator "
                "(advanced by one draw per call)",
                kind="seed",
                keyword_only=True,
            ),
        ),
        kinks=(
            Kink(
                "0",
                location=lambda p: 0.0,
                left=_rrelu_mean,
                right=lambda p: 1.0,
                default=_rrelu_mean,
                note="rrelu'(0) = (lower + upper) / 2 in evaluation, as PyTorch (leaky_relu "
                "with that slope); in training the slope drawn for that element, as "
                "PyTorch (x <= 0 takes the random slope)",
            ),
        ),
        aliases=("randomized_leaky_relu",),
        torch_name="torch.nn.functional.rrelu",
        jax_name=None,
        differences="PyTorch draws from its global generator; relukit from NumPy's, "
        "seeded by rng, so the slopes differ from PyTorch's for the same seed (the "
        "distribution is the same). Use value_and_derivative for the derivative at the "
        "drawn slopes (or the same int rng in both calls). PyTorch's backward gives 1 at "
        "NaN; relukit NaN. PyTorch accepts lower > upper; relukit requires "
        "0 <= lower <= upper. As for leaky_relu, lower, upper and (in evaluation) their "
        "mean must be 0 or round to normal numbers of x's dtype (a ValueError otherwise). "
        "JAX has no rrelu.",
        examples="""
>>> import relukit as rk
>>> rk.rrelu(-1.0), rk.rrelu.derivative(0.0)
(-0.22916666666666666, 0.22916666666666666)
>>> v, d = rk.rrelu.value_and_derivative([-2.0, -1.0, 3.0], training=True, rng=0)
>>> bool((v == d * [-2.0, -1.0, 3.0]).all()), bool(((d[:2] >= 1 / 8) & (d[:2] < 1 / 3)).all())
(True, True)
""",
    )
)
