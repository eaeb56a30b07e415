"""Plain records of training results, shared by the trainer, the results store and the report.

No torch here: the store and the report import this module and must stay torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

RunStatus = Literal["ok", "diverged", "failed"]


@dataclass
class LearningCurve:
    """Per-run values at each evaluation step (columns of equal length)."""

    step: list[int] = field(default_factory=list)
    interpolation_mse: list[float] = field(default_factory=list)
    extrapolation_mse: list[float] = field(default_factory=list)
    sparsity_error: list[float] = field(default_factory=list)


@dataclass
class RunResult:
    """One trained run, scored the way the papers score it (see nalm.metrics)."""

    seed: int
    status: RunStatus
    solved: bool
    solved_at: int | None  # first evaluated step whose extrapolation MSE is under the threshold
    selected_step: int  # evaluation step with the best interpolation MSE
    interpolation_mse: float  # at the selected step
    extrapolation_mse: float  # at the selected step
    sparsity_error: float  # at the selected step
    threshold: float
    iterations: int  # optimiser updates performed (diverged runs stop early)
    diverged_at: int | None = None
    curve: LearningCurve = field(default_factory=LearningCurve)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
