"""The madsen2020_sequential_mnist suite: its profiles plan the scripts' protocol on the generated
fixture (how CI runs it), a stored cell rebuilds its task and network, a tiny suite runs through
`nalm bench` and the per-length success table reads its reference runs, and a missing or corrupt
MNIST is one line and exit code 2."""

from __future__ import annotations

import gzip
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nalm.bench.build import spec_from_config, task_from_config
from nalm.bench.plan import plan_cells
from nalm.bench.schema import load_suite, parse_suite
from nalm.errors import ConfigError
from nalm.report.sequential_mnist import block_tables
from nalm.report.sequential_mnist import main as report_main
from nalm.tasks.mnist import SequentialMnistTask, write_digit_fixture
from nalm.training.model import SequentialMnistSpec
from nalm.training.schedules import Constant, LinearRamp
from tests.bench.helpers import write_suite


@pytest.fixture(autouse=True)
def _fixture_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NALM_MNIST_DIR", "fixture")


@pytest.fixture(scope="module")
def plans():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NALM_MNIST_DIR", "fixture")
        suite = load_suite("madsen2020_sequential_mnist")
        return {p: plan_cells(suite, p) for p in ("full", "quick")}


def test_full_profile_is_the_scripts_protocol(plans) -> None:
    full = plans["full"]
    assert [c.id for c in full] == [
        "prod/NACmul/prod", "prod/NACmul.sigma/prod", "prod/NALU/prod", "prod/NMU_noz/prod", "prod/NMU/prod",
        "prod/NACmul.NMU_noz/prod", "prod/NACmul.NMU/prod", "prod/reference/prod",
        "sum/NAC+/sum", "sum/NAU/sum", "sum/reference_sum/sum",
    ]
    for c in full:
        task = c.task
        assert isinstance(task, SequentialMnistTask) and isinstance(c.spec, SequentialMnistSpec)
        assert task.source == "fixture" and c.configs["reference_runs"][1]["task"]["data"] == "fixture"
        per_epoch = task.steps_per_epoch(64)
        # 1,000 epochs, an evaluation every 5, batch 64 (the DataLoader default), Adam 1e-3
        assert c.recipe.iterations == c.iterations == 1000 * per_epoch
        assert c.recipe.eval_every == 5 * per_epoch and c.recipe.batch_size == 64
        assert c.recipe.optimizer.name == "adam" and c.recipe.optimizer.lr == 1e-3
        assert c.recipe.selection_window == 1000 and len(c.seeds) == 10 and c.seeds[0] == 0
        assert c.policies == ("reference_runs",)
        if c.block == "prod":
            assert (task.op, task.length, task.digits) == ("prod", 2, tuple(range(1, 10)))
            assert task.extrapolation_lengths == tuple(range(1, 21))
        else:
            assert (task.op, task.length, task.digits) == ("sum", 10, tuple(range(10)))
            assert task.extrapolation_lengths == (1, 10, *range(100, 1001, 100))
        regs = c.recipe.regularizers
        if c.spec.units[0] in ("nau", "nmu", "nac_mul_nmu") and not c.spec.solved:
            assert regs["sparsity"] == LinearRamp(10.0, 10_000, 100_000)
        assert (regs.get("z") == Constant(1.0)) == c.spec.z_regularizer
    by_key = {c.model_key: c.spec for c in full}
    assert by_key["reference"].solved and by_key["reference"].units == ("nmu",)
    assert by_key["reference_sum"].solved and by_key["reference_sum"].units == ("nau",)
    assert {k for k, s in by_key.items() if s.z_regularizer} == {"NMU", "NACmul.NMU", "NAU", "NAC+"}
    assert {k for k, s in by_key.items() if s.solved} == {"reference", "reference_sum"}
    assert all(s.options == () for s in by_key.values())  # the cells' own options: none


