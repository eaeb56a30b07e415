"""Click parameter types shared by the commands: ranges, unit lists, operations.

Parsing lives here; what a valid range or unit is stays the library's (``normalize_range``, the unit
registry), called at conversion time so that ``--help`` never loads torch.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import click

from nalm.errors import ConfigError
from nalm.tasks.ops import OPS

#: ``--op`` of the commands that build a static or single-module task.
OP = click.Choice(OPS)


def parse_range(text: str, name: str = "range") -> tuple[tuple[float, float], ...]:
    """Parse ``LO,HI`` or ``LO,HI:LO,HI`` into a tuple of float pairs (validation is the task's)."""
    members = []
    for part in text.split(":"):
        p = part.strip().removeprefix("U").strip()
        if p.startswith("[") and p.endswith("]"):
            p = p[1:-1]
        bounds = [b.strip() for b in p.split(",")]
        if len(bounds) != 2 or not all(bounds):
            raise click.BadParameter(
                f"expected LO,HI or LO,HI:LO,HI (a union), got {text!r}", param_hint=name
            )
        try:
            lo, hi = float(bounds[0]), float(bounds[1])
        except ValueError:
            raise click.BadParameter(f"bounds must be numbers, got {text!r}", param_hint=name) from None
        members.append((lo, hi))
    return tuple(members)


def _hint(param: click.Parameter | None) -> str:
    return param.opts[0] if param is not None and param.opts else "range"


class RangeParam(click.ParamType):
    """``LO,HI`` or a union of two equal-width ranges ``LO,HI:LO,HI``; brackets optional."""

    name = "LO,HI"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        hint = _hint(param)
        try:
            members = parse_range(str(value), hint)
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)
        from nalm.tasks.ranges import normalize_range  # (torch-free)

        try:
            return normalize_range(members, hint)
        except ConfigError as exc:
            self.fail(str(exc).removeprefix(f"{hint}: "), param, ctx)


class UnitList(click.ParamType):
    """Comma-separated unit names, one per layer: ``nmu`` or ``nau,nmu``."""

    name = "UNIT[,UNIT]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        names = tuple(n.strip() for n in str(value).split(","))
        if not all(names):
            self.fail(f"expected unit names separated by commas, got {value!r}", param, ctx)
        # The names are checked against the registry by check_units, in the command: the registry
        # imports torch (~0.8 s), which `nalm train` imports only after starting the data kernel's
        # background compile (docs/performance.md, "First call after an install").
        return names


def check_units(names: tuple[str, ...] | None, option: str = "--units") -> None:
    """One-line error (exit 2) for a name in ``names`` that is not a registered unit."""
    if names is None:
        return
    from nalm.units import available_units

    known = available_units()
    for n in names:
        if n not in known:
            raise click.BadParameter(f"unknown unit {n!r}; available: {', '.join(known)}", param_hint=f"'{option}'")


RANGE = RangeParam()
UNITS = UnitList()


#: ``--backend`` of the commands that train (``--compile`` and ``--cuda-graph`` are its aliases).
BACKEND = click.Choice(["eager", "compile", "cuda_graph"])


def chosen_backend(backend: str | None, compile_step: bool, cuda_graph: bool, device: str) -> str:
    """The backend ``--backend`` or its alias flags name (``eager`` when none); one-line errors for
    contradictions and for ``cuda_graph`` without a CUDA device."""
    if cuda_graph and compile_step:
        raise ConfigError("--cuda-graph: cannot be combined with --compile; choose one")
    alias = "cuda_graph" if cuda_graph else "compile" if compile_step else None
    if backend is not None and alias is not None and alias != backend:
        raise ConfigError(f"--backend: {backend} contradicts --{alias.replace('_', '-')}")
    chosen = backend or alias or "eager"
    if chosen == "cuda_graph" and not device.startswith("cuda"):
        raise ConfigError("--cuda-graph: needs a CUDA --device")
    return chosen


class DeviceParam(click.ParamType):
    """A torch device name nalm trains on: ``cpu`` or ``cuda`` / ``cuda:N``."""

    name = "DEVICE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip()
        if text in ("cpu", "cpu:0"):  # the default, without importing torch (see UnitList)
            return "cpu"
        import torch

        try:
            device = torch.device(text)
        except (RuntimeError, ValueError):
            self.fail(f"{text!r} is not a device; use cpu, cuda or cuda:N", param, ctx)
        if device.type == "cpu":
            if device.index not in (None, 0):
                self.fail(f"{text!r}: the CPU is one device (cpu or cpu:0)", param, ctx)
            return "cpu"
        if device.type != "cuda":
            self.fail(f"{text!r}: nalm trains on cpu or cuda, not {device.type}", param, ctx)
        return text  # whether this machine has it: check_device, once the options agree


def check_device(device: str) -> None:
    """One-line error unless this machine has ``device`` (a value :data:`DEVICE` accepted)."""
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"--device: {device} requested but CUDA is not available")
    count = torch.cuda.device_count()
    index = torch.device(device).index
    if index is not None and index >= count:
        raise ConfigError(f"--device: {device}: this machine has {count} CUDA device(s)")


DEVICE = DeviceParam()


#: Library field names and the options that set them, so that an error raised by the library (the
#: one place that validates a concept) names what the user typed.
_OPTION_OF_FIELD = {
    "interpolation_range": "--interp",
    "extrapolation_range": "--extrap",
    "input_size": "--input-size",
    "subset_ratio": "--subset-ratio",
    "overlap_ratio": "--overlap-ratio",
    "num_subsets": "--num-subsets",
    "lr": "--lr",
    "samples": "--mc-samples",
    "eps": "--eps",
    "seed": "--seed",
}


def in_option_terms(exc: ConfigError) -> ConfigError:
    """``exc`` with a leading library field name (``interpolation_range: …``) replaced by its option."""
    field, sep, rest = str(exc).partition(": ")
    option = _OPTION_OF_FIELD.get(field)
    return ConfigError(f"{option}: {rest}") if sep and option else exc


F = TypeVar("F", bound=Callable[..., Any])


def errors_in_option_terms(command: F) -> F:
    """A command body whose library errors name the command's options (:func:`in_option_terms`)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            raise in_option_terms(exc) from None

    return wrapper  # type: ignore[return-value]


#: ``--long`` of the commands that can start work for hours or days.
LONG_HELP = (
    "Allow work estimated to run longer than 10 minutes (or beyond the protocol's own "
    "iterations); without it such a request is refused with its estimated time."
)
