"""The papers' tables and figures from a results database (torch-free).

``write_report(db, out_dir, fmt)`` is what ``nalm report`` calls; ``summarize`` / ``render_*`` build the
same tables in memory.
"""

from nalm.report.render import csv_rows, markdown_table, render_csv, render_html, render_markdown
from nalm.report.summary import CellLabels, CellSummary, cell_labels, summarize, summarize_cell
from nalm.report.writer import FORMATS, Report, ReportError, ReportFormat, load_cells, write_report

__all__ = [
    "FORMATS",
    "CellLabels",
    "CellSummary",
    "Report",
    "ReportError",
    "ReportFormat",
    "cell_labels",
    "csv_rows",
    "load_cells",
    "markdown_table",
    "render_csv",
    "render_html",
    "render_markdown",
    "summarize",
    "summarize_cell",
    "write_report",
]
