"""The background compile of the numba kernels: the program of the child process that
:mod:`.backend` starts when a kernel is not in numba's on-disk cache yet.

It compiles the kernels named on its command line (names of ``_kernels.KERNELS``, e.g.
``f32_shared``), numba writes them to its cache, and one line per kernel tells the parent:
``f32_shared ok`` or ``f32_shared error <reason>``. The parent then loads the kernel from the cache (a
fraction of a second) and leaves the torch backend, which drew the same bits meanwhile.

Torch-free on purpose: the child is started with stub parent packages (:data:`BOOTSTRAP`), so only
numpy, numba and the kernels load, about 1 s less than with ``nalm.tasks.rng``'s own imports. The
lock (a file descriptor inherited already locked, or ``--lock PATH``, taken here) lets one compile run at a time
per cache folder: concurrent first runs then load what the first one wrote instead of compiling it
again, and anyone may wait for a compile by taking the lock (see the tests and the benchmark).
"""

from __future__ import annotations

import os
import sys

#: ``python -c BOOTSTRAP RNG_DIR ARGS...``: imports this module as ``nalm.tasks.rng._compile`` from
#: ``RNG_DIR`` without running the packages' ``__init__`` (they import torch). The kernels then have
#: the same module name and source path as in the parent, which is what numba's cache is keyed on.
BOOTSTRAP = (
    "import os, sys, types\n"
    "path = sys.argv[1]\n"
    "for name in ('nalm.tasks.rng', 'nalm.tasks', 'nalm'):\n"
    "    module = types.ModuleType(name)\n"
    "    module.__path__ = [path]\n"
    "    sys.modules[name] = module\n"
    "    path = os.path.dirname(path)\n"
    "from nalm.tasks.rng._compile import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)

#: How much lower the compile's CPU priority is than its parent's (``os.nice``).
NICE = 10


def example_args(name: str) -> tuple:
    """The smallest arguments of kernel ``name``, of the numba types that
    :func:`nalm.tasks.rng.fill_numba.fill_uniform_numba` passes (one run, one row, two inputs), so
    the signature compiled here is the one the parent loads."""
    import numpy as np

    dtype = np.float64 if name == "f64" else np.float32
    ranges = np.ones((1, 2 if name == "f32_union" else 1), dtype=dtype)
    subsets = np.zeros((1, 1), dtype=np.int64)
    return (
        np.zeros(1, dtype=np.uint64), np.uint64(0), 1, 2, ranges, ranges.copy(), subsets, subsets.copy(),
        np.empty((1, 1, 2), dtype=dtype), np.empty((1, 1, 1), dtype=np.float64),
    )


def _report(line: str) -> None:
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except OSError:  # the parent has exited: the cache is written all the same
        pass


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def main(argv: list[str]) -> int:
    """``[--lock PATH] NAME...``: compile the kernels ``NAME...``, reporting each on stdout."""
    # Behind the run that started it: on a busy machine the run keeps its CPU share (drawing with
    # torch a while longer) instead of sharing it with the compile; on an idle one this changes nothing.
    try:
        os.nice(NICE)
    except OSError:  # pragma: no cover - not permitted here: compile at the same priority
        pass
    names = argv
    if argv[:1] == ["--lock"]:
        import fcntl

        fd = os.open(argv[1], os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until this process exits
        names = argv[2:]
    try:
        from . import _kernels
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which falls back to torch
        for name in names:
            _report(f"{name} error {_reason(exc)}")
        return 1
    status = 0
    for name in names:
        try:
            _kernels.KERNELS[name](*example_args(name))
        except Exception as exc:  # noqa: BLE001 - idem
            _report(f"{name} error {_reason(exc)}")
            status = 1
        else:
            _report(f"{name} ok")
    return status
