"""Lazy exports (PEP 562) for nalm's packages: a public name imports the module that defines it on
first access, so importing a package loads nothing heavy (torch, numba, pydantic, sympy) until one of
its names is used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` (call it from the package's ``__init__``).

    ``exports`` maps each public name to the module defining it, absolute or relative to ``package``;
    ``submodules`` are also reachable as attributes. A resolved name is stored in the package's
    namespace, so later lookups skip ``__getattr__``."""
    namespace = vars(sys.modules[package])
    subs = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in subs:
            return importlib.import_module(f"{package}.{name}")
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports) | subs)

    return __getattr__, __dir__
