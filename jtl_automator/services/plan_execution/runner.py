"""One plan, whatever its kind, and every plan a run executes: start, carry out, end done or approved.

A restock plan's work is ``execute`` (purchase orders), a movement plan's ``movements`` (FFN shipments);
both return one outcome per line, and the plan ends the same way: every line executed (or exported) →
done, else back to approved with the reasons in its note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from jtl_automator.plans import LineStatus, Plan, PlanLine, PlanStatus
from jtl_automator.services.plan_execution.execute import (
    ExecutionContext,
    LineOutcome,
    execute_orders,
    plans_to_execute,
    start,
)
from jtl_automator.services.plan_execution.movements import execute_movements
from jtl_automator.services.plan_execution.params import MOVEMENT_KINDS
from jtl_automator.store.lease_keeper import LeaseLost


def execute_plan(ctx: ExecutionContext, plan: Plan) -> list[LineOutcome]:
    """One plan's work (supplier orders, or shipments); the plan ends done, or approved with the reasons.

    An unexpected error sends the plan back to approved with the error and is raised. A kill (or a lost
    lease: another run may be executing it now) leaves the plan as it is; the next lease holder takes
    it over.
    """
    run: Callable[[Plan, list[PlanLine]], list[LineOutcome]] = partial(
        execute_movements if plan.kind in MOVEMENT_KINDS else execute_orders, ctx
    )
    if ctx.dry_run:
        current = ctx.plans.get(plan.id)
        return run(current, [line for line in current.lines if line.status is LineStatus.APPROVED])
    started = start(ctx, plan)
    if started is None:
        return []
    plan = started
    work = [line for line in plan.lines if line.status is LineStatus.APPROVED]
    try:
        out = run(plan, work)
    except LeaseLost:
        raise
    except Exception as exc:
        ctx.plans.mark_failed(plan.id, f"{type(exc).__name__}: {exc}")
        raise
    reasons = [o.reason for o in out if o.status not in ("executed", "exported") and o.reason]
    if reasons:
        ctx.plans.mark_failed(plan.id, "; ".join(dict.fromkeys(reasons)))
    else:
        ctx.plans.mark_done(plan.id)
    return out


def execute_plans(ctx: ExecutionContext, plans: Sequence[Plan] | None = None) -> list[LineOutcome]:
    """Every approved plan of the executed kinds (and any a dead run left executing), one after the other."""
    todo = plans_to_execute(ctx.plans) if plans is None else list(plans)
    if ctx.dry_run:
        todo = [p for p in todo if p.status is PlanStatus.APPROVED]
    out: list[LineOutcome] = []
    for plan in todo:
        ctx.check_lease()
        out += execute_plan(ctx, plan)
    return out
