"""Tasks of the order processing flow, and ``TaskStages``: the run's stages as these tasks.

The sequence itself lives once in ``jtl_automator.services.order_processing.pipeline.run_stages``; the
flow hands it a ``TaskStages``, so every stage shows up as a task run in the UI while the plain-Python
pipeline (tests, benchmark) runs the very same sequence.

Clients are built once per flow run (``tasks.resources.run_clients``) and handed to the tasks, which run
in threads of the flow's process: the parallel chunks share one rate limiter per API instead of
multiplying the rate, and the connection pools are closed when the run ends.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from jtl_automator.clients.errors import JtlApiError
from jtl_automator.services import order_processing as svc
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from tasks.resources import RunClients, as_is, correlated, notifier_from_blocks, state_store
from tasks.retry import retry_transient

# Stages that talk to Wawi or FFN retry on transient failures (after the clients' own retries).
_RETRYING: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 30,
    "retry_condition_fn": retry_transient,
}


@task(name="orders-acquire-lease", cache_policy=NO_CACHE)
def orders_acquire_lease(keeper: LeaseKeeper) -> LeaseInfo | None:
    """One run at a time across processes and machines; a heartbeat keeps the lease while the run lives."""
    holder = keeper.take()
    if holder is not None:
        get_run_logger().warning(
            "run %s holds the order processing lease; this run does nothing", holder.owner
        )
    return holder


@task(name="orders-release-lease", cache_policy=NO_CACHE)
def orders_release_lease(keeper: LeaseKeeper) -> None:
    """Give the lease back (also after a failure); if that fails, it expires within its time to live."""
    keeper.release()


@task(name="orders-alert-lease-stuck", cache_policy=NO_CACHE)
def orders_alert_lease_stuck(
    clients: RunClients, run_id: str, holder: LeaseInfo, recipients: list[str]
) -> None:
    """Runs keep being skipped for a lease held too long: one alert per holder."""
    svc.alert_lease_stuck(clients.notifier, run_id, holder, recipients)


@task(name="wawi-import-orders", **_RETRYING)
def wawi_import_orders(
    clients: RunClients,
    run_id: str,
    since: datetime | None,
    now: datetime,
    params: svc.OrderProcessingParams,
    dry_run: bool,
    deadline: float | None = None,
) -> svc.ImportedBatch:
    """Sales orders created since the watermark (and the open ones), with their lines (until ``deadline``)."""
    with correlated():
        batch = svc.import_orders(
            clients.wawi,
            clients.store,
            params,
            since=since,
            now=now,
            dry_run=dry_run,
            run_id=run_id,
            deadline=deadline,
        )
    get_run_logger().info(
        "listed %d orders since %s: %d to evaluate, %d skipped, %d Wawi requests",
        batch.listed,
        batch.window_start.isoformat(),
        len(batch.orders),
        len(batch.outcomes),
        batch.requests,
    )
    return batch


@task(name="ffn-load-fulfilment-data", **_RETRYING)
def ffn_load_fulfilment_data(
    clients: RunClients, batch: svc.ImportedBatch, params: svc.OrderProcessingParams
) -> svc.FulfilmentData:
    """Catalogue, stock and existing outbounds (bulk reads), and the Wawi on-hold reason ids."""
    with correlated():
        data = svc.load_fulfilment_data(clients.ffn, clients.wawi, params, batch)
    get_run_logger().info(
        "%d SKUs, %d stock rows, %d existing outbounds, %d FFN requests",
        len(data.sku_map),
        len(data.available),
        len(data.existing),
        data.ffn_requests,
    )
    return data


@task(name="orders-plan", cache_policy=NO_CACHE)
def orders_plan(
    batch: svc.ImportedBatch, data: svc.FulfilmentData, params: svc.OrderProcessingParams
) -> svc.Plan:
    """Validate, allocate, decide (pure)."""
    plan = svc.plan_orders(batch, data, params)
    get_run_logger().info("decisions: %s", plan.counts)
    return plan


@task(name="orders-fulfil-chunk", **_RETRYING)
def orders_fulfil_chunk(ctx: svc.Context, actions: Sequence[svc.Action]) -> list[svc.Outcome]:
    """Holds, releases and outbounds of one chunk; a retry skips what the ledger shows as done."""
    with correlated():
        outcomes = svc.apply_actions(ctx, actions)
    get_run_logger().info("chunk of %d orders: %s", len(actions), svc.summary(outcomes)["counts"])
    return outcomes


@task(name="ffn-amend-outbounds", **_RETRYING)
def ffn_amend_outbounds(ctx: svc.Context, changes: Sequence[svc.Change]) -> list[svc.Outcome]:
    """Orders changed in Wawi after their outbound: to FFN while it can change, else to a person."""
    with correlated():
        outcomes = svc.amend_outbounds(ctx, changes)
    get_run_logger().info("%d changes after the outbound: %s", len(changes), svc.summary(outcomes)["counts"])
    return outcomes


@task(name="ffn-sync-shipments", **_RETRYING)
def ffn_sync_shipments(ctx: svc.Context, start: datetime, now: datetime) -> tuple[list[svc.Outcome], str]:
    """Shipped outbounds from FFN's updates feed: tracking to the ledger, to Wawi and to the customer."""
    with correlated():
        outcomes, mark = svc.sync_shipments(ctx, start=start, now=now)
    get_run_logger().info("%d orders shipped since the last run", len(outcomes))
    return outcomes, mark


