"""Shared helpers for the unit tests: parameter setting, stacking runs, a plain contract-following
training loop, and the per-unit input domains used by the fuzz and gradcheck tests."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

import nalm
from nalm.units import ArithmeticUnit


def set_params(unit: nn.Module, **values: object) -> nn.Module:
    """Overwrite named parameters in place (values are converted to the parameter's dtype)."""
    with torch.no_grad():
        for name, value in values.items():
            p = getattr(unit, name)
            p.copy_(torch.as_tensor(value, dtype=p.dtype))
    return unit


def make(name: str, in_features: int, out_features: int, *, seed: int = 0, **options) -> ArithmeticUnit:
    torch.manual_seed(seed)
    return nalm.create(name, in_features, out_features, **options)


def stack_units(units: Sequence[nn.Module]) -> nn.Module:
    """One unit whose every parameter is the stack (new leading dim) of the given units' parameters."""
    stacked = copy.deepcopy(units[0])
    for name, _ in units[0].named_parameters():
        owner_path, _, leaf = name.rpartition(".")
        owner = stacked.get_submodule(owner_path) if owner_path else stacked
        values = torch.stack([u.get_parameter(name).detach() for u in units])
        setattr(owner, leaf, nn.Parameter(values.clone()))
    return stacked


def linear_ramp(t: int, start: int, end: int) -> float:
    """Madsen's S_lin(t) = clamp((t − start)/(end − start), 0, 1)."""
    return min(max((t - start) / (end - start), 0.0), 1.0)


def train(
    unit: nn.Module,
    batch: Callable[[int], tuple[Tensor, Tensor]],
    *,
    steps: int,
    lr: float,
    reg_weights: Callable[[int], dict[str, float]] | None = None,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
) -> nn.Module:
    """A plain Adam loop that uses only the unit contract: MSE + Σ λ_name(t)·regularizers()[name],
    ``optimizer.step()``, then ``project_()``."""
    unit.train()
    opt = torch.optim.Adam(unit.parameters(), lr=lr, betas=betas)
    for t in range(steps):
        x, target = batch(t)
        loss = torch.nn.functional.mse_loss(unit(x), target)
        if reg_weights is not None:
            weights = reg_weights(t)
            for name, term in unit.regularizers().items():
                if weights.get(name, 0.0):
                    loss = loss + weights[name] * term
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(unit.parameters(), clip_grad_norm)
        if clip_grad_value is not None:
            torch.nn.utils.clip_grad_value_(unit.parameters(), clip_grad_value)
        opt.step()
        if isinstance(unit, ArithmeticUnit):
            unit.project_()
    unit.eval()
    return unit


def uniform_batch(
    low: float, high: float, in_features: int, target: Callable[[Tensor], Tensor], *,
    size: int = 128, seed: int = 0, negate: bool = False,
) -> Callable[[int], tuple[Tensor, Tensor]]:
    """Fresh U[low, high] batches from a private generator (optionally with random signs)."""
    gen = torch.Generator().manual_seed(seed)

    def batch(_: int) -> tuple[Tensor, Tensor]:
        x = low + (high - low) * torch.rand(size, in_features, generator=gen)
        if negate:
            x = x * (torch.randint(0, 2, x.shape, generator=gen) * 2 - 1)
        return x, target(x)

    return batch


def extrapolation_mse(unit: nn.Module, x: Tensor, target: Tensor) -> float:
    unit.eval()
    with torch.no_grad():
        return torch.nn.functional.mse_loss(unit(x), target).item()


# --------------------------------------------------------------------------------------------------
# Input domains


@dataclass(frozen=True)
class Domain:
    """Where a unit's output and gradients are documented to be finite.

    ``zero_train`` / ``zero_eval``: whether x = 0 is inside the domain in that mode. ``huge32`` /
    ``tiny32``: the largest and smallest non-zero magnitudes used by the float32 fuzz, chosen so that
    the output *and* the gradients of a 3-input, 2-output unit stay representable in float32 for every
    weight inside the unit's range (products of three factors, and for reciprocal units gradients
    that scale like 1/x²). float64 uses 1e30 and 1e-30 for every unit.
    """

    zero_train: bool = True
    zero_eval: bool = True
    huge32: float = 1e30
    tiny32: float = 1e-30


_EXP_LOG = Domain(huge32=1e9)  # Π|x|^W over 3 inputs, gradients m·W/(|x|+ε)
_PRODUCT = Domain(huge32=1e12)  # Π(W x + 1 − W) over 3 inputs
_RECIPROCAL = Domain(zero_train=False, zero_eval=False, huge32=1e8, tiny32=1e-8)

DOMAINS: dict[str, Domain] = {
    "linear": Domain(),
    "relu": Domain(),
    "relu6": Domain(),
    "nac": Domain(),
    "nau": Domain(),
    "inalu": Domain(),  # m is capped at e^20 and log is floored at 1e-7
    "nac_mul": _EXP_LOG,
    "nalu": _EXP_LOG,
    "gnalu": _EXP_LOG,
    "nac_mul_sigma": _EXP_LOG,
    "nac_mul_nmu": _EXP_LOG,
    "npu": _EXP_LOG,
    "real_npu": _EXP_LOG,
    "naive_npu": _EXP_LOG,
    "nmu": _PRODUCT,
    "gated_nau_nmu": _PRODUCT,
    "snmu": Domain(huge32=1e11),  # the numerator carries noise up to 5
    "nru": _RECIPROCAL,  # x = 0 with W < 0 gives NaN (documented)
    "nmru": Domain(zero_train=True, zero_eval=False, huge32=1e8, tiny32=1e-8),  # 1/(x+ε) vs 1/x
}


def domain_inputs(
    shape: tuple[int, ...], *, zero: bool, huge: float, tiny: float, gen: torch.Generator,
    dtype: torch.dtype,
) -> Tensor:
    """Random inputs mixing zeros, ±tiny, ±huge, moderate values and log-uniform magnitudes in between."""
    n = math.prod(shape)
    kind = torch.randint(0, 5 if zero else 4, (n,), generator=gen)
    log_lo, log_hi = math.log(tiny), math.log(huge)
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    magnitude = torch.where(
        kind == 0, torch.full_like(u, tiny),
        torch.where(
            kind == 1, torch.full_like(u, huge),
            torch.where(kind == 2, 0.1 + 9.9 * u, torch.exp(log_lo + (log_hi - log_lo) * u)),
        ),
    )
    magnitude = torch.where(kind == 4, torch.zeros_like(u), magnitude)
    sign = torch.randint(0, 2, (n,), generator=gen) * 2 - 1
    return (magnitude * sign).to(dtype).reshape(shape)


def moderate_inputs(shape: tuple[int, ...], *, gen: torch.Generator, dtype=torch.float64) -> Tensor:
    """Signed inputs with magnitudes in [0.5, 2]: inside every unit's domain, away from every kink."""
    magnitude = 0.5 + 1.5 * torch.rand(shape, generator=gen, dtype=dtype)
    sign = torch.randint(0, 2, shape, generator=gen).to(dtype) * 2 - 1
    return magnitude * sign


def all_finite(tensors: Iterable[Tensor | None]) -> bool:
    return all(t is None or bool(torch.isfinite(t).all()) for t in tensors)
