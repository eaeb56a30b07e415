"""The published numbers shipped with nalm (``nalm/data/published_results.csv``), typed and looked up.

One CSV row is one number read from a paper's source file (see docs): ``source, table, task,
operation, model, metric, value, n_seeds, where``. Nothing here computes a published number; the only
derived quantity is :func:`published_success_interval`, which re-applies the papers' own Wilson formula
to the published ``k/n`` (and says so).

Torch-free: the report imports this module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from nalm.errors import ConfigError
from nalm.stats import wilson_interval

_FULL_PRECISION_SUFFIX = " (full precision)"


class PublishedLookupError(ConfigError):
    """A ``published`` reference names no published cell, or one that two tables disagree on."""


@dataclass(frozen=True)
class PublishedRow:
    source: str
    table: str
    task: str
    operation: str
    model: str
    metric: str
    value: float
    n_seeds: int | None
    where: str  # "owner/repo:path" of the file the number was read from


@dataclass(frozen=True)
class PublishedCell:
    """All published metrics of one (source, task, operation, model), merged over agreeing tables."""

    source: str
    task: str
    operation: str
    model: str
    metrics: Mapping[str, float]
    n_seeds: int | None
    tables: tuple[str, ...]  # tables the values were taken from, in CSV order
    where: tuple[str, ...]  # citations ("owner/repo:path") of those tables
    metric_table: Mapping[str, str] = field(default_factory=dict)  # metric -> table it came from

    def get(self, metric: str) -> float | None:
        return self.metrics.get(metric)

    @property
    def citation(self) -> str:
        return f"{self.source}, {' + '.join(self.tables)} ({'; '.join(self.where)})"


def _parse_rows(text: str) -> tuple[PublishedRow, ...]:
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        n = raw["n_seeds"].strip()
        rows.append(
            PublishedRow(
                source=raw["source"],
                table=raw["table"],
                task=raw["task"],
                operation=raw["operation"],
                model=raw["model"],
                metric=raw["metric"],
                value=float(raw["value"]),
                n_seeds=int(n) if n else None,
                where=raw["where"],
            )
        )
    return tuple(rows)


@lru_cache(maxsize=1)
def published_rows() -> tuple[PublishedRow, ...]:
    """Every row of the packaged CSV, in file order."""
    text = resources.files("nalm").joinpath("data/published_results.csv").read_text(encoding="utf-8")
    return _parse_rows(text)


def _base_table(table: str) -> str:
    return table[: -len(_FULL_PRECISION_SUFFIX)] if table.endswith(_FULL_PRECISION_SUFFIX) else table


def published_entry(
    source: str, task: str, operation: str, model: str, *, table: str | None = None
) -> PublishedCell:
    """The published metrics of one cell.

    ``table=None`` merges every table that prints the cell, taking a metric from the
    ``"<table> (full precision)"`` variant where present (exact values instead of rounded ones). Tables
    that print *different* experiments under one name (e.g. "Gated NAU/NMU" in ``appendix-all`` versus
    ``gating``) disagree; that is an error asking for ``table=``, never a silent pick.
    ``table="appendix-all"`` also takes its full-precision variant; name the variant to get only it.
    """
    key = (source, task, operation, model)
    rows = [r for r in published_rows() if (r.source, r.task, r.operation, r.model) == key]
    if table is not None:
        rows = [r for r in rows if r.table == table or _base_table(r.table) == table]
    if not rows:
        in_table = f" in table {table!r}" if table is not None else ""
        raise PublishedLookupError(
            f"no published numbers for source={source!r} task={task!r} operation={operation!r} "
            f"model={model!r}{in_table}"
        )

    by_metric: dict[str, list[PublishedRow]] = {}
    for r in rows:
        by_metric.setdefault(r.metric, []).append(r)

    metrics: dict[str, float] = {}
    metric_table: dict[str, str] = {}
    for metric, candidates in by_metric.items():
        precise = [r for r in candidates if r.table.endswith(_FULL_PRECISION_SUFFIX)]
        rounded = [r for r in candidates if not r.table.endswith(_FULL_PRECISION_SUFFIX)]
        # printed tables must agree with each other, full-precision ones with each other; a printed
        # value is the rounding of its full-precision twin, so the two kinds are not compared
        for group in (rounded, precise):
            if len({r.value for r in group}) > 1:
                tables = sorted({r.table for r in group})
                raise PublishedLookupError(
                    f"published tables {tables} disagree on {metric} for {source} {task} {operation} "
                    f"{model}; name one with table="
                )
        pick = precise[0] if precise else rounded[0]
        metrics[metric] = pick.value
        metric_table[metric] = pick.table

    used_tables = [t for t in dict.fromkeys(r.table for r in rows) if t in metric_table.values()]
    where = tuple(dict.fromkeys(r.where for r in rows if r.table in used_tables))
    n_values = {r.n_seeds for r in rows if r.n_seeds is not None}
    n_seeds = n_values.pop() if len(n_values) == 1 else None
    return PublishedCell(
        source=source,
        task=task,
        operation=operation,
        model=model,
        metrics=metrics,
        n_seeds=n_seeds,
        tables=tuple(used_tables),
        where=where,
        metric_table=metric_table,
    )


def published_cell(
    source: str, task: str, operation: str, model: str, *, table: str | None = None
) -> dict[str, float]:
    """``metric -> value`` of one published cell (see :func:`published_entry` for the merge rule)."""
    return dict(published_entry(source, task, operation, model, table=table).metrics)


def published_from_config(ref: Mapping[str, object]) -> PublishedCell:
    """Resolve a cell config's ``"published"`` mapping (source, task, operation, model[, table])."""
    required = ("source", "task", "operation", "model")
    missing = [k for k in required if not isinstance(ref.get(k), str)]
    if missing:
        raise PublishedLookupError(f"published reference lacks string field(s) {missing}: {dict(ref)}")
    unknown = sorted(set(ref) - {*required, "table"})
    if unknown:
        raise PublishedLookupError(f"published reference has unknown field(s) {unknown}")
    table = ref.get("table")
    if table is not None and not isinstance(table, str):
        raise PublishedLookupError(f"published reference field 'table' must be a string, got {table!r}")
    return published_entry(
        str(ref["source"]), str(ref["task"]), str(ref["operation"]), str(ref["model"]), table=table
    )


