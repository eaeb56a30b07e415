"""README.md: every ```python block runs (README examples are tests), it stays short, and it keeps
the two commands that CI and other tooling rely on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)

MAX_CHARACTERS = 12_000
MAIN_COMMAND = "python3 -m pip install torch==2.13.0 -e . && nalm demo"
TEST_COMMAND = 'python3 -m pip install torch==2.13.0 -e ".[dev]" && python3 -m pytest -n 2'


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, capsys) -> None:
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})
    if "# -12.0" in BLOCKS[index]:
        assert "-12.0" in capsys.readouterr().out.split()


def test_readme_has_examples() -> None:
    assert BLOCKS


def test_readme_is_short() -> None:
    assert len(TEXT) <= MAX_CHARACTERS, (
        f"README.md has {len(TEXT):,} characters (limit {MAX_CHARACTERS:,}); move detail to docs/"
    )


def test_readme_keeps_the_two_commands() -> None:
    lines = TEXT.splitlines()
    assert MAIN_COMMAND in lines
    assert TEST_COMMAND in lines


def test_ci_runs_the_readme_test_command() -> None:
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip("no .ci/run in this checkout")
    assert TEST_COMMAND in ci.read_text(encoding="utf-8").splitlines()


def test_readme_links_resolve() -> None:
    """Relative links (docs pages, anchors aside) point at files that exist."""
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", TEXT):
        assert (ROOT / target).exists(), f"README.md links to missing {target}"
