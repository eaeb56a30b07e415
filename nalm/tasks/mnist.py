"""Sequential MNIST (Madsen & Johansen 2020): MNIST from local files, and sequences of digits whose
cumulative sum or product is the target.

nalm never downloads MNIST. :func:`load_mnist` reads it from a local path, in this order:

1. the ``path`` argument (a directory, or an ``mnist.npz`` file), when given;
2. the directory or file named by the environment variable ``NALM_MNIST_DIR``, when set;
3. otherwise it stops with a :class:`~nalm.errors.ConfigError` saying how to point nalm at the data.

(No package on the Python package index ships the MNIST files inside an installable wheel — the
packages named after MNIST download it at run time — so there is no third, packaged source.)

A directory holds the four files in the standard IDX format, each plain or gzipped:
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte`` (``train-images.idx3-ubyte`` spellings too), either in the directory itself
or in its ``MNIST/raw`` folder (where torchvision keeps them); or it holds ``mnist.npz`` with the
arrays ``x_train``, ``y_train``, ``x_test``, ``y_test`` (the Keras layout). Every file is checked
(gzip stream, magic number, dimensions, size, label range, image and label counts); anything wrong
is a one-line :class:`~nalm.errors.ConfigError` naming the file and what is wrong (the CLI prints it
and exits with status 2). :func:`write_digit_fixture` writes a tiny generated stand-in in the same
IDX layout, so tests read it exactly as they would read MNIST.

The task, as the reference code (``stable_nalu/dataset/sequential_mnist.py``) builds it:

* splits: training = MNIST-train[0:55000], validation = MNIST-train[55000:60000], test = MNIST-test
  (``valid_size`` = 5000 sets the cut; by default the same twelfth of a smaller set);
* images scaled to [0, 1] and normalised with mean 0.1307 and sd 0.3081, in float32, exactly as
  torchvision's ``ToTensor`` and ``Normalize`` do;
* only images whose label is in ``digits`` are used (the product task: 1-9);
* a *fork* permutes the split's usable images with ``numpy.random.RandomState(fork_seed)`` and cuts
  the permutation into consecutive sequences of ``length`` images (the last, incomplete one dropped):
  every image is used at most once per fork (drawn without replacement);
* targets are cumulative: t_1 = z_1, t_i = Op(t_{i-1}, z_i) with z the digit labels (``cumsum`` /
  ``cumprod``), computed in float64;
* the fixed evaluation forks use the reference's seeds: train-full 62379872, valid 47430696, test
  88253339; so the evaluation sequences are the reference's, image for image, on the same MNIST files;
* a run's training fork is seeded as the reference seeds it, ``RandomState(seed).randint(0, 2**32 - 1)``,
  so run ``seed``'s training sequences are the reference's too.

Where nalm departs: the reference shuffles the *order* of the training sequences every epoch with
torch's global generator (a ``DataLoader(shuffle=True)``), which the model's initialisation also
draws from. nalm orders them by a counter-based hash of (seed, epoch) (the SplitMix64 keys of
:mod:`nalm.tasks.rng`, in a stream of its own): the batch at step t is a pure function of (task,
seed, t), and run s trained beside others sees exactly what it sees alone. The reference computes
``cumprod`` in int64 (it wraps beyond 9.2e18, reachable only by products of 20 large digits); nalm
computes the cumulative targets in float64.

Batched over runs: :meth:`SequentialMnistTask.train_indices` gives ``[S, B, T]`` indices into one
shared image tensor (:meth:`SequentialMnistTask.images`) and :meth:`~SequentialMnistTask.train_batch`
gathers them into ``[S, B, T, 1, 28, 28]`` images with ``[S, B, T]`` targets.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from nalm.errors import ConfigError

from ._base import check_seed
from .rng import GAMMA, MIX1, MIX2, run_keys, step_bases

#: The environment variable naming the MNIST directory (or ``mnist.npz``) when no path is given.
ENV_VAR = "NALM_MNIST_DIR"
#: torchvision's MNIST normalisation, used by the reference (and the NALU paper).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
IMAGE_SIZE = 28
#: Images and labels in the standard MNIST files.
STANDARD_COUNTS = {"train": 60_000, "test": 10_000}
#: The reference's validation cut: MNIST-train[55000:60000].
VALID_SIZE = 5_000
#: ``source`` (or ``$NALM_MNIST_DIR``) naming the generated digit fixture instead of MNIST's files:
#: how CI, which has no MNIST, runs the benchmark (:func:`fixture_data`).
FIXTURE = "fixture"
#: Sizes of the fixture ``source="fixture"`` reads: enough sequences for a short training to learn.
FIXTURE_TRAIN, FIXTURE_TEST = 2_400, 1_200
#: The reference's fixed fork seeds ("Seeds are from random.org", experiments/sequential_mnist.py).
FORK_SEEDS = {"train_full": 62379872, "valid": 47430696, "test": 88253339}
#: Counter-hash stream tag of the epoch order ("mnist_" + 3): unrelated to the other streams.
STREAM_MNIST_EPOCH = 0x6D6E_6973_745F_0003

_IDX_UBYTE = 0x08
_MAX_LABEL = 9
# (split, kind) -> the stem names the file may have (each plain or with ".gz")
_IDX_NAMES = {
    ("train", "images"): ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    ("train", "labels"): ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    ("test", "images"): ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
_NPZ_NAME = "mnist.npz"
_NPZ_KEYS = {("train", "images"): "x_train", ("train", "labels"): "y_train",
             ("test", "images"): "x_test", ("test", "labels"): "y_test"}

Kind = Literal["images", "labels"]
Op = Literal["sum", "prod"]
EvalSplit = Literal["train_full", "valid", "test"]


def _fail(where: Path | str, what: str) -> ConfigError:
    return ConfigError(f"MNIST: {where}: {what}")


# ------------------------------------------------------------------------------------------------
# IDX files


def read_idx(path: str | os.PathLike[str], kind: Kind) -> np.ndarray:
    """One IDX file as a uint8 array: images ``[N, 28, 28]`` or labels ``[N]`` (values 0-9).

    ``.gz`` files are decompressed. Raises :class:`ConfigError` (one line, naming the file) when the
    file is missing, unreadable, not gzip where it says so, has the wrong magic number (unsigned-byte
    data of 3 dimensions for images, 1 for labels), other dimensions than 28x28, fewer or more bytes
    than its header says, or a label outside 0-9.
    """
    p = Path(path)
    raw = _read_bytes(p)
    ndim = 3 if kind == "images" else 1
    if len(raw) < 4:
        raise _fail(p, f"too short for an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    expected = (_IDX_UBYTE << 8) | ndim
    if magic != expected:
        what = "image" if kind == "images" else "label"
        raise _fail(p, f"bad magic number 0x{magic:08x}, expected 0x{expected:08x} "
                       f"(an IDX {what} file: unsigned bytes, {ndim} dimension{'s' * (ndim > 1)})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise _fail(p, f"truncated header ({len(raw)} bytes, the header has {header})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if kind == "images" and dims[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise _fail(p, f"images are {dims[1]}x{dims[2]}, expected {IMAGE_SIZE}x{IMAGE_SIZE}")
    size = int(np.prod(dims, dtype=np.int64))
    body = len(raw) - header
    if body < size:
        raise _fail(p, f"truncated: the header says {' x '.join(map(str, dims))} = {size:,} bytes of "
                       f"data, the file has {body:,}")
    if body > size:
        raise _fail(p, f"{body - size:,} bytes after the {size:,} bytes of data its header describes")
    array = np.frombuffer(raw, dtype=np.uint8, count=size, offset=header).reshape(dims)
    if kind == "labels":
        _check_labels(p, array)
    return array


def _read_bytes(p: Path) -> bytes:
    if not p.is_file():
        raise _fail(p, "no such file")
    try:
        if p.name.endswith(".gz"):
            with gzip.open(p, "rb") as f:
                return f.read()
        return p.read_bytes()
    except EOFError:
        raise _fail(p, "the gzip stream ends early (a truncated download?)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise _fail(p, f"not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise _fail(p, f"cannot be read ({exc.strerror or exc})") from None


def _check_labels(where: Path | str, labels: np.ndarray) -> None:
    if labels.size and int(labels.max()) > _MAX_LABEL:
        bad = int(np.flatnonzero(labels > _MAX_LABEL)[0])
        raise _fail(where, f"label {int(labels[bad])} at index {bad}, expected digits 0-9")


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write a uint8 array (``[N, 28, 28]`` images or ``[N]`` labels) as an IDX file, gzipped when
    the name ends with ``.gz``."""
    a = np.ascontiguousarray(array)
    if a.dtype != np.uint8 or a.ndim not in (1, 3):
        raise ValueError(f"write_idx: expected a uint8 array of 1 or 3 dimensions, "
                         f"got {a.dtype} {a.shape}")
    header = bytes([0, 0, _IDX_UBYTE, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    data = header + a.tobytes()
    p = Path(path)
    if p.name.endswith(".gz"):
        # mtime=0: the same bytes every time (a reproducible fixture)
        with open(p, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(data)
    else:
        p.write_bytes(data)
    return p


# ------------------------------------------------------------------------------------------------
# Finding and loading MNIST


@dataclasses.dataclass(frozen=True, eq=False)
class MnistData:
    """MNIST as uint8 arrays: ``train_images`` ``[N, 28, 28]``, ``train_labels`` ``[N]``, and the test
    pair; ``source`` is the directory or file they were read from."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def images(self, split: Literal["train", "test"]) -> np.ndarray:
        return self.train_images if split == "train" else self.test_images

    def labels(self, split: Literal["train", "test"]) -> np.ndarray:
        return self.train_labels if split == "train" else self.test_labels

    @property
    def is_standard(self) -> bool:
        """Whether the counts are MNIST's: 60,000 training and 10,000 test images."""
        return (len(self.train_labels), len(self.test_labels)) == (
            STANDARD_COUNTS["train"], STANDARD_COUNTS["test"])


class _Files(NamedTuple):
    layout: Literal["idx", "npz"]
    files: tuple[Path, ...]  # idx: train images, train labels, test images, test labels; npz: one


def find_mnist(path: str | os.PathLike[str] | None = None) -> Path:
    """The directory or ``mnist.npz`` that :func:`load_mnist` would read (the search order in the
    module's docstring), made absolute. Raises :class:`ConfigError` when there is none."""
    if path is not None and str(path) == FIXTURE:
        raise ConfigError(f"MNIST: {FIXTURE!r} names the generated digit fixture, which has no files "
                          "(SequentialMnistTask(source='fixture') uses it)")
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise _fail(p, "no such file or directory")
        return p.resolve()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        p = Path(env).expanduser()
        if not p.exists():
            raise _fail(p, f"no such file or directory (from {ENV_VAR})")
        return p.resolve()
    raise ConfigError(
        f"MNIST: no data: give the path of a directory with the four IDX files "
        f"(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
        f"t10k-labels-idx1-ubyte[.gz]) or of an mnist.npz, or set {ENV_VAR}; nalm never downloads MNIST"
    )


def _files(root: Path) -> _Files:
    if root.is_file():
        if root.suffix == ".npz":
            return _Files("npz", (root,))
        raise _fail(root, "expected a directory with the MNIST IDX files, or an mnist.npz file")
    partial: tuple[Path, list[str], list[str]] | None = None
    for folder in (root, root / "MNIST" / "raw"):
        if not folder.is_dir():
            continue
        found: list[Path] = []
        missing: list[str] = []
        for stems in _IDX_NAMES.values():
            hit = next((folder / (s + ext) for s in stems for ext in ("", ".gz")
                        if (folder / (s + ext)).is_file()), None)
            if hit is None:
                missing.append(stems[0] + "[.gz]")
            else:
                found.append(hit)
        if not missing:
            return _Files("idx", tuple(found))
        if (folder / _NPZ_NAME).is_file():
            return _Files("npz", (folder / _NPZ_NAME,))
        if found and partial is None:
            partial = (folder, [f.name for f in found], missing)
    if partial is not None:
        folder, have, missing = partial
        raise _fail(folder, f"has {', '.join(have)} but not {', '.join(missing)}")
    raise _fail(root, "no MNIST files here (looked for train-images-idx3-ubyte[.gz] and the other "
                      f"three IDX files, in it and in MNIST/raw, and for {_NPZ_NAME})")


def load_mnist(path: str | os.PathLike[str] | None = None) -> MnistData:
    """MNIST from a local directory or ``mnist.npz`` (``path``, else ``$NALM_MNIST_DIR``), checked.

    Loaded once per files (cached by path, size and modification time). Raises :class:`ConfigError`
    with one line naming the file and the problem when anything is missing or corrupt.
    """
    files = _files(find_mnist(path))
    signature = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files.files)
    return _load(files, signature)


@functools.lru_cache(maxsize=4)
def _load(files: _Files, signature: tuple[Any, ...]) -> MnistData:
    del signature  # part of the cache key only
    if files.layout == "npz":
        arrays = _read_npz(files.files[0])
    else:
        arrays = {key: read_idx(f, key[1]) for key, f in zip(_IDX_NAMES, files.files)}
    for split in ("train", "test"):
        n_images, n_labels = len(arrays[(split, "images")]), len(arrays[(split, "labels")])
        if n_images != n_labels:
            where = files.files[0].parent if files.layout == "idx" else files.files[0]
            raise _fail(where, f"{n_images:,} {split} images but {n_labels:,} {split} labels")
        if n_images == 0:
            raise _fail(files.files[0].parent if files.layout == "idx" else files.files[0],
                        f"no {split} images")
    source = files.files[0] if files.layout == "npz" else files.files[0].parent
    for a in arrays.values():
        a.setflags(write=False)  # shared by every task reading these files
    return MnistData(arrays[("train", "images")], arrays[("train", "labels")],
                     arrays[("test", "images")], arrays[("test", "labels")], str(source))


def _read_npz(p: Path) -> dict[tuple[str, str], np.ndarray]:
    import zipfile

    try:
        with np.load(p, allow_pickle=False) as npz:
            missing = [k for k in _NPZ_KEYS.values() if k not in npz.files]
            if missing:
                raise _fail(p, f"missing array{'s' * (len(missing) > 1)} {', '.join(missing)} "
                               f"(expected x_train, y_train, x_test, y_test)")
            arrays = {key: npz[name] for key, name in _NPZ_KEYS.items()}
    except ConfigError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(p, f"not a readable .npz file ({reason})") from None
    for (split, kind), a in arrays.items():
        name = _NPZ_KEYS[(split, kind)]
        want = (IMAGE_SIZE, IMAGE_SIZE) if kind == "images" else ()
        if a.dtype != np.uint8 or a.ndim != 1 + len(want) or a.shape[1:] != want:
            shape = "[N, 28, 28]" if kind == "images" else "[N]"
            raise _fail(p, f"{name} is {a.dtype} {list(a.shape)}, expected uint8 {shape}")
        if kind == "labels":
            _check_labels(f"{p} ({name})", a)
    return arrays


# ------------------------------------------------------------------------------------------------
# A tiny generated stand-in

# 5x7 bitmaps of the digits 0-9 (rows top to bottom)
_FONT = {
    0: ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    1: ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    2: ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    3: ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    4: ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    5: ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    6: ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    7: ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    8: ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    9: ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
}


def digit_fixture(n_train: int = 120, n_test: int = 60, *, seed: int = 0) -> MnistData:
    """A tiny MNIST stand-in: each image is a 5x7 bitmap digit scaled 3x, placed at a random offset
    in 28x28 with random stroke intensity and background speckle. Labels cycle through 0-9 in a
    shuffled order (each digit appears about equally often). Deterministic in ``seed`` (numpy's
    ``RandomState``, whose stream never changes)."""
    rng = np.random.RandomState(seed)
    out = []
    for n in (n_train, n_test):
        labels = (np.arange(n) % 10)[rng.permutation(n)].astype(np.uint8)
        images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        for i, digit in enumerate(labels):
            glyph = np.array([[c == "1" for c in row] for row in _FONT[int(digit)]])
            glyph = np.kron(glyph, np.ones((3, 3), dtype=bool))  # 21 x 15
            top, left = rng.randint(2, 6), rng.randint(4, 10)
            canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE))
            canvas[top:top + 21, left:left + 15] = glyph * rng.uniform(180, 255, size=glyph.shape)
            speckle = rng.uniform(size=canvas.shape) < 0.05
            canvas = np.where(speckle & (canvas == 0), rng.uniform(1, 60, size=canvas.shape), canvas)
            images[i] = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
        out += [images, labels]
    return MnistData(out[0], out[1], out[2], out[3], source="digit_fixture")


