"""Which implementation draws the stream: the one backend rule, used by every entry point.

``"auto"`` is numba on the CPU when numba is importable and not disabled (``NALM_DISABLE_NUMBA=1``),
torch otherwise (on CUDA always); ``"numba"`` is the CPU only; ``"torch"`` runs on any device. Both
give identical bits (the tests check it), so the choice is about speed only.

Where numba caches the compiled kernels is decided here too (:func:`_numba_cache_dir`): beside the
source when the package folder is writable, else a per-user folder, else nowhere that outlives the
process. And when a kernel is not in that cache yet, :func:`kernel_ready` has a child process compile
it (:mod:`._compile`) while ``"auto"`` draws with torch: no first call waits seconds for numba.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch-free at import: `nalm train` calls prepare_kernel before it imports torch
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
    lasting = _lasting_cache_dir(configured)
    if lasting is not None:
        return lasting or None
    try:
        tmp = tempfile.mkdtemp(prefix="nalm-numba-")
    except OSError:
        return None
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    _THROWAWAY.add(tmp)
    return tmp


def _lasting_cache_dir(configured: str) -> str | None:
    """Cases 1-3 of :func:`_numba_cache_dir`: ``""`` for numba's own choice (1, 2), the per-user
    folder (3), or None when none of them is writable."""
    if configured or _writable_dir(Path(__file__).resolve().parent / "__pycache__"):
        return ""
    user = _user_cache_dir()
    return str(user) if _writable_dir(user) else None


def _top_cache_folder(chosen: str | None, configured: str) -> Path:
    """The folder under which numba caches the kernels, where the compile lock lives: the folder
    chosen here, else the configured one, else the package's ``__pycache__``."""
    return Path(chosen or configured or Path(__file__).resolve().parent / "__pycache__")


#: Cache folders removed when this process exits (case 4 of :func:`_numba_cache_dir`).
_THROWAWAY: set[str] = set()
#: Once :func:`_numba_module` has imported the kernels: the folder :func:`_numba_cache_dir` chose
#: (None: numba's own choice), and the folder they cache in, where the background compile's lock is.
_chosen_cache_dir: str | None = None
_cache_folder: Path | None = None


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
    global _cache_folder, _chosen_cache_dir
    configured = numba_config.CACHE_DIR
    cache_dir = _numba_cache_dir(configured)
    try:
        if cache_dir is not None:
            numba_config.CACHE_DIR = cache_dir
        from . import _kernels

        _chosen_cache_dir = cache_dir
        _cache_folder = _top_cache_folder(cache_dir, configured)
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


#: ``NALM_NUMBA_COMPILE=inline`` compiles a kernel missing from the cache in the process that needs
#: it (blocking its first call for seconds, as before the background compile); unset or
#: ``background``: a child process compiles it while ``"auto"`` draws with torch.
COMPILE_ENV = "NALM_NUMBA_COMPILE"
#: Lock file in the cache folder, held by the process compiling the kernels in the background.
LOCK_NAME = "nalm-numba-compile.lock"


class _NotCached(Exception):
    """Raised by :class:`_RefuseCompile` to stop a cache-only load before numba compiles."""


def _load_cached(kernel: Any, args: tuple) -> bool:
    """Load ``kernel``'s overload for ``args`` from numba's on-disk cache; False, with nothing
    compiled, when it is not there.

    numba has no cache-only call: :meth:`Dispatcher.compile` tries the cache first and announces a
    compile with the ``numba:compile`` event (numba's public event API) before doing any work; a
    listener refusing it for this kernel stops it there.
    """
    from numba.core import event

    class _RefuseCompile(event.Listener):
        def on_start(self, ev: Any) -> None:
            if ev.data.get("dispatcher") is kernel:
                raise _NotCached

        def on_end(self, ev: Any) -> None:
            pass

    try:
        sig = tuple(kernel.typeof_pyval(a) for a in args)
        with event.install_listener("numba:compile", _RefuseCompile()):
            kernel.compile(sig)
    except _NotCached:
        return False
    except Exception:  # noqa: BLE001 - an unreadable cache entry is a miss; the compile replaces it
        return False
    return True


