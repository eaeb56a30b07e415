"""Gated NAU/NMU (Madsen & Johansen 2020, gating experiment)."""

from __future__ import annotations

import pytest
import torch

from nalm.units import GatedNAUNMU

from .helpers import extrapolation_mse, linear_ramp, make, set_params, train, uniform_batch

F64 = torch.float64


def test_forward_mixes_nau_and_nmu_paths():
    unit = set_params(GatedNAUNMU(2, 1, dtype=F64), W_add=[[1.5, 1.0]], W_mul=[[1.0, 1.0]], G=[[0.0, 0.0]])
    # g = 0.5; NAU clamps W_add to [1, 1]: 0.5·7 + 0.5·12
    assert unit(torch.tensor([[3.0, 4.0]], dtype=F64)).item() == pytest.approx(9.5, rel=1e-15)
    set_params(unit, G=[[100.0, 0.0]])
    assert unit(torch.tensor([[3.0, 4.0]], dtype=F64)).item() == pytest.approx(7.0, rel=1e-12)


def test_regularizer_projection_and_weights():
    unit = set_params(GatedNAUNMU(2, 1, dtype=F64), W_add=[[0.2, -0.9]], W_mul=[[0.2, 0.9]])
    assert unit.regularizers()["sparsity"].item() == pytest.approx(0.15 + 0.15)
    set_params(unit, W_add=[[1.5, -2.0]], W_mul=[[1.5, -0.5]])
    unit.project_()
    assert unit.W_add.tolist() == [[1.0, -1.0]] and unit.W_mul.tolist() == [[1.0, 0.0]]
    assert set(unit.effective_weights()) == {"W_add", "W_mul"}


@pytest.mark.slow
def test_gated_unit_learns_multiplication_of_positive_inputs():
    unit = make("gated_nau_nmu", 2, 1, seed=0)
    target = lambda x: x[:, :1] * x[:, 1:]  # noqa: E731
    train(
        unit, uniform_batch(1, 2, 2, target, size=64), steps=600, lr=5e-2,
        reg_weights=lambda t: {"sparsity": 10 * linear_ramp(t, 200, 400)},
    )
    torch.testing.assert_close(unit.W_mul.detach(), torch.ones(1, 2), atol=1e-4, rtol=0)
    x = 2 + 4 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1))
    assert extrapolation_mse(unit, x, target(x)) < 1e-4
