"""``nalm report``: the papers' tables (and figures) from a results database."""

from __future__ import annotations

from pathlib import Path

import click

from nalm.report.writer import FORMATS, write_report


@click.command("report")
@click.option("--db", "db", type=click.Path(path_type=Path, dir_okay=False), default=Path("nalm-results.db"),
              show_default=True, help="Results database written by `nalm bench`.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="md: report.md with the figures as PNG files beside it; html: one self-contained "
              "report.html (tables and figures inside, opens anywhere on its own); csv: one row per cell "
              "(plus report.parquet when pandas and pyarrow are installed), no figures.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("nalm-report"),
              show_default=True, help="Output directory (replaced if it holds an earlier report).")
@click.option("--suite", default=None, help="Only this suite (default: every suite in the database).")
@click.option("--plots/--no-plots", default=True, show_default=True,
              help="Draw the figures (md and html); --no-plots writes the tables only, sooner.")
def report(db: Path, fmt: str, out_dir: Path, suite: str | None, plots: bool) -> None:
    """Success rates with Wilson intervals, solved-at and sparsity statistics, beside published numbers."""
    result = write_report(db, out_dir, fmt, suite=suite, plots=plots)  # type: ignore[arg-type]
    if fmt == "md":
        click.echo(result.markdown_tables)
    click.echo(str(result.path))
