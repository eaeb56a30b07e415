"""NMRU (Mistry et al. 2021, the division benchmark)."""

from __future__ import annotations

import pytest
import torch

from nalm.units import NMRU

from .helpers import extrapolation_mse, linear_ramp, make, set_params, train, uniform_batch

F64 = torch.float64
SELECT_X1_OVER_X2 = [[1.0, 0.0, 0.0, 1.0]]  # x₁ and 1/x₂


@pytest.mark.parametrize("x,y", [([6.0, 3.0], 2.0), ([6.0, -3.0], -2.0), ([-6.0, -3.0], 2.0)])
@pytest.mark.parametrize("sign_retrieval", [True, False])
def test_examples_11g_eval(x, y, sign_retrieval):
    unit = set_params(NMRU(2, 1, sign_retrieval=sign_retrieval, dtype=F64), W=SELECT_X1_OVER_X2).eval()
    assert unit(torch.tensor([x], dtype=F64)).item() == pytest.approx(y, rel=1e-15)


def test_training_mode_adds_eps_to_x():
    # Exact in float64; in float32, 3 + 2⁻²³ rounds back to 3 and the output is exactly 2.
    unit = set_params(NMRU(2, 1, dtype=F64), W=SELECT_X1_OVER_X2).train()
    y = unit(torch.tensor([[6.0, 3.0]], dtype=F64)).item()
    assert y == pytest.approx(1.99999992, abs=1e-9)
    assert y == pytest.approx(6 / (3 + 2**-23), rel=1e-15)


def test_zero_input_domain():
    unit = set_params(NMRU(1, 1), W=[[0.0, 1.0]])
    assert unit.train()(torch.tensor([[0.0]])).item() == pytest.approx(2**23)
    assert torch.isinf(unit.eval()(torch.tensor([[0.0]]))).all()


def test_sign_term_uses_raw_weight_and_fractional_sign():
    unit = set_params(NMRU(1, 1, dtype=F64), W=[[0.5, 0.0]]).eval()
    assert abs(unit(torch.tensor([[-4.0]], dtype=F64)).item()) < 1e-12  # cos(π/2) = 0
    reg = set_params(NMRU(1, 1, oob_mode="regularized", dtype=F64), W=[[1.5, 0.0]]).eval()
    # magnitude uses W clamped to 1 (|x| = 4); the sign term uses the raw 1.5: cos(1.5π) = 0
    assert abs(reg(torch.tensor([[-4.0]], dtype=F64)).item()) < 1e-12
    assert reg(torch.tensor([[4.0]], dtype=F64)).item() == 4.0


def test_projection_and_regularizer():
    unit = set_params(NMRU(1, 1, dtype=F64), W=[[1.5, 0.2]])
    assert unit.regularizers()["sparsity"].item() == pytest.approx((0.5 + 0.2) / 2)
    unit.project_()
    assert unit.W.tolist() == [[1.0, 0.2]]
    assert NMRU(3, 2).W.shape == (2, 6)


def test_optional_noise_cancels_for_discrete_weights():
    unit = set_params(NMRU(2, 1, noise_range=(1.0, 5.0)), W=SELECT_X1_OVER_X2)
    x = torch.tensor([[6.0, -3.0]])
    assert unit.train()(x).item() == pytest.approx(-2.0, rel=1e-5)


@pytest.mark.slow
def test_nmru_learns_division_with_signed_inputs():
    unit = make("nmru", 2, 1, seed=0)
    target = lambda x: x[:, :1] / x[:, 1:]  # noqa: E731
    train(
        unit, uniform_batch(1, 2, 2, target, size=64, negate=True), steps=500, lr=1e-2,
        clip_grad_norm=1.0, reg_weights=lambda t: {"sparsity": 10 * linear_ramp(t, 200, 350)},
    )
    torch.testing.assert_close(unit.W.detach(), torch.tensor(SELECT_X1_OVER_X2), atol=1e-4, rtol=0)
    x = (2 + 4 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1))) * torch.tensor([1.0, -1.0])
    assert extrapolation_mse(unit, x, target(x)) < 1e-8
