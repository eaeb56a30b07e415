"""train_batches: several (task, seeds) parts' batches concatenated, drawing shared inputs once."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from nalm.tasks import SingleModuleTask, StaticArithmeticTask, train_batches
from nalm.tasks.static import TrainStream

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


def test_draws_the_inputs_of_tasks_differing_only_in_op_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []
    original = TrainStream.draw

    def counting(self: TrainStream, step: int, batch_size: int):  # type: ignore[no-untyped-def]
        calls.append(self.seeds)
        return original(self, step, batch_size)

    monkeypatch.setattr(TrainStream, "draw", counting)
    train_batches(PARTS, 3, 8)
    # ADD/mul/root share one draw; the other range, other seeds, other geometry and seed 7 draw their
    # own; Negated draws through ADD.train_batch (one more draw of ADD's stream)
    assert sorted(calls) == sorted([(0, 1, 2), (0, 1, 2), (2, 1), (5,), (7,), (0, 1, 2)])


def test_one_part_is_that_task_s_batch() -> None:
    x, y = train_batches([(ADD, (4, 5))], 2, 8)
    xa, ya = ADD.train_batch((4, 5), 2, 8)
    assert torch.equal(x, xa) and torch.equal(y, ya)


def test_single_range_tasks_are_drawn_in_one_call_off_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the torch backend draws (a GPU), single-range static tasks of one geometry share one
    call with per-run ranges; each run's values are still those of its task drawn alone (here by
    the numba backend: the backends agree bit for bit)."""
    from nalm.tasks import primer_task, static
    from nalm.tasks.counter_rng import UniformStream

    monkeypatch.setattr(static, "numba_available", lambda: False)  # as on a GPU
    parts = [
        (primer_task("mul", "1_2"), (0, 1, 2)),
        (primer_task("mul", "neg2_neg1"), (0, 1, 2)),
        (primer_task("add", "neg2_2"), (3,)),
        (primer_task("sub", "1_2"), (0, 1, 2)),  # same inputs as the first part: no extra runs drawn
        (primer_task("mul", "10_20", input_size=10), (4, 5)),  # 10 inputs: drawn alone below
        (StaticArithmeticTask("add", input_size=2, subset_ratio=0.5, overlap_ratio=0.0,
                              interpolation_range=((-2.0, -1.0), (1.0, 2.0))), (6,)),  # a union: own call
    ]
    calls: list[int] = []
    original = UniformStream.__call__

    def counting(self: UniformStream, step: int, rows: int):  # type: ignore[no-untyped-def]
        calls.append(len(self.keys))
        return original(self, step, rows)

    for dtype in (torch.float32, torch.float64):
        monkeypatch.setattr(UniformStream, "__call__", counting)
        calls.clear()
        x, y = train_batches(parts[:4] + parts[5:], 9, 8, dtype=dtype)
        assert sorted(calls) == [1, 7]  # 3 + 3 + 1 runs in one call, the union alone
        monkeypatch.setattr(UniformStream, "__call__", original)
        alone = [task.train_batch(seeds, 9, 8, dtype=dtype) for task, seeds in parts[:4] + parts[5:]]
        assert torch.equal(x, torch.cat([a for a, _ in alone]))
        assert torch.equal(y, torch.cat([b for _, b in alone]))
    x, y = train_batches(parts[4:5], 2, 8)  # a 10-input part alone
    assert torch.equal(x, parts[4][0].train_batch((4, 5), 2, 8)[0])


def test_a_prepared_grouped_stream_draws_every_step_like_each_task() -> None:
    from nalm.tasks import GroupedTrainStream

    stream = GroupedTrainStream(PARTS, dtype=torch.float64)
    for step in (0, 5, 6):
        x, y = stream(step, 4)
        alone = [task.train_batch(seeds, step, 4, dtype=torch.float64) for task, seeds in PARTS]
        assert torch.equal(x, torch.cat([a for a, _ in alone]))
        assert torch.equal(y, torch.cat([b for _, b in alone]))
