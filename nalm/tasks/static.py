"""The static arithmetic task of Madsen & Johansen (2020), as their code generates it.

A. Madsen, A. R. Johansen, "Neural Arithmetic Units", ICLR 2020, arXiv:2001.05016 — the "arithmetic
task" (Algorithm 1 of their appendix, a replication of the static "simple function task" of Trask et
al. 2018, Table 1). Their Python generator (``stable_nalu/dataset``) is normative; the paper's
pseudo-code differs from it (continuous offset, overlap as a fraction of the input) and is not used.

Task: an input vector ``x`` of ``input_size`` numbers; ``a`` and ``b`` are sums over two contiguous,
possibly overlapping subsets of ``x`` placed at a seed-dependent offset; the target is ``op(a, b)``.

* **Subset geometry** (exact integer arithmetic of the reference)::

      subset_size  = floor(subset_ratio · input_size)
      overlap_size = floor(overlap_ratio · subset_size)
      subset 0     = [0, subset_size); subset k+1 starts overlap_size before the end of subset k
      used         = end of the last subset            (must be ≤ input_size)
      offset       = RandomState(seed).randint(0, input_size − used + 1)   # the seed's first draw

  ``simple=True`` is the paper's 4-input introduction task: subsets fixed to ``[0, 4)`` and ``[0, 2)``.
* **Fixed evaluation sets**, identical to the reference bit for bit: ``eval_samples`` (10 000) rows,
  ``RandomState(43953907)`` over the interpolation range (validation, used for model selection) and
  ``RandomState(8689336)`` over the extrapolation range (test); float64 sampling, targets in float64
  with NumPy's own sums, then both cast. Inputs do not depend on the run seed; targets do (through the
  subset placement). Unions of two ranges are drawn as the reference does: a full array from range 0,
  a full array from range 1, then a 0/1 coin array; coin 1 takes range 0.
* **Training stream**: a fresh batch every step from nalm's counter-based generator
  (:mod:`nalm.tasks.rng`, drawn by :mod:`nalm.tasks.streams`) — the same distribution as the
  reference's ``RandomState`` fork, not the same numbers, and independent of which other runs share
  the batch. Targets: float64 subset sums of the returned inputs, the operation in float64 (the
  table in :mod:`nalm.tasks.ops`), then cast.

The Primer's single-module task (Mistry, Farrahi & Hare, "A Primer for Neural Arithmetic Logic
Modules", JMLR 2022) is this generator with 2 (or 10, 100) inputs and one-element subsets: see
:class:`SingleModuleTask` and :mod:`nalm.tasks.presets`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError
from nalm.resources import check_host_memory

from ._base import Split, check_seed
from .ops import BINARY_OPS, OPS, operation
from .ranges import (
    Interval,
    RangeSpec,
    check_loss_scale,
    check_representable,
    format_fraction,
    format_range,
    normalize_range,
    ranges_as_lists,
    sum_intervals,
    sum_magnitude,
)
from .streams import SharedDraw, TrainStream, _cached_stream

# Importable from here as before the split into ranges, static and streams (Interval above, too).
from .streams import GroupedTrainStream, torch_op, train_batches  # noqa: F401

#: ``RandomState`` seeds of the reference's fixed validation (interpolation) and test (extrapolation)
#: forks, "from random.org" per the stable-nalu experiment script.
EVAL_RNG_SEEDS: dict[str, int] = {"interpolation": 43953907, "extrapolation": 8689336}
SPLITS: tuple[str, ...] = ("interpolation", "extrapolation")


# --------------------------------------------------------------------------------------------------
# fixed evaluation sets (bit-exact with the reference)
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def reference_inputs(spec: RangeSpec, n: int, rows: int, rng_seed: int) -> np.ndarray:
    """float64 inputs ``[rows, n]`` drawn exactly as stable-nalu's dataset fork does (read-only)."""
    rng = np.random.RandomState(rng_seed)
    if len(spec) == 1:
        (lo, hi), = spec
        x = rng.uniform(low=lo, high=hi, size=(rows, n))
    else:
        part0 = rng.uniform(low=spec[0][0], high=spec[0][1], size=(rows, n))
        part1 = rng.uniform(low=spec[1][0], high=spec[1][1], size=(rows, n))
        choose = rng.randint(2, size=(rows, n))
        x = np.where(choose, part0, part1)
    x.setflags(write=False)
    return x


def reference_op(op: str, subset_sums: Sequence[np.ndarray]) -> np.ndarray:
    """The reference's float64 NumPy operation on the subset sums (``add``/``mul`` over all subsets,
    left to right): :data:`nalm.tasks.ops.OPERATIONS`' computation with numpy."""
    return operation(op).compute(subset_sums, np)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"split: expected 'interpolation' or 'extrapolation', got {split!r}")
    return split


