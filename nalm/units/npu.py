"""NPU, RealNPU and NaiveNPU — the Neural Power Units of Heim, Pevný & Šmídl 2020.

N. Heim, T. Pevný, V. Šmídl, "Neural Power Units", NeurIPS 2020, arXiv:2006.01681. Checked against
NeuralArithmetic.jl, the authors' NeuralPowerUnits experiment code, nalm-benchmark (``npu.py``,
``npu_real.py``) and, for the modified RealNPU, B. Mistry, K. Farrahi, J. Hare, "Learning Division
with Neural Arithmetic Logic Modules", arXiv:2110.05177 (nalm-division ``npu_real.py``).

Every unit here computes the real part of a complex power product: an input x is written as
r·e^{iκ} with r = |x| (gated towards 1) and κ = π for x < 0, and
``y = Re exp((W_re + i·W_im)·(log r + iκ))``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._base import ArithmeticUnit, factory_kwargs, linear, mean_over_last, sparsity_distance
from ._init import glorot_uniform_radius, nau_uniform_radius
from ._options import check_choice

NPUInit = Literal["glorot", "constrained", "small"]
GateGrad = Literal["zero", "straight_through"]
ModifiedReg = Literal["pm_one", "bias"]

#: float32 machine epsilon, added to |x| inside r (the references' ε; the paper omits it).
NPU_EPS = 2.0**-23

#: Options that make a ``RealNPU`` the "modified Real NPU" of Mistry et al. 2021 (nalm-division
#: ``--npu-clip wg`` with the constrained initialisation and the R_W / R_g regularizers).
MODIFIED_REAL_NPU: dict[str, Any] = {"clip": True, "modified_reg": "pm_one", "init": "constrained"}


class _PowerUnit(ArithmeticUnit):
    """Shared parameters, initialisation, regularizers and projection of the NPU family."""

    _complex: bool = True
    _gated: bool = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: NPUInit = "glorot",
        gate_init: float = 0.5,
        gate_grad: GateGrad = "zero",
        eps: float = NPU_EPS,
        clip: bool = False,
        modified_reg: ModifiedReg | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_features, out_features)
        check_choice("init", init, ("glorot", "constrained", "small"))
        check_choice("gate_grad", gate_grad, ("zero", "straight_through"))
        check_choice("modified_reg", modified_reg, (None, "pm_one", "bias"))
        self.init = init
        self.gate_init = float(gate_init)
        self.gate_grad = gate_grad
        self.eps = float(eps)
        self.clip = bool(clip)
        self.modified_reg = modified_reg
        fk = factory_kwargs(device, dtype)
        self.W_re = nn.Parameter(torch.empty(out_features, in_features, **fk))
        if self._complex:
            self.W_im = nn.Parameter(torch.empty(out_features, in_features, **fk))
        if self._gated:
            self.g = nn.Parameter(torch.empty(in_features, **fk))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.init == "small":
                self.W_re.uniform_(0.0, 0.1)
            else:
                radius = glorot_uniform_radius if self.init == "glorot" else nau_uniform_radius
                r = radius(self.in_features, self.out_features)
                self.W_re.uniform_(-r, r)
            if self._complex:
                # Zero imaginary weights: the imaginary part only grows if the task needs it.
                self.W_im.zero_()
            if self._gated:
                self.g.fill_(self.gate_init)

    def gate(self) -> Tensor:
        """The clamped gate ĝ = clamp(g, 0, 1), with the configured gradient outside [0, 1]."""
        clamped = self.g.clamp(0.0, 1.0)
        if self.gate_grad == "zero":
            return clamped
        return self.g + (clamped - self.g).detach()

    def forward(self, x: Tensor) -> Tensor:
        magnitude = x.abs() + self.eps
        negative = (x < 0).to(x.dtype)
        if self._gated:
            g = self.gate().unsqueeze(-2)
            log_r = torch.log(g * magnitude + (1 - g))
            kappa = math.pi * g * negative
        else:
            log_r = torch.log(magnitude)
            kappa = math.pi * negative
        W_re = self.W_re
        if not self._complex:
            return torch.exp(linear(log_r, W_re)) * torch.cos(linear(kappa, W_re))
        W_im = self.W_im
        return torch.exp(linear(log_r, W_re) - linear(kappa, W_im)) * torch.cos(
            linear(kappa, W_re) + linear(log_r, W_im)
        )

    def _own_parameters(self) -> list[tuple[Tensor, int]]:
        params = [(self.W_re, 2)]
        if self._complex:
            params.append((self.W_im, 2))
        if self._gated:
            params.append((self.g, 1))
        return params

    def regularizers(self) -> dict[str, Tensor]:
        l1 = [P.abs().sum(dim=tuple(range(-ndim, 0))) for P, ndim in self._own_parameters()]
        terms = {"l1": torch.stack(l1).sum(dim=0)}
        if self.modified_reg is not None:
            if self.modified_reg == "pm_one":
                weight_term = (1 - self.W_re.abs()).abs()
            else:
                weight_term = sparsity_distance(self.W_re)
            terms["npu_weight"] = mean_over_last(weight_term, 2)
            if self._gated:
                g = self.g
                terms["npu_gate"] = mean_over_last(torch.minimum(g.abs(), (1 - g).abs()), 1)
        return terms

    @torch.no_grad()
    def project_(self) -> None:
        if self.clip:
            self.W_re.clamp_(-1.0, 1.0)
            if self._gated:
                self.g.clamp_(0.0, 1.0)

    def effective_weights(self) -> dict[str, Tensor]:
        weights = {"W_re": self.W_re}
        if self._complex:
            weights["W_im"] = self.W_im
        if self._gated:
            # Expanded to [.., out, in] so every effective weight is a matrix: an input only counts
            # as cleanly selected or removed when its gate is 0 or 1.
            weights["g"] = self.g.clamp(0.0, 1.0).unsqueeze(-2).expand_as(self.W_re)
        return weights

    def extra_repr(self) -> str:
        parts = [super().extra_repr(), f"init={self.init!r}"]
        if self._gated:
            parts += [f"gate_init={self.gate_init}", f"gate_grad={self.gate_grad!r}"]
        parts.append(f"eps={self.eps}")
        if self.clip:
            parts.append("clip=True")
        if self.modified_reg is not None:
            parts.append(f"modified_reg={self.modified_reg!r}")
        return ", ".join(parts)


class NPU(_PowerUnit):
    """Neural Power Unit with complex weights:
    ``y = exp(log(r) W_reᵀ − κ W_imᵀ) ⊙ cos(κ W_reᵀ + log(r) W_imᵀ)``.

    Parameters ``W_re``, ``W_im`` ``[out, in]`` (W_im starts at 0) and ``g`` ``[in]``.
    Learns products, quotients and arbitrary real powers of its inputs, with their signs.

    Inputs are gated per input (``g`` ``[in]``, shared by all outputs): ĝ = clamp(g, 0, 1),
    r = ĝ ⊙ (|x| + ε) + (1 − ĝ) and κ = π·ĝ ⊙ 1[x < 0]; ĝ = 0 replaces an input by the constant 1.
    ε = 2⁻²³ (float32 machine epsilon, as in the reference code).

    Sign convention: κ = π for x < 0 and 0 for x ≥ 0 (x = 0 counts as positive), as in every reference
    implementation; the definition boxes of the NPU paper draft list the cases the other way round.

    Gate-clamp gradient — the references disagree: ``gate_grad="zero"`` (default; nalm-benchmark,
    nalm-division and the paper's own experiment code) uses the clamp's zero gradient outside [0, 1];
    ``"straight_through"`` (NeuralArithmetic.jl) passes the gradient through the clamp unchanged.

    Initialisation: ``init="glorot"`` (default; paper, NeuralArithmetic.jl, nalm-benchmark) W_re ~
    Glorot uniform; ``"constrained"`` U[±min(0.5, √3·√(2/(I+O)))] (nalm-benchmark's
    xavier-uniform-constrained, used by the modified RealNPU); ``"small"`` U[0, 0.1) as in the NPU
    paper's large-scale runs. ``gate_init`` = 0.5 (those runs used 1 for the complex NPU).

    Regularizer ``"l1"`` = Σ|θ| element-wise over all of the unit's own parameters, to be scaled by the
    step-exponential β schedule. The modified RealNPU of Mistry et al. 2021 (``MODIFIED_REAL_NPU``):
    ``clip=True`` projects W_re to [−1, 1] and g to [0, 1] after each step; ``modified_reg="pm_one"``
    adds ``"npu_weight" = mean(|1 − |W_re||)`` and ``"npu_gate" = mean(min(|g|, |1 − g|))`` (``"bias"``
    uses the NAU-style ``mean(min(|W_re|, |1 − |W_re||))`` for the weight term).

    Domain: all of ℝ including 0 (ε keeps log r finite: x = 0 with ĝ = 1 and W_re = −1 gives ≈ 8.4e6);
    there is no overflow guard, so exp overflows once log(r)·W_re exceeds ≈ 88.7 in float32.
    Negative inputs give the real part of a complex power: √−4 → 0, and a fractional gate on a
    negative input gives a cosine that is not ±1.
    """


class RealNPU(_PowerUnit):
    """Real Neural Power Unit: ``y = exp(log(r) W_reᵀ) ⊙ cos(κ W_reᵀ)`` (the NPU without W_im).

    Parameters ``W_re`` ``[out, in]`` and ``g`` ``[in]``. Learns products, quotients and real powers.

    Everything else — the per-input gate, the sign convention, the gate-clamp gradient option,
    initialisation, the regularizers (incl. the modified RealNPU of Mistry et al. 2021,
    ``MODIFIED_REAL_NPU``) and the domain — is as for :class:`NPU`.
    """

    _complex = False


class NaiveNPU(_PowerUnit):
    """NPU without the relevance gate: r = |x| + ε, κ = π·1[x < 0],
    ``y = exp(log(r) W_reᵀ − κ W_imᵀ) ⊙ cos(κ W_reᵀ + log(r) W_imᵀ)``.

    Parameters ``W_re``, ``W_im`` ``[out, in]``. Options, initialisation and the ``"l1"`` regularizer
    as for :class:`NPU` (no gate options). Domain: all of ℝ; with W_re < 0 an input at 0 gives
    ε^{W_re} (≈ 8.4e6 for W_re = −1), since nothing can gate it off.
    """

    _gated = False

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: NPUInit = "glorot",
        eps: float = NPU_EPS,
        clip: bool = False,
        modified_reg: ModifiedReg | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_features,
            out_features,
            init=init,
            eps=eps,
            clip=clip,
            modified_reg=modified_reg,
            device=device,
            dtype=dtype,
        )
