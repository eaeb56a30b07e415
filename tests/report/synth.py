"""A small synthetic results database for the report tests (no trainer involved)."""

from __future__ import annotations

import math
from pathlib import Path

from nalm.results import LearningCurve, RunResult
from nalm.store import ResultsStore

PUB_NMU = {"source": "madsen2020", "task": "static-100", "operation": "mul", "model": "NMU"}
PUB_NAU = {"source": "madsen2020", "task": "static-100", "operation": "add", "model": "NAU"}


def run(seed: int, *, solved: bool, solved_at: int | None = None, sparsity: float = 0.0,
        extrap: float = 1e-9, status: str = "ok", threshold: float = 1e-5) -> RunResult:
    steps = [0, 1000, 2000, 3000]
    return RunResult(
        seed=seed, status=status, solved=solved, solved_at=solved_at, selected_step=3000,  # type: ignore[arg-type]
        interpolation_mse=extrap / 10, extrapolation_mse=extrap, sparsity_error=sparsity,
        threshold=threshold, iterations=3000 if status != "diverged" else 2500,
        diverged_at=2500 if status == "diverged" else None,
        curve=LearningCurve(steps, [1.0, 1e-2, 1e-4, extrap / 10], [2.0, 1e-1, 1e-3, extrap],
                            [0.4, 0.2, 0.1, sparsity]),
    )


def nmu_runs() -> list[RunResult]:
    """20 runs, 16 solved (seeds 3 and 13 diverged, 7 and 17 stuck)."""
    out = []
    for s in range(20):
        if s % 10 == 3:
            out.append(run(s, solved=False, extrap=math.nan, sparsity=math.nan, status="diverged", threshold=0.16))
        elif s % 10 == 7:
            out.append(run(s, solved=False, extrap=0.5 + s, sparsity=0.3, threshold=0.16))
        else:
            out.append(run(s, solved=True, solved_at=1000 * (s + 1) * (1 + s % 3),
                           sparsity=1e-6 * (1 + s), extrap=1e-7 * (s + 1), threshold=0.16))
    return out


def nau_runs() -> list[RunResult]:
    return [run(s, solved=True, solved_at=1000 * (1 + s % 5), sparsity=1e-5 * (1 + s % 4), extrap=1e-8)
            for s in range(20)]


def nac_runs() -> list[RunResult]:
    return [run(s, solved=False, extrap=10.0 ** s, sparsity=0.4) for s in range(5)]


CELLS = [
    # (suite, cell, config, runs)
    ("madsen2020", "NMU/mul", {"model": "NMU", "operation": "mul", "iterations": 3000, "published": PUB_NMU},
     nmu_runs),
    ("madsen2020", "NAU/add", {"model": "NAU", "operation": "add", "iterations": 3000, "published": PUB_NAU},
     nau_runs),
    ("madsen2020", "NAC+/add", {"model": "NAC+", "operation": "add", "iterations": 3000}, nac_runs),
    # the same cell key with another config: must not be pooled with the first NMU/mul
    ("madsen2020", "NMU/mul", {"model": "NMU", "operation": "mul", "iterations": 9999, "published": PUB_NMU},
     nau_runs),
    ("madsen2020", "bad-ref", {"model": "X", "operation": "mul",
                               "published": {**PUB_NMU, "model": "NoSuchModel"}}, nac_runs),
    ("primer2022", "NAU/add/a", {"model": "NAU", "operation": "add", "range": "U[1,2]"}, nau_runs),
    ("primer2022", "NAU/add/b", {"model": "NAU", "operation": "add", "range": {"name": "U[10,20]"}}, nac_runs),
    ("primer2022", "NMU/mul/a", {"model": "NMU", "operation": "mul", "range": "U[1,2]"}, nmu_runs),
]


def build(db: Path) -> Path:
    with ResultsStore(db) as store:
        for suite, cell, config, make in CELLS:
            store.write_cell(suite, cell, config, make(), wall_time_s=3.0, seed_iterations_per_second=100.0,
                             threshold_policy="published")
    return db
