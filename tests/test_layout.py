"""The house rules of the layout: which package may import which, and no import cycle between modules.

The tablet build (`inspector_app`) must carry no server or staff code, the staff screens must never open the tablet's
store, and the bureau must not depend on either app; only the command line (`yibao`) sees every side.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "sync": set(),
    "ui_kit": {"checklists"},
    "checklists": {"sync"},
    "documents": {"sync", "checklists"},
    "inspector_app": {"sync", "checklists", "documents", "ui_kit"},
    "staff_app": {"sync", "checklists", "documents", "ui_kit"},
    "bureau": {"sync", "checklists", "documents"},
    "yibao": {"sync", "checklists", "documents", "ui_kit", "inspector_app", "staff_app", "bureau"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module → the project's modules it imports (at any depth of the file, so imports inside functions count)."""
    modules = {_module_name(p): p for package in ALLOWED for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def test_each_package_imports_only_the_layers_below_it():
    wrong = sorted((module, target) for module, targets in _imports().items() for target in targets
                   if target.split(".")[0] not in ALLOWED[module.split(".")[0]] | {module.split(".")[0]})
    assert wrong == []


def test_no_import_cycle_between_modules():
    graph = _imports()
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
