"""Guardrails of the layering: the core never imports Prefect or the shell, and nothing imports in a circle.

The core (``jtl_automator``) must run and be tested without Prefect; the shell (``flows``, ``tasks``,
``blocks``, ``deployments``) builds on it, never the other way round. The command line is the one core
module allowed to reach into the shell (it starts flows). Imports are read from the source at any depth:
a function-level import counts, and so does one under ``if TYPE_CHECKING:`` for cycles (a type-only
circle is still two modules that cannot be understood apart).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import ROOT, cycles, import_graph, imports, iter_imports

CORE = "jtl_automator"
SHELL = ("flows", "tasks", "blocks", "deployments")
FORBIDDEN_IN_CORE = ("prefect", *SHELL)
ALLOWED_TO_USE_THE_SHELL = {  # entry points
    "jtl_automator.cli",
    "jtl_automator.cli_workflow_runs",
    "jtl_automator.cli_automations",
    "jtl_automator.prefect_collection",  # Prefect's collection entry point: registers the block classes
}


@pytest.mark.slow
def test_the_core_imports_neither_prefect_nor_the_shell() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{found.line} imports {found.target}"
        for name, path, found in iter_imports(CORE)
        if name not in ALLOWED_TO_USE_THE_SHELL
        and not found.type_checking
        and found.target.split(".")[0] in FORBIDDEN_IN_CORE
    ]
    assert offences == []


@pytest.mark.slow
def test_no_import_cycles_in_the_project() -> None:
    assert cycles(import_graph((CORE, *SHELL))) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_deferred_and_type_only_imports_are_seen(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import prefect\n"
        "def f():\n    from flows import x\n"
    )
    found = {i.target: i for i in imports(source, "pkg.mod")}
    assert found["prefect"].type_checking and not found["prefect"].in_function
    assert found["flows.x"].in_function and not found["flows.x"].type_checking
