"""``linear`` (x Wᵀ over stacked runs), including the shared-input fast path used in evaluation."""

from __future__ import annotations

import pytest
import torch

import nalm
from nalm.units._base import linear


@pytest.mark.parametrize("x_shape", [(1, 11, 7), (11, 7), (5, 11, 7)])
def test_linear_equals_broadcast_matmul_with_gradients(x_shape) -> None:
    torch.manual_seed(0)
    W = torch.randn(5, 3, 7, dtype=torch.float64, requires_grad=True)
    x = torch.randn(*x_shape, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(linear, (x, W))
    torch.testing.assert_close(linear(x, W), x @ W.mT, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("name", ["nau", "nac", "nalu", "linear", "gated_nau_nmu", "inalu"])
def test_stacked_unit_on_a_shared_input_equals_each_run(name) -> None:
    from nalm.training import stack_modules

    units = []
    for seed in range(4):
        torch.manual_seed(seed)
        units.append(nalm.create(name, 6, 2, dtype=torch.float64))
    stacked = stack_modules(units).eval()
    x = torch.rand(1, 9, 6, dtype=torch.float64) * 4 - 2
    y = stacked(x)
    assert y.shape == (4, 9, 2)
    for run, unit in enumerate(units):
        torch.testing.assert_close(y[run], unit.eval()(x[0]), rtol=1e-13, atol=1e-13)
