"""Shared test fixtures of the trainer tests: a task drawn with torch's own generator."""

from __future__ import annotations

import torch

from nalm.training import ModelSpec


class SeededTask:
    """A small task whose data depend only on (seed, step), drawn with torch's own generator —
    deliberately not nalm's generator, so these tests check the trainer alone."""

    in_features = 4
    out_features = 1

    def __init__(self, nan_seed: int | None = None, nan_from_step: int = 0) -> None:
        self.nan_seed, self.nan_from_step = nan_seed, nan_from_step

    def _rows(self, seed: int, salt: int, rows: int, dtype: torch.dtype) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + salt)
        return (torch.rand(rows, 4, generator=g, dtype=torch.float64) * 2 - 0.5).to(dtype)

    def _target(self, x: torch.Tensor) -> torch.Tensor:
        return (x[..., 0:1] + x[..., 1:2]) * (x[..., 1:2] + x[..., 2:3])

    def train_batch(self, seeds, step, batch_size, *, device=None, dtype=torch.float32):
        x = torch.stack([self._rows(s, step, batch_size, dtype) for s in seeds])
        y = self._target(x)
        if self.nan_seed in seeds and step >= self.nan_from_step:
            y[list(seeds).index(self.nan_seed)] = float("nan")
        return x, y

    def evaluation_set(self, split, seeds, *, device=None, dtype=torch.float32):
        x = self._rows(-1 if split == "interpolation" else -2, 10**9, 256, dtype)[None]
        x = x * (1 if split == "interpolation" else 3)
        return x, self._target(x).expand(len(seeds), -1, -1)


SPEC = ModelSpec(("nau", "nmu"), in_features=4, out_features=1, hidden=2)
