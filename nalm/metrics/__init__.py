"""How runs are measured: the success threshold, step selection, solved-at, sparsity, Trask's scale.

* :mod:`~nalm.metrics.thresholds` — success-threshold policies (A. Madsen, A. R. Johansen, "Neural
  Arithmetic Units", ICLR 2020; B. Mistry, K. Farrahi, J. Hare, "A Primer for Neural Arithmetic Logic
  Modules", JMLR 2022), their Monte Carlo estimate and the published values;
* :mod:`~nalm.metrics.scoring` — selected step, success, solved-at and the errors, as in the R export
  scripts of stable-nalu (Wilson 95 % intervals: :func:`nalm.stats.wilson_interval`);
* :mod:`~nalm.metrics.trask` — errors scaled by a randomly initialised model's error (A. Trask et
  al., "Neural Arithmetic Logic Units", NeurIPS 2018).
"""

from __future__ import annotations

from nalm.stats import wilson_interval

from .scoring import (
    SELECTION_WINDOW,
    CurveScores,
    mse,
    score_curves,
    score_run,
    select_index,
    solved_at_index,
    sparsity_error,
)
from .thresholds import (
    DEFAULT_EPS,
    DEFAULT_MC_SAMPLES,
    PUBLISHED_THRESHOLDS,
    THRESHOLD_POLICIES,
    ThresholdEstimate,
    default_threshold_policy,
    success_threshold,
    threshold_estimate,
)
from .trask import RandomBaseline, random_baseline_error, trask_normalised_error

__all__ = [
    "DEFAULT_EPS",
    "DEFAULT_MC_SAMPLES",
    "PUBLISHED_THRESHOLDS",
    "SELECTION_WINDOW",
    "THRESHOLD_POLICIES",
    "CurveScores",
    "RandomBaseline",
    "ThresholdEstimate",
    "default_threshold_policy",
    "mse",
    "random_baseline_error",
    "score_curves",
    "score_run",
    "select_index",
    "solved_at_index",
    "sparsity_error",
    "success_threshold",
    "threshold_estimate",
    "trask_normalised_error",
    "wilson_interval",
]
