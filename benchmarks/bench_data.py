"""Time per training batch of the static task vs plain uniform generators, at S = 1, 10, 100, 1000 runs.

    python benchmarks/bench_data.py [--sizes 1,10,100,1000] [--repeat 200] [--threads N] [--device cpu]

For each S it times, side by side and interleaved (so machine load hits all alike):

* ``nalm``: ``StaticArithmeticTask("mul").train_stream(seeds, reuse_output=True)`` — S × 128 × 100
  counter-based float32 inputs *and* the float64 subset sums / targets, written into the same output
  tensor every step like the two baselines' ``out=`` (numba on the CPU; torch on CUDA or with
  ``--backend torch``);
* ``alloc``: the same through ``train_batch`` (a fresh output tensor per step, as the ``Task`` protocol
  returns it; above glibc's mmap threshold, S = 1000, page faults make this much slower);
* ``torch.rand``: ``torch.rand(S, 128, 100, out=...)`` (torch's CPU generator; inputs only);
* ``numpy PCG64``: ``Generator.random(dtype=float32, out=...)`` (inputs only).

Reported: median and 10th-percentile milliseconds per batch, and the ratios of the medians
(``rand/nalm``, ``pcg64/nalm``; above 1 means nalm is faster although it also computes targets).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch


def _time(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10,100,1000")
    ap.add_argument("--repeat", type=int, default=200, help="timed calls per generator and size")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="torch and numba threads (default: all)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", default="auto", choices=["auto", "numba", "torch"])
    args = ap.parse_args()
    # A kernel missing from numba's cache would otherwise be stood in for by torch while it compiles
    # in the background, and the first timed batches would time torch: compile it here instead.
    os.environ.setdefault("NALM_NUMBA_COMPILE", "inline")

    from nalm.tasks import StaticArithmeticTask
    from nalm.tasks.rng import numba_available

    if args.threads:
        torch.set_num_threads(args.threads)
        if numba_available():
            import numba

            numba.set_num_threads(args.threads)
    device = torch.device(args.device)
    task = StaticArithmeticTask("mul")
    n, B = task.input_size, args.batch
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"static task mul, 100 inputs, batch {B}, float32; torch {torch.__version__}, "
        f"torch threads {torch.get_num_threads()}, numba {'yes' if numba_available() else 'no'}, "
        f"device {device}"
    )
    header = f"{'S':>6} {'nalm ms':>10} {'p10':>8} {'alloc':>8} {'torch.rand':>11} {'p10':>8} {'pcg64':>9} {'p10':>8} "
    header += f"{'rand/nalm':>10} {'pcg64/nalm':>11}  backend"
    print(header)
    for S in sizes:
        stream = task.train_stream(list(range(S)), device=device, backend=args.backend, reuse_output=True)
        fresh = task.train_stream(list(range(S)), device=device, backend=args.backend)
        step = [0]

        def nalm_batch() -> None:
            x, y = stream(step[0], B)
            step[0] += 1
            if device.type == "cuda":
                torch.cuda.synchronize()

        def nalm_alloc() -> None:
            x, y = fresh(step[0], B)
            if device.type == "cuda":
                torch.cuda.synchronize()

        buf = torch.empty((S, B, n), dtype=torch.float32, device=device)

        def torch_rand() -> None:
            torch.rand((S, B, n), out=buf)
            if device.type == "cuda":
                torch.cuda.synchronize()

        gen = np.random.Generator(np.random.PCG64(0))
        arr = np.empty((S, B, n), dtype=np.float32)

        def pcg64() -> None:
            gen.random(dtype=np.float32, out=arr)

        for fn in (nalm_batch, nalm_alloc, torch_rand, pcg64):  # warm-up (numba load, allocator)
            for _ in range(3):
                fn()
        repeat = max(5, args.repeat if S <= 100 else args.repeat // 10)
        t_nalm, t_alloc, t_rand, t_pcg = [], [], [], []
        for _ in range(repeat):  # interleave so load spikes hit all of them
            t_nalm += _time(nalm_batch, 1)
            t_alloc += _time(nalm_alloc, 1)
            t_rand += _time(torch_rand, 1)
            t_pcg += _time(pcg64, 1)
        med = [statistics.median(t) * 1e3 for t in (t_nalm, t_rand, t_pcg)]
        p10 = [float(np.percentile(t, 10)) * 1e3 for t in (t_nalm, t_rand, t_pcg)]
        alloc = statistics.median(t_alloc) * 1e3
        print(
            f"{S:>6} {med[0]:>10.3f} {p10[0]:>8.3f} {alloc:>8.3f} {med[1]:>11.3f} {p10[1]:>8.3f} {med[2]:>9.3f} "
            f"{p10[2]:>8.3f} {med[1] / med[0]:>10.2f} {med[2] / med[0]:>11.2f}  {stream.backend}"
        )


if __name__ == "__main__":
    main()
