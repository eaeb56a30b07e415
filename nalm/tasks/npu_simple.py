"""The simple task of the Neural Power Units paper, as a task with four outputs.

N. Heim, T. Pevný, V. Šmídl, "Neural Power Units", NeurIPS 2020 (arXiv:2006.01681), appendix
Table A2; code ``nmheim/NeuralPowerUnits`` (``scripts/simple/*.jl``). One network maps two inputs
``(x, y)`` to four outputs ``(x + y, x·y, x/y, √x)`` and is trained on the MSE over all four.

What is the paper's, and what nalm chose (the paper leaves the evaluation sets of a success-rate
harness open):

* **Training** (paper code): a fresh batch of 100 rows at every step, ``x, y ~ U(0.1, 2.1)``
  (``rand()*2 + 0.1``; the paper's text says U(0.1, 2)). nalm draws the rows from its counter-based
  stream (:mod:`nalm.tasks.rng`): same distribution, not the Julia RNG's numbers, and a run's
  rows depend only on its seed and the step.
* **Interpolation set** (nalm's choice, used to select the step as for the other tasks): 10,000 fixed
  rows from U(0.1, 2.1)², ``numpy.random.RandomState(20200601)``, identical for every run.
* **Extrapolation set** (nalm's choice): the grid ``x, y ∈ {0.1, 0.2, …, 4.0}`` (1,600 rows), on
  which all four outputs are defined. The paper's test grid for +, ×, ÷ is
  ``{−4.1, −3.9, …, 3.9}²`` (negative inputs included) and ``{0.1, …, 4.0}`` for √; the trainer
  scores one MSE over all outputs, and √x has no real value for x < 0, so the negative half of the
  paper's grid is left out. It therefore does not test the NPU's handling of negative inputs.
* **Scoring**: the trainer's extrapolation MSE over all four outputs at the selected step; a run is
  successful under a threshold policy like any other task (default ``fixed_1e-5``).
  The paper reports per-output **mean absolute errors** (median and MAD over 20 runs) of the *final*
  model on its grids — a different statistic on different points. The benchmark runner measures that
  statistic on :meth:`NPUSimpleTask.paper_grids` after training and stores it with each run
  (``paper_mae_<output>``, :mod:`nalm.training.evaluation`), so the two can be set side by side; nalm's
  success rates are not comparable with the paper's table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError

from ._base import Split
from .rng import UniformStream, stream_precision

#: Output names in order (the published CSV's ``operation`` values).
OUTPUTS: tuple[str, ...] = ("add", "mul", "div", "root")
INTERPOLATION_RNG_SEED = 20200601


def targets(x: np.ndarray) -> np.ndarray:
    """float64 targets ``[..., 4]`` of inputs ``[..., 2]``: x + y, x·y, x/y, √x."""
    a, b = x[..., 0], x[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack([a + b, a * b, a / b, np.sqrt(a)], axis=-1)


def _targets_torch(a: Tensor, b: Tensor) -> Tensor:
    return torch.stack([a + b, a * b, a / b, torch.sqrt(a)], dim=-1)


def _grid(lo: float, hi: float, step: float) -> np.ndarray:
    n = int(round((hi - lo) / step)) + 1
    return np.round(lo + step * np.arange(n), 10)


@dataclass(frozen=True)
class NPUSimpleTask:
    """Heim et al.'s simple task (2 inputs → x+y, xy, x/y, √x); see the module docstring."""

    low: float = 0.1
    high: float = 2.1
    interpolation_samples: int = 10_000
    grid_high: float = 4.0
    grid_step: float = 0.1

    name: ClassVar[str] = "npu_simple"
    default_threshold_policy: ClassVar[str] = "fixed_1e-5"
    in_features: ClassVar[int] = 2
    out_features: ClassVar[int] = 4
    #: measured after training and stored per run (nalm.training.evaluation): the paper's statistic
    run_metrics: ClassVar[tuple[str, ...]] = ("npu_paper_errors",)

    def __post_init__(self) -> None:
        for field in ("low", "high", "grid_high", "grid_step"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ConfigError(f"{field}: expected a finite number, got {v!r}")
            object.__setattr__(self, field, float(v))
        if not 0 < self.low < self.high:
            raise ConfigError(
                f"low/high: need 0 < low < high (x/y and √x must be defined), got {self.low}, {self.high}"
            )
        if not 0 < self.grid_step < self.grid_high:
            raise ConfigError(f"grid_step: need 0 < grid_step < grid_high, got {self.grid_step}")
        n = self.interpolation_samples
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"interpolation_samples: must be a positive integer, got {n!r}")

    # ---------------------------------------------------------------- evaluation sets
    def evaluation_inputs(self, split: Split) -> np.ndarray:
        """Fixed float64 inputs ``[N, 2]`` of a split (identical for every run)."""
        return _evaluation_inputs(self, split)

    def evaluation_set(
        self,
        split: Split,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        x = np.array(self.evaluation_inputs(split))  # writable copy for torch
        xt = torch.as_tensor(x, dtype=dtype, device=device).unsqueeze(0)
        yt = torch.as_tensor(targets(x), dtype=dtype, device=device).unsqueeze(0)
        return xt, yt.expand(len(seeds), *yt.shape[1:])

    def paper_grids(self) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
        """The paper's test points per output: ``{output: (inputs [N, 2], float64 targets [N], output
        index)}`` (see :func:`paper_grids`)."""
        out = {}
        for k, (name, x) in enumerate(paper_grids().items()):
            out[name] = (x, targets(x)[..., k], k)
        return out

    # ---------------------------------------------------------------- training stream
    def train_batch(
        self,
        seeds: Sequence[int],
        step: int,
        batch_size: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Fresh rows ``[S, B, 2]`` and targets ``[S, B, 4]`` (targets computed in float64, then cast)."""
        dev = torch.device("cpu" if device is None else device)
        stream = _stream(self, tuple(int(s) for s in seeds), str(dev), dtype)
        x, sums = stream(int(step), int(batch_size))
        y = _targets_torch(sums[..., 0], sums[..., 1])
        return x.to(device=dev, dtype=dtype), y.to(device=dev, dtype=dtype)


@functools.lru_cache(maxsize=16)
def _evaluation_inputs(task: NPUSimpleTask, split: str) -> np.ndarray:
    if split == "interpolation":
        rng = np.random.RandomState(INTERPOLATION_RNG_SEED)
        x = rng.uniform(task.low, task.high, size=(task.interpolation_samples, 2))
    elif split == "extrapolation":
        axis = _grid(task.grid_step, task.grid_high, task.grid_step)
        xx, yy = np.meshgrid(axis, axis, indexing="ij")
        x = np.stack([xx.ravel(), yy.ravel()], axis=-1)
    else:
        raise ConfigError(f"split: expected 'interpolation' or 'extrapolation', got {split!r}")
    x.setflags(write=False)
    return x


@functools.lru_cache(maxsize=16)
def _stream(task: NPUSimpleTask, seeds: tuple[int, ...], device: str, dtype: torch.dtype) -> UniformStream:
    # a = x[0], b = x[1]: one-element "subsets" whose float64 sums are the operands themselves
    starts = np.tile(np.array([[0, 1]], dtype=np.int64), (len(seeds), 1))
    return UniformStream(
        seeds, 2, [task.low], [task.high - task.low], starts, starts + 1,
        precision=stream_precision(dtype), device=device,
    )


def paper_grids() -> dict[str, np.ndarray]:
    """The paper's test inputs per output: ``{−4.1, −3.9, …, 3.9}²`` for add/mul/div,
    ``{0.1, …, 4.0}²`` for root (√x of the first input)."""
    signed = _grid(-4.1, 3.9, 0.2)
    positive = _grid(0.1, 4.0, 0.1)
    out = {}
    for name in OUTPUTS:
        axis = positive if name == "root" else signed
        xx, yy = np.meshgrid(axis, axis, indexing="ij")
        out[name] = np.stack([xx.ravel(), yy.ravel()], axis=-1)
    return out


__all__ = ["NPUSimpleTask", "OUTPUTS", "paper_grids", "targets"]
