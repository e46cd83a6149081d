"""Stock (``/stocks``): per-product totals with per-warehouse rows, and the bookkeeping that moves them.

``stockLevel`` counts the units on the shelf including reserved ones; free to promise is
``stockLevel - stockLevelReserved`` [I]. Inbounds announce, receiving books announced into physical
stock, outbounds reserve, shipping takes units out of stock and reservation.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime

from fastapi import Request
from fastapi.responses import Response

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.data import FfnData, JsonObject
from jtl_automator.sandbox.ffn.common import (
    FfnError,
    changed,
    get_or_404,
    json_response,
    runtime,
    timestamp,
    validation_error,
)
from jtl_automator.sandbox.ffn.listing import BOOL, DATE, MODIFICATION_ORDER, NUM, STR, feed, paged
from jtl_automator.sandbox.ffn.stock_log import (
    DELTAS,
    changes_after,
    clean_number,
    date_param,
    record,
    recorded_by,
)
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import FfnRuntime, SandboxState, StateDep

routes = RouteTable()

_STOCK_LEVELS = ["stockLevel", "stockLevelAnnounced", "stockLevelReserved", "stockLevelBlocked"]
STOCK_FIELDS = odata.FieldTable(
    types={
        **dict.fromkeys(_STOCK_LEVELS, NUM),
        "stockReservedDetails/outboundId": STR,
        "stockAnnouncedDetails/inboundId": STR,
        "warehouses/warehouseId": STR,
        **{f"warehouses/{name}": NUM for name in _STOCK_LEVELS},
        "warehouses/stockReservedDetails/outboundId": STR,
        "warehouses/stockAnnouncedDetails/inboundId": STR,
    },
    arrays=frozenset({"stockReservedDetails", "stockAnnouncedDetails", "warehouses"}),
    order_only={"jfsku": STR, "merchantSku": STR},
)
STOCK_IN_WAREHOUSE_FIELDS = odata.FieldTable(
    types={
        "warehouseId": STR,
        **dict.fromkeys(_STOCK_LEVELS, NUM),
        "stockReservedDetails/outboundId": STR,
        "stockAnnouncedDetails/inboundId": STR,
    },
    arrays=frozenset({"stockReservedDetails", "stockAnnouncedDetails"}),
    order_only={"jfsku": STR, "merchantSku": STR},
)


def _blank_levels() -> JsonObject:
    return {
        "stockLevel": 0,
        "stockLevelReserved": 0,
        "stockLevelBlocked": 0,
        "stockLevelAnnounced": 0,
        "stockLevelDetails": [],
        "stockReservedDetails": [],
        "stockAnnouncedDetails": [],
    }


def new_stock(jfsku: str, merchant_sku: str) -> JsonObject:
    """An empty Stock for a product that has none yet."""
    return {
        "jfsku": jfsku,
        "merchantSku": merchant_sku,
        **_blank_levels(),
        "warehouses": [],
        "fulfillerTimestamp": None,
    }


def stock_rows(ffn: FfnData, jfsku: str, warehouse_id: str) -> tuple[JsonObject, JsonObject]:
    """The product's Stock and its per-warehouse row, created empty when missing."""
    stock = ffn.stocks.get(jfsku)
    merchant_sku = (ffn.products.get(jfsku) or {}).get("merchantSku") or ""
    if stock is None:
        stock = ffn.stocks[jfsku] = new_stock(jfsku, merchant_sku)
    for row in stock.setdefault("warehouses", []):
        if row.get("warehouseId") == warehouse_id:
            return stock, row
    row = {
        "warehouseId": warehouse_id,
        "jfsku": jfsku,
        "merchantSku": merchant_sku,
        **_blank_levels(),
        "fulfillerTimestamp": None,
    }
    stock["warehouses"].append(row)
    return stock, row


def add_to_level(rows: tuple[JsonObject, ...], key: str, delta: float) -> None:
    """Add ``delta`` to a level in the total and the warehouse row alike."""
    for row in rows:
        row[key] = clean_number((row.get(key) or 0) + delta)


def change_detail(
    rows: tuple[JsonObject, ...], key: str, match: Mapping[str, str], field_: str, delta: float
) -> None:
    """Add ``delta`` to the matching detail entry in every row, dropping entries that reach zero."""
    for row in rows:
        details = row.setdefault(key, [])
        for detail in details:
            if all(detail.get(k) == v for k, v in match.items()):
                detail[field_] = clean_number(detail[field_] + delta)
                if detail[field_] <= 0:
                    details.remove(detail)
                break
        else:
            if delta > 0:
                details.append({**match, field_: clean_number(delta)})


