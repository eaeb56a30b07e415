"""Which implementation draws the stream: the one backend rule, used by every entry point.

``"auto"`` is numba on the CPU when numba is importable and not disabled (``NALM_DISABLE_NUMBA=1``),
torch otherwise (on CUDA always); ``"numba"`` is the CPU only; ``"torch"`` runs on any device. Both
give identical bits (the tests check it), so the choice is about speed only.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType

import torch

#: The backends a caller may ask for.
BACKENDS: tuple[str, ...] = ("auto", "numba", "torch")


@functools.cache
def _numba_module() -> ModuleType | None:
    """The numba kernels (compiled on first use, cached on disk); None without numba."""
    if os.environ.get("NALM_DISABLE_NUMBA"):
        return None
    try:
        # Imported here, not at the top: numba is an optional extra, and loading it takes a while.
        from . import _kernels
    except ImportError:  # pragma: no cover - numba is an optional extra
        return None
    return _kernels


def numba_available() -> bool:
    """True when the numba kernels can be used (numba importable and not disabled)."""
    return _numba_module() is not None


def resolve_backend(backend: str, device: torch.device) -> str:
    """``"numba"`` or ``"torch"``: the implementation that serves ``backend`` on ``device``.

    ``"auto"``: numba on the CPU when :func:`numba_available`, else torch. ``"numba"`` off the CPU
    and unknown names raise :class:`ValueError`.
    """
    if backend == "auto":
        return "numba" if device.type == "cpu" and numba_available() else "torch"
    if backend == "numba":
        if device.type != "cpu":
            raise ValueError("the numba backend runs on the CPU only")
        return "numba"
    if backend == "torch":
        return "torch"
    raise ValueError(f"backend must be 'auto', 'numba' or 'torch', got {backend!r}")
