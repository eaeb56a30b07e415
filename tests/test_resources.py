"""nalm.resources: the numbers in a refusal, and when it refuses."""

from __future__ import annotations

import pytest

from nalm.errors import ConfigError
from nalm.metrics import threshold_estimate
from nalm.resources import (
    TooLongError,
    check_duration,
    check_host_memory,
    format_bytes,
    format_duration,
    host_memory_bytes,
)
from nalm.tasks.static import StaticArithmeticTask


def test_formatting() -> None:
    assert format_bytes(512) == "512 bytes"
    assert format_bytes(3 * 2**20) == "3.0 MiB"
    assert format_bytes(1.5 * 2**30) == "1.5 GiB"
    assert format_bytes(8 * 2**40) == "8.0 TiB"
    assert format_duration(12.34) == "12.3 s"
    assert format_duration(600) == "10.0 min"
    assert format_duration(2 * 3600) == "2.0 h"
    assert format_duration(5 * 86400) == "5.0 days"
    assert format_duration(3e12) == "9.5e+04 years"


def test_memory_check_uses_this_machines_memory() -> None:
    total = host_memory_bytes()
    assert total is not None and total > 2**28
    check_host_memory(total, "exactly all", "n/a")  # a lower bound equal to the memory passes
    with pytest.raises(ConfigError, match=r"^the thing needs at least .* but this machine has .*; less"):
        check_host_memory(total + 1, "the thing", "less")


def test_duration_check() -> None:
    check_duration(1e9, "work", "n/a", None)  # no limit: asked for explicitly
    check_duration(10.0, "work", "n/a", 10.0)
    with pytest.raises(TooLongError, match=r"^work would take about 11.6 days here, more than 10.0 min; less"):
        check_duration(1e6, "work", "less", 600)
    assert issubclass(TooLongError, ConfigError)


def test_evaluation_set_beyond_memory_is_refused_before_allocating() -> None:
    task = StaticArithmeticTask("add", input_size=100_000_000)  # constructing it is cheap
    with pytest.raises(ConfigError, match=r"input_size: the interpolation set \(10,000 rows × 100,000,000"):
        task.evaluation_inputs("interpolation")


def test_monte_carlo_time_projection() -> None:
    task = StaticArithmeticTask("add")
    with pytest.raises(TooLongError, match=r"samples: 1,000,000,000,000 Monte Carlo samples .* would take"):
        threshold_estimate(task, "generator", samples=10**12, max_seconds=600)
    # the same request without a limit is not refused up front (not run here: it takes days), and a
    # normal one under a limit runs
    est = threshold_estimate(task, "generator", samples=50_000, max_seconds=600)
    assert est.samples == 50_000
