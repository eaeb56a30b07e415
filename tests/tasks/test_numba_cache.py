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


def _wait_for_background_compile(folder: Path, timeout: float = 600.0) -> None:
    """Return once no background compile holds the lock in ``folder``: the run that started it
    took the lock before starting it, so a compile still under way is never missed."""
    import fcntl
    import time

    lock = folder / backend.LOCK_NAME
    assert lock.exists(), "a cold run starts a background compile"
    fd = os.open(lock, os.O_RDWR)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError:
                assert time.monotonic() < deadline, "the background compile did not finish"
                time.sleep(0.05)
    finally:
        os.close(fd)


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
    _wait_for_background_compile(home / ".cache" / "nalm" / "numba")
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
    _wait_for_background_compile(home / ".cache" / "nalm" / "numba")
    assert "2 cells run, 0 skipped (already stored), 0 failed" in proc.stdout
    report = install.run(["-m", "nalm.cli.main", "report", "--db", str(db)], home=home, tmpdir=tmpdir)
    assert report.returncode == 0, report.stderr
    assert not list((install.site / "nalm").rglob("*.nbi"))


# --------------------------------------------------------------------------------------------------
# The background compile: a kernel missing from the cache compiles in a child process while "auto"
# draws with torch (the same bits); a failed compile leaves torch in charge, silently.
# --------------------------------------------------------------------------------------------------

BRIDGE_SCRIPT = """
import json, sys, time
import numpy as np
from nalm.tasks.rng import UniformStream, backend
from nalm.tasks.rng import _compile

if sys.argv[1] != "ok":
    # a compile that dies without a word, or one that reports a failure
    _compile.BOOTSTRAP = ("import sys; sys.exit(3)" if sys.argv[1] == "dies"
                          else "print(sys.argv[-1] + ' error RuntimeError: no LLVM today')")
    _compile.BOOTSTRAP = "import sys\\n" + _compile.BOOTSTRAP
S, n = 3, 5
seeds, lo, width = [0, 1, 7], [-1.0], [2.0]  # a range holding 0: the zero redraw path too
starts = np.array([[0], [1], [2]]); ends = np.array([[3], [4], [5]])
ref = UniformStream(seeds, n, lo, width, starts, ends, backend="torch")
expected = [ref(step, 64) for step in range(6)]
auto = UniformStream(seeds, n, lo, width, starts, ends, backend="auto", reuse_output=True)
gate = backend._gate()
kinds, same = [], True
for step in range(6):
    x, sums = auto(step, 64)
    # each call asks the gate first: numba served it exactly when the kernel is ready after it
    kinds.append("numba" if "f32_shared" in gate.ready_set else "torch")
    same = same and bool((x == expected[step][0]).all() and (sums == expected[step][1]).all())
    if step == 2:
        gate.wait(300)
        time.sleep(gate.POLL_S)
kernel = backend._numba_module().KERNELS["f32_shared"]
print(json.dumps({"kinds": kinds, "same": same, "failed": gate.failed,
                  "hits": sum(kernel.stats.cache_hits.values()), "overloads": len(kernel.overloads)}))
"""


def _run_bridge(tmp_path: Path, mode: str) -> tuple[dict, subprocess.CompletedProcess]:
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "NALM_"))}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    proc = subprocess.run([sys.executable, "-c", BRIDGE_SCRIPT, mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc


def test_cold_kernel_draws_with_torch_until_the_background_compile_is_loaded(tmp_path: Path) -> None:
    out, _ = _run_bridge(tmp_path, "ok")
    # Cold: torch until the child has compiled; then the kernel loads from the cache it wrote (a
    # cache hit, nothing compiled in the parent) and every later draw is numba's; bits unchanged.
    assert out["kinds"][:3] == ["torch"] * 3
    assert out["kinds"][3:] == ["numba"] * 3
    assert out["same"] and out["failed"] == {}
    assert out["hits"] == 1 and out["overloads"] == 1
    assert list((tmp_path / "cache").rglob("_kernels.fill_f32_shared-*.nbi"))
    # A second process finds the cache: numba from its first draw.
    out, _ = _run_bridge(tmp_path, "ok")
    assert out["kinds"] == ["numba"] * 6 and out["same"]


@pytest.mark.parametrize("mode", ["dies", "reports"])
def test_a_failed_background_compile_leaves_torch_drawing(tmp_path: Path, mode: str) -> None:
    out, proc = _run_bridge(tmp_path, mode)
    assert out["kinds"] == ["torch"] * 6 and out["same"]
    reason = out["failed"]["f32_shared"]
    assert ("status 3" in reason) if mode == "dies" else ("no LLVM today" in reason)
    assert "Traceback" not in proc.stderr


EARLY_SCRIPT = """
import subprocess, sys
from nalm.tasks.rng import backend
numba_loaded_at_spawn = []
real = subprocess.Popen
class Spy(real):
    def __init__(self, *args, **kwargs):
        numba_loaded_at_spawn.append("numba" in sys.modules)
        super().__init__(*args, **kwargs)
subprocess.Popen = Spy
backend.prepare_kernel("float32")
gate = backend._gate()
gate.wait(300)
print(numba_loaded_at_spawn, sorted(gate.compiles), "torch" in sys.modules)
"""


def test_prepare_kernel_starts_a_missing_kernels_compile_before_importing_numba(tmp_path: Path) -> None:
    # A first `nalm train` after an install: the compile starts before numba's own import (~0.4 s)
    # and the gate takes it over; once the cache holds the kernel, no child starts at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "NALM_"))}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")

    def run() -> list[str]:
        proc = subprocess.run([sys.executable, "-c", EARLY_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().splitlines()[-1]

    assert run() == "[False] ['f32_shared'] False"
    assert list((tmp_path / "cache").rglob("_kernels.fill_f32_shared-*.nbi"))
    assert run() == "[] [] False"


def test_inline_compile_when_asked(tmp_path: Path) -> None:
    """NALM_NUMBA_COMPILE=inline: the kernel compiles in the process at its first draw (no child)."""
    code = ("import numpy as np\n"
            "from nalm.tasks.rng import UniformStream, backend\n"
            "s = UniformStream([0], 2, [1.0], [1.0], [[0]], [[2]])\n"
            "s(0, 4)\n"
            "print(backend._gate().compiles == {}, backend._gate().ready_set)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "NALM_"))}
    env.update(NUMBA_CACHE_DIR=str(tmp_path), NALM_NUMBA_COMPILE="inline")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "{'f32_shared'}"]


def test_the_compile_lock_is_handed_to_the_child_or_waited_for(tmp_path: Path) -> None:
    import fcntl

    args, fds, fd = backend._lock(tmp_path)
    assert args == [] and fds == (fd,) and fd is not None  # free: taken here, for the child
    try:
        # held (by "another compile"): the next child is told to wait for it
        assert backend._lock(tmp_path) == (["--lock", str(tmp_path / backend.LOCK_NAME)], (), None)
    finally:
        os.close(fd)
    other = os.open(tmp_path / backend.LOCK_NAME, os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with the descriptor
    os.close(other)
