"""Guardrails of the layering: the core never imports Prefect or the shell, and nothing imports in a circle.

The core (``jtl_automator``) must run and be tested without Prefect; the shell (``flows``, ``tasks``,
``blocks``, ``deployments``) builds on it, never the other way round. The command line is the one core
module allowed to reach into the shell (it starts flows). Imports are read from the source with ``ast``,
at any depth (a function-level import counts too); ``if TYPE_CHECKING:`` blocks do not run and are skipped.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = "jtl_automator"
SHELL = ("flows", "tasks", "blocks", "deployments")
FORBIDDEN_IN_CORE = ("prefect", *SHELL)
ALLOWED_TO_USE_THE_SHELL = {"jtl_automator.cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py")) if "migrations" not in p.parts}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import that runs, relative ones resolved."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]

    def visit(node: ast.AST) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    yield from visit(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    anchor = ".".join(parts[: len(parts) - child.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                yield base, child.lineno
                for alias in child.names:
                    yield f"{base}.{alias.name}", child.lineno
            yield from visit(child)

    yield from visit(ast.parse(path.read_text(), str(path)))


def test_the_core_imports_neither_prefect_nor_the_shell() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules(CORE).items()
        if name not in ALLOWED_TO_USE_THE_SHELL
        for target, line in imports(path, name)
        if target.split(".")[0] in FORBIDDEN_IN_CORE
    ]
    assert offences == []


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> project modules it imports (edges to its own parent packages left out: those are benign)."""
    known: dict[str, Path] = {}
    for package in packages:
        known.update(modules(package))
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for target, _ in imports(path, name):
            if target in known and target != name and target not in ancestors:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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


def test_no_import_cycles_in_the_project() -> None:
    assert cycles(import_graph((CORE, *SHELL))) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_function_level_imports_count_and_type_checking_ones_do_not(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import prefect\n"
        "def f():\n    from flows import x\n"
    )
    assert {t for t, _ in imports(source, "pkg.mod")} >= {"flows", "flows.x"}
    assert "prefect" not in {t for t, _ in imports(source, "pkg.mod")}
