"""`nalm report --format html`: one self-contained page, tables and every figure inside it."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from nalm.cli.main import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["report", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_html_is_one_file_with_the_tables_and_every_figure(synthetic_db: Path, tmp_path: Path, capsys) -> None:
    md, page_dir = tmp_path / "md", tmp_path / "html"
    assert run_cli(capsys, "--db", str(synthetic_db), "--out", str(md))[0] == 0
    n_figures = len(list(md.glob("*.png")))
    code, stdout, err = run_cli(capsys, "--db", str(synthetic_db), "--out", str(page_dir), "--format", "html")
    assert code == 0, err
    assert stdout.strip() == str(page_dir / "report.html")
    # the page alone: no PNG (or anything else) beside it to lose when it is mailed or moved
    assert sorted(p.name for p in page_dir.iterdir() if not p.name.startswith(".")) == ["report.html"]
    page = (page_dir / "report.html").read_text(encoding="utf-8")

    # the tables: one per suite, with every cell
    assert page.count("<table>") == 2
    for text in ("madsen2020", "primer2022", "NMU/mul [b53e928f]", "NAU/add/b", "success [95% CI]", "80% [58, 92]"):
        assert text in page, text

    # every figure the Markdown report links, embedded as a PNG data URI
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) == n_figures == 5
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert len(re.findall(r"<figcaption>", page)) == n_figures

    # nothing refers to another file (no src/href/url() that is not a data URI or an anchor)
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert all(r.startswith(("data:", "#")) for r in refs), [r[:40] for r in refs if not r.startswith("data:")]


def test_html_without_plots_has_the_tables_only(synthetic_db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rep"
    code, _, err = run_cli(capsys, "--db", str(synthetic_db), "--out", str(out), "--format", "html", "--no-plots",
                           "--suite", "madsen2020")
    assert code == 0, err
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<table>" in page and "<img" not in page and "primer2022" not in page


def test_markdown_stays_the_default(synthetic_db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rep"
    code, stdout, _ = run_cli(capsys, "--db", str(synthetic_db), "--out", str(out), "--no-plots")
    assert code == 0 and stdout.strip().splitlines()[-1] == str(out / "report.md")
