"""Stage 1: everything the replenishment reads, in bulk where the APIs allow, as the formula's frames.

FFN: the outbounds and the stock changes of the history window (its ``/updates`` feeds, which need no
``$filter``, so a strict FFN that takes only ``eq`` and ``and`` serves them too), all stock rows and all
inbounds. Wawi: the supplier list, and the items and their suppliers that FFN stocks or ships. With a
state store these come from the Wawi item cache (``jtl_automator.services.wawi_item_cache``): items
refreshed with ``changedSince`` (listed in full when ``item_cache_max_age_hours`` old or a SKU is not
cached), ``GET /items/{id}/suppliers`` only for items whose cached rows are missing, that old, or whose
item changed. Without one: all items listed and one suppliers read per item (the API has no bulk read).
"""

from __future__ import annotations

from collections.abc import Mapping
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
from jtl_automator.correlation import correlated_logger
from jtl_automator.services.wawi_item_cache import DEFAULT_MAX_AGE_HOURS, WawiItemCache, as_item
from jtl_automator.store import StateStore
from jtl_automator.transforms.replenishment import DemandParams, ReplenishmentParams
from jtl_automator.transforms.replenishment_frames import (
    on_order_frame,
    outbound_lines_frame,
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
    # Changed in [window start, now): every outbound created in the window changed at or after its
    # creation, so the feed holds it; older ones changed later are dropped by their creation day.
    outbounds = [o.model_dump(by_alias=True, mode="json") for o in ffn.outbounds.updates(since, until)]
    changes = list(ffn.stocks.updates(since, until))
    stocks = list(flatten(ffn.stocks.iter_pages()))
    inbounds = list(flatten(ffn.inbounds.iter_pages()))
    sku_by_jfsku = {str(s.get("jfsku")): str(s.get("merchantSku")) for s in stocks if s.get("merchantSku")}
    lines = outbound_lines_frame(outbounds)
    stock = stock_frame(stocks)
    on_order = on_order_frame(inbounds, sku_by_jfsku)
    wanted = set(stock["merchant_sku"]) | set(lines["merchant_sku"]) | set(on_order["merchant_sku"])
    notes: list[str] = []
    if store is not None:
        cache = WawiItemCache(store, wawi, until, timedelta(hours=params.item_cache_max_age_hours))
        cached = cache.lookup(wanted)
        items: list[Mapping[str, Any]] = [as_item(row) for row in cached]
        item_suppliers = cache.suppliers(cached)
        notes.extend(cache.notes)
        supplier_reads = cache.stats["supplier_reads"]
    else:
        items = [i for i in flatten(wawi.items.iter_pages()) if str(i.get("SKU") or "").strip() in wanted]
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
    names = [{"Id": s.id, "Name": s.name or s.company} for s in wawi.suppliers.list()]
    missing = wanted - {str(i.get("SKU")).strip() for i in items}
    if missing:
        notes.append(
            f"{len(missing)} FFN SKUs have no Wawi item (no supplier): {', '.join(sorted(missing)[:10])}"
        )
    counts = {
        "outbounds": len(outbounds),
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
    )
