"""Arithmetic units, one module per unit kind, all following the contract in ``_base``."""

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

__all__ = [
    "MODIFIED_REAL_NPU",
    "NAC",
    "NAU",
    "NMRU",
    "NMU",
    "NPU",
    "NRU",
    "SNMU",
    "ArithmeticUnit",
    "GNALU",
    "GatedNAUNMU",
    "INALU",
    "Linear",
    "NACMul",
    "NACMulNMU",
    "NACMulSigma",
    "NALU",
    "NaiveNPU",
    "RealNPU",
    "ReLU",
    "ReLU6",
    "available_units",
    "create",
    "nac_weight",
    "sparsity_distance",
    "sparsity_error",
    "unit_class",
]
