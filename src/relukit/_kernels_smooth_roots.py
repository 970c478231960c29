"""The Taylor patches at the zeros of the smooth entries' derivatives (silu', mish',
gelu'), from ``relukit._tables.ROOTS`` written out as constants so that LLVM unrolls them;
used by the element functions of :mod:`relukit._kernels_smooth`.

This file is written by ``tools/gen_kernels_smooth.py``; edit that script instead.
"""

from __future__ import annotations

from relukit._kernel_cache import njit
from relukit._kernels_math import ELEM


@njit(**ELEM)
def _root_silu(x, d):  # pragma: no cover - compiled
    # d, with the Taylor polynomial at the derivative's zero within 0.45 of it
    u = (x - -1.2784645427610737) - -1.0946994183093437e-16
    p = 8.04274075537398e-12
    p = p * u + 3.998547874723996e-12
    p = p * u + -7.50344609385287e-11
    p = p * u + -2.251366201881081e-10
    p = p * u + 2.3648315053103244e-10
    p = p * u + 2.9177603026903803e-09
    p = p * u + 4.619379769031606e-09
    p = p * u + -1.8877622907727957e-08
    p = p * u + -9.266646309267441e-08
    p = p * u + -3.051244750055421e-08
    p = p * u + 8.599695028268575e-07
    p = p * u + 2.346029682463866e-06
    p = p * u + -2.942631888842464e-06
    p = p * u + -2.9733542213263917e-05
    p = p * u + -4.090534237428612e-05
    p = p * u + 0.00018570724361186496
    p = p * u + 0.0007985218818397998
    p = p * u + 0.000126627410081122
    p = p * u + -0.006606589138356696
    p = p * u + -0.015222655223188032
    p = p * u + 0.018874814223782312
    p = p * u + 0.1466487969969469
    p = p * u + 0.2178117057198001
    if u < 0.45 and u > -0.45:
        d = p * u
    return d


@njit(**ELEM)
def _root_mish(x, d):  # pragma: no cover - compiled
    # d, with the Taylor polynomial at the derivative's zero within 0.45 of it
    u = (x - -1.1924312145154952) - -4.8484829848031044e-17
    p = -1.7442209713382678e-10
    p = p * u + -2.6751871594311224e-10
    p = p * u + 4.817646300218697e-10
    p = p * u + 3.3604012383661332e-09
    p = p * u + 6.3895954615089855e-09
    p = p * u + -5.460186173028381e-09
    p = p * u + -6.174424363104907e-08
    p = p * u + -1.4117255919499382e-07
    p = p * u + 2.6879417855557728e-08
    p = p * u + 1.071676702702074e-06
    p = p * u + 2.9088199364912223e-06
    p = p * u + 9.427361327376651e-07
    p = p * u + -1.72992708103044e-05
    p = p * u + -5.582891567360688e-05
    p = p * u + -4.1961496031696126e-05
    p = p * u + 0.00025412936386191073
    p = p * u + 0.0009898181021289196
    p = p * u + 0.0010924055409445854
    p = p * u + -0.0033606849270232685
    p = p * u + -0.01582112656173338
    p = p * u + -0.020271822716684245
    p = p * u + 0.04190782104360987
    p = p * u + 0.20473126408010586
    p = p * u + 0.2669479140495345
    if u < 0.45 and u > -0.45:
        d = p * u
    return d


