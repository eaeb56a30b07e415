"""What this machine can hold and how long work may take: the one place that turns a request's size
into a refusal with the numbers, before anything is allocated or started.

Torch-free: tasks, metrics, the trainer and the CLI all use it. Device memory (a GPU's) is the
trainer's concern (:func:`nalm.training.runs.machine_memory_bytes`); this module knows the host.
"""

from __future__ import annotations

import os

from nalm.errors import ConfigError

#: Work a command starts without being asked explicitly (``--long``): longer requests are refused
#: with their estimated time.
DEFAULT_TIME_LIMIT_S = 600.0


class TooLongError(ConfigError):
    """Work estimated to run longer than the caller's limit (a command then offers ``--long``)."""


def host_memory_bytes() -> int | None:
    """Physical memory of this machine, or None when the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def format_bytes(n: float) -> str:
    """``1.5 GiB``, ``14,901.2 GiB``, ``7.3 TiB``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def format_duration(seconds: float) -> str:
    """``12.3 s``, ``4.5 min``, ``2.0 h``, ``3.1 days``, ``2.4e+06 years``."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    if seconds < 1000 * 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / (365.25 * 86400):.2g} years"


def check_host_memory(needed_bytes: float, what: str, advice: str) -> None:
    """:class:`ConfigError` when ``what`` needs more than this machine's memory (``needed_bytes`` is
    a lower bound the caller computed from the request's sizes, so nothing that fits is refused)."""
    total = host_memory_bytes()
    if total is not None and needed_bytes > total:
        raise ConfigError(
            f"{what} needs at least {format_bytes(needed_bytes)}, but this machine has "
            f"{format_bytes(total)}; {advice}"
        )


def check_duration(estimated_s: float, what: str, advice: str, limit_s: float | None) -> None:
    """:class:`TooLongError` when ``what`` is estimated to take longer than ``limit_s`` (None: no
    limit, the user asked for long work explicitly)."""
    if limit_s is not None and estimated_s > limit_s:
        raise TooLongError(
            f"{what} would take about {format_duration(estimated_s)} here, more than "
            f"{format_duration(limit_s)}; {advice}"
        )
