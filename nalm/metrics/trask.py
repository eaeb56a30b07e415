"""Trask et al.'s scale (NeurIPS 2018): errors as a percentage of a randomly initialised model's error."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np
import torch
from torch import nn

from nalm.errors import ConfigError

__all__ = ["Average", "RandomBaseline", "random_baseline_error", "trask_normalised_error"]

Average = Literal["mean", "median", "trimmed_mean"]


def _average(values: np.ndarray, average: Average, trim: float) -> float:
    if values.size == 0:
        return math.nan
    if average == "mean":
        return float(values.mean())
    if average == "median":
        return float(np.median(values))
    if average == "trimmed_mean":
        v = np.sort(values)
        k = int(math.floor(trim * v.size))
        return float(v[k : v.size - k].mean())
    raise ValueError(f"average must be 'mean', 'median' or 'trimmed_mean', got {average!r}")


def trask_normalised_error(
    model_error: float,
    random_errors: Any,
    *,
    average: Average = "mean",
    trim: float = 0.1,
    exclude_nonfinite: bool = True,
) -> float:
    """``100 · E_model / E_rand`` (Trask et al. 2018): 0 is perfect, 100 is no better than random.

    ``random_errors``: errors of K untrained models (or one already-averaged value). ``average``:
    ``"mean"`` (the plain average), or robust ``"median"`` / ``"trimmed_mean"`` (``trim`` cut from
    each end), for baselines with exploding members (division, exp-log units). Non-finite baseline
    errors are dropped unless ``exclude_nonfinite=False``.
    """
    r = np.atleast_1d(np.asarray(random_errors, dtype=np.float64))
    if exclude_nonfinite:
        r = r[np.isfinite(r)]
    e_rand = _average(r, average, trim)
    return 100.0 * float(model_error) / e_rand


@dataclass(frozen=True)
class RandomBaseline:
    """Errors of K untrained models on one evaluation set, and their average."""

    value: float
    errors: tuple[float, ...]
    excluded: int  # non-finite errors left out of ``value``
    k: int
    split: str
    error: str
    average: str
    seeds: tuple[int, ...]


def random_baseline_error(
    model_factory: Callable[[], nn.Module],
    task: Any,
    *,
    split: str = "extrapolation",
    k: int = 100,
    seed_start: int = 1_000_000,
    task_seed: int = 0,
    error: Literal["mse", "mae"] = "mse",
    average: Average = "mean",
    trim: float = 0.1,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> RandomBaseline:
    """``E_rand`` for Trask's scale: the error of ``k`` (≥ 100 recommended) untrained models.

    Model ``i`` is built by ``model_factory()`` right after ``torch.manual_seed(seed_start + i)``
    (inside a forked RNG, so the caller's RNG state is untouched); seeds start far from the usual
    training seeds. Each model is evaluated in eval mode on the task's fixed ``split`` set with the
    targets of run ``task_seed``. Record ``k``, the architecture and ``error`` alongside the result.
    """
    if k < 1:
        raise ConfigError(f"k: must be a positive integer, got {k!r}")
    x, y = task.evaluation_set(split, [task_seed], device=device, dtype=dtype)
    x, y = x[0], y[0]
    errors: list[float] = []
    seeds = tuple(range(seed_start, seed_start + k))
    devices = [torch.device(device)] if device is not None and torch.device(device).type == "cuda" else []
    for s in seeds:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(s)
            model = model_factory()
        model = model.to(device=device, dtype=dtype).eval()
        with torch.no_grad():
            pred = model(x)
            diff = pred.reshape(y.shape).to(torch.float64) - y.to(torch.float64)
            e = diff.square().mean() if error == "mse" else diff.abs().mean()
        errors.append(float(e))
    arr = np.asarray(errors)
    finite = arr[np.isfinite(arr)]
    return RandomBaseline(
        value=_average(finite, average, trim),
        errors=tuple(errors),
        excluded=int(arr.size - finite.size),
        k=k,
        split=split,
        error=error,
        average=average,
        seeds=seeds,
    )
