"""The merchant's declarative workflows: ``workflows-tick`` fires them, ``workflow-run`` runs one.

``workflows-tick`` runs every minute (concurrency 1): it evaluates every active workflow's trigger
(schedule ticks, Wawi item and stock changes, order events, gateway events), records one run per entity
per change and runs each as a ``workflow-run`` flow run, each step a task run named after its node. See
docs/workflow-runs.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from jtl_automator.workflows.entities import WawiEntitySource
from jtl_automator.workflows.runner import Runner, tick_summary
from jtl_automator.workflows.store import WorkflowStore
from jtl_automator.workflows.triggers import gateway_feed
from tasks.resources import RunBlocks, as_is, run_clients, workflow_resources
from tasks.workflows import (
    workflow_begin,
    workflow_finish,
    workflow_publish,
    workflow_step,
    workflows_evaluate,
)


@flow(name="workflow-run", log_prints=False, validate_parameters=True)
def workflow_run(
    run_id: str,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
    webhook_block: str | None = None,
) -> dict[str, Any]:
    """Run (or resume) one recorded workflow run.

    Args:
        run_id: The workflow run (``jtl-automator workflows runs NAME`` lists them).
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block for send_email steps without their own ``smtp:``.
        webhook_block: WebhookEndpoint block for the run's notifications (steps name their own).
    """
    blocks = RunBlocks(ffn_block, wawi_block, database_block, email_block, webhook_block)
    flow_id = str(flow_run.get_id() or "") or None
    with (
        run_clients(blocks, flow_id or run_id) as clients,
        workflow_resources(
            clients.store,
            clients.ffn,
            clients.wawi,
            datetime.now(UTC),
            email_block=email_block,
            notifier=clients.notifier,
        ) as resources,
    ):
        runner = Runner(WorkflowStore(clients.store), resources)
        for node in workflow_begin(as_is(runner), run_id, flow_id):
            workflow_step(as_is(runner), run_id, node)
        run = workflow_finish(as_is(runner), run_id)
    workflow_publish(run)
    return {"run_id": run.id, "workflow": run.workflow, "status": run.status.value, "error": run.error}


@flow(name="workflows-tick", log_prints=False, validate_parameters=True)
def workflows_tick(
    names: list[str] | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
    webhook_block: str | None = None,
) -> dict[str, Any]:
    """Evaluate the active workflows' triggers and run what fired, one ``workflow-run`` per run.

    Args:
        names: Only these workflows (default: every active one).
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block for send_email steps without their own ``smtp:``.
        webhook_block: WebhookEndpoint block for the run's notifications (steps name their own).
    """
    blocks = RunBlocks(ffn_block, wawi_block, database_block, email_block, webhook_block)
    with run_clients(blocks, str(flow_run.get_id() or "local")) as clients:
        workflows = WorkflowStore(clients.store)
        source = WawiEntitySource(clients.wawi, clients.store)
        feed = gateway_feed(clients.store)
        started = workflows_evaluate(as_is(workflows), as_is(source), as_is(feed), names)
    results = [
        workflow_run(run_id, ffn_block, wawi_block, database_block, email_block, webhook_block)
        for item in started
        for run_id in item.to_run
    ]
    return tick_summary(started, results)
