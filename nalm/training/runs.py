"""The state of S runs trained as one batch: their stacked network, optimiser, masks, data and curves.

Everything that couples runs in a naive implementation is kept per run here, so the batch is
*exactly* S independent runs (see :mod:`nalm.training.trainer`). The update itself is
:class:`nalm.training.update.Update`; this module knows nothing of how a step is executed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call

from nalm.errors import ConfigError
from nalm.resources import format_bytes, host_memory_bytes
from nalm.tasks import GroupedTrainStream, Task
from nalm.units import ArithmeticUnit
from nalm.units.sparsity import sparsity_error

from .model import ModelSpec, stack_modules
from .recipe import TrainRecipe
from .schedules import ScheduleState

# Evaluation inputs are processed in chunks so that S runs × N rows never materialise at once.
_EVAL_ELEMENTS_PER_CHUNK = 1 << 24


@dataclass(frozen=True)
class RunGroup:
    """Runs of one task, scored against one threshold, trained in a batch with other groups."""

    task: Task
    seeds: tuple[int, ...]
    threshold: float


class HookContext:
    """What a hook may read or do (``recipe.HookContext``), backed by the batch."""

    def __init__(self, runs: BatchedRuns) -> None:
        self._runs = runs
        self.seeds = runs.seeds

    @property
    def last_interpolation_mse(self) -> Tensor:
        return self._runs.schedule_state.last_interpolation_mse

    @property
    def last_train_mse(self) -> Tensor:
        return self._runs.last_train_mse

    def reinitialize(self, runs: Tensor, step: int) -> None:
        self._runs.reinitialize(runs, step)


def machine_memory_bytes(device: torch.device) -> int | None:
    """Total memory of ``device`` (physical RAM for the CPU), or None when it cannot be read."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
    except (AssertionError, AttributeError, OSError, RuntimeError, ValueError):
        return None  # (a torch without CUDA asserts)
    return host_memory_bytes() if device.type == "cpu" else None


def check_batch_fits(
    runs: int,
    in_features: int,
    batch_size: int,
    dtype: torch.dtype,
    device: object = None,
    *,
    spec: ModelSpec | None = None,
) -> None:
    """Refuse, with the numbers, a batch that outgrows the device's memory before anything is
    allocated (10⁹ seeds, 10⁸ inputs or a hidden layer of 10⁹: a clear error in a second instead of
    a MemoryError after a long wait).

    The estimate is a lower bound, so it never refuses a batch that could train: one batch of
    training inputs (``runs × batch_size × in_features`` values, drawn every step) and, given the
    model's ``spec``, each run's parameters twice (a trained parameter has a value and a gradient;
    Adam keeps two more).
    """
    device = torch.device(device or "cpu")  # type: ignore[call-overload]
    width = torch.finfo(dtype).bits // 8
    inputs = runs * batch_size * in_features
    parameters = 0 if spec is None else 2 * runs * spec.parameter_values()
    needed = (inputs + parameters) * width
    total = machine_memory_bytes(device)
    if total is not None and needed > total:
        what = f"{runs:,} runs × {batch_size} rows × {in_features:,} inputs"
        if parameters:
            what += f" and {spec.parameter_values():,} parameters per run"  # type: ignore[union-attr]
        raise ConfigError(
            f"batch too large: {what} need at least {format_bytes(needed)}, but {device} has "
            f"{format_bytes(total)}; train fewer runs at once (or fewer inputs, a smaller model)"
        )


