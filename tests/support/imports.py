"""The project's imports as a graph, read from the source with ``ast`` (nothing is imported or run)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Import:
    """One imported name: the module (or ``module.name``) it loads, where, and how deferred it is."""

    target: str
    line: int
    in_function: bool  # inside a def or class body: runs later, not at import time
    type_checking: bool  # under ``if TYPE_CHECKING:``: never runs


def module_name(path: Path) -> str:
    """``jtl_automator/sandbox/wawi/__init__.py`` -> ``jtl_automator.sandbox.wawi``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    """Every module of a top-level package of the project (migrations are scripts, not modules)."""
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py")) if "migrations" not in p.parts}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def imports(path: Path, name: str) -> tuple[Import, ...]:
    """Every import statement of a module, relative ones resolved; ``from a import b`` yields a and a.b."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            guarded = type_checking or (isinstance(child, ast.If) and _is_type_checking(child))
            if isinstance(child, ast.Import):
                found.extend(Import(a.name, child.lineno, in_function, type_checking) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    anchor = ".".join(parts[: len(parts) - child.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                found.append(Import(base, child.lineno, in_function, type_checking))
                found.extend(
                    Import(f"{base}.{a.name}", child.lineno, in_function, type_checking) for a in child.names
                )
            visit(child, nested, guarded)

    visit(ast.parse(path.read_text("utf-8"), str(path)), False, False)
    return tuple(found)


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the project modules it imports, type-only and deferred imports included.

    An edge from a module to its own parent packages is left out: Python runs a package's ``__init__``
    before its submodules, and an ``__init__`` re-exporting its submodules is how packages work.
    """
    known: dict[str, Path] = {}
    for package in packages:
        known.update(modules(package))
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for found in imports(path, name):
            if found.target in known and found.target != name and found.target not in ancestors:
                graph[name].add(found.target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def iter_imports(package: str) -> Iterator[tuple[str, Path, Import]]:
    """(module, its file, one import) for every import in a package."""
    for name, path in modules(package).items():
        for found in imports(path, name):
            yield name, path, found
