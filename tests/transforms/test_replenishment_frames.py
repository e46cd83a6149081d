"""The replenishment's JSON readers: what counts as demand, on order, stock and the standard supplier."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd

from jtl_automator.transforms.replenishment import DemandParams
from jtl_automator.transforms.replenishment_frames import (
    on_order_frame,
    outbound_lines_frame,
    stock_frame,
    stockout_frame,
    supplier_frame,
)


def _outbound(
    status: str, created: str | None, *items: dict[str, Any], warehouse: str = "W1"
) -> dict[str, Any]:
    return {
        "outboundId": "O",
        "status": status,
        "warehouseId": warehouse,
        "modificationInfo": {"createdAt": created},
        "items": list(items),
    }


def test_outbounds_give_one_line_per_product_item_on_the_day_ordered() -> None:
    frame = outbound_lines_frame(
        [
            _outbound("Shipped", "2026-11-02T23:10:00+01:00", {"merchantSku": "A", "quantity": 2}),
            _outbound(
                "Pending",
                "2026-11-03T08:00:00Z",
                {"merchantSku": "A", "quantity": 1},
                {"merchantSku": "B", "quantity": 4},
            ),
            _outbound("Canceled", "2026-11-03T08:00:00Z", {"merchantSku": "A", "quantity": 50}),
            _outbound("Pending", None, {"merchantSku": "A", "quantity": 50}),
            _outbound(
                "Pending", "2026-11-03T08:00:00Z", {"merchantSku": "S", "itemType": "Shipping", "quantity": 1}
            ),
            _outbound("Pending", "2026-11-03T08:00:00Z", {"merchantSku": "A", "quantity": "3"}),
        ]
    )
    got = sorted(
        zip(frame["merchant_sku"], frame["day"].dt.strftime("%Y-%m-%d"), frame["quantity"], strict=True)
    )
    assert got == [("A", "2026-11-02", 2.0), ("A", "2026-11-03", 1.0), ("B", "2026-11-03", 4.0)]


def test_stock_rows_per_warehouse_keep_negative_levels_for_the_formula() -> None:
    frame = stock_frame(
        [
            {
                "jfsku": "J",
                "merchantSku": "A",
                "warehouses": [
                    {"warehouseId": "W1", "stockLevel": 5, "stockLevelReserved": 1, "stockLevelBlocked": 0},
                    {"warehouseId": "W2", "stockLevel": -3, "stockLevelAnnounced": "x"},
                ],
            }
        ]
    ).set_index("warehouse_id")
    assert frame.loc["W1", "stock_level"] == 5 and frame.loc["W1", "reserved"] == 1
    assert frame.loc["W2", "stock_level"] == -3 and math.isnan(frame.loc["W2", "announced"])


def test_on_order_reads_open_units_of_inbounds_not_closed() -> None:
    frame = on_order_frame(
        [
            {
                "status": "Pending",
                "warehouseId": "W1",
                "items": [{"jfsku": "JA", "quantity": 10, "quantityOpen": 4}],
            },
            {"status": "Pending", "warehouseId": "W1", "items": [{"jfsku": "JA", "quantity": 6}]},
            {
                "status": "Closed",
                "warehouseId": "W1",
                "items": [{"jfsku": "JA", "quantity": 9, "quantityOpen": 9}],
            },
            {"status": "Pending", "warehouseId": "W1", "items": [{"jfsku": "JZ", "quantity": 9}]},
        ],
        {"JA": "A"},
    )
    assert list(frame["merchant_sku"]) == ["A", "A"] and frame["quantity_open"].sum() == 10


def test_supplier_frame_takes_the_standard_supplier_and_the_item_procurement_time() -> None:
    items = [
        {"Id": 1, "SKU": "A", "StorageOptions": {"ProcurementTime": 9}},
        {"Id": 2, "SKU": "B", "StorageOptions": {}},
        {"Id": 3, "SKU": "C"},
    ]
    item_suppliers = {
        1: [
            {"SupplierId": 7, "IsStandard": False, "DeliveryTime": 2},
            {
                "SupplierId": 8,
                "IsStandard": True,
                "DeliveryTime": 5,
                "MinimumPurchaseQuantity": 10,
                "PermissibleOrderQuantity": 2,
                "AmountPackagingUnit": 6,
            },
        ],
        2: [{"SupplierId": 7, "IsStandard": False}, {"SupplierId": 8, "IsStandard": False}],
    }
    frame = supplier_frame(items, item_suppliers, [{"Id": 8, "Name": "ACME"}]).set_index("merchant_sku")
    a = frame.loc["A"]
    assert (a["supplier_id"], a["supplier_name"], a["delivery_time"], a["procurement_time"]) == (
        8,
        "ACME",
        5,
        9,
    )
    assert (a["minimum_purchase"], a["permissible_quantity"], a["packaging_amount"]) == (10, 2, 6)
    assert pd.isna(frame.loc["B", "supplier_id"]) and pd.isna(frame.loc["C", "supplier_id"])


def _change(sku: str, warehouse: str, at: str, level: float, delta: float) -> dict[str, Any]:
    return {
        "stockChangeId": {"warehouseId": warehouse, "jfsku": f"J-{sku}", "stockVersion": 1},
        "merchantSku": sku,
        "stockLevel": level,
        "quantity": delta,
        "modificationInfo": {"createdAt": at},
    }


def test_stockout_days_follow_the_level_after_each_change_until_it_rises() -> None:
    window = DemandParams(start=date(2026, 11, 1), end=date(2026, 11, 7))
    changes = [
        _change("A", "W1", "2026-10-20T10:00:00Z", 4, -1),  # before the window: 4 units at its start
        _change("A", "W1", "2026-11-02T09:00:00Z", 0, -4),  # sold out on the 2nd ...
        _change("A", "W1", "2026-11-04T15:00:00Z", 10, 10),  # ... restocked on the 4th (0 in the morning)
        _change("B", "W2", "2026-11-06T08:00:00Z", 3, 3),  # opened at 0: out from the window's start
        _change("C", "W1", "2026-11-03T08:00:00Z", 5, -1),  # never out
        {"merchantSku": "D", "stockLevel": 0},  # no warehouse, no time: ignored
    ]
    frame = stockout_frame(changes, window)
    days = {(r.merchant_sku, r.warehouse_id, r.day.day) for r in frame.itertuples()}
    assert days == {("A", "W1", 2), ("A", "W1", 3)} | {("B", "W2", d) for d in range(1, 6)}
    assert stockout_frame([], window).empty
