"""The store's SQLite schema, its version, and the migration of older databases.

Version history:

1. ``meta``, ``cells``, ``runs``, ``curves``.
2. ``runs`` gains ``formula_outcome`` and ``formula`` (what the formula read-out said of the run's
   selected parameters, NULL when it was not read); new table ``params`` with each run's parameters at
   its selected step and at the end. A version-1 database opened for writing is migrated in place
   (columns added, the table created; its runs keep NULL / no parameters); opened read-only it is
   read as it is.
3. New table ``run_metrics``: each run's measurements taken after training (name → value, NULL for
   NaN; :attr:`nalm.results.RunResult.metrics`). Older databases opened for writing gain the empty
   table; their runs have no metrics.
"""

from __future__ import annotations

SCHEMA_VERSION = 3

_STATUSES = ("ok", "diverged", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- which (suite, cell) a config belongs to: one config may serve several suites, its runs are stored once
CREATE TABLE IF NOT EXISTS cells (
    suite       TEXT NOT NULL,
    cell        TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config_json TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (suite, cell, config_hash)
);
CREATE TABLE IF NOT EXISTS runs (
    id                         INTEGER PRIMARY KEY,
    suite                      TEXT NOT NULL,
    cell                       TEXT NOT NULL,
    config_json                TEXT NOT NULL,
    config_hash                TEXT NOT NULL,
    seed                       INTEGER NOT NULL,
    status                     TEXT NOT NULL CHECK (status IN ('ok', 'diverged', 'failed')),
    solved                     INTEGER NOT NULL CHECK (solved IN (0, 1)),
    solved_at                  INTEGER,
    selected_step              INTEGER NOT NULL,
    interpolation_mse          REAL,  -- NULL = NaN
    extrapolation_mse          REAL,  -- NULL = NaN
    sparsity_error             REAL,  -- NULL = NaN
    threshold                  REAL NOT NULL,
    threshold_policy           TEXT NOT NULL,
    iterations                 INTEGER NOT NULL,
    diverged_at                INTEGER,
    wall_time_s                REAL,  -- of the whole cell, repeated on each of its runs
    seed_iterations_per_second REAL,  -- of the whole cell
    library_version            TEXT NOT NULL,
    created_at                 TEXT NOT NULL,
    formula_outcome            TEXT,  -- NULL = not read (no parameters, or written before schema 2)
    formula                    TEXT,  -- NULL = none (not snappable, or not read)
    UNIQUE (config_hash, seed)
);
CREATE INDEX IF NOT EXISTS runs_by_suite_cell ON runs (suite, cell);
-- one row per run, each column a zlib-compressed little-endian array (int64 steps, float64 values)
CREATE TABLE IF NOT EXISTS curves (
    run_id            INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    n_points          INTEGER NOT NULL,
    step              BLOB NOT NULL,
    interpolation_mse BLOB NOT NULL,
    extrapolation_mse BLOB NOT NULL,
    sparsity_error    BLOB NOT NULL
);
-- one row per run that has them: compressed .npz archives {parameter path: array}
CREATE TABLE IF NOT EXISTS params (
    run_id        INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    selected_step INTEGER NOT NULL,
    selected      BLOB NOT NULL,
    final         BLOB NOT NULL
);
-- measurements taken after training, one row per run and name
CREATE TABLE IF NOT EXISTS run_metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  REAL,  -- NULL = NaN
    PRIMARY KEY (run_id, name)
);
"""

#: Statements that bring a version-1 database to version 2 (run in the opening transaction). Newer
#: tables need no statement: the opening transaction creates every missing table of :data:`_SCHEMA`.
_MIGRATE_1_TO_2 = (
    "ALTER TABLE runs ADD COLUMN formula_outcome TEXT",
    "ALTER TABLE runs ADD COLUMN formula TEXT",
)
