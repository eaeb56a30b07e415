"""What the trainer refuses before it allocates: learning rates and tasks the dtype cannot hold,
models whose parameters outgrow memory; and the time estimate of a long call."""

from __future__ import annotations

import math

import pytest
import torch

from nalm.errors import ConfigError
from nalm.tasks.static import SingleModuleTask, StaticArithmeticTask
from nalm.training import ModelSpec, OptimizerSpec, TrainRecipe, train
from nalm.training.estimate import estimate_train_seconds
from nalm.training.runs import check_batch_fits, machine_memory_bytes

SPEC = ModelSpec(("nau",), 2, 1)


def task(interp: tuple[float, float] = (1.0, 2.0), extrap: tuple[float, float] = (2.0, 6.0),
         op: str = "add") -> SingleModuleTask:
    return SingleModuleTask(op, input_size=2, subset_ratio=0.5, overlap_ratio=0.0,
                            interpolation_range=interp, extrapolation_range=extrap)


def recipe(lr: float = 1e-2, iterations: int = 20) -> TrainRecipe:
    return TrainRecipe(iterations=iterations, batch_size=16, eval_every=10,
                       optimizer=OptimizerSpec("adam", lr))


def test_learning_rate_must_be_finite_in_the_runs_dtype() -> None:
    with pytest.raises(ConfigError, match=r"lr: 1e\+300 is beyond float32's largest number"):
        train(SPEC, task(), [0], recipe(lr=1e300), threshold=1e-5)
    out = train(SPEC, task(), [0], recipe(lr=1e300), threshold=1e-5, dtype=torch.float64)
    assert len(out.runs) == 1  # float64 holds 1e300: the run trains (and reports what it did)
    OptimizerSpec("adam", (1e-3, 1e39)).check_dtype(torch.float64)
    with pytest.raises(ConfigError, match="lr: 1e\\+39"):
        OptimizerSpec("adam", (1e-3, 1e39)).check_dtype(torch.float32)


def test_a_task_the_dtype_cannot_hold_is_refused_by_the_trainer() -> None:
    big = task((1e30, 2e30), (2e30, 6e30), op="mul")
    with pytest.raises(ConfigError, match="interpolation_range: .*overflows float32"):
        train(SPEC, big, [0], recipe(), threshold=1e-5)
    out = train(SPEC, big, [0], recipe(), threshold=1e-5, dtype=torch.float64)
    assert math.isfinite(out.runs[0].interpolation_mse)


def test_parameter_values_are_counted_without_allocating() -> None:
    spec = ModelSpec(("nau", "nmu"), 100, 1, hidden=2)
    assert spec.parameter_values() == sum(p.numel() for p in spec.build(0).parameters()) == 202
    huge = ModelSpec(("nau", "nmu"), 100, 1, hidden=10**9)
    assert huge.parameter_values() == 101 * 10**9  # on the meta device: no memory used


def test_a_model_that_cannot_fit_is_refused_with_its_parameter_count() -> None:
    total = machine_memory_bytes(torch.device("cpu"))
    assert total is not None
    spec = ModelSpec(("nau", "nmu"), 100, 1, hidden=total // (2 * 4 * 101) + 1)
    check_batch_fits(2, 100, 128, torch.float32)  # the inputs alone fit
    with pytest.raises(ConfigError, match="parameters per run need at least"):
        check_batch_fits(1, 100, 128, torch.float32, spec=spec)
    with pytest.raises(ConfigError, match="batch too large"):  # before a network is built
        train(spec, StaticArithmeticTask("add"), [0], recipe(), threshold=1.0)


def test_estimate_is_positive_and_grows_with_the_iterations() -> None:
    short = estimate_train_seconds(SPEC, task(), [0, 1], recipe(iterations=100), probe=(5, 30))
    long = estimate_train_seconds(SPEC, task(), [0, 1], recipe(iterations=10**9), probe=(5, 30))
    assert 0 < short < long < math.inf
    with pytest.raises(ValueError, match="probe"):
        estimate_train_seconds(SPEC, task(), [0], recipe(), probe=(30, 5))
