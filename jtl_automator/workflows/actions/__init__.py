"""The registry of workflow actions, by the name a workflow's node uses (``action: call_webhook``).

Modules register their actions at import; ``load_builtin_actions`` imports the project's own, so the
loader and the runner see the same set.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from jtl_automator.workflows.actions.base import ActionContext, RegisteredAction, StepResult

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ACTIONS: dict[str, RegisteredAction[Any]] = {}

#: Modules that register the built-in actions (filled as they land).
BUILTIN_MODULES: tuple[str, ...] = (
    "jtl_automator.workflows.actions.plan",
    "jtl_automator.workflows.actions.plan_items",
    "jtl_automator.workflows.actions.webhook",
    "jtl_automator.workflows.actions.email",
)


def register_action(
    name: str, params: type[BaseModel], run: Callable[[Any, ActionContext], StepResult], description: str
) -> RegisteredAction[Any]:
    """Add an action; registering the same name twice with another function is a programming error."""
    if not _NAME.match(name):
        raise ValueError(f"action name {name!r} must be lower_snake_case")
    existing = _ACTIONS.get(name)
    if existing is not None and existing.run is not run:
        raise ValueError(f"action {name!r} is already registered by {existing.run.__module__}")
    entry = RegisteredAction(name=name, params=params, description=description, run=run)
    _ACTIONS[name] = entry
    return entry


def get_action(name: str) -> RegisteredAction[Any]:
    """The action, or a KeyError whose message lists the names that exist."""
    load_builtin_actions()
    try:
        return _ACTIONS[name]
    except KeyError:
        known = ", ".join(sorted(_ACTIONS)) or "none registered"
        raise KeyError(f"unknown action {name!r}; known actions: {known}") from None


def action_names() -> list[str]:
    """Every registered action name, sorted."""
    load_builtin_actions()
    return sorted(_ACTIONS)


def load_builtin_actions() -> None:
    """Import the modules that register the project's actions (idempotent)."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


__all__ = [
    "ActionContext",
    "RegisteredAction",
    "StepResult",
    "action_names",
    "get_action",
    "load_builtin_actions",
    "register_action",
]
