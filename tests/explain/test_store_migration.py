"""Stored parameters and formula outcomes (schema 2), and databases written before them (schema 1):
read as they are when opened read-only, migrated in place when opened for writing, and in both cases
still usable — their runs say "no parameters" / "n/a"."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

import numpy as np
import pytest

from nalm.report import markdown_table, summarize
from nalm.report.render import formula_text
from nalm.results import LearningCurve, RunFormula, RunParameters, RunResult
from nalm.store import SCHEMA_VERSION, ResultsStore, canonical_config_json, config_hash

from .helpers import run_main

# The schema of version 1, as nalm wrote it before parameters were stored (nalm/store/schema.py at
# commit 34947ba).
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cells (
    suite TEXT NOT NULL, cell TEXT NOT NULL, config_hash TEXT NOT NULL, config_json TEXT NOT NULL,
    created_at TEXT NOT NULL, PRIMARY KEY (suite, cell, config_hash)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, suite TEXT NOT NULL, cell TEXT NOT NULL, config_json TEXT NOT NULL,
    config_hash TEXT NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'diverged', 'failed')),
    solved INTEGER NOT NULL CHECK (solved IN (0, 1)), solved_at INTEGER, selected_step INTEGER NOT NULL,
    interpolation_mse REAL, extrapolation_mse REAL, sparsity_error REAL, threshold REAL NOT NULL,
    threshold_policy TEXT NOT NULL, iterations INTEGER NOT NULL, diverged_at INTEGER, wall_time_s REAL,
    seed_iterations_per_second REAL, library_version TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (config_hash, seed)
);
CREATE INDEX runs_by_suite_cell ON runs (suite, cell);
CREATE TABLE curves (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE, n_points INTEGER NOT NULL,
    step BLOB NOT NULL, interpolation_mse BLOB NOT NULL, extrapolation_mse BLOB NOT NULL,
    sparsity_error BLOB NOT NULL
);
"""

OLD_CONFIG = {"model": "NAU", "operation": "add", "units": ["nau"], "threshold_policy": "fixed_1e-5"}
NEW_CONFIG = {**OLD_CONFIG, "model": "NMU", "units": ["nmu"]}


