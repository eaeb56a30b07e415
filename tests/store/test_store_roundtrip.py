"""Round trips, identity of runs, resume and validation of the SQLite results store."""

from __future__ import annotations

import json
import math
import sqlite3
import struct
from pathlib import Path

import pytest

from nalm.results import LearningCurve, RunResult
from nalm.store import SCHEMA_VERSION, ResultsStore, StoreError, canonical_config_json, config_hash

CONFIG = {"model": "NMU", "operation": "mul", "iterations": 5000, "lr": 1e-3, "range": {"name": "U[1,2]"}}
POLICY = "published"


def write(store: ResultsStore, runs: list[RunResult], *, suite: str = "s", cell: str = "NMU/mul",
          config: dict | None = None) -> int:
    return store.write_cell(suite, cell, config or CONFIG, runs, wall_time_s=2.5,
                            seed_iterations_per_second=1234.5, threshold_policy=POLICY)


def bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def test_every_field_round_trips(tmp_path: Path, make_run) -> None:
    runs = [make_run(0), make_run(1, solved=False), make_run(2, solved=False, status="diverged")]
    with ResultsStore(tmp_path / "r.db") as store:
        assert write(store, runs) == 3
        stored = store.runs()
        assert [s.result.seed for s in stored] == [0, 1, 2]
        for original, s in zip(runs, stored):
            got = s.result
            for field in ("seed", "status", "solved", "solved_at", "selected_step", "threshold",
                          "iterations", "diverged_at"):
                assert getattr(got, field) == getattr(original, field), field
            for field in ("interpolation_mse", "extrapolation_mse", "sparsity_error"):
                a, b = getattr(original, field), getattr(got, field)
                assert (math.isnan(a) and math.isnan(b)) or a == b, field
            assert (s.suite, s.cell, s.threshold_policy) == ("s", "NMU/mul", POLICY)
            assert (s.wall_time_s, s.seed_iterations_per_second) == (2.5, 1234.5)
            assert s.config == CONFIG and s.config_hash == config_hash(CONFIG)
            assert s.library_version and s.created_at
            curve = store.curve(s.id)
            assert curve.step == original.curve.step
            assert all(isinstance(x, int) for x in curve.step)
            for column in ("interpolation_mse", "extrapolation_mse", "sparsity_error"):
                # bit-exact, NaN and ±inf included
                assert bits(getattr(curve, column)) == bits(getattr(original.curve, column))


def test_non_finite_metrics_are_null_plus_status_in_sql(tmp_path: Path, make_run) -> None:
    diverged = make_run(7, solved=False, status="diverged")
    diverged.interpolation_mse = -math.inf
    with ResultsStore(tmp_path / "r.db") as store:
        write(store, [diverged])
        assert store.runs()[0].result.interpolation_mse == -math.inf
    raw = sqlite3.connect(tmp_path / "r.db")
    row = raw.execute("SELECT status, extrapolation_mse, sparsity_error, interpolation_mse FROM runs").fetchone()
    assert row == ("diverged", None, math.inf, -math.inf)  # NaN -> NULL; SQLite keeps ±inf


def test_numpy_scalars_from_a_trainer_are_accepted(tmp_path: Path, make_run) -> None:
    import numpy as np

    run = make_run(3)
    run.seed, run.solved, run.solved_at = np.int64(3), np.bool_(True), np.int64(2000)
    run.selected_step, run.iterations = np.int64(5000), np.int64(5000)
    run.extrapolation_mse, run.threshold = np.float32(1e-7), np.float64(1e-5)
    run.curve.extrapolation_mse = list(np.asarray(run.curve.extrapolation_mse, dtype=np.float32))
    with ResultsStore(tmp_path / "r.db") as store:
        assert write(store, [run]) == 1
        got = store.runs()[0].result
        assert (got.seed, got.solved, got.solved_at, got.iterations) == (3, True, 2000, 5000)
        assert got.extrapolation_mse == float(np.float32(1e-7)) and type(got.seed) is int
        assert store.curve(store.runs()[0].id).extrapolation_mse == [float(x) for x in run.curve.extrapolation_mse]


