"""The FFN and Wawi JSON the replenishment reads, as the input frames of ``replenishment_lines``.

Read once here, so the formula never sees JSON. A value that is not a number becomes NaN in a nullable
column; a negative one is kept, so the formula can name it in the line's reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from jtl_automator.transforms.replenishment import (
    ON_ORDER_SCHEMA,
    ORDER_LINES_SCHEMA,
    STOCK_SCHEMA,
    STOCKOUT_SCHEMA,
    SUPPLIER_SCHEMA,
    DemandParams,
)
from jtl_automator.transforms.stock_sync import ffn_stock_rows

#: Outbounds that never left (or never will) are no demand.
CANCELLED_OUTBOUND = frozenset({"Canceled"})
#: Inbounds that can bring nothing more.
CLOSED_INBOUND = frozenset({"Closed", "Canceled"})


def _number(value: Any) -> float:
    """A JSON number as float; anything else (strings included, never coerced) is NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return math.nan
    return float(value)


def _day(value: Any) -> datetime | None:
    """The calendar day of an ISO timestamp (its local date as written), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def outbound_lines_frame(
    outbounds: Iterable[Mapping[str, Any]], labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per product item of every outbound not cancelled: its day of creation, SKU, warehouse, units.

    The day is ``modificationInfo.createdAt`` (when the customer ordered), else ``statusTimestamp.pending``;
    outbounds without either, items without ``merchantSku`` and non-positive quantities are left out.
    """
    cols: dict[str, list[Any]] = {"merchant_sku": [], "warehouse_id": [], "day": [], "quantity": []}
    # one string object per distinct SKU and warehouse, not one per line: a year of lines stays small
    # (8 bytes a cell instead of a string each) and hashing them later is cheaper
    labels = {} if labels is None else labels  # shared by the caller's chunks: one object per label overall
    for outbound in outbounds:
        if outbound.get("status") in CANCELLED_OUTBOUND or not outbound.get("warehouseId"):
            continue
        info = outbound.get("modificationInfo") or {}
        stamps = outbound.get("statusTimestamp") or {}
        day = _day(info.get("createdAt")) or _day(stamps.get("pending"))
        if day is None:
            continue
        for item in outbound.get("items") or []:
            quantity = _number(item.get("quantity"))
            sku = item.get("merchantSku")
            if item.get("itemType", "Product") not in ("Product", "BillOfMaterials"):
                continue
            if not isinstance(sku, str) or not sku.strip() or not quantity > 0:
                continue
            sku = sku.strip()
            warehouse = str(outbound["warehouseId"])
            cols["merchant_sku"].append(labels.setdefault(sku, sku))
            cols["warehouse_id"].append(labels.setdefault(warehouse, warehouse))
            cols["day"].append(day.replace(hour=0, minute=0, second=0, microsecond=0))
            cols["quantity"].append(quantity)
    frame = pd.DataFrame(
        {
            "merchant_sku": pd.Series(cols["merchant_sku"], dtype="string"),
            "warehouse_id": pd.Series(cols["warehouse_id"], dtype="string"),
            "day": pd.Series(cols["day"], dtype="datetime64[us]"),
            "quantity": pd.Series(cols["quantity"], dtype="float64"),
        }
    )
    return ORDER_LINES_SCHEMA.validate(frame)


