"""NAC₊ and NAC• — the neural accumulators of Trask et al. 2018.

A. Trask, F. Hill, S. Reed, J. Rae, C. Dyer, P. Blunsom, "Neural Arithmetic Logic Units",
NeurIPS 2018, arXiv:1808.00508.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, linear, sigmoid
from ._init import nac_uniform_radius

NACInit = Literal["madsen", "article"]
DEFAULT_LOG_EPS = 1e-7


def nac_weight(W_hat: Tensor, M_hat: Tensor) -> Tensor:
    """W = tanh(Ŵ) ⊙ σ(M̂): every entry in (−1, 1), biased towards {−1, 0, 1}."""
    return torch.tanh(W_hat) * sigmoid(M_hat)


def log_space_matmul(x: Tensor, W: Tensor, eps: float) -> Tensor:
    """exp(log(|x| + ε) Wᵀ) = Π_i (|x_i| + ε)^{W_i}; always positive, so the sign of x is lost."""
    return torch.exp(linear(torch.log(x.abs() + eps), W))


def init_nac_pair_(W_hat: Tensor, M_hat: Tensor, init: NACInit) -> None:
    """Initialise Ŵ and M̂ in place.

    ``"madsen"``: U[−r, r] with r chosen so Var[W] is the Glorot variance (stable-nalu, the
    reference of every later benchmark). ``"article"``: U[−2, 2], as the TensorFlow article's NAC demo.
    """
    out_features, in_features = W_hat.shape[-2:]
    r = nac_uniform_radius(in_features, out_features) if init == "madsen" else 2.0
    with torch.no_grad():
        W_hat.uniform_(-r, r)
        M_hat.uniform_(-r, r)


class _NACWeights(ArithmeticUnit):
    """Holds Ŵ, M̂ ([out, in]) and the shared initialisation / weight construction."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: NACInit = "madsen",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        if init not in ("madsen", "article"):
            raise ValueError(f"init must be 'madsen' or 'article', got {init!r}")
        self.init = init
        fk = factory_kwargs(device, dtype)
        self.W_hat = nn.Parameter(torch.empty(out_features, in_features, **fk))
        self.M_hat = nn.Parameter(torch.empty(out_features, in_features, **fk))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_nac_pair_(self.W_hat, self.M_hat, self.init)

    @property
    def weight(self) -> Tensor:
        return nac_weight(self.W_hat, self.M_hat)

    def effective_weights(self) -> dict[str, Tensor]:
        return {"W": self.weight}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, init={self.init!r}"


class NAC(_NACWeights):
    """Additive neural accumulator NAC₊: ``y = x Wᵀ`` with ``W = tanh(Ŵ) ⊙ σ(M̂)``, no bias.

    Learns sums and differences of inputs; W is bounded in (−1, 1) by construction, so there is no
    projection and no regularizer. Domain: all of ℝ.
    """

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight)


class NACMul(_NACWeights):
    """Multiplicative accumulator NAC•: ``y = exp(log(|x| + ε) Wᵀ)``, ε = 1e-7 by default.

    Learns products, quotients and powers of *magnitudes*: the output is always positive (the sign
    of x is lost), and for W < 0 it blows up as |x| → 0 (ε⁻¹ = 1e7 at x = 0, W = −1).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float = DEFAULT_LOG_EPS,
        init: NACInit = "madsen",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        self.eps = float(eps)
        super().__init__(in_features, out_features, init=init, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return log_space_matmul(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps}"
