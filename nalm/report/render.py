"""Render cell summaries as Markdown, self-contained HTML and CSV (plus Parquet when pandas is there)."""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nalm.report import averages, medians, recurrent, sequential_mnist
from nalm.report.summary import CellSummary
from nalm.stats import MeanEstimate

DASH = "—"


def fmt_sci(x: float | None) -> str:
    """One decimal in scientific notation, as the papers print (``1.4e6``, ``4.2e-7``)."""
    if x is None:
        return DASH
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def fmt_pct(x: float | None) -> str:
    return DASH if x is None else f"{100 * x:.0f}%"


def fmt_rate_ci(rate: float, low: float, high: float) -> str:
    return f"{100 * rate:.0f}% [{100 * low:.0f}, {100 * high:.0f}]"


def fmt_fit(est: MeanEstimate | None) -> str:
    if est is None or est.method == "none":
        return DASH
    mark = "†" if est.method == "t-interval" else ""
    if est.low is None or est.high is None:
        return f"{fmt_sci(est.mean)}{mark}"
    return f"{fmt_sci(est.mean)} [{fmt_sci(est.low)}, {fmt_sci(est.high)}]{mark}"


def check_text(s: CellSummary) -> str:
    ours_out, pub_out = s.ours_outside_published, s.published_outside_ours
    return _verdict(ours_out, pub_out, s)


def _verdict(ours_out: bool | None, pub_out: bool | None, s: CellSummary) -> str:
    if ours_out is None and pub_out is None:
        return DASH
    if ours_out and pub_out:
        return "⚠ both outside" + cut_note(s)
    if ours_out:
        return "⚠ ours ∉ pub. CI" + cut_note(s)
    if pub_out:
        return "⚠ pub. ∉ our CI" + cut_note(s)
    return "✓"


def cut_note(s: CellSummary) -> str:
    """`` (cut: 15,000 of 100,000 iterations)`` when the cell trained fewer iterations than the
    protocol (a ⚠ there may be "not solved yet"); empty otherwise."""
    done, protocol = s.config.get("iterations"), s.config.get("protocol_iterations")
    if isinstance(done, int) and isinstance(protocol, int) and done < protocol:
        return f" (cut: {done:,} of {protocol:,} iterations)"
    return ""


def _interpolation_outside(s: CellSummary) -> tuple[bool | None, bool | None]:
    """(ours outside the published interpolation interval, published outside ours)."""
    rate, ci = s.interpolation_rate, s.interpolation_ci
    pub, iv = s.published_interpolation_rate, s.published_interpolation_interval
    ours_out = None if iv is None or rate is None else not (iv.low - 1e-12 <= rate <= iv.high + 1e-12)
    pub_out = None if pub is None or ci is None else not (ci[0] - 1e-12 <= pub <= ci[1] + 1e-12)
    return ours_out, pub_out


def _interpolation_rate(s: CellSummary) -> str:
    rate, ci = s.interpolation_rate, s.interpolation_ci
    return DASH if rate is None or ci is None else fmt_rate_ci(rate, *ci)


def _published_interpolation(s: CellSummary) -> str:
    rate, iv = s.published_interpolation_rate, s.published_interpolation_interval
    if rate is None:
        return DASH
    return fmt_pct(rate) if iv is None else fmt_rate_ci(rate, iv.low, iv.high)


def _runs(s: CellSummary) -> str:
    text = f"{s.n_seeds} ({s.n_ok}/{s.n_diverged}/{s.n_failed})"
    return text + (f", {s.n_dropped} dropped (NaN)" if s.n_dropped else "")


NOT_AVAILABLE = "n/a"


def formula_text(s: CellSummary) -> str:
    """Rate of runs whose learned formula is the task's target, with its Wilson interval; "n/a" when
    no run of the cell has a stored formula outcome (no stored parameters)."""
    rate, ci = s.formula_rate, s.formula_ci
    if rate is None or ci is None:
        return NOT_AVAILABLE
    text = fmt_rate_ci(rate, *ci)
    return text + (f" ({s.formula_unread} runs not read)" if s.formula_unread else "")


