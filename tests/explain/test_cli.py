"""``nalm explain``: every stored run's formula; bad input is one line on stderr, exit 2, nothing
written. And the benchmark runner stores what the read-out says with each run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nalm.store import ResultsStore

from .helpers import run_main, run_tiny_suite


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_tiny_suite(tmp_path_factory.mktemp("tinyx"))


def test_the_runner_stores_parameters_and_formula_outcomes(tiny_db: Path) -> None:
    with ResultsStore(tiny_db, readonly=True) as store:
        runs = store.runs()
        assert len(runs) == 2 * 3 * 2  # cells × seeds × policies
        with_params = store.runs_with_parameters()
        for r in runs:
            assert r.id in with_params and r.result.formula is not None
            stored = store.parameters(r.id)
            assert stored.selected_step == r.result.selected_step
            names = {"0.W_hat", "0.M_hat", "0.G"} if "NALU" in r.cell else {"0.W"}
            assert set(stored.selected) == set(stored.final) == names
        nau = [r.result for r in runs if r.cell == "m/NAU/add/1_2"]
        nalu = [r.result for r in runs if r.cell == "m/NALU/add/1_2"]
    assert all(r.solved for r in nau) and all(r.formula.outcome == "exact_target" for r in nau)
    assert {r.formula.formula for r in nau} == {"x0 + x1"}
    assert not any(r.solved or r.formula.recovered for r in nalu)


def test_text_output(tiny_db: Path, capsys) -> None:
    code, out, err = run_main(capsys, "explain", "--db", str(tiny_db))
    assert code == 0, err
    assert "tinyx / m/NAU/add/1_2  target: sum(x[0:1]) + sum(x[1:2])" in out
    assert "tinyx@" not in out  # the re-scored copies of the same runs are left out by default
    rows = [line.split() for line in out.splitlines() if line.split()[1:2] in (["yes"], ["no"])]
    assert len(rows) == 6
    assert [r[:3] for r in rows[:3]] == [[str(s), "yes", "exact_target"] for s in range(3)]
    assert all(r[-3:] == ["x0", "+", "x1"] for r in rows[:3])
    assert all(r[2] == "not_snappable" for r in rows[3:])
    assert out.strip().endswith("6 runs: 3 recovered the target formula; of the 3 solved, 3 did")


def test_json_output_and_filters(tiny_db: Path, capsys) -> None:
    code, out, _ = run_main(capsys, "explain", "--db", str(tiny_db), "--suite", "tinyx@simulated_eps_1e-4",
                            "--cell", "m/NAU/add/1_2", "--seed", "1", "--json")
    assert code == 0
    (item,) = json.loads(out)
    assert item["suite"] == "tinyx@simulated_eps_1e-4" and item["seed"] == 1
    assert item["outcome"] == "exact_target" and item["formula"] == "x0 + x1"
    assert item["max_snap_distance"] < 0.05 and item["extrapolation_max_error"] < 1e-12
    with ResultsStore(tiny_db, readonly=True) as store:
        (run,) = [r for r in store.runs("tinyx@simulated_eps_1e-4", cell="m/NAU/add/1_2") if r.result.seed == 1]
    assert item["step"] == run.result.selected_step
    code, out, _ = run_main(capsys, "explain", "--db", str(tiny_db), "--cell", "m/NAU/add/1_2", "--seed", "1",
                            "--at", "final", "--json")
    assert code == 0 and json.loads(out)[0]["step"] == 400


@pytest.mark.parametrize("args, needle", [
    (["--db", "{missing}"], "no such results database"),
    (["--db", "{db}", "--suite", "nope"], "suite 'nope' is not in"),
    (["--db", "{db}", "--cell", "m/NMU/mul/1_2"], "cell 'm/NMU/mul/1_2' is not in"),
    (["--db", "{db}", "--cell", "m/NAU/add/1_2", "--seed", "7"], "seed 7 is not stored"),
    (["--db", "{db}", "--tolerance", "nan"], "--tolerance"),
    (["--db", "{db}", "--at", "middle"], "'middle' is not one of"),
    (["--db", "{garbage}"], "cannot use as a results database"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tiny_db: Path, tmp_path: Path, capsys, args, needle) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite" * 50)
    files = {p.name: p.read_bytes() for p in tiny_db.parent.iterdir()}
    argv = [a.format(db=tiny_db, missing=tmp_path / "missing.db", garbage=garbage) for a in args]
    code, out, err = run_main(capsys, "explain", *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nalm: error:") and needle in lines[0], err
    assert not (tmp_path / "missing.db").exists()
    assert {p.name: p.read_bytes() for p in tiny_db.parent.iterdir()} == files


def test_bad_input_from_the_command_line_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "nalm.cli.main", "explain", "--db", str(tmp_path / "x.db")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"nalm: error: {tmp_path / 'x.db'}: no such results database"


def test_help_does_not_import_torch_or_sympy() -> None:
    code = ("import sys\nfrom nalm.cli.main import main\ntry:\n    main(['explain', '--help'])\n"
            "except SystemExit:\n    pass\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    loaded = set(proc.stderr.split())
    assert "click" in loaded and not {"torch", "sympy", "numpy"} & loaded
