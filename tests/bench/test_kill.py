"""Kill `nalm bench` (SIGKILL) mid-suite, run it again: the database is sound, no finished run is
lost, changed or duplicated, and the final report equals an uninterrupted run's."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from .helpers import ENV, count_cells, run_cli, stored_rows, write_suite

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

CELLS, SEEDS, POLICIES = 8, 3, 2


def _report(db: Path) -> str:
    out = db.parent / "report"
    proc = run_cli("report", "--db", str(db), "--out", str(out), "--no-plots")
    assert proc.returncode == 0, proc.stderr
    return (out / "report.md").read_text(encoding="utf-8")


def _integrity(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return "\n".join(r[0] for r in con.execute("PRAGMA integrity_check"))
    finally:
        con.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    """An uninterrupted run into a fresh database: its duration, rows and report."""
    folder = tmp_path_factory.mktemp("kill")
    suite = write_suite(folder)
    db = folder / "reference" / "nalm.db"
    db.parent.mkdir()
    start = time.monotonic()
    proc = run_cli("bench", str(suite), "--db", str(db), "--no-progress")
    duration = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    rows = stored_rows(db)
    assert len(rows) == CELLS * SEEDS * POLICIES
    return suite, duration, rows, _report(db)


def _kill_then_resume(suite: Path, db: Path, wait, extra: tuple[str, ...] = ()) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nalm.cli.main", "bench", str(suite), "--db", str(db), "--no-progress",
         *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
    )
    try:
        wait(proc)
        assert proc.poll() is None, "the suite finished before the kill; make it longer"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    at_kill = stored_rows(db) if db.exists() else {}
    if db.exists():
        assert _integrity(db) == "ok"
    # a cell is all or nothing: every stored config has all its seeds
    assert set(Counter(h for h, _ in at_kill).values()) <= {SEEDS}
    assert len(at_kill) < CELLS * SEEDS * POLICIES, "nothing was left to resume"

    resumed = run_cli("bench", str(suite), "--db", str(db), "--no-progress", *extra)
    assert resumed.returncode == 0, resumed.stderr
    final = stored_rows(db)  # raises on a duplicated (config, seed)
    assert _integrity(db) == "ok"
    assert at_kill.items() <= final.items(), "a run finished before the kill was lost or changed"
    return final


def test_kill_at_a_random_moment(reference, tmp_path: Path) -> None:
    suite, duration, rows, report = reference
    rng = random.Random(6)
    delay = rng.uniform(0.2, 0.6) * duration
    db = tmp_path / "nalm.db"

    def wait(proc: subprocess.Popen) -> None:
        # A random moment, but before the last cell is stored: the reference's duration was measured
        # under another load, so a plain sleep could outlast the whole suite on a busy machine.
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and count_cells(db) < (CELLS - 1) * POLICIES and proc.poll() is None:
            time.sleep(0.01)

    final = _kill_then_resume(suite, db, wait)
    assert final == rows
    assert _report(db) == report


def test_kill_right_after_a_cell_was_written(reference, tmp_path: Path) -> None:
    suite, _, rows, report = reference
    rng = random.Random(7)
    db = tmp_path / "nalm.db"

    def wait(proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 120
        while count_cells(db) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))

    final = _kill_then_resume(suite, db, wait)
    assert final == rows
    assert _report(db) == report


def test_kill_with_grouped_cells_resumes_bit_for_bit(tmp_path: Path) -> None:
    """With --group-runs a batch of cells is written all or none, so the resumed suite trains the
    same batches again and stores exactly what an uninterrupted grouped run stores."""
    suite = write_suite(tmp_path)
    grouped = ("--group-runs", "6")  # 2 cells of 3 seeds per batch
    db_ref = tmp_path / "reference.db"
    start = time.monotonic()
    proc = run_cli("bench", str(suite), "--db", str(db_ref), "--no-progress", *grouped)
    duration = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    rows = stored_rows(db_ref)
    delay = random.Random(8).uniform(0.3, 0.6) * duration
    db = tmp_path / "nalm.db"
    final = _kill_then_resume(suite, db, lambda proc: time.sleep(delay), grouped)
    assert final == rows