def _published_rate(s: CellSummary) -> str:
    rate = s.published_rate
    if rate is None:
        return DASH
    iv = s.published_interval
    return fmt_pct(rate) if iv is None else fmt_rate_ci(rate, iv.low, iv.high)


def _pub(metric: str) -> Callable[[CellSummary], str]:
    return lambda s: DASH if s.published is None else fmt_sci(s.published.get(metric))


def _threshold(s: CellSummary) -> str:
    values = " / ".join(fmt_sci(t) for t in s.thresholds)
    return f"{values} ({', '.join(s.threshold_policies)})"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[CellSummary], str]
    group: str = "core"  # "labels" / "published" columns are dropped when a suite has none


COLUMNS: tuple[Column, ...] = (
    Column("cell", lambda s: s.display_name),
    Column("model", lambda s: s.labels.model or DASH, "labels"),
    Column("op", lambda s: s.labels.operation or DASH, "labels"),
    Column("range", lambda s: s.labels.range or DASH, "labels"),
    Column("runs (ok/div/fail)", _runs),
    Column("success [95% CI]", lambda s: _success(s)),
    Column("formula recovered [95% CI]", formula_text),
    Column("published [95% CI]", _published_rate, "published"),
    Column("check", check_text, "published"),
    # final-point suites (iNALU): success on the interpolation set too, beside its published rate
    Column("interp. success [95% CI]", _interpolation_rate, "interpolation"),
    Column("pub. interp. [95% CI]", _published_interpolation, "interpolation"),
    Column("interp. check", lambda s: _verdict(*_interpolation_outside(s), s), "interpolation"),
    Column("solved at: median", lambda s: fmt_sci(s.solved_at_median)),
    Column("pub. median", _pub("solved_at_median"), "published"),
    Column("solved at: Gamma-fit mean [CI]", lambda s: fmt_fit(s.solved_at_fit)),
    Column("pub. mean", _pub("solved_at_mean"), "published"),
    Column("sparsity: arithmetic mean", lambda s: fmt_sci(s.sparsity_error_mean)),
    Column("sparsity: Beta-fit μ [CI] (as papers)", lambda s: fmt_fit(s.sparsity_error_fit)),
    Column("pub. μ", _pub("sparsity_error_mean"), "published"),
    Column("extrap. MSE median", lambda s: fmt_sci(s.extrapolation_mse_median)),
    Column("threshold (policy)", _threshold),
    Column("pub. threshold", _pub("success_threshold_extrapolation_mse"), "published_threshold"),
)


def columns_for(cells: Sequence[CellSummary]) -> list[Column]:
    has_labels = any(c.labels.model or c.labels.operation or c.labels.range for c in cells)
    has_published = any(c.published is not None for c in cells)
    keep = {"core"} | ({"labels"} if has_labels else set()) | ({"published"} if has_published else set())
    if any(c.interpolation_successes is not None for c in cells):
        keep.add("interpolation")
    if any(c.published is not None and c.published.get("success_threshold_extrapolation_mse") is not None
           for c in cells):
        keep.add("published_threshold")  # a paper that publishes its per-cell thresholds
    if has_labels:
        # a label column that is empty for the whole suite says nothing
        drop = {h for h, attr in (("model", "model"), ("op", "operation"), ("range", "range"))
                if not any(getattr(c.labels, attr) for c in cells)}
    else:
        drop = set()
    return [c for c in COLUMNS if c.group in keep and c.header not in drop]


def by_suite(cells: Sequence[CellSummary]) -> dict[str, list[CellSummary]]:
    out: dict[str, list[CellSummary]] = {}
    for c in cells:
        out.setdefault(c.suite, []).append(c)
    return out