def stockout_frame(changes: Iterable[Mapping[str, Any]], window: DemandParams) -> pd.DataFrame:
    """The (SKU, warehouse, day)s of the window on which FFN's ``stockLevel`` was 0, from its StockChanges.

    A StockChange carries the row's levels *after* the change. A day is out of stock when a change that
    day left ``stockLevel`` at 0 or below, or when no change happened that day and the last level before
    it was 0 or below. Before the first change the level was that change's ``stockLevel - quantity``.
    Only SKUs with a change in the feed are known: for the others every day counts as in stock.
    """
    cols: dict[str, list[Any]] = {"merchant_sku": [], "warehouse_id": [], "at": [], "level": [], "delta": []}
    for change in changes:
        ident = change.get("stockChangeId") or {}
        sku, warehouse = (
            change.get("merchantSku"),
            ident.get("warehouseId") if isinstance(ident, Mapping) else None,
        )
        at = _day((change.get("modificationInfo") or {}).get("createdAt"))
        level, delta = _number(change.get("stockLevel")), _number(change.get("quantity"))
        if not isinstance(sku, str) or not sku.strip() or not isinstance(warehouse, str) or at is None:
            continue
        if math.isnan(level):
            continue
        cols["merchant_sku"].append(sku.strip())
        cols["warehouse_id"].append(warehouse)
        cols["at"].append(at)
        cols["level"].append(level)
        cols["delta"].append(0.0 if math.isnan(delta) else delta)
    empty = pd.DataFrame(
        {
            "merchant_sku": pd.Series(dtype="string"),
            "warehouse_id": pd.Series(dtype="string"),
            "day": pd.Series(dtype="datetime64[us]"),
        }
    )
    if not cols["at"]:
        return STOCKOUT_SCHEMA.validate(empty)
    log = pd.DataFrame(cols).astype({"merchant_sku": "string", "warehouse_id": "string"})
    log["at"] = pd.to_datetime(log["at"]).astype("datetime64[us]")
    log = log.sort_values(["merchant_sku", "warehouse_id", "at"], kind="stable", ignore_index=True)
    log["day"] = log["at"].dt.floor("D")
    key = ["merchant_sku", "warehouse_id"]
    first = log.groupby(key, sort=False).first()
    opening = (first["level"] - first["delta"]).rename("opening")
    per_day = log.groupby([*key, "day"], sort=False).agg(
        zero=("level", lambda v: bool((v <= 0).any())), end=("level", "last")
    )
    days = pd.date_range(pd.Timestamp(window.start), pd.Timestamp(window.end), freq="D").astype(
        "datetime64[us]"
    )
    grid = pd.MultiIndex.from_tuples(
        [(sku, wh, day) for sku, wh in opening.index for day in days], names=[*key, "day"]
    )
    # changes before the window only set the level the window starts with
    before = per_day[per_day.index.get_level_values("day") < days[0]]
    start_level = before.groupby(level=key, sort=False)["end"].last().reindex(opening.index)
    start_level = start_level.fillna(opening)
    full = per_day.reindex(grid)
    carried = full["end"].groupby(level=key, sort=False).ffill()
    carried = carried.fillna(start_level.reindex(grid.droplevel("day")).set_axis(grid))
    changed = full["end"].notna()
    out_mask = full["zero"].fillna(False).astype(bool) | (~changed & (carried <= 0))
    found = grid[out_mask.to_numpy()].to_frame(index=False)
    return STOCKOUT_SCHEMA.validate(found if len(found) else empty)


