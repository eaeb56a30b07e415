"""The trainer features the iNALU scripts need: TF1 RMSProp, alternating parameter groups, penalty-only
steps, the scripts' re-initialisation rule, final-point selection — each hand-checked, per-run exact."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from nalm.bench.config import recipe_json
from nalm.errors import ConfigError
from nalm.tasks.inalu_data import INALUArithmeticTask
from nalm.training import ModelSpec, OptimizerSpec, TrainRecipe, train
from nalm.training.hooks import INALUScriptReinitialization
from nalm.training.optim import StackedRMSPropTF1
from nalm.training.recipe import PenaltySteps
from nalm.training.recipes import SCHLOR2020_CYCLE, default_recipe, schlor2020_recipe
from nalm.training.runs import parameter_groups

TASK = INALUArithmeticTask("mul", ("truncated_normal", -3, 3), ("truncated_normal", 8, 10))
NALU = ModelSpec(("nalu",), 2, 1, options=({"init": "schlor2020"},))
INALU = ModelSpec(("inalu",), 2, 1, options=({"init": "original"},))


# ------------------------------------------------------------------------------ the optimiser


def test_rmsprop_tf1_by_hand() -> None:
    p = torch.nn.Parameter(torch.tensor([[1.0], [2.0]], dtype=torch.float64))
    opt = StackedRMSPropTF1([p], lr=0.01)
    p.grad = torch.tensor([[0.1], [-0.05]], dtype=torch.float64)
    opt.step()
    # mean square starts at 1: ms = 1 + (g² − 1)(1 − 0.9); step = lr·g / sqrt(ms + 1e-10)
    ms0, ms1 = 1 + (0.01 - 1) * 0.1, 1 + (0.0025 - 1) * 0.1
    assert p[0, 0].item() == pytest.approx(1 - 0.01 * 0.1 / math.sqrt(ms0 + 1e-10), abs=1e-15)
    assert p[1, 0].item() == pytest.approx(2 + 0.01 * 0.05 / math.sqrt(ms1 + 1e-10), abs=1e-15)
    # torch's RMSprop (mean square from 0, decay 0.99) takes a ten times larger first step
    q = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    q.grad = torch.tensor([0.1], dtype=torch.float64)
    torch.optim.RMSprop([q], lr=0.01).step()
    assert 1 - q.item() > 9 * (1 - p[0, 0].item())


def test_rmsprop_tf1_skips_params_without_grad_and_masked_runs() -> None:
    a = torch.nn.Parameter(torch.ones(3, 2))
    b = torch.nn.Parameter(torch.ones(3))
    opt = StackedRMSPropTF1([a, b], lr=0.1)
    a.grad, b.grad = torch.full((3, 2), 0.5), None
    opt.step(runs=torch.tensor([True, False, True]))
    assert torch.equal(b, torch.ones(3)) and torch.equal(opt._ms[1], torch.ones(3))  # no grad: untouched
    assert torch.equal(a[1], torch.ones(2)) and torch.equal(opt._ms[0][1], torch.ones(2))  # masked run
    assert (a[0] < 1).all() and torch.equal(a[0], a[2])


# ------------------------------------------------------------------------------ parameter groups


def test_units_name_their_gates() -> None:
    model = NALU.build(0)
    groups = parameter_groups(model)
    assert [p is model[0].G for p in groups["gate"]] == [True]
    assert {id(p) for p in groups["weights"]} == {id(model[0].W_hat), id(model[0].M_hat)}
    inalu = parameter_groups(INALU.build(0))
    assert len(inalu["gate"]) == 1 and len(inalu["weights"]) == 4


def test_alternating_update_by_hand() -> None:
    """SGD, cycle (weights, gate): update 0 moves Ŵ, M̂ and not G; update 1 moves G only — each by
    −lr · ∂MSE/∂θ on that update's batch, computed here on one unstacked NALU."""
    recipe = TrainRecipe(iterations=2, optimizer=OptimizerSpec("sgd", 0.1), batch_size=64, eval_every=1,
                         update_cycle=("weights", "gate"))
    out = train(NALU, TASK, [100, 101], recipe, threshold=1e-5, dtype=torch.float64)
    for run, seed in enumerate((100, 101)):
        model = NALU.build(seed, dtype=torch.float64)
        unit = model[0]
        before_G = unit.G.detach().clone()
        for step, group in enumerate((("W_hat", "M_hat"), ("G",))):
            x, y = TASK.train_batch([seed], step, 64, dtype=torch.float64)
            loss = (model(x[0]) - y[0]).square().mean()
            params = [getattr(unit, n) for n in group]
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p -= 0.1 * g
            if step == 0:
                assert torch.equal(unit.G, before_G)
        trained = out.model[0]
        for name in ("W_hat", "M_hat", "G"):
            torch.testing.assert_close(getattr(trained, name)[run], getattr(unit, name), rtol=0, atol=1e-14)
    # the first logged point after update 0 (eval_every=1): G is still the initial one
    params = out.runs[0].parameters
    assert params is not None


