"""Small literal frames in the dtypes the KPI schemas check (the shapes ``store.reporting`` returns)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from jtl_automator.transforms import kpis as k

NAN = float("nan")


def utc(*parts: int) -> pd.Timestamp:
    return pd.Timestamp(datetime(*parts, tzinfo=UTC))  # type: ignore[misc]


def _times(values: Sequence[Any]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True), dtype="datetime64[us, UTC]")


def orders(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(number, order_date, status, reason, warehouse, lines, units, priced, net, gross, costed, cost)."""
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(12)]
    frame = pd.DataFrame(
        {
            "order_number": pd.Series(cols[0], dtype="string"),
            "order_date": _times(cols[1]),
            "status": pd.Series(cols[2], dtype="string"),
            "hold_reason": pd.Series(cols[3], dtype="string"),
            "warehouse_id": pd.Series(cols[4], dtype="string"),
            "lines": pd.Series(cols[5], dtype="int64"),
            "units": pd.Series(cols[6], dtype="float64"),
            "priced_lines": pd.Series(cols[7], dtype="int64"),
            "net": pd.Series(cols[8], dtype="float64"),
            "gross": pd.Series(cols[9], dtype="float64"),
            "costed_lines": pd.Series(cols[10], dtype="int64"),
            "cost": pd.Series(cols[11], dtype="float64"),
        }
    )
    return k.ORDERS_SCHEMA.validate(frame)


