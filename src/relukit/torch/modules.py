"""``nn.Module``s that are drop-in for ``torch.nn``'s activations.

Each class subclasses its ``torch.nn`` namesake, so the constructor, the attributes
(``inplace``, ``negative_slope``, ...), the ``repr``, the state dict and
``isinstance(m, torch.nn.ReLU)`` are torch's; only ``forward`` changes (to
:mod:`relukit.torch`'s memory-lean autograd Functions), and each takes one more keyword,
``at_kink``: the derivative used exactly at a kink (``None``: torch's value).
``relukit_activation`` is the catalogue entry (``None`` if the catalogue has none).

>>> import torch, relukit.torch as rt
>>> rt.LeakyReLU(0.2, inplace=True)
LeakyReLU(negative_slope=0.2, inplace=True)
>>> rt.ReLU(at_kink=1.0)
ReLU(at_kink=1.0)
>>> isinstance(rt.ReLU(), torch.nn.ReLU), rt.ReLU.relukit_activation.name
(True, 'relu')
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from relukit.torch import _functions as _f
from relukit.torch._levels import check_bits


def _check_bits(cls: str, bits: Any) -> int | None:
    return check_bits(f"relukit.torch.{cls}", bits)


__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "SELU",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Softplus",
]


def _bits_repr(base: str, bits: int | None) -> str:
    """``repr`` suffix of a few-bit module (``bits=3``); nothing for the exact backward."""
    if bits is None:
        return base
    return f"{base}, bits={bits}" if base else f"bits={bits}"


def _kink_repr(base: str, at_kink: float | None) -> str:
    if at_kink is None:
        return base
    return f"{base}, at_kink={at_kink!r}" if base else f"at_kink={at_kink!r}"


class _KinkMixin:
    at_kink: float | None

    def _init_kink(self, name: str, at_kink: Any) -> None:
        self.at_kink = _f._check_at_kink(name, at_kink)

    def extra_repr(self) -> str:
        return _kink_repr(super().extra_repr(), self.at_kink)  # type: ignore[misc]


class ReLU(_KinkMixin, nn.ReLU):
    """``torch.nn.ReLU`` saving 1 bit per element for backward; ``at_kink`` sets relu'(0)."""

    relukit_activation = _f.catalogue_entry("relu")

    def __init__(self, inplace: bool = False, *, at_kink: float | None = None) -> None:
        super().__init__(inplace)
        self._init_kink("relu", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.relu(input, self.inplace, at_kink=self.at_kink)


class LeakyReLU(_KinkMixin, nn.LeakyReLU):
    """``torch.nn.LeakyReLU`` saving 1 bit per element; in-place works with any slope."""

    relukit_activation = _f.catalogue_entry("leaky_relu")

    def __init__(
        self, negative_slope: float = 0.01, inplace: bool = False, *, at_kink: float | None = None
    ) -> None:
        _f.bind("leaky_relu", (negative_slope,))  # validate; keep the value for the repr
        super().__init__(negative_slope, inplace)
        self._init_kink("leaky_relu", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.leaky_relu(input, self.negative_slope, self.inplace, at_kink=self.at_kink)


class Hardtanh(_KinkMixin, nn.Hardtanh):
    """``torch.nn.Hardtanh`` saving 1 bit per element."""

    relukit_activation = _f.catalogue_entry("hardtanh")

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
        *,
        at_kink: float | None = None,
    ) -> None:
        super().__init__(min_val, max_val, inplace, min_value, max_value)
        self._init_kink("hardtanh", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.hardtanh(input, self.min_val, self.max_val, self.inplace, at_kink=self.at_kink)


class ReLU6(_KinkMixin, nn.ReLU6):
    """``torch.nn.ReLU6`` saving 1 bit per element; gradient 0 at 0 and 6 (torch's)."""

    relukit_activation = _f.catalogue_entry("relu6")

    def __init__(self, inplace: bool = False, *, at_kink: float | None = None) -> None:
        super().__init__(inplace)
        self._init_kink("relu6", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.relu6(input, self.inplace, at_kink=self.at_kink)


class Hardsigmoid(_KinkMixin, nn.Hardsigmoid):
    """``torch.nn.Hardsigmoid`` saving 1 bit per element."""

    relukit_activation = _f.catalogue_entry("hardsigmoid")

    def __init__(self, inplace: bool = False, *, at_kink: float | None = None) -> None:
        super().__init__(inplace)
        self._init_kink("hardsigmoid", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.hardsigmoid(input, self.inplace, at_kink=self.at_kink)


class ELU(_KinkMixin, nn.ELU):
    """``torch.nn.ELU`` saving only its output (for ``alpha > 0``)."""

    relukit_activation = _f.catalogue_entry("elu")

    def __init__(
        self, alpha: float = 1.0, inplace: bool = False, *, at_kink: float | None = None
    ) -> None:
        _f.bind("elu", (alpha,))
        super().__init__(alpha, inplace)
        self._init_kink("elu", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.elu(input, self.alpha, self.inplace, at_kink=self.at_kink)


class CELU(_KinkMixin, nn.CELU):
    """``torch.nn.CELU`` saving only its output."""

    relukit_activation = _f.catalogue_entry("celu")

    def __init__(
        self, alpha: float = 1.0, inplace: bool = False, *, at_kink: float | None = None
    ) -> None:
        _f.bind("celu", (alpha,))
        super().__init__(alpha, inplace)
        self._init_kink("celu", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.celu(input, self.alpha, self.inplace, at_kink=self.at_kink)


class SELU(_KinkMixin, nn.SELU):
    """``torch.nn.SELU`` saving only its output."""

    relukit_activation = _f.catalogue_entry("selu")

    def __init__(self, inplace: bool = False, *, at_kink: float | None = None) -> None:
        super().__init__(inplace)
        self._init_kink("selu", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.selu(input, self.inplace, at_kink=self.at_kink)


class Hardswish(_KinkMixin, nn.Hardswish):
    """``torch.nn.Hardswish`` with relukit's values at ±inf; saves the input (as torch)."""

    relukit_activation = _f.catalogue_entry("hardswish")

    def __init__(
        self, inplace: bool = False, *, at_kink: float | None = None, bits: int | None = None
    ) -> None:
        super().__init__(inplace)
        self._init_kink("hardswish", at_kink)
        self.bits = _check_bits("Hardswish", bits)
        if bits is not None and at_kink is not None:
            raise ValueError("relukit.torch.Hardswish: at_kink and bits cannot be combined")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.hardswish(input, self.inplace, at_kink=self.at_kink, bits=self.bits)

    def extra_repr(self) -> str:
        return _bits_repr(super().extra_repr(), self.bits)


class GELU(nn.GELU):
    """``torch.nn.GELU`` with relukit's values at ±inf (no kinks: no ``at_kink``)."""

    relukit_activation = _f.catalogue_entry("gelu")

    def __init__(self, approximate: str = "none", *, bits: int | None = None) -> None:
        _f.bind("gelu", (approximate,))
        super().__init__(approximate)
        self.bits = _check_bits("GELU", bits)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.gelu(input, self.approximate, bits=self.bits)

    def extra_repr(self) -> str:
        return _bits_repr(super().extra_repr(), self.bits)


class SiLU(nn.SiLU):
    """``torch.nn.SiLU`` with relukit's values at ±inf."""

    relukit_activation = _f.catalogue_entry("silu")

    def __init__(self, inplace: bool = False, *, bits: int | None = None) -> None:
        super().__init__(inplace)
        self.bits = _check_bits("SiLU", bits)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.silu(input, self.inplace, bits=self.bits)

    def extra_repr(self) -> str:
        return _bits_repr(super().extra_repr(), self.bits)


class Mish(nn.Mish):
    """``torch.nn.Mish`` with relukit's values at ±inf."""

    relukit_activation = _f.catalogue_entry("mish")

    def __init__(self, inplace: bool = False, *, bits: int | None = None) -> None:
        super().__init__(inplace)
        self.bits = _check_bits("Mish", bits)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.mish(input, self.inplace, bits=self.bits)

    def extra_repr(self) -> str:
        return _bits_repr(super().extra_repr(), self.bits)


class Softplus(nn.Softplus):
    """``torch.nn.Softplus`` with relukit's values at ±inf."""

    relukit_activation = _f.catalogue_entry("softplus")

    def __init__(
        self, beta: float = 1.0, threshold: float = 20.0, *, bits: int | None = None
    ) -> None:
        super().__init__(beta, threshold)
        _f.bind("softplus", (beta, threshold))  # validate only: keep torch's repr (ints stay)
        self.bits = _check_bits("Softplus", bits)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.softplus(input, self.beta, self.threshold, bits=self.bits)

    def extra_repr(self) -> str:
        return _bits_repr(super().extra_repr(), self.bits)


class PReLU(_KinkMixin, nn.PReLU):
    """``torch.nn.PReLU``; saves only a 1-bit mask when its weight is frozen."""

    relukit_activation = _f.catalogue_entry("prelu")

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = 0.25,
        device: Any = None,
        dtype: Any = None,
        *,
        at_kink: float | None = None,
    ) -> None:
        super().__init__(num_parameters, init, device, dtype)
        self._init_kink("prelu", at_kink)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _f.prelu(input, self.weight, at_kink=self.at_kink)
