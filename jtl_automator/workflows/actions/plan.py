"""``create_plan``: the one draft plan of a kind, scope and period, created on first use, found after.

Plans are created or got (:meth:`PlanStore.create_or_get`): the same kind, scope and period is one plan
whatever the number of runs or triggers, so "put it on this week's restock plan" from fifty triggers
fills one plan. The period is a label; ``day``, ``week`` and ``month`` name the run's own (Berlin
calendar), anything else is taken as written. The deadline is set when the plan is created (an existing
plan keeps its own): absolute, relative to the run (``in 7 days``, ``P7D``), or an earlier step's value.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from jtl_automator.limits import PLAN_LINE_KEY_MAX
from jtl_automator.plans import Plan, PlanScope, PlanStore, iso_week, plan_kind, plan_kinds
from jtl_automator.plans.model import check_period
from jtl_automator.workflows.actions import register_action
from jtl_automator.workflows.actions.base import ActionContext, StepResult
from jtl_automator.workflows.actions.effects import once

#: The merchant's calendar: periods and date-only deadlines are Berlin days.
TIMEZONE = ZoneInfo("Europe/Berlin")
LEDGER_KIND = "workflow_plan"
_RELATIVE = re.compile(
    r"^in\s+(\d+)\s+(minute|hour|day|week)s?$",
    re.IGNORECASE,
)
_UNIT = {"minute": "minutes", "hour": "hours", "day": "days", "week": "weeks"}
_MAX_AHEAD = timedelta(days=3660)


def _blank_to_none(value: Any) -> Any:
    """An earlier step's empty value (rendered as ``""`` or ``None``) means "not given"."""
    if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
        return None
    return value


def resolve_deadline(value: str | date | datetime | timedelta | None, now: datetime) -> datetime | None:
    """The deadline as an aware datetime: absolute as given, a date at its Berlin day's end, relative to now.

    Accepted: ``2026-12-01``, ``2026-12-01T12:00:00+01:00`` (naive: Berlin time), ``in 7 days`` (minutes,
    hours, days, weeks), an ISO-8601 duration (``P7D``, ``PT36H``). Anything else is a ValueError that
    names the accepted forms.
    """
    value = _blank_to_none(value)
    if value is None:
        return None
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=TIMEZONE)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(23, 59, 59), TIMEZONE)
    elif isinstance(value, timedelta):
        moment = now + value
    else:
        moment = _parse_deadline(value.strip(), now)
    moment = moment.astimezone(UTC)
    if moment - now > _MAX_AHEAD:
        raise ValueError(f"deadline {value!r} is more than ten years ahead")
    return moment


def _parse_deadline(text: str, now: datetime) -> datetime:
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        return now + timedelta(**{_UNIT[unit]: amount})
    if text.upper().startswith("P"):
        try:
            return now + TypeAdapter(timedelta).validate_python(text)
        except ValidationError:
            pass
    else:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if len(text) == 10:  # a date alone: the end of that Berlin day
                return datetime.combine(parsed.date(), time(23, 59, 59), TIMEZONE)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=TIMEZONE)
    raise ValueError(
        f"deadline {text!r} is not understood; use a date (2026-12-01), a date and time "
        "(2026-12-01T12:00), 'in 7 days' (minutes, hours, days, weeks) or an ISO duration (P7D, PT12H)"
    )


def resolve_period(period: str, now: datetime) -> str:
    """``day``/``week``/``month`` become the run's own (Berlin); any other label is checked and kept."""
    local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(TIMEZONE).date()
    named = {"day": local.isoformat(), "week": iso_week(local), "month": local.strftime("%Y-%m")}
    return named.get(period.strip().lower(), period) if period else period


