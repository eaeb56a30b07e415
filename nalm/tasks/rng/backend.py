"""Which implementation draws the stream: the one backend rule, used by every entry point.

``"auto"`` is numba on the CPU when numba is importable and not disabled (``NALM_DISABLE_NUMBA=1``),
torch otherwise (on CUDA always); ``"numba"`` is the CPU only; ``"torch"`` runs on any device. Both
give identical bits (the tests check it), so the choice is about speed only.

Where numba caches the compiled kernels is decided here too (:func:`_numba_cache_dir`): beside the
source when the package folder is writable, else a per-user folder, else nowhere that outlives the
process.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import torch

#: The backends a caller may ask for.
BACKENDS: tuple[str, ...] = ("auto", "numba", "torch")


def _writable_dir(path: Path) -> bool:
    """True when ``path`` exists or can be created, and a file can be written in it.

    Tried, not asked (``os.access`` says yes to root whatever the mode): the same test numba makes.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _user_cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/nalm/numba``, else ``~/.cache/nalm/numba``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path(os.path.expanduser("~")) / ".cache"
    return root / "nalm" / "numba"


def _numba_cache_dir(configured: str) -> str | None:
    """The folder numba should cache the kernels in; None leaves numba's own choice.

    ``configured`` is ``numba.config.CACHE_DIR`` (set by the user's ``NUMBA_CACHE_DIR``, or a numba
    config file). In order:

    1. the user's ``NUMBA_CACHE_DIR`` when set: theirs to choose (None);
    2. the package's ``__pycache__`` when writable: numba's default, beside the source (None);
    3. the per-user folder (:func:`_user_cache_dir`) when writable;
    4. a fresh temporary folder, removed when the process exits: no cache across runs, but the
       kernels still compile and run;
    5. None when not even that can be created (the import then fails, and :func:`_numba_module`
       falls back to torch).

    Why here: numba picks the folder of a ``cache=True`` function when the function is decorated,
    i.e. when ``_kernels`` is imported, and with no writable folder among its own choices (the
    source's ``__pycache__``, ``~/.cache/numba``) the import raises "cannot cache function ...: no
    locator available". That is the case of a package installed by root and run by a user whose
    home has no writable cache (issue 21).
    """
    if configured:
        return None
    if _writable_dir(Path(__file__).resolve().parent / "__pycache__"):
        return None
    user = _user_cache_dir()
    if _writable_dir(user):
        return str(user)
    try:
        tmp = tempfile.mkdtemp(prefix="nalm-numba-")
    except OSError:
        return None
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    return tmp


@functools.cache
def _numba_module() -> ModuleType | None:
    """The numba kernels (compiled on first use, cached on disk); None without numba.

    The cache folder is :func:`_numba_cache_dir`'s. It is set in ``numba.config.CACHE_DIR`` (numba's
    own setting, what ``NUMBA_CACHE_DIR`` sets) only while the kernels are imported, which is when
    numba binds each kernel to its folder: the user's other numba code and child processes keep
    their own setting.
    """
    if os.environ.get("NALM_DISABLE_NUMBA"):
        return None
    try:
        # Imported here, not at the top: numba is an optional extra, and loading it takes a while.
        from numba.core import config as numba_config
    except ImportError:  # pragma: no cover - numba is an optional extra
        return None
    configured = numba_config.CACHE_DIR
    cache_dir = _numba_cache_dir(configured)
    try:
        if cache_dir is not None:
            numba_config.CACHE_DIR = cache_dir
        from . import _kernels
    except ImportError:  # pragma: no cover - numba is an optional extra
        return None
    except RuntimeError as exc:
        # No folder numba may write at all (see _numba_cache_dir, case 5): torch draws the same bits.
        if "cannot cache function" in str(exc):
            return None
        raise
    finally:
        numba_config.CACHE_DIR = configured
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


@contextlib.contextmanager
def numba_thread_limit(threads: int) -> Iterator[None]:
    """At most ``threads`` threads for the numba kernels launched from this thread inside the block
    (numba's own thread-local setting, which the kernels' callers only ever lower); nothing to do
    when the kernels are not in use."""
    kernels = _numba_module()
    if kernels is None:
        yield
        return
    import numba  # loaded with the kernels

    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, previous)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
