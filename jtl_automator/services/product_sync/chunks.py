"""Stage 3: the supplier rows the plan needs, read chunk by chunk; each chunk planned and written meanwhile.

A first run reads one ``GET /items/{id}/suppliers`` per item (packaging units -> FFN bundles) through the
on-premise Wawi's few workers, and writes thousands of products to FFN, another API with limits of its own.
An item's decision needs its own row, its supplier rows and the FFN products, nothing of other items
(:func:`plan_items`), so the items whose rows are stored are planned and handed to the writer while the
next items' rows are still being read: the run takes about the longer of the two, not their sum.

- **chunk 1**: every in-scope item whose supplier rows need no read (cached and fresh, packaging units off,
  no cache row), planned and written at once while the reads start: all of a warm run. A full run's
  listing planned most of them page by page already (``reads.PlannedPages``): those plans are kept
  where they still hold, and only the rest is planned here;
- **then** the items to read, ``params.chunk_items`` at a time (default about a 40th of them, 5 to
  1,000: a small last chunk keeps the writes after the last read short), each planned when its rows are
  stored, its writes queued on the run's one writer pool;
- the FFN products that lost their item are planned once over every item (no supplier rows needed).

The parts combined (:func:`combine_plans`) are the plan :func:`plan_product_sync` makes of all the items at
once. A dry run plans every chunk and writes nothing. After a failure (a read or a write) nothing queued
is read or sent, the writes in flight finish and are recorded; the caller does not move the watermark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger
from jtl_automator.services.product_sync.apply import ApplyContext, Outcome, write_product
from jtl_automator.services.product_sync.params import PACKAGING_FIELDS, ProductSyncParams, chunk_size
from jtl_automator.services.product_sync.reads import SyncInputs, in_scope_rows, supplier_cache
from jtl_automator.services.write_pool import WritePool
from jtl_automator.store import CachedItem, StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.transforms.product_sync import (
    combine_plans,
    plan_items,
    plan_vanished,
    to_write,
    with_bundles,
)

log = correlated_logger("jtl_automator.product_sync")


@dataclass(frozen=True)
class ChunkDone:
    """One chunk planned (and its writes queued): what the run reports as it goes."""

    number: int
    chunks: int  # the most there will be (the last answers that come together are planned as one)
    items: int
    supplier_reads: int
    decisions: dict[str, int]


@dataclass
class SyncResult:
    """The whole plan and what became of its writes, with the run's notes and request counts."""

    plan: pd.DataFrame
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    chunks: int = 0


def read_plan_write(
    wawi: WawiClient,
    ffn: FfnClient,
    store: StateStore,
    params: ProductSyncParams,
    inputs: SyncInputs,
    *,
    run_id: str,
    lease: LeaseKeeper | None,
    dry_run: bool,
    on_chunk: Callable[[ChunkDone], None] | None = None,
) -> SyncResult:
    """Read the supplier rows still needed, plan and write chunk by chunk, overlapped (see the module)."""
    plan_params = params.plan_params(full=inputs.mode == "full")
    scoped = inputs.wawi[inputs.wawi["in_scope"]]
    cache = supplier_cache(store, wawi, params, inputs.now)
    fresh: dict[int, list[Any]] = {}
    stale: list[CachedItem] = []
    if params.packaging_units:
        ids, skus = set(scoped["item_id"].tolist()), set(scoped["merchant_sku"]) - {""}
        rows = in_scope_rows(store, ids, skus, inputs.cached)
        fresh, stale = cache.fresh_suppliers(rows, required=PACKAGING_FIELDS)
    size = chunk_size(len(stale), params)
    first = scoped[~scoped["item_id"].isin({r.item_id for r in stale})]
    # the pages the load planned as they came, where they still hold: the rest of chunk 1 is planned here
    kept = inputs.planned.usable(set(first["item_id"].tolist()), fresh) if inputs.planned else []
    if kept:
        first = first[~first["item_id"].isin({i for page in kept for i in page.items})]
    chunks = 0  # once the reads are under way: the first chunk(s) and their batches
    parts: list[pd.DataFrame] = []
    writer: WritePool[Mapping[Any, Any], Outcome] | None = None

    def planned(items: pd.DataFrame, suppliers: Mapping[int, Sequence[Any]], reads: int) -> None:
        recorded(plan_items(with_bundles(items, suppliers, plan_params), inputs.ffn, plan_params), reads)

    def recorded(part: pd.DataFrame, reads: int) -> None:
        """A chunk planned (one row per in-scope item): its writes queued, its progress told."""
        parts.append(part)
        if writer is not None:
            writer.submit_all(to_write(part).to_dict("records"))  # an earlier write's failure raised
        decisions = {str(k): int(v) for k, v in part["status"].value_counts().items()}
        done = ChunkDone(len(parts), chunks, len(part), reads, decisions)
        log.debug(
            "chunk %d (of at most %d): %d items, %d supplier reads", done.number, chunks, done.items, reads
        )
        if on_chunk is not None:
            on_chunk(done)

    with ExitStack() as running:  # on the way out: queued writes cancelled, then queued reads
        # the reads the load started once the listing was in, if they are of these items
        reads = inputs.started.take(stale) if inputs.started is not None else None
        if reads is None:
            reads = cache.read_suppliers(stale, workers=params.workers, batch=size)
        else:
            cache = reads.cache  # their stats and notes are the run's
        running.enter_context(reads)
        chunks = len(kept) + (1 if len(first) else 0) + reads.batches
        if not dry_run:
            # One pool for the run (rows are independent: one product each), so no chunk waits for the
            # previous one's slowest write.
            ctx = ApplyContext(ffn, store, params, run_id, inputs.snapshots, lease)
            writer = running.enter_context(
                WritePool(partial(write_product, ctx), params.workers, "product-sync")
            )
        # While the first reads are answered: the items that need none (written at once), the vanished.
        for page in kept:
            recorded(page.part, 0)
        if len(first):
            planned(first, fresh, 0)
        vanished = plan_vanished(inputs.wawi, inputs.ffn, plan_params)
        for answered, read in reads:
            ids = {r.item_id for r in answered}
            planned(scoped[scoped["item_id"].isin(ids)], read, len(read))
        outcomes = writer.results() if writer is not None else []
    chunks = len(parts)  # the last answers that came together were planned as one chunk
    plan = combine_plans([*parts, vanished])
    stats = {
        **inputs.stats,
        "supplier_reads": cache.stats["supplier_reads"],
        "ffn_products": inputs.ffn_read.side().products,
    }
    log.info(
        "%d chunks planned%s: %d supplier reads, decisions %s",
        chunks,
        "" if dry_run else " and written",
        stats["supplier_reads"],
        plan["status"].value_counts().to_dict(),
    )
    return SyncResult(plan, _in_plan_order(outcomes, plan), [*inputs.notes, *cache.notes], stats, chunks)


def _in_plan_order(outcomes: list[Outcome], plan: pd.DataFrame) -> list[Outcome]:
    """The outcomes in the order of the plan's writes (creates, then updates, each by SKU)."""
    position = {sku: i for i, sku in enumerate(to_write(plan)["merchant_sku"])}
    return sorted(outcomes, key=lambda o: position.get(o.merchant_sku, len(position)))