class _Compile:
    """One background compile: the child process and what it has reported."""

    def __init__(self, child: subprocess.Popen) -> None:
        self.child = child
        self.report: str | None = None
        self._out = b""

    def poll(self) -> str | None:
        """``"ok"``, ``"error <reason>"``, or None while the child compiles."""
        if self.report is None:
            self._read()
            if self.report is None and self.child.poll() is not None:
                self._read()  # what it wrote just before exiting
                if self.report is None:
                    self.report = f"error: the compile exited with status {self.child.returncode}"
        return self.report

    def _read(self) -> None:
        assert self.child.stdout is not None
        try:
            self._out += os.read(self.child.stdout.fileno(), 4096)
        except BlockingIOError:
            return
        if b"\n" in self._out:
            self.report = self._out.split(b"\n", 1)[0].decode(errors="replace").partition(" ")[2]


class _KernelGate:
    """Which numba kernels this process can call without compiling, and the children compiling the
    others.

    A kernel is ready when it was compiled or loaded here already, or loads from numba's cache. When
    it does not, a child process (:mod:`._compile`) compiles it and numba writes it to the cache;
    :meth:`ready` answers False until the child reports it compiled, then loads it from the cache.
    The child is detached (its own session, not waited for): a run shorter than the compile leaves it
    to finish, so the next run finds the cache. A kernel the child fails to compile stays unready for
    this process ("auto" keeps drawing with torch: the same bits, no traceback); the reason is in
    :attr:`failed`.
    """

    #: Seconds between two looks at a child's output while it compiles (a call costs one clock read
    #: in between).
    POLL_S = 0.02

    def __init__(self, kernels: ModuleType) -> None:
        self.kernels = kernels
        self.ready_set: set[str] = set()
        self.compiles: dict[str, _Compile] = dict(_early_compiles)  # started by prepare_kernel
        self.failed: dict[str, str] = {}
        self._next_poll = 0.0

    def ready(self, name: str, args: tuple) -> bool:
        """True when kernel ``name`` runs ``args`` now without compiling (or compiles here because a
        background compile is off or impossible); False while a child compiles it, or after the
        child failed."""
        if name in self.ready_set:
            return True
        if name in self.failed:
            return False
        kernel = self.kernels.KERNELS[name]
        compile_ = self.compiles.get(name)
        if compile_ is None:
            if kernel.overloads or _load_cached(kernel, args) or not self._start(name):
                self.ready_set.add(name)
                return True
            return False
        now = time.monotonic()
        if now < self._next_poll:
            return False
        self._next_poll = now + self.POLL_S
        report = compile_.poll()
        if report is None:
            return False
        if report != "ok":
            self.failed[name] = report
            return False
        # The cache normally loads; if it does not (folder emptied meanwhile), numba compiles here.
        _load_cached(kernel, args)
        self.ready_set.add(name)
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until every child has finished (for tests and benchmarks)."""
        for compile_ in self.compiles.values():
            compile_.child.wait(timeout)

    def _start(self, name: str) -> bool:
        """Start a child compiling kernel ``name``; False when it cannot start (the caller then
        compiles in this process)."""
        if os.environ.get(COMPILE_ENV, "background").strip().lower() == "inline":
            return False
        compile_ = _spawn(name, _chosen_cache_dir, _cache_folder)
        if compile_ is None:
            return False
        self.compiles[name] = compile_
        if _chosen_cache_dir in _THROWAWAY:
            # That folder goes at exit: the child must be gone first, or it writes into a removed
            # folder. (atexit runs in reverse order: this before the folder's removal.)
            atexit.register(_stop, compile_.child)
        return True


def _spawn(name: str, cache_dir: str | None, folder: Path | None) -> _Compile | None:
    """Start the child compiling kernel ``name`` into numba's cache (``cache_dir``: the
    ``NUMBA_CACHE_DIR`` it is given, None for its own choice; ``folder``: where the lock is); None
    when it cannot start."""
    if not sys.executable:
        return None
    from . import _compile

    env = dict(os.environ)
    if cache_dir is not None:
        # The child imports the kernels directly, not through _numba_module: it is told the folder
        # this process chose, or numba would pick its own.
        env["NUMBA_CACHE_DIR"] = cache_dir
    lock_args, pass_fds, fd = _lock(folder)
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", _compile.BOOTSTRAP, os.path.dirname(__file__), *lock_args, name],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, start_new_session=True, pass_fds=pass_fds,
        )
    except OSError:
        return None
    finally:
        if fd is not None:
            os.close(fd)  # the child holds the lock now
    assert child.stdout is not None
    os.set_blocking(child.stdout.fileno(), False)
    return _Compile(child)


#: Background compiles :func:`prepare_kernel` started before numba was imported here; the gate
#: takes them over when it is created.
_early_compiles: dict[str, _Compile] = {}


def _start_before_numba(name: str) -> None:
    """Start kernel ``name``'s background compile without importing numba, when its cache surely
    lacks it: no index file of the kernel in the folder numba will use, or one older than the
    kernels' source. (numba's own import and cache test take ~0.4 s, which a first run would
    otherwise spend before its compile starts.) Does nothing when the folder is not known before
    numba is imported (a numba config file, or no lasting folder) or the index file is there: the
    gate then decides, as always. A wrong guess costs a child that finds the kernel in the cache and
    reports it at once."""
    import importlib.util

    from ._constants import KERNEL_FUNCTIONS

    if name in _early_compiles or os.path.exists(".numba_config.yaml"):
        return
    if importlib.util.find_spec("numba") is None:
        return
    configured = os.environ.get("NUMBA_CACHE_DIR", "")
    lasting = _lasting_cache_dir(configured)
    if lasting is None:
        return
    source = Path(__file__).resolve().parent / "_kernels.py"
    folder = _top_cache_folder(lasting or None, configured)
    pattern = f"_kernels.{KERNEL_FUNCTIONS[name]}-*.nbi"
    try:
        stamp = source.stat().st_mtime
        indexes = [*folder.glob(pattern), *folder.glob(f"*/{pattern}")]
        if any(index.stat().st_mtime >= stamp for index in indexes):
            return
    except OSError:
        return
    compile_ = _spawn(name, lasting or None, folder)
    if compile_ is not None:
        _early_compiles[name] = compile_



def _lock(folder: Path | None) -> tuple[list[str], tuple[int, ...], int | None]:
    """The lock of a background compile in ``folder``: taken here and handed to the child when free
    (no moment when a waiter could see it free before the child runs); else the child waits for it.
    Returns the child's extra arguments, the descriptors it inherits, and the one to close here."""
    if folder is None:
        return [], (), None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, compiles may overlap
        return [], (), None
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return [], (), None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return ["--lock", str(path)], (), None
    return [], (fd,), fd


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.kill()
        child.wait()


