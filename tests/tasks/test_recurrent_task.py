"""The recurrent arithmetic task: the reference's evaluation sets, a per-run training stream, its
threshold from the ε-perturbed recurrent solution, and its checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nalm.errors import ConfigError
from nalm.metrics import threshold_estimate
from nalm.metrics.recurrent_threshold import perturbed_recurrent_errors
from nalm.tasks.recurrent import RECURRENT_SPLITS, RecurrentArithmeticTask


def test_defaults_are_the_experiment_scripts() -> None:
    task = RecurrentArithmeticTask("mul")
    assert (task.input_size, task.seq_length, task.extrapolation_length) == (10, 10, 100)
    assert task.template == ((0, 2), (1, 3))  # subsets of 2 overlapping by 1
    assert task.interpolation_range == ((1.0, 2.0),) and task.extrapolation_range == ((2.0, 6.0),)
    # the offset is the static generator's: the first draw of RandomState(seed)
    offset = int(np.random.RandomState(5).randint(0, 10 - 3 + 1))
    assert task.subsets(5) == ((offset, offset + 2), (offset + 1, offset + 3))
    assert task.split_setting("extrapolation") == (100, ((1.0, 2.0),), 8689336)
    assert task.split_setting("range_extrapolation") == (10, ((2.0, 6.0),), 23946)
    assert task.split_setting("sequence_validation") == (20, ((1.0, 2.0),), 2389231)


@pytest.mark.parametrize("split", RECURRENT_SPLITS)
def test_evaluation_sets_are_the_references_first_batch(split: str) -> None:
    """The reference's fork: RandomState(seed).uniform(lo, hi, (1000, T, I)); targets its own sums."""
    task = RecurrentArithmeticTask("sub")
    length, spec, seed = task.split_setting(split)
    (lo, hi), = spec
    x = np.random.RandomState(seed).uniform(low=lo, high=hi, size=(1000, length, 10))
    (a0, a1), (b0, b1) = task.subsets(7)
    target = np.sum(x[..., a0:a1], axis=(1, 2)) - np.sum(x[..., b0:b1], axis=(1, 2))
    assert np.array_equal(task.evaluation_inputs(split), x)
    assert np.array_equal(task.evaluation_targets(split, 7), target)
    xs, ys = task.evaluation_set(split, [7, 8])
    assert xs.shape == (1, 1000, length, 10) and ys.shape == (2, 1000, 1)
    assert torch.equal(ys[0, :, 0], torch.from_numpy(target).float())


def test_training_batches_are_per_run_and_hold_the_target_of_their_inputs() -> None:
    task = RecurrentArithmeticTask("mul")
    seeds = [3, 0, 9]
    x, y = task.train_batch(seeds, 17, 32, dtype=torch.float64)
    assert x.shape == (3, 32, 10, 10) and y.shape == (3, 32, 1)
    assert float(x.min()) >= 1.0 and float(x.max()) <= 2.0
    for index, seed in enumerate(seeds):
        alone_x, alone_y = task.train_batch([seed], 17, 32, dtype=torch.float64)
        assert torch.equal(alone_x[0], x[index]) and torch.equal(alone_y[0], y[index])
        (a0, a1), (b0, b1) = task.subsets(seed)
        want = x[index][..., a0:a1].sum(dim=(1, 2)) * x[index][..., b0:b1].sum(dim=(1, 2))
        torch.testing.assert_close(y[index, :, 0], want, rtol=1e-14, atol=0)
    other_x, _ = task.train_batch(seeds, 18, 32, dtype=torch.float64)
    assert not torch.equal(other_x, x)


def test_invalid_settings_are_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="seq_length"):
        RecurrentArithmeticTask("add", seq_length=0)
    with pytest.raises(ConfigError, match="op"):
        RecurrentArithmeticTask("pow")
    with pytest.raises(ConfigError, match="subset_ratio"):
        RecurrentArithmeticTask("add", input_size=2, subset_ratio=0.25)
    with pytest.raises(ConfigError, match="split"):
        RecurrentArithmeticTask("add").evaluation_set("test", [0])
    # × over 10⁶ steps of U[1e17, 2e17]: the float32 loss overflows; float64 holds it
    task = RecurrentArithmeticTask("mul", interpolation_range=(1e17, 2e17), extrapolation_range=(2e17, 6e17))
    with pytest.raises(ConfigError, match="float32"):
        task.check_dtype("float32")


def test_perturbed_solution_of_add_matches_its_closed_form() -> None:
    """For + the error of the perturbed recurrence is linear in the inputs, so its mean square has a
    closed form: E[e²] = (μ Σc)² + σ² Σc² with c the weight of each input; the Monte Carlo estimate
    must agree within a few standard errors."""
    task = RecurrentArithmeticTask("add")
    eps, T, n = 1e-5, task.extrapolation_length, task.input_size
    for policy, subsets in (("generator", [(0, 2), (1, 3)]), ("madsen_r", [(0, 3), (1, 4)])):
        c = np.zeros((T, n))
        for t in range(T):
            decay = (1 - eps) ** (T - 1 - t)
            for start, end in subsets:
                member = np.zeros(n)
                member[start:end] = 1
                weight = np.where(member == 1, 1 - eps, eps) * decay
                c[t] += weight - member
        mu, var = 1.5, 1 / 12
        expected = (mu * c.sum()) ** 2 + var * np.square(c).sum()
        est = threshold_estimate(task, policy)
        assert est.samples == 100_000
        assert abs(est.value - expected) < 4 * est.stderr, (policy, est.value, expected, est.stderr)


def test_perturbed_errors_vanish_without_perturbation() -> None:
    sums = np.random.default_rng(0).uniform(1, 2, size=(50, 7, 2))
    total = sums.sum(axis=2) + 3.0
    for op in ("add", "sub", "mul"):
        assert np.all(perturbed_recurrent_errors(op, 0.0, sums, total) == 0)
        assert np.all(perturbed_recurrent_errors(op, 1e-5, sums, total) > 0)


def test_threshold_policies_of_the_recurrent_task() -> None:
    task = RecurrentArithmeticTask("mul")
    assert threshold_estimate(task).policy == "madsen_r"
    assert threshold_estimate(task, "fixed_1e-5").value == 1e-5
    for policy in ("published", "simulated_eps_1e-5", "gold_nru"):
        with pytest.raises(ConfigError, match="threshold_policy"):
            threshold_estimate(task, policy, samples=2)
    # deterministic: the same value on a second call with another cache key
    a = threshold_estimate(task, "generator", samples=5_000)
    b = threshold_estimate(task, "generator", samples=5_000, eps=1e-5 * (1 + 1e-16))
    assert a.value == pytest.approx(b.value, rel=1e-9)
