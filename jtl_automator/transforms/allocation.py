"""Stock allocation across a batch of orders, without overselling and without split shipments.

The rule, in full:
1. Orders are taken in order of order date (orders without a date last), then order number, then Id, so
   the oldest order is served first and the result does not depend on the input's row order.
2. An order is allocated from ONE warehouse: the first, in preference order, whose available stock
   covers every item line of the order (the same jfsku on several lines is summed). Preference order is
   ``AllocationParams.warehouse_priority`` followed by every other warehouse by warehouse id (or only the
   listed ones with ``only_listed_warehouses``). The configured default warehouse belongs at the head of
   that list: it wins whenever it can ship the order.
3. If no single warehouse can, the order is held with reason ``insufficient_stock``. It is neither split
   across warehouses nor sent to a default warehouse that lacks the stock (that would oversell), and its
   demand consumes nothing, so later, smaller orders can still ship.
4. Orders whose lines cannot be resolved (SKU without jfsku, quantity not a positive whole number, no item
   lines) are held with ``unknown_sku`` / ``invalid_quantity`` / ``no_items``; validation normally keeps
   them out, this only makes the function total.

Greedy first-come-first-served is deliberate: it is the order the merchant promised, it is explainable
line by line, and it is monotone in the one way that matters (adding stock never makes the first order
whose outcome changes lose its allocation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, model_validator

from jtl_automator.transforms.orders import OUTCOMES_DTYPES, _dict, _number, _text
from jtl_automator.transforms.orders_rules import FailureCode

ALLOCATED = "allocated"
HELD = "held"
INVALID = "invalid"
INSUFFICIENT_STOCK = "insufficient_stock"
UNKNOWN_SKU = "unknown_sku"
INVALID_QUANTITY = "invalid_quantity"
NO_ITEMS = "no_items"
_TOLERANCE = 1e-9  # decimal stock levels (divisible products) minus whole quantities

AVAILABLE_DTYPES: dict[str, str] = {"jfsku": "string", "warehouse_id": "string", "available": "float64"}
AVAILABLE_SCHEMA = pa.DataFrameSchema(
    {
        "jfsku": pa.Column("string"),
        "warehouse_id": pa.Column("string"),
        "available": pa.Column("float64", pa.Check.ge(0)),
    },
    unique=["jfsku", "warehouse_id"],
    name="available_stock",
)
_ORDERS_IN = pa.DataFrameSchema(
    {
        "order_id": pa.Column("Int64", unique=True),
        "order_number": pa.Column("string", nullable=True),
        "order_date": pa.Column("datetime64[us, UTC]", nullable=True),
    },
    name="orders_to_allocate",
)
_LINES_IN = pa.DataFrameSchema(
    {
        "order_id": pa.Column("Int64"),
        "sku": pa.Column("string", nullable=True),
        "quantity": pa.Column("Float64", nullable=True),
        "is_item": pa.Column("bool"),
    },
    name="lines_to_allocate",
)
ALLOCATION_ORDERS_DTYPES: dict[str, str] = {
    "order_id": "Int64",
    "order_number": "string",
    "status": "string",
    "warehouse_id": "string",
    "reason": "string",
}
ALLOCATION_LINES_DTYPES: dict[str, str] = {
    "order_id": "Int64",
    "jfsku": "string",
    "warehouse_id": "string",
    "quantity": "float64",
}


class AllocationParams(BaseModel):
    """Warehouse preference; see the module docstring for the whole rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse_priority: tuple[str, ...] = ()
    only_listed_warehouses: bool = False

    @model_validator(mode="after")
    def _sane(self) -> AllocationParams:
        if len(set(self.warehouse_priority)) != len(self.warehouse_priority):
            raise ValueError("warehouse_priority lists a warehouse twice")
        if self.only_listed_warehouses and not self.warehouse_priority:
            raise ValueError("only_listed_warehouses needs a warehouse_priority list")
        return self


@dataclass(frozen=True)
class Allocation:
    """Result of ``allocate_stock``.

    ``orders``: order_id, order_number, status (allocated/held), warehouse_id, reason, in processing order.
    ``lines``: order_id, jfsku, warehouse_id, quantity taken, per allocated order and jfsku.
    ``remaining``: the ``available`` frame after the batch (same rows, sorted by jfsku, warehouse_id).
    """

    orders: pd.DataFrame
    lines: pd.DataFrame
    remaining: pd.DataFrame