@task(name="orders-advance-watermarks", cache_policy=NO_CACHE)
def orders_advance_watermarks(
    clients: RunClients, batch: svc.ImportedBatch, ffn_watermark: str | None, dry_run: bool
) -> dict[str, str]:
    """Only after every chunk is recorded: the next run starts where this one's listing ended."""
    return svc.finish(clients.store, batch, ffn_watermark, dry_run=dry_run)


@task(name="orders-publish-artifacts", cache_policy=NO_CACHE)
def orders_publish_artifacts(result: dict[str, Any]) -> None:
    """Markdown summary (counts per outcome, held per reason) and a table of held and failed orders."""
    create_markdown_artifact(
        key="order-processing-summary",
        markdown=svc.summary_markdown(result),
        description="Order processing: counts per outcome",
    )
    held = result.get("held") or []
    create_table_artifact(
        key="order-processing-held",
        table=svc.held_table(result),
        description=f"{len(held):,} orders held or failed, with their reasons",
    )


@dataclass
class TaskStages:
    """The stages of one flow run as Prefect tasks (see ``svc.Stages``).

    Inputs are passed as they are, so Prefect does not walk frames and thousands of actions for futures.
    """

    clients: RunClients
    params: svc.OrderProcessingParams
    run_id: str
    since: datetime | None
    now: datetime
    dry_run: bool
    alert_to: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lease = svc.lease_keeper(self.clients.store, self.params, self.run_id)
        # The time budget counts from here (the flow builds the stages as it starts): monotonic, in-process.
        self.import_deadline, self.deadline = self.params.deadlines(time.monotonic())

    def _context(self, hold_reasons: dict[str, int] | None = None) -> svc.Context:
        return svc.Context(
            self.clients.wawi,
            self.clients.ffn,
            self.clients.store,
            self.params,
            self.run_id,
            self.dry_run,
            None if self.dry_run else self.clients.notifier,
            dict(hold_reasons or {}),
            lease=None if self.dry_run else self.lease,
            alert_to=self.alert_to,
            deadline=self.deadline,
        )

    def acquire_lease(self) -> LeaseInfo | None:
        """See ``svc.Stages``."""
        return orders_acquire_lease(as_is(self.lease))

    def release_lease(self) -> None:
        """See ``svc.Stages``."""
        orders_release_lease(as_is(self.lease))

    def alert_lease_stuck(self, holder: LeaseInfo) -> None:
        """See ``svc.Stages``."""
        orders_alert_lease_stuck(as_is(self.clients), self.run_id, holder, self.alert_to)

    def import_orders(self) -> svc.ImportedBatch:
        """See ``svc.Stages``."""
        return wawi_import_orders(
            as_is(self.clients),
            self.run_id,
            self.since,
            self.now,
            self.params,
            self.dry_run,
            self.import_deadline,
        )

    def load_lookups(self, batch: svc.ImportedBatch) -> svc.FulfilmentData:
        """See ``svc.Stages``."""
        return ffn_load_fulfilment_data(as_is(self.clients), as_is(batch), self.params)

    def plan(self, batch: svc.ImportedBatch, data: svc.FulfilmentData) -> svc.Plan:
        """See ``svc.Stages``."""
        return orders_plan(as_is(batch), as_is(data), self.params)

    def fulfil(self, chunks: Sequence[Sequence[svc.Action]], data: svc.FulfilmentData) -> list[svc.Outcome]:
        """Every chunk as a task on a pool of ``params.workers`` threads (as the plain pipeline does).

        A pool of its own rather than the flow's task runner, whose size is fixed when the flow is
        defined: this run's ``params.workers`` decides, and a free thread takes the next chunk at once.
        """
        ctx = as_is(self._context(data.hold_reasons))
        outcomes: list[svc.Outcome] = []
        pool: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=self.params.workers)
        with pool as runner:
            futures = [
                runner.submit(orders_fulfil_chunk, {"ctx": ctx, "actions": as_is(list(chunk))})
                for chunk in chunks
            ]
            for future in futures:
                outcomes.extend(future.result())
        return outcomes

    def amend(self, batch: svc.ImportedBatch) -> list[svc.Outcome]:
        """See ``svc.Stages``."""
        return ffn_amend_outbounds(as_is(self._context()), as_is(batch.changes))

    def sync_shipments(self, batch: svc.ImportedBatch) -> tuple[list[svc.Outcome], str]:
        """See ``svc.Stages``."""
        return ffn_sync_shipments(as_is(self._context()), batch.window_start, self.now)

    def advance_watermarks(self, batch: svc.ImportedBatch, ffn_watermark: str) -> None:
        """See ``svc.Stages``."""
        orders_advance_watermarks(as_is(self.clients), as_is(batch), ffn_watermark, self.dry_run)


