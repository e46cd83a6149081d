"""What ``automations apply`` must do: compare the automations the files describe with a server's.

Automations are matched by name (the files are the truth; the server's ids are not kept anywhere). One
that differs is updated in place, keeping its id and its history; one that is missing is created. An
automation the server has under our tag but the files no longer name is reported, and deleted only when
asked (``--prune``): someone may have tagged a hand-made one. Two on the server with one name: the oldest
is updated, the others are reported as duplicates (and pruned when asked). Bodies are plain JSON-like
dicts here; the shell normalises Prefect's models into them, so this module stays Prefect-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

#: The fields of an automation that are compared (the rest are the server's bookkeeping).
COMPARED = (
    "description",
    "enabled",
    "tags",
    "trigger",
    "actions",
    "actions_on_trigger",
    "actions_on_resolve",
)

Action = Literal["create", "update", "unchanged", "extra", "delete", "duplicate"]


@dataclass(frozen=True)
class Existing:
    """An automation as the server has it."""

    id: str
    name: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    """One line of the plan: what happens to the automation called ``name`` and which fields differ."""

    action: Action
    name: str
    id: str | None = None
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the command's output."""
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        notes = {
            "extra": " (tagged as ours, not in the files: kept; --prune deletes it)",
            "duplicate": " (a second automation of this name: kept; --prune deletes it)",
        }
        return f"{self.action:<9} {self.name}{detail}{notes.get(self.action, '')}"


@dataclass
class Plan:
    """The changes, in the files' order, then the server's leftovers."""

    changes: list[Change] = field(default_factory=list)

    def of(self, *actions: Action) -> list[Change]:
        """The changes of these kinds."""
        return [c for c in self.changes if c.action in actions]

    @property
    def changed(self) -> bool:
        """Whether applying would write anything."""
        return bool(self.of("create", "update", "delete"))

    def counts(self) -> dict[str, int]:
        """How many changes of each kind (those that occur)."""
        counted: dict[str, int] = {}
        for change in self.changes:
            counted[change.action] = counted.get(change.action, 0) + 1
        return counted


def differing_fields(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> tuple[str, ...]:
    """The compared fields whose values differ (a field absent on one side counts as ``None``)."""
    return tuple(name for name in COMPARED if desired.get(name) != existing.get(name))


def plan_changes(
    desired: Mapping[str, Mapping[str, Any]],
    existing: Sequence[Existing],
    *,
    managed_tag: str,
    prune: bool = False,
) -> Plan:
    """The plan that makes the server's automations what ``desired`` (name -> body) says.

    ``existing`` in the server's order of creation (the first of a name is the one kept).
    """
    by_name: dict[str, list[Existing]] = {}
    for item in existing:
        by_name.setdefault(item.name, []).append(item)
    plan = Plan()
    for name, body in desired.items():
        found = by_name.get(name, [])
        if not found:
            plan.changes.append(Change("create", name))
            continue
        kept, *others = found
        fields = differing_fields(body, kept.body)
        plan.changes.append(Change("update" if fields else "unchanged", name, kept.id, fields))
        for other in others:
            plan.changes.append(Change("delete" if prune else "duplicate", name, other.id))
    for item in existing:
        if item.name in desired:
            continue
        if managed_tag in (item.body.get("tags") or []):
            plan.changes.append(Change("delete" if prune else "extra", item.name, item.id))
    return plan
