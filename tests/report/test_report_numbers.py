"""Report numbers against an independent hand computation from the same synthetic runs."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from .synth import nac_runs, nau_runs, nmu_runs

from nalm.report import render_csv, render_html, render_markdown, summarize
from nalm.store import ResultsStore


def hand_wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def hand_median(xs: list[float]) -> float:
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def expected_row(runs) -> dict:
    """What the report must say about these runs, computed without nalm."""
    n = len(runs)
    solved = [r for r in runs if r.solved]
    k = len(solved)
    low, high = hand_wilson(k, n)
    solved_at = [float(r.solved_at) for r in solved]
    sparsity = [r.sparsity_error for r in solved]
    extrap = [math.inf if math.isnan(r.extrapolation_mse) else r.extrapolation_mse for r in runs]
    return {
        "n_seeds": n,
        "successes": k,
        "success_rate": k / n,
        "success_ci_low": low,
        "success_ci_high": high,
        "solved_at_median": hand_median(solved_at) if solved_at else None,
        "solved_at_mean_arithmetic": sum(solved_at) / len(solved_at) if solved_at else None,
        "sparsity_error_mean_arithmetic": sum(sparsity) / len(sparsity) if sparsity else None,
        "extrapolation_mse_median": hand_median(extrap),
        "n_diverged": sum(1 for r in runs if r.status == "diverged"),
    }


@pytest.fixture(scope="module")
def cells(synthetic_db: Path):
    with ResultsStore(synthetic_db, readonly=True) as store:
        return summarize(store.runs())


def by_name(cells, suite: str, name: str):
    (match,) = [c for c in cells if c.suite == suite and c.display_name == name]
    return match


def test_cells_are_grouped_by_suite_cell_and_config_in_written_order(cells) -> None:
    names = [(c.suite, c.display_name) for c in cells]
    assert names[0] == ("madsen2020", names[0][1]) and names[0][1].startswith("NMU/mul [")
    assert [n for s, n in names if s == "madsen2020"][1:3] == ["NAU/add", "NAC+/add"]
    nmu = [c for c in cells if c.cell == "NMU/mul" and c.suite == "madsen2020"]
    assert len(nmu) == 2 and nmu[0].config_hash != nmu[1].config_hash  # never pooled
    assert {c.n_seeds for c in nmu} == {20}
    assert [n for s, n in names if s == "primer2022"] == ["NAU/add/a", "NAU/add/b", "NMU/mul/a"]


@pytest.mark.parametrize("suite, cell, make", [
    ("madsen2020", "NAU/add", nau_runs),
    ("madsen2020", "NAC+/add", nac_runs),
    ("primer2022", "NMU/mul/a", nmu_runs),
])
def test_cell_numbers_equal_hand_computation(cells, suite, cell, make) -> None:
    got = by_name(cells, suite, cell)
    want = expected_row(make())
    assert got.n_seeds == want["n_seeds"] and got.successes == want["successes"]
    assert got.n_diverged == want["n_diverged"]
    assert got.success_rate == want["success_rate"]
    assert got.success_ci == pytest.approx((want["success_ci_low"], want["success_ci_high"]), abs=1e-12)
    assert got.solved_at_median == want["solved_at_median"]
    if want["solved_at_mean_arithmetic"] is None:
        assert got.solved_at_mean is None and got.solved_at_fit is None
    else:
        assert got.solved_at_mean == pytest.approx(want["solved_at_mean_arithmetic"])
    if want["sparsity_error_mean_arithmetic"] is None:
        assert got.sparsity_error_mean is None and got.sparsity_error_fit is None
    else:
        assert got.sparsity_error_mean == pytest.approx(want["sparsity_error_mean_arithmetic"])
    assert got.extrapolation_mse_median == want["extrapolation_mse_median"]


def test_csv_equals_hand_computation(cells) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(cells))))
    row = next(r for r in rows if r["suite"] == "primer2022" and r["cell"] == "NMU/mul/a")
    want = expected_row(nmu_runs())
    for key, value in want.items():
        if value is None:
            assert row[key] == "", key
        elif isinstance(value, int):
            assert int(row[key]) == value, key
        else:
            assert float(row[key]) == pytest.approx(value, rel=1e-12, abs=1e-15), key
    assert row["range"] == "U[1,2]" and row["model"] == "NMU" and row["threshold"] == "0.16"
    assert row["published_source"] == ""  # this cell carries no published reference


def test_published_columns_and_flags(cells) -> None:
    nmu = next(c for c in cells if c.suite == "madsen2020" and c.cell == "NMU/mul"
               and c.config["iterations"] == 3000)
    # 16/20 = 80 %, our Wilson ≈ [58 %, 92 %]; published 98 % with the exact interval of sft-short.csv
    assert nmu.published_rate == 0.98
    assert nmu.published_interval is not None
    assert (nmu.published_interval.low, nmu.published_interval.high) == (0.9299882092714561, 0.9944980324498376)
    assert nmu.ours_outside_published is True and nmu.published_outside_ours is True
    nau = by_name(cells, "madsen2020", "NAU/add")  # 20/20 vs 100/100: consistent
    assert nau.ours_outside_published is False and nau.published_outside_ours is False
    nac = by_name(cells, "madsen2020", "NAC+/add")
    assert nac.published is None and nac.ours_outside_published is None
    bad = by_name(cells, "madsen2020", "bad-ref")
    assert bad.published is None and "NoSuchModel" in (bad.published_problem or "")


def test_markdown_and_html_show_the_numbers(cells) -> None:
    md = render_markdown(cells, {"madsen2020": [("strip", "x.png")]})
    low, high = hand_wilson(16, 20)
    nmu_line = next(line for line in md.splitlines() if line.startswith("| NMU/mul [") and "80%" in line)
    assert f"80% [{100 * low:.0f}, {100 * high:.0f}]" in nmu_line
    assert "98% [93, 99]" in nmu_line and "⚠ both outside" in nmu_line
    nau_line = next(line for line in md.splitlines() if line.startswith("| NAU/add |"))
    assert "100% [84, 100]" in nau_line and "✓" in nau_line
    nac_line = next(line for line in md.splitlines() if line.startswith("| NAC+/add |"))
    assert "| — | — |" in nac_line  # no published numbers
    assert "![strip](x.png)" in md
    assert "Gamma-fit mean" in md and "arithmetic mean" in md and "Beta-fit μ" in md
    assert "sft-short.csv" in md  # citation of the published source
    assert "NoSuchModel" in md  # an unresolved reference is reported, not hidden
    primer = md.split("## Suite `primer2022`")[1]
    assert "published" not in primer.split("\n\n")[1].splitlines()[0]  # no published columns there
    page = render_html(cells, {"primer2022": [("heat", "h.png")]})
    assert page.count("<table>") == 2 and 'class="flag"' in page and 'class="ok"' in page
    assert '<img src="h.png"' in page and "http" not in page.replace("http-equiv", "")
