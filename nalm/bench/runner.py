"""Run planned cells into a results store: skip what is stored, train the rest, write cell by cell.

Guarantees (with :class:`nalm.store.ResultsStore`):

* **Resume.** A cell's stored seeds are skipped; only the missing ones are trained, in one batched
  ``train()`` call. Results are a deterministic function of (config, seeds trained together) —
  counter-based data, seeded initialisation — and a cell is written whole, so a suite resumed after
  a kill stores what an uninterrupted one would, bit for bit. A cell trained in parts (seeds added
  to a profile later) agrees with a cell trained at once to rounding only: on the CPU, Adam's fused
  kernel and ``torch.sigmoid`` round a tensor's last few elements (a SIMD tail) differently, so a
  run's last bits depend on its position in the batch — unless the process runs with
  ``NALM_BATCH_INVARIANT=1`` (:data:`nalm.units._base.CPU_BATCH_INVARIANT`: bit for bit, 4–30 %
  slower per step).
* **A kill loses at most the cell in flight.** A cell's runs under all its threshold policies (with
  ``group_runs``, every cell trained in the same batch) are written in one transaction after the
  training ends; nothing is written mid-cell.
* **A failing cell does not stop the suite.** An exception while training a cell records its seeds
  as ``failed`` runs (the error is printed) and the suite goes on. A failed run counts as finished:
  a rerun does not retry it (delete its rows to retry).
* **Cells of one shape may share a batch** (``group_runs``): cells with the same network, recipe,
  dtype and iterations (e.g. one model on + and −, or on several ranges) are trained together by
  :func:`nalm.training.train_groups`, up to ``group_runs`` runs per batch, and still written cell by
  cell. Fewer, larger batches pay where per-step overhead dominates (a GPU; a few seeds per cell).
  A run's last bits depend on which runs share its batch, so the batches are *canonical*: formed
  over the whole plan (``plan``: the profile's cells before any ``--only`` filter), every cell with
  all its seeds. A selection or a resume trains each needed batch whole — cells outside the
  selection, or already stored, train beside it and are not written — so every command stores, for
  a cell, the bits the whole suite stores. Off by default here (None: every cell alone, its missing
  seeds only); the CLI turns it on (:mod:`nalm.cli.bench`).
* **Parameters and formulas are stored with the runs.** Each run's parameters at its selected step and
  at the end (:class:`~nalm.results.RunParameters`, from the trainer) and what the formula read-out
  (:func:`nalm.formula.explain_output`) says of the selected ones (:class:`~nalm.results.RunFormula`:
  outcome and formula) are written with the run, so ``nalm report`` can show the rate of recovered
  formulas without torch, and ``nalm explain`` can read any stored run again. The read-out runs after
  the training and is not part of its timing; should it fail, the runs are stored without it (a
  warning on stderr) rather than lost.
* **Measurements a task asks for are stored too.** A task may name metrics measured after training
  (``run_metrics``: e.g. the NPU paper's per-output errors, Trask's normalised error); they are
  computed from the trained runs (:func:`nalm.training.evaluation.run_metrics`) and stored with each
  run (:attr:`~nalm.results.RunResult.metrics`). Like the read-out, outside the timing; a failure
  costs a warning, not the runs.
* **Several threshold policies, one training.** A suite may score its runs under more policies
  (``also_score``): the same runs are scored again from their learning curves (selection does not
  depend on the threshold; success and solved-at do) and stored as separate cells whose config
  differs only in ``threshold_policy``, under the store suite ``<suite>@<policy>``.

:func:`train_and_score` and :func:`summarize_runs` are also what ``nalm train`` uses for its one cell.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from tqdm import tqdm

import nalm.training as training
from nalm.errors import ConfigError
from nalm.formula.api import explain_output
from nalm.metrics import SELECTION_WINDOW, ThresholdEstimate, score_curves, threshold_estimate
from nalm.results import LearningCurve, RunResult
from nalm.stats import wilson_interval
from nalm.store import ResultsStore
from nalm.tasks import Task
from nalm.training import ModelSpec, RunGroup, TrainOutput, TrainRecipe, train
from nalm.training.evaluation import run_metrics
from nalm.training.trainer import cuda_graph_unsupported

from .plan import Cell

# --------------------------------------------------------------------------------------------------
# one cell (shared with `nalm train`)
# --------------------------------------------------------------------------------------------------


def train_and_score(
    spec: ModelSpec,
    task: Task,
    seeds: Sequence[int],
    recipe: TrainRecipe,
    *,
    threshold: float | None = None,
    threshold_policy: str | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | str = "float32",
    progress: Callable[[int], None] | None = None,
    compile: bool | str = False,
    cuda_graph: bool = False,
) -> tuple[TrainOutput, ThresholdEstimate | None]:
    """Train ``seeds`` of one cell at once; returns ``(TrainOutput, ThresholdEstimate | None)``.

    The success threshold is ``threshold`` if given, else estimated under ``threshold_policy``
    (the task's default policy when that is None).
    """
    estimate = None
    if threshold is None:
        estimate = threshold_estimate(task, threshold_policy)
        threshold = estimate.value
    torch_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    out = train(spec, task, list(seeds), recipe, threshold=threshold, device=device,
                dtype=torch_dtype, progress=progress, compile=compile, cuda_graph=cuda_graph)
    return out, estimate


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN/inf; a diverged or exploded run reports null."""
    return value if math.isfinite(value) else None


def summarize_runs(runs: Sequence[RunResult]) -> dict[str, Any]:
    """Success rate with its 95 % Wilson interval and the median solved-at of successful runs."""
    solved = [r for r in runs if r.solved]
    low, high = wilson_interval(len(solved), len(runs))
    return {
        "success_rate": len(solved) / len(runs) if runs else math.nan,
        "ci_low": low,
        "ci_high": high,
        "solved_at_median": statistics.median(r.solved_at for r in solved) if solved else None,
    }


def run_json(r: RunResult) -> dict[str, Any]:
    return {
        "seed": r.seed,
        "status": r.status,
        "solved": r.solved,
        "solved_at": r.solved_at,
        "selected_step": r.selected_step,
        "interpolation_mse": finite_or_none(r.interpolation_mse),
        "extrapolation_mse": finite_or_none(r.extrapolation_mse),
        "sparsity_error": finite_or_none(r.sparsity_error),
        "diverged_at": r.diverged_at,
    }


def rescore(run: RunResult, threshold: float, window: int = SELECTION_WINDOW) -> RunResult:
    """The same run scored under another threshold, from its learning curve (as the trainer scores).

    The selected step depends only on the interpolation curve; ``solved`` and ``solved_at`` change.
    A run that ended early (diverged) is scored on the points it logged, like the trainer does.
    """
    c = run.curve
    if run.status == "failed" or not c.step:
        return replace(run, threshold=float(threshold))
    length = max(1, sum(1 for s in c.step if s <= run.iterations))
    sc = score_curves(
        c.step, c.interpolation_mse, c.extrapolation_mse, threshold, c.sparsity_error,
        lengths=[length], window=window,
    )
    solved_at = int(sc.solved_at[0])
    return replace(
        run,
        solved=bool(sc.solved[0]),
        solved_at=solved_at if solved_at >= 0 else None,
        selected_step=int(sc.selected_step[0]),
        interpolation_mse=float(sc.interpolation_mse[0]),
        extrapolation_mse=float(sc.extrapolation_mse[0]),
        sparsity_error=float(sc.sparsity_error[0]),
        threshold=float(threshold),
    )


def with_formulas(out: TrainOutput, task: Task) -> list[RunResult]:
    """``out.runs`` with what the formula read-out says of each run's selected parameters (none for a
    task that declares ``formula_readout = False``: the read-out does not model recurrent networks)."""
    if not getattr(task, "formula_readout", True):
        return list(out.runs)
    try:
        explanations = explain_output(out, task)
    except Exception as exc:  # noqa: BLE001 — the read-out must never cost a cell its training
        print(f"nalm: warning: formula read-out failed ({type(exc).__name__}: {exc}); the runs are "
              "stored without it", file=sys.stderr)
        return list(out.runs)
    return [replace(run, formula=e.record()) for run, e in zip(out.runs, explanations)]


def with_metrics(runs: list[RunResult], out: TrainOutput, spec: ModelSpec, task: Task, *,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> list[RunResult]:
    """``runs`` (those of ``out``) with the metrics their task asks to be measured after training
    (:func:`nalm.training.evaluation.run_metrics`). Like the formula read-out, a failure here costs a
    warning, never the cell's training."""
    try:
        metrics = run_metrics(out, spec, task, device=device, dtype=dtype)
    except Exception as exc:  # noqa: BLE001 — see the docstring
        print(f"nalm: warning: run metrics failed ({type(exc).__name__}: {exc}); the runs are stored "
              "without them", file=sys.stderr)
        return runs
    return [replace(run, metrics={**run.metrics, **m}) for run, m in zip(runs, metrics)]


def failed_run(seed: int, threshold: float) -> RunResult:
    return RunResult(
        seed=int(seed), status="failed", solved=False, solved_at=None, selected_step=0,
        interpolation_mse=math.nan, extrapolation_mse=math.nan, sparsity_error=math.nan,
        threshold=float(threshold), iterations=0, curve=LearningCurve(),
    )


# --------------------------------------------------------------------------------------------------
# a suite
# --------------------------------------------------------------------------------------------------


@dataclass
class CellOutcome:
    cell: Cell
    status: str  # "run" | "skipped" | "failed"
    seeds_trained: tuple[int, ...] = ()
    wall_time_s: float = 0.0
    seed_iterations: int = 0
    solved: dict[str, int] = field(default_factory=dict)  # policy -> successes among trained seeds
    error: str | None = None


@dataclass
class BenchResult:
    db: Path
    outcomes: list[CellOutcome]
    wall_time_s: float
    store_suites: tuple[str, ...]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def seed_iterations(self) -> int:
        return sum(o.seed_iterations for o in self.outcomes)

    @property
    def train_wall_time_s(self) -> float:
        return sum(o.wall_time_s for o in self.outcomes if o.status != "skipped")

    @property
    def seed_iterations_per_second(self) -> float | None:
        t = self.train_wall_time_s
        return self.seed_iterations / t if t > 0 and self.seed_iterations else None


def remaining_seeds(store: ResultsStore, cell: Cell) -> tuple[int, ...]:
    """Seeds of ``cell`` missing under at least one of its threshold policies."""
    missing: set[int] = set()
    for _, config in cell.configs.values():
        missing |= set(cell.seeds) - store.finished_seeds(config)
    return tuple(sorted(missing))


def run_cells(
    cells: Sequence[Cell],
    db: str | Path,
    *,
    device: str = "cpu",
    progress: bool | str = True,
    echo: Callable[[str], None] | None = None,
    compile: bool | str = False,
    group_runs: int | None = None,
    cuda_graph: bool = False,
    executor: Any = None,
    plan: Sequence[Cell] | None = None,
) -> BenchResult:
    """Train every cell's missing seeds and store them; see the module docstring.

    ``group_runs``: train compatible cells together, up to this many runs per batch (a cell larger
    than that still trains whole); None (or 1) trains every cell on its own. ``plan``: the cells the
    batches are formed over (default ``cells``); ``cells`` picks which of them are written. Give the
    unfiltered plan when ``cells`` is a selection, so the selection's runs equal the whole suite's.

    ``device`` and ``compile`` (``train(..., compile=True)``) change how runs execute, not what
    they compute (results agree to rounding), so neither is part of a run's identity: a run stored
    by one setting is skipped under the other. ``cuda_graph`` (bit-identical to uncaptured steps)
    applies to the batches that support it (see ``cuda_graph_unsupported``); the others train
    without it.

    ``executor`` trains the units (batches): :class:`LocalExecutor` (default) in this process,
    :class:`nalm.bench.ray_executor.RayExecutor` on a Ray cluster. Only this process writes the
    database, one unit per transaction, whatever the executor.

    ``progress`` (stderr): True shows a tqdm bar when stderr is a terminal and otherwise (CI logs,
    ``2> file``) one plain line per finished cell, with no carriage returns; ``"bar"`` or ``"lines"``
    forces one of the two; False shows nothing. ``echo`` receives each cell's result line (default:
    stdout).
    """
    start = time.perf_counter()
    db = Path(db)
    thresholds: dict[tuple[Task, str], float] = {}
    outcomes: list[CellOutcome] = []
    suites: dict[str, None] = {}
    for c in cells:
        for name, _ in c.configs.values():
            suites[name] = None

    def threshold(task: Task, policy: str) -> float:
        key = (task, policy)
        if key not in thresholds:
            thresholds[key] = threshold_estimate(task, policy).value
        return thresholds[key]

    mode = progress_mode(progress)
    with ResultsStore(db) as store:
        todo = [(c, remaining_seeds(store, c)) for c in cells]
        batches = canonical_batches(todo, group_runs, plan)
        total = sum(len(seeds) * c.iterations for batch in batches for c, seeds, _ in batch)
        beside = sum(1 for batch in batches for _, _, write in batch if not write)
        lines = _ProgressLines(todo, total, beside) if mode == "lines" else None
        with tqdm(total=total, unit="seed-it", unit_scale=True, dynamic_ncols=True, smoothing=0.05,
                  disable=mode != "bar", file=sys.stderr, desc="bench") as bar:
            say = echo or (lambda s: bar.write(s, file=sys.stdout))
            outcomes.extend(CellOutcome(c, "skipped") for c, missing in todo if not missing)
            units = [make_unit(batch, threshold) for batch in batches]
            run_units = executor or LocalExecutor()
            for unit, result in run_units.run(units, device, bar, compile=compile, cuda_graph=cuda_graph):
                written = write_unit(store, unit, result)
                # (the work of cells trained only beside the written ones counts with the first)
                beside_work = unit.work - sum(len(o.seeds_trained) * o.cell.iterations for o in written)
                for index, outcome in enumerate(written):
                    outcomes.append(outcome)
                    say(_outcome_line(outcome))
                    if lines is not None:
                        lines.finished(outcome, beside_work if index == 0 else 0)
    return BenchResult(db, outcomes, time.perf_counter() - start, tuple(suites))


class LocalExecutor:
    """Trains units one after the other in this process (the default executor).

    An executor's ``run(units, device, bar, compile=, cuda_graph=)`` yields ``(unit, result)`` as
    units finish, in any order; the caller writes each. It keeps ``bar`` (a tqdm bar counting
    seed-iterations) current."""

    def run(
        self, units: Sequence[WorkUnit], device: str, bar: Any, *, compile: bool | str = False,
        cuda_graph: bool = False,
    ) -> Iterator[tuple[WorkUnit, UnitResult]]:
        for unit in units:
            bar.set_postfix_str(unit.label, refresh=True)
            target = bar.n + unit.work
            result = train_unit(unit, device, progress=bar.update, compile=compile, cuda_graph=cuda_graph)
            if bar.n < target:
                bar.update(target - bar.n)
            yield unit, result


def progress_mode(progress: bool | str) -> str | None:
    """``"bar"``, ``"lines"`` or None (silent) for ``run_cells(progress=...)``."""
    if progress is False or progress is None:
        return None
    if progress is True:
        return "bar" if _isatty(sys.stderr) else "lines"
    if progress in ("bar", "lines"):
        return str(progress)
    raise ValueError(f"progress: expected True, False, 'bar' or 'lines', got {progress!r}")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):  # replaced or closed streams
        return False


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class _ProgressLines:
    """Progress for logs: a line when the work starts and one per finished cell, each a whole line
    on stderr (no carriage returns, nothing redrawn)."""

    def __init__(self, todo: Sequence[tuple[Cell, tuple[int, ...]]], total: int, beside: int = 0) -> None:
        self.cells = sum(1 for _, m in todo if m)
        self.total = total
        self.done_cells = 0
        self.done_work = 0
        self.start = time.perf_counter()
        skipped = len(todo) - self.cells
        notes = [f"{skipped} cells already stored"] if skipped else []
        if beside:
            notes.append(f"{beside} more cells train beside them, unwritten: a batch trains whole, so "
                         "their runs equal the whole suite's bit for bit")
        self._print(f"bench: {self.cells} cells to train, {total:,} seed-iterations"
                    + (f" ({'; '.join(notes)})" if notes else ""))

    def _print(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def finished(self, o: CellOutcome, beside_work: int = 0) -> None:
        self.done_cells += 1
        self.done_work += len(o.seeds_trained) * o.cell.iterations + beside_work
        n = len(o.seeds_trained)
        if o.status == "failed":
            what = f"FAILED, {n} runs recorded as failed"
        else:
            policy, solved = next(iter(o.solved.items()), ("", 0))  # the cell's own policy comes first
            what = f"{n} runs, {solved} solved" + (f" ({policy})" if policy else "") + f", {o.wall_time_s:.1f} s"
        elapsed = time.perf_counter() - self.start
        line = f"[{self.done_cells}/{self.cells}] {o.cell.id}: {what}; {_duration(elapsed)} elapsed"
        if 0 < self.done_work < self.total:
            line += f", about {_duration(elapsed * (self.total - self.done_work) / self.done_work)} left"
        self._print(line)


def _batches(
    todo: Sequence[tuple[Cell, tuple[int, ...]]], group_runs: int | None
) -> list[list[tuple[Cell, tuple[int, ...]]]]:
    """Cells (with their missing seeds) in training batches, in order of first appearance.

    Without ``group_runs`` every cell is its own batch. With it, a cell joins the first open batch
    of cells with an equal network, recipe, dtype and iterations while the runs stay within
    ``group_runs``.
    """
    if group_runs is None:
        return [[item] for item in todo]
    batches: list[list[tuple[Cell, tuple[int, ...]]]] = []
    for cell, missing in todo:
        for batch in batches:
            first = batch[0][0]
            same = (first.spec, first.recipe, first.dtype, first.iterations) == (
                cell.spec, cell.recipe, cell.dtype, cell.iterations
            )
            if same and sum(len(m) for _, m in batch) + len(missing) <= group_runs:
                batch.append((cell, missing))
                break
        else:
            batches.append([(cell, missing)])
    return batches


def canonical_batches(
    todo: Sequence[tuple[Cell, tuple[int, ...]]], group_runs: int | None, plan: Sequence[Cell] | None
) -> list[list[tuple[Cell, tuple[int, ...], tuple[int, ...]]]]:
    """The batches to train: per cell ``(cell, seeds to train, seeds to write)``.

    Without grouping, each cell with missing seeds trains them alone. With it, :func:`_batches` runs
    over the whole ``plan`` (every cell with all its seeds; requested cells the plan lacks are
    grouped after it), and every batch holding a requested cell with missing seeds trains whole:
    the batch, and so each run's bits, never depend on what is selected or already stored.
    """
    if group_runs is None or group_runs <= 1:
        return [[(c, m, m)] for c, m in todo if m]
    missing = {c.id: (c, m) for c, m in todo if m}
    members = list(plan) if plan is not None else [c for c, _ in todo]
    known = {c.id for c in members}
    members += [c for c, _ in todo if c.id not in known]
    out = []
    for batch in _batches([(c, c.seeds) for c in members], group_runs):
        if any(c.id in missing for c, _ in batch):
            out.append([
                (missing[c.id][0], c.seeds, missing[c.id][1]) if c.id in missing else (c, c.seeds, ())
                for c, _ in batch
            ])
    return out


@dataclass(frozen=True)
class WorkUnit:
    """One training batch: cells of one shape with the seeds to train, and the threshold of each of
    their policies (computed by the driver, so a worker never simulates one). Picklable: an executor
    may train it in another process or on another machine. ``writes``: per cell, the seeds to store
    (None: all it trains; empty: a cell trained beside the others only for their bits)."""

    cells: tuple[tuple[Cell, tuple[int, ...]], ...]
    thresholds: dict[str, dict[str, float]]  # cell id -> policy -> threshold
    error: str | None = None  # a threshold could not be computed: the unit is recorded as failed
    writes: tuple[tuple[int, ...], ...] | None = None

    @property
    def runs(self) -> int:
        return sum(len(m) for _, m in self.cells)

    @property
    def work(self) -> int:
        return sum(len(m) * c.iterations for c, m in self.cells)

    @property
    def label(self) -> str:
        return " + ".join(c.id for c, _ in self.cells)

    @property
    def seeds_to_write(self) -> tuple[tuple[int, ...], ...]:
        return self.writes if self.writes is not None else tuple(seeds for _, seeds in self.cells)


@dataclass
class UnitResult:
    """What training a unit returns: each cell's runs (None when the unit failed), its timing."""

    results: list[list[RunResult]] | None
    wall_time_s: float
    seed_iterations_per_second: float | None
    error: str | None = None


def make_unit(
    batch: Sequence[tuple[Cell, tuple[int, ...], tuple[int, ...]]], threshold: Callable[[Task, str], float]
) -> WorkUnit:
    """A batch ``(cell, seeds to train, seeds to write)`` with its thresholds; a threshold that fails
    makes a unit that is recorded as failed."""
    thresholds: dict[str, dict[str, float]] = {c.id: {} for c, _, _ in batch}
    error = None
    try:
        for cell, _, _ in batch:
            for p in cell.policies:
                thresholds[cell.id][p] = threshold(cell.task, p)
    except Exception as exc:  # noqa: BLE001 — one batch's failure must not stop the suite
        error = _error_line(exc)
    return WorkUnit(
        tuple((c, seeds) for c, seeds, _ in batch), thresholds, error,
        writes=tuple(write for _, _, write in batch),
    )


def _error_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def train_unit(
    unit: WorkUnit, device: str, *, progress: Callable[[int], None] | None = None,
    compile: bool | str = False, cuda_graph: bool = False,
) -> UnitResult:
    """Train one unit (one ``train_groups`` call) and read its formulas; never raises: a failure is
    returned as the result's ``error``. The same function runs locally and on a Ray worker, so a unit
    stores the same numbers wherever it trained."""
    t0 = time.perf_counter()
    if unit.error is not None:
        return UnitResult(None, 0.0, None, unit.error)
    first = unit.cells[0][0]
    total_runs = unit.runs
    try:
        groups = [RunGroup(c.task, m, unit.thresholds[c.id][c.policies[0]]) for c, m in unit.cells]
        graph = cuda_graph and cuda_graph_unsupported(groups, first.recipe) is None
        outs = training.train_groups(  # looked up per call: tests substitute a failing one
            first.spec, groups, first.recipe, device=device, dtype=getattr(torch, first.dtype),
            progress=None if progress is None else (lambda n: progress(n * total_runs)),
            compile=compile, cuda_graph=graph,
        )
        writes = unit.seeds_to_write
        results = [
            with_metrics(with_formulas(out, cell.task), out, cell.spec, cell.task, device=device,
                         dtype=getattr(torch, cell.dtype))
            if write else out.runs  # (a cell trained only beside the others: nothing is read from it)
            for out, (cell, _), write in zip(outs, unit.cells, writes)
        ]
        return UnitResult(results, outs[0].wall_time_s, outs[0].seed_iterations_per_second)
    except Exception as exc:  # noqa: BLE001 — one batch's failure must not stop the suite
        return UnitResult(None, time.perf_counter() - t0, None, _error_line(exc))


def write_unit(store: ResultsStore, unit: WorkUnit, result: UnitResult) -> list[CellOutcome]:
    """Write a trained unit, cell by cell, in one transaction: a kill never leaves part of it stored
    (the rest would be retrained in another batch, equal only to rounding)."""
    results = result.results
    writes = unit.seeds_to_write
    if results is not None:  # each cell's runs to store, in the order of its trained seeds
        results = [[r for r in runs if r.seed in set(w)] for runs, w in zip(results, writes)]
    work = (
        [len(w) * c.iterations for (c, _), w in zip(unit.cells, writes)] if results is None
        else [sum(r.iterations for r in runs) for runs in results]
    )
    total_work = sum(work)
    written = sum(len(w) for w in writes)
    outcomes = []
    with store.atomic():
        for index, (cell, _) in enumerate(unit.cells):
            if not writes[index]:
                continue  # trained beside the others for their bits; not asked for, or stored
            # The unit's wall time is shared out by work among the cells written, so their times
            # add up to the unit's.
            share = work[index] / total_work if total_work else len(writes[index]) / written
            outcomes.append(_write_cell(
                store, cell, writes[index], None if results is None else results[index],
                unit.thresholds[cell.id], result.wall_time_s * share, work[index],
                result.seed_iterations_per_second, result.error,
            ))
    return outcomes


def _write_cell(
    store: ResultsStore, cell: Cell, missing: tuple[int, ...], results: list[RunResult] | None,
    thresholds: dict[str, float], wall: float, work: int, rate: float | None, error: str | None,
) -> CellOutcome:
    """Store one cell's runs under each of its threshold policies (failed runs if ``results`` is None)."""
    primary = cell.policies[0]
    if results is None:
        runs = {p: [failed_run(s, thresholds.get(p, 0.0)) for s in missing] for p in cell.policies}
    else:
        runs = {primary: results}
        for p in cell.policies[1:]:
            runs[p] = [rescore(r, thresholds[p], cell.recipe.selection_window) for r in results]
    for p, (suite_name, config) in cell.configs.items():
        store.write_cell(
            suite_name, cell.id, config, runs[p], wall_time_s=wall,
            seed_iterations_per_second=rate, threshold_policy=p,
        )
    return CellOutcome(
        cell, "failed" if results is None else "run", missing, wall, work,
        solved={p: sum(1 for r in runs[p] if r.solved) for p in cell.policies}, error=error,
    )


def _outcome_line(o: CellOutcome) -> str:
    n = len(o.seeds_trained)
    if o.status == "failed":
        return f"{o.cell.id}: FAILED ({n} seeds recorded as failed): {o.error}"
    # under reference_runs success is judged per test length by the report, not by the trainer
    scores = ", ".join(f"{k}/{n} {p}" if p != "reference_runs" else f"{n} runs, success per length in nalm report"
                       for p, k in o.solved.items())
    return f"{o.cell.id}: solved {scores}  [{o.wall_time_s:.1f} s]"


def check_db_path(db: str | Path) -> Path:
    """Refuse a --db that cannot be (or is not) a nalm results store, without creating anything."""
    path = Path(db)
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"--db: {path} is not a file")
        with ResultsStore(path, readonly=True):
            pass  # raises StoreError (a ConfigError) when it is not a nalm results database
    else:
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise ConfigError(f"--db: directory {parent} does not exist")
    return path