class CreatePlanParams(BaseModel):
    """Which plan: kind, scope (warehouses, supplier, extra keys), period; and a deadline for a new one."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(
        description="restock, rebalance, markdown, supplier_return, supplier_exchange (or price_change)."
    )
    warehouses: list[str] = Field(
        default_factory=list,
        description="FFN warehouse ids the plan covers; none: all. Part of what identifies the plan.",
    )
    supplier: str | None = Field(
        default=None,
        min_length=1,
        max_length=PLAN_LINE_KEY_MAX,
        description="The Wawi supplier id (as text) the plan is for; required for supplier_return and "
        "supplier_exchange. Part of what identifies the plan.",
    )
    extra: dict[str, str] = Field(
        default_factory=dict, description="Further scope keys (a channel, a brand): a separate plan each."
    )
    period: str = Field(
        default="week",
        description="day, week (ISO week, the default) or month of the run in Berlin, or any label "
        "(2026-Q4): one plan per kind, scope and period.",
    )
    deadline: str | date | datetime | timedelta | None = Field(
        default=None,
        description="When a person should have decided: a date, a date and time, 'in 7 days', or an "
        "ISO duration (P7D). Set on a new plan only.",
    )
    created_by: str = Field(
        default="workflow",
        min_length=1,
        max_length=200,
        description="Recorded as the plan's creator (the runner passes the workflow's name).",
    )

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        try:
            plan_kind(value)
        except ValueError:
            known = ", ".join(k.name for k in plan_kinds())
            raise ValueError(f"unknown plan kind {value!r}; allowed: {known}") from None
        return value

    @field_validator("warehouses", mode="before")
    @classmethod
    def _warehouse_list(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None:
            return []
        if isinstance(value, str):
            return [w.strip() for w in value.split(",") if w.strip()]
        return value

    @field_validator("warehouses")
    @classmethod
    def _warehouse_ids(cls, value: list[str]) -> list[str]:
        for w in value:
            if not w or len(w) > PLAN_LINE_KEY_MAX or ">" in w:
                raise ValueError(f"warehouse id {w!r} must have 1 to {PLAN_LINE_KEY_MAX} characters, no '>'")
        return value

    @field_validator("supplier", "deadline", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("supplier", mode="before")
    @classmethod
    def _supplier_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        if value.strip().lower() in ("day", "week", "month"):
            return value.strip().lower()
        return check_period(value)

    @field_validator("deadline")
    @classmethod
    def _deadline_parses(cls, value: Any) -> Any:
        resolve_deadline(value, datetime.now(UTC))  # a typo fails at validation, not at the run
        return value

    def check_kind_scope(self) -> None:
        """Kind-specific scope: a supplier return or exchange names its supplier."""
        if self.kind in ("supplier_return", "supplier_exchange") and not self.supplier:
            raise ValueError(f"a {self.kind} plan needs a supplier (the Wawi supplier id)")

    def scope(self) -> PlanScope:
        """The plan scope (warehouses sorted and de-duplicated, so any order finds the same plan)."""
        return PlanScope(warehouses=tuple(self.warehouses), supplier=self.supplier, extra=dict(self.extra))


def plan_output(plan: Plan, *, created: bool) -> dict[str, Any]:
    """What later steps use: ``plan_id`` above all, and what a person reads in the run record."""
    return {
        "plan_id": plan.id,
        "kind": plan.kind,
        "status": plan.status.value,
        "period": plan.period,
        "scope": plan.scope.as_json(),
        "deadline": plan.deadline.isoformat() if plan.deadline else None,
        "created": created,
        "lines": plan.line_count,
    }


def find_plan(plans: PlanStore, kind: str, scope: PlanScope, period: str) -> Plan | None:
    """The plan of that kind, scope and period, without creating it (for a simulation)."""
    key = scope.key()
    for plan in plans.list_plans(kind=kind):
        if plan.period == period and plan.scope.key() == key:
            return plan
    return None


def create_plan(params: CreatePlanParams, ctx: ActionContext) -> StepResult:
    """Create or get the plan; a simulation only looks it up."""
    params.check_kind_scope()
    scope = params.scope()
    period = resolve_period(params.period, ctx.now)
    deadline = resolve_deadline(params.deadline, ctx.now)
    plans = PlanStore(ctx.store)
    if ctx.simulate:
        found = find_plan(plans, params.kind, scope, period)
        if found is not None:
            out = plan_output(found, created=False)
            summary = f"would use plan {found.id} ({found.kind}, {found.status.value}, {found.period})"
        else:
            out = {
                "plan_id": None,
                "kind": params.kind,
                "status": "draft",
                "period": period,
                "scope": scope.as_json(),
                "deadline": deadline.isoformat() if deadline else None,
                "created": True,
                "lines": 0,
            }
            summary = f"would create a {params.kind} plan for {scope.describe()}, period {period}"
        return StepResult(output=out, summary=summary)

    def do() -> tuple[dict[str, Any], str]:
        opened = plans.create_or_get(
            params.kind, scope, period, deadline=deadline, created_by=params.created_by
        )
        plan = opened.plan
        verb = "created" if opened.created else "found"
        return plan_output(plan, created=opened.created), f"{verb} {plan.describe()}: {plan.status.value}"

    result = once(ctx, LEDGER_KIND, do)
    if result.repeated:  # the plan may have moved on since: report its status now
        plan_id = result.output.get("plan_id")
        if isinstance(plan_id, int):
            current = plans.get(plan_id)
            output = {**plan_output(current, created=bool(result.output.get("created")))}
            return StepResult(output=output, repeated=result.repeated, summary=result.summary)
    return result


register_action(
    "create_plan",
    CreatePlanParams,
    create_plan,
    "Create or get the plan of a kind, scope and period (restock, rebalance, markdown, supplier return "
    "or exchange); outputs its plan_id for add_items_to_plan.",
)
