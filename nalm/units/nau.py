"""NAU — the Neural Addition Unit of Madsen & Johansen 2020.

A. Madsen, A. R. Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv:2001.05016. Checked against
their reference code (stable-nalu, ``ReRegualizedLinearNACLayer``).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, linear, mean_over_last, sparsity_distance
from ._init import glorot_uniform_radius, nau_uniform_radius
from ._options import check_choice, oob_mode_option

OOBMode = Literal["clip", "regularized"]
NAUInit = Literal["madsen", "glorot", "small"]


class SignedUnitWeightContract:
    """The training contract shared by units whose weight ``W`` lives in [−1, 1] (NAU, NRU):
    NAU-type sparsity, and either a post-step clamp (``"clip"``) or the out-of-bounds penalty
    (``"regularized"``). Needs ``self.W``, ``self.oob_mode`` and ``self.weight``."""

    W: nn.Parameter
    oob_mode: str
    weight: Tensor

    def regularizers(self) -> dict[str, Tensor]:
        terms = {"sparsity": mean_over_last(sparsity_distance(self.W), 2)}
        if self.oob_mode == "regularized":
            terms["oob"] = mean_over_last(torch.relu(self.W.abs() - 1), 2)
        return terms

    @torch.no_grad()
    def project_(self) -> None:
        if self.oob_mode == "clip":
            self.W.clamp_(-1.0, 1.0)

    def effective_weights(self) -> dict[str, Tensor]:
        return {"W": self.weight}



class NAU(SignedUnitWeightContract, ArithmeticUnit):
    """Linear addition/subtraction unit: ``y = x clamp(W, −1, 1)ᵀ``, no bias.

    Parameter ``W`` ``[out, in]``. The forward pass always clamps W to [−1, 1] (zero gradient where the
    clamp is active). ``oob_mode``:

    * ``"clip"`` (default, every reference run): ``project_()`` also clamps the stored W in place.
    * ``"regularized"`` (the reference's spelling): no projection; ``regularizers()`` adds
      ``"oob" = mean(relu(|W| − 1))``, which the reference weights 1 with no schedule.

    Regularizer ``"sparsity" = mean(min(|W|, |1 − |W||))`` on the raw W (the "linear" shape), to be
    scaled by ``λ̂ · S_lin(t)`` by the training loop.

    Initialisation: ``"madsen"`` (default, reference code) is U[−r, r] with the Glorot-uniform bound
    capped at 0.5; ``"glorot"`` is the paper's plain Glorot uniform; ``"small"`` is U[0, 0.1), as the
    NPU paper's large-scale runs start their NAU (Heim et al. 2020, ``rand(…)/10``).

    ``clamp=False``: no clamp in the forward pass and no projection (``y = x Wᵀ`` with the raw W), as
    NeuralArithmetic.jl's NAU, which the NPU paper's experiments use; default True.

    Domain: all of ℝ; the output is exact for integer-valued W and never NaN for finite inputs
    (it overflows only where ``x Wᵀ`` itself does).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        oob_mode: OOBMode = "clip",
        init: NAUInit = "madsen",
        clamp: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        oob_mode = oob_mode_option(oob_mode)
        check_choice("init", init, ("madsen", "glorot", "small"))
        self.clamp = bool(clamp)
        self.oob_mode = oob_mode
        self.init = init
        self.W = nn.Parameter(torch.empty(out_features, in_features, **factory_kwargs(device, dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.init == "small":
            with torch.no_grad():
                self.W.uniform_(0.0, 0.1)
            return
        if self.init == "madsen":
            r = nau_uniform_radius(self.in_features, self.out_features)
        else:
            r = glorot_uniform_radius(self.in_features, self.out_features)
        with torch.no_grad():
            self.W.uniform_(-r, r)

    @property
    def weight(self) -> Tensor:
        return self.W.clamp(-1.0, 1.0) if self.clamp else self.W

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight)

    @torch.no_grad()
    def project_(self) -> None:
        if self.clamp:
            super().project_()

    def extra_repr(self) -> str:
        extra = "" if self.clamp else ", clamp=False"
        return f"{super().extra_repr()}, oob_mode={self.oob_mode!r}, init={self.init!r}{extra}"
