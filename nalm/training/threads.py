"""How many CPU threads a training loop uses: one by default.

Measured on the project's 2-core VM (``/tmp``-style A/B in one process, NAU → NMU, 100 inputs):
two intra-op threads are about 15 % faster than one at 100 runs when nothing else runs (53k against
45k seed-iterations/s), but as soon as another process competes for a core every parallel region
waits for a descheduled thread, and the same training ran 20–30 times slower (1,900 against 27k–43k
at 1,000 runs, load about 4). The numba data kernels' fork/join stalls the same way. Clusters run one
process per core, and shared machines are shared, so the trainer runs on one thread unless asked:
``train(..., threads=N)``, or for every training of a process (``nalm train``, ``nalm bench``, Ray
workers started from it) the environment variable ``NALM_THREADS=N``; ``threads=None`` (or
``NALM_THREADS=inherit``) keeps the process's own settings (``torch.set_num_threads``,
``NUMBA_NUM_THREADS``).

Results: the packaged cells checked so far (a 2-input Primer cell, madsen2020's 100-input NAU on −)
give the same bits with one and two threads, but a threaded reduction may in general round
differently, so compare stored results made with the same thread count.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..errors import ConfigError

from ..tasks.rng.backend import numba_thread_limit

#: The trainer's default on the CPU (see the module docstring for why).
DEFAULT_THREADS = 1
#: Overrides :data:`DEFAULT_THREADS` for a process: a positive integer, or ``inherit``.
ENV_VAR = "NALM_THREADS"


def resolve_threads(threads: int | None | str) -> int | None:
    """``threads`` as given, or for ``"default"`` the process's choice: ``$NALM_THREADS`` when set
    (``inherit`` means None), else :data:`DEFAULT_THREADS`."""
    if threads != "default":
        return threads  # type: ignore[return-value]
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return DEFAULT_THREADS
    if value.lower() == "inherit":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"{ENV_VAR}: expected a positive integer or 'inherit', got {value!r}")
    return n


@contextmanager
def cpu_threads(threads: int | None, device: torch.device) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads (torch and the numba data kernels) on the CPU;
    the previous settings come back after it. ``None``, or a non-CPU device, changes nothing."""
    if threads is None or device.type != "cpu":
        yield
        return
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    previous = torch.get_num_threads()
    try:
        # numba's OpenMP layer shares torch's libgomp pool here, and setting numba's threads moves
        # torch's: torch is set after numba on the way in, and again after numba on the way out.
        with numba_thread_limit(threads):
            torch.set_num_threads(threads)
            yield
    finally:
        torch.set_num_threads(previous)
