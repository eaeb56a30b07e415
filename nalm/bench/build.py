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
from nalm.tasks.heim2020 import NPULargeTask
from nalm.tasks.inalu_data import INALUArithmeticTask
from nalm.tasks.mnist import FIXTURE, SequentialMnistTask
from nalm.tasks.npu_simple import NPUSimpleTask
from nalm.tasks.presets import (
    PRIMER_RANGES,
    PRIMER_SUBSET_RATIOS,
    madsen_simple_task,
    madsen_task,
    primer_task,
)
from nalm.tasks.recurrent import RecurrentArithmeticTask
from nalm.tasks.static import SingleModuleTask, StaticArithmeticTask
from nalm.training import ModelSpec, OptimizerSpec, TrainRecipe
from nalm.training.model import SequentialMnistSpec
from nalm.training.recipes import default_recipe
from nalm.training.schedules import Constant, LinearRamp, Schedule, StepExponential

from .schema import (
    ConstantDef,
    GridBlock,
    LinearRampDef,
    ModelDef,
    ProfileDef,
    RegularizerDef,
    StepExponentialDef,
    Suite,
)

__all__ = ["build_recipe", "build_task", "model_spec", "range_spec", "spec_from_config", "task_from_config"]


def is_recurrent(task: Task) -> bool:
    """Whether a task's inputs are sequences, so its model is a recurrent network (the recurrent task)."""
    return getattr(task, "name", None) == "recurrent"


def is_sequential_mnist(task: Task) -> bool:
    """Whether a task is sequential MNIST: its model is a CNN before a cell, and its suite counts
    iterations and evaluations in epochs."""
    return getattr(task, "name", None) == "sequential_mnist"


def model_spec(units: tuple[str, ...], task: Task, *, hidden: int = 2,
               options: tuple[Mapping[str, Any], ...] = (),
               network: Mapping[str, Any] | None = None) -> ModelSpec:
    """The network of a cell: a chain of units, a recurrent network for sequences of vectors, or the
    sequential MNIST network (CNN -> cell; its settings in ``network``, see
    :class:`~nalm.training.model.SequentialMnistSpec`)."""
    if is_sequential_mnist(task):
        network = dict(network or {})
        unknown = sorted(set(network) - set(SequentialMnistSpec.NETWORK_FIELDS))
        if unknown:
            raise ConfigError(f"network: unknown setting {unknown[0]!r}; expected "
                              f"{', '.join(SequentialMnistSpec.NETWORK_FIELDS)}")
        return SequentialMnistSpec(units, task.in_features, task.out_features, hidden=hidden, options=options,
                                   **network)
    if network:
        raise ConfigError(f"network: a setting of the sequential MNIST network only, not of task "
                          f"{getattr(task, 'name', type(task).__name__)!r}")
    return ModelSpec(units, task.in_features, task.out_features, hidden=hidden, options=options,
                     recurrent=is_recurrent(task))


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
        for name in ("input_size", "subset_ratio", "overlap_ratio", "num_subsets"):
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
    if kind == "recurrent":
        kwargs = {}
        for name in ("input_size", "subset_ratio", "overlap_ratio", "num_subsets", "seq_length",
                     "extrapolation_length"):
            if getattr(block, name) is not None:
                kwargs[name] = getattr(block, name)
        if range_name is not None:
            kwargs["interpolation_range"], kwargs["extrapolation_range"] = range_spec(suite, range_name)
        return RecurrentArithmeticTask(op, **kwargs)
    if kind == "sequential_mnist":
        kwargs = {"length": block.seq_length} if block.seq_length is not None else {}
        if block.extrapolation_lengths is not None:
            kwargs["extrapolation_lengths"] = block.extrapolation_lengths
        if block.digits is not None:
            kwargs["digits"] = block.digits
        # the data: $NALM_MNIST_DIR (a directory or mnist.npz), or "fixture" for the generated digits
        return SequentialMnistTask(op, **kwargs)  # type: ignore[arg-type]
    if kind == "article":
        return ArticleTask(op)  # type: ignore[arg-type]
    if kind == "inalu_arith":
        assert range_name is not None
        rd = suite.ranges[range_name]
        dist = rd.distribution or "uniform"
        return INALUArithmeticTask(
            op, interpolation=(dist, *rd.interpolation), extrapolation=(dist, *rd.extrapolation)
        )
    if kind == "npu_large":
        return NPULargeTask(op, **({"input_size": block.input_size} if block.input_size else {}))
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
    cell_protocol = block.protocol_iterations or suite.protocol_iterations
    truncate = (schedules or profile.schedules) == "truncate"
    if is_sequential_mnist(task):
        if r.kind != "plain":
            raise ConfigError("recipe.kind: task 'sequential_mnist' needs kind = 'plain' (Adam, the script's)")
        # The suite counts epochs, as the reference script does (--max-epochs, an evaluation every 5):
        # the same number of updates for every seed (each run's fork has as many sequences).
        per_epoch = task.steps_per_epoch(batch_size)  # type: ignore[attr-defined]
        iterations, eval_every = iterations * per_epoch, eval_every * per_epoch
        cell_protocol *= per_epoch
    if r.kind == "plain":
        recipe = TrainRecipe(
            iterations=iterations,
            optimizer=OptimizerSpec(r.optimizer, model.lr or r.lr),  # type: ignore[arg-type]
            batch_size=batch_size,
            eval_every=eval_every,
        )
        return _with_selection(
            _with_model_regularizers(recipe, model, 1.0 if truncate else iterations / cell_protocol), suite
        )
    unit = model.recipe_unit or model.units[-1]
    kwargs = dict(
        setting=r.setting, input_size=task.in_features, lr=model.lr, batch_size=batch_size,
        eval_every=eval_every,
    )
    protocol_recipe = default_recipe(unit, op, **kwargs)  # type: ignore[arg-type]
    recipe_protocol = protocol_recipe.iterations  # what default_recipe's schedules are written for
    if not truncate:
        schedule_length = max(1, round(recipe_protocol * iterations / cell_protocol))
    else:
        schedule_length = recipe_protocol
    recipe = default_recipe(unit, op, iterations=schedule_length, **kwargs)  # type: ignore[arg-type]
    recipe = replace(recipe, iterations=iterations)
    return _with_selection(
        _with_model_regularizers(recipe, model, 1.0 if truncate else iterations / cell_protocol), suite
    )


