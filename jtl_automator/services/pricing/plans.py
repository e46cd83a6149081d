"""Price plans: changes above the approval threshold and markdowns wait for a person, then run once.

**Proposing.** Rows of status ``needs_approval`` become the lines of the day's ``price_change`` plan, slow
movers' markdowns the lines of the day's ``markdown`` plan (period: the run's date in Berlin, scope: all
items; once the day's plan left draft, the day's next one: ``2026-11-17#2``). A line is keyed by SKU
and price: the plan line's "warehouse" holds the price target (``base``, ``<channel>/<group>``) for a
price change and is empty for a markdown. A rerun the same day updates the
draft; the day's new draft cancels older drafts of its kind ("superseded by plan N"), so one draft is open
and its prices are the latest. An approved plan is never changed: what a person approved stays.

**Executing** happens in the next pricing run, before it reads: every ``approved`` plan of the two kinds
is marked ``executing`` and its approved lines are written through the same ledger as the rules' writes
(key ``price-plan:<plan>:<sku>:<target>``, so a line is written once whatever the run), each with a
history row naming the plan. Each line's fresh read, checks and write run together, ``workers`` lines at
once, so no write waits for the reads of the other lines. Checks at execution, on a fresh read of the
item: the floor holds at today's purchase price (else the line is skipped); a price change's current price
is still the one it was proposed from (else someone changed it meanwhile: skipped, the next run proposes
afresh); a markdown is still below the current base price. A plan found ``executing`` (a run died there)
is taken over by the next run: the pricing lease keeps two runs apart, and the ledger knows what was
written. Transient failures put the plan back to ``approved`` (``mark_failed``) to be retried; skipped
lines stay approved and unexecuted in a ``done`` plan, with their reason in the run's result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from jtl_automator.clients.errors import ClientError, NotFound, RetryableError
from jtl_automator.correlation import in_context
from jtl_automator.plans import (
    ExecutionRef,
    IllegalTransition,
    LineKey,
    LineStatus,
    NewLine,
    Plan,
    PlanLine,
    PlanNotEditable,
    PlanScope,
    PlanStatus,
    PlanStore,
)
from jtl_automator.services.pricing.params import MARKDOWN, PRICE_CHANGE, RUN_PERSON
from jtl_automator.services.pricing.reads import SPECIAL_PRICE
from jtl_automator.services.pricing.write import (
    ALREADY,
    APPLIED,
    FAILED,
    SKIPPED,
    PriceWrite,
    WriteContext,
    WriteOutcome,
    write_one,
)
from jtl_automator.transforms.pricing import BASE_PRICE

_TOLERANCE = 0.5e-4


@dataclass(frozen=True)
class ProposedPlan:
    """The plan a run proposed lines into, or why it could not."""

    kind: str
    plan_id: int
    lines: int
    superseded: tuple[int, ...] = ()
    skipped: str | None = None

    def row(self) -> dict[str, Any]:
        """For the result JSON."""
        return {
            "kind": self.kind,
            "plan": self.plan_id,
            "lines": self.lines,
            "superseded": list(self.superseded),
            "note": self.skipped or "",
        }


def _money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 4)))


def _finite(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def price_change_lines(
    rows: pd.DataFrame, reasons: Sequence[str], floors: Mapping[str, tuple[float, float]]
) -> list[NewLine]:
    """``needs_approval`` price rows as plan lines (``floors``: each rule's floor_pct and floor_abs)."""
    lines = []
    for row, reason in zip(rows.to_dict("records"), reasons, strict=True):
        floor_pct, floor_abs = floors.get(str(row["rule"]), (0.0, 0.0))
        lines.append(
            NewLine(
                sku=str(row["sku"]),
                warehouse=str(row["target"]),
                quantity=0,
                unit_price=_money(row["new_price"]),
                reason=str(reason),
                score=_finite(row["change_pct"]),
                details={
                    "item_id": int(row["item_id"]),
                    "target": str(row["target"]),
                    "before": _finite(row["current_price"]),
                    "after": float(row["new_price"]),
                    "after_gross": _finite(row["new_gross"]),
                    "change_pct": _finite(row["change_pct"]),
                    "rule": str(row["rule"]),
                    "floor_pct": floor_pct,
                    "floor_abs": floor_abs,
                    "floor": _finite(row["floor_price"]),
                },
            )
        )
    return lines


def markdown_lines(
    rows: pd.DataFrame, reasons: Sequence[str], floor_pct: float, floor_abs: float, apply_as: str
) -> list[NewLine]:
    """``markdown`` rows as plan lines (the units in stock as the quantity, the discount as the score)."""
    lines = []
    for row, reason in zip(rows.to_dict("records"), reasons, strict=True):
        lines.append(
            NewLine(
                sku=str(row["sku"]),
                warehouse="",
                quantity=max(0, math.floor(float(row["stock"]))),
                unit_price=_money(row["new_price"]),
                reason=str(reason),
                score=_finite(row["discount_pct"]),
                details={
                    "item_id": int(row["item_id"]),
                    "target": SPECIAL_PRICE if apply_as == "special_price" else BASE_PRICE,
                    "before": _finite(row["current_price"]),
                    "after": float(row["new_price"]),
                    "after_gross": _finite(row["new_gross"]),
                    "discount_pct": _finite(row["discount_pct"]),
                    "strategy": str(row["strategy"]),
                    "floor": _finite(row["floor_price"]),
                    "floor_pct": floor_pct,
                    "floor_abs": floor_abs,
                    "cover_days": _finite(row["cover_days"]),
                    "days_since_sale": _finite(row["days_since_sale"]),
                    "score": _finite(row["score"]),
                },
            )
        )
    return lines


#: A day's later drafts, once its plan left draft (approved, executed or cancelled): ``2026-11-17#2``, …
_MAX_DRAFTS_PER_DAY = 50


def propose(
    plans: PlanStore, kind: str, period: str, lines: Sequence[NewLine], run_id: str
) -> ProposedPlan | None:
    """The period's draft of ``kind`` gets ``lines``; older drafts of the kind are superseded by it.

    When the day's plan has left draft (a person approved it, or it was executed or cancelled), the lines
    go into the day's next draft (period ``<day>#2``, ``#3``, …): what was approved stays as approved.
    """
    if not lines:
        return None
    created_by = f"{RUN_PERSON} {run_id}"[:200]
    plan_id: int | None = None
    for number in range(1, _MAX_DRAFTS_PER_DAY + 1):
        label = period if number == 1 else f"{period}#{number}"
        opened = plans.create_or_get(kind, PlanScope(), label, created_by=created_by)
        if opened.plan.status is not PlanStatus.DRAFT:
            continue
        try:
            plans.add_lines(opened.plan.id, lines)
        except PlanNotEditable:
            continue  # approved between the two calls: the next draft
        plan_id = opened.plan.id
        break
    if plan_id is None:
        return ProposedPlan(kind, 0, 0, skipped=f"{_MAX_DRAFTS_PER_DAY} plans of {period} left draft already")
    superseded = []
    for older in plans.list_plans(kind=kind, status=PlanStatus.DRAFT):
        if older.id != plan_id:
            try:
                plans.cancel(older.id, RUN_PERSON, f"superseded by plan {plan_id}")
            except IllegalTransition:
                continue  # approved meanwhile: it stays and is executed
            superseded.append(older.id)
    return ProposedPlan(kind, plan_id, len(lines), tuple(superseded))


# -- executing ---------------------------------------------------------------------------------------


@dataclass
class ExecutedPlan:
    """What one run made of one approved plan."""

    plan_id: int
    kind: str
    status: str
    outcomes: list[WriteOutcome] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """For the result JSON."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.result] = counts.get(outcome.result, 0) + 1
        return {"plan": self.plan_id, "kind": self.kind, "status": self.status, "lines": counts}


@dataclass(frozen=True)
class SpecialPriceSetup:
    """Where a markdown's special price applies and how long it runs."""

    channels: tuple[str, ...] = ()
    groups: tuple[int, ...] = ()
    duration_days: int = 14


def _skip(plan_id: int, line: PlanLine, details: Mapping[str, Any], reason: str) -> WriteOutcome:
    return WriteOutcome(
        f"price-plan:{plan_id}:{line.sku}:{line.warehouse or details.get('target')}",
        int(details.get("item_id") or 0),
        line.sku,
        str(details.get("target") or line.warehouse),
        _finite(details.get("before")),
        float(details.get("after") or 0),
        SKIPPED,
        reason,
        plan_id,
    )


def _write_for(
    ctx: WriteContext,
    plan: Plan,
    line: PlanLine,
    now: datetime,
    special: SpecialPriceSetup,
) -> PriceWrite | WriteOutcome:
    """The line's write after the checks on a fresh read of its item, or why it is skipped."""
    details = line.details or {}
    item_id, target = int(details.get("item_id") or 0), str(details.get("target") or line.warehouse)
    after = float(line.unit_price if line.unit_price is not None else details.get("after") or 0)
    before = _finite(details.get("before"))
    try:
        item = ctx.wawi.items.get(item_id)
    except NotFound:
        return _skip(plan.id, line, details, f"Wawi item {item_id} no longer exists")
    prices = item.item_price_data
    purchase = prices.purchase_price_net if prices is not None else None
    base = prices.sales_price_net if prices is not None else None
    if purchase is None or purchase <= 0:
        return _skip(plan.id, line, details, "no purchase price above 0 now: no floor, not written")
    floor = purchase * (1 + float(details.get("floor_pct") or 0) / 100) + float(details.get("floor_abs") or 0)
    if after < floor - _TOLERANCE:
        return _skip(
            plan.id,
            line,
            details,
            f"{after:.2f} is below the floor {floor:.2f} at today's purchase price {purchase:.2f}",
        )
    key = f"price-plan:{plan.id}:{line.sku}:{target}"
    markdown = plan.kind == MARKDOWN
    if target == SPECIAL_PRICE:
        if base is None or after >= base - _TOLERANCE:
            return _skip(
                plan.id,
                line,
                details,
                f"the base price {base} is not above the markdown {after:.2f} any more",
            )
        if not special.channels or not special.groups:
            return _skip(
                plan.id, line, details, "no sales channel takes special prices (or no customer group)"
            )
        existing = ctx.wawi.items.special_price(item_id)
        claimed = ctx.store.side_effect(key)
        if (
            existing is not None
            and existing.is_active
            and (existing.end_date is None or existing.end_date > now)
            and claimed is None
        ):
            return _skip(plan.id, line, details, "an active special price is set in Wawi; not overwritten")
        starts = now.replace(microsecond=0)
        intent = claimed.result if claimed is not None and claimed.result else {}
        return PriceWrite(
            key=key,
            item_id=item_id,
            sku=line.sku,
            target=SPECIAL_PRICE,
            after=after,
            before=base,
            reason=line.reason or "",
            rule=str(details.get("strategy") or "markdown"),
            source=MARKDOWN,
            plan_id=plan.id,
            starts_at=PriceWrite.from_intent(intent).starts_at if intent else starts,
            ends_at=PriceWrite.from_intent(intent).ends_at
            if intent
            else starts + timedelta(days=special.duration_days),
            special=tuple((c, g) for c in special.channels for g in special.groups),
        )
    if target == BASE_PRICE:
        current = base
    else:
        channel, _, group = target.rpartition("/")
        current = next(
            (
                p.net_price
                for p in ctx.wawi.items.sales_channel_prices(item_id)
                if (p.sales_channel_id, p.customer_group_id, p.from_quantity) == (channel, int(group), 0)
                and not p.relative
            ),
            None,
        )
        if current is None:
            return _skip(plan.id, line, details, f"the sales-channel price {target} no longer exists")
    if markdown:
        if current is None or after >= current - _TOLERANCE:
            return _skip(
                plan.id, line, details, f"the price {current} is not above the markdown {after:.2f} any more"
            )
    elif (
        current is not None
        and before is not None
        and abs(current - before) >= _TOLERANCE
        and abs(current - after) >= _TOLERANCE
    ):
        return _skip(
            plan.id, line, details, f"changed in Wawi since the proposal ({before:.4f} -> now {current:.4f})"
        )
    return PriceWrite(
        key=key,
        item_id=item_id,
        sku=line.sku,
        target=target,
        after=after,
        before=current,
        reason=line.reason or "",
        rule=str(details.get("rule") or details.get("strategy") or ""),
        source=MARKDOWN if markdown else "plan",
        plan_id=plan.id,
    )


def execute_approved_plans(
    ctx: WriteContext, plans: PlanStore, now: datetime, special: Callable[[], SpecialPriceSetup]
) -> list[ExecutedPlan]:
    """Every approved (or interrupted) price-change and markdown plan, written once (module docstring).

    ``special`` reads where special prices go; it is called once, and only for a markdown plan.
    """
    done: list[ExecutedPlan] = []
    setup: SpecialPriceSetup | None = None
    for kind in (PRICE_CHANGE, MARKDOWN):
        waiting = plans.list_plans(kind=kind, status=PlanStatus.EXECUTING)
        waiting += plans.list_plans(kind=kind, status=PlanStatus.APPROVED)
        for listed in sorted(waiting, key=lambda p: p.id):
            try:
                plan = (
                    plans.mark_executing(listed.id)
                    if listed.status is PlanStatus.APPROVED
                    else plans.get(listed.id)
                )
            except IllegalTransition:
                continue
            if kind == MARKDOWN and setup is None:
                setup = special()
            done.append(_execute(ctx, plans, plan, now, setup or SpecialPriceSetup()))
    return done


def _execute(
    ctx: WriteContext, plans: PlanStore, plan: Plan, now: datetime, special: SpecialPriceSetup
) -> ExecutedPlan:
    todo = [line for line in plan.lines if line.status is LineStatus.APPROVED]
    line_of: dict[str, LineKey] = {}

    def one(line: PlanLine) -> WriteOutcome:
        # The line's fresh read, its checks and its write in one worker: no write waits for the reads of
        # the other lines (the reads are per item anyway), ``ctx.workers`` lines at once.
        made = _write_for(ctx, plan, line, now, special)
        line_of[made.key] = line.key
        return made if isinstance(made, WriteOutcome) else write_one(ctx, made)

    outcomes: list[WriteOutcome] = []
    error: RetryableError | ClientError | None = None
    pool = ThreadPoolExecutor(max_workers=max(1, ctx.workers), thread_name_prefix="price-plan")
    futures = [pool.submit(in_context(one), line) for line in todo]
    try:
        for future in futures:
            try:
                outcomes.append(future.result())
            except (RetryableError, ClientError) as exc:
                error = exc
                break
    finally:  # after a failure nothing queued is read or written; the lines in flight finish
        pool.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        outcomes = [f.result() for f in futures if f.done() and not f.cancelled() and f.exception() is None]
        plans.mark_failed(plan.id, f"{type(error).__name__}: {error}", _refs(outcomes, line_of))
        return ExecutedPlan(plan.id, plan.kind, PlanStatus.APPROVED.value, outcomes)
    failed = [o for o in outcomes if o.result == FAILED]
    if failed:
        plans.mark_failed(
            plan.id, f"{len(failed)} line(s) refused by Wawi: {failed[0].reason}", _refs(outcomes, line_of)
        )
        return ExecutedPlan(plan.id, plan.kind, PlanStatus.APPROVED.value, outcomes)
    finished = plans.mark_done(plan.id, _refs(outcomes, line_of))
    return ExecutedPlan(plan.id, plan.kind, finished.status.value, outcomes)


def _refs(outcomes: Sequence[WriteOutcome], line_of: Mapping[str, LineKey]) -> dict[LineKey, ExecutionRef]:
    """What executing each written line did, for the plan's record."""
    return {
        line_of[o.key]: ExecutionRef(
            extra={"target": o.target, "before": o.before, "after": o.after, "result": o.result, "key": o.key}
        )
        for o in outcomes
        if o.result in (APPLIED, ALREADY) and o.key in line_of
    }
