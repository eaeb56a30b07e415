"""train_groups: runs of several same-shape tasks in one batch equal each task trained alone."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from nalm.tasks.static import StaticArithmeticTask
from nalm.training import (
    LinearRamp,
    ModelSpec,
    OptimizerSpec,
    RunGroup,
    TrainRecipe,
    train,
    train_groups,
)

SPEC = ModelSpec(("nau", "nau"), in_features=6, out_features=1, hidden=2)
RECIPE = TrainRecipe(
    iterations=600,
    batch_size=32,
    eval_every=150,
    optimizer=OptimizerSpec("adam", 1e-2),
    regularizers={"sparsity": LinearRamp(1.0, 200, 400)},
)
# Different operations AND different ranges: every group has its own data and evaluation inputs.
ADD = StaticArithmeticTask("add", input_size=6, eval_samples=500)
SUB = StaticArithmeticTask(
    "sub", input_size=6, eval_samples=500, interpolation_range=(-2.0, 2.0), extrapolation_range=(-6.0, 6.0)
)
# Same range and seeds as ADD, another operation: the two groups share one input stream.
MUL = dataclasses.replace(ADD, op="mul")


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float) -> None:
    scale = b.abs().max().item()
    assert (a - b).abs().max().item() <= rtol * scale


@pytest.mark.parametrize(
    "groups",
    [
        [RunGroup(ADD, (0, 1, 2), 1e-3), RunGroup(SUB, (1, 2), 5e-2)],  # seeds 1, 2 in both
        [RunGroup(ADD, (0, 1, 2), 1e-3), RunGroup(MUL, (0, 1, 2), 5e-2)],  # one shared input draw
    ],
    ids=["own-streams", "shared-stream"],
)
def test_groups_equal_their_tasks_trained_alone(groups: list[RunGroup]) -> None:
    outs = train_groups(SPEC, groups, RECIPE, dtype=torch.float64)
    assert [len(o.runs) for o in outs] == [len(g.seeds) for g in groups]
    for group, out in zip(groups, outs):
        alone = train(SPEC, group.task, list(group.seeds), RECIPE, threshold=group.threshold,
                      dtype=torch.float64)
        assert out.threshold == group.threshold
        for name, p in alone.model.named_parameters():
            got = out.model.get_parameter(name)
            assert got.shape == p.shape
            _close(got.detach(), p.detach(), 1e-12)
        for got, want in zip(out.runs, alone.runs):
            assert (got.seed, got.threshold, got.solved, got.solved_at, got.selected_step) == (
                want.seed, want.threshold, want.solved, want.solved_at, want.selected_step
            )
            for key in ("interpolation_mse", "extrapolation_mse", "sparsity_error"):
                assert getattr(got.curve, key) == pytest.approx(getattr(want.curve, key), rel=1e-10)
    # the same seed in two groups is two different runs (another task)
    assert outs[0].runs[1].extrapolation_mse != outs[1].runs[0].extrapolation_mse


def test_per_group_threshold_drives_early_stop() -> None:
    recipe = dataclasses.replace(RECIPE, early_stop_after=1)
    never, always = RunGroup(ADD, (0, 1), 0.0), RunGroup(SUB, (0, 1), float("inf"))
    stopped_never, stopped_always = train_groups(SPEC, [never, always], recipe)
    assert [r.iterations for r in stopped_never.runs] == [recipe.iterations] * 2
    assert [r.iterations for r in stopped_always.runs] == [0, 0]  # solved at the step-0 evaluation
    assert all(r.solved for r in stopped_always.runs) and not any(r.solved for r in stopped_never.runs)


def test_train_loss_is_split_per_group() -> None:
    recipe = dataclasses.replace(RECIPE, iterations=20, record_train_loss=True)
    a, b = train_groups(SPEC, [RunGroup(ADD, (4,), 1.0), RunGroup(SUB, (4, 5), 1.0)], recipe)
    assert a.train_loss.shape == (20, 1) and b.train_loss.shape == (20, 2)
    alone = train(SPEC, SUB, [4, 5], recipe, threshold=1.0)
    torch.testing.assert_close(b.train_loss, alone.train_loss, rtol=1e-5, atol=0)


def test_bad_groups_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least one group"):
        train_groups(SPEC, [], RECIPE)
    with pytest.raises(ValueError, match="distinct"):
        train_groups(SPEC, [RunGroup(ADD, (1, 1), 1.0)], RECIPE)
    with pytest.raises(ValueError, match="at least one run"):
        train_groups(SPEC, [RunGroup(ADD, (1,), 1.0), RunGroup(SUB, (), 1.0)], RECIPE)
    wide = StaticArithmeticTask("add", input_size=8)
    with pytest.raises(ValueError, match="8 inputs"):
        train_groups(SPEC, [RunGroup(ADD, (1,), 1.0), RunGroup(wide, (1,), 1.0)], RECIPE)
    per_run_lr = dataclasses.replace(RECIPE, optimizer=OptimizerSpec("adam", (1e-2, 1e-3)))
    with pytest.raises(ValueError, match="2 per-run learning rates for 3 runs"):
        train_groups(SPEC, [RunGroup(ADD, (1,), 1.0), RunGroup(SUB, (1, 2), 1.0)], per_run_lr)
