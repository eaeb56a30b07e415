"""The iNALU experiment-1 task: distributions, fixed sets, batches, targets, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from nalm.bench.build import task_from_config
from nalm.bench.config import task_json
from nalm.errors import ConfigError
from nalm.tasks.inalu_data import (
    INALUArithmeticTask,
    distribution_label,
    normalize_distribution,
    sample_distribution,
)

TN = ("truncated_normal", -3.0, 3.0)


def _z(sample: np.ndarray, mean: float, var: float) -> float:
    """How many standard errors the sample mean lies from ``mean``."""
    return abs(sample.mean() - mean) / math.sqrt(var / sample.size)


@pytest.mark.parametrize("lo,hi", [(-3.0, 3.0), (-2.0, 4.0), (8.0, 10.0)])
def test_truncated_normal_bounds_and_moments_match_scipy(lo: float, hi: float) -> None:
    task = INALUArithmeticTask("add", ("truncated_normal", lo, hi), ("truncated_normal", 8.0, 10.0))
    x = np.concatenate([task.inputs("train", s).ravel() for s in (100, 101, 102)])  # 384,000 values
    assert x.min() >= lo and x.max() <= hi
    mean, sd = (lo + hi) / 2, (hi - lo) / 6
    ref = stats.truncnorm(-3, 3, loc=mean, scale=sd)  # what the reference samples from
    assert _z(x, ref.mean(), ref.var()) < 4
    # variance: its standard error is sqrt((μ4 − σ⁴)/n); 4 of them is a wide but failing-capable band
    m4 = ref.moment(4) - 4 * ref.mean() * ref.moment(3) + 6 * ref.mean() ** 2 * ref.moment(2) - 3 * ref.mean() ** 4
    assert abs(x.var() - ref.var()) < 4 * math.sqrt((m4 - ref.var() ** 2) / x.size)
    # the whole shape: Kolmogorov-Smirnov distance against scipy's CDF
    assert stats.kstest(x, ref.cdf).statistic < 1.63 / math.sqrt(x.size) * 1.5
    # the truncation is visible: an untruncated N(mean, sd) puts 0.27 % outside; here none are, and
    # the variance is the truncated one (0.9733 σ²), not σ²
    assert abs(x.var() / sd**2 - 0.9733) < 0.01


def test_uniform_and_exponential_moments() -> None:
    u = INALUArithmeticTask("add", ("uniform", -5, 5), ("uniform", -10, -5))
    x = np.concatenate([u.inputs("train", s).ravel() for s in (100, 101)])
    assert x.min() >= -5 and x.max() < 5
    assert _z(x, 0.0, 100 / 12) < 4
    assert stats.kstest(x, stats.uniform(-5, 10).cdf).statistic < 2.5 / math.sqrt(x.size)
    ext = u.inputs("extrapolation", 100)
    assert ext.min() >= -10 and ext.max() < -5

    e = INALUArithmeticTask("mul", ("exponential", 0.2), ("exponential", 0.5))
    x = np.concatenate([e.inputs("train", s).ravel() for s in (100, 101)])
    assert x.min() >= 0
    assert _z(x, 0.2, 0.04) < 4
    assert stats.kstest(x, stats.expon(scale=0.2).cdf).statistic < 2.5 / math.sqrt(x.size)
    y = e.inputs("extrapolation", 100).ravel()
    assert _z(y, 0.5, 0.25) < 4


def test_inverse_cdf_at_the_ends() -> None:
    u = np.array([0.0, 0.5, 1 - 2.0**-53])
    tn = sample_distribution(("truncated_normal", 8.0, 10.0), u)
    assert tn[0] == 8.0 and tn[1] == pytest.approx(9.0) and tn[2] <= 10.0
    assert sample_distribution(("exponential", 2.0), np.array([0.0]))[0] == 0.0


def test_fixed_sets_are_a_pure_function_of_config_seed_and_split() -> None:
    a = INALUArithmeticTask("mul", TN, ("truncated_normal", 8, 10))
    b = INALUArithmeticTask("div", TN, ("truncated_normal", 8, 10))  # another op: same inputs
    np.testing.assert_array_equal(a.inputs("train", 100), b.inputs("train", 100))
    _fixed_set_cache_clear()
    again = INALUArithmeticTask("mul", TN, ("truncated_normal", 8, 10)).inputs("train", 100)
    np.testing.assert_array_equal(a.inputs("train", 100), again)  # recomputed, not only cached
    assert not np.array_equal(a.inputs("train", 100), a.inputs("train", 101))
    assert not np.array_equal(a.inputs("train", 100), a.inputs("interpolation", 100))
    assert a.inputs("train", 100).shape == (64_000, 2)
    with pytest.raises(ValueError):
        a.inputs("train", 100)[0, 0] = 1.0  # read-only


def _fixed_set_cache_clear() -> None:
    from nalm.tasks import inalu_data

    inalu_data._fixed_set.cache_clear()
    inalu_data._stacked.cache_clear()


def test_batches_walk_the_fixed_set_in_order_every_epoch() -> None:
    task = INALUArithmeticTask("sub", TN, ("truncated_normal", 8, 10))
    train = task.inputs("train", 104)
    for step in (0, 1, 999, 1000, 1003, 99_999):
        x, y = task.train_batch([104], step, 64, dtype=torch.float64)
        b = step % 1000
        rows = train[64 * b : 64 * (b + 1)]
        np.testing.assert_array_equal(x[0].numpy(), rows)
        np.testing.assert_array_equal(y[0, :, 0].numpy(), rows[:, 0] - rows[:, 1])
    # a run's batch does not depend on the runs beside it
    alone, _ = task.train_batch([104], 37, 64)
    together, _ = task.train_batch([100, 104, 109], 37, 64)
    assert torch.equal(alone[0], together[1])
    with pytest.raises(ConfigError, match="does not divide"):
        task.train_batch([104], 0, 48)


@pytest.mark.parametrize("op,fn", [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.divide)])
def test_targets_in_float64_then_cast(op: str, fn) -> None:
    task = INALUArithmeticTask(op, ("uniform", -1, 1), ("uniform", -10, -5))
    x, y = task.evaluation_set("extrapolation", [100, 101])
    assert x.shape == (2, 64_000, 2) and y.shape == (2, 64_000, 1) and y.dtype == torch.float32
    raw = task.inputs("extrapolation", 101)
    np.testing.assert_array_equal(y[1, :, 0].numpy(), fn(raw[:, 0], raw[:, 1]).astype(np.float32))
    np.testing.assert_array_equal(x[1].numpy(), raw.astype(np.float32))


def test_config_round_trip_and_labels() -> None:
    task = INALUArithmeticTask("div", ["exponential", 0.8], ["exponential", 0.5])
    again = task_from_config({"task": task_json("inalu_arith", task)})
    assert again == task and hash(again) == hash(task)
    assert task.label() == "train=Exp(scale=0.8) extrap=Exp(scale=0.5)"
    assert distribution_label(("truncated_normal", -3.0, 3.0)) == "TN(-3..3)"
    assert distribution_label(("uniform", -10.0, -5.0)) == "U(-10..-5)"


@pytest.mark.parametrize("value,match", [
    (("normal", 0, 1), "unknown distribution"),
    (("uniform", 1, 1), "lo < hi"),
    (("exponential", 0), "positive"),
    (("exponential", 1, 2), "1 parameter"),
    (("truncated_normal", -3, math.inf), "finite"),
    ([0, 1], "expected"),
])
def test_bad_distributions_are_refused(value, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        normalize_distribution(value, "interpolation")


def test_bad_task_fields_are_refused() -> None:
    with pytest.raises(ConfigError, match="op"):
        INALUArithmeticTask("pow")
    with pytest.raises(ConfigError, match="samples"):
        INALUArithmeticTask("add", samples=0)
