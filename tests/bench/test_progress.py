"""`nalm bench` progress: a tqdm bar on a terminal; plain lines (one per finished cell, no carriage
returns) when stderr is a pipe or a file; nothing with --no-progress."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from .helpers import run_cli, run_main, write_suite

from nalm.bench.runner import progress_mode

CELL_LINE = re.compile(r"^\[(\d+)/(\d+)\] (\S+): 3 runs, (\d) solved \(fixed_1e-5\), [\d.]+ s; [\d.]+ s elapsed"
                       r"(?P<left>, about [\d.]+ (s|min|h) left)?$")


BESIDE = ("more cells train beside them, unwritten: a batch trains whole, so their runs equal the "
          "whole suite's bit for bit")


def _check_lines(err: str, cells: list[str], beside: int = 0) -> None:
    assert "\r" not in err and "\x1b" not in err  # no redrawing, no terminal escapes
    lines = err.splitlines()
    # Every NAU cell shares one batch (4 cells x 3 seeds x 400 iterations): a selection trains it whole.
    note = f" ({beside} {BESIDE})" if beside else ""
    assert lines[0] == f"bench: {len(cells)} cells to train, {(len(cells) + beside) * 1200:,} seed-iterations{note}"
    matches = [CELL_LINE.match(line) for line in lines[1:]]
    assert all(matches), lines
    assert [(int(m[1]), int(m[2]), m[3]) for m in matches] == [
        (i, len(cells), c) for i, c in enumerate(cells, 1)
    ]
    assert all(m["left"] for m in matches[:-1]) and matches[-1]["left"] is None  # an ETA until the end


def test_stderr_to_a_pipe_prints_one_plain_line_per_cell(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    proc = run_cli("bench", str(suite), "--db", str(tmp_path / "r.db"), "--only", "model=NAU,op=add")
    assert proc.returncode == 0, proc.stderr
    _check_lines(proc.stderr, ["m/NAU/add/1_2", "m/NAU/add/0.1_0.2"], beside=2)
    assert "m/NAU/add/1_2: solved 3/3 fixed_1e-5" in proc.stdout  # the results stay on stdout


def test_in_process_lines_resume_and_no_progress(tmp_path: Path, capsys) -> None:
    suite = write_suite(tmp_path)
    db = str(tmp_path / "r.db")
    code, out, err = run_main(capsys, "bench", str(suite), "--db", db, "--only", "model=NAU,op=sub,range=1_2")
    assert code == 0, err
    _check_lines(err, ["m/NAU/sub/1_2"], beside=3)
    # --group-runs 1: the cell alone
    code, out, err = run_main(capsys, "bench", str(suite), "--db", str(tmp_path / "alone.db"),
                              "--group-runs", "1", "--only", "model=NAU,op=sub,range=1_2")
    assert code == 0, err
    _check_lines(err, ["m/NAU/sub/1_2"])
    # everything stored: the start line says so, no cell lines
    code, out, err = run_main(capsys, "bench", str(suite), "--db", db, "--only", "model=NAU,op=sub,range=1_2")
    assert code == 0 and err == "bench: 0 cells to train, 0 seed-iterations (1 cells already stored)\n"
    # --no-progress: silent stderr, same stdout
    code, out, err = run_main(capsys, "bench", str(suite), "--db", db, "--no-progress",
                              "--only", "model=NAU,op=sub,range=0.1_0.2")
    assert code == 0 and err == ""
    assert "m/NAU/sub/0.1_0.2: solved" in out and "1 cells run" in out


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Stream(True))
    assert progress_mode(True) == "bar"
    monkeypatch.setattr(sys, "stderr", _Stream(False))
    assert progress_mode(True) == "lines"
    assert progress_mode("bar") == "bar" and progress_mode("lines") == "lines"
    assert progress_mode(False) is None
    monkeypatch.setattr(sys, "stderr", object())  # no isatty at all
    assert progress_mode(True) == "lines"
    with pytest.raises(ValueError):
        progress_mode("fancy")