def change_level_details(rows: tuple[JsonObject, ...], delta: float) -> None:
    """Physical stock without batch/best-before goes to the plain detail; removals drain details in order."""
    for row in rows:
        details = row.setdefault("stockLevelDetails", [])
        if delta >= 0:
            for detail in details:
                if detail.get("batch") is None and detail.get("bestBefore") is None:
                    detail["stockLevel"] = clean_number(detail["stockLevel"] + delta)
                    break
            else:
                details.append(
                    {
                        "batch": None,
                        "bestBefore": None,
                        "stockLevel": clean_number(delta),
                        "stockLevelBlocked": 0,
                    }
                )
            continue
        remaining = -delta
        for detail in list(details):
            taken = min(remaining, detail.get("stockLevel") or 0)
            detail["stockLevel"] = clean_number(detail["stockLevel"] - taken)
            remaining -= taken
            if detail["stockLevel"] <= 0 and not detail.get("stockLevelBlocked"):
                details.remove(detail)
            if remaining <= 0:
                break


def free_in_warehouse(ffn: FfnData, jfsku: str, warehouse_id: str) -> float:
    """Units that can still be promised: stockLevel − stockLevelReserved in that warehouse [I]."""
    stock = ffn.stocks.get(jfsku) or {}
    for row in stock.get("warehouses") or []:
        if row.get("warehouseId") == warehouse_id:
            return float((row.get("stockLevel") or 0) - (row.get("stockLevelReserved") or 0))
    return 0.0


def reserve(ffn: FfnData, outbound: JsonObject) -> None:
    """Reserve the open quantities of an outbound's product items in its warehouse."""
    for item in outbound["items"]:
        if item.get("itemType", "Product") == "Product" and item.get("jfsku") and item["quantityOpen"] > 0:
            rows = stock_rows(ffn, item["jfsku"], outbound["warehouseId"])
            add_to_level(rows, "stockLevelReserved", item["quantityOpen"])
            match = {"outboundId": outbound["outboundId"], "outboundItemId": item["outboundItemId"]}
            change_detail(rows, "stockReservedDetails", match, "quantityReserved", item["quantityOpen"])


def release(ffn: FfnData, outbound: JsonObject) -> None:
    """Give back what the outbound still holds (cancel, or before its items are replaced)."""
    for item in outbound["items"]:
        if item.get("itemType", "Product") != "Product" or not item.get("jfsku"):
            continue
        stock = ffn.stocks.get(item["jfsku"])
        if stock is None:
            continue
        rows = stock_rows(ffn, item["jfsku"], outbound["warehouseId"])
        match = {"outboundId": outbound["outboundId"], "outboundItemId": item["outboundItemId"]}
        held = next(
            (
                d["quantityReserved"]
                for d in rows[1].get("stockReservedDetails", [])
                if all(d.get(k) == v for k, v in match.items())
            ),
            0,
        )
        if held:
            add_to_level(rows, "stockLevelReserved", -held)
            change_detail(rows, "stockReservedDetails", match, "quantityReserved", -held)


def held_by_items(ffn: FfnData, outbound: JsonObject) -> dict[tuple[str, str], float]:
    """(jfsku, outboundItemId) -> what the outbound reserves now, read from its warehouse's rows."""
    held: dict[tuple[str, str], float] = {}
    for item in outbound["items"]:
        jfsku = item.get("jfsku")
        if not jfsku or item.get("itemType", "Product") != "Product":
            continue
        for row in (ffn.stocks.get(jfsku) or {}).get("warehouses") or []:
            if row.get("warehouseId") != outbound["warehouseId"]:
                continue
            for detail in row.get("stockReservedDetails") or []:
                if (detail.get("outboundId"), detail.get("outboundItemId")) == (
                    outbound["outboundId"],
                    item["outboundItemId"],
                ):
                    key = (jfsku, item["outboundItemId"])
                    held[key] = held.get(key, 0) + detail["quantityReserved"]
    return held


