"""Per-cell statistics of stored runs, scored as the papers (and their R scripts) score them.

A *cell* here is one (suite, cell key, config hash): runs of different configs are never pooled, even
under one cell key (e.g. a quick and a full profile of the same suite).

What the report reads from a cell config (all optional):

* ``model``, ``operation`` — labels (strings);
* ``range`` — a range name (string), or a mapping with a ``name``;
* ``published`` — ``{"source", "task", "operation", "model"[, "table"]}``, see :mod:`nalm.published`;
* ``recipe.selection`` — ``"final"`` when runs were scored at their last logged point (the iNALU
  suite). Such a cell is counted as that paper's ``results.py`` counts: a run whose final values are
  NaN (nalm: a diverged or failed run, or a NaN final MSE) is dropped from numerator and denominator,
  and an interpolation success rate (final interpolation MSE under the threshold) is reported too.

What it reads from a run besides its scores: the stored formula outcome (``RunResult.formula``,
written by the benchmark runner from the run's parameters; see :mod:`nalm.formula`), for the rate of
recovered formulas. No torch or sympy: only the stored outcome is read.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nalm.published import (
    PublishedCell,
    PublishedInterval,
    PublishedLookupError,
    published_from_config,
    published_success_interval,
)
from nalm.stats import MeanEstimate, beta_fit_sparsity, gamma_fit_mean, wilson_interval
from nalm.store import StoredRun


@dataclass(frozen=True)
class CellLabels:
    model: str | None
    operation: str | None
    range: str | None


def cell_labels(config: Mapping[str, Any]) -> CellLabels:
    """The model / operation / range labels of a cell config (see the module docstring)."""

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    rng = config.get("range")
    if isinstance(rng, Mapping):
        rng = rng.get("name")
    return CellLabels(text(config.get("model")), text(config.get("operation")), text(rng))


@dataclass(frozen=True)
class CellSummary:
    """Everything the report prints about one cell. Rates are fractions; ``None`` means "not defined"."""

    suite: str
    cell: str
    display_name: str  # the cell key, plus a short config hash where one key has several configs
    config_hash: str
    config: Mapping[str, Any]
    labels: CellLabels
    n_seeds: int
    n_ok: int
    n_diverged: int
    n_failed: int
    successes: int
    success_rate: float
    success_ci: tuple[float, float]
    solved_at_median: float | None  # over successful runs (plain median, as the papers)
    solved_at_mean: float | None  # arithmetic mean over successful runs
    solved_at_fit: MeanEstimate | None  # Gamma-fit mean with profile interval (the papers' method)
    sparsity_error_mean: float | None  # arithmetic mean over successful runs
    sparsity_error_fit: MeanEstimate | None  # Beta-fit μ (the papers' "mean", ≈ half the mean)
    extrapolation_mse_median: float  # over all runs, a NaN (diverged) counting as +inf
    thresholds: tuple[float, ...]  # distinct thresholds of the runs
    threshold_policies: tuple[str, ...]
    seed_iterations_per_second: float | None  # mean over the cell's writes
    wall_time_s: float | None  # summed over the cell's writes
    published: PublishedCell | None
    published_interval: PublishedInterval | None
    published_problem: str | None  # why a configured published reference could not be resolved
    fit_note: str = ""
    run_ids: tuple[int, ...] = field(default=(), repr=False)
    #: Runs whose formula is the task's target (None: no run of the cell was read, e.g. a database
    #: written before parameters were stored), out of ``formula_runs``: the runs that were read plus
    #: the failed ones (which, as for success, count as not recovered).
    formula_recovered: int | None = None
    formula_runs: int = 0
    formula_unread: int = 0  # non-failed runs without an outcome, when others have one
    #: How runs were scored ("best" or "final", see the module docstring). Under "final" the success
    #: rate is over the runs not dropped (``n_seeds − n_dropped``), and the interpolation rate is set.
    selection: str = "best"
    n_dropped: int = 0
    interpolation_successes: int | None = None
    interpolation_runs: int = 0
    published_interpolation_interval: PublishedInterval | None = None
    #: Every run's extrapolation MSE at its scored point (NaN: diverged or failed), in run order.
    extrapolation_mses: tuple[float, ...] = field(default=(), repr=False)
    #: The runs' stored metrics (:attr:`nalm.results.RunResult.metrics`) by name, each a value per
    #: run in run order (NaN for a run without it); empty when no run has any.
    metrics: Mapping[str, tuple[float, ...]] = field(default_factory=dict, repr=False)
    seeds: tuple[int, ...] = field(default=(), repr=False)  # the runs' seeds, in run order

    @property
    def interpolation_rate(self) -> float | None:
        if self.interpolation_successes is None or not self.interpolation_runs:
            return None
        return self.interpolation_successes / self.interpolation_runs

    @property
    def interpolation_ci(self) -> tuple[float, float] | None:
        if self.interpolation_successes is None or not self.interpolation_runs:
            return None
        return wilson_interval(self.interpolation_successes, self.interpolation_runs)

    @property
    def published_interpolation_rate(self) -> float | None:
        return None if self.published is None else self.published.get("interpolation_success_rate")

    @property
    def formula_rate(self) -> float | None:
        if self.formula_recovered is None or not self.formula_runs:
            return None
        return self.formula_recovered / self.formula_runs

    @property
    def formula_ci(self) -> tuple[float, float] | None:
        if self.formula_recovered is None or not self.formula_runs:
            return None
        return wilson_interval(self.formula_recovered, self.formula_runs)

    @property
    def published_rate(self) -> float | None:
        return None if self.published is None else self.published.get("success_rate")

    @property
    def ours_outside_published(self) -> bool | None:
        """Our success rate lies outside the published 95 % interval."""
        if self.published_interval is None:
            return None
        iv = self.published_interval
        return not (iv.low - 1e-12 <= self.success_rate <= iv.high + 1e-12)

    @property
    def published_outside_ours(self) -> bool | None:
        """The published success rate lies outside our 95 % Wilson interval."""
        rate = self.published_rate
        if rate is None:
            return None
        low, high = self.success_ci
        return not (low - 1e-12 <= rate <= high + 1e-12)


def _median_inf(values: Iterable[float]) -> float:
    return float(statistics.median([math.inf if math.isnan(v) else v for v in values]))


def _fit(fn: Any, values: Sequence[float]) -> tuple[MeanEstimate | None, str]:
    if not values:
        return None, ""
    try:
        return fn(values), ""
    except ImportError:  # scipy is a default dependency; a stripped install keeps the plain columns
        return None, "fitted means need scipy (pip install scipy)"


def summarize_cell(
    suite: str, cell: str, runs: Sequence[StoredRun], *, display_name: str | None = None
) -> CellSummary:
    """Statistics of one cell's runs (all with the same config)."""
    if not runs:
        raise ValueError(f"cell {cell!r} of suite {suite!r} has no runs")
    hashes = {r.config_hash for r in runs}
    if len(hashes) != 1:
        raise ValueError(f"cell {cell!r}: runs of {len(hashes)} different configs cannot be pooled")
    config = runs[0].config
    results = [r.result for r in runs]
    n = len(results)
    selection = _selection(config)
    # Under "final" a run with NaN final values has no result (results.py skips its log); else all count.
    scored = [r for r in results if _has_final(r, "extrapolation_mse")] if selection == "final" else results
    interpolation: list[Any] | None = (
        [r for r in results if _has_final(r, "interpolation_mse")] if selection == "final" else None
    )
    successes = sum(1 for r in scored if r.solved)
    solved_at = [float(r.solved_at) for r in scored if r.solved and r.solved_at is not None]
    sparsity = [r.sparsity_error for r in scored if r.solved and math.isfinite(r.sparsity_error)]
    solved_fit, note1 = _fit(gamma_fit_mean, solved_at)
    sparse_fit, note2 = _fit(beta_fit_sparsity, sparsity)

    published = interval = interpolation_interval = None
    problem = None
    ref = config.get("published")
    if isinstance(ref, Mapping):
        try:
            published = published_from_config(ref)
            interval = published_success_interval(published)
            interpolation_interval = (
                None if interpolation is None
                else published_success_interval(published, "interpolation_success_rate")
            )
        except PublishedLookupError as exc:
            problem = str(exc)
    elif ref is not None:
        problem = f"'published' must be a mapping, got {type(ref).__name__}"

    read = [r.formula for r in results if r.formula is not None]
    if read:
        recovered: int | None = sum(1 for f in read if f.recovered)
        formula_runs = len(read) + sum(1 for r in results if r.formula is None and r.status == "failed")
        unread = sum(1 for r in results if r.formula is None and r.status != "failed")
    else:
        recovered, formula_runs, unread = None, 0, 0

    # write_cell repeats a write's wall time / rate on each of its runs; one write = one created_at
    writes = {(r.created_at, r.wall_time_s, r.seed_iterations_per_second) for r in runs}
    walls = [w for _, w, _ in writes if w is not None]
    rates = [s for _, _, s in writes if s is not None]

    return CellSummary(
        suite=suite,
        cell=cell,
        display_name=display_name or cell,
        config_hash=runs[0].config_hash,
        config=config,
        labels=cell_labels(config),
        n_seeds=n,
        n_ok=sum(1 for r in results if r.status == "ok"),
        n_diverged=sum(1 for r in results if r.status == "diverged"),
        n_failed=sum(1 for r in results if r.status == "failed"),
        successes=successes,
        success_rate=successes / len(scored) if scored else math.nan,
        success_ci=wilson_interval(successes, len(scored)) if scored else (0.0, 1.0),
        solved_at_median=float(statistics.median(solved_at)) if solved_at else None,
        solved_at_mean=statistics.fmean(solved_at) if solved_at else None,
        solved_at_fit=solved_fit,
        sparsity_error_mean=statistics.fmean(sparsity) if sparsity else None,
        sparsity_error_fit=sparse_fit,
        extrapolation_mse_median=_median_inf(r.extrapolation_mse for r in results),
        extrapolation_mses=tuple(float(r.extrapolation_mse) for r in results),
        thresholds=tuple(sorted({r.threshold for r in results})),
        threshold_policies=tuple(sorted({r.threshold_policy for r in runs})),
        seed_iterations_per_second=statistics.fmean(rates) if rates else None,
        wall_time_s=sum(walls) if walls else None,
        published=published,
        published_interval=interval,
        published_problem=problem,
        fit_note=note1 or note2,
        run_ids=tuple(r.id for r in runs),
        formula_recovered=recovered,
        formula_runs=formula_runs,
        formula_unread=unread,
        selection=selection,
        n_dropped=n - len(scored),
        interpolation_successes=(
            None if interpolation is None
            else sum(1 for r in interpolation if r.interpolation_mse < r.threshold)
        ),
        interpolation_runs=0 if interpolation is None else len(interpolation),
        published_interpolation_interval=interpolation_interval,
        metrics=_metrics(results),
        seeds=tuple(int(r.seed) for r in results),
    )


