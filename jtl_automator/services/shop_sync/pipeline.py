"""The shop sync check, defined once: read shop -> read Wawi -> evaluate -> record -> alert -> report.

:func:`run_stages` says in which order the stages run and that a dry run records and sends nothing;
:class:`LocalStages` runs them as plain calls (tests, benchmark), ``tasks.shop_sync.TaskStages`` as Prefect
tasks (the flow).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import in_context
from jtl_automator.notify.notifier import Notifier
from jtl_automator.services.shop_sync.evaluate import Evaluation, evaluate
from jtl_automator.services.shop_sync.params import ShopSyncParams
from jtl_automator.services.shop_sync.reads import (
    ShopCatalogue,
    ShopInputs,
    ShopOrders,
    ShopReader,
    WawiInputs,
    read_shop_catalogue,
    read_shop_orders,
    read_wawi,
)
from jtl_automator.services.shop_sync.record import Recorded, alert, record
from jtl_automator.services.shop_sync.report import summary
from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import ShopSyncStore


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def read_shop(self) -> ShopInputs:
        """New (and rechecked) orders with their carts, every product."""
        ...

    def read_wawi(self, shop: ShopInputs) -> WawiInputs:
        """Wawi's orders for the followed numbers, its stock and prices."""
        ...

    def evaluate(self, shop: ShopInputs, wawi: WawiInputs) -> Evaluation:
        """The comparisons and the incident plan (pure, on the open incidents)."""
        ...

    def record(self, shop: ShopInputs, wawi: WawiInputs, evaluation: Evaluation) -> Recorded:
        """The history into the state database."""
        ...

    def alert(self) -> dict[str, Any]:
        """The alerts now due."""
        ...


def run_stages(stages: Stages, params: ShopSyncParams, *, dry_run: bool) -> dict[str, Any]:
    """The run; a dry run reads and reports but writes no history and sends no alert."""
    shop = stages.read_shop()
    wawi = stages.read_wawi(shop)
    evaluation = stages.evaluate(shop, wawi)
    recorded = None if dry_run else stages.record(shop, wawi, evaluation)
    alerts = None if dry_run else stages.alert()
    return summary(shop, wawi, evaluation, params, dry_run=dry_run, recorded=recorded, alerts=alerts)


def read_shop(shop: ShopReader, sync: ShopSyncStore, params: ShopSyncParams, now: datetime) -> ShopInputs:
    """Stage 1 as one call: the orders (if checked), the products (if stock or prices are checked).

    The product pages are read beside the order pages: two cursors that do not depend on each other.
    The followed orders come from the state database while the product pages are still coming.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shop-products") as pool:
        wants_products = bool({"stock", "prices"} & set(params.checks))
        products = pool.submit(in_context(read_shop_catalogue), shop, params) if wants_products else None
        orders = read_shop_orders(shop, sync, params, now) if "orders" in params.checks else None
        followed = sync.followed_orders()  # nothing of this stage writes them
        catalogue = products.result() if products is not None else ShopCatalogue()
    return ShopInputs(orders or ShopOrders(), catalogue, followed, now)


@dataclass
class LocalStages:
    """Every stage as a plain call in this process."""

    shop: ShopReader
    wawi: WawiClient
    store: StateStore
    params: ShopSyncParams
    now: datetime
    run_id: str = "local"
    notifier: Notifier | None = None
    recipients: Sequence[str] = ()
    sync: ShopSyncStore = field(init=False)

    def __post_init__(self) -> None:
        self.sync = ShopSyncStore(self.store)

    def read_shop(self) -> ShopInputs:
        """See :class:`Stages`."""
        return read_shop(self.shop, self.sync, self.params, self.now)

    def read_wawi(self, shop: ShopInputs) -> WawiInputs:
        """See :class:`Stages`."""
        return read_wawi(self.wawi, self.sync, shop, self.params)

    def evaluate(self, shop: ShopInputs, wawi: WawiInputs) -> Evaluation:
        """See :class:`Stages`."""
        return evaluate(shop, wawi, self.sync.open_incidents(), self.params)

    def record(self, shop: ShopInputs, wawi: WawiInputs, evaluation: Evaluation) -> Recorded:
        """See :class:`Stages`."""
        return record(self.sync, shop, wawi, evaluation, self.params, self.run_id)

    def alert(self) -> dict[str, Any]:
        """See :class:`Stages`."""
        return alert(self.sync, self.notifier, self.params, self.now, self.recipients)


def run_shop_sync_check(
    shop: ShopReader,
    wawi: WawiClient,
    store: StateStore,
    params: ShopSyncParams | None = None,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    run_id: str = "local",
    notifier: Notifier | None = None,
    recipients: Sequence[str] = (),
) -> dict[str, Any]:
    """The whole run as the flow does it, without Prefect (tests, benchmark)."""
    params = params or ShopSyncParams()
    started = time.perf_counter()
    stages = LocalStages(
        shop, wawi, store, params, now or datetime.now(UTC), run_id, notifier, tuple(recipients)
    )
    result = run_stages(stages, params, dry_run=dry_run)
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result