def available_stock(stocks: Iterable[Any], default_warehouse_id: str | None = None) -> pd.DataFrame:
    """Per-warehouse available units from FFN Stock objects: stockLevel − reserved − blocked, at least 0.

    The ``warehouses`` breakdown is used; a Stock without one counts at ``default_warehouse_id`` if given,
    else not at all (stock that cannot be placed in a warehouse cannot be promised). A missing reserved or
    blocked level counts as 0, but an unreadable one makes the row 0: when in doubt, do not sell. The first
    Stock per jfsku and the first entry per (jfsku, warehouse) win, as with a page overlap.
    """
    rows: dict[tuple[str, str], float] = {}
    seen: set[str] = set()

    def level(entry: Mapping[str, Any]) -> float:
        total = _number(entry.get("stockLevel"))
        held = [entry.get("stockLevelReserved"), entry.get("stockLevelBlocked")]
        if total is None or any(v is not None and _number(v) is None for v in held):
            return 0.0
        return max(0.0, total - sum(_number(v) or 0.0 for v in held))

    for raw in stocks:
        stock = _dict(raw)
        jfsku = _text(stock.get("jfsku"))
        if jfsku is None or jfsku in seen:
            continue
        seen.add(jfsku)
        breakdown = stock.get("warehouses")
        entries = [_dict(w) for w in breakdown] if isinstance(breakdown, list) else []
        if not entries and default_warehouse_id is not None:
            entries = [{**stock, "warehouseId": default_warehouse_id}]
        for entry in entries:
            warehouse = _text(entry.get("warehouseId"))
            if warehouse is not None and (jfsku, warehouse) not in rows:
                rows[(jfsku, warehouse)] = level(entry)
    frame = pd.DataFrame(
        {
            "jfsku": pd.array([k[0] for k in rows], dtype="string"),
            "warehouse_id": pd.array([k[1] for k in rows], dtype="string"),
            "available": pd.array(list(rows.values()), dtype="float64"),
        }
    )
    frame = frame.sort_values(["jfsku", "warehouse_id"], kind="stable").reset_index(drop=True)
    return AVAILABLE_SCHEMA.validate(frame)


def _processing_order(orders: pd.DataFrame) -> pd.DataFrame:
    return orders.sort_values(["order_date", "order_number", "order_id"], na_position="last", kind="stable")


def _demand(
    orders: pd.DataFrame, lines: pd.DataFrame, sku_map: Mapping[str, str]
) -> tuple[dict[int, list[tuple[str, float]]], set[int], set[int]]:
    """Units per (order, jfsku), plus the orders with an unresolvable SKU or an unusable quantity."""
    items = lines.loc[
        lines["is_item"] & lines["order_id"].isin(orders["order_id"]), ["order_id", "sku", "quantity"]
    ]
    mapping = sku_map if isinstance(sku_map, dict) else dict(sku_map)
    jfsku = items["sku"].astype(object).map(mapping, na_action="ignore")
    quantity = items["quantity"]
    bad_quantity = ~((quantity > 0) & (quantity == quantity.round())).fillna(False).astype(bool)
    unknown = set(items.loc[jfsku.isna(), "order_id"].tolist())
    invalid = set(items.loc[bad_quantity, "order_id"].tolist())
    keep = jfsku.notna() & ~bad_quantity
    good = pd.DataFrame(
        {
            "order_id": items["order_id"].loc[keep],
            "jfsku": jfsku.loc[keep],
            "quantity": quantity.loc[keep].astype("float64"),
        }
    )
    summed = good.groupby(["order_id", "jfsku"], sort=True, as_index=False)["quantity"].sum()
    rows = zip(
        summed["order_id"].tolist(), summed["jfsku"].tolist(), summed["quantity"].tolist(), strict=True
    )
    demand: dict[int, list[tuple[str, float]]] = {}
    for order_id, group in groupby(rows, key=lambda row: row[0]):
        demand[int(order_id)] = [(jfsku, float(units)) for _, jfsku, units in group]
    return demand, unknown, invalid


