"""What several test packages share: running the `nalm` CLI in this process.

Importable as ``tests.support`` (pytest's ``pythonpath`` puts the repository root on ``sys.path``).
"""

from __future__ import annotations

from typing import Any


def run_in_process(capsys: Any, *args: str) -> tuple[int, str, str]:
    """``nalm ARGS`` in this process (no interpreter start-up): exit code, stdout, stderr."""
    from nalm.cli.main import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
