"""The NPU paper's simple task (2 inputs -> x+y, xy, x/y, sqrt x) as a nalm task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nalm.errors import ConfigError
from nalm.tasks._base import Task
from nalm.tasks.npu_simple import NPUSimpleTask, paper_grids, targets
from nalm.training.evaluation import npu_paper_errors


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

    task = NPUSimpleTask()
    errors = npu_paper_errors(Exact(), task.paper_grids(), dtype=torch.float64)
    assert set(errors) == {"add", "mul", "div", "root"}
    for value in errors.values():
        assert value.shape == (1,) and float(value[0]) < 1e-12


def test_paper_errors_of_a_constant_model_by_hand() -> None:
    """A model answering 1 everywhere: each output's error is the mean of |target − 1| over its grid,
    computed here with numpy from the grids alone; two stacked runs (1 and 2) score independently."""

    class Constant(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # [1, N, 2] -> [2, N, 4]
            return self.c.view(2, 1, 1).expand(2, x.shape[-2], 4)

    grids = paper_grids()
    errors = npu_paper_errors(Constant(), NPUSimpleTask().paper_grids(), dtype=torch.float64)
    for k, name in enumerate(("add", "mul", "div", "root")):
        a, b = grids[name][:, 0], grids[name][:, 1]
        y = [a + b, a * b, a / b, np.sqrt(np.abs(a))][k]
        expected = [np.mean(np.abs(y - c)) for c in (1.0, 2.0)]
        np.testing.assert_allclose(errors[name], expected, rtol=1e-13)


@pytest.mark.parametrize("kwargs,field", [
    ({"low": 0.0}, "low/high"), ({"low": 2.0, "high": 1.0}, "low/high"),
    ({"interpolation_samples": 0}, "interpolation_samples"), ({"grid_step": -1.0}, "grid_step"),
])
def test_invalid_settings(kwargs, field) -> None:
    with pytest.raises(ConfigError, match=field):
        NPUSimpleTask(**kwargs)


def test_a_suite_stores_the_paper_statistic_per_run_and_the_report_shows_its_median(tmp_path, capsys) -> None:
    """Runner → store → report: each run's ``paper_mae_<output>`` equals the statistic recomputed here
    from its stored final parameters, and the report's median row is their median."""
    import statistics

    from nalm.report.medians import median_rows
    from tests.support import run_in_process, stored_models

    suite = tmp_path / "tiny.toml"
    suite.write_text("""
name = "tiny_simple"
protocol_iterations = 60
threshold_policy = "fixed_1e-5"
eval_every = 20
selection = "final"
[recipe]
kind = "plain"
optimizer = "adam"
lr = 0.005
batch_size = 16
[profiles.quick]
seeds = 3
[models.NPU-s]
units = ["npu", "nau"]
hidden = 6
label = "NPU"
[[grid]]
name = "simple"
task = "npu_simple"
models = ["NPU-s"]
ops = ["all"]
""")
    db = tmp_path / "r.db"
    code, out, err = run_in_process(capsys, "bench", str(suite), "--profile", "quick", "--db", str(db))
    assert code == 0, err
    runs, cell, task, _, models = stored_models(db, at="final")
    for r, model in zip(runs, models):
        expected = npu_paper_errors(model, task.paper_grids())
        assert set(r.result.metrics) == {f"paper_mae_{k}" for k in ("add", "mul", "div", "root")}
        for k, v in expected.items():
            assert r.result.metrics[f"paper_mae_{k}"] == float(v[0])
    rows = {row.operation: row for row in median_rows([cell])}
    assert set(rows) == {"add", "mul", "div", "root"}
    assert rows["mul"].median == statistics.median(r.result.metrics["paper_mae_mul"] for r in runs)
    assert rows["mul"].published_median is not None  # Table A2's NPU row
