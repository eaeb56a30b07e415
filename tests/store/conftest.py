from __future__ import annotations

from collections.abc import Callable

import pytest
from .synth import synthetic_run

from nalm.results import RunResult


@pytest.fixture
def make_run() -> Callable[..., RunResult]:
    return synthetic_run