@functools.lru_cache(maxsize=1)
def fixture_data() -> MnistData:
    """The fixture ``source="fixture"`` reads: :func:`digit_fixture` with :data:`FIXTURE_TRAIN` and
    :data:`FIXTURE_TEST` images (seed 0), generated once per process (a fraction of a second)."""
    data = digit_fixture(FIXTURE_TRAIN, FIXTURE_TEST)
    for a in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        a.setflags(write=False)
    return data


def write_digit_fixture(
    directory: str | os.PathLike[str],
    n_train: int = 120,
    n_test: int = 60,
    *,
    seed: int = 0,
    layout: Literal["idx", "idx.gz", "npz"] = "idx.gz",
) -> Path:
    """Write :func:`digit_fixture` into ``directory`` as MNIST's four IDX files (``idx``; gzipped:
    ``idx.gz``, the default, a few KB) or as ``mnist.npz``. Returns the directory (``load_mnist``
    reads it)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    data = digit_fixture(n_train, n_test, seed=seed)
    if layout == "npz":
        np.savez_compressed(d / _NPZ_NAME, x_train=data.train_images, y_train=data.train_labels,
                            x_test=data.test_images, y_test=data.test_labels)
        return d
    if layout not in ("idx", "idx.gz"):
        raise ValueError(f"layout: expected 'idx', 'idx.gz' or 'npz', got {layout!r}")
    ext = ".gz" if layout == "idx.gz" else ""
    for (split, kind), stems in _IDX_NAMES.items():
        array = data.images(split) if kind == "images" else data.labels(split)  # type: ignore[arg-type]
        write_idx(d / (stems[0] + ext), array)
    return d


# ------------------------------------------------------------------------------------------------
# Images as tensors, targets


def normalize_images(images: np.ndarray | Tensor, *, device: torch.device | str | None = None) -> Tensor:
    """uint8 images ``[N, 28, 28]`` as normalised float32 ``[N, 1, 28, 28]``: ``(x / 255 - 0.1307) /
    0.3081`` in float32, the operations (and so the bits) of torchvision's ``ToTensor`` and
    ``Normalize((0.1307,), (0.3081,))``."""
    u8 = torch.tensor(images, device=device) if isinstance(images, np.ndarray) else images.to(device)
    x = u8.to(torch.float32).div(255).unsqueeze(-3)
    mean = torch.as_tensor(MNIST_MEAN, dtype=torch.float32, device=x.device)
    std = torch.as_tensor(MNIST_STD, dtype=torch.float32, device=x.device)
    return x.sub_(mean).div_(std)


def cumulative_targets(op: Op, labels: np.ndarray | Tensor) -> Tensor:
    """Cumulative targets along the last axis, in float64: t_1 = z_1, t_i = Op(t_{i-1}, z_i)."""
    z = torch.as_tensor(labels).to(torch.float64)
    if op == "sum":
        return z.cumsum(-1)
    if op == "prod":
        return z.cumprod(-1)
    raise ConfigError(f"op: expected 'sum' or 'prod', got {op!r}")


def _mix64(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser on uint64 arrays (the one in :mod:`nalm.tasks.rng.hashing`)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    return z ^ (z >> np.uint64(31))


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of a run's ``n`` training sequences in ``epoch``: a permutation that is a pure
    function of (seed, epoch, n) — the argsort of the SplitMix64 hashes ``mix64(base + (i + 1) γ)``,
    ``base`` the (seed, epoch) base of :func:`nalm.tasks.rng.step_bases` in the epoch-order stream."""
    base = step_bases(run_keys(np.array([check_seed(seed)]), STREAM_MNIST_EPOCH), int(epoch))[0]
    with np.errstate(over="ignore"):
        z = np.uint64(base) + (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GAMMA))
    return np.argsort(_mix64(z), kind="stable")


