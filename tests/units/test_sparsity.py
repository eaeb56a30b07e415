"""The sparsity-error helper (Madsen & Johansen 2020's sparsity error)."""

from __future__ import annotations

import pytest
import torch

from nalm.units import NAU, NMU, sparsity_error

from .helpers import make, set_params, stack_units


def test_max_over_units_and_entries():
    nau = set_params(NAU(2, 2), W=[[1.0, -0.9], [0.0, 1.2]])  # clamped 1.2 → 1: errors 0, 0.1, 0, 0
    nmu = set_params(NMU(2, 1), W=[[0.97, 0.02]])
    net = torch.nn.Sequential(nau, nmu)
    assert sparsity_error(net).item() == pytest.approx(0.1)
    set_params(nmu, W=[[0.6, 0.0]])
    assert sparsity_error(net).item() == pytest.approx(0.4)
    assert not sparsity_error(net).requires_grad


def test_stacked_runs_keep_the_run_axis():
    units = [make("nmu", 3, 2, seed=s) for s in range(4)]
    err = sparsity_error(stack_units(units))
    assert err.shape == (4,)
    torch.testing.assert_close(err, torch.stack([sparsity_error(u) for u in units]))


def test_module_without_units_is_an_error():
    with pytest.raises(ValueError):
        sparsity_error(torch.nn.Linear(2, 2))
