"""Each run's parameters at its selected step: kept during training by a running best that must agree
with the scoring rule (argmin over the window, first on ties, non-finite ignored)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nalm.metrics import select_index
from nalm.training import LinearRamp, OptimizerSpec, TrainRecipe, train
from nalm.training.snapshot import BestParameters, evaluation_count

from .helpers import SPEC, SeededTask

RECIPE = TrainRecipe(
    iterations=2000,
    batch_size=16,
    eval_every=250,
    optimizer=OptimizerSpec("adam", 1e-2),
    regularizers={"sparsity": LinearRamp(10.0, 500, 1500)},
)
SEEDS = [3, 11, 5, 8]


def _recipe(iterations: int) -> TrainRecipe:
    return TrainRecipe(**{**RECIPE.__dict__, "iterations": iterations})


def _assert_selected_equal_training_to_that_step(out, seeds) -> None:
    """A run's selected parameters are bit for bit those of the same batch trained for exactly
    ``selected_step`` updates (schedules depend on the step, not on the run length)."""
    steps = {run.parameters.selected_step for run in out.runs}
    assert len(steps) > 1, "the test needs runs selected at different steps"
    for step in steps:
        short = train(SPEC, SeededTask(), seeds, _recipe(step), threshold=1e-6, dtype=torch.float64)
        for index, run in enumerate(out.runs):
            if run.parameters.selected_step != step:
                continue
            for name, value in run.parameters.selected.items():
                expected = short.model.get_parameter(name)[index].detach().numpy()
                assert np.array_equal(value, expected), (run.seed, name)


def test_selected_parameters_are_the_parameters_of_the_selected_step() -> None:
    out = train(SPEC, SeededTask(), SEEDS, RECIPE, threshold=1e-6, dtype=torch.float64)
    for index, run in enumerate(out.runs):
        assert run.parameters.selected_step == run.selected_step
        for name, value in run.parameters.final.items():
            assert np.array_equal(value, out.model.get_parameter(name)[index].detach().numpy())
    _assert_selected_equal_training_to_that_step(out, SEEDS)
    # and the stacked copy holds them, the trained model untouched
    selected = out.selected_model()
    for index, run in enumerate(out.runs):
        for name, value in run.parameters.selected.items():
            assert np.array_equal(selected.get_parameter(name)[index].detach().numpy(), value)
    assert any(
        not np.array_equal(run.parameters.selected[n], run.parameters.final[n])
        for run in out.runs for n in run.parameters.final
    )


def test_window_shorter_than_the_run_selects_within_the_window() -> None:
    """When a run logs more points than the selection window, the second snapshot (started where the
    window starts) holds the selected step's parameters, not the whole run's best."""
    window = 3
    recipe = TrainRecipe(**{**RECIPE.__dict__, "selection_window": window})
    out = train(SPEC, SeededTask(), SEEDS, recipe, threshold=1e-6, dtype=torch.float64)
    last_steps = out.runs[0].curve.step[-window:]
    for run in out.runs:
        assert run.selected_step in last_steps
        assert run.parameters.selected_step == run.selected_step
    # whole-run bests before the window exist for some run (else the test shows nothing)
    assert any(
        int(np.nanargmin(run.curve.interpolation_mse)) < len(run.curve.step) - window for run in out.runs
    )
    _assert_selected_equal_training_to_that_step(out, SEEDS)


@pytest.mark.parametrize("iterations, eval_every", [(2000, 250), (2001, 250), (10, 3), (0, 5), (7, 100)])
def test_evaluation_count_is_the_number_of_logged_points(iterations: int, eval_every: int) -> None:
    recipe = TrainRecipe(**{**_recipe(iterations).__dict__, "eval_every": eval_every})
    out = train(SPEC, SeededTask(), [3], recipe, threshold=1e-6)
    assert len(out.runs[0].curve.step) == evaluation_count(iterations, eval_every)


class _IndexModel(nn.Module):
    """One stacked parameter [S, 1] set to the evaluation index before each update: the snapshot's
    value then says which evaluation it kept."""

    def __init__(self, runs: int) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(runs, 1))


@pytest.mark.parametrize("seed", range(40))
def test_running_best_is_the_scoring_rule(seed: int) -> None:
    """Random curves with ties, NaN, ±inf, runs that stop being logged and runs with no finite value:
    the running best's index equals ``select_index`` whenever the window holds every point."""
    rng = np.random.default_rng(seed)
    runs, points = 6, int(rng.integers(1, 30))
    values = rng.choice([0.5, 1.0, 2.0, 3.0], size=(runs, points)).astype(np.float32)  # many ties
    values[rng.random((runs, points)) < 0.2] = np.nan
    values[rng.random((runs, points)) < 0.1] = np.inf
    values[0] = np.nan  # a run with no finite value at all
    lengths = rng.integers(1, points + 1, size=runs)
    lengths[1] = points
    model = _IndexModel(runs)
    best = BestParameters(model, runs, torch.float32, torch.device("cpu"))
    for k in range(points):
        with torch.no_grad():
            model.p.fill_(k)
        logged = torch.from_numpy(k < lengths)
        best.update(k, torch.from_numpy(values[:, k]), logged)
    curve = np.where(np.arange(points)[None, :] < lengths[:, None], values, np.nan)
    expected = select_index(curve, lengths=lengths)
    assert best.index.tolist() == expected.tolist()
    assert best.values[0][:, 0].tolist() == expected.astype(np.float32).tolist()
