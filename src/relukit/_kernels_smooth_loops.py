"""The loops of the smooth entries' numba kernels: value, derivative, fused
value-and-derivative and backward, one set per entry (float32 arrays of the entries with
float32 element functions get their own set, ``<name>_f32_<kind>``). The element
functions are in :mod:`relukit._kernels_smooth`.

This file is written by ``tools/gen_kernels_smooth.py``; edit that script instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from relukit._kernels_math import LOOP
from relukit._kernels_smooth import (
    _celu_d,
    _celu_d32,
    _celu_v,
    _celu_v32,
    _elu_d,
    _elu_d32,
    _elu_v,
    _elu_v32,
    _gelu_d,
    _gelu_tanh_d,
    _gelu_tanh_v,
    _gelu_v,
    _hardsigmoid_d,
    _hardsigmoid_v,
    _hardswish_d,
    _hardswish_v,
    _kink,
    _mish_d,
    _mish_d32,
    _mish_v,
    _mish_v32,
    _selu_d,
    _selu_d32,
    _selu_v,
    _selu_v32,
    _silu_d,
    _silu_d32,
    _silu_v,
    _silu_v32,
    _softplus_d,
    _softplus_d32,
    _softplus_v,
    _softplus_v32,
    _sparse_plus_d,
    _sparse_plus_v,
    _squareplus_d,
    _squareplus_d32,
    _squareplus_v,
    _squareplus_v32,
)

_LOOP = LOOP  # serial loops (prange is range): relukit._kernels shares out the chunks
_f64 = np.float64  # the element functions take float64 (numba's float() keeps float32)


@njit(**_LOOP)
def elu_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _elu_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def elu_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _elu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def elu_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _elu_v(_f64(v), a, b, c)
        d[i] = _kink(v, _elu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def elu_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _elu_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def selu_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _selu_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def selu_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _selu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def selu_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _selu_v(_f64(v), a, b, c)
        d[i] = _kink(v, _selu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def selu_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _selu_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def celu_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _celu_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def celu_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _celu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def celu_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _celu_v(_f64(v), a, b, c)
        d[i] = _kink(v, _celu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def celu_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _celu_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def softplus_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _softplus_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def softplus_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _softplus_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def softplus_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _softplus_v(_f64(v), a, b, c)
        d[i] = _kink(v, _softplus_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def softplus_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _softplus_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def silu_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _silu_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def silu_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _silu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def silu_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _silu_v(_f64(v), a, b, c)
        d[i] = _kink(v, _silu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def silu_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _silu_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def mish_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _mish_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def mish_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _mish_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def mish_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _mish_v(_f64(v), a, b, c)
        d[i] = _kink(v, _mish_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def mish_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _mish_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def hardswish_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _hardswish_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def hardswish_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _hardswish_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def hardswish_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _hardswish_v(_f64(v), a, b, c)
        d[i] = _kink(v, _hardswish_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def hardswish_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _hardswish_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def hardsigmoid_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _hardsigmoid_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def hardsigmoid_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _hardsigmoid_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def hardsigmoid_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _hardsigmoid_v(_f64(v), a, b, c)
        d[i] = _kink(v, _hardsigmoid_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def hardsigmoid_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _hardsigmoid_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def gelu_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _gelu_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def gelu_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _gelu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def gelu_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _gelu_v(_f64(v), a, b, c)
        d[i] = _kink(v, _gelu_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def gelu_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _gelu_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def gelu_tanh_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _gelu_tanh_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def gelu_tanh_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _gelu_tanh_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def gelu_tanh_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _gelu_tanh_v(_f64(v), a, b, c)
        d[i] = _kink(v, _gelu_tanh_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def gelu_tanh_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _gelu_tanh_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def squareplus_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _squareplus_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def squareplus_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _squareplus_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def squareplus_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _squareplus_v(_f64(v), a, b, c)
        d[i] = _kink(v, _squareplus_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def squareplus_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _squareplus_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def sparse_plus_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _sparse_plus_v(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def sparse_plus_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _sparse_plus_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def sparse_plus_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _sparse_plus_v(_f64(v), a, b, c)
        d[i] = _kink(v, _sparse_plus_d(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def sparse_plus_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _sparse_plus_d(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def elu_f32_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _elu_v32(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def elu_f32_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _elu_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def elu_f32_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _elu_v32(_f64(v), a, b, c)
        d[i] = _kink(v, _elu_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def elu_f32_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _elu_d32(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def selu_f32_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _selu_v32(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def selu_f32_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _selu_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def selu_f32_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _selu_v32(_f64(v), a, b, c)
        d[i] = _kink(v, _selu_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def selu_f32_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _selu_d32(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def celu_f32_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _celu_v32(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def celu_f32_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _celu_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def celu_f32_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _celu_v32(_f64(v), a, b, c)
        d[i] = _kink(v, _celu_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def celu_f32_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _celu_d32(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def softplus_f32_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _softplus_v32(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def softplus_f32_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _softplus_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def softplus_f32_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _softplus_v32(_f64(v), a, b, c)
        d[i] = _kink(v, _softplus_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def softplus_f32_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _softplus_d32(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def silu_f32_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _silu_v32(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def silu_f32_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _silu_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def silu_f32_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _silu_v32(_f64(v), a, b, c)
        d[i] = _kink(v, _silu_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def silu_f32_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _silu_d32(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def mish_f32_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _mish_v32(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def mish_f32_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _mish_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def mish_f32_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _mish_v32(_f64(v), a, b, c)
        d[i] = _kink(v, _mish_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def mish_f32_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _mish_d32(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative


@njit(**_LOOP)
def squareplus_f32_value(x, y, P, Q):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    for i in range(x.shape[0]):
        y[i] = _squareplus_v32(_f64(x[i]), a, b, c)


@njit(**_LOOP)
def squareplus_f32_derivative(x, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        d[i] = _kink(v, _squareplus_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def squareplus_f32_both(x, y, d, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = _squareplus_v32(_f64(v), a, b, c)
        d[i] = _kink(v, _squareplus_d32(_f64(v), a, b, c), kk, kv, k0, k1)


@njit(**_LOOP)
def squareplus_f32_backward(x, g, o, P, Q, kk):  # pragma: no cover - compiled
    a, b, c = Q[0], Q[1], Q[2]
    kv, k0, k1 = P[3], P[4], P[5]
    for i in range(x.shape[0]):
        v = x[i]
        gi = g[i]  # read first: o may be g
        o[i] = _kink(v, _squareplus_d32(_f64(v), a, b, c), kk, kv, k0, k1)  # rounded to the dtype
        o[i] = gi * o[i]  # then multiplied in the dtype, as grad_out * derivative
