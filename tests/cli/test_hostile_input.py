"""Bad and hostile numbers on the command line: every invocation ends with a result (exit 0) or with
one line on stderr and exit 2, and nothing is written when it fails.

The named cases are the ones a new user found (tracebacks, silent acceptance, no answer for
minutes); the property tests draw the commands' numeric options from values that break naive code
(zero, negatives, NaN, infinities, denormals, 1e308, 10⁹ and 10¹⁸) mixed with ordinary ones.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from tests.support import run_in_process

TINY_SUITE = """
name = "hostile"
protocol_iterations = 50000
threshold_policy = "fixed_1e-5"
eval_every = 50

[recipe]
kind = "default"
setting = "primer2022"
batch_size = 16

[profiles.quick]
seeds = 2
iterations = 100

[models.NAU]
units = ["nau"]

[[grid]]
name = "m"
task = "primer"
models = ["NAU"]
ops = ["add"]
ranges = ["1_2"]
"""


@contextmanager
def empty_cwd() -> Iterator[Path]:
    """A fresh working folder (hypothesis examples cannot share a function-scoped tmp_path)."""
    before = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            yield Path(folder)
        finally:
            os.chdir(before)


run = run_in_process


def assert_result_or_one_line(code: int, out: str, err: str, result_marker: str) -> None:
    if currently_in_test_context():  # how often each outcome was drawn: --hypothesis-show-statistics
        event(f"exit {code}")
    if code == 0:
        assert result_marker in out, out
        return
    assert code == 2, (code, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("nalm: error: "), err
    assert "Traceback" not in err


TRAIN = ("train", "--units", "nmu", "--op", "mul", "--seeds", "2", "--iterations", "60")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--interp", "1,2", "--extrap", "2,6", "--input-size", "0"), "--input-size"),
        (("--interp", "1,2", "--extrap", "2,6", "--device", "tpu"), "--device"),
        (("--interp", "1,2", "--extrap", "2,6", "--device", "meta"), "--device"),
        (("--interp", "1,2", "--extrap", "2,6", "--device", "cpu:7"), "--device"),
        (("--interp", "1,2", "--extrap", "2,6", "--seeds", "1000000000"), "batch too large"),
        (("--interp", "1e308,1.7e308", "--extrap", "2,6"), "--interp: |target| of 'mul'"),
        (("--interp", "1e-320,2e-320", "--extrap", "2,6"), "below float64's smallest normal"),
        (("--interp", "1,2", "--extrap", "2,6", "--lr", "1e300"), "--lr: 1e+300 is beyond float32"),
        (("--interp", "1e30,2e30", "--extrap", "2e30,6e30"), "overflows float32"),
        (("--interp", "1,2", "--extrap", "2,6", "--iterations", "1000000000000000000"),
         "beyond the protocol's 50,000; estimated time here"),
        (("--interp", "1,2", "--extrap", "2,6", "--iterations", "1e18"), "--iterations"),
    ],
)
def test_the_reported_train_cases_end_with_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    with empty_cwd() as cwd:
        code, out, err = run(capsys, *TRAIN, *args)
        assert not list(cwd.iterdir())
    assert code == 2 and out == ""
    assert_result_or_one_line(code, out, err, "")
    assert needle in err


@pytest.mark.parametrize(
    "args",
    [
        ("--interp", "1,2", "--extrap", "2,6", "--lr", "1e300", "--dtype", "float64"),
        ("--interp", "1e30,2e30", "--extrap", "2e30,6e30", "--dtype", "float64"),
    ],
)
def test_what_float64_can_hold_runs(capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    code, out, err = run(capsys, *TRAIN, *args)
    assert code == 0, err
    assert "success rate" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--input-size", "100000000"), "--input-size: the interpolation set (10,000 rows × 100,000,000"),
        (("--mc-samples", "1000000000000"), "or pass --long to run it anyway"),
        (("--interp", "1e308,1.7e308"), "--interp:"),
    ],
)
def test_the_reported_task_cases_end_with_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    code, out, err = run(capsys, "task", "--op", "add", *args)
    assert code == 2 and out == ""
    assert_result_or_one_line(code, out, err, "")
    assert needle in err


def test_a_suite_with_a_billion_seeds_is_refused_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    suite = tmp_path / "hostile.toml"
    suite.write_text(TINY_SUITE.replace("seeds = 2", "seeds = 1000000000"), encoding="utf-8")
    db = tmp_path / "r.db"
    code, out, err = run(capsys, "bench", str(suite), "--db", str(db))
    assert code == 2 and not db.exists()
    assert_result_or_one_line(code, out, err, "")
    assert "batch too large: 1,000,000,000 runs" in err
    code, _, err = run(capsys, "bench", str(suite), "--db", str(db), "--seeds", "3")
    assert code == 0, err  # --seeds overrides the suite's
    assert db.exists()


# ---------------------------------------------------------------------------- properties

_HOSTILE_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e-320", "1e308", "1000000000", "abc", ""]
_BOUNDS = ["-1e308", "-20", "-2", "-1", "-1e-320", "0", "1e-320", "0.5", "1", "2", "6", "1e19",
           "1e30", "1e308", "nan", "inf"]
_HOSTILE_RANGE = st.builds(lambda lo, hi: f"{lo},{hi}", st.sampled_from(_BOUNDS), st.sampled_from(_BOUNDS))
_ORDINARY_RANGE = st.sampled_from(["1,2", "2,6", "-2,-1", "0.1,0.2", "-6,-2:2,6"])


def command_line(
    data: st.DataObject, ordinary: dict[str, st.SearchStrategy], hostile: dict[str, st.SearchStrategy]
) -> list[str]:
    """Options with ordinary values, except for up to two drawn from the hostile values: most
    examples then test one bad value at a time, and some test an ordinary run to its result."""
    bad = data.draw(st.sets(st.sampled_from(sorted(hostile)), max_size=2), label="hostile options")
    args = []
    for option in sorted(ordinary):
        value = data.draw(hostile[option] if option in bad else ordinary[option], label=option)
        if value is not None:
            args.append(f"{option}={value}")
    return args


_TRAIN_ORDINARY: dict[str, st.SearchStrategy] = {
    "--units": st.sampled_from(["nmu", "nau", "nau,nmu"]),
    "--op": st.sampled_from(["add", "sub", "mul"]),
    "--seeds": st.sampled_from(["1", "2", "3"]),
    "--iterations": st.sampled_from(["20", "60"]),
    "--input-size": st.sampled_from([None, "4", "8"]),
    "--lr": st.sampled_from([None, "0.05", "1e-3"]),
    "--hidden": st.sampled_from([None, "1", "2"]),
    "--interp": _ORDINARY_RANGE,
    "--extrap": _ORDINARY_RANGE,
    "--dtype": st.sampled_from(["float32", "float64"]),
}
_TRAIN_HOSTILE: dict[str, st.SearchStrategy] = {
    "--seeds": st.sampled_from(_HOSTILE_NUMBERS + ["1e3", "1000000000000"]),
    "--iterations": st.sampled_from(_HOSTILE_NUMBERS + ["1e18", "1000000000000000000"]),
    "--input-size": st.sampled_from(_HOSTILE_NUMBERS + ["100000000"]),
    "--lr": st.sampled_from(_HOSTILE_NUMBERS + ["1e300", "1e-300", "1e39"]),
    "--hidden": st.sampled_from(_HOSTILE_NUMBERS),
    "--interp": _HOSTILE_RANGE,
    "--extrap": _HOSTILE_RANGE,
    "--op": st.sampled_from(["div", "root", "squared", "pow"]),
}


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_train_answers_with_a_result_or_one_line(
    capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    args = command_line(data, _TRAIN_ORDINARY, _TRAIN_HOSTILE)
    with empty_cwd() as cwd:
        code, out, err = run(capsys, "train", *args)
        assert not list(cwd.iterdir())
    assert_result_or_one_line(code, out, err, "success rate")


_TASK_ORDINARY: dict[str, st.SearchStrategy] = {
    "--op": st.sampled_from(["add", "mul", "sub", "squared"]),
    "--kind": st.sampled_from(["static", "single-module"]),
    "--input-size": st.sampled_from([None, "10", "100"]),
    "--mc-samples": st.sampled_from(["2", "1000", "20000"]),
    "--eps": st.sampled_from([None, "1e-5", "1e-3"]),
    "--seed": st.sampled_from(["0", "7", "4294967295"]),
    "--interp": st.one_of(st.none(), _ORDINARY_RANGE),
    "--rows": st.sampled_from(["0", "2"]),
}
_TASK_HOSTILE: dict[str, st.SearchStrategy] = {
    "--input-size": st.sampled_from(_HOSTILE_NUMBERS + ["100000000"]),
    "--mc-samples": st.sampled_from(_HOSTILE_NUMBERS + ["1000000000000"]),
    "--eps": st.sampled_from(_HOSTILE_NUMBERS + ["1"]),
    "--seed": st.sampled_from(_HOSTILE_NUMBERS + ["4294967296"]),
    "--interp": _HOSTILE_RANGE,
    "--rows": st.sampled_from(_HOSTILE_NUMBERS + ["51"]),
    "--op": st.sampled_from(["div", "root"]),
}


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_task_answers_with_a_result_or_one_line(
    capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    args = command_line(data, _TASK_ORDINARY, _TASK_HOSTILE)
    with empty_cwd() as cwd:
        code, out, err = run(capsys, "task", *args)
        assert not list(cwd.iterdir())
    assert_result_or_one_line(code, out, err, "success threshold")


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_bench_answers_with_stored_runs_or_one_line_and_no_database(
    capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    args = command_line(
        data,
        {"--seeds": st.sampled_from([None, "1", "2"]), "--group-runs": st.sampled_from([None, "1", "4"]),
         "--profile": st.just("quick")},
        {"--seeds": st.sampled_from(_HOSTILE_NUMBERS), "--group-runs": st.sampled_from(_HOSTILE_NUMBERS),
         "--profile": st.sampled_from(["full", "nope", ""])},
    )
    with empty_cwd() as cwd:
        suite = cwd / "hostile.toml"
        suite.write_text(TINY_SUITE, encoding="utf-8")
        db = cwd / "r.db"
        code, out, err = run(capsys, "bench", str(suite), "--db", str(db), "--no-progress", *args)
        if code == 0:
            event("exit 0")
            with sqlite3.connect(db) as conn:
                assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] >= 1
            assert "1 cells run" in out
        else:
            assert sorted(p.name for p in cwd.iterdir()) == ["hostile.toml"]
            assert_result_or_one_line(code, out, err, "")
