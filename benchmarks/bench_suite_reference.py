"""A whole suite with nalm's defaults against the reference running the same cells one process per
seed, as its cluster scripts do.

    python benchmarks/bench_suite_reference.py --stable-nalu CHECKOUT [--suite madsen2020]
                                               [--profile quick] [--short 1000] [--long 5000]

For every cell of the suite's profile, the reference (stable-nalu's
``experiments/simple_function_static.py`` through ``stable_nalu_boot.py``, one thread as its
``bsub -n 1`` jobs) runs the cell's network, operation and input size for ``--short`` and ``--long``
iterations, one process each: the difference gives its time per iteration on that network, the
rest of the short run its start-up (interpreter, imports, data sets). The cell's reference time is
then ``seeds × (start-up + iterations × time per iteration)`` — what the cluster scripts spend on
it, one process per seed. nalm's time is the wall time of ``nalm bench SUITE --profile PROFILE``
into a fresh database (a subprocess: imports and kernel loading included), measured between two
passes over the reference cells, whose means are used. Printed: per cell the reference's rate,
start-up and projected time; the two totals and their ratio.

Only madsen2020 cells are mapped to the reference's options (``MODELS``); the Primer's reference is
another code base (nalm-benchmark) and is not run here.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_trainer import stable_nalu_run_args  # noqa: E402

#: madsen2020 model label -> stable-nalu options (its lfs_batch_jobs scripts).
MODELS = {
    "NAU": ("--layer-type", "ReRegualizedLinearNAC"),
    "NMU": ("--layer-type", "ReRegualizedLinearMNAC", "--first-layer", "ReRegualizedLinearNAC"),
    "NALU": ("--layer-type", "NALU"),
    "NAC*": ("--layer-type", "NAC", "--nac-mul", "normal"),
    "NAC+": ("--layer-type", "NAC"),
}


def reference_options(cell) -> tuple[str, ...]:  # noqa: ANN001
    """The reference's command-line options for a madsen2020 cell."""
    if cell.model not in MODELS:
        raise SystemExit(f"no stable-nalu options for model {cell.model!r} (cell {cell.id})")
    options = (*MODELS[cell.model], "--operation", cell.op)
    if cell.block == "intro":
        return (*options, "--simple")
    return (*options, "--input-size", str(cell.spec.in_features))


def measure_reference(checkout: str, cells, short: int, long: int) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    """cell id -> (seconds per iteration, start-up seconds), one short and one long process each."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cell in cells:
            options = reference_options(cell)
            t_short = stable_nalu_run_args(checkout, options, short, tmp)
            t_long = stable_nalu_run_args(checkout, options, long, tmp)
            per_iteration = max(t_long - t_short, 1e-9) / (long - short)
            out[cell.id] = (per_iteration, max(t_short - short * per_iteration, 0.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stable-nalu", required=True, metavar="CHECKOUT")
    parser.add_argument("--suite", default="madsen2020")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--short", type=int, default=1000)
    parser.add_argument("--long", type=int, default=5000)
    parser.add_argument("--nalm-args", default="", help="extra options for nalm bench, e.g. '--group-runs 100'")
    args = parser.parse_args()

    from nalm.bench.plan import plan_cells
    from nalm.bench.schema import load_suite

    cells = plan_cells(load_suite(args.suite), args.profile)
    before = measure_reference(args.stable_nalu, cells, args.short, args.long)
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "nalm.cli.main", "bench", args.suite, "--profile", args.profile,
                   "--db", str(Path(tmp) / "bench.db"), "--no-progress", *args.nalm_args.split()]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        nalm_wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"nalm bench failed:\n{done.stderr[-2000:]}")
    after = measure_reference(args.stable_nalu, cells, args.short, args.long)

    total = 0.0
    print(f"{args.suite} {args.profile}: {len(cells)} cells; reference = stable-nalu, one process per seed, "
          f"1 thread; its rates from {args.short:,}- and {args.long:,}-iteration processes before and after nalm")
    print(f"{'cell':34s} {'seeds':>5s} {'iterations':>10s} {'ref it/s':>9s} {'start-up s':>10s} {'ref time s':>10s}")
    for cell in cells:
        per_iteration = statistics.mean((before[cell.id][0], after[cell.id][0]))
        startup = statistics.mean((before[cell.id][1], after[cell.id][1]))
        seconds = len(cell.seeds) * (startup + cell.iterations * per_iteration)
        total += seconds
        print(f"{cell.id:34s} {len(cell.seeds):5d} {cell.iterations:10,d} {1 / per_iteration:9.0f} "
              f"{startup:10.2f} {seconds:10.0f}")
    print(f"reference, one process per seed (projected from its measured rates): {total:8.0f} s")
    print(f"nalm bench {args.suite} --profile {args.profile} {args.nalm_args}(wall, one process):  "
          f"{nalm_wall:8.1f} s")
    print(f"ratio: {total / nalm_wall:.1f}x")


if __name__ == "__main__":
    main()
