"""Two writers on one database, and a writer killed with SIGKILL in the middle of its cells."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from .synth import synthetic_run

from nalm.store import ResultsStore

RUNS_PER_CELL = 8


def _writer(db: str, cells: list[int], tag: str) -> None:
    with ResultsStore(db, busy_timeout_s=60) as store:
        for i in cells:
            config = {"model": "NMU", "cell": i}
            todo = [s for s in range(RUNS_PER_CELL) if s not in store.finished_seeds(config)]
            store.write_cell(
                "race", f"cell-{i}", config, [synthetic_run(s, n_points=51) for s in todo],
                wall_time_s=0.1, seed_iterations_per_second=1.0, threshold_policy=tag,
            )


def test_two_processes_write_one_database(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    # overlapping cell lists: both processes race on cells 10..19
    jobs = [list(range(0, 20)), list(range(10, 30))]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(db, cells, "p")) for cells in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with ResultsStore(db, readonly=True) as store:
        assert store.integrity_check() == "ok"
        runs = store.runs("race")
        assert len(runs) == 30 * RUNS_PER_CELL
        assert len({(r.config_hash, r.result.seed) for r in runs}) == len(runs)
        assert sorted({r.cell for r in runs}) == sorted(f"cell-{i}" for i in range(30))
        for r in runs[:: RUNS_PER_CELL]:
            assert len(store.curve(r.id).step) == 51


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from synth import synthetic_run
    from nalm.store import ResultsStore

    runs = [synthetic_run(s, n_points=2000) for s in range({n})]
    with ResultsStore({db!r}) as store:
        i = {start}
        while True:  # nearly all of the loop is inside write_cell, so a kill usually lands there
            print("begin", i, flush=True)
            store.write_cell("crash", f"cell-{{i}}", {{"cell": i}}, runs, wall_time_s=1.0,
                             seed_iterations_per_second=1.0, threshold_policy="p")
            print("done", i, flush=True)
            i += 1
    """
)


def _assert_whole_cells(db: str, n: int) -> set[int]:
    with ResultsStore(db, readonly=True) as store:
        assert store.integrity_check() == "ok"
        per_cell: dict[str, int] = {}
        for r in store.runs("crash"):
            per_cell[r.cell] = per_cell.get(r.cell, 0) + 1
        assert all(count == n for count in per_cell.values()), per_cell  # no partial cell
        conn = store._connection
        assert conn.execute("SELECT COUNT(*) FROM curves").fetchone()[0] == store.count_runs()
        assert conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == len(per_cell)
        return {int(c.split("-")[1]) for c in per_cell}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_mid_write_loses_only_the_cell_in_flight(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    tests_dir = str(Path(__file__).parent)
    n = 60
    start = 0
    killed_in_flight = 0
    for attempt in range(4):
        code = KILLED_WRITER.format(tests=tests_dir, db=db, start=start, n=n)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        lines = []
        # let it commit a couple of cells, then kill at a moment that varies between attempts
        while sum(1 for x in lines if x.startswith("done")) < 2:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            lines.append(line)
        time.sleep(0.01 + 0.037 * attempt)
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
        lines += rest.splitlines()
        assert proc.returncode == -signal.SIGKILL
        done = {int(x.split()[1]) for x in lines if x.startswith("done")}
        began = {int(x.split()[1]) for x in lines if x.startswith("begin")}
        stored = _assert_whole_cells(db, n)
        assert done <= stored  # every committed cell survived the kill
        in_flight = began - done
        # the cell in flight may have committed just before the kill, or be wholly absent
        killed_in_flight += len(in_flight - stored)
        start = max(began) + 1
    assert killed_in_flight >= 1, "no kill landed inside a write; make the cells bigger"
    # the database stays writable after recovery
    with ResultsStore(db) as store:
        assert store.write_cell("crash", "after", {"cell": "after"}, [synthetic_run(0)], wall_time_s=None,
                                seed_iterations_per_second=None, threshold_policy="p") == 1
        assert store.integrity_check() == "ok"
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
