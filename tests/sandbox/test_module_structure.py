"""The sandbox's modules import each other at top level only and without cycles; the state sits below them.

Edges are what a module's own top-level imports name (``from jtl_automator.sandbox.wawi.common import x``
is an edge to ``wawi.common``); that Python runs a package's ``__init__`` before its submodules is not
counted, as that is how every package re-exporting its submodules works.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jtl_automator.sandbox as sandbox

PACKAGE = "jtl_automator.sandbox"
ROOT = Path(sandbox.__file__).parent


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


MODULES = {_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> set[str]:
    """The sandbox modules an import statement loads."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    if node.level:  # relative import: resolve against the importing module's package
        is_package = MODULES[module].name == "__init__.py"
        anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    found = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES}
    if base in MODULES and len(found) < len(node.names):
        found.add(base)
    return found


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (also under a top-level ``if``/``try``)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            found.append(stmt)
        elif isinstance(stmt, ast.If | ast.Try):
            pending.extend(child for child in ast.iter_child_nodes(stmt) if isinstance(child, ast.stmt))
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"))
        graph[module] = set()
        for node in _top_level_imports(tree):
            graph[module] |= _targets(node, module) - {module}
    return graph


def test_no_sandbox_module_is_imported_inside_a_function_or_under_type_checking() -> None:
    deferred = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"))
        for outer in ast.walk(tree):
            nested = isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            type_checking = isinstance(outer, ast.If) and "TYPE_CHECKING" in ast.unparse(outer.test)
            if not (nested or type_checking):
                continue
            for node in ast.walk(outer):
                if isinstance(node, ast.Import | ast.ImportFrom) and _targets(node, module):
                    deferred.append(f"{module}:{node.lineno}")
    assert deferred == []


def test_sandbox_imports_have_no_cycle() -> None:
    graph = _graph()
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            assert (cycle := visit(module)) is None, " -> ".join(cycle)


def test_state_sits_below_the_routers() -> None:
    graph = _graph()
    below = {f"{PACKAGE}.{name}" for name in ("config", "data", "fault_engine")}
    assert graph[f"{PACKAGE}.state"] <= below
    routers = ["ffn", "oauth", "sheets", "admin", "faults", "wawi", "wawi.common"]
    assert all(f"{PACKAGE}.state" in graph[f"{PACKAGE}.{name}"] for name in routers)
