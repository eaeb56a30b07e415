"""Arithmetic units, one module per unit kind, all following the contract in ``_base``."""

from ._base import ArithmeticUnit, sparsity_distance
from .nac import NAC, NACMul, nac_weight
from .nalu import NALU
from .registry import available_units, create, unit_class

__all__ = [
    "ArithmeticUnit",
    "NAC",
    "NACMul",
    "NALU",
    "available_units",
    "create",
    "nac_weight",
    "sparsity_distance",
    "unit_class",
]
