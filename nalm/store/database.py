"""The results database: :class:`ResultsStore`."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from nalm import __version__
from nalm.results import (
    FORMULA_OUTCOMES,
    LearningCurve,
    RunFormula,
    RunParameters,
    RunResult,
)

from .records import (
    CellRecord,
    StoredRun,
    StoreError,
    _metric_in,
    _metric_out,
    _pack,
    _pack_arrays,
    _unpack,
    _unpack_arrays,
    canonical_config_json,
    config_hash,
)
from .schema import _MIGRATE_1_TO_2, _SCHEMA, _STATUSES, SCHEMA_VERSION


def _default_library_version() -> str:
    return __version__


class ResultsStore:
    """A results database file. Use as a context manager; safe for several processes at once.

    ``readonly=True`` never creates or changes anything (the report opens the store this way); a
    database of an older schema is then read as it is, else it is migrated on opening (see
    :mod:`nalm.store.schema`).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None
        self._config_cache: dict[str, Mapping[str, Any]] = {}
        self.schema_version = 0
        self._has_formula = self._has_params = self._has_metrics = False
        try:
            self._open(busy_timeout_s)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"{self.path}: cannot use as a results database ({exc})") from None
        except BaseException:
            self.close()
            raise

    # -- connection ---------------------------------------------------------------------------------

    def _open(self, busy_timeout_s: float) -> None:
        if self.readonly:
            if not self.path.is_file():
                raise StoreError(f"{self.path}: no such results database")
            # mode=rw (never create) + query_only rather than mode=ro: a read-only connection cannot
            # remove the -wal/-shm files it makes, so every report would leave them behind
            uri = self.path.resolve().as_uri()
            try:
                conn = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=busy_timeout_s, isolation_level=None)
            except sqlite3.OperationalError:  # read-only file or directory
                conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=busy_timeout_s, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")
        else:
            if self.path.exists() and not self.path.is_file():
                raise StoreError(f"{self.path}: not a regular file")
            conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
        self._conn = conn
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.readonly:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "runs", "curves", "cells"} <= tables:
                raise StoreError(f"{self.path}: not a nalm results database")
        else:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL journal mode (got {mode})")
            # FULL: a committed cell survives power loss too, at the cost of one fsync per cell
            conn.execute("PRAGMA synchronous = FULL")
        self._check_schema()

    def _check_schema(self) -> None:
        conn = self._connection
        if self.readonly:
            self.schema_version = self._version()
        else:
            # One write transaction: two processes opening an old database migrate it once (the
            # second waits for the lock, then reads the new version).
            with self._transaction():
                for statement in _SCHEMA.split(";"):  # no ';' inside _SCHEMA's comments
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                version = self._version()
                if version == 1:
                    for statement in _MIGRATE_1_TO_2:
                        conn.execute(statement)
                if version < SCHEMA_VERSION:  # the missing tables were created above
                    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                 (str(SCHEMA_VERSION),))
                    version = SCHEMA_VERSION
            self.schema_version = version
        columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self._has_formula = {"formula_outcome", "formula"} <= columns
        self._has_params = "params" in tables
        self._has_metrics = "run_metrics" in tables

    def _version(self) -> int:
        row = self._connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            raise StoreError(f"{self.path}: results database has no schema version")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: results database schema {version} is newer than this nalm "
                f"understands ({SCHEMA_VERSION}); upgrade nalm"
            )
        return version

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("results store is closed")
        return self._conn

    class _Tx:
        """A write transaction; inside another one it joins it (the outer one commits or rolls back)."""

        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn
            self.nested = False

        def __enter__(self) -> sqlite3.Connection:
            self.nested = self.conn.in_transaction
            if not self.nested:
                # IMMEDIATE takes the write lock now, so two writers queue on busy_timeout instead
                # of deadlocking when both try to upgrade a read lock
                self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
            if self.nested:
                return
            if exc_type is None:
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")

    def _transaction(self) -> ResultsStore._Tx:
        return ResultsStore._Tx(self._connection)

    def atomic(self) -> ResultsStore._Tx:
        """``with store.atomic(): ...`` — every ``write_cell`` inside is one transaction: all or none.

        The runner writes the cells of a batch trained together this way, so a kill never leaves
        part of a batch, whose rest would be retrained in another batch composition.
        """
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        return self._transaction()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------------

    def finished_seeds(self, config: Mapping[str, Any]) -> set[int]:
        """Seeds already stored for this config (any status, in any suite): the runner skips them."""
        h = config_hash(config)
        return {r[0] for r in self._connection.execute("SELECT seed FROM runs WHERE config_hash = ?", (h,))}

    def write_cell(
        self,
        suite: str,
        cell: str,
        config: Mapping[str, Any],
        runs: Iterable[RunResult],
        *,
        wall_time_s: float | None,
        seed_iterations_per_second: float | None,
        threshold_policy: str,
        library_version: str | None = None,
    ) -> int:
        """Store the runs of one cell in one transaction; returns how many were new.

        Runs whose ``(config_hash, seed)`` is already stored are skipped (their stored copy is kept).
        The config is the identity of the cell's runs: put everything that changes a result in it —
        model, task, ranges, iterations, schedules, threshold policy. If it carries a
        ``threshold_policy`` key, it must equal the ``threshold_policy`` argument.
        """
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        for name, value in (("suite", suite), ("cell", cell), ("threshold_policy", threshold_policy)):
            if not isinstance(value, str) or not value:
                raise StoreError(f"{name} must be a non-empty string, got {value!r}")
        config_json = canonical_config_json(config)
        if "threshold_policy" in config and config["threshold_policy"] != threshold_policy:
            raise StoreError(
                f"cell {cell!r}: config threshold_policy {config['threshold_policy']!r} differs from "
                f"threshold_policy={threshold_policy!r}"
            )
        h = hashlib.sha256(config_json.encode("utf-8")).hexdigest()
        runs = list(runs)
        rows = [self._run_row(r, cell) for r in runs]
        seeds = [row[0] for row, _ in rows]
        if len(set(seeds)) != len(seeds):
            raise StoreError(f"cell {cell!r}: duplicate seeds in one write")
        version = library_version if library_version is not None else _default_library_version()
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        wall = None if wall_time_s is None else float(wall_time_s)
        rate = None if seed_iterations_per_second is None else float(seed_iterations_per_second)

        inserted = 0
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO cells (suite, cell, config_hash, config_json, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (suite, cell, h, config_json, now),
            )
            for run, (row, curve_row) in zip(runs, rows):
                formula = run.formula
                cur = conn.execute(
                    """INSERT OR IGNORE INTO runs (
                        suite, cell, config_json, config_hash, seed, status, solved, solved_at,
                        selected_step, interpolation_mse, extrapolation_mse, sparsity_error, threshold,
                        iterations, diverged_at, threshold_policy, wall_time_s,
                        seed_iterations_per_second, library_version, created_at, formula_outcome, formula
                    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (suite, cell, config_json, h, *row, threshold_policy, wall, rate, version, now,
                     None if formula is None else formula.outcome,
                     None if formula is None else formula.formula),
                )
                if cur.rowcount == 1:
                    conn.execute(
                        "INSERT INTO curves (run_id, n_points, step, interpolation_mse, "
                        "extrapolation_mse, sparsity_error) VALUES (?, ?, ?, ?, ?, ?)",
                        (cur.lastrowid, *curve_row),
                    )
                    if run.metrics:
                        conn.executemany(
                            "INSERT INTO run_metrics (run_id, name, value) VALUES (?, ?, ?)",
                            [(cur.lastrowid, name, _metric_in(value)) for name, value in run.metrics.items()],
                        )
                    if run.parameters is not None:
                        conn.execute(
                            "INSERT INTO params (run_id, selected_step, selected, final) VALUES (?, ?, ?, ?)",
                            (cur.lastrowid, int(run.parameters.selected_step),
                             _pack_arrays(run.parameters.selected), _pack_arrays(run.parameters.final)),
                        )
                    inserted += 1
        return inserted

    @staticmethod
    def _run_row(run: RunResult, cell: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Validate one run and turn it into (runs columns seed..diverged_at, curves columns).

        Every value is converted to a Python int/float: trainers hand over numpy scalars, which
        sqlite3 cannot bind.
        """
        where = f"cell {cell!r} seed {getattr(run, 'seed', '?')}"
        if not isinstance(run, RunResult):
            raise StoreError(f"{where}: expected a RunResult, got {type(run).__name__}")
        if run.status not in _STATUSES:
            raise StoreError(f"{where}: status must be one of {_STATUSES}, got {run.status!r}")
        if not math.isfinite(float(run.threshold)):
            raise StoreError(f"{where}: threshold must be finite, got {run.threshold!r}")
        c = run.curve
        n = len(c.step)
        if not (len(c.interpolation_mse) == len(c.extrapolation_mse) == len(c.sparsity_error) == n):
            raise StoreError(f"{where}: learning-curve columns differ in length")
        if run.formula is not None and (
            not isinstance(run.formula, RunFormula) or run.formula.outcome not in FORMULA_OUTCOMES
        ):
            raise StoreError(f"{where}: formula must be a RunFormula, got {run.formula!r}")
        for name, value in run.metrics.items():
            if not isinstance(name, str) or not name:
                raise StoreError(f"{where}: metric names must be non-empty strings, got {name!r}")
            try:
                float(value)
            except (TypeError, ValueError):
                raise StoreError(f"{where}: metric {name!r} must be a number, got {value!r}") from None
        if run.parameters is not None and not isinstance(run.parameters, RunParameters):
            raise StoreError(f"{where}: parameters must be RunParameters, got {type(run.parameters).__name__}")
        row = (
            int(run.seed),
            run.status,
            int(bool(run.solved)),
            None if run.solved_at is None else int(run.solved_at),
            int(run.selected_step),
            _metric_in(run.interpolation_mse),
            _metric_in(run.extrapolation_mse),
            _metric_in(run.sparsity_error),
            float(run.threshold),
            int(run.iterations),
            None if run.diverged_at is None else int(run.diverged_at),
        )
        curve_row = (
            n,
            _pack(c.step, "<i8"),
            _pack(c.interpolation_mse, "<f8"),
            _pack(c.extrapolation_mse, "<f8"),
            _pack(c.sparsity_error, "<f8"),
        )
        return row, curve_row

    # -- reading ------------------------------------------------------------------------------------

    def _config(self, h: str, text: str) -> Mapping[str, Any]:
        cfg = self._config_cache.get(h)
        if cfg is None:
            cfg = json.loads(text)
            self._config_cache[h] = cfg
        return cfg

    def suites(self) -> list[str]:
        """Suite names, in the order they were first written."""
        rows = self._connection.execute(
            "SELECT suite FROM cells GROUP BY suite ORDER BY MIN(rowid)"
        ).fetchall()
        return [r[0] for r in rows]

    def cells(self, suite: str | None = None) -> list[CellRecord]:
        """Cells (suite, cell, config), in the order they were first written."""
        sql = "SELECT suite, cell, config_hash, config_json, created_at FROM cells"
        args: tuple[Any, ...] = ()
        if suite is not None:
            sql += " WHERE suite = ?"
            args = (suite,)
        sql += " ORDER BY rowid"
        return [
            CellRecord(s, c, h, self._config(h, j), t)
            for s, c, h, j, t in self._connection.execute(sql, args)
        ]

    def runs(
        self,
        suite: str | None = None,
        *,
        cell: str | None = None,
        config_hash: str | None = None,
        status: str | None = None,
    ) -> list[StoredRun]:
        """Stored runs, filtered; each run is listed under every (suite, cell) its config belongs to.

        Ordered by cell (first written first), then seed.
        """
        clauses, args = [], []
        for column, value in (("c.suite", suite), ("c.cell", cell), ("r.config_hash", config_hash),
                              ("r.status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        # A version-1 database read as it is has no formula columns: its runs read as not explained.
        formula_columns = "r.formula_outcome, r.formula" if self._has_formula else "NULL, NULL"
        sql = f"""
            SELECT r.id, c.suite, c.cell, r.config_hash, r.config_json, r.seed, r.status, r.solved,
                   r.solved_at, r.selected_step, r.interpolation_mse, r.extrapolation_mse,
                   r.sparsity_error, r.threshold, r.iterations, r.diverged_at, r.threshold_policy,
                   r.wall_time_s, r.seed_iterations_per_second, r.library_version, r.created_at,
                   {formula_columns}
            FROM runs AS r JOIN cells AS c ON c.config_hash = r.config_hash
            {where}
            ORDER BY c.rowid, r.seed"""
        out = []
        metrics = self._metrics()
        for row in self._connection.execute(sql, args):
            (rid, s, c, h, cfg, seed, st, solved, solved_at, sel, imse, emse, sparse, thr, iters,
             div, policy, wall, rate, version, created, outcome, formula) = row
            result = RunResult(
                seed=seed,
                status=st,
                solved=bool(solved),
                solved_at=solved_at,
                selected_step=sel,
                interpolation_mse=_metric_out(imse),
                extrapolation_mse=_metric_out(emse),
                sparsity_error=_metric_out(sparse),
                threshold=thr,
                iterations=iters,
                diverged_at=div,
                formula=None if outcome is None else RunFormula(outcome, formula),
                metrics=metrics.get(rid, {}),
            )
            out.append(
                StoredRun(rid, s, c, self._config(h, cfg), h, result, policy, wall, rate, version, created)
            )
        return out

    def _metrics(self) -> dict[int, dict[str, float]]:
        """Every run's stored metrics by run id (read at once: a report reads every run anyway)."""
        out: dict[int, dict[str, float]] = {}
        if not self._has_metrics:
            return out
        for rid, name, value in self._connection.execute(
            "SELECT run_id, name, value FROM run_metrics ORDER BY run_id, rowid"
        ):
            out.setdefault(rid, {})[name] = _metric_out(value)
        return out

    def curve(self, run_id: int) -> LearningCurve:
        """The learning curve of one stored run (NaN and ±inf exactly as written)."""
        row = self._connection.execute(
            "SELECT n_points, step, interpolation_mse, extrapolation_mse, sparsity_error "
            "FROM curves WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no curve stored for run id {run_id}")
        n, step, imse, emse, sparse = row
        return LearningCurve(
            step=[int(s) for s in _unpack(step, "<i8", n)],
            interpolation_mse=_unpack(imse, "<f8", n).tolist(),
            extrapolation_mse=_unpack(emse, "<f8", n).tolist(),
            sparsity_error=_unpack(sparse, "<f8", n).tolist(),
        )

    def parameters(self, run_id: int) -> RunParameters | None:
        """The stored parameters of one run (selected step and end), None when it has none (a failed
        run, or one written before schema 2)."""
        if not self._has_params:
            return None
        row = self._connection.execute(
            "SELECT selected_step, selected, final FROM params WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        step, selected, final = row
        return RunParameters(int(step), _unpack_arrays(selected), _unpack_arrays(final))

    def runs_with_parameters(self) -> set[int]:
        """Ids of the runs that have stored parameters."""
        if not self._has_params:
            return set()
        return {r[0] for r in self._connection.execute("SELECT run_id FROM params")}

    def count_runs(self) -> int:
        return int(self._connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` ("ok" when the file is sound)."""
        return "\n".join(r[0] for r in self._connection.execute("PRAGMA integrity_check"))