# --------------------------------------------------------------------------------------------------
# the task
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaticArithmeticTask:
    """Madsen & Johansen's static arithmetic task (ICLR 2020, arXiv:2001.05016), code version.

    Fields are validated at construction; every invalid value raises :class:`ConfigError` naming the
    field. Ranges are stored normalised as tuples of ``(lo, hi)`` pairs (one, or two for a union).

    ``allow_zero_denominator``: ``div`` (``reciprocal``) is rejected when the denominator's (``a``'s)
    range contains or touches 0
    (the target is then unbounded); set this to build such a task anyway, e.g. the Primer's
    U[−2, 2] → ±U[2, 6] division cell.
    """

    op: str
    input_size: int = 100
    subset_ratio: float = 0.25
    overlap_ratio: float = 0.5
    num_subsets: int = 2
    interpolation_range: Any = (1.0, 2.0)
    extrapolation_range: Any = (2.0, 6.0)
    simple: bool = False
    eval_samples: int = 10_000
    allow_zero_denominator: bool = False

    name: ClassVar[str] = "static"
    device_steps: ClassVar[bool] = True  # train_batch takes a device step tensor (CUDA graphs)
    #: Threshold policy used when none is given (see :func:`nalm.metrics.success_threshold`).
    default_threshold_policy: ClassVar[str] = "madsen_r"

    # ---------------------------------------------------------------- validation
    def __post_init__(self) -> None:
        if not isinstance(self.op, str) or self.op not in OPS:
            raise ConfigError(f"op: unknown operation {self.op!r}; expected one of {', '.join(OPS)}")
        for name in ("input_size", "num_subsets", "eval_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        for name in ("subset_ratio", "overlap_ratio"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ConfigError(f"{name}: must be a number in [0, 1], got {v!r}")
            if not (0.0 <= float(v) <= 1.0):  # also rejects NaN
                raise ConfigError(f"{name}: must be in [0, 1], got {v!r}")
            object.__setattr__(self, name, float(v))
        for name in ("simple", "allow_zero_denominator"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ConfigError(f"{name}: must be True or False, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))
        if self.op in BINARY_OPS and self.num_subsets < 2:
            raise ConfigError(
                f"num_subsets: op {self.op!r} needs 2 subsets (a and b), got {self.num_subsets}"
            )
        if self.simple:
            if self.input_size != 4:
                raise ConfigError(
                    f"input_size: the simple variant has exactly 4 inputs, got {self.input_size}"
                )
            if self.num_subsets != 2:
                raise ConfigError(
                    f"num_subsets: the simple variant has exactly 2 subsets, got {self.num_subsets}"
                )
        else:
            if self.subset_size < 1:
                raise ConfigError(
                    f"subset_ratio: floor({self.subset_ratio:g} * {self.input_size}) = 0 inputs per "
                    "subset; every subset would be empty"
                )
            if self.used_size > self.input_size:
                raise ConfigError(
                    f"subset_ratio: {self.num_subsets} subsets of {self.subset_size} inputs "
                    f"overlapping by {self.overlap_size} span {self.used_size} inputs, more than "
                    f"input_size={self.input_size} (lower subset_ratio or num_subsets, or raise "
                    "overlap_ratio)"
                )
        for name in ("interpolation_range", "extrapolation_range"):
            object.__setattr__(self, name, normalize_range(getattr(self, name), name))
            self._check_domain(name)
        # the fixed evaluation sets and every target are computed in float64
        self.check_dtype("float64")

    def check_dtype(self, dtype: Any) -> None:
        """:class:`ConfigError` unless runs in ``dtype`` can hold this task: every range bound 0 or a
        normal finite number, and the squared error at the target's largest magnitude finite and
        normal (so the loss neither overflows at the first step nor scores every prediction 0)."""
        op = operation(self.op)
        sizes = [end - start for start, end in self.template]
        used = sizes if op.arity is None else sizes[: op.arity]
        for name in ("interpolation_range", "extrapolation_range"):
            spec: RangeSpec = getattr(self, name)
            check_representable(spec, name, dtype)
            bound = op.bound([sum_magnitude(spec, m) for m in used])
            check_loss_scale(bound, f"|target| of {self.op!r} over {format_range(spec)}", name, dtype)

    def _check_domain(self, name: str) -> None:
        spec: RangeSpec = getattr(self, name)
        sizes = [end - start for start, end in self.template]
        if self.op == "root":
            m = sizes[0]
            low = m * min(Fraction(lo) for lo, _ in spec)
            if low < 0:
                raise ConfigError(
                    f"{name}: op 'root' is undefined for negative a, but a (the sum of {m} inputs "
                    f"from {format_range(spec)}) reaches {format_fraction(low)}"
                )
        if self.op in ("div", "reciprocal") and not self.allow_zero_denominator:
            operand = "b" if self.op == "div" else "a"
            m = sizes[1] if self.op == "div" else sizes[0]
            for lo, hi in sum_intervals(spec, m):
                if lo <= 0 <= hi:
                    span = (
                        f"{operand} in [{format_fraction(lo)}, {format_fraction(hi)}]"
                        if len(spec) == 1
                        else f"{operand} can lie in [{format_fraction(lo)}, {format_fraction(hi)}]"
                    )
                    raise ConfigError(
                        f"{name}: op {self.op!r} divides by {operand}, the sum of {m} inputs from "
                        f"{format_range(spec)}, and {span} contains 0 (pass "
                        "allow_zero_denominator=True to accept an unbounded target)"
                    )

    # ---------------------------------------------------------------- geometry
    @property
    def subset_size(self) -> int:
        return 4 if self.simple else math.floor(self.subset_ratio * self.input_size)

    @property
    def overlap_size(self) -> int:
        return 2 if self.simple else math.floor(self.overlap_ratio * self.subset_size)

    @property
    def template(self) -> tuple[tuple[int, int], ...]:
        """Subset ranges before the offset (half-open, 0-based)."""
        if self.simple:
            return ((0, 4), (0, 2))
        ranges: list[tuple[int, int]] = []
        for k in range(self.num_subsets):
            start = 0 if k == 0 else ranges[-1][1] - self.overlap_size
            ranges.append((start, start + self.subset_size))
        return tuple(ranges)

    @property
    def used_size(self) -> int:
        """Number of inputs spanned by the subsets (the rest are distractors)."""
        return max(end for _, end in self.template)

    @property
    def in_features(self) -> int:
        return self.input_size

    @property
    def out_features(self) -> int:
        return 1

    def offset(self, seed: int) -> int:
        """Subset offset of run ``seed``: the first draw of ``RandomState(seed)`` (0 when simple)."""
        return _offset(self.input_size, self.used_size, self.simple, check_seed(seed))

    def subsets(self, seed: int) -> tuple[tuple[int, int], ...]:
        """Half-open input ranges of the subsets (``a`` first, then ``b``, ...) for run ``seed``."""
        k = self.offset(seed)
        return tuple((start + k, end + k) for start, end in self.template)

    def subset_indices(self, seed: int) -> list[list[int]]:
        """The input indices of each subset for run ``seed``."""
        return [list(range(start, end)) for start, end in self.subsets(seed)]

    def formula(self, seed: int | None = None) -> str:
        """Human-readable target, e.g. ``sum(x[44:69]) * sum(x[57:82])``."""
        ranges = self.subsets(seed) if seed is not None else self.template
        return operation(self.op).text([f"sum(x[{s}:{e}])" for s, e in ranges])

    def range_for(self, split: Split) -> RangeSpec:
        return self.interpolation_range if _check_split(split) == "interpolation" else (
            self.extrapolation_range
        )

    def to_dict(self) -> dict[str, Any]:
        return ranges_as_lists(self)

    # ---------------------------------------------------------------- training stream
    def train_stream(
        self,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        backend: str = "auto",
        reuse_output: bool = False,
    ) -> "TrainStream":
        """A prepared per-step batch source for these runs (what :meth:`train_batch` uses).

        ``reuse_output=True``: inputs are written into the same tensor every step (valid until the
        next call); saves a large allocation per step at big S on the CPU. Off in :meth:`train_batch`.
        """
        return TrainStream(
            self, seeds, device=device, dtype=dtype, backend=backend, reuse_output=reuse_output
        )

    def train_batch(
        self,
        seeds: Sequence[int],
        step: int | Tensor,
        batch_size: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Fresh inputs ``[S, B, I]`` and targets ``[S, B, 1]`` of every run at ``step``.

        Run ``s``'s batch depends only on the task, ``seeds[s]``, ``step`` (and the dtype's stream
        precision), never on the other seeds. Prepared streams are cached per (seeds, device, dtype).
        On a GPU ``step`` may be a 0-d int64 tensor on the device (the same batch, drawn without the
        host reading the step: what a captured CUDA graph needs).
        """
        dev = torch.device("cpu" if device is None else device)
        key = tuple(seeds)  # validated (integers in [0, 2**32)) when the stream is built
        stream = _cached_stream(_without_op(self), key, str(dev), dtype)
        x, sums = stream.draw(step, batch_size)
        return x, stream.targets(self.op, sums)

    def shared_draw(self) -> SharedDraw:
        """How :class:`~nalm.tasks.streams.GroupedTrainStream` may draw this task's batches with
        other tasks' (the hook it asks every task for).

        The inputs and subset sums do not depend on the operation, so the source is this task with
        ``op="add"``: tasks differing only in their operation share a draw. Tasks of one geometry
        (input size and subset sizes) and a single training range merge into one call.
        """
        merge_key = (
            (self.input_size, tuple(e - s for s, e in self.template))
            if len(self.interpolation_range) == 1
            else None
        )
        return SharedDraw(_without_op(self), self.op, merge_key)

    # ---------------------------------------------------------------- evaluation sets
    def evaluation_inputs(self, split: Split) -> np.ndarray:
        """The fixed float64 inputs ``[eval_samples, input_size]`` of a split (read-only, cached)."""
        split = _check_split(split)
        spec = self.range_for(split)
        # a union draws two full arrays and a coin array before choosing: four arrays' worth
        arrays = 1 if len(spec) == 1 else 4
        check_host_memory(
            arrays * self.eval_samples * self.input_size * 8,
            f"input_size: the {split} set ({self.eval_samples:,} rows × {self.input_size:,} inputs, "
            "float64)",
            "use fewer inputs (or fewer eval_samples)",
        )
        return reference_inputs(spec, self.input_size, self.eval_samples, EVAL_RNG_SEEDS[split])

    def evaluation_targets(self, split: Split, seed: int) -> np.ndarray:
        """float64 targets ``[eval_samples]`` of run ``seed`` on a split, computed as the reference."""
        return _reference_targets(self, _check_split(split), self.offset(seed))

    def evaluation_set(
        self,
        split: Split,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Fixed inputs ``[1, N, I]`` (shared by all runs) and targets ``[S, N, 1]``, cast from float64."""
        split = _check_split(split)
        x = torch.from_numpy(np.array(self.evaluation_inputs(split))).to(dtype=dtype)
        ys = [self.evaluation_targets(split, s) for s in seeds]
        y = torch.from_numpy(np.stack(ys) if ys else np.zeros((0, self.eval_samples)))
        return (
            x.unsqueeze(0).to(device),
            y.to(dtype=dtype).unsqueeze(-1).to(device),
        )


@functools.lru_cache(maxsize=4096)
def _offset(n: int, used: int, simple: bool, seed: int) -> int:
    if simple:
        return 0
    return int(np.random.RandomState(seed).randint(0, n - used + 1))


@functools.lru_cache(maxsize=512)
def _reference_targets(task: StaticArithmeticTask, split: str, offset: int) -> np.ndarray:
    x = task.evaluation_inputs(split)
    sums = [np.sum(x[..., s + offset : e + offset], axis=(1,)) for s, e in task.template]
    with np.errstate(divide="ignore", invalid="ignore"):
        y = reference_op(task.op, sums)
    y.setflags(write=False)
    return y


@functools.lru_cache(maxsize=64)
def _without_op(task: StaticArithmeticTask) -> StaticArithmeticTask:
    """The task with its operation set to ``add``: the training inputs and subset sums do not depend
    on the operation (only the targets do), so tasks that differ only in it share one stream.
    ``add`` is valid on every domain; evaluation settings stay (harmless to the key)."""
    return task if task.op == "add" else replace(task, op="add")


@dataclass(frozen=True)
class SingleModuleTask(StaticArithmeticTask):
    """The Primer's single-module task (Mistry, Farrahi & Hare, JMLR 2022).

    The static generator with one-element subsets and no overlap: by default 2 inputs, ``a = x[0]``,
    ``b = x[1]`` (the offset draw happens but is always 0), trained on U[1, 2] and tested on U[2, 6].
    The redundant variants use 10 inputs with subset ratio 0.1, or 100 inputs with 0.01 (operands two
    adjacent inputs at a seed-dependent offset, the rest distractors). Use
    :func:`nalm.tasks.presets.primer_task` for the nine published range pairs.
    """

    input_size: int = 2
    subset_ratio: float = 0.5
    overlap_ratio: float = 0.0
    name: ClassVar[str] = "single_module"
    default_threshold_policy: ClassVar[str] = "fixed_1e-5"


__all__ = [
    "EVAL_RNG_SEEDS",
    "OPS",
    "SingleModuleTask",
    "GroupedTrainStream",
    "StaticArithmeticTask",
    "TrainStream",
    "format_range",
    "normalize_range",
    "reference_inputs",
    "reference_op",
    "torch_op",
    "train_batches",
]
