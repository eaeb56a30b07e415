"""The runner: deterministic per (config, seed), resume without duplicates, failures isolated,
several threshold policies from one training, and the filter."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from .helpers import TINY_SUITE, stored_rows, write_suite

from nalm.bench.filters import parse_filter
from nalm.bench.plan import plan_cells
from nalm.bench.runner import rescore, run_cells
from nalm.bench.schema import load_suite, parse_suite
from nalm.errors import ConfigError
from nalm.store import ResultsStore, config_hash


def _run(suite_path: Path, db: Path, **plan_kwargs):
    cells = plan_cells(load_suite(str(suite_path)), plan_kwargs.pop("profile", "quick"), **plan_kwargs)
    return run_cells(cells, db, progress=False, echo=lambda _: None)


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    suite = write_suite(folder)
    db = folder / "a.db"
    result = _run(suite, db)
    assert result.count("run") == 8 and result.count("failed") == 0
    return suite, db


def test_results_are_deterministic_per_config_and_seed(tiny_db, tmp_path: Path) -> None:
    """The precondition of resume and of the kill test: the same cell trained again (another
    process state, another database) stores bit-identical results and curves."""
    suite, db = tiny_db
    again = tmp_path / "b.db"
    _run(suite, again)
    first, second = stored_rows(db), stored_rows(again)
    assert len(first) == 8 * 3 * 2  # cells x seeds x policies
    assert first == second


def test_one_cell_alone_equals_the_cell_in_the_suite(tiny_db, tmp_path: Path) -> None:
    suite, db = tiny_db
    alone = tmp_path / "c.db"
    _run(suite, alone, only="m/NALU/sub/0.1_0.2")
    rows = stored_rows(alone)
    assert len(rows) == 3 * 2
    assert rows.items() <= stored_rows(db).items()


def test_rerun_skips_everything_and_adds_nothing(tiny_db, tmp_path: Path) -> None:
    suite, db = tiny_db
    copy = tmp_path / "copy.db"
    with ResultsStore(db, readonly=True):
        pass
    copy.write_bytes(db.read_bytes())
    before = stored_rows(copy)
    result = _run(suite, copy)
    assert result.count("skipped") == 8 and result.count("run") == 0 and result.seed_iterations == 0
    assert stored_rows(copy) == before


def test_compiled_cell_matches_and_shares_the_run_identity(tiny_db, tmp_path: Path) -> None:
    """``compile`` changes how a cell runs, not what it is: stored under the same config hash
    (a rerun skips it) and equal to the eager results up to rounding."""
    suite, db = tiny_db
    cell = "m/NAU/add/0.1_0.2"
    cells = plan_cells(load_suite(str(suite)), "quick", only=cell)
    compiled_db = tmp_path / "compiled.db"
    run_cells(cells, compiled_db, progress=False, echo=lambda _: None, compile="aot_eager")
    eager, compiled = stored_rows(db), stored_rows(compiled_db)
    assert compiled.keys() <= eager.keys() and len(compiled) == 3 * 2
    again = run_cells(cells, db, progress=False, echo=lambda _: None, compile="aot_eager")
    assert again.count("skipped") == 1
    for key, row in compiled.items():
        status, solved, solved_at, _, _, extrapolation_mse = row[:6]
        assert (status, solved, solved_at) == eager[key][:3]
        assert extrapolation_mse == pytest.approx(eager[key][5], rel=1e-3, abs=1e-12)


def test_more_seeds_trains_only_the_new_ones(tiny_db, tmp_path: Path) -> None:
    suite, db = tiny_db
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    before = stored_rows(copy)
    result = _run(suite, copy, seeds=5)
    assert result.count("run") == 8
    assert all(o.seeds_trained == (3, 4) for o in result.outcomes)
    after = stored_rows(copy)
    assert len(after) == 8 * 5 * 2 and before.items() <= after.items()
    assert _run(suite, copy, seeds=4).count("skipped") == 8  # a subset of what is stored


def test_config_identifies_the_run_and_not_the_seed_count(tmp_path: Path) -> None:
    suite = load_suite(str(write_suite(tmp_path)))
    a = plan_cells(suite, "quick")[0]
    b = plan_cells(suite, "quick", seeds=7)[0]
    c = plan_cells(suite, "full")[0]
    cfg = a.configs["fixed_1e-5"][1]
    assert cfg == b.configs["fixed_1e-5"][1]  # seed count is not identity
    assert config_hash(cfg) != config_hash(c.configs["fixed_1e-5"][1])  # profile/iterations are
    for key in ("suite", "profile", "model", "operation", "range", "units", "options", "task",
                "iterations", "recipe", "threshold_policy", "dtype"):
        assert key in cfg, key
    assert cfg["range"]["name"] == "1_2" and cfg["task"]["interpolation_range"] == [[1.0, 2.0]]
    assert cfg["recipe"]["optimizer"] == {"name": "adam", "lr": 0.05, "options": {}}
    # the schedule is scaled from 20,000 -> 35,000 of 50,000 to 400 iterations
    assert cfg["recipe"]["regularizers"]["sparsity"] == {"type": "LinearRamp", "scale": 0.01,
                                                         "start": 160, "end": 280}
    other = a.configs["simulated_eps_1e-4"][1]
    assert {k for k in cfg if cfg[k] != other[k]} == {"threshold_policy"}
    assert a.configs["simulated_eps_1e-4"][0] == "tiny@simulated_eps_1e-4"


def test_truncated_schedules_keep_the_protocol_steps(tmp_path: Path) -> None:
    text = TINY_SUITE.replace("iterations = 400", 'iterations = 400\nschedules = "truncate"')
    cell = plan_cells(parse_suite(text, "t.toml"), "quick")[0]
    assert cell.recipe.iterations == 400
    ramp = cell.recipe.regularizers["sparsity"]
    assert (ramp.start, ramp.end) == (20_000, 35_000)


def test_profile_overrides_set_iterations_seeds_and_schedules_per_cell(tmp_path: Path) -> None:
    text = TINY_SUITE.replace("iterations = 400\n", "iterations = 400\n" + """
