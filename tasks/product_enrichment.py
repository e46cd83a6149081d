"""Tasks of the product enrichment flow, and ``TaskStages``: the run's stages as these tasks.

The sequence lives once in ``jtl_automator.services.product_enrichment.pipeline.run_stages``. Each write
stage is one task for the whole batch: a retry of it re-claims every key, and the ledger says what is
already done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.services import product_enrichment as svc
from jtl_automator.services.product_enrichment.sources import SheetOpener
from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from jtl_automator.transforms.product_feed import FeedMapping
from tasks.resources import as_is, correlated
from tasks.retry import retry_transient

_RETRYING: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": 30,
    "retry_condition_fn": retry_transient,
}


@task(name="enrichment-read-feed", **{**_RETRYING, "retry_delay_seconds": 10})
def enrichment_read_feed(source: str, mapping: FeedMapping, open_sheet: SheetOpener) -> svc.FeedRead:
    """The supplier's feed as cells (CSV, workbook or Google Sheet) and its fingerprint."""
    with correlated():
        feed = svc.read_feed(source, mapping, open_sheet)
    get_run_logger().info("feed %s (%s): %d rows read", source, feed.kind, len(feed.grid))
    return feed


@task(name="enrichment-acquire-lease", cache_policy=NO_CACHE)
def enrichment_acquire_lease(keeper: LeaseKeeper) -> LeaseInfo | None:
    """Two enrichment runs never write the same items at once."""
    holder = keeper.take()
    if holder is not None:
        get_run_logger().warning("run %s holds the enrichment lease; this run does nothing", holder.owner)
    return holder


@task(name="enrichment-release-lease", cache_policy=NO_CACHE)
def enrichment_release_lease(keeper: LeaseKeeper) -> None:
    """Give the lease back (also after a failure)."""
    keeper.release()


@task(name="wawi-settle-enrichment-writes", **_RETRYING)
def wawi_settle_enrichment_writes(wawi: WawiClient, store: StateStore) -> list[svc.WriteOutcome]:
    """Writes an interrupted run sent but never recorded: Wawi says whether they landed."""
    with correlated():
        settled = svc.settle_pending(wawi, store)
    if settled:
        get_run_logger().warning("settled %d interrupted writes", len(settled))
    return settled


@task(name="enrichment-load-catalogue", **_RETRYING)
def enrichment_load_catalogue(
    wawi: WawiClient, store: StateStore, params: svc.ProductEnrichmentParams, needs: svc.Needs, now: datetime
) -> svc.Catalogue:
    """Wawi's items and categories, and the suppliers, images, properties and makers the run needs."""
    with correlated():
        catalogue = svc.load_catalogue(wawi, store, params, needs, now)
    get_run_logger().info("catalogue: %s", catalogue.stats)
    return catalogue


@task(name="enrichment-plan", cache_policy=NO_CACHE)
def enrichment_plan(
    request: svc.Request,
    config: svc.Config,
    catalogue: svc.Catalogue,
    feed: svc.FeedRead | None,
    params: svc.ProductEnrichmentParams,
) -> svc.Plan:
    """Matches, fills, conflicts and categories (pure)."""
    plan = svc.plan_run(request, config, catalogue, feed, params)
    parts = plan.parts
    if parts.decisions is not None:
        get_run_logger().info("fill decisions: %s", parts.decisions["status"].value_counts().to_dict())
    if parts.categorised is not None:
        get_run_logger().info("categories: %s", parts.categorised["status"].value_counts().to_dict())
    return plan


@task(name="wawi-fill-items", **_RETRYING)
def wawi_fill_items(ctx: svc.ApplyContext, todo: pd.DataFrame) -> list[svc.WriteOutcome]:
    """The batch's fills, exactly once; a retry finds the done ones in the ledger."""
    with correlated():
        outcomes = svc.apply_fills(ctx, todo)
    get_run_logger().info("%d values filled, found or failed", len(outcomes))
    return outcomes


@task(name="wawi-assign-categories", **_RETRYING)
def wawi_assign_categories(
    ctx: svc.ApplyContext, todo: dict[int, list[int]], skus: dict[int, str]
) -> list[svc.WriteOutcome]:
    """The batch's category assignments, exactly once."""
    with correlated():
        outcomes = svc.apply_assignments(ctx, todo, skus)
    get_run_logger().info("%d category assignments made, found or failed", len(outcomes))
    return outcomes


@task(name="enrichment-report", cache_policy=NO_CACHE)
def enrichment_report(
    catalogue: svc.Catalogue,
    plan: svc.Plan,
    result: dict[str, Any],
    params: svc.ProductEnrichmentParams,
    path: str,
    dry_run: bool,
) -> str:
    """The quality report (of Wawi after the writes) and the workbook."""
    from pathlib import Path

    written = svc.write_report(catalogue, plan, result, params, Path(path), dry_run=dry_run)
    get_run_logger().info("workbook: %s", written)
    return written


