"""Seed-iterations per second: one run per process (the reference, and a loop in its style) vs nalm's
batched trainer.

    python benchmarks/bench_trainer.py [--iterations 3000] [--sizes 1,10,100,1000] [--repeats R]
                                       [--compile] [--profile] [--device cuda] [--stable-nalu CHECKOUT]

Workload (issue 5): the static arithmetic task, 100 inputs, NAU → NMU, batch 128, fresh data for
every run at every step, Adam, the NMU model's regularizer and projections, evaluation every 1,000
steps on the 10,000-row interpolation and extrapolation sets.

(a) `reference_style`: what stable-nalu does for one seed in one process — a numpy RandomState
    draws each batch (float64, then cast), torch modules with per-layer regularizer and
    projection calls, torch.optim.Adam. Its rate is measured as the difference of two run
    lengths so set-up is excluded, as the reference figure in shared/reference was.
(a') with ``--stable-nalu CHECKOUT``: the reference itself — stable-nalu's
    ``experiments/simple_function_static.py`` (NAU first layer, NMU second, ``--operation mul
    --input-size 100``, its defaults otherwise: batch 128, Adam 1e-3, evaluation and TensorBoard
    logging every 1,000 iterations), one process per run on one thread (``LSB_DJOB_NUMPROC=1``, as its
    ``bsub -n 1`` jobs ran), started through ``stable_nalu_boot.py``. Its rate is the difference of
    two run lengths (process start-up and imports excluded, as in (a)); the wall time of one process
    of ``--iterations`` is printed beside it. Get a checkout with ``git clone
    https://github.com/AndreasMadsen/stable-nalu`` (this script never downloads) and install its
    dependencies ``pip install tensorboardX pandas``; nothing else of it is needed.
(b) nalm's trainer at several S, each run with its own data stream.
    Its "steady" rate is measured like (a), as the difference of two run lengths, so set-up
    (building S models, evaluation sets) is excluded; the "wall" rate of one call includes it.
(c) with ``--compile``: the trainer with ``compile=True``, steady rate (compilation excluded; it
    happens in a first call of 20 steps, whose wall time is printed — seconds with a warm FX graph
    cache, 10-20 s cold on 2 cores).
Everything runs in this one process. The reference loop is measured again between every two
trainer measurements, and each trainer rate is divided by the mean of the two loop rates taken just
before and just after it: on a shared VM whose speed drifts by 2x within minutes, a ratio to a loop
measured a minute earlier mostly measures the drift. The printed ratios are the result, not the
absolute numbers. With ``--repeats R`` the whole sequence runs R times and medians are printed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from nalm.tasks.static import StaticArithmeticTask
from nalm.training import ModelSpec, train
from nalm.training.recipes import default_recipe

TASK = StaticArithmeticTask("mul", input_size=100)
SPEC = ModelSpec(("nau", "nmu"), in_features=100, out_features=1, hidden=2)


def _rate(work: float, seconds: float) -> float:
    """``work / seconds``, or NaN when the longer run was not the slower one: then something else
    took the machine during the shorter run, and the difference measures nothing (such a pair once
    gave a "ratio" of 7e11). NaN measurements are left out of the medians and counted."""
    return work / seconds if seconds > 0 else float("nan")


def _median(values) -> float:
    finite = [v for v in values if v == v]
    return statistics.median(finite) if finite else float("nan")


def _joined(values) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def reference_style(iterations: int, seed: int = 0) -> float:
    """Wall time of one seed trained the one-run-per-process way."""
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    offset = rng.randint(0, 100 - 38 + 1)
    a_slice, b_slice = slice(offset, offset + 25), slice(offset + 13, offset + 38)
    fork = np.random.RandomState(rng.randint(0, 2**32 - 1))
    model = SPEC.build(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    interp, _ = TASK.evaluation_set("interpolation", [seed])
    extrap, _ = TASK.evaluation_set("extrapolation", [seed])
    start = time.perf_counter()
    for t in range(iterations):
        if t % 1000 == 0:
            with torch.no_grad():
                model(interp[0]), model(extrap[0])
        x = fork.uniform(1, 2, size=(128, 100))
        y = x[:, a_slice].sum(1) * x[:, b_slice].sum(1)
        x_t = torch.tensor(x, dtype=torch.float32)
        y_t = torch.tensor(y[:, None], dtype=torch.float32)
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x_t), y_t)
        scale = 10.0 * min(max((t - 1e6) / 1e6, 0.0), 1.0)
        loss = loss + scale * sum(sum(layer.regularizers().values()) for layer in model)
        loss.backward()
        optimizer.step()
        for layer in model:
            layer.project_()
    return time.perf_counter() - start


def reference_rate(iterations: int) -> float:
    # One run per process means one core per process: intra-op threads only add synchronisation
    # for 128x100 matrices (with 2 threads on this box the loop is several times slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        short = reference_style(iterations // 4)
        long = reference_style(iterations // 4 + iterations)
    finally:
        torch.set_num_threads(threads)
    return _rate(iterations, long - short)


STABLE_NALU_ARGS = (
    "--layer-type", "ReRegualizedLinearMNAC", "--first-layer", "ReRegualizedLinearNAC",
    "--operation", "mul", "--input-size", "100",
)


def stable_nalu_run_args(checkout: str, options: tuple[str, ...], iterations: int, out_dir: str, *,
                         script: str = "experiments/simple_function_static.py") -> float:
    """Wall time of one process of a stable-nalu (or nalm-benchmark) experiment ``script`` with
    ``options`` (start-up included)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    boot = Path(__file__).with_name("stable_nalu_boot.py")
    script_path = Path(checkout) / script
    env = dict(os.environ, PYTHONPATH=str(checkout), LSB_DJOB_NUMPROC="1", TENSORBOARD_DIR=out_dir,
               SAVE_DIR=out_dir)
    command = [sys.executable, str(boot), str(script_path), *options, "--no-cuda", "--name-prefix", "bench",
               "--remove-existing-data", "--max-iterations", str(iterations)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=out_dir, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"stable-nalu failed ({' '.join(command)}):\n{done.stderr[-2000:]}")
    return wall