def test_cycle_keeps_the_other_groups_optimiser_state() -> None:
    """With 8 weight and 2 gate updates per 10, the gate's mean square is untouched by the 8."""
    recipe = replace(schlor2020_recipe(iterations=8), hooks=(), penalty_steps=None)
    from nalm.training.runs import BatchedRuns, RunGroup
    from nalm.training.update import Update

    runs = BatchedRuns(INALU, [RunGroup(TASK, (100,), 1e-5)], recipe, device="cpu", dtype=torch.float32)
    update = Update(runs, compile_backend=None, on_device=False)
    gate = runs.param_groups["gate"][0]
    index = next(i for i, p in enumerate(runs.params) if p is gate)
    g0 = gate.detach().clone()
    for step in range(8):
        update(step, {})
    assert torch.equal(gate, g0) and torch.equal(runs.optimizer._ms[index], torch.ones_like(g0))
    update(8, {})
    assert not torch.equal(gate, g0) and not torch.equal(runs.optimizer._ms[index], torch.ones_like(g0))
    assert SCHLOR2020_CYCLE == ("weights",) * 8 + ("gate",) * 2


# ------------------------------------------------------------------------------ penalty steps


def test_penalty_steps_by_hand_and_only_for_qualifying_runs() -> None:
    """SGD would need no mask; with rmsprop_tf1 the step of a run with batch MSE < below is
    −lr·clip(g)/sqrt(ms) with g = −0.05/|P|·sign(P) for |P| < 20; a run above the bound is untouched."""
    from nalm.training.runs import BatchedRuns, RunGroup
    from nalm.training.update import Update

    recipe = TrainRecipe(
        iterations=1, optimizer=OptimizerSpec("rmsprop_tf1", 0.01), batch_size=64, clip_grad_value=0.1,
        penalty_steps=PenaltySteps(0.05, 20.0, ("weights", "gate"), after=0, below=1.0),
    )
    runs = BatchedRuns(INALU, [RunGroup(TASK, (100, 101), 1e-5)], recipe, device="cpu", dtype=torch.float64)
    update = Update(runs, compile_backend=None, on_device=False)
    before = {n: p.detach().clone() for n, p in runs.model.named_parameters()}
    ms_before = [m.clone() for m in runs.optimizer._ms]
    # run 0 qualifies (MSE 0.5), run 1 does not (MSE 2)
    update._penalty_steps(0, torch.tensor([0.5, 2.0], dtype=torch.float64))
    for (name, p), ms in zip(runs.model.named_parameters(), ms_before):
        assert torch.equal(p[1], before[name][1]), name  # untouched
        P = before[name][0]
        g = -0.05 / P.numel() * torch.sign(P) * (P.abs() < 20)
        new_ms = 1 + (g * g - 1) * 0.1
        torch.testing.assert_close(p[0], P - 0.01 * g / torch.sqrt(new_ms + 1e-10), rtol=0, atol=1e-15)
    for ms, old in zip(runs.optimizer._ms, ms_before):
        assert torch.equal(ms[1], old[1]) and not torch.equal(ms[0], old[0])


def test_penalty_steps_wait_for_their_step() -> None:
    from nalm.training.runs import BatchedRuns, RunGroup
    from nalm.training.update import Update

    recipe = TrainRecipe(iterations=1, optimizer=OptimizerSpec("rmsprop_tf1", 0.01), batch_size=64,
                         penalty_steps=PenaltySteps(after=11_000))
    runs = BatchedRuns(INALU, [RunGroup(TASK, (100,), 1e-5)], recipe, device="cpu", dtype=torch.float32)
    update = Update(runs, compile_backend=None, on_device=False)
    before = [p.detach().clone() for p in runs.params]
    update._penalty_steps(10_999, torch.tensor([0.0]))
    assert all(torch.equal(p, b) for p, b in zip(runs.params, before))
    update._penalty_steps(11_000, torch.tensor([0.0]))
    assert not all(torch.equal(p, b) for p, b in zip(runs.params, before))


# ------------------------------------------------------------------------------ re-initialisation


class _Context:
    def __init__(self, seeds: list[int]) -> None:
        self.seeds = seeds
        self.last_train_mse = torch.zeros(len(seeds))
        self.last_interpolation_mse = torch.zeros(len(seeds))

    def reinitialize(self, runs: torch.Tensor, step: int) -> None:  # pragma: no cover - not used
        raise AssertionError


