"""The sequence tasks on two more scales than success: Trask's normalised error and the range test.

Both are measured after training and stored with each run (:mod:`nalm.training.evaluation`'s run
metrics ``trask`` and ``range_test``); this module only aggregates them per cell:

* **Trask's normalised error** (Trask et al. 2018): 100 · the run's MSE / the mean MSE of 100 untrained
  networks of the same architecture and initialisation, on the interpolation (validation) and the
  extrapolation (test) sets; median over the cell's runs.
  Stored for the recurrent arithmetic task and for sequential MNIST (whose splits are the validation
  set at the training length and the test set at the longest test length).
* **The range test** (the recurrent arithmetic task only): sequences of the training length over the extrapolation range (stable-nalu's
  ``test/range_extrapolation``) at each run's selected step. "Range solved" is counted twice: below
  the cell's threshold (the length-100 test's), as ``export/function_task_recurrent.r`` counts
  ``range.solved`` — lenient, since range targets are smaller — and below the range test's own
  threshold under the same policy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from nalm.report.summary import CellSummary

HEADERS = ("cell", "runs", "Trask interp.", "Trask extrap.", "range test: MSE median",
           "range solved (R rule)", "range solved (own threshold)")
CAPTION = ("Trask's normalised error (100 · MSE / mean MSE of 100 untrained networks; median over runs) "
           "and the range test (training length over the extrapolation range, at the selected step):")


@dataclass(frozen=True)
class RecurrentRow:
    cell: str
    runs: int
    trask_interpolation: float  # median over runs
    trask_extrapolation: float
    range_mse_median: float
    range_solved: int | None  # below the cell's threshold (None: runs with different thresholds)
    range_threshold: float
    range_solved_own: int
    range_measured: int  # runs with a range-test value


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(statistics.median(finite)) if finite else math.nan


def recurrent_rows(cells: Sequence[CellSummary]) -> list[RecurrentRow]:
    """One row per cell that has the recurrent metrics stored (cell order)."""
    out = []
    for c in cells:
        m = c.metrics
        if "trask_extrapolation" not in m and "range_mse" not in m:
            continue
        nan = (math.nan,) * c.n_seeds
        range_mse = m.get("range_mse", nan)
        measured = [v for v in range_mse if not math.isnan(v)]
        own = [t for t in m.get("range_threshold", nan) if not math.isnan(t)]
        own_threshold = own[0] if own else math.nan
        threshold = c.thresholds[0] if len(c.thresholds) == 1 else None
        out.append(RecurrentRow(
            cell=c.display_name,
            runs=c.n_seeds,
            trask_interpolation=_median(m.get("trask_interpolation", nan)),
            trask_extrapolation=_median(m.get("trask_extrapolation", nan)),
            range_mse_median=_median(range_mse),
            range_solved=None if threshold is None else sum(v < threshold for v in measured),
            range_threshold=own_threshold,
            range_solved_own=sum(v < own_threshold for v in measured),
            range_measured=len(measured),
        ))
    return out


def _num(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.3g}"


def rows(recurrent: Sequence[RecurrentRow]) -> list[tuple[str, ...]]:
    out = []
    for r in recurrent:
        solved = "—" if r.range_solved is None else f"{r.range_solved}/{r.range_measured}"
        own = f"{r.range_solved_own}/{r.range_measured} (< {_num(r.range_threshold)})"
        if not r.range_measured:  # a task without the range test (sequential MNIST): Trask's scale only
            solved = own = "—"
        out.append((r.cell, str(r.runs), _num(r.trask_interpolation), _num(r.trask_extrapolation),
                    _num(r.range_mse_median), solved, own))
    return out
