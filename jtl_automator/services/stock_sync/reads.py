"""Stage 1: what FFN says (all stock, or the changes since the watermark) and what Wawi holds, as frames.

Every read is a bulk read (pages of 1000 objects); only an incremental run with few changed items reads
Wawi's stock per item, because that is fewer requests than listing every stock row. Wawi's items (SKU ->
item id, inventory management) come from the item cache in incremental runs (one ``changedSince`` request
when nothing changed, see ``jtl_automator.services.wawi_item_cache``); a full run lists them all and
refreshes the cache with that listing.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.services.stock_sync.params import WATERMARK, StockSyncParams
from jtl_automator.services.wawi_item_cache import WawiItemCache
from jtl_automator.store import StateStore, iso, parse_iso
from jtl_automator.transforms.stock_sync import (
    ffn_levels_frame,
    ffn_stock_rows,
    map_warehouses,
    wawi_stock_frame,
)

log = correlated_logger("jtl_automator.stock_sync")


@dataclass
class SyncInputs:
    """Both sides of one run, read once."""

    mode: str  # "full" or "incremental"
    ffn: pd.DataFrame
    wawi: pd.DataFrame
    warehouse_map: dict[str, int]
    window_start: str | None
    window_end: str
    notes: list[str] = field(default_factory=list)
    #: Incremental with few changed items: the Wawi items whose stock is still to be read one by one (the
    #: ``wawi`` frame is then empty); each one's SKU is planned and adjusted as soon as its read is back.
    items: list[dict[str, Any]] | None = None


def load_inputs(
    ffn: FfnClient,
    wawi: WawiClient,
    store: StateStore,
    params: StockSyncParams,
    *,
    full: bool,
    now: datetime,
) -> SyncInputs:
    """Full: every FFN stock row and every Wawi stock row. Incremental: FFN's feed since the watermark.

    An incremental run without a watermark (the first one) is a full run.
    """
    notes: list[str] = []
    mark = None if full else parse_iso(store.get_watermark(WATERMARK))
    if not full and mark is None:
        notes.append("no watermark yet: this incremental run reads everything (a full sync)")
    cache = WawiItemCache(store, wawi, now, timedelta(hours=params.item_cache_max_age_hours))
    start = mark - timedelta(minutes=params.overlap_minutes) if mark is not None else None
    # Both sides' warehouses (and, incremental, FFN's feed) do not depend on each other: read side by side.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="stock-reads") as pool:
        wawi_warehouses = pool.submit(in_context(lambda: list(flatten(wawi.warehouses.iter_pages()))))
        feed = pool.submit(in_context(_feed), ffn, start, now) if start is not None else None
        ffn_warehouses = [
            str(w["warehouseId"]) for w in flatten(ffn.warehouses.iter_pages()) if w.get("warehouseId")
        ]
        mapping, problems = map_warehouses(ffn_warehouses, wawi_warehouses.result(), params.warehouse_map)
        changes = feed.result() if feed is not None else None
    notes.extend(problems)
    if mark is None:
        # Three independent bulk reads at once: FFN's stock (its pages as many at a time as FFN may have
        # on the wire), Wawi's items and Wawi's stock rows; the clients' limits hold each API.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="stock-reads") as pool:
            ffn_rows = pool.submit(
                in_context(lambda: list(ffn.stocks.iter_pages(parallel=ffn.read_parallelism)))
            )
            pages = wawi.read_parallelism
            wawi_rows = pool.submit(in_context(lambda: list(flatten(wawi.stocks.iter_pages(parallel=pages)))))
            items = cache.replace_all(
                list(
                    flatten(
                        wawi.items.iter_pages(parallel=pages, expected_items=cache.store.cached_item_count())
                    )
                )
            )
            frame = ffn_levels_frame(ffn_stock_rows(flatten(ffn_rows.result())))
            stocks: Iterable[Any] = wawi_rows.result()
        return SyncInputs("full", frame, wawi_stock_frame(items, stocks), mapping, None, iso(now), notes)
    assert start is not None and changes is not None
    frame = ffn_levels_frame(changes, versioned=True)
    wanted = set(frame["merchant_sku"])
    items = cache.items(wanted)
    ids = [i["Id"] for i in items]
    log.info(
        "%d stock changes since %s for %d Wawi items (item cache: %s)",
        len(frame),
        iso(start),
        len(ids),
        cache.stats,
    )
    if len(ids) <= params.per_item_reads_max:
        # Read per item later, each SKU planned and adjusted as soon as its stock is back (``sync_items``).
        empty = wawi_stock_frame([], [])
        return SyncInputs(
            "incremental", frame, empty, mapping, iso(start), iso(now), notes, [dict(i) for i in items]
        )
    stocks = flatten(wawi.stocks.iter_pages(parallel=wawi.read_parallelism))
    return SyncInputs(
        "incremental", frame, wawi_stock_frame(items, stocks), mapping, iso(start), iso(now), notes
    )


def _feed(ffn: FfnClient, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """FFN's stock changes in ``[start, end)``, every chunk read."""
    return list(ffn.stocks.updates(start, end))


def item_stock(wawi: WawiClient, item_id: int) -> list[Any]:
    """Wawi's stock rows of one item (every warehouse): one request for a few rows."""
    return list(flatten(wawi.stocks.iter_pages(item_id=item_id)))


def wawi_level(wawi: WawiClient, item_id: int, warehouse_id: int) -> float:
    """Wawi's stock of one item in one warehouse now: the sum over its locations and batches."""
    rows = flatten(wawi.stocks.iter_pages(item_id=item_id, warehouse_id=warehouse_id))
    return sum(float(r.get("QuantityTotal") or 0) for r in rows if r.get("WarehouseId") == warehouse_id)
