"""Sequential MNIST after training: each run's test MSE at every test length, the reference model's
thresholds, and success per length (Madsen & Johansen 2020; stable-nalu ``export/sequential_mnist_
{sum,prod}_long.r``).

* :func:`mse_by_test_length` — the run metric ``sequential_mnist_lengths`` (registered in
  :data:`nalm.training.evaluation.RUN_METRICS`): every run's MSE on the test fork of each of the
  task's ``extrapolation_lengths``, at its *selected* step (the R scripts read every metric at the
  step the validation MSE selects). The trainer logs only one test length (the longest, its
  ``extrapolation`` split); the others are measured here once, from the stored selected parameters:
  the CNN reads every test image once, and the cell then runs over each length's sequences. Stored
  as ``test_mse_len_<L>``.

The thresholds (from the reference cell's stored runs) and success per length are computed from
these stored numbers by the report (:mod:`nalm.report.sequential_mnist`), torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from nalm.results import SEQUENTIAL_MNIST_MSE_PREFIX as METRIC_PREFIX

__all__ = ["mse_by_test_length", "per_length_mse"]


@torch.no_grad()
def per_length_mse(model: torch.nn.Module, task: Any, lengths: Iterable[int], *, device: Any = None,
                   dtype: torch.dtype = torch.float32) -> dict[int, np.ndarray]:
    """MSE ``[S]`` of a stacked :class:`~nalm.units.sequential_mnist.SequentialMnistNetwork` on the
    test fork of each length, measured as the trainer measures its logged points (predictions and
    targets in ``dtype``, squared errors summed in float64, the mean rounded to ``dtype``)."""
    was_training = model.training
    model.eval()
    try:
        images = task.images("test", device=device).to(dtype)
        values = model.digits(images.unsqueeze(0))  # [S, N]: each test image read once
        labels = task.labels("test")
        from nalm.tasks.mnist import cumulative_targets

        out = {}
        for length in lengths:
            idx = task.evaluation_indices("test", int(length))  # [n, L]
            pred = model.accumulate(values[:, torch.tensor(idx, device=values.device)])  # [S, n, L]
            target = cumulative_targets(task.op, labels[idx]).to(device=pred.device, dtype=dtype)
            err = (pred - target).to(torch.float64)
            mse = err.square().sum(dim=(-2, -1)) / idx.size
            out[int(length)] = mse.to(dtype).to(torch.float64).cpu().numpy()
        return out
    finally:
        model.train(was_training)


def mse_by_test_length(output: Any, spec: Any, task: Any, seeds: Sequence[int], device: Any = None,
                       dtype: torch.dtype = torch.float32) -> dict[str, np.ndarray]:
    """The run metric: ``{"test_mse_len_<L>": [S]}`` for every L of ``task.extrapolation_lengths``,
    each run at its selected step (:meth:`~nalm.training.TrainOutput.selected_model`)."""
    del spec, seeds  # the stacked model carries both
    mse = per_length_mse(output.selected_model(), task, task.extrapolation_lengths, device=device, dtype=dtype)
    return {f"{METRIC_PREFIX}{length}": values for length, values in mse.items()}
