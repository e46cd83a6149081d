"""Plan execution: approved plans become purchase orders, supplier e-mails, FFN outbounds and inbounds.

Runs every 30 minutes (deployment ``plan-execution``) and ad hoc (``jtl-automator run plan-execution
[--dry-run]``): restock plans become purchase orders and inbounds; rebalance plans an outbound to the
destination warehouse plus its inbound; supplier returns and exchanges outbounds to the supplier (and the
inbound expected back), exported as .xlsx where Wawi has no address. Each side effect happens exactly
once; see docs/plan-execution.md.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from blocks import SmtpServer
from flows import ON_RUNNING
from jtl_automator.services import plan_execution as svc
from tasks.plan_execution import (
    plan_acquire_lease,
    plan_execute,
    plan_fill_inbound_control,
    plan_publish_artifacts,
    plan_release_lease,
    plan_resolve_inbound_sheet,
    plan_select,
)
from tasks.resources import RunBlocks, as_is, load_block, run_clients


@flow(name="plan-execution", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def plan_execution(
    dry_run: bool = False,
    params: svc.PlanExecutionParams | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
    inbound_sheet: str | None = None,
    inbound_worksheet: str | None = None,
    inbound_sheet_block: str | None = None,
    sheets_block: str | None = None,
) -> dict[str, Any]:
    """Execute every approved restock, rebalance, supplier return and supplier exchange plan.

    Args:
        dry_run: Say per line what would be ordered, shipped or exported; record, send and create nothing.
        params: Purchase order prefix, default lead time, e-mail subjects, ...
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block the purchase orders are e-mailed through (none: lines wait with
            that reason, unless ``params.send_email`` is off).
        inbound_sheet: Inbound Control sheet (spreadsheet id or ``.xlsx`` path) to list the executed lines
            in, once each, for the inbound verification (none: no sheet is filled).
        inbound_worksheet: Its tab (default: "Inbound Control", else the first).
        inbound_sheet_block: InboundControlSheet block with that sheet, tab and columns (parameters win).
        sheets_block: GoogleSheetsCredentials block (default: the JTL_GOOGLE_* environment).
    """
    params = params or svc.PlanExecutionParams()
    run_id = str(flow_run.get_id() or "local")
    mailer = load_block(SmtpServer, email_block).get_client() if email_block else None
    target = (
        plan_resolve_inbound_sheet(inbound_sheet, inbound_worksheet, inbound_sheet_block, sheets_block)
        if inbound_sheet or inbound_sheet_block
        else None
    )
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
                result = svc.summary(outcomes, dry_run=dry_run)
                if target is not None:
                    filled = plan_fill_inbound_control(as_is(ctx), as_is(target), as_is(outcomes))
                    result["inbound_control"] = filled
            except svc.InboundControlNotFilled as exc:  # the plans stand; the summary says what is left
                result["inbound_control"] = {"error": str(exc)}
                plan_publish_artifacts(result)
                raise
            finally:
                if keeper is not None:
                    plan_release_lease(as_is(keeper))
    plan_publish_artifacts(result)
    return result
