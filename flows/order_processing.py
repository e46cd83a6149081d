"""Order processing: Wawi sales orders become FFN outbounds exactly once; holds and tracking flow back.

Runs every 10 minutes (deployment ``order-processing``) and ad hoc (``jtl-automator run order-processing``).
See README "Order processing" for the stages, validation codes, warehouse rule and idempotency design.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from prefect import flow
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from jtl_automator.services.order_processing import OrderProcessingParams, summary
from tasks.order_processing import (
    Blocks,
    alert_on_failure,
    ffn_load_fulfilment_data,
    ffn_sync_shipments,
    forget_clients,
    orders_acquire_lease,
    orders_advance_watermarks,
    orders_fulfil_chunk,
    orders_plan,
    orders_publish_artifacts,
    orders_release_lease,
    wawi_import_orders,
)

T = TypeVar("T")


def as_is(value: T) -> T:
    """Hand a large input to a task without Prefect walking it element by element looking for futures."""
    return cast(T, quote(value))


@flow(
    name="order-processing",
    log_prints=False,
    validate_parameters=True,
    task_runner=ThreadPoolTaskRunner(max_workers=4),  # type: ignore[arg-type]
    on_failure=[alert_on_failure],
)
def order_processing(
    since: datetime | None = None,
    dry_run: bool = False,
    params: OrderProcessingParams | None = None,
    ffn_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
    webhook_block: str | None = None,
    alert_email_to: list[str] | None = None,
) -> dict[str, Any]:
    """Import, validate, fulfil, notify and archive new JTL-Wawi sales orders.

    Args:
        since: List orders created since then (default: the last run's watermark; first run: 7 days).
        dry_run: Compute and report everything, write nothing (no Wawi change, outbound, ledger, message).
        params: Chunk size, validation, warehouse priority, shipping method map, on-hold reasons, ...
        ffn_block: JtlFfnCredentials block (default: the JTL_FFN_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block: order confirmations and shipping notices to customers, alerts.
        webhook_block: WebhookEndpoint block called once per order event and on a failed run.
        alert_email_to: Recipients of the alert e-mail when a run fails.
    """
    params = params or OrderProcessingParams()
    run_id = str(flow_run.get_id() or "local")
    blocks = Blocks(ffn_block, wawi_block, database_block, email_block, webhook_block)
    now = datetime.now(UTC)
    if not dry_run and not orders_acquire_lease(run_id, params.lease_minutes, database_block):
        result = {"skipped": "another run holds the lease", "counts": {}, "dry_run": dry_run}
        orders_publish_artifacts(result)
        return result
    try:
        batch = wawi_import_orders(run_id, since, now, params, dry_run, blocks)
        data = ffn_load_fulfilment_data(run_id, as_is(batch), params, blocks)
        plan = orders_plan(as_is(batch), as_is(data), params)
        futures = [
            orders_fulfil_chunk.submit(run_id, as_is(chunk), data.hold_reasons, params, dry_run, blocks)
            for chunk in plan.chunks(params.chunk_size)
        ]
        outcomes = list(batch.outcomes)
        for future in futures:
            outcomes.extend(future.result())
        shipped, ffn_mark = ffn_sync_shipments(run_id, batch.window_start, now, params, dry_run, blocks)
        outcomes.extend(shipped)
        orders_advance_watermarks(as_is(batch), ffn_mark, dry_run, database_block)
        result = summary(outcomes, dry_run=dry_run, window_start=batch.window_start.isoformat())
        orders_publish_artifacts(result)
        return result
    finally:
        if not dry_run:
            orders_release_lease(run_id, database_block)
        forget_clients(run_id)
