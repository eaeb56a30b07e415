"""Regularizer schedules: the scale a loop applies to a unit's named regularizer at step t.

A schedule is called as ``schedule(step, state)`` and returns a float, or a tensor ``[S]`` when the
scale differs per run (``state`` carries per-run training state such as the last logged
interpolation MSE, which iNALU's rule needs). ``step`` is the 0-based update counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from torch import Tensor

from nalm.errors import ConfigError


@dataclass
class ScheduleState:
    """Per-run values a schedule may condition on; maintained by the trainer."""

    last_interpolation_mse: Tensor  # [S], +inf before the first evaluation


@runtime_checkable
class Schedule(Protocol):
    def __call__(self, step: int, state: ScheduleState) -> float | Tensor: ...


@dataclass(frozen=True)
class Constant:
    """The same scale ``value`` at every step."""

    value: float

    def __call__(self, step: int, state: ScheduleState) -> float:
        return self.value


@dataclass(frozen=True)
class LinearRamp:
    """Madsen & Johansen's ``λ̂ · clamp((t − start) / (end − start), 0, 1)``."""

    scale: float
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ConfigError(f"end: must be greater than start ({self.start}), got {self.end}")

    def __call__(self, step: int, state: ScheduleState) -> float:
        return self.scale * min(max((step - self.start) / (self.end - self.start), 0.0), 1.0)


@dataclass(frozen=True)
class StepExponential:
    """Heim et al.'s β: starts at ``start``, ×``factor`` at every positive multiple of ``every``
    steps, never above ``end`` (the NPU papers' L1 schedule). ``offset`` shifts the steps counted:
    the update at 0-based step t uses ``start · factor^⌊(t + offset) / every⌋``."""

    start: float
    end: float
    factor: float = 10.0
    every: int = 10_000
    # Added later: left out of a config's identity while 0, so stored configs keep their hash.
    offset: int = field(default=0, metadata={"omit_default": True})

    def __post_init__(self) -> None:
        if not (0 < self.start <= self.end):
            raise ConfigError(f"start/end: need 0 < start <= end, got {self.start} and {self.end}")
        if self.factor <= 1 or self.every < 1:
            raise ConfigError("factor/every: need factor > 1 and every >= 1")

    def __call__(self, step: int, state: ScheduleState) -> float:
        value = self.start * self.factor ** ((step + self.offset) // self.every)
        # Relative tolerance: 1e-7 * 10**2 is not exactly 1e-5 in binary floating point.
        return self.end if value >= self.end * (1 - 1e-9) else value


def ExpGrowth(start: float, end: float, factor: float = 10.0, every: int = 10_000) -> StepExponential:  # noqa: N802
    """The NPU paper scripts' ``ExpGrowth`` β (Heim et al. 2020, ``src/schedules.jl``): the counter is
    advanced *before* each update, so the update at 0-based step t uses
    ``start · factor^⌊(t + 1) / every⌋``, never above ``end`` — one update earlier than a plain
    :class:`StepExponential` (the update at t = every − 1 already has the grown value)."""
    return StepExponential(start, end, factor, every, offset=1)


@dataclass(frozen=True)
class GatedConstant:
    """iNALU's rule (nalm-benchmark): ``value`` once ``step > after`` and the run's last logged
    interpolation MSE is below ``below``, else 0 — decided per run."""

    value: float
    after: int = 10_000
    below: float = 1.0

    def __call__(self, step: int, state: ScheduleState) -> float | Tensor:
        if step <= self.after:
            return 0.0
        mse = state.last_interpolation_mse
        return (mse < self.below).to(mse.dtype) * self.value


def describe(schedule: Schedule) -> str:
    return repr(schedule)


