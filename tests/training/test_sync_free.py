"""The sync-free update (what ``cuda_graph=True`` captures) equals the ordinary step bit for bit.

Run uncaptured here, on the CPU; ``benchmarks/check_cuda_graph.py`` checks the captured graph on a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nalm.errors import ConfigError
from nalm.tasks.static import StaticArithmeticTask
from nalm.training import LinearRamp, ModelSpec, OptimizerSpec, RunGroup, TrainRecipe, train_groups
from nalm.training.recipes import default_recipe
from nalm.training.trainer import _train_groups

from .helpers import SPEC, SeededTask

RECIPE = TrainRecipe(
    iterations=400,
    batch_size=16,
    eval_every=100,
    optimizer=OptimizerSpec("adam", 1e-2),
    regularizers={"sparsity": LinearRamp(10.0, 100, 300)},  # zero, ramping, then on
    record_train_loss=True,
)


def run(groups, recipe, *, sync_free: bool, spec=SPEC, dtype=torch.float64):
    return _train_groups(
        spec, groups, recipe, device="cpu", dtype=dtype, progress=None, compile=False,
        cuda_graph=False, sync_free=sync_free,
    )


def assert_same(a, b) -> None:
    for out_a, out_b in zip(a, b, strict=True):
        for (name, p), (_, q) in zip(out_a.model.named_parameters(), out_b.model.named_parameters()):
            assert torch.equal(p, q), name
        torch.testing.assert_close(out_a.train_loss, out_b.train_loss, rtol=0, atol=0, equal_nan=True)
        for ra, rb in zip(out_a.runs, out_b.runs, strict=True):
            assert (ra.status, ra.diverged_at, ra.iterations, ra.solved_at) == (
                rb.status, rb.diverged_at, rb.iterations, rb.solved_at
            )
            for field in ("step", "interpolation_mse", "extrapolation_mse", "sparsity_error"):
                # NaN marks points after divergence; assert_array_equal treats NaNs as equal
                np.testing.assert_array_equal(getattr(ra.curve, field), getattr(rb.curve, field))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sync_free_steps_equal_ordinary_steps(dtype) -> None:
    groups = [RunGroup(SeededTask(), (3, 11, 5), 1e-6)]
    ordinary = run(groups, RECIPE, sync_free=False, dtype=dtype)
    sync_free = run(groups, RECIPE, sync_free=True, dtype=dtype)
    assert_same(ordinary, sync_free)
    assert ordinary[0].train_loss[-1].max() < ordinary[0].train_loss[0].min()  # it trained


def test_sync_free_divergence_is_recorded_on_the_device_and_isolated() -> None:
    groups = [RunGroup(SeededTask(nan_seed=5, nan_from_step=150), (3, 11, 5), 1e-6)]
    ordinary = run(groups, RECIPE, sync_free=False)
    sync_free = run(groups, RECIPE, sync_free=True)
    assert sync_free[0].runs[2].status == "diverged" and sync_free[0].runs[2].diverged_at == 150
    assert_same(ordinary, sync_free)


def test_sync_free_grouped_static_tasks_with_the_reference_recipe() -> None:
    spec = ModelSpec(("nau", "nmu"), in_features=10, out_features=1, hidden=2)
    groups = [
        RunGroup(StaticArithmeticTask(op, input_size=10), (0, 1), 1e-3) for op in ("mul", "add")
    ]
    recipe = default_recipe("nmu", "mul", setting="madsen2020", iterations=300, eval_every=100)
    assert_same(run(groups, recipe, sync_free=False, spec=spec), run(groups, recipe, sync_free=True, spec=spec))


def test_sync_free_inalu_recipe_with_its_hook_and_gradient_clipping() -> None:
    spec = ModelSpec(("inalu",), in_features=4, out_features=1)
    recipe = default_recipe("inalu", "mul", iterations=400, eval_every=50)  # hook, clip, gated term
    groups = [RunGroup(SeededTask(), (0, 1, 2), 1e-6)]
    assert_same(run(groups, recipe, sync_free=False, spec=spec), run(groups, recipe, sync_free=True, spec=spec))


def test_cuda_graph_refuses_what_it_cannot_capture() -> None:
    groups = [RunGroup(SeededTask(), (0, 1), 1e-6)]
    with pytest.raises(ConfigError, match="CUDA device"):
        train_groups(SPEC, groups, RECIPE, device="cpu", cuda_graph=True)
    per_run_lr = TrainRecipe(**{**RECIPE.__dict__, "optimizer": OptimizerSpec("adam", (1e-2, 2e-2))})
    with pytest.raises(ConfigError, match="one learning rate"):
        run(groups, per_run_lr, sync_free=True)
    with pytest.raises(ConfigError, match="compile"):
        _train_groups(SPEC, groups, RECIPE, device="cpu", dtype=torch.float32, progress=None,
                      compile=True, cuda_graph=False, sync_free=True)


def test_which_runs_a_cuda_graph_can_train() -> None:
    from nalm.training.trainer import cuda_graph_unsupported

    static = [RunGroup(StaticArithmeticTask("mul", input_size=10), (0,), 1e-3)]
    assert cuda_graph_unsupported(static, RECIPE) is None
    assert "host-side step" in cuda_graph_unsupported([RunGroup(SeededTask(), (0,), 1e-6)], RECIPE)
    sgd = TrainRecipe(**{**RECIPE.__dict__, "optimizer": OptimizerSpec("sgd", 1e-2)})
    assert "Adam" in cuda_graph_unsupported(static, sgd)
