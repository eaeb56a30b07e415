"""Sequential MNIST: success per test length against thresholds from the suite's reference cell
(Madsen & Johansen 2020; stable-nalu ``export/sequential_mnist_{sum,prod}_long.r``).

Every run of the task stores its test MSE at each test length, at its selected step (run metrics
``test_mse_len_<L>``, :func:`nalm.training.sequential_mnist.mse_by_test_length`). Here, per suite
and block:

* :func:`reference_thresholds` — per length, ``mean + qt(1 − α, df)·sd/√n`` over the runs of the
  block's reference cell (the solved accumulator, ``network = { accumulator = "solved" }``: only
  the CNN learns), α = 0.01 and df = 8 as both R scripts hard-code it (whatever the number of
  reference seeds; ``df=None`` takes n − 1) — as the R scripts read ``sequential_mnist_*_reference.csv``;
* :func:`success_by_length` — a run succeeds at length L when its test MSE there is strictly below
  the threshold (``solved = test.extrapolation.mse[best.model.step] < threshold``).

``nalm report`` shows one table per block with the scripts' choices; ``python -m
nalm.report.sequential_mnist --db FILE [--suite S] [--reference-seeds 0,2,4,5,6,7,9] [--df n-1]``
prints the same with the product script's hand-picked reference seeds ("seed 1, 3, and 8 did not
solve it": a choice made on its own runs) or n − 1 degrees of freedom instead of the hard-coded 8.
No torch here: the numbers are read from the store.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nalm.errors import ConfigError
from nalm.report.summary import CellSummary, summarize
from nalm.results import SEQUENTIAL_MNIST_MSE_PREFIX as METRIC_PREFIX
from nalm.store import ResultsStore

__all__ = ["ALPHA", "DF", "BlockTable", "LengthSuccess", "block_tables", "lengths_of", "reference_thresholds",
           "caption", "main", "side_tables", "success_by_length", "table_rows"]

#: The R scripts' one-sided level and their hard-coded degrees of freedom.
ALPHA = 0.01
DF = 8


def lengths_of(metrics: Iterable[str]) -> list[int]:
    """The test lengths of stored metric names (``test_mse_len_<L>``), ascending."""
    return sorted(int(name[len(METRIC_PREFIX):]) for name in metrics
                  if name.startswith(METRIC_PREFIX) and name[len(METRIC_PREFIX):].isdigit())


def reference_thresholds(mse: Mapping[int, Sequence[float]], *, alpha: float = ALPHA,
                         df: int | None = DF) -> dict[int, float]:
    """Per length, ``mean + qt(1 − alpha, df)·sd/√n`` of the reference runs' test MSEs (non-finite
    values left out; R's ``sd``, n − 1 in the denominator). ``df=None``: n − 1. NaN with fewer than
    two values (R: ``sd`` of one value is NA)."""
    from scipy import stats as st

    out = {}
    for length, values in mse.items():
        x = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
        n = len(x)
        if n < 2:
            out[int(length)] = math.nan
            continue
        q = float(st.t.ppf(1 - alpha, n - 1 if df is None else df))
        out[int(length)] = float(x.mean() + q * x.std(ddof=1) / math.sqrt(n))
    return out


@dataclass(frozen=True)
class LengthSuccess:
    """One cell at one test length: how many runs are below the threshold, of how many."""

    length: int
    threshold: float
    solved: int
    runs: int
    mse_median: float


def success_by_length(mse: Mapping[int, Sequence[float]], thresholds: Mapping[int, float]) -> list[LengthSuccess]:
    """Per length (ascending), the runs whose MSE is strictly below the length's threshold (a run
    with no value, or a NaN threshold, does not succeed — as R's ``replace_na(..., FALSE)``)."""
    out = []
    for length in sorted(mse):
        values = [float(v) for v in mse[length]]
        threshold = float(thresholds.get(length, math.nan))
        solved = sum(1 for v in values if math.isfinite(v) and v < threshold)
        finite = [v for v in values if not math.isnan(v)]
        out.append(LengthSuccess(length, threshold, solved, len(values),
                                 float(np.median(finite)) if finite else math.nan))
    return out


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
    network = config.get("network")  # the stored SequentialMnistSpec.network()
    return isinstance(network, dict) and network.get("accumulator") == "solved"


def _per_length(metrics: Any, seeds: Sequence[int], keep: set[int] | None) -> dict[int, list[float]]:
    return {length: [v for v, s in zip(metrics[f"{METRIC_PREFIX}{length}"], seeds) if keep is None or s in keep]
            for length in lengths_of(metrics)}


def block_tables(cells: Sequence[CellSummary], *, reference_seeds: set[int] | None = None, df: int | None = DF,
                 alpha: float = ALPHA) -> list[BlockTable]:
    """Tables from cell summaries (their seeds and metrics per run): the sequential MNIST cells,
    grouped by suite and block, in first-seen order."""
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


def caption(t: BlockTable, df: int | None = DF) -> str:
    q = f"qt(0.99, {'n − 1' if df is None else df})"
    ref = (f"thresholds from the reference cell {t.reference} ({t.reference_runs} runs; mean + {q}·sd/√n)"
           if t.reference else "no reference cell stored: no thresholds")
    return f"Sequential MNIST, block {t.block}: runs below the threshold per test length (median test MSE); {ref}:"


def table_rows(t: BlockTable) -> tuple[list[str], list[tuple[str, ...]]]:
    """One block as (headers, rows): a row per test length, the threshold and each cell's successes."""
    names = list(t.cells)
    rows = []
    for length in sorted({s.length for v in t.cells.values() for s in v}):
        row = [str(length), _num(t.thresholds.get(length, math.nan))]
        for name in names:
            hit = next((s for s in t.cells[name] if s.length == length), None)
            row.append("—" if hit is None else f"{hit.solved}/{hit.runs} ({_num(hit.mse_median)})")
        rows.append(tuple(row))
    return ["length", "threshold", *names], rows


def side_tables(cells: Sequence[CellSummary]) -> list[tuple[str, list[str], list[tuple[str, ...]]]]:
    """The report's tables (caption, headers, rows), one per block, with the scripts' choices."""
    out = []
    for t in block_tables(cells):
        headers, rows = table_rows(t)
        out.append((caption(t), headers, rows))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nalm.report.sequential_mnist",
                                     description="Sequential MNIST success per test length, with the R scripts' other choices.")
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
    for t in tables:
        headers, rows = table_rows(t)
        print(f"### {t.suite} / {t.block}\n\n{caption(t, df)}\n")
        print("| " + " | ".join(headers) + " |")
        print("|" + "---|" * len(headers))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print()
    return 0


def _cells(db: Path, suite: str | None) -> list[CellSummary]:
    if not db.is_file():
        raise ConfigError(f"{db}: no such database")
    with ResultsStore(db, readonly=True) as store:
        return summarize(store.runs(suite))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
