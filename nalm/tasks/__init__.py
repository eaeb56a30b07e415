"""Tasks: immutable, validated configs that produce seeded, batched data for S runs at once.

``StaticArithmeticTask`` (Madsen & Johansen 2020), ``SingleModuleTask`` (Mistry et al. 2022) and the
named presets load eagerly (torch + numpy only); numba is imported only when a training batch is
first drawn on the CPU.
"""

from ._base import Split, Task
from .presets import PRIMER_RANGES, madsen_simple_task, madsen_task, primer_task
from .static import (
    OPS,
    GroupedTrainStream,
    SingleModuleTask,
    StaticArithmeticTask,
    format_range,
    train_batches,
)

__all__ = [
    "GroupedTrainStream",
    "OPS",
    "PRIMER_RANGES",
    "SingleModuleTask",
    "Split",
    "StaticArithmeticTask",
    "Task",
    "format_range",
    "madsen_simple_task",
    "madsen_task",
    "primer_task",
    "train_batches",
]