@functools.lru_cache(maxsize=4)
def _image_tensor(data_key: str, data: MnistData, split: str, device: str) -> Tensor:
    del data_key  # cache key only
    return normalize_images(data.images(split), device=device)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# The task


def _check_int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class SequentialMnistTask:
    """Madsen & Johansen's sequential MNIST task: sequences of ``length`` MNIST images whose target at
    every step is the cumulative sum (``op="sum"``) or product (``op="prod"``) of their digits.

    ``digits``: the digits used (default: 1-9 for ``prod``, 0-9 for ``sum``, as the published runs
    use them). ``extrapolation_lengths``: the test lengths (published: 1-20 for ``prod`` trained on
    length 2; 1, 10, 100, 200, ..., 1000 for ``sum`` trained on length 10). ``valid_size``: the images
    at the end of MNIST-train used for validation (default: the reference's 5000 of 60,000, the same
    twelfth of a smaller set). ``drop_last``: drop each epoch's incomplete last batch (the reference
    keeps it: ``DataLoader`` default). ``source``: where MNIST is (see :func:`find_mnist`; None:
    ``$NALM_MNIST_DIR``), resolved to an absolute path when the task is made, so a missing or
    unreadable source fails at once; ``"fixture"`` (or ``NALM_MNIST_DIR=fixture``) reads the generated
    :func:`fixture_data` instead, with no files (how CI runs the benchmark).

    The trainer's Task protocol: :meth:`train_batch` gives images ``[S, B, T, 1, 28, 28]`` and
    targets ``[S, B, T]`` (every step is scored, as the reference's ``cumsum``/``cumprod`` tasks);
    :meth:`evaluation_set` serves ``"interpolation"`` (validation, training length) and
    ``"extrapolation"`` (test, the longest test length); the reference's forks by name and length are
    :meth:`sequence_set`.
    """

    op: Op
    length: int = 10
    extrapolation_lengths: tuple[int, ...] = (1, 10, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
    digits: tuple[int, ...] | None = None
    valid_size: int | None = None
    drop_last: bool = False
    source: str | None = None

    #: What the trainer and the benchmark read (the Task protocol of :mod:`nalm.tasks._base`).
    name: ClassVar[str] = "sequential_mnist"
    #: Success is judged per test length against the suite's reference runs, after training
    #: (:mod:`nalm.training.sequential_mnist`); the trainer's single threshold is a placeholder.
    default_threshold_policy: ClassVar[str] = "reference_runs"
    #: nalm's formula read-out reads feed-forward chains of units, not a CNN in front of a cell.
    formula_readout: ClassVar[bool] = False
    #: measured after training and stored per run: the test MSE at every test length
    #: (nalm.training.evaluation.RUN_METRICS)
    run_metrics: ClassVar[tuple[str, ...]] = ("sequential_mnist_lengths", "trask")

    def __post_init__(self) -> None:
        if self.op not in ("sum", "prod"):
            raise ConfigError(
                f"op: expected 'sum' or 'prod' (the reference's cumsum, cumprod), got {self.op!r}")
        _check_int("length", self.length)
        lengths = self.extrapolation_lengths
        if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Iterable):
            raise ConfigError(f"extrapolation_lengths: expected a sequence of integers, got {lengths!r}")
        object.__setattr__(self, "extrapolation_lengths",
                           tuple(_check_int("extrapolation_lengths", n) for n in lengths))
        digits = self.digits
        if digits is None:
            digits = tuple(range(1, 10)) if self.op == "prod" else tuple(range(10))
        if isinstance(digits, (str, bytes)) or not isinstance(digits, Iterable):
            raise ConfigError(f"digits: expected a sequence of digits 0-9, got {digits!r}")
        digits = tuple(_check_int("digits", d, 0) for d in digits)
        if not digits or max(digits) > _MAX_LABEL or len(set(digits)) != len(digits):
            raise ConfigError(f"digits: expected distinct digits 0-9, at least one, got {list(digits)}")
        object.__setattr__(self, "digits", tuple(sorted(digits)))
        if self.valid_size is not None:
            _check_int("valid_size", self.valid_size)
        if not isinstance(self.drop_last, bool):
            raise ConfigError(f"drop_last: expected a bool, got {self.drop_last!r}")
        env = os.environ.get(ENV_VAR, "").strip()
        if self.source == FIXTURE or (self.source is None and env == FIXTURE):
            object.__setattr__(self, "source", FIXTURE)
        else:
            object.__setattr__(self, "source", str(find_mnist(self.source)))
        n_train = len(self.data.train_labels)
        if self.valid_size is None:
            # the reference's 5,000 of MNIST's 60,000; the same share of a smaller set
            object.__setattr__(self, "valid_size", max(1, n_train * VALID_SIZE // STANDARD_COUNTS["train"]))
        if self.valid_size >= n_train:
            raise ConfigError(f"valid_size: {self.valid_size:,} leaves no training images "
                              f"({self.source} has {n_train:,} in MNIST-train)")

    # --- the data -------------------------------------------------------------------------------

    @property
    def data(self) -> MnistData:
        """The MNIST arrays (loaded once, cached), or the generated fixture for ``source="fixture"``."""
        if self.source == FIXTURE:
            return fixture_data()
        return load_mnist(self.source)

    @property
    def in_features(self) -> int:
        """One 28x28 image per step (the network's CNN reads it)."""
        return IMAGE_SIZE * IMAGE_SIZE

    @property
    def out_features(self) -> int:
        """One output per step: the running sum or product."""
        return 1

    @property
    def test_length(self) -> int:
        """The test length the trainer logs as its ``extrapolation`` split: the longest of
        ``extrapolation_lengths`` (the others are measured after training, at each run's selected
        step: :func:`nalm.training.sequential_mnist.mse_by_test_length`)."""
        return max(self.extrapolation_lengths)

    def to_dict(self) -> dict[str, Any]:
        """The task's identity as plain JSON (a stored config): its settings and which data it reads —
        ``"fixture"``, or ``"mnist"`` with the file counts (not the path, which is the machine's)."""
        data = self.data
        where: dict[str, Any] = ({"data": FIXTURE} if self.source == FIXTURE else {
            "data": "mnist", "train_images": len(data.train_labels), "test_images": len(data.test_labels)})
        return {"op": self.op, "length": self.length, "extrapolation_lengths": list(self.extrapolation_lengths),
                "digits": list(self.digits or ()), "valid_size": self.valid_size, "drop_last": self.drop_last,
                **where}

    def check_dtype(self, dtype: Any) -> None:
        """:class:`ConfigError` unless ``dtype`` (a torch dtype or its name) is a floating-point type."""
        _check_dtype(getattr(torch, dtype, None) if isinstance(dtype, str) else dtype)

    @property
    def train_end(self) -> int:
        """Training images are MNIST-train[0:train_end], validation MNIST-train[train_end:]."""
        return len(self.data.train_labels) - self.valid_size

    def images(
        self, split: Literal["train", "test"], *, device: torch.device | str | None = None
    ) -> Tensor:
        """All normalised images of MNIST-train (``"train"``: the training and validation splits'
        indices point into it) or MNIST-test, float32 ``[N, 1, 28, 28]`` on ``device``; made once per
        device (cached)."""
        if split not in ("train", "test"):
            raise ConfigError(f"split: expected 'train' or 'test', got {split!r}")
        return _image_tensor(self.source or "", self.data, split, str(torch.device(device or "cpu")))

    def usable_indices(self, split: Literal["train", "valid", "test"]) -> np.ndarray:
        """Indices (into :meth:`images` of MNIST-train, or of MNIST-test for ``"test"``) of the split's
        images whose label is in ``digits``, in file order."""
        data = self.data
        if split == "train":
            lo, labels = 0, data.train_labels[: self.train_end]
        elif split == "valid":
            lo, labels = self.train_end, data.train_labels[self.train_end:]
        elif split == "test":
            lo, labels = 0, data.test_labels
        else:
            raise ConfigError(f"split: expected 'train', 'valid' or 'test', got {split!r}")
        return lo + np.flatnonzero(np.isin(labels, self.digits)).astype(np.int64)

    def _fork(self, split: Literal["train", "valid", "test"], fork_seed: int, length: int) -> np.ndarray:
        """The reference's fork: permute the usable indices with RandomState(fork_seed), cut into
        ``[N, length]`` (the incomplete rest dropped)."""
        usable = self.usable_indices(split)
        n = len(usable) // length
        if n == 0:
            raise ConfigError(f"length: {length} is longer than the {len(usable):,} usable {split} "
                              f"images of {self.source}")
        perm = np.random.RandomState(fork_seed).permutation(usable)
        return perm[: n * length].reshape(n, length)

    def labels(self, split: Literal["train", "test"]) -> np.ndarray:
        return self.data.labels(split)

    # --- training -------------------------------------------------------------------------------

    def train_sequences(self, seed: int) -> np.ndarray:
        """Run ``seed``'s training sequences ``[N, length]`` (indices into ``images("train")``): the
        reference's training fork, ``RandomState(RandomState(seed).randint(0, 2**32 - 1))``."""
        return _train_sequences(self, check_seed(seed))

    def steps_per_epoch(self, batch_size: int) -> int:
        """Batches per pass over the training sequences (the last one smaller unless ``drop_last``)."""
        b = _check_int("batch_size", batch_size)
        n = len(self.train_sequences(0))
        steps = n // b if self.drop_last else -(-n // b)
        if steps == 0:
            raise ConfigError(
                f"batch_size: {b} is more than the {n:,} training sequences and drop_last is set")
        return steps

    def batch_rows(self, step: int, batch_size: int) -> tuple[int, slice]:
        """(epoch, the slice of that epoch's sequence order) that step ``step`` trains on."""
        step = _check_int("step", step, 0)
        per_epoch = self.steps_per_epoch(batch_size)
        epoch, k = divmod(step, per_epoch)
        return epoch, slice(k * batch_size, (k + 1) * batch_size)

    def train_indices(self, seeds: Sequence[int], step: int, batch_size: int) -> Tensor:
        """Indices ``[S, b, length]`` (int64, CPU) into ``images("train")`` of each run's batch at
        ``step``: the runs' training sequences in the order of :func:`epoch_order` for the step's
        epoch, ``batch_size`` at a time (``b`` < ``batch_size`` for an epoch's last batch unless
        ``drop_last``). Run s's rows depend on (task, seeds[s], step) only."""
        seeds = tuple(check_seed(s) for s in seeds)
        if not seeds:
            raise ConfigError("seeds: expected at least one run seed")
        epoch, rows = self.batch_rows(step, batch_size)
        out = [self.train_sequences(s)[_epoch_order_cached(s, epoch, len(self.train_sequences(s)))[rows]]
               for s in seeds]
        return torch.from_numpy(np.stack(out))

    def train_batch(
        self,
        seeds: Sequence[int],
        step: int,
        batch_size: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Images ``[S, b, length, 1, 28, 28]`` and cumulative targets ``[S, b, length]`` of every
        run's batch at ``step`` (see :meth:`train_indices`)."""
        _check_dtype(dtype)
        idx = self.train_indices(seeds, step, batch_size)
        return self.gather(idx, "train", device=device, dtype=dtype)

    def gather(
        self,
        indices: Tensor | np.ndarray,
        split: Literal["train", "test"],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Images ``[..., length, 1, 28, 28]`` and cumulative targets ``[..., length]`` of index
        sequences ``[..., length]`` into ``images(split)`` (on ``device``, in ``dtype``)."""
        _check_dtype(dtype)
        idx = torch.tensor(indices) if isinstance(indices, np.ndarray) else indices  # (a copy: ours are read-only)
        idx = idx.to(torch.int64)
        images = self.images(split, device=device)
        x = images[idx.to(images.device)]
        t = cumulative_targets(self.op, self.labels(split)[idx.cpu().numpy()])
        return x.to(dtype), t.to(device=images.device, dtype=dtype)

    # --- fixed evaluation sets ------------------------------------------------------------------

    def evaluation_indices(self, split: EvalSplit, length: int | None = None) -> np.ndarray:
        """The fixed evaluation sequences ``[N, length]``: ``"train_full"`` (the training images,
        fork seed 62379872), ``"valid"`` (47430696) and ``"test"`` (88253339), each the reference's
        fork, the same for every run. ``length``: default the training length (give each of
        ``extrapolation_lengths`` for ``"test"``). Indices into ``images("train")``, or
        ``images("test")`` for ``"test"``."""
        if split not in FORK_SEEDS:
            raise ConfigError(f"split: expected one of {', '.join(FORK_SEEDS)}, got {split!r}")
        n = self.length if length is None else _check_int("length", length)
        return _evaluation_indices(self, split, n)

    def sequence_set(
        self,
        split: EvalSplit,
        length: int | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Images ``[1, N, length, 1, 28, 28]`` and targets ``[1, N, length]`` of a fixed evaluation
        set (see :meth:`evaluation_indices`); the leading 1 broadcasts over runs."""
        idx = self.evaluation_indices(split, length)[None]
        return self.gather(idx, "test" if split == "test" else "train", device=device, dtype=dtype)

    def evaluation_set(
        self,
        split: str,
        seeds: Sequence[int],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """The trainer's two logged splits (the Task protocol): ``"interpolation"`` is the validation
        fork at the training length (the reference selects a run's step on it, ``metric.valid.mse``),
        ``"extrapolation"`` the test fork at :attr:`test_length`. Images ``[1, N, T, 1, 28, 28]``
        (shared by the runs) and targets ``[S, N, T]`` (the same for every run, expanded)."""
        if split == "interpolation":
            x, t = self.sequence_set("valid", device=device, dtype=dtype)
        elif split == "extrapolation":
            x, t = self.sequence_set("test", self.test_length, device=device, dtype=dtype)
        else:
            raise ConfigError(f"split: expected 'interpolation' or 'extrapolation' (the reference's "
                              f"forks by name: sequence_set), got {split!r}")
        runs = len(seeds)
        if runs < 1:
            raise ConfigError("seeds: expected at least one run seed")
        return x, t.expand(runs, *t.shape[1:])


def _check_dtype(dtype: Any) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ConfigError(f"dtype: must be a floating-point torch dtype, got {dtype!r}")


@functools.lru_cache(maxsize=256)
def _train_sequences(task: SequentialMnistTask, seed: int) -> np.ndarray:
    fork_seed = int(np.random.RandomState(seed).randint(0, 2**32 - 1, dtype=np.int64))
    seq = task._fork("train", fork_seed, task.length)
    seq.setflags(write=False)
    return seq


@functools.lru_cache(maxsize=256)
def _epoch_order_cached(seed: int, epoch: int, n: int) -> np.ndarray:
    return epoch_order(seed, epoch, n)


@functools.lru_cache(maxsize=64)
def _evaluation_indices(task: SequentialMnistTask, split: EvalSplit, length: int) -> np.ndarray:
    fork_split: Literal["train", "valid", "test"] = "train" if split == "train_full" else split
    seq = task._fork(fork_split, FORK_SEEDS[split], length)
    seq.setflags(write=False)
    return seq
