"""Purchase orders: the 1.0 API has none, only 2.x (kebab-case paths under ``/v2``, camelCase JSON).

[I] inferred: the v2 guide documents the paths and the rule that line items can only be added while the
order is Open or Released; the field names (``WawiData.purchase_orders`` holds them in PascalCase, the
responses camelCase them) follow the v1 naming style and are not verified against a v2 spec. Statuses:
Draft, Open, Released, PartiallyDelivered, Delivered, Completed. Supplier-article assignments are not
modelled.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from jtl_automator.sandbox.data import JsonObject, WawiData, iso_now
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import StateDep
from jtl_automator.sandbox.wawi.common import (
    JsonBody,
    Query,
    WawiError,
    json_response,
    next_id,
    page_params,
    paged_envelope,
    sorted_values,
)

routes = RouteTable()


def camel_case(obj: Any) -> Any:
    """v2 writes JSON in camelCase; purchase orders are stored PascalCase like the rest of ``WawiData``."""
    if isinstance(obj, dict):
        return {(k.lower() if k.isupper() else k[:1].lower() + k[1:]): camel_case(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [camel_case(v) for v in obj]
    return obj


def _v2_validation(errors: dict[str, str]) -> WawiError:
    """v2 spells error codes in upper snake case."""
    return WawiError(400, "VALIDATION_ERROR", "One or more validation errors occurred.", errors)


def _po_not_found(po_id: int) -> WawiError:
    """The v2 404 names the purchase order."""
    return WawiError(404, "NOT_FOUND", f"Purchase order {po_id} was not found.")


@routes.get("/purchase-orders")
def list_purchase_orders(request: Request, state: StateDep) -> Response:
    """Paged like v1 (page size 100 by default) but camelCase, filtered by supplier and status."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = page_params(query, 100, state.config.wawi_max_page_size)
    supplier_id = query.integer("supplierId")
    status = query.text("status")
    rows = sorted_values(wawi.purchase_orders)
    if supplier_id is not None:
        rows = [po for po in rows if po.get("SupplierId") == supplier_id]
    if status is not None:
        rows = [po for po in rows if str(po.get("Status", "")).lower() == status.lower()]
    return json_response(
        camel_case(paged_envelope(rows, number, size, camel=True, past_end=state.config.wawi_page_past_end))
    )


@routes.get("/purchase-orders/{po_id}")
def get_purchase_order(po_id: int, state: StateDep) -> Response:
    """One purchase order with its line items, camelCased."""
    wawi = state.data.wawi
    po = wawi.purchase_orders.get(po_id)
    if po is None:
        raise _po_not_found(po_id)
    return json_response(camel_case(po))


def _build_lines(
    wawi: WawiData, raw: Any, po_id: int, start_id: int, errors: dict[str, str]
) -> list[JsonObject]:
    """Stored (PascalCase) lines from a camelCase request; problems go to ``errors`` by JSON path."""
    if not isinstance(raw, list):
        errors["lineItems"] = "The lineItems field must be an array."
        return []
    lines: list[JsonObject] = []
    for index, element in enumerate(raw):
        here = f"lineItems[{index}]"
        if not isinstance(element, dict):
            errors[here] = "A line item must be an object."
            continue
        item_id: Any = element.get("itemId")  # whatever JSON the client sent: only an int can match
        item = wawi.items.get(item_id)
        quantity = element.get("quantity")
        if item is None:
            errors[f"{here}.itemId"] = f"Item {element.get('itemId')} does not exist."
            continue
        if not isinstance(quantity, int | float) or isinstance(quantity, bool) or quantity <= 0:
            errors[f"{here}.quantity"] = "The quantity must be greater than 0."
            continue
        price = element.get("purchasePriceNet", (item.get("ItemPriceData") or {}).get("PurchasePriceNet", 0))
        lines.append(
            {
                "Id": start_id + len(lines),
                "PurchaseOrderId": po_id,
                "ItemId": item["Id"],
                "SKU": item.get("SKU", ""),
                "Name": element.get("name") or item.get("Name", ""),
                "SupplierSku": element.get("supplierSku", ""),
                "Quantity": quantity,
                "QuantityDelivered": 0,
                "PurchasePriceNet": price,
                "TaxRate": element.get("taxRate", 19),
            }
        )
    return lines


