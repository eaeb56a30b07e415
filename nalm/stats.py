"""Torch-free statistics used by metrics, the results store and the report."""

from __future__ import annotations

import math

# Two-sided 95% standard-normal quantile, Φ⁻¹(0.975).
Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, without continuity correction.

    This is R's ``binom.confint(method="wilson")``, which Madsen & Johansen 2020 report.
    """
    if trials <= 0:
        raise ValueError(f"trials must be positive, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, trials], got {successes} of {trials}")
    p = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else centre - half  # exact bound; avoids 1e-18 round-off
    high = 1.0 if successes == trials else centre + half
    return low, high
