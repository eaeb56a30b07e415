"""Every third-party module the package imports is a default dependency, so that every ``nalm``
command works after a plain ``pip install nalm`` (the README's first command)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# import name -> distribution name, where they differ
_DISTRIBUTION = {"yaml": "pyyaml"}


def _guards_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names):
            return True
    return False


def _import_names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return {node.module.split(".")[0]}
    return set()


def _imports(optional: bool) -> set[str]:
    """Top-level modules imported by nalm: required ones, or (``optional``) those imported only
    inside ``try: ... except ImportError`` (features that switch themselves off)."""
    required: set[str] = set()
    guarded: set[str] = set()
    for path in (ROOT / "nalm").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        guarded_nodes = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.Try) and _guards_import_error(node)
            for stmt in node.body
            for inner in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            (guarded if id(node) in guarded_nodes else required).update(_import_names(node))
    return guarded - required if optional else required


def _imported_top_level_modules() -> set[str]:
    return _imports(optional=False)


def _default_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}


def test_every_third_party_import_is_a_default_dependency() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    third_party = {m for m in _imported_top_level_modules() if m not in stdlib and m != "nalm"}
    missing = {_DISTRIBUTION.get(m, m) for m in third_party} - _default_dependencies()
    assert not missing, f"imported by nalm but not in [project] dependencies: {sorted(missing)}"


def test_the_scan_sees_the_heavy_imports() -> None:
    """Guards the test above against scanning nothing, and lists the optional imports on purpose."""
    assert {"torch", "numpy", "numba", "scipy", "pydantic", "click"} <= _imported_top_level_modules()
    # Parquet output of `nalm report` appears when pandas and pyarrow are installed; the Ray executor
    # when Ray is (the `ray` extra).
    assert _imports(optional=True) - set(sys.stdlib_module_names) == {"pandas", "pyarrow", "ray"}