def _next_line_id(wawi: WawiData) -> int:
    """Line ids are unique across all purchase orders."""
    return next_id(line["Id"] for po in wawi.purchase_orders.values() for line in po.get("LineItems", ()))


def _total_net(lines: list[JsonObject]) -> float:
    """Quantity times net purchase price, rounded to cents."""
    return round(float(sum(line["Quantity"] * line["PurchasePriceNet"] for line in lines)), 2)


@routes.post("/purchase-orders")
def create_purchase_order(state: StateDep, payload: JsonBody = None) -> Response:
    """Draft, Open or Released only; every problem of the body is listed in one 400."""
    wawi = state.data.wawi
    if not isinstance(payload, dict):
        raise _v2_validation({"body": "The request body must be a purchase order object."})
    with state.data.lock:
        errors: dict[str, str] = {}
        supplier_id = payload.get("supplierId")
        if supplier_id not in wawi.suppliers:
            errors["supplierId"] = f"Supplier {supplier_id} does not exist."
        warehouse_id = payload.get("warehouseId")
        if warehouse_id is not None and warehouse_id not in wawi.warehouses:
            errors["warehouseId"] = f"Warehouse {warehouse_id} does not exist."
        status = payload.get("status", "Open")
        if status not in ("Draft", "Open", "Released"):
            errors["status"] = "The status must be Draft, Open or Released."
        new_id = next_id(wawi.purchase_orders)
        lines = _build_lines(wawi, payload.get("lineItems", []), new_id, _next_line_id(wawi), errors)
        if errors:
            raise _v2_validation(errors)
        now = iso_now()
        po: JsonObject = {
            "Id": new_id,
            "Number": payload.get("number") or f"PO{new_id:07d}",
            "ExternalNumber": payload.get("externalNumber", ""),
            "SupplierId": supplier_id,
            "WarehouseId": warehouse_id,
            "CompanyId": payload.get("companyId", 1),
            "Status": status,
            "OrderDate": payload.get("orderDate") or now,
            "ExpectedDeliveryDate": payload.get("expectedDeliveryDate"),
            "CurrencyIso": payload.get("currencyIso", "EUR"),
            "TotalNet": _total_net(lines),
            "Comment": payload.get("comment", ""),
            "CreatedAt": now,
            "UpdatedAt": now,
            "LineItems": lines,
        }
        wawi.purchase_orders[new_id] = po
    return json_response(camel_case(po), 201)


@routes.post("/purchase-orders/{po_id}/line-items")
def add_purchase_order_lines(po_id: int, state: StateDep, payload: JsonBody = None) -> Response:
    """One line or an array; only while Open or Released (the v2 guide's rule)."""
    wawi = state.data.wawi
    with state.data.lock:
        po = wawi.purchase_orders.get(po_id)
        if po is None:
            raise _po_not_found(po_id)
        if po.get("Status") not in ("Open", "Released"):
            raise WawiError(
                400, "INVALID_STATE", "Line items can only be added to Open or Released purchase orders."
            )
        raw = payload if isinstance(payload, list) else [payload]
        errors: dict[str, str] = {}
        lines = _build_lines(wawi, raw, po_id, _next_line_id(wawi), errors)
        if errors:
            raise _v2_validation(errors)
        all_lines = po.setdefault("LineItems", [])
        all_lines.extend(lines)
        po["TotalNet"] = _total_net(all_lines)
        po["UpdatedAt"] = iso_now()
    return json_response(camel_case(lines), 201)
