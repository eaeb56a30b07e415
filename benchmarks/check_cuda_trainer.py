"""CUDA checks of the batched trainer (run on a GPU machine):

    python benchmarks/check_cuda_trainer.py

1. run s inside a batch equals run s alone on CUDA (float64, NAU → NMU, static task, 1,000 steps);
2. CPU and CUDA training of the same runs agree (float64; data streams are bit-identical across
   devices, so any difference is floating-point reduction order);
3. a run forced to diverge on CUDA leaves the other runs bit-identical;
4. ``train_groups`` on CUDA (two tasks of one shape, other op and range) equals each task trained
   alone (float64).
"""

from __future__ import annotations

import torch

from nalm.tasks import StaticArithmeticTask
from nalm.training import ModelSpec, RunGroup, train, train_groups
from nalm.training.recipes import default_recipe


DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: a dry run of the script


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def main() -> None:
    task = StaticArithmeticTask("mul", input_size=100, eval_samples=1000)
    spec = ModelSpec(("nau", "nmu"), 100, 1)
    recipe = default_recipe("nmu", "mul", setting="madsen2020", iterations=1000)
    seeds = [3, 1, 4, 1_000_003]
    f64 = torch.float64
    batch = train(spec, task, seeds, recipe, threshold=0.16, device=DEVICE, dtype=f64)
    worst = 0.0
    for i, seed in enumerate(seeds):
        alone = train(spec, task, [seed], recipe, threshold=0.16, device=DEVICE, dtype=f64)
        for name, p in alone.model.named_parameters():
            worst = max(worst, rel(batch.model.get_parameter(name)[i].detach(), p[0].detach()))
    print(f"1. CUDA batch vs alone, float64, max relative difference: {worst:.3e}")

    cpu = train(spec, task, seeds, recipe, threshold=0.16, device="cpu", dtype=f64)
    worst = max(
        rel(batch.model.get_parameter(n).detach().cpu(), p.detach())
        for n, p in cpu.model.named_parameters()
    )
    print(f"2. CPU vs CUDA, float64, max relative difference of parameters: {worst:.3e}")
    same_solved = [a.solved == b.solved for a, b in zip(cpu.runs, batch.runs)]
    print(f"   same solved flags: {all(same_solved)}")

    class Poisoned:
        in_features, out_features = task.in_features, task.out_features

        def train_batch(self, seeds, step, batch_size, *, device=None, dtype=torch.float32):
            x, y = task.train_batch(seeds, step, batch_size, device=device, dtype=dtype)
            if step >= 300:
                y = y.clone()
                y[1] = float("nan")
            return x, y

        def evaluation_set(self, split, seeds, *, device=None, dtype=torch.float32):
            return task.evaluation_set(split, seeds, device=device, dtype=dtype)

    poisoned = train(spec, Poisoned(), seeds, recipe, threshold=0.16, device=DEVICE)
    clean = train(spec, task, seeds, recipe, threshold=0.16, device=DEVICE)
    ok = all(
        torch.equal(poisoned.model.get_parameter(n)[i], p[i])
        for n, p in clean.model.named_parameters()
        for i in (0, 2, 3)
    )
    print(f"3. CUDA isolation: run 1 {poisoned.runs[1].status} at {poisoned.runs[1].diverged_at}; "
          f"others bit-identical: {ok}")

    other = StaticArithmeticTask("add", input_size=100, eval_samples=1000,
                                 interpolation_range=(-2.0, 2.0), extrapolation_range=(-6.0, 6.0))
    groups = [RunGroup(task, (3, 1), 0.16), RunGroup(other, (1, 4), 1e-5)]
    grouped = train_groups(spec, groups, recipe, device=DEVICE, dtype=f64)
    worst = 0.0
    for group, out in zip(groups, grouped):
        alone = train(spec, group.task, list(group.seeds), recipe, threshold=group.threshold,
                      device=DEVICE, dtype=f64)
        for name, p in alone.model.named_parameters():
            worst = max(worst, rel(out.model.get_parameter(name).detach(), p.detach()))
    print(f"4. CUDA train_groups vs each task alone, float64, max relative difference: {worst:.3e}")


if __name__ == "__main__":
    main()
