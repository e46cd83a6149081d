"""The stock sync run, defined once: lease -> settle interrupted intents -> read -> plan -> apply -> mark.

As in order processing, :func:`run_stages` says in which order the stages run, that the lease is released
whatever happens and that the watermark moves only after every adjustment of the batch is recorded. An
incremental run with few changed items reads their Wawi stock one by one: there read, plan and apply are
one stage (``sync_items``), each SKU adjusted as soon as its read is back, instead of after the slowest;
:class:`LocalStages` runs them as plain calls (tests, benchmark), ``tasks.stock_sync.TaskStages`` as
Prefect tasks (the flow).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pandas as pd

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.services.stock_sync.apply import ApplyContext, Outcome, apply_adjustments, settle_pending
from jtl_automator.services.stock_sync.items import Synced, sync_items
from jtl_automator.services.stock_sync.params import LEASE_NAME, WATERMARK, StockSyncParams
from jtl_automator.services.stock_sync.reads import SyncInputs, load_inputs
from jtl_automator.services.stock_sync.report import skipped, summary
from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from jtl_automator.transforms.stock_sync import StockPlanParams, adjustments, plan_stock_adjustments

LEASE_HELD = "another run holds the stock sync lease"


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def acquire_lease(self) -> LeaseInfo | None:
        """None once the lease is ours, else who holds it."""
        ...

    def release_lease(self) -> None:
        """Give the lease back (also after a failure)."""
        ...

    def settle(self) -> list[Outcome]:
        """Intents an earlier run left between call and record, settled against Wawi."""
        ...

    def load(self) -> SyncInputs:
        """Both sides, read in bulk."""
        ...

    def plan(self, inputs: SyncInputs) -> pd.DataFrame:
        """One decision per (warehouse, item) (pure)."""
        ...

    def apply(self, todo: pd.DataFrame) -> list[Outcome]:
        """The adjustments, exactly once."""
        ...

    def sync_items(self, inputs: SyncInputs, *, dry_run: bool) -> Synced:
        """``inputs.items``' Wawi stock read one by one, each SKU planned and adjusted when it is back."""
        ...

    def advance_watermark(self, inputs: SyncInputs) -> str | None:
        """The feed's mark moves to the end of this run's window."""
        ...


def run_stages(stages: Stages, params: StockSyncParams, *, dry_run: bool) -> dict[str, Any]:
    """The run; a dry run takes no lease, settles nothing, sends nothing and keeps the watermark."""
    holder = None if dry_run else stages.acquire_lease()
    if holder is not None:
        return skipped(f"{LEASE_HELD} ({holder.owner})", dry_run=dry_run, lease_owner=holder.owner)
    try:
        settled = [] if dry_run else stages.settle()
        inputs = stages.load()
        if inputs.items is None:  # both sides read whole: plan once, then apply
            plan = stages.plan(inputs)
            outcomes = [] if dry_run else stages.apply(adjustments(plan))
        else:
            synced = stages.sync_items(inputs, dry_run=dry_run)
            plan, outcomes = synced.plan, synced.outcomes
        mark = None if dry_run else stages.advance_watermark(inputs)
    finally:
        if not dry_run:
            stages.release_lease()
    return summary(
        plan,
        outcomes,
        settled,
        mode=inputs.mode,
        dry_run=dry_run,
        notes=inputs.notes,
        largest=params.largest_count,
        watermark=mark,
    )


def plan_params(inputs: SyncInputs, params: StockSyncParams) -> StockPlanParams:
    """The transform's parameters for this run's inputs."""
    return StockPlanParams(
        warehouse_map=inputs.warehouse_map, max_level=params.max_level, full=inputs.mode == "full"
    )


def lease_keeper(store: StateStore, params: StockSyncParams, run_id: str) -> LeaseKeeper:
    """The run's lease: two stock syncs never interleave their reads and deltas."""
    return LeaseKeeper.for_run(
        store,
        LEASE_NAME,
        run_id,
        ttl_seconds=params.lease_ttl_seconds,
        heartbeat_seconds=params.lease_heartbeat_seconds,
    )


@dataclass
class LocalStages:
    """Every stage as a plain call in this process."""

    wawi: WawiClient
    ffn: FfnClient
    store: StateStore
    params: StockSyncParams
    full: bool = False
    run_id: str = "local"
    now: datetime | None = None
    lease: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.lease = lease_keeper(self.store, self.params, self.run_id)

    def acquire_lease(self) -> LeaseInfo | None:
        """See :class:`Stages`."""
        return self.lease.take()

    def release_lease(self) -> None:
        """See :class:`Stages`."""
        self.lease.release()

    def settle(self) -> list[Outcome]:
        """See :class:`Stages`."""
        return settle_pending(self.wawi, self.store)

    def load(self) -> SyncInputs:
        """See :class:`Stages`."""
        now = self.now or datetime.now(UTC)
        return load_inputs(self.ffn, self.wawi, self.store, self.params, full=self.full, now=now)

    def plan(self, inputs: SyncInputs) -> pd.DataFrame:
        """See :class:`Stages`."""
        return plan_stock_adjustments(inputs.ffn, inputs.wawi, plan_params(inputs, self.params))

    def apply(self, todo: pd.DataFrame) -> list[Outcome]:
        """See :class:`Stages`."""
        ctx = ApplyContext(self.wawi, self.store, self.params, self.run_id, self.lease)
        return apply_adjustments(ctx, todo)

    def sync_items(self, inputs: SyncInputs, *, dry_run: bool) -> Synced:
        """See :class:`Stages`."""
        ctx = None if dry_run else ApplyContext(self.wawi, self.store, self.params, self.run_id, self.lease)
        return sync_items(self.wawi, inputs, plan_params(inputs, self.params), self.params.workers, ctx)

    def advance_watermark(self, inputs: SyncInputs) -> str | None:
        """See :class:`Stages`."""
        return self.store.advance_watermark(WATERMARK, inputs.window_end)


def run_stock_sync(
    wawi: WawiClient,
    ffn: FfnClient,
    store: StateStore,
    params: StockSyncParams | None = None,
    *,
    full: bool = False,
    dry_run: bool = False,
    run_id: str = "local",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The whole run as the flow does it, without Prefect (tests, benchmark)."""
    params = params or StockSyncParams()
    started = time.perf_counter()
    stages = LocalStages(wawi, ffn, store, params, full, run_id, now)
    result = run_stages(stages, params, dry_run=dry_run)
    if "skipped" not in result:
        result["seconds"] = round(time.perf_counter() - started, 3)
    return result