def log_reservations(
    ffn: FfnData, rt: FfnRuntime, outbound: JsonObject, before: Mapping[tuple[str, str], float], now: str
) -> None:
    """Log what :func:`reserve`/:func:`release` changed since ``before``, per outbound item, net.

    A PATCH releases and re-reserves everything; logging the net difference keeps an address change
    from showing up as a cancelled and a new reservation.
    """
    after = held_by_items(ffn, outbound)
    moves = [
        (jfsku, item_id, delta)
        for (jfsku, item_id) in dict.fromkeys([*before, *after])
        if (delta := clean_number(after.get((jfsku, item_id), 0) - before.get((jfsku, item_id), 0)))
    ]
    for index, (jfsku, item_id, delta) in enumerate(moves):
        later = sum(d for j, _, d in moves[index + 1 :] if j == jfsku)
        _, row = stock_rows(ffn, jfsku, outbound["warehouseId"])
        record(
            ffn,
            rt,
            row,
            "Reservation" if delta > 0 else "ReservationCanceled",
            now,
            deltas={"quantityReserved": delta},
            outbound_item={"outboundId": outbound["outboundId"], "outboundItemId": item_id},
            pending={"stockLevelReserved": later},
        )


def adjust_stock(
    state: SandboxState, jfsku: str, warehouse_id: str, quantity: float, *, note: str | None = None
) -> JsonObject:
    """Fulfiller hook (``POST /fulfiller/stocks/adjustments``): found or destroyed units, logged.

    Returns the StockChange (changeType ``Adjustment``). Stock cannot go below zero [I].
    """
    ffn, rt = state.data.ffn, runtime(state)
    if isinstance(quantity, bool) or not isinstance(quantity, int | float) or not quantity:
        raise validation_error("quantity must be a non-zero number", {"Quantity": str(quantity)})
    with state.data.lock:
        get_or_404(ffn.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
        get_or_404(ffn.warehouses, warehouse_id, "Warehouses_WarehouseNotFound", "Warehouse", "WarehouseId")
        rows = stock_rows(ffn, jfsku, warehouse_id)
        if (rows[1].get("stockLevel") or 0) + quantity < 0:
            raise FfnError(
                400,
                "Stocks_NotEnoughStock",
                f"Not enough stock available: Product '{jfsku}', Warehouse '{warehouse_id}'",
                {"Jfsku": jfsku, "WarehouseId": warehouse_id},
            )
        now = timestamp(rt)
        add_to_level(rows, "stockLevel", quantity)
        change_level_details(rows, quantity)
        for row in rows:
            row["fulfillerTimestamp"] = now
        change = record(
            ffn, rt, rows[1], "Adjustment", now, deltas={"quantity": quantity}, note=note, by_fulfiller=True
        )
        changed(rt)
        return change


# --------------------------------------------------------------------------------------------- as of a date
def _undo(stock: JsonObject, row: JsonObject, change: JsonObject) -> None:
    """Take one logged change back out of a (copied) stock and its warehouse row."""
    rows = (stock, row)
    for delta_name, level in DELTAS.items():
        delta = change.get(delta_name) or 0
        if delta:
            add_to_level(rows, level, -delta)
    if change.get("quantity"):
        change_level_details(rows, -change["quantity"])
    outbound_item = change.get("outboundItem")
    if outbound_item and change.get("quantityReserved"):
        match = {
            "outboundId": outbound_item["outboundId"],
            "outboundItemId": outbound_item.get("outboundItemId"),
        }
        change_detail(rows, "stockReservedDetails", match, "quantityReserved", -change["quantityReserved"])
    inbound_item = change.get("inboundItem")
    if inbound_item and change.get("quantityAnnounced"):
        match = {"inboundId": inbound_item["inboundId"], "inboundItemId": inbound_item.get("inboundItemId")}
        change_detail(rows, "stockAnnouncedDetails", match, "quantityAnnounced", -change["quantityAnnounced"])


def _as_of(stock: JsonObject, newer: Mapping[tuple[str, str], list[JsonObject]]) -> JsonObject:
    """The stock with every later change undone (a copy; the stored object is never touched).

    Levels are exact; batch/best-before details of undone receipts and shipments land on the plain
    detail, and rows created after the date stay listed with zero levels [I].
    """
    jfsku = stock["jfsku"]
    rows = [row for row in stock.get("warehouses") or [] if (jfsku, row.get("warehouseId")) in newer]
    if not rows:
        return stock
    then = copy.deepcopy(stock)
    for row in then["warehouses"]:
        for change in newer.get((jfsku, row.get("warehouseId")), ()):
            _undo(then, row, change)
    return then


def stocks_as_of(ffn: FfnData, when: datetime) -> list[JsonObject]:
    """Every Stock as it stood at ``when``; unchanged ones are the stored objects themselves."""
    newer = changes_after(ffn, when)
    touched = {jfsku for jfsku, _ in newer}
    return [_as_of(s, newer) if s["jfsku"] in touched else s for s in ffn.stocks.values()]


# --------------------------------------------------------------------------------------------- routes
# Declared in this order on purpose: /stocks/updates and /stocks/changes must win over /stocks/{jfsku}.
STOCK_CHANGE_FIELDS = odata.FieldTable(
    types={
        "fulfillerStockChangeId": STR,
        "fulfillerTimestamp": DATE,
        **dict.fromkeys(_STOCK_LEVELS, NUM),
        **dict.fromkeys(DELTAS, NUM),
        "changeType": STR,
        "current": BOOL,
        "stockChangeId/warehouseId": STR,
        "stockChangeId/jfsku": STR,
        "inboundItem/inboundId": STR,
        "outboundItem/outboundId": STR,
        "outboundShippingNotificationItem/outboundShippingNotificationId": STR,
    },
    order_only={"stockChangeId/stockVersion": NUM, "merchantSku": STR, **MODIFICATION_ORDER},
)


def _warehouse_or_404(state: SandboxState, warehouse_id: str) -> None:
    with state.data.lock:
        get_or_404(
            state.data.ffn.warehouses,
            warehouse_id,
            "Warehouses_WarehouseNotFound",
            "Warehouse",
            "WarehouseId",
        )


def _cache_date(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


@routes.get("/stocks")
def list_stocks(request: Request, state: StateDep) -> Response:
    """Paged Stock objects (totals plus the per-warehouse rows); ``date``: as they stood then."""
    when = date_param(request.query_params)
    stocks = state.data.ffn.stocks

    def source() -> list[JsonObject]:
        return list(stocks.values()) if when is None else stocks_as_of(state.data.ffn, when)

    return paged(request, state, ("stocks", _cache_date(when)), stocks, source, STOCK_FIELDS)


@routes.get("/stocks/updates")
def stock_updates(request: Request, state: StateDep) -> Response:
    """``RecentStockChangeList``: StockChanges made in ``[fromDate, toDate)``, in pages."""
    return feed(request, state, "stock_changes", state.data.ffn.stock_changes)


def _changes(request: Request, state: StateDep, warehouse_id: str | None) -> Response:
    when = date_param(request.query_params)
    log = state.data.ffn.stock_changes

    def source() -> list[JsonObject]:
        found = list(log.values()) if when is None else recorded_by(state.data.ffn, when)
        if warehouse_id is not None:
            found = [c for c in found if c["stockChangeId"]["warehouseId"] == warehouse_id]
        return found

    key = ("stocks/changes", warehouse_id, _cache_date(when))
    return paged(request, state, key, log, source, STOCK_CHANGE_FIELDS)


@routes.get("/stocks/changes")
def list_stock_changes(request: Request, state: StateDep) -> Response:
    """Paged StockChanges, oldest first; ``date``: those made up to then (the /stocks reading) [I]."""
    return _changes(request, state, None)


@routes.get("/stocks/changes/{warehouse_id}")
def list_stock_changes_in_warehouse(request: Request, warehouse_id: str, state: StateDep) -> Response:
    """The StockChanges of one warehouse; 404 for an unknown warehouse."""
    _warehouse_or_404(state, warehouse_id)
    return _changes(request, state, warehouse_id)


@routes.get("/stocks/warehouse/{warehouse_id}")
def list_stocks_in_warehouse(request: Request, warehouse_id: str, state: StateDep) -> Response:
    """Paged per-warehouse rows of one warehouse; 404 for an unknown warehouse; ``date`` as on /stocks."""
    when = date_param(request.query_params)
    _warehouse_or_404(state, warehouse_id)

    def rows() -> list[JsonObject]:
        stocks = state.data.ffn.stocks.values() if when is None else stocks_as_of(state.data.ffn, when)
        return [
            row
            for stock in stocks
            for row in stock.get("warehouses") or []
            if row.get("warehouseId") == warehouse_id
        ]

    return paged(
        request,
        state,
        ("stocks/warehouse", warehouse_id, _cache_date(when)),
        state.data.ffn.stocks,
        rows,
        STOCK_IN_WAREHOUSE_FIELDS,
    )


@routes.get("/stocks/{jfsku}")
def get_stock(request: Request, jfsku: str, state: StateDep) -> Response:
    """An empty Stock for a product without one, 404 for an unknown jfsku; ``date`` as on /stocks."""
    when = date_param(request.query_params)
    with state.data.lock:
        data = state.data.ffn
        stock = data.stocks.get(jfsku)
        if stock is None:
            product = get_or_404(data.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
            stock = new_stock(jfsku, product.get("merchantSku") or "")
        elif when is not None:
            stock = _as_of(stock, changes_after(data, when))
        return json_response(stock)