@dataclass(frozen=True)
class PublishedInterval:
    low: float
    high: float
    method: str  # how it was obtained; shown in reports


def published_success_interval(cell: PublishedCell, metric: str = "success_rate") -> PublishedInterval | None:
    """The published 95 % interval of the success rate, as exactly as the sources allow.

    In order: the exact Wilson bounds of a full-precision table; the Wilson interval of ``k/n`` when the
    printed rate pins ``k`` down (percentages of 100 seeds do); the printed ``rate ± offsets``.
    ``metric``: another rate of the cell (``"interpolation_success_rate"``), from its ``k/n`` only.
    """
    rate = cell.get(metric)
    if rate is None:
        return None
    if metric != "success_rate":
        low = high = None  # intervals and offsets are published for success_rate only
    else:
        low, high = cell.get("success_ci_low"), cell.get("success_ci_high")
    if low is not None and high is not None:
        return PublishedInterval(low, high, "published Wilson bounds")
    n = cell.n_seeds
    if n:
        k = round(rate * n)
        # the printed rate is rounded to a whole percent; k is only known if that pins it down
        if abs(k / n - rate) <= 0.005 + 1e-12 and all(
            abs(j / n - rate) > 0.005 + 1e-12 for j in (k - 1, k + 1)
        ):
            lo, hi = wilson_interval(k, n)
            return PublishedInterval(lo, hi, f"Wilson interval of {k}/{n}")
    plus, minus = cell.get("success_ci_plus"), cell.get("success_ci_minus")
    if metric == "success_rate" and plus is not None and minus is not None:
        return PublishedInterval(
            max(0.0, rate - minus), min(1.0, rate + plus), "printed offsets (rounded)"
        )
    return None


def published_threshold(task: str, operation: str, source: str = "madsen2020") -> float:
    """Extrapolation-MSE success threshold the published R pipeline used (Madsen & Johansen 2020's R scripts)."""
    for r in published_rows():
        if (
            r.source == source
            and r.task == task
            and r.operation == operation
            and r.metric == "success_threshold_extrapolation_mse"
        ):
            return r.value
    raise PublishedLookupError(f"no published threshold for {source} {task} {operation}")
