"""A supplier's product feed for the demo world, and the gaps in Wawi it can fill.

:func:`prepare_enrichment_demo` takes the items of one supplier (by their ``GET /items/{id}/suppliers``
rows), writes their data as the supplier's CSV feed (German: ``;``, decimal comma, weights in g,
Windows-1252, the layout of ``config/feed-mappings.yaml``'s ``hansen``) and then empties some of those
values in the sandbox's Wawi, so the enrichment has something to fill. It also plants what a real feed
brings: a row with an English decimal, a GTIN with a wrong check digit, a supplier SKU twice with
different data, an article Wawi does not know, and one value where the feed and Wawi disagree.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jtl_automator.sandbox.data import SandboxData, iso_now

FEED_HEADER = (
    "Artikelnummer",
    "EAN",
    "Herstellernummer",
    "Nettogewicht (g)",
    "Bruttogewicht (g)",
    "Länge (cm)",
    "Breite (cm)",
    "Höhe (cm)",
    "EK netto",
    "Kurzbeschreibung",
)


def german(value: float) -> str:
    """``1234.5`` as ``1.234,5`` (a German spreadsheet's CSV export)."""
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return text.replace(",", "#").replace(".", ",").replace("#", ".")


def _group(item: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name)
    return value if isinstance(value, dict) else {}


def feed_row(item: Mapping[str, Any], supplier_sku: str) -> list[str]:
    """One feed line with the item's data, as the supplier would send it."""
    ids, weights = _group(item, "Identifiers"), _group(item, "Weights")
    dims, prices = _group(item, "Dimensions"), _group(item, "ItemPriceData")
    return [
        supplier_sku,
        str(ids.get("Gtin") or ""),
        str(ids.get("ManufacturerNumber") or ""),
        german(float(weights.get("ItemWeigth") or 0) * 1000),
        german(float(weights.get("ShippingWeight") or 0) * 1000),
        german(float(dims.get("Length") or 0)),
        german(float(dims.get("Width") or 0)),
        german(float(dims.get("Height") or 0)),
        german(float(prices.get("PurchasePriceNet") or 0)),
        str(item.get("ShortDescription") or ""),
    ]


@dataclass(frozen=True)
class EnrichmentDemo:
    """What was prepared: the feed file, the items whose data was emptied, the planted problems."""

    feed: Path
    emptied: dict[int, list[str]]
    rows: int


def prepare_enrichment_demo(
    data: SandboxData, supplier_id: int, feed: Path, *, every: int = 3
) -> EnrichmentDemo:
    """Write the supplier's feed to ``feed`` and empty fields of every ``every``-th of its items in Wawi."""
    wawi = data.wawi
    ours = sorted(
        (item_id, row["Sku"])
        for item_id, rows in wawi.item_suppliers.items()
        for row in rows
        if row.get("SupplierId") == supplier_id and row.get("Sku") and item_id in wawi.items
    )
    lines = [list(FEED_HEADER)]
    emptied: dict[int, list[str]] = {}
    with data.lock:
        for position, (item_id, supplier_sku) in enumerate(ours):
            item = wawi.items[item_id]
            lines.append(feed_row(item, supplier_sku))
            if position % every:
                continue
            kind = (position // every) % 4
            changed = dict(item)
            if kind == 0:
                changed["Identifiers"] = {**_group(item, "Identifiers"), "Gtin": ""}
                changed["ShortDescription"] = ""
                emptied[item_id] = ["gtin", "short_description"]
            elif kind == 1:
                changed["Weights"] = {**_group(item, "Weights"), "ItemWeigth": 0, "ShippingWeight": 0}
                emptied[item_id] = ["item_weight", "shipping_weight"]
            elif kind == 2:
                changed["Dimensions"] = {"Length": 0, "Width": 0, "Height": 0}
                emptied[item_id] = ["length", "width", "height"]
            else:
                changed["Identifiers"] = {**_group(item, "Identifiers"), "ManufacturerNumber": ""}
                changed["ItemPriceData"] = {**_group(item, "ItemPriceData"), "PurchasePriceNet": 0}
                emptied[item_id] = ["manufacturer_number", "purchase_price"]
            changed["Changed"] = iso_now()
            wawi.items[item_id] = changed
        if len(ours) > 2:
            disputed_id = ours[1][0]  # the feed knows another shipping weight: a conflict, left alone
            disputed = wawi.items[disputed_id]
            weights = _group(disputed, "Weights")
            wawi.items[disputed_id] = {**disputed, "Weights": {**weights, "ShippingWeight": 99.5}}
    lines.append(["L-UNBEKANNT-1", "", "", "250", "300", "10", "10", "10", "4,20", "Nicht in Wawi"])
    lines.append(["L-ENGLISCH-1", "", "", "1.5", "2", "10", "10", "10", "4,20", "Englische Dezimalzahl"])
    lines.append(
        ["L-EAN-1", "4006381333932", "", "250", "300", "10", "10", "10", "4,20", "Prüfziffer falsch"]
    )
    lines.append(["L-DOPPELT-1", "", "", "250", "300", "10", "10", "10", "4,20", "Doppelt"])
    lines.append(["L-DOPPELT-1", "", "", "260", "300", "10", "10", "10", "4,20", "Doppelt, anders"])
    feed.parent.mkdir(parents=True, exist_ok=True)
    with feed.open("w", encoding="cp1252", errors="replace", newline="") as out:
        csv.writer(out, delimiter=";").writerows(lines)
    return EnrichmentDemo(feed, emptied, len(lines) - 1)