@njit(**ELEM)
def _root_gelu(x, d):  # pragma: no cover - compiled
    # d, with the Taylor polynomial at the derivative's zero within 0.55 of it
    u = (x - -0.7517915246935645) - 1.4956759177009883e-17
    p = -9.950340824808053e-12
    p = p * u + -8.950037692726255e-11
    p = p * u + 1.4506418938779426e-10
    p = p * u + 1.90319840501314e-09
    p = p * u + -1.396942086426202e-09
    p = p * u + -3.5459866461783865e-08
    p = p * u + -1.6044265494246427e-09
    p = p * u + 5.702764979242107e-07
    p = p * u + 4.3284506257392273e-07
    p = p * u + -7.74846130700372e-06
    p = p * u + -1.121438018842664e-05
    p = p * u + 8.615947861116571e-05
    p = p * u + 0.00018633974623233514
    p = p * u + -0.0007448268386746817
    p = p * u + -0.002239538068073497
    p = p * u + 0.004539228379125415
    p = p * u + 0.019421679838189067
    p = p * u + -0.014771522148244337
    p = p * u + -0.1140082332972217
    p = p * u + -0.018199676398671087
    p = p * u + 0.388284982990552
    p = p * u + 0.4314939923140469
    if u < 0.55 and u > -0.55:
        d = p * u
    return d


@njit(**ELEM)
def _root_silu32(x, d):  # pragma: no cover - compiled
    # d, with the Taylor polynomial at the derivative's zero within 0.02 of it
    u = (x - -1.2784645427610737) - -1.0946994183093437e-16
    p = 0.00018570724361186496
    p = p * u + 0.0007985218818397998
    p = p * u + 0.000126627410081122
    p = p * u + -0.006606589138356696
    p = p * u + -0.015222655223188032
    p = p * u + 0.018874814223782312
    p = p * u + 0.1466487969969469
    p = p * u + 0.2178117057198001
    if u < 0.02 and u > -0.02:
        d = p * u
    return d


@njit(**ELEM)
def _root_gelu32(x, d):  # pragma: no cover - compiled
    # d, with the Taylor polynomial at the derivative's zero within 0.1 of it
    u = (x - -0.7517915246935645) - 1.4956759177009883e-17
    p = -7.74846130700372e-06
    p = p * u + -1.121438018842664e-05
    p = p * u + 8.615947861116571e-05
    p = p * u + 0.00018633974623233514
    p = p * u + -0.0007448268386746817
    p = p * u + -0.002239538068073497
    p = p * u + 0.004539228379125415
    p = p * u + 0.019421679838189067
    p = p * u + -0.014771522148244337
    p = p * u + -0.1140082332972217
    p = p * u + -0.018199676398671087
    p = p * u + 0.388284982990552
    p = p * u + 0.4314939923140469
    if u < 0.1 and u > -0.1:
        d = p * u
    return d


@njit(**ELEM)
def _root_gelu_tanh32(x, d):  # pragma: no cover - compiled
    # d, with the Taylor polynomial at the derivative's zero within 0.1 of it
    u = (x - -0.7524614220710163) - 3.4358218314355225e-17
    p = -1.595089687164511e-05
    p = p * u + -3.495617169443609e-05
    p = p * u + 0.00012425227802639787
    p = p * u + 0.0002639276405268104
    p = p * u + -0.0009274420230205452
    p = p * u + -0.002422731845875097
    p = p * u + 0.005261059254921913
    p = p * u + 0.019682309459833118
    p = p * u + -0.016619328343052565
    p = p * u + -0.11394448308095899
    p = p * u + -0.015782853521848023
    p = p * u + 0.38751844613578895
    p = p * u + 0.4304000910248585
    if u < 0.1 and u > -0.1:
        d = p * u
    return d


@njit(**ELEM)
def _root_mish32(x, d):  # pragma: no cover - compiled
    # d, with the Taylor polynomial at the derivative's zero within 0.1 of it
    u = (x - -1.1924312145154952) - -4.8484829848031044e-17
    p = -1.72992708103044e-05
    p = p * u + -5.582891567360688e-05
    p = p * u + -4.1961496031696126e-05
    p = p * u + 0.00025412936386191073
    p = p * u + 0.0009898181021289196
    p = p * u + 0.0010924055409445854
    p = p * u + -0.0033606849270232685
    p = p * u + -0.01582112656173338
    p = p * u + -0.020271822716684245
    p = p * u + 0.04190782104360987
    p = p * u + 0.20473126408010586
    p = p * u + 0.2669479140495345
    if u < 0.1 and u > -0.1:
        d = p * u
    return d