def parameter_groups(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    """The trainable parameters of a (stacked) model by group (``recipe.PARAMETER_GROUPS``): each
    unit's ``gate_parameters`` are "gate", all others "weights"; in ``model.parameters()`` order."""
    gates = {
        id(p)
        for m in model.modules()
        if isinstance(m, ArithmeticUnit)
        for name, p in m.named_parameters(recurse=False)
        if name in m.gate_parameters
    }
    groups: dict[str, list[torch.nn.Parameter]] = {"weights": [], "gate": []}
    for p in model.parameters():
        if p.requires_grad:
            groups["gate" if id(p) in gates else "weights"].append(p)
    return groups


class BatchedRuns:
    """S runs of one network and recipe (several tasks allowed: one :class:`RunGroup` each)."""

    def __init__(
        self,
        spec: ModelSpec,
        groups: Sequence[RunGroup],
        recipe: TrainRecipe,
        *,
        device: object,
        dtype: torch.dtype,
    ) -> None:
        if not groups:
            raise ValueError("groups: need at least one group of runs")
        for group in groups:
            if len(group.seeds) == 0:
                raise ValueError("seeds: need at least one run")
            if len(set(group.seeds)) != len(group.seeds):
                raise ValueError("seeds: must be distinct")
            task = group.task
            if (task.in_features, task.out_features) != (spec.in_features, spec.out_features):
                raise ValueError(
                    f"model maps {spec.in_features}→{spec.out_features} but the task has "
                    f"{task.in_features} inputs and {task.out_features} outputs"
                )
        self.groups = list(groups)
        self.seeds = [int(s) for g in self.groups for s in g.seeds]  # repeats across groups allowed
        ends = np.cumsum([len(g.seeds) for g in self.groups]).tolist()
        self.slices = [slice(a, b) for a, b in zip([0] + ends[:-1], ends)]
        lr = recipe.optimizer.lr
        if isinstance(lr, tuple) and len(lr) != len(self.seeds):
            raise ValueError(f"lr: {len(lr)} per-run learning rates for {len(self.seeds)} runs")
        self.spec, self.recipe = spec, recipe
        self.device, self.dtype = torch.device(device or "cpu"), dtype  # type: ignore[call-overload]
        runs = len(self.seeds)
        check_batch_fits(runs, spec.in_features, recipe.batch_size, dtype, self.device, spec=spec)
        # One per run, in the training dtype: a comparison with a Python float rounds it the same way.
        self.thresholds = torch.tensor(
            [g.threshold for g in self.groups for _ in g.seeds], dtype=dtype, device=self.device
        )
        self.model = stack_modules(
            [spec.build(s, device=self.device, dtype=dtype) for s in self.seeds]
        )
        self.model.train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.param_groups = parameter_groups(self.model)
        named = set(recipe.update_cycle) | set(recipe.penalty_steps.groups if recipe.penalty_steps else ())
        for group in sorted(named):
            if not self.param_groups[group]:
                raise ConfigError(
                    f"update_cycle/penalty_steps: the model {spec.describe()} has no {group!r} parameters"
                )
        self.optimizer = recipe.optimizer.build(self.params)
        self.alive = torch.ones(runs, dtype=torch.bool, device=self.device)
        self.diverged_at = torch.full((runs,), -1, dtype=torch.long)
        self.stopped = torch.zeros(runs, dtype=torch.bool, device=self.device)
        self.schedule_state = ScheduleState(
            last_interpolation_mse=torch.full((runs,), float("inf"), dtype=dtype, device=self.device)
        )
        self.context = HookContext(self)
        self.last_train_mse = torch.full((runs,), float("inf"), dtype=dtype, device=self.device)
        self.eval_sets = {
            split: [
                g.task.evaluation_set(split, list(g.seeds), device=self.device, dtype=dtype)
                for g in self.groups
            ]
            for split in ("interpolation", "extrapolation")
        }
        # One prepared plan draws every group's batch (shared draws where possible), into the same
        # buffers at every step: a batch is used up by its step before the next one is drawn.
        self.stream = GroupedTrainStream(
            [(g.task, g.seeds) for g in self.groups], device=self.device, dtype=dtype, reuse_output=True
        )
        self.layers = [m for m in self.model.modules() if isinstance(m, ArithmeticUnit)]
        # Only layers that override the contract's no-op methods are called in the hot loop.
        self.projecting = [m for m in self.layers if type(m).project_ is not ArithmeticUnit.project_]
        self.regularized = [
            m for m in self.layers if type(m).regularizers is not ArithmeticUnit.regularizers
        ]
        self.any_frozen = False
        self.curve_steps: list[int] = []
        self.curve_values: list[Tensor] = []  # each [3, S]: interpolation, extrapolation, sparsity
        self.stopped_at = torch.full((runs,), -1, dtype=torch.long)
        self.logged_points = torch.zeros(runs, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.seeds)

    def none_left(self) -> bool:
        """Whether every run has frozen (diverged or stopped early): nothing is left to train."""
        return self.any_frozen and not bool((self.alive & ~self.stopped).any())

    # -- data -------------------------------------------------------------------------------
    def batch(self, step: int | Tensor) -> tuple[Tensor, Tensor]:
        """Every run's training batch at ``step``; groups' batches are concatenated in order.
        Valid until the next call (the stream refills the same buffers)."""
        return self.stream(step, self.recipe.batch_size)

    # -- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def _mse(self, x: Tensor, y: Tensor, runs_slice: slice) -> Tensor:
        """MSE ``[s]`` of the runs in ``runs_slice`` on their evaluation set."""
        if len(self.groups) == 1:
            model: Callable[[Tensor], Tensor] = self.model
        else:
            # This group's runs only: each group has its own evaluation inputs.
            state = {n: t[runs_slice] for n, t in self.model.named_parameters()}
            state.update({n: t[runs_slice] for n, t in self.model.named_buffers()})
            model = lambda inputs: functional_call(self.model, state, (inputs,))  # noqa: E731
        runs, rows = y.shape[0], y.shape[-2]
        # Rows are x's second axis: x is [S or 1, N, I], or [S or 1, N, T, I] for sequences.
        per_row = x[0, 0].numel() if x.dim() > 3 else x.shape[-1]
        # Sized for a unit that expands its input to [S, rows, O, I] (NMU as a first layer).
        chunk = max(1, _EVAL_ELEMENTS_PER_CHUNK // max(1, runs * per_row))
        total = torch.zeros(runs, dtype=torch.float64, device=y.device)
        for start in range(0, rows, chunk):
            pred = model(x[:, start : start + chunk])
            err = (pred - y[..., start : start + chunk, :]).to(torch.float64)
            total += err.square().sum(dim=(-2, -1))
        return (total / (rows * y.shape[-1])).to(self.dtype)

    @torch.no_grad()
    def evaluate(self, step: int) -> Tensor:
        """Interpolation and extrapolation MSE and sparsity error of every run, ``[3, S]``; logged."""
        self.model.eval()
        try:
            interpolation, extrapolation = (
                torch.cat([self._mse(x, y, runs) for (x, y), runs in zip(self.eval_sets[split], self.slices)])
                for split in ("interpolation", "extrapolation")
            )
            sparsity = sparsity_error(self.model).to(self.dtype)
        finally:
            self.model.train()
        values = torch.stack([interpolation, extrapolation, sparsity])
        # Runs that diverged or stopped are not logged any more (as the reference logs end).
        logged = self.alive & ~self.stopped
        self.logged_points += logged.long().cpu()
        self.curve_steps.append(step)
        self.curve_values.append(
            torch.where(logged, values, torch.full_like(values, float("nan"))).cpu()
        )
        self.schedule_state.last_interpolation_mse = torch.where(
            logged, interpolation, self.schedule_state.last_interpolation_mse
        )
        return values

    # -- hooks' extension point ---------------------------------------------------------------
    @torch.no_grad()
    def reinitialize(self, runs: Tensor, step: int) -> None:
        for index in torch.nonzero(runs.cpu()).flatten().tolist():
            # A fresh draw that depends only on (seed, step), so it is the same in any batch.
            fresh = self.spec.build(
                hash((self.seeds[index], step)) & 0x7FFFFFFF, device=self.device, dtype=self.dtype
            )
            for name, p in fresh.named_parameters():
                self.model.get_parameter(name)[index].copy_(p)