def stock_frame(stocks: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """FFN Stock objects as one row per (SKU, warehouse) with the four levels."""
    fields = {
        "stock_level": "stockLevel",
        "reserved": "stockLevelReserved",
        "blocked": "stockLevelBlocked",
        "announced": "stockLevelAnnounced",
    }
    cols: dict[str, list[Any]] = {"merchant_sku": [], "warehouse_id": [], **{k: [] for k in fields}}
    for row in ffn_stock_rows(stocks):
        if not isinstance(row, Mapping):
            continue
        sku, warehouse = row.get("merchantSku"), row.get("warehouseId")
        if not isinstance(sku, str) or not sku.strip() or not isinstance(warehouse, str) or not warehouse:
            continue
        cols["merchant_sku"].append(sku.strip())
        cols["warehouse_id"].append(warehouse)
        for column, field in fields.items():
            cols[column].append(_number(row.get(field, 0)))
    frame = pd.DataFrame(
        {
            k: pd.Series(v, dtype="string" if k in ("merchant_sku", "warehouse_id") else "float64")
            for k, v in cols.items()
        }
    )
    return STOCK_SCHEMA.validate(frame)


def on_order_frame(inbounds: Iterable[Mapping[str, Any]], sku_by_jfsku: Mapping[str, str]) -> pd.DataFrame:
    """Open units of every inbound not closed: ``quantityOpen`` (else ``quantity``) per SKU and warehouse.

    Inbound items name the product by ``jfsku``; ``merchantSku`` is used where FFN gives it, else the
    map from the stock read. Items of unknown products are left out (they cannot be matched).
    """
    cols: dict[str, list[Any]] = {"merchant_sku": [], "warehouse_id": [], "quantity_open": []}
    for inbound in inbounds:
        warehouse = inbound.get("warehouseId")
        if inbound.get("status") in CLOSED_INBOUND or not isinstance(warehouse, str) or not warehouse:
            continue
        for item in inbound.get("items") or []:
            sku = item.get("merchantSku") or sku_by_jfsku.get(str(item.get("jfsku")))
            open_units = item.get("quantityOpen")
            quantity = _number(item.get("quantity") if open_units is None else open_units)
            if not isinstance(sku, str) or not sku or not quantity > 0:
                continue
            cols["merchant_sku"].append(sku)
            cols["warehouse_id"].append(warehouse)
            cols["quantity_open"].append(quantity)
    frame = pd.DataFrame(
        {
            "merchant_sku": pd.Series(cols["merchant_sku"], dtype="string"),
            "warehouse_id": pd.Series(cols["warehouse_id"], dtype="string"),
            "quantity_open": pd.Series(cols["quantity_open"], dtype="float64"),
        }
    )
    return ON_ORDER_SCHEMA.validate(frame)


def standard_supplier(rows: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The item's ``IsStandard`` supplier row; a single row counts as standard; several unflagged: none."""
    rows = [r for r in rows if isinstance(r, Mapping) and isinstance(r.get("SupplierId"), int)]
    flagged = [r for r in rows if r.get("IsStandard") is True]
    if flagged:
        return flagged[0]
    return rows[0] if len(rows) == 1 else None


def supplier_frame(
    items: Iterable[Mapping[str, Any]],
    item_suppliers: Mapping[int, Iterable[Mapping[str, Any]]],
    suppliers: Iterable[Mapping[str, Any]],
) -> pd.DataFrame:
    """Per Wawi item SKU: its standard supplier, lead times and order quantity rules.

    ``item_suppliers`` holds ``GET /items/{id}/suppliers`` per item Id. ``DeliveryTime`` counts unless it
    is missing; ``ProcurementTime`` comes from the item's ``StorageOptions``.
    """
    names = {s.get("Id"): s.get("Name") or s.get("Company") for s in suppliers if isinstance(s, Mapping)}
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        sku, item_id = item.get("SKU"), item.get("Id")
        if not isinstance(sku, str) or not sku.strip() or not isinstance(item_id, int):
            continue
        storage = item.get("StorageOptions") or {}
        chosen = standard_supplier(item_suppliers.get(item_id, ()))
        rows.setdefault(
            sku.strip(),
            {
                "merchant_sku": sku.strip(),
                "supplier_id": chosen["SupplierId"] if chosen else None,
                "supplier_name": names.get(chosen["SupplierId"]) if chosen else None,
                "delivery_time": _number(chosen.get("DeliveryTime")) if chosen else math.nan,
                "procurement_time": _number(storage.get("ProcurementTime")),
                "minimum_purchase": _number(chosen.get("MinimumPurchaseQuantity")) if chosen else math.nan,
                "permissible_quantity": _number(chosen.get("PermissibleOrderQuantity"))
                if chosen
                else math.nan,
                "packaging_amount": _number(chosen.get("AmountPackagingUnit")) if chosen else math.nan,
            },
        )
    frame = pd.DataFrame(list(rows.values()), columns=list(SUPPLIER_SCHEMA.columns))
    frame["supplier_id"] = frame["supplier_id"].astype("Int64")
    frame["supplier_name"] = frame["supplier_name"].astype("string")
    frame["merchant_sku"] = frame["merchant_sku"].astype("string")
    return SUPPLIER_SCHEMA.validate(frame)
