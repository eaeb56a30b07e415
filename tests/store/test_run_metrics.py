"""Run metrics (schema 3): measurements taken after training, stored per run and name, read back exactly,
and databases written before them (schema 2) read as they are or migrated in place."""

from __future__ import annotations

import math
import sqlite3
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from nalm.report import summarize
from nalm.store import SCHEMA_VERSION, ResultsStore, StoreError

CONFIG = {"model": "NPU", "operation": "all", "iterations": 10}


def _write(store: ResultsStore, runs, config=CONFIG) -> int:
    return store.write_cell("s", "c", config, runs, wall_time_s=1.0, seed_iterations_per_second=1.0,
                            threshold_policy="fixed_1e-5")


def test_metrics_round_trip_bit_exact_with_nan_and_inf(tmp_path: Path, make_run) -> None:
    values = {"paper_mae_add": 0.1 + 0.2, "paper_mae_mul": math.nan, "trask_extrapolation": math.inf,
              "tiny": 5e-324}
    runs = [replace(make_run(0), metrics=values), replace(make_run(1), metrics={"paper_mae_add": -1.5}),
            make_run(2)]
    with ResultsStore(tmp_path / "r.db") as store:
        assert _write(store, runs) == 3
        stored = {s.result.seed: s.result.metrics for s in store.runs()}
    assert list(stored[0]) == list(values)  # names in the order written
    assert [struct.pack("<d", v) for v in stored[0].values()] == [struct.pack("<d", v) for v in values.values()]
    assert stored[1] == {"paper_mae_add": -1.5} and stored[2] == {}


def test_a_rewritten_run_keeps_its_stored_metrics(tmp_path: Path, make_run) -> None:
    with ResultsStore(tmp_path / "r.db") as store:
        _write(store, [replace(make_run(0), metrics={"m": 1.0})])
        assert _write(store, [replace(make_run(0), metrics={"m": 2.0})]) == 0
        (run,) = store.runs()
    assert run.result.metrics == {"m": 1.0}


@pytest.mark.parametrize("metrics,message", [
    ({"": 1.0}, "metric names"), ({3: 1.0}, "metric names"), ({"m": "high"}, "must be a number"),
    ({"m": None}, "must be a number"),
])
def test_bad_metrics_are_rejected_before_writing(tmp_path: Path, make_run, metrics, message) -> None:
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(StoreError, match=message):
            _write(store, [make_run(0), replace(make_run(1), metrics=metrics)])
        assert store.count_runs() == 0


def _as_version_2(db: Path) -> None:
    """Turn a fresh database into what nalm wrote before schema 3: no run_metrics table, version 2."""
    con = sqlite3.connect(db)
    con.execute("DROP TABLE run_metrics")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()


def test_a_version_2_database_is_read_as_it_is_and_migrated_for_writing(tmp_path: Path, make_run) -> None:
    db = tmp_path / "v2.db"
    with ResultsStore(db) as store:
        _write(store, [make_run(0), make_run(1)])
    _as_version_2(db)
    before = db.read_bytes()
    with ResultsStore(db, readonly=True) as store:
        assert store.schema_version == 2
        assert [r.result.metrics for r in store.runs()] == [{}, {}]
    assert db.read_bytes() == before
    with ResultsStore(db) as store:
        assert store.schema_version == SCHEMA_VERSION == 3
        _write(store, [replace(make_run(0), metrics={"m": 0.5})], config={**CONFIG, "iterations": 20})
    with ResultsStore(db, readonly=True) as store:
        assert store.schema_version == 3
        assert [r.result.metrics for r in store.runs()] == [{}, {}, {"m": 0.5}]


def test_the_report_reads_metrics_per_cell_with_nan_for_runs_without(tmp_path: Path, make_run) -> None:
    runs = [replace(make_run(0), metrics={"a": 1.0, "b": 2.0}), replace(make_run(1), metrics={"b": 3.0}),
            make_run(2)]
    with ResultsStore(tmp_path / "r.db") as store:
        _write(store, runs)
        (cell,) = summarize(store.runs())
    assert list(cell.metrics) == ["a", "b"]
    assert cell.metrics["a"][0] == 1.0 and math.isnan(cell.metrics["a"][1]) and math.isnan(cell.metrics["a"][2])
    assert cell.metrics["b"][:2] == (2.0, 3.0) and math.isnan(cell.metrics["b"][2])
