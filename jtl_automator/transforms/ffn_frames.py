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


def _frame(columns: Mapping[str, list[Any]], ints: tuple[str, ...] = ()) -> pd.DataFrame:
    """Columns with their dtypes set explicitly, so an empty result has the same dtypes as a full one."""
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype="int64" if name in ints else "str")
            for name, values in columns.items()
        }
    )


def products_frame(products: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Map merchantSku -> jfsku, one row per product that has both."""
    merchant_sku: list[str] = []
    jfsku: list[str] = []
    for p in products:
        if p.get("merchantSku") and p.get("jfsku"):
            merchant_sku.append(str(p["merchantSku"]))
            jfsku.append(str(p["jfsku"]))
    return PRODUCTS_SCHEMA.validate(_frame({"merchant_sku": merchant_sku, "jfsku": jfsku}))


INBOUND_ITEM_COLUMNS = (
    "inbound_id",
    "merchant_inbound_number",
    "warehouse_id",
    "status",
    "jfsku",
    "quantity",
    "quantity_open",
)


def inbound_items_frame(inbounds: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per inbound item, carrying its inbound's id, number, warehouse and status.

    Built column by column (no tuple per item): a million items stay a few arrays.
    """
    columns: dict[str, list[Any]] = {name: [] for name in INBOUND_ITEM_COLUMNS}
    for inbound in inbounds:
        items = inbound.get("items") or []
        if not items:
            continue
        n = len(items)
        columns["inbound_id"] += [str(inbound["inboundId"])] * n
        columns["merchant_inbound_number"] += [inbound.get("merchantInboundNumber") or ""] * n
        columns["warehouse_id"] += [inbound.get("warehouseId") or ""] * n
        columns["status"] += [str(inbound.get("status") or "")] * n
        columns["jfsku"] += [str(item["jfsku"]) for item in items]
        columns["quantity"] += [_int(item.get("quantity")) for item in items]
        columns["quantity_open"] += [_int(item.get("quantityOpen")) for item in items]
    return INBOUND_ITEMS_SCHEMA.validate(_frame(columns, ints=("quantity", "quantity_open")))


def stocks_frame(stocks: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Stock per (jfsku, warehouse); a stock without a warehouse breakdown is one row with warehouse ''."""
    columns: dict[str, list[Any]] = {
        "jfsku": [],
        "warehouse_id": [],
        "stock_level": [],
        "stock_level_announced": [],
    }
    for stock in stocks:
        jfsku = str(stock["jfsku"])
        per_warehouse = stock.get("warehouses") or [{**stock, "warehouseId": ""}]
        for w in per_warehouse:
            columns["jfsku"].append(jfsku)
            columns["warehouse_id"].append(str(w.get("warehouseId") or ""))
            columns["stock_level"].append(_int(w.get("stockLevel")))
            columns["stock_level_announced"].append(_int(w.get("stockLevelAnnounced")))
    return STOCKS_SCHEMA.validate(_frame(columns, ints=("stock_level", "stock_level_announced")))
