"""Tasks of the stock sync flow, and ``TaskStages``: the run's stages as these tasks.

The sequence lives once in ``jtl_automator.services.stock_sync.pipeline.run_stages``. The apply stage is
one task for the whole batch: a retry of it re-claims every key, and the ledger says what is already done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.services import stock_sync as svc
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from tasks.resources import RunClients, as_is, correlated
from tasks.retry import retry_transient

_RETRYING: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 30,
    "retry_condition_fn": retry_transient,
}


@task(name="stock-acquire-lease", cache_policy=NO_CACHE)
def stock_acquire_lease(keeper: LeaseKeeper) -> LeaseInfo | None:
    """Two stock syncs never interleave their reads and deltas."""
    holder = keeper.take()
    if holder is not None:
        get_run_logger().warning("run %s holds the stock sync lease; this run does nothing", holder.owner)
    return holder


@task(name="stock-release-lease", cache_policy=NO_CACHE)
def stock_release_lease(keeper: LeaseKeeper) -> None:
    """Give the lease back (also after a failure)."""
    keeper.release()


@task(name="wawi-settle-stock-intents", **_RETRYING)
def wawi_settle_stock_intents(clients: RunClients) -> list[svc.Outcome]:
    """Adjustments an interrupted run sent but never recorded: Wawi's stock says whether they landed."""
    with correlated():
        settled = svc.settle_pending(clients.wawi, clients.store)
    if settled:
        get_run_logger().warning("settled %d interrupted adjustments", len(settled))
    return settled


@task(name="stock-load-levels", **_RETRYING)
def stock_load_levels(
    clients: RunClients, params: svc.StockSyncParams, full: bool, now: datetime
) -> svc.SyncInputs:
    """FFN's stock (or its change feed since the watermark) and Wawi's items and stock, in bulk."""
    with correlated():
        inputs = svc.load_inputs(clients.ffn, clients.wawi, clients.store, params, full=full, now=now)
    get_run_logger().info("%s: %d FFN rows, %d Wawi rows", inputs.mode, len(inputs.ffn), len(inputs.wawi))
    return inputs


@task(name="stock-plan", cache_policy=NO_CACHE)
def stock_plan(inputs: svc.SyncInputs, params: svc.StockSyncParams) -> pd.DataFrame:
    """One decision per (warehouse, item) (pure)."""
    from jtl_automator.transforms.stock_sync import plan_stock_adjustments

    plan = plan_stock_adjustments(inputs.ffn, inputs.wawi, svc.plan_params(inputs, params))
    get_run_logger().info("decisions: %s", plan["status"].value_counts().to_dict())
    return plan


@task(name="wawi-adjust-stock", **_RETRYING)
def wawi_adjust_stock(ctx: svc.ApplyContext, todo: pd.DataFrame) -> list[svc.Outcome]:
    """The batch's adjustments, exactly once; a retry finds the done ones in the ledger."""
    with correlated():
        outcomes = svc.apply_adjustments(ctx, todo)
    get_run_logger().info("%d adjustments sent or settled", len(outcomes))
    return outcomes


@task(name="wawi-read-plan-adjust-stock", **_RETRYING)
def wawi_read_plan_adjust_stock(
    clients: RunClients, inputs: svc.SyncInputs, params: svc.StockSyncParams, ctx: svc.ApplyContext | None
) -> svc.Synced:
    """Few changed items: each one's Wawi stock read, its SKU planned and adjusted as soon as it is back.

    A retry reads again (a SKU adjusted before is then in sync) and the ledger says what is done.
    """
    with correlated():
        synced = svc.sync_items(clients.wawi, inputs, svc.plan_params(inputs, params), params.workers, ctx)
    get_run_logger().info(
        "decisions: %s; %d adjustments sent or settled",
        synced.plan["status"].value_counts().to_dict(),
        len(synced.outcomes),
    )
    return synced


@task(name="stock-advance-watermark", cache_policy=NO_CACHE)
def stock_advance_watermark(clients: RunClients, inputs: svc.SyncInputs) -> str:
    """Only after every adjustment of the batch is recorded."""
    return clients.store.advance_watermark(svc.WATERMARK, inputs.window_end)


@task(name="stock-publish-artifacts", cache_policy=NO_CACHE)
def stock_publish_artifacts(result: dict[str, Any]) -> None:
    """Summary, the adjustments (made or, in a dry run, proposed), unknown SKUs and the largest deltas."""
    if "skipped" in result:
        return
    create_markdown_artifact(key="stock-sync-summary", markdown=svc.summary_markdown(result))
    create_table_artifact(
        key="stock-sync-adjustments",
        table=result["adjustments"] or [{"adjustment": "none"}],
        description=f"{len(result['adjustments']):,} adjustments"
        + (" (dry run)" if result["dry_run"] else ""),
    )
    create_table_artifact(
        key="stock-sync-largest-deltas",
        table=result["largest_deltas"] or [{"adjustment": "none"}],
        description="The largest deltas, by absolute value",
    )
    create_table_artifact(
        key="stock-sync-unknown-skus",
        table=[r for r in result["not_touched"] if r["status"] in ("unknown_sku", "not_in_ffn")]
        or [{"merchant_sku": "none"}],
        description="SKUs known on one side only: never touched",
    )


@dataclass
class TaskStages:
    """The stages of one flow run as Prefect tasks (see ``svc.Stages``)."""

    clients: RunClients
    params: svc.StockSyncParams
    run_id: str
    full: bool
    now: datetime
    lease: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.lease = svc.lease_keeper(self.clients.store, self.params, self.run_id)

    def acquire_lease(self) -> LeaseInfo | None:
        """See ``svc.Stages``."""
        return stock_acquire_lease(as_is(self.lease))

    def release_lease(self) -> None:
        """See ``svc.Stages``."""
        stock_release_lease(as_is(self.lease))

    def settle(self) -> list[svc.Outcome]:
        """See ``svc.Stages``."""
        return wawi_settle_stock_intents(as_is(self.clients))

    def load(self) -> svc.SyncInputs:
        """See ``svc.Stages``."""
        return stock_load_levels(as_is(self.clients), self.params, self.full, self.now)

    def plan(self, inputs: svc.SyncInputs) -> pd.DataFrame:
        """See ``svc.Stages``."""
        return stock_plan(as_is(inputs), self.params)

    def apply(self, todo: pd.DataFrame) -> list[svc.Outcome]:
        """See ``svc.Stages``."""
        ctx = svc.ApplyContext(self.clients.wawi, self.clients.store, self.params, self.run_id, self.lease)
        return wawi_adjust_stock(as_is(ctx), as_is(todo))

    def sync_items(self, inputs: svc.SyncInputs, *, dry_run: bool) -> svc.Synced:
        """See ``svc.Stages``."""
        ctx = (
            None
            if dry_run
            else svc.ApplyContext(self.clients.wawi, self.clients.store, self.params, self.run_id, self.lease)
        )
        return wawi_read_plan_adjust_stock(as_is(self.clients), as_is(inputs), self.params, as_is(ctx))

    def advance_watermark(self, inputs: svc.SyncInputs) -> str | None:
        """See ``svc.Stages``."""
        return stock_advance_watermark(as_is(self.clients), as_is(inputs))
