"""The sandbox's own rules on top of the project-wide ones (tests/test_architecture.py: no cycles).

Sandbox modules import each other at module level only, never deferred into a function or hidden under
``TYPE_CHECKING``, and the shared state sits below the routers that use it.
"""

from __future__ import annotations

import pytest

from tests.support.imports import import_graph, iter_imports, modules

PACKAGE = "jtl_automator.sandbox"
MODULES = {name for name in modules("jtl_automator") if name.startswith(PACKAGE)}


@pytest.mark.slow
def test_no_sandbox_module_is_imported_inside_a_function_or_under_type_checking() -> None:
    deferred = [
        f"{name}:{found.line} {found.target}"
        for name, _, found in iter_imports("jtl_automator")
        if name.startswith(PACKAGE) and found.target in MODULES and (found.in_function or found.type_checking)
    ]
    assert deferred == []


@pytest.mark.slow
def test_state_sits_below_the_routers() -> None:
    graph = import_graph(("jtl_automator",))
    below = {f"{PACKAGE}.{name}" for name in ("config", "data", "fault_engine", "latency_model")}
    assert {m for m in graph[f"{PACKAGE}.state"] if m.startswith(PACKAGE)} <= below
    routers = ["ffn", "oauth", "sheets", "admin", "faults", "wawi", "wawi.common"]
    assert all(f"{PACKAGE}.state" in graph[f"{PACKAGE}.{name}"] for name in routers)
