"""Check that the training stream is bit-identical on CUDA, and time it there.

    python benchmarks/check_data_cuda.py [--digests]

``--digests`` prints SHA-256 digests of fixed batches computed on the CPU (numba when available);
without it, the script recomputes the same batches with the torch implementation on CUDA (and on the
CPU), compares digests with the CPU's computed in the same process, and prints batch timings at
S = 100, 1 000 and 10 000 runs. Exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time

import numpy as np
import torch

from nalm.tasks import StaticArithmeticTask
from nalm.tasks import rng as cr

CASES = [
    # (op, input_size, interpolation range, dtype)
    ("mul", 100, (1.0, 2.0), torch.float32),
    ("div", 100, (1.0, 2.0), torch.float64),
    ("add", 7, ((-6.1, -1.2), (1.2, 6.1)), torch.float32),
    ("sub", 7, ((-6.1, -1.2), (1.2, 6.1)), torch.float64),
    ("root", 2, (0.1, 0.2), torch.float32),
]
SEEDS = [0, 1, 5, 99]
#: Digests computed on the 2-core development machine (numba kernel, AVX2): any machine must agree.
EXPECTED = ["d7f30d0ce78c46d9", "a34a9dad94cb7dcb", "d0ea41d9caa2e930", "dbae393dcca5d962", "346ac2e5b6ceb1d7"]


def _digest(*ts: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in ts:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def batches(device: str, backend: str) -> list[str]:
    out = []
    for op, n, rng, dtype in CASES:
        kw = {"input_size": n, "interpolation_range": rng}
        if n < 10:
            kw["subset_ratio"] = 0.3 if n == 7 else 0.5
            kw["overlap_ratio"] = 0.0
        task = StaticArithmeticTask(op, **kw)
        stream = task.train_stream(SEEDS, device=device, dtype=dtype, backend=backend)
        x, y = stream(123, 64)
        out.append(_digest(x, y))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--digests", action="store_true")
    args = ap.parse_args()
    cpu_backend = "numba" if cr.numba_available() else "torch"
    ref = batches("cpu", cpu_backend)
    if args.digests or not torch.cuda.is_available():
        print(f"cpu ({cpu_backend}):", ref, "recorded" if ref == EXPECTED else "DIFFERENT FROM RECORDED")
        return 0 if ref == EXPECTED else 1
    ok = ref == EXPECTED
    print(f"cpu {cpu_backend:6s} vs recorded digests: {'identical' if ok else 'MISMATCH'} {ref}")
    for name, got in (("cpu torch", batches("cpu", "torch")), ("cuda torch", batches("cuda", "torch"))):
        same = got == ref
        ok &= same
        print(f"{name:10s} vs cpu {cpu_backend}: {'identical' if same else 'MISMATCH'} {got}")
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    task = StaticArithmeticTask("mul")
    for S in (100, 1000, 10_000):
        stream = task.train_stream(list(range(S)), device="cuda")
        buf = torch.empty((S, 128, 100), device="cuda")
        for i in range(5):
            stream(i, 128)
            torch.rand((S, 128, 100), out=buf)
        torch.cuda.synchronize()
        reps = 50
        t0 = time.perf_counter()
        for i in range(reps):
            stream(i, 128)
        torch.cuda.synchronize()
        t_nalm = (time.perf_counter() - t0) / reps
        t0 = time.perf_counter()
        for i in range(reps):
            torch.rand((S, 128, 100), out=buf)
        torch.cuda.synchronize()
        t_rand = (time.perf_counter() - t0) / reps
        print(f"S={S:>6}: train batch (x + targets) {t_nalm * 1e3:8.3f} ms   torch.rand {t_rand * 1e3:8.3f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
