"""Stock (``/stocks``): per-product totals with per-warehouse rows, and the bookkeeping that moves them.

``stockLevel`` counts the units on the shelf including reserved ones; free to promise is
``stockLevel - stockLevelReserved`` [I]. Inbounds announce, receiving books announced into physical
stock, outbounds reserve, shipping takes units out of stock and reservation.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import Response

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.data import FfnData, JsonObject
from jtl_automator.sandbox.ffn.common import FfnError, get_or_404, json_response
from jtl_automator.sandbox.ffn.listing import NUM, STR, paged
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import StateDep

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


def clean_number(value: float) -> float | int:
    """Keep whole quantities as ints and cut float noise, so responses read like FFN's decimals."""
    rounded = round(value, 6)
    return int(rounded) if float(rounded).is_integer() else rounded


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


# --------------------------------------------------------------------------------------------- routes
@routes.get("/stocks")
def list_stocks(request: Request, state: StateDep) -> Response:
    """Paged Stock objects (totals plus the per-warehouse rows)."""
    stocks = state.data.ffn.stocks
    return paged(request, state, ("stocks",), stocks, lambda: list(stocks.values()), STOCK_FIELDS)


@routes.get("/stocks/warehouse/{warehouse_id}")
def list_stocks_in_warehouse(request: Request, warehouse_id: str, state: StateDep) -> Response:
    """Paged per-warehouse rows of one warehouse; 404 for an unknown warehouse."""
    with state.data.lock:
        if warehouse_id not in state.data.ffn.warehouses:
            raise FfnError(
                404,
                "Warehouses_WarehouseNotFound",
                f"Warehouse '{warehouse_id}' not found",
                {"WarehouseId": warehouse_id},
            )

    def rows() -> list[JsonObject]:
        return [
            row
            for stock in state.data.ffn.stocks.values()
            for row in stock.get("warehouses") or []
            if row.get("warehouseId") == warehouse_id
        ]

    return paged(
        request,
        state,
        ("stocks/warehouse", warehouse_id),
        state.data.ffn.stocks,
        rows,
        STOCK_IN_WAREHOUSE_FIELDS,
    )


@routes.get("/stocks/{jfsku}")
def get_stock(jfsku: str, state: StateDep) -> Response:
    """A product without stock answers with an empty Stock, an unknown jfsku with 404."""
    with state.data.lock:
        data = state.data.ffn
        stock = data.stocks.get(jfsku)
        if stock is None:
            product = get_or_404(data.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
            stock = new_stock(jfsku, product.get("merchantSku") or "")
        return json_response(stock)
