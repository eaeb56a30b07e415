"""The documentation site builds in strict mode (broken links, missing pages, griffe warnings on the
API pages all fail), the way CI builds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")
pytest.importorskip("material")


def test_docs_build_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "api" / "training" / "index.html").exists()


def test_figures_referenced_by_the_docs_exist() -> None:
    """docs/make_figures.sh writes these; the benchmarks page shows them."""
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name in ("madsen2020-intro-learning-curves.png", "madsen2020-intro-extrapolation-mse.png",
                 "primer2022-mul-success-heatmap.png", "primer2022-mul-extrapolation-mse.png"):
        assert f"img/{name}" in text
        assert (ROOT / "docs" / "img" / name).is_file()
