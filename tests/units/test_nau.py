"""NAU (Madsen & Johansen 2020, arXiv:2001.05016)."""

from __future__ import annotations

import pytest
import torch

from nalm.units import NAU
from nalm.units._init import nau_uniform_radius

from .helpers import extrapolation_mse, linear_ramp, make, set_params, train, uniform_batch

F64 = torch.float64
X = torch.tensor([[3.0, 4.0]], dtype=F64)


def test_hand_set_weights_add_and_clamp():
    unit = set_params(NAU(2, 1, dtype=F64), W=[[1.0, -1.0]])
    assert unit(X).item() == -1.0
    set_params(unit, W=[[1.5, -0.2]])
    assert unit(X).item() == pytest.approx(2.2, abs=1e-12)  # forward clamp: W_eff = [1, −0.2]
    set_params(unit, W=[[0.2, -0.9]])
    assert unit.regularizers()["sparsity"].item() == pytest.approx(0.15, abs=1e-12)


def test_clip_mode_projects_and_has_no_oob_term():
    unit = set_params(NAU(2, 1), W=[[1.5, -3.0]])
    assert set(unit.regularizers()) == {"sparsity"}
    unit.project_()
    assert unit.W.tolist() == [[1.0, -1.0]]


def test_regularized_mode():
    unit = set_params(NAU(2, 1, oob_mode="regularized", dtype=F64), W=[[1.5, -0.2]])
    assert unit(X).item() == pytest.approx(2.2, abs=1e-12)
    assert unit.regularizers()["oob"].item() == pytest.approx(0.25, abs=1e-12)  # mean(0.5, 0)
    unit.project_()
    assert unit.W.tolist() == [[1.5, -0.2]]  # no projection in this mode
    assert unit.effective_weights()["W"].tolist() == [[1.0, -0.2]]


@pytest.mark.parametrize("sizes,radius", [((2, 1), 0.5), ((100, 2), 0.24254), ((100, 100), 0.17321)])
def test_init_radius(sizes, radius):
    assert nau_uniform_radius(*sizes) == pytest.approx(radius, abs=1e-5)
    torch.manual_seed(0)
    W = NAU(*sizes).W
    assert W.abs().max() <= radius + 1e-6
    if W.numel() >= 100:
        assert W.abs().max() > 0.9 * radius


def test_glorot_init_option():
    torch.manual_seed(0)
    W = NAU(2, 1, init="glorot").W
    assert W.abs().max() > 0.5  # Glorot bound √(6/3) ≈ 1.41, not capped at 0.5
    with pytest.raises(ValueError):
        NAU(2, 1, init="bogus")


def test_gradient_is_zero_where_forward_clamp_is_active():
    unit = set_params(NAU(2, 1, oob_mode="regularized"), W=[[1.5, 0.5]])
    unit(torch.tensor([[1.0, 1.0]])).sum().backward()
    assert unit.W.grad.tolist() == [[0.0, 1.0]]


@pytest.mark.slow
def test_nau_learns_addition_and_subtraction():
    unit = make("nau", 2, 2, seed=0)
    target = lambda x: torch.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], dim=1)  # noqa: E731
    train(
        unit, uniform_batch(-2, 2, 2, target, size=64), steps=300, lr=0.05,
        reg_weights=lambda t: {"sparsity": 0.01 * linear_ramp(t, 100, 200)},
    )
    torch.testing.assert_close(unit.W.detach(), torch.tensor([[1.0, 1.0], [1.0, -1.0]]), atol=1e-4, rtol=0)
    x = 12 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1)) - 6
    assert extrapolation_mse(unit, x, target(x)) < 1e-8
