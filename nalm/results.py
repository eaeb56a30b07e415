"""Plain records of training results, shared by the trainer, the results store and the report.

No torch here: the store and the report import this module and must stay torch-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

RunStatus = Literal["ok", "diverged", "failed"]

#: What ``nalm.explain`` can say of a run's parameters (see :mod:`nalm.formula`):
#: ``"exact_target"`` — every weight snaps to its unit's exact set and the formula equals the task's
#: target symbolically; ``"exact_other"`` — it snaps, to another formula; ``"exact"`` — it snaps and
#: there is no target to compare with (no task given); ``"not_snappable"`` — some weight or gate the
#: output depends on is not near an exact value.
FormulaOutcome = Literal["exact_target", "exact_other", "exact", "not_snappable"]
FORMULA_OUTCOMES: tuple[str, ...] = ("exact_target", "exact_other", "exact", "not_snappable")

#: Run metrics ``test_mse_len_<L>``: a sequential MNIST run's test MSE at length L (written after
#: training by nalm.training.sequential_mnist, read by nalm.report.sequential_mnist).
SEQUENTIAL_MNIST_MSE_PREFIX = "test_mse_len_"


@dataclass
class LearningCurve:
    """Per-run values at each evaluation step (columns of equal length)."""

    step: list[int] = field(default_factory=list)
    interpolation_mse: list[float] = field(default_factory=list)
    extrapolation_mse: list[float] = field(default_factory=list)
    sparsity_error: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class RunParameters:
    """A run's parameters, by their ``named_parameters()`` path (``"0.W"``, ``"1.W_hat"``), as numpy
    arrays in the dtype the run trained in (no run axis).

    ``selected`` are the parameters at the step scored as the run's result (``selected_step``, the
    best interpolation error; see :func:`nalm.training.train`), ``final`` those after the last update.
    ``selected_step`` is the step ``selected`` was taken at: the run's ``selected_step`` except in the
    one case the trainer documents (a run that logs more than ``SELECTION_WINDOW`` points and stops
    early), where it is the best step of the whole run.
    """

    selected_step: int
    selected: Mapping[str, Any]
    final: Mapping[str, Any]


@dataclass(frozen=True)
class RunFormula:
    """What the formula read-out said of a run's selected parameters: its outcome and the formula
    (``None`` when not snappable). Written by the benchmark runner, read by the report."""

    outcome: FormulaOutcome
    formula: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in FORMULA_OUTCOMES:
            raise ValueError(f"outcome must be one of {FORMULA_OUTCOMES}, got {self.outcome!r}")

    @property
    def recovered(self) -> bool:
        """The learned formula is the task's target."""
        return self.outcome == "exact_target"


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
    # Arrays: left out of ==, repr and to_dict (a RunResult compares and prints as its scores).
    parameters: RunParameters | None = field(default=None, repr=False, compare=False)
    formula: RunFormula | None = None
    #: Measurements taken after training, by name (e.g. the NPU paper's per-output errors, Trask's
    #: normalised error; see :mod:`nalm.training.evaluation`). NaN where a run has no value.
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The scores, curve and formula as plain data (the parameters are left out: arrays)."""
        data = asdict(replace(self, parameters=None))
        del data["parameters"]
        return data
