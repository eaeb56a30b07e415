"""Training streams: a prepared per-step batch source for one task's runs (:class:`TrainStream`), for
several ``(task, seeds)`` parts at once (:class:`GroupedTrainStream`), and one grouped draw
(:func:`train_batches`).

A static task's inputs are uniform over its training range, drawn from the counter-based generator
(:mod:`nalm.tasks.rng`), with the float64 subset sums its targets are computed from. What the grouped
stream shares between tasks, each task declares through its ``shared_draw()`` hook
(:class:`SharedDraw`); a task without one draws its own batch.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Hashable, NamedTuple, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError

from ._base import Task, check_seed
from .ops import operation
from .ranges import RangeSpec
from .rng import UniformStream, stream_precision


class SubsetSumSource(Protocol):
    """What a :class:`TrainStream` draws from: ``input_size`` inputs uniform over
    ``interpolation_range``, each run's subsets (half-open input ranges, ``a`` first), and the
    operation whose targets :meth:`TrainStream.__call__` returns."""

    @property
    def input_size(self) -> int: ...

    @property
    def interpolation_range(self) -> RangeSpec: ...

    @property
    def op(self) -> str: ...

    def subsets(self, seed: int) -> tuple[tuple[int, int], ...]: ...


class SharedDraw(NamedTuple):
    """A task's answer to "how can your training batch be drawn together with other tasks'?" — what
    its ``shared_draw()`` hook returns to :class:`GroupedTrainStream`.

    ``source``: the task whose :class:`TrainStream` draws this task's inputs and float64 subset sums
    (a :class:`SubsetSumSource`, hashable); parts whose sources are equal and that train the same
    seeds share one draw. ``op``: the operation (a name in :data:`nalm.tasks.ops.OPERATIONS`) whose
    targets are computed from those sums. ``merge_key``: sources with equal keys (not None) are drawn
    in one call with one range per run; None: a call of its own.
    """

    source: Hashable
    op: str
    merge_key: Hashable | None


def torch_op(op: str, sums: Tensor) -> Tensor:
    """The operation on float64 subset sums ``[..., K]`` (left to right over subsets for add/mul)."""
    # unbind: the K column views sums[..., k] in one call (cheaper than K indexing calls).
    return operation(op).compute(sums.unbind(-1), torch)


class TrainStream:
    """Training batches of fixed runs: ``stream(step, batch_size) -> (x [S,B,I], y [S,B,1])``."""

    def __init__(
        self,
        task: SubsetSumSource,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        backend: str = "auto",
        reuse_output: bool = False,
    ) -> None:
        self.task = task
        self.seeds = tuple(check_seed(s) for s in seeds)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ConfigError(f"dtype: must be a floating-point torch dtype, got {dtype!r}")
        self.dtype = dtype
        self.device = torch.device("cpu" if device is None else device)
        spec = task.interpolation_range
        lo = [r[0] for r in spec]
        width = [r[1] - r[0] for r in spec]
        ranges = np.array([task.subsets(s) for s in self.seeds], dtype=np.int64).reshape(
            len(self.seeds), -1, 2
        )
        self.precision = stream_precision(dtype)
        self._stream = UniformStream(
            self.seeds, task.input_size, lo, width, ranges[..., 0], ranges[..., 1],
            precision=self.precision, device=self.device, backend=backend,
            reuse_output=reuse_output,
        )

    @property
    def backend(self) -> str:
        return self._stream.backend

    def __call__(self, step: int | Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
        x, sums = self.draw(step, batch_size)
        return x, self.targets(self.task.op, sums)

    def draw(self, step: int | Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
        """Inputs ``[S, B, I]`` (device, dtype) and their float64 subset sums ``[S, B, K]`` at ``step``."""
        return _draw(self._stream, step, batch_size, device=self.device, dtype=self.dtype)

    def targets(self, op: str, sums: Tensor) -> Tensor:
        """Targets ``[S, B, 1]`` of operation ``op`` from :meth:`draw`'s subset sums (op in float64)."""
        return _targets(op, sums, self.device, self.dtype)


def _draw(
    stream: UniformStream, step: int | Tensor, batch_size: int, *, device: torch.device, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size: must be a positive integer, got {batch_size!r}")
    if isinstance(step, Tensor):
        # A device-side step (CUDA graphs): checked for kind, not value (that would read it back).
        if step.dim() != 0 or step.dtype != torch.int64 or step.device.type != stream.device.type:
            raise ConfigError(f"step: a tensor step must be 0-d int64 on {stream.device}")
    elif isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ConfigError(f"step: must be a non-negative integer, got {step!r}")
    else:
        step = int(step)
    x, sums = stream(step, int(batch_size))
    if x.device != device:  # numba path fills CPU memory
        x = x.to(device)
    return x.to(dtype), sums


def _targets(op: str, sums: Tensor, device: torch.device, dtype: torch.dtype) -> Tensor:
    y = torch_op(op, sums).unsqueeze(-1)
    return y.to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=16)
def _cached_stream(
    task: SubsetSumSource, seeds: tuple[int, ...], device: str, dtype: torch.dtype
) -> TrainStream:
    return TrainStream(task, seeds, device=device, dtype=dtype)


_DrawKey = tuple[Any, tuple[int, ...]]  # (a SharedDraw's source, seeds)


def _shared_draw(task: Any) -> SharedDraw | None:
    """The task's ``shared_draw()`` hook, or None for a task without one (it draws its own batch)."""
    hook = getattr(task, "shared_draw", None)
    return None if hook is None else hook()


