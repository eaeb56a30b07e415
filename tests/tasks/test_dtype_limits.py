"""Ranges and targets a dtype can hold: the tasks' ``check_dtype`` and the operations' bounds."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nalm.errors import ConfigError
from nalm.tasks import check_task_dtype
from nalm.tasks.ops import OPERATIONS, operation
from nalm.tasks.ranges import (
    check_loss_scale,
    check_representable,
    dtype_limits,
    format_fraction,
    sum_magnitude,
)
from nalm.tasks.static import SingleModuleTask, StaticArithmeticTask


def single(op: str, interp: object, extrap: object = (2.0, 6.0)) -> SingleModuleTask:
    return SingleModuleTask(op, input_size=2, subset_ratio=0.5, overlap_ratio=0.0,
                            interpolation_range=interp, extrapolation_range=extrap)


def test_dtype_limits_by_name_numpy_and_torch_dtype() -> None:
    import torch

    assert dtype_limits("float32") == dtype_limits(np.float32) == dtype_limits(torch.float32)
    name, largest, smallest = dtype_limits(torch.float64)
    assert name == "float64" and largest == np.finfo(np.float64).max
    assert smallest == np.finfo(np.float64).tiny
    with pytest.raises(ConfigError, match="dtype: expected one of"):
        dtype_limits("int32")


def test_sum_magnitude_is_exact() -> None:
    assert sum_magnitude(((1.0, 2.0),), 25) == (Fraction(25), Fraction(50))
    assert sum_magnitude(((-1.0, 2.0),), 3) == (Fraction(0), Fraction(6))
    # a union: sums of 2 inputs from [-6,-2] ∪ [2,6] lie in [-12,-4] ∪ [-4,4] ∪ [4,12]; 0 is reachable
    assert sum_magnitude(((-6.0, -2.0), (2.0, 6.0)), 2) == (Fraction(0), Fraction(12))
    assert sum_magnitude(((-6.0, -2.0), (2.0, 6.0)), 1) == (Fraction(2), Fraction(6))


def test_format_fraction_beyond_float64() -> None:
    assert format_fraction(Fraction(3, 2)) == "1.5"
    assert format_fraction(Fraction(289) * Fraction(10) ** 614) == "2.89e+616"


@pytest.mark.parametrize(
    ("spec", "dtype", "needle"),
    [
        (((1e-320, 2e-320),), "float64", "below float64's smallest normal number"),
        (((1e-40, 2e-40),), "float32", "below float32's smallest normal number"),
        (((1e39, 2e39),), "float32", "beyond float32's largest number"),
    ],
)
def test_bounds_must_be_normal_and_finite(spec: tuple, dtype: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        check_representable(spec, "interpolation_range", dtype)


def test_zero_and_normal_bounds_pass() -> None:
    check_representable(((0.0, 1e-30),), "r", "float32")
    check_representable(((-1e38, 0.0),), "r", "float32")


def test_loss_scale_limits() -> None:
    check_loss_scale(None, "t", "r", "float32")  # unbounded targets are accepted on purpose
    check_loss_scale(Fraction(0), "t", "r", "float32")
    check_loss_scale(Fraction(10**19), "t", "r", "float32")  # 1e38 < 3.4e38
    with pytest.raises(ConfigError, match="overflows float32 .*or dtype float64"):
        check_loss_scale(Fraction(2 * 10**19), "t", "r", "float32")
    with pytest.raises(ConfigError, match="below float32's smallest normal"):
        check_loss_scale(Fraction(1, 10**20), "t", "r", "float32")


def test_the_issue_cases_at_construction() -> None:
    """Targets are computed in float64 whatever the run's dtype: checked when the task is built."""
    with pytest.raises(ConfigError, match=r"interpolation_range: \|target\| of 'mul' .* reaches 2.89e\+616"):
        single("mul", (1e308, 1.7e308))
    with pytest.raises(ConfigError, match="interpolation_range: bound .* below float64's smallest normal"):
        single("mul", (1e-320, 2e-320))
    with pytest.raises(ConfigError, match="extrapolation_range: .*'add'"):
        StaticArithmeticTask("add", extrapolation_range=(1e153, 2e153))


def test_float32_needs_room_that_float64_has() -> None:
    task = single("mul", (1e30, 2e30), (2e30, 6e30))  # fine in float64
    task.check_dtype("float64")
    check_task_dtype(task, "float64")
    with pytest.raises(ConfigError, match="interpolation_range: .* reaches 4e\\+60; its square"):
        check_task_dtype(task, "float32")
    addition = single("add", (1e18, 2e18), (2e18, 6e18))
    addition.check_dtype("float32")  # |target| <= 1.2e19, squared 1.4e38 < 3.4e38
    with pytest.raises(ConfigError, match="overflows float32"):
        single("add", (1e19, 2e19), (2e19, 6e19)).check_dtype("float32")


def test_every_packaged_task_shape_fits_float32() -> None:
    """The papers' ranges are nowhere near the limits: the check never refuses a protocol."""
    from nalm.tasks.presets import PRIMER_RANGES

    for op in OPERATIONS:
        StaticArithmeticTask(op).check_dtype("float32")
        for name, pair in PRIMER_RANGES.items():
            try:
                task = single(op, pair.interpolation, pair.extrapolation)
            except ConfigError as exc:  # a zero denominator or root of negatives: not a dtype matter
                assert "dtype" not in str(exc) and "normal" not in str(exc), (name, exc)
                continue
            task.check_dtype("float32")


def test_tasks_without_check_accept_every_dtype() -> None:
    check_task_dtype(object(), "float16")


def test_zero_denominator_targets_are_unbounded_and_not_checked() -> None:
    task = SingleModuleTask("div", input_size=2, subset_ratio=0.5, overlap_ratio=0.0,
                            interpolation_range=(-2.0, 2.0), extrapolation_range=(2.0, 6.0),
                            allow_zero_denominator=True)
    task.check_dtype("float32")
    assert operation("div").bound([(Fraction(0), Fraction(2)), (Fraction(0), Fraction(2))]) is None


_bounds = st.floats(min_value=-50.0, max_value=50.0, allow_nan=False, allow_infinity=False,
                    allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(sorted(OPERATIONS)), lo=_bounds, width=st.floats(0.01, 20.0),
       input_size=st.integers(2, 12), subset_ratio=st.sampled_from([0.25, 0.5]))
def test_bound_covers_every_evaluation_target(
    op: str, lo: float, width: float, input_size: int, subset_ratio: float
) -> None:
    """The bound the check relies on is an upper bound of |target| on the task's own data."""
    hi = lo + width
    try:
        task = StaticArithmeticTask(
            op, input_size=input_size, subset_ratio=subset_ratio, overlap_ratio=0.5,
            interpolation_range=(lo, hi), extrapolation_range=(lo, hi), eval_samples=500,
        )
    except ConfigError:
        return  # outside the op's domain (root of negatives, division by a range around 0)
    sizes = [end - start for start, end in task.template]
    used = sizes if operation(op).arity is None else sizes[: operation(op).arity]
    bound = operation(op).bound([sum_magnitude(task.interpolation_range, m) for m in used])
    assert bound is not None
    targets = task.evaluation_targets("interpolation", seed=0)
    assert float(np.abs(targets).max()) <= float(bound) * (1 + 1e-12)
