"""TrainRecipe.selection_window: the "best" selection searches only a run's last N logged points (the
recurrent R script's 2,000 against the static scripts' 5,000), with the parameters of that point."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nalm.errors import ConfigError
from nalm.training import TrainRecipe, train

from .helpers import SPEC, SeededTask
from .test_trainer import RECIPE


def test_a_window_of_two_selects_among_the_last_two_points_only() -> None:
    recipe = TrainRecipe(**{**RECIPE.__dict__, "iterations": 600, "eval_every": 100})
    wide = train(SPEC, SeededTask(), [3, 11], recipe, threshold=1e-6, dtype=torch.float64)
    narrow_recipe = TrainRecipe(**{**recipe.__dict__, "selection_window": 2})
    narrow = train(SPEC, SeededTask(), [3, 11], narrow_recipe, threshold=1e-6, dtype=torch.float64)
    for w, n in zip(wide.runs, narrow.runs):
        assert w.curve == n.curve  # the same training
        curve = np.asarray(n.curve.interpolation_mse)
        assert n.selected_step == [500, 600][int(np.argmin(curve[-2:]))]
        assert n.interpolation_mse == curve[-2:].min()
        assert n.parameters is not None and n.parameters.selected_step == n.selected_step
    # the selected parameters are those of that point: re-evaluated, they give its logged error
    model = narrow.selected_model()
    x, y = SeededTask().evaluation_set("interpolation", [3, 11], dtype=torch.float64)
    with torch.no_grad():
        mse = (model(x) - y).square().mean(dim=(-2, -1))
    for run, value in zip(narrow.runs, mse.tolist()):
        assert value == pytest.approx(run.interpolation_mse, rel=1e-12)


def test_the_window_must_be_a_positive_integer() -> None:
    with pytest.raises(ConfigError, match="selection_window"):
        TrainRecipe(iterations=10, selection_window=0)
