"""The report's figures (matplotlib, Agg backend, imported on first use so tables need no matplotlib).

* success-rate heatmaps, one panel per operation, rows = models, columns = ranges (suites with ranges);
* extrapolation-MSE distributions per cell (log scale, box + strip, threshold marked);
* learning curves of selected runs: per cell the successful run with the median solved-at and the first
  unsuccessful run (by seed).

Each figure reads without the code: a title, axis labels that name the quantity and the scale, and a key
to every colour, line style and marker.
"""

# matplotlib is imported inside the functions (_pyplot): it takes seconds to load; tables need none of it.

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nalm.report.summary import CellSummary
from nalm.results import LearningCurve
from nalm.store import StoredRun

CELLS_PER_STRIP_PAGE = 40
CURVE_PANELS_PER_PAGE = 12
HEATMAP_MAX_WIDTH_IN = 16.0  # wider rows of panels stack instead


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "suite"


def _key(plt_lines: Any, patches: Any, entries: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Legend handles for things drawn in many places (one entry per encoding, not per artist)."""
    out = []
    for label, style in entries:
        style = dict(style)
        if style.pop("patch", False):
            out.append(patches.Patch(label=label, **style))
        else:
            out.append(plt_lines.Line2D([], [], label=label, **style))
    return out


def success_heatmap(cells: Sequence[CellSummary], out_dir: Path, stem: str) -> list[tuple[str, str]]:
    """One PNG; empty list when the suite's cells have no model × range labels to lay out."""
    labelled = [c for c in cells if c.labels.model and c.labels.range]
    ranges = list(dict.fromkeys(c.labels.range for c in labelled))
    if not labelled or len(ranges) < 2:
        return []
    ops = list(dict.fromkeys(c.labels.operation or "" for c in labelled))
    models = list(dict.fromkeys(c.labels.model for c in labelled))

    plt = _pyplot()
    panel_w = max(4.0, 0.75 * len(ranges) + 2.0)
    panel_h = max(1.2, 0.5 * len(models) + 0.6)
    ncols = max(1, min(len(ops), int(HEATMAP_MAX_WIDTH_IN // panel_w)))  # wide panels stack
    nrows = math.ceil(len(ops) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols + 1.2, panel_h * nrows + 1.8),
                             squeeze=False, constrained_layout=True)
    for ax in axes.flat[len(ops):]:
        ax.set_visible(False)
    image = None
    for index, (ax, op) in enumerate(zip(axes.flat, ops)):
        runs = np.zeros((len(models), len(ranges)))
        wins = np.zeros_like(runs)
        for c in labelled:
            if (c.labels.operation or "") != op:
                continue
            # several configs in one slot (rare): pool their runs
            i, j = models.index(c.labels.model), ranges.index(c.labels.range)
            runs[i, j] += c.n_seeds
            wins[i, j] += c.successes
        pct = np.full_like(runs, np.nan)
        np.divide(100 * wins, runs, out=pct, where=runs > 0)
        ax.set_facecolor("0.92")  # grey = no runs for this model and range
        image = ax.imshow(np.ma.masked_invalid(pct), vmin=0, vmax=100, cmap="viridis", aspect="auto")
        for i in range(len(models)):
            for j in range(len(ranges)):
                if runs[i, j] > 0:
                    ax.text(j, i, f"{pct[i, j]:.0f}%\n{wins[i, j]:.0f}/{runs[i, j]:.0f}", ha="center",
                            va="center", fontsize=7, linespacing=1.1,
                            color="white" if pct[i, j] < 60 else "black")
        # every panel has the same rows and columns: name them at the outer edges only
        ax.set_xticks(range(len(ranges)), ranges if index + ncols >= len(ops) else [], rotation=45, ha="right",
                      fontsize=8)
        ax.set_yticks(range(len(models)), models if index % ncols == 0 else [], fontsize=8)
        if index + ncols >= len(ops):
            ax.set_xlabel("input range", fontsize=9)
        if index % ncols == 0:
            ax.set_ylabel("model", fontsize=9)
        ax.set_title(f"operation: {op}" if op else "all operations", fontsize=10)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label="success rate (% of runs)", shrink=0.8)
    fig.suptitle(f"Success rate per model and input range: {stem}\n"
                 "each square: % of runs solved, solved/runs below; grey: not run", fontsize=10)
    name = f"{stem}-success-heatmap.png"
    fig.savefig(out_dir / name, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [(f"Success rate per input range and model ({stem})", name)]


def extrapolation_distributions(
    cells: Sequence[CellSummary], runs: Callable[[CellSummary], Sequence[StoredRun]], out_dir: Path, stem: str
) -> list[tuple[str, str]]:
    """Per-cell extrapolation MSE at the selected step; non-finite values drawn as × at the right edge."""

    plt = _pyplot()
    import matplotlib
    from matplotlib import lines, patches
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
        any_zero = any_bad = False
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
                any_zero = True
                ax.scatter(np.full(zero.size, lo / 10), y + rng.uniform(-0.2, 0.2, zero.size), s=10,
                           marker="|", color="tab:green")
            if bad.size:
                any_bad = True
                ax.scatter(np.full(bad.size, edge), y + rng.uniform(-0.2, 0.2, bad.size), s=14,
                           marker="x", color="tab:red")
            for t in c.thresholds:
                ax.plot([t, t], [y - 0.4, y + 0.4], color="tab:orange", linewidth=2)
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yticks(range(len(page)), [f"{c.display_name} (n={len(v)})" for c, v in
                                         zip(reversed(page), reversed(values))], fontsize=8)
        ax.set_ylim(-0.7, len(page) - 0.3)
        ax.set_xlabel("extrapolation MSE at the selected step (the step of lowest interpolation MSE), log scale",
                      fontsize=9)
        ax.set_ylabel("cell (n = runs)", fontsize=9)
        part = f", part {page_no} of {len(pages)}" if len(pages) > 1 else ""
        ax.set_title(f"Extrapolation error of every run, per cell: {stem}{part}", fontsize=10)
        entries: list[tuple[str, dict[str, Any]]] = [
            ("one run", {"marker": "o", "linestyle": "", "color": "tab:blue", "alpha": 0.6, "markersize": 4}),
            ("box: quartiles, bar: median,\nwhiskers: to 1.5 × IQR",
             {"patch": True, "facecolor": "white", "edgecolor": "0.5"}),
            ("success threshold\n(solved: strictly below)", {"color": "tab:orange", "linewidth": 2}),
        ]
        if any_zero:
            entries.append(("MSE exactly 0\n(drawn at the left edge)",
                            {"marker": "|", "linestyle": "", "color": "tab:green", "markersize": 8}))
        if any_bad:
            entries.append(("NaN/∞: diverged or failed\n(drawn at the right edge)",
                            {"marker": "x", "linestyle": "", "color": "tab:red", "markersize": 6}))
        ax.legend(handles=_key(lines, patches, entries), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  fontsize=7, frameon=False, borderaxespad=0.0)
        name = f"{stem}-extrapolation-mse" + (f"-{page_no}" if len(pages) > 1 else "") + ".png"
        fig.savefig(out_dir / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        out.append((f"Extrapolation error per cell ({stem}{part})", name))
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


#: figure-level key of the learning-curve pages: (label, Line2D style)
CURVE_KEY: tuple[tuple[str, dict[str, Any]], ...] = (
    ("solid: extrapolation MSE (test inputs outside the training range)", {"color": "0.2", "linestyle": "-"}),
    ("dotted: interpolation MSE (test inputs inside the training range)", {"color": "0.2", "linestyle": ":"}),
    ("dashed orange: success threshold on the extrapolation MSE", {"color": "tab:orange", "linestyle": "--"}),
    ("blue: successful run with the median solved-at step", {"color": "tab:blue", "linewidth": 3}),
    ("red: the unsuccessful run with the lowest seed", {"color": "tab:red", "linewidth": 3}),
    ("circle: selected step (lowest interpolation MSE), where success is judged",
     {"color": "0.2", "marker": "o", "markerfacecolor": "none", "linestyle": ""}),
)


def _run_label(label: str, r: StoredRun) -> str:
    res = r.result
    text = f"{'blue' if res.solved else 'red'}: seed {res.seed}, "
    if res.solved:
        text += f"solved at step {res.solved_at:,}" if res.solved_at is not None else "solved"
        return text + (" (the median)" if label == "median solved" else "")
    if res.status == "diverged":
        return text + "not solved, diverged" + (f" at step {res.diverged_at:,}" if res.diverged_at else "")
    return text + "not solved"


def learning_curves(
    cells: Sequence[CellSummary],
    runs: Callable[[CellSummary], Sequence[StoredRun]],
    curve: Callable[[int], LearningCurve],
    out_dir: Path,
    stem: str,
) -> list[tuple[str, str]]:

    plt = _pyplot()
    from matplotlib import lines, patches
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
        key_cols = 2 if ncols >= 2 else 1
        key_rows = math.ceil(len(CURVE_KEY) / key_cols)
        # every length in inches, so titles, key and labels never overlap whatever the page's shape
        panel_w, panel_h = 4.4, 3.3
        head = 0.45 + 0.2 * key_rows  # title + key
        width = max(panel_w * ncols, 6.0 if ncols == 1 else 0.0)
        height = head + panel_h * nrows + 0.1
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
        for ax in axes.flat[len(page):]:
            ax.set_visible(False)
        for ax, (c, picks) in zip(axes.flat, page):
            for k, (label, r, lc) in enumerate(reversed(picks)):  # which run is which, over the panel
                color = "tab:blue" if r.result.solved else "tab:red"
                ax.annotate(_run_label(label, r), (0.5, 1.0), xycoords="axes fraction", xytext=(0, 3 + 8.5 * k),
                            textcoords="offset points", ha="center", va="bottom", fontsize=6.5, color=color)
            for label, r, lc in picks:
                color = "tab:blue" if r.result.solved else "tab:red"
                steps = np.asarray(lc.step)
                extrap = np.asarray(lc.extrapolation_mse, dtype=float)
                extrap = np.where(np.isfinite(extrap) & (extrap > 0), extrap, np.nan)  # log axis: gaps
                interp = np.asarray(lc.interpolation_mse, dtype=float)
                interp = np.where(np.isfinite(interp) & (interp > 0), interp, np.nan)
                ax.plot(steps, extrap, "-", color=color, linewidth=1.1)
                ax.plot(steps, interp, ":", color=color, linewidth=1.1)
                at = np.flatnonzero(steps == r.result.selected_step)
                if at.size and np.isfinite(extrap[at[0]]):
                    ax.plot(steps[at[0]], extrap[at[0]], "o", markerfacecolor="none", markeredgecolor=color,
                            markersize=6)
            for t in c.thresholds:
                ax.axhline(t, color="tab:orange", linewidth=1, linestyle="--")
            ax.set_yscale("log")
            ax.yaxis.set_minor_locator(NullLocator())  # log minor ticks dominate the drawing time
            ax.set_title(c.display_name, fontsize=9, pad=5 + 8.5 * len(picks))
            ax.set_xlabel("training step (iteration)", fontsize=8)
            ax.set_ylabel("MSE (log scale)", fontsize=8)
            ax.tick_params(labelsize=7)
        part = f", part {page_no} of {len(pages)}" if len(pages) > 1 else ""
        fig.suptitle(f"Learning curves of selected runs: {stem}{part}", fontsize=11,
                     y=1 - 0.08 / height, va="top")
        fig.legend(handles=_key(lines, patches, CURVE_KEY), loc="upper center",
                   bbox_to_anchor=(0.5, 1 - 0.38 / height), ncol=key_cols, fontsize=7.5, frameon=False,
                   handlelength=2.5, columnspacing=2.0, labelspacing=0.3)
        # fixed spacing: tight_layout measures every tick label and costs seconds per page
        fig.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, bottom=0.5 / height,
                            top=1 - (head + 0.3) / height, wspace=0.75 / (panel_w - 0.9),
                            hspace=1.05 / (panel_h - 1.05))
        name = f"{stem}-learning-curves" + (f"-{page_no}" if len(pages) > 1 else "") + ".png"
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        out.append((f"Learning curves of selected runs ({stem}{part}; solid: extrapolation MSE, "
                     "dotted: interpolation MSE, dashed orange: success threshold)", name))
    return out
