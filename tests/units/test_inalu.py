"""iNALU (Schlör et al. 2020, arXiv:2003.07629)."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.units import INALU

from .helpers import extrapolation_mse, make, set_params, train, uniform_batch

F64 = torch.float64
LN3 = math.log(3)
ONE = 40.0  # tanh(40) and σ(40) are exactly 1 in float64, so W = 1 exactly


def test_example_1_discrete_weights():
    unit = set_params(
        INALU(2, 1, dtype=F64),
        W_a_hat=[[ONE, ONE]], M_a_hat=[[ONE, ONE]], W_m_hat=[[ONE, ONE]], M_m_hat=[[ONE, ONE]], g=[0.0],
    )
    assert unit.weight_add.tolist() == [[1.0, 1.0]] and unit.weight_mul.tolist() == [[1.0, 1.0]]
    assert unit(torch.tensor([[-2.0, 3.0]], dtype=F64)).item() == pytest.approx(-2.5, abs=1e-12)


def test_example_2_fractional_sign():
    unit = set_params(
        INALU(2, 1, dtype=F64),
        W_a_hat=[[LN3 / 2, -LN3 / 2]], M_a_hat=[[0.0, LN3]],
        W_m_hat=[[LN3 / 2, 0.0]], M_m_hat=[[LN3, 0.0]], g=[0.0],
    )
    torch.testing.assert_close(unit.weight_add, torch.tensor([[0.25, -0.375]], dtype=F64))
    torch.testing.assert_close(unit.weight_mul, torch.tensor([[0.375, 0.0]], dtype=F64))
    assert unit(torch.tensor([[-16.0, 1.0]], dtype=F64)).item() == pytest.approx(-1.8339466, abs=1e-7)


def test_example_3_exponent_cap():
    unit = set_params(INALU(1, 1, dtype=F64), W_m_hat=[[ONE]], M_m_hat=[[ONE]], g=[-800.0])
    x = torch.tensor([[math.exp(25)]], dtype=F64, requires_grad=True)
    y = unit(x)
    assert y.item() == pytest.approx(485165195.41, abs=1e-2)
    y.backward()
    assert x.grad.item() == 0.0  # the cap has zero gradient where it is active


def test_zero_input_gives_msv_factor_one_minus_abs_w():
    unit = set_params(INALU(1, 1, dtype=F64), W_m_hat=[[ONE]], M_m_hat=[[ONE]], g=[-800.0])
    assert unit(torch.tensor([[0.0]], dtype=F64)).item() == 0.0  # msv = 1 − |W_m| = 0


def test_regularizer():
    unit = INALU(2, 1, dtype=F64)
    with torch.no_grad():
        for p in unit.parameters():
            p.zero_()
    assert unit.regularizers()["inalu"].item() == pytest.approx(5 * 20.0)  # five means of t − 0
    set_params(unit, W_a_hat=[[25.0, -30.0]], g=[-5.0])
    assert unit.regularizers()["inalu"].item() == pytest.approx(3 * 20.0 + 15.0)


@pytest.mark.parametrize(
    "init,w,m,g",
    [("benchmark", (0.88, 0.2), (0.5, 0.2), (0.0, 0.2)), ("original", (1.0, 0.1), (-1.0, 0.1), (0.0, 0.1))],
)
def test_init_constants(init, w, m, g):
    torch.manual_seed(0)
    unit = INALU(200, 100, init=init)
    for p, (mean, std) in ((unit.W_a_hat, w), (unit.M_m_hat, m)):
        assert p.mean().item() == pytest.approx(mean, abs=0.01)
        assert p.std().item() == pytest.approx(std, rel=0.03)
    big = INALU(1, 20000, init=init).g
    assert big.mean().item() == pytest.approx(g[0], abs=0.01)
    assert big.std().item() == pytest.approx(g[1], rel=0.03)


@pytest.mark.slow
def test_inalu_learns_multiplication_with_negative_inputs():
    # The recipe's gradient value clip (0.1) and its saturation regularizer (weight 0.05, switched on
    # half-way) — which drives W_m and the gate to exactly discrete values.
    unit = make("inalu", 2, 1, seed=0)
    target = lambda x: x[:, :1] * x[:, 1:]  # noqa: E731
    train(
        unit, uniform_batch(-2, 2, 2, target, size=64), steps=800, lr=0.05, betas=(0.9, 0.99),
        clip_grad_value=0.1, reg_weights=lambda t: {"inalu": 0.05 * (t >= 400)},
    )
    assert unit.weight_mul.tolist() == [[1.0, 1.0]]
    assert torch.sigmoid(unit.g).item() < 1e-6
    x = 12 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1)) - 6
    assert extrapolation_mse(unit, x, target(x)) < 1e-6
