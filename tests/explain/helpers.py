"""Hand-set weights for the read-out tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import nalm

BIG = 20.0  # tanh(20)·σ(20) = 1 − 2e-9: a NAC weight of ±1 (σ(−20) = 2e-9: a weight of 0)

#: Positive rows, where the NALU family's gates are read and |x| is x.
POSITIVE = np.random.default_rng(0).uniform(1.0, 5.0, size=(200, 4))


def set_params(unit: torch.nn.Module, **values: Any) -> torch.nn.Module:
    with torch.no_grad():
        for name, value in values.items():
            param = unit.get_parameter(name)
            param.copy_(torch.as_tensor(value, dtype=param.dtype).expand_as(param))
    return unit


def nac_raw(W: list[list[float]], scale: float = BIG) -> dict[str, list[list[float]]]:
    """Raw (Ŵ, M̂) whose tanh(Ŵ)·σ(M̂) is W ∈ {−1, 0, 1} to 2e-9 (``scale`` for φ-scaled units)."""
    W_hat = [[scale * (1 if w >= 0 else -1) for w in row] for row in W]
    M_hat = [[scale * (1 if w != 0 else -1) for w in row] for row in W]
    return {"W_hat": W_hat, "M_hat": M_hat}


def unit(name: str, in_features: int, out_features: int = 1, **options: Any) -> torch.nn.Module:
    return nalm.create(name, in_features, out_features, **options).eval()
