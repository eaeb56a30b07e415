"""NAC•,σ and NAC•,NMU (Madsen & Johansen 2020's controls)."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.units import NACMulNMU, NACMulSigma

from .helpers import linear_ramp, make, set_params, train, uniform_batch

F64 = torch.float64


def test_nac_mul_sigma_example():
    unit = set_params(NACMulSigma(2, 1, dtype=F64), W_hat=[[0.0, math.log(3)]])
    torch.testing.assert_close(unit.weight, torch.tensor([[0.5, 0.75]], dtype=F64))
    assert unit(torch.tensor([[16.0, 16.0]], dtype=F64)).item() == pytest.approx(32.0, rel=1e-7)
    assert unit.regularizers() == {}


def test_nac_mul_sigma_init_is_xavier_normal():
    torch.manual_seed(0)
    W_hat = NACMulSigma(100, 100).W_hat
    assert W_hat.std().item() == pytest.approx(math.sqrt(2 / 200), rel=0.03)


def test_nac_mul_nmu_example_and_contract():
    unit = set_params(NACMulNMU(2, 1, dtype=F64), W=[[1.0, 0.5]])
    assert unit(torch.tensor([[3.0, 16.0]], dtype=F64)).item() == pytest.approx(12.0, rel=1e-7)
    assert unit(torch.tensor([[-3.0, 16.0]], dtype=F64)).item() == pytest.approx(12.0, rel=1e-7)  # sign lost
    set_params(unit, W=[[0.2, 1.3]])
    assert unit.regularizers()["sparsity"].item() == pytest.approx((0.2 + 0.3) / 2)
    unit.project_()
    assert unit.W.tolist() == [[0.2, 1.0]]


@pytest.mark.slow
def test_nac_mul_sigma_learns_multiplication_of_positive_inputs():
    unit = make("nac_mul_sigma", 2, 1, seed=0)
    target = lambda x: x[:, :1] * x[:, 1:]  # noqa: E731
    train(unit, uniform_batch(1, 2, 2, target, size=64), steps=1000, lr=0.1, betas=(0.9, 0.99))
    torch.testing.assert_close(unit.weight.detach(), torch.ones(1, 2), atol=1e-2, rtol=0)


@pytest.mark.slow
def test_nac_mul_nmu_learns_multiplication_of_positive_inputs():
    unit = make("nac_mul_nmu", 2, 1, seed=0)
    target = lambda x: x[:, :1] * x[:, 1:]  # noqa: E731
    train(
        unit, uniform_batch(1, 2, 2, target, size=64), steps=500, lr=1e-2,
        reg_weights=lambda t: {"sparsity": 10 * linear_ramp(t, 200, 350)},
    )
    torch.testing.assert_close(unit.W.detach(), torch.ones(1, 2), atol=1e-4, rtol=0)
