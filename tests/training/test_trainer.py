"""The batched trainer must be exactly S independent runs."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.training import (
    LinearRamp,
    ModelSpec,
    OptimizerSpec,
    TrainRecipe,
    stack_modules,
    train,
    unstack_module,
)

from .helpers import SPEC, SeededTask


RECIPE = TrainRecipe(
    iterations=2000,
    batch_size=16,
    eval_every=250,
    optimizer=OptimizerSpec("adam", 1e-2),
    regularizers={"sparsity": LinearRamp(10.0, 500, 1500)},
)


def assert_rel_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float) -> None:
    """Relative to the tensor's scale: max |a − b| <= rtol · max |b| (elementwise relative error
    is meaningless for entries that sit near 0 while the rest are O(1))."""
    scale = expected.abs().max().item()
    diff = (actual - expected).abs().max().item()
    assert diff <= rtol * scale, f"max diff {diff:.3e} > {rtol:.0e} x scale {scale:.3e}"


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_run_in_batch_equals_run_alone(dtype: torch.dtype, rtol: float) -> None:
    task, seeds = SeededTask(), [3, 11, 5, 8]
    batch = train(SPEC, task, seeds, RECIPE, threshold=1e-6, dtype=dtype)
    for index, seed in enumerate(seeds):
        alone = train(SPEC, task, [seed], RECIPE, threshold=1e-6, dtype=dtype)
        # identical data stream
        xb, yb = task.train_batch(seeds, 1234, 16, dtype=dtype)
        xa, ya = task.train_batch([seed], 1234, 16, dtype=dtype)
        assert torch.equal(xb[index], xa[0]) and torch.equal(yb[index], ya[0])
        for name, value in _params(alone.model).items():
            batched = batch.model.get_parameter(name)[index].detach()
            assert_rel_close(batched, value[0], rtol)
        assert batch.runs[index].curve.step == alone.runs[0].curve.step
        for key in ("interpolation_mse", "extrapolation_mse", "sparsity_error"):
            got = getattr(batch.runs[index].curve, key)
            want = getattr(alone.runs[0].curve, key)
            assert got == pytest.approx(want, rel=rtol * 100, abs=1e-30)


def test_training_actually_moves_the_parameters() -> None:
    # Guards the equivalence test against a trainer that does nothing.
    out = train(SPEC, SeededTask(), [3], RECIPE, threshold=1e-6, dtype=torch.float64)
    initial = SPEC.build(3, dtype=torch.float64)
    moved = max(
        (out.model.get_parameter(n)[0] - p).abs().max().item() for n, p in initial.named_parameters()
    )
    assert moved > 0.05
    assert out.runs[0].curve.interpolation_mse[-1] < out.runs[0].curve.interpolation_mse[0] / 10


def test_diverged_run_is_isolated_and_frozen() -> None:
    seeds, bad = [3, 11, 5, 8], 5
    clean = train(SPEC, SeededTask(), seeds, RECIPE, threshold=1e-6)
    poisoned = train(SPEC, SeededTask(nan_seed=bad, nan_from_step=700), seeds, RECIPE, threshold=1e-6)
    bad_index = seeds.index(bad)
    run = poisoned.runs[bad_index]
    assert run.status == "diverged" and run.diverged_at == 700 and run.iterations == 700
    # Frozen at the parameters it had before the failing update: equal to the clean run at step
    # 700, which we get by training the clean run alone for 700 updates.
    recipe700 = TrainRecipe(**{**RECIPE.__dict__, "iterations": 700})
    ref = train(SPEC, SeededTask(), [bad], recipe700, threshold=1e-6)
    for name, value in _params(ref.model).items():
        frozen = poisoned.model.get_parameter(name)[bad_index].detach()
        assert torch.isfinite(frozen).all()
        torch.testing.assert_close(frozen, value[0], rtol=1e-5, atol=1e-7)
    # No evaluation is logged after divergence.
    steps = run.curve.step
    assert all(math.isnan(v) for s, v in zip(steps, run.curve.interpolation_mse) if s > 700)
    # Every other run is bit-identical to the same batch without the poison.
    for index, seed in enumerate(seeds):
        if seed == bad:
            continue
        assert poisoned.runs[index].status == "ok"
        for name, value in _params(clean.model).items():
            assert torch.equal(poisoned.model.get_parameter(name)[index], value[index]), name
        assert poisoned.runs[index].curve == clean.runs[index].curve


def test_per_run_gradient_norm_clipping_is_not_global() -> None:
    seeds = [3, 11]
    recipe = TrainRecipe(**{**RECIPE.__dict__, "iterations": 300, "clip_grad_norm": 0.01})
    batch = train(SPEC, SeededTask(), seeds, recipe, threshold=1e-6, dtype=torch.float64)
    alone = train(SPEC, SeededTask(), [11], recipe, threshold=1e-6, dtype=torch.float64)
    for name, value in _params(alone.model).items():
        assert_rel_close(batch.model.get_parameter(name)[1].detach(), value[0], 1e-12)


def test_early_stop_freezes_solved_runs() -> None:
    recipe = TrainRecipe(**{**RECIPE.__dict__, "early_stop_after": 2})
    out = train(SPEC, SeededTask(), [3, 11], recipe, threshold=1e9)  # every run "solved" at once
    for run in out.runs:
        assert run.status == "ok" and run.iterations == RECIPE.eval_every  # stopped at 2nd eval
        assert run.solved and run.solved_at == 0


def test_stack_and_unstack_round_trip() -> None:
    nets = [SPEC.build(s) for s in (1, 2, 3)]
    stacked = stack_modules(nets)
    x = torch.rand(3, 7, 4)
    y = stacked(x)
    for i, net in enumerate(nets):
        torch.testing.assert_close(y[i], net(x[i]))
        single = unstack_module(stacked, i, SPEC.build(0))
        for (n, p), (_, q) in zip(single.named_parameters(), net.named_parameters()):
            assert torch.equal(p, q), n


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_static_task_nau_nmu_batch_equals_alone(dtype: torch.dtype, rtol: float) -> None:
    """The issue's setting: the static task (100 inputs, per-run data), NAU → NMU, 2,000 steps."""
    from nalm.tasks import StaticArithmeticTask
    from nalm.training.recipes import default_recipe

    task = StaticArithmeticTask("mul", input_size=100, eval_samples=500)
    spec = ModelSpec(("nau", "nmu"), in_features=100, out_features=1, hidden=2)
    recipe = default_recipe("nmu", "mul", setting="madsen2020", iterations=2000)
    seeds = [7, 0, 42]
    batch = train(spec, task, seeds, recipe, threshold=0.16, dtype=dtype)
    for index, seed in enumerate(seeds):
        xb, yb = task.train_batch(seeds, 1999, 128, dtype=dtype)
        xa, ya = task.train_batch([seed], 1999, 128, dtype=dtype)
        assert torch.equal(xb[index], xa[0]) and torch.equal(yb[index], ya[0])
        alone = train(spec, task, [seed], recipe, threshold=0.16, dtype=dtype)
        for name, value in _params(alone.model).items():
            assert_rel_close(batch.model.get_parameter(name)[index].detach(), value[0], rtol)


