"""train_batches: several (task, seeds) parts' batches concatenated, drawing shared inputs once."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from nalm.tasks import SingleModuleTask, StaticArithmeticTask, train_batches
from nalm.tasks import streams
from nalm.tasks.rng import UniformStream
from nalm.tasks.rng import backend as rng_backend

ADD = StaticArithmeticTask("add", input_size=10, eval_samples=100)


class Negated:
    """Not a static task (any Task): drawn through its own train_batch."""

    in_features, out_features = 10, 1

    def train_batch(self, seeds, step, batch_size, *, device=None, dtype=torch.float32):  # type: ignore[no-untyped-def]
        x, y = ADD.train_batch(seeds, step, batch_size, device=device, dtype=dtype)
        return x, -y


PARTS = [
    (ADD, (0, 1, 2)),
    (dataclasses.replace(ADD, op="mul"), (0, 1, 2)),  # shares ADD's draw
    (dataclasses.replace(ADD, op="root"), (0, 1, 2)),  # shares it too
    (dataclasses.replace(ADD, op="div", interpolation_range=(2.0, 3.0)), (0, 1, 2)),  # other range
    (dataclasses.replace(ADD, op="sub"), (2, 1)),  # other seeds
    (SingleModuleTask("mul", input_size=10, subset_ratio=0.1), (5,)),  # other geometry
    (ADD, (7,)),
    (Negated(), (0, 1, 2)),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("step", [0, 17])
def test_equals_each_part_drawn_alone_bit_for_bit(dtype: torch.dtype, step: int) -> None:
    x, y = train_batches(PARTS, step, 16, dtype=dtype)
    alone = [task.train_batch(seeds, step, 16, dtype=dtype) for task, seeds in PARTS]
    assert torch.equal(x, torch.cat([a for a, _ in alone]))
    assert torch.equal(y, torch.cat([b for _, b in alone]))
    assert x.dtype == y.dtype == dtype and x.shape == (19, 16, 10) and y.shape == (19, 16, 1)


def _count_draws(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Runs drawn by every stream call from now on."""
    calls: list[int] = []
    original = UniformStream.__call__

    def counting(self: UniformStream, step: int, rows: int):  # type: ignore[no-untyped-def]
        calls.append(len(self.keys))
        return original(self, step, rows)

    monkeypatch.setattr(UniformStream, "__call__", counting)
    return calls


def test_shared_inputs_are_drawn_once_and_one_geometry_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_draws(monkeypatch)
    train_batches(PARTS, 3, 8)
    # One call for the 10-input tasks of ADD's geometry: ADD/mul/root (3 runs, drawn once), the other
    # range (3), the other seeds (2) and seed 7 (1); the one-element-subset task its own (1);
    # Negated draws through ADD.train_batch (3).
    assert sorted(calls) == [1, 3, 9]


def test_one_part_is_that_task_s_batch() -> None:
    x, y = train_batches([(ADD, (4, 5))], 2, 8)
    xa, ya = ADD.train_batch((4, 5), 2, 8)
    assert torch.equal(x, xa) and torch.equal(y, ya)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_primer_ranges_are_drawn_in_one_call(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """Single-range static tasks of one geometry share one call with per-run ranges (numba on the
    CPU; the torch backend, as on a GPU, forced here); each run's values are still those of its task
    drawn alone (by the numba backend: the backends agree bit for bit)."""
    from nalm.tasks import primer_task

    if backend == "numba" and not rng_backend.numba_available():
        pytest.skip("numba not installed")

    def use_backend() -> None:
        # Streams are cached by task, seeds, device and dtype (not backend): start from empty caches.
        streams._cached_stream.cache_clear()
        streams._merged_stream.cache_clear()
        if backend == "torch":
            monkeypatch.setattr(rng_backend, "numba_available", lambda: False)

    use_backend()
    parts = [
        (primer_task("mul", "1_2"), (0, 1, 2)),
        (primer_task("mul", "neg2_neg1"), (0, 1, 2)),
        (primer_task("add", "neg2_2"), (3,)),
        (primer_task("sub", "1_2"), (0, 1, 2)),  # same inputs as the first part: no extra runs drawn
        (StaticArithmeticTask("add", input_size=2, subset_ratio=0.5, overlap_ratio=0.0,
                              interpolation_range=((-2.0, -1.0), (1.0, 2.0))), (6,)),  # a union: own call
    ]
    for dtype in (torch.float32, torch.float64):
        calls = _count_draws(monkeypatch)
        x, y = train_batches(parts, 9, 8, dtype=dtype)
        assert sorted(calls) == [1, 7]  # 3 + 3 + 1 runs in one call, the union alone
        monkeypatch.undo()
        streams._cached_stream.cache_clear()
        alone = [task.train_batch(seeds, 9, 8, dtype=dtype) for task, seeds in parts]  # numba
        assert torch.equal(x, torch.cat([a for a, _ in alone]))
        assert torch.equal(y, torch.cat([b for _, b in alone]))
        use_backend()
    monkeypatch.undo()
    streams._cached_stream.cache_clear()
    streams._merged_stream.cache_clear()


def test_a_prepared_grouped_stream_draws_every_step_like_each_task() -> None:
    from nalm.tasks import GroupedTrainStream

    stream = GroupedTrainStream(PARTS, dtype=torch.float64)
    for step in (0, 5, 6):
        x, y = stream(step, 4)
        alone = [task.train_batch(seeds, step, 4, dtype=torch.float64) for task, seeds in PARTS]
        assert torch.equal(x, torch.cat([a for a, _ in alone]))
        assert torch.equal(y, torch.cat([b for _, b in alone]))


@pytest.mark.parametrize("parts", [PARTS, [(ADD, (0, 1, 2))], [(ADD, (0, 1)), (dataclasses.replace(ADD, interpolation_range=((2.0, 3.0),)), (4,))]])
def test_a_stream_that_reuses_its_buffers_draws_the_same_batches(parts) -> None:
    from nalm.tasks import GroupedTrainStream

    fresh = GroupedTrainStream(parts)
    reusing = GroupedTrainStream(parts, reuse_output=True)
    previous = None
    for step in (0, 1, 9):
        x, y = reusing(step, 4)
        want_x, want_y = fresh(step, 4)
        assert torch.equal(x, want_x) and torch.equal(y, want_y)
        if previous is not None and len(parts) == 1 and rng_backend.numba_available():
            # The contract: a batch is valid until the next call (the same memory is refilled).
            assert previous.data_ptr() == x.data_ptr()
        previous = x
    # The shared cache behind train_batch is not the reusing stream's: its batches stay intact.
    task, seeds = parts[0]
    held = task.train_batch(seeds, 0, 4)[0]
    copy = held.clone()
    reusing(1, 4)
    assert torch.equal(held, copy)
