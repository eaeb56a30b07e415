"""Wilson score intervals against the published check values and Madsen's stored summaries."""

from __future__ import annotations

import csv
from collections import defaultdict
from importlib.resources import files

import pytest

from nalm.stats import wilson_interval


@pytest.mark.parametrize(
    "k, n, low, high",
    [(0, 100, 0.0, 0.03699), (98, 100, 0.92999, 0.99450), (93, 100, 0.86250, 0.96568)],
)
def test_check_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=5e-6)
    assert hi == pytest.approx(high, abs=5e-6)


def test_published_plus_minus_for_98_of_100() -> None:
    lo, hi = wilson_interval(98, 100)
    assert round((hi - 0.98) * 100) == 1 and round((0.98 - lo) * 100) == 5


def test_matches_every_full_precision_row_of_the_published_table() -> None:
    cells: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    n_seeds: dict[tuple[str, str], int] = {}
    with files("nalm").joinpath("data/published_results.csv").open() as fh:
        for r in csv.DictReader(fh):
            if r["table"] != "appendix-all (full precision)":
                continue
            key = (r["operation"], r["model"])
            cells[key][r["metric"]] = float(r["value"])
            n_seeds[key] = int(r["n_seeds"])
    checked = 0
    for key, m in cells.items():
        if not {"success_rate", "success_ci_low", "success_ci_high"} <= m.keys():
            continue
        n = n_seeds[key]
        k = round(m["success_rate"] * n)
        assert k / n == pytest.approx(m["success_rate"], abs=1e-12)
        lo, hi = wilson_interval(k, n)
        assert lo == pytest.approx(m["success_ci_low"], abs=1e-12), key
        assert hi == pytest.approx(m["success_ci_high"], abs=1e-12), key
        checked += 1
    assert checked >= 50


def test_edges_and_errors() -> None:
    assert wilson_interval(0, 1)[0] == 0.0 and wilson_interval(1, 1)[1] == 1.0
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(1 - hi, abs=1e-15)
    with pytest.raises(ValueError, match="trials must be positive"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes must be in"):
        wilson_interval(11, 10)
