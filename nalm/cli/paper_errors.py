"""The NPU paper's simple-task statistic of stored runs, for ``nalm report`` (needs torch and the tasks).

``nalm report`` passes :func:`with_paper_errors` to :func:`nalm.report.write_report` as ``enrich``:
the report package itself never imports torch, and this module imports it only when the database
holds such cells.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from nalm.report.medians import SIMPLE_OUTPUTS, _scored_final
from nalm.report.summary import CellSummary

def with_paper_errors(store: Any, cells: Sequence[CellSummary]) -> list[CellSummary]:
    """``cells`` with :attr:`CellSummary.paper_errors` set for the simple-task cells scored at their
    final point (the heim2020 suite's), from each run's stored final parameters. Runs without stored
    parameters (failed runs) count as NaN."""
    targets = [c for c in cells
               if isinstance(c.config.get("task"), Mapping) and c.config["task"].get("kind") == "npu_simple"
               and _scored_final(c.config) and c.run_ids]
    if not targets:
        return list(cells)
    import torch

    from nalm.bench.build import spec_from_config, task_from_config
    from nalm.tasks.npu_simple import paper_errors


    done: dict[int, Mapping[str, tuple[float, ...]]] = {}
    for c in targets:
        task = task_from_config(c.config)
        spec = spec_from_config(c.config, task)
        dtype = getattr(torch, str(c.config.get("dtype", "float32")))
        values: dict[str, list[float]] = {k: [] for k in SIMPLE_OUTPUTS}
        for run_id in c.run_ids:
            params = store.parameters(run_id)
            if params is None:
                for k in SIMPLE_OUTPUTS:
                    values[k].append(math.nan)
                continue
            model = spec.build(0, dtype=dtype)
            with torch.no_grad():
                for name, p in model.named_parameters():
                    p.copy_(torch.as_tensor(params.final[name]))
            errs = paper_errors(model, dtype=dtype)
            for k in SIMPLE_OUTPUTS:
                values[k].append(float(errs[k]))
        done[id(c)] = {k: tuple(v) for k, v in values.items()}
    return [replace(c, paper_errors=done[id(c)]) if id(c) in done else c for c in cells]