def allocate_stock(
    orders_df: pd.DataFrame,
    lines_df: pd.DataFrame,
    available: pd.DataFrame,
    params: AllocationParams,
    sku_map: Mapping[str, str],
) -> Allocation:
    """Allocate the batch's orders against ``available`` (see the module docstring for the rule).

    ``orders_df``/``lines_df`` are ``orders_frame`` output, normally only the orders that passed
    validation; ``sku_map`` maps merchant SKU to jfsku; ``available`` is ``available_stock`` output.
    """
    orders = _processing_order(_ORDERS_IN.validate(orders_df))
    lines = _LINES_IN.validate(lines_df)
    stock_frame = AVAILABLE_SCHEMA.validate(available)
    demand, unknown, invalid = _demand(orders, lines, sku_map)

    stock: dict[str, dict[str, float]] = {}
    for jfsku, warehouse, units in zip(
        stock_frame["jfsku"].tolist(),
        stock_frame["warehouse_id"].tolist(),
        stock_frame["available"].tolist(),
        strict=True,
    ):
        stock.setdefault(jfsku, {})[warehouse] = float(units)
    listed = list(params.warehouse_priority)
    others = (
        []
        if params.only_listed_warehouses
        else sorted(set(stock_frame["warehouse_id"].tolist()) - set(listed))
    )
    order_of_warehouses = listed + others

    statuses: list[str] = []
    warehouses: list[str | None] = []
    reasons: list[str | None] = []
    taken: list[tuple[int, str, str, float]] = []
    for order_id in orders["order_id"].tolist():
        wanted = demand.get(order_id)
        reason: str | None = None
        chosen: str | None = None
        if order_id in unknown:
            reason = UNKNOWN_SKU
        elif order_id in invalid:
            reason = INVALID_QUANTITY
        elif not wanted:
            reason = NO_ITEMS
        else:
            needs = [(stock.get(j) or {}, units - _TOLERANCE) for j, units in wanted]
            for warehouse in order_of_warehouses:
                if all(levels.get(warehouse, 0.0) >= units for levels, units in needs):
                    chosen = warehouse
                    break
            if chosen is None:
                reason = INSUFFICIENT_STOCK
            else:
                for j, units in wanted:
                    stock[j][chosen] = max(0.0, stock[j][chosen] - units)
                    taken.append((order_id, j, chosen, units))
        statuses.append(ALLOCATED if chosen else HELD)
        warehouses.append(chosen)
        reasons.append(reason)

    result = pd.DataFrame(
        {
            "order_id": orders["order_id"].array,
            "order_number": orders["order_number"].array,
            "status": statuses,
            "warehouse_id": warehouses,
            "reason": reasons,
        }
    ).astype(ALLOCATION_ORDERS_DTYPES)
    allocated_lines = pd.DataFrame(taken, columns=list(ALLOCATION_LINES_DTYPES)).astype(
        ALLOCATION_LINES_DTYPES
    )
    remaining = pd.DataFrame(
        [(j, w, units) for j, per_warehouse in stock.items() for w, units in per_warehouse.items()],
        columns=list(AVAILABLE_DTYPES),
    ).astype(AVAILABLE_DTYPES)
    remaining = remaining.sort_values(["jfsku", "warehouse_id"], kind="stable").reset_index(drop=True)
    return Allocation(orders=result.reset_index(drop=True), lines=allocated_lines, remaining=remaining)


def outcomes_frame(orders_df: pd.DataFrame, failures: pd.DataFrame, allocation: Allocation) -> pd.DataFrame:
    """One row per order: "invalid" (validation failed), else the allocation's "allocated"/"held".

    ``reason`` is the hold reason the flow writes to Wawi: "CODE: message; …" for invalid orders, the
    allocation reason for held ones. Orders in neither input get outcome "unallocated". Sorted by order_id.
    """
    text = failures["code"].astype(str) + ": " + failures["message"].astype(str)
    invalid_reason = text.groupby(failures["order_id"], sort=False).agg("; ".join)
    out = orders_df[["order_id", "order_number"]].reset_index(drop=True)
    out = out.merge(allocation.orders.drop(columns="order_number"), on="order_id", how="left", validate="m:1")
    no_id = out["order_id"].isna()
    invalid = no_id | out["order_id"].isin(invalid_reason.index)
    allocated_or_held = out["status"].notna() & ~invalid
    outcome = out["status"].astype(object).where(allocated_or_held, "unallocated").mask(invalid, INVALID)
    reason = (
        out["reason"]
        .astype(object)
        .where(allocated_or_held, "not in the allocation")
        .mask(invalid, out["order_id"].map(invalid_reason).astype(object))
        .mask(no_id, f"{FailureCode.ORDER_ID_MISSING}: order Id is missing or not an integer")
    )
    result = pd.DataFrame(
        {
            "order_id": out["order_id"],
            "order_number": out["order_number"],
            "outcome": outcome,
            "warehouse_id": out["warehouse_id"].where(allocated_or_held),
            "reason": reason,
        }
    ).astype(OUTCOMES_DTYPES)
    return result.sort_values("order_id", na_position="last", kind="stable").reset_index(drop=True)
