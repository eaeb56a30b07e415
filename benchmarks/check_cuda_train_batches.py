"""CUDA check of ``nalm.tasks.train_batches``: the grouped draw on the GPU (one call over several
ranges with per-run ranges, shared inputs across operations) equals each task's batch drawn alone
on the CPU (numba backend), bit for bit.

    python benchmarks/check_cuda_train_batches.py
"""

from __future__ import annotations

import torch

from nalm.tasks import primer_task, train_batches

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # CPU: a dry run (no merged call there)


def main() -> None:
    ranges = ("1_2", "neg2_neg1", "neg2_2", "10_20", "0.1_0.2")
    parts = [(primer_task(op, r), (0, 1, 2, 3)) for op in ("add", "sub") for r in ranges]
    for dtype in (torch.float32, torch.float64):
        x, y = train_batches(parts, 11, 128, device=DEVICE, dtype=dtype)
        alone = [task.train_batch(seeds, 11, 128, device="cpu", dtype=dtype) for task, seeds in parts]
        same_x = torch.equal(x.cpu(), torch.cat([a for a, _ in alone]))
        same_y = torch.equal(y.cpu(), torch.cat([b for _, b in alone]))
        print(f"{dtype}: grouped draw on {DEVICE} == each task alone on the CPU: inputs {same_x}, targets {same_y}")


if __name__ == "__main__":
    main()
