"""The madsen2020_recurrent suite plans the recurrent protocol, and its stored cells rebuild."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nalm.bench.build import spec_from_config, task_from_config
from nalm.bench.plan import plan_cells
from nalm.bench.schema import load_suite, parse_suite
from nalm.errors import ConfigError
from nalm.tasks.recurrent import RecurrentArithmeticTask
from nalm.units.recurrent import RecurrentNetwork


@pytest.fixture(scope="module")
def full():
    return plan_cells(load_suite("madsen2020_recurrent"), "full")


def test_full_profile_is_the_scripts_protocol(full) -> None:
    assert [c.id for c in full] == [
        "addsub/NAU/add", "addsub/NAU/sub", "addsub/NAC+/add", "addsub/NAC+/sub", "addsub/NALU/add",
        "addsub/NALU/sub", "mul/NMU/mul", "mul/NACmul/mul", "mul/NALU/mul",
    ]
    for c in full:
        assert isinstance(c.task, RecurrentArithmeticTask)
        assert (c.task.input_size, c.task.seq_length, c.task.extrapolation_length) == (10, 10, 100)
        assert c.spec.recurrent and c.spec.hidden == 2
        assert len(c.seeds) == 100 and c.iterations == 2_000_000
        assert c.recipe.optimizer.name == "adam" and c.recipe.optimizer.lr == 1e-3
        assert c.recipe.batch_size == 128 and c.recipe.eval_every == 1000
        assert c.recipe.selection_window == 2000  # function_task_recurrent.r: best.range = 2000
        assert c.configs["madsen_r"][1]["recipe"]["selection_window"] == 2000
        assert c.policies == ("madsen_r", "generator")
        if c.model_key in ("NAU", "NMU"):
            ramp = c.recipe.regularizers["sparsity"]
            assert (ramp.scale, ramp.start, ramp.end) == (10.0, 1_000_000, 2_000_000)
        else:
            assert not c.recipe.regularizers
    units = {c.model_key: c.spec.units for c in full}
    assert units == {"NAU": ("nau", "nau"), "NAC+": ("nac", "nac"), "NALU": ("nalu", "nalu"),
                     "NMU": ("nau", "nmu"), "NACmul": ("nac", "nac_mul")}


def test_quick_profile_cuts_iterations_and_seeds_only() -> None:
    quick = plan_cells(load_suite("madsen2020_recurrent"), "quick")
    assert quick and all(len(c.seeds) == 10 and c.iterations < 2_000_000 for c in quick)
    for c in quick:
        if "sparsity" in c.recipe.regularizers:  # truncated: the protocol's ramp, not a shrunk one
            assert c.recipe.regularizers["sparsity"].start == 1_000_000


def test_a_stored_cell_rebuilds_its_task_and_recurrent_model(full) -> None:
    cell = next(c for c in full if c.id == "mul/NMU/mul")
    config = cell.configs["madsen_r"][1]
    task = task_from_config(config)
    assert task == cell.task
    spec = spec_from_config(config, task)
    assert (spec.units, spec.hidden, spec.recurrent) == (cell.spec.units, 2, True)
    assert isinstance(spec.build(0), RecurrentNetwork)


def test_sequence_settings_belong_to_the_recurrent_task() -> None:
    base = """
name = "s"
protocol_iterations = 10
threshold_policy = "madsen_r"
[recipe]
kind = "plain"
lr = 0.001
[profiles.quick]
seeds = 2
[models.NAU]
units = ["nau", "nau"]
[[grid]]
name = "b"
models = ["NAU"]
ops = ["add"]
"""
    suite = parse_suite(base + 'task = "recurrent"\nseq_length = 3\nextrapolation_length = 7\n')
    (cell,) = plan_cells(suite, "quick")
    assert (cell.task.seq_length, cell.task.extrapolation_length) == (3, 7)
    with pytest.raises(ConfigError, match=r"grid\[0\]\.seq_length: not a setting of task 'static'"):
        parse_suite(base + 'task = "static"\nseq_length = 3\n')


def test_a_tiny_recurrent_suite_stores_trask_and_the_range_test_and_the_report_shows_them(
    tmp_path, capsys
) -> None:
    import math

    from nalm.metrics import threshold_estimate
    from nalm.report.recurrent import recurrent_rows
    from nalm.training import stack_modules
    from nalm.training.evaluation import split_mse, trask_errors
    from tests.support import run_in_process, stored_models

    suite = tmp_path / "tiny.toml"
    suite.write_text("""
name = "tiny_recurrent"
protocol_iterations = 200
threshold_policy = "madsen_r"
eval_every = 100
[recipe]
kind = "plain"
lr = 0.01
batch_size = 16
[profiles.quick]
seeds = 2
[models.NMU]
units = ["nau", "nmu"]
[[grid]]
name = "b"
task = "recurrent"
models = ["NMU"]
ops = ["mul"]
seq_length = 3
extrapolation_length = 6
""")
    db = tmp_path / "r.db"
    code, out, err = run_in_process(capsys, "bench", str(suite), "--profile", "quick", "--db", str(db))
    assert code == 0, err
    runs, cell, task, spec, models = stored_models(db)
    # recomputed here from the stored runs and parameters, independently of the runner's pass
    trask = trask_errors(spec, task, [r.result.extrapolation_mse for r in runs], split="extrapolation")
    range_mse = split_mse(stack_modules(models), task, "range_extrapolation", [r.result.seed for r in runs])
    own = threshold_estimate(replace(task, interpolation_range=task.extrapolation_range,
                                     extrapolation_length=task.seq_length), "madsen_r").value
    for r, normalised, mse in zip(runs, trask.normalised, range_mse):
        m = r.result.metrics
        assert set(m) == {"trask_interpolation", "trask_extrapolation", "trask_baseline_interpolation",
                          "trask_baseline_extrapolation", "range_mse", "range_threshold"}
        assert m["trask_extrapolation"] == pytest.approx(normalised, rel=1e-12)
        assert m["trask_baseline_extrapolation"] == pytest.approx(trask.baseline.value, rel=1e-12)
        assert m["trask_extrapolation"] == pytest.approx(
            100 * r.result.extrapolation_mse / m["trask_baseline_extrapolation"], rel=1e-12)
        assert m["range_mse"] == mse and m["range_threshold"] == own
    (row,) = recurrent_rows([cell])
    assert (row.cell, row.runs, row.range_measured) == ("b/NMU/mul", 2, 2)
    assert row.range_solved == sum(v < runs[0].result.threshold for v in range_mse)
    assert row.range_solved_own == sum(v < own for v in range_mse)
    assert math.isfinite(row.trask_extrapolation)
    code, out, err = run_in_process(capsys, "report", "--db", str(db), "--out", str(tmp_path / "rep"),
                                    "--no-plots")
    assert code == 0, err
    assert "Trask's normalised error" in out and "| b/NMU/mul | 2 |" in out
