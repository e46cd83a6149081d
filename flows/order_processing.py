"""Order processing: Wawi sales orders become FFN outbounds exactly once; holds and tracking flow back.

Runs every 10 minutes (deployment ``order-processing``) and ad hoc (``jtl-automator run order-processing``).
See docs/order-processing.md for the stages, validation codes, warehouse rule and idempotency design.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows import ON_RUNNING
from jtl_automator.services.order_processing import OrderProcessingParams, run_stages
from tasks.order_processing import TaskStages, alert_on_failure, orders_publish_artifacts
from tasks.resources import RunBlocks, run_clients


@flow(
    name="order-processing",
    log_prints=False,
    validate_parameters=True,
    on_failure=[alert_on_failure],
    on_running=ON_RUNNING,
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
    blocks = RunBlocks(ffn_block, wawi_block, database_block, email_block, webhook_block)
    with run_clients(blocks, run_id) as clients:
        stages = TaskStages(clients, params, run_id, since, datetime.now(UTC), dry_run, alert_email_to or [])
        result = run_stages(stages, params, dry_run=dry_run)
    orders_publish_artifacts(result)
    return result
