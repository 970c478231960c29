"""The numba kernels behind :mod:`relukit._kernels` (imported only when one is needed).

Importing this module imports numba and *defines* the kernels; nothing is compiled
until a kernel is first called for a dtype (``cache=True`` then stores the machine
code on disk, so later processes load it instead of compiling).

Every loop works on 1-D C-contiguous arrays of one dtype and takes its scalars in a
small array ``P`` of that same dtype (so every constant and product stays in the
array's dtype: no float64 intermediate rounded afterwards), filled by
:func:`relukit._kernels._pack`:

``p0, p1, p2``
    the activation's parameters (their meaning is per activation, see ``_kernels``);
``P[3]``
    the derivative used at a kink (``at_kink``), when ``kk`` is 1;
``P[4], P[5]``
    the kink locations (``P[5] == P[4]`` for a single kink);
``one, zero``
    the constants 1 and 0.

Each activation is written once as two element functions, value ``_<name>_v`` and
derivative ``_<name>_d``, that mirror, comparison for comparison, the NumPy formula
in :mod:`relukit.activations`, so that results are identical bit for bit: NaN fails
every comparison and takes the same branch, products are rounded once in the array's
dtype, no fused multiply-add (``fastmath=False``), and a value passed through is
copied, not converted. The loops (value, derivative, fused value-and-derivative, and
backward ``g * derivative``) are written out per activation (not generated at run
time, so that numba can cache them) and only differ in what they read and write.
"""

from __future__ import annotations

import math

from numba import njit

_ELEM = {"cache": True, "fastmath": False, "nogil": True}
_LOOP = _ELEM  # serial loops (prange is range): relukit._kernels shares out the chunks


@njit(**_ELEM)
def _kink(v, r, kk, kv, k0, k1):  # pragma: no cover - compiled
    # where(x == k0, at_kink, d), then where(x == k1, at_kink, d), when at_kink is given
    if kk != 0:
        if v == k0:
            return kv
        if v == k1:
            return kv
    return r


# ---------------------------------------------------------------------------
# element functions: (x, p0, p1, p2, one, zero) -> value or derivative at x
# ---------------------------------------------------------------------------


