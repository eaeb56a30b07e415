"""Trainer speed of two nalm source trees, side by side: "did this change cost speed?"

    git worktree add /tmp/nalm-before <commit>
    python benchmarks/bench_versions.py /tmp/nalm-before . [--sizes 1,100,1000] [--iterations 2000]
                                        [--repeats 3]

Both trees train the workload of ``bench_trainer.py`` (static task, 100 inputs, NAU → NMU, batch
128, the NMU recipe, evaluation every 1,000 steps), eager, on the CPU. Each measurement is a fresh
subprocess that imports nalm from one tree and prints its *steady* rate per S (the difference of two
run lengths, so set-up is excluded). Subprocesses alternate A, B, A, B, … and every B rate is
divided by the mean of the A rates just before and after it, so the machine's drift cancels; the
result is the median of those ratios per S (1.00 = no change; above 1 = B is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_MEASURE = r"""
import json, sys, time
import torch
from nalm.tasks.static import StaticArithmeticTask
from nalm.training import ModelSpec, train
from nalm.training.recipes import default_recipe

sizes, iterations = [int(s) for s in sys.argv[1].split(",")], int(sys.argv[2])
task = StaticArithmeticTask("mul", input_size=100)
spec = ModelSpec(("nau", "nmu"), in_features=100, out_features=1, hidden=2)
task.evaluation_set("interpolation", [0])

def wall(runs, its):
    recipe = default_recipe("nmu", "mul", setting="madsen2020", iterations=its)
    start = time.perf_counter()
    train(spec, task, list(range(runs)), recipe, threshold=0.16001)
    return time.perf_counter() - start

wall(2, 50)  # numba compilation, caches
out = {}
for runs in sizes:
    short, long = wall(runs, iterations // 4), wall(runs, iterations // 4 + iterations)
    out[runs] = runs * iterations / (long - short) if long > short else float("nan")
print(json.dumps(out))
"""


def measure(tree: Path, sizes: str, iterations: int) -> dict[int, float]:
    env = dict(os.environ, PYTHONPATH=str(tree.resolve()), NUMBA_NUM_THREADS=os.environ.get("NUMBA_NUM_THREADS", "2"))
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, sizes, str(iterations)],
        capture_output=True, text=True, env=env, cwd=tree, check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"bench_versions: measuring {tree} failed:\n{proc.stderr}")
    return {int(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="source tree A (e.g. a git worktree of an older commit)")
    parser.add_argument("after", type=Path, help="source tree B")
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="B measurements (A is measured one more time)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    a_rates = [measure(args.before, args.sizes, args.iterations)]
    b_rates = []
    for _ in range(args.repeats):
        b_rates.append(measure(args.after, args.sizes, args.iterations))
        a_rates.append(measure(args.before, args.sizes, args.iterations))
    print(f"A = {args.before}, B = {args.after}; steady seed-iterations/s, eager, CPU, "
          f"{args.iterations} iterations, {args.repeats} B runs between {args.repeats + 1} A runs")
    print(f"{'S':>6} {'A (median)':>12} {'B (median)':>12} {'B / A per pair':>30} {'median':>7}")
    for s in sizes:
        ratios = [b[s] / ((a0[s] + a1[s]) / 2) for b, a0, a1 in zip(b_rates, a_rates, a_rates[1:])]
        finite = [r for r in ratios if r == r]
        print(
            f"{s:>6} {statistics.median(a[s] for a in a_rates):>12,.0f} "
            f"{statistics.median(b[s] for b in b_rates):>12,.0f} "
            f"{', '.join(f'{r:.2f}' for r in ratios):>30} "
            f"{statistics.median(finite) if finite else float('nan'):>7.2f}"
        )


if __name__ == "__main__":
    main()
