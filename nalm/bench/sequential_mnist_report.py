"""Sequential MNIST success per test length, from a results database (``python -m
nalm.bench.sequential_mnist_report --db FILE``).

The thresholds are read from the reference cell's stored runs — the cell of the same suite and block
whose model is the solved accumulator (``options = [{ accumulator = "solved" }]``) — as stable-nalu's
``export/sequential_mnist_{sum,prod}_long.r`` reads ``sequential_mnist_*_reference.csv``: per length,
``mean + qt(0.99, 8)·sd/√n`` of the reference runs' test MSEs at their selected steps
(:func:`nalm.training.sequential_mnist.reference_thresholds`). Every cell's runs are then counted per
length (:func:`~nalm.training.sequential_mnist.success_by_length`). The numbers come from the run
metrics ``test_mse_len_<L>`` every run of the task stores; no network is rebuilt (no torch).

``--reference-seeds 0,2,4,5,6,7,9`` keeps only those reference seeds (the product script's filter,
"seed 1, 3, and 8 did not solve it": a choice made on its own runs); ``--df n-1`` uses n − 1 degrees
of freedom instead of the scripts' hard-coded 8.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nalm.errors import ConfigError
from nalm.training.sequential_mnist import (
    ALPHA,
    DF,
    METRIC_PREFIX,
    LengthSuccess,
    lengths_of,
    reference_thresholds,
    success_by_length,
)

__all__ = ["BlockTable", "StoredCell", "block_tables", "main"]


@dataclass(frozen=True)
class BlockTable:
    """One block (e.g. ``prod``) of a suite: its reference cell, the thresholds per length, and each
    cell's successes per length."""

    suite: str
    block: str
    reference: str | None  # the reference cell's name (None: the block has none stored)
    reference_runs: int
    thresholds: dict[int, float]
    cells: dict[str, list[LengthSuccess]]  # cell display name -> per length


def _is_reference(config: Any) -> bool:
    options = config.get("options") or [{}]
    return isinstance(options[0], dict) and options[0].get("accumulator") == "solved"


def _per_length(metrics: Any, seeds: Sequence[int], keep: set[int] | None) -> dict[int, list[float]]:
    return {length: [v for v, s in zip(metrics[f"{METRIC_PREFIX}{length}"], seeds) if keep is None or s in keep]
            for length in lengths_of(metrics)}


def block_tables(cells: Sequence[Any], *, reference_seeds: set[int] | None = None, df: int | None = DF,
                 alpha: float = ALPHA) -> list[BlockTable]:
    """Tables from stored cells (:class:`StoredCell`: suite, display name, config, seeds and metrics
    per run): the sequential MNIST cells, grouped by suite and block, in first-seen order."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for c in cells:
        task = c.config.get("task") or {}
        if task.get("kind") == "sequential_mnist":
            groups.setdefault((c.suite, str(c.config.get("block"))), []).append(c)
    out = []
    for (suite, block), members in groups.items():
        reference = next((c for c in members if _is_reference(c.config)), None)
        thresholds: dict[int, float] = {}
        n_ref = 0
        if reference is not None:
            seeds = _seeds(reference)
            mse = _per_length(reference.metrics, seeds, reference_seeds)
            thresholds = reference_thresholds(mse, alpha=alpha, df=df)
            n_ref = max((len(v) for v in mse.values()), default=0)
        table = {c.display_name: success_by_length(_per_length(c.metrics, _seeds(c), None), thresholds)
                 for c in members}
        out.append(BlockTable(suite, block, None if reference is None else reference.display_name, n_ref,
                              thresholds, table))
    return out


def _seeds(cell: Any) -> list[int]:
    return [int(s) for s in cell.seeds]


def _num(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.4g}"


def markdown(tables: Sequence[BlockTable]) -> str:
    """Each block as a table: one row per test length, the threshold and each cell's successes."""
    parts = []
    for t in tables:
        names = list(t.cells)
        ref = (f"reference: {t.reference}, {t.reference_runs} runs" if t.reference
               else "no reference cell stored: no thresholds")
        parts.append(f"### {t.suite} / {t.block} ({ref})\n")
        parts.append("| length | threshold | " + " | ".join(names) + " |")
        parts.append("|---" * (2 + len(names)) + "|")
        lengths = sorted({s.length for v in t.cells.values() for s in v})
        for length in lengths:
            row = [str(length), _num(t.thresholds.get(length, math.nan))]
            for name in names:
                hit = next((s for s in t.cells[name] if s.length == length), None)
                row.append("—" if hit is None else f"{hit.solved}/{hit.runs} (MSE {_num(hit.mse_median)})")
            parts.append("| " + " | ".join(row) + " |")
        parts.append("")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nalm.bench.sequential_mnist_report",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, type=Path, help="the results database (nalm bench --db)")
    parser.add_argument("--suite", default=None, help="only this store suite")
    parser.add_argument("--reference-seeds", default=None,
                        help="comma-separated reference seeds to keep (default: all)")
    parser.add_argument("--df", default=str(DF), help="degrees of freedom of qt: a number, or n-1 (default 8)")
    args = parser.parse_args(argv)
    try:
        keep = None if args.reference_seeds is None else {int(s) for s in args.reference_seeds.split(",") if s}
        df = None if args.df == "n-1" else int(args.df)
        if df is not None and df < 1:
            raise ValueError(args.df)
    except ValueError:
        print("nalm: error: --reference-seeds: integers separated by commas; --df: a positive integer "
              "or n-1", file=sys.stderr)
        return 2
    try:
        tables = block_tables(_cells(args.db, args.suite), reference_seeds=keep, df=df)
    except ConfigError as exc:
        print(f"nalm: error: {exc}", file=sys.stderr)
        return 2
    if not tables:
        print(f"nalm: error: {args.db}: no sequential MNIST cells", file=sys.stderr)
        return 2
    print(markdown(tables))
    return 0


@dataclass(frozen=True)
class StoredCell:
    """What the tables read of one stored cell: its runs' seeds and metrics, in run order."""

    suite: str
    display_name: str
    config: Any
    seeds: list[int]
    metrics: dict[str, tuple[float, ...]]


def _cells(db: Path, suite: str | None) -> list[StoredCell]:
    from nalm.store import ResultsStore

    if not db.is_file():
        raise ConfigError(f"{db}: no such database")
    with ResultsStore(db, readonly=True) as store:
        runs = store.runs(suite)
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for r in runs:
        groups.setdefault((r.suite, r.cell, r.config_hash), []).append(r)
    per_cell: dict[tuple[str, str], int] = {}
    for suite_name, cell, _ in groups:
        per_cell[(suite_name, cell)] = per_cell.get((suite_name, cell), 0) + 1
    out = []
    for (suite_name, cell, h), group in groups.items():
        names = list(dict.fromkeys(n for r in group for n in r.result.metrics))
        out.append(StoredCell(
            suite=suite_name,
            display_name=cell if per_cell[(suite_name, cell)] == 1 else f"{cell} [{h[:8]}]",
            config=group[0].config,
            seeds=[int(r.result.seed) for r in group],
            metrics={n: tuple(float(r.result.metrics.get(n, math.nan)) for r in group) for n in names},
        ))
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