SHORT_RAMP = TrainRecipe(**{**RECIPE.__dict__, "iterations": 300, "eval_every": 100,
                            "regularizers": {"sparsity": LinearRamp(10.0, 100, 200)}})


@pytest.mark.parametrize(
    "backend,dtype,rtol",
    [("aot_eager", torch.float64, 1e-10), ("inductor", torch.float32, 1e-4)],
)
def test_compiled_training_matches_eager(backend: str, dtype: torch.dtype, rtol: float) -> None:
    """``compile=`` changes how the step runs, not what it computes: parameters and curves agree with
    eager mode to rounding, across the regularizer ramp's switch from 0 to active."""
    seeds = [3, 11]
    eager = train(SPEC, SeededTask(), seeds, SHORT_RAMP, threshold=1e-6, dtype=dtype)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = train(SPEC, SeededTask(), seeds, SHORT_RAMP, threshold=1e-6, dtype=dtype, compile=backend)
    # One graph for the whole run: a zero scale must not make a second one.
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    for name, value in _params(eager.model).items():
        assert_rel_close(compiled.model.get_parameter(name).detach(), value, rtol)
    for got, want in zip(compiled.runs, eager.runs):
        assert got.curve.interpolation_mse == pytest.approx(want.curve.interpolation_mse, rel=rtol * 100)


def test_compiled_training_isolates_a_diverged_run() -> None:
    seeds, bad = [3, 11, 5], 5
    recipe = SHORT_RAMP
    clean = train(SPEC, SeededTask(), seeds, recipe, threshold=1e-6, compile="aot_eager")
    poisoned = train(SPEC, SeededTask(nan_seed=bad, nan_from_step=150), seeds, recipe,
                     threshold=1e-6, compile="aot_eager")
    assert poisoned.runs[seeds.index(bad)].diverged_at == 150
    for index, seed in enumerate(seeds):
        if seed != bad:
            for name, value in _params(clean.model).items():
                assert torch.equal(poisoned.model.get_parameter(name)[index], value[index]), name


def test_every_compiled_training_gets_its_own_graph_past_the_recompile_limit() -> None:
    """dynamo keeps graphs per code object and stops compiling after its recompile limit (8); a
    process that trains many differently-shaped cells (``nalm bench --compile``) must not fall
    back to eager mode silently after the eighth."""
    recipe = TrainRecipe(**{**SHORT_RAMP.__dict__, "iterations": 2})
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    for runs in range(1, 11):
        before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        train(SPEC, SeededTask(), list(range(runs)), recipe, threshold=1e-6, compile="aot_eager")
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == before + 1, runs


class HugeTargetTask(SeededTask):
    """Targets near 3e18: every run's float32 loss (~1e37) is finite, their sum over 64 runs is not."""

    def _target(self, x: torch.Tensor) -> torch.Tensor:
        return super()._target(x) + 3e18


def test_overflowing_sum_of_finite_losses_marks_no_run_diverged() -> None:
    # The step first tests one scalar (losses + gradient sums) and only checks run by run when that
    # is non-finite; an overflow of finite terms must fall through to the exact per-run check.
    recipe = TrainRecipe(**{**RECIPE.__dict__, "iterations": 5, "eval_every": 5, "record_train_loss": True})
    out = train(SPEC, HugeTargetTask(), list(range(64)), recipe, threshold=1.0, dtype=torch.float32)
    losses = out.train_loss  # [iterations, S] training MSE of every update
    assert torch.isfinite(losses).all()
    assert torch.isinf(losses.sum(dim=1)).all()  # so the scalar test raised the alarm at every step
    assert [r.status for r in out.runs] == ["ok"] * 64
    assert all(r.iterations == 5 for r in out.runs)
