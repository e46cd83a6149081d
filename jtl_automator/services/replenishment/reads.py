"""Stage 1: everything the replenishment reads, in bulk where the APIs allow, as the formula's frames.

Demand: the order ledger's lines (``StateStore.iter_order_lines``) from the first day it covers
(``order_lines_cover_from``), FFN outbounds for the days of the window before that; see
:func:`load_order_lines`. FFN: the stock changes of the history window (and the outbounds, while the
ledger does not cover the whole window) from its ``/updates`` feeds, which need no ``$filter``, so a
strict FFN that takes only ``eq`` and ``and`` serves them too; all stock rows and all inbounds. Wawi:
the supplier list, and the items and their suppliers that FFN stocks or ships. With a state store these
come from the Wawi item cache (``jtl_automator.services.wawi_item_cache``): items
refreshed with ``changedSince`` (listed in full when ``item_cache_max_age_hours`` old or a SKU is not
cached), ``GET /items/{id}/suppliers`` only for items whose cached rows are missing, that old, or whose
item changed. Without one: all items listed and one suppliers read per item (the API has no bulk read).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from jtl_automator.clients.errors import NotFound
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.services.wawi_item_cache import DEFAULT_MAX_AGE_HOURS, WawiItemCache, as_item
from jtl_automator.store import StateStore
from jtl_automator.transforms.ledger_demand import (
    combined_order_lines,
    ledger_lines_frame,
    outbound_lines_before,
)
from jtl_automator.transforms.replenishment import DemandParams, ReplenishmentParams
from jtl_automator.transforms.replenishment_frames import (
    on_order_frame,
    stock_frame,
    stockout_frame,
    supplier_frame,
)

log = correlated_logger("jtl_automator.replenishment")
#: The merchant's calendar: days of demand and the plan's week are Berlin days.
TIMEZONE = ZoneInfo("Europe/Berlin")


class ReplenishmentRunParams(BaseModel):
    """One run: how far back demand is measured, the formula's parameters and how much the artifact shows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    history_days: int = Field(
        default=90, ge=7, le=730, description="Days of demand history, ending yesterday."
    )
    formula: ReplenishmentParams = Field(default_factory=ReplenishmentParams)
    table_rows: int = Field(
        default=200, ge=1, description="Rows of the run's table artifact (low stock first)."
    )
    output_dir: str = Field(
        default="out/replenishment", description="Where the workbook goes without --output."
    )
    item_cache_max_age_hours: float = Field(
        default=DEFAULT_MAX_AGE_HOURS,
        gt=0,
        description="Cached Wawi items are listed in full, and cached item suppliers read again, when "
        "this old (items are also refreshed with changedSince on every run).",
    )


def history_window(today: date, days: int) -> DemandParams:
    """The last ``days`` whole days before ``today`` (today is not over yet, so it is left out)."""
    end = today - timedelta(days=1)
    return DemandParams(start=end - timedelta(days=days - 1), end=end)


def local_today(now: datetime) -> date:
    """The merchant's date at ``now``."""
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(TIMEZONE).date()


@dataclass(frozen=True)
class DemandSources:
    """Where a run's order lines came from: the order ledger from ``cover_from`` on, FFN outbounds before.

    ``cover_from`` is the first day the ledger covers (None: no store, or no line recorded yet);
    ``outbounds_read`` says whether FFN's outbound feed was read at all.
    """

    cover_from: date | None = None
    ledger_lines: int = 0
    outbound_lines: int = 0
    outbounds_read: bool = True

    def describe(self, window: DemandParams) -> str:
        """One line for the summary: which source gave the demand of which days, and how many lines."""
        ledger = f"order ledger ({self.ledger_lines:,} lines)"
        outbounds = f"FFN outbounds ({self.outbound_lines:,} lines)"
        if self.cover_from is None:
            return f"demand: {outbounds}; the order ledger has no lines yet"
        if not self.outbounds_read:
            return f"demand: {ledger}, which covers the whole window"
        if self.cover_from > window.end:
            return f"demand: {outbounds}; the order ledger covers the days from {self.cover_from.isoformat()}"
        return (
            f"demand: order ledger from {self.cover_from.isoformat()} ({self.ledger_lines:,} lines), "
            f"FFN outbounds before ({self.outbound_lines:,} lines)"
        )


@dataclass
class ReplenishmentInputs:
    """The frames of one run and what was read to make them."""

    window: DemandParams
    order_lines: pd.DataFrame
    stockouts: pd.DataFrame
    stock: pd.DataFrame
    on_order: pd.DataFrame
    suppliers: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    demand: DemandSources = field(default_factory=DemandSources)


