"""`nalm report`: files written, stdout, and one-line errors with exit code 2 that leave nothing behind."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nalm.cli.main import main
from nalm.store import ResultsStore


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["report", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".nalm-report"))


def test_markdown_report_with_plots(synthetic_db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rep"
    code, stdout, err = run_cli(capsys, "--db", str(synthetic_db), "--out", str(out))
    assert code == 0, err
    assert stdout.strip().splitlines()[-1] == str(out / "report.md")
    assert "| NAU/add |" in stdout and "## Suite `madsen2020`" in stdout  # the table, in the terminal
    text = (out / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert {Path(x).suffix for x in links} == {".png"}
    assert all((out / x).is_file() for x in links)
    assert any("success-heatmap" in x for x in links)  # primer2022 has ranges
    assert any("learning-curves" in x for x in links) and any("extrapolation-mse" in x for x in links)
    assert sorted(p.name for p in out.glob("*.png")) == sorted(links)
    assert leftovers(tmp_path) == []


def test_html_and_rerun_replace_the_previous_report(synthetic_db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rep"
    assert run_cli(capsys, "--db", str(synthetic_db), "--out", str(out), "--no-plots", "--suite", "madsen2020")[0] == 0
    assert (out / "report.md").is_file()
    code, stdout, err = run_cli(capsys, "--db", str(synthetic_db), "--out", str(out), "--format", "html",
                                "--suite", "primer2022")
    assert code == 0, err
    assert stdout.strip() == str(out / "report.html")
    assert not (out / "report.md").exists()  # replaced, not mixed
    page = (out / "report.html").read_text()
    assert "<style>" in page and "primer2022" in page and "madsen2020" not in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources and all(src.startswith("data:image/png;base64,") for src in sources)  # embedded
    assert not list(out.glob("*.png"))
    assert leftovers(tmp_path) == []


def test_csv_export(synthetic_db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rep"
    code, stdout, _ = run_cli(capsys, "--db", str(synthetic_db), "--out", str(out), "--format", "csv")
    assert code == 0 and stdout.strip() == str(out / "report.csv")
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert len(rows) == 8 and {r["suite"] for r in rows} == {"madsen2020", "primer2022"}
    assert not list(out.glob("*.png"))
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        assert not (out / "report.parquet").exists()  # optional export skipped cleanly
    else:
        assert pandas.read_parquet(out / "report.parquet").shape[0] == 8


def _single_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nalm: error: ")
    return lines[0]


def test_missing_default_db(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli(capsys)
    assert code == 2 and stdout == ""
    assert "nalm-results.db" in _single_error_line(err)
    assert list(tmp_path.iterdir()) == []  # neither a database nor a report was created


@pytest.mark.parametrize("case", ["empty-db", "not-a-db", "unknown-format", "unknown-suite", "out-is-file",
                                  "out-foreign-dir", "out-under-file"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(synthetic_db: Path, tmp_path: Path, capsys, case) -> None:
    db, out = str(synthetic_db), tmp_path / "rep"
    args: list[str] = []
    expect = ""
    if case == "empty-db":
        empty = tmp_path / "empty.db"
        ResultsStore(empty).close()
        db, expect = str(empty), "no runs"
    elif case == "not-a-db":
        junk = tmp_path / "junk.db"
        junk.write_text("hello" * 1000)
        db, expect = str(junk), "junk.db"
    elif case == "unknown-format":
        args, expect = ["--format", "pdf"], "pdf"
    elif case == "unknown-suite":
        args, expect = ["--suite", "nope"], "nope"
    elif case == "out-is-file":
        out.write_text("keep me")
        expect = "not a directory"
    elif case == "out-foreign-dir":
        out.mkdir()
        (out / "thesis.tex").write_text("keep me")
        expect = "not empty"
    elif case == "out-under-file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "rep"
        expect = "not a directory"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, stdout, err = run_cli(capsys, "--db", db, "--out", str(out), *args)
    assert code == 2 and stdout == ""
    assert expect in _single_error_line(err)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written or removed


def test_store_and_report_do_not_import_torch(synthetic_db: Path, tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import nalm.store, nalm.report, nalm.published, nalm.stats, nalm.cli.report
        from nalm.cli.main import main
        try:
            main(["report", "--db", {str(synthetic_db)!r}, "--out", {str(tmp_path / 'r')!r}])
        except SystemExit as exc:
            assert not exc.code, exc.code
        loaded = [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
        assert not loaded, loaded
        print("torch-free")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("torch-free")
