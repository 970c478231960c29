"""The numba kernels behind :mod:`relukit._kernels` (imported only when one is needed).

Importing this module imports numba and *defines* the kernels; nothing is compiled
until a kernel is first called for a dtype (``cache=True`` then stores the machine
code on disk, :mod:`relukit._kernel_cache`, so later processes load it instead of
compiling).

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
backward ``g * derivative``, and the per-channel loops of prelu) are written once in
:mod:`relukit._kernels_loops` and plugged here, at the end, for every entry from one
table: ``<name>_<kind>``, as ``relukit._kernels.static_plan`` looks them up. Their disk
cache is keyed by the content of this file and the other kernel sources
(:mod:`relukit._kernel_cache`), so editing an element function here compiles the
kernels again in the next process.
"""

from __future__ import annotations

import math

from relukit._kernel_cache import njit
from relukit._kernels_loops import CHANNEL, PIECEWISE, PIECEWISE_FLAGS, plug_all

_ELEM = PIECEWISE_FLAGS  # the element functions, compiled as the loops are

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
def _prelu_times(v, w, p2, zero):  # pragma: no cover - compiled
    # p2 = 1 when weight == 0: where(x > 0, x, where((w == 0) & (x == -inf), -0.0, x * w))
    if v > 0:
        return v
    if p2 != 0 and v == -math.inf:
        return -zero
    return v * w


@njit(**_ELEM)
def _prelu_v(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # The NumPy path computes prelu in float64 and rounds once to the array's dtype, so
    # the product uses the float64 weight q1 (the store rounds it)
    return _prelu_times(v, q1, p2, zero)


@njit(**_ELEM)
def _prelu_narrow_v(v, p0, p1, p2, q1, one, zero):  # pragma: no cover - compiled
    # float32 arrays whose weights are float32 values: x w is exact in float64 (24 + 24
    # bits), so the NumPy path's float64 product, rounded once, is the float32 product
    # x p1 (p1 = w in the dtype), which takes no widening
    return _prelu_times(v, p1, p2, zero)


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


_prelu_narrow_d = _prelu_d  # (the derivative is the weight: no product)


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
# the kernels: <name>_<kind> for the kinds value, derivative, both and backward
# ---------------------------------------------------------------------------

plug_all(
    globals(),
    PIECEWISE,
    {
        "relu": (_relu_v, _relu_d),
        "leaky_relu": (_leaky_relu_v, _leaky_relu_d),
        "relu6": (_relu6_v, _relu6_d),
        "hardtanh": (_hardtanh_v, _hardtanh_d),
        "threshold": (_threshold_v, _threshold_d),
        "prelu": (_prelu_v, _prelu_d),
        "prelu_narrow": (_prelu_narrow_v, _prelu_narrow_d),
    },
)
# prelu with one weight per channel: prelu_channel_<kind> (and _narrow, as above)
plug_all(
    globals(),
    CHANNEL,
    {
        "prelu_channel": (_prelu_v, _prelu_d),
        "prelu_channel_narrow": (_prelu_narrow_v, _prelu_narrow_d),
    },
)

# the smooth entries' kernels live in their own module; they are found here too
from relukit import _kernels_smooth  # noqa: E402


def __getattr__(name: str):  # pragma: no cover - trivial
    return getattr(_kernels_smooth, name)
