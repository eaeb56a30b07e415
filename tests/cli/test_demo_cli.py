"""Bad `nalm demo` input: one clear line on stderr, exit code 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nalm.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args,needle",
    [
        (["demo", "div"], "'div' is not one of"),
        (["demo", "add", "--epochs", "-5"], "--epochs"),
        (["demo", "add", "--epochs", "0"], "--epochs"),
        (["demo", "add", "--lr", "0"], "--lr"),
        (["demo", "add", "--lr", "-0.1"], "--lr"),
        (["demo", "add", "--lr", "nan"], "--lr"),
        (["demo", "add", "--epochs", "ten"], "'ten' is not a valid integer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, needle) -> None:
    out = tmp_path / "out"
    proc = run_cli(*args, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nalm: error:"), proc.stderr
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists() and os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; covered by the file case")
def test_unwritable_out_dir(tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    proc = run_cli("demo", "add", "--epochs", "10", "--out", str(locked / "sub"), cwd=tmp_path)
    assert proc.returncode == 2 and "--out" in proc.stderr
    assert list(locked.iterdir()) == []


def test_out_that_is_a_file_is_rejected(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli("demo", "add", "--epochs", "10", "--out", str(blocker / "sub"), cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--out" in lines[0]
    assert sorted(os.listdir(tmp_path)) == ["file"]
