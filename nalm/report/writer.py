"""Build a report from a results database and write it to a directory, all or nothing."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nalm.errors import ConfigError
from nalm.report import plots as plotting
from nalm.report.render import render_csv, render_html, render_markdown, write_parquet
from nalm.report.summary import CellSummary, summarize
from nalm.store import ResultsStore, StoredRun

ReportFormat = Literal["md", "html", "csv"]
FORMATS: tuple[ReportFormat, ...] = ("md", "html", "csv")
MARKER = ".nalm-report"  # marks a directory this module wrote, so only such a directory is replaced


class ReportError(ConfigError):
    """The report cannot be made from these inputs (the CLI prints one line, exit code 2)."""


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` wrote."""

    out_dir: Path
    path: Path  # report.md / report.html / report.csv
    files: tuple[str, ...]  # every file written, relative to out_dir
    cells: tuple[CellSummary, ...]
    markdown_tables: str  # the tables alone, for a terminal


def load_cells(store: ResultsStore, suite: str | None = None) -> tuple[list[CellSummary], list[StoredRun]]:
    """Cell summaries (and the runs behind them) of one suite, or of every suite."""
    if suite is not None:
        known = store.suites()
        if suite not in known:
            have = ", ".join(known) if known else "none"
            raise ReportError(f"suite {suite!r} is not in {store.path} (suites there: {have})")
    runs = store.runs(suite)
    if not runs:
        raise ReportError(f"{store.path} holds no runs")
    cells = summarize(runs)
    return cells, runs


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    return p


def _check_out(out_dir: Path) -> Path:
    """Validate ``out_dir`` before any work; returns the existing directory the temp dir goes in."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ReportError(f"output {out_dir} exists and is not a directory")
        if any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
            raise ReportError(
                f"output directory {out_dir} is not empty and was not written by nalm report; "
                "choose another --out"
            )
    base = _nearest_existing(out_dir.parent if out_dir.parent != out_dir else out_dir)
    if not base.is_dir():
        raise ReportError(f"cannot create output directory {out_dir}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ReportError(f"cannot write output directory {out_dir}: {base} is not writable")
    return base


def _install(tmp: Path, out_dir: Path, base: Path) -> None:
    """Move the finished temp dir to ``out_dir``, replacing a previous report there."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=".nalm-report-old-", dir=base))
        os.rmdir(old)
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)  # put the previous report back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_report(
    db: str | Path,
    out_dir: str | Path,
    fmt: ReportFormat = "md",
    *,
    suite: str | None = None,
    plots: bool = True,
) -> Report:
    """Write ``report.<fmt>`` to ``out_dir``: PNGs beside ``report.md``; ``report.html`` is one
    self-contained page with its figures embedded as data URIs; Parquet beside the CSV when possible.

    Everything is written to a temporary directory next to ``out_dir`` and renamed into place, so a
    failure leaves no partial report. An existing ``out_dir`` is replaced only if it is empty or an
    earlier report.
    """
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    db, shown_out = Path(db), Path(out_dir)
    out_dir = shown_out.absolute()  # "." or "x/.." must not be renamed as a relative path
    base = _check_out(out_dir)
    with ResultsStore(db, readonly=True) as store:
        cells, runs = load_cells(store, suite)
        by_key: dict[tuple[str, str, str], list[StoredRun]] = {}
        for r in runs:
            by_key.setdefault((r.suite, r.cell, r.config_hash), []).append(r)

        def cell_runs(c: CellSummary) -> list[StoredRun]:
            return by_key[(c.suite, c.cell, c.config_hash)]

        try:
            tmp = Path(tempfile.mkdtemp(prefix=".nalm-report-tmp-", dir=base))
        except OSError as exc:
            raise ReportError(f"cannot write output directory {out_dir}: {exc.strerror or exc}") from None
        try:
            files: list[str] = []
            figures: dict[str, list[tuple[str, str]]] = {}
            if plots and fmt in ("md", "html"):
                for name, group in _group(cells).items():
                    stem = plotting.safe_name(name)
                    figs = plotting.success_heatmap(group, tmp, stem)
                    figs += plotting.extrapolation_distributions(group, cell_runs, tmp, stem)
                    figs += plotting.learning_curves(group, cell_runs, store.curve, tmp, stem)
                    if fmt == "html":  # one self-contained page: the figures go inside it
                        figs = [(caption, _embed(tmp / f)) for caption, f in figs]
                    else:
                        files += [f for _, f in figs]
                    figures[name] = figs
            if fmt == "md":
                text = render_markdown(cells, figures, db_name=db.name)
            elif fmt == "html":
                text = render_html(cells, figures, db_name=db.name)
            else:
                text = render_csv(cells)
                if write_parquet(cells, tmp / "report.parquet"):
                    files.append("report.parquet")
            report_name = f"report.{fmt}"
            (tmp / report_name).write_text(text, encoding="utf-8")
            (tmp / MARKER).write_text("written by `nalm report`; the directory is replaced on rerun\n")
            files.insert(0, report_name)
            _install(tmp, out_dir, base)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ReportError(f"cannot write report to {out_dir}: {exc.strerror or exc}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return Report(
        out_dir=shown_out,
        path=shown_out / report_name,
        files=tuple(files),
        cells=tuple(cells),
        markdown_tables=render_markdown(cells, tables_only=True),
    )


def _embed(png: Path) -> str:
    """A PNG as a ``data:`` URI (and the file removed: the page carries it)."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    png.unlink()
    return f"data:image/png;base64,{data}"


def _group(cells: Sequence[CellSummary]) -> dict[str, list[CellSummary]]:
    out: dict[str, list[CellSummary]] = {}
    for c in cells:
        out.setdefault(c.suite, []).append(c)
    return out
