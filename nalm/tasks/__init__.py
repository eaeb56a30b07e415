"""Tasks: immutable, validated configs that produce seeded, batched data for S runs at once.

``StaticArithmeticTask`` (Madsen & Johansen 2020), ``SingleModuleTask`` (Mistry et al. 2022) and the
named presets. What lives where:

* ``ops`` — the table of operations (name, subsets used, formula, computation); torch-free;
* ``ranges`` — input ranges: validation, normalisation, formatting;
* ``static`` — the static task and the single-module task, with their fixed evaluation sets;
* ``streams`` — training streams: one task's runs, several tasks grouped, the draw plan;
* ``rng`` — the counter-based generator behind the streams (numba or torch backend);
* ``recurrent`` — the recurrent arithmetic task (sequences; Trask et al. 2018, Madsen & Johansen 2020);
* ``presets``, ``article``, ``npu_simple`` — the published settings and the other tasks.

Exports load lazily: ``nalm.tasks.ops`` is torch-free, so the CLI can validate an operation without
loading torch; numba is imported only when a training batch is first drawn on the CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nalm._lazy import lazy_exports

_LAZY_EXPORTS = {
    "Split": "._base",
    "Task": "._base",
    "check_task_dtype": "._base",
    "PRIMER_RANGES": ".presets",
    "madsen_simple_task": ".presets",
    "madsen_task": ".presets",
    "primer_task": ".presets",
    "OPS": ".ops",
    "OPERATIONS": ".ops",
    "BINARY_OPS": ".ops",
    "PRIMER_OPS": ".ops",
    "Operation": ".ops",
    "RecurrentArithmeticTask": ".recurrent",
    "SingleModuleTask": ".static",
    "StaticArithmeticTask": ".static",
    "format_range": ".ranges",
    "normalize_range": ".ranges",
    "GroupedTrainStream": ".streams",
    "SharedDraw": ".streams",
    "train_batches": ".streams",
}

__all__ = sorted(_LAZY_EXPORTS)

if TYPE_CHECKING:
    from ._base import Split, Task, check_task_dtype
    from .ops import BINARY_OPS, OPERATIONS, OPS, PRIMER_OPS, Operation
    from .presets import PRIMER_RANGES, madsen_simple_task, madsen_task, primer_task
    from .ranges import format_range, normalize_range
    from .recurrent import RecurrentArithmeticTask
    from .static import SingleModuleTask, StaticArithmeticTask
    from .streams import GroupedTrainStream, SharedDraw, train_batches


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS)
