"""NMRU — the Neural Multiplicative Reciprocal Unit of Mistry, Farrahi & Hare 2021.

B. Mistry, K. Farrahi, J. Hare, "Learning Division with Neural Arithmetic Logic Modules",
arXiv:2110.05177 (2021). Checked against their reference code (nalm-division
``concat_reciprocal_nmu_sign_retrieval.py`` — ``--layer-type SignNMRU``, which the paper's main-result
run scripts use — and ``concat_reciprocal_nmu.py`` for the vanilla form); the paper text was not
available, so the definition follows the code.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, linear
from ._options import check_choice, oob_mode_option
from .nmu import NMUInit, OOBMode, UnitIntervalWeightContract, init_nmu_, nmu_product
from .npu import NPU_EPS


class NMRU(UnitIntervalWeightContract, ArithmeticUnit):
    """An NMU over the input and its reciprocal, ``x̃ = [x, ρ(x)]`` (``[.., B, 2·in]``), with the sign
    recovered separately.

    ``ρ(x) = 1/(x + ε)`` in training mode (ε = 2⁻²³, float32 machine epsilon) and ``1/x`` in eval mode.

    * ``sign_retrieval=True`` (default, the paper's main results):
      ``M = Π_j (W[o,j]·|x̃_j| + 1 − W[o,j])``, ``S = cos(π Σ_j 1[x̃_j < 0]·W[o,j])``, ``y = M ⊙ S``.
    * ``sign_retrieval=False``: the vanilla NMRU of the ablation, ``y = NMU_W(x̃)`` (the sign is carried by
      the product itself).

    Parameter ``W`` ``[out, 2·in]``: column i selects x_i, column in + i selects 1/x_i. NMU
    initialisation (``init="madsen"``: U[0.25, 0.75]; ``"paper"``: mean ½, variance ¼),
    ``oob_mode`` (``"clip"``: raw W and a post-step projection to [0, 1]; ``"regularized"``: the
    magnitude uses W clamped to [0, 1], plus ``"oob"``) and the NMU-type ``"sparsity"`` regularizer.
    As in the reference the sign term always uses the raw W. The reference recipe also clips the global
    gradient norm to 1; that belongs to the training loop.

    ``noise_range=(a, b)`` enables the optional sNMU-style multiplicative noise on the magnitude input in
    training mode (off in the paper's main runs): ``M = NMU_W(|x̃| ⊙ n) ⊘ NMU_W(n)``.

    Domain: training mode x ≠ −ε; eval mode x ≠ 0 (ε is added to x, not to |x|, so x = −ε in training
    and x = 0 in eval divide by zero and give ∞/NaN). Zero is a valid training input (ρ(0) = 1/ε ≈ 8.4e6).
    Each factor is at most max(|x|, 1/|x|), and the product of 2·in factors must be representable.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        sign_retrieval: bool = True,
        eps: float = NPU_EPS,
        noise_range: tuple[float, float] | None = None,
        oob_mode: OOBMode = "clip",
        init: NMUInit = "madsen",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        oob_mode = oob_mode_option(oob_mode)
        check_choice("init", init, ("madsen", "paper"))
        self.sign_retrieval = bool(sign_retrieval)
        self.eps = float(eps)
        if noise_range is not None:
            low, high = (float(v) for v in noise_range)
            if not 0 < low <= high:
                raise ValueError(f"noise_range needs 0 < low <= high, got {noise_range!r}")
            noise_range = (low, high)
        self.noise_range = noise_range
        self.oob_mode = oob_mode
        self.init = init
        self.W = nn.Parameter(
            torch.empty(out_features, 2 * in_features, **factory_kwargs(device, dtype))
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_nmu_(self.W, self.init)

    @property
    def weight(self) -> Tensor:
        return self.W.clamp(0.0, 1.0) if self.oob_mode == "regularized" else self.W

    def with_reciprocal(self, x: Tensor) -> Tensor:
        """``x̃ = [x, ρ(x)]`` along the last dimension."""
        reciprocal = (x + self.eps).reciprocal() if self.training else x.reciprocal()
        return torch.cat((x, reciprocal), dim=-1)

    def _nmu(self, v: Tensor, W: Tensor) -> Tensor:
        if self.noise_range is None or not self.training:
            return nmu_product(v, W)
        low, high = self.noise_range
        n = low + torch.rand_like(v) * (high - low)
        return nmu_product(v * n, W) / nmu_product(n, W)

    def forward(self, x: Tensor) -> Tensor:
        x_tilde = self.with_reciprocal(x)
        W = self.weight
        if not self.sign_retrieval:
            return self._nmu(x_tilde, W)
        magnitude = self._nmu(x_tilde.abs(), W)
        negative = (x_tilde < 0).to(x_tilde.dtype)
        return magnitude * torch.cos(math.pi * linear(negative, self.W))

    def extra_repr(self) -> str:
        extra = f", noise_range={self.noise_range!r}" if self.noise_range is not None else ""
        return (
            f"{super().extra_repr()}, sign_retrieval={self.sign_retrieval}, eps={self.eps}, "
            f"oob_mode={self.oob_mode!r}, init={self.init!r}{extra}"
        )
