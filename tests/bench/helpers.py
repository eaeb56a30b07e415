"""Tiny suites and a CLI runner for the benchmark tests (seconds, not minutes)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support import run_in_process

# 8 cells of one-module Primer tasks, 3 seeds x 400 iterations each: a few seconds in all.
TINY_SUITE = """
name = "tiny"
protocol_iterations = 50000
threshold_policy = "fixed_1e-5"
also_score = ["simulated_eps_1e-4"]
eval_every = 100

[recipe]
kind = "default"
setting = "primer2022"
batch_size = 32

[profiles.quick]
seeds = 3
iterations = 400

[profiles.full]
seeds = 4
iterations = 600

[models.NAU]
units = ["nau"]
lr = 0.05           # solves + and - within 400 steps, so the tests see successes too

[models.NALU]
units = ["nalu"]

[[grid]]
name = "m"
task = "primer"
models = ["NAU", "NALU"]
ops = ["add", "sub"]
ranges = ["1_2", "0.1_0.2"]
"""

ENV = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def write_suite(folder: Path, text: str = TINY_SUITE, name: str = "tiny.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nalm.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, env=ENV,
    )


run_main = run_in_process


def stored_rows(db: Path) -> dict[tuple[str, int], tuple]:
    """(config_hash, seed) -> the run's result columns (timing and ids left out) plus its curve."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            """SELECT r.config_hash, r.seed, r.status, r.solved, r.solved_at, r.selected_step,
                      r.interpolation_mse, r.extrapolation_mse, r.sparsity_error, r.threshold,
                      r.threshold_policy, r.iterations, r.diverged_at,
                      c.step, c.interpolation_mse, c.extrapolation_mse, c.sparsity_error
               FROM runs AS r JOIN curves AS c ON c.run_id = r.id"""
        ).fetchall()
    finally:
        con.close()
    out = {}
    for row in rows:
        key = (row[0], row[1])
        assert key not in out, f"duplicate run {key}"
        out[key] = row[2:]
    return out


def count_cells(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=30)
    try:
        return int(con.execute("SELECT COUNT(*) FROM cells").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        con.close()