@task(name="enrichment-remember-feed", cache_policy=NO_CACHE)
def enrichment_remember_feed(store: StateStore, request: svc.Request, feed: svc.FeedRead) -> None:
    """The processed feed's fingerprint, for the scheduled check (``only_if_changed``)."""
    store.reset_watermark(svc.feed_mark(request), feed.fingerprint)


@task(name="enrichment-publish-artifacts", cache_policy=NO_CACHE)
def enrichment_publish_artifacts(result: dict[str, Any]) -> None:
    """Summary, fills (made or, in a dry run, proposed), conflicts, rejected rows, categories, quality."""
    create_markdown_artifact(key="product-enrichment-summary", markdown=svc.summary_markdown(result))
    if "skipped" in result:
        return
    suffix = " (dry run)" if result["dry_run"] else ""
    tables = [
        ("fills", "Values filled" + suffix, "fills"),
        ("conflicts", "Wawi and the feed disagree: left alone", "conflicts"),
        ("rejected", "Feed rows skipped, with the reason", "rejected-rows"),
        ("assignments", "Category assignments" + suffix, "category-assignments"),
    ]
    for key, description, name in tables:
        if key in result:
            create_table_artifact(
                key=f"product-enrichment-{name}",
                table=result[key] or [{key: "none"}],
                description=description,
            )
    if "no_rule" in result:
        create_table_artifact(
            key="product-enrichment-no-rule",
            table=[{"sku": sku} for sku in result["no_rule"]] or [{"sku": "none"}],
            description="Items no categorisation rule fits",
        )
    if "quality" in result:
        create_table_artifact(
            key="product-quality",
            table=[{"check": check, "items": count} for check, count in result["quality"].items()],
            description=f"Data quality problems; every item in the workbook {result.get('workbook', '')}",
        )


@dataclass
class TaskStages:
    """The stages of one flow run as Prefect tasks (see ``svc.Stages``)."""

    wawi: WawiClient
    store: StateStore
    params: svc.ProductEnrichmentParams
    request: svc.Request
    run_id: str
    now: datetime
    open_sheet: SheetOpener
    lease: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.lease = svc.lease_keeper(self.store, self.params, self.run_id)

    def read_feed(self, source: str, mapping: FeedMapping) -> svc.FeedRead:
        """See ``svc.Stages``."""
        return enrichment_read_feed(source, mapping, as_is(self.open_sheet))

    def feed_unchanged(self, request: svc.Request, feed: svc.FeedRead) -> bool:
        """See ``svc.Stages``."""
        return self.store.get_watermark(svc.feed_mark(request)) == feed.fingerprint

    def acquire_lease(self) -> LeaseInfo | None:
        """See ``svc.Stages``."""
        return enrichment_acquire_lease(as_is(self.lease))

    def release_lease(self) -> None:
        """See ``svc.Stages``."""
        enrichment_release_lease(as_is(self.lease))

    def settle(self) -> list[svc.WriteOutcome]:
        """See ``svc.Stages``."""
        return wawi_settle_enrichment_writes(as_is(self.wawi), as_is(self.store))

    def load(self, needs: svc.Needs) -> svc.Catalogue:
        """See ``svc.Stages``."""
        return enrichment_load_catalogue(as_is(self.wawi), as_is(self.store), self.params, needs, self.now)

    def plan(
        self, request: svc.Request, config: svc.Config, catalogue: svc.Catalogue, feed: svc.FeedRead | None
    ) -> svc.Plan:
        """See ``svc.Stages``."""
        return enrichment_plan(as_is(request), as_is(config), as_is(catalogue), as_is(feed), self.params)

    def _context(self) -> svc.ApplyContext:
        return svc.ApplyContext(self.wawi, self.store, self.params, self.run_id, self.lease)

    def fill(self, todo: pd.DataFrame) -> list[svc.WriteOutcome]:
        """See ``svc.Stages``."""
        return wawi_fill_items(as_is(self._context()), as_is(todo))

    def assign(self, todo: dict[int, list[int]], skus: dict[int, str]) -> list[svc.WriteOutcome]:
        """See ``svc.Stages``."""
        return wawi_assign_categories(as_is(self._context()), as_is(todo), as_is(skus))

    def report(
        self, catalogue: svc.Catalogue, plan: svc.Plan, result: dict[str, Any], *, dry_run: bool
    ) -> str:
        """See ``svc.Stages``."""
        path = svc.workbook_path(self.params, self.request, self.now, dry_run=dry_run)
        return enrichment_report(
            as_is(catalogue), as_is(plan), as_is(result), self.params, str(path), dry_run
        )

    def remember_feed(self, request: svc.Request, feed: svc.FeedRead) -> None:
        """See ``svc.Stages``."""
        enrichment_remember_feed(as_is(self.store), as_is(request), as_is(feed))
