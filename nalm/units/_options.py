"""Small option-validation helper shared by the unit constructors (never used in ``forward``)."""

from __future__ import annotations

from typing import Any


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


#: Out-of-bounds handling of the clamped-weight units (NAU, NMU, NRU, NMRU, NAC•,NMU): ``"clip"``
#: projects W back into range after each step; ``"regularized"`` clamps W in the forward pass and
#: adds an ``"oob"`` penalty instead.
OOB_MODES: tuple[str, ...] = ("clip", "regularized")

#: The reference code spells the second mode ``"regualized"``; that spelling is accepted so that
#: configurations copied from it keep working, and is stored under the correct name.
_OOB_MODE_ALIASES = {"regualized": "regularized"}


def oob_mode_option(value: Any) -> str:
    """Validate an ``oob_mode`` option and return its canonical spelling."""
    value = _OOB_MODE_ALIASES.get(value, value) if isinstance(value, str) else value
    check_choice("oob_mode", value, OOB_MODES)
    return str(value)
