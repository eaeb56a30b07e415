"""The success threshold of the recurrent arithmetic task: the test MSE of an ε-perturbed recurrent
solution, estimated by Monte Carlo as stable-nalu's ``export/function_task_recurrent_mse_expectation.r``
does (hoedt/stable-nalu 64b3d24).

The R script's perturbed model: input weights ``W`` (``input_size × 2``) with ``1 − ε`` on the
entries of each operand's subset and ``ε`` everywhere else, recurrent weights ``U = (1 − ε)·I``, and
the operation applied exactly to the final state:

    Z_t = x_t W^ε + Z_{t−1} U^ε,  Z_0 = 0,   error = (op(Z_T) − op(Σ_t x_t W*))²

over sequences of the scored test length (``extrapolation_length``, 100) drawn from the scored range
(the *training* range U[1, 2]: the R script's ``parameter == 'default'`` rows, which
``function_task_recurrent.r`` uses). ``madsen_r`` takes the R script's subsets, which are one input
larger than the generator's (R's inclusive ``W[a.start:a.end]``, as for the static task: subsets of 3
overlapping by 2 for the default 10 inputs); ``generator`` the generator's own.

The inputs come from nalm's counter-based generator (float64, the threshold stream, a fixed seed), so
the estimate is deterministic; ``samples`` counts sequences (the R script uses 10,000).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from nalm.errors import ConfigError
from nalm.resources import check_duration, check_host_memory
from nalm.tasks.ops import operation
from nalm.tasks.rng import STREAM_THRESHOLD, UniformStream

__all__ = ["perturbed_recurrent_errors", "simulate_recurrent"]

_MC_CHUNK_VALUES = 2_000_000  # inputs per chunk (16 MB of float64)


def perturbed_recurrent_errors(op: str, eps: float, sums: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Squared errors of the ε-perturbed recurrent solution for sequences with per-step subset sums
    ``sums [N, T, K]`` and per-step sums of all inputs ``total [N, T]`` (float64)."""
    z = np.zeros((sums.shape[0], sums.shape[2]))
    for t in range(sums.shape[1]):
        s = sums[:, t, :]
        z = (1.0 - eps) * z + ((1.0 - eps) * s + eps * (total[:, t, None] - s))
    exact = sums.sum(axis=1)
    compute = operation(op).compute
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return (compute(list(z.T), np) - compute(list(exact.T), np)) ** 2


def simulate_recurrent(
    task: Any,
    policy: str,
    subsets: Sequence[tuple[int, int]],
    eps: float,
    samples: int,
    seed: int,
    max_seconds: float | None,
) -> tuple[float, float, int]:
    """``(mean, standard error, samples)`` of the perturbed solution's squared error on ``samples``
    test sequences; ``subsets`` are the operands' half-open input ranges (the policy's geometry)."""
    if policy not in ("madsen_r", "generator"):
        raise ConfigError(f"threshold_policy: {policy!r} is not defined for the recurrent task")
    n, T = task.input_size, task.extrapolation_length
    spec = task.interpolation_range  # the scored test: longer sequences over the training range
    columns = list(subsets) + [(0, n)]
    starts = np.array([[t * n + s for t in range(T) for s, _ in columns]], dtype=np.int64)
    ends = np.array([[t * n + e for t in range(T) for _, e in columns]], dtype=np.int64)
    stream = UniformStream(
        [seed], T * n, [r[0] for r in spec], [r[1] - r[0] for r in spec], starts, ends,
        precision="float64", stream=STREAM_THRESHOLD,
    )
    rows = max(1, _MC_CHUNK_VALUES // (T * n))
    check_host_memory(rows * T * n * 8 * 2, f"a Monte Carlo chunk ({rows:,} sequences of {T} × {n})",
                      "use fewer inputs")
    total = total_sq = 0.0
    count = done = chunk = 0
    started = time.perf_counter()
    while done < samples:
        m = min(rows, samples - done)
        _, sums = stream(chunk, m)
        per_step = sums[0].numpy().reshape(m, T, len(columns))
        err = perturbed_recurrent_errors(task.op, eps, per_step[..., :-1], per_step[..., -1])
        total += float(err.sum())
        total_sq += float(np.square(err).sum())
        count += m
        done += m
        if chunk == 1:  # projected from the second chunk (the first may include JIT compilation)
            check_duration((time.perf_counter() - started) / m * samples,
                           f"samples: {samples:,} Monte Carlo sequences of {T} steps", "use fewer samples",
                           max_seconds)
        started = time.perf_counter()
        chunk += 1
    mean = total / count
    var = max(total_sq / count - mean * mean, 0.0) * count / max(count - 1, 1)
    return mean, math.sqrt(var / count), count