def test_config_identity_ignores_key_order_and_is_stored_canonically(tmp_path: Path, make_run) -> None:
    reordered = dict(reversed(list(CONFIG.items())))
    assert config_hash(reordered) == config_hash(CONFIG)
    assert config_hash({**CONFIG, "lr": 2e-3}) != config_hash(CONFIG)
    text = canonical_config_json(reordered)
    assert json.loads(text) == CONFIG and text == json.dumps(CONFIG, sort_keys=True, separators=(",", ":"))
    with ResultsStore(tmp_path / "r.db") as store:
        write(store, [make_run(0)], config=reordered)
        assert store.finished_seeds(CONFIG) == {0}
    raw = sqlite3.connect(tmp_path / "r.db")
    assert raw.execute("SELECT config_json FROM runs").fetchone()[0] == text


def test_rewriting_stored_runs_is_a_no_op(tmp_path: Path, make_run) -> None:
    with ResultsStore(tmp_path / "r.db") as store:
        assert write(store, [make_run(0), make_run(1)]) == 2
        changed = make_run(0)
        changed.extrapolation_mse = 123.0
        assert write(store, [changed, make_run(1)]) == 0
        assert store.count_runs() == 2
        assert store.runs()[0].result.extrapolation_mse == make_run(0).extrapolation_mse  # first copy kept
        assert len(store.cells()) == 1


def test_resume_writes_only_missing_seeds(tmp_path: Path, make_run) -> None:
    db = tmp_path / "r.db"
    with ResultsStore(db) as store:
        write(store, [make_run(s) for s in range(5)])
    with ResultsStore(db) as store:  # a later process
        done = store.finished_seeds(CONFIG)
        assert done == set(range(5))
        assert store.finished_seeds({**CONFIG, "iterations": 1}) == set()
        assert write(store, [make_run(s) for s in range(10)]) == 5
        assert sorted(r.result.seed for r in store.runs()) == list(range(10))
        assert sqlite3.connect(db).execute(
            "SELECT COUNT(*) FROM (SELECT config_hash, seed FROM runs GROUP BY 1, 2 HAVING COUNT(*) > 1)"
        ).fetchone()[0] == 0


def test_one_config_in_two_suites_is_stored_once_and_listed_in_both(tmp_path: Path, make_run) -> None:
    with ResultsStore(tmp_path / "r.db") as store:
        write(store, [make_run(0), make_run(1)], suite="article")
        assert write(store, [make_run(0), make_run(1)], suite="madsen2020") == 0
        assert store.count_runs() == 2
        assert store.suites() == ["article", "madsen2020"]
        assert [r.result.seed for r in store.runs("madsen2020")] == [0, 1]
        assert [r.result.seed for r in store.runs("article")] == [0, 1]
        assert len(store.runs()) == 4  # listed once per suite


def test_filters(tmp_path: Path, make_run) -> None:
    other = {**CONFIG, "model": "NALU"}
    with ResultsStore(tmp_path / "r.db") as store:
        write(store, [make_run(0), make_run(1, solved=False, status="diverged")])
        write(store, [make_run(0)], cell="NALU/mul", config=other)
        assert [r.cell for r in store.runs(cell="NALU/mul")] == ["NALU/mul"]
        assert [r.result.seed for r in store.runs(status="diverged")] == [1]
        assert len(store.runs(config_hash=config_hash(other))) == 1
        assert [c.cell for c in store.cells("s")] == ["NMU/mul", "NALU/mul"]


