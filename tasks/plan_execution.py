"""Tasks of the plan-execution flow: the lease, the plans to execute, one task per plan, the artifacts.

The work of a plan lives in ``jtl_automator.services.plan_execution``; one task per plan keeps a retry
small, and a retry is safe: the plan is taken over and the ledger says what already happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from blocks import InboundControlSheet
from jtl_automator.plans import Plan, PlanStatus
from jtl_automator.services import plan_execution as svc
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from tasks.resources import correlated, load_block, sheet_backend
from tasks.retry import retry_transient


@task(name="plan-acquire-lease", cache_policy=NO_CACHE)
def plan_acquire_lease(keeper: LeaseKeeper) -> LeaseInfo | None:
    """Only the lease holder executes plans: an ``executing`` plan it finds was left by a dead run."""
    holder = keeper.take()
    if holder is not None:
        get_run_logger().warning("run %s holds the plan execution lease; this run does nothing", holder)
    return holder


@task(name="plan-release-lease", cache_policy=NO_CACHE)
def plan_release_lease(keeper: LeaseKeeper) -> None:
    """Give the lease back (also after a failure)."""
    keeper.release()


@task(name="plan-select", cache_policy=NO_CACHE)
def plan_select(ctx: svc.ExecutionContext) -> list[Plan]:
    """Approved plans of the executed kinds, and executing ones a dead run left (a dry run leaves those)."""
    plans = svc.plans_to_execute(ctx.plans)
    if ctx.dry_run:
        plans = [p for p in plans if p.status is PlanStatus.APPROVED]
    get_run_logger().info("%d plans to execute", len(plans))
    return plans


@task(
    name="plan-execute",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_transient,
    task_run_name="plan-execute-{plan.id}",
)
def plan_execute(ctx: svc.ExecutionContext, plan: Plan) -> list[svc.LineOutcome]:
    """One plan's purchase orders, e-mails, outbounds and inbounds (or its export), each exactly once."""
    with correlated():
        outcomes = svc.execute_plan(ctx, plan)
    get_run_logger().info("%s: %d lines", plan.describe(), len(outcomes))
    return outcomes


@task(name="plan-resolve-inbound-sheet", cache_policy=NO_CACHE)
def plan_resolve_inbound_sheet(
    sheet: str | None, worksheet: str | None, sheet_block: str | None, sheets_block: str | None
) -> svc.InboundControlTarget:
    """The Inbound Control sheet to fill: the parameters, else the InboundControlSheet block's settings."""
    columns = None
    if sheet_block:
        settings = load_block(InboundControlSheet, sheet_block)
        sheet, worksheet = sheet or settings.sheet, worksheet or settings.worksheet
        columns = settings.columns()
    if not sheet:
        raise ValueError("give the Inbound Control sheet (a spreadsheet id or an .xlsx path) or its block")
    return svc.InboundControlTarget(sheet_backend(sheet, sheets_block), sheet, worksheet, columns)


@task(
    name="plan-fill-inbound-control",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=retry_transient,
)
def plan_fill_inbound_control(
    ctx: svc.ExecutionContext, target: svc.InboundControlTarget, outcomes: list[svc.LineOutcome]
) -> dict[str, Any]:
    """List the run's executed lines in the Inbound Control sheet, each once (a dry run: which it would)."""
    ctx.check_lease()  # under the lease: two runs never append the same line side by side
    with correlated():
        filled = svc.fill_after_run(ctx.plans, target, outcomes, dry_run=ctx.dry_run, at=datetime.now(UTC))
    get_run_logger().info("%s: %s", target.sheet, filled.summary_line())
    return filled.as_dict()


@task(name="plan-publish-artifacts", cache_policy=NO_CACHE)
def plan_publish_artifacts(result: dict[str, Any]) -> None:
    """The run's summary and every line with its purchase order, inbound or reason."""
    create_markdown_artifact(key="plan-execution-summary", markdown=svc.summary_markdown(result))
    if "skipped" in result:
        return
    create_table_artifact(
        key="plan-execution-lines",
        table=result["lines"] or [{"line": "none"}],
        description=f"{len(result['lines'])} lines" + (" (dry run)" if result["dry_run"] else ""),
    )
