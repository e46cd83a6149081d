"""What a plan is, independent of the database: kinds, scope, statuses and their transitions, lines.

A plan is a proposal of item lines (restock these units, mark these prices down, …) that a person
reviews and approves, and that the project then executes once. The kinds are an open registry so the
later workflows (pricing, declarative workflows) add theirs without touching this module.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jtl_automator.limits import (
    EXECUTION_REF_MAX,
    PERSON_MAX,
    PLAN_KIND_MAX,
    PLAN_LINE_KEY_MAX,
    PLAN_PERIOD_MAX,
    PRICE_DECIMALS,
    PRICE_DIGITS,
)

# -- Errors --------------------------------------------------------------------------------------


class PlanError(Exception):
    """Base of the plan errors; the message is one line: what, where, and how to fix it."""


class UnknownPlanKind(PlanError, ValueError):
    """A kind nobody registered (a typo, or a module that registers it was not imported)."""


class PlanNotFound(PlanError, LookupError):
    """No plan with that id."""


class IllegalTransition(PlanError):
    """The plan's status does not allow the requested step (approve a cancelled plan, …)."""

    def __init__(self, plan_id: int, status: PlanStatus, action: str, hint: str) -> None:
        self.plan_id, self.status, self.action = plan_id, status, action
        super().__init__(f"cannot {action} plan {plan_id}: it is {status.value}; {hint}")


class PlanNotEditable(IllegalTransition):
    """Lines may only be added to or changed on a draft plan: what a person approved stays as approved."""


class UnknownLines(PlanError, LookupError):
    """Lines named for approval (or execution references) that the plan does not have."""


# -- Kinds -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanKind:
    """A kind of plan: its name (stored in the database) and what it proposes."""

    name: str
    description: str


_KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KINDS: dict[str, PlanKind] = {}


def register_plan_kind(name: str, description: str) -> PlanKind:
    """Add a kind (idempotent for the same description); later issues register theirs at import."""
    if not _KIND_NAME.match(name) or len(name) > PLAN_KIND_MAX:
        raise ValueError(
            f"plan kind {name!r} is not a lower-case identifier of at most {PLAN_KIND_MAX} characters"
        )
    kind = PlanKind(name, description)
    existing = _KINDS.setdefault(name, kind)
    if existing != kind:
        raise ValueError(f"plan kind {name!r} is already registered as {existing.description!r}")
    return existing


def plan_kind(name: str) -> PlanKind:
    """The registered kind of that name, or an error that lists the known ones."""
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownPlanKind(
            f"unknown plan kind {name!r}; known kinds: {', '.join(sorted(_KINDS))}"
        ) from None


def plan_kinds() -> list[PlanKind]:
    """Every registered kind, by name."""
    return [_KINDS[k] for k in sorted(_KINDS)]


RESTOCK = register_plan_kind("restock", "purchase units from a supplier into warehouses")
MARKDOWN = register_plan_kind("markdown", "lower the selling price of slow items")
PRICE_CHANGE = register_plan_kind(
    "price_change", "set prices whose change is larger than the price rule lets pass unapproved"
)
REBALANCE = register_plan_kind("rebalance", "move units between warehouses")
SUPPLIER_RETURN = register_plan_kind("supplier_return", "send units back to their supplier")
SUPPLIER_EXCHANGE = register_plan_kind("supplier_exchange", "exchange units with their supplier")


# -- Scope -----------------------------------------------------------------------------------------


class PlanScope(BaseModel):
    """What a plan covers: warehouses, a supplier, and free keys a kind needs (a channel, a brand, …).

    Two scopes that cover the same thing have the same ``key()`` whatever the order the warehouses or
    extra keys were given in, so create-or-get finds the same plan.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouses: tuple[str, ...] = ()
    supplier: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("warehouses")
    @classmethod
    def _sorted_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for w in value:
            if not w or len(w) > PLAN_LINE_KEY_MAX:
                raise ValueError(f"a warehouse id must have 1 to {PLAN_LINE_KEY_MAX} characters, got {w!r}")
        return tuple(sorted(set(value)))

    def key(self) -> str:
        """The canonical text of this scope: sorted JSON, no spaces (what the plan is found by)."""
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def key_hash(self) -> str:
        """sha256 of ``key()``: the fixed-length column the unique constraint holds."""
        return hashlib.sha256(self.key().encode()).hexdigest()

    def as_json(self) -> dict[str, Any]:
        """The scope as stored (and read back with ``PlanScope.model_validate``)."""
        return {"warehouses": list(self.warehouses), "supplier": self.supplier, "extra": dict(self.extra)}

    def describe(self) -> str:
        """Short human text for tables: ``warehouses W1,W2 · supplier S``."""
        parts = []
        if self.warehouses:
            parts.append("warehouses " + ",".join(self.warehouses))
        if self.supplier:
            parts.append(f"supplier {self.supplier}")
        parts.extend(f"{k} {v}" for k, v in sorted(self.extra.items()))
        return " · ".join(parts) or "everything"


def iso_week(day: date) -> str:
    """The ISO week of ``day`` as a period (``2026-W48``): weekly jobs add to one plan per week."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def check_period(period: str) -> str:
    """A period is a non-empty label of at most PLAN_PERIOD_MAX characters (its meaning is the caller's)."""
    if not period or len(period) > PLAN_PERIOD_MAX or period != period.strip():
        raise ValueError(
            f"plan period {period!r} must be 1 to {PLAN_PERIOD_MAX} characters without surrounding "
            "spaces (e.g. 2026-W48)"
        )
    return period


