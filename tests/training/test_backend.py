"""``backend=`` chooses how the one update runs; ``compile``/``cuda_graph`` are its aliases."""

from __future__ import annotations

import pytest
import torch

from nalm.errors import ConfigError
from nalm.training import TrainRecipe, OptimizerSpec, train
from nalm.training.update import resolve_backend

from .helpers import SPEC, SeededTask


@pytest.mark.parametrize(
    "args,expected",
    [
        ((None, False, False), ("eager", None)),
        (("eager", False, False), ("eager", None)),
        ((None, True, False), ("compile", "inductor")),
        ((None, "aot_eager", False), ("compile", "aot_eager")),
        (("compile", True, False), ("compile", "inductor")),
        ((None, False, True), ("cuda_graph", None)),
        (("cuda_graph", False, True), ("cuda_graph", None)),
    ],
)
def test_aliases_resolve_to_one_backend(args, expected) -> None:
    assert resolve_backend(*args) == expected


@pytest.mark.parametrize(
    "args,needle",
    [
        (("eager", True, False), "contradicts"),
        (("compile", False, True), "contradicts"),
        ((None, True, True), "cannot be combined"),
        (("graph", False, False), "expected one of eager, compile, cuda_graph"),
    ],
)
def test_contradictions_are_config_errors(args, needle) -> None:
    with pytest.raises(ConfigError, match=needle):
        resolve_backend(*args)


def test_cuda_graph_backend_needs_cuda() -> None:
    recipe = TrainRecipe(iterations=10, batch_size=4, eval_every=5, optimizer=OptimizerSpec("adam", 1e-2))
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        train(SPEC, SeededTask(), [0], recipe, threshold=1.0, device="cpu", backend="cuda_graph")


def test_eager_backend_is_the_default() -> None:
    recipe = TrainRecipe(iterations=200, batch_size=8, eval_every=100, optimizer=OptimizerSpec("adam", 1e-2))
    a = train(SPEC, SeededTask(), [0, 1], recipe, threshold=1.0, dtype=torch.float64)
    b = train(SPEC, SeededTask(), [0, 1], recipe, threshold=1.0, dtype=torch.float64, backend="eager")
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)


def test_a_batch_that_cannot_fit_is_refused_before_anything_is_allocated() -> None:
    from nalm.training.runs import check_batch_fits, machine_memory_bytes

    total = machine_memory_bytes(torch.device("cpu"))
    assert total is not None and total > 2**28
    runs = total // (128 * 4 * 4) + 1  # one more run than 4 inputs of float32 at batch 128 fit
    with pytest.raises(ConfigError, match="batch too large"):
        check_batch_fits(runs, 4, 128, torch.float32)
    check_batch_fits(1000, 4, 128, torch.float32)  # a normal batch passes
    recipe = TrainRecipe(iterations=10, batch_size=128, eval_every=5, optimizer=OptimizerSpec("adam", 1e-2))
    with pytest.raises(ConfigError, match="batch too large"):
        train(SPEC, SeededTask(), range(runs), recipe, threshold=1.0)  # a range: no tuple is built
