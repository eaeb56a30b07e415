"""Tasks: immutable, validated configs that produce seeded, batched data for S runs at once.

``StaticArithmeticTask`` (Madsen & Johansen 2020), ``SingleModuleTask`` (Mistry et al. 2022) and the
named presets. Exports load lazily: ``nalm.tasks.ops`` (the list of operations) is torch-free, so the
CLI can validate an operation without loading torch; numba is imported only when a training batch is
first drawn on the CPU.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY_EXPORTS = {
    "Split": "._base",
    "Task": "._base",
    "PRIMER_RANGES": ".presets",
    "madsen_simple_task": ".presets",
    "madsen_task": ".presets",
    "primer_task": ".presets",
    "OPS": ".ops",
    "BINARY_OPS": ".ops",
    "PRIMER_OPS": ".ops",
    "GroupedTrainStream": ".static",
    "SingleModuleTask": ".static",
    "StaticArithmeticTask": ".static",
    "format_range": ".static",
    "train_batches": ".static",
}

__all__ = sorted(_LAZY_EXPORTS)

if TYPE_CHECKING:
    from ._base import Split, Task
    from .ops import BINARY_OPS, OPS, PRIMER_OPS
    from .presets import PRIMER_RANGES, madsen_simple_task, madsen_task, primer_task
    from .static import (
        GroupedTrainStream,
        SingleModuleTask,
        StaticArithmeticTask,
        format_range,
        train_batches,
    )


def __getattr__(name: str) -> Any:
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'nalm.tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_EXPORTS))
