"""The report's figures (matplotlib, Agg backend, imported on first use so tables need no matplotlib).

* success-rate heatmaps, one panel per operation, rows = models, columns = ranges (suites with ranges);
* extrapolation-MSE distributions per cell (log scale, box + strip, threshold marked);
* learning curves of selected runs: per cell the successful run with the median solved-at and the first
  unsuccessful run (by seed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nalm.report.summary import CellSummary
from nalm.results import LearningCurve
from nalm.store import StoredRun

CELLS_PER_STRIP_PAGE = 40
CURVE_PANELS_PER_PAGE = 12


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "suite"


def success_heatmap(cells: Sequence[CellSummary], out_dir: Path, stem: str) -> list[tuple[str, str]]:
    """One PNG; empty list when the suite's cells have no model × range labels to lay out."""
    labelled = [c for c in cells if c.labels.model and c.labels.range]
    ranges = list(dict.fromkeys(c.labels.range for c in labelled))
    if not labelled or len(ranges) < 2:
        return []
    ops = list(dict.fromkeys(c.labels.operation or "" for c in labelled))
    models = list(dict.fromkeys(c.labels.model for c in labelled))
    import numpy as np

    plt = _pyplot()
    width = max(4.0, 0.7 * len(ranges) + 2.5)
    height = max(2.0, 0.45 * len(models) + 1.5)
    fig, axes = plt.subplots(1, len(ops), figsize=(width * len(ops), height), squeeze=False)
    image = None
    for ax, op in zip(axes[0], ops):
        grid = np.full((len(models), len(ranges)), np.nan)
        counts = np.zeros_like(grid)
        for c in labelled:
            if (c.labels.operation or "") != op:
                continue
            i, j = models.index(c.labels.model), ranges.index(c.labels.range)
            # several configs in one slot (rare): pool their runs
            k_prev = 0.0 if math.isnan(grid[i, j]) else grid[i, j] * counts[i, j]
            counts[i, j] += c.n_seeds
            grid[i, j] = (k_prev + c.successes) / counts[i, j]
        ax.set_facecolor("0.92")  # grey = no runs for this module and range
        image = ax.imshow(np.ma.masked_invalid(grid), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for i in range(len(models)):
            for j in range(len(ranges)):
                if not math.isnan(grid[i, j]):
                    ax.text(j, i, f"{100 * grid[i, j]:.0f}", ha="center", va="center", fontsize=8,
                            color="white" if grid[i, j] < 0.6 else "black")
        ax.set_xticks(range(len(ranges)), ranges, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(models)), models, fontsize=8)
        ax.set_title(f"{op}" if op else "success rate")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label="success rate", shrink=0.8)
    name = f"{stem}-success-heatmap.png"
    fig.savefig(out_dir / name, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [(f"Success rate per range and module ({stem})", name)]


def extrapolation_distributions(
    cells: Sequence[CellSummary], runs: Callable[[CellSummary], Sequence[StoredRun]], out_dir: Path, stem: str
) -> list[tuple[str, str]]:
    """Per-cell extrapolation MSE at the selected step; non-finite values drawn as × at the right edge."""
    import numpy as np

    plt = _pyplot()
    import matplotlib
    from matplotlib.ticker import NullLocator

    # `vert` is deprecated from matplotlib 3.10, where `orientation` arrived
    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    horizontal: dict[str, Any] = {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}
    out = []
    pages = [cells[i: i + CELLS_PER_STRIP_PAGE] for i in range(0, len(cells), CELLS_PER_STRIP_PAGE)]
    rng = np.random.default_rng(0)  # jitter only; fixed so reports are reproducible
    for page_no, page in enumerate(pages, 1):
        values = []
        for c in page:
            mse = np.array([r.result.extrapolation_mse for r in runs(c)], dtype=float)
            values.append(mse)
        finite_all = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values] + [np.array([])])
        thresholds = [t for c in page for t in c.thresholds if t > 0]
        pool = np.concatenate([finite_all, np.array(thresholds)])
        lo = float(pool.min()) if pool.size else 1e-12
        hi = float(pool.max()) if pool.size else 1.0
        edge = hi * 100 if hi > 0 else 1.0
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(page) + 1.5))
        for i, (c, v) in enumerate(zip(page, values)):
            y = len(page) - 1 - i
            good = v[np.isfinite(v) & (v > 0)]
            zero = v[v == 0]
            bad = v[~np.isfinite(v)]
            if good.size:
                ax.boxplot(good, positions=[y], widths=0.6, showfliers=False, **horizontal,
                           medianprops={"color": "black"}, boxprops={"color": "0.5"},
                           whiskerprops={"color": "0.5"}, capprops={"color": "0.5"})
                ax.scatter(good, y + rng.uniform(-0.2, 0.2, good.size), s=8, alpha=0.6, color="tab:blue")
            if zero.size:
                ax.scatter(np.full(zero.size, lo / 10), y + rng.uniform(-0.2, 0.2, zero.size), s=10,
                           marker="|", color="tab:green")
            if bad.size:
                ax.scatter(np.full(bad.size, edge), y + rng.uniform(-0.2, 0.2, bad.size), s=14,
                           marker="x", color="tab:red")
            for t in c.thresholds:
                ax.plot([t, t], [y - 0.4, y + 0.4], color="tab:orange", linewidth=2)
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yticks(range(len(page)), [c.display_name for c in reversed(page)], fontsize=8)
        ax.set_xlabel("extrapolation MSE at the selected step (orange: threshold, red ×: NaN/∞)")
        ax.set_ylim(-0.7, len(page) - 0.3)
        name = f"{stem}-extrapolation-mse" + (f"-{page_no}" if len(pages) > 1 else "") + ".png"
        fig.savefig(out_dir / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        out.append((f"Extrapolation error per cell ({stem}{f', part {page_no}' if len(pages) > 1 else ''})",
                    name))
    return out


def select_runs(runs: Sequence[StoredRun]) -> list[tuple[str, StoredRun]]:
    """The runs whose curves are drawn: the median-solved successful run and the first failure."""
    chosen = []
    solved = sorted((r for r in runs if r.result.solved and r.result.solved_at is not None),
                    key=lambda r: (r.result.solved_at, r.result.seed))
    if solved:
        chosen.append(("median solved", solved[(len(solved) - 1) // 2]))
    failed = sorted((r for r in runs if not r.result.solved), key=lambda r: r.result.seed)
    if failed:
        chosen.append(("unsuccessful", failed[0]))
    return chosen


def learning_curves(
    cells: Sequence[CellSummary],
    runs: Callable[[CellSummary], Sequence[StoredRun]],
    curve: Callable[[int], LearningCurve],
    out_dir: Path,
    stem: str,
) -> list[tuple[str, str]]:
    import numpy as np

    plt = _pyplot()
    from matplotlib.ticker import NullLocator

    panels = []
    for c in cells:
        picks = [(label, r, curve(r.id)) for label, r in select_runs(runs(c))]
        picks = [p for p in picks if p[2].step]
        if picks:
            panels.append((c, picks))
    out = []
    pages = [panels[i: i + CURVE_PANELS_PER_PAGE] for i in range(0, len(panels), CURVE_PANELS_PER_PAGE)]
    for page_no, page in enumerate(pages, 1):
        ncols = min(3, len(page))
        nrows = math.ceil(len(page) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
        for ax in axes.flat[len(page):]:
            ax.set_visible(False)
        for ax, (c, picks) in zip(axes.flat, page):
            for label, r, lc in picks:
                color = "tab:blue" if r.result.solved else "tab:red"
                steps = np.asarray(lc.step)
                for values, style, kind in ((lc.extrapolation_mse, "-", "extrap."),
                                            (lc.interpolation_mse, ":", "interp.")):
                    v = np.asarray(values, dtype=float)
                    v = np.where(np.isfinite(v) & (v > 0), v, np.nan)  # log axis: gaps for NaN/∞/0
                    ax.plot(steps, v, style, color=color, linewidth=1,
                            label=f"{label}, seed {r.result.seed}" if kind == "extrap." else None)
            for t in c.thresholds:
                ax.axhline(t, color="tab:orange", linewidth=1, linestyle="--")
            ax.set_yscale("log")
            ax.yaxis.set_minor_locator(NullLocator())  # log minor ticks dominate the drawing time
            ax.set_title(c.display_name, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=6, loc="upper right")  # loc="best" costs seconds per panel
        # fixed spacing: tight_layout measures every tick label and costs seconds per page
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.06, top=0.95, wspace=0.25, hspace=0.45)
        name = f"{stem}-learning-curves" + (f"-{page_no}" if len(pages) > 1 else "") + ".png"
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        out.append((f"Learning curves of selected runs ({stem}{f', part {page_no}' if len(pages) > 1 else ''}; "
                    "solid: extrapolation MSE, dotted: interpolation MSE, dashed orange: threshold)", name))
    return out
