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
* :func:`reference_thresholds` — per length, ``mean + qt(1 − α, df)·sd/√n`` over the reference
  model's runs (the solved accumulator: only the CNN learns), α = 0.01 and df = 8 as both R scripts
  hard-code it (whatever the number of reference seeds; ``df=None`` takes n − 1).
* :func:`success_by_length` — a run succeeds at length L when its test MSE there is strictly below
  the threshold (``solved = test.extrapolation.mse[best.model.step] < threshold``).

Thresholds are data, not code: the reference model is a cell of the suite like any other (its runs
are stored), and :mod:`nalm.bench.sequential_mnist_report` reads them back from a results database,
as the R scripts read ``sequential_mnist_*_reference.csv``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "METRIC_PREFIX",
    "LengthSuccess",
    "mse_by_test_length",
    "per_length_mse",
    "reference_thresholds",
    "success_by_length",
]

#: Run metric names: ``test_mse_len_<L>``.
METRIC_PREFIX = "test_mse_len_"
#: The R scripts' one-sided level and their hard-coded degrees of freedom.
ALPHA = 0.01
DF = 8


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


def lengths_of(metrics: Iterable[str]) -> list[int]:
    """The test lengths of stored metric names (``test_mse_len_<L>``), ascending."""
    return sorted(int(name[len(METRIC_PREFIX):]) for name in metrics
                  if name.startswith(METRIC_PREFIX) and name[len(METRIC_PREFIX):].isdigit())


def reference_thresholds(mse: Mapping[int, Sequence[float]], *, alpha: float = ALPHA,
                         df: int | None = DF) -> dict[int, float]:
    """Per length, ``mean + qt(1 − alpha, df)·sd/√n`` of the reference runs' test MSEs (non-finite
    values left out; R's ``sd``, n − 1 in the denominator). ``df=None``: n − 1. NaN with fewer than
    two values (R: ``sd`` of one value is NA)."""
    from scipy import stats as st

    out = {}
    for length, values in mse.items():
        x = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
        n = len(x)
        if n < 2:
            out[int(length)] = math.nan
            continue
        q = float(st.t.ppf(1 - alpha, n - 1 if df is None else df))
        out[int(length)] = float(x.mean() + q * x.std(ddof=1) / math.sqrt(n))
    return out


@dataclass(frozen=True)
class LengthSuccess:
    """One cell at one test length: how many runs are below the threshold, of how many."""

    length: int
    threshold: float
    solved: int
    runs: int
    mse_median: float


def success_by_length(mse: Mapping[int, Sequence[float]], thresholds: Mapping[int, float]) -> list[LengthSuccess]:
    """Per length (ascending), the runs whose MSE is strictly below the length's threshold (a run
    with no value, or a NaN threshold, does not succeed — as R's ``replace_na(..., FALSE)``)."""
    out = []
    for length in sorted(mse):
        values = [float(v) for v in mse[length]]
        threshold = float(thresholds.get(length, math.nan))
        solved = sum(1 for v in values if math.isfinite(v) and v < threshold)
        finite = [v for v in values if not math.isnan(v)]
        out.append(LengthSuccess(length, threshold, solved, len(values),
                                 float(np.median(finite)) if finite else math.nan))
    return out
