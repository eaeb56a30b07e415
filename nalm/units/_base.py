"""The training contract every nalm unit follows.

A unit is a plain ``torch.nn.Module``. Training code (nalm's trainer or your own loop) needs three
things from it, and gets them only through this contract:

``regularizers() -> dict[str, Tensor]``
    Named penalty terms, *unscaled*. The loop multiplies each by a schedule it owns (for example
    ``λ̂ · S_lin(t)`` for ``"sparsity"``) and adds it to the loss. Terms with the same name are summed
    over the layers of a network before scaling, which is how the reference experiments share one λ
    across layers. Names in use: ``"sparsity"`` (NAU/NMU-style), ``"l1"`` (NPU's β‖θ‖₁),
    ``"inalu"`` (iNALU's saturation penalty), ``"npu_weight"``/``"npu_gate"`` (modified RealNPU),
    ``"oob"`` (the out-of-bounds penalty of the "regularized" oob mode, instead of a projection).

``project_() -> None``
    The post-step projection, called by the loop right after ``optimizer.step()`` (e.g. NMU clamps
    ``W`` to [0, 1] in place). A no-op for units that have none.

``train()`` / ``eval()``
    Units whose behaviour differs in training (sNMU noise, NMRU's ε, NRU's surrogate) read
    ``self.training`` like any PyTorch module.

Two more methods serve metrics, not training: ``effective_weights()`` returns the weights the unit
actually applies (after tanh·σ, clamps, ...), each a matrix ``[.., out, in]``, used for the sparsity
error, and ``extra_repr()``.

Stacked runs
------------
Every parameter may carry extra *leading* dimensions (a run axis): a parameter declared ``[O, I]``
may be stored ``[S, O, I]``. Forward passes then take inputs ``[S, B, I]`` and return ``[S, B, O]``;
regularizers reduce over a parameter's own dimensions only and return a tensor of shape ``[S]``
(a 0-d tensor for an ordinary unit). This is what lets the trainer run S independent seeds as one
program without ``vmap``; units get it by writing shape-generic code (``linear(x, W)`` for ``x Wᵀ``,
reductions over
negative dims).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


class ArithmeticUnit(nn.Module):
    """Base class for nalm units: holds sizes, the factory kwargs and the default (empty) contract."""

    in_features: int
    out_features: int
    #: Names of the unit's own parameters that gate between its paths (NALU's ``G``, iNALU's ``g``);
    #: a recipe that updates "weights" and "gate" in turn (``TrainRecipe.update_cycle``) reads them.
    gate_parameters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"in_features and out_features must be positive, got {in_features} and {out_features}"
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)

    def reset_parameters(self) -> None:  # pragma: no cover - every unit overrides
        raise NotImplementedError

    def regularizers(self) -> dict[str, Tensor]:
        """Unscaled penalty terms by name; empty when the unit has none."""
        return {}

    @torch.no_grad()
    def project_(self) -> None:
        """Post-step projection of the raw parameters, in place; none by default."""

    def effective_weights(self) -> dict[str, Tensor]:
        """The weight matrices the unit applies, as used for the sparsity error."""
        return {}

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def factory_kwargs(device: Any, dtype: Any) -> dict[str, Any]:
    return {"device": device, "dtype": dtype}


#: On the CPU, make a run's values independent of the other runs of its stack (S, its position,
#: their values), bit for bit: :func:`sigmoid` computes run by run, :func:`linear` broadcasts a shared
#: input instead of one ``[B, I] @ [I, S·O]`` product, and the trainer's Adam uses its
#: ``batch_invariant`` arithmetic (:mod:`nalm.training.optim`). Off by default: it changes the values
#: of CPU runs in their last bits (those of runs trained alone too, through Adam) and costs 4–30 % per
#: step (benchmarks/bench_batch_invariance.py); tests/training/test_batch_invariance.py checks it.
#: Read when a unit computes and when the trainer builds its update; set for a whole process with
#: ``NALM_BATCH_INVARIANT=1`` (docs/reproducibility.md).
CPU_BATCH_INVARIANT = os.environ.get("NALM_BATCH_INVARIANT", "").strip().lower() in ("1", "true", "yes")


def sparsity_distance(w: Tensor) -> Tensor:
    """Elementwise distance of a weight to the nearest of {-1, 0, 1}: ``min(|w|, |1 - |w||)``."""
    a = w.abs()
    return torch.minimum(a, (1 - a).abs())


def mean_over_last(t: Tensor, ndim: int) -> Tensor:
    """Mean over a parameter's own ``ndim`` trailing dimensions, keeping any leading run axes."""
    return t.mean(dim=tuple(range(-ndim, 0)))


