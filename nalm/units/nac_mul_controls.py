"""NAC•,σ and NAC•,NMU — the control units of Madsen & Johansen 2020.

A. Madsen, A. R. Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv:2001.05016. Both keep NAC•'s
exp-log form and change only how the weight is built, to separate the effect of the NMU's
multiplication form from that of its weight constraint. Checked against stable-nalu
``layer/pos_nac.py`` (``PosNAC``) and ``layer/re_regualized_linear_pos_nac.py``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, sigmoid
from ._options import check_choice, oob_mode_option
from .nac import DEFAULT_LOG_EPS, log_space_matmul
from .nmu import NMUInit, OOBMode, UnitIntervalWeightContract, init_nmu_


class NACMulSigma(ArithmeticUnit):
    """NAC•,σ: ``y = exp(log(|x| + ε) Wᵀ)`` with ``W = σ(Ŵ)`` in (0, 1), ε = 1e-7.

    Can only multiply (no W < 0, so no division). Parameter ``W_hat`` ``[out, in]``, Xavier-normal
    (std √(2/(in+out))). No regularizer, no projection.

    Domain: all of ℝ, but the sign of x is lost (the output is always positive). With W ∈ (0, 1) the
    output lies between ε^{ΣW} and Π(|x|+ε) and stays finite wherever Π(|x|+ε) is representable.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float = DEFAULT_LOG_EPS,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        self.eps = float(eps)
        self.W_hat = nn.Parameter(
            torch.empty(out_features, in_features, **factory_kwargs(device, dtype))
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = math.sqrt(2.0 / (self.in_features + self.out_features))
        with torch.no_grad():
            self.W_hat.normal_(0.0, std)

    @property
    def weight(self) -> Tensor:
        return sigmoid(self.W_hat)

    def forward(self, x: Tensor) -> Tensor:
        return log_space_matmul(x, self.weight, self.eps)

    def effective_weights(self) -> dict[str, Tensor]:
        return {"W": self.weight}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps}"


class NACMulNMU(UnitIntervalWeightContract, ArithmeticUnit):
    """NAC•,NMU: ``y = exp(log(|x| + ε) Wᵀ)`` with a linear weight W in [0, 1], ε = 1e-7.

    Parameter ``W`` ``[out, in]`` with the NMU's initialisation, ``oob_mode``, projection to [0, 1]
    and ``"sparsity" = mean(min(|W|, |1 − W|))`` regularizer (see :class:`nalm.units.nmu.NMU`).

    Domain: all of ℝ, but the sign of x is lost (the output is always positive), and an input at 0
    with W > 0 contributes ε^W rather than 0.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        eps: float = DEFAULT_LOG_EPS,
        oob_mode: OOBMode = "clip",
        init: NMUInit = "madsen",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        oob_mode = oob_mode_option(oob_mode)
        check_choice("init", init, ("madsen", "paper"))
        self.eps = float(eps)
        self.oob_mode = oob_mode
        self.init = init
        self.W = nn.Parameter(torch.empty(out_features, in_features, **factory_kwargs(device, dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_nmu_(self.W, self.init)

    @property
    def weight(self) -> Tensor:
        return self.W.clamp(0.0, 1.0) if self.oob_mode == "regularized" else self.W

    def forward(self, x: Tensor) -> Tensor:
        return log_space_matmul(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, eps={self.eps}, oob_mode={self.oob_mode!r}, init={self.init!r}"
        )
