"""The stream on the CPU: numba kernels over every row of every run, on numba's threads.

The kernels (:mod:`nalm.tasks.rng._kernels`) compute each run's step base themselves; this module
prepares their arguments, reuses output buffers, and caps their threads. ``NALM_DATA_THREADS=k`` caps
them at ``k``, and calls under :data:`PARALLEL_MIN_VALUES` values use one thread: on a machine where
other processes hold cores, a two-thread fork/join can stall for a scheduler time slice.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .backend import _numba_module, kernel_ready
from .hashing import Precision, _step_mix


#: Below this many values per call the numba kernel runs on one thread: nearly as fast as two for
#: small batches, and immune to the fork/join stall when another process holds a core.
PARALLEL_MIN_VALUES = 1 << 17


def _kernel_threads(values: int) -> int | None:
    """Thread cap for one kernel call: 1 for small calls, ``NALM_DATA_THREADS`` if set, else None."""
    env = os.environ.get("NALM_DATA_THREADS")
    cap = int(env) if env else None
    if values < PARALLEL_MIN_VALUES:
        return 1
    return max(1, cap) if cap is not None else None


def _kernel_ranges(a: Any, np_dtype: Any) -> np.ndarray:
    """Range bounds as the kernels take them: ``[R, K]`` in the stream's precision (R = 1 or S)."""
    a = np.asarray(a, dtype=np_dtype)
    return np.ascontiguousarray(a if a.ndim == 2 else a.reshape(1, -1))


def fill_uniform_numba(
    keys: np.ndarray,
    step: int,
    rows: int,
    n: int,
    lo: np.ndarray,
    width: np.ndarray,
    sub_start: np.ndarray,
    sub_end: np.ndarray,
    *,
    precision: Precision,
    out: tuple[Tensor, Tensor] | None = None,
    wait: bool = True,
) -> tuple[Tensor, Tensor] | None:
    """Same contract as :func:`fill_uniform`, computed by the numba kernels on the CPU (the runs'
    step bases are computed in the kernel). ``lo``/``width``: ``[K]`` or per run ``[S, 1]``.

    ``out``: optional ``(x, sums)`` CPU tensors of the right shapes and dtypes to fill in place.
    A kernel missing from numba's cache compiles on this call; with ``wait=False`` the call returns
    None instead while the kernel is not ready (:func:`~nalm.tasks.rng.backend.kernel_ready`), and
    the caller draws with torch meanwhile. With ``wait=True`` it never returns None.
    """
    mod = _numba_module()
    if mod is None:
        raise RuntimeError("numba is not available")
    S = len(keys)
    if precision == "float32":
        dtype, np_dtype = torch.float32, np.float32
    elif precision == "float64":
        dtype, np_dtype = torch.float64, np.float64
    else:
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    threads = _kernel_threads(S * rows * n)
    x_shape, s_shape = (S, rows, n), (S, rows, sub_start.shape[1])
    if out is not None and tuple(out[0].shape) == x_shape and out[0].dtype == dtype and (
        tuple(out[1].shape) == s_shape
    ):
        x, sums = out
    else:
        x = torch.empty(x_shape, dtype=dtype)
        sums = torch.empty(s_shape, dtype=torch.float64)
    args = (
        np.ascontiguousarray(keys, dtype=np.uint64),
        np.uint64(_step_mix(step)),
        rows,
        n,
        _kernel_ranges(lo, np_dtype),
        _kernel_ranges(width, np_dtype),
        np.ascontiguousarray(sub_start, dtype=np.int64),
        np.ascontiguousarray(sub_end, dtype=np.int64),
        x.numpy(),
        sums.numpy(),
    )
    name = mod.kernel_name(precision, args[4])
    if not wait and not kernel_ready(name, args):
        return None
    kernel = mod.KERNELS[name]
    if threads is None:
        kernel(*args)
        return x, sums
    import numba  # loaded already (by the kernels); not at the top: numba is optional

    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, previous))
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(previous)
    return x, sums
