"""Every malformed suite, filter or CLI value: one line naming the problem, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from .helpers import TINY_SUITE, run_cli, run_main, write_suite


def _replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def _append(extra: str):
    return lambda text: text + "\n" + extra + "\n"


BAD_SUITES = [
    ("bad-toml", _replace('name = "tiny"', 'name = "tiny'), "tiny.toml: invalid TOML"),
    ("unknown-top-key", lambda t: "frobnicate = 3\n" + t, "tiny.toml: frobnicate: unknown key"),
    ("unknown-block-key", _append("frobnicate = 3"), "tiny.toml: grid[0].frobnicate: unknown key"),
    ("unknown-profile-key", _replace("seeds = 3", "seeds = 3\nsneds = 4"), "profiles.quick.sneds: unknown key"),
    ("unknown-unit", _replace('units = ["nau"]', 'units = ["nmuu"]'), "models.NAU.units[0]: unknown unit 'nmuu'"),
    ("unknown-model", _replace('models = ["NAU", "NALU"]', 'models = ["NAU", "NMUU"]'),
     "grid[0].models[1]: unknown model 'NMUU'"),
    ("unknown-op", _replace('ops = ["add", "sub"]', 'ops = ["add", "pow"]'), "grid[0].ops[1]: unknown operation 'pow'"),
    ("unknown-range", _replace('ranges = ["1_2", "0.1_0.2"]', 'ranges = ["1_2", "1_3"]'),
     "grid[0].ranges[1]: unknown range '1_3'"),
    ("reversed-range", _append('[ranges.bad]\ninterpolation = [2, 1]\nextrapolation = [2, 6]'),
     "ranges.bad.interpolation: reversed range"),
    ("union-widths", _append('[ranges.bad]\ninterpolation = [1, 2]\nextrapolation = [[-6, -2], [2, 7]]'),
     "ranges.bad.extrapolation: union ranges must have equal widths"),
    ("range-not-numbers", _append('[ranges.bad]\ninterpolation = ["a", 2]\nextrapolation = [2, 6]'),
     "ranges.bad.interpolation"),
    ("div-through-zero", _replace('ops = ["add", "sub"]\nranges = ["1_2", "0.1_0.2"]',
                                  'ops = ["div"]\nranges = ["1_2", "zero"]\n[ranges.zero]\n'
                                  'interpolation = [-1, 1]\nextrapolation = [1, 3]'),
     "grid[0]: cell m/NAU/div/zero"),
    ("negative-seeds", _replace("seeds = 3", "seeds = -3"), "profiles.quick.seeds"),
    ("zero-seeds", _replace("seeds = 3", "seeds = 0"), "profiles.quick.seeds"),
    ("negative-iterations", _replace("iterations = 400", "iterations = -400"), "profiles.quick.iterations"),
    ("float-iterations", _replace("iterations = 400", "iterations = 400.5"), "profiles.quick.iterations"),
    ("string-seeds", _replace("seeds = 3", 'seeds = "three"'), "profiles.quick.seeds"),
    ("zero-eval-every", _replace("eval_every = 100", "eval_every = 0"), "tiny.toml: eval_every"),
    ("unknown-policy", _replace('threshold_policy = "fixed_1e-5"', 'threshold_policy = "loose"'),
     "threshold_policy: unknown policy 'loose'"),
    ("policy-not-for-task", _replace('threshold_policy = "fixed_1e-5"', 'threshold_policy = "published"'),
     "threshold_policy: cell m/NAU/add/1_2"),
    ("missing-recipe", _replace('[recipe]\nkind = "default"\nsetting = "primer2022"\nbatch_size = 32', ""),
     "tiny.toml: recipe: required key is missing"),
    ("unknown-setting", _replace('setting = "primer2022"', 'setting = "trask2018"'), "recipe.setting"),
    ("bad-lr", _replace("lr = 0.05", "lr = -0.1"), "models.NAU.lr"),
    ("bad-unit-option", _replace('units = ["nau"]', 'units = ["nau"]\noptions = [{ frobnicate = 1 }]'),
     "models.NAU: cannot build the model"),
    ("options-length", _replace('units = ["nau"]', 'units = ["nau"]\noptions = [{}, {}]'), "models.NAU.options"),
    ("block-iterations-profile", _replace('ranges = ["1_2", "0.1_0.2"]',
                                          'ranges = ["1_2", "0.1_0.2"]\niterations = { fast = 10 }'),
     "grid[0].iterations.fast: unknown profile 'fast'"),
    ("profile-grid", _replace("iterations = 400", "iterations = 400\ngrid = [\"nope\"]"),
     "profiles.quick.grid[0]: unknown block 'nope'"),
    ("profile-only", _replace("iterations = 400", 'iterations = 400\nonly = ["modle=NAU"]'),
     "profiles.quick.only[0]: unknown key 'modle'"),
    ("override-sets-nothing", _append('[[profiles.quick.overrides]]\nonly = "model=NAU"'),
     "profiles.quick.overrides[0]: sets nothing"),
    ("override-bad-filter", _append('[[profiles.quick.overrides]]\nonly = "modle=NAU"\nseeds = 2'),
     "profiles.quick.overrides[0].only: unknown key 'modle'"),
    ("override-unknown-key", _append('[[profiles.quick.overrides]]\nonly = "model=NAU"\nsneds = 2'),
     "profiles.quick.overrides[0].sneds: unknown key"),
    ("override-bad-schedules", _append('[[profiles.quick.overrides]]\nonly = "model=NAU"\nschedules = "cut"'),
     "profiles.quick.overrides[0].schedules"),
    ("override-no-cell", _append('[[profiles.quick.overrides]]\nonly = "model=NMU"\nseeds = 2'),
     "profiles.quick.overrides[0].only: matches no cell"),
    ("published-nothing", _replace('ranges = ["1_2", "0.1_0.2"]',
                                   'ranges = ["1_2", "0.1_0.2"]\npublished = { source = "madsen2020", task = "nope" }'),
     "grid[0].published: no published numbers"),
    ("bad-model-key", _replace("[models.NALU]", '[models."NA LU"]'), "models.NA LU: invalid model key"),
]


def assert_one_line_error(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nalm: error: "), err
    assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


@pytest.mark.parametrize("case,edit,needle", BAD_SUITES, ids=[c[0] for c in BAD_SUITES])
def test_malformed_suite_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], case, edit, needle) -> None:
    suite = write_suite(tmp_path, edit(TINY_SUITE))
    db = tmp_path / "out.db"
    code, out, err = run_main(capsys, "bench", str(suite), "--db", str(db), "--no-progress")
    assert_one_line_error(code, err, needle)
    assert not db.exists() and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]  # nothing else written


BAD_ARGS = [
    (["--only", "modle=NAU"], "--only: unknown key 'modle'"),
    (["--only", "model=NMU"], "--only: no cell of suite tiny"),
    (["--only", "model="], "--only: empty pattern"),
    (["--only", "model=NAU,,op=add"], "--only: empty term"),
    (["--only", " "], "--only: empty filter"),
    (["--profile", "fast"], "--profile: suite tiny has no profile 'fast'"),
    (["--seeds", "0"], "--seeds: must be at least 1"),
    (["--seeds", "-2"], "--seeds: must be at least 1"),
    (["--seeds", "many"], "'many' is not a valid integer"),
    (["--device", "tpu"], "'tpu' is not one of"),
    (["--threshold-policy", "loose"], "--threshold-policy: unknown policy 'loose'"),
    (["--threshold-policy", "madsen_r"], "--threshold-policy: cell m/NAU/add/1_2"),
    (["--frobnicate"], "No such option"),
    (["--backend", "cuda_graph"], "--cuda-graph: needs a CUDA --device"),
    (["--cuda-graph"], "--cuda-graph: needs a CUDA --device"),
    (["--backend", "eager", "--compile"], "--backend: eager contradicts --compile"),
    (["--backend", "fast"], "'fast' is not one of"),
]


@pytest.mark.parametrize("args,needle", BAD_ARGS, ids=[" ".join(a) for a, _ in BAD_ARGS])
def test_bad_cli_value(tmp_path: Path, capsys: pytest.CaptureFixture[str], args, needle) -> None:
    suite = write_suite(tmp_path)
    db = tmp_path / "out.db"
    code, _, err = run_main(capsys, "bench", str(suite), "--db", str(db), "--no-progress", *args)
    assert_one_line_error(code, err, needle)
    assert not db.exists()


def test_unknown_suite_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "bench", "madsen2021", "--db", str(tmp_path / "x.db"))
    assert_one_line_error(code, err, "SUITE: unknown suite 'madsen2021'; packaged suites: article, ")
    code, _, err = run_main(capsys, "bench", str(tmp_path / "none.toml"), "--db", str(tmp_path / "x.db"))
    assert_one_line_error(code, err, "no such suite file")
    assert list(tmp_path.iterdir()) == []


def test_bad_db_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path)
    code, _, err = run_main(capsys, "bench", str(suite), "--db", str(tmp_path / "no" / "dir" / "x.db"))
    assert_one_line_error(code, err, "--db: directory")
    assert not (tmp_path / "no").exists()
    code, _, err = run_main(capsys, "bench", str(suite), "--db", str(tmp_path))
    assert_one_line_error(code, err, "is not a file")
    other = tmp_path / "notes.db"
    other.write_text("not a database\n")
    code, _, err = run_main(capsys, "bench", str(suite), "--db", str(other))
    assert code == 2 and err.count("\n") == 1 and str(other) in err
    assert other.read_text() == "not a database\n"


def test_cuda_requested_without_cuda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    suite = write_suite(tmp_path)
    db = tmp_path / "out.db"
    code, _, err = run_main(capsys, "bench", str(suite), "--db", str(db), "--device", "cuda")
    assert_one_line_error(code, err, "--device: cuda requested but CUDA is not available")
    assert not db.exists()


def test_exit_code_through_the_real_entry_point(tmp_path: Path) -> None:
    """The same contract in a fresh process (what a shell sees)."""
    suite = write_suite(tmp_path, TINY_SUITE.replace('units = ["nau"]', 'units = ["nmuu"]'))
    db = tmp_path / "out.db"
    proc = run_cli("bench", str(suite), "--db", str(db))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        proc.stderr.strip()
    ] and "tiny.toml: models.NAU.units[0]: unknown unit 'nmuu'" in proc.stderr
    assert proc.stdout == "" and not db.exists()
