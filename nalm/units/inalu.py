"""iNALU — the improved NALU of Schlör, Ring & Hotho 2020.

D. Schlör, M. Ring, A. Hotho, "iNALU: Improved Neural Arithmetic Logic Unit", Frontiers in Artificial
Intelligence 3:71 (2020), doi:10.3389/frai.2020.00071, arXiv:2003.07629. Implements the
independent-weights, input-independent-gate variant (``nalui2`` in the authors' TensorFlow code,
``INALULayer`` in nalm-benchmark); the paper text was not available, so the definition follows the code.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, linear, mean_over_last, sigmoid
from ._options import check_choice
from .nac import nac_weight

INALUInit = Literal["benchmark", "original"]

# (mean, std) of the normal initialisers for (Ŵ, M̂, g).
_INIT_CONSTANTS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    # The architecture-file defaults, which nalm-benchmark uses.
    "benchmark": ((0.88, 0.2), (0.5, 0.2), (0.0, 0.2)),
    # What the original experiment scripts pass in (daschloer/inalu nalu_syn_simple_arith.py).
    "original": ((1.0, 0.1), (-1.0, 0.1), (0.0, 0.1)),
}


class INALU(ArithmeticUnit):
    """``y = γ ⊙ (x W_aᵀ) + (1 − γ) ⊙ m ⊙ msv`` with an input-independent gate ``γ = σ(g)``.

    * ``W_a = tanh(Ŵ_a) ⊙ σ(M̂_a)``, ``W_m = tanh(Ŵ_m) ⊙ σ(M̂_m)`` (independent pairs, ``[out, in]``);
    * ``m = exp(min(log(max(|x|, ε)) W_mᵀ, ω))``, ε = 1e-7, ω = 20: the log floor replaces the
      NALU's ``+ε`` and the exponent cap bounds m by e^20 ≈ 4.85e8 (both have zero gradient where active);
    * ``msv[b,o] = Π_i (sign(x[b,i])·|W_m[o,i]| + 1 − |W_m[o,i]|)`` restores the sign of the product
      (the original's clip of msv to [−1, 1] is a no-op and omitted).

    Parameters ``W_a_hat``, ``M_a_hat``, ``W_m_hat``, ``M_m_hat`` ``[out, in]`` and ``g`` ``[out]``
    (the references store ``[in, out]``: transpose their checkpoints). ``shared_weights=True`` is the
    shared-weights variant (``nalui1``, "iNALU (sw)" in the paper's experiments): one pair
    ``W_a_hat``/``M_a_hat`` serves both paths (``W_m = W_a``, also in msv) and the unit has no
    ``W_m_hat``/``M_m_hat``.

    Initialisation, all normal — the two reference code bases disagree: ``init="benchmark"`` (default,
    nalm-benchmark and the architecture file's defaults) Ŵ ~ N(0.88, 0.2²), M̂ ~ N(0.5, 0.2²),
    g ~ N(0, 0.2²); ``init="original"`` (the authors' experiment scripts) Ŵ ~ N(1, 0.1²),
    M̂ ~ N(−1, 0.1²), g ~ N(0, 0.1²). ``reset_parameters()`` is also nalm-benchmark's re-initialisation;
    when to call it (the loss-plateau rule) is the training recipe's business, as is gradient
    value clipping (0.1).

    Regularizer ``"inalu" = Σ_P mean(max(t − |P|, 0))`` over the five raw parameters, t = 20, not divided
    by t (as both reference codes); the recipe weights it 0.05 and switches it on late. No projection.

    Domain: all of ℝ with finite output for every finite input: x = 0 contributes a factor
    ``1 − |W_m|`` to msv (sign(0) = 0) and ε^{W_m} to m; m never exceeds e^20. Gradients with respect
    to x vanish where |x| < ε or the exponent cap is active.
    """

    gate_parameters = ("g",)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: INALUInit = "benchmark",
        shared_weights: bool = False,
        eps: float = 1e-7,
        omega: float = 20.0,
        t: float = 20.0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        check_choice("init", init, tuple(_INIT_CONSTANTS))
        self.init = init
        self.shared_weights = bool(shared_weights)
        self.eps = float(eps)
        self.omega = float(omega)
        self.t = float(t)
        fk = factory_kwargs(device, dtype)
        shape = (out_features, in_features)
        self.W_a_hat = nn.Parameter(torch.empty(shape, **fk))
        self.M_a_hat = nn.Parameter(torch.empty(shape, **fk))
        if not self.shared_weights:
            self.W_m_hat = nn.Parameter(torch.empty(shape, **fk))
            self.M_m_hat = nn.Parameter(torch.empty(shape, **fk))
        self.g = nn.Parameter(torch.empty(out_features, **fk))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        (w_mean, w_std), (m_mean, m_std), (g_mean, g_std) = _INIT_CONSTANTS[self.init]
        with torch.no_grad():
            pairs = self._pairs()
            for W_hat, _ in pairs:
                W_hat.normal_(w_mean, w_std)
            for _, M_hat in pairs:
                M_hat.normal_(m_mean, m_std)
            self.g.normal_(g_mean, g_std)

    def _pairs(self) -> list[tuple[Tensor, Tensor]]:
        """The raw (Ŵ, M̂) pairs: the additive path's, then (independent weights) the multiplicative's."""
        pairs = [(self.W_a_hat, self.M_a_hat)]
        if not self.shared_weights:
            pairs.append((self.W_m_hat, self.M_m_hat))
        return pairs

    @property
    def weight_add(self) -> Tensor:
        return nac_weight(self.W_a_hat, self.M_a_hat)

    @property
    def weight_mul(self) -> Tensor:
        if self.shared_weights:
            return self.weight_add
        return nac_weight(self.W_m_hat, self.M_m_hat)

    def path_gate(self, x: Tensor) -> Tensor:
        """The gate ``γ = σ(g)`` broadcast to ``[.., B, O]`` (it does not depend on x)."""
        gate = sigmoid(self.g, dims=1).unsqueeze(-2)
        return gate.expand(*torch.broadcast_shapes(gate.shape[:-2], x.shape[:-2]), x.shape[-2], -1)

    def forward(self, x: Tensor) -> Tensor:
        W_a = self.weight_add
        W_m = self.weight_mul
        additive = linear(x, W_a)
        log_x = x.abs().clamp(min=self.eps).log()
        magnitude = torch.exp(linear(log_x, W_m).clamp(max=self.omega))
        W_abs = W_m.abs().unsqueeze(-3)
        sign = (x.sign().unsqueeze(-2) * W_abs + (1 - W_abs)).prod(dim=-1)
        gate = sigmoid(self.g, dims=1).unsqueeze(-2)
        return gate * additive + (1 - gate) * magnitude * sign

    def _raw_parameters(self) -> list[tuple[Tensor, int]]:
        matrices = [P for pair in self._pairs() for P in pair]
        return [(P, 2) for P in matrices] + [(self.g, 1)]

    def regularizers(self) -> dict[str, Tensor]:
        terms = [mean_over_last(torch.relu(self.t - P.abs()), ndim) for P, ndim in self._raw_parameters()]
        return {"inalu": torch.stack(terms).sum(dim=0)}

    def effective_weights(self) -> dict[str, Tensor]:
        # The gate is not an arithmetic weight and is excluded, as for the NALU.
        if self.shared_weights:
            return {"W": self.weight_add}
        return {"W_a": self.weight_add, "W_m": self.weight_mul}

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, init={self.init!r}, shared_weights={self.shared_weights}, "
            f"eps={self.eps}, omega={self.omega}, "
            f"t={self.t}"
        )