def load_order_lines(
    ffn: FfnClient, store: StateStore | None, window: DemandParams, since: datetime, until: datetime
) -> tuple[pd.DataFrame, DemandSources, int]:
    """The window's order lines: the ledger's from the day it covers, FFN outbounds' before; outbounds read.

    The project's own outbounds are created after their order date, so each falls on or after its order's
    day and, for orders from the cut-off on, after the cut-off: FFN's part (days before it) never holds an
    order the ledger counts. The outbound feed lists an outbound by its *last* change, so one created
    before the cut-off but shipped after it is only found by reading up to ``until``: while the cut-off
    lies inside the window the feed is read as before and the outbounds of the cut-off and later are
    dropped as they stream in; once the ledger covers the whole window the feed is not read at all.
    """
    cover_from = store.order_lines_cover_from() if store is not None else None
    ledger = None
    if store is not None and cover_from is not None and cover_from <= window.end:
        ledger = ledger_lines_frame(store.iter_order_lines(max(cover_from, window.start), window.end))
    read = cover_from is None or cover_from > window.start
    seen = 0

    def counted(outbounds: Iterator[Any]) -> Iterator[dict[str, Any]]:
        nonlocal seen
        for outbound in outbounds:
            seen += 1
            yield outbound.model_dump(by_alias=True, mode="json")

    # Changed in [window start, now): every outbound created in the window changed at or after its
    # creation, so the feed holds it; older ones changed later are dropped by their creation day.
    outbound = (
        outbound_lines_before(counted(ffn.outbounds.updates(since, until)), cover_from) if read else None
    )
    frames = [frame for frame in (ledger, outbound) if frame is not None]
    lines = combined_order_lines(*frames)
    sources = DemandSources(
        cover_from,
        0 if ledger is None else len(ledger),
        0 if outbound is None else len(outbound),
        outbounds_read=read,
    )
    return lines, sources, seen


def load_inputs(
    ffn: FfnClient,
    wawi: WawiClient,
    params: ReplenishmentRunParams,
    *,
    now: datetime,
    store: StateStore | None = None,
) -> ReplenishmentInputs:
    """Read both sides once; see the module docstring for which requests (``store``: the item cache's)."""
    window = history_window(local_today(now), params.history_days)
    since = datetime.combine(window.start, time(), TIMEZONE).astimezone(UTC)
    until = now if now.tzinfo else now.replace(tzinfo=UTC)
    parallel = ffn.read_parallelism
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="replenishment-reads") as pool:
        # What does not depend on anything read before starts at once: the stock changes' feed (a chain
        # of chunks), the stock rows and the inbounds (their pages after the first as many at a time as
        # FFN may have on the wire) and Wawi's supplier list, while the outbounds' feed and the ledger
        # are read here; the client's limits hold each API.
        changes_read = pool.submit(in_context(lambda: list(ffn.stocks.updates(since, until))))
        stocks_read = pool.submit(in_context(lambda: list(flatten(ffn.stocks.iter_pages(parallel=parallel)))))
        inbounds_read = pool.submit(
            in_context(lambda: list(flatten(ffn.inbounds.iter_pages(parallel=parallel))))
        )
        names_read = pool.submit(
            in_context(lambda: [{"Id": x.id, "Name": x.name or x.company} for x in wawi.suppliers.list()])
        )
        lines, demand, outbounds = load_order_lines(ffn, store, window, since, until)
        changes, stocks, inbounds = changes_read.result(), stocks_read.result(), inbounds_read.result()
        names = names_read.result()
    sku_by_jfsku = {str(s.get("jfsku")): str(s.get("merchantSku")) for s in stocks if s.get("merchantSku")}
    stock = stock_frame(stocks)
    on_order = on_order_frame(inbounds, sku_by_jfsku)
    wanted = set(stock["merchant_sku"]) | set(lines["merchant_sku"]) | set(on_order["merchant_sku"])
    notes: list[str] = []
    if store is not None:
        cache = WawiItemCache(store, wawi, until, timedelta(hours=params.item_cache_max_age_hours))
        cached = cache.lookup(wanted)
        items: list[Mapping[str, Any]] = [as_item(row) for row in cached]
        # one read per item (Wawi has no bulk read): as many at a time as Wawi may have on the wire
        item_suppliers = cache.suppliers(cached, workers=wawi.read_parallelism)
        notes.extend(cache.notes)
        supplier_reads = cache.stats["supplier_reads"]
    else:
        items = [
            i
            for i in flatten(wawi.items.iter_pages(parallel=wawi.read_parallelism))
            if str(i.get("SKU") or "").strip() in wanted
        ]
        item_suppliers = {}
        for item in items:
            item_id = item.get("Id")
            if not isinstance(item_id, int):
                continue
            try:
                item_suppliers[item_id] = wawi.items.suppliers(item_id)
            except NotFound:
                notes.append(f"Wawi item {item_id} ({item.get('SKU')}) vanished while reading its suppliers")
        supplier_reads = len(item_suppliers)
    missing = wanted - {str(i.get("SKU")).strip() for i in items}
    if missing:
        notes.append(
            f"{len(missing)} FFN SKUs have no Wawi item (no supplier): {', '.join(sorted(missing)[:10])}"
        )
    counts = {
        "outbounds": outbounds,
        "ledger_lines": demand.ledger_lines,
        "stock_changes": len(changes),
        "ffn_stocks": len(stocks),
        "inbounds": len(inbounds),
        "wawi_items": len(items),
        "supplier_reads": supplier_reads,
    }
    log.info("read %s", counts)
    return ReplenishmentInputs(
        window,
        lines,
        stockout_frame(changes, window),
        stock,
        on_order,
        supplier_frame(items, item_suppliers, names),
        counts,
        notes,
        demand,
    )
