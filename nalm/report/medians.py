"""Median and MAD over runs beside a published median and MAD (Heim et al. 2020, the NPU paper).

The NPU paper publishes errors, not success rates: per model and task the median and the median
absolute deviation (MAD) over runs.

* **Large-scale task** (cells whose published numbers are ``test_mse_median`` / ``test_mse_mad``):
  ``revalidate.jl`` keeps, per model and operation, the :data:`BEST_OF` runs with the lowest test
  MSE and takes their median and MAD. Ours: each stored run's extrapolation MSE (the test MSE of
  its final model), a NaN (diverged run) counted as +inf and so sorted last, the best
  ``min(10, runs)`` kept.
* **Simple task** (``npu_simple`` cells scored at their final point): per output the paper's
  statistic — each run's final model's mean absolute error on the paper's grids, measured after
  training and stored with the run (metrics ``paper_mae_<output>``,
  :func:`nalm.training.evaluation.npu_paper_errors`) — median and MAD over all runs (a failed run,
  without a value, counts as +inf), beside Table A2 (``test_error_median`` / ``test_error_mad``).
  Cells written before schema 3 have no such metrics and show no rows.

The check is ✓ when the two intervals median ± MAD (ours, published) overlap, else ⚠ with a reason
read from the config: a cut (fewer updates than the protocol's, fewer runs than the paper's) or,
with nothing cut, a disagreement.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nalm.report.summary import CellSummary

#: revalidate.jl keeps this many runs per model and task.
BEST_OF = 10
LARGE_METRICS = ("test_mse_median", "test_mse_mad")
SIMPLE_METRICS = ("test_error_median", "test_error_mad")
#: The published table of the simple task (the CSV's source and task).
SIMPLE_SOURCE = ("heim2020", "npu-simple-2in-4out")
SIMPLE_OUTPUTS = ("add", "mul", "div", "root")


def median_mad(values: Sequence[float]) -> tuple[float, float]:
    """Median and median absolute deviation (``median(|x − median(x)|)``, unscaled, as
    revalidate.jl's ``mad``). NaN counts as +inf; an infinite median gives an infinite MAD."""
    xs = [math.inf if math.isnan(v) else float(v) for v in values]
    if not xs:
        return math.nan, math.nan
    med = statistics.median(xs)
    if math.isinf(med):
        return med, math.inf
    return med, statistics.median(abs(x - med) if not math.isinf(x) else math.inf for x in xs)


def best_of(values: Sequence[float], k: int = BEST_OF) -> list[float]:
    """The ``k`` lowest values (NaN as +inf, sorted last), as revalidate.jl keeps the best runs."""
    xs = [math.inf if math.isnan(v) else float(v) for v in values]
    return sorted(xs)[:k]


@dataclass(frozen=True)
class MedianRow:
    suite: str
    block: str | None
    model: str | None
    operation: str
    runs: int  # runs trained
    kept: int  # runs the median is over
    median: float
    mad: float
    iterations: int | None
    protocol_iterations: int | None
    published_median: float | None
    published_mad: float | None
    published_runs: int | None
    statistic: str  # "test MSE, best k" or "mean |error|"

    @property
    def overlaps(self) -> bool | None:
        if self.published_median is None or self.published_mad is None:
            return None
        if not (math.isfinite(self.median) and math.isfinite(self.mad)):
            return False
        return abs(self.median - self.published_median) <= self.mad + self.published_mad + 1e-15

    def reason(self) -> str:
        cuts = []
        if self.protocol_iterations and self.iterations and self.iterations < self.protocol_iterations:
            cuts.append(f"{self.iterations:,} of {self.protocol_iterations:,} updates")
        if self.published_runs and self.runs < self.published_runs:
            cuts.append(f"{self.runs} of {self.published_runs} runs")
        if cuts:
            return "cut: " + ", ".join(cuts)
        return "disagreement at the protocol (see docs/heim2020.md)"

    def check(self) -> str:
        ok = self.overlaps
        if ok is None:
            return "—"
        return "✓" if ok else f"⚠ {self.reason()}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _published_runs(c: CellSummary, op: str | None = None) -> int | None:
    if c.published is not None:
        return c.published.n_seeds or None
    return None


def _large_row(c: CellSummary) -> MedianRow | None:
    pub = c.published
    if pub is None or pub.get(LARGE_METRICS[0]) is None:
        return None
    kept = best_of(c.extrapolation_mses)
    med, mad = median_mad(kept)
    block = c.config.get("block")
    return MedianRow(
        suite=c.suite, block=block if isinstance(block, str) else None, model=c.labels.model,
        operation=c.labels.operation or "—", runs=len(c.extrapolation_mses), kept=len(kept),
        median=med, mad=mad, iterations=_int(c.config.get("iterations")),
        protocol_iterations=_int(c.config.get("protocol_iterations")),
        published_median=pub.get(LARGE_METRICS[0]), published_mad=pub.get(LARGE_METRICS[1]),
        # the mul script trains 20 runs at HEAD, its published 10 are the best of them
        published_runs=20 if c.labels.operation == "mul" else (pub.n_seeds or None),
        statistic=f"test MSE, best {len(kept)} of {len(c.extrapolation_mses)}",
    )


def _published_simple(model: str | None, output: str) -> tuple[float | None, float | None, int | None]:
    from nalm.published import PublishedLookupError, published_entry

    if model is None:
        return None, None, None
    try:
        e = published_entry(SIMPLE_SOURCE[0], SIMPLE_SOURCE[1], output, model.replace(" ", ""))
    except PublishedLookupError:
        return None, None, None
    return e.get(SIMPLE_METRICS[0]), e.get(SIMPLE_METRICS[1]), e.n_seeds or None


def _simple_rows(c: CellSummary) -> list[MedianRow]:
    task = c.config.get("task")
    if not (isinstance(task, Mapping) and task.get("kind") == "npu_simple" and _scored_final(c.config)):
        return []
    if not any(f"paper_mae_{output}" in c.metrics for output in SIMPLE_OUTPUTS):
        return []  # written before the statistic was stored with the runs (schema 3)
    rows = []
    block = c.config.get("block")
    for output in SIMPLE_OUTPUTS:
        values = c.metrics.get(f"paper_mae_{output}", (math.nan,) * c.n_seeds)
        med, mad = median_mad(values)
        pm, pd, pn = _published_simple(c.labels.model, output)
        rows.append(MedianRow(
            suite=c.suite, block=block if isinstance(block, str) else None, model=c.labels.model,
            operation=output, runs=len(values), kept=len(values), median=med, mad=mad,
            iterations=_int(c.config.get("iterations")),
            protocol_iterations=_int(c.config.get("protocol_iterations")),
            published_median=pm, published_mad=pd, published_runs=pn,
            statistic=f"mean |error|, {len(values)} runs",
        ))
    return rows


def median_rows(cells: Sequence[CellSummary]) -> list[MedianRow]:
    """The rows of one suite's cells (cell order; none when no cell has such published numbers)."""
    out: list[MedianRow] = []
    for c in cells:
        row = _large_row(c)
        if row is not None:
            out.append(row)
        out.extend(_simple_rows(c))
    return out


def _scored_final(config: Mapping[str, Any]) -> bool:
    recipe = config.get("recipe")
    return isinstance(recipe, Mapping) and recipe.get("selection") == "final"


HEADERS = ("block", "model", "op", "statistic", "ours: median ± MAD", "published: median ± MAD", "check")


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "inf"
    return f"{x:.3g}"


def rows(medians: Sequence[MedianRow]) -> list[tuple[str, ...]]:
    out = []
    for m in medians:
        pub = "—" if m.published_median is None else f"{_num(m.published_median)} ± {_num(m.published_mad)}"
        out.append((m.block or "—", m.model or "—", m.operation, m.statistic,
                    f"{_num(m.median)} ± {_num(m.mad)}", pub, m.check()))
    return out