def test_quick_profile_is_cut_in_epochs_seeds_and_models_only(plans) -> None:
    quick, full = plans["quick"], {c.id: c for c in plans["full"]}
    assert [c.model_key for c in quick] == ["NACmul", "NMU", "reference", "NAC+", "NAU", "reference_sum"]
    for c in quick:
        per_epoch = c.task.steps_per_epoch(64)
        assert len(c.seeds) == 3 and c.recipe.eval_every == 2 * per_epoch
        assert c.iterations == (20 if c.block == "prod" else 40) * per_epoch
        same = full[c.id]
        assert (c.task, c.spec) == (same.task, same.spec)
        assert c.recipe.regularizers == same.recipe.regularizers  # truncated: the protocol's ramp


def test_a_stored_cell_rebuilds_its_task_and_network(plans) -> None:
    for cell in plans["quick"]:
        config = cell.configs["reference_runs"][1]
        task = task_from_config(config)
        assert task == cell.task
        assert spec_from_config(config, task) == cell.spec
        # the network's settings are the config's (resolved), beside the cell's empty options
        assert config["network"] == cell.spec.network() and config["options"] == [{}]
    by_key = {c.model_key: c.configs["reference_runs"][1] for c in plans["quick"]}
    assert by_key["reference"]["network"] == {"accumulator": "solved", "initial_state": 1.0, "z_regularizer": False}
    assert by_key["NMU"]["network"] == {"accumulator": "trained", "initial_state": 1.0, "z_regularizer": True}
    assert by_key["NAU"]["network"]["initial_state"] == 0.0


def test_cells_that_differ_only_in_their_network_have_different_configs() -> None:
    text = _BASE + """
[models.a]
units = ["nmu"]
[models.b]
units = ["nmu"]
network = { initial_state = 2 }
[models.c]
units = ["nmu"]
network = { initial_state = 1.0 }
[[grid]]
name = "b"
task = "sequential_mnist"
models = ["a", "b", "c"]
ops = ["prod"]
"""
    from nalm.store import config_hash

    cells = plan_cells(parse_suite(text, "s.toml"), "quick")
    # each config without the names of its model: what is left is the network, and what it is trained on
    a, b, c = ({k: v for k, v in cell.configs["reference_runs"][1].items() if k not in ("cell", "model", "model_key")}
               for cell in cells)
    assert (a["network"]["initial_state"], b["network"]["initial_state"]) == (1.0, 2.0)
    assert config_hash(a) != config_hash(b)
    assert config_hash(a) == config_hash(c)  # the default h0 written out: the same network, the same config
    assert cells[1].spec == SequentialMnistSpec(("nmu",), 784, 1, initial_state=2.0)


def test_network_settings_in_the_wrong_place_are_one_line_suite_errors() -> None:
    static = """
name = "s"
protocol_iterations = 10
threshold_policy = "fixed_1e-5"
[recipe]
kind = "plain"
lr = 0.001
[profiles.quick]
seeds = 1
[models.NAU]
units = ["nau"]
network = { z_regularizer = true }
[[grid]]
name = "m"
task = "static"
models = ["NAU"]
ops = ["add"]
"""
    cases = [
        (static, ("s.toml: models.NAU.network: a setting of the sequential MNIST network only; "
                  "block 'm' (task 'static') uses this model")),
        (_BASE + _model('network = { accumlator = "solved" }'),
         "s.toml: models.NAU.network.accumlator: unknown key"),
        (_BASE + _model('network = { accumulator = "exact" }'), "s.toml: models.NAU.network.accumulator: "),
        (_BASE + _model('network = { z_regularizer = "yes" }'), "s.toml: models.NAU.network.z_regularizer: "),
        (_BASE + _model('regularizers = { z = { kind = "constant", scale = 1 } }'),
         ("s.toml: models.NAU.regularizers.z: no unit of the model has a regularizer 'z' (theirs: sparsity); "
          "R_z of the sequential MNIST network: network = { z_regularizer = true }")),
    ]
    for text, message in cases:
        with pytest.raises(ConfigError) as info:
            parse_suite(text, "s.toml")
        assert str(info.value).startswith(message) and "\n" not in str(info.value), str(info.value)
    # the old spelling, among the cell's options: not the cell's, and the error says where it goes
    for old in ('options = [{ accumulator = "solved" }]', "options = [{ z_regularizer = true }]"):
        suite = parse_suite(_BASE + _model(old), "s.toml")
        with pytest.raises(ConfigError) as info:
            plan_cells(suite, "quick")
        name = old.split("{ ")[1].split(" =")[0]
        assert str(info.value) == (f"s.toml: models.NAU: cannot build the model: options: {name!r} is a setting "
                                   f"of the network, not an option of the cell 'nau': network = {{ {name} = ... }} "
                                   "beside units")
    # the spec checks what the schema cannot: a solved accumulator is an exact NAU or NMU
    suite = parse_suite((_BASE + _model('network = { accumulator = "solved" }')).replace('"nau"', '"nac"'), "s.toml")
    with pytest.raises(ConfigError, match="models.NAU: cannot build the model: accumulator: 'solved' is an exact"):
        plan_cells(suite, "quick")


