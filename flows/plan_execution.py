"""Plan execution: approved restock plans become purchase orders, supplier e-mails and FFN inbounds.

Runs every 30 minutes (deployment ``plan-execution``) and ad hoc (``jtl-automator run plan-execution
[--dry-run]``). Each side effect happens exactly once; see docs/plan-execution.md.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from blocks import SmtpServer
from jtl_automator.services import plan_execution as svc
from tasks.plan_execution import (
    plan_acquire_lease,
    plan_execute,
    plan_publish_artifacts,
    plan_release_lease,
    plan_select,
)
from tasks.resources import RunBlocks, as_is, load_block, run_clients


@flow(name="plan-execution", log_prints=False, validate_parameters=True)
def plan_execution(
    dry_run: bool = False,
    params: svc.PlanExecutionParams | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
) -> dict[str, Any]:
    """Execute every approved restock plan.

    Args:
        dry_run: Say per line what would be ordered; record, send and create nothing.
        params: Purchase order prefix, default lead time, e-mail subjects, ...
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block the purchase orders are e-mailed through (none: lines wait with
            that reason, unless ``params.send_email`` is off).
    """
    params = params or svc.PlanExecutionParams()
    run_id = str(flow_run.get_id() or "local")
    mailer = load_block(SmtpServer, email_block).get_client() if email_block else None
    with run_clients(RunBlocks(ffn_block, wawi_block, database_block), run_id) as clients:
        keeper = None if dry_run else svc.lease_keeper(clients.store, params, run_id)
        holder = plan_acquire_lease(as_is(keeper)) if keeper is not None else None
        if holder is not None:
            result = svc.skipped(
                f"another run holds the plan execution lease ({holder.owner})", dry_run=dry_run
            )
        else:
            ctx = svc.ExecutionContext(
                clients.store, clients.ffn, clients.wawi, params, run_id, mailer, dry_run, keeper
            )
            outcomes: list[svc.LineOutcome] = []
            try:
                for plan in plan_select(as_is(ctx)):
                    outcomes += plan_execute(as_is(ctx), plan)
            finally:
                if keeper is not None:
                    plan_release_lease(as_is(keeper))
            result = svc.summary(outcomes, dry_run=dry_run)
    plan_publish_artifacts(result)
    return result
