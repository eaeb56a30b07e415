"""Adam for stacked runs, with an optional learning rate per run.

torch's Adam is elementwise, so it is already exact over stacked parameters; this version exists
for two reasons: a per-run learning rate (runs of one batch may differ in lr), and a lower fixed
cost per step — a handful of ``torch._foreach_*`` calls over all parameters, where the stock
optimiser spends most of a tiny model's step in Python bookkeeping. The update is the same
arithmetic as ``torch.optim.Adam`` (no weight decay, no amsgrad); a test checks it against it.

With one learning rate the update is torch's fused Adam kernel called directly (the kernel behind
``torch.optim.Adam(fused=True)``, one call for all parameters); with a learning rate per run it is
the same arithmetic in ``torch._foreach_*`` calls, since the fused kernel takes one scalar lr.

``batch_invariant`` (the trainer sets it on the CPU): the ``torch._foreach_*`` arithmetic for one
learning rate too. On the CPU the fused kernel computes a tensor in SIMD blocks and its last few
elements with scalar code, and the two paths round differently (the scalar path computes in double;
the SIMD one uses fused multiply-adds); over stacked runs ``[S, ...]`` which of a run's values fall
in the scalar tail depends on S and the run's position, so a run's values depended on its batch.
Every ``_foreach_*`` op used here (lerp, mul, addcmul, sqrt, div, add, addcdiv) rounds the same on
both paths, so each run's update is the one it gets alone, in any batch. It costs more than the
fused kernel: measured ~15–40 µs per step at 10–100 runs of a two-layer network (seven calls over every
parameter instead of one; benchmarks/bench_batch_invariance.py).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
from torch import Tensor


class StackedAdam:
    """Adam over stacked parameters ``[S, ...]``; ``lr`` is a float or one value per run.

    Deliberately not a ``torch.optim.Optimizer``: that base class wraps every ``step`` in profiling
    and hook machinery that costs more than the whole update of a small model.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float | Sequence[float] | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        batch_invariant: bool = False,
    ) -> None:
        per_run = not isinstance(lr, (int, float))
        if not per_run and not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.lr, self.betas, self.eps = lr, betas, eps
        self._step = 0
        self._params: list[Tensor] = list(params)
        self._exp_avg = [torch.zeros_like(p) for p in self._params]
        self._exp_avg_sq = [torch.zeros_like(p) for p in self._params]
        self._lr_views: list[Tensor] | None = None
        self._detached = [p.detach() for p in self._params]
        self._fused = not per_run and hasattr(torch, "_fused_adam_")
        self.batch_invariant = batch_invariant
        self._steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self._params]
        if per_run:
            lrs = torch.as_tensor(lr, dtype=self._params[0].dtype, device=self._params[0].device)
            if lrs.ndim != 1 or not bool((lrs > 0).all()):
                raise ValueError("per-run lr must be a 1-d sequence of positive values")
            # lr broadcast over each parameter's own dims: [S] -> [S, 1, ..., 1]
            self._lr_views = [lrs.view(-1, *([1] * (p.dim() - 1))) for p in self._params]

    @property
    def capturable(self) -> bool:
        """Whether ``step`` reads nothing back to the host, so a CUDA graph can capture it: the fused
        path (one lr) keeps its step counts on the device; the per-run-lr path computes the bias
        corrections on the host."""
        return self._fused and not self.batch_invariant

    @property
    def batch_invariant(self) -> bool:
        """Whether each run's update is independent of the other runs in its stack, bit for bit (the
        ``_foreach_*`` arithmetic; see the module's docstring). May be switched before the first step."""
        return self._batch_invariant

    @batch_invariant.setter
    def batch_invariant(self, value: bool) -> None:
        if self._step:
            raise ValueError("batch_invariant: set it before the first step")
        self._batch_invariant = bool(value)

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self._step += 1
        params = self._params
        grads = [p.grad for p in params]
        if self._fused and not self._batch_invariant:
            torch._foreach_add_(self._steps, 1)
            torch._fused_adam_(
                self._detached, grads, self._exp_avg, self._exp_avg_sq, [], self._steps,
                lr=float(self.lr), beta1=beta1, beta2=beta2, weight_decay=0.0, eps=self.eps,
                amsgrad=False, maximize=False,
            )
            return
        torch._foreach_lerp_(self._exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self._exp_avg_sq, beta2)
        torch._foreach_addcmul_(self._exp_avg_sq, grads, grads, 1 - beta2)
        bias1 = 1 - beta1**self._step
        bias2_sqrt = math.sqrt(1 - beta2**self._step)
        denom = torch._foreach_sqrt(self._exp_avg_sq)
        torch._foreach_div_(denom, bias2_sqrt)
        torch._foreach_add_(denom, self.eps)
        if self._lr_views is None:
            torch._foreach_addcdiv_(params, self._exp_avg, denom, -float(self.lr) / bias1)
        else:
            steps = torch._foreach_div(self._exp_avg, denom)
            torch._foreach_mul_(steps, self._lr_views)
            torch._foreach_add_(params, steps, alpha=-1 / bias1)


class StackedRMSPropTF1:
    """RMSProp as TensorFlow 1's ``tf.train.RMSPropOptimizer`` computes it, over stacked parameters.

    What the iNALU reference code trains with (``RMSPropOptimizer(learning_rate=0.01)``, all other
    arguments at their defaults). It differs from ``torch.optim.RMSprop`` in three ways that matter
    early in training: the mean square starts at **1** (TF1's ``rms`` slot uses a ones initialiser;
    torch starts at 0, so its first steps are ~1/sqrt(1-rho) times larger), the decay is 0.9 (torch:
    0.99), and ε = 1e-10 sits inside the square root. Per element, as TF's ``ApplyRMSProp`` kernel
    (momentum 0)::

        ms  += (g² − ms) · (1 − rho)
        var −= lr · g / sqrt(ms + ε)

    Two extensions the reference's training loop needs, both exact per run:

    * a parameter whose ``grad`` is None is skipped — its value and its ``ms`` stay as they are, like a
      TF variable outside the ``var_list`` of the op being run (the reference's alternating weight and
      gate updates share one optimiser and so one ``ms`` per variable);
    * ``step(runs=mask)`` updates only the runs where the bool mask ``[S]`` is True; the others keep
      their values and their ``ms`` (the reference's conditional extra penalty steps).
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        rho: float = 0.9,
        eps: float = 1e-10,
        initial_accumulator: float = 1.0,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0 <= rho < 1:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        self.lr, self.rho, self.eps = float(lr), float(rho), float(eps)
        self._params: list[Tensor] = list(params)
        self._ms = [torch.full_like(p, float(initial_accumulator)) for p in self._params]
        self.capturable = False

    @torch.no_grad()
    def step(self, runs: Tensor | None = None) -> None:
        """One update of every parameter that has a gradient; ``runs``: bool ``[S]``, the runs to
        update (None: all)."""
        for p, ms in zip(self._params, self._ms):
            g = p.grad
            if g is None:
                continue
            new_ms = ms + (g * g - ms) * (1 - self.rho)
            new_p = p - (g * self.lr) / (new_ms + self.eps).sqrt()
            if runs is None:
                ms.copy_(new_ms)
                p.copy_(new_p)
            else:
                mask = runs.view(-1, *([1] * (p.dim() - 1)))
                ms.copy_(torch.where(mask, new_ms, ms))
                p.copy_(torch.where(mask, new_p, p))
