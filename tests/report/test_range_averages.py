"""Success pooled over a block's range pairs beside a published average (mistry2021's abstract),
checked against a hand computation; the ✓ / ⚠ rule and its one-line reasons."""

from __future__ import annotations

import pytest

from nalm.report import render_html, render_markdown, summarize
from nalm.report.averages import check_text, range_averages
from nalm.store import ResultsStore

from .synth import run
from .test_report_numbers import hand_wilson

IN10 = ("single-module-div in10 (input size 10 subset 0.1; 9 train/test range pairs x 25 seeds = "
        "225 training sets)")
NINE = ["neg20_neg10", "neg2_neg1", "neg1.2_neg1.1", "neg0.2_neg0.1", "neg2_2", "0.1_0.2", "1_2",
        "1.1_1.2", "10_20"]


def _config(block: str, model: str, rng: str, iterations: int, published: str | None) -> dict:
    config = {"block": block, "model": model, "operation": "div", "range": {"name": rng},
              "iterations": iterations, "protocol_iterations": 100_000}
    if published is not None:
        config["published"] = {"source": "mistry2021", "task": IN10, "operation": "div", "model": published,
                               "table": "abstract (arXiv v1)"}
    return config


def _write(store: ResultsStore, suite: str, block: str, model: str, solved: list[int], iterations: int,
           published: str | None, ranges: list[str] = NINE) -> None:
    for rng, k in zip(ranges, solved):
        runs = [run(s, solved=s < k, solved_at=1000 if s < k else None) for s in range(25)]
        store.write_cell(suite, f"{block}/{model}/div/{rng}", _config(block, model, rng, iterations, published),
                         runs, wall_time_s=1.0, seed_iterations_per_second=1.0, threshold_policy="fixed_1e-5")


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("avg") / "avg.db"
    with ResultsStore(db) as store:
        # the protocol's iterations, 206/225 solved: the abstract's 91.6% exactly
        _write(store, "full", "in10", "NMRU", [23] * 8 + [22], 100_000, "NMRU")
        # the protocol's iterations, 150/225: 91.6% far outside our interval, nothing cut
        _write(store, "full", "in10", "Real NPU (modified)", [17] * 6 + [16] * 3, 100_000, "Real NPU (modified)")
        # no published average for this module or for 2 inputs: pooled all the same
        _write(store, "full", "in10", "NRU", [5] * 9, 100_000, None)
        _write(store, "full", "in2", "NMRU", [25] * 9, 50_000, None)
        # a cut: 10,000 iterations and three range pairs
        _write(store, "cut", "in10", "NMRU", [2, 3, 4], 10_000, "NMRU", NINE[:3])
        # one range only: no pooled row; a suite citing no average: no table at all
        _write(store, "cut", "in10", "NRU", [1], 10_000, None, NINE[:1])
        _write(store, "none", "in2", "NMRU", [3, 4], 50_000, None, NINE[:2])
    with ResultsStore(db, readonly=True) as store:
        return summarize(store.runs())


def _by_suite(cells, suite: str) -> dict:
    return {(a.block, a.model): a for a in range_averages([c for c in cells if c.suite == suite])}


def test_pooled_rate_and_interval_are_k_over_n(cells) -> None:
    full = _by_suite(cells, "full")
    assert sorted(full) == [("in10", "NMRU"), ("in10", "NRU"), ("in10", "Real NPU (modified)"), ("in2", "NMRU")]
    nmru = full[("in10", "NMRU")]
    assert (nmru.ranges, nmru.successes, nmru.runs) == (9, 206, 225)
    assert nmru.ci == pytest.approx(hand_wilson(206, 225))
    assert (nmru.published, nmru.published_ranges) == (0.916, 9)
    assert full[("in10", "NRU")].published is None and full[("in2", "NMRU")].rate == 1.0


def test_check_and_reasons(cells) -> None:
    full = _by_suite(cells, "full")
    assert check_text(full[("in10", "NMRU")]) == "✓"
    _, high = hand_wilson(150, 225)
    assert high < 0.853  # the published average lies above our interval, with nothing cut
    assert check_text(full[("in10", "Real NPU (modified)")]) == (
        "⚠ disagreement: the protocol's iterations and range pairs (see the suite's protocol notes)")
    assert check_text(full[("in10", "NRU")]) == "—"
    cut = _by_suite(cells, "cut")
    assert list(cut) == [("in10", "NMRU")]  # the one-range NRU group is no average
    assert (cut[("in10", "NMRU")].successes, cut[("in10", "NMRU")].runs) == (9, 75)
    assert check_text(cut[("in10", "NMRU")]) == "⚠ cut: 10,000 of 100,000 iterations, 3 of 9 range pairs"
    assert _by_suite(cells, "none") == {}


def test_markdown_and_html_show_the_pooled_table(cells) -> None:
    md = render_markdown(cells)
    full = md.split("## Suite `full`")[1].split("## Suite")[0]
    assert "Pooled over the range pairs:" in full
    low, high = hand_wilson(206, 225)
    row = next(line for line in full.splitlines() if line.startswith("| in10 | NMRU | div | 9 |"))
    assert row == f"| in10 | NMRU | div | 9 | 206/225 | 91.6% [{100 * low:.1f}, {100 * high:.1f}] | 91.6% | ✓ |"
    assert "Pooled over the range pairs:" not in md.split("## Suite `none`")[1]
    page = render_html(cells)
    assert page.count("<p>Pooled over the range pairs:</p>") == 2 and "206/225" in page
