"""Grouped vs cell-by-cell training of a suite slice (``nalm bench --group-runs``), timed side by side.

    python benchmarks/bench_grouping.py [SUITE] [--profile full] [--only FILTER] [--iterations 1000]
                                        [--group-runs 1000] [--device cuda] [--compile | --cuda-graph]

The suite's cells (profile, filter) are planned as ``nalm bench`` plans them, their iterations cut
to ``--iterations`` (the recipes and schedules are otherwise the suite's), and trained twice, without
touching a results store: (a) every cell in its own ``train_groups`` call, as ``nalm bench`` does by
default; (b) in the runner's batches of up to ``--group-runs`` runs. Each batch is trained at
``--iterations`` and at a fifth of it, so its steady rate (set-up excluded) is the difference of the
two; the projection to the profile's own iterations is the steady step time of every batch times
its cells' iterations (set-up, a few seconds per batch, left out).
(a) and (b) are different batches, so they run back to back, not interleaved: on a shared CPU
the ratio carries that machine's drift; on a GPU it is small.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from nalm.bench import load_suite, plan_cells
from nalm.bench.runner import _batches
from nalm.metrics import threshold_estimate
from nalm.training import RunGroup, train_groups
from nalm.training.trainer import cuda_graph_unsupported


def _timed(batch, iterations: int, device: str, compile: bool, cuda_graph: bool = False) -> float:
    cells = [replace(c, recipe=replace(c.recipe, iterations=iterations), iterations=iterations) for c, _ in batch]
    groups = [RunGroup(c.task, m, threshold_estimate(c.task, c.policies[0]).value) for c, (_, m) in zip(cells, batch)]
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    train_groups(cells[0].spec, groups, cells[0].recipe, device=device,
                 dtype=getattr(torch, cells[0].dtype), compile=compile,
                 cuda_graph=cuda_graph and cuda_graph_unsupported(groups, cells[0].recipe) is None)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure(batches, iterations: int, device: str, compile: bool, cuda_graph: bool = False) -> tuple[float, list[float], float]:
    """Seconds for all batches at ``iterations``, each batch's steady seconds per step, set-up s."""
    short = max(1, iterations // 5)
    total = setup = 0.0
    steps = []
    for batch in batches:
        t_short = _timed(batch, short, device, compile, cuda_graph)
        t_long = _timed(batch, iterations, device, compile, cuda_graph)
        step = (t_long - t_short) / (iterations - short)
        total += t_long
        steps.append(step)
        setup += max(t_long - step * iterations, 0.0)
    return total, steps, setup


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.1f} min"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("suite", nargs="?", default="madsen2020")
    ap.add_argument("--profile", default="full")
    ap.add_argument("--only", default="block=main,model=NMU|NAU|NAC+")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--group-runs", type=int, default=1000)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--cuda-graph", action="store_true",
                    help="also time the grouped batches with cuda_graph=True (a third row)")
    args = ap.parse_args()

    cells = plan_cells(load_suite(args.suite), args.profile, only=args.only)
    todo = [(c, c.seeds) for c in cells]
    full_iterations = {c.id: c.iterations for c in cells}
    runs = sum(len(c.seeds) for c in cells)
    print(f"{args.suite} {args.profile} --only {args.only!r}: {len(cells)} cells, {runs} runs; "
          f"device {args.device}, compile={args.compile}, iterations cut to {args.iterations}")
    warm = _batches(todo, args.group_runs)[0]
    _timed(warm, 20, args.device, args.compile)  # CUDA context, kernels, (compile) caches

    rows = {}
    variants = [("cell by cell", None, False), (f"--group-runs {args.group_runs}", args.group_runs, False)]
    if args.cuda_graph:
        variants.append(("... + --cuda-graph", args.group_runs, True))
    for name, group_runs, graphed in variants:
        batches = _batches(todo, group_runs)
        total, steps, setup = measure(batches, args.iterations, args.device, args.compile, graphed)
        # Projection: each batch's steady step time x the profile's iterations of its cells.
        protocol_s = sum(s * full_iterations[b[0][0].id] for s, b in zip(steps, batches))
        rows[name] = (total, sum(steps), protocol_s)
        print(f"  {name:>20}: {len(batches):3d} batches, {total:8.1f} s at {args.iterations} iterations "
              f"({runs * args.iterations / total:,.0f} seed-it/s incl. set-up), steady "
              f"{sum(steps) * 1e3:7.2f} ms per step summed over batches, set-up {setup:5.1f} s; "
              f"at the profile's iterations: {_duration(protocol_s)} of steady training")
    (t_a, s_a, p_a), (t_b, s_b, p_b), *graph_row = rows.values()
    print(f"  grouped vs cell by cell: {t_a / t_b:.2f}x faster at {args.iterations} iterations, "
          f"{s_a / s_b:.2f}x in steady step time; profile projection {_duration(p_a)} -> {_duration(p_b)}")
    if graph_row:
        t_c, s_c, p_c = graph_row[0]
        print(f"  grouped + cuda graph vs grouped: {s_b / s_c:.2f}x in steady step time "
              f"({s_a / s_c:.2f}x vs cell by cell); profile projection {_duration(p_b)} -> {_duration(p_c)}")

if __name__ == "__main__":
    main()
