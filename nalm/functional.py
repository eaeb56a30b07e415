"""Stateless helpers behind the units: weight constructions and the sparsity measures.

The unit classes live in :mod:`nalm.units`; these are the pure functions they are built from, for
use in your own layers or analyses.
"""

from __future__ import annotations

from .units._base import sparsity_distance
from .units.gnalu import golden_nac_weight
from .units.nac import log_space_matmul, nac_weight
from .units.sparsity import sparsity_error

__all__ = [
    "golden_nac_weight",
    "log_space_matmul",
    "nac_weight",
    "sparsity_distance",
    "sparsity_error",
]
