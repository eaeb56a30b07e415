"""nalm — neural arithmetic logic modules that learn exact arithmetic and extrapolate.

The unit classes are exported lazily (PEP 562): ``from nalm import NALU`` loads torch, but importing
a torch-free submodule such as ``nalm.store``, ``nalm.report`` or ``nalm.errors`` does not, so the
results store, the report and the CLI's light commands run without paying for (or needing) torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it; imported on first attribute access
_LAZY_EXPORTS = {
    "ArithmeticUnit": "nalm.units",
    "available_units": "nalm.units",
    "create": "nalm.units",
    "NAC": "nalm.units.nac",
    "NACMul": "nalm.units.nac",
    "NALU": "nalm.units.nalu",
}

__all__ = ["NAC", "NACMul", "NALU", "ArithmeticUnit", "__version__", "available_units", "create"]

if TYPE_CHECKING:
    from .units import ArithmeticUnit, available_units, create
    from .units.nac import NAC, NACMul
    from .units.nalu import NALU


def __getattr__(name: str) -> Any:
    if name == "units":  # ``import nalm; nalm.units`` worked when the units were imported eagerly
        return importlib.import_module("nalm.units")
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'nalm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_EXPORTS))
