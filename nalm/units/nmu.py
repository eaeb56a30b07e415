"""NMU — the Neural Multiplication Unit of Madsen & Johansen 2020.

A. Madsen, A. R. Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv:2001.05016. Checked against
their reference code (stable-nalu, ``ReRegualizedLinearMNACLayer`` with ``mnac`` mode ``prod``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, is_compiling, mean_over_last
from ._options import check_choice, oob_mode_option

OOBMode = Literal["clip", "regularized"]
NMUInit = Literal["madsen", "paper", "small"]


# Products over at most this many inputs are written as multiplications (see nmu_product).
_UNROLL_UNDER_COMPILE = 8
_UNROLL_EAGER = 2


def nmu_product(x: Tensor, W: Tensor) -> Tensor:
    """``y[.., b, o] = Π_i (W[o,i]·x[b,i] + 1 − W[o,i])`` for x ``[.., B, I]`` and W ``[.., O, I]``.

    A direct product over a ``[.., B, O, I]`` tensor, not exp(Σ log): factors may be zero or negative.
    """
    Wb = W.unsqueeze(-3)
    factors = x.unsqueeze(-2) * Wb + (1 - Wb)
    # prod's eager backward couples runs: if ANY factor in the whole tensor is exactly zero it takes
    # the zero-safe path (exclusive cumprods, ~12 ops), else it computes grad·(prod / factor), which
    # rounds. So a run's gradient depended, in its last bits, on the other runs in the batch. For
    # one or two factors the multiplications' backward is exact (grad·other factor) and per run;
    # it is also fewer ops. Under torch.compile up to 8 factors are unrolled: they fuse.
    limit = _UNROLL_UNDER_COMPILE if is_compiling() else _UNROLL_EAGER
    if factors.shape[-1] <= limit:
        out, *rest = factors.unbind(-1)
        for factor in rest:
            out = out * factor
        return out
    return factors.prod(dim=-1)


def nmu_sparsity(W: Tensor) -> Tensor:
    """NMU-type sparsity term ``mean(min(|W|, |1 − W|))`` over W's own two dims (distance to {0, 1})."""
    return mean_over_last(torch.minimum(W.abs(), (1 - W).abs()), 2)


def nmu_oob(W: Tensor) -> Tensor:
    """Out-of-bounds penalty of the "regularized" mode: ``mean(relu(|W − ½| − ½))``."""
    return mean_over_last(torch.relu((W - 0.5).abs() - 0.5), 2)


def init_nmu_(W: Tensor, init: str) -> None:
    """``"madsen"``: U[0.25, 0.75] (reference code); ``"paper"``: mean ½, variance ¼ (uncapped);
    ``"small"``: U[0, 0.1) (the NPU paper's large-scale runs)."""
    # The reference computes r = min(0.25, √3·√Var) with Var = ¼; only the cap makes it fit [0, 1].
    if init == "small":  # U[0, 0.1): the NPU paper's large-scale runs (Heim et al. 2020, rand(…)/10)
        with torch.no_grad():
            W.uniform_(0.0, 0.1)
        return
    r = 0.25 if init == "madsen" else math.sqrt(3.0) * 0.5
    with torch.no_grad():
        W.uniform_(0.5 - r, 0.5 + r)


class UnitIntervalWeightContract:
    """The training contract shared by units whose weight ``W`` lives in [0, 1] (NMU, NAC•,NMU,
    NMRU): NMU-type sparsity, and either a post-step clamp (``"clip"``) or the out-of-bounds
    penalty (``"regularized"``). Needs ``self.W``, ``self.oob_mode`` and ``self.weight``."""

    W: nn.Parameter
    oob_mode: str
    weight: Tensor

    def regularizers(self) -> dict[str, Tensor]:
        terms = {"sparsity": nmu_sparsity(self.W)}
        if self.oob_mode == "regularized":
            terms["oob"] = nmu_oob(self.W)
        return terms

    @torch.no_grad()
    def project_(self) -> None:
        if self.oob_mode == "clip":
            self.W.clamp_(0.0, 1.0)

    def effective_weights(self) -> dict[str, Tensor]:
        return {"W": self.weight}


class NMU(UnitIntervalWeightContract, ArithmeticUnit):
    """Multiplication unit: ``y[b,o] = Π_i (W[o,i]·x[b,i] + 1 − W[o,i])``, W in [0, 1].

    W = 1 selects an input, W = 0 turns it into the multiplicative identity 1. Parameter ``W``
    ``[out, in]``. ``oob_mode``:

    * ``"clip"`` (default, every reference run): the forward pass uses the raw W; ``project_()``
      clamps it to [0, 1] after each optimizer step.
    * ``"regularized"``: the forward pass clamps W to [0, 1]; no projection; ``regularizers()`` adds
      ``"oob" = mean(relu(|W − ½| − ½))`` (weight 1, no schedule, in the reference).

    Regularizer ``"sparsity" = mean(min(|W|, |1 − W|))`` on the raw W.

    Initialisation — paper and code disagree: the paper asks for E[W] = ½, Var[W] = ¼; the reference
    code caps the uniform radius at 0.25, i.e. U[0.25, 0.75] (Var = 1/48). ``init="madsen"`` (default)
    is the code; ``init="paper"`` draws U[½ − √3/2, ½ + √3/2], which has the paper's moments but lies
    partly outside [0, 1] until the first ``project_()`` (or is clamped in the forward pass in
    ``"regularized"`` mode). ``init="small"`` is U[0, 0.1), as the NPU paper's large-scale runs.

    Domain: all of ℝ, including zero and negative inputs, which are handled exactly (no log/exp/ε).
    The product of ``in_features`` factors can overflow or underflow for large magnitudes or many
    inputs: roughly |x|^I must be representable.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        oob_mode: OOBMode = "clip",
        init: NMUInit = "madsen",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        oob_mode = oob_mode_option(oob_mode)
        check_choice("init", init, ("madsen", "paper", "small"))
        self.oob_mode = oob_mode
        self.init = init
        self.W = nn.Parameter(torch.empty(out_features, in_features, **factory_kwargs(device, dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_nmu_(self.W, self.init)

    @property
    def weight(self) -> Tensor:
        # In "clip" mode the projection keeps W in range, so the raw value is what gets applied.
        return self.W.clamp(0.0, 1.0) if self.oob_mode == "regularized" else self.W

    def forward(self, x: Tensor) -> Tensor:
        return nmu_product(x, self.weight)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, oob_mode={self.oob_mode!r}, init={self.init!r}"
