"""`nalm bench --executor ray` on a local Ray cluster: the same rows as the local executor, a killed
worker retried, a killed driver resumed, and bad input answered with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nalm.bench.plan import plan_cells
from nalm.bench.runner import run_cells
from nalm.bench.schema import load_suite

from .helpers import ENV, count_cells, run_cli, run_main, stored_rows, write_suite

ray = pytest.importorskip("ray", reason="Ray is in the dev extra; CI installs it")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance (2 CPUs) for the in-process tests of this module."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    if started:
        ray.shutdown()


def _cells(suite_path: Path):
    return plan_cells(load_suite(str(suite_path)), "quick")


def test_ray_stores_the_same_rows_as_the_local_executor(local_ray, tmp_path: Path) -> None:
    from nalm.bench.ray_executor import RayExecutor

    suite = write_suite(tmp_path)
    local_db, ray_db = tmp_path / "local.db", tmp_path / "ray.db"
    run_cells(_cells(suite), local_db, progress=False, echo=lambda _: None)
    result = run_cells(_cells(suite), ray_db, progress=False, echo=lambda _: None,
                       executor=RayExecutor())
    assert result.count("run") == 8 and result.count("failed") == 0
    assert stored_rows(ray_db) == stored_rows(local_db)
    # grouped batches are units too
    grouped_local, grouped_ray = tmp_path / "gl.db", tmp_path / "gr.db"
    run_cells(_cells(suite), grouped_local, progress=False, echo=lambda _: None, group_runs=6)
    run_cells(_cells(suite), grouped_ray, progress=False, echo=lambda _: None, group_runs=6,
              executor=RayExecutor())
    assert stored_rows(grouped_ray) == stored_rows(grouped_local)


def _dying_task(marker: str, always: bool = False):  # noqa: ANN202
    """A worker function that SIGKILLs its own process the first time a unit arrives (mid-unit; every
    time with ``always``) and trains it otherwise. A closure, so Ray ships it by value."""

    def task(unit, device, compile, cuda_graph, threads):  # noqa: ANN001, ANN202
        from nalm.bench.ray_executor import _train_on_worker

        if always or not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return _train_on_worker(unit, device, compile, cuda_graph, threads)

    return task


def test_a_killed_worker_is_retried_and_every_run_stored_once(local_ray, tmp_path: Path) -> None:
    from nalm.bench.ray_executor import RayExecutor

    suite = write_suite(tmp_path)
    marker = tmp_path / "killed-once"
    executor = RayExecutor()
    executor._remote = local_ray.remote(num_cpus=1, max_retries=2, retry_exceptions=False)(
        _dying_task(str(marker))
    )
    db, local_db = tmp_path / "ray.db", tmp_path / "local.db"
    result = run_cells(_cells(suite), db, progress=False, echo=lambda _: None, executor=executor)
    assert marker.exists(), "no worker was killed"
    assert result.count("failed") == 0 and result.count("run") == 8
    run_cells(_cells(suite), local_db, progress=False, echo=lambda _: None)
    assert stored_rows(db) == stored_rows(local_db)  # stored_rows raises on a duplicated run


def test_a_unit_whose_worker_keeps_dying_is_recorded_as_failed(local_ray, tmp_path: Path) -> None:
    from nalm.bench.ray_executor import RayExecutor

    suite = write_suite(tmp_path)
    executor = RayExecutor()
    executor._remote = local_ray.remote(num_cpus=1, max_retries=1, retry_exceptions=False)(
        _dying_task(str(tmp_path / "marker"), always=True)
    )
    cells = _cells(suite)[:2]
    db = tmp_path / "r.db"
    result = run_cells(cells, db, progress=False, echo=lambda _: None, executor=executor)
    assert result.count("failed") == 2 and result.count("run") == 0
    assert all(o.error for o in result.outcomes)
    rows = stored_rows(db)
    assert rows and {row[0] for row in rows.values()} == {"failed"}  # recorded, not lost


def test_a_killed_driver_resumes_to_the_same_database(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    reference = tmp_path / "reference.db"
    proc = run_cli("bench", str(suite), "--db", str(reference), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "ray.db"
    driver = subprocess.Popen(
        [sys.executable, "-m", "nalm.cli.main", "bench", str(suite), "--db", str(db), "--no-progress",
         "--executor", "ray"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
    )
    try:
        deadline = time.monotonic() + 180
        while count_cells(db) < 2 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert driver.poll() is None, "the suite finished before the kill"
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    at_kill = stored_rows(db)
    assert 0 < len(at_kill) < len(stored_rows(reference))
    resumed = run_cli("bench", str(suite), "--db", str(db), "--no-progress", "--executor", "ray")
    assert resumed.returncode == 0, resumed.stderr
    final = stored_rows(db)
    assert at_kill.items() <= final.items()
    assert final == stored_rows(reference)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--executor", "ray", "--address", "127.0.0.1:1"), "--address: cannot reach the Ray head"),
        (("--executor", "ray", "--address", "no-port"), "--address: expected auto or HOST:PORT"),
        (("--executor", "ray", "--cpus-per-task", "0"), "--cpus-per-task: must be positive"),
        (("--cpus-per-task", "2"), "need --executor ray"),
    ],
)
def test_bad_input_one_line_and_nothing_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    suite = write_suite(tmp_path)
    db = tmp_path / "r.db"
    code, out, err = run_main(capsys, "bench", str(suite), "--db", str(db), *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not db.exists()


def test_ray_not_installed(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    suite = write_suite(tmp_path)
    db = tmp_path / "r.db"
    code, _, err = run_main(capsys, "bench", str(suite), "--db", str(db), "--executor", "ray")
    assert code == 2 and "Ray is not installed; pip install 'nalm[ray]'" in err
    assert not db.exists()
