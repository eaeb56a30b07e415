"""numba's kernel cache when the package folder is read-only (installed by root, run by a user).

The CLI runs in a subprocess on a read-only copy of the ``nalm`` package. Tests often run as root,
and root ignores file modes; so, as root, the subprocess also drops ``CAP_DAC_OVERRIDE`` and
``CAP_DAC_READ_SEARCH`` from its capability bounding set before it starts Python: it is still uid 0
(it can read everything a root-installed venv holds), but the kernel then enforces the read-only
modes on it as on any user. A probe checks that the copy is really unwritable to such a process and
the tests skip, saying why, where it is not.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nalm.tasks.rng import backend

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ["-m", "nalm.cli.main", "train", "--units", "nau", "--op", "add", "--interp", "1,2",
         "--extrap", "2,6", "--seeds", "2", "--iterations", "200"]

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_dac_capabilities() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes a root child obey file modes; None when not root."""
    if os.geteuid() != 0:
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def preexec() -> None:
        for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
            if prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return preexec


def _set_writable(root: Path, writable: bool) -> None:
    """chmod a tree read-only (dirs r-x, files r--) or back to owner-writable."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        if writable:
            path.chmod(mode | stat.S_IWUSR)
        else:
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


class ReadOnlyInstall:
    """A read-only copy of ``nalm`` under ``site``, and how to run Python against it."""

    def __init__(self, tmp: Path) -> None:
        self.site = tmp / "site"
        self.cwd = tmp / "cwd"  # no nalm here: `python -m` puts the cwd first on sys.path
        self.cwd.mkdir()
        shutil.copytree(ROOT / "nalm", self.site / "nalm",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _set_writable(self.site, False)
        self.preexec = _drop_dac_capabilities()

    def run(self, args: list[str], *, home: Path, tmpdir: Path) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("NUMBA_") and k not in ("XDG_CACHE_HOME", "NALM_DISABLE_NUMBA")}
        env.update(HOME=str(home), TMPDIR=str(tmpdir), PYTHONPATH=str(self.site),
                   PYTHONDONTWRITEBYTECODE="1")
        return subprocess.run([sys.executable, *args], cwd=self.cwd, env=env, capture_output=True,
                              text=True, timeout=300, preexec_fn=self.preexec)


@pytest.fixture
def install(tmp_path: Path) -> Iterator[ReadOnlyInstall]:
    inst = ReadOnlyInstall(tmp_path)
    try:
        probe = inst.run(["-c", "import sys, tempfile, nalm\n"
                                "print(nalm.__file__)\n"
                                "try:\n"
                                "    tempfile.TemporaryFile(dir=sys.argv[1]).close()\n"
                                "except OSError:\n"
                                "    print('read-only')\n", str(inst.site / "nalm")],
                         home=tmp_path, tmpdir=tmp_path)
        if probe.returncode != 0:
            pytest.skip(f"cannot run a child that obeys file modes here: {probe.stderr.strip()}")
        lines = probe.stdout.split()
        assert lines[0] == str(inst.site / "nalm" / "__init__.py"), "the child must use the copy"
        if lines[-1] != "read-only":
            pytest.skip("the read-only package copy is still writable to the child")
        yield inst
    finally:
        for path in tmp_path.iterdir():  # let pytest remove it
            _set_writable(path, True)


def test_read_only_install_caches_in_the_user_folder(install: ReadOnlyInstall,
                                                     tmp_path: Path) -> None:
    home, tmpdir = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmpdir.mkdir()
    proc = install.run(TRAIN, home=home, tmpdir=tmpdir)
    assert proc.returncode == 0, proc.stderr
    assert "seed" in proc.stdout
    cached = {p.suffix for p in (home / ".cache" / "nalm" / "numba").rglob("_kernels.*")}
    assert cached == {".nbi", ".nbc"}
    assert not list((install.site / "nalm").rglob("*.nbi"))
    assert not list(tmpdir.iterdir())


def test_read_only_install_with_no_writable_cache_folder(install: ReadOnlyInstall,
                                                         tmp_path: Path) -> None:
    home, tmpdir = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmpdir.mkdir()
    home.chmod(0o555)  # no ~/.cache: neither numba's ~/.cache/numba nor ~/.cache/nalm/numba
    proc = install.run(TRAIN, home=home, tmpdir=tmpdir)
    assert proc.returncode == 0, proc.stderr
    assert "seed" in proc.stdout
    assert not list(home.iterdir())
    assert not list(tmpdir.iterdir()), "the throwaway cache folder is removed at exit"


def test_no_folder_at_all_falls_back_to_torch(install: ReadOnlyInstall, tmp_path: Path) -> None:
    """Not even a temporary folder: the kernels cannot load, and ``auto`` draws with torch."""
    home = tmp_path / "home"
    home.mkdir(mode=0o555)
    code = ("import tempfile, torch\n"
            "def refuse(*a, **k):\n"
            "    raise PermissionError('no temporary folder')\n"
            "tempfile.mkdtemp = refuse\n"
            "from nalm.tasks.rng import backend\n"
            "print(backend.numba_available(), backend.resolve_backend('auto', torch.device('cpu')))\n")
    proc = install.run(["-c", code], home=home, tmpdir=home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "torch"]


def test_cache_dir_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The decision itself: the user's NUMBA_CACHE_DIR, in-tree, per-user (XDG), temporary."""
    assert backend._numba_cache_dir("/the/users/choice") is None
    pycache = Path(backend.__file__).resolve().parent / "__pycache__"
    writable = {pycache: True}
    monkeypatch.setattr(backend, "_writable_dir", lambda p: writable.get(p, True))
    assert backend._numba_cache_dir("") is None  # numba's default: beside the source
    writable[pycache] = False
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert backend._numba_cache_dir("") == str(tmp_path / "xdg" / "nalm" / "numba")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert backend._user_cache_dir() == tmp_path / "home" / ".cache" / "nalm" / "numba"
    writable[backend._user_cache_dir()] = False
    monkeypatch.setattr(backend.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(backend.atexit, "register", lambda *a, **k: None)
    tmp = backend._numba_cache_dir("")
    assert tmp is not None and Path(tmp).parent == tmp_path and Path(tmp).name.startswith("nalm-")


BENCH_SUITE = """
name = "readonly"
protocol_iterations = 50000
threshold_policy = "fixed_1e-5"
eval_every = 100

[recipe]
kind = "default"
setting = "primer2022"
batch_size = 32

[profiles.quick]
seeds = 2
iterations = 300

[models.NAU]
units = ["nau"]

[[grid]]
name = "m"
task = "primer"
models = ["NAU"]
ops = ["add", "sub"]
ranges = ["1_2"]
"""


def test_bench_from_a_read_only_install_runs_to_completion(install: ReadOnlyInstall,
                                                           tmp_path: Path) -> None:
    home, tmpdir = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmpdir.mkdir()
    suite = install.cwd / "readonly.toml"
    suite.write_text(BENCH_SUITE, encoding="utf-8")
    db = install.cwd / "results.db"
    proc = install.run(["-m", "nalm.cli.main", "bench", str(suite), "--db", str(db)],
                       home=home, tmpdir=tmpdir)
    assert proc.returncode == 0, proc.stderr
    assert "2 cells run, 0 skipped (already stored), 0 failed" in proc.stdout
    report = install.run(["-m", "nalm.cli.main", "report", "--db", str(db)], home=home, tmpdir=tmpdir)
    assert report.returncode == 0, report.stderr
    assert not list((install.site / "nalm").rglob("*.nbi"))
