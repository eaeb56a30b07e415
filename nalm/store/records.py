"""What the store keeps and how: config identity (canonical JSON, hash), stored records, and the
encoding of metrics, curves and parameters (NULL for NaN; zlib-compressed little-endian arrays;
compressed ``.npz`` archives)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nalm.errors import ConfigError
from nalm.results import RunResult


class StoreError(ConfigError):
    """The database cannot be used: missing, not a nalm store, newer schema, or a bad write request."""


def canonical_config_json(config: Mapping[str, Any]) -> str:
    """The config as canonical JSON (sorted keys, no whitespace): the text that is hashed and stored."""
    if not isinstance(config, Mapping):
        raise StoreError(f"a cell config must be a mapping, got {type(config).__name__}")
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cell config is not plain JSON data: {exc}") from None


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of :func:`canonical_config_json`; equal configs hash equal whatever their key order."""
    return hashlib.sha256(canonical_config_json(config).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredRun:
    """A run as stored: the trainer's :class:`RunResult` (its curve not loaded) plus bookkeeping."""

    id: int
    suite: str
    cell: str
    config: Mapping[str, Any]
    config_hash: str
    result: RunResult
    threshold_policy: str
    wall_time_s: float | None
    seed_iterations_per_second: float | None
    library_version: str
    created_at: str


@dataclass(frozen=True)
class CellRecord:
    """One (suite, cell, config) the store has runs for, in the order cells were first written."""

    suite: str
    cell: str
    config_hash: str
    config: Mapping[str, Any]
    created_at: str


def _metric_in(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _metric_out(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _pack(values: Sequence[float] | Sequence[int], dtype: str) -> bytes:
    return zlib.compress(np.asarray(values, dtype=dtype).tobytes(), 1)


def _unpack(blob: bytes, dtype: str, n: int) -> np.ndarray:
    arr = np.frombuffer(zlib.decompress(blob), dtype=dtype)
    if arr.size != n:
        raise StoreError(f"curve blob holds {arr.size} values, expected {n}")
    return arr


def _pack_arrays(arrays: Mapping[str, Any]) -> bytes:
    """Named arrays as a compressed ``.npz`` archive (names kept, dtypes and shapes exact)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: np.asarray(value) for name, value in arrays.items()})
    return buffer.getvalue()


def _unpack_arrays(blob: bytes) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise StoreError(f"stored parameters cannot be read: {exc}") from None
