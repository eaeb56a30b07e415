from __future__ import annotations

from pathlib import Path

import pytest
from .synth import build


@pytest.fixture(scope="session")
def synthetic_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once; tests only read it."""
    return build(tmp_path_factory.mktemp("db") / "nalm-results.db")
