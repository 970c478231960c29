"""The generated Triton kernels against the CPU results (not a test module).

Run by tests/test_triton.py in a subprocess:

``python tests/_triton_checks.py interpret GROUP``
    under ``TRITON_INTERPRET=1`` (Triton's CPU interpreter; the environment variable
    must be set before Triton is imported): run the kernels of :mod:`relukit.torch.
    _triton_gen` on CPU tensors and compare them with relukit.torch's CPU results (the
    NumPy API's bits; bfloat16: the float32 result rounded). GROUP is ``one`` (value,
    backward with and without ``at_kink``, backward from the output), ``gated`` (value
    and both gradients) or ``fewbit`` (value and packed codes, backward from the codes).
``python tests/_triton_checks.py compile [all]``
    without the interpreter: compile kernels to GPU code (PTX and cubin) for an H100
    (``GPUTarget("cuda", 90, 32)``, with ``TRITON_DEFAULT_FP_FUSION=1``); no GPU needed.
    By default every entry and kind, with the dtypes taken in turn; ``all``: every
    kernel of every entry, kind and dtype.

The bounds (ulps between the kernel's and the CPU's result): float32 1 (both round a
float64 result once), float64 ``F64_ULPS`` (the two namespaces' exp, log, expm1 and
their fused products differ by a few float64 ulp: tests/test_numpy_formulas.py has the
same for NumPy), float16 and bfloat16 1 against the float32 result rounded. NaN in gives
NaN out, values and gradients; ±inf give the same limits (an infinity is exact or the
count is huge). Each failure prints one line; the last line is ``checked N``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: float64: the most ulps between a kernel and the CPU (measured under the interpreter:
#: 4; a GPU's exp and log may round otherwise)
F64_ULPS = 8


def _setup() -> tuple[Any, ...]:
    import torch

    import relukit as rk
    from _torch_ref import PARAMS, cases, ulps
    from _values import gradient_for, inputs
    from relukit.torch import _core
    from relukit.torch import _triton_gen as G

    return torch, rk, PARAMS, cases, ulps, gradient_for, inputs, _core, G


def _gpu_bfloat16_conversions() -> None:
    """Give Triton's interpreter the GPU's float32 <-> bfloat16 conversions.

    The interpreter keeps bfloat16 as 16-bit integers and converts with its own bit
    manipulation, which truncates float32 -> bfloat16 (the GPU rounds to nearest, ties
    to even: ``cvt.rn.bf16.f32``) and mishandles subnormals both ways; the kernels'
    bfloat16 results would then be off by more than their own error. Here the
    conversions are torch's (round to nearest even; bfloat16 -> float32 exact), so that
    the checks see what a GPU computes.
    """
    import torch
    import triton.language as tl
    import triton.runtime.interpreter as interp

    original = interp._convert_float

    def convert(data: Any, src: Any, dst: Any, rounding_mode: Any) -> Any:
        if src == tl.float32 and dst == tl.bfloat16:
            f = torch.from_numpy(np.ascontiguousarray(data).view(np.float32).copy())
            return f.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
        if src == tl.bfloat16 and dst == tl.float32:
            return np.ascontiguousarray(data).view(np.uint16).astype(np.uint32) << 16
        return original(data, src, dst, rounding_mode)

    interp._convert_float = convert


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "interpret":
        assert os.environ.get("TRITON_INTERPRET") == "1", "set TRITON_INTERPRET=1"
        _gpu_bfloat16_conversions()
        return {"one": check_one, "gated": check_gated, "fewbit": check_fewbit}[argv[1]]()
    if mode == "compile":
        return check_compile(every=len(argv) > 1 and argv[1] == "all")
    raise SystemExit(f"unknown mode {mode!r}")


# ---------------------------------------------------------------------------
# under the interpreter
# ---------------------------------------------------------------------------


class Checker:
    """Counts checks and collects failures."""

    def __init__(self) -> None:
        self.n = 0
        self.known = 0  # elements of a known difference (see check_gated)
        self.failures: list[str] = []

    def ulps_within(
        self,
        label: str,
        got: Any,
        want: Any,
        bound: int,
        x: Any,
        g: Any = None,
        alt: Any = None,
        known: Any = None,
    ) -> None:
        """``got`` within ``bound`` ulps of ``want`` element by element (NaN with NaN).

        ``g``: a gradient ``g * d``, where a derivative ``d`` within ``bound`` ulps can be a
        subnormal whose last ulp is most of it: also accepted within ``bound`` smallest
        subnormals times ``|g|``. ``alt``: a second reference (the CPU's float64 result
        rounded: where the CPU's own kernels differ, either is accepted). ``known``: the
        elements of a known difference (not checked here; counted by the caller).
        """
        torch, *_ = _setup()
        from _torch_ref import ulps

        self.n += 1

        def ok(w: Any) -> Any:
            per = torch.tensor([ulps(a.reshape(1), b.reshape(1)) for a, b in
                                zip(got.reshape(-1), w.reshape(-1), strict=True)])  # fmt: skip
            good = per <= bound
            if g is not None:
                tiny = torch.finfo(got.dtype).smallest_normal * torch.finfo(got.dtype).eps
                diff = (got.double() - w.double()).abs().reshape(-1)
                good |= diff <= bound * tiny * g.double().abs().reshape(-1)
            return good

        good = ok(want)
        if alt is not None:
            good |= ok(alt)
        if known is not None:
            good |= known.reshape(-1)
        nan_in = x.isnan().reshape(-1) if x is not None else None
        nan_ok = nan_in is None or bool(got.reshape(-1)[nan_in].isnan().all())
        if not (bool(good.all()) and nan_ok):
            gf, wf = got.reshape(-1), want.reshape(-1)
            xs = x.reshape(-1) if x is not None else None
            bad = [
                f"x={xs[i].item() if xs is not None else '?'!r}: got {gf[i].item()!r}, "
                f"want {wf[i].item()!r}"
                for i in (~good).nonzero().reshape(-1)[:3].tolist()
            ]
            self.failures.append(f"{label}: {ulps(got, want)} ulps > {bound} ({'; '.join(bad)})")

    def equal(self, label: str, ok: bool) -> None:
        self.n += 1
        if not ok:
            self.failures.append(f"{label}: not equal")

    def done(self) -> int:
        for f in self.failures:
            print("FAIL", f)
        if self.known:
            print("known differences", self.known)
        print("checked", self.n)
        return 1 if self.failures else 0


def _dtypes() -> list[Any]:
    import torch

    return [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def _data(name: str, p: dict, dtype: Any, n_random: int = 120, seed: int = 0) -> Any:
    """tests/_values.py's edge values (kinks included) and random ones, in ``dtype``
    (bfloat16: float32's, rounded), and a gradient with ±0, ±inf and a NaN."""
    torch, rk, _, _, _, gradient_for, inputs, _, _ = _setup()
    np_dt = {torch.float16: np.float16, torch.float64: np.float64}.get(dtype, np.float32)
    kink_params = {} if name == "prelu" else p
    x = torch.from_numpy(inputs(np_dt, rk.get(name), kink_params, n_random=n_random)).to(dtype)
    g = torch.from_numpy(gradient_for(x.float().numpy().astype(np_dt), seed=seed + 1))
    return x, g.to(dtype)


def _bound(dtype: Any, grad: bool = False) -> int:
    """The most ulps from the CPU's result: float64 F64_ULPS; float32 1 (both round a
    float64 result once); float16 and bfloat16 1 for values (the GPU rounds a float32
    result once, the CPU a float64 one), 2 for gradients, g times the derivative rounded
    to the dtype first (each side's rounded derivative within 1 ulp, then the product)."""
    import torch

    if dtype == torch.float64:
        return F64_ULPS
    return 2 if grad and dtype in (torch.float16, torch.bfloat16) else 1


def _reference(fn: Any, dtype: Any, *ins: Any) -> Any:
    """``fn`` on the CPU route: the NumPy API's bits (float16 too); bfloat16: the
    float32 result rounded to bfloat16 (relukit.torch's CPU bfloat16)."""
    return fn(*ins)


def _one_cases() -> list[tuple[str, dict]]:
    _, rk, _, cases, *_ = _setup()
    skip = ("prelu", "rrelu", "star_relu")  # (their own paths: ATen's prelu, leaky_relu
    # for rrelu in evaluation; star_relu's learnable parameters as tensors)
    return [(n, p) for n, p in cases([a.name for a in rk.catalogue() if not a.gated])
            if n not in skip] + [("star_relu", {"scale": 1.5, "bias": -0.25})]  # fmt: skip


def check_one() -> int:
    torch, rk, _, _, _, _, _, core, G = _setup()
    c = Checker()
    for name, p in _one_cases():
        pl = core.plan(name, tuple(rk.get(name).bind((), p).values()))
        arity = len(pl.args)
        a = G.packed_args(pl.args, "cpu")
        for dtype in _dtypes():
            label = f"{name}{p or ''} {dtype}"
            x, g = _data(name, p, dtype)
            y = G.value(pl.math, arity, x, a)
            want_y = _reference(lambda t, pl=pl: core.value(pl, t), dtype, x)
            c.ulps_within(f"{label} value", y, want_y, _bound(dtype), x)
            kinks = (None, 0.5) if pl.kinks else (None,)
            for at_kink in kinks:
                k = G.kink_block(at_kink, pl.kinks, "cpu", dtype, pl.math.exact)  # (as _core)
                gx = G.backward(pl.math, arity, x, g, a, k)
                want = _reference(
                    lambda t, gg, pl=pl, ak=at_kink: core.grad(pl, gg, t, ak), dtype, x, g
                )
                c.ulps_within(
                    f"{label} backward at_kink={at_kink}", gx, want, _bound(dtype, True), x, g
                )
            if pl.save_output:
                yc = want_y  # the CPU's output (the one a layer would keep)
                gy = G.backward(pl.math, arity, yc, g, a, None, from_output=True)
                want = _reference(lambda t, gg, pl=pl: core.grad(pl, gg, t, None, True), dtype,
                                  yc, g)  # fmt: skip
                c.ulps_within(
                    f"{label} backward from the output", gy, want, _bound(dtype, True), x, g
                )
    _check_bits(c)
    return c.done()


def _check_bits(c: Any) -> None:
    """Bit for bit with the CPU where the rule is exact: a signalling NaN comes back
    quieted (sign and payload kept: a selection alone would keep it signalling) in
    float32 and float64, exact and smooth entries, value and backward; ``at_kink`` at a
    kink's float32 neighbour as on the CPU (a smooth entry's kink that float32 cannot
    hold is at no float32 input; an exact entry's is its float32 rounding);
    gelu(-5e-324) in float64 is -0.0."""
    torch, rk, _, _, _, _, _, core, G = _setup()
    from _torch_ref import same_bits

    nans = {
        torch.float32: ([0x7F800001, 0xFF800123 - 2**32, 0x7FC00ABC], torch.int32),
        torch.float64: ([0x7FF0000000000001, 0xFFF0000000000123 - 2**64], torch.int64),
    }
    for name in ("relu", "leaky_relu", "hardtanh", "gelu", "elu"):
        pl = core.plan(name, tuple(rk.get(name).bind(()).values()))
        a = G.packed_args(pl.args, "cpu")
        for dtype, (raw, it) in nans.items():
            x = torch.tensor(raw, dtype=it).view(dtype)
            g = torch.ones_like(x)
            k = G.kink_block(None, pl.kinks, "cpu", dtype)
            c.equal(f"{name} {dtype} NaN value", same_bits(
                G.value(pl.math, len(pl.args), x, a), core.value(pl, x)))  # fmt: skip
            c.equal(f"{name} {dtype} NaN backward", same_bits(
                G.backward(pl.math, len(pl.args), x, g, a, k), core.grad(pl, g, x)))  # fmt: skip
    for name, p, xs, want in (  # (softplus: float32 in float64, its kink 1/3 no float32;
        # threshold: exact, in float32 with its parameters rounded: the kink float32's 0.1)
        ("softplus", {"beta": 3.0, "threshold": 1.0}, [1 / 3, 2.0], None),
        ("threshold", {"threshold": 0.1, "value": -2.0}, [0.1, 0.2], [0.5, 1.0]),
    ):
        pl = core.plan(name, tuple(rk.get(name).bind((), p).values()))
        x = torch.tensor(xs, dtype=torch.float32)
        g = torch.ones_like(x)
        k = G.kink_block(0.5, pl.kinks, "cpu", torch.float32, pl.math.exact)
        got = G.backward(pl.math, len(pl.args), x, g, G.packed_args(pl.args, "cpu"), k)
        ok = same_bits(got, core.grad(pl, g, x, 0.5))
        ok = ok and (0.5 not in got.tolist() if want is None else got.tolist() == want)
        c.equal(f"{name}{p} at its kink's float32 neighbour, at_kink=0.5", ok)
    pl = core.plan("gelu", tuple(rk.get("gelu").bind(()).values()))
    x = torch.tensor([-5e-324], dtype=torch.float64)
    got = G.value(pl.math, len(pl.args), x, G.packed_args(pl.args, "cpu"))
    c.equal("gelu(-5e-324) is -0.0", bool(got[0] == 0 and got.signbit()[0]))


def check_gated() -> int:
    torch, rk, PARAMS, _, _, _, _, core, G = _setup()
    c = Checker()
    for act in [a for a in rk.catalogue() if a.gated]:
        for p in PARAMS[act.name]:
            pl = core.plan(act.name, tuple(act.bind((), p).values()))
            arity = len(pl.args)
            args = G.packed_args(pl.args, "cpu")
            for dtype in _dtypes():
                label = f"{act.name}{p or ''} {dtype}"
                v, _ = _data(act.name, p, dtype, n_random=0)
                v = v[:: max(1, len(v) // 24)]  # 24 edge values: every pair of them
                gen = torch.Generator().manual_seed(0)
                a = torch.cat(
                    [v.repeat_interleave(len(v)), (torch.randn(200, generator=gen) * 4).to(dtype)]
                )
                b = torch.cat([v.repeat(len(v)), (torch.randn(200, generator=gen) * 4).to(dtype)])
                _, g = _data(act.name, p, dtype, n_random=len(a))
                g = g[: len(a)]
                y = G.gated_value(pl.math, arity, a, b, args)
                want = _reference(lambda u, w, pl=pl: core.gated_value(pl, u, w), dtype, a, b)
                # (the CPU's float32 kernels and its float64 ones differ where f(gate)
                # underflows in float64 and up is ±inf: -inf there, NaN here)
                alt = core.gated_value(pl, a.double(), b.double()).to(dtype)
                # a known difference: f(gate) underflows to 0 in float32 (the GPU's working
                # precision for float16/bfloat16, not the CPU's float64) and up is ±inf:
                # 0 * inf is NaN on the GPU where the CPU gives ±inf
                half = dtype in (torch.float16, torch.bfloat16)
                known = (b.isinf() & want.isinf() & y.isnan()) if half else None
                c.known += int(known.sum()) if known is not None else 0
                c.ulps_within(f"{label} value", y, want, _bound(dtype), a, alt=alt, known=known)
                nan = a.isnan() | b.isnan()
                c.equal(f"{label} value NaN", bool(y[nan].isnan().all()))
                for at_kink in (None, 0.5) if pl.kinks else (None,):
                    k = G.kink_block(at_kink, pl.kinks, "cpu")
                    ga, gb = G.gated_backward(pl.math, arity, a, b, g, args, k)
                    wa, wb = _reference(
                        lambda gg, u, w, pl=pl, ak=at_kink: core.gated_grad(pl, gg, u, w, ak),
                        dtype, g, a, b,
                    )  # fmt: skip
                    a64 = core.gated_grad(pl, g.double(), a.double(), b.double(), at_kink)
                    bound = _bound(dtype, True)
                    known = (b.isinf() & wa.isinf() & ga.isnan()) if half else None
                    c.known += int(known.sum()) if known is not None else 0
                    c.ulps_within(f"{label} grad gate at_kink={at_kink}", ga, wa, bound, a, g,
                                  alt=a64[0].to(dtype), known=known)  # fmt: skip
                    c.ulps_within(f"{label} grad up at_kink={at_kink}", gb, wb, bound, a, g,
                                  alt=a64[1].to(dtype))  # fmt: skip
    return c.done()


def check_fewbit() -> int:
    torch, rk, PARAMS, _, _, _, _, core, G = _setup()
    from relukit.torch import _fewbit

    c = Checker()
    for name in _fewbit.PARAMS:
        for p in PARAMS[name]:
            pv = tuple(rk.get(name).bind((), p).values())
            pl = core.plan(name, pv)
            arity = len(pl.args)
            args = G.packed_args(pl.args, "cpu")
            for i, dtype in enumerate(_dtypes()):
                # one partial byte; two programs of 128 bytes (1029 elements) for one dtype
                n_random = 900 if i == 0 else 97
                x, g = _data(name, p, dtype, n_random=n_random)
                want_y = _reference(lambda t, pl=pl: core.value(pl, t), dtype, x)
                for bits in (1, 2, 3, 4):
                    label = f"{name}{p or ''} {dtype} bits={bits} n={x.numel()}"
                    b, lv, sh, rb = _fewbit._constants(name, pv, bits, x)
                    y, packed = G.value_codes(pl.math, arity, x, args, b, bits)
                    c.ulps_within(f"{label} value", y, want_y, _bound(dtype), x)
                    want_p = _fewbit.encode(x, rb, sh)
                    c.equal(f"{label} codes", packed.dtype == torch.uint8
                            and torch.equal(packed, want_p))  # fmt: skip
                    # the reference: torch.bucketize (NaN above every boundary)
                    codes = torch.bucketize(x, b)
                    planes = torch.stack([(codes >> k) & 1 for k in range(bits)]).bool()
                    if x.numel() % 8:
                        planes = torch.nn.functional.pad(planes, (0, 8 - x.numel() % 8))
                    from relukit.torch import _bits

                    c.equal(f"{label} codes (bucketize)", torch.equal(want_p, _bits.pack(planes)))
                    o = G.codes_backward(g, packed, lv, bits)
                    want_o = _fewbit.decode_multiply(g, want_p, lv, sh)
                    c.equal(
                        f"{label} backward",
                        bool(((o == want_o) | (o.isnan() & want_o.isnan())).all()),
                    )
    return c.done()


# ---------------------------------------------------------------------------
# compiled for a GPU (no GPU needed)
# ---------------------------------------------------------------------------

_TY = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "float64": "fp64"}


def _signature(kind: str, t: str) -> tuple[dict[str, str], dict[str, Any]]:
    p = f"*{t}"
    if kind == "value":
        return {"X": p, "Y": p, "A": "*fp64", "N": "i64", "BLOCK": "constexpr"}, {"BLOCK": 1024}
    if kind == "backward":
        sig = {"X": p, "G": p, "OUT": p, "A": "*fp64", "K": "*fp64", "N": "i64",
               "BLOCK": "constexpr"}  # fmt: skip
        return sig, {"BLOCK": 1024}
    if kind == "backward_y":
        sig = {"Y": p, "G": p, "OUT": p, "A": "*fp64", "N": "i64", "BLOCK": "constexpr"}
        return sig, {"BLOCK": 1024}
    if kind == "value_codes":
        sig = {"X": p, "Y": p, "P": "*u8", "B": p, "A": "*fp64", "N": "i64", "NB": "i64",
               "BITS": "constexpr", "NBOUNDS": "constexpr", "BLOCK": "constexpr"}  # fmt: skip
        return sig, {"BITS": 3, "NBOUNDS": 7, "BLOCK": 128}
    if kind == "gvalue":
        sig = {"P": p, "Q": p, "Y": p, "A": "*fp64", "N": "i64", "BLOCK": "constexpr"}
        return sig, {"BLOCK": 1024}
    if kind == "gbackward":
        sig = {"P": p, "Q": p, "G": p, "GA": p, "GB": p, "A": "*fp64", "K": "*fp64",
               "N": "i64", "BLOCK": "constexpr"}  # fmt: skip
        return sig, {"BLOCK": 1024}
    if kind == "codes_backward":
        sig = {"G": p, "P": "*u8", "LV": p, "OUT": p, "N": "i64", "NB": "i64",
               "BITS": "constexpr", "BLOCK": "constexpr"}  # fmt: skip
        return sig, {"BITS": 4, "BLOCK": 128}
    raise ValueError(kind)


def check_compile(every: bool) -> int:
    assert "TRITON_INTERPRET" not in os.environ, "compiling needs the real Triton"
    os.environ["TRITON_DEFAULT_FP_FUSION"] = "1"
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    torch, rk, PARAMS, _, _, _, _, core, G = _setup()
    from relukit.torch import _fewbit

    target = GPUTarget("cuda", 90, 32)  # an H100
    dtypes = _dtypes()
    c = Checker()
    jobs: list[tuple[str, Any, str, Any]] = []  # (label, kernel, kind, dtype)
    turn = 0
    for act in rk.catalogue():
        if act.name in ("prelu", "rrelu"):
            continue
        for p in PARAMS[act.name]:
            pl = core.plan(act.name, tuple(act.bind((), p).values()))
            arity = len(pl.args)
            if act.gated:
                kinds = ["gvalue", "gbackward"]
            else:
                kinds = ["value", "backward"]
                kinds += ["backward_y"] if pl.math.from_output is not None else []
                kinds += ["value_codes"] if act.name in _fewbit.PARAMS else []
            for kind in kinds:
                for dt in dtypes if every else [dtypes[turn % len(dtypes)]]:
                    turn += 1
                    if act.gated:
                        k = G.gated_kernel(pl.math, dt, kind, arity)
                    else:
                        k = G.kernel(pl.math, dt, kind, arity)
                    jobs.append((f"{act.name}{p or ''} {kind} {dt}", k, kind, dt))
    for dt in dtypes:
        jobs.append((f"codes_backward {dt}", G.codes_backward_kernel(), "codes_backward", dt))
    for label, k, kind, dt in jobs:
        sig, const = _signature(kind, _TY[str(dt).split(".")[-1]])
        try:
            compiled = triton.compile(ASTSource(fn=k, signature=sig, constexprs=const),
                                      target=target)  # fmt: skip
            ok = ".entry" in compiled.asm["ptx"] and len(compiled.asm["cubin"]) > 0
        except Exception as exc:  # (the message is the result)
            if "ptxas" in str(exc) and "not found" in str(exc):
                print("SKIP ptxas (Triton's CUDA toolchain) is not installed")
                return 0
            ok = False
            label += f": {type(exc).__name__}: {str(exc).splitlines()[-1][:300]}"
        c.equal(label, ok)
    return c.done()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
