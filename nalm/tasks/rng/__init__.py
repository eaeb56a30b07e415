"""Counter-based uniform numbers for the training stream: fast, and independent of batch composition.

Every number is a pure function of (run seed, step, position in the batch): a SplitMix64 hash of
counters (Steele, Lea & Flood, OOPSLA 2014), so run ``s`` trained beside 999 others sees exactly the
data it sees alone, and every element is independent work for CPU threads (numba) or GPU threads
(torch), which agree bit for bit. Same distribution as the reference's ``RandomState`` stream, not the
same numbers. The exact definition (hash, counters, step mixing, the float32 and float64 layouts, the
subset-sum order) and why it is bit-identical across batch compositions are in
``docs/reproducibility.md``, section "The data stream, precisely".

Modules: :mod:`~nalm.tasks.rng.hashing` (keys, step bases, SplitMix64), :mod:`~nalm.tasks.rng.backend`
(the one rule choosing numba or torch; a kernel missing from numba's cache compiles in a
background process, :mod:`~nalm.tasks.rng._compile`, while ``auto`` draws with torch),
:mod:`~nalm.tasks.rng.fill_torch` and :mod:`~nalm.tasks.rng.fill_numba` (the two implementations;
kernels in ``_kernels``, which loads numba, imported on first use), :mod:`~nalm.tasks.rng.stream`
(:func:`fill_uniform`, :class:`UniformStream`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nalm._lazy import lazy_exports

# Exported lazily (PEP 562), as nalm.tasks: `nalm.tasks.rng.backend` (and with it prepare_kernel)
# loads without torch, so `nalm train` can start a kernel's background compile before it imports torch.
_LAZY_EXPORTS = {
    "BACKENDS": ".backend",
    "numba_available": ".backend",
    "prepare_kernel": ".backend",
    "resolve_backend": ".backend",
    "PARALLEL_MIN_VALUES": ".fill_numba",
    "fill_uniform_numba": ".fill_numba",
    "fill_uniform_torch": ".fill_torch",
    "range_tensors": ".fill_torch",
    **{name: ".hashing" for name in (
        "GAMMA", "MASK64", "MAX_HASHES_PER_STEP", "MIX1", "MIX2", "STREAM_THRESHOLD", "STREAM_TRAIN",
        "Precision", "keys_to_torch", "mix64_torch", "run_keys", "step_bases", "step_bases_torch",
    )},
    "UniformStream": ".stream",
    "fill_uniform": ".stream",
    "stream_precision": ".stream",
}

__all__ = sorted(_LAZY_EXPORTS)

if TYPE_CHECKING:
    from .backend import BACKENDS, numba_available, prepare_kernel, resolve_backend
    from .fill_numba import PARALLEL_MIN_VALUES, fill_uniform_numba
    from .fill_torch import fill_uniform_torch, range_tensors
    from .hashing import (
        GAMMA,
        MASK64,
        MAX_HASHES_PER_STEP,
        MIX1,
        MIX2,
        STREAM_THRESHOLD,
        STREAM_TRAIN,
        Precision,
        keys_to_torch,
        mix64_torch,
        run_keys,
        step_bases,
        step_bases_torch,
    )
    from .stream import UniformStream, fill_uniform, stream_precision


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS)