def linear(x: Tensor, W: Tensor) -> Tensor:
    """``x Wᵀ`` for ``x [.., B, I]`` and ``W [.., O, I]``, broadcasting leading (run) dimensions.

    When every run shares one input (``x [1, B, I]`` or ``[B, I]``, as evaluation sets are) and W is
    stacked ``[S, O, I]``, this is one ``[B, I] @ [I, S·O]`` product instead of broadcasting x to
    ``[S, B, I]`` first — S times less memory traffic for a first layer. Measured by
    ``benchmarks/bench_trainer.py``. On the CPU that product's columns round differently from each
    run's own ``W xᵀ`` (another BLAS kernel), so a run evaluated in a batch is not, in its last bits,
    the run evaluated alone; with :data:`CPU_BATCH_INVARIANT` the CPU broadcasts instead (the same
    bits as one run).
    """
    if (
        W.dim() > 2 and W.shape[:-2].numel() > 1 and all(d == 1 for d in x.shape[:-2])
        and not (CPU_BATCH_INVARIANT and W.device.type == "cpu")
    ):
        rows, features = x.shape[-2:]
        out = x.reshape(rows, features) @ W.reshape(-1, features).T  # [B, S·O]
        return out.reshape(rows, *W.shape[:-1]).movedim(0, -2)
    # (W xᵀ)ᵀ rather than x Wᵀ: with few outputs, BLAS is ~3x faster (forward and the weight
    # gradient) when the long dimension B is the product's last one.
    return (W @ x.mT).mT


def _rowwise(op: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``op(x)`` for an elementwise ``op`` over ``x [S, ...]``, computed run by run: each run's block
    is one row of the kernel's loop, so its SIMD body and scalar tail are those of the run alone.

    The rows are read from a copy with one spare element per row, so the kernel cannot merge them
    into one loop over the whole batch; the copy and the slice are autograd's own ops (cheaper than
    a Python ``autograd.Function``), and the gradient is ``op``'s.
    """
    runs = x.shape[0]
    if x.is_contiguous():  # (parameters: the common case, kept cheap; these tensors are tiny)
        return op(torch.constant_pad_nd(x.view(runs, -1), (0, 1))[:, :-1]).view(x.shape)
    # The run's own dims in memory order (as the kernel walks them alone), then one row per run.
    own = sorted(range(1, x.dim()), key=lambda d: -x.stride(d))
    xp = x.permute(0, *own)
    rows = torch.constant_pad_nd(xp.reshape(runs, -1), (0, 1))[:, :-1]
    inverse = [0] * x.dim()
    for position, d in enumerate([0, *own]):
        inverse[d] = position
    return op(rows).view(xp.shape).permute(*inverse)


def sigmoid(x: Tensor, dims: int = 2) -> Tensor:
    """``torch.sigmoid`` whose value for one run does not depend on the other runs of a stack.

    ``dims``: how many trailing dimensions are the tensor's own (2 for a weight ``[O, I]`` or an
    output ``[B, O]``, 1 for a vector); any before them are run axes. On the CPU, torch's sigmoid
    computes a contiguous tensor in SIMD blocks and its last few elements with scalar code, and the
    two round differently; over stacked runs ``[S, ...]`` which of a run's values fall in the scalar
    tail depends on S and on the run's position. Here each run's block is its own row of the loop
    (:func:`_rowwise`), so every run gets the values and gradient it gets alone (one run: the plain
    call). Only with :data:`CPU_BATCH_INVARIANT`: otherwise, on a GPU and under ``torch.compile``, the
    plain call. Costs ~20 µs per call more than the plain call on the CPU (Python and a copy; these
    tensors are tiny).
    """
    lead = x.shape[: x.dim() - dims]
    if not CPU_BATCH_INVARIANT or lead.numel() <= 1 or x.device.type != "cpu" or is_compiling():
        return torch.sigmoid(x)
    own = x.shape[x.dim() - dims :]
    return _rowwise(torch.sigmoid, x.reshape(-1, *own)).reshape(*lead, *own)


def is_compiling() -> bool:
    """Whether the caller is being traced by ``torch.compile`` (units pick fusable formulations)."""
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling())
