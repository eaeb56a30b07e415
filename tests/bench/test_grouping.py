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
from nalm.store.records import config_hash


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


def test_the_cli_groups_by_default_and_1_means_cell_by_cell() -> None:
    from nalm.cli.bench import CPU_GROUP_RUNS, CUDA_GROUP_RUNS, resolve_group_runs

    assert resolve_group_runs(None, "cpu") == CPU_GROUP_RUNS == 100
    assert resolve_group_runs(None, "cuda") == CUDA_GROUP_RUNS == 1000
    assert resolve_group_runs(1, "cuda") is None  # --group-runs 1: every cell on its own
    assert resolve_group_runs(50, "cpu") == 50


def _stored(db: Path, cells=None) -> dict:
    """The stored rows, of ``cells`` only when given."""
    rows = stored_rows(db)
    if cells is None:
        return rows
    hashes = {config_hash(config) for c in cells for _, config in c.configs.values()}
    return {k: v for k, v in rows.items() if k[0] in hashes}


def test_a_selection_or_a_resume_stores_the_bits_the_whole_suite_stores(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    plan = _cells(suite)
    whole, part = tmp_path / "whole.db", tmp_path / "part.db"
    run_cells(plan, whole, progress=False, echo=lambda _: None, group_runs=100)

    selected = plan_cells(load_suite(str(suite)), "quick", only="model=NAU,op=add")
    ids = {c.id for c in selected}
    hashes = {config_hash(config) for c in selected for _, config in c.configs.values()}
    assert len(ids) == 2  # NAU on + over two ranges; its batch also holds NAU on -
    first = run_cells(selected, part, progress=False, echo=lambda _: None, group_runs=100, plan=plan)
    assert {o.cell.id for o in first.outcomes} == ids  # the batch-mates trained, not written
    stored = _stored(part)
    assert {k[0] for k in stored} == hashes and len(stored) == 2 * 3 * 2  # cells x seeds x policies
    assert stored == _stored(whole, selected)  # bit for bit: errors, curves, thresholds

    # The rest of the suite: NAU on - trains beside the stored NAU on +, which is not rewritten.
    rest = run_cells(plan, part, progress=False, echo=lambda _: None, group_runs=100)
    assert rest.count("skipped") == 2 and rest.count("run") == 6
    assert _stored(part) == _stored(whole)

    # Without the plan the selection is its own batch: the same successes (last bits may differ).
    alone = tmp_path / "alone.db"
    run_cells(selected, alone, progress=False, echo=lambda _: None, group_runs=100)
    assert {k: v[:4] for k, v in _stored(alone).items()} == {k: v[:4] for k, v in stored.items()}


def test_group_runs_1_trains_cell_by_cell(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    _run(suite, tmp_path / "none.db", None)
    _run(suite, tmp_path / "one.db", 1)
    assert _stored(tmp_path / "none.db") == _stored(tmp_path / "one.db")
