"""The objects of one cell — its task and its train recipe — from a suite's definitions; and, for a
stored run, its task and model back from the config the store keeps (:func:`task_from_config`,
:func:`spec_from_config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from nalm.errors import ConfigError
from nalm.tasks import Task
from nalm.tasks.article import ArticleTask
from nalm.tasks.npu_simple import NPUSimpleTask
from nalm.tasks.presets import (
    PRIMER_RANGES,
    PRIMER_SUBSET_RATIOS,
    madsen_simple_task,
    madsen_task,
    primer_task,
)
from nalm.tasks.static import SingleModuleTask, StaticArithmeticTask
from nalm.training import ModelSpec, OptimizerSpec, TrainRecipe
from nalm.training.recipes import default_recipe

from .schema import GridBlock, ModelDef, ProfileDef, Suite

__all__ = ["build_recipe", "build_task", "range_spec", "spec_from_config", "task_from_config"]


def range_spec(suite: Suite, name: str) -> tuple[Any, Any]:
    """``(interpolation, extrapolation)`` of a range named in a suite: its own, else a Primer preset."""
    if name in suite.ranges:
        rd = suite.ranges[name]
        return rd.interpolation, rd.extrapolation
    pair = PRIMER_RANGES[name]
    return pair.interpolation, pair.extrapolation


def build_task(suite: Suite, block: GridBlock, op: str, range_name: str | None) -> Task:
    """The task object of one cell (validated by its own constructor)."""
    kind = block.task
    if kind == "static":
        kwargs: dict[str, Any] = {}
        for name in ("input_size", "subset_ratio", "overlap_ratio"):
            if getattr(block, name) is not None:
                kwargs[name] = getattr(block, name)
        if range_name is not None:
            kwargs["interpolation_range"], kwargs["extrapolation_range"] = range_spec(suite, range_name)
        if block.allow_zero_denominator:
            kwargs["allow_zero_denominator"] = True
        return madsen_task(op, **kwargs)
    if kind == "static_simple":
        return madsen_simple_task(op)
    if kind == "primer":
        n = block.input_size or 2
        assert range_name is not None
        if range_name in PRIMER_RANGES and range_name not in suite.ranges:
            extra = {"allow_zero_denominator": True} if block.allow_zero_denominator else {}
            return primer_task(op, range_name, n, **extra)
        interp, extrap = range_spec(suite, range_name)
        return SingleModuleTask(
            op, input_size=n, subset_ratio=PRIMER_SUBSET_RATIOS[n], overlap_ratio=0.0,
            interpolation_range=interp, extrapolation_range=extrap,
            allow_zero_denominator=block.allow_zero_denominator,
        )
    if kind == "article":
        return ArticleTask(op)  # type: ignore[arg-type]
    return NPUSimpleTask()


def build_recipe(
    suite: Suite,
    profile: ProfileDef,
    block: GridBlock,
    model: ModelDef,
    op: str,
    task: Task,
    iterations: int,
    schedules: str | None = None,
) -> TrainRecipe:
    """The cell's TrainRecipe with ``iterations`` updates.

    ``kind = "default"``: the unit's reference recipe (:func:`nalm.training.recipes.default_recipe`).
    Its schedules are those of the protocol run of this block (``protocol_iterations``); with
    ``schedules = "scale"`` they are shrunk by ``iterations / protocol_iterations`` (a short run has
    the same shape), with ``"truncate"`` they are kept at the protocol's steps (a short run is the
    first ``iterations`` updates of the protocol run). ``schedules`` defaults to the profile's (a
    profile override may set it per cell).
    """
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


#: The task class of each ``task.kind`` a stored config names (``task_json`` wrote its fields).
_TASK_KINDS: dict[str, Any] = {
    "static": StaticArithmeticTask,
    "static_simple": StaticArithmeticTask,
    "primer": SingleModuleTask,
    "article": ArticleTask,
    "npu_simple": NPUSimpleTask,
}


def task_from_config(config: Mapping[str, Any]) -> Task:
    """The task of a stored cell, rebuilt from its config's ``task`` (the inverse of ``task_json``)."""
    data = config.get("task")
    if not isinstance(data, Mapping) or data.get("kind") not in _TASK_KINDS:
        kind = data.get("kind") if isinstance(data, Mapping) else None
        raise ConfigError(f"stored config: no task of a known kind (got {kind!r})")
    fields = {k: v for k, v in data.items() if k != "kind"}
    try:
        return _TASK_KINDS[data["kind"]](**fields)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"stored config: cannot rebuild its {data['kind']} task ({exc})") from None


def spec_from_config(config: Mapping[str, Any], task: Task) -> ModelSpec:
    """The model of a stored cell (units, hidden size, options), for ``task``'s sizes."""
    try:
        units = tuple(config["units"])
        options = tuple(dict(o) for o in config.get("options") or ())
        return ModelSpec(units, task.in_features, task.out_features, hidden=int(config.get("hidden", 2)),
                         options=options)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"stored config: cannot rebuild its model ({exc})") from None
