"""The Triton kernels behind :mod:`relukit.torch._triton` (imported only when Triton is).

Kept in their own module because ``triton.jit`` functions must be module globals.
Every kernel handles ``BLOCK`` bytes of each bit-plane, i.e. ``8 * BLOCK`` elements,
as a ``[BLOCK, 8]`` tile: element ``8 * r + c`` is bit ``c`` of byte ``r``.
``LIB`` selects CUDA's libdevice functions (compiled kernels) or Triton's own
``exp``/``log`` (the CPU interpreter, which has no libdevice).
"""

import triton
import triton.language as tl
from triton.language.extra import libdevice


@triton.jit
def _exp(z, LIB: tl.constexpr):
    if LIB:
        return libdevice.exp(z)
    else:
        return tl.exp(z)


@triton.jit
def _log1p(u, LIB: tl.constexpr):
    if LIB:
        return libdevice.log1p(u)
    else:
        series = u * (1.0 - u * (0.5 - u * (1.0 / 3.0 - 0.25 * u)))
        return tl.where(u < 1e-4, series, tl.log(1.0 + u))


@triton.jit
def _tanh(z, LIB: tl.constexpr):
    if LIB:
        return libdevice.tanh(z)
    else:
        a = tl.abs(z)
        e = tl.exp(-2.0 * a)
        t = (1.0 - e) / (1.0 + e)
        return tl.where(z < 0, -t, t)


@triton.jit
def _value(x, p0, p1, KIND: tl.constexpr, LIB: tl.constexpr):
    # x in float32; relukit's values at -inf
    if KIND == 0:  # gelu: x/2 (1 + erf(x / sqrt 2))
        y = 0.5 * x * (1.0 + tl.math.erf(x * 0.7071067811865476))
    elif KIND == 1:  # gelu, tanh form
        inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        y = 0.5 * x * (1.0 + _tanh(inner, LIB))
    elif KIND == 2:  # silu: x / (1 + exp(-x))
        y = x / (1.0 + _exp(-x, LIB))
    elif KIND == 3:  # mish: x tanh(log1p(exp(x)))
        y = x * _tanh(_log1p(_exp(x, LIB), LIB), LIB)
    elif KIND == 4:  # softplus(beta=p0, threshold=p1)
        bx = x * p0
        y = tl.where(bx > p1, x, _log1p(_exp(bx, LIB), LIB) / p0)
    else:  # hardswish: x min(max(x + 3, 0), 6) / 6
        y = x * tl.minimum(tl.maximum(x + 3.0, 0.0), 6.0) / 6.0
    if KIND != 4:
        y = tl.where((x < 0) & (x * 0.0 != 0.0), -0.0, y)  # x = -inf: -0.0
    return y


@triton.jit
def fewbit_fwd(
    x_ptr,
    y_ptr,
    p_ptr,
    b_ptr,
    n,
    nb,
    p0,
    p1,
    KIND: tl.constexpr,
    BITS: tl.constexpr,
    NBOUNDS: tl.constexpr,
    LIB: tl.constexpr,
    BLOCK: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, 8)
    offs = rows[:, None] * 8 + cols[None, :]
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    y = _value(x.to(tl.float32), p0, p1, KIND, LIB)
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=m)
    code = tl.zeros([BLOCK, 8], dtype=tl.int32)
    for j in tl.static_range(NBOUNDS):
        t = tl.load(b_ptr + j)
        code += tl.where(x <= t, 0, 1)  # NaN: above every boundary, as torch.bucketize
    code = tl.where(m, code, 0)
    for k in tl.static_range(BITS):
        byte = tl.sum(((code >> k) & 1) << cols[None, :], axis=1)
        tl.store(p_ptr + k * nb + rows, byte.to(tl.uint8), mask=rows < nb)


@triton.jit
def fewbit_bwd(g_ptr, p_ptr, lv_ptr, o_ptr, n, nb, BITS: tl.constexpr, BLOCK: tl.constexpr):
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, 8)
    offs = rows[:, None] * 8 + cols[None, :]
    m = offs < n
    code = tl.zeros([BLOCK, 8], dtype=tl.int32)
    for k in tl.static_range(BITS):
        byte = tl.load(p_ptr + k * nb + rows, mask=rows < nb, other=0).to(tl.int32)
        code |= ((byte[:, None] >> cols[None, :]) & 1) << k
    g = tl.load(g_ptr + offs, mask=m, other=0.0)
    lv = tl.load(lv_ptr + code)
    tl.store(o_ptr + offs, g * lv, mask=m)


@triton.jit
def mask_fwd(x_ptr, y_ptr, p_ptr, n, nb, slope, KIND: tl.constexpr, BLOCK: tl.constexpr):
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, 8)
    offs = rows[:, None] * 8 + cols[None, :]
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    if KIND == 0:  # relu: +0.0 for x <= 0 (no sign bit), NaN passes; bit ~(x <= 0)
        y = tl.where(x <= 0, 0.0, x)
        bit = tl.where(x <= 0, 0, 1)
    else:  # leaky_relu: bit x > 0
        xs = (x.to(tl.float32) * slope).to(x.dtype)
        xs = tl.where((x < 0) & (x * 0.0 != 0.0) & (slope == 0.0), -0.0, xs)  # -inf * 0
        y = tl.where(x > 0, x, xs)
        bit = tl.where(x > 0, 1, 0)
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=m)
    bit = tl.where(m, bit, 0)
    byte = tl.sum(bit << cols[None, :], axis=1)
    tl.store(p_ptr + rows, byte.to(tl.uint8), mask=rows < nb)


@triton.jit
def mask_bwd(g_ptr, p_ptr, o_ptr, n, nb, slope, KIND: tl.constexpr, BLOCK: tl.constexpr):
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, 8)
    offs = rows[:, None] * 8 + cols[None, :]
    m = offs < n
    byte = tl.load(p_ptr + rows, mask=rows < nb, other=0).to(tl.int32)
    bit = (byte[:, None] >> cols[None, :]) & 1
    g = tl.load(g_ptr + offs, mask=m, other=0.0)
    if KIND == 0:
        o = tl.where(bit != 0, g, 0.0)
    else:
        o = tl.where(bit != 0, g, (g.to(tl.float32) * slope).to(g.dtype))
    tl.store(o_ptr + offs, o.to(o_ptr.dtype.element_ty), mask=m)
