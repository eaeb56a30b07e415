"""From a suite and a profile to cells: tasks, models, recipes, seeds and the config that identifies them.

A *cell* is one (block, model, operation[, range]) of a suite's grid under one profile. Its S seeds
are trained in one batched ``train()`` call. Its *config* — plain JSON, hashed by the results store —
holds everything that changes a result (suite, profile, model units and options, the sequential MNIST
network's settings, task fields and ranges, iterations, the recipe with its learning rate and
schedules, threshold policy, dtype) and nothing that does not (the number of seeds, the device, the
library version): so ``--seeds 20`` after ``--seeds 10`` trains only seeds 10–19, and a rerun skips
what is stored.

:func:`plan_cells` works in named steps: the grid expanded into cell keys (:func:`_cell_keys`), the
profile's overrides applied (:class:`_Overrides`, :func:`_settings`), task, model and recipe built
(:func:`_build`), thresholds checked (:func:`_check_thresholds`), one config per threshold policy
attached (:func:`_configs`), and the profile's and ``--only`` filters (:mod:`nalm.bench.filters`)
applied (:func:`_select`). Task and recipe come from :mod:`nalm.bench.build`, the config JSON from
:mod:`nalm.bench.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import torch

from nalm.errors import ConfigError
from nalm.metrics import threshold_estimate
from nalm.policies import THRESHOLD_POLICIES
from nalm.published import PublishedLookupError, published_entry
from nalm.tasks import Task, check_task_dtype
from nalm.training import ModelSpec, TrainRecipe
from nalm.training.model import SequentialMnistSpec
from nalm.training.runs import check_batch_fits

from .build import build_recipe, build_task, model_spec, range_spec
from .config import OP_LABELS, plain, recipe_json, store_suite_name, task_json
from .filters import FilterTerm, parse_filter
from .schema import GridBlock, ModelDef, ProfileDef, Suite, suite_error

__all__ = ["Cell", "build_recipe", "build_task", "plan_cells", "total_work"]


@dataclass(frozen=True)
class Cell:
    """One cell of a suite under a profile, ready to train."""

    id: str  # block/model/op[/range]
    block: str
    model_key: str
    model: str  # label
    op: str
    range: str | None
    task: Task
    spec: ModelSpec
    recipe: TrainRecipe
    seeds: tuple[int, ...]
    iterations: int
    dtype: str
    #: threshold policy -> (store suite name, config); the first entry is the primary policy
    configs: Mapping[str, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)

    @property
    def policies(self) -> tuple[str, ...]:
        return tuple(self.configs)

    @property
    def work(self) -> int:
        """Seed-iterations of all its seeds."""
        return len(self.seeds) * self.iterations


def total_work(cells: Sequence[Cell]) -> int:
    return sum(c.work for c in cells)


# --------------------------------------------------------------------------------------------------
# the plan, step by step
# --------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What every step reads: the suite under one profile, the policies, and the checks already done."""

    suite: Suite
    profile: str
    seeds: int | None  # --seeds: overrides every cell's
    threshold_policy: str | None  # --threshold-policy: the primary policy instead of the suite's
    check_thresholds: bool
    device: str = "cpu"  # where the cells will train: bounds the seeds a batch can hold
    checked_models: set[tuple[str, int, int]] = field(default_factory=set)
    checked_thresholds: set[tuple[Task, str]] = field(default_factory=set)

    @property
    def prof(self) -> ProfileDef:
        return self.suite.profiles[self.profile]

    def policies(self, block: GridBlock, model_key: str) -> tuple[str, ...]:
        """A cell's policies: the primary first (--threshold-policy, else the block's for its model,
        else the suite's), then the suite's others."""
        return self.suite.policies(self.threshold_policy, block, model_key)


@dataclass(frozen=True)
class _CellKey:
    """What a filter looks at, before the cell is built (profile overrides)."""

    id: str
    block: str
    model_key: str
    model: str
    op: str
    range: str | None


@dataclass(frozen=True)
class _Settings:
    """A cell's iterations, schedules and seed count once the profile and its overrides apply."""

    iterations: int
    schedules: str
    seeds: int


