"""``nalm`` entry point: one click group, each subcommand in its own module, imported lazily."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from nalm.errors import ConfigError

# subcommand name -> "module:attribute" of a click.Command
_COMMANDS = {
    "demo": "nalm.cli.demo:demo",
    "task": "nalm.cli.task:task",
    "train": "nalm.cli.train:train",
    "bench": "nalm.cli.bench:bench",
    "report": "nalm.cli.report:report",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in _COMMANDS if self._load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built yet
                return None
            raise
        command: click.Command = getattr(module, attr)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nalm")
def cli() -> None:
    """nalm: neural arithmetic units, their benchmarks and reports."""


def fail(message: str) -> None:
    """Print one error line and exit with status 2 (bad input)."""
    click.echo(f"nalm: error: {message}", err=True)
    sys.exit(2)


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="nalm", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("nalm: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # includes BadParameter, NoSuchOption, ...
        fail(exc.format_message().replace("\n", " "))
    except ConfigError as exc:
        fail(str(exc))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
