"""The NPU paper's simple task (2 inputs -> x+y, xy, x/y, sqrt x) as a nalm task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nalm.errors import ConfigError
from nalm.tasks._base import Task
from nalm.tasks.npu_simple import NPUSimpleTask, paper_errors, paper_grids, targets


def test_protocol_shapes_and_targets() -> None:
    task = NPUSimpleTask()
    assert isinstance(task, Task) and (task.in_features, task.out_features) == (2, 4)
    x, y = task.train_batch([0, 5, 9], step=3, batch_size=100)
    assert x.shape == (3, 100, 2) and y.shape == (3, 100, 4) and x.dtype == torch.float32
    assert float(x.min()) >= 0.1 and float(x.max()) <= 2.1
    expected = targets(x.double().numpy())
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)


def test_a_runs_rows_do_not_depend_on_the_other_runs() -> None:
    task = NPUSimpleTask()
    x3, y3 = task.train_batch([4, 7, 1], step=11, batch_size=50)
    x1, y1 = task.train_batch([7], step=11, batch_size=50)
    assert torch.equal(x3[1], x1[0]) and torch.equal(y3[1], y1[0])
    assert not torch.equal(task.train_batch([7], step=12, batch_size=50)[0], x1)


def test_evaluation_sets() -> None:
    task = NPUSimpleTask()
    xi, yi = task.evaluation_set("interpolation", [0, 1])
    xe, ye = task.evaluation_set("extrapolation", [0, 1])
    assert xi.shape == (1, 10_000, 2) and yi.shape == (2, 10_000, 4)
    assert xe.shape == (1, 1600, 2) and ye.shape == (2, 1600, 4)
    axis = np.unique(xe[0, :, 0].numpy())
    assert len(axis) == 40 and axis[0] == pytest.approx(0.1) and axis[-1] == pytest.approx(4.0)
    assert torch.isfinite(ye).all()
    with pytest.raises(ConfigError, match="split"):
        task.evaluation_set("test", [0])


def test_paper_grids_and_errors_of_an_exact_model() -> None:
    grids = paper_grids()
    assert grids["add"].shape == (41 * 41, 2) and (grids["add"] != 0).all()
    assert grids["root"].min() == pytest.approx(0.1) and grids["root"].shape == (40 * 40, 2)

    class Exact(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, b = x[..., 0].double(), x[..., 1].double()
            return torch.stack([a + b, a * b, a / b, torch.sqrt(a.abs())], -1)

    errors = paper_errors(Exact(), dtype=torch.float64)
    assert set(errors) == {"add", "mul", "div", "root"}
    for value in errors.values():
        assert float(value) < 1e-12


@pytest.mark.parametrize("kwargs,field", [
    ({"low": 0.0}, "low/high"), ({"low": 2.0, "high": 1.0}, "low/high"),
    ({"interpolation_samples": 0}, "interpolation_samples"), ({"grid_step": -1.0}, "grid_step"),
])
def test_invalid_settings(kwargs, field) -> None:
    with pytest.raises(ConfigError, match=field):
        NPUSimpleTask(**kwargs)
