"""The trainer's CPU threads: one by default, restored afterwards, results independent of them."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import nalm
from nalm.tasks.rng import backend


class _ThreadSpy:
    """A hook that records the intra-op threads (torch and numba) seen inside the loop."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, int | None]] = set()

    def start(self, runs: int, iterations: int) -> None:
        pass

    def after_step(self, step: int, model: torch.nn.Module, context: object) -> None:
        numba_threads = None
        if backend._numba_module() is not None:
            import numba

            numba_threads = numba.get_num_threads()
        self.seen.add((torch.get_num_threads(), numba_threads))


def _train(threads: object, spy: _ThreadSpy | None = None) -> nalm.training.TrainOutput:
    task = nalm.SingleModuleTask("mul", interpolation_range=(1, 2), extrapolation_range=(2, 6))
    recipe = nalm.default_recipe("nmu", "mul", iterations=300)
    if spy is not None:
        recipe = dataclasses.replace(recipe, hooks=(spy,))
    kwargs = {} if threads == "default" else {"threads": threads}
    return nalm.train(nalm.ModelSpec(("nmu",), 2, 1), task, range(4), recipe, threshold=1e-5, **kwargs)


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_one_thread_inside_the_loop_by_default_and_restored_after(two_threads: None) -> None:
    spy = _ThreadSpy()
    _train("default", spy)
    assert {torch_threads for torch_threads, _ in spy.seen} == {1}
    assert all(n in (None, 1) for _, n in spy.seen)
    assert torch.get_num_threads() == 2


def test_threads_none_keeps_the_process_setting(two_threads: None) -> None:
    spy = _ThreadSpy()
    _train(None, spy)
    assert {torch_threads for torch_threads, _ in spy.seen} == {2}
    assert torch.get_num_threads() == 2


def test_results_of_a_small_cell_do_not_depend_on_the_threads(two_threads: None) -> None:
    one, two = _train(1), _train(2)
    for a, b in zip(one.runs, two.runs):
        assert a.curve.extrapolation_mse == b.curve.extrapolation_mse
        assert (a.solved, a.selected_step) == (b.solved, b.selected_step)


def test_bad_thread_count_is_refused() -> None:
    with pytest.raises(ValueError, match="threads must be at least 1"):
        _train(0)


def test_nalm_threads_sets_the_default(two_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NALM_THREADS", "2")
    spy = _ThreadSpy()
    _train("default", spy)
    assert {torch_threads for torch_threads, _ in spy.seen} == {2}
    monkeypatch.setenv("NALM_THREADS", "inherit")
    torch.set_num_threads(2)
    spy = _ThreadSpy()
    _train("default", spy)
    assert {torch_threads for torch_threads, _ in spy.seen} == {2}


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_nalm_threads_is_one_clear_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NALM_THREADS", value)
    with pytest.raises(nalm.ConfigError, match="NALM_THREADS: expected a positive integer or 'inherit'"):
        _train("default")
