"""How fast could one training step of 100 runs be on this CPU? The floor under issue 19's 100× goal.

    python benchmarks/bench_step_floor.py [--runs 100] [--repeat 300] [--threads 1]
                                          [--stable-nalu CHECKOUT] [--reference-iterations 3000]

The workload of ``bench_trainer.py`` (static task, 100 inputs, NAU → NMU, batch 128, float32): every
step draws S × 128 × 100 fresh inputs, and no implementation can avoid two passes over them — the
first layer's product W xᵀ forward and its weight gradient g xᵀ backward (the inputs are the
weight gradient's other factor). This script times, interleaved so machine load hits all alike, on
``--threads`` threads (default 1, the trainer's default and the reference's ``bsub -n 1``):

* ``nalm draw``: the training stream's batch (inputs and float64 subset-sum targets), reused buffers;
* ``torch.rand`` and ``numpy PCG64``: plain uniform generators filling the same inputs (no targets) —
  what a different stream would cost at best with a library generator;
* ``writing the inputs``: filling them with a constant — a generator that costs nothing;
* ``forward product`` and ``weight-gradient product``: the two products over the inputs, in the
  layout nalm uses (``nalm.units._base.linear``: (W xᵀ)ᵀ, the faster of the two BLAS layouts here);
* ``whole step``: the trainer's own steady time per step, from two ``train()`` lengths.

With ``--stable-nalu CHECKOUT`` it also measures the reference's steady rate (as ``bench_trainer.py``
does, before and after) and prints the time per step of S runs that a given ratio allows, the floor
(the cheapest draw + the two products: nothing else of the step, no autograd, no optimiser), and the
ratio at that floor, and at the bound (a free generator + the two products) — the most any
implementation that materialises fresh inputs could reach on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_trainer import nalm_rate, stable_nalu_rate  # noqa: E402

BATCH, INPUTS, HIDDEN = 128, 100, 2


def _timed(fn, samples: list[float]) -> None:
    start = time.perf_counter()
    fn()
    samples.append((time.perf_counter() - start) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="S, runs per step")
    parser.add_argument("--repeat", type=int, default=300, help="timed calls of each part")
    parser.add_argument("--threads", type=int, default=1, help="torch and numba threads")
    parser.add_argument("--iterations", type=int, default=2000, help="train() length for the whole step")
    parser.add_argument("--stable-nalu", default=None, metavar="CHECKOUT")
    parser.add_argument("--reference-iterations", type=int, default=3000)
    args = parser.parse_args()
    # Time the numba kernel, not torch standing in for it while it compiles in the background.
    os.environ.setdefault("NALM_NUMBA_COMPILE", "inline")
    os.environ["NALM_THREADS"] = str(args.threads)

    from nalm.tasks import StaticArithmeticTask
    from nalm.tasks.rng import numba_available
    from nalm.units._base import linear

    torch.set_num_threads(args.threads)
    if numba_available():
        import numba

        numba.set_num_threads(args.threads)
    S = args.runs
    task = StaticArithmeticTask("mul", input_size=INPUTS)
    stream = task.train_stream(list(range(S)), reuse_output=True)
    x_buffer = torch.empty((S, BATCH, INPUTS))
    generator = np.random.Generator(np.random.PCG64(0))
    array = np.empty((S, BATCH, INPUTS), dtype=np.float32)
    x0, _ = stream(0, BATCH)
    weight = torch.rand(S, HIDDEN, INPUTS)
    grad_out = torch.rand(S, BATCH, HIDDEN)
    step = [0]

    def draw() -> None:
        stream(step[0], BATCH)
        step[0] += 1

    parts = {
        "nalm draw (inputs + targets)": draw,
        "torch.rand (inputs only)": lambda: torch.rand((S, BATCH, INPUTS), out=x_buffer),
        "numpy PCG64 (inputs only)": lambda: generator.random(dtype=np.float32, out=array),
        "writing the inputs, no generator": lambda: x_buffer.fill_(1.5),
        "forward product (W x^T)^T": lambda: linear(x0, weight),
        "weight-gradient product g^T x": lambda: grad_out.mT @ x0,
    }
    samples: dict[str, list[float]] = {name: [] for name in parts}
    for fn in parts.values():
        for _ in range(5):
            fn()
    for _ in range(args.repeat):  # interleaved
        for name, fn in parts.items():
            _timed(fn, samples[name])
    ms = {name: statistics.median(values) for name, values in samples.items()}

    nalm_rate(S, 50)  # warm-up outside the timing
    _, short = nalm_rate(S, args.iterations // 4)
    _, long = nalm_rate(S, args.iterations // 4 + args.iterations)
    step_ms = (long - short) / args.iterations * 1e3

    print(f"S = {S} runs x {BATCH} rows x {INPUTS} inputs, float32, {args.threads} thread(s); "
          f"median of {args.repeat} interleaved calls, ms per step")
    for name, value in ms.items():
        print(f"  {name:34s} {value:8.3f}")
    print(f"  {'whole trainer step (steady)':34s} {step_ms:8.3f}")
    cheapest_draw = min(ms["nalm draw (inputs + targets)"], ms["torch.rand (inputs only)"],
                        ms["numpy PCG64 (inputs only)"])
    products = ms["forward product (W x^T)^T"] + ms["weight-gradient product g^T x"]
    floor = cheapest_draw + products
    bound = ms["writing the inputs, no generator"] + products
    print(f"  {'floor: cheapest draw + 2 products':34s} {floor:8.3f}")
    print(f"  {'bound: writing + 2 products':34s} {bound:8.3f}")
    if args.stable_nalu:
        before, _ = stable_nalu_rate(args.stable_nalu, args.reference_iterations)
        after, _ = stable_nalu_rate(args.stable_nalu, args.reference_iterations)
        reference = (before + after) / 2
        allowed = S / (100 * reference) * 1e3
        print(f"stable-nalu: {before:.0f} and {after:.0f} it/s (mean {reference:.0f})")
        print(f"  100x at S = {S} allows {allowed:.3f} ms per step")
        print(f"  the trainer now: {S / (step_ms / 1e3) / reference:.1f}x; at the floor: "
              f"{S / (floor / 1e3) / reference:.1f}x; at the bound (a free generator, nothing but the "
              f"two products): {S / (bound / 1e3) / reference:.1f}x")


if __name__ == "__main__":
    main()
