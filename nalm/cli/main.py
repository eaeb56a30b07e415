"""``nalm`` entry point: one click group, each subcommand in its own module, imported lazily."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from nalm.errors import ConfigError

# subcommand name -> ("module:attribute" of a click.Command, one-line help for `nalm --help`).
# The one-line helps are written here so that `nalm --help` lists the commands without importing
# them (several import torch, which takes seconds); tests check each against its command.
_COMMANDS = {
    "demo": ("nalm.cli.demo:demo", "Reproduce the article's experiments (NAC: x1 + x2, NALU: x1 · x2)."),
    "task": ("nalm.cli.task:task", "Show a task: its inputs, sample rows and success threshold."),
    "train": ("nalm.cli.train:train", "Train many seeds of one cell at once; print the success rate."),
    "bench": ("nalm.cli.bench:bench", "Run a benchmark suite (or part of it) into a results database."),
    "report": ("nalm.cli.report:report", "Tables and plots of a results database beside published numbers."),
    "explain": ("nalm.cli.explain:explain", "The formula each stored run learned, and whether it is the target."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in _COMMANDS.items()])

    @staticmethod
    def _load(name: str) -> click.Command | None:
        entry = _COMMANDS.get(name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
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
