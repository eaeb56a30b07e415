"""Stable lowercase names for every unit; ``nalm.create(name, in_features, out_features, **options)``.

Adding a unit: write ``nalm/units/<name>.py``, add one line to ``_UNITS`` below, add
``tests/units/test_<name>.py``.
"""

from __future__ import annotations

from typing import Any, Callable

from ._base import ArithmeticUnit
from .baselines import Linear, ReLU, ReLU6
from .gated_nau_nmu import GatedNAUNMU
from .gnalu import GNALU
from .inalu import INALU
from .nac import NAC, NACMul
from .nac_mul_controls import NACMulNMU, NACMulSigma
from .nalu import NALU
from .nau import NAU
from .nmru import NMRU
from .nmu import NMU
from .npu import NPU, NaiveNPU, RealNPU
from .nru import NRU
from .snmu import SNMU

_UNITS: dict[str, Callable[..., ArithmeticUnit]] = {
    "nac": NAC,
    "nac_mul": NACMul,
    "nalu": NALU,
    "nau": NAU,
    "nmu": NMU,
    "snmu": SNMU,
    "gnalu": GNALU,
    "inalu": INALU,
    "npu": NPU,
    "real_npu": RealNPU,
    "naive_npu": NaiveNPU,
    "nru": NRU,
    "nmru": NMRU,
    "nac_mul_sigma": NACMulSigma,
    "nac_mul_nmu": NACMulNMU,
    "gated_nau_nmu": GatedNAUNMU,
    "linear": Linear,
    "relu": ReLU,
    "relu6": ReLU6,
}


def available_units() -> list[str]:
    """Registered unit names, sorted."""
    return sorted(_UNITS)


def unit_class(name: str) -> Callable[..., ArithmeticUnit]:
    """The class registered under ``name`` (raises ``ValueError`` for an unknown name)."""
    try:
        return _UNITS[name]
    except KeyError:
        raise ValueError(
            f"unknown unit {name!r}; available: {', '.join(available_units())}"
        ) from None


def create(name: str, in_features: int, out_features: int, **options: Any) -> ArithmeticUnit:
    """Build a unit by its registry name, e.g. ``create("nmu", 2, 1)``."""
    return unit_class(name)(in_features, out_features, **options)