def _metrics(results: Sequence[Any]) -> dict[str, tuple[float, ...]]:
    names = list(dict.fromkeys(name for r in results for name in r.metrics))
    return {name: tuple(float(r.metrics.get(name, math.nan)) for r in results) for name in names}


def _selection(config: Mapping[str, Any]) -> str:
    recipe = config.get("recipe")
    value = recipe.get("selection") if isinstance(recipe, Mapping) else None
    return value if value in ("best", "final") else "best"


def _has_final(result: Any, field: str) -> bool:
    """A run with a final value of ``field`` (the iNALU results.py keeps a log whose last line has no
    NaN; a diverged nalm run stopped logging, a failed one has none). +inf is kept: it fails."""
    return result.status == "ok" and not math.isnan(getattr(result, field))


def summarize(runs: Iterable[StoredRun]) -> list[CellSummary]:
    """Group runs by (suite, cell, config hash) — first-seen order — and summarise each group."""
    groups: dict[tuple[str, str, str], list[StoredRun]] = {}
    for r in runs:
        groups.setdefault((r.suite, r.cell, r.config_hash), []).append(r)
    configs_per_cell: dict[tuple[str, str], int] = {}
    for suite, cell, _ in groups:
        configs_per_cell[(suite, cell)] = configs_per_cell.get((suite, cell), 0) + 1
    out = []
    for (suite, cell, h), group in groups.items():
        name = cell if configs_per_cell[(suite, cell)] == 1 else f"{cell} [{h[:8]}]"
        out.append(summarize_cell(suite, cell, group, display_name=name))
    return out
