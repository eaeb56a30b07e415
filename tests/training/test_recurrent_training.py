"""Recurrent networks through the same batched trainer: runs in a batch equal runs alone, and a
seeded short run learns the recurrent task."""

from __future__ import annotations

import pytest
import torch

from nalm.metrics import success_threshold
from nalm.tasks.recurrent import RecurrentArithmeticTask
from nalm.training import LinearRamp, ModelSpec, OptimizerSpec, TrainRecipe, train

from .test_trainer import _params, assert_rel_close

SPEC = ModelSpec(("nau", "nmu"), 10, 1, recurrent=True)
RECIPE = TrainRecipe(
    iterations=300, batch_size=32, eval_every=100, optimizer=OptimizerSpec("adam", 1e-2),
    regularizers={"sparsity": LinearRamp(10.0, 100, 200)},
)


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_recurrent_run_in_batch_equals_run_alone(dtype: torch.dtype, rtol: float) -> None:
    task = RecurrentArithmeticTask("mul", extrapolation_length=20, eval_samples=64)
    seeds = [4, 0, 11]
    batch = train(SPEC, task, seeds, RECIPE, threshold=1.0, dtype=dtype)
    for index, seed in enumerate(seeds):
        alone = train(SPEC, task, [seed], RECIPE, threshold=1.0, dtype=dtype)
        for name, value in _params(alone.model).items():
            assert_rel_close(batch.model.get_parameter(name)[index].detach(), value[0], rtol)
        assert batch.runs[index].curve.step == alone.runs[0].curve.step == [0, 100, 200, 300]
        for key in ("interpolation_mse", "extrapolation_mse", "sparsity_error"):
            got, want = getattr(batch.runs[index].curve, key), getattr(alone.runs[0].curve, key)
            assert got == pytest.approx(want, rel=rtol * 100, abs=1e-30)
    # the guard against a trainer that does nothing: the zero state and the weights moved
    moved = batch.model.get_parameter("zero_state").detach().abs().max().item()
    assert moved > 1e-3


def test_seeded_short_training_learns_the_recurrent_sum() -> None:
    """One NAU as the whole recurrent network (its state is the output: h_t = W [x_t, h_{t-1}]) on
    a + b over sequences of 4 (4 inputs, a = x_k, b = x_k+1): each of these seeds' test error on
    sequences of 40 falls below the ε-perturbed solution's threshold within 3,000 steps, with the
    cell's weights at the exact solution (1 on a, b and the state, 0 elsewhere)."""
    task = RecurrentArithmeticTask(
        "add", input_size=4, subset_ratio=0.25, overlap_ratio=0.0, seq_length=4,
        extrapolation_length=40, eval_samples=200,
    )
    spec = ModelSpec(("nau",), 4, 1, recurrent=True)
    recipe = TrainRecipe(iterations=3000, batch_size=64, eval_every=250, optimizer=OptimizerSpec("adam", 3e-2))
    seeds = [0, 1, 2]
    out = train(spec, task, seeds, recipe, threshold=success_threshold(task), dtype=torch.float64)
    assert out.success_rate().successes == len(seeds), [r.extrapolation_mse for r in out.runs]
    W = out.model.get_parameter("cell.unit.W").detach()
    for index, seed in enumerate(seeds):
        want = torch.zeros(1, 5, dtype=torch.float64)
        for start, _ in task.subsets(seed):
            want[0, start] = 1.0
        want[0, 4] = 1.0  # the state carried over
        torch.testing.assert_close(W[index], want, rtol=0, atol=0.01)


def test_recurrent_tasks_grouped_in_one_batch_equal_each_task_trained_alone() -> None:
    """What `nalm bench --group-runs` (the default on CUDA) does with the suite's NAU cells on + and −."""
    from nalm.training import RunGroup, train_groups

    spec = ModelSpec(("nau", "nau"), 10, 1, recurrent=True)
    tasks = [RecurrentArithmeticTask(op, extrapolation_length=20, eval_samples=64) for op in ("add", "sub")]
    groups = [RunGroup(t, (3, 5), 1.0) for t in tasks]
    grouped = train_groups(spec, groups, RECIPE, dtype=torch.float64)
    for task, out in zip(tasks, grouped):
        alone = train(spec, task, [3, 5], RECIPE, threshold=1.0, dtype=torch.float64)
        for name, value in _params(alone.model).items():
            assert_rel_close(out.model.get_parameter(name).detach(), value, 1e-12)
        for got, want in zip(out.runs, alone.runs):
            assert got.curve.extrapolation_mse == pytest.approx(want.curve.extrapolation_mse, rel=1e-10)