def _cell_keys(suite: Suite, block: GridBlock) -> Iterator[_CellKey]:
    """Step 1: a block's grid (models × ops × ranges) as cell keys, in file order."""
    for model_key in block.models:
        label = suite.models[model_key].display(model_key)
        for op in block.ops:
            for range_name in block.ranges or (None,):
                cell_id = "/".join(p for p in (block.name, model_key, op, range_name) if p)
                yield _CellKey(cell_id, block.name, model_key, label, op, range_name)


class _Overrides:
    """Step 2: a profile's per-cell overrides, in file order (a later match wins key by key).

    Remembers which override each cell matched: every override must match a cell the plan keeps.
    """

    def __init__(self, prof: ProfileDef) -> None:
        self.defs = prof.overrides
        self.filters = [parse_filter(o.only) for o in prof.overrides]
        self.used: dict[str, set[int]] = {}  # cell id -> indices of the overrides it matched

    def setting(self, key: _CellKey) -> dict[str, Any]:
        setting: dict[str, Any] = {}
        for j, (o, sel) in enumerate(zip(self.defs, self.filters)):
            if all(t.matches(key) for t in sel):
                setting.update(o.settings())
                self.used.setdefault(key.id, set()).add(j)
        return setting

    def check_used(self, plan: _Plan, cells: Sequence[Cell]) -> None:
        used = set().union(*(self.used.get(c.id, set()) for c in cells))
        for j, o in enumerate(self.defs):
            if j not in used:
                raise suite_error(plan.suite.source, f"profiles.{plan.profile}.overrides[{j}].only",
                                  f"matches no cell: {o.only!r}")


def _settings(plan: _Plan, block: GridBlock, setting: Mapping[str, Any]) -> _Settings:
    """Step 2, resolved: an override, else the block's, the profile's, the protocol's."""
    prof, suite = plan.prof, plan.suite
    iterations = (
        setting.get("iterations")
        or block.iterations.get(plan.profile)
        or prof.iterations
        or block.protocol_iterations
        or suite.protocol_iterations
    )
    seeds = plan.seeds or setting.get("seeds") or block.seeds.get(plan.profile) or prof.seeds
    return _Settings(iterations, setting.get("schedules", prof.schedules), seeds)


