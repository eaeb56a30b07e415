"""Affine baselines of Madsen & Johansen 2020: Linear, ReLU and ReLU6 layers.

A. Madsen, A. R. Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv:2001.05016 (the "Linear",
"ReLU" and "ReLU6" rows of their comparison). Checked against stable-nalu ``layer/basic.py``. They
follow the unit contract with no regularizer and no projection, so every benchmark loop can run them.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, linear


class _Affine(ArithmeticUnit):
    """``y = act(x Wᵀ + b)``; parameters ``weight`` ``[out, in]`` and ``bias`` ``[out]`` (zeros)."""

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
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **fk))
        self.bias = nn.Parameter(torch.empty(out_features, **fk))
        self.reset_parameters()

    def _init_radius(self) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def reset_parameters(self) -> None:
        # The radius is computed from the declared sizes, not the tensor, so stacked [S, O, I] weights
        # get the same distribution.
        r = self._init_radius()
        with torch.no_grad():
            self.weight.uniform_(-r, r)
            self.bias.zero_()

    def _affine(self, x: Tensor) -> Tensor:
        return linear(x, self.weight) + self.bias.unsqueeze(-2)

    def effective_weights(self) -> dict[str, Tensor]:
        # The bias is not part of the sparsity metric (Madsen & Johansen: "affine layers W without bias").
        return {"W": self.weight}


class Linear(_Affine):
    """Affine layer ``y = x Wᵀ + b``: Xavier-uniform W (gain 1), zero bias.

    Can represent + and − exactly (W ∈ {−1, 0, 1}, b = 0) but has no pressure towards those values.
    Domain: all of ℝ.
    """

    def _init_radius(self) -> float:
        return math.sqrt(6.0 / (self.in_features + self.out_features))

    def forward(self, x: Tensor) -> Tensor:
        return self._affine(x)


class _Rectified(_Affine):
    _activation: Callable[[Tensor], Tensor]

    def _init_radius(self) -> float:
        # Kaiming uniform for ReLU: gain √2, bound gain·√(3 / fan_in).
        return math.sqrt(6.0 / self.in_features)


class ReLU(_Rectified):
    """``y = relu(x Wᵀ + b)``: Kaiming-uniform W (ReLU gain), zero bias. Domain: all of ℝ."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self._affine(x))


class ReLU6(_Rectified):
    """``y = min(max(x Wᵀ + b, 0), 6)``: Kaiming-uniform W (ReLU gain), zero bias.

    Domain: all of ℝ; the output is confined to [0, 6], so it cannot extrapolate beyond 6.
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(self._affine(x))
