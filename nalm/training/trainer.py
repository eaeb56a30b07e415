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
``train``/``eval``, ``effective_weights`` via the sparsity metric).
"""

from __future__ import annotations

import time
import types
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from nalm.errors import ConfigError
from nalm.results import LearningCurve, RunResult
from nalm.stats import SuccessRate, success_rate
from nalm.tasks import GroupedTrainStream, Task
from nalm.units import ArithmeticUnit
from nalm.metrics import score_curves
from nalm.units.sparsity import sparsity_error

from .model import ModelSpec, slice_stacked, stack_modules
from .recipe import TrainRecipe
from .schedules import ScheduleState

# Eager steps before a CUDA graph is captured (cuBLAS workspaces, autograd streams set up first).
_GRAPH_WARMUP_STEPS = 3

# Evaluation inputs are processed in chunks so that S runs × N rows never materialise at once.
_EVAL_ELEMENTS_PER_CHUNK = 1 << 24


@dataclass(frozen=True)
class RunGroup:
    """Runs of one task, scored against one threshold, trained in a batch with other groups."""

    task: Task
    seeds: tuple[int, ...]
    threshold: float


@dataclass
class TrainOutput:
    """What :func:`train` returns for one group of runs: a scored :class:`~nalm.results.RunResult`
    per seed (in the order of the seeds given), the trained stacked model, the threshold the runs
    were scored against, and the call's timing (``wall_time_s`` includes set-up)."""

    runs: list[RunResult]
    model: nn.Module  # the stacked model of these runs after training, parameters [S, ...]
    threshold: float
    wall_time_s: float
    seed_iterations_per_second: float
    train_loss: Tensor | None = None  # [iterations, S] training MSE per update, if recorded

    def success_rate(self) -> SuccessRate:
        """How many runs solved the task, with the 95 % Wilson interval of the rate."""
        return success_rate(sum(run.solved for run in self.runs), len(self.runs))


class _Context:
    """State shared with hooks (see ``recipe.HookContext``)."""

    def __init__(self, trainer: "_BatchedTraining") -> None:
        self._trainer = trainer
        self.seeds = trainer.seeds

    @property
    def last_interpolation_mse(self) -> Tensor:
        return self._trainer.schedule_state.last_interpolation_mse

    def reinitialize(self, runs: Tensor, step: int) -> None:
        self._trainer.reinitialize(runs, step)


