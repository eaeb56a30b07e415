"""Each run's parameters at its selected step, kept during training.

The selected step (:func:`nalm.metrics.select_index`: the argmin of the interpolation error over the
last ``SELECTION_WINDOW`` logged points, first on ties, non-finite values ignored, the last point when
none is finite) is only known once the curves are complete, but the parameters of that step are gone
by then. :class:`BestParameters` keeps, per run, a copy of the parameters at the best point seen so far
under exactly that rule: at every evaluation, where a logged run's interpolation error is finite and
*strictly* below its best (or, while it has logged no finite error, at every logged point), its slice of
every parameter is copied (``torch.where`` over the run axis: no host sync, no per-run loop).

The running best equals the windowed argmin whenever the window holds every logged point, i.e. a run
logs at most ``SELECTION_WINDOW`` points. Past that the window's start moves and the earliest points
drop out, so the trainer keeps a second copy whose search starts where the window of a run that logs
every evaluation starts (``first_index``): together the two cover every run that logs all points or at
most ``SELECTION_WINDOW`` of them. The remaining case — a run that logs more than ``SELECTION_WINDOW``
points and then stops early (diverges, early stop) — gets the best parameters of its whole run, and
:class:`~nalm.results.RunParameters` records the step they come from.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BestParameters:
    """Per run, the parameters at the best logged interpolation error from evaluation ``first_index`` on."""

    def __init__(self, model: nn.Module, runs: int, dtype: torch.dtype, device: torch.device,
                 first_index: int = 0) -> None:
        self.names = [name for name, _ in model.named_parameters()]
        self._live = [p for _, p in model.named_parameters()]
        self.values = [p.detach().clone() for p in self._live]
        self.first_index = first_index
        self.best = torch.full((runs,), float("inf"), dtype=dtype, device=device)
        self.found = torch.zeros(runs, dtype=torch.bool, device=device)  # a finite error was seen
        self.index = torch.full((runs,), -1, dtype=torch.long, device=device)

    @torch.no_grad()
    def update(self, index: int, interpolation: Tensor, logged: Tensor) -> None:
        """Evaluation ``index`` logged ``interpolation`` ``[S]`` for the runs in ``logged`` ``[S]``."""
        if index < self.first_index:
            return
        finite = torch.isfinite(interpolation)
        improved = finite & (interpolation < self.best)
        take = logged & (improved | (~self.found & ~finite))
        self.best = torch.where(take & finite, interpolation, self.best)
        self.found |= take & finite
        self.index = torch.where(take, torch.full_like(self.index, index), self.index)
        for value, live in zip(self.values, self._live):
            mask = take.view(-1, *([1] * (live.dim() - 1)))
            value.copy_(torch.where(mask, live.detach(), value))


def evaluation_count(iterations: int, eval_every: int) -> int:
    """Evaluations of a run that logs until the end: steps 0, eval_every, … and the last step."""
    return len(range(0, iterations + 1, eval_every)) + (1 if iterations % eval_every else 0)