[[profiles.quick.overrides]]
only = "model=NAU"
schedules = "truncate"
seeds = 5

[[profiles.quick.overrides]]
only = "model=NAU,op=sub"
iterations = 600
seeds = 2
""", 1)
    suite = parse_suite(text, "t.toml")
    cells = {c.id: c for c in plan_cells(suite, "quick")}
    base = {c.id: c for c in plan_cells(parse_suite(TINY_SUITE, "t.toml"), "quick")}
    for cid, c in cells.items():
        cfg = c.configs["fixed_1e-5"][1]
        ramp = c.recipe.regularizers.get("sparsity")
        if c.model == "NAU":
            # later overrides win key by key: sub gets 600 iterations and 2 seeds, both truncated
            sub = c.op == "sub"
            assert (c.iterations, len(c.seeds)) == ((600, 2) if sub else (400, 5)), cid
            assert c.recipe.iterations == c.iterations
            assert (ramp.start, ramp.end) == (20_000, 35_000) and cfg["schedules"] == "truncate"
        else:
            # untouched cells keep the profile's settings and their run identity
            assert (c.iterations, len(c.seeds), cfg["schedules"]) == (400, 3, "scale")
            assert config_hash(cfg) == config_hash(base[cid].configs["fixed_1e-5"][1])
    # --seeds still overrides everything; the other profile is untouched
    assert {len(c.seeds) for c in plan_cells(suite, "quick", seeds=4)} == {4}
    assert {c.iterations for c in plan_cells(suite, "full")} == {600}
    assert {c.configs["fixed_1e-5"][1]["schedules"] for c in plan_cells(suite, "full")} == {"scale"}


def test_profile_override_takes_precedence_over_block_iterations(tmp_path: Path) -> None:
    text = TINY_SUITE.replace('ranges = ["1_2", "0.1_0.2"]\n', 'ranges = ["1_2", "0.1_0.2"]\n'
                              'iterations = { quick = 500 }\nseeds = { quick = 4 }\n', 1)
    text += '\n[[profiles.quick.overrides]]\nonly = "range=1_2"\niterations = 700\n'
    cells = plan_cells(parse_suite(text, "t.toml"), "quick")
    assert {(c.range, c.iterations, len(c.seeds)) for c in cells} == {("1_2", 700, 4), ("0.1_0.2", 500, 4)}


def test_profile_override_matching_no_cell_of_the_profile_is_an_error() -> None:
    text = TINY_SUITE.replace("iterations = 400\n", 'iterations = 400\nonly = ["model=NAU"]\n', 1)
    text += '\n[[profiles.quick.overrides]]\nonly = "model=NALU"\nseeds = 2\n'
    suite = parse_suite(text, "t.toml")
    with pytest.raises(ConfigError, match=r"t.toml: profiles.quick.overrides\[0\].only: matches no cell"):
        plan_cells(suite, "quick")
    # the check is on the profile's cells, before --only narrows them: running other cells is fine
    text = text.replace('only = "model=NALU"', 'only = "model=NAU,op=add"')
    cells = plan_cells(parse_suite(text, "t.toml"), "quick", only="op=sub")
    assert [(c.model, c.op, len(c.seeds)) for c in cells] == [("NAU", "sub", 3)] * 2


def test_secondary_policy_is_the_same_runs_rescored(tiny_db) -> None:
    _, db = tiny_db
    with ResultsStore(db, readonly=True) as store:
        assert store.suites() == ["tiny", "tiny@simulated_eps_1e-4"]
        primary = {(r.cell, r.result.seed): r.result for r in store.runs("tiny")}
        secondary = {(r.cell, r.result.seed): r.result for r in store.runs("tiny@simulated_eps_1e-4")}
        assert primary.keys() == secondary.keys()
        assert any(p.solved for p in primary.values()) and not all(p.solved for p in primary.values())
        for key, p in primary.items():
            s = secondary[key]
            assert (p.selected_step, p.interpolation_mse, p.extrapolation_mse) == (
                s.selected_step, s.interpolation_mse, s.extrapolation_mse)
            assert p.threshold == 1e-5 and s.threshold != p.threshold
            assert s.solved == (s.extrapolation_mse < s.threshold)
            # rescoring a stored run with its own threshold gives the trainer's scores back
            run_id = next(r.id for r in store.runs("tiny", cell=key[0]) if r.result.seed == key[1])
            full = p.__class__(**{**p.__dict__, "curve": store.curve(run_id)})
            again = rescore(full, p.threshold)
            assert (again.solved, again.solved_at, again.selected_step) == (p.solved, p.solved_at, p.selected_step)


def test_rescore_of_a_diverged_run_uses_only_its_logged_points() -> None:
    from nalm.results import LearningCurve, RunResult

    nan = math.nan
    curve = LearningCurve(step=[0, 100, 200, 300], interpolation_mse=[1.0, 0.5, nan, nan],
                          extrapolation_mse=[2.0, 1e-6, nan, nan], sparsity_error=[0.4, 0.1, nan, nan])
    run = RunResult(seed=0, status="diverged", solved=False, solved_at=None, selected_step=0,
                    interpolation_mse=nan, extrapolation_mse=nan, sparsity_error=nan, threshold=0.0,
                    iterations=150, diverged_at=150, curve=curve)
    scored = rescore(run, 1e-5)
    assert scored.selected_step == 100 and scored.solved and scored.solved_at == 100
    assert scored.status == "diverged" and scored.iterations == 150


def test_a_failing_cell_is_recorded_and_the_suite_goes_on(tmp_path: Path, monkeypatch) -> None:
    import nalm.training as training

    real = training.train_groups

    def flaky(spec, groups, recipe, **kwargs):
        for g in groups:
            task = g.task
            if task.op == "sub" and spec.units == ("nalu",) and task.interpolation_range == ((1.0, 2.0),):
                raise RuntimeError("simulated out-of-memory")
        return real(spec, groups, recipe, **kwargs)

    monkeypatch.setattr(training, "train_groups", flaky)
    suite = write_suite(tmp_path)
    db = tmp_path / "f.db"
    result = _run(suite, db)
    assert result.count("failed") == 1 and result.count("run") == 7
    failed = next(o for o in result.outcomes if o.status == "failed")
    assert failed.cell.id == "m/NALU/sub/1_2" and "simulated out-of-memory" in failed.error
    with ResultsStore(db, readonly=True) as store:
        runs = store.runs("tiny", cell="m/NALU/sub/1_2")
        assert [r.result.status for r in runs] == ["failed"] * 3
        assert {r.result.status for r in store.runs("tiny")} - {"failed"} <= {"ok", "diverged"}
        assert len(store.runs("tiny")) == 8 * 3
    # a failed run counts as finished: the rerun does not retry it
    monkeypatch.setattr(training, "train_groups", real)
    assert _run(suite, db).count("skipped") == 8


def test_filter_terms() -> None:
    suite = parse_suite(TINY_SUITE, "t.toml")
    ids = lambda only: [c.id for c in plan_cells(suite, "quick", only=only)]  # noqa: E731
    assert ids("model=NAU,op=sub") == ["m/NAU/sub/1_2", "m/NAU/sub/0.1_0.2"]
    assert ids("m/NALU/*/1_2") == ["m/NALU/add/1_2", "m/NALU/sub/1_2"]
    assert ids("range=0.1_0.2,model=NAL?") == ["m/NALU/add/0.1_0.2", "m/NALU/sub/0.1_0.2"]
    assert len(ids("op=add|sub,block=m")) == 8
    with pytest.raises(ConfigError, match="unknown key 'ops'"):
        parse_filter("ops=add")


def test_filter_matches_labels_too() -> None:
    suite = load_suite("madsen2020")
    cells = plan_cells(suite, "full", only="model=NAC[*](NMU),op=mul")
    assert [c.id for c in cells] == ["main/NACmul-NMU/mul"]


def test_cli_prints_the_summary_and_the_report_commands(tmp_path: Path, capsys) -> None:
    from .helpers import run_main

    suite = write_suite(tmp_path)
    db = tmp_path / "r.db"
    code, out, _ = run_main(capsys, "bench", str(suite), "--db", str(db), "--no-progress",
                            "--only", "m/NAU/add/1_2")
    assert code == 0
    assert "m/NAU/add/1_2: solved 3/3 fixed_1e-5, 3/3 simulated_eps_1e-4" in out
    assert "suite tiny, profile quick: 1 cells run, 0 skipped (already stored), 0 failed" in out
    assert "seed-iterations/s" in out
    assert f"report: nalm report --db {db} --suite tiny\n" in out
    assert f"report: nalm report --db {db} --suite tiny@simulated_eps_1e-4\n" in out
    code, out, _ = run_main(capsys, "bench", str(suite), "--db", str(db), "--no-progress")
    assert code == 0 and "7 cells run, 1 skipped" in out


def test_list_writes_nothing(tmp_path: Path, capsys) -> None:
    from .helpers import run_main

    suite = write_suite(tmp_path)
    db = tmp_path / "r.db"
    code, out, _ = run_main(capsys, "bench", str(suite), "--db", str(db), "--list", "--seeds", "5")
    assert code == 0 and not db.exists()
    assert out.splitlines()[0].startswith("m/NAU/add/1_2  seeds=5  iterations=400  model=nau(2→1)")
    # NAU's four cells (20 runs) share a batch, NALU's another
    assert out.splitlines()[-1] == "8 cells, 16,000 seed-iterations, in 2 batches (suite tiny, profile quick)"
    code, out, _ = run_main(capsys, "bench", str(suite), "--list", "--only", "model=NAU,op=add")
    assert out.splitlines()[-1] == ("2 cells, 2,400 seed-iterations, in 1 batch (with 2 more cells trained "
                                    "beside them) (suite tiny, profile quick)")


def test_a_failing_run_metric_costs_a_warning_not_the_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    """Like the formula read-out, a measurement after training must never lose a cell's training."""
    import nalm.bench.runner as runner

    def broken(*args, **kwargs):
        raise RuntimeError("metric exploded")

    monkeypatch.setattr(runner, "run_metrics", broken)
    suite = write_suite(tmp_path)
    db = tmp_path / "m.db"
    cells = plan_cells(load_suite(str(suite)), "quick", only="m/NALU/sub/0.1_0.2")
    result = run_cells(cells, db, progress=False, echo=lambda _: None)
    assert result.count("run") == 1 and result.count("failed") == 0
    assert "run metrics failed (RuntimeError: metric exploded)" in capsys.readouterr().err
    with ResultsStore(db, readonly=True) as store:
        runs = store.runs()
    assert len(runs) == 3 * 2 and all(r.result.status == "ok" and r.result.metrics == {} for r in runs)
