"""Small option-validation helper shared by the unit constructors (never used in ``forward``)."""

from __future__ import annotations

from typing import Any


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
