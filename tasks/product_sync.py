"""Tasks of the product sync flow, and ``TaskStages``: the run's stages as these tasks.

The sequence lives once in ``jtl_automator.services.product_sync.pipeline.run_stages``. The supplier reads,
the plan and the writes are one task (``product-read-plan-write``): they overlap chunk by chunk inside it
(a chunk is written while the next is read), which separate tasks could only do with a barrier between
each. It logs every chunk and returns the whole plan with the outcomes; the summary artifact counts them.
A retry of it reads only the supplier rows the failed attempt did not store, re-claims every creation
(the ledger says what is done) and repeats updates (absolute PATCHes, harmless to repeat).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from jtl_automator.services import product_sync as svc
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


@task(name="product-acquire-lease", cache_policy=NO_CACHE)
def product_acquire_lease(keeper: LeaseKeeper) -> LeaseInfo | None:
    """Two product syncs never interleave their reads and writes."""
    holder = keeper.take()
    if holder is not None:
        get_run_logger().warning("run %s holds the product sync lease; this run does nothing", holder.owner)
    return holder


@task(name="product-release-lease", cache_policy=NO_CACHE)
def product_release_lease(keeper: LeaseKeeper) -> None:
    """Give the lease back (also after a failure)."""
    keeper.release()


@task(name="ffn-settle-products", **_RETRYING)
def ffn_settle_products(clients: RunClients, run_id: str) -> list[svc.Outcome]:
    """Creations an interrupted run never recorded (FFN is asked), authorisations still to make."""
    with correlated():
        settled = svc.settle_pending(clients.ffn, clients.store, run_id)
    if settled:
        get_run_logger().warning("settled %d writes of earlier runs", len(settled))
    return settled


@task(name="product-load", **_RETRYING)
def product_load(
    clients: RunClients, params: svc.ProductSyncParams, full: bool, now: datetime
) -> svc.SyncInputs:
    """Wawi's items (all, or changed since the watermark) and their FFN products, in bulk (no suppliers)."""
    with correlated():
        inputs = svc.load_inputs(clients.ffn, clients.wawi, clients.store, params, full=full, now=now)
    # FFN's products are still being read (the next task's supplier reads do not wait for them)
    get_run_logger().info("%s: %d Wawi items", inputs.mode, len(inputs.wawi))
    return inputs


@task(name="product-read-plan-write", **_RETRYING)
def product_read_plan_write(
    clients: RunClients,
    params: svc.ProductSyncParams,
    inputs: svc.SyncInputs,
    run_id: str,
    lease: LeaseKeeper | None,
    dry_run: bool,
) -> svc.SyncResult:
    """Supplier rows read chunk by chunk; each chunk planned and written to FFN while the next is read."""
    logger = get_run_logger()

    def progress(chunk: svc.ChunkDone) -> None:
        logger.info(
            "chunk %d (of at most %d): %d items (%d supplier reads): %s%s",
            chunk.number,
            chunk.chunks,
            chunk.items,
            chunk.supplier_reads,
            chunk.decisions,
            "" if dry_run else "; writes queued",
        )

    with correlated():
        result = svc.read_plan_write(
            clients.wawi,
            clients.ffn,
            clients.store,
            params,
            inputs,
            run_id=run_id,
            lease=lease,
            dry_run=dry_run,
            on_chunk=progress,
        )
    logger.info(
        "%d chunks, %d supplier reads; decisions %s; outcomes %s",
        result.chunks,
        result.stats.get("supplier_reads", 0),
        result.plan["status"].value_counts().to_dict(),
        dict(Counter(o.result for o in result.outcomes)),
    )
    return result


@task(name="product-advance-watermark", cache_policy=NO_CACHE)
def product_advance_watermark(clients: RunClients, inputs: svc.SyncInputs) -> str:
    """Only after every write of the batch is recorded."""
    return clients.store.advance_watermark(svc.WATERMARK, inputs.window_end)


@task(name="product-write-diff", cache_policy=NO_CACHE)
def product_write_diff(plan: pd.DataFrame, workbook: Path | None) -> tuple[int, str | None]:
    """The field diff; the workbook when a path is given (always in a dry run)."""
    changes, written = svc.report_workbook(plan, workbook)
    if written:
        get_run_logger().info("diff workbook: %s (%d field changes)", written, changes)
    return changes, written


@task(name="product-publish-artifacts", cache_policy=NO_CACHE)
def product_publish_artifacts(result: dict[str, Any], first_rows: int) -> None:
    """The summary a person reads at a glance, and the products left alone with why."""
    if "skipped" in result:
        return
    create_markdown_artifact(key="product-sync-summary", markdown=svc.summary_markdown(result, first_rows))
    problems = [
        {"merchant_sku": r["merchant_sku"], "what": kind, "reason": r["reason"]}
        for kind in ("rejected", "not_synced", "vanished")
        for r in result[kind]
    ]
    create_table_artifact(
        key="product-sync-problems",
        table=problems or [{"merchant_sku": "none"}],
        description="Products FFN refused, items not synced for bad input, FFN products that lost their item",
    )


@dataclass
class TaskStages:
    """The stages of one flow run as Prefect tasks (see ``svc.Stages``)."""

    clients: RunClients
    params: svc.ProductSyncParams
    run_id: str
    full: bool
    now: datetime
    lease: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.lease = svc.lease_keeper(self.clients.store, self.params, self.run_id)

    def acquire_lease(self) -> LeaseInfo | None:
        """See ``svc.Stages``."""
        return product_acquire_lease(as_is(self.lease))

    def release_lease(self) -> None:
        """See ``svc.Stages``."""
        product_release_lease(as_is(self.lease))

    def settle(self) -> list[svc.Outcome]:
        """See ``svc.Stages``."""
        return ffn_settle_products(as_is(self.clients), self.run_id)

    def load(self) -> svc.SyncInputs:
        """See ``svc.Stages``."""
        return product_load(as_is(self.clients), self.params, self.full, self.now)

    def apply(self, inputs: svc.SyncInputs, *, dry_run: bool) -> svc.SyncResult:
        """See ``svc.Stages``."""
        lease = None if dry_run else self.lease
        return product_read_plan_write(
            as_is(self.clients), self.params, as_is(inputs), self.run_id, as_is(lease), dry_run
        )

    def advance_watermark(self, inputs: svc.SyncInputs) -> str | None:
        """See ``svc.Stages``."""
        return product_advance_watermark(as_is(self.clients), as_is(inputs))

    def report(self, plan: pd.DataFrame, workbook: Path | None) -> tuple[int, str | None]:
        """See ``svc.Stages``."""
        return product_write_diff(as_is(plan), workbook)
