"""G-NALU (golden-ratio NALU; see docs/units.md)."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.units import GNALU, NALU
from nalm.units.gnalu import LN_PHI, golden_nac_weight

from .helpers import extrapolation_mse, make, set_params, train, uniform_batch

F64 = torch.float64
PHI = (1 + math.sqrt(5)) / 2


def test_golden_functions():
    one = torch.tensor([[1.0]], dtype=F64)
    zero_big = torch.tensor([[1e3]], dtype=F64)
    assert golden_nac_weight(one, zero_big).item() == pytest.approx(1 / math.sqrt(5), rel=1e-12)
    assert torch.sigmoid(LN_PHI * one).item() == pytest.approx(1 / PHI, rel=1e-12)
    assert torch.sigmoid(-LN_PHI * one).item() == pytest.approx(1 / PHI**2, rel=1e-12)
    assert LN_PHI == pytest.approx(0.48121182506, abs=1e-11)


def test_hand_computed_golden_weight_and_output():
    unit = set_params(GNALU(1, 1, dtype=F64), W_hat=[[1.0]], M_hat=[[0.0]], G=[[0.0]])
    assert unit.weight.item() == pytest.approx(0.2236068, abs=1e-7)
    assert unit(torch.tensor([[4.0]], dtype=F64)).item() == pytest.approx(1.1289158, abs=1e-7)


def test_multiplicative_path_equals_nalu():
    torch.manual_seed(0)
    g = GNALU(3, 2, dtype=F64)
    n = NALU(3, 2, dtype=F64)
    # Same effective weight and a closed gate (g → 0): both reduce to exp(log(|x| + ε) Wᵀ).
    set_params(n, W_hat=LN_PHI * g.W_hat, M_hat=LN_PHI * g.M_hat)
    for unit in (g, n):
        set_params(unit, G=torch.full((2, 3), -1e4))
    x = torch.rand(5, 3, dtype=F64) + 0.5
    torch.testing.assert_close(g(x), n(x), rtol=1e-12, atol=0)


def test_large_parameters_do_not_overflow_in_float32():
    # φ^(2z) would overflow to inf/inf = NaN for z ≳ 92; tanh(c·z) saturates to 1.
    unit = set_params(GNALU(1, 1), W_hat=[[200.0]], M_hat=[[200.0]], G=[[200.0]])
    assert unit.weight.item() == 1.0
    assert unit(torch.tensor([[4.0]])).item() == pytest.approx(4.0)


@pytest.mark.slow
def test_gnalu_learns_addition_of_positive_inputs():
    unit = make("gnalu", 2, 1, seed=0)
    target = lambda x: x[:, :1] + x[:, 1:]  # noqa: E731
    train(unit, uniform_batch(1, 2, 2, target, size=64), steps=1000, lr=0.1, betas=(0.9, 0.99))
    torch.testing.assert_close(unit.weight.detach(), torch.ones(1, 2), atol=1e-2, rtol=0)
    x = 2 + 4 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1))
    assert extrapolation_mse(unit, x, target(x)) < 2e-3
