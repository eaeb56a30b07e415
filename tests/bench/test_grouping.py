"""Cells of one shape trained in one batch (``group_runs``): same rows as cell by cell, values to
rounding, per-cell wall times that add up, and a failing batch recorded cell by cell."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from .helpers import stored_rows, write_suite

from nalm.bench.plan import plan_cells
from nalm.bench.runner import _batches, run_cells
from nalm.bench.schema import load_suite
from nalm.store import ResultsStore


def _cells(suite_path: Path):
    return plan_cells(load_suite(str(suite_path)), "quick")


def _run(suite_path: Path, db: Path, group_runs: int | None):
    return run_cells(_cells(suite_path), db, progress=False, echo=lambda _: None, group_runs=group_runs)


def test_batches_group_equal_shapes_up_to_the_limit(tmp_path: Path) -> None:
    cells = _cells(write_suite(tmp_path))  # NAU and NALU, each on + and - over two ranges, 3 seeds
    todo = [(c, c.seeds) for c in cells]
    assert [len(b) for b in _batches(todo, None)] == [1] * 8
    models = lambda batches: [{c.model for c, _ in b} for b in batches]  # noqa: E731
    assert models(_batches(todo, 12)) == [{"NAU"}, {"NALU"}]  # 4 cells x 3 seeds each
    by_six = _batches(todo, 6)
    assert [len(b) for b in by_six] == [2, 2, 2, 2] and all(len(m) == 1 for m in models(by_six))
    assert [len(b) for b in _batches(todo, 2)] == [1] * 8  # a cell larger than the limit trains whole


def test_grouped_suite_stores_what_cell_by_cell_stores(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    alone, grouped = tmp_path / "alone.db", tmp_path / "grouped.db"
    first = _run(suite, alone, None)
    second = _run(suite, grouped, 100)
    assert first.count("run") == second.count("run") == 8
    a, b = stored_rows(alone), stored_rows(grouped)
    assert a.keys() == b.keys() and len(a) == 8 * 3 * 2  # cells x seeds x policies
    for key in a:
        ra, rb = a[key], b[key]
        # status, solved, solved_at, selected_step equal; errors to float32 rounding
        assert ra[:4] == rb[:4], key
        for x, y in zip(ra[4:7], rb[4:7]):
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-4, abs=1e-12)
        assert ra[7:11] == rb[7:11] and ra[11] == rb[11]  # threshold, policy, iterations, curve steps
    # the batch's wall time is shared out, not counted once per cell
    assert sum(o.wall_time_s for o in second.outcomes) <= second.wall_time_s
    with ResultsStore(grouped, readonly=True) as store:
        assert len(store.runs("tiny")) == 8 * 3


def test_a_failing_batch_fails_each_of_its_cells(tmp_path: Path, monkeypatch) -> None:
    import nalm.training as training

    real = training.train_groups

    def flaky(spec, groups, recipe, **kwargs):
        if spec.units == ("nalu",):
            raise RuntimeError("simulated out-of-memory")
        return real(spec, groups, recipe, **kwargs)

    monkeypatch.setattr(training, "train_groups", flaky)
    result = _run(write_suite(tmp_path), tmp_path / "f.db", 100)
    assert result.count("failed") == 4 and result.count("run") == 4
    assert all("NALU" in o.cell.id for o in result.outcomes if o.status == "failed")
    with ResultsStore(tmp_path / "f.db", readonly=True) as store:
        statuses = [r.result.status for r in store.runs("tiny") if "NALU" in r.cell]
        assert statuses == ["failed"] * 12


def test_cli_groups_by_default_on_cuda_only() -> None:
    from nalm.cli.bench import CUDA_GROUP_RUNS, resolve_group_runs

    assert resolve_group_runs(None, "cpu") is None  # CPU tables reproduce bit for bit
    assert resolve_group_runs(None, "cuda") == CUDA_GROUP_RUNS == 1000
    assert resolve_group_runs(1, "cuda") == 1  # --group-runs 1: every cell on its own
    assert resolve_group_runs(50, "cpu") == 50
