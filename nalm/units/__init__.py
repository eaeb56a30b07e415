"""Arithmetic units, one module per unit kind, all following the contract in ``_base``.

``__all__`` is the unit classes, their contract (:class:`ArithmeticUnit`) and the registry
(:func:`create`, :func:`available_units`, :func:`unit_class`). The pure functions the units are
built from (``nac_weight``, ``sparsity_distance``, ``sparsity_error``, ...) are in
:mod:`nalm.functional`; they stay importable from here for code written before it existed.
"""

from ._base import ArithmeticUnit, sparsity_distance
from .baselines import Linear, ReLU, ReLU6
from .gated_nau_nmu import GatedNAUNMU
from .gnalu import GNALU
from .inalu import INALU
from .nac import NAC, NACMul, nac_weight
from .nac_mul_controls import NACMulNMU, NACMulSigma
from .nalu import NALU
from .nau import NAU
from .nmru import NMRU
from .nmu import NMU
from .npu import MODIFIED_REAL_NPU, NPU, NaiveNPU, RealNPU
from .nru import NRU
from .registry import available_units, create, unit_class
from .snmu import SNMU
from .sparsity import sparsity_error

#: The unit classes, in the order of the README's table.
UNIT_CLASSES = (
    "NAC",
    "NACMul",
    "NALU",
    "NAU",
    "NMU",
    "NACMulSigma",
    "NACMulNMU",
    "GatedNAUNMU",
    "SNMU",
    "GNALU",
    "INALU",
    "NPU",
    "RealNPU",
    "NaiveNPU",
    "NRU",
    "NMRU",
    "Linear",
    "ReLU",
    "ReLU6",
)

__all__ = [*UNIT_CLASSES, "ArithmeticUnit", "available_units", "create", "unit_class"]

# Kept importable from here (not in __all__): see nalm.functional and nalm.units.npu.
_COMPAT = (MODIFIED_REAL_NPU, nac_weight, sparsity_distance, sparsity_error)
