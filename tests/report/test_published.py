"""The packaged published numbers: typed rows, lookups, and the Wilson intervals behind them."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from nalm.published import (
    PublishedLookupError,
    published_cell,
    published_entry,
    published_from_config,
    published_rows,
    published_success_interval,
    published_threshold,
)
from nalm.stats import wilson_interval


def test_rows_are_the_packaged_csv_typed() -> None:
    text = resources.files("nalm").joinpath("data/published_results.csv").read_text(encoding="utf-8")
    raw = list(csv.DictReader(text.splitlines()))
    rows = published_rows()
    assert len(rows) == len(raw) > 1000
    for r, d in zip(rows, raw):
        assert (r.source, r.table, r.model, r.metric, r.where) == (d["source"], d["table"], d["model"],
                                                                   d["metric"], d["where"])
        assert r.value == float(d["value"])
        assert r.n_seeds == (int(d["n_seeds"]) if d["n_seeds"] else None)


def test_madsen_appendix_nmu_mul_known_rows() -> None:
    # rows of published_results.csv: appendix-all and its full-precision variant
    printed = published_cell("madsen2020", "static-100", "mul", "NMU", table="appendix-all (full precision)")
    assert printed["success_rate"] == 0.98
    assert printed["success_ci_low"] == 0.9299882092714561
    assert printed["success_ci_high"] == 0.9944980324498376
    assert printed["solved_at_median"] == 1434500

    only_printed = published_entry("madsen2020", "static-100", "mul", "NMU", table="appendix-all")
    # naming a table takes its full-precision variant too; the printed-only metrics stay
    assert only_printed.metrics["solved_at_median"] == 1434500
    assert only_printed.metrics["sparsity_error_mean"] == 4.2e-07
    assert only_printed.metric_table["sparsity_error_mean"] == "appendix-all"

    merged = published_entry("madsen2020", "static-100", "mul", "NMU")
    assert merged.metrics["success_rate"] == 0.98
    assert merged.metrics["solved_at_median"] == 1434500  # full precision preferred over the printed 1.4e6
    assert merged.metrics["solved_at_mean"] == 1500000
    assert merged.n_seeds == 100
    assert "AndreasMadsen/stable-nalu:paper/results/sft-short.csv" in merged.where
    assert "madsen2020" in merged.citation


def test_nau_add_and_thresholds() -> None:
    assert published_cell("madsen2020", "static-100", "add", "NAU")["success_rate"] == 1.0
    assert published_threshold("static-100", "mul") == 0.160010658743333
    assert published_threshold("static-100", "add") == 1.47861742158438e-05


def test_tables_that_disagree_need_a_table() -> None:
    # "Gated NAU/NMU" names two different experiments in the appendix and the gating table
    with pytest.raises(PublishedLookupError, match="disagree"):
        published_cell("madsen2020", "static-100", "mul", "Gated NAU/NMU")
    assert published_cell("madsen2020", "static-100", "mul", "Gated NAU/NMU", table="gating")["success_rate"] == 0.62
    assert published_cell("madsen2020", "static-100", "mul", "Gated NAU/NMU", table="appendix-all")["success_rate"] == 0


@pytest.mark.parametrize(
    "ref",
    [
        {"source": "madsen2020", "task": "static-100", "operation": "mul", "model": "NoSuchUnit"},
        {"source": "madsen2020", "task": "static-100", "operation": "mul"},
        {"source": "madsen2020", "task": "static-100", "operation": "mul", "model": "NMU", "extra": 1},
        {"source": "madsen2020", "task": "static-100", "operation": "mul", "model": "NMU", "table": "nope"},
    ],
)
def test_bad_references(ref: dict) -> None:
    with pytest.raises(PublishedLookupError):
        published_from_config(ref)


def _cells_with(metric: str) -> list[tuple[str, str, str, str, str]]:
    return sorted({(r.source, r.task, r.operation, r.model, r.table) for r in published_rows() if r.metric == metric})


def test_our_wilson_reproduces_every_full_precision_interval() -> None:
    # sft-short.csv holds R's binom.confint(method="wilson") output at full precision
    cells = _cells_with("success_ci_low")
    assert len(cells) >= 50
    for key in cells:
        metrics = published_cell(*key[:4], table=key[4])
        k = round(metrics["success_rate"] * 100)
        low, high = wilson_interval(k, 100)
        assert low == pytest.approx(metrics["success_ci_low"], abs=1e-12), key
        assert high == pytest.approx(metrics["success_ci_high"], abs=1e-12), key


def test_interval_of_printed_tables_matches_their_rounded_offsets() -> None:
    checked = 0
    for key in _cells_with("success_ci_plus"):
        cell = published_entry(*key[:4], table=key[4])
        if key[4].endswith("(full precision)") or cell.n_seeds is None:
            continue
        interval = published_success_interval(cell)
        assert interval is not None
        rate = cell.metrics["success_rate"]
        assert round(interval.high - rate, 2) == cell.metrics["success_ci_plus"], key
        assert round(rate - interval.low, 2) == cell.metrics["success_ci_minus"], key
        checked += 1
    assert checked >= 80
