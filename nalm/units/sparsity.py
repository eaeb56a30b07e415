"""The sparsity error of Madsen & Johansen 2020, over every arithmetic unit inside a module.

``E_sparsity = max over all effective weights w of min(|w|, |1 − |w||)``: the distance of the
worst weight from the nearest of {−1, 0, 1}. Each unit's ``effective_weights()`` says which matrices
count (e.g. NAC's tanh(Ŵ)·σ(M̂), NAU's clamped W, never a NALU gate).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, sparsity_distance


def sparsity_error(module: nn.Module) -> Tensor:
    """Sparsity error of every :class:`ArithmeticUnit` in ``module`` (the module itself included).

    Effective weights are matrices ``[.., out, in]``; the maximum is taken over their last two
    dimensions, so stacked runs (``[S, out, in]``) give one value per run, shape ``[S]``, and ordinary
    units a 0-d tensor. Computed without gradient. Raises ``ValueError`` when the module holds no unit
    with effective weights.
    """
    worst: Tensor | None = None
    with torch.no_grad():
        for unit in module.modules():
            if not isinstance(unit, ArithmeticUnit):
                continue
            for w in unit.effective_weights().values():
                e = sparsity_distance(w).amax(dim=(-2, -1))
                worst = e if worst is None else torch.maximum(worst, e)
    if worst is None:
        raise ValueError(f"{type(module).__name__} holds no arithmetic unit with effective weights")
    return worst
