"""nalm's demo training vs a plain PyTorch loop of the same training, side by side in one process.

    python benchmarks/bench_demo.py [--epochs 5000] [--repeats 3]

The plain loop is what one would write from the article: full-batch Adam (PyTorch defaults),
MSE, the unit's forward written inline. nalm's run goes through the task and the batched trainer
(evaluation every epochs/100 steps, divergence checks, loss recording). Timings alternate between
the two and the best of ``repeats`` is kept, so machine noise hits both alike. Prints the ratio.
"""

from __future__ import annotations

import argparse
import time

import torch

from nalm.demo import run_demo
from nalm.tasks.article import ArticleTask


def plain_loop(op: str, epochs: int, seed: int = 0) -> float:
    task = ArticleTask(op)
    x = torch.as_tensor(task.train_inputs, dtype=torch.float32)
    y = torch.as_tensor(task.target(task.train_inputs), dtype=torch.float32)
    torch.manual_seed(seed)
    if op == "add":
        W_hat = torch.nn.Parameter(torch.empty(1, 2).uniform_(-2, 2))
        M_hat = torch.nn.Parameter(torch.empty(1, 2).uniform_(-2, 2))
        params = [W_hat, M_hat]
    else:
        params = [torch.nn.Parameter(torch.nn.init.trunc_normal_(torch.empty(1, 2), std=0.02))
                  for _ in range(3)]
        W_hat, M_hat, G = params
    optimizer = torch.optim.Adam(params, lr=0.05)
    start = time.perf_counter()
    for _ in range(epochs):
        W = torch.tanh(W_hat) * torch.sigmoid(M_hat)
        if op == "add":
            pred = x @ W.T
        else:
            g = torch.sigmoid(x @ G.T)
            pred = g * (x @ W.T) + (1 - g) * torch.exp(torch.log(x.abs() + 1e-7) @ W.T)
        loss = ((pred - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def nalm_run(op: str, epochs: int) -> float:
    start = time.perf_counter()
    run_demo(op, epochs=epochs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, epochs {args.epochs}")
    for op in ("add", "mul"):
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(plain_loop(op, args.epochs))
            ours.append(nalm_run(op, args.epochs))
        p, n = min(plain), min(ours)
        print(
            f"{op}: plain loop {p / args.epochs * 1e6:7.1f} µs/epoch | nalm {n / args.epochs * 1e6:7.1f}"
            f" µs/epoch | nalm/plain time ratio {n / p:.2f} (below 1 = nalm faster)"
        )


if __name__ == "__main__":
    main()
