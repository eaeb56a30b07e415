"""NAC₊ and NAC• (Trask et al. 2018, arXiv:1808.00508)."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.units import NAC, NACMul
from nalm.units._init import nac_uniform_radius
from nalm.units.nac import log_space_matmul

from .helpers import extrapolation_mse, make, set_params, train, uniform_batch

F64 = torch.float64
LN3 = math.log(3)


def _example_weights(unit):
    return set_params(unit, W_hat=[[LN3 / 2, -LN3 / 2]], M_hat=[[0.0, LN3]])


def test_nac_hand_computed_weight_and_sum():
    unit = _example_weights(NAC(2, 1, dtype=F64))
    torch.testing.assert_close(unit.weight, torch.tensor([[0.25, -0.375]], dtype=F64))
    assert unit(torch.tensor([[4.0, 8.0]], dtype=F64)).item() == pytest.approx(-2.0, abs=1e-12)


def test_nac_mul_hand_computed_product():
    unit = _example_weights(NACMul(2, 1, dtype=F64))
    assert unit(torch.tensor([[16.0, 1.0]], dtype=F64)).item() == pytest.approx(2.0, rel=1e-6)
    W = torch.tensor([[1.0, -1.0]], dtype=F64)
    assert log_space_matmul(torch.tensor([[6.0, 3.0]], dtype=F64), W, 1e-7).item() == pytest.approx(2.0, rel=1e-6)


def test_nac_mul_loses_sign_and_explodes_at_zero():
    W = torch.tensor([[1.0, -1.0]], dtype=F64)
    assert log_space_matmul(torch.tensor([[-6.0, -3.0]], dtype=F64), W, 1e-7).item() == pytest.approx(2.0, rel=1e-6)
    W = torch.tensor([[-1.0]], dtype=F64)
    assert log_space_matmul(torch.tensor([[0.0]], dtype=F64), W, 1e-7).item() == pytest.approx(1e7, rel=1e-9)


@pytest.mark.parametrize(
    "sizes,radius", [((2, 1), 9.4714), ((2, 2), 9.4714), ((10, 1), 2.2605), ((100, 2), 0.50391), ((100, 100), 0.35313)]
)
def test_nac_init_radius(sizes, radius):
    assert nac_uniform_radius(*sizes) == pytest.approx(radius, abs=1e-4)
    torch.manual_seed(0)
    unit = NAC(*sizes)
    assert unit.W_hat.abs().max() <= nac_uniform_radius(*sizes)


def test_article_init_range():
    torch.manual_seed(0)
    unit = NAC(50, 50, init="article")
    assert 1.9 < unit.W_hat.abs().max() <= 2.0


@pytest.mark.slow
def test_nac_learns_addition():
    # tanh(Ŵ)·σ(M̂) reaches 1 only asymptotically; Adam with a shorter second-moment memory keeps
    # its steps large while the gradient decays, which is what makes this converge in 1 000 steps.
    unit = make("nac", 2, 1, seed=0)
    target = lambda x: x[:, :1] + x[:, 1:]  # noqa: E731
    train(unit, uniform_batch(-2, 2, 2, target, size=64), steps=1000, lr=0.1, betas=(0.9, 0.99))
    torch.testing.assert_close(unit.weight.detach(), torch.ones(1, 2), atol=1e-2, rtol=0)
    x = torch.linspace(-6, 6, 200).reshape(100, 2)
    assert extrapolation_mse(unit, x, target(x)) < 1e-3


@pytest.mark.slow
def test_nac_mul_learns_multiplication_of_positive_inputs():
    unit = make("nac_mul", 2, 1, seed=0)
    target = lambda x: x[:, :1] * x[:, 1:]  # noqa: E731
    train(unit, uniform_batch(1, 2, 2, target, size=64), steps=1000, lr=0.1, betas=(0.9, 0.99))
    torch.testing.assert_close(unit.weight.detach(), torch.ones(1, 2), atol=1e-2, rtol=0)
