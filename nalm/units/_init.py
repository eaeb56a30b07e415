"""Initialisation helpers shared by several units (radii from the reference implementations)."""

from __future__ import annotations

import math
from functools import lru_cache


def _nac_weight_variance(r: float) -> float:
    # Var[tanh(Ŵ)·σ(M̂)] for Ŵ, M̂ ~ U[-r, r] (Madsen & Johansen 2020, "moments" appendix).
    return (1 - math.tanh(r) / r) * (r - math.tanh(r / 2)) / (2 * r)


@lru_cache(maxsize=None)
def nac_uniform_radius(in_features: int, out_features: int) -> float:
    """Radius r of U[-r, r] for NAC's Ŵ and M̂ so that Var[W] is the Glorot variance 2/(I+O).

    The fan is floored at 5 because Var[W](r) is bounded above, so smaller fans have no solution;
    solved by bisection on [0, 10] as stable-nalu does.
    """
    fan = max(in_features + out_features, 5)
    lo, hi = 1e-9, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if fan * _nac_weight_variance(mid) < 2:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def nau_uniform_radius(in_features: int, out_features: int) -> float:
    """Glorot-uniform bound capped at 0.5, the NAU initialisation of stable-nalu."""
    return min(0.5, math.sqrt(3.0) * math.sqrt(2.0 / (in_features + out_features)))


def glorot_uniform_radius(in_features: int, out_features: int) -> float:
    return math.sqrt(6.0 / (in_features + out_features))
