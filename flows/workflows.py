"""The merchant's declarative workflows: ``workflows-tick`` fires them, ``workflow-batch`` runs them.

``workflows-tick`` runs every minute (concurrency 1): it evaluates every active workflow's trigger
(schedule ticks, Wawi item and stock changes, order events, gateway events), records one run per entity
per change, and runs them in batches (one workflow version, up to ``batch_size`` runs) as
``workflow-batch`` flow runs, each node a task run named after it that runs the node for every run of
the batch. ``workflow-run`` runs (or resumes) one run by id. See docs/workflow-runs.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from prefect import flow
from prefect.runtime import flow_run
from pydantic import Field

from flows import ON_RUNNING
from jtl_automator.workflows.batch import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    BatchRunner,
    batch_label,
)
from jtl_automator.workflows.entities import WawiEntitySource
from jtl_automator.workflows.runner import Runner
from jtl_automator.workflows.store import WorkflowStore
from jtl_automator.workflows.triggers import gateway_feed
from tasks.resources import RunBlocks, as_is, run_clients, workflow_resources
from tasks.workflows import (
    batch_results,
    workflow_batch_begin,
    workflow_batch_finish,
    workflow_batch_publish,
    workflow_batch_step,
    workflow_begin,
    workflow_finish,
    workflow_publish,
    workflow_step,
    workflows_evaluate,
    workflows_plan_batches,
    workflows_tick_report,
)


@flow(name="workflow-run", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
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


def _batch_name() -> str:
    """``restock-saison v3: 200 runs``: the workflow, its version and how many runs the batch holds."""
    params = flow_run.get_parameters()
    return batch_label(
        str(params.get("workflow", "?")), int(params.get("version", 0)), len(params.get("run_ids", ()))
    )


@flow(
    name="workflow-batch",
    flow_run_name=_batch_name,
    log_prints=False,
    validate_parameters=True,
    on_running=ON_RUNNING,
)
def workflow_batch(
    workflow: str,
    version: int,
    run_ids: Annotated[list[str], Field(min_length=1, max_length=MAX_BATCH_SIZE)],
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
    webhook_block: str | None = None,
) -> dict[str, Any]:
    """Run (or resume) a batch of recorded runs of one workflow version, node by node.

    Args:
        workflow: The workflow's name.
        version: The version the runs were made for (a run of another version is not run).
        run_ids: The runs (the tick batches them; ``jtl-automator workflows runs NAME`` lists them).
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block for send_email steps without their own ``smtp:``.
        webhook_block: WebhookEndpoint block for the run's notifications (steps name their own).
    """
    blocks = RunBlocks(ffn_block, wawi_block, database_block, email_block, webhook_block)
    flow_id = str(flow_run.get_id() or "") or None
    with (
        run_clients(blocks, flow_id or "batch") as clients,
        workflow_resources(
            clients.store,
            clients.ffn,
            clients.wawi,
            datetime.now(UTC),
            email_block=email_block,
            notifier=clients.notifier,
        ) as resources,
    ):
        batch = BatchRunner(Runner(WorkflowStore(clients.store), resources), workflow, version, run_ids)
        for node in workflow_batch_begin(as_is(batch), flow_id):
            workflow_batch_step(as_is(batch), node)
        outcome = workflow_batch_finish(as_is(batch), flow_id)
    workflow_batch_publish(as_is(outcome))
    return outcome.summary()


@flow(name="workflows-tick", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def workflows_tick(
    names: list[str] | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
    webhook_block: str | None = None,
    batch_size: Annotated[int, Field(ge=1, le=MAX_BATCH_SIZE)] = DEFAULT_BATCH_SIZE,
    resume_after_minutes: Annotated[int, Field(ge=1)] = 60,
) -> dict[str, Any]:
    """Evaluate the active workflows' triggers and run what fired, in ``workflow-batch`` flow runs.

    Args:
        names: Only these workflows (default: every active one).
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block for send_email steps without their own ``smtp:``.
        webhook_block: WebhookEndpoint block for the run's notifications (steps name their own).
        batch_size: Runs per ``workflow-batch`` flow run (one workflow version per batch).
        resume_after_minutes: A running run nothing touched for this long (its process stopped while
            Prefect still shows it running) is resumed.
    """
    blocks = RunBlocks(ffn_block, wawi_block, database_block, email_block, webhook_block)
    with run_clients(blocks, str(flow_run.get_id() or "local")) as clients:
        workflows = WorkflowStore(clients.store)
        source = WawiEntitySource(clients.wawi, clients.store)
        feed = gateway_feed(clients.store)
        started = workflows_evaluate(
            as_is(workflows), as_is(source), as_is(feed), names, timedelta(minutes=resume_after_minutes)
        )
        batches = workflows_plan_batches(as_is(workflows), started, batch_size)
    states = [
        workflow_batch(
            b.workflow,
            b.version,
            list(b.run_ids),
            ffn_block,
            wawi_block,
            database_block,
            email_block,
            webhook_block,
            return_state=True,
        )
        for b in batches
    ]
    return workflows_tick_report(started, batch_results(batches, states))