@njit(**_ELEM)
def _relu_v(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # where(x <= 0, 0, x): +0.0 for -0.0, NaN passes through
    if v <= 0:
        return zero
    return v


@njit(**_ELEM)
def _relu_d(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # where(x > 0, 1, where(x <= 0, 0, x))
    if v > 0:
        return one
    if v <= 0:
        return zero
    return v


@njit(**_ELEM)
def _leaky_relu_v(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # p0 = slope used for the value (+0 when slope == 0), p2 = 1 when slope == 0:
    # where(x > 0, x, where(isinf(x), -0.0, x) * 0) or where(x > 0, x, x * slope)
    if v > 0:
        return v
    if p2 != 0 and math.isinf(v):
        return -zero
    return v * p0


@njit(**_ELEM)
def _leaky_relu_d(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # p1 = slope: where(x > 0, 1, where(x <= 0, slope, x))
    if v > 0:
        return one
    if v <= 0:
        return p1
    return v


@njit(**_ELEM)
def _relu6_v(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # p0 = 6: where(x <= 0, 0, where(x >= 6, 6, x))
    if v <= 0:
        return zero
    if v >= p0:
        return p0
    return v


@njit(**_ELEM)
def _relu6_d(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # where((x > 0) & (x < 6), 1, where(x == x, 0, x))
    if v > 0 and v < p0:
        return one
    if v == v:
        return zero
    return v


@njit(**_ELEM)
def _hardtanh_v(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # p0 = min_val, p1 = max_val: where(x <= lo, lo, where(x >= hi, hi, x))
    if v <= p0:
        return p0
    if v >= p1:
        return p1
    return v


@njit(**_ELEM)
def _hardtanh_d(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # where((x > lo) & (x < hi), 1, where(x == x, 0, x))
    if v > p0 and v < p1:
        return one
    if v == v:
        return zero
    return v


@njit(**_ELEM)
def _prelu_v(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # The NumPy path computes prelu in float64 and rounds once to the array's dtype, so
    # the product uses the float64 weight q1 (the store rounds it); p2 = 1 when weight == 0:
    # where(x > 0, x, where((w == 0) & (x == -inf), -0.0, x * w))
    if v > 0:
        return v
    if p2 != 0 and v == -math.inf:
        return -zero
    return v * q1


@njit(**_ELEM)
def _prelu_d(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # p1 = weight (rounded to the dtype, as the float64 result is): where(x > 0, 1,
    # where(x <= 0, w, x)); p0 = 1 for float32, which the NumPy path widens to float64
    # and back, quieting a signalling NaN (v + 0 quiets it the same way, payload kept)
    if v > 0:
        return one
    if v <= 0:
        return p1
    if p0 != 0:
        return v + zero
    return v


@njit(**_ELEM)
def _threshold_v(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # p0 = threshold, p1 = value: where(x > t, x, where(x <= t, value, x))
    if v > p0:
        return v
    if v <= p0:
        return p1
    return v


@njit(**_ELEM)
def _threshold_d(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # where(x > t, 1, where(x <= t, 0, x))
    if v > p0:
        return one
    if v <= p0:
        return zero
    return v


# ---------------------------------------------------------------------------
# loops
# ---------------------------------------------------------------------------


@njit(**_LOOP)
def relu_value(x, y, P, Q):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    for i in range(x.shape[0]):
        y[i] = _relu_v(x[i], p0, p1, p2, q1, one, zero)


@njit(**_LOOP)
def relu_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _relu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def relu_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _relu_v(v, p0, p1, p2, q1, one, zero)
        d[i] = _kink(v, _relu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def relu_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = g[i] * _kink(v, _relu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def leaky_relu_value(x, y, P, Q):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    for i in range(x.shape[0]):
        y[i] = _leaky_relu_v(x[i], p0, p1, p2, q1, one, zero)


@njit(**_LOOP)
def leaky_relu_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _leaky_relu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def leaky_relu_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _leaky_relu_v(v, p0, p1, p2, q1, one, zero)
        d[i] = _kink(v, _leaky_relu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def leaky_relu_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = g[i] * _kink(v, _leaky_relu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def relu6_value(x, y, P, Q):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    for i in range(x.shape[0]):
        y[i] = _relu6_v(x[i], p0, p1, p2, q1, one, zero)


@njit(**_LOOP)
def relu6_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _relu6_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def relu6_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _relu6_v(v, p0, p1, p2, q1, one, zero)
        d[i] = _kink(v, _relu6_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def relu6_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = g[i] * _kink(v, _relu6_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def hardtanh_value(x, y, P, Q):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    for i in range(x.shape[0]):
        y[i] = _hardtanh_v(x[i], p0, p1, p2, q1, one, zero)


@njit(**_LOOP)
def hardtanh_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _hardtanh_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def hardtanh_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _hardtanh_v(v, p0, p1, p2, q1, one, zero)
        d[i] = _kink(v, _hardtanh_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def hardtanh_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = g[i] * _kink(v, _hardtanh_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def threshold_value(x, y, P, Q):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    for i in range(x.shape[0]):
        y[i] = _threshold_v(x[i], p0, p1, p2, q1, one, zero)


@njit(**_LOOP)
def threshold_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _threshold_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def threshold_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _threshold_v(v, p0, p1, p2, q1, one, zero)
        d[i] = _kink(v, _threshold_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def threshold_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = g[i] * _kink(v, _threshold_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def prelu_value(x, y, P, Q):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    for i in range(x.shape[0]):
        y[i] = _prelu_v(x[i], p0, p1, p2, q1, one, zero)


@njit(**_LOOP)
def prelu_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _prelu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def prelu_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _prelu_v(v, p0, p1, p2, q1, one, zero)
        d[i] = _kink(v, _prelu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def prelu_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    p0, p1, p2, q1, one, zero = P[0], P[1], P[2], Q[1], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = g[i] * _kink(v, _prelu_d(v, p0, p1, p2, q1, one, zero), kk, kv, k0, k1)


# ---------------------------------------------------------------------------
# prelu with one weight per channel: x viewed as (blocks, inner), block b in channel
# b % C; W (float64) and WD (the dtype) hold the weights, as the scalars above
# ---------------------------------------------------------------------------


@njit(**_LOOP)
def prelu_channel_value(x, y, P, Q, W, WD, C, inner):  # pragma: no cover - compiled
    p0, one, zero = P[0], P[6], P[7]
    for b in range(x.shape[0] // inner):
        c = b % C
        w, wd = W[c], WD[c]
        flag = one if w == 0 else zero
        for i in range(b * inner, (b + 1) * inner):
            y[i] = _prelu_v(x[i], p0, wd, flag, w, one, zero)


@njit(**_LOOP)
def prelu_channel_derivative(x, d, P, Q, kk, W, WD, C, inner):  # pragma: no cover - compiled
    p0, one, zero = P[0], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        c = b % C
        w, wd = W[c], WD[c]
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            d[i] = _kink(v, _prelu_d(v, p0, wd, zero, w, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def prelu_channel_both(x, y, d, P, Q, kk, W, WD, C, inner):  # pragma: no cover - compiled
    p0, one, zero = P[0], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        c = b % C
        w, wd = W[c], WD[c]
        flag = one if w == 0 else zero
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            y[i] = _prelu_v(v, p0, wd, flag, w, one, zero)
            d[i] = _kink(v, _prelu_d(v, p0, wd, flag, w, one, zero), kk, kv, k0, k1)


@njit(**_LOOP)
def prelu_channel_backward(x, g, o, P, Q, kk, W, WD, C, inner):  # pragma: no cover - compiled
    p0, one, zero = P[0], P[6], P[7]
    kv, k0, k1 = P[3], P[4], P[5]
    for b in range(x.shape[0] // inner):
        c = b % C
        w, wd = W[c], WD[c]
        for i in range(b * inner, (b + 1) * inner):
            v = x[i]
            o[i] = g[i] * _kink(v, _prelu_d(v, p0, wd, zero, w, one, zero), kk, kv, k0, k1)


# the smooth entries' kernels live in their own module; they are found here too
from relukit import _kernels_smooth_loops  # noqa: E402


def __getattr__(name: str):  # pragma: no cover - trivial
    return getattr(_kernels_smooth_loops, name)