def _v1_database(path: Path, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    con = sqlite3.connect(path)
    con.executescript(V1_SCHEMA)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    text, h = canonical_config_json(OLD_CONFIG), config_hash(OLD_CONFIG)
    con.execute("INSERT INTO cells VALUES ('old', 'm/NAU/add', ?, ?, '2026-11-01')", (h, text))
    blob = zlib.compress(np.arange(3, dtype="<f8").tobytes(), 1)
    steps = zlib.compress(np.arange(3, dtype="<i8").tobytes(), 1)
    for seed in seeds:
        cur = con.execute(
            "INSERT INTO runs (suite, cell, config_json, config_hash, seed, status, solved, solved_at, "
            "selected_step, interpolation_mse, extrapolation_mse, sparsity_error, threshold, "
            "threshold_policy, iterations, diverged_at, wall_time_s, seed_iterations_per_second, "
            "library_version, created_at) VALUES ('old', 'm/NAU/add', ?, ?, ?, 'ok', 1, 1000, 2000, "
            "1e-9, 1e-8, 0.1, 1e-5, 'fixed_1e-5', 3000, NULL, 1.0, 100.0, '0.1.0', '2026-11-01')",
            (text, h, seed),
        )
        con.execute("INSERT INTO curves VALUES (?, 3, ?, ?, ?, ?)", (cur.lastrowid, steps, blob, blob, blob))
    con.commit()
    con.close()


def _run(seed: int, *, formula: RunFormula | None, parameters: RunParameters | None) -> RunResult:
    return RunResult(
        seed=seed, status="ok", solved=True, solved_at=100, selected_step=200, interpolation_mse=1e-9,
        extrapolation_mse=1e-8, sparsity_error=0.0, threshold=1e-5, iterations=300,
        curve=LearningCurve([0, 100, 200], [1.0, 0.1, 0.01], [1.0, 0.1, 0.01], [0.5, 0.1, 0.0]),
        formula=formula, parameters=parameters,
    )


def _parameters(seed: int) -> RunParameters:
    selected = {"0.W": np.array([[1.0, 0.25 * seed]], dtype=np.float32)}
    final = {"0.W": np.array([[1.0, 0.5]], dtype=np.float32), "0.b": np.arange(3, dtype=np.float64)}
    return RunParameters(200, selected, final)


def test_a_v1_database_reads_as_it_is_when_read_only(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    _v1_database(db)
    before = db.read_bytes()
    with ResultsStore(db, readonly=True) as store:
        assert store.schema_version == 1
        runs = store.runs()
        assert [r.result.seed for r in runs] == [0, 1, 2]
        assert all(r.result.formula is None for r in runs)
        assert store.parameters(runs[0].id) is None and store.runs_with_parameters() == set()
        assert store.curve(runs[0].id).step == [0, 1, 2]
        cells = summarize(runs)
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["v1.db"]
    assert formula_text(cells[0]) == "n/a"
    table = markdown_table(cells)
    assert "| formula recovered [95% CI] |" in table.splitlines()[0] and "| n/a |" in table


def test_explain_on_a_v1_database_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    db = tmp_path / "v1.db"
    _v1_database(db)
    before = db.read_bytes()
    code, out, err = run_main(capsys, "explain", "--db", str(db))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nalm: error:")
    assert "no stored parameters" in lines[0] and "schema 1" in lines[0]
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["v1.db"]


def test_opening_a_v1_database_for_writing_migrates_it(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    _v1_database(db)
    with ResultsStore(db) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        assert store.finished_seeds(OLD_CONFIG) == {0, 1, 2}  # resume still skips the old runs
        new = [_run(0, formula=RunFormula("exact_target", "x0*x1"), parameters=_parameters(0)),
               _run(1, formula=RunFormula("not_snappable"), parameters=_parameters(1)),
               _run(2, formula=None, parameters=None)]
        assert store.write_cell("new", "m/NMU/mul", NEW_CONFIG, new, wall_time_s=1.0,
                                seed_iterations_per_second=1.0, threshold_policy="fixed_1e-5") == 3
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
    assert {"formula_outcome", "formula"} <= {r[1] for r in raw.execute("PRAGMA table_info(runs)")}
    raw.close()
    with ResultsStore(db) as store:  # a second opening finds it migrated and changes nothing
        assert store.schema_version == 3
    with ResultsStore(db, readonly=True) as store:
        old, new_runs = store.runs("old"), store.runs("new")
        assert [r.result.formula for r in old] == [None] * 3
        assert [store.parameters(r.id) for r in old] == [None] * 3
        assert [r.result.formula for r in new_runs] == [
            RunFormula("exact_target", "x0*x1"), RunFormula("not_snappable", None), None]
        stored = store.parameters(new_runs[1].id)
        assert stored is not None and stored.selected_step == 200
        for name, value in _parameters(1).final.items():
            assert stored.final[name].dtype == value.dtype and np.array_equal(stored.final[name], value)
        assert np.array_equal(stored.selected["0.W"], _parameters(1).selected["0.W"])
        assert store.parameters(new_runs[2].id) is None
        cells = {c.cell: c for c in summarize(store.runs())}
    assert formula_text(cells["m/NAU/add"]) == "n/a"
    # 1 of the 2 runs that were read; the third has no outcome and is said to be unread
    assert cells["m/NMU/mul"].formula_recovered == 1 and cells["m/NMU/mul"].formula_runs == 2
    assert formula_text(cells["m/NMU/mul"]) == "50% [9, 91] (1 runs not read)"


def test_failed_runs_count_as_not_recovered(tmp_path: Path) -> None:
    failed = RunResult(seed=3, status="failed", solved=False, solved_at=None, selected_step=0,
                       interpolation_mse=float("nan"), extrapolation_mse=float("nan"),
                       sparsity_error=float("nan"), threshold=1e-5, iterations=0)
    with ResultsStore(tmp_path / "r.db") as store:
        store.write_cell("s", "c", NEW_CONFIG, [
            _run(0, formula=RunFormula("exact_target", "x0*x1"), parameters=_parameters(0)), failed,
        ], wall_time_s=1.0, seed_iterations_per_second=1.0, threshold_policy="fixed_1e-5")
        (cell,) = summarize(store.runs())
    assert (cell.formula_recovered, cell.formula_runs, cell.formula_unread) == (1, 2, 0)
    assert formula_text(cell) == "50% [9, 91]"


def test_bad_formula_records_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outcome"):
        RunFormula("solved")  # type: ignore[arg-type]
    run = _run(0, formula=None, parameters=None)
    run.formula = "x0"  # type: ignore[assignment]
    with ResultsStore(tmp_path / "r.db") as store, pytest.raises(Exception, match="RunFormula"):
        store.write_cell("s", "c", NEW_CONFIG, [run], wall_time_s=1.0, seed_iterations_per_second=1.0,
                         threshold_policy="fixed_1e-5")


def test_report_csv_has_the_formula_columns(tmp_path: Path) -> None:
    from nalm.report import csv_rows

    with ResultsStore(tmp_path / "r.db") as store:
        store.write_cell("s", "c", NEW_CONFIG, [
            _run(0, formula=RunFormula("exact_target", "x0*x1"), parameters=_parameters(0)),
            _run(1, formula=RunFormula("exact_other", "x0"), parameters=_parameters(1)),
        ], wall_time_s=1.0, seed_iterations_per_second=1.0, threshold_policy="fixed_1e-5")
        (row,) = csv_rows(summarize(store.runs()))
    assert (row["formula_recovered"], row["formula_runs"], row["formula_rate"]) == (1, 2, 0.5)
    assert 0 < row["formula_ci_low"] < 0.5 < row["formula_ci_high"] < 1
    json.dumps(row)
