"""The counter hash behind the training stream: run keys, per-step bases, SplitMix64.

Every number of the stream is a pure function of (run seed, step, position in the batch); the
definition is in ``docs/reproducibility.md`` ("The data stream, precisely"). Three implementations of
the SplitMix64 finaliser agree bit for bit: on Python ints (the reference), on numpy uint64 arrays
and on torch int64 bit patterns (two's-complement wrap-around is arithmetic mod 2**64; logical shifts
are arithmetic shifts with the copied sign bits cleared).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._constants import ZERO_SALT  # defined torch-free for the kernels; re-exported here

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB

#: Stream tags: the same seed gives unrelated numbers in different streams.
STREAM_TRAIN = 0x7472_6169_6E5F_0001
STREAM_THRESHOLD = 0x7468_7265_7368_0002

#: Hashes one (run, step) may use; keeps ``q + 1`` far below 2**64.
MAX_HASHES_PER_STEP = 1 << 40

Precision = str  # "float32" | "float64": the two streams (see stream_precision)


def _signed(v: int) -> int:
    """The int64 with the same 64 bits as the unsigned value ``v``."""
    v &= MASK64
    return v - (1 << 64) if v >= (1 << 63) else v


def _mix64_int(z: int) -> int:
    """SplitMix64 finaliser on one Python int (reference implementation, mod 2**64)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * MIX1) & MASK64
    z = ((z ^ (z >> 27)) * MIX2) & MASK64
    return z ^ (z >> 31)


def _mix64_np(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    return z ^ (z >> np.uint64(31))


def run_keys(seeds: Any, stream: int = STREAM_TRAIN) -> np.ndarray:
    """Per-run keys ``mix64(seed · γ + stream)``, uint64 ``[S]``. Seeds: integers in [0, 2**63)."""
    s = np.asarray(seeds)
    if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)):
        raise ValueError("seeds must be a 1-d sequence of integers")
    s = s.astype(np.int64)
    if s.size and s.min() < 0:
        raise ValueError(f"seeds must be non-negative, got {int(s.min())}")
    with np.errstate(over="ignore"):
        z = s.astype(np.uint64) * np.uint64(GAMMA) + np.uint64(stream & MASK64)
    return _mix64_np(z)


def _step_mix(step: int) -> int:
    if not isinstance(step, (int, np.integer)) or isinstance(step, bool) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    return _mix64_int(((int(step) + 1) * GAMMA) & MASK64)


def step_bases(keys: np.ndarray, step: int) -> np.ndarray:
    """Per-(run, step) bases ``mix64(key ⊕ mix64((step + 1) · γ))``, uint64 ``[S]``."""
    return _mix64_np(np.asarray(keys, dtype=np.uint64) ^ np.uint64(_step_mix(step)))


_S_GAMMA = _signed(GAMMA)
_S_MIX1 = _signed(MIX1)
_S_MIX2 = _signed(MIX2)


def _lsr(z: Tensor, k: int) -> Tensor:
    """Logical right shift of int64 bit patterns: arithmetic shift, then clear the copied sign bits."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def mix64_torch(z: Tensor) -> Tensor:
    """SplitMix64 finaliser on int64 tensors (two's-complement wrap-around = arithmetic mod 2**64)."""
    z = (z ^ _lsr(z, 30)) * _S_MIX1
    z = (z ^ _lsr(z, 27)) * _S_MIX2
    return z ^ _lsr(z, 31)


def keys_to_torch(keys: np.ndarray, device: torch.device | str | None = None) -> Tensor:
    """uint64 keys as int64 bit patterns on ``device``."""
    arr = np.ascontiguousarray(np.asarray(keys, dtype=np.uint64)).view(np.int64)
    return torch.from_numpy(arr.copy()).to(device or "cpu")


def step_bases_torch(keys: Tensor, step: int | Tensor) -> Tensor:
    """:func:`step_bases` on int64 key tensors (stays on the keys' device).

    ``step`` may also be a 0-d int64 tensor on the keys' device: the step's mix is then computed
    there too (same bits), so a captured CUDA graph can replay the draw for any step.
    """
    if isinstance(step, Tensor):
        return mix64_torch(keys ^ mix64_torch((step + 1) * _S_GAMMA))
    return mix64_torch(keys ^ _signed(_step_mix(step)))