class GroupedTrainStream:
    """Training batches of several ``(task, seeds)`` parts, concatenated along the run axis in order:
    ``stream(step, batch_size) -> (x, y)`` (what a grouped trainer batch needs). The draw plan and
    the streams are prepared once.

    Equal, bit for bit, to concatenating each part's ``train_batch`` (every run's stream is its own).
    What is shared is work, as each task's ``shared_draw()`` hook allows (:class:`SharedDraw`):
    static tasks that differ only in their operation and train the same seeds (one model on +, −, ×,
    ÷ … of one range) draw their inputs once, each operation's targets from the same subset sums;
    and static tasks of one input geometry and different single ranges (the Primer's range pairs)
    are drawn in one call with per-run ranges, instead of one call (on a GPU: one round of kernel
    launches) per task. Tasks without the hook draw their own batch.

    ``reuse_output=True``: the static tasks' inputs (CPU, numba) are drawn into the same buffers at
    every call, so a returned batch is valid only until the next call — what a training loop wants
    (no fresh 5 MB per step at 100 runs; measured 10-18% of a training step on the 2-core VM). Its
    streams are then its own, not the shared cache behind ``train_batch``.
    """

    def __init__(
        self,
        parts: Sequence[tuple[Task, Sequence[int]]],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        reuse_output: bool = False,
    ) -> None:
        self.device = torch.device("cpu" if device is None else device)
        self.dtype = dtype
        self.parts = [(task, tuple(seeds)) for task, seeds in parts]
        # Per part: (its draw's key, its operation), or None when the task draws its own batch.
        self._plan: list[tuple[_DrawKey, str] | None] = []
        merge_keys: dict[_DrawKey, Hashable | None] = {}
        for task, seeds in self.parts:
            shared = _shared_draw(task)
            if shared is None:
                self._plan.append(None)
                continue
            key = (shared.source, seeds)
            merge_keys.setdefault(key, shared.merge_key)
            self._plan.append((key, shared.op))
        groups: dict[Any, list[_DrawKey]] = {}
        for key, merge_key in merge_keys.items():
            groups.setdefault(("alone", key) if merge_key is None else ("merged", merge_key), []).append(key)
        # Each draw: a callable (step, batch_size) -> (x, sums) and the keys it covers, in run order.
        self._draws: list[tuple[Callable[[int, int], tuple[Tensor, Tensor]], list[_DrawKey]]] = []
        for members in groups.values():
            if len(members) == 1:
                task, seeds = members[0]
                single = (
                    TrainStream(task, seeds, device=self.device, dtype=dtype, reuse_output=True)
                    if reuse_output
                    else _cached_stream(task, seeds, str(self.device), dtype)
                )
                self._draws.append((single.draw, members))
            else:
                stream = (
                    _build_merged_stream(tuple(members), str(self.device), dtype, reuse_output=True)
                    if reuse_output
                    else _merged_stream(tuple(members), str(self.device), dtype)
                )
                self._draws.append((functools.partial(_draw, stream, device=self.device, dtype=dtype), members))

    def __call__(self, step: int | Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
        drawn: dict[_DrawKey, tuple[Tensor, Tensor]] = {}
        for draw, members in self._draws:
            x, sums = draw(step, batch_size)
            start = 0
            for key in members:
                end = start + len(key[1])
                drawn[key] = (x, sums) if len(members) == 1 else (x[start:end], sums[start:end])
                start = end
        xs: list[Tensor] = []
        ys: list[Tensor] = []
        for (task, seeds), planned in zip(self.parts, self._plan):
            if planned is not None:
                key, op = planned
                x, sums = drawn[key]
                y = _targets(op, sums, self.device, self.dtype)
            else:
                x, y = task.train_batch(seeds, step, batch_size, device=self.device, dtype=self.dtype)
            xs.append(x)
            ys.append(y)
        if len(xs) == 1:
            return xs[0], ys[0]
        return torch.cat(xs), torch.cat(ys)


def train_batches(
    parts: Sequence[tuple[Task, Sequence[int]]],
    step: int,
    batch_size: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """The batches of several ``(task, seeds)`` parts at ``step``, concatenated along the run axis:
    one call of a :class:`GroupedTrainStream` (prepare one to draw many steps)."""
    return GroupedTrainStream(parts, device=device, dtype=dtype)(step, batch_size)


@functools.lru_cache(maxsize=16)
def _merged_stream(
    members: tuple[tuple[SubsetSumSource, tuple[int, ...]], ...], device: str, dtype: torch.dtype
) -> UniformStream:
    return _build_merged_stream(members, device, dtype)


def _build_merged_stream(
    members: tuple[tuple[SubsetSumSource, tuple[int, ...]], ...],
    device: str,
    dtype: torch.dtype,
    reuse_output: bool = False,
) -> UniformStream:
    """One stream over several single-range sources of one geometry: the runs of all members in
    order, each with its source's range and its own subsets."""
    seeds = [s for _, member_seeds in members for s in member_seeds]
    for s in seeds:
        check_seed(s)
    lo = np.array([[task.interpolation_range[0][0]] for task, ss in members for _ in ss], dtype=np.float64)
    width = np.array(
        [[task.interpolation_range[0][1] - task.interpolation_range[0][0]] for task, ss in members for _ in ss],
        dtype=np.float64,
    )
    ranges = np.array([task.subsets(s) for task, ss in members for s in ss], dtype=np.int64).reshape(
        len(seeds), -1, 2
    )
    return UniformStream(
        seeds, members[0][0].input_size, lo, width, ranges[..., 0], ranges[..., 1],
        precision=stream_precision(dtype), device=device, reuse_output=reuse_output,
    )