class _BatchedTraining:
    def __init__(
        self,
        spec: ModelSpec,
        groups: Sequence[RunGroup],
        recipe: TrainRecipe,
        *,
        device: Any,
        dtype: torch.dtype,
        compile: bool | str = False,
        cuda_graph: bool = False,
        sync_free: bool = False,
    ) -> None:
        if not groups:
            raise ValueError("groups: need at least one group of runs")
        for group in groups:
            if len(group.seeds) == 0:
                raise ValueError("seeds: need at least one run")
            if len(set(group.seeds)) != len(group.seeds):
                raise ValueError("seeds: must be distinct")
            task = group.task
            if (task.in_features, task.out_features) != (spec.in_features, spec.out_features):
                raise ValueError(
                    f"model maps {spec.in_features}→{spec.out_features} but the task has "
                    f"{task.in_features} inputs and {task.out_features} outputs"
                )
        self.groups = list(groups)
        self.seeds = [int(s) for g in self.groups for s in g.seeds]  # repeats across groups allowed
        ends = np.cumsum([len(g.seeds) for g in self.groups]).tolist()
        self.slices = [slice(a, b) for a, b in zip([0] + ends[:-1], ends)]
        lr = recipe.optimizer.lr
        if isinstance(lr, tuple) and len(lr) != len(self.seeds):
            raise ValueError(f"lr: {len(lr)} per-run learning rates for {len(self.seeds)} runs")
        self.spec, self.recipe = spec, recipe
        self.device, self.dtype = torch.device(device or "cpu"), dtype
        runs = len(self.seeds)
        # One per run, in the training dtype: a comparison with a Python float rounds it the same way.
        self.thresholds = torch.tensor(
            [g.threshold for g in self.groups for _ in g.seeds], dtype=dtype, device=self.device
        )
        self.model = stack_modules(
            [spec.build(s, device=self.device, dtype=dtype) for s in self.seeds]
        )
        self.model.train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = recipe.optimizer.build(self.params)
        self.alive = torch.ones(runs, dtype=torch.bool, device=self.device)
        self.diverged_at = torch.full((runs,), -1, dtype=torch.long)
        self.stopped = torch.zeros(runs, dtype=torch.bool, device=self.device)
        self.schedule_state = ScheduleState(
            last_interpolation_mse=torch.full((runs,), float("inf"), dtype=dtype, device=self.device)
        )
        self.context = _Context(self)
        self.eval_sets = {
            split: [
                g.task.evaluation_set(split, list(g.seeds), device=self.device, dtype=dtype)
                for g in self.groups
            ]
            for split in ("interpolation", "extrapolation")
        }
        # One prepared plan draws every group's batch (shared draws where possible), into the same
        # buffers at every step: a batch is used up by its step before the next one is drawn.
        self.stream = GroupedTrainStream(
            [(g.task, g.seeds) for g in self.groups], device=self.device, dtype=dtype, reuse_output=True
        )
        self.layers = [m for m in self.model.modules() if isinstance(m, ArithmeticUnit)]
        # Only layers that override the contract's no-op methods are called in the hot loop.
        self.projecting = [m for m in self.layers if type(m).project_ is not ArithmeticUnit.project_]
        self.regularized = [
            m for m in self.layers if type(m).regularizers is not ArithmeticUnit.regularizers
        ]
        self.any_frozen = False
        self.curve_steps: list[int] = []
        self.curve_values: list[Tensor] = []  # each [3, S]: interpolation, extrapolation, sparsity
        self.stopped_at = torch.full((runs,), -1, dtype=torch.long)
        self.logged_points = torch.zeros(runs, dtype=torch.long)
        self.compiled = bool(compile)
        # Sync-free steps: the update reads nothing back to the host (divergence is recorded on the
        # device), so it can be captured as one CUDA graph and replayed; without capture (the CPU,
        # tests) the same code runs eagerly. Results equal the ordinary step's bit for bit.
        self.sync_free = bool(sync_free or cuda_graph)
        self.capture = bool(cuda_graph)
        if self.capture and self.device.type != "cuda":
            raise ConfigError(f"cuda_graph: needs a CUDA device, got {self.device}")
        if self.sync_free:
            if compile:
                raise ConfigError("cuda_graph: cannot be combined with compile")
            # (Uncaptured, the step stays a host int: any task will do.)
            reason = cuda_graph_unsupported(self.groups if self.capture else [], recipe)
            if reason is None and not getattr(self.optimizer, "capturable", False):
                reason = "this torch has no fused Adam kernel"  # the unfused one reads its step on the host
            if reason is not None:
                raise ConfigError(f"cuda_graph: {reason}")
            self.diverged_on_device = torch.full((runs,), -1, dtype=torch.long, device=self.device)
            self.step_tensor = torch.zeros((), dtype=torch.long, device=self.device)
            self.scale_buffers = (
                {n: torch.zeros(runs, dtype=dtype, device=self.device) for n in recipe.regularizers}
                if self.regularized
                else {}
            )
            self.graph: Any = None
            self.graph_mse: Tensor | None = None
            self.warmup_stream: Any = None
        if compile:
            backend = compile if isinstance(compile, str) else "inductor"
            self.loss_function = torch.compile(_own_code(self._loss), backend=backend, dynamic=False)
        else:
            self.loss_function = self._loss

    # -- data -------------------------------------------------------------------------------
    def batch(self, step: int | Tensor) -> tuple[Tensor, Tensor]:
        """Every run's training batch at ``step``; groups' batches are concatenated in order.
        Valid until the next call (the stream refills the same buffers)."""
        return self.stream(step, self.recipe.batch_size)

    # -- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def _mse(self, x: Tensor, y: Tensor, runs_slice: slice) -> Tensor:
        """MSE ``[s]`` of the runs in ``runs_slice`` on their evaluation set."""
        if len(self.groups) == 1:
            model: Callable[[Tensor], Tensor] = self.model
        else:
            # This group's runs only: each group has its own evaluation inputs.
            state = {n: t[runs_slice] for n, t in self.model.named_parameters()}
            state.update({n: t[runs_slice] for n, t in self.model.named_buffers()})
            model = lambda inputs: functional_call(self.model, state, (inputs,))  # noqa: E731
        runs, rows = y.shape[0], y.shape[-2]
        # Sized for a unit that expands its input to [S, rows, O, I] (NMU as a first layer).
        chunk = max(1, _EVAL_ELEMENTS_PER_CHUNK // max(1, runs * x.shape[-1]))
        total = torch.zeros(runs, dtype=torch.float64, device=y.device)
        for start in range(0, rows, chunk):
            pred = model(x[..., start : start + chunk, :])
            err = (pred - y[..., start : start + chunk, :]).to(torch.float64)
            total += err.square().sum(dim=(-2, -1))
        return (total / (rows * y.shape[-1])).to(self.dtype)

    @torch.no_grad()
    def evaluate(self, step: int) -> Tensor:
        self.model.eval()
        try:
            interpolation, extrapolation = (
                torch.cat([self._mse(x, y, runs) for (x, y), runs in zip(self.eval_sets[split], self.slices)])
                for split in ("interpolation", "extrapolation")
            )
            sparsity = sparsity_error(self.model).to(self.dtype)
        finally:
            self.model.train()
        values = torch.stack([interpolation, extrapolation, sparsity])
        # Runs that diverged or stopped are not logged any more (as the reference logs end).
        logged = self.alive & ~self.stopped
        self.logged_points += logged.long().cpu()
        self.curve_steps.append(step)
        self.curve_values.append(
            torch.where(logged, values, torch.full_like(values, float("nan"))).cpu()
        )
        self.schedule_state.last_interpolation_mse = torch.where(
            logged, interpolation, self.schedule_state.last_interpolation_mse
        )
        return values

    # -- hooks' extension point ---------------------------------------------------------------
    @torch.no_grad()
    def reinitialize(self, runs: Tensor, step: int) -> None:
        for index in torch.nonzero(runs.cpu()).flatten().tolist():
            # A fresh draw that depends only on (seed, step), so it is the same in any batch.
            fresh = self.spec.build(
                hash((self.seeds[index], step)) & 0x7FFFFFFF, device=self.device, dtype=self.dtype
            )
            for name, p in fresh.named_parameters():
                self.model.get_parameter(name)[index].copy_(p)

    # -- one update -----------------------------------------------------------------------------
    def _scales(self, step: int) -> dict[str, float | Tensor]:
        """The scale at ``step`` of every regularizer the recipe schedules (none when no layer has
        regularizers); terms no layer provides are ignored by :meth:`_loss`."""
        if not self.recipe.regularizers or not self.regularized:
            return {}
        return {name: schedule(step, self.schedule_state) for name, schedule in self.recipe.regularizers.items()}

    def _loss(self, x: Tensor, y: Tensor, scales: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """Per-run training loss and MSE, both ``[S]``."""
        pred = self.model(x)
        mse = (pred - y).square().mean(dim=(-2, -1))
        if not scales:
            return mse, mse
        # Same-named terms are summed over layers, then scaled once (one shared λ, as the papers).
        totals: dict[str, Tensor] = {}
        for layer in self.regularized:
            for name, value in layer.regularizers().items():
                if name in scales:
                    totals[name] = totals[name] + value if name in totals else value
        penalty: Tensor | None = None
        for name, total in totals.items():
            scale = scales[name]
            # Compiled or graphed, every step runs one program: a zero scale selects 0 rather than
            # skipping the term (the same values: mse + 0 is mse, and the term's gradient is 0).
            term = (
                torch.where(scale == 0, 0.0, scale * total)
                if self.compiled or self.sync_free
                else scale * total
            )
            penalty = term if penalty is None else penalty + term
        return (mse if penalty is None else mse + penalty), mse

    def step(self, step: int, x: Tensor, y: Tensor, train_loss: list[Tensor] | None) -> None:
        recipe = self.recipe
        scales = self._scales(step)
        if self.compiled:
            scales = {n: torch.as_tensor(v, dtype=self.dtype, device=self.device) for n, v in scales.items()}
            loss, mse = self.loss_function(x, y, scales)
        else:
            # A term whose scale is exactly zero is skipped, not computed and multiplied by 0.
            scales = {n: v for n, v in scales.items() if isinstance(v, Tensor) or v != 0.0}
            loss, mse = self._loss(x, y, scales)
        if train_loss is not None:
            train_loss.append(mse.detach())  # stacked once at the end: no per-step copy
        for p in self.params:
            p.grad = None
        total = loss.sum()
        total.backward()

        grads = [p.grad for p in self.params]
        # One scalar decides the common case: a sum is finite only if every term is. (A false alarm
        # from overflow of finite terms just takes the exact per-run check below.) Cheaper than a
        # per-run isfinite over every gradient entry, which cost ~0.1 ms a step at 100 runs.
        finite: Tensor | None = None
        if not bool(torch.isfinite(sum((g.sum() for g in grads), total.detach()))):
            # Per run, over its loss and every gradient entry, before any clipping.
            finite = torch.isfinite(
                torch.cat([loss.detach()[:, None]] + [g.flatten(1) for g in grads], 1)
            ).all(dim=1)
        self._clip(grads)
        if finite is not None:
            newly_diverged = self.alive & ~finite
            if bool(newly_diverged.any()):
                self.diverged_at[newly_diverged.cpu()] = step
                self.alive &= finite
                self.any_frozen = True
        if self.any_frozen:
            frozen = ~self.alive | self.stopped
            keep = [p.detach().clone() for p in self.params]
        self.optimizer.step()
        with torch.no_grad():
            if self.any_frozen:
                self._restore(keep, frozen)
            for layer in self.projecting:
                layer.project_()
        for hook in recipe.hooks:
            hook.after_step(step, self.model, self.context)

    # -- one update without host synchronisation (CUDA graphs) ---------------------------------
    def sync_free_step(self, step: int, train_loss: list[Tensor] | None) -> None:
        """:meth:`step` (with the batch drawn inside) as a program that never reads back from the
        device; with ``cuda_graph`` the first steps run eagerly on a side stream, then one step is
        captured and every later step replays it."""
        for name, buffer in self.scale_buffers.items():
            value = self.recipe.regularizers[name](step, self.schedule_state)
            if isinstance(value, Tensor):
                buffer.copy_(value)
            else:
                buffer.fill_(value)
        if not self.capture:
            mse = self._sync_free_update(step)
        else:
            self.step_tensor.fill_(step)
            if self.graph is None and step >= _GRAPH_WARMUP_STEPS:
                self._capture()
            if self.graph is not None:
                self.graph.replay()
                assert self.graph_mse is not None
                mse = self.graph_mse
            else:
                # cuBLAS and autograd set themselves up on first use; capture needs that done, on a
                # side stream (torch.cuda.graphs' documented warm-up).
                if self.warmup_stream is None:
                    self.warmup_stream = torch.cuda.Stream(self.device)
                self.warmup_stream.wait_stream(torch.cuda.current_stream(self.device))
                with torch.cuda.stream(self.warmup_stream):
                    mse = self._sync_free_update(self.step_tensor)
                torch.cuda.current_stream(self.device).wait_stream(self.warmup_stream)
        if train_loss is not None:
            train_loss.append(mse.detach().clone())  # the graph's output is overwritten by the next replay
        for hook in self.recipe.hooks:
            hook.after_step(step, self.model, self.context)

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                mse = self._sync_free_update(self.step_tensor)
        except RuntimeError as error:
            # Something in this model's update reads back to the host (torch.prod's backward tests
            # its input for zeros: an NMU over > 2 inputs, iNALU's sign). Training on after a failed
            # capture is not safe with torch 2.11 (a run of the Gated model then turned to NaN: the
            # allocator keeps serving the abandoned graph's memory), so stop, and say what to do.
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise RuntimeError(
                f"cuda_graph: this model's update cannot be captured as a CUDA graph ({reason}); "
                "train it without cuda_graph"
            ) from error
        self.graph, self.graph_mse = graph, mse  # capture records the step without running it

    def _sync_free_update(self, step: int | Tensor) -> Tensor:
        """The update of :meth:`step` with every host decision replaced by a device-side mask: the
        exact per-run finiteness test always, and the freeze of diverged/stopped runs always."""
        x, y = self.batch(step)
        loss, mse = self._loss(x, y, self.scale_buffers)
        for p in self.params:
            p.grad = None
        loss.sum().backward()
        grads = [p.grad for p in self.params]
        finite = torch.isfinite(
            torch.cat([loss.detach()[:, None]] + [g.flatten(1) for g in grads], 1)
        ).all(dim=1)
        self._clip(grads)
        newly_diverged = self.alive & ~finite
        self.diverged_on_device.copy_(torch.where(newly_diverged, step, self.diverged_on_device))
        self.alive &= finite
        frozen = ~self.alive | self.stopped
        keep = [p.detach().clone() for p in self.params]
        self.optimizer.step()
        with torch.no_grad():
            self._restore(keep, frozen)
            for layer in self.projecting:
                layer.project_()
        return mse

    def sync_divergence(self) -> None:
        """Bring the device's divergence record to the host (at evaluations and at the end)."""
        if self.sync_free:
            self.diverged_at = self.diverged_on_device.cpu()
            self.any_frozen = self.any_frozen or bool((self.diverged_at >= 0).any())

    def _clip(self, grads: list[Tensor]) -> None:
        """The recipe's gradient clipping, in place: by value, and/or by each run's own norm."""
        if self.recipe.clip_grad_value is not None:
            torch._foreach_clamp_min_(grads, -self.recipe.clip_grad_value)
            torch._foreach_clamp_max_(grads, self.recipe.clip_grad_value)
        if self.recipe.clip_grad_norm is not None:
            self._clip_norm_per_run(self.recipe.clip_grad_norm)

    @torch.no_grad()
    def _restore(self, keep: list[Tensor], frozen: Tensor) -> None:
        """Put back the parameters of ``frozen`` runs (a bool mask ``[S]``) from ``keep``."""
        for p, old in zip(self.params, keep):
            p.copy_(torch.where(frozen.view(-1, *([1] * (p.dim() - 1))), old, p))

    def _clip_norm_per_run(self, max_norm: float) -> None:
        squares = sum(p.grad.square().flatten(1).sum(dim=1) for p in self.params)
        coef = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)  # as clip_grad_norm_
        for p in self.params:
            p.grad.mul_(coef.view(-1, *([1] * (p.dim() - 1))))


def cuda_graph_unsupported(groups: Sequence[RunGroup], recipe: TrainRecipe) -> str | None:
    """Why these runs cannot be trained with ``cuda_graph=True``, or None when they can."""
    if recipe.optimizer.name != "adam" or isinstance(recipe.optimizer.lr, tuple):
        return "needs the Adam optimizer with one learning rate for all runs"
    for group in groups:
        if not getattr(group.task, "device_steps", False):
            return f"task {type(group.task).__name__} draws its batches from a host-side step"
    return None


def _own_code(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` re-bound to a copy of its function with a code object of its own.

    torch.compile keeps its graphs per code object, and gives up after a few (dynamo's recompile
    limit, 8): the ninth train() call with new shapes in one process would silently run eagerly.
    A code object per training keeps each call's single graph to itself, freed with it.
    """
    func = method.__func__  # type: ignore[attr-defined]
    clone = types.FunctionType(
        func.__code__.replace(), func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    return types.MethodType(clone, method.__self__)  # type: ignore[attr-defined]


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
    compile: bool | str = False,
    cuda_graph: bool = False,
) -> TrainOutput:
    """Train one run per seed, all at once, and score every run against ``threshold``.

    ``progress(n)`` is called with the number of updates done since its last call.

    Batches are drawn in the loop, not ahead: on the 2-core CPU this was measured on, drawing ahead
    on a thread made each update slower (every torch op releases and re-takes the GIL and waits
    for the drawing thread), and in a separate process both slowed down by as much as overlap
    gained (they share the memory system).

    ``compile`` runs the forward pass, loss and regularizers (and so their backward) through
    ``torch.compile``: per-step overhead falls, at a one-off compile cost of seconds to tens of
    seconds, so it pays for long runs. Results agree with eager mode to rounding, not bit for bit.
    ``True`` means torch's default backend (Inductor); a string names another backend.

    ``cuda_graph`` (CUDA only) captures the whole update — drawing the batch, forward, backward,
    divergence test, Adam, projections — as one CUDA graph after three ordinary steps, and replays
    it: one launch per step instead of a hundred or more. Results equal the uncaptured step's bit
    for bit. It needs Adam with one learning rate and no ``compile``; divergence is read back at
    evaluations only, so a batch whose runs have all frozen stops at the next evaluation (their
    ``train_loss`` rows up to it hold values, not NaN).
    """
    group = RunGroup(task, tuple(seeds), threshold)
    (out,) = train_groups(
        spec, [group], recipe, device=device, dtype=dtype, progress=progress, compile=compile,
        cuda_graph=cuda_graph,
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
    compile: bool | str = False,
    cuda_graph: bool = False,
) -> list[TrainOutput]:
    """Train the runs of several tasks of one shape in one batch; one :class:`TrainOutput` per group.

    Every group has its own task (e.g. another operation or range), seeds and threshold; the network
    and the recipe are shared (a per-run ``lr`` tuple covers all runs, in group order). A seed may
    appear in several groups. Each group's runs are the runs :func:`train` would train for it, to
    rounding: vectorised kernels may round a value differently at another position in the batch.
    Fewer, larger batches pay where per-step overhead dominates (a GPU, or a few seeds per cell).
    Each output's ``wall_time_s`` and ``seed_iterations_per_second`` are those of the whole call;
    ``progress(n)`` counts updates of the whole batch, as in :func:`train`; ``compile`` and
    ``cuda_graph`` as there.
    """
    return _train_groups(
        spec, groups, recipe, device=device, dtype=dtype, progress=progress, compile=compile,
        cuda_graph=cuda_graph,
    )


def _train_groups(
    spec: ModelSpec,
    groups: Sequence[RunGroup],
    recipe: TrainRecipe,
    *,
    device: Any,
    dtype: torch.dtype,
    progress: Callable[[int], None] | None,
    compile: bool | str,
    cuda_graph: bool,
    sync_free: bool = False,
) -> list[TrainOutput]:
    """:func:`train_groups`; ``sync_free`` runs the graph's step uncaptured (any device; tests)."""
    start_time = time.perf_counter()
    state = _BatchedTraining(
        spec, groups, recipe, device=device, dtype=dtype, compile=compile, cuda_graph=cuda_graph,
        sync_free=sync_free,
    )
    runs = len(state.seeds)
    train_loss: list[Tensor] | None = [] if recipe.record_train_loss else None
    for hook in recipe.hooks:
        hook.start(runs, recipe.iterations)
    consecutive_solved = torch.zeros(runs, dtype=torch.long, device=state.device)
    last_reported = 0

    for step in range(recipe.iterations + 1):
        if step % recipe.eval_every == 0 or step == recipe.iterations:
            if state.sync_free:
                # Divergence is only read back here: a sync-free batch whose runs have all frozen
                # stops at this evaluation rather than at the next step (the ordinary loop's exit).
                state.sync_divergence()
                if state.any_frozen and not bool((state.alive & ~state.stopped).any()):
                    break
            values = state.evaluate(step)
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
        evaluated = step % recipe.eval_every == 0
        # (Sync-free: the device is asked only at evaluations, where the host state is current.)
        if (evaluated or not state.sync_free) and state.any_frozen and not bool(
            (state.alive & ~state.stopped).any()
        ):
            break
        if state.sync_free:
            state.sync_free_step(step, train_loss)
            continue
        x, y = state.batch(step)
        state.step(step, x, y, train_loss)
    if progress is not None and recipe.iterations > last_reported:
        progress(recipe.iterations - last_reported)
    state.sync_divergence()
    wall = time.perf_counter() - start_time
    results = _score(state, recipe.iterations)
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


def _score(state: _BatchedTraining, iterations: int) -> list[RunResult]:
    steps = np.asarray(state.curve_steps, dtype=np.int64)
    values = torch.stack(state.curve_values, dim=-1).to(torch.float64).numpy()  # [3, S, E]
    thresholds = [g.threshold for g in state.groups for _ in g.seeds]
    # A run's series ends where it stopped being logged (divergence or early stop), as in the
    # reference logs; the selection window counts back from there.
    scores = score_curves(
        steps, values[0], values[1], thresholds, values[2],
        lengths=state.logged_points.clamp(min=1).numpy(),
    )
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
            )
        )
    return results
