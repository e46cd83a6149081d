"""Tasks of the order processing flow; each calls jtl_automator.services.order_processing.

Clients are built once per flow run and shared by all its tasks (they run in threads of one process):
chunks submitted in parallel then share one rate limiter per API instead of multiplying the rate.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from blocks import SmtpServer, WebhookEndpoint
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.services import order_processing as svc
from jtl_automator.store import StateStore
from tasks.resources import correlated, ffn_client, load_block, state_store, wawi_client
from tasks.retry import retry_transient


@dataclass(frozen=True)
class Blocks:
    """Names of the blocks a run uses; None means the ``JTL_*`` environment (or: not configured)."""

    ffn: str | None = None
    wawi: str | None = None
    database: str | None = None
    email: str | None = None
    webhook: str | None = None


@dataclass
class _Clients:
    store: StateStore
    ffn: FfnClient
    wawi: WawiClient
    notifier: svc.Notifier | None


_CLIENTS: dict[str, _Clients] = {}
_CLIENTS_LOCK = threading.Lock()


def clients(run_id: str, blocks: Blocks) -> _Clients:
    """This flow run's clients, built on first use."""
    with _CLIENTS_LOCK:
        found = _CLIENTS.get(run_id)
        if found is None:
            store = state_store(blocks.database)
            notifier = None
            if blocks.email or blocks.webhook:
                notifier = svc.Notifier(
                    store,
                    run_id,
                    email=load_block(SmtpServer, blocks.email).get_client() if blocks.email else None,
                    webhook=load_block(WebhookEndpoint, blocks.webhook).get_client()
                    if blocks.webhook
                    else None,
                )
            found = _Clients(store, ffn_client(store, blocks.ffn), wawi_client(blocks.wawi), notifier)
            _CLIENTS[run_id] = found
        return found


def forget_clients(run_id: str) -> None:
    """Drop a finished run's clients (a long-lived worker runs many flows)."""
    with _CLIENTS_LOCK:
        _CLIENTS.pop(run_id, None)


def _context(run_id: str, blocks: Blocks, params: svc.OrderProcessingParams, dry_run: bool) -> svc.Context:
    c = clients(run_id, blocks)
    return svc.Context(
        c.wawi,
        c.ffn,
        c.store,
        params,
        run_id,
        dry_run,
        None if dry_run else c.notifier,
        lease_owner=None if dry_run else run_id,
    )


@task(name="orders-acquire-lease", cache_policy=NO_CACHE)
def orders_acquire_lease(run_id: str, lease_minutes: float, database_block: str | None) -> bool:
    """One run at a time across processes and machines: False when another run holds the lease."""
    got = state_store(database_block).acquire_lease(svc.LEASE_NAME, run_id, timedelta(minutes=lease_minutes))
    if not got:
        get_run_logger().warning("another order processing run holds the lease; this run does nothing")
    return got


@task(name="orders-release-lease", cache_policy=NO_CACHE)
def orders_release_lease(run_id: str, database_block: str | None) -> None:
    """Give the lease back (also after a failure, from the flow's ``finally``)."""
    state_store(database_block).release_lease(svc.LEASE_NAME, run_id)


@task(
    name="wawi-import-orders",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_transient,
)
def wawi_import_orders(
    run_id: str,
    since: datetime | None,
    now: datetime,
    params: svc.OrderProcessingParams,
    dry_run: bool,
    blocks: Blocks,
) -> svc.ImportedBatch:
    """Sales orders created since the watermark (and the open ones), with their lines."""
    with correlated():
        c = clients(run_id, blocks)
        batch = svc.import_orders(
            c.wawi, c.store, params, since=since, now=now, dry_run=dry_run, run_id=run_id
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


@task(
    name="ffn-load-fulfilment-data",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_transient,
)
def ffn_load_fulfilment_data(
    run_id: str, batch: svc.ImportedBatch, params: svc.OrderProcessingParams, blocks: Blocks
) -> svc.FulfilmentData:
    """Catalogue, stock and existing outbounds (bulk reads), and the Wawi on-hold reason ids."""
    with correlated():
        c = clients(run_id, blocks)
        data = svc.load_fulfilment_data(c.ffn, c.wawi, params, batch)
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


@task(
    name="orders-fulfil-chunk",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_transient,
)
def orders_fulfil_chunk(
    run_id: str,
    actions: Sequence[svc.Action],
    hold_reasons: dict[str, int],
    params: svc.OrderProcessingParams,
    dry_run: bool,
    blocks: Blocks,
) -> list[svc.Outcome]:
    """Holds, releases and outbounds of one chunk; a retry skips what the ledger shows as done."""
    with correlated():
        ctx = _context(run_id, blocks, params, dry_run)
        ctx.hold_reasons = hold_reasons
        outcomes = svc.apply_actions(ctx, actions)
    get_run_logger().info("chunk of %d orders: %s", len(actions), svc.summary(outcomes)["counts"])
    return outcomes


@task(
    name="ffn-sync-shipments",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_transient,
)
def ffn_sync_shipments(
    run_id: str,
    start: datetime,
    now: datetime,
    params: svc.OrderProcessingParams,
    dry_run: bool,
    blocks: Blocks,
) -> tuple[list[svc.Outcome], str]:
    """Shipped outbounds from FFN's updates feed: tracking to the ledger, to Wawi and to the customer."""
    with correlated():
        outcomes, mark = svc.sync_shipments(_context(run_id, blocks, params, dry_run), start=start, now=now)
    get_run_logger().info("%d orders shipped since the last run", len(outcomes))
    return outcomes, mark


@task(name="orders-advance-watermarks", cache_policy=NO_CACHE)
def orders_advance_watermarks(
    batch: svc.ImportedBatch, ffn_watermark: str | None, dry_run: bool, database_block: str | None
) -> dict[str, str]:
    """Only after every chunk is recorded: the next run starts where this one's listing ended."""
    return svc.finish(state_store(database_block), batch, ffn_watermark, dry_run=dry_run)


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
        table=[
            {k: row.get(k) for k in ("order_number", "order_id", "outcome", "codes", "reason")}
            for row in held
        ]
        or [{"order_number": None, "order_id": None, "outcome": None, "codes": None, "reason": None}],
        description=f"{len(held):,} orders held or failed, with their reasons",
    )


def alert_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` hook: one alert per failed run through the configured e-mail/webhook blocks."""
    parameters = dict(getattr(flow_run, "parameters", None) or {})
    email_block, webhook_block = parameters.get("email_block"), parameters.get("webhook_block")
    recipients = parameters.get("alert_email_to") or []
    if not webhook_block and not (email_block and recipients):
        return
    run_id = str(flow_run.id)
    store = state_store(parameters.get("database_block"))
    notifier = svc.Notifier(
        store,
        run_id,
        email=load_block(SmtpServer, email_block).get_client() if email_block and recipients else None,
        webhook=load_block(WebhookEndpoint, webhook_block).get_client() if webhook_block else None,
    )
    message = str(getattr(state, "message", "") or "the run failed")[:2000]
    for recipient in recipients or [None]:
        notifier.event(
            f"order-processing:alert:{run_id}" + (f":{recipient}" if recipient else ""),
            {"event": "order_processing.failed", "flow_run_id": run_id, "message": message},
            recipient=recipient,
            subject=f"Order processing failed: {flow_run.name}",
            markdown=f"Flow run **{flow_run.name}** ({run_id}) failed:\n\n```\n{message}\n```",
        )
