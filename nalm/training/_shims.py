# TEMPORARY until nalm.metrics / nalm.units.sparsity land (helpers); delete after wiring.
from __future__ import annotations
from dataclasses import dataclass
import numpy as np
import torch
from nalm.units._base import ArithmeticUnit, sparsity_distance


def sparsity_error(model):
    values = []
    for m in model.modules():
        if isinstance(m, ArithmeticUnit):
            for w in m.effective_weights().values():
                values.append(sparsity_distance(w).flatten(-2).amax(-1))
    return torch.stack(values).amax(0)


@dataclass
class Score:
    selected_index: int
    selected_step: int
    solved: bool
    solved_at: int | None


def score_curves(steps, interp, extrap, threshold, window=5000):
    out = []
    for i in range(interp.shape[0]):
        n = len(steps); lo = max(0, n - window)
        w = interp[i, lo:]
        if np.isfinite(w).any():
            idx = lo + int(np.nanargmin(np.where(np.isfinite(w), w, np.nan)))
        else:
            idx = n - 1
        solved = bool(extrap[i, idx] < threshold)
        under = np.nonzero(extrap[i] < threshold)[0]
        out.append(Score(idx, int(steps[idx]), solved, int(steps[under[0]]) if len(under) else None))
    return out
