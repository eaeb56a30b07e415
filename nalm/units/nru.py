"""NRU — the Neural Reciprocal Unit of Mistry, Farrahi & Hare 2021.

B. Mistry, K. Farrahi, J. Hare, "Learning Division with Neural Arithmetic Logic Modules",
arXiv:2110.05177 (2021). Checked against their reference code (nalm-division
``stable_nalu/layer/reciprocal_nmu.py`` and ``functional/mnac.py``, modes ``div`` and ``div-sepSign``);
the paper text was not available, so the definition follows the code.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs
from ._init import nau_uniform_radius
from ._options import check_choice, oob_mode_option
from .nau import SignedUnitWeightContract
from .nmu import OOBMode

NRUInit = Literal["madsen", "beta"]

#: Slope of the training-mode surrogate tanh(k·W)² for |W|.
SURROGATE_SLOPE = 1000.0


class NRU(SignedUnitWeightContract, ArithmeticUnit):
    """Multiplication/division unit:
    ``y[b,o] = Π_i (sign(x[b,i])·|x[b,i]|^{W[o,i]}·s(W[o,i]) + 1 − s(W[o,i]))``, W in [−1, 1].

    W = 1 selects x, W = −1 selects 1/x and W = 0 gives the identity 1. The selection strength s(W)
    is ``|W|`` in eval mode and the smooth surrogate ``tanh(1000·W)²`` in training mode, so train and
    eval outputs differ for non-discrete W (W = 0.5, x = 4: eval 1.5, train ≈ 2). ``sep_sign=True`` is
    the reference's ``div-sepSign`` variant:
    ``y = Π_i(|x_i|^{W} s + 1 − s) · Π_i sign(x_i)^{round(W)}``.

    Parameter ``W`` ``[out, in]``. ``oob_mode="clip"`` (default): raw W in the forward pass and a
    post-step projection to [−1, 1]; ``"regularized"``: forward clamp and ``"oob" = mean(relu(|W| − 1))``.
    Regularizer ``"sparsity" = mean(min(|W|, |1 − |W||))`` (NAU-style). Initialisation
    ``"madsen"`` (default): the NAU's U[±min(0.5, √3·√(2/(I+O)))]; ``"beta"``: 2·Beta(7, 7) − 1
    (the reference's optional ``--beta-nau``).

    Domain: x ≠ 0. There is no ε: at x = 0 a negative W gives |0|^W = ∞ and sign(0)·∞ = **NaN**
    (in eval mode and, since s(W) ≈ 1 there, in training mode too), and for 0 < W < 1 the gradient with
    respect to x is NaN at 0. Negative x with fractional W gives a real signed power
    (sign(x)·|x|^W), not a complex one. The product of ``in_features`` factors, each up to
    max(|x|, 1/|x|), must be representable.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        sep_sign: bool = False,
        oob_mode: OOBMode = "clip",
        init: NRUInit = "madsen",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        oob_mode = oob_mode_option(oob_mode)
        check_choice("init", init, ("madsen", "beta"))
        self.sep_sign = bool(sep_sign)
        self.oob_mode = oob_mode
        self.init = init
        self.W = nn.Parameter(torch.empty(out_features, in_features, **factory_kwargs(device, dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.init == "madsen":
                r = nau_uniform_radius(self.in_features, self.out_features)
                self.W.uniform_(-r, r)
            else:
                beta = torch.distributions.Beta(7.0, 7.0).sample(self.W.shape)
                self.W.copy_(2 * beta - 1)

    @property
    def weight(self) -> Tensor:
        return self.W.clamp(-1.0, 1.0) if self.oob_mode == "regularized" else self.W

    def forward(self, x: Tensor) -> Tensor:
        W = self.weight
        if self.training:
            s = torch.tanh(SURROGATE_SLOPE * W).square()
        else:
            s = W.abs()
        W = W.unsqueeze(-3)
        s = s.unsqueeze(-3)
        x = x.unsqueeze(-2)
        power = x.abs().pow(W)
        if not self.sep_sign:
            return (x.sign() * power * s + (1 - s)).prod(dim=-1)
        magnitude = (power * s + (1 - s)).prod(dim=-1)
        sign = x.sign().pow(W.round()).prod(dim=-1)
        return magnitude * sign

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, sep_sign={self.sep_sign}, oob_mode={self.oob_mode!r}, "
            f"init={self.init!r}"
        )
