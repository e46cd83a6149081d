"""Tasks of the shop sync check flow, and ``TaskStages``: the run's stages as these tasks.

The sequence lives once in ``jtl_automator.services.shop_sync.pipeline.run_stages``. Reads retry on a
transient failure only where the service lets one through (it turns a side that stays down into "not
checked" itself); recording and alerting are each one task, keyed so a retry does nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.clients.shop.client import ShopClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.notify.notifier import Notifier
from jtl_automator.services import shop_sync as svc
from jtl_automator.services.shop_sync.evaluate import Evaluation
from jtl_automator.services.shop_sync.reads import ShopInputs, WawiInputs
from jtl_automator.services.shop_sync.record import Recorded
from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import ShopSyncStore
from tasks.resources import as_is, correlated
from tasks.retry import retry_transient

_RETRYING: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 30,
    "retry_condition_fn": retry_transient,
}


@task(name="shop-and-wawi-read", **_RETRYING)
def shop_sync_read(
    shop: ShopClient, wawi: WawiClient, sync: ShopSyncStore, params: svc.ShopSyncParams, now: datetime
) -> tuple[ShopInputs, WawiInputs]:
    """The shop's and Wawi's reads, in one task so that each starts as early as it can.

    New shop orders after the cursor (with their carts) and every product page; Wawi's orders for the
    followed numbers, its stock and the prices the check needs. Wawi's reads that need nothing from the
    shop start beside the shop's, the others as soon as the shop's answers they need are in.
    """
    with correlated():
        inputs, wawi_inputs = svc.read_inputs(shop, wawi, sync, params, now)
    logger = get_run_logger()
    logger.info(
        "shop: %d new orders (%d carts), %d re-read; %d products%s",
        len(inputs.orders.new),
        inputs.orders.carts,
        len(inputs.orders.reread),
        len(inputs.catalogue.products),
        "" if inputs.orders.ok and inputs.catalogue.ok else " (not everything could be read)",
    )
    logger.info("Wawi: %d order numbers looked up (%s)", len(wawi_inputs.matches), wawi_inputs.lookup)
    return inputs, wawi_inputs


@task(name="shop-sync-evaluate", cache_policy=NO_CACHE)
def shop_sync_evaluate(
    shop: ShopInputs, wawi: WawiInputs, sync: ShopSyncStore, params: svc.ShopSyncParams
) -> Evaluation:
    """The comparisons and what they mean for the open incidents (pure but for reading those)."""
    evaluation = svc.evaluate(shop, wawi, sync.open_incidents(), params)
    get_run_logger().info("findings: %s", evaluation.findings["kind"].value_counts().to_dict())
    for check, why in evaluation.unchecked.items():
        get_run_logger().warning("not checked: %s: %s", check, why)
    return evaluation


@task(name="shop-sync-record", cache_policy=NO_CACHE)
def shop_sync_record(
    sync: ShopSyncStore,
    shop: ShopInputs,
    wawi: WawiInputs,
    evaluation: Evaluation,
    params: svc.ShopSyncParams,
    run_id: str,
) -> Recorded:
    """The run's history: followed orders, Wawi's answers, the cursor, channel prices, incidents."""
    recorded = svc.record(sync, shop, wawi, evaluation, params, run_id)
    get_run_logger().info("incidents: %s", recorded.incidents)
    return recorded


@task(name="shop-sync-alert", **_RETRYING)
def shop_sync_alert(
    sync: ShopSyncStore,
    notifier: Notifier | None,
    params: svc.ShopSyncParams,
    now: datetime,
    recipients: Sequence[str],
) -> dict[str, Any]:
    """One message for the incidents raised and cleared since the last one (each announced once)."""
    with correlated():
        sent = svc.alert(sync, notifier, params, now, recipients)
    get_run_logger().info("alerts: %s", sent)
    return sent


@task(name="shop-sync-publish-artifacts", cache_policy=NO_CACHE)
def shop_sync_publish_artifacts(result: dict[str, Any]) -> None:
    """The run at a glance, and every open incident as a table."""
    create_markdown_artifact(key="shop-sync-check-summary", markdown=svc.summary_markdown(result))
    incidents = len(result["incidents"])
    create_table_artifact(
        key="shop-sync-check-incidents",
        table=svc.table_rows(result),
        description=f"{incidents} incidents open" + (" (dry run)" if result["dry_run"] else ""),
    )


@dataclass
class TaskStages:
    """The stages of one flow run as Prefect tasks (see ``svc.Stages``)."""

    shop: ShopClient
    wawi: WawiClient
    store: StateStore
    params: svc.ShopSyncParams
    now: datetime
    run_id: str
    notifier: Notifier | None = None
    recipients: Sequence[str] = ()
    sync: ShopSyncStore = field(init=False)

    def __post_init__(self) -> None:
        self.sync = ShopSyncStore(self.store)

    def read(self) -> tuple[ShopInputs, WawiInputs]:
        """See ``svc.Stages``."""
        return shop_sync_read(as_is(self.shop), as_is(self.wawi), as_is(self.sync), self.params, self.now)

    def evaluate(self, shop: ShopInputs, wawi: WawiInputs) -> Evaluation:
        """See ``svc.Stages``."""
        return shop_sync_evaluate(as_is(shop), as_is(wawi), as_is(self.sync), self.params)

    def record(self, shop: ShopInputs, wawi: WawiInputs, evaluation: Evaluation) -> Recorded:
        """See ``svc.Stages``."""
        return shop_sync_record(
            as_is(self.sync), as_is(shop), as_is(wawi), as_is(evaluation), self.params, self.run_id
        )

    def alert(self) -> dict[str, Any]:
        """See ``svc.Stages``."""
        return shop_sync_alert(
            as_is(self.sync), as_is(self.notifier), self.params, self.now, list(self.recipients)
        )
