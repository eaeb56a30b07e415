"""Sequential MNIST's data layer (nalm.tasks.mnist): the local loader and its one-line errors, the
generated digit fixture, the reference's splits, normalisation, forks and cumulative targets, and
the counter-based, batch-independent training order. Runs offline on the generated fixture."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nalm.errors import ConfigError
from nalm.tasks import mnist as M

N_TRAIN, N_TEST, VALID = 120, 60, 20


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return M.write_digit_fixture(tmp_path_factory.mktemp("mnist"), N_TRAIN, N_TEST)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(M.ENV_VAR, raising=False)


def _task(source: Path, op: str = "sum", length: int = 3, **kw: object) -> M.SequentialMnistTask:
    kw.setdefault("extrapolation_lengths", (1, 5))
    kw.setdefault("valid_size", VALID)
    return M.SequentialMnistTask(op, length=length, source=str(source), **kw)  # type: ignore[arg-type]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _one_line_error(path: Path | str | None, *needles: str) -> str:
    with pytest.raises(ConfigError) as info:
        M.load_mnist(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("MNIST: "), msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# --- the loader -------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["idx", "idx.gz", "npz"])
def test_the_fixture_round_trips_exactly_through_each_layout(tmp_path: Path, layout: str) -> None:
    M.write_digit_fixture(tmp_path, N_TRAIN, N_TEST, layout=layout)  # type: ignore[arg-type]
    data = M.load_mnist(tmp_path)
    want = M.digit_fixture(N_TRAIN, N_TEST)
    for split in ("train", "test"):
        assert np.array_equal(data.images(split), want.images(split))
        assert np.array_equal(data.labels(split), want.labels(split))
        assert data.images(split).dtype == np.uint8
    assert data.train_images.shape == (N_TRAIN, 28, 28) and data.test_labels.shape == (N_TEST,)
    assert not data.is_standard


def test_the_fixture_is_deterministic_and_pinned() -> None:
    data = M.digit_fixture(N_TRAIN, N_TEST)
    digest = hashlib.sha256()
    for a in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        digest.update(a.tobytes())
    # RandomState's stream never changes; a different digest means the fixture generator changed
    assert digest.hexdigest()[:16] == "fc7ba443fff2f290"
    assert sorted(np.bincount(data.train_labels).tolist()) == [12] * 10
    assert 0 < data.train_images.mean() < 128 and data.train_images.max() > 180


def test_write_idx_then_read_idx_gives_the_array_back(tmp_path: Path) -> None:
    rng = np.random.RandomState(1)
    images = rng.randint(0, 256, size=(3, 28, 28)).astype(np.uint8)
    labels = np.array([0, 9, 4], dtype=np.uint8)
    assert np.array_equal(M.read_idx(M.write_idx(tmp_path / "i", images), "images"), images)
    assert np.array_equal(M.read_idx(M.write_idx(tmp_path / "l.gz", labels), "labels"), labels)
    raw = (tmp_path / "i").read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03" and raw[4:16] == (3).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2


def test_search_order_explicit_path_then_env_var(tmp_path: Path, fixture_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    other = M.write_digit_fixture(tmp_path / "other", 30, 10, seed=5)
    monkeypatch.setenv(M.ENV_VAR, str(other))
    assert len(M.load_mnist().train_labels) == 30          # no path: the env var
    assert len(M.load_mnist(fixture_dir).train_labels) == N_TRAIN  # a path wins over it
    assert M.find_mnist() == other.resolve()
    monkeypatch.setenv(M.ENV_VAR, str(tmp_path / "nowhere"))
    _one_line_error(None, "nowhere", M.ENV_VAR)


def test_torchvision_layout_and_an_npz_file_are_found(tmp_path: Path, fixture_dir: Path) -> None:
    _copy(fixture_dir, tmp_path / "root" / "MNIST" / "raw")
    assert len(M.load_mnist(tmp_path / "root").train_labels) == N_TRAIN
    M.write_digit_fixture(tmp_path / "npz", layout="npz")
    assert len(M.load_mnist(tmp_path / "npz" / "mnist.npz").test_labels) == N_TEST


def test_no_source_says_how_to_give_one() -> None:
    msg = _one_line_error(None, M.ENV_VAR, "train-images-idx3-ubyte", "mnist.npz", "never downloads")
    assert len(msg) < 400


def _truncate(p: Path, keep: int) -> None:
    p.write_bytes(p.read_bytes()[:keep])


def _ungzip(d: Path) -> None:
    for gz in d.glob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()


IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


def _damage(d: Path, how: str) -> tuple[str, ...]:
    """Damage the fixture copy in ``d``; return what the one-line error must contain."""
    if how == "missing file":
        (d / "t10k-labels-idx1-ubyte.gz").unlink()
        return (str(d), "t10k-labels-idx1-ubyte[.gz]", "but not")
    if how == "empty directory":
        for f in d.iterdir():
            f.unlink()
        return (str(d), "no MNIST files")
    if how == "not gzip":
        (d / f"{IMAGES}.gz").write_bytes(b"this is not gzip data at all")
        return (f"{IMAGES}.gz", "not a valid gzip file")
    if how == "truncated gzip":
        _truncate(d / f"{IMAGES}.gz", 500)
        return (f"{IMAGES}.gz", "ends early")
    _ungzip(d)
    images, labels = d / IMAGES, d / LABELS
    if how == "truncated images":
        _truncate(images, 16 + 784 * 7 + 3)
        return (IMAGES, "truncated", "120 x 28 x 28 = 94,080", "5,491")
    if how == "truncated header":
        _truncate(images, 9)
        return (IMAGES, "truncated header")
    if how == "empty file":
        images.write_bytes(b"")
        return (IMAGES, "too short")
    if how == "wrong magic":  # a label file where the images should be
        images.write_bytes(labels.read_bytes())
        return (IMAGES, "bad magic number 0x00000801, expected 0x00000803")
    if how == "float data":
        raw = bytearray(images.read_bytes())
        raw[2] = 0x0D
        images.write_bytes(bytes(raw))
        return (IMAGES, "bad magic number 0x00000d03")
    if how == "wrong image size":
        raw = bytearray(images.read_bytes())
        raw[12:16] = (27).to_bytes(4, "big")
        images.write_bytes(bytes(raw))
        return (IMAGES, "28x27, expected 28x28")
    if how == "extra bytes":
        images.write_bytes(images.read_bytes() + b"\x00\x00")
        return (IMAGES, "2 bytes after")
    if how == "label out of range":
        raw = bytearray(labels.read_bytes())
        raw[8 + 17] = 10
        labels.write_bytes(bytes(raw))
        return (LABELS, "label 10 at index 17")
    if how == "count mismatch":
        M.write_idx(labels, np.zeros(N_TRAIN - 1, dtype=np.uint8))
        return (str(d), "120 train images but 119 train labels")
    raise AssertionError(how)


DAMAGE = ["missing file", "empty directory", "not gzip", "truncated gzip", "truncated images",
          "truncated header", "empty file", "wrong magic", "float data", "wrong image size", "extra bytes",
          "label out of range", "count mismatch"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_missing_or_corrupt_file_is_one_line_naming_it(tmp_path: Path, fixture_dir: Path, how: str) -> None:
    d = _copy(fixture_dir, tmp_path / "mnist")
    needles = _damage(d, how)
    _one_line_error(d, *needles)
    with pytest.raises(ConfigError):  # the task fails at once, when it is made
        _task(d)


@pytest.mark.parametrize("how", ["missing key", "wrong dtype", "wrong shape", "label out of range",
                                 "not a zip"])
def test_a_bad_npz_is_one_line_naming_it(tmp_path: Path, how: str) -> None:
    data = M.digit_fixture(30, 10)
    arrays = {"x_train": data.train_images, "y_train": data.train_labels,
              "x_test": data.test_images, "y_test": data.test_labels}
    p = tmp_path / "mnist.npz"
    if how == "missing key":
        del arrays["y_test"]
        needle = "missing array y_test"
    elif how == "wrong dtype":
        arrays["x_train"] = arrays["x_train"].astype(np.float32)
        needle = "x_train is float32 [30, 28, 28], expected uint8 [N, 28, 28]"
    elif how == "wrong shape":
        arrays["x_test"] = arrays["x_test"].reshape(10, 784)
        needle = "x_test is uint8 [10, 784]"
    elif how == "label out of range":
        arrays["y_train"] = arrays["y_train"].copy()
        arrays["y_train"][3] = 200
        needle = "label 200 at index 3"
    else:
        needle = "not a readable .npz file"
    if how == "not a zip":
        p.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    else:
        np.savez(p, **arrays)
    _one_line_error(p, "mnist.npz", needle)


def test_a_path_that_is_neither_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    _one_line_error(tmp_path / "notes.txt", "notes.txt", "expected a directory")
    _one_line_error(tmp_path / "absent", "absent", "no such file or directory")


def test_loading_is_cached_per_files(fixture_dir: Path) -> None:
    assert M.load_mnist(fixture_dir) is M.load_mnist(fixture_dir)
    assert not M.load_mnist(fixture_dir).train_images.flags.writeable


# --- the task -------------------------------------------------------------------------------------


def test_splits_follow_the_reference_cut(fixture_dir: Path) -> None:
    assert M.VALID_SIZE == 5000 and M.STANDARD_COUNTS == {"train": 60000, "test": 10000}
    task = _task(fixture_dir)
    assert task.train_end == N_TRAIN - VALID == 100
    assert task.usable_indices("train").tolist() == list(range(100))
    assert task.usable_indices("valid").tolist() == list(range(100, 120))
    assert task.usable_indices("test").tolist() == list(range(N_TEST))
    prod = _task(fixture_dir, "prod")
    assert prod.digits == tuple(range(1, 10)) and task.digits == tuple(range(10))
    labels = prod.data.train_labels
    usable = prod.usable_indices("valid")
    assert usable.min() >= 100 and (labels[usable] != 0).all()
    assert len(usable) == int((labels[100:] != 0).sum())


def test_images_are_normalised_as_torchvision_does(fixture_dir: Path) -> None:
    task = _task(fixture_dir)
    x = task.images("train")
    assert x.shape == (N_TRAIN, 1, 28, 28) and x.dtype == torch.float32
    u8 = task.data.train_images
    want = (torch.tensor(u8, dtype=torch.float32) / 255 - torch.tensor(0.1307)) / torch.tensor(0.3081)
    assert torch.equal(x[:, 0], want)
    # hand values: (0 - 0.1307) / 0.3081 and (1 - 0.1307) / 0.3081
    assert x.min().item() == pytest.approx(-0.4242129, abs=1e-6)
    black = torch.tensor(M.digit_fixture(1, 1).train_images * 0 + 255)
    assert M.normalize_images(black).max().item() == pytest.approx(2.8214867, abs=1e-6)
    assert task.images("test").shape == (N_TEST, 1, 28, 28)


def test_cumulative_targets_by_hand() -> None:
    z = np.array([[3, 1, 4, 1, 5], [9, 0, 2, 6, 5]])
    assert M.cumulative_targets("sum", z).tolist() == [[3, 4, 8, 9, 14], [9, 9, 11, 17, 22]]
    assert M.cumulative_targets("prod", z).tolist() == [[3, 3, 12, 12, 60], [9, 0, 0, 0, 0]]
    nines = M.cumulative_targets("prod", np.full(20, 9))
    assert nines.dtype == torch.float64 and nines[-1].item() == float(9**20)  # no int64 wrap-around


@pytest.mark.parametrize("op", ["sum", "prod"])
def test_targets_are_the_cumulative_op_of_the_sequence_labels(fixture_dir: Path, op: str) -> None:
    task = _task(fixture_dir, op, length=4)
    idx = task.train_indices([0, 1], step=0, batch_size=5)
    x, t = task.train_batch([0, 1], 0, 5)
    z = task.data.train_labels[idx.numpy()].astype(np.int64)
    want = np.cumsum(z, -1) if op == "sum" else np.cumprod(z, -1)
    assert t.tolist() == want.tolist() and t.dtype == torch.float32
    assert torch.equal(x, task.images("train")[idx])
    if op == "prod":
        assert (z > 0).all()


def test_forks_are_the_references(fixture_dir: Path) -> None:
    """The reference's fork restated: RandomState(seed).permutation of the split's usable indices
    (a list comprehension over the labels, relative to the split's start), cut into sequences."""

    def reference_fork(labels: np.ndarray, offset: int, digits: set[int], fork_seed: int, length: int):
        mapping = np.random.RandomState(fork_seed).permutation(
            [i for i, t in enumerate(labels) if t in digits])
        n = len(mapping) // length
        return np.array([[offset + mapping[j] for j in range(k * length, (k + 1) * length)] for k in range(n)])

    task = _task(fixture_dir, "prod", length=2)
    digits = set(task.digits)
    train_labels, test_labels = task.data.train_labels, task.data.test_labels
    for seed in (0, 1, 12345):
        fork_seed = np.random.RandomState(seed).randint(0, 2**32 - 1)  # the parent's first draw
        want = reference_fork(train_labels[:100], 0, digits, fork_seed, 2)
        assert np.array_equal(task.train_sequences(seed), want)
    assert np.array_equal(task.evaluation_indices("train_full"),
                          reference_fork(train_labels[:100], 0, digits, 62379872, 2))
    assert np.array_equal(task.evaluation_indices("valid"),
                          reference_fork(train_labels[100:], 100, digits, 47430696, 2))
    for length in (1, 5):
        assert np.array_equal(task.evaluation_indices("test", length),
                              reference_fork(test_labels, 0, digits, 88253339, length))


def test_evaluation_sets_are_fixed_and_broadcast_over_runs(fixture_dir: Path) -> None:
    task = _task(fixture_dir, length=3)
    x, t = task.sequence_set("valid")
    assert x.shape == (1, 20 // 3, 3, 1, 28, 28) and t.shape == (1, 20 // 3, 3)
    x, t = task.sequence_set("test", 5, dtype=torch.float64)
    assert x.shape == (1, N_TEST // 5, 5, 1, 28, 28) and x.dtype == t.dtype == torch.float64
    idx = task.evaluation_indices("test", 5)
    assert torch.equal(x[0], task.images("test")[torch.tensor(idx)].double())
    assert np.array_equal(_task(fixture_dir, length=3).evaluation_indices("valid"),
                          task.evaluation_indices("valid"))


def test_training_sequences_draw_without_replacement_and_an_epoch_covers_each_once(fixture_dir: Path) -> None:
    task = _task(fixture_dir, length=3)
    seq = task.train_sequences(4)
    assert seq.shape == (100 // 3, 3) and len(np.unique(seq)) == seq.size
    assert task.steps_per_epoch(8) == 5  # 33 sequences: 4 batches of 8 and one of 1
    seen = [task.train_indices([4], step, 8)[0] for step in range(5)]
    assert [len(b) for b in seen] == [8, 8, 8, 8, 1]
    rows = {tuple(r.tolist()) for b in seen for r in b}
    assert rows == {tuple(r) for r in seq.tolist()}
    next_epoch = torch.cat([task.train_indices([4], step, 8)[0] for step in range(5, 10)])
    assert not torch.equal(torch.cat(seen), next_epoch)  # reshuffled
    assert {tuple(r.tolist()) for r in next_epoch} == rows
    dropped = _task(fixture_dir, length=3, drop_last=True)
    assert dropped.steps_per_epoch(8) == 4 and dropped.batch_rows(4, 8) == (1, slice(0, 8))


def test_a_run_sees_the_same_batches_alone_or_beside_others(fixture_dir: Path) -> None:
    task = _task(fixture_dir, length=2)
    seeds = [3, 0, 77, 5]
    for step in (0, 7, 123):
        together = task.train_indices(seeds, step, 6)
        assert together.shape == (4, 6, 2) and together.dtype == torch.int64
        for s, seed in enumerate(seeds):
            assert torch.equal(together[s], task.train_indices([seed], step, 6)[0])
        assert torch.equal(together, task.train_indices(seeds, step, 6))  # deterministic
        assert not torch.equal(together[0], together[2])
    x, t = task.train_batch(seeds, 7, 6)
    assert x.shape == (4, 6, 2, 1, 28, 28) and t.shape == (4, 6, 2)
    x1, t1 = task.train_batch([77], 7, 6)
    assert torch.equal(x[2], x1[0]) and torch.equal(t[2], t1[0])


def test_the_epoch_order_is_a_pure_function_of_seed_and_epoch() -> None:
    a = M.epoch_order(3, 2, 1000)
    assert sorted(a.tolist()) == list(range(1000))
    assert np.array_equal(a, M.epoch_order(3, 2, 1000))
    assert not np.array_equal(a, M.epoch_order(3, 3, 1000))
    assert not np.array_equal(a, M.epoch_order(4, 2, 1000))
    assert a[:5].tolist() == [333, 580, 815, 289, 234]  # pinned: the definition must not drift


def test_the_source_comes_from_the_env_var_and_is_made_absolute(fixture_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(M.ENV_VAR, str(fixture_dir))
    task = M.SequentialMnistTask("sum", length=2, valid_size=VALID)
    assert task.source == str(fixture_dir.resolve())
    assert task == _task(fixture_dir, length=2, extrapolation_lengths=task.extrapolation_lengths)
    assert hash(task) == hash(_task(fixture_dir, length=2, extrapolation_lengths=task.extrapolation_lengths))


@pytest.mark.parametrize(("kw", "needle"), [
    ({"op": "div"}, "op: expected 'sum' or 'prod'"),
    ({"length": 0}, "length: expected an integer >= 1"),
    ({"digits": (1, 1)}, "digits: expected distinct digits"),
    ({"digits": (3, 10)}, "digits: expected distinct digits"),
    ({"digits": ()}, "digits: expected distinct digits"),
    ({"digits": "123"}, "digits: expected a sequence"),
    ({"extrapolation_lengths": (1, -2)}, "extrapolation_lengths: expected an integer >= 1"),
    ({"valid_size": 120}, "valid_size: 120 leaves no training images"),
    ({"drop_last": 1}, "drop_last: expected a bool"),
])
def test_bad_task_settings_are_one_line(fixture_dir: Path, kw: dict, needle: str) -> None:
    args = {"op": "sum", "length": 3, **kw}
    with pytest.raises(ConfigError, match=needle) as info:
        _task(fixture_dir, **args)
    assert "\n" not in str(info.value)


def test_bad_batch_requests_are_one_line(fixture_dir: Path) -> None:
    task = _task(fixture_dir, length=3)
    with pytest.raises(ConfigError, match="length: 101 is longer than the 100 usable train images"):
        _task(fixture_dir, length=101).train_sequences(0)
    with pytest.raises(ConfigError, match="batch_size"):
        task.train_indices([0], 0, 0)
    with pytest.raises(ConfigError, match="seeds: expected at least one"):
        task.train_indices([], 0, 4)
    with pytest.raises(ConfigError, match="seed"):
        task.train_indices([-1], 0, 4)
    with pytest.raises(ConfigError, match="step"):
        task.train_indices([0], -1, 4)
    with pytest.raises(ConfigError, match="split"):
        task.evaluation_indices("train")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dtype"):
        task.train_batch([0], 0, 4, dtype=torch.int64)
    with pytest.raises(ConfigError, match="drop_last is set"):
        _task(fixture_dir, length=3, drop_last=True).steps_per_epoch(34)
