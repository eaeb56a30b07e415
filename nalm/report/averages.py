"""Success pooled over a block's range pairs, beside a published average over the same ranges.

Some papers publish one number per module over all range pairs, e.g. Mistry et al. 2021's abstract:
"NMRU 91.6%" averaged over nine range pairs x 25 seeds (``average_success_rate`` in the published
CSV). A paper's average of per-range rates with equal seeds per range is the pooled rate, so ours is
the pooled k/n of the group's runs with its 95 % Wilson interval. The check is ✓ when the published
average lies inside our interval; otherwise ⚠ with a one-line reason read from the configs: a cut
(fewer iterations than the protocol, fewer range pairs than the published average covers) or, with
nothing cut, a disagreement.

A group is one (suite, block, model, operation) of cells that have a range; groups of one cell are
left out (their row would repeat the cell's). Only a suite whose paper publishes such an average (a
cell cites one) gets the table, for all its blocks; the other suites' reports are as they were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nalm.report.summary import CellSummary
from nalm.stats import wilson_interval

PUBLISHED_AVERAGE = "average_success_rate"
#: How a published task names the number of range pairs its average covers ("9 train/test range pairs").
_RANGES_IN_TASK = re.compile(r"(\d+) train/test range pairs")


@dataclass(frozen=True)
class RangeAverage:
    suite: str
    block: str | None
    model: str | None
    operation: str | None
    ranges: int  # range pairs (cells) pooled
    runs: int
    successes: int
    iterations: tuple[int, ...]  # distinct iterations of the cells (empty when not recorded)
    protocol_iterations: int | None
    published: float | None  # the published average, where a cell cites one
    published_ranges: int | None  # range pairs the published average covers, when its task says
    citation: str | None

    @property
    def rate(self) -> float:
        return self.successes / self.runs

    @property
    def ci(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.runs)

    @property
    def published_inside(self) -> bool | None:
        """The published average lies inside our 95 % interval (None: nothing published)."""
        if self.published is None:
            return None
        low, high = self.ci
        return low - 1e-12 <= self.published <= high + 1e-12

    def reason(self) -> str:
        """Why a ⚠ is not (or is) a disagreement: what this group cut from the protocol."""
        cuts = []
        if self.protocol_iterations and self.iterations and max(self.iterations) < self.protocol_iterations:
            ran = "/".join(f"{i:,}" for i in self.iterations)
            cuts.append(f"{ran} of {self.protocol_iterations:,} iterations")
        if self.published_ranges and self.ranges < self.published_ranges:
            cuts.append(f"{self.ranges} of {self.published_ranges} range pairs")
        if cuts:
            return "cut: " + ", ".join(cuts)
        return "disagreement: the protocol's iterations and range pairs (see the suite's protocol notes)"


def range_averages(cells: Sequence[CellSummary]) -> list[RangeAverage]:
    """The pooled groups of ``cells`` (one suite's; first-seen order), see the module docstring."""
    if not any(c.published is not None and c.published.get(PUBLISHED_AVERAGE) is not None for c in cells):
        return []
    groups: dict[tuple[str, str | None, str | None, str | None], list[CellSummary]] = {}
    for c in cells:
        if c.labels.range is None:
            continue
        block = c.config.get("block")
        key = (c.suite, block if isinstance(block, str) else None, c.labels.model, c.labels.operation)
        groups.setdefault(key, []).append(c)
    out = []
    for (suite, block, model, op), group in groups.items():
        if len(group) < 2:
            continue
        published = citation = None
        published_ranges = None
        for c in group:
            value = c.published.get(PUBLISHED_AVERAGE) if c.published is not None else None
            if value is not None and c.published is not None:
                published, citation = value, c.published.citation
                found = _RANGES_IN_TASK.search(c.published.task)
                published_ranges = int(found.group(1)) if found else None
                break
        iterations = sorted({int(i) for c in group if isinstance(i := c.config.get("iterations"), int)})
        protocols = {p for c in group if isinstance(p := c.config.get("protocol_iterations"), int)}
        out.append(RangeAverage(
            suite=suite, block=block, model=model, operation=op, ranges=len(group),
            runs=sum(c.n_seeds for c in group), successes=sum(c.successes for c in group),
            iterations=tuple(iterations),
            protocol_iterations=protocols.pop() if len(protocols) == 1 else None,
            published=published, published_ranges=published_ranges, citation=citation,
        ))
    return out


def check_text(a: RangeAverage) -> str:
    inside = a.published_inside
    if inside is None:
        return "—"
    return "✓" if inside else f"⚠ {a.reason()}"


HEADERS = ("block", "model", "op", "range pairs", "runs", "success, pooled [95% CI]", "published average",
           "check")


def rows(averages: Sequence[RangeAverage]) -> list[tuple[str, ...]]:
    """The table's cells as text, one tuple per group (columns as :data:`HEADERS`)."""
    out = []
    for a in averages:
        low, high = a.ci
        published = "—" if a.published is None else f"{100 * a.published:.1f}%"
        out.append((
            a.block or "—", a.model or "—", a.operation or "—", str(a.ranges),
            f"{a.successes}/{a.runs}", f"{100 * a.rate:.1f}% [{100 * low:.1f}, {100 * high:.1f}]",
            published, check_text(a),
        ))
    return out
