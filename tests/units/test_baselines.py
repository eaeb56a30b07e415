"""Linear, ReLU and ReLU6 baselines (Madsen & Johansen 2020)."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.units import Linear, ReLU, ReLU6

from .helpers import extrapolation_mse, make, set_params, train, uniform_batch


@pytest.mark.parametrize("cls,bound", [(Linear, math.sqrt(6 / 200)), (ReLU, math.sqrt(6 / 100)), (ReLU6, math.sqrt(6 / 100))])
def test_init(cls, bound):
    torch.manual_seed(0)
    unit = cls(100, 100)
    assert 0.9 * bound < unit.weight.abs().max() <= bound
    assert unit.bias.eq(0).all()
    assert unit.regularizers() == {}


def test_forward_formulas():
    x = torch.tensor([[1.0, 2.0], [-3.0, 4.0]])
    params = dict(weight=[[1.0, 2.0]], bias=[0.5])
    assert set_params(Linear(2, 1), **params)(x).tolist() == [[5.5], [5.5]]
    assert set_params(ReLU(2, 1), **params)(x).tolist() == [[5.5], [5.5]]
    assert set_params(ReLU6(2, 1), weight=[[3.0, 1.0]], bias=[0.0])(x).tolist() == [[5.0], [0.0]]
    assert set_params(ReLU6(2, 1), weight=[[3.0, 3.0]], bias=[0.0])(x).tolist() == [[6.0], [3.0]]


def test_bias_is_not_an_effective_weight():
    assert set(Linear(2, 1).effective_weights()) == {"W"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["linear", "relu", "relu6"])
def test_baselines_learn_addition_of_positive_inputs(name):
    unit = make(name, 2, 1, seed=0)
    target = lambda x: x[:, :1] + x[:, 1:]  # noqa: E731
    train(unit, uniform_batch(0, 1, 2, target, size=64), steps=500, lr=5e-2)
    x = 1 + 1.5 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(1))  # sums stay below 6
    assert extrapolation_mse(unit, x, target(x)) < 1e-8