def test_schema_pragmas_and_constraints(tmp_path: Path, make_run) -> None:
    db = tmp_path / "r.db"
    with ResultsStore(db) as store:
        write(store, [make_run(0)])
        conn = store._connection
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        assert store.integrity_check() == "ok"
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    columns = [r[1] for r in raw.execute("PRAGMA table_info(runs)")]
    assert columns == [
        "id", "suite", "cell", "config_json", "config_hash", "seed", "status", "solved", "solved_at",
        "selected_step", "interpolation_mse", "extrapolation_mse", "sparsity_error", "threshold",
        "threshold_policy", "iterations", "diverged_at", "wall_time_s", "seed_iterations_per_second",
        "library_version", "created_at", "formula_outcome", "formula",
    ]
    with pytest.raises(sqlite3.IntegrityError):  # UNIQUE(config_hash, seed) is enforced by SQLite itself
        raw.execute("INSERT INTO runs SELECT NULL, suite, cell, config_json, config_hash, seed, status, solved, "
                    "solved_at, selected_step, interpolation_mse, extrapolation_mse, sparsity_error, threshold, "
                    "threshold_policy, iterations, diverged_at, wall_time_s, seed_iterations_per_second, "
                    "library_version, created_at, formula_outcome, formula FROM runs")
    raw.close()
    fk = sqlite3.connect(db, isolation_level=None)
    fk.execute("PRAGMA foreign_keys = ON")  # per connection, as ResultsStore does
    with pytest.raises(sqlite3.IntegrityError):  # a curve needs its run
        fk.execute("INSERT INTO curves VALUES (999, 0, x'', x'', x'', x'')")


def test_failed_write_leaves_nothing(tmp_path: Path, make_run) -> None:
    too_big = make_run(0)
    too_big.seed = 2**70  # SQLite integers are 64-bit: fails inside the transaction, after run 1
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(OverflowError):
            write(store, [make_run(1), too_big])
        assert store.count_runs() == 0 and store.cells() == []
        assert store._connection.execute("SELECT COUNT(*) FROM curves").fetchone()[0] == 0
        assert write(store, [make_run(1)]) == 1  # the store is usable afterwards


def test_atomic_writes_several_cells_all_or_none(tmp_path: Path, make_run) -> None:
    other = {**CONFIG, "operation": "add"}
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(RuntimeError, match="killed"):
            with store.atomic():
                write(store, [make_run(1), make_run(2)])
                write(store, [make_run(1)], cell="NMU/add", config=other)
                raise RuntimeError("killed between two cells of one batch")
        assert store.count_runs() == 0 and store.cells() == []
        with store.atomic():
            write(store, [make_run(1), make_run(2)])
            write(store, [make_run(1)], cell="NMU/add", config=other)
        assert store.count_runs() == 3
    with ResultsStore(tmp_path / "r.db", readonly=True) as store:
        assert store.count_runs() == 3  # committed, visible to a new connection
        with pytest.raises(StoreError, match="read-only"):
            store.atomic()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda runs, cfg: cfg.update(bad={1, 2}), "not plain JSON"),
        (lambda runs, cfg: cfg.update(lr=math.nan), "not plain JSON"),
        (lambda runs, cfg: setattr(runs[0], "status", "crashed"), "status"),
        (lambda runs, cfg: runs[0].curve.step.append(99), "differ in length"),
        (lambda runs, cfg: runs.append(synthetic_copy(runs[0])), "duplicate seeds"),
        (lambda runs, cfg: cfg.update(threshold_policy="fixed_1e-5"), "threshold_policy"),
        (lambda runs, cfg: setattr(runs[0], "threshold", math.nan), "threshold"),
    ],
)
def test_bad_writes_are_rejected_before_writing(tmp_path: Path, make_run, mutate, message) -> None:
    runs, cfg = [make_run(0), make_run(1)], dict(CONFIG)
    mutate(runs, cfg)
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(StoreError, match=message):
            write(store, runs, config=cfg)
        assert store.count_runs() == 0


def synthetic_copy(run: RunResult) -> RunResult:
    return RunResult(**{**run.__dict__, "curve": LearningCurve()})


def test_readonly_refuses_missing_foreign_and_newer_files(tmp_path: Path, make_run) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no such results database"):
        ResultsStore(missing, readonly=True)
    assert not missing.exists()

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot use"):
        ResultsStore(garbage, readonly=True)
    with pytest.raises(StoreError, match="cannot use"):
        ResultsStore(garbage)

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a nalm results database"):
        ResultsStore(other, readonly=True)

    db = tmp_path / "r.db"
    with ResultsStore(db) as store:
        write(store, [make_run(0)])
    with ResultsStore(db, readonly=True) as store:
        assert store.count_runs() == 1
        with pytest.raises(StoreError, match="read-only"):
            write(store, [make_run(1)])
    raw = sqlite3.connect(db)
    raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        ResultsStore(db)
