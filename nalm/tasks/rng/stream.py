"""The stream's front end: :func:`fill_uniform` (one call) and :class:`UniformStream` (prepared for
fixed runs), on the backend :func:`~nalm.tasks.rng.backend.resolve_backend` picks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .backend import resolve_backend
from .fill_numba import _kernel_ranges, fill_uniform_numba
from .fill_torch import _TORCH_DTYPES, fill_uniform_torch, range_tensors
from .hashing import MAX_HASHES_PER_STEP, STREAM_TRAIN, Precision, keys_to_torch, run_keys, step_bases_torch


#: While torch stands in for a numba kernel that compiles in the background, a small batch is drawn
#: for several consecutive steps at once, up to this many values and :data:`BRIDGE_MAX_STEPS` steps:
#: torch's fill is some fifty small operations, whose per-call cost, not the values, dominates small
#: batches (one core, loaded 2-core VM, per step: S = 10 runs × 128 × 2 inputs ~155 µs alone, ~68 µs in a
#: block of 6 steps, numba ~24 µs; S = 1, ~134 µs against ~13 µs in a block of 32).
BRIDGE_BLOCK_VALUES = 1 << 14
BRIDGE_MAX_STEPS = 32


def stream_precision(dtype: torch.dtype) -> Precision:
    """Which stream serves ``dtype``: float64 runs get the 53-bit stream, all others the float32 one."""
    return "float64" if dtype == torch.float64 else "float32"



def _torch_can_serve(sub_start: np.ndarray, sub_end: np.ndarray) -> bool:
    """Whether the torch backend takes these subsets (it needs each subset to have one size across
    runs; the numba kernels do not)."""
    size = sub_end - sub_start
    return bool((size == size[:1]).all())


def _check_shapes(
    rows: int, n: int, lo: Any, width: Any, S: int, sub_start: Any, sub_end: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    lo = np.atleast_1d(np.asarray(lo, dtype=np.float64))
    width = np.atleast_1d(np.asarray(width, dtype=np.float64))
    if lo.ndim == 2:  # one range per run
        if lo.shape != width.shape or lo.shape != (S, 1):
            raise ValueError(f"per-run ranges: lo and width must both be [S, 1] = [{S}, 1]")
    elif lo.shape != width.shape or lo.shape[0] not in (1, 2):
        raise ValueError("lo and width must both hold one range or the two ranges of a union")
    if rows < 0 or n < 1:
        raise ValueError(f"need rows >= 0 and n >= 1, got {rows} and {n}")
    if rows * n >= MAX_HASHES_PER_STEP:
        raise ValueError(f"too many values per run and step: {rows * n}")
    sub_start = np.asarray(sub_start, dtype=np.int64).reshape(S, -1)
    sub_end = np.asarray(sub_end, dtype=np.int64).reshape(S, -1)
    if sub_start.shape != sub_end.shape:
        raise ValueError("sub_start and sub_end must have the same shape")
    if sub_start.size and (sub_start.min() < 0 or sub_end.max() > n or (sub_end < sub_start).any()):
        raise ValueError("subset ranges must lie within [0, n)")
    return lo, width, sub_start, sub_end


def fill_uniform(
    keys: np.ndarray,
    step: int,
    rows: int,
    n: int,
    lo: Any,
    width: Any,
    sub_start: Any,
    sub_end: Any,
    *,
    precision: Precision = "float32",
    device: torch.device | str | None = None,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Inputs ``[S, rows, n]`` of every run at ``step`` and their float64 subset sums ``[S, rows, K]``.

    ``keys``: uint64 run keys from :func:`run_keys`. ``lo``/``width``: one range, or the two ranges of
    a union (chosen per element by a fair coin), or ``[S, 1]``: one range per run.
    ``sub_start``/``sub_end`` ``[S, K]``: half-open column ranges whose float64 sums are returned
    (summation order: ``docs/reproducibility.md``, "The data stream, precisely").
    ``precision``: ``"float32"`` or ``"float64"`` stream. ``backend``: ``"auto"`` (numba on the CPU
    when available, else torch), ``"numba"`` or ``"torch"``; both give identical bits. ``"auto"`` also
    draws with torch while the numba kernel compiles in the background (first use after an install).
    """
    dev = torch.device("cpu" if device is None else device)
    keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
    lo, width, sub_start, sub_end = _check_shapes(rows, n, lo, width, len(keys), sub_start, sub_end)
    if resolve_backend(backend, dev) == "numba":
        wait = backend == "numba" or not _torch_can_serve(sub_start, sub_end)
        result = fill_uniform_numba(keys, step, rows, n, lo, width, sub_start, sub_end, precision=precision, wait=wait)
        if result is not None:
            return result
    bases_t = step_bases_torch(keys_to_torch(keys, dev), step)
    return fill_uniform_torch(bases_t, rows, n, lo, width, sub_start, sub_end, precision=precision)


