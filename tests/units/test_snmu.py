"""sNMU (stochastic NMU, Mistry et al. 2022)."""

from __future__ import annotations

import pytest
import torch

from nalm.units import NMU, SNMU

from .helpers import extrapolation_mse, linear_ramp, make, set_params, stack_units, train, uniform_batch

F64 = torch.float64
X = torch.tensor([[3.0, 4.0]], dtype=F64)
NOISE = torch.tensor([[2.0, 3.0]], dtype=F64)


def _fixed_noise(unit, monkeypatch):
    monkeypatch.setattr(unit, "sample_noise", lambda x: NOISE.expand_as(x))
    return unit


def test_examples_8g_training(monkeypatch):
    unit = _fixed_noise(set_params(SNMU(2, 1, dtype=F64), W=[[1.0, 1.0]]), monkeypatch).train()
    assert unit(X).item() == pytest.approx(12.0, rel=1e-15)
    set_params(unit, W=[[0.5, 1.0]])
    assert unit(X).item() == pytest.approx(28 / 3, rel=1e-15)  # (3.5·12)/(1.5·3) = 9.3333


def test_examples_8g_eval_is_the_nmu():
    unit = set_params(SNMU(2, 1, dtype=F64), W=[[0.5, 1.0]]).eval()
    nmu = set_params(NMU(2, 1, dtype=F64), W=[[0.5, 1.0]])
    assert unit(X).item() == nmu(X).item() == 8.0


def test_noise_range_and_freshness():
    unit = SNMU(3, 2, noise_range=(1.0, 5.0))
    x = torch.rand(64, 3)
    n1, n2 = unit.sample_noise(x), unit.sample_noise(x)
    assert n1.shape == x.shape and not torch.equal(n1, n2)
    assert 1.0 <= n1.min() and n1.max() <= 5.0 and n1.max() > 4.5


def test_noise_cancels_for_discrete_weights_in_training():
    unit = set_params(SNMU(3, 2), W=[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]).train()
    x = torch.randn(32, 3)
    torch.testing.assert_close(unit(x), unit.eval()(x), rtol=1e-5, atol=1e-6)


def test_batch_statistics_variant_per_run():
    units = [make("snmu", 3, 2, seed=s, noise_range="batch") for s in range(2)]
    stacked = stack_units(units).train()
    x = torch.stack([torch.randn(16, 3) * 0.5, torch.randn(16, 3) * 4])
    n = stacked.sample_noise(x)
    for s in range(2):
        high = 1 + 1 / x[s].std().item()
        assert 1.0 <= n[s].min() and n[s].max() <= high + 1e-5
        assert n[s].max() > 1 + 0.9 * (high - 1)
    x.requires_grad_()
    stacked(x).sum().backward()  # the std is detached: gradients exist and are finite
    assert torch.isfinite(x.grad).all()


def test_invalid_noise_range():
    for bad in ((0.0, 1.0), (5.0, 1.0), "std", 3):
        with pytest.raises(ValueError):
            SNMU(2, 1, noise_range=bad)


@pytest.mark.slow
def test_snmu_learns_multiplication_with_negative_inputs():
    unit = make("snmu", 2, 1, seed=0)
    target = lambda x: x[:, :1] * x[:, 1:]  # noqa: E731
    train(
        unit, uniform_batch(-2, 2, 2, target, size=64), steps=300, lr=0.05,
        reg_weights=lambda t: {"sparsity": 10 * linear_ramp(t, 100, 200)},
    )
    torch.testing.assert_close(unit.W.detach(), torch.ones(1, 2), atol=1e-4, rtol=0)
    x = 12 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1)) - 6
    assert extrapolation_mse(unit, x, target(x)) < 1e-8
