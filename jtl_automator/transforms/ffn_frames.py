"""FFN API objects (camelCase JSON) -> the flat frames the transforms work on.

These are the API -> pandas boundary: each output is checked against the schema the transforms
declare, so a changed API shape fails here, loudly, instead of as a wrong status in a sheet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from jtl_automator.transforms.inbound import INBOUND_ITEMS_SCHEMA, PRODUCTS_SCHEMA, STOCKS_SCHEMA


def _int(value: Any) -> int:
    """FFN quantities are numbers; a missing one counts as 0 (the API omits zero-valued keys at times)."""
    return int(value) if value is not None else 0


def products_frame(products: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Map merchantSku -> jfsku, one row per product that has both."""
    rows = [
        (str(p["merchantSku"]), str(p["jfsku"])) for p in products if p.get("merchantSku") and p.get("jfsku")
    ]
    frame = pd.DataFrame(rows, columns=["merchant_sku", "jfsku"], dtype=str)
    return PRODUCTS_SCHEMA.validate(frame)


def inbound_items_frame(inbounds: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per inbound item, carrying its inbound's id, number, warehouse and status."""
    rows = [
        (
            str(inbound["inboundId"]),
            inbound.get("merchantInboundNumber") or "",
            inbound.get("warehouseId") or "",
            str(inbound.get("status") or ""),
            str(item["jfsku"]),
            _int(item.get("quantity")),
            _int(item.get("quantityOpen")),
        )
        for inbound in inbounds
        for item in inbound.get("items") or []
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "inbound_id",
            "merchant_inbound_number",
            "warehouse_id",
            "status",
            "jfsku",
            "quantity",
            "quantity_open",
        ],
    ).astype({"quantity": "int64", "quantity_open": "int64"})
    return INBOUND_ITEMS_SCHEMA.validate(frame)


def stocks_frame(stocks: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Stock per (jfsku, warehouse); a stock without a warehouse breakdown is one row with warehouse ''."""
    rows: list[tuple[str, str, int, int]] = []
    for stock in stocks:
        jfsku = str(stock["jfsku"])
        per_warehouse = stock.get("warehouses") or []
        if per_warehouse:
            rows.extend(
                (
                    jfsku,
                    str(w.get("warehouseId") or ""),
                    _int(w.get("stockLevel")),
                    _int(w.get("stockLevelAnnounced")),
                )
                for w in per_warehouse
            )
        else:
            rows.append((jfsku, "", _int(stock.get("stockLevel")), _int(stock.get("stockLevelAnnounced"))))
    frame = pd.DataFrame(
        rows, columns=["jfsku", "warehouse_id", "stock_level", "stock_level_announced"]
    ).astype({"stock_level": "int64", "stock_level_announced": "int64"})
    return STOCKS_SCHEMA.validate(frame)
