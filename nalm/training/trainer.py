"""The batched trainer: S independent runs of one cell trained as one program.

Parameters of the S networks are stacked along a leading run axis and trained by one optimiser.
Everything that couples runs in a naive implementation is kept per run here, so the result is
*exactly* S independent runs:

- the loss is the sum of per-run losses, so each run's gradient is that of its own loss;
- optimisers are elementwise (Adam, RMSProp, SGD), so one update over stacked tensors equals S
  separate updates;
- gradient-norm clipping uses each run's own norm;
- a run whose loss or gradients turn non-finite is marked diverged at that step and its parameters
  are frozen at their last finite values; the other runs never see it;
- each run's data come from its own seeded stream (the task's contract).

Runs of several tasks of one shape (other operations or ranges, same network and recipe) can share
one batch: :func:`train_groups`. Each group keeps its own data, evaluation sets and threshold.

The trainer knows units only through their contract (``regularizers``, ``project_``,
``train``/``eval``, ``effective_weights`` via the sparsity metric). The pieces: the batch's state
(:mod:`~nalm.training.runs`), the one update (:mod:`~nalm.training.update`, with its ``eager``,
``compile`` and ``cuda_graph`` backends; :mod:`~nalm.training.cuda_graph`), and here the loop,
evaluation schedule, early stopping and scoring.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nalm.errors import ConfigError
from nalm.metrics import SELECTION_WINDOW, score_curves
from nalm.results import LearningCurve, RunParameters, RunResult
from nalm.stats import SuccessRate, success_rate
from nalm.tasks import Task, check_task_dtype

from .cuda_graph import GraphedUpdate
from .model import ModelSpec, slice_stacked
from .recipe import TrainRecipe
from .runs import BatchedRuns, RunGroup, check_batch_fits
from .snapshot import BestParameters, evaluation_count
from .threads import cpu_threads, resolve_threads
from .update import Backend, Update, cuda_graph_unsupported, resolve_backend

__all__ = ["Backend", "RunGroup", "TrainOutput", "cuda_graph_unsupported", "train", "train_groups"]


@dataclass
class TrainOutput:
    """What :func:`train` returns for one group of runs: a scored :class:`~nalm.results.RunResult`
    per seed (in the order of the seeds given), the trained stacked model, the threshold the runs
    were scored against, and the call's timing (``wall_time_s`` includes set-up).

    Each run's parameters at its selected step and at the end are in ``runs[i].parameters``
    (:class:`~nalm.results.RunParameters`); :meth:`selected_model` stacks the selected ones."""

    runs: list[RunResult]
    model: nn.Module  # the stacked model of these runs after training, parameters [S, ...]
    threshold: float
    wall_time_s: float
    seed_iterations_per_second: float
    train_loss: Tensor | None = None  # [iterations, S] training MSE per update, if recorded

    def success_rate(self) -> SuccessRate:
        """How many runs solved the task, with the 95 % Wilson interval of the rate."""
        return success_rate(sum(run.solved for run in self.runs), len(self.runs))

    def selected_model(self) -> nn.Module:
        """A copy of :attr:`model` holding every run's parameters at its selected step (the step its
        scores come from), ``[S, ...]`` like :attr:`model`."""
        selected = copy.deepcopy(self.model)
        with torch.no_grad():
            for name, p in selected.named_parameters():
                stored = []
                for run in self.runs:
                    if run.parameters is None:
                        raise ValueError(f"seed {run.seed}: no stored parameters")
                    stored.append(torch.from_numpy(np.asarray(run.parameters.selected[name])))
                p.copy_(torch.stack(stored).to(device=p.device, dtype=p.dtype))
        return selected


def train(
    spec: ModelSpec,
    task: Task,
    seeds: Sequence[int],
    recipe: TrainRecipe,
    *,
    threshold: float,
    device: Any = None,
    dtype: torch.dtype = torch.float32,
    progress: Callable[[int], None] | None = None,
    backend: Backend | None = None,
    compile: bool | str = False,
    cuda_graph: bool = False,
    threads: int | None | str = "default",
) -> TrainOutput:
    """Train one run per seed, all at once, and score every run against ``threshold``.

    ``progress(n)`` is called with the number of updates done since its last call.

    ``backend`` says how each update is executed (the results are those of the same update):

    * ``"eager"`` (default): as written, with cheap host-side shortcuts.
    * ``"compile"``: the forward pass, loss and regularizers (and so their backward) go through
      ``torch.compile``. Per-step overhead falls, at a one-off compile of seconds to tens of
      seconds, so it pays for long runs. Results agree with eager mode to rounding, not bit for bit.
    * ``"cuda_graph"`` (CUDA only): the whole update — drawing the batch, forward, backward,
      divergence test, Adam, projections — is captured as one CUDA graph after three ordinary steps
      and replayed, one launch per step instead of a hundred or more. Results equal the eager
      update's bit for bit. It needs Adam with one learning rate; divergence is read back at
      evaluations only, so a batch whose runs have all frozen stops at the next evaluation (their
      ``train_loss`` rows up to it hold values, not NaN).

    ``compile=True`` and ``cuda_graph=True`` are the older spellings of ``backend="compile"`` and
    ``backend="cuda_graph"``; ``compile="aot_eager"`` (a string) also names torch.compile's backend.

    ``threads``: CPU threads of the loop (torch's intra-op threads and the numba data kernels),
    restored afterwards; ``"default"`` is one, or ``$NALM_THREADS`` when set, because two are ~15 %
    faster on an idle 2-core machine but 20–30 times slower as soon as another process competes for a
    core (:mod:`nalm.training.threads`). ``None`` keeps the process's settings. Ignored on CUDA.

    Batches are drawn in the loop, not ahead: on the 2-core CPU this was measured on, drawing ahead
    on a thread made each update slower (every torch op releases and re-takes the GIL and waits
    for the drawing thread), and in a separate process both slowed down by as much as overlap
    gained (they share the memory system).
    """
    if hasattr(seeds, "__len__"):  # before a tuple of the seeds is made
        check_batch_fits(len(seeds), spec.in_features, recipe.batch_size, dtype, device, spec=spec)
    group = RunGroup(task, tuple(seeds), threshold)
    (out,) = train_groups(
        spec, [group], recipe, device=device, dtype=dtype, progress=progress, backend=backend,
        compile=compile, cuda_graph=cuda_graph, threads=threads,
    )
    return out


def train_groups(
    spec: ModelSpec,
    groups: Sequence[RunGroup],
    recipe: TrainRecipe,
    *,
    device: Any = None,
    dtype: torch.dtype = torch.float32,
    progress: Callable[[int], None] | None = None,
    backend: Backend | None = None,
    compile: bool | str = False,
    cuda_graph: bool = False,
    threads: int | None | str = "default",
) -> list[TrainOutput]:
    """Train the runs of several tasks of one shape in one batch; one :class:`TrainOutput` per group.

    Every group has its own task (e.g. another operation or range), seeds and threshold; the network
    and the recipe are shared (a per-run ``lr`` tuple covers all runs, in group order). A seed may
    appear in several groups. Each group's runs are the runs :func:`train` would train for it, to
    rounding: vectorised kernels may round a value differently at another position in the batch.
    Fewer, larger batches pay where per-step overhead dominates (a GPU, or a few seeds per cell).
    Each output's ``wall_time_s`` and ``seed_iterations_per_second`` are those of the whole call;
    ``progress(n)`` counts updates of the whole batch, as in :func:`train`; ``backend`` (and its
    aliases ``compile``, ``cuda_graph``) and ``threads`` as there.
    """
    with cpu_threads(resolve_threads(threads), torch.device("cpu" if device is None else device)):
        return _train_groups(
            spec, groups, recipe, device=device, dtype=dtype, progress=progress, backend=backend,
            compile=compile, cuda_graph=cuda_graph,
        )


def _build_update(
    runs: BatchedRuns, backend: Backend, compile_backend: str | None, on_device: bool
) -> tuple[Update, GraphedUpdate | None]:
    """The batch's update, and its graph runner when ``backend`` is ``"cuda_graph"``."""
    capture = backend == "cuda_graph"
    if capture and runs.device.type != "cuda":
        raise ConfigError(f"cuda_graph: needs a CUDA device, got {runs.device}")
    if on_device:
        if compile_backend is not None:
            raise ConfigError("cuda_graph: cannot be combined with compile")
        # (Uncaptured, the step stays a host int: any task will do.)
        reason = cuda_graph_unsupported(runs.groups if capture else [], runs.recipe)
        if reason is not None:
            raise ConfigError(f"cuda_graph: {reason}")
    update = Update(runs, compile_backend=compile_backend, on_device=on_device)
    return update, GraphedUpdate(update) if capture else None


def _train_groups(
    spec: ModelSpec,
    groups: Sequence[RunGroup],
    recipe: TrainRecipe,
    *,
    device: Any,
    dtype: torch.dtype,
    progress: Callable[[int], None] | None,
    backend: Backend | None = None,
    compile: bool | str = False,
    cuda_graph: bool = False,
    sync_free: bool = False,
) -> list[TrainOutput]:
    """:func:`train_groups`; ``sync_free`` runs the graph backend's on-device update uncaptured
    (any device; this is how the CPU tests check it against the eager update)."""
    start_time = time.perf_counter()
    resolved, compile_backend = resolve_backend(backend, compile, cuda_graph)
    recipe.optimizer.check_dtype(dtype)
    for group in groups:
        check_task_dtype(group.task, dtype)
    state = BatchedRuns(spec, groups, recipe, device=device, dtype=dtype)
    on_device = sync_free or resolved == "cuda_graph"
    update, graphed = _build_update(state, resolved, compile_backend, on_device)
    runs = len(state)
    best = _best_parameters(state, recipe.iterations, recipe.eval_every, recipe.selection_window)
    train_loss: list[Tensor] | None = [] if recipe.record_train_loss else None
    for hook in recipe.hooks:
        hook.start(runs, recipe.iterations)
    consecutive_solved = torch.zeros(runs, dtype=torch.long, device=state.device)
    last_reported = 0

    for step in range(recipe.iterations + 1):
        evaluated = step % recipe.eval_every == 0
        if evaluated or step == recipe.iterations:
            if on_device:
                # Divergence is only read back here: an on-device batch whose runs have all frozen
                # stops at this evaluation rather than at the next step (the eager loop's exit).
                update.sync_divergence()
                if state.none_left():
                    break
            values = state.evaluate(step)
            # evaluate() logged exactly these runs (nothing has changed the masks since)
            logged = state.alive & ~state.stopped
            for snapshot in best:
                snapshot.update(len(state.curve_steps) - 1, values[0], logged)
            if recipe.early_stop_after is not None:
                solved = values[1] < state.thresholds
                consecutive_solved = torch.where(solved, consecutive_solved + 1, 0)
                newly_stopped = (consecutive_solved >= recipe.early_stop_after) & ~state.stopped
                if bool(newly_stopped.any()):
                    state.stopped |= newly_stopped
                    state.stopped_at[newly_stopped.cpu()] = step
                    state.any_frozen = True
            if progress is not None and step > last_reported:
                progress(step - last_reported)
                last_reported = step
        if step == recipe.iterations:
            break
        # (On the device, the host state is current only at evaluations.)
        if (evaluated or not on_device) and state.none_left():
            break
        scales = update.scales(step)
        mse = graphed(step, scales) if graphed is not None else update(step, scales)
        if train_loss is not None:
            # the graph's output buffer is overwritten by the next replay
            train_loss.append(mse.detach().clone() if on_device else mse.detach())
        if recipe.hooks:
            state.last_train_mse = mse.detach()
        for hook in recipe.hooks:
            hook.after_step(step, state.model, state.context)
    if progress is not None and recipe.iterations > last_reported:
        progress(recipe.iterations - last_reported)
    update.sync_divergence()
    wall = time.perf_counter() - start_time
    results = _score(state, recipe.iterations, best, recipe.selection, recipe.selection_window)
    total_updates = sum(r.iterations for r in results)
    rate = total_updates / wall if wall > 0 else float("nan")
    losses = _stack_losses(train_loss, recipe.iterations, runs, dtype, state.device)
    single = len(state.groups) == 1
    return [
        TrainOutput(
            runs=results[runs_slice],
            model=state.model if single else slice_stacked(state.model, runs_slice),
            threshold=group.threshold,
            wall_time_s=wall,
            seed_iterations_per_second=rate,
            train_loss=None if losses is None else losses[:, runs_slice],
        )
        for group, runs_slice in zip(state.groups, state.slices)
    ]


def _stack_losses(
    losses: list[Tensor] | None, iterations: int, runs: int, dtype: torch.dtype, device: torch.device
) -> Tensor | None:
    """``[iterations, S]``; updates that never ran (all runs stopped early) are NaN."""
    if losses is None:
        return None
    out = torch.full((iterations, runs), float("nan"), dtype=dtype, device=device)
    if losses:
        out[: len(losses)] = torch.stack(losses)
    return out


def _best_parameters(
    state: BatchedRuns, iterations: int, eval_every: int, window: int = SELECTION_WINDOW
) -> list[BestParameters]:
    """The running best over every point, and — when a run that logs every evaluation logs more than
    the selection window — one over the points that window keeps (see :mod:`.snapshot`)."""
    runs, dtype, device = len(state), state.dtype, state.device
    snapshots = [BestParameters(state.model, runs, dtype, device)]
    window_start = evaluation_count(iterations, eval_every) - window
    if window_start > 0:
        snapshots.append(BestParameters(state.model, runs, dtype, device, first_index=window_start))
    return snapshots


def _run_parameters(
    state: BatchedRuns, best: Sequence[BestParameters], selected_index: np.ndarray, steps: np.ndarray,
    selection: str = "best",
) -> list[RunParameters]:
    """Each run's parameters at its selected step (from the snapshot whose best point it is; under
    ``selection="final"`` the final ones) and at the end, as numpy arrays; one copy to the host per
    parameter, then per-run slices."""
    final = {name: p.detach().cpu().numpy() for name, p in state.model.named_parameters()}
    if selection == "final":
        # The last logged point is the end of training (a diverged run: its parameters stay frozen at
        # their last finite values, the ones kept as final).
        return [
            RunParameters(
                selected_step=int(steps[selected_index[run]]),
                selected={name: final[name][run].copy() for name in final},
                final={name: final[name][run].copy() for name in final},
            )
            for run in range(len(state))
        ]
    kept = [(s.index.cpu().numpy(), [v.cpu().numpy() for v in s.values]) for s in best]
    names = best[0].names
    out = []
    for run in range(len(state)):
        # The snapshot holding the selected point; else the whole run's best (documented case).
        index, values = next(((i, v) for i, v in kept if i[run] == selected_index[run]), kept[0])
        out.append(RunParameters(
            selected_step=int(steps[index[run]]),
            selected={name: values[j][run].copy() for j, name in enumerate(names)},
            final={name: final[name][run].copy() for name in names},
        ))
    return out


def _score(
    state: BatchedRuns, iterations: int, best: Sequence[BestParameters], selection: str = "best",
    window: int = SELECTION_WINDOW,
) -> list[RunResult]:
    steps = np.asarray(state.curve_steps, dtype=np.int64)
    values = torch.stack(state.curve_values, dim=-1).to(torch.float64).numpy()  # [3, S, E]
    thresholds = [g.threshold for g in state.groups for _ in g.seeds]
    # A run's series ends where it stopped being logged (divergence or early stop), as in the
    # reference logs; the selection window counts back from there.
    scores = score_curves(
        steps, values[0], values[1], thresholds, values[2],
        lengths=state.logged_points.clamp(min=1).numpy(), selection=selection, window=window,
    )
    parameters = _run_parameters(state, best, scores.selected_index, steps, selection)
    results = []
    for index, seed in enumerate(state.seeds):
        diverged_at = int(state.diverged_at[index])
        stopped_at = int(state.stopped_at[index])
        # Updates performed: a diverged run's failing update is not applied.
        done = diverged_at if diverged_at >= 0 else stopped_at if stopped_at >= 0 else iterations
        solved_at = int(scores.solved_at[index])
        results.append(
            RunResult(
                seed=seed,
                status="diverged" if diverged_at >= 0 else "ok",
                solved=bool(scores.solved[index]),
                solved_at=solved_at if solved_at >= 0 else None,
                selected_step=int(scores.selected_step[index]),
                interpolation_mse=float(scores.interpolation_mse[index]),
                extrapolation_mse=float(scores.extrapolation_mse[index]),
                sparsity_error=float(scores.sparsity_error[index]),
                threshold=thresholds[index],
                iterations=done,
                diverged_at=diverged_at if diverged_at >= 0 else None,
                curve=LearningCurve(
                    step=steps.tolist(),
                    interpolation_mse=values[0, index].tolist(),
                    extrapolation_mse=values[1, index].tolist(),
                    sparsity_error=values[2, index].tolist(),
                ),
                parameters=parameters[index],
            )
        )
    return results
