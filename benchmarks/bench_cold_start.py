"""A first ``nalm train`` after an install (numba's cache empty) against a later one, side by side.

    python benchmarks/bench_cold_start.py [--pairs 4] [--iterations 200] [--seeds 10] [--input-size 2]
                                          [--inline]

Each pair runs the same ``nalm train --units nau --op add --interp 1,2 --extrap 2,6 ...`` twice in
fresh processes: *cold* with ``NUMBA_CACHE_DIR`` a new empty folder (what a first run after an
install sees), *warm* with a folder the kernels were compiled into before the first pair. The order
alternates between pairs (cold first, then warm first) so a change of machine load hits both alike.
After a cold run the script waits for the background compile that run started (it takes the
compile's lock, ``nalm-numba-compile.lock``) before the next run, and reports how long after the run
the compile finished: that process's CPU time is not in the run's own CPU time.

``--inline`` runs the cold side with ``NALM_NUMBA_COMPILE=inline`` (the kernel compiles in the run,
as before the background compile) for comparison. Printed: wall and CPU seconds per run, the
medians, cold − warm, and the load average before and after.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK_NAME = "nalm-numba-compile.lock"  # nalm.tasks.rng.backend.LOCK_NAME (not imported: no torch here)


def _train_cmd(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-m", "nalm.cli.main", "train", "--units", "nau", "--op", "add",
        "--interp", "1,2", "--extrap", "2,6", "--seeds", str(args.seeds),
        "--iterations", str(args.iterations), "--input-size", str(args.input_size),
    ]


def _run(cmd: list[str], cache: Path, extra_env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run (CPU: the run's own process, user + system)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NALM_NUMBA_COMPILE", "NALM_DISABLE_NUMBA")}
    env.update(NUMBA_CACHE_DIR=str(cache), **extra_env)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"nalm train failed:\n{proc.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _wait_for_compile(cache: Path, timeout: float = 600.0) -> float:
    """Seconds until no background compile holds the lock in ``cache`` (0 when none ran)."""
    path = cache / LOCK_NAME
    if not path.exists():
        return 0.0
    t0 = time.perf_counter()
    fd = os.open(path, os.O_RDWR)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return time.perf_counter() - t0
            except OSError:
                if time.perf_counter() - t0 > timeout:
                    raise SystemExit(f"the background compile in {cache} did not finish in {timeout:.0f} s")
                time.sleep(0.05)
    finally:
        os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--input-size", type=int, default=2)
    ap.add_argument("--inline", action="store_true", help="cold runs compile in the run (NALM_NUMBA_COMPILE=inline)")
    args = ap.parse_args()
    cmd = _train_cmd(args)
    cold_env = {"NALM_NUMBA_COMPILE": "inline"} if args.inline else {}
    print(" ".join(cmd[1:]), "| cold:", "inline compile" if args.inline else "background compile")
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="nalm-cold-start-"))
    try:
        warm_cache = tmp / "warm"
        _run(cmd, warm_cache, {})  # fills the warm folder (untimed)
        _wait_for_compile(warm_cache)
        rows = []
        for i in range(args.pairs):
            cold_cache = tmp / f"cold{i}"
            result: dict[str, tuple[float, float]] = {}
            for side in (("cold", "warm") if i % 2 == 0 else ("warm", "cold")):
                if side == "cold":
                    result["cold"] = _run(cmd, cold_cache, cold_env)
                    result["compile_after"] = (_wait_for_compile(cold_cache), 0.0)
                else:
                    result["warm"] = _run(cmd, warm_cache, {})
            rows.append(result)
            (cw, cc), (ww, wc) = result["cold"], result["warm"]
            print(f"pair {i + 1} ({'cold first' if i % 2 == 0 else 'warm first'}): cold {cw:6.2f} s wall "
                  f"{cc:6.2f} s CPU | warm {ww:6.2f} s wall {wc:6.2f} s CPU | cold - warm {cw - ww:+.2f} s; "
                  f"background compile done {result['compile_after'][0]:.2f} s after the cold run")
        cold = statistics.median(r["cold"][0] for r in rows)
        warm = statistics.median(r["warm"][0] for r in rows)
        diff = statistics.median(r["cold"][0] - r["warm"][0] for r in rows)
        print(f"median wall: cold {cold:.2f} s, warm {warm:.2f} s, ratio {cold / warm:.2f}, "
              f"median of pair differences {diff:+.2f} s")
        print(f"load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