def check_person(name: str) -> str:
    """Who approved or cancelled: named, and short enough for the column."""
    if not name.strip() or len(name) > PERSON_MAX:
        raise ValueError(f"a person's name must have 1 to {PERSON_MAX} characters, got {name!r}")
    return name


# -- Statuses --------------------------------------------------------------------------------------


class PlanStatus(StrEnum):
    """Where a plan is; ``TRANSITIONS`` says where it may go next."""

    DRAFT = "draft"  # lines are being proposed; reruns add to it
    APPROVED = "approved"  # a person approved some or all lines; nothing more is added
    EXECUTING = "executing"  # one run is creating the purchase orders, inbounds, price changes
    DONE = "done"  # executed; the lines carry what it created
    CANCELLED = "cancelled"  # a person decided against it; never executed


#: Allowed steps. A failed execution goes back to approved (the lines already executed keep their
#: references and are skipped by the next attempt); approving again on an approved plan adds lines.
TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.DRAFT: frozenset({PlanStatus.APPROVED, PlanStatus.CANCELLED}),
    PlanStatus.APPROVED: frozenset({PlanStatus.APPROVED, PlanStatus.EXECUTING, PlanStatus.CANCELLED}),
    PlanStatus.EXECUTING: frozenset({PlanStatus.DONE, PlanStatus.APPROVED}),
    PlanStatus.DONE: frozenset(),
    PlanStatus.CANCELLED: frozenset(),
}


def can_move(current: PlanStatus, target: PlanStatus) -> bool:
    """Whether ``current → target`` is an allowed step."""
    return target in TRANSITIONS[current]


class LineStatus(StrEnum):
    """Where one line is: proposed by a job, approved by a person, executed by a run."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    EXECUTED = "executed"


# -- Lines -----------------------------------------------------------------------------------------


def _check_key_part(value: str, what: str, *, allow_empty: bool) -> str:
    if (not value and not allow_empty) or len(value) > PLAN_LINE_KEY_MAX or value != value.strip():
        raise ValueError(
            f"{what} {value!r} must have {'0' if allow_empty else '1'} to {PLAN_LINE_KEY_MAX} characters "
            "without surrounding spaces"
        )
    return value


@dataclass(frozen=True, order=True)
class LineKey:
    """A line within its plan: SKU and warehouse (``""`` where no warehouse applies, e.g. a markdown)."""

    sku: str
    warehouse: str = ""

    def __post_init__(self) -> None:
        _check_key_part(self.sku, "SKU", allow_empty=False)
        _check_key_part(self.warehouse, "warehouse", allow_empty=True)

    @classmethod
    def parse(cls, text: str) -> LineKey:
        """``SKU@WAREHOUSE`` or ``SKU``; split at the last ``@`` (SKUs may contain one, warehouse ids not)."""
        sku, at, warehouse = text.rpartition("@")
        return cls(sku, warehouse) if at else cls(text, "")

    def __str__(self) -> str:
        return f"{self.sku}@{self.warehouse}" if self.warehouse else self.sku


class NewLine(BaseModel):
    """A line a job proposes; a rerun proposing the same SKU and warehouse updates it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    warehouse: str = ""
    quantity: int = Field(ge=0)
    unit_price: Decimal | None = Field(
        default=None, ge=0, max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS
    )
    reason: str | None = None
    score: float | None = None
    details: dict[str, Any] | None = None

    @property
    def key(self) -> LineKey:
        """Its key within the plan (validates SKU and warehouse)."""
        return LineKey(self.sku, self.warehouse)


@dataclass(frozen=True)
class ExecutionRef:
    """What executing one line created: a purchase order, an inbound, and whatever else a kind makes."""

    purchase_order_number: str | None = None
    inbound_id: str | None = None
    extra: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("purchase_order_number", "inbound_id"):
            value = getattr(self, name)
            if value is not None and not 0 < len(value) <= EXECUTION_REF_MAX:
                raise ValueError(f"{name} must have 1 to {EXECUTION_REF_MAX} characters, got {value!r}")


# -- Records (what the store hands out) ------------------------------------------------------------


@dataclass(frozen=True)
class PlanLine:
    """One stored line."""

    sku: str
    warehouse: str
    quantity: int
    unit_price: Decimal | None
    reason: str | None
    score: float | None
    details: dict[str, Any] | None
    status: LineStatus
    approved_by: str | None
    approved_at: datetime | None
    execution: ExecutionRef | None

    @property
    def key(self) -> LineKey:
        """Its key within the plan."""
        return LineKey(self.sku, self.warehouse)

    @property
    def approved(self) -> bool:
        """Approved by a person (executed lines were approved first)."""
        return self.status in (LineStatus.APPROVED, LineStatus.EXECUTED)


@dataclass(frozen=True)
class Plan:
    """One stored plan; ``lines`` is empty in listings and filled by ``show``."""

    id: int
    kind: str
    scope: PlanScope
    period: str
    status: PlanStatus
    deadline: datetime | None
    created_by: str | None
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    execution_started_at: datetime | None
    done_at: datetime | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    note: str | None
    line_count: int
    approved_count: int
    lines: tuple[PlanLine, ...] = field(default=())

    def describe(self) -> str:
        """``plan 7 (restock, warehouses W1 · supplier S, 2026-W48)``: where an error happened."""
        return f"plan {self.id} ({self.kind}, {self.scope.describe()}, {self.period})"


@dataclass(frozen=True)
class Opened:
    """What create-or-get found: the plan, and whether this call made it."""

    plan: Plan
    created: bool