class UniformStream:
    """A prepared stream for fixed runs, range and subsets: ``stream(step, rows) -> (x, sums)``.

    Keys, subset arrays and (for the torch backend) device tensors are built once, so a per-step call
    does only the generation. This is what :class:`nalm.tasks.streams.TrainStream` draws from.

    With ``backend="auto"`` and the numba kernel not in numba's cache yet (the first run after an
    install), calls draw with torch, the same bits, until a background process has compiled it
    (:func:`~nalm.tasks.rng.backend.kernel_ready`); :attr:`backend` says ``"numba"`` all along.

    ``reuse_output=True`` (numba backend): every call fills the *same* output tensors, so a returned
    batch is overwritten by the next call. It avoids allocating (and, for batches above glibc's mmap
    threshold, page-faulting) tens of MB per step: at S = 1000 runs × 128 × 100 inputs the fill takes
    about 18 ms with reuse against 45–60 ms with a fresh 51 MB tensor on the 2-core VM.
    """

    def __init__(
        self,
        seeds: Any,
        n: int,
        lo: Any,
        width: Any,
        sub_start: Any,
        sub_end: Any,
        *,
        precision: Precision = "float32",
        device: torch.device | str | None = None,
        backend: str = "auto",
        stream: int = STREAM_TRAIN,
        reuse_output: bool = False,
    ) -> None:
        self.device = torch.device("cpu" if device is None else device)
        self.keys = run_keys(seeds, stream)
        self.n = int(n)
        self.precision = precision
        if precision not in ("float32", "float64"):
            raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
        self.lo, self.width, self.sub_start, self.sub_end = _check_shapes(
            1, self.n, lo, width, len(self.keys), sub_start, sub_end
        )
        self.use_numba = resolve_backend(backend, self.device) == "numba"
        # Whether a call may draw with torch while the numba kernel compiles elsewhere.
        self._bridge = self.use_numba and backend == "auto" and _torch_can_serve(self.sub_start, self.sub_end)
        self._torch_parts: tuple | None = None if self.use_numba else self._prepare_torch()
        # The numba kernels' [R, K] ranges in the stream's precision, made once.
        np_dtype = np.float32 if precision == "float32" else np.float64
        self.lo_np, self.width_np = _kernel_ranges(self.lo, np_dtype), _kernel_ranges(self.width, np_dtype)
        self.reuse_output = bool(reuse_output)
        self._out: tuple[Tensor, Tensor] | None = None
        # (first step, rows, x [k, S, rows, n], sums [k, S, rows, K]): steps drawn ahead by torch.
        self._block: tuple[int, int, Tensor, Tensor] | None = None

    def _prepare_torch(self) -> tuple:
        """Keys, ranges and subset starts as device tensors, for the torch backend (made once)."""
        return (
            keys_to_torch(self.keys, self.device),
            range_tensors(self.lo, self.width, _TORCH_DTYPES[self.precision], self.device),
            [torch.as_tensor(c, device=self.device) for c in self.sub_start.T.copy()],
        )

    @property
    def backend(self) -> str:
        return "numba" if self.use_numba else "torch"

    def __call__(self, step: int | Tensor, rows: int) -> tuple[Tensor, Tensor]:
        """The batch at ``step``: an int, or (torch backend) a 0-d int64 tensor on the stream's device,
        which draws without reading the step on the host (see :func:`step_bases_torch`)."""
        if rows < 0 or rows * self.n >= MAX_HASHES_PER_STEP:
            raise ValueError(f"rows out of range: {rows}")
        if isinstance(step, Tensor) and self.use_numba:
            raise ValueError("a tensor step needs the torch backend (the numba kernels take an int)")
        if self.use_numba:
            result = fill_uniform_numba(
                self.keys, step, rows, self.n, self.lo_np, self.width_np, self.sub_start, self.sub_end,
                precision=self.precision, out=self._out, wait=not self._bridge,
            )
            if result is not None:
                if self.reuse_output:
                    self._out = result
                return result
        if self._torch_parts is None:
            self._torch_parts = self._prepare_torch()
        if self.use_numba and not isinstance(step, Tensor):
            return self._stand_in(step, rows)
        keys_t, ranges_t, starts_t = self._torch_parts
        return fill_uniform_torch(
            step_bases_torch(keys_t, step), rows, self.n, self.lo, self.width,
            self.sub_start, self.sub_end, precision=self.precision, starts_dev=starts_t,
            ranges_dev=ranges_t,
        )

    def _stand_in(self, step: int, rows: int) -> tuple[Tensor, Tensor]:
        """The batch at ``step`` from torch while the numba kernel compiles: small batches come
        from a block of consecutive steps drawn in one torch call (the same bits: each value depends
        on its run, step and position only), copied out so a caller may keep or modify them."""
        step = int(step)
        block = self._block
        if block is not None and block[1] == rows and 0 <= step - block[0] < block[2].shape[0]:
            i = step - block[0]
            return block[2][i].clone(), block[3][i].clone()
        S = len(self.keys)
        k = max(1, min(BRIDGE_MAX_STEPS, BRIDGE_BLOCK_VALUES // max(1, S * rows * self.n)))
        assert self._torch_parts is not None
        keys_t, ranges_t, starts_t = self._torch_parts
        if k == 1:
            return fill_uniform_torch(
                step_bases_torch(keys_t, step), rows, self.n, self.lo, self.width,
                self.sub_start, self.sub_end, precision=self.precision, starts_dev=starts_t,
                ranges_dev=ranges_t,
            )
        # k steps × S runs as k·S runs: bases [k, S] of run s at step t, flattened step-major.
        steps = torch.arange(step, step + k, dtype=torch.int64, device=self.device).view(k, 1)
        bases = step_bases_torch(keys_t.view(1, S), steps).reshape(-1)
        lo, width = self.lo, self.width
        ranges_k = ranges_t
        if lo.ndim == 2:  # one range per run
            lo, width = np.tile(lo, (k, 1)), np.tile(width, (k, 1))
            ranges_k = None
        x, sums = fill_uniform_torch(
            bases, rows, self.n, lo, width, np.tile(self.sub_start, (k, 1)),
            np.tile(self.sub_end, (k, 1)), precision=self.precision, ranges_dev=ranges_k,
        )
        x, sums = x.view(k, S, rows, self.n), sums.view(k, S, rows, -1)
        self._block = (step, rows, x, sums)
        return x[0].clone(), sums[0].clone()
