"""The large-scale arithmetic task of the Neural Power Units paper, on Sobol points.

N. Heim, T. Pevný, V. Šmídl, "Neural Power Units", NeurIPS 2020 (arXiv:2006.01681), main-text table
"Testing errors of the large scale arithmetic task"; code ``nmheim/NeuralPowerUnits``
(``src/arithmetic_dataset.jl``, ``scripts/arithmetic/*_l1_runs.jl``, ``sobolconfigs.jl``,
``revalidate.jl``). Protocol notes: ``shared/reference/protocols.md`` §5.2.

One network maps 100 inputs to one output. With ``a = Σ x[0:50]`` and ``b = Σ x[38:88]`` (0-based,
end exclusive: the subset is round(100·0.5) = 50 inputs, the overlap round(50·0.25) = round(12.5) =
12 — Julia and Python both round half to even), the four targets are

* ``add``: a + b;   ``mul``: a·b;   ``div``: 1/a (the reciprocal, **not** a/b);   ``root``: √a.

The operation names are those of the published table (``div``, ``root``), so cells find their
published numbers.

**Data.** Nothing is random: every run of a cell sees the same inputs, and runs differ only in their
initial weights (the run seed). The inputs are the points of the 100-dimensional Sobol sequence,
unscrambled (:class:`scipy.stats.qmc.Sobol` with ``scramble=False``), in order:

* Training: the reference draws batch after batch from one ``SobolSeq(100)`` (Sobol.jl), whose first
  ``next!`` already returns the point *after* the all-zero one. So step ``t`` with batch ``B`` uses
  points ``1 + B·t … B·(t+1)`` of scipy's sequence (point 0 is the zero point), scaled to the
  training range as ``lo + u·(hi − lo)`` in float64, then rounded to the run's dtype (the reference
  computes ``Float32.(u .* (hi-lo) .+ lo)``). Training ranges (``sobolconfigs.jl``): add, mul
  [−1, 1]; div [0, 0.5]; root [0, 2].
* Extrapolation (the paper's test error, ``revalidate.jl``): a fresh sequence with one ``next!``
  discarded ("discard first zero sample" — with Sobol.jl that discards the point 0.5, …, 0.5), then
  10,000 points: scipy points ``2 … 10001``, mapped **mirrored** as the script maps them,
  ``hi + u·(lo − hi)``, on [2·lo, 2·hi] (add, mul: [−2, 2]; root: [0, 4]) and on [−0.5, 0] for div
  (negative: the reciprocal is tested on the other side of its pole).
* Interpolation (nalm's, for the learning curves only; runs are scored at their final step): the
  first 1,000 training points (scipy points ``1 … 1000``) in the training range.

Where nalm cannot be the reference bit for bit: scipy's direction numbers are Joe & Kuo's
(``new-joe-kuo-6.21201``), Sobol.jl's come from NLopt's table; the first dimensions agree, and
whether all 100 do was not checked (no Julia here). The points are a deterministic low-discrepancy
design in both, so runs are the reference's in distribution of inputs, not necessarily bit for bit.
Targets are computed in float64 from the rounded inputs, then rounded (the reference sums in
float32).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError

from ._base import Split

#: The operations, in the published table's names.
LARGE_OPS: tuple[str, ...] = ("add", "mul", "div", "root")
#: Training ranges of ``sobolconfigs.jl``.
TRAIN_RANGES: dict[str, tuple[float, float]] = {
    "add": (-1.0, 1.0), "mul": (-1.0, 1.0), "div": (0.0, 0.5), "root": (0.0, 2.0),
}
#: Test ranges of ``revalidate.jl``: [2·lo, 2·hi], except div: [−0.5, 0].
TEST_RANGES: dict[str, tuple[float, float]] = {
    "add": (-2.0, 2.0), "mul": (-2.0, 2.0), "div": (-0.5, 0.0), "root": (0.0, 4.0),
}
TEST_POINTS = 10_000
INTERPOLATION_POINTS = 1_000
#: Points of scipy's sequence in chunks: one chunk serves this many training steps.
_CHUNK_STEPS = 64


def subset_slices(input_size: int = 100, subset: float = 0.5, overlap: float = 0.25) -> tuple[slice, slice]:
    """0-based slices of a and b, as ``ranges(xlen, subset, overlap)`` of the reference builds them
    (Julia's ``round`` rounds half to even, as Python's does)."""
    length = round(input_size * subset)
    ovl = round(length * overlap)
    return slice(0, length), slice(length - ovl, 2 * length - ovl)


def sobol_points(start: int, count: int, dim: int) -> np.ndarray:
    """Points ``start … start + count − 1`` (float64 ``[count, dim]`` in [0, 1)) of the unscrambled
    ``dim``-dimensional Sobol sequence; point 0 is the all-zero point."""
    from scipy.stats import qmc

    engine = qmc.Sobol(dim, scramble=False)
    if start:
        engine.fast_forward(start)
    with warnings.catch_warnings():
        # "balance properties require n to be a power of 2": a sequence read in order needs none
        warnings.simplefilter("ignore", UserWarning)
        return engine.random(count)


def targets(x: np.ndarray, op: str, input_size: int = 100) -> np.ndarray:
    """float64 targets ``[..., 1]`` of inputs ``[..., input_size]``."""
    ia, ib = subset_slices(input_size)
    x = np.asarray(x, dtype=np.float64)
    a = x[..., ia].sum(axis=-1)
    b = x[..., ib].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if op == "add":
            y = a + b
        elif op == "mul":
            y = a * b
        elif op == "div":
            y = 1.0 / a
        elif op == "root":
            y = np.sqrt(a)
        else:
            raise ConfigError(f"op: expected one of {', '.join(LARGE_OPS)}, got {op!r}")
    return y[..., None]


@dataclass(frozen=True)
class NPULargeTask:
    """Heim et al.'s large-scale task (100 Sobol inputs → a+b, a·b, 1/a or √a); see the module
    docstring. ``interpolation`` / ``extrapolation`` are (lo, hi); defaults are the protocol's."""

    op: str
    input_size: int = 100
    interpolation: tuple[float, float] | None = None
    extrapolation: tuple[float, float] | None = None
    test_points: int = TEST_POINTS

    name: ClassVar[str] = "npu_large"
    default_threshold_policy: ClassVar[str] = "fixed_1e-5"
    out_features: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if self.op not in LARGE_OPS:
            raise ConfigError(f"op: expected one of {', '.join(LARGE_OPS)}, got {self.op!r}")
        n = self.input_size
        if isinstance(n, bool) or not isinstance(n, int) or n < 4:
            raise ConfigError(f"input_size: must be an integer >= 4, got {n!r}")
        for field, default in (("interpolation", TRAIN_RANGES), ("extrapolation", TEST_RANGES)):
            value = getattr(self, field)
            value = default[self.op] if value is None else value
            if (not isinstance(value, (tuple, list)) or len(value) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                               for v in value)
                    or not value[0] < value[1]):
                raise ConfigError(f"{field}: expected (lo, hi) with lo < hi, got {value!r}")
            object.__setattr__(self, field, (float(value[0]), float(value[1])))
        m = self.test_points
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ConfigError(f"test_points: must be a positive integer, got {m!r}")

    @property
    def in_features(self) -> int:
        return self.input_size

    def check_dtype(self, dtype: torch.dtype | str) -> None:
        """Inputs and targets must be finite in the run's dtype (float32 holds every protocol range)."""
        dt = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        largest = torch.finfo(dt).max
        for lo, hi in (self.interpolation, self.extrapolation):  # type: ignore[misc]
            bound = max(abs(lo), abs(hi)) * self.input_size
            if bound * bound > largest:
                raise ConfigError(f"ranges: targets up to {bound * bound:.3g} overflow {dt}")

    # ------------------------------------------------------------------ evaluation sets
    def evaluation_inputs(self, split: Split) -> np.ndarray:
        """Fixed float64 inputs ``[N, input_size]`` of a split (the same for every run)."""
        return _evaluation_inputs(self, split)

    def evaluation_set(
        self,
        split: Split,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        x = self.evaluation_inputs(split)
        xt = torch.as_tensor(np.array(x), dtype=dtype, device=device)
        # targets of the inputs as the run sees them (rounded to its dtype)
        y = targets(xt.to(torch.float64).cpu().numpy(), self.op, self.input_size)
        yt = torch.as_tensor(y, dtype=dtype, device=device).unsqueeze(0)
        return xt.unsqueeze(0), yt.expand(len(seeds), *yt.shape[1:])

    # ------------------------------------------------------------------ training stream
    def train_inputs(self, step: int, batch_size: int) -> np.ndarray:
        """float64 inputs ``[B, input_size]`` of training step ``step`` (the same for every run)."""
        if step < 0 or batch_size < 1:
            raise ConfigError(f"step/batch_size: need step >= 0 and batch_size >= 1, got {step}, {batch_size}")
        chunk, offset = divmod(int(step), _CHUNK_STEPS)
        u = _train_chunk(self.input_size, int(batch_size), chunk)
        lo, hi = self.interpolation  # type: ignore[misc]
        return lo + u[offset * batch_size:(offset + 1) * batch_size] * (hi - lo)

    def train_batch(
        self,
        seeds: Sequence[int],
        step: int,
        batch_size: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Inputs ``[S, B, input_size]`` and targets ``[S, B, 1]``: one batch shared by every run
        (expanded views, no copies)."""
        x = torch.as_tensor(self.train_inputs(int(step), int(batch_size))).to(dtype)
        y = torch.as_tensor(targets(x.to(torch.float64).numpy(), self.op, self.input_size)).to(dtype)
        x, y = x.to(device), y.to(device)
        S = len(seeds)
        return x.unsqueeze(0).expand(S, *x.shape), y.unsqueeze(0).expand(S, *y.shape)


@functools.lru_cache(maxsize=4)
def _train_chunk(dim: int, batch_size: int, chunk: int) -> np.ndarray:
    """Unit-cube points of training steps ``chunk·64 … chunk·64 + 63`` (point 1 first)."""
    per_chunk = _CHUNK_STEPS * batch_size
    return sobol_points(1 + chunk * per_chunk, per_chunk, dim)


@functools.lru_cache(maxsize=16)
def _evaluation_inputs(task: NPULargeTask, split: str) -> np.ndarray:
    if split == "interpolation":
        lo, hi = task.interpolation  # type: ignore[misc]
        x = lo + sobol_points(1, INTERPOLATION_POINTS, task.input_size) * (hi - lo)
    elif split == "extrapolation":
        lo, hi = task.extrapolation  # type: ignore[misc]
        # revalidate.jl: x .* (xs - xe) .+ xe with (xs, xe) = (lo, hi): mirrored
        x = hi + sobol_points(2, task.test_points, task.input_size) * (lo - hi)
    else:
        raise ConfigError(f"split: expected 'interpolation' or 'extrapolation', got {split!r}")
    x.setflags(write=False)
    return x


__all__ = [
    "LARGE_OPS",
    "TEST_RANGES",
    "TRAIN_RANGES",
    "NPULargeTask",
    "sobol_points",
    "subset_slices",
    "targets",
]
