"""Compatibility module: the counter-based generator now lives in :mod:`nalm.tasks.rng`.

Every name this module had is re-exported (the private ones too, for old imports). Patch the new
modules, not this one: e.g. ``nalm.tasks.rng.backend.numba_available`` decides the backend and
``nalm.tasks.rng.fill_numba.PARALLEL_MIN_VALUES`` the kernels' threads.
"""

from __future__ import annotations

from .rng import *  # noqa: F403
from .rng import __all__  # noqa: F401
from .rng.backend import _numba_module
from .rng.fill_numba import _kernel_ranges, _kernel_threads
from .rng.fill_torch import _TORCH_DTYPES, _affine, _device_const, _torch_subset_sums
from .rng.hashing import _S_GAMMA, _S_MIX1, _S_MIX2, _lsr, _mix64_int, _mix64_np, _signed, _step_mix
from .rng.stream import _check_shapes
