"""Hand-set weights for the read-out tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

import nalm
from tests.support import run_in_process

BIG = 20.0  # tanh(20)·σ(20) = 1 − 2e-9: a NAC weight of ±1 (σ(−20) = 2e-9: a weight of 0)

#: Positive rows, where the NALU family's gates are read and |x| is x.
POSITIVE = np.random.default_rng(0).uniform(1.0, 5.0, size=(200, 4))


def set_params(unit: torch.nn.Module, **values: Any) -> torch.nn.Module:
    with torch.no_grad():
        for name, value in values.items():
            param = unit.get_parameter(name)
            param.copy_(torch.as_tensor(value, dtype=param.dtype).expand_as(param))
    return unit


def nac_raw(W: list[list[float]], scale: float = BIG) -> dict[str, list[list[float]]]:
    """Raw (Ŵ, M̂) whose tanh(Ŵ)·σ(M̂) is W ∈ {−1, 0, 1} to 2e-9 (``scale`` for φ-scaled units)."""
    W_hat = [[scale * (1 if w >= 0 else -1) for w in row] for row in W]
    M_hat = [[scale * (1 if w != 0 else -1) for w in row] for row in W]
    return {"W_hat": W_hat, "M_hat": M_hat}


def unit(name: str, in_features: int, out_features: int = 1, **options: Any) -> torch.nn.Module:
    return nalm.create(name, in_features, out_features, **options).eval()


# A tiny suite (seconds): NAU on + (solves), NALU on + (does not), one-module Primer tasks.
TINY_SUITE = """
name = "tinyx"
protocol_iterations = 50000
threshold_policy = "fixed_1e-5"
also_score = ["simulated_eps_1e-4"]
eval_every = 100

[recipe]
kind = "default"
setting = "primer2022"
batch_size = 32

[profiles.quick]
seeds = 3
iterations = 400

[models.NAU]
units = ["nau"]
lr = 0.05

[models.NALU]
units = ["nalu"]

[[grid]]
name = "m"
task = "primer"
models = ["NAU", "NALU"]
ops = ["add"]
ranges = ["1_2"]
"""


def run_tiny_suite(folder: Path) -> Path:
    """The tiny suite run into ``folder/tiny.db``; returns the database's path."""
    from nalm.bench.plan import plan_cells
    from nalm.bench.runner import run_cells
    from nalm.bench.schema import load_suite

    suite = folder / "tinyx.toml"
    suite.write_text(TINY_SUITE, encoding="utf-8")
    db = folder / "tiny.db"
    run_cells(plan_cells(load_suite(str(suite)), "quick"), db, progress=False, echo=lambda _: None)
    return db


run_main = run_in_process
