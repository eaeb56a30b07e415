"""The sequential-MNIST CNN (nalm.units.mnist_cnn): the reference's layers and initialisation, shapes,
runs stacked along a leading axis, gradients."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nalm.errors import ConfigError
from nalm.units.mnist_cnn import MnistCNN


class _Reference(nn.Module):
    """stable-nalu's RegressionMnistNetwork (mnist_outputs=1, no softmax), as written there."""

    def __init__(self, outputs: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 50, 5, 1)
        self.fc1 = nn.Linear(4 * 4 * 50, 500)
        self.fc2 = nn.Linear(500, outputs)

    def reset_parameters(self) -> None:
        for m in (self.conv1, self.conv2, self.fc1, self.fc2):
            m.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = F.relu(self.fc1(x.view(-1, 4 * 4 * 50)))
        return self.fc2(x)


def _images(*shape: int, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, 1, 28, 28, generator=g, dtype=dtype)


def test_init_and_forward_are_the_references() -> None:
    torch.manual_seed(11)
    ref = _Reference()
    ref.reset_parameters()  # the reference builds, then resets: two draws
    torch.manual_seed(11)
    cnn = MnistCNN()
    cnn.reset_parameters()
    pairs = [(cnn.conv1_weight, ref.conv1.weight), (cnn.conv1_bias, ref.conv1.bias),
             (cnn.conv2_weight, ref.conv2.weight), (cnn.conv2_bias, ref.conv2.bias),
             (cnn.fc1_weight, ref.fc1.weight), (cnn.fc1_bias, ref.fc1.bias),
             (cnn.fc2_weight, ref.fc2.weight), (cnn.fc2_bias, ref.fc2.bias)]
    for mine, theirs in pairs:
        assert torch.equal(mine, theirs)
    x = _images(7)
    assert torch.equal(cnn(x), ref(x))
    assert sum(p.numel() for p in cnn.parameters()) == sum(p.numel() for p in ref.parameters()) == 426_571


def test_shapes_dtype_and_device() -> None:
    cnn = MnistCNN(784, 3, device="cpu", dtype=torch.float64)
    assert cnn.in_features == 784 and cnn.out_features == 3
    assert all(p.dtype == torch.float64 for p in cnn.parameters())
    assert cnn(_images(5, dtype=torch.float64)).shape == (5, 3)
    assert cnn(_images(2, 4, 6, dtype=torch.float64)).shape == (2, 4, 6, 3)  # [S, B, T] of images
    assert "out_features=3" in repr(cnn)
    with pytest.raises(ValueError, match=r"expected images \[..., 1, 28, 28\]"):
        cnn(torch.zeros(2, 28, 28, dtype=torch.float64))


@pytest.mark.parametrize(("args", "needle"), [((100, 1), "in_features"), ((784, 0), "out_features"),
                                              ((784, True), "out_features")])
def test_bad_sizes_are_config_errors(args: tuple, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        MnistCNN(*args)


def _stack(modules: list[MnistCNN]) -> MnistCNN:
    stacked = copy.deepcopy(modules[0])
    for name, _ in modules[0].named_parameters():
        setattr(stacked, name, nn.Parameter(torch.stack([m.get_parameter(name).detach() for m in modules])))
    return stacked


def test_stacked_runs_equal_each_run_alone() -> None:
    torch.manual_seed(0)
    runs = [MnistCNN(dtype=torch.float64) for _ in range(3)]
    stacked = _stack(runs)
    assert stacked.run_shape == (3,)
    x = _images(3, 4, 2, dtype=torch.float64)  # [S, B, T, 1, 28, 28]: each run its own images
    y = stacked(x)
    assert y.shape == (3, 4, 2, 1)
    for s, run in enumerate(runs):
        torch.testing.assert_close(y[s], run(x[s]), rtol=1e-12, atol=1e-12)
    shared = _images(1, 5, dtype=torch.float64, seed=1)  # [1, B]: one set of images for every run
    y = stacked(shared)
    assert y.shape == (3, 5, 1)
    for s, run in enumerate(runs):
        torch.testing.assert_close(y[s], run(shared[0]), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="stacked over runs"):
        stacked(_images(2, 5, dtype=torch.float64))


def test_stacked_gradients_reach_only_their_own_run() -> None:
    torch.manual_seed(1)
    stacked = _stack([MnistCNN() for _ in range(2)])
    x = _images(2, 3)
    stacked(x)[0].sum().backward()
    assert stacked.fc2_weight.grad[0].abs().sum() > 0
    assert stacked.fc2_weight.grad[1].abs().sum() == 0 and stacked.conv1_weight.grad[1].abs().sum() == 0


def test_gradcheck_float64() -> None:
    torch.manual_seed(3)
    cnn = MnistCNN(784, 2, dtype=torch.float64)
    x = _images(2, dtype=torch.float64, seed=4).requires_grad_()
    params = tuple(cnn.parameters())
    names = [n for n, _ in cnn.named_parameters()]

    def f(x: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(cnn, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *(p.detach().requires_grad_() for p in params)), fast_mode=True)
    stacked = _stack([cnn, MnistCNN(784, 2, dtype=torch.float64)])
    xs = _images(2, 2, dtype=torch.float64, seed=5).requires_grad_()
    assert torch.autograd.gradcheck(stacked, (xs,), fast_mode=True)