LEGEND = (
    "A run is **successful** when its extrapolation MSE at the selected step (best interpolation MSE) "
    "is strictly below the threshold (at most the threshold under the gold_* policies, as their "
    "paper's script); the success interval is the 95 % Wilson score interval. "
    "Solved-at and sparsity statistics use successful runs only. "
    "**Gamma-fit mean** is the papers' method (maximum-likelihood Gamma with a profile-likelihood 95 % "
    "interval); its maximum-likelihood mean equals the arithmetic mean, the fit supplies the skewed "
    "interval — published fitted means can differ from an arithmetic mean because the papers' optimiser "
    "stopped early. **Beta-fit μ** is the papers' sparsity \"mean\": a Beta(2μv, (1−2μ)v) fit on [0, 1], "
    "so μ is roughly *half* the arithmetic mean; compare it, not the arithmetic mean, with the published "
    "μ. † marks the papers' fallback (mean ± t·sd/√n) where the data cannot support a fit. "
    "**check**: ✓ when our rate lies inside the published interval and the published rate inside ours; "
    "⚠ otherwise (which side is named). **formula recovered**: the runs whose parameters at the "
    "selected step snap to exact weights computing the task's target formula (symbolically, and "
    "checked on the extrapolation set; `nalm explain` shows each run's formula), with the 95 % "
    "Wilson interval; n/a where the database holds no parameters for the cell. "
    "**Pooled over the range pairs**: a block's cells of one model and operation together (a paper's "
    "average over range pairs with equal seeds per pair), beside a published average where one exists; "
    "✓ when the published average lies inside our interval, else ⚠ with what was cut. "
    "Published numbers are the papers' (100 seeds unless stated); "
    "ours come from the runs in this database, with their own seeds, iterations and thresholds."
)


def _sources(cells: Sequence[CellSummary]) -> list[str]:
    seen: dict[str, None] = {}
    for c in cells:
        if c.published is not None:
            n = f", {c.published.n_seeds} seeds" if c.published.n_seeds else ""
            seen[f"{c.published.citation}{n}"] = None
    return list(seen)


