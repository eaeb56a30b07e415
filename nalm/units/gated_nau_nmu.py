"""Gated NAU/NMU — the gating experiment of Madsen & Johansen 2020.

A. Madsen, A. R. Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv:2001.05016 (appendix, "gating
experiment"): the NALU's input-dependent sigmoid gate placed between an NAU and an NMU, to show that
the gate, not the arithmetic paths, is what fails to converge.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, linear, mean_over_last, sigmoid, sparsity_distance
from ._init import glorot_uniform_radius, nau_uniform_radius
from .nmu import init_nmu_, nmu_product, nmu_sparsity


class GatedNAUNMU(ArithmeticUnit):
    """``y = g ⊙ (x clamp(W_add, −1, 1)ᵀ) + (1 − g) ⊙ NMU_{W_mul}(x)`` with ``g = σ(x Gᵀ)``.

    Separate weights for the two paths: ``W_add`` (NAU: forward clamp to [−1, 1], NAU initialisation),
    ``W_mul`` (NMU: raw in the forward pass, U[0.25, 0.75]) and the gate ``G`` (Xavier uniform, gain 1,
    no bias, as the NALU's), all ``[out, in]``. ``project_()`` clamps W_add to [−1, 1] and W_mul to
    [0, 1]. Regularizer ``"sparsity"`` = NAU-type term of W_add + NMU-type term of W_mul, so one schedule
    scales both (λ̂ = 10, 10⁶ → 2·10⁶ in the reference experiment).

    Domain: all of ℝ, as NAU and NMU; the NMU path's product must be representable.
    """

    gate_parameters = ("G",)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        fk = factory_kwargs(device, dtype)
        shape = (out_features, in_features)
        self.W_add = nn.Parameter(torch.empty(shape, **fk))
        self.W_mul = nn.Parameter(torch.empty(shape, **fk))
        self.G = nn.Parameter(torch.empty(shape, **fk))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r_add = nau_uniform_radius(self.in_features, self.out_features)
        r_gate = glorot_uniform_radius(self.in_features, self.out_features)
        with torch.no_grad():
            self.W_add.uniform_(-r_add, r_add)
            self.G.uniform_(-r_gate, r_gate)
        init_nmu_(self.W_mul, "madsen")

    def path_gate(self, x: Tensor) -> Tensor:
        """The gate ``g = σ(x Gᵀ)`` ``[.., B, O]``: the NAU path's share of each output."""
        return sigmoid(linear(x, self.G))

    def forward(self, x: Tensor) -> Tensor:
        gate = self.path_gate(x)
        additive = linear(x, self.W_add.clamp(-1.0, 1.0))
        multiplicative = nmu_product(x, self.W_mul)
        return gate * additive + (1 - gate) * multiplicative

    def regularizers(self) -> dict[str, Tensor]:
        nau_term = mean_over_last(sparsity_distance(self.W_add), 2)
        return {"sparsity": nau_term + nmu_sparsity(self.W_mul)}

    @torch.no_grad()
    def project_(self) -> None:
        self.W_add.clamp_(-1.0, 1.0)
        self.W_mul.clamp_(0.0, 1.0)

    def effective_weights(self) -> dict[str, Tensor]:
        # The gate matrix is excluded, as for the NALU.
        return {"W_add": self.W_add.clamp(-1.0, 1.0), "W_mul": self.W_mul}
