"""From a suite and a profile to cells: tasks, models, recipes, seeds and the config that identifies them.

A *cell* is one (block, model, operation[, range]) of a suite's grid under one profile. Its S seeds
are trained in one batched ``train()`` call. Its *config* — plain JSON, hashed by the results store —
holds everything that changes a result (suite, profile, model units and options, task fields and
ranges, iterations, the recipe with its learning rate and schedules, threshold policy, dtype) and
nothing that does not (the number of seeds, the device, the library version): so ``--seeds 20``
after ``--seeds 10`` trains only seeds 10–19, and a rerun skips what is stored.

Which cells run is chosen by ``--only`` filters (:mod:`nalm.bench.filters`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from nalm.errors import ConfigError

from .filters import FilterTerm, parse_filter
from .schema import GridBlock, ModelDef, ProfileDef, Suite, suite_error

OP_LABELS = {"all": "x+y, x·y, x/y, √x"}


@dataclass(frozen=True)
class Cell:
    """One cell of a suite under a profile, ready to train."""

    id: str  # block/model/op[/range]
    block: str
    model_key: str
    model: str  # label
    op: str
    range: str | None
    task: Any
    spec: Any  # nalm.training.ModelSpec
    recipe: Any  # nalm.training.TrainRecipe
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


# --------------------------------------------------------------------------------------------------
# what a filter sees of a cell before it is built
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CellKey:
    """What a filter looks at, before the cell is built (profile overrides)."""

    id: str
    block: str
    model_key: str
    model: str
    op: str
    range: str | None


# --------------------------------------------------------------------------------------------------
# building blocks of a cell
# --------------------------------------------------------------------------------------------------


def _range_spec(suite: Suite, name: str) -> tuple[Any, Any]:
    from nalm.tasks.presets import PRIMER_RANGES

    if name in suite.ranges:
        rd = suite.ranges[name]
        return rd.interpolation, rd.extrapolation
    pair = PRIMER_RANGES[name]
    return pair.interpolation, pair.extrapolation


def build_task(suite: Suite, block: GridBlock, op: str, range_name: str | None) -> Any:
    """The task object of one cell (validated by its own constructor)."""
    kind = block.task
    if kind == "static":
        from nalm.tasks.presets import madsen_task

        kwargs: dict[str, Any] = {}
        for name in ("input_size", "subset_ratio", "overlap_ratio"):
            if getattr(block, name) is not None:
                kwargs[name] = getattr(block, name)
        if range_name is not None:
            kwargs["interpolation_range"], kwargs["extrapolation_range"] = _range_spec(suite, range_name)
        if block.allow_zero_denominator:
            kwargs["allow_zero_denominator"] = True
        return madsen_task(op, **kwargs)
    if kind == "static_simple":
        from nalm.tasks.presets import madsen_simple_task

        return madsen_simple_task(op)
    if kind == "primer":
        from nalm.tasks.presets import PRIMER_RANGES, PRIMER_SUBSET_RATIOS, primer_task
        from nalm.tasks.static import SingleModuleTask

        n = block.input_size or 2
        assert range_name is not None
        if range_name in PRIMER_RANGES and range_name not in suite.ranges:
            extra = {"allow_zero_denominator": True} if block.allow_zero_denominator else {}
            return primer_task(op, range_name, n, **extra)
        interp, extrap = _range_spec(suite, range_name)
        return SingleModuleTask(
            op, input_size=n, subset_ratio=PRIMER_SUBSET_RATIOS[n], overlap_ratio=0.0,
            interpolation_range=interp, extrapolation_range=extrap,
            allow_zero_denominator=block.allow_zero_denominator,
        )
    if kind == "article":
        from nalm.tasks.article import ArticleTask

        return ArticleTask(op)  # type: ignore[arg-type]
    from nalm.tasks.npu_simple import NPUSimpleTask

    return NPUSimpleTask()


def task_json(kind: str, task: Any) -> dict[str, Any]:
    if hasattr(task, "to_dict"):
        data = dict(task.to_dict())
    else:
        data = dataclasses.asdict(task)
    return {"kind": kind, **data}


def _plain(value: Any) -> Any:
    """JSON-able copy of recipe pieces (tuples → lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _object_json(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    else:
        fields = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    return {"type": type(obj).__name__, **_plain(fields)}


def recipe_json(recipe: Any) -> dict[str, Any]:
    """Everything in a TrainRecipe that changes a result, as plain JSON."""
    opt = recipe.optimizer
    return {
        "optimizer": {"name": opt.name, "lr": _plain(opt.lr), "options": _plain(dict(opt.options))},
        "batch_size": recipe.batch_size,
        "eval_every": recipe.eval_every,
        "regularizers": {k: _object_json(v) for k, v in sorted(recipe.regularizers.items())},
        "clip_grad_value": recipe.clip_grad_value,
        "clip_grad_norm": recipe.clip_grad_norm,
        "hooks": [_object_json(h) for h in recipe.hooks],
        "early_stop_after": recipe.early_stop_after,
    }


def build_recipe(
    suite: Suite,
    profile: ProfileDef,
    block: GridBlock,
    model: ModelDef,
    op: str,
    task: Any,
    iterations: int,
    schedules: str | None = None,
) -> Any:
    """The cell's TrainRecipe with ``iterations`` updates.

    ``kind = "default"``: the unit's reference recipe (:func:`nalm.training.recipes.default_recipe`).
    Its schedules are those of the protocol run of this block (``protocol_iterations``); with
    ``schedules = "scale"`` they are shrunk by ``iterations / protocol_iterations`` (a short run has
    the same shape), with ``"truncate"`` they are kept at the protocol's steps (a short run is the
    first ``iterations`` updates of the protocol run). ``schedules`` defaults to the profile's (a
    profile override may set it per cell).
    """
    from nalm.training import OptimizerSpec, TrainRecipe
    from nalm.training.recipes import default_recipe

    r = suite.recipe
    batch_size = block.batch_size or r.batch_size
    eval_every = profile.eval_every or suite.eval_every
    if r.kind == "plain":
        return TrainRecipe(
            iterations=iterations,
            optimizer=OptimizerSpec(r.optimizer, model.lr or r.lr),  # type: ignore[arg-type]
            batch_size=batch_size,
            eval_every=eval_every,
        )
    unit = model.recipe_unit or model.units[-1]
    kwargs = dict(
        setting=r.setting, input_size=task.in_features, lr=model.lr, batch_size=batch_size,
        eval_every=eval_every,
    )
    protocol_recipe = default_recipe(unit, op, **kwargs)  # type: ignore[arg-type]
    recipe_protocol = protocol_recipe.iterations  # what default_recipe's schedules are written for
    cell_protocol = block.protocol_iterations or suite.protocol_iterations
    if (schedules or profile.schedules) == "scale":
        schedule_length = max(1, round(recipe_protocol * iterations / cell_protocol))
    else:
        schedule_length = recipe_protocol
    recipe = default_recipe(unit, op, iterations=schedule_length, **kwargs)  # type: ignore[arg-type]
    return replace(recipe, iterations=iterations)


# --------------------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------------------


def store_suite_name(suite: Suite, policy: str, primary: str) -> str:
    return suite.name if policy == primary else f"{suite.name}@{policy}"


def plan_cells(
    suite: Suite,
    profile: str,
    *,
    only: str | None = None,
    seeds: int | None = None,
    threshold_policy: str | None = None,
    check_thresholds: bool = True,
) -> list[Cell]:
    """Expand ``suite`` under ``profile`` into cells (file order: blocks, models, ops, ranges).

    ``only``: the ``--only`` filter; ``seeds``: train seeds ``0..seeds-1`` in every cell instead of
    the profile's; ``threshold_policy``: primary policy instead of the suite's. Every cell is fully
    built (task, model, recipe, config) and its thresholds checked on a tiny sample, so an invalid
    suite fails here, before anything is trained or written.
    """
    import torch

    from nalm.metrics import THRESHOLD_POLICIES, threshold_estimate
    from nalm.published import PublishedLookupError, published_entry
    from nalm.training import ModelSpec

    src = suite.source
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
    prof = suite.profiles[profile]
    policies = suite.policies(threshold_policy)
    primary = policies[0]
    dtype = getattr(torch, suite.dtype)
    blocks = [b for b in suite.grid if prof.grid is None or b.name in prof.grid]

    overrides = [parse_filter(o.only) for o in prof.overrides]
    overrides_used: dict[str, set[int]] = {}  # cell id -> indices of the overrides it matched
    cells: list[Cell] = []
    checked_models: set[tuple[str, int, int]] = set()
    checked_thresholds: set[tuple[Any, str]] = set()
    for block in blocks:
        index = suite.grid.index(block)
        where = f"grid[{index}]"
        resolved_published = 0
        block_cells: list[Cell] = []
        for model_key in block.models:
            model = suite.models[model_key]
            label = model.display(model_key)
            for op in block.ops:
                for range_name in block.ranges or (None,):
                    cell_id = "/".join(p for p in (block.name, model_key, op, range_name) if p)
                    try:
                        task = build_task(suite, block, op, range_name)
                    except ConfigError as exc:
                        raise suite_error(src, where, f"cell {cell_id}: {exc}") from None
                    spec = ModelSpec(
                        tuple(model.units), task.in_features, task.out_features,
                        hidden=model.hidden, options=tuple(dict(o) for o in model.options),
                    )
                    shape = (model_key, task.in_features, task.out_features)
                    if shape not in checked_models:
                        try:
                            spec.build(0, dtype=dtype)
                        except (TypeError, ValueError) as exc:
                            raise suite_error(src, f"models.{model_key}", f"cannot build the model: {exc}") from None
                        checked_models.add(shape)
                    key = _CellKey(cell_id, block.name, model_key, label, op, range_name)
                    setting: dict[str, Any] = {}
                    for j, (o, sel) in enumerate(zip(prof.overrides, overrides)):
                        if all(t.matches(key) for t in sel):
                            setting.update(o.settings())
                            overrides_used.setdefault(cell_id, set()).add(j)
                    iterations = (
                        setting.get("iterations")
                        or block.iterations.get(profile)
                        or prof.iterations
                        or block.protocol_iterations
                        or suite.protocol_iterations
                    )
                    schedules = setting.get("schedules", prof.schedules)
                    try:
                        recipe = build_recipe(suite, prof, block, model, op, task, iterations, schedules)
                    except ConfigError as exc:
                        raise suite_error(src, f"{where}", f"cell {cell_id}: recipe: {exc}") from None
                    n_seeds = seeds or setting.get("seeds") or block.seeds.get(profile) or prof.seeds
                    for policy in policies:
                        if check_thresholds and (task, policy) not in checked_thresholds:
                            try:
                                threshold_estimate(task, policy, samples=2)
                            except ConfigError as exc:
                                if threshold_policy is not None and policy == threshold_policy:
                                    raise ConfigError(f"--threshold-policy: cell {cell_id}: {exc}") from None
                                field_name = (
                                    "threshold_policy" if policy == suite.threshold_policy
                                    else f"also_score[{suite.also_score.index(policy)}]"
                                )
                                raise suite_error(src, field_name, f"cell {cell_id}: {exc}") from None
                            checked_thresholds.add((task, policy))

                    base: dict[str, Any] = {
                        "suite": suite.name,
                        "profile": profile,
                        "block": block.name,
                        "cell": cell_id,
                        "model": label,
                        "model_key": model_key,
                        "operation": OP_LABELS.get(op, op),
                        "units": list(model.units),
                        "hidden": model.hidden,
                        "options": [dict(o) for o in model.options] or [{} for _ in model.units],
                        "task": task_json(block.task, task),
                        "iterations": iterations,
                        "protocol_iterations": block.protocol_iterations or suite.protocol_iterations,
                        "schedules": schedules,
                        "recipe": recipe_json(recipe),
                        "dtype": suite.dtype,
                    }
                    if range_name is not None:
                        interp, extrap = _range_spec(suite, range_name)
                        base["range"] = {"name": range_name, "interpolation": _plain(interp),
                                         "extrapolation": _plain(extrap)}
                    if block.published is not None:
                        ref = {
                            "source": block.published.source,
                            "task": block.published.task,
                            "operation": op,
                            "model": model.published or label,
                        }
                        if block.published.table is not None:
                            ref["table"] = block.published.table
                        try:
                            published_entry(ref["source"], ref["task"], op, ref["model"],
                                            table=block.published.table)
                        except PublishedLookupError:
                            pass  # this cell has no published numbers (e.g. printed as "---")
                        else:
                            base["published"] = ref
                            resolved_published += 1
                    configs = {
                        p: (store_suite_name(suite, p, primary), {**base, "threshold_policy": p})
                        for p in policies
                    }
                    block_cells.append(
                        Cell(
                            id=cell_id, block=block.name, model_key=model_key, model=label, op=op,
                            range=range_name, task=task, spec=spec, recipe=recipe,
                            seeds=tuple(range(n_seeds)), iterations=iterations, dtype=suite.dtype,
                            configs=configs,
                        )
                    )
        if block.published is not None and block_cells and not resolved_published:
            p = block.published
            raise suite_error(
                src, f"{where}.published",
                f"no published numbers for any cell (source={p.source!r}, task={p.task!r}"
                + (f", table={p.table!r}" if p.table else "") + ")",
            )
        cells.extend(block_cells)

    if prof.only is not None:
        selections = [parse_filter(text) for text in prof.only]
        for j, selection in enumerate(selections):
            if not any(all(t.matches(c) for t in selection) for c in cells):
                raise suite_error(src, f"profiles.{profile}.only[{j}]",
                                  f"matches no cell: {prof.only[j]!r}")
        cells = [c for c in cells if any(all(t.matches(c) for t in sel) for sel in selections)]
    used = set().union(*(overrides_used.get(c.id, set()) for c in cells))
    for j, o in enumerate(prof.overrides):
        if j not in used:
            raise suite_error(src, f"profiles.{profile}.overrides[{j}].only", f"matches no cell: {o.only!r}")
    if terms:
        cells = [c for c in cells if all(t.matches(c) for t in terms)]
        if not cells:
            raise ConfigError(f"--only: no cell of suite {suite.name} (profile {profile}) matches {only!r}")
    return cells


def total_work(cells: Sequence[Cell]) -> int:
    return sum(c.work for c in cells)
