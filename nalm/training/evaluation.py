"""Trained runs measured after training: their MSE on any evaluation split, and Trask's normalised
error (A. Trask et al., "Neural Arithmetic Logic Units", NeurIPS 2018: 100 · the model's error / a
randomly initialised model's error; 0 is perfect, 100 no better than chance).

The trainer logs the two splits a run is selected and scored on; a task may have more (the recurrent
task's range test, its longer validation sequences). :func:`split_mse` evaluates a stacked model —
e.g. :meth:`~nalm.training.TrainOutput.selected_model`, every run at the step its scores come from,
as the reference's R scripts read every metric at the selected step — on any split the task serves.

:func:`trask_errors` puts each run's error beside Trask's scale, with the baseline of
:func:`nalm.metrics.random_baseline_error`: ``k`` untrained networks of the *same* architecture and
initialisation (built from seeds ``seed_start …``, far from training seeds), evaluated on the same set
with the targets of the first run's seed, averaged (mean over the finite ones; the count left out is
reported). This is the recipe of ``protocols.md`` §4; Trask et al. do not say which baseline they
averaged, so record ``k``, the error and the average with the numbers.

**Run metrics.** What a benchmark reports beyond the trainer's scores is measured once, right after
training, and stored with each run (:attr:`nalm.results.RunResult.metrics`), so the report reads numbers
and needs neither torch nor the trained networks. A task opts in by naming entries of
:data:`RUN_METRICS` in its ``run_metrics`` class attribute; :func:`run_metrics` computes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from nalm.metrics import RandomBaseline, random_baseline_error, trask_normalised_error

from .model import ModelSpec
from .trainer import TrainOutput

__all__ = [
    "RUN_METRICS",
    "RunMetricContext",
    "TraskErrors",
    "npu_paper_errors",
    "run_metrics",
    "split_mse",
    "trask_errors",
]

_ELEMENTS_PER_CHUNK = 1 << 24


@torch.no_grad()
def split_mse(model: nn.Module, task: Any, split: str, seeds: Sequence[int], *,
              device: Any = None, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """MSE ``[S]`` of each run of a stacked ``model`` (parameters ``[S, ...]``, run ``i`` trained
    with ``seeds[i]``) on the task's fixed ``split`` set, measured as the trainer measures its logged
    points (errors in ``dtype``, squares summed in float64, the mean rounded to ``dtype``)."""
    x, y = task.evaluation_set(split, list(seeds), device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        runs, rows = y.shape[0], y.shape[-2]
        per_row = x[0, 0].numel()
        chunk = max(1, _ELEMENTS_PER_CHUNK // max(1, runs * per_row))
        total = torch.zeros(runs, dtype=torch.float64, device=y.device)
        for start in range(0, rows, chunk):
            err = (model(x[:, start : start + chunk]) - y[:, start : start + chunk]).to(torch.float64)
            total += err.square().sum(dim=(-2, -1))
    finally:
        model.train(was_training)
    return (total / (rows * y.shape[-1])).to(dtype).to(torch.float64).cpu().numpy()


@dataclass(frozen=True)
class TraskErrors:
    """Each run's error on one split and on Trask's scale (``100 · mse / baseline.value``)."""

    split: str
    mse: tuple[float, ...]
    normalised: tuple[float, ...]
    baseline: RandomBaseline

    @property
    def median_normalised(self) -> float:
        finite = [v for v in self.normalised if np.isfinite(v)]
        return float(np.median(finite)) if finite else float("nan")


def trask_errors(
    spec: ModelSpec,
    task: Any,
    mse: Sequence[float],
    *,
    split: str = "extrapolation",
    k: int = 100,
    seed_start: int = 1_000_000,
    task_seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: Any = None,
) -> TraskErrors:
    """Trask's normalised error of runs whose MSE on ``split`` is ``mse`` (e.g. each
    :class:`~nalm.results.RunResult`'s ``extrapolation_mse``, or :func:`split_mse`), against ``k``
    untrained networks of ``spec`` (mean MSE; non-finite baseline errors left out and counted)."""
    baseline = random_baseline_error(
        lambda: spec.build(torch.initial_seed(), dtype=dtype), task, split=split, k=k,
        seed_start=seed_start, task_seed=task_seed, error="mse", average="mean", device=device, dtype=dtype,
    )
    values = tuple(float(v) for v in mse)
    return TraskErrors(
        split=split,
        mse=values,
        normalised=tuple(trask_normalised_error(v, baseline.value) for v in values),
        baseline=baseline,
    )


# --------------------------------------------------------------------------------------------------
# run metrics: measured after training, stored per run
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunMetricContext:
    """What a run metric may look at: the trained runs (``output.model`` holds the final parameters,
    :meth:`~nalm.training.TrainOutput.selected_model` those each run is scored at), how their network
    is built, the task, and the runs' seeds, device and dtype."""

    output: TrainOutput
    spec: ModelSpec
    task: Any
    seeds: tuple[int, ...]
    device: Any
    dtype: torch.dtype


#: A run metric returns ``{metric name: value per run [S]}``.
RunMetric = Callable[[RunMetricContext], Mapping[str, np.ndarray]]


