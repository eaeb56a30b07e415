"""sNMU — the stochastic NMU of Mistry, Farrahi & Hare 2022.

B. Mistry, K. Farrahi, J. Hare, "Improving the Robustness of Neural Multiplication Units with
Reversible Stochasticity", arXiv:2211.05624 (2022). Checked against their reference code
(nalm-robust-nmu, ``ReRegualizedLinearMNACLayer`` with ``--nmu-noise`` / ``--noise-range``); the paper
text itself was not available, so the definition follows the code.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from .nmu import NMU, NMUInit, OOBMode, nmu_product

NoiseRange = tuple[float, float] | Literal["batch"]


class SNMU(NMU):
    """NMU that, in training mode, divides out multiplicative input noise:
    ``y = NMU_W(x ⊙ n) ⊘ NMU_W(n)`` with a fresh ``n ~ U[a, b]`` of the input's shape at every call.

    In eval mode it is exactly the NMU. The noise cancels only when every W is 0 or 1, so it perturbs
    the loss surface around non-discrete solutions while leaving discrete ones untouched.

    ``noise_range``: ``(a, b)``, default ``(1, 5)`` as in the reference; or ``"batch"``, the
    batch-statistics variant (the reference's ``--noise-range [1,0]``): a = 1, b = 1 + 1/std(x), with the
    unbiased std over all elements of the batch, detached (no gradient flows through it). With stacked
    runs the std is taken per run.

    Parameters, initialisation, ``oob_mode``, regularizers and projection are the NMU's.

    Domain: all of ℝ as for the NMU. For W ∈ [0, 1] and n ≥ 1 every denominator factor is ≥ 1, so
    there is no division by zero. The ``"batch"`` variant needs a batch with non-zero spread: a batch
    whose elements are all equal gives b = ∞ and a NaN output; a very small spread gives a huge noise
    range whose I-fold product can overflow. Unlike the reference, the input is never modified in
    place.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        noise_range: NoiseRange = (1.0, 5.0),
        oob_mode: OOBMode = "clip",
        init: NMUInit = "madsen",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if noise_range == "batch":
            self.noise_range: NoiseRange = "batch"
        else:
            try:
                low, high = (float(v) for v in noise_range)
            except (TypeError, ValueError):
                raise ValueError(
                    f"noise_range must be (low, high) or 'batch', got {noise_range!r}"
                ) from None
            if not 0 < low <= high:
                raise ValueError(f"noise_range needs 0 < low <= high, got {noise_range!r}")
            self.noise_range = (low, high)
        super().__init__(
            in_features, out_features, oob_mode=oob_mode, init=init, device=device, dtype=dtype
        )

    def sample_noise(self, x: Tensor) -> Tensor:
        """A fresh noise tensor of x's shape, drawn from the configured range."""
        u = torch.rand_like(x)
        if self.noise_range == "batch":
            spread = 1 / x.detach().std(dim=(-2, -1), keepdim=True)
            return 1 + u * spread
        low, high = self.noise_range
        return low + u * (high - low)

    def forward(self, x: Tensor) -> Tensor:
        W = self.weight
        if not self.training:
            return nmu_product(x, W)
        n = self.sample_noise(x)
        return nmu_product(x * n, W) / nmu_product(n, W)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, noise_range={self.noise_range!r}"
