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

from numba import njit, prange

_ELEM = {"cache": True, "fastmath": False, "nogil": True}
_LOOP = {"cache": True, "fastmath": False, "nogil": True, "parallel": True}


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
def _relu_v(v, p0, p1, p2, one, zero):  # pragma: no cover - compiled
    # where(x <= 0, 0, x): +0.0 for -0.0, NaN passes through
    if v <= 0:
        return zero
    return v


@njit(**_ELEM)
def _relu_d(v, p0, p1, p2, one, zero):  # pragma: no cover - compiled
    # where(x > 0, 1, where(x <= 0, 0, x))
    if v > 0:
        return one
    if v <= 0:
        return zero
    return v


@njit(**_ELEM)
def _leaky_v(v, p0, p1, p2, one, zero):  # pragma: no cover - compiled
    # p0 = slope used for the value (+0 when slope == 0), p2 = 1 when slope == 0:
    # where(x > 0, x, where(isinf(x), -0.0, x) * 0) or where(x > 0, x, x * slope)
    if v > 0:
        return v
    if p2 != 0 and math.isinf(v):
        return -zero
    return v * p0


@njit(**_ELEM)
def _leaky_d(v, p0, p1, p2, one, zero):  # pragma: no cover - compiled
    # p1 = slope: where(x > 0, 1, where(x <= 0, slope, x))
    if v > 0:
        return one
    if v <= 0:
        return p1
    return v


# ---------------------------------------------------------------------------
# loops
# ---------------------------------------------------------------------------


@njit(**_LOOP)
def relu_value(x, y, P):  # pragma: no cover - compiled
    p0, p1, p2, one, zero = P[0], P[1], P[2], P[6], P[7]
    for i in prange(x.shape[0]):
        y[i] = _relu_v(x[i], p0, p1, p2, one, zero)


@njit(**_LOOP)
def relu_derivative(x, d, P, kk):  # pragma: no cover - compiled
    p0, p1, p2, kv, k0, k1, one, zero = P[0], P[1], P[2], P[3], P[4], P[5], P[6], P[7]
    for i in prange(x.shape[0]):
        v = x[i]
        r = _relu_d(v, p0, p1, p2, one, zero)
        d[i] = _kink(v, r, kk, kv, k0, k1)


@njit(**_LOOP)
def relu_both(x, y, d, P, kk):  # pragma: no cover - compiled
    p0, p1, p2, kv, k0, k1, one, zero = P[0], P[1], P[2], P[3], P[4], P[5], P[6], P[7]
    for i in prange(x.shape[0]):
        v = x[i]
        y[i] = _relu_v(v, p0, p1, p2, one, zero)
        r = _relu_d(v, p0, p1, p2, one, zero)
        d[i] = _kink(v, r, kk, kv, k0, k1)


@njit(**_LOOP)
def relu_backward(x, g, o, P, kk):  # pragma: no cover - compiled
    p0, p1, p2, kv, k0, k1, one, zero = P[0], P[1], P[2], P[3], P[4], P[5], P[6], P[7]
    for i in prange(x.shape[0]):
        v = x[i]
        r = _relu_d(v, p0, p1, p2, one, zero)
        o[i] = g[i] * _kink(v, r, kk, kv, k0, k1)


@njit(**_LOOP)
def leaky_relu_value(x, y, P):  # pragma: no cover - compiled
    p0, p1, p2, one, zero = P[0], P[1], P[2], P[6], P[7]
    for i in prange(x.shape[0]):
        y[i] = _leaky_v(x[i], p0, p1, p2, one, zero)


@njit(**_LOOP)
def leaky_relu_derivative(x, d, P, kk):  # pragma: no cover - compiled
    p0, p1, p2, kv, k0, k1, one, zero = P[0], P[1], P[2], P[3], P[4], P[5], P[6], P[7]
    for i in prange(x.shape[0]):
        v = x[i]
        r = _leaky_d(v, p0, p1, p2, one, zero)
        d[i] = _kink(v, r, kk, kv, k0, k1)


@njit(**_LOOP)
def leaky_relu_both(x, y, d, P, kk):  # pragma: no cover - compiled
    p0, p1, p2, kv, k0, k1, one, zero = P[0], P[1], P[2], P[3], P[4], P[5], P[6], P[7]
    for i in prange(x.shape[0]):
        v = x[i]
        y[i] = _leaky_v(v, p0, p1, p2, one, zero)
        r = _leaky_d(v, p0, p1, p2, one, zero)
        d[i] = _kink(v, r, kk, kv, k0, k1)


@njit(**_LOOP)
def leaky_relu_backward(x, g, o, P, kk):  # pragma: no cover - compiled
    p0, p1, p2, kv, k0, k1, one, zero = P[0], P[1], P[2], P[3], P[4], P[5], P[6], P[7]
    for i in prange(x.shape[0]):
        v = x[i]
        r = _leaky_d(v, p0, p1, p2, one, zero)
        o[i] = g[i] * _kink(v, r, kk, kv, k0, k1)
