"""Training recipes: optimiser, iterations, regularizer schedules and the small extension points
(gradient clipping per run, hooks) that unit-specific protocols need."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Protocol, Sequence

import torch
from torch import Tensor, nn

from nalm.errors import ConfigError
from nalm.metrics import SELECTION_WINDOW

from .optim import StackedAdam, StackedRMSPropTF1

from .schedules import Schedule

OptimizerName = Literal["adam", "rmsprop", "sgd", "rmsprop_tf1"]
#: What a parameter of a unit is, for recipes that update parts of a model in turn: a unit's
#: ``gate_parameters`` are "gate", every other parameter is "weights".
PARAMETER_GROUPS: tuple[str, ...] = ("weights", "gate")
#: How a run's scored step is chosen (nalm.metrics.scoring.select_index).
SELECTIONS: tuple[str, ...] = ("best", "final")


#: Regularizers over every parameter of the network rather than one unit's: a recipe may schedule
#: them under these names in ``regularizers`` (the NPU paper's ``β·‖θ‖``, Heim et al. 2020).
#: ``"param_norms"``: Σ over the parameter arrays P of their Frobenius norm ‖P‖₂ — what the paper's
#: Julia scripts compute with ``norm(ps, 1)`` over Flux ``Params`` (Julia's norm of a collection
#: takes each element's own 2-norm); its gradient at an all-zero array is 0 (torch's subgradient).
#: ``"param_l1"``: the element-wise Σ|θ| the paper's text writes.
MODEL_REGULARIZERS: tuple[str, ...] = ("param_norms", "param_l1")


def model_regularizer(name: str, params: Sequence[Tensor]) -> Tensor:
    """Per-run value ``[S]`` of a :data:`MODEL_REGULARIZERS` term over stacked parameters ``[S, ...]``."""
    if name == "param_norms":
        return torch.stack([torch.linalg.vector_norm(p.flatten(1), dim=1) for p in params]).sum(dim=0)
    if name == "param_l1":
        return torch.stack([p.abs().flatten(1).sum(dim=1) for p in params]).sum(dim=0)
    raise ConfigError(f"regularizers: unknown model regularizer {name!r} ({', '.join(MODEL_REGULARIZERS)})")


@dataclass(frozen=True)
class OptimizerSpec:
    """``lr`` is one value, or (Adam only) a tuple with one learning rate per run."""

    name: OptimizerName = "adam"
    lr: float | tuple[float, ...] = 1e-3
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in ("adam", "rmsprop", "sgd", "rmsprop_tf1"):
            raise ConfigError(f"optimizer: unknown optimizer {self.name!r} (adam, rmsprop, sgd, rmsprop_tf1)")
        lrs = self.lr if isinstance(self.lr, tuple) else (self.lr,)
        if not lrs or not all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in lrs):
            raise ConfigError(f"lr: must be positive and finite, got {self.lr}")
        if isinstance(self.lr, tuple) and self.name != "adam":
            raise ConfigError("lr: a learning rate per run is supported for adam only")

    def check_dtype(self, dtype: torch.dtype) -> None:
        """:class:`ConfigError` when a learning rate is not a finite number of the run's ``dtype``
        (``1e300`` in float32 is infinite: every update would be inf or NaN)."""
        largest = torch.finfo(dtype).max
        lrs = self.lr if isinstance(self.lr, tuple) else (self.lr,)
        for v in lrs:
            if v > largest:
                raise ConfigError(
                    f"lr: {v:g} is beyond {str(dtype).removeprefix('torch.')}'s largest number "
                    f"({largest:.2g}), the dtype the run trains in"
                )

    def build(self, params: Sequence[nn.Parameter]) -> Any:
        """An optimiser over stacked parameters. Every one used here is elementwise, so one
        optimiser over ``[S, ...]`` tensors is exactly S independent optimisers."""
        if self.name == "adam":
            return StackedAdam(params, lr=self.lr, **dict(self.options))
        if self.name == "rmsprop_tf1":
            return StackedRMSPropTF1(params, lr=float(self.lr), **dict(self.options))  # type: ignore[arg-type]
        cls = {"rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}[self.name]
        options = dict(self.options)
        options.setdefault("foreach", True)
        return cls(params, lr=self.lr, **options)


class HookContext(Protocol):
    """What a hook may read or do; implemented by the trainer."""

    seeds: Sequence[int]
    last_interpolation_mse: Tensor  # [S]
    last_train_mse: Tensor  # [S]: each run's batch MSE of the update just made (before it)

    def reinitialize(self, runs: Tensor, step: int) -> None:
        """Re-draw the parameters of the given runs (bool mask [S]); optimiser state is kept."""
        ...


class TrainingHook(Protocol):
    """``start`` is called once per training (reset any state there, so a recipe can be reused);
    ``after_step`` after every update, after projection. Keep it cheap: it runs in the hot loop."""

    def start(self, runs: int, iterations: int) -> None: ...

    def after_step(self, step: int, model: nn.Module, context: HookContext) -> None: ...


@dataclass(frozen=True)
class PenaltySteps:
    """Extra optimiser steps after an update that minimise only a saturation penalty (the iNALU
    reference's ``train_op_reg_w`` then ``train_op_reg_g``, daschloer/inalu).

    After the update of step ``t >= after``, every run whose training MSE of that update (the batch
    MSE before it) is below ``below`` takes one step per group in ``groups``, in order, on
    ``scale · Σ_P mean(max(target − |P|, 0))`` over the group's raw parameters P (each run its own
    mean over P's entries), with the recipe's gradient clipping. Runs that do not qualify are left as
    they are, optimiser state included; so the optimiser must update runs selectively
    (``rmsprop_tf1``). The penalty pushes every raw parameter to |P| ≥ target, saturating tanh and σ.
    """

    scale: float = 0.05
    target: float = 20.0
    groups: tuple[str, ...] = ("weights", "gate")
    after: int = 11_000
    below: float = 1.0

    def __post_init__(self) -> None:
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ConfigError(f"penalty_steps.scale: must be positive and finite, got {self.scale}")
        if not (self.target > 0 and math.isfinite(self.target)):
            raise ConfigError(f"penalty_steps.target: must be positive and finite, got {self.target}")
        if not self.groups or any(g not in PARAMETER_GROUPS for g in self.groups):
            raise ConfigError(f"penalty_steps.groups: need names from {PARAMETER_GROUPS}, got {self.groups}")
        if self.after < 0:
            raise ConfigError(f"penalty_steps.after: must be >= 0, got {self.after}")


@dataclass(frozen=True)
class TrainRecipe:
    """How to train one cell. ``iterations`` updates (t = 0 … iterations−1); evaluation before the
    update whenever ``t % eval_every == 0``, and once more after the last update."""

    iterations: int
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    batch_size: int = 128
    eval_every: int = 1000
    regularizers: Mapping[str, Schedule] = field(default_factory=dict)
    clip_grad_value: float | None = None
    clip_grad_norm: float | None = None  # per run: never a norm across runs
    hooks: tuple[TrainingHook, ...] = ()
    early_stop_after: int | None = None  # stop a run after K consecutive solved evaluations
    record_train_loss: bool = False
    #: Parameter groups updated in turn: update t trains only the parameters of group
    #: ``update_cycle[t % len]`` (the others, and their optimiser state, stay as they are). Empty:
    #: every update trains every parameter. The iNALU reference: 8 × "weights", 2 × "gate".
    update_cycle: tuple[str, ...] = ()
    penalty_steps: PenaltySteps | None = None
    #: Which logged point a run is scored at: "best" (the best interpolation MSE in the selection
    #: window, Madsen & Johansen) or "final" (the last logged point, as the iNALU reference's results.py).
    selection: str = "best"
    #: How many of a run's last logged points the "best" selection searches (Madsen & Johansen's R
    #: scripts: 5,000 for the static task; ``function_task_recurrent.r``: 2,000).
    selection_window: int = SELECTION_WINDOW

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ConfigError(f"iterations: must be >= 0, got {self.iterations}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be positive, got {self.batch_size}")
        if self.eval_every < 1:
            raise ConfigError(f"eval_every: must be positive, got {self.eval_every}")
        for name, value in (("clip_grad_value", self.clip_grad_value), ("clip_grad_norm", self.clip_grad_norm)):
            if value is not None and not value > 0:
                raise ConfigError(f"{name}: must be positive, got {value}")
        if self.early_stop_after is not None and self.early_stop_after < 1:
            raise ConfigError(f"early_stop_after: must be >= 1, got {self.early_stop_after}")
        if any(g not in PARAMETER_GROUPS for g in self.update_cycle):
            raise ConfigError(f"update_cycle: need names from {PARAMETER_GROUPS}, got {self.update_cycle}")
        if (self.update_cycle or self.penalty_steps is not None) and self.optimizer.name == "adam":
            # StackedAdam updates every parameter it holds at every step
            raise ConfigError("update_cycle/penalty_steps: need an optimizer that skips parameters "
                              "without gradients (rmsprop, sgd, rmsprop_tf1), not adam")
        if self.penalty_steps is not None and self.optimizer.name != "rmsprop_tf1":
            raise ConfigError("penalty_steps: need the optimizer rmsprop_tf1 (it updates runs selectively)")
        if isinstance(self.selection_window, bool) or not isinstance(self.selection_window, int) or (
            self.selection_window < 1
        ):
            raise ConfigError(f"selection_window: must be a positive integer, got {self.selection_window!r}")
        if self.selection not in SELECTIONS:
            raise ConfigError(f"selection: expected one of {', '.join(SELECTIONS)}, got {self.selection!r}")
