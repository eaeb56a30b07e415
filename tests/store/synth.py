"""Synthetic training results for the store tests (no trainer needed)."""

from __future__ import annotations

import math

from nalm.results import LearningCurve, RunResult


def synthetic_run(seed: int, *, solved: bool = True, status: str = "ok", n_points: int = 6) -> RunResult:
    """A plausible run; values depend on the seed so that mix-ups are visible."""
    steps = [1000 * i for i in range(n_points)]
    extrap = [10.0 ** (-(i + seed % 3)) for i in range(n_points)]
    if status == "diverged":
        extrap[-2:] = [math.nan, math.inf]
    return RunResult(
        seed=seed,
        status=status,  # type: ignore[arg-type]
        solved=solved,
        solved_at=1000 * (1 + seed % 4) if solved else None,
        selected_step=steps[-1],
        interpolation_mse=1e-9 * (seed + 1),
        extrapolation_mse=math.nan if status == "diverged" else 1e-7 * (seed + 1),
        sparsity_error=1e-4 * (seed + 1) if status != "diverged" else math.inf,
        threshold=1e-5,
        iterations=steps[-1] if status != "diverged" else steps[-1] - 500,
        diverged_at=steps[-1] - 500 if status == "diverged" else None,
        curve=LearningCurve(
            step=steps,
            interpolation_mse=[x / 10 for x in extrap],
            extrapolation_mse=extrap,
            sparsity_error=[0.5 / (i + 1) for i in range(n_points)],
        ),
    )
