"""The Ray executor against the local one, side by side in one run: a suite slice's wall time and
Ray's overhead per unit.

    python benchmarks/bench_ray.py [--suite primer2022] [--profile quick] [--only FILTER]
                                   [--workers 2] [--trivial 40] [--repeats 2]

1. **Overhead per unit.** ``--trivial`` cells of one seed and 10 iterations (almost no training) run
   through the local executor and through Ray with one unit at a time (each unit reserving every CPU,
   so no parallelism hides the cost; both sides warmed by one untimed pass: Ray's workers and this
   process have imported nalm and compiled its kernels), alternating ``--overhead-repeats`` times;
   the difference of the two wall times divided by the units is what each unit costs on Ray:
   shipping the unit and its results, scheduling.
2. **A suite slice.** ``--suite``/``--profile``/``--only`` into fresh databases, local and Ray (with
   ``--workers`` workers of one CPU each) alternating ``--repeats`` times; the printed ratio is
   local wall / Ray wall (above 1: Ray finishes first). Both store the same rows (checked).

Ray's start-up (a local instance) is timed once and reported apart: on a cluster it is paid once per
campaign, not per unit.
"""

from __future__ import annotations

import argparse
import statistics
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

TRIVIAL = """
name = "trivial"
protocol_iterations = 50000
threshold_policy = "fixed_1e-5"
eval_every = 5

[recipe]
kind = "default"
setting = "primer2022"
batch_size = 16

[profiles.quick]
seeds = 1
iterations = 10

[models.NAU]
units = ["nau"]

[[grid]]
name = "m"
task = "primer"
models = ["NAU"]
ops = ["add", "sub", "mul", "div"]
ranges = {ranges}
"""


def _rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return sorted(con.execute(
            "SELECT config_hash, seed, status, solved, interpolation_mse, extrapolation_mse FROM runs"
        ).fetchall())
    finally:
        con.close()


def _run(cells, db: Path, executor) -> float:  # noqa: ANN001
    from nalm.bench.runner import run_cells

    start = time.perf_counter()
    run_cells(cells, db, progress=False, echo=lambda _: None, executor=executor)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="primer2022")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--only", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trivial", type=int, default=40, help="trivial units for the overhead")
    parser.add_argument("--repeats", type=int, default=2, help="slice repeats (0: overhead only)")
    parser.add_argument("--overhead-repeats", type=int, default=5)
    args = parser.parse_args()

    import ray

    from nalm.bench.plan import plan_cells
    from nalm.bench.ray_executor import RayExecutor
    from nalm.bench.schema import load_suite
    from nalm.tasks.presets import PRIMER_RANGES

    started = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    executor = RayExecutor()
    startup = time.perf_counter() - started
    print(f"Ray start-up (local instance, {args.workers} CPUs): {startup:.1f} s")

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        names = list(PRIMER_RANGES)
        ranges = (names * (args.trivial // (4 * len(names)) + 1))[: max(1, args.trivial // 4)]
        suite_file = tmp / "trivial.toml"
        suite_file.write_text(TRIVIAL.replace("{ranges}", repr(sorted(set(ranges)))), encoding="utf-8")
        cells = plan_cells(load_suite(str(suite_file)), "quick")
        serial = RayExecutor(cpus_per_task=args.workers)  # one unit at a time
        _run(cells, tmp / "warm-ray.db", serial)  # workers import nalm and compile once
        _run(cells, tmp / "warm-local.db", None)  # and so does this process
        per_unit = []
        for r in range(args.overhead_repeats):
            local = _run(cells, tmp / f"trivial-local{r}.db", None)
            remote = _run(cells, tmp / f"trivial-ray{r}.db", serial)
            per_unit.append((remote - local) / len(cells))
            print(f"overhead {r}: {len(cells)} trivial units, local {local:.2f} s, Ray {remote:.2f} s -> "
                  f"{per_unit[-1] * 1000:.1f} ms per unit on Ray")
        print(f"median overhead: {statistics.median(per_unit) * 1000:.1f} ms per unit")

        if args.repeats < 1:
            ray.shutdown()
            return
        cells = plan_cells(load_suite(args.suite), args.profile, only=args.only)
        work = sum(len(c.seeds) * c.iterations for c in cells)
        print(f"slice: {args.suite} {args.profile} {args.only or '(all)'}: {len(cells)} cells, {work:,} seed-iterations")
        ratios = []
        for r in range(args.repeats):
            t_local = _run(cells, tmp / f"local{r}.db", None)
            t_ray = _run(cells, tmp / f"ray{r}.db", executor)
            same = _rows(tmp / f"local{r}.db") == _rows(tmp / f"ray{r}.db")
            ratios.append(t_local / t_ray)
            print(f"  repeat {r}: local {t_local:.1f} s, Ray ({args.workers} workers) {t_ray:.1f} s, "
                  f"local/Ray {t_local / t_ray:.2f}, rows identical: {same}")
        print(f"median local/Ray: {statistics.median(ratios):.2f}")
    ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
