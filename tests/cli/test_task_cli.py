"""`nalm task`: what it shows, its JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nalm.cli.options import parse_range
from tests.support import run_in_process

FAST = ["--mc-samples", "20000"]


run = run_in_process


def test_json_for_madsen_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "task", "--op", "mul", "--interp", "1,2", "--extrap", "2,6",
                         "--seed", "0", "--json", *FAST)
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["a_indices"] == list(range(44, 69)) and d["b_indices"] == list(range(57, 82))
    assert d["offset"] == 44 and d["threshold_policy"] == "madsen_r"
    assert d["threshold_samples"] == 20000 and d["threshold_eps"] == 1e-5
    assert abs(d["threshold"] - 0.16001) < 5 * d["threshold_stderr"] * 1.1
    row = d["samples"]["interpolation"][0]
    assert row["x"][:2] == pytest.approx([1.91809487, 1.88165263], abs=5e-9)
    assert row["target"] == pytest.approx(row["a"] * row["b"], rel=1e-12)
    assert d["samples"]["extrapolation"][0]["x"][0] == pytest.approx(4.13304568, abs=5e-9)


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "task", "--op", "sub", "--seed", "1", *FAST)
    assert code == 0 and err == ""
    assert "a = sum x[37..61]  (25 inputs)" in out
    assert "b = sum x[50..74]  (25 inputs)" in out
    assert "shared by a and b: 12 (50..61)" in out
    assert "target = sum(x[37:62]) - sum(x[50:75])" in out
    assert "validation rows" in out and "test rows" in out
    assert "policy madsen_r" in out and "success threshold" in out


def test_published_policy_and_preset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "task", "--op", "add", "--threshold-policy", "published", "--json")
    assert code == 0 and json.loads(out)["threshold"] == 1.47861742158438e-05
    code, out, _ = run(capsys, "task", "--op", "div", "--kind", "single-module", "--preset", "neg2_2",
                       "--json", "--rows", "1")
    d = json.loads(out)
    assert code == 0 and d["a_indices"] == [0] and d["b_indices"] == [1]
    assert d["threshold_policy"] == "fixed_1e-5" and d["threshold"] == 1e-5
    assert d["extrapolation_range"] == [[-6.0, -2.0], [2.0, 6.0]]
    code, out, _ = run(capsys, "task", "--op", "add", "--kind", "single-module", "--input-size", "10",
                       "--threshold-policy", "simulated_eps_1e-4", "--json", *FAST)
    d = json.loads(out)
    assert code == 0 and d["subset_ratio"] == 0.1 and len(d["a_indices"]) == 1


def test_union_range_syntax(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "task", "--op", "mul", "--extrap", "-6,-2:2,6", "--json", "--rows", "3",
                       *FAST)
    d = json.loads(out)
    assert code == 0 and d["extrapolation_range"] == [[-6.0, -2.0], [2.0, 6.0]]
    xs = [v for r in d["samples"]["extrapolation"] for v in r["x"]]
    assert any(v < 0 for v in xs) and any(v > 0 for v in xs)
    assert parse_range("[1,2]") == ((1.0, 2.0),)
    assert parse_range("U[-6,-2]:U[2,6]") == ((-6.0, -2.0), (2.0, 6.0))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--op", "pow"], "Invalid value for '--op': 'pow' is not one of"),
        (["--op", "add", "--interp", "1,2:3"], "Invalid value for '--interp': expected LO,HI"),
        (["--op", "add", "--interp", "a,b"], "Invalid value for '--interp': bounds must be numbers"),
        (["--op", "add", "--interp", "2,1"], "Invalid value for '--interp': reversed range [2, 1]"),
        (["--op", "add", "--extrap", "-6,-2:2,4"], "Invalid value for '--extrap': union ranges must have equal widths"),
        (["--op", "root", "--interp", "-1,1"], "--interp: op 'root' is undefined"),
        (["--op", "div", "--interp", "-2,2"], "--interp: op 'div' divides by b"),
        (["--op", "add", "--subset-ratio", "0.9"], "--subset-ratio: 2 subsets of 90 inputs"),
        (["--op", "add", "--subset-ratio", "1.5"], "--subset-ratio: must be in [0, 1], got 1.5"),
        (["--op", "add", "--input-size", "0"], "--input-size: must be a positive integer, got 0"),
        (["--op", "add", "--seed", "-1"], "Invalid value for '--seed': must be in [0, 2**32)"),
        (["--op", "add", "--threshold-policy", "best"], "Invalid value for '--threshold-policy'"),
        (["--op", "add", "--input-size", "50", "--threshold-policy", "published"],
         "threshold_policy: 'published' thresholds exist only"),
        (["--op", "add", "--preset", "1_2", "--interp", "1,2"], "--preset sets both ranges"),
        (["--op", "add", "--preset", "nope"], "preset: unknown range pair 'nope'"),
        (["--op", "add", "--kind", "single-module", "--input-size", "7"], "--subset-ratio: give --subset-ratio"),
    ],
)
def test_bad_input_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    code, out, err = run(capsys, "task", *args, *FAST)
    assert code == 2
    assert out == ""
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith("nalm: error: ") and needle in lines[0], lines[0]


def test_subprocess_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nalm.cli.main", "task", "--op", "root", "--interp", "-2,-1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("nalm: error: --interp: op 'root'")
