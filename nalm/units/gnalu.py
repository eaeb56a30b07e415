"""G-NALU — the golden-ratio NALU.

The G-NALU replaces base e by the golden ratio φ = (1+√5)/2 in the NALU's tanh, sigmoid and
exp/log. Implemented after nalm-benchmark (B. Mistry et al., ``stable_nalu/functional/golden_ratio_base.py``
and the ``golden-ratio`` NAC-weight / gate / mul modes), whose README links the paper as IEEE Xplore
document 8995315; the paper's authors, venue and year could not be verified from the sources.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._base import linear, sigmoid
from .nac import log_space_matmul
from .nalu import NALU

#: ln φ. tanh_φ(z) = tanh(c·z), σ_φ(z) = σ(c·z) and φ^{u / ln φ} = e^u.
LN_PHI = math.log((1 + math.sqrt(5)) / 2)


def golden_nac_weight(W_hat: Tensor, M_hat: Tensor) -> Tensor:
    """``W = tanh_φ(Ŵ) ⊙ σ_φ(M̂) = tanh(cŴ) ⊙ σ(cM̂)``, c = ln φ."""
    return torch.tanh(LN_PHI * W_hat) * sigmoid(LN_PHI * M_hat)


class GNALU(NALU):
    """NALU in base φ: ``W = tanh_φ(Ŵ) ⊙ σ_φ(M̂)``, ``g = σ_φ(x Gᵀ)``,
    ``y = g ⊙ (x Wᵀ) + (1 − g) ⊙ φ^{(log(|x| + ε) Wᵀ) / ln φ}``.

    Because φ^{u/ln φ} = e^u exactly, the multiplicative path equals the NALU's; the φ-functions are
    computed by scaling their arguments with c = ln φ (``torch.tanh(c·Ŵ)``), never as ``φ ** (2z)``,
    which overflows to inf/inf = NaN for z ≳ 92 in float32. The net effect is a NALU whose raw
    parameters Ŵ, M̂ and G act c ≈ 0.481 times as strongly, i.e. a flatter loss surface.

    Parameters ``W_hat``, ``M_hat``, ``G`` (``[out, in]``) and the options are the NALU's; as in
    nalm-benchmark the initialisation is the NALU's unchanged (the NAC radius is still the one derived
    for base e). ε = 1e-7. No regularizer, no projection.

    Domain: as the NALU — the multiplicative path loses the sign of x, and for negative weights it
    grows like ε^W as |x| → 0 (1e7 at x = 0, W = −1).
    """

    @property
    def weight(self) -> Tensor:
        return golden_nac_weight(self.W_hat, self.M_hat)

    @property
    def weight_mul(self) -> Tensor:
        if self.shared_weights:
            return self.weight
        return golden_nac_weight(self.W_hat_mul, self.M_hat_mul)

    def path_gate(self, x: Tensor) -> Tensor:
        """``g = σ_φ(x Gᵀ) = σ(c·x Gᵀ)``."""
        return sigmoid(LN_PHI * linear(x, self.G))

    def forward(self, x: Tensor) -> Tensor:
        gate = self.path_gate(x)
        additive = linear(x, self.weight)
        multiplicative = log_space_matmul(x, self.weight_mul, self.eps)
        return gate * additive + (1 - gate) * multiplicative
