"""NALU — the neural arithmetic logic unit of Trask et al. 2018.

A. Trask et al., "Neural Arithmetic Logic Units", NeurIPS 2018, arXiv:1808.00508. Checked against
the stable-nalu reference code (Madsen & Johansen), which every later benchmark uses.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, linear, sigmoid
from ._init import glorot_uniform_radius
from .nac import DEFAULT_LOG_EPS, NACInit, init_nac_pair_, log_space_matmul, nac_weight


class NALU(ArithmeticUnit):
    """``y = g ⊙ (x Wᵀ) + (1 − g) ⊙ exp(log(|x| + ε) Wᵀ)``, gate ``g = σ(x Gᵀ)``.

    ``W = tanh(Ŵ) ⊙ σ(M̂)`` is shared by both paths (as in the paper and the article). With
    ``shared_weights=False`` the multiplicative path gets its own pair ``W_hat_mul``/``M_hat_mul``
    (stable-nalu's ``--nalu-two-nac``, "NALU (separate)" in Madsen & Johansen 2020).

    Initialisation ``"madsen"`` (default): NAC radius for Ŵ, M̂ and Glorot-uniform G (stable-nalu);
    ``"article"``: truncated normal, std 0.02, for every parameter (the TensorFlow article's demo);
    ``"schlor2020"``: Ŵ ~ N(1, 0.1²), M̂ ~ N(−1, 0.1²), G ~ N(0, 0.1²), what the iNALU paper's
    experiment scripts give their NALU baselines ("NALU (m)"/"NALU (v)"; for one output the two are
    the same unit); ``"small"``: every parameter U[0, 0.1), as the NPU paper's large-scale runs
    start their NALUs (Heim et al. 2020).
    The gate has no bias, as in the paper. Domain: the multiplicative path loses the sign of x and
    inherits NAC•'s singularity at x = 0 for negative weights; the gate is known to converge
    close to randomly (Madsen & Johansen 2020), so NALU often fails to learn ×.
    """

    gate_parameters = ("G",)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        shared_weights: bool = True,
        eps: float = DEFAULT_LOG_EPS,
        init: NACInit | Literal["schlor2020", "small"] = "madsen",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        if init not in ("madsen", "article", "schlor2020", "small"):
            raise ValueError(f"init must be 'madsen', 'article', 'schlor2020' or 'small', got {init!r}")
        self.shared_weights = bool(shared_weights)
        self.eps = float(eps)
        self.init = init
        fk = factory_kwargs(device, dtype)
        shape = (out_features, in_features)
        self.W_hat = nn.Parameter(torch.empty(shape, **fk))
        self.M_hat = nn.Parameter(torch.empty(shape, **fk))
        if not self.shared_weights:
            self.W_hat_mul = nn.Parameter(torch.empty(shape, **fk))
            self.M_hat_mul = nn.Parameter(torch.empty(shape, **fk))
        self.G = nn.Parameter(torch.empty(shape, **fk))
        self.reset_parameters()

    def _nac_pairs(self) -> list[tuple[Tensor, Tensor]]:
        pairs = [(self.W_hat, self.M_hat)]
        if not self.shared_weights:
            pairs.append((self.W_hat_mul, self.M_hat_mul))
        return pairs

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.init == "article":
                for p in self.parameters():
                    nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)
                return
            if self.init == "small":
                # The NPU paper's large-scale runs: every NALU matrix U[0, 0.1) (rand(…)/10; their
                # NeuralArithmetic.jl NALU's gate bias, set to 0 there, does not exist here).
                for p in self.parameters():
                    p.uniform_(0.0, 0.1)
                return
            if self.init == "schlor2020":
                # The iNALU experiment scripts set these for every layer they build, NALUs included
                # (daschloer/inalu nalu_syn_simple_arith.py: iw = 1, im = -1, ig = 0, all sd 0.1).
                for W_hat, M_hat in self._nac_pairs():
                    W_hat.normal_(1.0, 0.1)
                    M_hat.normal_(-1.0, 0.1)
                self.G.normal_(0.0, 0.1)
                return
            for W_hat, M_hat in self._nac_pairs():
                init_nac_pair_(W_hat, M_hat, "madsen")
            r = glorot_uniform_radius(self.in_features, self.out_features)
            self.G.uniform_(-r, r)

    @property
    def weight(self) -> Tensor:
        return nac_weight(self.W_hat, self.M_hat)

    @property
    def weight_mul(self) -> Tensor:
        if self.shared_weights:
            return self.weight
        return nac_weight(self.W_hat_mul, self.M_hat_mul)

    def path_gate(self, x: Tensor) -> Tensor:
        """The gate ``g = σ(x Gᵀ)`` ``[.., B, O]``: the additive path's share of each output."""
        return sigmoid(linear(x, self.G))

    def forward(self, x: Tensor) -> Tensor:
        gate = self.path_gate(x)
        weight = self.weight
        additive = linear(x, weight)
        multiplicative = log_space_matmul(
            x, weight if self.shared_weights else self.weight_mul, self.eps
        )
        return gate * additive + (1 - gate) * multiplicative

    def effective_weights(self) -> dict[str, Tensor]:
        # The gate matrix is not an arithmetic weight and is excluded, as in the papers' metric.
        weights = {"W": self.weight}
        if not self.shared_weights:
            weights["W_mul"] = self.weight_mul
        return weights

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, shared_weights={self.shared_weights}, eps={self.eps}, "
            f"init={self.init!r}"
        )


