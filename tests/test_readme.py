"""Every ```python block in README.md runs (README examples are tests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, capsys) -> None:
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})
    if "# -12.0" in BLOCKS[index]:
        assert "-12.0" in capsys.readouterr().out.split()


def test_readme_has_examples() -> None:
    assert BLOCKS
