"""Training hooks: protocol rules that go beyond regularizers and projections."""

from __future__ import annotations

import torch
from torch import nn

from .recipe import HookContext


class INALUReinitialization:
    """iNALU's re-initialisation rule as run in the Primer benchmark (nalm-benchmark).

    Every update appends the run's last logged interpolation MSE to its history. Every ``every``
    updates (t > 0), a run whose history holds more than ``min_history`` entries is re-initialised
    — and its history cleared — when mean(first half) ≤ mean(second half) + std(second half) and
    mean(second half) > ``loss_floor``: training has stalled at a poor loss. Optimiser state is kept,
    as in both reference implementations.

    The history is kept as prefix sums (of values and squares) with a per-run window start, so the
    check is a few vectorised gathers over all runs, independent of the history's length.
    """

    def __init__(self, every: int = 10, min_history: int = 5000, loss_floor: float = 1.0) -> None:
        self.every, self.min_history, self.loss_floor = every, min_history, loss_floor

    def start(self, runs: int, iterations: int) -> None:
        self._sums = torch.zeros(runs, iterations + 2, dtype=torch.float64)  # prefix sums
        self._squares = torch.zeros(runs, iterations + 2, dtype=torch.float64)
        self._start = torch.zeros(runs, dtype=torch.long)  # first step of each run's history

    def after_step(self, step: int, model: nn.Module, context: HookContext) -> None:
        mse = context.last_interpolation_mse.detach().to(torch.float64).cpu()
        # A diverged run's NaN/inf would poison its prefix sums; clip to a huge finite value.
        value = torch.nan_to_num(mse, nan=1e150, posinf=1e150)
        self._sums[:, step + 1] = self._sums[:, step] + value
        self._squares[:, step + 1] = self._squares[:, step] + value * value
        if step == 0 or step % self.every:
            return
        count = step + 1 - self._start
        eligible = count > self.min_history
        if not bool(eligible.any()):
            return
        middle = self._start + count // 2
        end = torch.full_like(middle, step + 1)

        def window(lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            n = (hi - lo).clamp(min=1).to(torch.float64)
            total = self._sums.gather(1, hi[:, None]) - self._sums.gather(1, lo[:, None])
            squares = self._squares.gather(1, hi[:, None]) - self._squares.gather(1, lo[:, None])
            mean = total[:, 0] / n
            return mean, (squares[:, 0] / n - mean * mean).clamp(min=0).sqrt()

        mean1, _ = window(self._start, middle)
        mean2, std2 = window(middle, end)
        stalled = eligible & (mean1 <= mean2 + std2) & (mean2 > self.loss_floor)
        if bool(stalled.any()):
            context.reinitialize(stalled.to(context.last_interpolation_mse.device), step)
            self._start = torch.where(stalled, step + 1, self._start)
