"""Which suite models train bit-identically under ``cuda_graph=True``: every distinct model of the
packaged suites, graphed against uncaptured, on one GPU.

    python benchmarks/check_cuda_graph_units.py [--iterations 300] [--seeds 8] [--suites ...]

For each suite (full profile), the first cell of every distinct (model, optimiser, task kind) is
trained twice on CUDA with its own recipe cut to ``--iterations`` (schedules scaled, evaluation
every ``--iterations // 3`` steps, per-step losses recorded): once as usual, once with
``cuda_graph=True``. PASS means parameters, per-step losses, curves and statuses are equal bit for
bit; SKIP names why a batch cannot be graphed (``cuda_graph_unsupported``). This is what decides
whether ``--cuda-graph`` could become the default on CUDA. One line per model; failures do not stop
the rest.
"""

from __future__ import annotations

import argparse
import time
import traceback
from dataclasses import replace

import torch
from check_cuda_graph import same  # benchmarks/ is the script's directory, so on sys.path

from nalm.bench import load_suite, plan_cells
from nalm.metrics import threshold_estimate
from nalm.training import RunGroup, train_groups
from nalm.training.trainer import cuda_graph_unsupported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--suites", default="madsen2020,primer2022,npu2020,article")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    counts = {"PASS": 0, "FAIL": 0, "ERROR": 0, "SKIP": 0}
    for suite in args.suites.split(","):
        seen: set[tuple[str, str, str]] = set()
        for cell in plan_cells(load_suite(suite), "full"):
            key = (cell.spec.describe(), cell.recipe.optimizer.name, type(cell.task).__name__)
            if key in seen:
                continue
            seen.add(key)
            recipe = replace(
                cell.recipe, iterations=args.iterations, eval_every=max(1, args.iterations // 3),
                record_train_loss=True,
            )
            groups = [RunGroup(cell.task, tuple(cell.seeds[: args.seeds]),
                               threshold_estimate(cell.task, cell.policies[0]).value)]
            reason = cuda_graph_unsupported(groups, recipe)
            start = time.perf_counter()
            if reason is not None:
                verdict = f"SKIP ({reason})"
            else:
                try:
                    kwargs = dict(device=args.device, dtype=getattr(torch, cell.dtype))
                    (plain,) = train_groups(cell.spec, groups, recipe, **kwargs)
                    (graphed,) = train_groups(cell.spec, groups, recipe, cuda_graph=True, **kwargs)
                    message = same(plain, graphed)
                    verdict = "PASS" if not message else f"FAIL ({message})"
                except Exception:  # noqa: BLE001 - report and go on to the next model
                    verdict = "ERROR " + traceback.format_exc(limit=3).strip().splitlines()[-1]
            counts[verdict.split()[0]] += 1
            print(f"{suite:>10} {cell.id:<32} {cell.spec.describe():<34} {verdict} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    print(" ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
