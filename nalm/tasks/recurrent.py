"""The recurrent arithmetic task (Trask et al. 2018 §4.1; Madsen & Johansen 2020; Hoedt et al. 2021).

The static arithmetic task (:mod:`nalm.tasks.static`) spread over time: a sequence of ``T`` input
vectors ``x_1 … x_T`` of ``input_size`` numbers; ``a`` and ``b`` are the sums of two contiguous,
overlapping subsets of the inputs **over every time step**, and the single target, given after the
last step, is ``op(a, b)``. A unit learns it as a recurrent cell that accumulates ``a`` and ``b`` in
its state (``ModelSpec(..., recurrent=True)``, :class:`nalm.units.recurrent.RecurrentNetwork`).

Normative source: stable-nalu's ``dataset/simple_function_recurrent.py`` and
``experiments/simple_function_recurrent.py`` in the runnable form of hoedt/stable-nalu (64b3d24; the
code at Madsen's last commit, b3296ac, passes arguments its own base class no longer accepts and does
not run). Defaults are the experiment script's (and the MC-LSTM paper's Table 2 script):

* 10 inputs, subset ratio 0.25, overlap 0.5, 2 subsets: subsets of 2 inputs sharing 1, at the offset
  ``RandomState(seed).randint(0, input_size − used + 1)`` (the static task's geometry and draw);
* training sequences of length 10 over U[1, 2], batch 128;
* four fixed evaluation sets (the script's forks; ``(length, range, RandomState seed)``):

  ============================ ======================== ============ ============
  split                        what the script logs     length       range
  ============================ ======================== ============ ============
  ``interpolation``            ``valid/interpolation``  T (10)       training range, seed 43953907
  ``sequence_validation``      ``valid/extrapolation``  2T (20)      training range, seed 2389231
  ``extrapolation``            ``test/extrapolation``   10T (100)    training range, seed 8689336
  ``range_extrapolation``      ``test/range_extrapolation`` T (10)   U[2, 6], seed 23946
  ============================ ======================== ============ ============

  Runs are selected on ``interpolation`` and scored (success) on ``extrapolation`` — longer
  sequences over the *same* range, as ``export/function_task_recurrent.r`` scores them; the range
  test is a separate number (the R script's ``range.solved``, judged against the same threshold).
  The trainer logs the first two of nalm's splits; :meth:`RecurrentArithmeticTask.evaluation_set`
  serves all four.

Where nalm differs from the script, on purpose:

* **Fixed evaluation sets.** The script draws a *fresh* batch of 1,000 sequences from each fork at
  every evaluation (its iterator moves on). nalm evaluates every point on the same ``eval_samples``
  sequences: the first ``eval_samples`` rows of the same fork. The default, 1,000, is the script's
  evaluation batch, so the set is, bit for bit, the batch the script evaluated at step 0 (inputs
  ``RandomState(seed)``, float64, then the targets in float64 with the script's own NumPy sums,
  both then cast); a larger set extends it with the batches of the script's later evaluations.
* **Training stream**: nalm's counter-based generator (:mod:`nalm.tasks.rng`): the same
  distribution as the script's ``RandomState`` fork, not the same numbers; a run's batch at step t
  is a pure function of (task, seed, t), whatever runs share the batch. The subset sums of each time
  step are taken by the generator in float64 and summed over time in float64.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError
from nalm.resources import check_host_memory

from ._base import check_seed
from .ops import OPS, operation
from .ranges import (
    RangeSpec,
    check_loss_scale,
    check_representable,
    format_range,
    ranges_as_lists,
    sum_magnitude,
)
from .rng import UniformStream, stream_precision
from .static import StaticArithmeticTask, reference_inputs, reference_op
from .streams import torch_op

__all__ = ["RECURRENT_EVAL_SEEDS", "RECURRENT_SPLITS", "RecurrentArithmeticTask"]

#: ``RandomState`` seeds of the experiment script's forks, per split.
RECURRENT_EVAL_SEEDS: dict[str, int] = {
    "interpolation": 43953907,
    "sequence_validation": 2389231,
    "extrapolation": 8689336,
    "range_extrapolation": 23946,
}
RECURRENT_SPLITS: tuple[str, ...] = tuple(RECURRENT_EVAL_SEEDS)


@dataclass(frozen=True)
class RecurrentArithmeticTask:
    """The recurrent arithmetic task, as stable-nalu's experiment script runs it (see the module).

    Inputs ``[S, B, T, input_size]``, targets ``[S, B, 1]``: ``op`` of the subset sums over all
    ``T = seq_length`` steps. ``extrapolation_length`` (default 10·T = 100) is the length of the
    scored test sequences (over ``interpolation_range``); ``extrapolation_range`` (U[2, 6]) is the
    range of the range test (length T). Invalid values raise :class:`ConfigError` naming the field.
    """

    op: str
    input_size: int = 10
    subset_ratio: float = 0.25
    overlap_ratio: float = 0.5
    num_subsets: int = 2
    seq_length: int = 10
    extrapolation_length: int = 100
    interpolation_range: Any = (1.0, 2.0)
    extrapolation_range: Any = (2.0, 6.0)
    eval_samples: int = 1_000

    name: ClassVar[str] = "recurrent"
    device_steps: ClassVar[bool] = False
    default_threshold_policy: ClassVar[str] = "madsen_r"
    #: Monte Carlo sequences of the threshold estimate (``export/function_task_recurrent_mse_expectation.r``
    #: simulates 10,000; ten times as many keep the estimate's standard error near 1%).
    default_mc_samples: ClassVar[int] = 100_000
    simple: ClassVar[bool] = False  # (the static task's 4-input variant has no recurrent form)
    #: nalm's formula read-out (:mod:`nalm.formula`) reads feed-forward chains, not recurrent networks.
    formula_readout: ClassVar[bool] = False
    #: measured after training and stored per run (nalm.training.evaluation)
    run_metrics: ClassVar[tuple[str, ...]] = ("trask", "range_test")

    def __post_init__(self) -> None:
        if not isinstance(self.op, str) or self.op not in OPS:
            raise ConfigError(f"op: unknown operation {self.op!r}; expected one of {', '.join(OPS)}")
        for name in ("seq_length", "extrapolation_length", "eval_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        # The geometry, the ranges and the operation's domain are the static task's: validated there.
        static = self.static_task
        for name in ("input_size", "subset_ratio", "overlap_ratio", "num_subsets",
                     "interpolation_range", "extrapolation_range"):
            object.__setattr__(self, name, getattr(static, name))
        self.check_dtype("float64")

    # ---------------------------------------------------------------- geometry
    @property
    def static_task(self) -> StaticArithmeticTask:
        """The static task of one time step (same geometry, ranges and offsets)."""
        return _static(self.op, self.input_size, self.subset_ratio, self.overlap_ratio,
                       self.num_subsets, _hashable(self.interpolation_range),
                       _hashable(self.extrapolation_range))

    @property
    def subset_size(self) -> int:
        return self.static_task.subset_size

    @property
    def overlap_size(self) -> int:
        return self.static_task.overlap_size

    @property
    def template(self) -> tuple[tuple[int, int], ...]:
        return self.static_task.template

    @property
    def used_size(self) -> int:
        return self.static_task.used_size

    @property
    def in_features(self) -> int:
        return self.input_size

    @property
    def out_features(self) -> int:
        return 1

    def subsets(self, seed: int) -> tuple[tuple[int, int], ...]:
        """Half-open input ranges of the subsets of run ``seed`` (the same at every time step)."""
        return self.static_task.subsets(seed)

    def formula(self, seed: int | None = None) -> str:
        ranges = self.subsets(seed) if seed is not None else self.template
        return operation(self.op).text([f"sum_t sum(x_t[{s}:{e}])" for s, e in ranges])

    def split_setting(self, split: str) -> tuple[int, RangeSpec, int]:
        """``(sequence length, range, RandomState seed)`` of an evaluation split."""
        if split not in RECURRENT_EVAL_SEEDS:
            raise ConfigError(f"split: expected one of {', '.join(RECURRENT_SPLITS)}, got {split!r}")
        length = {
            "interpolation": self.seq_length,
            "sequence_validation": 2 * self.seq_length,
            "extrapolation": self.extrapolation_length,
            "range_extrapolation": self.seq_length,
        }[split]
        spec = self.extrapolation_range if split == "range_extrapolation" else self.interpolation_range
        return length, spec, RECURRENT_EVAL_SEEDS[split]

    def check_dtype(self, dtype: Any) -> None:
        """:class:`ConfigError` unless runs in ``dtype`` hold every range and the loss at the largest
        target of every split (sums over the whole sequence)."""
        op = operation(self.op)
        sizes = [end - start for start, end in self.template]
        used = sizes if op.arity is None else sizes[: op.arity]
        for name in ("interpolation_range", "extrapolation_range"):
            check_representable(getattr(self, name), name, dtype)
        for split in RECURRENT_SPLITS:
            length, spec, _ = self.split_setting(split)
            field = "extrapolation_range" if split == "range_extrapolation" else (
                "extrapolation_length" if split == "extrapolation" else "interpolation_range"
            )
            bound = op.bound([sum_magnitude(spec, m * length) for m in used])
            check_loss_scale(
                bound, f"|target| of {self.op!r} over {length} steps of {format_range(spec)}", field, dtype
            )

    def to_dict(self) -> dict[str, Any]:
        return ranges_as_lists(self)

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
        """Fresh sequences ``[S, B, T, I]`` and targets ``[S, B, 1]`` of every run at ``step``.

        Run ``s``'s batch depends only on the task, ``seeds[s]`` and ``step`` (and the dtype's stream
        precision): each sequence is one row of ``T · I`` counter-based uniforms, whose per-step
        subset sums the generator returns in float64; they are summed over time in float64 and the
        operation applied in float64, then cast.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size: must be a positive integer, got {batch_size!r}")
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ConfigError(f"step: must be a non-negative integer, got {step!r}")
        dev = torch.device("cpu" if device is None else device)
        stream = _train_stream(self, tuple(check_seed(s) for s in seeds), str(dev), dtype)
        x, sums = stream(int(step), int(batch_size))
        S, B = x.shape[0], x.shape[1]
        k = len(self.template)
        operands = sums.reshape(S, B, self.seq_length, k).sum(dim=2)  # float64, over time
        y = torch_op(self.op, operands).unsqueeze(-1)
        x = x.reshape(S, B, self.seq_length, self.input_size)
        return x.to(device=dev, dtype=dtype), y.to(device=dev, dtype=dtype)

    # ---------------------------------------------------------------- evaluation sets
    def evaluation_inputs(self, split: str) -> np.ndarray:
        """The fixed float64 sequences ``[eval_samples, length, input_size]`` of a split (read-only)."""
        length, spec, seed = self.split_setting(split)
        arrays = 1 if len(spec) == 1 else 4
        check_host_memory(
            arrays * self.eval_samples * length * self.input_size * 8,
            f"eval_samples: the {split} set ({self.eval_samples:,} sequences × {length} steps × "
            f"{self.input_size} inputs, float64)",
            "use fewer eval_samples",
        )
        x = reference_inputs(spec, length * self.input_size, self.eval_samples, seed)
        return x.reshape(self.eval_samples, length, self.input_size)

    def evaluation_targets(self, split: str, seed: int) -> np.ndarray:
        """float64 targets ``[eval_samples]`` of run ``seed``, computed as the reference does."""
        self.split_setting(split)
        return _reference_targets(self, split, self.static_task.offset(seed))

    def evaluation_set(
        self,
        split: str,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Fixed inputs ``[1, N, T, I]`` (shared by all runs) and targets ``[S, N, 1]``, cast from float64."""
        x = torch.from_numpy(np.array(self.evaluation_inputs(split))).to(dtype=dtype)
        ys = [self.evaluation_targets(split, s) for s in seeds]
        y = torch.from_numpy(np.stack(ys) if ys else np.zeros((0, self.eval_samples)))
        return x.unsqueeze(0).to(device), y.to(dtype=dtype).unsqueeze(-1).to(device)


def _hashable(value: Any) -> Any:
    """A range as given (lists from a suite file or JSON) as nested tuples, for the cache's key."""
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


@functools.lru_cache(maxsize=64)
def _static(
    op: str, input_size: Any, subset_ratio: Any, overlap_ratio: Any, num_subsets: Any,
    interpolation_range: Any, extrapolation_range: Any,
) -> StaticArithmeticTask:
    return StaticArithmeticTask(
        op, input_size=input_size, subset_ratio=subset_ratio, overlap_ratio=overlap_ratio,
        num_subsets=num_subsets, interpolation_range=interpolation_range,
        extrapolation_range=extrapolation_range, eval_samples=1,
    )


@functools.lru_cache(maxsize=16)
def _train_stream(
    task: RecurrentArithmeticTask, seeds: tuple[int, ...], device: str, dtype: torch.dtype
) -> UniformStream:
    """One row per sequence (``T · I`` values); one subset per (time step, operand), step-major."""
    T, n = task.seq_length, task.input_size
    spec = task.interpolation_range
    starts = np.array(
        [[t * n + s for t in range(T) for s, _ in task.subsets(seed)] for seed in seeds], dtype=np.int64
    ).reshape(len(seeds), -1)
    ends = np.array(
        [[t * n + e for t in range(T) for _, e in task.subsets(seed)] for seed in seeds], dtype=np.int64
    ).reshape(len(seeds), -1)
    return UniformStream(
        seeds, T * n, [r[0] for r in spec], [r[1] - r[0] for r in spec], starts, ends,
        precision=stream_precision(dtype), device=device,
    )


@functools.lru_cache(maxsize=64)
def _reference_targets(task: RecurrentArithmeticTask, split: str, offset: int) -> np.ndarray:
    x = task.evaluation_inputs(split)
    # the script's own call: np.sum(input_vector[..., start:end], axis=(1, 2)) on [N, T, I]
    sums = [np.sum(x[..., s + offset : e + offset], axis=(1, 2)) for s, e in task.template]
    with np.errstate(divide="ignore", invalid="ignore"):
        y = reference_op(task.op, sums)
    y.setflags(write=False)
    return y
