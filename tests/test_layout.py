"""The package's layers: who may import whom, no import cycle, and which modules stay torch-free.

Data flows one way: units -> tasks -> training -> metrics -> store -> report -> bench -> cli. This
test reads every module's imports (at any depth, so a lazy import inside a function counts too).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nalm"

# area -> the other nalm areas it may import (errors, results, stats, policies, resources and _lazy,
# the packages' lazy exports, are leaves any may use)
_LEAVES = {"errors", "results", "stats", "policies", "resources", "_lazy"}
ALLOWED = {
    "units": set(),
    "functional": {"units"},
    "tasks": set(),
    "metrics": {"tasks", "units"},
    "training": {"tasks", "units", "metrics"},
    "formula": {"tasks", "units"},  # the formula read-out (nalm.explain): sympy lives here only
    "demo": {"tasks", "training", "formula"},
    "published": set(),
    "store": {"nalm"},  # the version string
    "report": {"store", "published"},
    "bench": {"units", "tasks", "training", "metrics", "published", "store", "formula"},
    "cli": {"units", "tasks", "training", "metrics", "demo", "store", "report", "bench", "published",
            "formula"},
    "__init__": {"units", "tasks", "training", "metrics", "formula"},
    **{leaf: set() for leaf in _LEAVES},
}
# modules that must never load torch (the CLI's light paths, the store and the report)
TORCH_FREE = (
    "store", "report", "results", "stats", "errors", "policies", "published", "resources",
    "tasks/ops.py", "tasks/ranges.py",
)
# modules on the CLI's --help path: no torch at import time (a value's conversion may load it)
TORCH_FREE_AT_IMPORT = ("cli/main.py", "cli/options.py", "cli/explain.py")
# the only area that imports sympy (the report reads stored formula outcomes, never computes one)
SYMPY_AREAS = ("formula",)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Absolute names of the modules ``path`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_areas_import_only_the_layers_below_them() -> None:
    wrong: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        area = _area(_module_name(path))
        for target in _imports(path):
            if target.split(".")[0] != "nalm":
                continue
            other = "nalm" if target == "nalm" or _area(target).startswith("__") else _area(target)
            if other in (area, *_LEAVES) or other in ALLOWED[area]:
                continue
            wrong[str(path.relative_to(PACKAGE))].add(target)
    assert not wrong, dict(wrong)


def test_no_import_cycle_at_module_level() -> None:
    modules = {_module_name(p): p for p in _sources()}
    graph = {
        m: {t for t in _imports(p, top_level_only=True) if t in modules and t != m}
        for m, p in modules.items()
    }
    # a package's __init__ re-exporting its own submodules is not a cycle: drop child -> parent edges
    for m in graph:
        graph[m] = {t for t in graph[m] if not m.startswith(t + ".")}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, trail: list[str]) -> bool:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycle.extend(trail[trail.index(t):] + [m, t] if t in trail else [m, t])
                return True
            if t not in state and visit(t, trail + [m]):
                return True
        state[m] = 2
        return False

    for m in sorted(graph):
        if m not in state and visit(m, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_torch_free_modules_never_import_torch() -> None:
    for entry in TORCH_FREE:
        _assert_no_torch(entry, top_level_only=False)
    for entry in TORCH_FREE_AT_IMPORT:
        _assert_no_torch(entry, top_level_only=True)


def test_only_the_formula_area_imports_sympy() -> None:
    for path in _sources():
        if _area(_module_name(path)) in SYMPY_AREAS:
            continue
        imported = {t.split(".")[0] for t in _imports(path)}
        assert "sympy" not in imported, f"{path.relative_to(PACKAGE)} imports sympy"


def _assert_no_torch(entry: str, *, top_level_only: bool) -> None:
    target = PACKAGE / entry
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
    for path in paths:
        imported = {t.split(".")[0] for t in _imports(path, top_level_only=top_level_only)}
        assert not imported & {"torch", "numba"}, f"{path.relative_to(PACKAGE)} imports torch or numba"
