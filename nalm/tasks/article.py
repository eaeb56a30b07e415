"""The two toy datasets of the TensorFlow article on NALU (Hylton, 2018), as a task like the others.

Training rows: x1 = 0, 5, …, 9995 and x2 = 5, 10, …, 10000 (2,000 rows); test rows:
x1 = 1000, 1008, …, 1992 and x2 = 1000, 1004, …, 1496 (125 rows); target x1 + x2 or x1 · x2.
The article's test rows lie inside the training range, so they only measure interpolation; nalm adds
two fixed held-out sets far outside it, x1, x2 ~ U[1e4, 1e5] and U[1e5, 1e6].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError

ArticleOp = Literal["add", "mul"]
EXTRAPOLATION_RANGES: dict[str, tuple[float, float]] = {
    "U[1e4,1e5]": (1e4, 1e5),
    "U[1e5,1e6]": (1e5, 1e6),
}
# Fixed so the held-out sets are the same for every run and every machine.
_EXTRAPOLATION_SEED = 20181009


@dataclass(frozen=True)
class ArticleTask:
    """Full-batch task: ``train_batch`` returns the same 2,000 rows at every step."""

    op: ArticleOp = "add"
    extrapolation_samples: int = 1000

    def __post_init__(self) -> None:
        if self.op not in ("add", "mul"):
            raise ConfigError(f"op: unknown operation {self.op!r} for the article task (add, mul)")
        if self.extrapolation_samples < 1:
            raise ConfigError(
                f"extrapolation_samples: must be positive, got {self.extrapolation_samples}"
            )

    in_features = 2
    out_features = 1

    def target(self, x: np.ndarray) -> np.ndarray:
        x1, x2 = x[..., 0], x[..., 1]
        return (x1 + x2 if self.op == "add" else x1 * x2)[..., None]

    @cached_property
    def train_inputs(self) -> np.ndarray:
        return np.column_stack([np.arange(0, 10000, 5), np.arange(5, 10005, 5)]).astype(np.float64)

    @cached_property
    def test_inputs(self) -> np.ndarray:
        return np.column_stack([np.arange(1000, 2000, 8), np.arange(1000, 1500, 4)]).astype(
            np.float64
        )

    def extrapolation_inputs(self, name: str) -> np.ndarray:
        lo, hi = EXTRAPOLATION_RANGES[name]
        rng = np.random.default_rng([_EXTRAPOLATION_SEED, int(lo), int(hi)])
        return rng.uniform(lo, hi, size=(self.extrapolation_samples, 2))

    def named_sets(self) -> dict[str, np.ndarray]:
        """Every evaluation input set by name: the article's test rows and the held-out ranges."""
        sets = {"test": self.test_inputs}
        sets.update({name: self.extrapolation_inputs(name) for name in EXTRAPOLATION_RANGES})
        return sets

    def _as_tensors(
        self, x: np.ndarray, runs: int, device: torch.device | str | None, dtype: torch.dtype
    ) -> tuple[Tensor, Tensor]:
        # Targets are exact in float64 and rounded once, like the inputs.
        xt = torch.as_tensor(x, dtype=dtype, device=device)
        yt = torch.as_tensor(self.target(x), dtype=dtype, device=device)
        return xt.expand(runs, *xt.shape), yt.expand(runs, *yt.shape)

    @lru_cache(maxsize=8)
    def _train_tensors(
        self, runs: int, device: torch.device | str | None, dtype: torch.dtype
    ) -> tuple[Tensor, Tensor]:
        # Full-batch training reuses one tensor pair; building it per step would dominate a step.
        return self._as_tensors(self.train_inputs, runs, device, dtype)

    def train_batch(
        self,
        seeds: Sequence[int],
        step: int,
        batch_size: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        return self._train_tensors(len(seeds), device, dtype)

    def evaluation_set(
        self,
        split: str,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        if split == "interpolation":
            x = self.test_inputs
        elif split == "extrapolation":
            x = self.extrapolation_inputs("U[1e4,1e5]")
        else:
            raise ConfigError(f"split: must be 'interpolation' or 'extrapolation', got {split!r}")
        return self._as_tensors(x, len(seeds), device, dtype)
