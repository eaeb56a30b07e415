"""Trained runs measured after training: their MSE on any evaluation split, and Trask's normalised
error (A. Trask et al., "Neural Arithmetic Logic Units", NeurIPS 2018: 100 · the model's error / a
randomly initialised model's error; 0 is perfect, 100 no better than chance).

The trainer logs the two splits a run is selected and scored on; a task may have more (the recurrent
task's range test, its longer validation sequences). :func:`split_mse` evaluates a stacked model —
e.g. :meth:`~nalm.training.TrainOutput.selected_model`, every run at the step its scores come from,
as the reference's R scripts read every metric at the selected step — on any split the task serves.

:func:`trask_errors` puts each run's error beside Trask's scale, with the baseline of
:func:`nalm.metrics.random_baseline_error`: ``k`` untrained networks of the *same* architecture and
initialisation (built from seeds ``seed_start …``, far from training seeds), evaluated on the same set
with the targets of the first run's seed, averaged (mean over the finite ones; the count left out is
reported). This is the recipe of ``protocols.md`` §4; Trask et al. do not say which baseline they
averaged, so record ``k``, the error and the average with the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nalm.metrics import RandomBaseline, random_baseline_error, trask_normalised_error

from .model import ModelSpec

__all__ = ["TraskErrors", "split_mse", "trask_errors"]

_ELEMENTS_PER_CHUNK = 1 << 24


@torch.no_grad()
def split_mse(model: nn.Module, task: Any, split: str, seeds: Sequence[int], *,
              device: Any = None, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """MSE ``[S]`` of each run of a stacked ``model`` (parameters ``[S, ...]``, run ``i`` trained
    with ``seeds[i]``) on the task's fixed ``split`` set, measured as the trainer measures its logged
    points (errors in ``dtype``, squares summed in float64, the mean rounded to ``dtype``)."""
    x, y = task.evaluation_set(split, list(seeds), device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        runs, rows = y.shape[0], y.shape[-2]
        per_row = x[0, 0].numel()
        chunk = max(1, _ELEMENTS_PER_CHUNK // max(1, runs * per_row))
        total = torch.zeros(runs, dtype=torch.float64, device=y.device)
        for start in range(0, rows, chunk):
            err = (model(x[:, start : start + chunk]) - y[:, start : start + chunk]).to(torch.float64)
            total += err.square().sum(dim=(-2, -1))
    finally:
        model.train(was_training)
    return (total / (rows * y.shape[-1])).to(dtype).to(torch.float64).cpu().numpy()


@dataclass(frozen=True)
class TraskErrors:
    """Each run's error on one split and on Trask's scale (``100 · mse / baseline.value``)."""

    split: str
    mse: tuple[float, ...]
    normalised: tuple[float, ...]
    baseline: RandomBaseline

    @property
    def median_normalised(self) -> float:
        finite = [v for v in self.normalised if np.isfinite(v)]
        return float(np.median(finite)) if finite else float("nan")


def trask_errors(
    spec: ModelSpec,
    task: Any,
    mse: Sequence[float],
    *,
    split: str = "extrapolation",
    k: int = 100,
    seed_start: int = 1_000_000,
    task_seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: Any = None,
) -> TraskErrors:
    """Trask's normalised error of runs whose MSE on ``split`` is ``mse`` (e.g. each
    :class:`~nalm.results.RunResult`'s ``extrapolation_mse``, or :func:`split_mse`), against ``k``
    untrained networks of ``spec`` (mean MSE; non-finite baseline errors left out and counted)."""
    baseline = random_baseline_error(
        lambda: spec.build(torch.initial_seed(), dtype=dtype), task, split=split, k=k,
        seed_start=seed_start, task_seed=task_seed, error="mse", average="mean", device=device, dtype=dtype,
    )
    values = tuple(float(v) for v in mse)
    return TraskErrors(
        split=split,
        mse=values,
        normalised=tuple(trask_normalised_error(v, baseline.value) for v in values),
        baseline=baseline,
    )