@torch.no_grad()
def npu_paper_errors(model: nn.Module, grids: Mapping[str, tuple[np.ndarray, np.ndarray, int]], *,
                     dtype: torch.dtype = torch.float32) -> dict[str, np.ndarray]:
    """Per-output mean absolute error of a stacked model (``[S, ...]`` parameters) on fixed grids:
    ``grids[name] = (inputs [N, I], float64 targets [N], output index)`` — the statistic of Heim et
    al.'s Table A2 before its median over runs. Predictions are made in ``dtype``, errors in float64.
    Returns ``{name: [S]}``."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        out = {}
        for name, (x, y, k) in grids.items():
            pred = model(torch.as_tensor(x, dtype=dtype, device=device).unsqueeze(0))[..., k]
            err = pred.to(torch.float64) - torch.as_tensor(y, dtype=torch.float64, device=device)
            out[name] = err.abs().mean(dim=-1).reshape(-1).cpu().numpy()
        return out
    finally:
        model.train(was_training)


def _paper_errors(ctx: RunMetricContext) -> dict[str, np.ndarray]:
    # The paper scores each run's final model (its scripts keep the last parameters).
    errors = npu_paper_errors(ctx.output.model, ctx.task.paper_grids(), dtype=ctx.dtype)
    return {f"paper_mae_{name}": v for name, v in errors.items()}


def _trask(ctx: RunMetricContext) -> dict[str, np.ndarray]:
    out = {}
    for split in ("interpolation", "extrapolation"):
        mse = [getattr(run, f"{split}_mse") for run in ctx.output.runs]
        errors = trask_errors(ctx.spec, ctx.task, mse, split=split, dtype=ctx.dtype, device=ctx.device)
        out[f"trask_{split}"] = np.asarray(errors.normalised)
        out[f"trask_baseline_{split}"] = np.full(len(mse), errors.baseline.value)
    return out


def _range_test(ctx: RunMetricContext) -> dict[str, np.ndarray]:
    # imported here: the metrics package's threshold estimate is only needed by this metric
    from nalm.metrics import threshold_estimate

    mse = split_mse(ctx.output.selected_model(), ctx.task, "range_extrapolation", ctx.seeds,
                    device=ctx.device, dtype=ctx.dtype)
    task = ctx.task
    range_task = replace(task, interpolation_range=task.extrapolation_range, extrapolation_length=task.seq_length)
    threshold = threshold_estimate(range_task, task.default_threshold_policy).value
    return {"range_mse": mse, "range_threshold": np.full(len(mse), threshold)}


def _sequential_mnist_lengths(ctx: RunMetricContext) -> Mapping[str, np.ndarray]:
    from .sequential_mnist import mse_by_test_length

    return mse_by_test_length(ctx.output, ctx.spec, ctx.task, ctx.seeds, ctx.device, ctx.dtype)


#: Run metrics by name; a task lists the ones it wants in its ``run_metrics`` class attribute.
#:
#: * ``npu_paper_errors`` — ``paper_mae_<output>``: the final model's mean absolute error per output
#:   on the task's ``paper_grids()`` (the NPU paper's simple-task statistic);
#: * ``trask`` — ``trask_interpolation`` / ``trask_extrapolation``: Trask's normalised error of the
#:   run's scored MSE (100 untrained networks of the same architecture; the baseline stored beside it
#:   as ``trask_baseline_<split>``);
#: * ``range_test`` — ``range_mse``: the selected model's MSE on the task's ``range_extrapolation``
#:   split (sequences of the training length over the extrapolation range), and ``range_threshold``,
#:   that split's own threshold under the task's default policy;
#: * ``sequential_mnist_lengths`` — ``test_mse_len_<L>``: the selected model's test MSE at each of the
#:   sequential MNIST task's test lengths (:mod:`nalm.training.sequential_mnist`).
RUN_METRICS: dict[str, RunMetric] = {
    "npu_paper_errors": _paper_errors,
    "trask": _trask,
    "range_test": _range_test,
    "sequential_mnist_lengths": _sequential_mnist_lengths,
}


def run_metrics(output: TrainOutput, spec: ModelSpec, task: Any, *, device: Any = None,
                dtype: torch.dtype = torch.float32) -> list[dict[str, float]]:
    """The metrics the task asks for (``task.run_metrics``), one ``{name: value}`` per run of
    ``output`` in its order; empty dicts for a task that asks for none."""
    names = tuple(getattr(task, "run_metrics", ()))
    unknown = [n for n in names if n not in RUN_METRICS]
    if unknown:
        raise ValueError(f"unknown run metric(s) {unknown} (known: {sorted(RUN_METRICS)})")
    per_run: list[dict[str, float]] = [{} for _ in output.runs]
    if not names:
        return per_run
    ctx = RunMetricContext(output, spec, task, tuple(int(r.seed) for r in output.runs), device, dtype)
    for name in names:
        for metric, values in RUN_METRICS[name](ctx).items():
            values = np.asarray(values, dtype=np.float64).reshape(-1)
            if values.shape[0] != len(per_run):
                raise ValueError(f"run metric {name!r} gave {values.shape[0]} values of {metric!r} "
                                 f"for {len(per_run)} runs")
            for run, v in zip(per_run, values):
                run[metric] = float(v)
    return per_run
