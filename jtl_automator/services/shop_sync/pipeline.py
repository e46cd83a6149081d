"""The shop sync check, defined once: read (shop and Wawi) -> evaluate -> record -> alert -> report.

:func:`run_stages` says in which order the stages run and that a dry run records and sends nothing;
:class:`LocalStages` runs them as plain calls (tests, benchmark), ``tasks.shop_sync.TaskStages`` as Prefect
tasks (the flow).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.notify.notifier import Notifier
from jtl_automator.services.shop_sync.evaluate import Evaluation, evaluate
from jtl_automator.services.shop_sync.params import ShopSyncParams
from jtl_automator.services.shop_sync.reads import ShopInputs, ShopReader, WawiInputs, read_inputs
from jtl_automator.services.shop_sync.record import Recorded, alert, record
from jtl_automator.services.shop_sync.report import summary
from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import ShopSyncStore


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def read(self) -> tuple[ShopInputs, WawiInputs]:
        """What the shop and Wawi say, read in one stage (Wawi's reads start beside the shop's).

        The shop's new (and rechecked) orders with their carts and every product; Wawi's orders for the
        followed numbers, its stock and prices.
        """
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
    shop, wawi = stages.read()
    evaluation = stages.evaluate(shop, wawi)
    recorded = None if dry_run else stages.record(shop, wawi, evaluation)
    alerts = None if dry_run else stages.alert()
    return summary(shop, wawi, evaluation, params, dry_run=dry_run, recorded=recorded, alerts=alerts)


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

    def read(self) -> tuple[ShopInputs, WawiInputs]:
        """See :class:`Stages`."""
        return read_inputs(self.shop, self.wawi, self.sync, self.params, self.now)

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
