"""One optimiser update of every run in a batch — the only implementation of a training step.

An update draws the batch, computes each run's loss (MSE plus the scheduled regularizers), takes
the gradients, tests each run for non-finite values, clips, steps the optimiser, puts frozen runs
back, and projects. How a step is *executed* is the backend's business:

* ``"eager"``: the update runs as written. Decisions that are cheap on the host are made there: a
  regularizer whose scale is exactly 0 is skipped, and one scalar (the sum of every gradient) tells
  whether any value is non-finite before the exact per-run test is paid for.
* ``"compile"``: the loss (and so its backward) goes through ``torch.compile``; every step runs one
  program, so a zero scale selects 0 instead of skipping the term (the same values).
* ``"cuda_graph"``: the update keeps every decision on the device (``on_device``: the per-run test
  always, divergence recorded in a device tensor, frozen runs always restored) so that it can be
  captured once and replayed (:class:`nalm.training.cuda_graph.GraphedUpdate`). The same code runs
  uncaptured on any device; its results equal the eager update's bit for bit.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from nalm.errors import ConfigError
from nalm.units import _base as unit_base

from .recipe import MODEL_REGULARIZERS, model_regularizer
from .runs import BatchedRuns, RunGroup

Backend = Literal["eager", "compile", "cuda_graph"]
BACKENDS: tuple[str, ...] = ("eager", "compile", "cuda_graph")


def resolve_backend(
    backend: str | None, compile: bool | str = False, cuda_graph: bool = False
) -> tuple[Backend, str | None]:
    """``(backend, torch.compile backend)`` from ``backend`` or the older ``compile``/``cuda_graph``
    keywords (kept as aliases; ``compile="aot_eager"`` also names torch.compile's backend)."""
    alias: str | None = "cuda_graph" if cuda_graph else "compile" if compile else None
    if cuda_graph and compile:
        raise ConfigError("cuda_graph: cannot be combined with compile")
    if backend is None:
        backend = alias or "eager"
    elif backend not in BACKENDS:
        raise ConfigError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    elif alias is not None and alias != backend:
        raise ConfigError(f"backend: {backend!r} contradicts the alias keyword for {alias!r}")
    dynamo = (compile if isinstance(compile, str) else "inductor") if backend == "compile" else None
    return backend, dynamo  # type: ignore[return-value]


def cuda_graph_unsupported(groups: Sequence[RunGroup], recipe: Any) -> str | None:
    """Why these runs cannot be trained with the ``"cuda_graph"`` backend, or None when they can."""
    if recipe.optimizer.name != "adam" or isinstance(recipe.optimizer.lr, tuple):
        return "needs the Adam optimizer with one learning rate for all runs"
    for group in groups:
        if not getattr(group.task, "device_steps", False):
            return f"task {type(group.task).__name__} draws its batches from a host-side step"
    return None


def _model_terms(recipe: Any) -> tuple[str, ...]:
    """The recipe's regularizers that are the whole network's (:data:`MODEL_REGULARIZERS`)."""
    return tuple(n for n in recipe.regularizers if n in MODEL_REGULARIZERS)


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


class Update:
    """The update of a :class:`BatchedRuns` batch; see the module docstring for the backends."""

    def __init__(self, runs: BatchedRuns, *, compile_backend: str | None, on_device: bool) -> None:
        self.runs = runs
        self.on_device = on_device  # (never with compile: _build_update refuses that)
        # Compiled or on the device, every step runs one program: a zero scale selects 0.
        self.select_zero_scales = on_device or compile_backend is not None
        self.compiled = compile_backend is not None
        self.loss_function: Callable[..., tuple[Tensor, Tensor]] = (
            torch.compile(_own_code(self._loss), backend=compile_backend, dynamic=False)
            if compile_backend is not None
            else self._loss
        )
        cpu_adam = runs.device.type == "cpu" and hasattr(runs.optimizer, "batch_invariant")
        if unit_base.CPU_BATCH_INVARIANT and cpu_adam:
            # Adam's fused CPU kernel rounds a run's values by their position in the batch; its
            # _foreach_ arithmetic does not (nalm.training.optim). Not captured on the CPU anyway.
            runs.optimizer.batch_invariant = True
        if on_device:
            if runs.device.type != "cpu" and not getattr(runs.optimizer, "capturable", False):
                # the unfused Adam reads its step count on the host
                raise ConfigError("cuda_graph: this torch has no fused Adam kernel")
            S = len(runs)
            self.diverged_on_device = torch.full((S,), -1, dtype=torch.long, device=runs.device)
            self.scale_buffers = (
                {n: torch.zeros(S, dtype=runs.dtype, device=runs.device) for n in runs.recipe.regularizers}
                if runs.regularized or _model_terms(runs.recipe)
                else {}
            )

    # -- regularizer scales ---------------------------------------------------------------------
    def scales(self, step: int) -> Mapping[str, Any]:
        """The regularizer scales of ``step``, in the form this backend's loss takes."""
        runs = self.runs
        if not runs.recipe.regularizers or not (runs.regularized or _model_terms(runs.recipe)):
            return {}
        values = {n: schedule(step, runs.schedule_state) for n, schedule in runs.recipe.regularizers.items()}
        if self.on_device:
            for name, buffer in self.scale_buffers.items():
                value = values[name]
                if isinstance(value, Tensor):
                    buffer.copy_(value)
                else:
                    buffer.fill_(value)
            return self.scale_buffers
        if self.compiled:
            return {n: torch.as_tensor(v, dtype=runs.dtype, device=runs.device) for n, v in values.items()}
        # Eager: a term whose scale is exactly zero is skipped, not computed and multiplied by 0.
        return {n: v for n, v in values.items() if isinstance(v, Tensor) or v != 0.0}

    def _loss(self, x: Tensor, y: Tensor, scales: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
        """Per-run training loss and MSE, both ``[S]``."""
        pred = self.runs.model(x)
        mse = (pred - y).square().mean(dim=(-2, -1))
        if not scales:
            return mse, mse
        # Same-named terms are summed over layers, then scaled once (one shared λ, as the papers).
        totals: dict[str, Tensor] = {}
        for layer in self.runs.regularized:
            for name, value in layer.regularizers().items():
                if name in scales:
                    totals[name] = totals[name] + value if name in totals else value
        for name in _model_terms(self.runs.recipe):  # over every parameter of the network
            if name in scales:
                totals[name] = model_regularizer(name, self.runs.params)
        penalty: Tensor | None = None
        for name, total in totals.items():
            scale = scales[name]
            # (the same values: mse + 0 is mse, and the term's gradient is 0)
            term = torch.where(scale == 0, 0.0, scale * total) if self.select_zero_scales else scale * total
            penalty = term if penalty is None else penalty + term
        return (mse if penalty is None else mse + penalty), mse

    # -- the update -------------------------------------------------------------------------------
    def __call__(self, step: int | Tensor, scales: Mapping[str, Any]) -> Tensor:
        """Apply one update at ``step`` (a host int, or a 0-d device tensor on the device path);
        returns each run's training MSE ``[S]`` before the update."""
        runs = self.runs
        x, y = runs.batch(step)
        loss, mse = self.loss_function(x, y, scales)
        for p in runs.params:
            p.grad = None
        total = loss.sum()
        cycle = runs.recipe.update_cycle
        if cycle:
            # Only this step's group gets gradients; the optimiser skips the others (their values
            # and optimiser state stay), as a TF op whose var_list is the group.
            params = runs.param_groups[cycle[int(step) % len(cycle)]]
            total.backward(inputs=params)
        else:
            params = runs.params
            total.backward()
        grads = [p.grad for p in params]
        finite: Tensor | None
        if self.on_device:
            finite = self._finite_per_run(loss, grads)
        else:
            # One scalar decides the common case: a sum is finite only if every term is (a false
            # alarm from overflow of finite terms just takes the exact per-run test). Cheaper than
            # the per-run test over every gradient entry, ~0.1 ms a step at 100 runs.
            summed = sum((g.sum() for g in grads), total.detach())
            finite = None if bool(torch.isfinite(summed)) else self._finite_per_run(loss, grads)
        self._clip(grads)
        if finite is not None:
            self._record_divergence(step, finite)
        restore = self.on_device or runs.any_frozen
        if restore:
            frozen = ~runs.alive | runs.stopped
            keep = [p.detach().clone() for p in runs.params]
        runs.optimizer.step()
        with torch.no_grad():
            if restore:
                self._restore(keep, frozen)
            for layer in runs.projecting:
                layer.project_()
        if runs.recipe.penalty_steps is not None:
            self._penalty_steps(int(step), mse)
        return mse

    def _penalty_steps(self, step: int, mse: Tensor) -> None:
        """The recipe's extra penalty-only steps (:class:`~nalm.training.recipe.PenaltySteps`) for the
        runs whose training MSE of this update was below the bound; the other runs are untouched."""
        runs = self.runs
        spec = runs.recipe.penalty_steps
        assert spec is not None
        if step < spec.after:
            return
        with torch.no_grad():
            active = (mse.detach() < spec.below) & runs.alive & ~runs.stopped
        if not bool(active.any()):
            return
        for group in spec.groups:
            params = runs.param_groups[group]
            for p in runs.params:
                p.grad = None
            # The gradient of scale · Σ_P mean over P's own entries of max(target − |P|, 0), written
            # out (what autograd gives, relu' = 0 at 0, sign(0) = 0; without a graph per step):
            # −scale / |P| · sign(P) where |P| < target, else 0.
            with torch.no_grad():
                for p in params:
                    numel = p[0].numel() if p.dim() else 1
                    p.grad = torch.where(p.abs() < spec.target, p.sign(), 0.0) * (-spec.scale / numel)
            self._clip([p.grad for p in params])
            runs.optimizer.step(runs=active)
            with torch.no_grad():
                for layer in runs.projecting:
                    layer.project_()

    @staticmethod
    def _finite_per_run(loss: Tensor, grads: list[Tensor]) -> Tensor:
        """Per run, over its loss and every gradient entry, before any clipping."""
        return torch.isfinite(torch.cat([loss.detach()[:, None]] + [g.flatten(1) for g in grads], 1)).all(dim=1)

    def _record_divergence(self, step: int | Tensor, finite: Tensor) -> None:
        runs = self.runs
        newly_diverged = runs.alive & ~finite
        if self.on_device:
            self.diverged_on_device.copy_(torch.where(newly_diverged, step, self.diverged_on_device))
            runs.alive &= finite
        elif bool(newly_diverged.any()):
            runs.diverged_at[newly_diverged.cpu()] = step
            runs.alive &= finite
            runs.any_frozen = True

    def sync_divergence(self) -> None:
        """Bring the device's divergence record to the host (at evaluations and at the end)."""
        if self.on_device:
            runs = self.runs
            runs.diverged_at = self.diverged_on_device.cpu()
            runs.any_frozen = runs.any_frozen or bool((runs.diverged_at >= 0).any())

    def _clip(self, grads: list[Tensor]) -> None:
        """The recipe's gradient clipping, in place: by value, and/or by each run's own norm."""
        recipe = self.runs.recipe
        if recipe.clip_grad_value is not None:
            torch._foreach_clamp_min_(grads, -recipe.clip_grad_value)
            torch._foreach_clamp_max_(grads, recipe.clip_grad_value)
        if recipe.clip_grad_norm is not None:
            self._clip_norm_per_run(recipe.clip_grad_norm)

    @torch.no_grad()
    def _restore(self, keep: list[Tensor], frozen: Tensor) -> None:
        """Put back the parameters of ``frozen`` runs (a bool mask ``[S]``) from ``keep``."""
        for p, old in zip(self.runs.params, keep):
            p.copy_(torch.where(frozen.view(-1, *([1] * (p.dim() - 1))), old, p))

    def _clip_norm_per_run(self, max_norm: float) -> None:
        # (parameters outside this step's group have no gradient: not part of the norm)
        params = [p for p in self.runs.params if p.grad is not None]
        squares = sum(p.grad.square().flatten(1).sum(dim=1) for p in params)
        coef = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)  # as clip_grad_norm_
        for p in params:
            p.grad.mul_(coef.view(-1, *([1] * (p.dim() - 1))))
