"""The madsen2020_recurrent suite plans the recurrent protocol, and its stored cells rebuild."""

from __future__ import annotations

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


def test_a_tiny_recurrent_suite_runs_and_its_table_adds_trask_and_the_range_test(tmp_path, capsys) -> None:
    from nalm.bench.sequence_report import format_markdown, main, recurrent_summary
    from tests.support import run_in_process

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
    (row,) = recurrent_summary(db, k=4)
    assert (row.cell, row.runs, row.iterations) == ("b/NMU/mul", 2, 200)
    assert row.baseline_k == 4 and row.baseline_extrapolation > 0
    assert row.trask_extrapolation == pytest.approx(
        100 * row.median_extrapolation_mse / row.baseline_extrapolation, rel=1e-6)
    assert row.median_range_mse > 0 and row.range_threshold > 0
    assert "b/NMU/mul" in format_markdown([row])
    assert main(["--db", str(db), "--k", "4"]) == 0
    assert "| b/NMU/mul | 2 |" in capsys.readouterr().out
    assert main(["--db", str(db), "--suite", "other"]) == 2
