"""A whole suite with nalm's defaults against the reference running the same cells one process per
seed, as its cluster scripts do.

    python benchmarks/bench_suite_reference.py --stable-nalu CHECKOUT [--suite madsen2020]
                                               [--profile quick] [--short 1000] [--long 5000]
    python benchmarks/bench_suite_reference.py --nalm-benchmark CHECKOUT --suite primer2022 [...]

The reference of madsen2020 is stable-nalu (``experiments/simple_function_static.py``); that of
primer2022 is nalm-benchmark (``experiments/single_layer_benchmark.py``, the Primer's fork of it, with
the flags of its ``single_layer_benchmark.sh``). Both run through ``stable_nalu_boot.py`` on one thread,
as their ``bsub -n 1`` jobs. For every network of the suite's profile the reference runs for
``--short`` and ``--long`` iterations, one process each: the difference gives its time per iteration
on that network, the rest of the short run its start-up (interpreter, imports, data sets). A cell's
reference time is then ``seeds × (start-up + iterations × time per iteration)`` — what the cluster
scripts spend on it, one process per seed. madsen2020 cells are measured one by one; primer2022's
cells differ only in their ranges within a (module, operation), so each (module, operation) is
measured once, on U[1, 2] → U[2, 6], and that rate serves its nine ranges (a range changes the
numbers drawn, not the work). nalm's time is the wall time of ``nalm bench SUITE --profile PROFILE``
into a fresh database (a subprocess: imports and kernel loading included), measured between two
passes over the reference, whose means are used. Printed: per cell the reference's rate, start-up
and projected time; the two totals and their ratio.

Get the checkouts with ``git clone https://github.com/AndreasMadsen/stable-nalu`` and ``git clone
https://github.com/bmistry4/nalm-benchmark`` (this script never downloads); their dependencies:
``pip install tensorboardX pandas``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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

#: primer2022 model label -> nalm-benchmark options (single_layer_benchmark.sh; protocols.md §3.3).
PRIMER_MODELS = {
    "NAU": ("--layer-type", "ReRegualizedLinearNAC", "--regualizer", "0.01",
            "--regualizer-scaling-start", "20000", "--regualizer-scaling-end", "35000"),
    "NMU": ("--layer-type", "ReRegualizedLinearMNAC", "--nac-mul", "mnac",
            "--regualizer-scaling-start", "20000", "--regualizer-scaling-end", "35000"),
    "NALU": ("--layer-type", "NALU"),
}


def _range_option(ranges) -> str:  # noqa: ANN001
    parts = [f"[{lo:g},{hi:g}]" for lo, hi in ranges]
    return parts[0] if len(parts) == 1 else "[" + ",".join(parts) + "]"


@dataclass(frozen=True)
class Reference:
    name: str
    script: str  # relative to the checkout
    checkout: str

    def options(self, cell) -> tuple[str, ...]:  # noqa: ANN001
        """The reference's command-line options for a cell."""
        if self.name == "stable-nalu":
            if cell.model not in MODELS:
                raise SystemExit(f"no stable-nalu options for model {cell.model!r} (cell {cell.id})")
            options = (*MODELS[cell.model], "--operation", cell.op)
            if cell.block == "intro":
                return (*options, "--simple")
            return (*options, "--input-size", str(cell.spec.in_features))
        if cell.model not in PRIMER_MODELS or cell.spec.in_features != 2:
            raise SystemExit(f"no nalm-benchmark options for model {cell.model!r} (cell {cell.id})")
        return (*PRIMER_MODELS[cell.model], "--operation", cell.op,
                "--interpolation-range", "[1,2]", "--extrapolation-range", "[2,6]")

    def key(self, cell) -> str:  # noqa: ANN001
        """Cells with one key share one measured rate (see the module docstring)."""
        return cell.id if self.name == "stable-nalu" else f"{cell.model}/{cell.op}"


def measure_reference(ref: Reference, cells, short: int, long: int) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    """key -> (seconds per iteration, start-up seconds), one short and one long process each."""
    out: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cell in cells:
            key = ref.key(cell)
            if key in out:
                continue
            options = ref.options(cell)
            t_short = stable_nalu_run_args(ref.checkout, options, short, tmp, script=ref.script)
            t_long = stable_nalu_run_args(ref.checkout, options, long, tmp, script=ref.script)
            per_iteration = max(t_long - t_short, 1e-9) / (long - short)
            out[key] = (per_iteration, max(t_short - short * per_iteration, 0.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    checkout = parser.add_mutually_exclusive_group(required=True)
    checkout.add_argument("--stable-nalu", metavar="CHECKOUT", help="the reference of madsen2020")
    checkout.add_argument("--nalm-benchmark", metavar="CHECKOUT", help="the reference of primer2022")
    parser.add_argument("--suite", default="madsen2020")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--short", type=int, default=1000)
    parser.add_argument("--long", type=int, default=5000)
    parser.add_argument("--nalm-args", default="", help="extra options for nalm bench, e.g. '--group-runs 100'")
    args = parser.parse_args()

    from nalm.bench.plan import plan_cells
    from nalm.bench.schema import load_suite

    if args.stable_nalu:
        ref = Reference("stable-nalu", "experiments/simple_function_static.py", args.stable_nalu)
    else:
        ref = Reference("nalm-benchmark", "experiments/single_layer_benchmark.py", args.nalm_benchmark)
    cells = plan_cells(load_suite(args.suite), args.profile)
    before = measure_reference(ref, cells, args.short, args.long)
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "nalm.cli.main", "bench", args.suite, "--profile", args.profile,
                   "--db", str(Path(tmp) / "bench.db"), "--no-progress", *args.nalm_args.split()]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        nalm_wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"nalm bench failed:\n{done.stderr[-2000:]}")
    after = measure_reference(ref, cells, args.short, args.long)

    total = 0.0
    print(f"{args.suite} {args.profile}: {len(cells)} cells; reference = {ref.name}, one process per seed, "
          f"1 thread; its rates from {args.short:,}- and {args.long:,}-iteration processes before and after nalm")
    print(f"{'cell':34s} {'seeds':>5s} {'iterations':>10s} {'ref it/s':>9s} {'start-up s':>10s} {'ref time s':>10s}")
    for cell in cells:
        key = ref.key(cell)
        per_iteration = statistics.mean((before[key][0], after[key][0]))
        startup = statistics.mean((before[key][1], after[key][1]))
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