def stable_nalu_run(checkout: str, iterations: int, out_dir: str) -> float:
    """Wall time of one stable-nalu process of ``iterations`` on this benchmark's cell."""
    return stable_nalu_run_args(checkout, STABLE_NALU_ARGS, iterations, out_dir)


def stable_nalu_rate(checkout: str, iterations: int) -> tuple[float, float]:
    """(steady iterations/s by the difference of two run lengths, wall time of the longer process)."""
    import tempfile

    with tempfile.TemporaryDirectory() as out_dir:
        short = stable_nalu_run(checkout, iterations // 4, out_dir)
        long = stable_nalu_run(checkout, iterations // 4 + iterations, out_dir)
    return _rate(iterations, long - short), long


def nalm_rate(runs: int, iterations: int, device: str = "cpu", compile: bool = False) -> tuple[float, float]:
    """Seed-iterations/s of one ``train()`` call, set-up (and compilation) included, and its wall time."""
    recipe = default_recipe("nmu", "mul", setting="madsen2020", iterations=iterations)
    seeds = list(range(runs))
    start = time.perf_counter()
    train(SPEC, TASK, seeds, recipe, threshold=0.16001, device=device, compile=compile)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    return runs * iterations / wall, wall


def steady_rate(runs: int, iterations: int, device: str = "cpu", compile: bool = False) -> float:
    """Seed-iterations/s with set-up excluded: the difference of two run lengths, as for (a)."""
    _, short = nalm_rate(runs, iterations // 4, device, compile)
    _, long = nalm_rate(runs, iterations // 4 + iterations, device, compile)
    return _rate(runs * iterations, long - short)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--repeats", type=int, default=1,
                        help="measure (a) and every S this many times, alternating; report medians")
    parser.add_argument("--compile", action="store_true",
                        help="also measure train(..., compile=True) (Inductor), set-up excluded")
    parser.add_argument("--profile", action="store_true", help="profile S=100 (cProfile + torch)")
    parser.add_argument("--device", default="cpu", help="device of nalm's trainer (cpu, cuda)")
    parser.add_argument("--stable-nalu", default=None, metavar="CHECKOUT",
                        help="also measure the reference itself from a stable-nalu checkout (see (a'))")
    parser.add_argument("--reference-iterations", type=int, default=None,
                        help="iterations of the reference-style loop (default: --iterations)")
    args = parser.parse_args()
    from nalm.tasks import counter_rng

    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"numba stream: {counter_rng.numba_available()}, iterations {args.iterations}, "
        f"repeats {args.repeats}"
    )
    TASK.evaluation_set("interpolation", [0])  # build the cached sets outside every timing
    nalm_rate(2, 50, args.device)  # warm up numba compilation / CUDA context
    sizes = [int(s) for s in args.sizes.split(",")]
    variants = [(runs, False) for runs in sizes] + ([(runs, True) for runs in sizes] if args.compile else [])
    compile_seconds: dict[int, float] = {}
    if args.compile:
        for runs in sizes:  # compile once outside the timings (the FX graph cache keeps it)
            compile_seconds[runs] = nalm_rate(runs, 20, args.device, compile=True)[1]
    base_rates: list[float] = []
    peer_rates: list[float] = []
    peer_walls: list[float] = []
    rates: dict[tuple[int, bool], list[dict[str, float]]] = {v: [] for v in variants}
    reference_iterations = args.reference_iterations or args.iterations

    def around() -> tuple[float, float]:
        """The style loop's rate and (with --stable-nalu) the reference's, measured now."""
        loop = reference_rate(reference_iterations)
        base_rates.append(loop)
        peer = float("nan")
        if args.stable_nalu:
            peer, wall = stable_nalu_rate(args.stable_nalu, reference_iterations)
            peer_rates.append(peer)
            peer_walls.append(wall)
        return loop, peer

    for _ in range(args.repeats):
        before = around()
        for runs, compiled in variants:
            iterations = args.iterations if runs <= 100 or args.device != "cpu" else max(500, args.iterations // 3)
            steady = steady_rate(runs, iterations, args.device, compile=compiled)
            rate = wall = float("nan")
            if not compiled:
                rate, wall = nalm_rate(runs, iterations, args.device)
            after = around()
            loop = (before[0] + after[0]) / 2  # the rates around this measurement
            peer = (before[1] + after[1]) / 2
            rates[(runs, compiled)].append(dict(
                steady=steady, loop_ratio=steady / loop, peer_ratio=steady / peer, rate=rate,
                wall_loop_ratio=rate / loop, wall_peer_ratio=rate / peer, wall=wall,
            ))
            before = after
    base = _median(base_rates)
    print(f"(a) reference style, 1 run/process, CPU: median {base:10.0f} iterations/s over "
          f"{len(base_rates)} measurements ({min(base_rates):.0f}-{max(base_rates):.0f})")
    if args.stable_nalu:
        print(f"(a') stable-nalu itself, 1 run/process, 1 thread: median {_median(peer_rates):10.0f} iterations/s "
              f"over {len(peer_rates)} measurements ({min(peer_rates):.0f}-{max(peer_rates):.0f}); one process of "
              f"{reference_iterations // 4 + reference_iterations} iterations: median {_median(peer_walls):.1f} s wall")
    print("(b) nalm trainer, seed-iterations/s and ratios to (a) [and (a')] measured around it; 'steady'")
    print("    excludes set-up (and compiling) as (a) does; 'wall' is one train() call of --iterations,")
    print("    set-up included (eager only)")
    for (runs, compiled), values in rates.items():
        steady = _median(v["steady"] for v in values)
        ratio = _median(v["loop_ratio"] for v in values)
        invalid = sum(v["loop_ratio"] != v["loop_ratio"] for v in values)
        spread = f" (ratios {_joined(v['loop_ratio'] for v in values)})" if args.repeats > 1 else ""
        line = (f"    S={runs:5d} {args.device} {'compiled' if compiled else 'eager   '}: steady "
                f"{steady:10.0f} = {ratio:6.1f}x style{spread}")
        if args.stable_nalu:
            peer_spread = f" ({_joined(v['peer_ratio'] for v in values)})" if args.repeats > 1 else ""
            line += f", {_median(v['peer_ratio'] for v in values):6.1f}x stable-nalu{peer_spread}"
        if invalid:
            line += f" [{invalid} invalid pair(s) left out: the longer run was not slower]"
        if not compiled:
            wall_rate = _median(v["rate"] for v in values)
            line += (f"; wall {wall_rate:10.0f} = {_median(v['wall_loop_ratio'] for v in values):6.1f}x style")
            if args.stable_nalu:
                line += f", {_median(v['wall_peer_ratio'] for v in values):6.1f}x stable-nalu"
            line += f" ({_median(v['wall'] for v in values):.1f} s)"
        if compiled:
            line += f"; first call (compiling, 20 steps) {compile_seconds[runs]:.1f} s"
        print(line)
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("nalm_rate(100, 1000)", globals(), locals(), "/tmp/nalm_trainer.prof")
        pstats.Stats("/tmp/nalm_trainer.prof").sort_stats("tottime").print_stats(15)
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            nalm_rate(100, 300)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


if __name__ == "__main__":
    main()
