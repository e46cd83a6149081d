"""The product sync run, defined once: lease -> settle -> read -> suppliers+plan+write -> mark -> report.

As in the stock sync, :func:`run_stages` says in which order the stages run, that the lease is released
whatever happens and that the watermark moves only after every write of the batch is recorded (done or
refused, each in the ledger or the outcomes); :class:`LocalStages` runs them as plain calls (tests,
benchmark), ``tasks.product_sync.TaskStages`` as Prefect tasks (the flow). The third stage overlaps its
parts (``chunks``): the items whose supplier rows are read are planned and written while the next items'
rows are read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.services.product_sync.apply import Outcome, settle_pending
from jtl_automator.services.product_sync.chunks import SyncResult, read_plan_write
from jtl_automator.services.product_sync.params import LEASE_NAME, WATERMARK, ProductSyncParams
from jtl_automator.services.product_sync.reads import SyncInputs, load_inputs
from jtl_automator.services.product_sync.report import skipped, summary, write_diff_workbook
from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo
from jtl_automator.transforms.product_sync import field_changes

LEASE_HELD = "another run holds the product sync lease"


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def acquire_lease(self) -> LeaseInfo | None:
        """None once the lease is ours, else who holds it."""
        ...

    def release_lease(self) -> None:
        """Give the lease back (also after a failure)."""
        ...

    def settle(self) -> list[Outcome]:
        """Creations an earlier run left pending, authorisations it could not make."""
        ...

    def load(self) -> SyncInputs:
        """Both sides, read in bulk (the Wawi items, the FFN products; not the per-item supplier rows)."""
        ...

    def apply(self, inputs: SyncInputs, *, dry_run: bool) -> SyncResult:
        """Read the supplier rows still needed, plan and write, chunk by chunk and overlapped.

        Each chunk is planned (pure) as its supplier rows arrive, and its creates and updates are written
        while the next chunk is read. A dry run plans every chunk and writes nothing.
        """
        ...

    def advance_watermark(self, inputs: SyncInputs) -> str | None:
        """The Wawi mark moves to the moment this run started reading (its window's end)."""
        ...

    def report(self, plan: pd.DataFrame, workbook: Path | None) -> tuple[int, str | None]:
        """The diff's row count, and the workbook written (when a path is given)."""
        ...


def run_stages(
    stages: Stages, params: ProductSyncParams, *, dry_run: bool, workbook: Path | None = None
) -> dict[str, Any]:
    """The run; a dry run takes no lease, settles nothing, writes nothing to FFN and keeps the watermark."""
    holder = None if dry_run else stages.acquire_lease()
    if holder is not None:
        return skipped(f"{LEASE_HELD} ({holder.owner})", dry_run=dry_run, lease_owner=holder.owner)
    try:
        settled = [] if dry_run else stages.settle()
        inputs = stages.load()
        synced = stages.apply(inputs, dry_run=dry_run)  # returns once every write is recorded
        mark = None if dry_run else stages.advance_watermark(inputs)
    finally:
        if not dry_run:
            stages.release_lease()
    changes, written = stages.report(synced.plan, workbook)
    return summary(
        synced.plan,
        synced.outcomes,
        settled,
        mode=inputs.mode,
        dry_run=dry_run,
        notes=synced.notes,
        stats=synced.stats,
        first_rows=params.first_rows,
        changes=changes,
        watermark=mark,
        workbook=written,
    )


def workbook_path(
    params: ProductSyncParams, now: datetime, output: str | None, *, dry_run: bool
) -> Path | None:
    """``output`` if given; else a dry run's ``<output_dir>/product-sync-diff-<UTC time>.xlsx``; else none."""
    if output:
        return Path(output)
    if not dry_run:
        return None
    return Path(params.output_dir) / f"product-sync-diff-{now.astimezone(UTC):%Y%m%d-%H%M%S}.xlsx"


def report_workbook(plan: pd.DataFrame, path: Path | None) -> tuple[int, str | None]:
    """The field diff of the plan; written as a workbook when ``path`` is given."""
    changes = field_changes(plan)
    if path is None:
        return len(changes), None
    return len(changes), str(write_diff_workbook(path, plan, changes))


def lease_keeper(store: StateStore, params: ProductSyncParams, run_id: str) -> LeaseKeeper:
    """The run's lease: two product syncs never interleave their reads and writes."""
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
    params: ProductSyncParams
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
        return settle_pending(self.ffn, self.store, self.run_id)

    def load(self) -> SyncInputs:
        """See :class:`Stages`."""
        now = self.now or datetime.now(UTC)
        return load_inputs(self.ffn, self.wawi, self.store, self.params, full=self.full, now=now)

    def apply(self, inputs: SyncInputs, *, dry_run: bool) -> SyncResult:
        """See :class:`Stages`."""
        return read_plan_write(
            self.wawi,
            self.ffn,
            self.store,
            self.params,
            inputs,
            run_id=self.run_id,
            lease=None if dry_run else self.lease,
            dry_run=dry_run,
        )

    def advance_watermark(self, inputs: SyncInputs) -> str | None:
        """See :class:`Stages`."""
        return self.store.advance_watermark(WATERMARK, inputs.window_end)

    def report(self, plan: pd.DataFrame, workbook: Path | None) -> tuple[int, str | None]:
        """See :class:`Stages`."""
        return report_workbook(plan, workbook)


def run_product_sync(
    wawi: WawiClient,
    ffn: FfnClient,
    store: StateStore,
    params: ProductSyncParams | None = None,
    *,
    full: bool = False,
    dry_run: bool = False,
    output: str | None = None,
    run_id: str = "local",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The whole run as the flow does it, without Prefect (tests, benchmark)."""
    params = params or ProductSyncParams()
    started = time.perf_counter()
    moment = now or datetime.now(UTC)
    stages = LocalStages(wawi, ffn, store, params, full, run_id, moment)
    result = run_stages(
        stages, params, dry_run=dry_run, workbook=workbook_path(params, moment, output, dry_run=dry_run)
    )
    if "skipped" not in result:
        result["seconds"] = round(time.perf_counter() - started, 3)
    return result