def _with_selection(recipe: TrainRecipe, suite: Suite) -> TrainRecipe:
    """The suite's scoring point (``selection``) and window (``selection_window``) where it sets
    them, else the recipe's own."""
    if suite.selection is not None:
        recipe = replace(recipe, selection=suite.selection)
    if suite.selection_window is not None:
        recipe = replace(recipe, selection_window=suite.selection_window)
    return recipe


def _with_model_regularizers(recipe: TrainRecipe, model: ModelDef, factor: float) -> TrainRecipe:
    """The recipe with the model's own regularizer schedules (written in the block's protocol steps,
    here scaled by ``factor`` as ``default_recipe`` scales its own) replacing or adding to its own."""
    if not model.regularizers:
        return recipe
    regularizers = dict(recipe.regularizers)
    for name, d in model.regularizers.items():
        schedule = _schedule(d, factor)
        if schedule is None:
            regularizers.pop(name, None)
        else:
            regularizers[name] = schedule
    return replace(recipe, regularizers=regularizers)


def _schedule(d: RegularizerDef, factor: float) -> Schedule | None:
    if isinstance(d, LinearRampDef):
        start = round(d.start * factor)  # rounded as default_recipe rounds its ramps
        return LinearRamp(float(d.scale), start, max(round(d.end * factor), start + 1))
    if isinstance(d, ConstantDef):
        return Constant(float(d.scale))
    if isinstance(d, StepExponentialDef):
        return StepExponential(float(d.start), float(d.end), float(d.factor), max(1, round(d.every * factor)))
    return None  # "off"


#: The task class of each ``task.kind`` a stored config names (``task_json`` wrote its fields).
_TASK_KINDS: dict[str, Any] = {
    "static": StaticArithmeticTask,
    "static_simple": StaticArithmeticTask,
    "primer": SingleModuleTask,
    "article": ArticleTask,
    "npu_simple": NPUSimpleTask,
    "inalu_arith": INALUArithmeticTask,
    "npu_large": NPULargeTask,
    "recurrent": RecurrentArithmeticTask,
    "sequential_mnist": lambda **fields: _sequential_mnist_from_config(**fields),
}


def _sequential_mnist_from_config(*, data: str, train_images: int | None = None, test_images: int | None = None,
                                  **fields: Any) -> SequentialMnistTask:
    """A stored sequential MNIST task: the fixture, or MNIST from ``$NALM_MNIST_DIR`` (checked to have
    the stored counts: other files would be another task)."""
    if data == FIXTURE:
        return SequentialMnistTask(**fields, source=FIXTURE)
    task = SequentialMnistTask(**fields)
    counts = (len(task.data.train_labels), len(task.data.test_labels))
    if counts != (train_images, test_images):
        raise ConfigError(f"stored config: its MNIST had {train_images:,} + {test_images:,} images, "
                          f"{task.source} has {counts[0]:,} + {counts[1]:,}")
    return task


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
    """The model of a stored cell (units, hidden size, options; the sequential MNIST network's
    ``network``), for ``task``'s sizes."""
    try:
        units = tuple(config["units"])
        options = tuple(dict(o) for o in config.get("options") or ())
        return model_spec(units, task, hidden=int(config.get("hidden", 2)), options=options,
                          network=config.get("network"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"stored config: cannot rebuild its model ({exc})") from None
