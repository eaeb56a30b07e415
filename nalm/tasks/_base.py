"""What the trainer needs from a task: batched, seeded data for S runs at once.

Tasks know nothing of models. A task is an immutable, validated config object; its data are a
pure function of (task config, run seed, step), so a run's data stream does not depend on which
other runs it is trained beside.

A task may also declare ``device_steps = True``: its ``train_batch`` then accepts the step as a 0-d
int64 tensor on the device and draws without reading it back on the host, which is what a CUDA
graph replaying the whole update needs (``train(..., cuda_graph=True)``). Absent means False.

A task may also declare ``check_dtype(dtype)``: it raises :class:`~nalm.errors.ConfigError` when runs
in that dtype cannot hold its data (see :func:`check_task_dtype`). Absent means any dtype will do.

A task may also declare ``shared_draw()``: how its batches can be drawn together with other tasks'
(a :class:`nalm.tasks.streams.SharedDraw`); :class:`nalm.tasks.streams.GroupedTrainStream` then shares
inputs and kernel calls between such tasks. Absent means the task draws its own batch.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, Sequence, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError

Split = Literal["interpolation", "extrapolation"]


@runtime_checkable
class Task(Protocol):
    """Protocol implemented by every task (static arithmetic, single-module, the article's demo)."""

    @property
    def in_features(self) -> int: ...

    @property
    def out_features(self) -> int: ...

    def train_batch(
        self,
        seeds: Sequence[int],
        step: int,
        batch_size: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Inputs ``[S, B, I]`` and targets ``[S, B, O]`` for every run seed at iteration ``step``."""
        ...

    def evaluation_set(
        self,
        split: Split,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Fixed evaluation inputs ``[S or 1, N, I]`` (broadcastable) and targets ``[S, N, O]``."""
        ...


def check_seed(seed: Any) -> int:
    """A run seed as an int: an integer in [0, 2**32) (numpy ``RandomState`` seeds)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed: expected an integer, got {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ConfigError(f"seed: must be in [0, 2**32) (numpy RandomState seeds), got {seed}")
    return int(seed)


def check_task_dtype(task: Any, dtype: Any) -> None:
    """Raise :class:`ConfigError` when runs in ``dtype`` cannot hold ``task``'s inputs or the loss on
    its targets (the task's ``check_dtype``; tasks without one accept every dtype). The trainer and
    the suite planner call this before anything is allocated."""
    check = getattr(task, "check_dtype", None)
    if check is not None:
        check(dtype)
