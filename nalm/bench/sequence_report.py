"""The recurrent task's table from a results database: success and MSE beside Trask's normalised
error, and the range test.

``nalm report`` shows what the store holds for every suite (success, solved-at, sparsity, MSE). The
recurrent task is also reported on two more scales, which need the trained networks and so torch:

* **Trask's normalised error** (Trask et al. 2018: 100 · the run's MSE / the mean MSE of 100
  untrained networks of the same architecture and initialisation), on the interpolation
  (validation) and extrapolation (test) sets, median over the cell's runs
  (:func:`nalm.training.evaluation.trask_errors`);
* **the range test** — sequences of the training length over the extrapolation range (U[2, 6];
  stable-nalu's ``test/range_extrapolation``) — at each run's selected step, from its stored
  parameters; "range solved" is counted twice: against the run's threshold (the length-100 test's),
  as ``export/function_task_recurrent.r`` counts ``range.solved`` — lenient, since range targets are
  smaller — and against the range test's own ε-perturbed threshold (the R script's "range" row:
  sequences of the training length over the extrapolation range, same policy).

:func:`recurrent_summary` reads a database (read-only); :func:`format_markdown` writes the table.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nalm.errors import ConfigError
from nalm.metrics import threshold_estimate
from nalm.stats import wilson_interval
from nalm.store import ResultsStore
from nalm.training import stack_modules
from nalm.training.evaluation import split_mse, trask_errors

from .build import spec_from_config, task_from_config

__all__ = ["RecurrentRow", "format_markdown", "recurrent_summary"]


@dataclass(frozen=True)
class RecurrentRow:
    """One cell of a recurrent suite, summarised."""

    suite: str
    cell: str
    model: str
    operation: str
    runs: int
    solved: int
    iterations: int
    threshold: float
    median_extrapolation_mse: float
    trask_interpolation: float  # median over runs of 100 · MSE / E_rand
    trask_extrapolation: float
    baseline_interpolation: float  # E_rand: mean MSE of the untrained networks
    baseline_extrapolation: float
    baseline_k: int
    range_solved: int  # below the run's threshold (the R script's rule)
    range_threshold: float  # the range test's own ε-perturbed threshold
    range_solved_own: int  # below it
    median_range_mse: float
    solved_at_median: float | None

    @property
    def success(self) -> tuple[float, float, float]:
        low, high = wilson_interval(self.solved, self.runs)
        return self.solved / self.runs, low, high


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(statistics.median(finite)) if finite else math.nan


def recurrent_summary(db: str | Path, suite: str | None = None, *, k: int = 100) -> list[RecurrentRow]:
    """Every recurrent-task cell of ``db`` (of ``suite``, when given), in the order they were written."""
    rows = []
    with ResultsStore(db, readonly=True) as store:
        runs = store.runs(suite)
        groups: dict[tuple[str, str, str], list[Any]] = {}
        for r in runs:
            groups.setdefault((r.suite, r.cell, r.config_hash), []).append(r)
        for (suite_name, cell, _), group in groups.items():
            config = group[0].config
            if (config.get("task") or {}).get("kind") != "recurrent":
                continue
            rows.append(_row(store, suite_name, cell, config, group, k))
    if not rows:
        raise ConfigError(f"{db}: no runs of the recurrent task" + (f" in suite {suite!r}" if suite else ""))
    return rows


def _row(store: ResultsStore, suite: str, cell: str, config: Any, group: list[Any], k: int) -> RecurrentRow:
    task = task_from_config(config)
    spec = spec_from_config(config, task)
    dtype = getattr(torch, str(config.get("dtype", "float32")))
    results = [r.result for r in group]
    trask = {
        split: trask_errors(spec, task, [getattr(r, f"{split}_mse") for r in results], split=split, k=k,
                            dtype=dtype)
        for split in ("interpolation", "extrapolation")
    }
    # the range test at each run's selected step, from its stored parameters
    have = [(r, store.parameters(r.id)) for r in group]
    have = [(r, p) for r, p in have if p is not None]
    range_mse: list[float] = []
    if have:
        models = []
        for r, p in have:
            model = spec.build(r.result.seed, dtype=dtype)
            with torch.no_grad():
                for name, param in model.named_parameters():
                    param.copy_(torch.from_numpy(np.asarray(p.selected[name])))
            models.append(model)
        range_mse = split_mse(stack_modules(models), task, "range_extrapolation",
                              [r.result.seed for r, _ in have], dtype=dtype).tolist()
    thresholds = [r.result.threshold for r, _ in have]
    policy = str(config.get("threshold_policy", task.default_threshold_policy))
    range_task = replace(task, interpolation_range=task.extrapolation_range, extrapolation_length=task.seq_length)
    range_threshold = threshold_estimate(range_task, policy).value
    solved_at = [r.solved_at for r in results if r.solved and r.solved_at is not None]
    return RecurrentRow(
        suite=suite, cell=cell, model=str(config.get("model", cell)), operation=str(config.get("operation")),
        runs=len(results), solved=sum(r.solved for r in results),
        iterations=int(config.get("iterations", 0)), threshold=results[0].threshold,
        median_extrapolation_mse=_median([r.extrapolation_mse for r in results]),
        trask_interpolation=trask["interpolation"].median_normalised,
        trask_extrapolation=trask["extrapolation"].median_normalised,
        baseline_interpolation=trask["interpolation"].baseline.value,
        baseline_extrapolation=trask["extrapolation"].baseline.value,
        baseline_k=k,
        range_solved=sum(m < t for m, t in zip(range_mse, thresholds)),
        range_threshold=range_threshold,
        range_solved_own=sum(m < range_threshold for m in range_mse),
        median_range_mse=_median(range_mse),
        solved_at_median=float(statistics.median(solved_at)) if solved_at else None,
    )


def _num(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.3g}"


def format_markdown(rows: Sequence[RecurrentRow]) -> str:
    """The table of :func:`recurrent_summary` as Markdown."""
    out = [
        "| cell | runs | success [95% CI] | solved at, median | test MSE, median | threshold | "
        "Trask interp. | Trask extrap. | range test: MSE median | range solved (R rule) | "
        "range solved (own threshold) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate, low, high = r.success
        solved_at = "—" if r.solved_at_median is None else f"{r.solved_at_median:,.0f}"
        out.append(
            f"| {r.cell} | {r.runs} | {100 * rate:.0f}% [{100 * low:.0f}, {100 * high:.0f}] | {solved_at} | "
            f"{_num(r.median_extrapolation_mse)} | {_num(r.threshold)} | {_num(r.trask_interpolation)} | "
            f"{_num(r.trask_extrapolation)} | {_num(r.median_range_mse)} | {r.range_solved}/{r.runs} | "
            f"{r.range_solved_own}/{r.runs} (< {_num(r.range_threshold)}) |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nalm.bench.sequence_report --db FILE [--suite S] [--k 100]``: the table as Markdown."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m nalm.bench.sequence_report", description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="a results database written by nalm bench")
    parser.add_argument("--suite", default=None, help="only this suite (e.g. madsen2020_recurrent)")
    parser.add_argument("--k", type=int, default=100, help="untrained networks in Trask's baseline (default 100)")
    args = parser.parse_args(argv)
    try:
        rows = recurrent_summary(args.db, args.suite, k=args.k)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_markdown(rows))
    print(f"\nTrask: 100 · MSE / mean MSE of {args.k} untrained networks of the cell's architecture "
          "(median over runs). Range test: sequences of the training length over the extrapolation "
          "range at the selected step; R rule: below the run's (length-100 test) threshold, as "
          "function_task_recurrent.r counts range.solved; own threshold: the range test's ε-perturbed one.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