_BASE = """
name = "s"
protocol_iterations = 10
threshold_policy = "reference_runs"
[recipe]
kind = "plain"
optimizer = "adam"
lr = 0.001
[profiles.quick]
seeds = 1
"""


def _model(line: str) -> str:
    return f"""
[models.NAU]
units = ["nau"]
{line}
[[grid]]
name = "b"
task = "sequential_mnist"
models = ["NAU"]
ops = ["sum"]
"""


def test_without_mnist_the_suite_stops_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NALM_MNIST_DIR")
    with pytest.raises(ConfigError, match="MNIST: no data") as info:
        plan_cells(load_suite("madsen2020_sequential_mnist"), "quick")
    assert "\n" not in str(info.value)


def test_bad_sequential_mnist_blocks_are_suite_errors() -> None:
    base = _BASE + """
[models.NAU]
units = ["nau"]
[models.two]
units = ["nau", "nau"]
[[grid]]
name = "b"
task = "sequential_mnist"
"""
    for extra, needle in [
        ('models = ["NAU"]\nops = ["add"]', "unknown operation 'add'"),
        ('models = ["two"]\nops = ["sum"]', "has one unit"),
        ('models = ["NAU"]\nops = ["sum"]\nextrapolation_length = 5', "extrapolation_lengths"),
        ('models = ["NAU"]\nops = ["sum"]\ninput_size = 5', "not a setting of task 'sequential_mnist'"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            parse_suite(base + extra, "s.toml")


TINY = """
name = "tinymnist"
protocol_iterations = 1
threshold_policy = "reference_runs"
eval_every = 1
selection_window = 1000

[recipe]
kind = "plain"
optimizer = "adam"
lr = 0.001
batch_size = 64

[profiles.quick]
seeds = 2

[models.NMU]
units = ["nmu"]
network = { z_regularizer = true }
regularizers = { z = { kind = "constant", scale = 1 } }

[models.reference]
units = ["nmu"]
network = { accumulator = "solved" }

[[grid]]
name = "prod"
task = "sequential_mnist"
models = ["NMU", "reference"]
ops = ["prod"]
seq_length = 2
extrapolation_lengths = [1, 3]
"""


def test_a_tiny_suite_runs_and_success_is_read_per_length_from_its_reference(tmp_path: Path, capsys) -> None:
    suite = write_suite(tmp_path, TINY, "tinymnist.toml")
    db = tmp_path / "m.db"
    small = write_digit_fixture(tmp_path / "mnist", 240, 60)  # 99 training sequences: 2 updates an epoch
    proc = _nalm("bench", str(suite), "--db", str(db), data=str(small))
    assert proc.returncode == 0, proc.stderr
    # no trainer verdict under reference_runs: the progress line points at the per-length table
    assert "2 runs, success per length in nalm report" in proc.stdout + proc.stderr
    from nalm.report.sequential_mnist import _cells

    cells = _cells(db, None)
    assert [c.display_name for c in cells] == ["prod/NMU/prod", "prod/reference/prod"]
    for c in cells:
        assert sorted(c.metrics) == [
            "test_mse_len_1", "test_mse_len_3", "trask_baseline_extrapolation", "trask_baseline_interpolation",
            "trask_extrapolation", "trask_interpolation"] and c.seeds == (0, 1)
        # Trask's scale of the run's own scored MSE; the longest test length is the trainer's extrapolation
        for k in range(2):
            baseline = c.metrics["trask_baseline_extrapolation"][k]
            assert baseline > 0 and c.metrics["trask_extrapolation"][k] == pytest.approx(
                100 * c.extrapolation_mses[k] / baseline, rel=1e-12)
    (table,) = block_tables(cells)
    assert table.reference == "prod/reference/prod" and table.reference_runs == 2
    from nalm.report.sequential_mnist import reference_thresholds

    ref = cells[1].metrics
    assert table.thresholds == reference_thresholds({1: ref["test_mse_len_1"], 3: ref["test_mse_len_3"]})
    for length_rows in table.cells.values():
        for row in length_rows:
            assert row.runs == 2 and 0 <= row.solved <= 2
    assert report_main(["--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "| length | threshold | prod/NMU/prod | prod/reference/prod |" in out
    only_one = block_tables(cells, reference_seeds={0})[0]
    assert only_one.reference_runs == 1 and all(math.isnan(v) for v in only_one.thresholds.values())
    # nalm report shows the same per-length table (the scripts' defaults), and no 0 % success
    proc = _nalm("report", "--db", str(db), "--out", str(tmp_path / "rep"), "--no-plots", data=str(small))
    assert proc.returncode == 0, proc.stderr
    assert "Sequential MNIST, block prod" in proc.stdout
    assert "| length | threshold | prod/NMU/prod | prod/reference/prod |" in proc.stdout
    assert "per length, below" in proc.stdout
    assert "Trask's normalised error" in proc.stdout  # the sequence tasks' side table


def _nalm(*args: str, data: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NALM_MNIST_DIR": data}
    return subprocess.run([sys.executable, "-m", "nalm.cli.main", *args], capture_output=True, text=True,
                          timeout=600, env=env, check=False)


def _damaged(folder: Path, damage: str) -> Path:
    data = write_digit_fixture(folder, 120, 60)
    images = data / "t10k-images-idx3-ubyte.gz"
    if damage == "missing":
        images.unlink()
    elif damage == "truncated":
        images.write_bytes(images.read_bytes()[:50])
    else:
        images.write_bytes(gzip.compress(b"\x00\x00\x08\x09" + b"\x00" * 100))
    return data


def test_a_corrupt_mnist_file_is_one_line_and_exit_2_from_nalm_bench(tmp_path: Path) -> None:
    proc = _nalm("bench", "madsen2020_sequential_mnist", "--profile", "quick", "--list",
                 data=str(_damaged(tmp_path, "truncated")))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nalm: error:"), proc.stderr
    assert "t10k-images-idx3-ubyte.gz: the gzip stream ends early" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("damage", "needle"), [
    ("missing", "has train-images-idx3-ubyte.gz"),
    ("bad magic", "bad magic number 0x00000809"),
])
def test_a_missing_or_corrupt_mnist_stops_the_plan_with_one_line(tmp_path: Path, damage: str, needle: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NALM_MNIST_DIR", str(_damaged(tmp_path, damage)))
    with pytest.raises(ConfigError, match=needle) as info:
        plan_cells(load_suite("madsen2020_sequential_mnist"), "quick")
    assert "\n" not in str(info.value)