@functools.cache
def _gate() -> _KernelGate | None:
    kernels = _numba_module()
    return None if kernels is None else _KernelGate(kernels)


def kernel_ready(name: str, args: tuple) -> bool:
    """Whether numba kernel ``name`` (see ``_kernels.KERNELS``) can run ``args`` now without a
    compile in this process; when it is missing from the cache this starts its background compile
    (see :class:`_KernelGate`) and answers False until the compiled kernel is loaded."""
    gate = _gate()
    return gate is not None and gate.ready(name, args)


def prepare_kernel(precision: str, *, union: bool = False, per_run: bool = False) -> None:
    """Have the numba kernel of a CPU stream ready early: load it from numba's cache now, or start
    its background compile now rather than at the first draw, so a first run after an install
    overlaps the compile with its own start-up (imports, model, thresholds). ``union``: the
    stream's range is a union of two; ``per_run``: one range per run (grouped cells). Nothing
    without numba or with ``NALM_NUMBA_COMPILE=inline``; the draws work the same without this call.
    """
    if os.environ.get("NALM_DISABLE_NUMBA") or os.environ.get(COMPILE_ENV, "").strip().lower() == "inline":
        return
    from . import _compile

    name = "f64" if precision == "float64" else "f32_union" if union else "f32_per_run" if per_run else "f32_shared"
    if _gate.cache_info().currsize == 0:  # numba not loaded here yet
        _start_before_numba(name)
    gate = _gate()
    if gate is not None:
        gate.ready(name, _compile.example_args(name))


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