def sku_sales(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(sku, orders, lines, units, priced, net, gross, costed, costed_net, cost)."""
    cols = list(zip(*rows, strict=True))
    frame = pd.DataFrame(
        {
            "sku": pd.Series(cols[0], dtype="string"),
            "orders": pd.Series(cols[1], dtype="int64"),
            "lines": pd.Series(cols[2], dtype="int64"),
            "units": pd.Series(cols[3], dtype="float64"),
            "priced_lines": pd.Series(cols[4], dtype="int64"),
            "net": pd.Series(cols[5], dtype="float64"),
            "gross": pd.Series(cols[6], dtype="float64"),
            "costed_lines": pd.Series(cols[7], dtype="int64"),
            "costed_net": pd.Series(cols[8], dtype="float64"),
            "cost": pd.Series(cols[9], dtype="float64"),
        }
    )
    return k.SKU_SALES_SCHEMA.validate(frame)


def items(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(sku, name, category, purchase_price_net)."""
    cols = list(zip(*rows, strict=True))
    frame = pd.DataFrame(
        {
            "sku": pd.Series(cols[0], dtype="string"),
            "name": pd.Series(cols[1], dtype="string"),
            "category": pd.Series(cols[2], dtype="string"),
            "purchase_price_net": pd.Series(cols[3], dtype="float64"),
        }
    )
    return k.ITEMS_SCHEMA.validate(frame)


def stock(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(sku, warehouse, stock_level, reserved, blocked)."""
    cols = list(zip(*rows, strict=True))
    frame = pd.DataFrame(
        {
            "sku": pd.Series(cols[0], dtype="string"),
            "warehouse_id": pd.Series(cols[1], dtype="string"),
            "stock_level": pd.Series(cols[2], dtype="float64"),
            "reserved": pd.Series(cols[3], dtype="float64"),
            "blocked": pd.Series(cols[4], dtype="float64"),
        }
    )
    return k.STOCK_SCHEMA.validate(frame)


def demand(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(sku, warehouse, units in the cover window, last sale day)."""
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    frame = pd.DataFrame(
        {
            "sku": pd.Series(cols[0], dtype="string"),
            "warehouse_id": pd.Series(cols[1], dtype="string"),
            "units": pd.Series(cols[2], dtype="float64"),
            "last_sale": pd.Series(pd.to_datetime(list(cols[3])), dtype="datetime64[us]"),
        }
    )
    return k.DEMAND_SCHEMA.validate(frame)


def fulfilment(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(number, warehouse, order_date, created_at, shipped_at)."""
    cols = list(zip(*rows, strict=True))
    frame = pd.DataFrame(
        {
            "order_number": pd.Series(cols[0], dtype="string"),
            "warehouse_id": pd.Series(cols[1], dtype="string"),
            "order_date": _times(cols[2]),
            "created_at": _times(cols[3]),
            "shipped_at": _times(cols[4]),
        }
    )
    return k.FULFILMENT_SCHEMA.validate(frame)


def open_orders(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(number, status, hold_reason, warehouse, order_date, updated_at)."""
    cols = list(zip(*rows, strict=True))
    frame = pd.DataFrame(
        {
            "order_number": pd.Series(cols[0], dtype="string"),
            "status": pd.Series(cols[1], dtype="string"),
            "hold_reason": pd.Series(cols[2], dtype="string"),
            "warehouse_id": pd.Series(cols[3], dtype="string"),
            "order_date": _times(cols[4]),
            "updated_at": _times(cols[5]),
        }
    )
    return k.OPEN_ORDERS_SCHEMA.validate(frame)


def checks(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(id, run, sheet, row_key, sku, inbound, expected, received, status, checked_at)."""
    cols = list(zip(*rows, strict=True))
    frame = pd.DataFrame(
        {
            "id": pd.Series(cols[0], dtype="int64"),
            "run_id": pd.Series(cols[1], dtype="string"),
            "sheet": pd.Series(cols[2], dtype="string"),
            "row_key": pd.Series(cols[3], dtype="string"),
            "sku": pd.Series(cols[4], dtype="string"),
            "inbound_ref": pd.Series(cols[5], dtype="string"),
            "units_expected": pd.Series(cols[6], dtype="float64"),
            "units_received": pd.Series(cols[7], dtype="float64"),
            "status": pd.Series(cols[8], dtype="string"),
            "note": pd.Series([None] * len(cols[0]), dtype="string"),
            "checked_at": _times(cols[9]),
        }
    )
    return k.INBOUND_CHECKS_SCHEMA.validate(frame)


def restock(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(plan_id, sku, warehouse, quantity, low_stock, cover_days)."""
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(6)]
    frame = pd.DataFrame(
        {
            "plan_id": pd.Series(cols[0], dtype="int64"),
            "plan_period": pd.Series(["2026-W48"] * len(cols[0]), dtype="string"),
            "plan_status": pd.Series(["draft"] * len(cols[0]), dtype="string"),
            "sku": pd.Series(cols[1], dtype="string"),
            "warehouse_id": pd.Series(cols[2], dtype="string"),
            "quantity": pd.Series(cols[3], dtype="int64"),
            "line_status": pd.Series(["proposed"] * len(cols[0]), dtype="string"),
            "low_stock": pd.Series(cols[4], dtype="bool"),
            "cover_days": pd.Series(cols[5], dtype="float64"),
        }
    )
    return k.RESTOCK_SCHEMA.validate(frame)


def failed_runs(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(flow, run, state, started, ended, message)."""
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(6)]
    frame = pd.DataFrame(
        {
            "flow": pd.Series(cols[0], dtype="string"),
            "run": pd.Series(cols[1], dtype="string"),
            "state": pd.Series(cols[2], dtype="string"),
            "started": _times(cols[3]),
            "ended": _times(cols[4]),
            "message": pd.Series(cols[5], dtype="string"),
        }
    )
    return k.FAILED_RUNS_SCHEMA.validate(frame)


def returns(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(return_id, return_date, sales_order_id, order_number or None, sku, quantity, reason)."""
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(7)]
    frame = pd.DataFrame(
        {
            "return_id": pd.Series(cols[0], dtype="int64"),
            "return_number": pd.Series([f"RE{i}" for i in cols[0]], dtype="string"),
            "return_date": _times(cols[1]),
            "sales_order_id": pd.Series(cols[2], dtype="Int64"),
            "order_number": pd.Series(cols[3], dtype="string"),
            "sku": pd.Series(cols[4], dtype="string"),
            "quantity": pd.Series(cols[5], dtype="float64"),
            "reason": pd.Series(cols[6], dtype="string"),
        }
    )
    return k.RETURNS_SCHEMA.validate(frame)


def shipped(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """(sku, orders, units)."""
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(3)]
    frame = pd.DataFrame(
        {
            "sku": pd.Series(cols[0], dtype="string"),
            "orders": pd.Series(cols[1], dtype="int64"),
            "units": pd.Series(cols[2], dtype="float64"),
        }
    )
    return k.SHIPPED_SCHEMA.validate(frame)


def day(value: str) -> date:
    return date.fromisoformat(value)


__all__ = ["NAN", "np"]
