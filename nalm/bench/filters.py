"""``--only`` filters: which cells of a suite run.

Filter syntax (``--only``): comma-separated terms that must all match. ``KEY=PATTERN`` with KEY one
of ``block``, ``model``, ``op``, ``range``, ``cell``; PATTERN is a shell-style glob (``*``, ``?``,
``[...]``), several alternatives separated by ``|``. ``model`` matches the model's key or its label
(``model=NAC+`` or ``model=NAC*(NMU)``... glob characters in a label must be bracketed: ``NAC[*]``).
A term without ``=`` is a glob over the cell id ``block/model/op[/range]``, e.g.
``--only 'main/NMU/*'`` or ``--only 'model=NMU|NAU,op=mul'``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Protocol

from nalm.errors import ConfigError

FILTER_KEYS = ("block", "model", "op", "range", "cell")


class CellKeys(Protocol):
    """What a filter looks at: a planned cell, or its keys before it is built."""

    @property
    def id(self) -> str: ...
    @property
    def block(self) -> str: ...
    @property
    def model_key(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def range(self) -> str | None: ...


@dataclass(frozen=True)
class FilterTerm:
    key: str  # one of FILTER_KEYS
    patterns: tuple[str, ...]

    def matches(self, cell: CellKeys) -> bool:
        values: tuple[str, ...]
        if self.key == "cell":
            values = (cell.id,)
        elif self.key == "block":
            values = (cell.block,)
        elif self.key == "model":
            values = (cell.model_key, cell.model)
        elif self.key == "op":
            values = (cell.op,)
        else:
            values = (cell.range,) if cell.range is not None else ()
        return any(fnmatch.fnmatchcase(v, p) for v in values for p in self.patterns)


def parse_filter(text: str | None) -> tuple[FilterTerm, ...]:
    """Parse ``--only`` (see the module docstring). Raises :class:`ConfigError` naming ``--only``."""
    if text is None:
        return ()
    if not text.strip():
        raise ConfigError("--only: empty filter")
    terms = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            raise ConfigError(f"--only: empty term in {text!r}")
        if "=" in raw:
            key, _, value = raw.partition("=")
            key = key.strip()
            if key not in FILTER_KEYS:
                raise ConfigError(
                    f"--only: unknown key {key!r} in {raw!r} (keys: {', '.join(FILTER_KEYS)}; "
                    "a term without '=' is a glob over cell ids)"
                )
        else:
            key, value = "cell", raw
        patterns = tuple(p.strip() for p in value.split("|"))
        if not all(patterns):
            raise ConfigError(f"--only: empty pattern in {raw!r}")
        terms.append(FilterTerm(key, patterns))
    return tuple(terms)
