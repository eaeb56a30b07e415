"""The cost of batch invariance on the CPU: the trainer as it is vs its batch-dependent kernels, side by side.

    python benchmarks/bench_batch_invariance.py [--iterations 1500] [--sizes 10,100] [--repeats 3]
                                                [--models nmu,nalu]

On the CPU three kernels make a run's values depend on the other runs of its batch (S, its position):
Adam's fused kernel and ``torch.sigmoid`` (SIMD body and scalar tail round differently) and the shared-
input evaluation product of ``linear``; ``nalm.units._base.CPU_BATCH_INVARIANT`` avoids them
(tests/training/test_batch_invariance.py). "now" is the trainer with it on, "legacy" with it off (the
default), both in one process. Workloads: the static task with 100 inputs, batch 128, evaluation every 1,000
steps on the 10,000-row sets (as benchmarks/bench_trainer.py), for NAU → NMU (issue 5's workload:
Adam, sparsity regularizer, projections) and NALU → NALU (sigmoid gates and NAC weights).
Steady seconds per step are the difference of two run lengths (set-up excluded). Each repeat
measures "now" and "legacy" back to back, in alternating order; the printed ratio (now / legacy, >1 is
slower) is the median over repeats of the ratio within a repeat, so the machine's drift between
repeats cancels. The load average is printed with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import replace

import torch

import nalm.units._base as base
from nalm.tasks.static import StaticArithmeticTask
from nalm.training import ModelSpec, train
from nalm.training.recipes import default_recipe

TASK = StaticArithmeticTask("mul", input_size=100)
MODELS = {
    "nmu": ModelSpec(("nau", "nmu"), in_features=100, out_features=1, hidden=2),
    "nalu": ModelSpec(("nalu", "nalu"), in_features=100, out_features=1, hidden=2),
}


@contextlib.contextmanager
def legacy() -> Iterator[None]:
    """The default kernels (batch-dependent on the CPU): fused Adam, plain sigmoid, the shared-input
    product."""
    saved = base.CPU_BATCH_INVARIANT
    base.CPU_BATCH_INVARIANT = False
    try:
        yield
    finally:
        base.CPU_BATCH_INVARIANT = saved


def step_seconds(spec: ModelSpec, runs: int, iterations: int) -> float:
    recipe = default_recipe(spec.units[-1], TASK.op, setting="madsen2020", input_size=100)
    lengths = []
    for n in (iterations // 5, iterations + iterations // 5):
        start = time.perf_counter()
        train(spec, TASK, list(range(runs)), replace(recipe, iterations=n), threshold=1e-3)
        lengths.append(time.perf_counter() - start)
    return (lengths[1] - lengths[0]) / iterations


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--sizes", default="10,100")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="nmu,nalu")
    args = ap.parse_args()
    base.CPU_BATCH_INVARIANT = True  # "now"; legacy() turns it off
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    for model in args.models.split(","):
        spec = MODELS[model]
        for context in (legacy(), contextlib.nullcontext()):  # warm-up: data kernels, allocator
            with context:
                step_seconds(spec, 2, 50)
        for runs in sizes:
            ratios, now_s, old_s = [], [], []
            for repeat in range(args.repeats):
                order = ("now", "legacy") if repeat % 2 == 0 else ("legacy", "now")
                got = {}
                for which in order:
                    with legacy() if which == "legacy" else contextlib.nullcontext():
                        got[which] = step_seconds(spec, runs, args.iterations)
                now_s.append(got["now"])
                old_s.append(got["legacy"])
                ratios.append(got["now"] / got["legacy"])
            print(f"{spec.describe()}, S={runs}: now {statistics.median(now_s) * 1e6:.0f} µs/step, "
                  f"legacy {statistics.median(old_s) * 1e6:.0f} µs/step, now/legacy "
                  f"{statistics.median(ratios):.3f} (each: {', '.join(f'{r:.3f}' for r in ratios)}); "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
