"""The schlor2020 suite (iNALU experiment 1): final-point scoring on hand-made curves, NaN runs dropped
in the report, interpolation success beside its published rate, the suite's plans for both profiles,
its schema checks, and a tiny end-to-end run through bench and report."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nalm.bench.plan import plan_cells
from nalm.bench.runner import run_cells
from nalm.bench.schema import load_suite, parse_suite
from nalm.errors import ConfigError
from nalm.metrics.scoring import score_curves, select_index
from nalm.published import published_entry
from nalm.report.render import render_markdown
from nalm.report.summary import summarize
from nalm.results import LearningCurve, RunResult
from nalm.store import ResultsStore

# ------------------------------------------------------------------------------ scoring


def test_final_selection_on_hand_made_curves() -> None:
    steps = [0, 1000, 2000, 3000]
    interp = [[1.0, 1e-7, 1e-3, 1e-2],   # best at 1000, final 1e-2
              [1.0, 1e-2, 1e-3, 1e-8],   # best and final at 3000
              [1.0, 1e-9, np.nan, np.nan]]  # logged 2 points (diverged after step 1000)
    extrap = [[9.0, 1e-8, 1e-1, 2e-5],
              [9.0, 1e-1, 1e-2, 1e-6],
              [9.0, 1e-9, np.nan, np.nan]]
    lengths = [4, 4, 2]
    assert select_index(interp, lengths=lengths).tolist() == [1, 3, 1]
    assert select_index(interp, lengths=lengths, selection="final").tolist() == [3, 3, 1]
    best = score_curves(steps, interp, extrap, 1e-5, lengths=lengths)
    final = score_curves(steps, interp, extrap, 1e-5, lengths=lengths, selection="final")
    assert best.solved.tolist() == [True, True, True]
    assert final.solved.tolist() == [False, True, True]  # run 0 lost its solution by the end
    assert final.selected_step.tolist() == [3000, 3000, 1000]
    assert final.extrapolation_mse.tolist() == [2e-5, 1e-6, 1e-9]
    assert final.interpolation_mse.tolist() == [1e-2, 1e-8, 1e-9]
    assert final.solved_at.tolist() == [1000, 3000, 1000]  # first point under the threshold, as before
    with pytest.raises(ValueError, match="selection"):
        select_index(interp, selection="last")


# ------------------------------------------------------------------------------ report


def _run(seed: int, interp: float, extrap: float, status: str = "ok") -> RunResult:
    return RunResult(
        seed=seed, status=status, solved=extrap < 1e-5,  # type: ignore[arg-type]
        solved_at=3000 if extrap < 1e-5 else None,
        selected_step=3000, interpolation_mse=interp, extrapolation_mse=extrap, sparsity_error=0.0,
        threshold=1e-5, iterations=3000, diverged_at=2500 if status == "diverged" else None,
        curve=LearningCurve([0, 3000], [1.0, interp], [1.0, extrap], [0.0, 0.0]),
    )


PUB = {"source": "schlor2020", "task": "inalu-exp1 train=TN(-3..3) extrap=TN(8..10)", "operation": "mul",
       "model": "iNALU (sw)"}  # published: 0.2 on both sets, 10 seeds


def test_report_drops_nan_runs_and_shows_interpolation_success(tmp_path: Path) -> None:
    runs = [
        _run(100, 1e-9, 1e-9), _run(101, 1e-9, 1e-9),          # solved on both sets
        _run(102, 1e-9, 3e-5),                                  # interpolation only
        _run(103, math.nan, math.nan, "diverged"),              # dropped from both
        _run(104, 1e-9, math.nan),                              # NaN on extrapolation: dropped there
        *[_run(s, 0.5, 40.0) for s in range(105, 110)],         # failed
    ]
    final = {"model": "iNALU (sw)", "operation": "mul", "recipe": {"selection": "final"}, "published": PUB,
             "iterations": 15_000, "protocol_iterations": 100_000}
    best = {**final, "recipe": {}}
    with ResultsStore(tmp_path / "r.db") as store:
        store.write_cell("schlor2020", "final", final, runs, threshold_policy="fixed_1e-5", wall_time_s=1.0,
                         seed_iterations_per_second=1.0)
        store.write_cell("other", "best", best, runs, threshold_policy="fixed_1e-5", wall_time_s=1.0,
                         seed_iterations_per_second=1.0)
    with ResultsStore(tmp_path / "r.db", readonly=True) as store:
        cells = {c.cell: c for c in summarize(store.runs())}
    f, b = cells["final"], cells["best"]
    assert (f.n_seeds, f.n_dropped, f.successes) == (10, 2, 2)
    assert f.success_rate == pytest.approx(2 / 8)
    assert (f.interpolation_successes, f.interpolation_runs) == (4, 9)  # 100, 101, 102, 104
    assert f.published_interpolation_rate == 0.2 and f.published_rate == 0.2
    iv = f.published_interpolation_interval
    assert iv is not None and iv.method == "Wilson interval of 2/10"
    # a cell scored at its selected step counts every run, and has no interpolation rate
    assert (b.n_dropped, b.interpolation_successes, b.success_rate) == (0, None, pytest.approx(0.2))
    text = render_markdown([f])
    assert "interp. success [95% CI]" in text and "44% [19, 73]" in text  # 4/9
    assert "10 (9/1/0), 2 dropped (NaN)" in text and "25% [7, 59]" in text  # 2/8
    assert "| ✓ |" in text
    assert "interp. success" not in render_markdown([b])


def test_a_warning_names_the_cut(tmp_path: Path) -> None:
    runs = [_run(s, 0.5, 40.0) for s in range(100, 110)]
    pub = {**PUB, "model": "iNALU (iw)", "operation": "add"}  # published 100 %
    config = {"recipe": {"selection": "final"}, "published": pub, "iterations": 15_000,
              "protocol_iterations": 100_000}
    with ResultsStore(tmp_path / "r.db") as store:
        store.write_cell("schlor2020", "c", config, runs, threshold_policy="fixed_1e-5", wall_time_s=1.0,
                         seed_iterations_per_second=1.0)
    with ResultsStore(tmp_path / "r.db", readonly=True) as store:
        text = render_markdown(summarize(store.runs()))
    assert "⚠ both outside (cut: 15,000 of 100,000 iterations)" in text


# ------------------------------------------------------------------------------ the suite


@pytest.fixture(scope="module")
def suite():
    return load_suite("schlor2020")


def test_full_profile_is_the_repositorys_protocol(suite) -> None:
    cells = plan_cells(suite, "full")
    assert len(cells) == 112
    models = {c.model for c in cells}
    assert models == {"NALU (m)", "NALU (v)", "iNALU (sw)", "iNALU (iw)"}
    for c in cells:
        assert c.seeds == tuple(range(100, 110)) and c.iterations == 100_000
        r = c.recipe
        assert (r.batch_size, r.eval_every, r.selection, r.clip_grad_value) == (64, 1000, "final", 0.1)
        assert r.penalty_steps is not None and r.penalty_steps.after == 11_000
        (config,) = [cfg for _, cfg in c.configs.values()]
        assert config["threshold_policy"] == "fixed_1e-5" and config["recipe"]["selection"] == "final"
        ref = config["published"]  # every cell has published numbers on both sets
        entry = published_entry(ref["source"], ref["task"], ref["operation"], ref["model"])
        assert {"success_rate", "interpolation_success_rate"} <= set(entry.metrics)
        assert entry.n_seeds == 10
        assert ref["task"] == "inalu-exp1 " + c.task.label()
    iw = next(c for c in cells if c.id == "exp1/iNALU-iw/mul/exp_0.2")
    assert iw.spec.options == ({"init": "original"},)
    assert iw.task.interpolation == ("exponential", 0.2) and iw.task.extrapolation == ("exponential", 0.5)
    sw = next(c for c in cells if c.id == "exp1/iNALU-sw/div/u_neg5_5")
    assert sw.spec.options == ({"init": "original", "shared_weights": True},)
    assert sw.task.interpolation == ("uniform", -5.0, 5.0)


def test_quick_profile_is_the_first_15000_updates(suite) -> None:
    cells = plan_cells(suite, "quick")
    assert len(cells) == 12 and {c.range for c in cells} == {"tn_neg3_3"}
    assert "NALU (v)" not in {c.model for c in cells}
    full = {c.id: c for c in plan_cells(suite, "full")}
    for c in cells:
        assert c.iterations == 15_000 and c.seeds == tuple(range(100, 110))
        # truncated: the protocol's schedules, stopped early
        assert c.recipe.penalty_steps == full[c.id].recipe.penalty_steps
        assert c.recipe.hooks == full[c.id].recipe.hooks
    assert sum(c.work for c in cells) == 12 * 10 * 15_000


BASE = """
name = "s"
protocol_iterations = 1000
threshold_policy = "fixed_1e-5"
[recipe]
kind = "default"
setting = "schlor2020"
batch_size = 64
[profiles.quick]
seeds = 2
[models.M]
units = ["inalu"]
[ranges.tn]
distribution = "truncated_normal"
interpolation = [-3, 3]
extrapolation = [8, 10]
[ranges.plain]
interpolation = [1, 2]
extrapolation = [2, 6]
"""


@pytest.mark.parametrize("extra,match", [
    ('[[grid]]\nname = "g"\ntask = "primer"\nmodels = ["M"]\nops = ["add"]\nranges = ["tn"]\n',
     "has a distribution"),
    ('[[grid]]\nname = "g"\ntask = "inalu_arith"\nmodels = ["M"]\nops = ["add"]\nranges = ["1_2"]\n',
     "needs a suite range"),
    ('[[grid]]\nname = "g"\ntask = "inalu_arith"\nmodels = ["M"]\nops = ["add"]\n', "at least one range"),
    ('[[grid]]\nname = "g"\ntask = "inalu_arith"\nmodels = ["M"]\nops = ["root"]\nranges = ["tn"]\n',
     "unknown operation"),
    (('[[grid]]\nname = "g"\ntask = "inalu_arith"\nmodels = ["M"]\nops = ["add"]\nranges = ["tn"]\n'
      'input_size = 3\n'), "not a setting"),
    (('[ranges.e]\ndistribution = "exponential"\ninterpolation = [0.2, 1]\nextrapolation = [0.5]\n'
      '[[grid]]\nname = "g"\ntask = "inalu_arith"\nmodels = ["M"]\nops = ["add"]\nranges = ["e"]\n'),
     r"ranges\.e\.interpolation"),
])
def test_schema_checks(extra: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_suite(BASE + extra, "s.toml")


def test_also_score_is_refused_with_final_selection() -> None:
    grid = '[[grid]]\nname = "g"\ntask = "inalu_arith"\nmodels = ["M"]\nops = ["add"]\nranges = ["tn"]\n'
    text = BASE.replace('threshold_policy = "fixed_1e-5"',
                        'threshold_policy = "fixed_1e-5"\nalso_score = ["simulated_eps_1e-4"]')
    with pytest.raises(ConfigError, match="also_score"):
        parse_suite(text + grid, "s.toml")


def test_a_tiny_inalu_suite_end_to_end(tmp_path: Path) -> None:
    """Plan, train, store and report: seeds from first_seed, runs scored at their last point, the
    published columns filled."""
    text = BASE.replace('name = "s"', 'name = "s"\nfirst_seed = 100\neval_every = 100') + """
[[grid]]
name = "g"
task = "inalu_arith"
models = ["M"]
ops = ["add"]
ranges = ["tn"]
published = { source = "schlor2020", task = "inalu-exp1 train=TN(-3..3) extrap=TN(8..10)" }
"""
    text = text.replace('units = ["inalu"]',
                        'units = ["inalu"]\nlabel = "iNALU (iw)"\noptions = [{ init = "original" }]')
    text = text.replace("[profiles.quick]\nseeds = 2", "[profiles.quick]\nseeds = 2\niterations = 300")
    cells = plan_cells(parse_suite(text, "s.toml"), "quick")
    assert [c.seeds for c in cells] == [(100, 101)]
    result = run_cells(cells, tmp_path / "s.db", progress=False, echo=lambda s: None)
    assert result.count("run") == 1
    with ResultsStore(tmp_path / "s.db", readonly=True) as store:
        runs = store.runs()
        (cell,) = summarize(runs)
    assert sorted(r.result.seed for r in runs) == [100, 101]
    assert all(r.result.selected_step == 300 for r in runs)
    assert cell.published_rate == 1.0 and cell.interpolation_runs == 2
