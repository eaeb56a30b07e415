"""A seeded short training of NAU → NMU on ×: every run the MSE criterion counts as solved has learned
exactly the target formula, and the lines ``nalm train`` prints say so."""

from __future__ import annotations

import pytest

import nalm
from nalm.formula import explain, explain_lines
from nalm.training.recipes import default_recipe

TASK = nalm.SingleModuleTask("mul", interpolation_range=(1, 2), extrapolation_range=(2, 6))
SPEC = nalm.ModelSpec(("nau", "nmu"), 2, 1)


@pytest.fixture(scope="module")
def trained():
    recipe = default_recipe("nmu", "mul", setting="primer2022", input_size=2, iterations=5000)
    return nalm.train(SPEC, TASK, range(8), recipe, threshold=nalm.success_threshold(TASK))


@pytest.mark.slow
def test_solved_runs_learned_the_target_formula(trained) -> None:
    results = explain(trained, TASK)
    solved = [e for run, e in zip(trained.runs, results) if run.solved]
    assert len(solved) >= 2, "the check needs solved runs"
    assert len(solved) < len(results), "and unsolved ones"
    for e in solved:
        assert e.outcome == "exact_target" and e.formula == "x0*x1", e
        assert e.max_snap_distance < 1e-2 and e.extrapolation_max_error < 1e-12
    for run, e in zip(trained.runs, results):
        assert (e.seed, e.run, e.step) == (run.seed, trained.runs.index(run), run.selected_step)


@pytest.mark.slow
def test_explain_lines_name_each_solved_seed(trained) -> None:
    lines = explain_lines(trained, TASK, SPEC)
    solved = [run.seed for run in trained.runs if run.solved]
    assert [line.split(":")[0] for line in lines] == [f"seed {s}" for s in solved]
    assert all("y = x0*x1 — the task's target" in line for line in lines)
    everything = explain_lines(trained, TASK, solved_only=False)
    assert len(everything) == len(trained.runs)