def _problems(cells: Sequence[CellSummary]) -> list[str]:
    out = [f"{c.display_name}: {c.published_problem}" for c in cells if c.published_problem]
    out += sorted({c.fit_note for c in cells if c.fit_note})
    return out


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(cells: Sequence[CellSummary]) -> str:
    cols = columns_for(cells)
    lines = [
        "| " + " | ".join(_md_escape(c.header) for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for s in cells:
        lines.append("| " + " | ".join(_md_escape(c.value(s)) for c in cols) + " |")
    return "\n".join(lines)


def _table_markdown(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md_escape(v) for v in row) + " |" for row in body]
    return "\n".join(lines)


def _success(s: CellSummary) -> str:
    # Under "reference_runs" success is judged per test length after training (the trainer's one
    # threshold is a placeholder no run is below): the per-length table says it.
    if "reference_runs" in s.threshold_policies:
        return "per length, below"
    return fmt_rate_ci(s.success_rate, *s.success_ci)


def side_tables(group: Sequence[CellSummary]) -> list[tuple[str, Sequence[str], list[tuple[str, ...]]]]:
    """The tables a suite has beside its cell table — (caption, headers, rows), those with rows: rates
    pooled over range pairs, medians as the NPU paper reports them, the recurrent task's scales,
    sequential MNIST's success per test length."""
    tables = [
        ("Pooled over the range pairs:", averages.HEADERS, averages.rows(averages.range_averages(group))),
        ("Median ± MAD over runs, as the paper reports them:", medians.HEADERS,
         medians.rows(medians.median_rows(group))),
        (recurrent.CAPTION, recurrent.HEADERS, recurrent.rows(recurrent.recurrent_rows(group))),
        *sequential_mnist.side_tables(group),
    ]
    return [t for t in tables if t[2]]


def render_markdown(
    cells: Sequence[CellSummary],
    plots: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    *,
    db_name: str = "",
    tables_only: bool = False,
) -> str:
    """The report as Markdown. ``plots``: suite -> [(caption, relative PNG path)]."""
    parts = [] if tables_only else ["# nalm benchmark report", ""]
    if db_name and not tables_only:
        parts += [f"Results database: `{db_name}`.", ""]
    for suite, group in by_suite(cells).items():
        parts += [f"## Suite `{suite}`", "", markdown_table(group), ""]
        for caption, headers, table in side_tables(group):
            parts += [caption, "", _table_markdown(headers, table), ""]
        sources = _sources(group)
        if sources:
            parts += ["Published numbers: " + "; ".join(sources) + ".", ""]
        for problem in _problems(group):
            parts += [f"- note: {problem}"]
        if _problems(group):
            parts.append("")
        if not tables_only:
            for caption, path in (plots or {}).get(suite, ()):
                parts += [f"![{caption}]({path})", ""]
    if not tables_only:
        parts += ["---", "", LEGEND, ""]
    return "\n".join(parts)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
td.flag { background: #fde8e8; }
td.ok { background: #e8f6e8; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
p.legend, p.sources { max-width: 60em; font-size: 0.9em; }
"""


def _check_class(text: str) -> str:
    return ' class="flag"' if text.startswith("⚠") else (' class="ok"' if text == "✓" else "")


def _html_side_table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]], e: Any) -> str:
    """A captioned HTML table of aggregate rows (pooled rates, medians), its check column coloured."""
    out = [f"<p>{e(caption)}</p><table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers)
           + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f'<td{_check_class(v) if h == "check" else ""}>{e(v)}</td>'
                                    for h, v in zip(headers, row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(
    cells: Sequence[CellSummary],
    plots: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    *,
    db_name: str = "",
) -> str:
    """The report as one HTML page with inline CSS. ``plots``: suite -> [(caption, image src)], the src a
    relative path or a ``data:`` URI (what :func:`nalm.report.write_report` passes, so the page needs no
    other file)."""
    e = html.escape
    body = ["<h1>nalm benchmark report</h1>"]
    if db_name:
        body.append(f"<p>Results database: <code>{e(db_name)}</code>.</p>")
    for suite, group in by_suite(cells).items():
        cols = columns_for(group)
        body.append(f"<h2>Suite <code>{e(suite)}</code></h2>")
        body.append("<table><thead><tr>" + "".join(f"<th>{e(c.header)}</th>" for c in cols) + "</tr></thead><tbody>")
        for s in group:
            tds = []
            for c in cols:
                text = c.value(s)
                cls = _check_class(text) if c.header == "check" else ""
                tds.append(f"<td{cls}>{e(text)}</td>")
            body.append("<tr>" + "".join(tds) + "</tr>")
        body.append("</tbody></table>")
        for caption, headers, table in side_tables(group):
            body.append(_html_side_table(caption, headers, table, e))
        sources = _sources(group)
        if sources:
            body.append('<p class="sources">Published numbers: ' + e("; ".join(sources)) + ".</p>")
        problems = _problems(group)
        if problems:
            body.append("<ul>" + "".join(f"<li>note: {e(p)}</li>" for p in problems) + "</ul>")
        for caption, path in (plots or {}).get(suite, ()):
            body.append(f'<figure><img src="{e(path)}" alt="{e(caption)}">'
                        f"<figcaption>{e(caption)}</figcaption></figure>")
    legend = e(LEGEND).replace("**", "")
    body.append(f'<hr><p class="legend">{legend}</p>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>nalm benchmark report</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _num(x: float | None) -> Any:
    return None if x is None else x


def csv_rows(cells: Sequence[CellSummary]) -> list[dict[str, Any]]:
    """One flat record per cell with raw numbers (``None`` where undefined)."""
    rows = []
    for s in cells:
        pub = s.published
        iv = s.published_interval
        fit_t, fit_s = s.solved_at_fit, s.sparsity_error_fit
        rows.append({
            "suite": s.suite,
            "cell": s.cell,
            "config_hash": s.config_hash,
            "model": s.labels.model,
            "operation": s.labels.operation,
            "range": s.labels.range,
            "n_seeds": s.n_seeds,
            "n_ok": s.n_ok,
            "n_diverged": s.n_diverged,
            "n_failed": s.n_failed,
            "selection": s.selection,
            "n_dropped": s.n_dropped,
            "interpolation_successes": s.interpolation_successes,
            "interpolation_runs": s.interpolation_runs if s.interpolation_successes is not None else None,
            "published_interpolation_success_rate": s.published_interpolation_rate,
            "successes": s.successes,
            "success_rate": s.success_rate,
            "success_ci_low": s.success_ci[0],
            "success_ci_high": s.success_ci[1],
            "formula_recovered": s.formula_recovered,
            "formula_runs": s.formula_runs if s.formula_recovered is not None else None,
            "formula_rate": s.formula_rate,
            "formula_ci_low": None if s.formula_ci is None else s.formula_ci[0],
            "formula_ci_high": None if s.formula_ci is None else s.formula_ci[1],
            "solved_at_median": s.solved_at_median,
            "solved_at_mean_arithmetic": s.solved_at_mean,
            "solved_at_mean_fitted": None if fit_t is None else fit_t.mean,
            "solved_at_mean_fitted_ci_low": None if fit_t is None else fit_t.low,
            "solved_at_mean_fitted_ci_high": None if fit_t is None else fit_t.high,
            "solved_at_mean_fitted_method": None if fit_t is None else fit_t.method,
            "sparsity_error_mean_arithmetic": s.sparsity_error_mean,
            "sparsity_error_mu_fitted": None if fit_s is None else fit_s.mean,
            "sparsity_error_mu_fitted_ci_low": None if fit_s is None else fit_s.low,
            "sparsity_error_mu_fitted_ci_high": None if fit_s is None else fit_s.high,
            "sparsity_error_mu_fitted_method": None if fit_s is None else fit_s.method,
            "extrapolation_mse_median": s.extrapolation_mse_median,
            "threshold": s.thresholds[0] if len(s.thresholds) == 1 else None,
            "threshold_policy": ";".join(s.threshold_policies),
            "seed_iterations_per_second": s.seed_iterations_per_second,
            "wall_time_s": s.wall_time_s,
            "published_source": None if pub is None else pub.source,
            "published_task": None if pub is None else pub.task,
            "published_operation": None if pub is None else pub.operation,
            "published_model": None if pub is None else pub.model,
            "published_tables": None if pub is None else ";".join(pub.tables),
            "published_n_seeds": None if pub is None else pub.n_seeds,
            "published_success_rate": s.published_rate,
            "published_success_ci_low": None if iv is None else iv.low,
            "published_success_ci_high": None if iv is None else iv.high,
            "published_success_ci_method": None if iv is None else iv.method,
            "published_solved_at_median": None if pub is None else pub.get("solved_at_median"),
            "published_solved_at_mean": None if pub is None else pub.get("solved_at_mean"),
            "published_sparsity_error_mean": None if pub is None else pub.get("sparsity_error_mean"),
            "published_where": None if pub is None else ";".join(pub.where),
            "ours_outside_published_ci": s.ours_outside_published,
            "published_outside_our_ci": s.published_outside_ours,
            "published_problem": s.published_problem,
        })
    return rows


def render_csv(cells: Sequence[CellSummary]) -> str:
    rows = csv_rows(cells)
    buf = io.StringIO()
    fieldnames = list(rows[0]) if rows else []
    writer = csv.DictWriter(buf, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # repr keeps every float exactly; empty cell = undefined
        writer.writerow({k: "" if v is None else (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def write_parquet(cells: Sequence[CellSummary], path: Path) -> bool:
    """Write the CSV records as Parquet if pandas and pyarrow are importable; False when they are not."""
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  # pandas picks its Parquet engine; insist on pyarrow being present
    except ImportError:
        return False
    pd.DataFrame.from_records(csv_rows(cells)).to_parquet(path, engine="pyarrow", index=False)
    return True
