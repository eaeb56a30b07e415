"""How long a training call would take, measured on the call itself: two short probes of the same
runs, before a request that could run for days is started."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from nalm.tasks import Task

from .model import ModelSpec
from .recipe import TrainRecipe


def estimate_train_seconds(
    spec: ModelSpec,
    task: Task,
    seeds: Sequence[int],
    recipe: TrainRecipe,
    *,
    device: Any = None,
    dtype: torch.dtype = torch.float32,
    probe: tuple[int, int] = (10, 60),
) -> float:
    """Estimated wall time of ``train(spec, task, seeds, recipe, ...)``.

    Two probes of ``probe`` updates each train the same runs (each evaluating at its start and end);
    their difference is the time of the extra updates alone, free of set-up and evaluation. The
    estimate is ``set-up + updates × per-update + evaluations × per-evaluation``, the set-up and
    evaluation costs taken from the shorter probe (so it errs long). A probe trains for real; its
    results are thrown away.
    """
    from .trainer import train

    short, long = probe
    if not 0 < short < long:
        raise ValueError(f"probe: need 0 < short < long, got {probe}")
    walls = []
    for n in probe:
        probe_recipe = replace(
            recipe, iterations=n, eval_every=n, hooks=(), record_train_loss=False,
            early_stop_after=None,
        )
        started = time.perf_counter()
        train(spec, task, seeds, probe_recipe, threshold=math.inf, device=device, dtype=dtype)
        walls.append(time.perf_counter() - started)
    per_update = max(walls[1] - walls[0], 0.0) / (long - short)
    fixed = max(walls[0] - short * per_update, 0.0)  # set-up and two evaluations
    evaluations = recipe.iterations // recipe.eval_every + 1
    return fixed + recipe.iterations * per_update + evaluations * fixed / 2
