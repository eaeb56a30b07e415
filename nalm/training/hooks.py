"""Training hooks: protocol rules that go beyond regularizers and projections."""

from __future__ import annotations

import torch
from torch import nn

from ..tasks.rng.hashing import MASK64, _mix64_int
from .recipe import HookContext


class _StallHistory:
    """Each run's loss history since its last re-initialisation, and iNALU's stall test on it.

    Kept as prefix sums (of values and squares) with a per-run window start, so the test is a few
    vectorised gathers over all runs, independent of the history's length. A run is stalled when its
    history holds more than ``min_history`` entries, mean(first half) ≤ mean(second half) + std(second
    half) (population sd) and mean(second half) > ``loss_floor``.
    """

    def __init__(self, runs: int, iterations: int) -> None:
        self._sums = torch.zeros(runs, iterations + 2, dtype=torch.float64)
        self._squares = torch.zeros(runs, iterations + 2, dtype=torch.float64)
        self._start = torch.zeros(runs, dtype=torch.long)  # first step of each run's history

    def append(self, step: int, values: torch.Tensor) -> None:
        # A diverged run's NaN/inf would poison its prefix sums; clip to a huge finite value.
        value = torch.nan_to_num(values.detach().to(torch.float64).cpu(), nan=1e150, posinf=1e150)
        self._sums[:, step + 1] = self._sums[:, step] + value
        self._squares[:, step + 1] = self._squares[:, step] + value * value

    def _window(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = (hi - lo).clamp(min=1).to(torch.float64)
        total = self._sums.gather(1, hi[:, None]) - self._sums.gather(1, lo[:, None])
        squares = self._squares.gather(1, hi[:, None]) - self._squares.gather(1, lo[:, None])
        mean = total[:, 0] / n
        return mean, (squares[:, 0] / n - mean * mean).clamp(min=0).sqrt()

    def stalled(self, step: int, min_history: int, loss_floor: float) -> torch.Tensor | None:
        """The stalled runs after ``step`` (a bool mask), or None when no run is."""
        count = step + 1 - self._start
        eligible = count > min_history
        if not bool(eligible.any()):
            return None
        middle = self._start + count // 2
        mean1, _ = self._window(self._start, middle)
        mean2, std2 = self._window(middle, torch.full_like(middle, step + 1))
        stalled = eligible & (mean1 <= mean2 + std2) & (mean2 > loss_floor)
        return stalled if bool(stalled.any()) else None

    def restart(self, runs: torch.Tensor, step: int) -> None:
        """Clear the histories of ``runs`` (a bool mask): they start after ``step``."""
        self._start = torch.where(runs, step + 1, self._start)


class INALUReinitialization:
    """iNALU's re-initialisation rule as run in the Primer benchmark (nalm-benchmark).

    Every update appends the run's last logged interpolation MSE to its history. Every ``every``
    updates (t > 0), a run whose history holds more than ``min_history`` entries is re-initialised
    — and its history cleared — when mean(first half) ≤ mean(second half) + std(second half) and
    mean(second half) > ``loss_floor``: training has stalled at a poor loss. Optimiser state is kept,
    as in both reference implementations.

    The history and the stall test are :class:`_StallHistory`'s.
    """

    def __init__(self, every: int = 10, min_history: int = 5000, loss_floor: float = 1.0) -> None:
        self.every, self.min_history, self.loss_floor = every, min_history, loss_floor

    def start(self, runs: int, iterations: int) -> None:
        self._history = _StallHistory(runs, iterations)

    def after_step(self, step: int, model: nn.Module, context: HookContext) -> None:
        self._history.append(step, context.last_interpolation_mse)
        if step == 0 or step % self.every:
            return
        stalled = self._history.stalled(step, self.min_history, self.loss_floor)
        if stalled is not None:
            context.reinitialize(stalled.to(context.last_interpolation_mse.device), step)
            self._history.restart(stalled, step)


class INALUScriptReinitialization:
    """iNALU's re-initialisation rule as the authors' experiment scripts run it (daschloer/inalu
    ``nalu_syn_simple_arith.py``), for models of any kind.

    Every update appends the run's training MSE of that update to its history. After the update of
    a step t ≥ ``every`` with t mod ``every`` < ``window`` (the script: in epochs 10, 20, …, 90 of
    1,000 updates, so ``every`` = 10,000 and ``window`` = 1,000), a run whose history holds more than
    ``min_history`` entries is re-initialised — every parameter redrawn
    from U(``low``, ``high``), its history cleared, its optimiser state kept — when mean(first half) ≤
    mean(second half) + std(second half) (population sd, numpy's default) and mean(second half) >
    ``loss_floor``. The check runs at every update of such a window, as in the script.

    The redraw depends only on (run seed, step): the same in any batch. It is not the script's
    numpy draw (that one continues the global RandomState of the run, which nalm does not keep).
    On updates followed by the extra penalty steps the script appends the batch MSE computed before
    its gate penalty step (after the update and the weight penalty step); nalm appends the MSE before
    the update in every case (those updates have MSE < 1 already, and the rule asks for a mean
    above 1).

    The history and the stall test are :class:`_StallHistory`'s, as for :class:`INALUReinitialization`.
    """

    def __init__(
        self,
        every: int = 10_000,
        window: int = 1_000,
        min_history: int = 10_000,
        loss_floor: float = 1.0,
        low: float = -2.0,
        high: float = 2.0,
    ) -> None:
        if every < 1 or not 1 <= window <= every:
            raise ValueError(f"need every >= 1 and 1 <= window <= every, got {every} and {window}")
        self.every, self.window = every, window
        self.min_history, self.loss_floor = min_history, loss_floor
        self.low, self.high = low, high

    def _key(self) -> tuple[float, ...]:
        return (self.every, self.window, self.min_history, self.loss_floor, self.low, self.high)

    # Equal settings make equal recipes, so cells of one shape can share a batch (--group-runs).
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def start(self, runs: int, iterations: int) -> None:
        self._history = _StallHistory(runs, iterations)

    def after_step(self, step: int, model: nn.Module, context: HookContext) -> None:
        self._history.append(step, context.last_train_mse)
        if step < self.every or step % self.every >= self.window:
            return
        stalled = self._history.stalled(step, self.min_history, self.loss_floor)
        if stalled is not None:
            self._redraw(model, context, stalled, step)
            self._history.restart(stalled, step)

    @torch.no_grad()
    def _redraw(self, model: nn.Module, context: HookContext, runs: torch.Tensor, step: int) -> None:
        for index in torch.nonzero(runs).flatten().tolist():
            generator = torch.Generator().manual_seed(_redraw_seed(int(context.seeds[index]), step))
            for p in model.parameters():
                fresh = torch.rand(p.shape[1:], generator=generator, dtype=torch.float64)
                p[index].copy_((self.low + (self.high - self.low) * fresh).to(p.dtype))


def _redraw_seed(seed: int, step: int) -> int:
    """A generator seed from (run seed, step): SplitMix64 of both (no Python hash randomisation)."""
    return _mix64_int((seed * 0x9E3779B97F4A7C15 + step + 1) & MASK64) & ((1 << 63) - 1)