def failure_summary(state: Any) -> str:
    """What failed, never the data: an exception's message may quote SQL parameters or order data.

    The error's type, and for an API error its method, path and status; the full error is in the run's
    logs, which only people with access to the Prefect UI see.
    """
    try:
        error = state.result(raise_on_failure=False)
    except Exception:  # the result could not be loaded: say so rather than fail the alert
        error = None
    if not isinstance(error, BaseException):
        return "the run failed; the error is in the flow run's logs"
    where = ""
    if isinstance(error, JtlApiError) and error.method and error.path:
        status = f" -> {error.status}" if error.status is not None else ""
        where = f" ({error.method} {error.path}{status})"
    return f"{type(error).__name__}{where}; the full error is in the flow run's logs"


def alert_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` hook: one alert per failed run through the configured e-mail/webhook blocks."""
    parameters = dict(getattr(flow_run, "parameters", None) or {})
    recipients = list(parameters.get("alert_email_to") or [])
    email_block = parameters.get("email_block") if recipients else None
    webhook_block = parameters.get("webhook_block")
    if not webhook_block and not email_block:
        return
    run_id = str(flow_run.id)
    notifier = notifier_from_blocks(
        state_store(parameters.get("database_block")), run_id, email_block, webhook_block
    )
    message = failure_summary(state)
    notifier.event(
        f"order-processing:alert:{run_id}",
        {"event": "order_processing.failed", "flow_run_id": run_id, "message": message},
        recipients=recipients,
        subject=f"Order processing failed: {flow_run.name}",
        markdown=f"Flow run **{flow_run.name}** ({run_id}) failed:\n\n```\n{message}\n```",
    )
