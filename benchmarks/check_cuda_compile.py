"""CUDA check of ``train(..., compile=True)``: compiled training agrees with eager training on the GPU
and with compiled training on the CPU, to float32 rounding (run on a CUDA machine).

    python benchmarks/check_cuda_compile.py
"""

from __future__ import annotations

import torch

from nalm.tasks.static import StaticArithmeticTask
from nalm.training import ModelSpec, train
from nalm.training.recipes import default_recipe

TASK = StaticArithmeticTask("mul", input_size=100, eval_samples=1000)
SPEC = ModelSpec(("nau", "nmu"), in_features=100, out_features=1, hidden=2)


def params(out) -> torch.Tensor:
    return torch.cat([p.detach().double().cpu().flatten() for p in out.model.parameters()])


def main() -> None:
    recipe = default_recipe("nmu", "mul", setting="madsen2020", iterations=600)
    seeds = [0, 1, 2, 3, 4, 5, 6, 7]
    runs = {
        (device, compiled): params(train(SPEC, TASK, seeds, recipe, threshold=0.16, device=device, compile=compiled))
        for device in ("cpu", "cuda")
        for compiled in (False, True)
    }
    reference = runs[("cpu", False)]
    scale = reference.abs().max().item()
    for key, value in runs.items():
        print(f"{key}: max |diff| to eager CPU / scale = {(value - reference).abs().max().item() / scale:.2e}")


if __name__ == "__main__":
    main()