def test_script_reinitialisation_rule() -> None:
    """Window checks at t ≥ every with t mod every < window, history > min_history, a stalled run
    (flat loss above 1) redrawn from U(−2, 2), a run whose loss falls (or is below 1) kept."""
    hook = INALUScriptReinitialization(every=20, window=5, min_history=10)
    model = INALU.build(0)
    from nalm.training.model import stack_modules

    stacked = stack_modules([INALU.build(s) for s in (0, 1, 2)])
    hook.start(3, 100)
    ctx = _Context([0, 1, 2])
    original = {n: p.detach().clone() for n, p in stacked.named_parameters()}
    redrawn_at = None
    for step in range(30):
        # run 0: stalled at 5; run 1: falling from 100 by halves (not stalled); run 2: flat at 0.5 (< 1)
        ctx.last_train_mse = torch.tensor([5.0, 100.0 * 0.5**step, 0.5])
        hook.after_step(step, stacked, ctx)
        changed = not torch.equal(stacked[0].g[0], original["0.g"][0])
        if changed and redrawn_at is None:
            redrawn_at = step
    assert redrawn_at == 20  # the first step of the first window with more than 10 stored losses
    for name, p in stacked.named_parameters():
        assert torch.equal(p[1], original[name][1]) and torch.equal(p[2], original[name][2])
        assert (p[0].abs() <= 2).all()
    assert int(hook._history._start[0]) == 21  # history cleared
    del model


def test_reinitialisation_draw_depends_on_seed_and_step_only() -> None:
    from nalm.training.model import stack_modules

    def redraw(seeds: list[int], index: int) -> dict[str, torch.Tensor]:
        stacked = stack_modules([INALU.build(s) for s in seeds])
        hook = INALUScriptReinitialization()
        hook._redraw(stacked, _Context(seeds), torch.tensor([i == index for i in range(len(seeds))]), 12_345)
        return {n: p[index].detach().clone() for n, p in stacked.named_parameters()}

    alone, beside = redraw([7], 0), redraw([3, 7, 9], 1)
    assert all(torch.equal(alone[n], beside[n]) for n in alone)


# ------------------------------------------------------------------------------ the recipe


def test_schlor2020_recipe_and_its_json() -> None:
    r = default_recipe("nalu", "mul", setting="schlor2020")
    assert r.iterations == 100_000 and r.optimizer == OptimizerSpec("rmsprop_tf1", 0.01)
    assert r.clip_grad_value == 0.1 and r.selection == "final" and r.update_cycle == SCHLOR2020_CYCLE
    assert r.penalty_steps == PenaltySteps(0.05, 20.0, ("weights", "gate"), after=11_000, below=1.0)
    (hook,) = r.hooks
    assert (hook.every, hook.window, hook.min_history) == (10_000, 1_000, 10_000)
    assert r == default_recipe("inalu", "add", setting="schlor2020")  # one recipe for every model
    data = recipe_json(r)
    assert data["selection"] == "final" and data["update_cycle"][-1] == "gate"
    assert data["penalty_steps"]["after"] == 11_000
    # recipes without the new fields serialise as before (stored configs keep their hashes)
    for old in (default_recipe("nmu", "mul"), default_recipe("inalu", "add"),
                default_recipe("nau", "add", setting="madsen2020")):
        assert not {"selection", "update_cycle", "penalty_steps"} & set(recipe_json(old))


@pytest.mark.parametrize("kwargs,match", [
    ({"update_cycle": ("weights", "gate")}, "adam"),
    ({"optimizer": OptimizerSpec("rmsprop", 0.01), "penalty_steps": PenaltySteps()}, "rmsprop_tf1"),
    ({"optimizer": OptimizerSpec("sgd", 0.01), "update_cycle": ("bias",)}, "update_cycle"),
    ({"selection": "middle"}, "selection"),
])
def test_recipe_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainRecipe(iterations=1, **kwargs)


def test_a_cycle_needs_the_group_in_the_model() -> None:
    recipe = TrainRecipe(iterations=1, optimizer=OptimizerSpec("sgd", 0.1), update_cycle=("weights", "gate"))
    with pytest.raises(ConfigError, match="no 'gate' parameters"):
        train(ModelSpec(("nau",), 2, 1), TASK, [0], recipe, threshold=1e-5)


# ------------------------------------------------------------------------------ whole runs


def test_schlor_runs_are_per_run_exact_and_scored_at_the_end() -> None:
    """Three seeds together equal each trained alone (float64); penalty and re-initialisation scaled
    into 1,200 updates so both happen; every run scored at its last logged point."""
    recipe = replace(schlor2020_recipe(iterations=1_200), eval_every=100)
    together = train(INALU, TASK, [100, 101, 102], recipe, threshold=1e-5, dtype=torch.float64)
    for i, seed in enumerate((100, 101, 102)):
        alone = train(INALU, TASK, [seed], recipe, threshold=1e-5, dtype=torch.float64)
        a, b = alone.runs[0], together.runs[i]
        assert a.curve.extrapolation_mse == pytest.approx(b.curve.extrapolation_mse, rel=1e-9, abs=1e-15)
        assert b.selected_step == 1_200 and b.extrapolation_mse == b.curve.extrapolation_mse[-1]
        assert b.interpolation_mse == b.curve.interpolation_mse[-1]
        final = b.parameters
        assert final is not None and final.selected_step == 1_200
        assert all((final.selected[n] == final.final[n]).all() for n in final.final)
