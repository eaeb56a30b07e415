"""CUDA graphs in the trainer: the captured update equals the uncaptured one, and what it gains.

    python benchmarks/check_cuda_graph.py [--sizes 100,1000,10000] [--iterations 1000]

1. Equality, bit for bit: ``train(..., cuda_graph=True)`` against ``cuda_graph=False`` on the same
   GPU (parameters, per-step training losses, learning curves, statuses), for the static task with
   the reference NAU → NMU recipe (regularizer ramp inside the run) in float32 and float64, for a
   batch in which one run diverges (its targets turn NaN at a given step, drawn on the device), and
   for a grouped batch (two operations).
2. Speed: steady seed-iterations/s (difference of two run lengths, set-up and capture excluded) of
   the eager trainer and of the graphed one, side by side, at each S.
Every check prints its own line; a failure in one does not stop the others.
"""

from __future__ import annotations

import argparse
import time
import traceback

import numpy as np
import torch

from nalm.tasks.static import StaticArithmeticTask
from nalm.training import ModelSpec, RunGroup, train, train_groups
from nalm.training.recipes import default_recipe

SPEC = ModelSpec(("nau", "nmu"), in_features=100, out_features=1, hidden=2)
TASK = StaticArithmeticTask("mul", input_size=100)


class PoisonedTask:
    """The static task, with one run's targets NaN from ``from_step`` on (decided on the device)."""

    device_steps = True

    def __init__(self, task: StaticArithmeticTask, seed: int, from_step: int) -> None:
        self.task, self.seed, self.from_step = task, seed, from_step
        self.in_features, self.out_features = task.in_features, task.out_features

        self._hit: dict[tuple, torch.Tensor] = {}

    def train_batch(self, seeds, step, batch_size, *, device=None, dtype=torch.float32):
        x, y = self.task.train_batch(seeds, step, batch_size, device=device, dtype=dtype)
        key = (tuple(seeds), str(y.device))
        if key not in self._hit:  # made on the first (uncaptured) call: no copy inside the graph
            self._hit[key] = torch.tensor([s == self.seed for s in seeds], device=y.device).view(-1, 1, 1)
        hit = self._hit[key]
        late = torch.as_tensor(step, device=y.device) >= self.from_step
        return x, torch.where(hit & late, torch.full_like(y, float("nan")), y)

    def evaluation_set(self, split, seeds, *, device=None, dtype=torch.float32):
        return self.task.evaluation_set(split, seeds, device=device, dtype=dtype)


def same(a, b) -> str:
    """'' when the two trainings agree bit for bit, else what differs."""
    for (name, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters()):
        if not torch.equal(p, q):
            return f"parameter {name} differs by {(p - q).abs().max().item():.3e}"
    la, lb = a.train_loss.cpu().numpy(), b.train_loss.cpu().numpy()
    if not np.array_equal(la, lb, equal_nan=True):
        return "train_loss differs"
    for ra, rb in zip(a.runs, b.runs):
        if (ra.status, ra.diverged_at, ra.solved_at) != (rb.status, rb.diverged_at, rb.solved_at):
            return f"run {ra.seed}: {ra.status, ra.diverged_at, ra.solved_at} vs {rb.status, rb.diverged_at, rb.solved_at}"
        for field in ("interpolation_mse", "extrapolation_mse", "sparsity_error"):
            if not np.array_equal(getattr(ra.curve, field), getattr(rb.curve, field), equal_nan=True):
                return f"run {ra.seed}: curve {field} differs"
    return ""


def recipe(iterations: int, eval_every: int = 1000, record: bool = False):
    r = default_recipe("nmu", "mul", setting="madsen2020", iterations=iterations, eval_every=eval_every)
    return type(r)(**{**r.__dict__, "record_train_loss": record})


def check(name, fn) -> None:
    start = time.perf_counter()
    try:
        message = fn()
        verdict = "PASS" if not message else f"FAIL: {message}"
    except Exception:  # noqa: BLE001 - a check script reports every failure and goes on
        verdict = "ERROR\n" + traceback.format_exc()
    print(f"{name}: {verdict} ({time.perf_counter() - start:.1f} s)", flush=True)


def equality(dtype: torch.dtype) -> str:
    r = recipe(1500, eval_every=500, record=True)
    seeds = list(range(32))
    eager = train(SPEC, TASK, seeds, r, threshold=1e-3, device="cuda", dtype=dtype)
    graphed = train(SPEC, TASK, seeds, r, threshold=1e-3, device="cuda", dtype=dtype, cuda_graph=True)
    initial = SPEC.build(0, device="cuda", dtype=dtype).get_parameter("0.W")
    moved = (eager.model.get_parameter("0.W")[0] - initial).abs().max().item()
    return same(eager, graphed) or ("" if moved > 1e-3 else "parameters did not move")


def divergence() -> str:
    r = recipe(1500, eval_every=500, record=True)
    task = PoisonedTask(TASK, seed=5, from_step=700)
    seeds = list(range(8))
    eager = train(SPEC, task, seeds, r, threshold=1e-3, device="cuda", dtype=torch.float64)
    graphed = train(SPEC, task, seeds, r, threshold=1e-3, device="cuda", dtype=torch.float64, cuda_graph=True)
    if graphed.runs[5].diverged_at != 700:
        return f"run 5 diverged_at {graphed.runs[5].diverged_at}, expected 700"
    return same(eager, graphed)


def grouped() -> str:
    r = recipe(1200, eval_every=400, record=True)
    groups = [RunGroup(StaticArithmeticTask(op, input_size=100), tuple(range(16)), 1e-3) for op in ("mul", "add")]
    eager = train_groups(SPEC, groups, r, device="cuda")
    graphed = train_groups(SPEC, groups, r, device="cuda", cuda_graph=True)
    return next((m for m in (same(a, b) for a, b in zip(eager, graphed)) if m), "")


def steady(runs: int, iterations: int, graphed: bool) -> float:
    walls = []
    for n in (iterations // 5, iterations // 5 + iterations):
        start = time.perf_counter()
        train(SPEC, TASK, list(range(runs)), recipe(n), threshold=0.16001, device="cuda", cuda_graph=graphed)
        torch.cuda.synchronize()
        walls.append(time.perf_counter() - start)
    return runs * iterations / max(walls[1] - walls[0], 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--skip-equality", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    if not args.skip_equality:
        check("1a equal, float32, S=32, 1500 steps", lambda: equality(torch.float32))
        check("1b equal, float64, S=32, 1500 steps", lambda: equality(torch.float64))
        check("1c equal with a run diverging at step 700 (float64)", divergence)
        check("1d equal, grouped batch mul|add, 2x16 runs", grouped)
    steady(64, 50, False), steady(64, 50, True)  # warm-up: CUDA context, kernels, caches
    for runs in (int(s) for s in args.sizes.split(",")):
        def measure(runs=runs) -> str:
            eager = steady(runs, args.iterations, False)
            graph = steady(runs, args.iterations, True)
            print(f"    S={runs:6d}: eager {eager:12,.0f} seed-it/s, cuda_graph {graph:12,.0f} = {graph / eager:5.1f}x", flush=True)
            return ""
        check(f"2 speed S={runs}", measure)


if __name__ == "__main__":
    main()
