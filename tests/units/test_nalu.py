"""NALU (Trask et al. 2018, arXiv:1808.00508)."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.units import NALU
from nalm.units._init import glorot_uniform_radius

from .helpers import extrapolation_mse, make, set_params, train, uniform_batch

F64 = torch.float64
LN3 = math.log(3)
X = torch.tensor([[16.0, 1.0]], dtype=F64)


def _nalu(**kwargs):
    unit = NALU(2, 1, dtype=F64, **kwargs)
    return set_params(unit, W_hat=[[LN3 / 2, -LN3 / 2]], M_hat=[[0.0, LN3]], G=[[0.0, 0.0]])


def test_example_1_shared_weights():
    unit = _nalu()
    assert unit(X).item() == pytest.approx(2.8125, rel=1e-7)
    assert unit(X).item() == pytest.approx(2.81249996, abs=1e-8)


def test_example_2_gate():
    unit = set_params(_nalu(), G=[[LN3 / 16, 0.0]])
    assert unit(X).item() == pytest.approx(3.21875, rel=1e-7)


def test_example_3_independent_weights():
    unit = set_params(_nalu(shared_weights=False), W_hat_mul=[[LN3 / 2, 0.0]], M_hat_mul=[[LN3, 0.0]])
    torch.testing.assert_close(unit.weight_mul, torch.tensor([[0.375, 0.0]], dtype=F64))
    assert unit(X).item() == pytest.approx(3.2267136, rel=1e-7)
    assert set(unit.effective_weights()) == {"W", "W_mul"}


def test_gate_init_is_glorot_uniform():
    torch.manual_seed(0)
    unit = NALU(50, 50)
    bound = glorot_uniform_radius(50, 50)
    assert 0.9 * bound < unit.G.abs().max() <= bound


def test_multiplicative_path_loses_sign():
    unit = set_params(_nalu(), G=[[-1e3, 0.0]])  # gate ≈ 0 for x₁ > 0: pure multiplicative path
    pos = unit(torch.tensor([[16.0, 1.0]], dtype=F64))
    neg = unit(torch.tensor([[16.0, -1.0]], dtype=F64))
    torch.testing.assert_close(pos, neg)


@pytest.mark.slow
def test_nalu_learns_addition_of_positive_inputs():
    # A feasible task for the NALU: the gate must open fully towards the additive path.
    unit = make("nalu", 2, 1, seed=0)
    target = lambda x: x[:, :1] + x[:, 1:]  # noqa: E731
    train(unit, uniform_batch(1, 2, 2, target, size=64), steps=1000, lr=0.1, betas=(0.9, 0.99))
    torch.testing.assert_close(unit.weight.detach(), torch.ones(1, 2), atol=1e-2, rtol=0)
    x = 2 + 4 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1))
    assert extrapolation_mse(unit, x, target(x)) < 1e-3
