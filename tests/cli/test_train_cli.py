"""`nalm train`: one cell end to end, JSON shape, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nalm.cli.main", "train", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_nau_learns_addition_on_every_seed_json() -> None:
    proc = run_cli(
        "--unit", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6",
        "--seeds", "4", "--iterations", "8000", "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    for key in ("success_rate", "ci_low", "ci_high", "solved_at_median", "threshold",
                "seed_iterations_per_second", "runs"):
        assert key in summary
    assert summary["success_rate"] == 1.0
    assert summary["ci_low"] == pytest.approx(0.5101, abs=1e-3)  # Wilson, 4/4
    assert [r["seed"] for r in summary["runs"]] == [0, 1, 2, 3]
    for run in summary["runs"]:
        assert run["status"] == "ok" and run["solved"]
        assert run["extrapolation_mse"] < summary["threshold"]
        assert set(run) >= {"seed", "status", "solved", "solved_at", "interpolation_mse",
                            "extrapolation_mse", "sparsity_error"}


def test_two_layer_cell_runs_and_the_old_flags_are_aliases() -> None:
    """``--units nau,nmu`` and the older ``--unit nau --unit2 nmu`` train the same cell."""
    common = ("--op", "mul", "--input-size", "10", "--interp", "1,2", "--extrap", "2,6",
              "--seeds", "3", "--iterations", "200", "--json")
    new, old = run_cli("--units", "nau,nmu", *common), run_cli("--unit", "nau", "--unit2", "nmu", *common)
    assert new.returncode == 0 and old.returncode == 0, new.stderr + old.stderr
    a, b = json.loads(new.stdout), json.loads(old.stdout)
    assert a["model"] == "nau(10→2) → nmu(2→1)" and len(a["runs"]) == 3
    assert a["runs"] == b["runs"]


def test_compile_flag_trains_the_same_cell() -> None:
    args = ("--unit", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6",
            "--seeds", "2", "--iterations", "8000", "--json")
    eager, compiled = run_cli(*args), run_cli(*args, "--compile")
    assert eager.returncode == 0 and compiled.returncode == 0, compiled.stderr
    a, b = json.loads(eager.stdout), json.loads(compiled.stdout)
    assert a["success_rate"] == b["success_rate"] == 1.0
    for x, y in zip(a["runs"], b["runs"]):
        assert y["solved_at"] == x["solved_at"]
        assert y["interpolation_mse"] == pytest.approx(x["interpolation_mse"], rel=1e-2, abs=1e-9)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--unit", "nope", "--op", "add", "--interp", "1,2", "--extrap", "2,6"], "--unit"),
        (["--unit", "nau", "--op", "pow", "--interp", "1,2", "--extrap", "2,6"], "--op"),
        (["--unit", "nau", "--op", "add", "--interp", "2,1", "--extrap", "2,6"], "reversed range"),
        (["--units", "nau,", "--op", "add", "--interp", "1,2", "--extrap", "2,6"], "--units"),
        (["--units", "nau,nope", "--op", "add", "--interp", "1,2", "--extrap", "2,6"], "'nope'"),
        (["--units", "nau", "--unit", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6"],
         "not both"),
        (["--op", "add", "--interp", "1,2", "--extrap", "2,6"], "--units"),
        (["--units", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6", "--iterations", "0"],
         "--iterations"),
        (["--units", "nau", "--op", "add", "--interp", "1,2", "--extrap", "nan,2"], "--extrap"),
        (["--unit", "nau", "--op", "add", "--interp", "1,x", "--extrap", "2,6"], "--interp"),
        (["--unit", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6", "--seeds", "0"], "--seeds"),
        (["--unit", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6", "--lr", "-1"], "--lr"),
        (["--unit", "nau", "--op", "root", "--interp", "-2,-1", "--extrap", "2,6"], "root"),
        (["--unit", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6", "--cuda-graph"],
         "--cuda-graph"),
        (["--unit", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6", "--cuda-graph",
          "--compile", "--device", "cuda"], "--cuda-graph"),
    ],
)
def test_bad_input_one_line_exit_2(args, needle) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nalm: error:"), proc.stderr
    assert needle in lines[0]


def test_help_lists_units_and_keeps_measurements_out() -> None:
    proc = subprocess.run([sys.executable, "-m", "nalm.cli.main", "train", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "--units" in proc.stdout and "nau,nmu" in proc.stdout
    assert "H200" not in proc.stdout and "H100" not in proc.stdout


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--backend", "cuda_graph"], "--cuda-graph"),
        (["--backend", "eager", "--compile"], "--backend"),
        (["--backend", "tpu"], "--backend"),
        (["--device", "tpu"], "'--device': 'tpu' is not a device"),
        (["--device", "meta"], "nalm trains on cpu or cuda, not meta"),
        (["--device", "cpu:7"], "the CPU is one device"),
        (["--seeds", "1000000000000"], "batch too large"),
    ],
)
def test_backend_option_errors(extra: list[str], needle: str) -> None:
    proc = run_cli("--units", "nau", "--op", "add", "--interp", "1,2", "--extrap", "2,6", *extra)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_solved_seeds_print_the_formula_they_learned() -> None:
    proc = run_cli("--units", "nmu", "--op", "mul", "--interp", "1,2", "--extrap", "2,6",
                   "--seeds", "2", "--iterations", "3000")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    at = lines.index("learned formulas (solved seeds):")
    assert lines[at + 1].startswith("  seed 0: y = x0*x1 — the task's target")
    js = run_cli("--units", "nmu", "--op", "mul", "--interp", "1,2", "--extrap", "2,6",
                 "--seeds", "2", "--iterations", "3000", "--json")
    summary = json.loads(js.stdout)
    assert [r["formula"]["outcome"] for r in summary["runs"]] == ["exact_target"] * 2
    assert len(summary["formulas"]) == 2
