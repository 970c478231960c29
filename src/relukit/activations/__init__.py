"""The definitions: one short block per activation, and nothing else.

Each block gives, once: the formulas (text and LaTeX), the parameters with their
accepted ranges, the kinks with the derivative used there, and the math
(:class:`~relukit.catalogue.Math`): the value, the derivative and, where it exists, the
derivative from the output, each a function ``f(m, x, *args)`` written against a math
namespace ``m`` (:mod:`relukit._prims`), which every backend compiles or runs with its
own primitives (numba, NumPy and the Array API, Python floats, Triton).
:mod:`~relukit.activations.rectifiers` holds the piecewise-linear members,
:mod:`~relukit.activations.curved` the other one-input ones,
:mod:`~relukit.activations.gated` the gated linear units; the catalogue order is the
order of the blocks.

Conventions every block follows (the semantics table of docs/design.md):

* NaN in gives NaN out, for values and derivatives.
* ±inf gives the mathematical limit, never NaN.
* The value is written so that autograd (torch, JAX) takes the branch whose derivative
  is the declared kink convention: ``where(x > 0, x, slope * x)`` differentiates to
  ``slope`` at 0, where ``maximum(x, 0)`` would give 0.5.
* Constants are Python scalars, so float16/float32 inputs keep their dtype.

Adding an activation: write its block in one of these modules (and its name in that
module's ``__all__``), and export it from :mod:`relukit`. Everything else (the kernels,
the Triton kernels, relukit.torch's function and module, the JAX front end, plots, the
command line, the docs, the parametrised tests) reads the catalogue.
"""

from __future__ import annotations

# the blocks register in import order: rectifiers first
# isort: off
from relukit.activations import rectifiers, curved, gated
from relukit.activations.rectifiers import *  # noqa: F403
from relukit.activations.curved import *  # noqa: F403
from relukit.activations.gated import *  # noqa: F403

# isort: on
from relukit.catalogue import catalogue as _catalogue

__all__ = [*rectifiers.__all__, *curved.__all__, *gated.__all__]

# the examples of every entry run as doctests (collected via __test__)
__test__ = {a.name: a.__doc__ for a in _catalogue()}
