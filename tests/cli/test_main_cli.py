"""The ``nalm`` group: its help lists every command without importing them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nalm.cli import main as cli_main


def _modules_after(argv: list[str]) -> set[str]:
    code = (
        "import sys\nfrom nalm.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stderr.split())


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["task", "--help"],
                                  ["bench", "--help"], ["demo", "--help"]])
def test_help_does_not_import_torch(argv: list[str]) -> None:
    loaded = _modules_after(argv)
    assert "torch" not in loaded
    assert not {"numba", "scipy", "matplotlib"} & loaded


@pytest.mark.parametrize("name", list(cli_main._COMMANDS))
def test_listed_help_is_the_commands_own_summary(name: str) -> None:
    """The one-liners shown by ``nalm --help`` belong to commands that exist and load."""
    command = cli_main._LazyGroup._load(name)
    assert command is not None and command.name in (name, None) or command.name == name
    short = cli_main._COMMANDS[name][1]
    assert short.endswith(".") and len(short) <= 80


def test_group_help_lists_every_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "nalm.cli.main", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for name in cli_main._COMMANDS:
        assert f"  {name} " in proc.stdout