def _build(
    plan: _Plan, block: GridBlock, where: str, key: _CellKey, settings: _Settings
) -> tuple[Task, ModelSpec, TrainRecipe]:
    """Step 3: the cell's task, recipe and model (built once per shape, to check it), each checked
    against the suite's dtype and the batch against the device's memory."""
    suite, src = plan.suite, plan.suite.source
    model = suite.models[key.model_key]
    dtype = getattr(torch, suite.dtype)
    try:
        task = build_task(suite, block, key.op, key.range)
        check_task_dtype(task, suite.dtype)
    except ConfigError as exc:
        raise suite_error(src, where, f"cell {key.id}: {exc}") from None
    try:
        recipe = build_recipe(suite, plan.prof, block, model, key.op, task, settings.iterations,
                              settings.schedules)
        recipe.optimizer.check_dtype(dtype)
    except ConfigError as exc:
        raise suite_error(src, f"{where}", f"cell {key.id}: recipe: {exc}") from None
    try:
        spec = model_spec(tuple(model.units), task, hidden=model.hidden,
                          options=tuple(dict(o) for o in model.options),
                          network=model.network.model_dump() if model.network is not None else None)
        spec.parameter_values()  # the model's options, checked without allocating it
    except (TypeError, ValueError, ConfigError) as exc:
        raise suite_error(src, f"models.{key.model_key}", f"cannot build the model: {exc}") from None
    try:
        # before the model is built or the cell's tuple of seeds made (10⁹ seeds: gigabytes of ints)
        check_batch_fits(
            settings.seeds, spec.in_features, recipe.batch_size, dtype, plan.device, spec=spec
        )
    except ConfigError as exc:
        if plan.seeds is not None:
            raise ConfigError(f"--seeds: cell {key.id}: {exc}") from None
        raise suite_error(src, where, f"cell {key.id}: {exc}") from None
    shape = (key.model_key, task.in_features, task.out_features)
    if shape not in plan.checked_models:
        try:
            spec.build(0, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise suite_error(src, f"models.{key.model_key}", f"cannot build the model: {exc}") from None
        plan.checked_models.add(shape)
    return task, spec, recipe


def _check_thresholds(plan: _Plan, block: GridBlock, where: str, key: _CellKey, task: Task) -> None:
    """Step 4: every policy can score the task (checked on a tiny sample, once per task)."""
    suite = plan.suite
    for policy in plan.policies(block, key.model_key):
        if not plan.check_thresholds or (task, policy) in plan.checked_thresholds:
            continue
        try:
            threshold_estimate(task, policy, samples=2)
        except ConfigError as exc:
            if plan.threshold_policy is not None and policy == plan.threshold_policy:
                raise ConfigError(f"--threshold-policy: cell {key.id}: {exc}") from None
            if policy == block.own_policy(key.model_key):
                field_name = f"{where}.threshold_policy"
            elif policy == suite.threshold_policy:
                field_name = "threshold_policy"
            else:
                field_name = f"also_score[{suite.also_score.index(policy)}]"
            raise suite_error(suite.source, field_name, f"cell {key.id}: {exc}") from None
        plan.checked_thresholds.add((task, policy))


def _published_ref(
    block: GridBlock, model: ModelDef, label: str, op: str, range_name: str | None
) -> dict[str, Any] | None:
    """The cell's entry in the published results, or None when it has no published numbers."""
    if block.published is None:
        return None
    task = block.published.task_for(range_name)
    if task is None:
        return None  # the block cites published tasks per range, none for this one
    ref = {
        "source": block.published.source,
        "task": task,
        "operation": op,
        "model": model.published or label,
    }
    if block.published.table is not None:
        ref["table"] = block.published.table
    try:
        published_entry(ref["source"], ref["task"], op, ref["model"], table=block.published.table)
    except PublishedLookupError:
        return None  # this cell has no published numbers (e.g. printed as "---")
    return ref


def _configs(
    plan: _Plan, block: GridBlock, key: _CellKey, settings: _Settings, task: Task, recipe: TrainRecipe,
    spec: ModelSpec,
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Step 5: the config the store hashes, one per threshold policy (the primary first)."""
    suite = plan.suite
    model = suite.models[key.model_key]
    base: dict[str, Any] = {
        "suite": suite.name,
        "profile": plan.profile,
        "block": block.name,
        "cell": key.id,
        "model": key.model,
        "model_key": key.model_key,
        "operation": OP_LABELS.get(key.op, key.op),
        "units": list(model.units),
        "hidden": model.hidden,
        "options": [dict(o) for o in model.options] or [{} for _ in model.units],
        **({"network": spec.network()} if isinstance(spec, SequentialMnistSpec) else {}),
        "task": task_json(block.task, task),
        "iterations": settings.iterations,
        "protocol_iterations": block.protocol_iterations or suite.protocol_iterations,
        "schedules": settings.schedules,
        "recipe": recipe_json(recipe),
        "dtype": suite.dtype,
    }
    if key.range is not None:
        interp, extrap = range_spec(suite, key.range)
        base["range"] = {"name": key.range, "interpolation": plain(interp),
                         "extrapolation": plain(extrap)}
        if key.range in suite.ranges and suite.ranges[key.range].distribution is not None:
            base["range"]["distribution"] = suite.ranges[key.range].distribution
    ref = _published_ref(block, model, key.model, key.op, key.range)
    if ref is not None:
        base["published"] = ref
    policies = plan.policies(block, key.model_key)
    primary = policies[0]
    return {
        p: (store_suite_name(suite, p, primary), {**base, "threshold_policy": p})
        for p in policies
    }


def _cell(plan: _Plan, block: GridBlock, where: str, key: _CellKey, overrides: _Overrides) -> Cell:
    """Steps 2 to 5 for one cell key."""
    settings = _settings(plan, block, overrides.setting(key))
    task, spec, recipe = _build(plan, block, where, key, settings)
    _check_thresholds(plan, block, where, key, task)
    return Cell(
        id=key.id, block=key.block, model_key=key.model_key, model=key.model, op=key.op,
        range=key.range, task=task, spec=spec, recipe=recipe,
        seeds=tuple(range(plan.suite.first_seed, plan.suite.first_seed + settings.seeds)),
        # (the recipe's updates: a suite may count its iterations in epochs, sequential MNIST)
        iterations=recipe.iterations, dtype=plan.suite.dtype,
        configs=_configs(plan, block, key, settings, task, recipe, spec),
    )


def _block_cells(plan: _Plan, index: int, block: GridBlock, overrides: _Overrides) -> list[Cell]:
    """One block's cells; a block that cites published results must find them for some cell."""
    where = f"grid[{index}]"
    cells = [_cell(plan, block, where, key, overrides) for key in _cell_keys(plan.suite, block)]
    if block.published is not None and cells and not any("published" in _primary_config(c) for c in cells):
        p = block.published
        raise suite_error(
            plan.suite.source, f"{where}.published",
            f"no published numbers for any cell (source={p.source!r}, task={p.task!r}"
            + (f", table={p.table!r}" if p.table else "") + ")",
        )
    return cells


def _primary_config(cell: Cell) -> Mapping[str, Any]:
    return next(iter(cell.configs.values()))[1]


def _select(
    plan: _Plan, cells: list[Cell], overrides: _Overrides, terms: tuple[FilterTerm, ...], only: str | None
) -> list[Cell]:
    """Step 6: the profile's ``only`` (each filter must match), then ``--only``."""
    suite, prof = plan.suite, plan.prof
    if prof.only is not None:
        selections = [parse_filter(text) for text in prof.only]
        for j, selection in enumerate(selections):
            if not any(all(t.matches(c) for t in selection) for c in cells):
                raise suite_error(suite.source, f"profiles.{plan.profile}.only[{j}]",
                                  f"matches no cell: {prof.only[j]!r}")
        cells = [c for c in cells if any(all(t.matches(c) for t in sel) for sel in selections)]
    overrides.check_used(plan, cells)
    if terms:
        cells = [c for c in cells if all(t.matches(c) for t in terms)]
        if not cells:
            raise ConfigError(f"--only: no cell of suite {suite.name} (profile {plan.profile}) matches {only!r}")
    return cells


def plan_cells(
    suite: Suite,
    profile: str,
    *,
    only: str | None = None,
    seeds: int | None = None,
    threshold_policy: str | None = None,
    check_thresholds: bool = True,
    device: str = "cpu",
) -> list[Cell]:
    """Expand ``suite`` under ``profile`` into cells (file order: blocks, models, ops, ranges).

    ``only``: the ``--only`` filter; ``seeds``: train that many seeds (``0..seeds-1``, shifted by the
    suite's ``first_seed``) in every cell instead of the profile's; ``threshold_policy``: primary
    policy instead of the suite's; ``device``: where the cells will train (a cell's batch must fit
    its memory). Every cell is fully built (task, model, recipe, config) and its thresholds checked
    on a tiny sample, so an invalid suite fails here, before anything is trained or written.
    """
    if profile not in suite.profiles:
        raise ConfigError(
            f"--profile: suite {suite.name} has no profile {profile!r} (profiles: {', '.join(suite.profiles)})"
        )
    if seeds is not None and (isinstance(seeds, bool) or seeds < 1):
        raise ConfigError(f"--seeds: must be at least 1, got {seeds}")
    if threshold_policy is not None and threshold_policy not in THRESHOLD_POLICIES:
        raise ConfigError(
            f"--threshold-policy: unknown policy {threshold_policy!r}; expected one of "
            f"{', '.join(THRESHOLD_POLICIES)}"
        )
    terms = parse_filter(only)
    plan = _Plan(suite, profile, seeds, threshold_policy, check_thresholds, device)
    overrides = _Overrides(plan.prof)
    cells: list[Cell] = []
    for index, block in enumerate(suite.grid):
        if plan.prof.grid is None or block.name in plan.prof.grid:
            cells.extend(_block_cells(plan, index, block, overrides))
    return _select(plan, cells, overrides, terms, only)
