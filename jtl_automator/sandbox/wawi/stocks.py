"""Stock rows (``/v1/stocks``): one per item, warehouse, storage location and batch; POST books a delta."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fastapi import Request, Response

from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import SandboxState, StateDep
from jtl_automator.sandbox.wawi.common import (
    JsonBody,
    Query,
    json_response,
    not_found,
    paged_envelope,
    round_quantity,
    v1_page,
    validation_error,
)
from jtl_automator.sandbox.wawi.schemas import complete, merge

routes = RouteTable()


def rows_of_item(state: SandboxState, item_id: int) -> list[JsonObject]:
    """The item's stock rows (the same objects as in the list), from an index kept with the list."""
    stocks = state.data.wawi.stocks
    rt = state.runtime.wawi
    key = (id(stocks), len(stocks))
    if rt.stock_index is None or rt.stock_index[0] != key:
        index: dict[Any, list[JsonObject]] = defaultdict(list)
        for row in stocks:
            index[row.get("ItemId")].append(row)
        rt.stock_index = (key, index)
    return rt.stock_index[1].get(item_id, [])


@routes.get("/stocks")
def list_stocks(request: Request, state: StateDep) -> Response:
    """Paged stock rows, optionally for one item, warehouse or storage location."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = v1_page(state, query)
    item_id = query.integer("itemId")
    warehouse_id = query.integer("warehouseId")
    location_id = query.integer("storageLocationId")
    rows: Sequence[JsonObject] = wawi.stocks if item_id is None else rows_of_item(state, item_id)
    if warehouse_id is not None:
        rows = [row for row in rows if row.get("WarehouseId") == warehouse_id]
    if location_id is not None:
        rows = [row for row in rows if row.get("StorageLocationId") == location_id]
    return json_response(paged_envelope(rows, number, size, past_end=state.config.wawi_page_past_end))


@routes.post("/stocks")
def adjust_stock(state: StateDep, payload: JsonBody = None) -> Response:
    """A stock adjustment: ``Quantity`` is the delta booked onto the matching location/batch row."""
    wawi = state.data.wawi
    with state.data.lock:
        change: JsonObject = {}
        errors = merge("CreateStock", change, payload, check_required=True)
        if errors:
            raise validation_error(errors)
        item = wawi.items.get(change["ItemId"])
        if item is None:
            raise not_found("Item", change["ItemId"])
        if change["WarehouseId"] not in wawi.warehouses:
            raise not_found("Warehouse", change["WarehouseId"])
        # Book onto the first row of that item/warehouse matching whatever location/batch/expiry is given.
        given = {
            k: change[k]
            for k in ("StorageLocationId", "BatchNumber", "ShelfLifeExpirationDate")
            if k in change
        }
        row = next(
            (
                r
                for r in rows_of_item(state, change["ItemId"])
                if r.get("WarehouseId") == change["WarehouseId"]
                and all(r.get(k) == v for k, v in given.items())
            ),
            None,
        )
        current = row.get("QuantityTotal", 0) if row else 0
        total = current + change["Quantity"]
        if total < 0 and not item.get("AllowNegativeStock", False):
            raise validation_error(
                {"Quantity": f"The stock of item {change['ItemId']} must not become negative ({total})."}
            )
        if row is None:
            row = complete(
                "Stock",
                {
                    "WarehouseId": change["WarehouseId"],
                    "StorageLocationId": change.get("StorageLocationId", 0),
                    "ItemId": change["ItemId"],
                    "BatchNumber": change.get("BatchNumber", ""),
                    "ShelfLifeExpirationDate": change.get("ShelfLifeExpirationDate"),
                },
            )
            wawi.stocks.append(row)
        row["QuantityTotal"] = round_quantity(total)
    return json_response(row, 201)
