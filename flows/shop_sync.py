"""Shop sync check: is JTL-Wawi's sync with JTL-Shop stuck? Stuck orders, stale stock, drifted prices.

Runs every 15 minutes (deployment ``shop-sync-check``) and ad hoc (``jtl-automator run shop-sync-check
[--dry-run]``). Read-only on both sides: it reports, keeps the incident history ("stuck since") and
alerts once per incident when it is raised and once when it clears. See docs/shop-sync-check.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows import ON_RUNNING
from jtl_automator.services.shop_sync import ShopSyncParams, run_stages
from tasks.resources import notifier_from_blocks, shop_client, state_store, wawi_client
from tasks.shop_sync import TaskStages, shop_sync_publish_artifacts


@flow(name="shop-sync-check", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def shop_sync_check(
    dry_run: bool = False,
    params: ShopSyncParams | None = None,
    shop_block: str | None = None,
    wawi_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
    email_to: list[str] | None = None,
    webhook_block: str | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Compare the shop with Wawi: orders Wawi has not pulled, stock and prices the shop shows wrongly.

    Args:
        dry_run: Read and report only: no history written, no cursor moved, no alert sent.
        params: Grace period, thresholds, tolerances, warehouse map, sales channel, page size, ...
        shop_block: JtlShopCredentials block (default: the JTL_SHOP_* environment).
        wawi_block: JtlWawiCredentials block (default: the JTL_WAWI_* environment).
        database_block: StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block the alerts go through (with ``email_to``).
        email_to: Recipients of the alerts.
        webhook_block: WebhookEndpoint block called with each alert.
        as_of: Run as if at this moment (default: now); ages and thresholds count to it.
    """
    params = params or ShopSyncParams()
    run_id = str(flow_run.get_id() or "local")
    moment = as_of or datetime.now(UTC)
    now = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    store = state_store(database_block)
    notifier = (
        notifier_from_blocks(store, run_id, email_block if email_to else None, webhook_block)
        if (email_block and email_to) or webhook_block
        else None
    )
    with shop_client(shop_block) as shop, wawi_client(wawi_block) as wawi:
        stages = TaskStages(shop, wawi, store, params, now, run_id, notifier, tuple(email_to or ()))
        result = run_stages(stages, params, dry_run=dry_run)
    shop_sync_publish_artifacts(result)
    return result
