"""Sales orders (``/v1/salesOrders``) with their line items and cancellation.

The v1 ``SalesOrder`` has no modification timestamp, so ``GET /salesOrders`` filters only on
``createdSince``/``createdUntil`` (``SalesOrderDate``), as the real API does; clients that need changes to
known orders must re-read them by id. Line items are posted as an ARRAY (a known quirk) and priced from
the item when only one of net and gross is given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request, Response

from jtl_automator.sandbox.data import JsonObject, WawiData, iso_now
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import StateDep
from jtl_automator.sandbox.wawi.common import (
    JsonBody,
    Query,
    WawiError,
    dumps,
    json_response,
    next_id,
    not_found,
    paged_envelope,
    parse_time,
    round_quantity,
    sorted_values,
    v1_page,
    validation_error,
)
from jtl_automator.sandbox.wawi.schemas import complete, merge

routes = RouteTable()


@routes.get("/salesOrders")
def list_sales_orders(request: Request, state: StateDep) -> Response:
    """Paged, in id order; see ``_filter_orders`` for the query parameters."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = v1_page(state, query)
    rows = sorted_values(wawi.sales_orders)
    rows = _filter_orders(rows, query, wawi.line_items)
    return json_response(paged_envelope(rows, number, size, past_end=state.config.wawi_page_past_end))


@routes.get("/salesOrders/customfields")
def list_sales_order_custom_fields(state: StateDep) -> Response:
    """Every sales-order custom field definition, a plain array of ``CustomField``."""
    return json_response(list(sorted_values(state.data.wawi.sales_order_custom_fields)))


@routes.get("/salesOrders/{order_id}")
def get_sales_order(order_id: int, state: StateDep) -> Response:
    """One order by id (line items come from their own endpoint)."""
    wawi = state.data.wawi
    order = wawi.sales_orders.get(order_id)
    if order is None:
        raise not_found("SalesOrder", order_id)
    return json_response(order)


@routes.post("/salesOrders")
def create_sales_order(request: Request, state: StateDep, payload: JsonBody = None) -> Response:
    """Addresses default to the customer's; a taken ``Number`` is a 400 unless renaming is asked."""
    wawi = state.data.wawi
    query = Query(request)
    rename = query.boolean("renameSalesOrderNumberWhenAlreadyExists") or False
    with state.data.lock:
        new_id = next_id(wawi.sales_orders)
        order = complete("SalesOrder", {"Id": new_id})
        errors = merge("CreateSalesOrder", order, payload, check_required=True)
        if errors:
            raise validation_error(errors)
        customer = wawi.customers.get(order["CustomerId"])
        if customer is None:
            raise validation_error({"CustomerId": f"Customer {order['CustomerId']} does not exist."})
        given = payload if isinstance(payload, dict) else {}
        numbers = {o.get("Number") for o in wawi.sales_orders.values()}
        if given.get("Number"):
            if order["Number"] in numbers:
                if not rename:
                    raise validation_error(
                        {"Number": f"A sales order with the number {order['Number']} already exists."}
                    )
                suffix = 1
                while f"{order['Number']}-{suffix}" in numbers:
                    suffix += 1
                order["Number"] = f"{order['Number']}-{suffix}"
        else:
            candidate = new_id
            while f"AU{candidate:07d}" in numbers:
                candidate += 1
            order["Number"] = f"AU{candidate:07d}"
        address_id = _next_address_id(wawi)
        if given.get("BillingAddress") is None:
            order["BillingAddress"] = dict(complete("Address", customer.get("BillingAddress")))
        if given.get("Shipmentaddress") is None:
            source = customer.get("Shipmentaddress") or order["BillingAddress"]
            order["Shipmentaddress"] = dict(complete("Address", source))
        for key in ("BillingAddress", "Shipmentaddress"):
            if not order[key].get("Id"):
                order[key]["Id"] = address_id
                address_id += 1
        if given.get("DepartureCountry") is None:
            order["DepartureCountry"] = {
                "CountryISO": "DE",
                "State": "",
                "CurrencyIso": "EUR",
                "CurrencyFactor": 1,
            }
        payment = order["SalesOrderPaymentDetails"]
        payment["CurrencyIso"] = payment.get("CurrencyIso") or "EUR"
        payment["CurrencyFactor"] = payment.get("CurrencyFactor") or 1
        order["LanguageIso"] = order.get("LanguageIso") or customer.get("LanguageIso") or "DE"
        order["SalesOrderDate"] = order.get("SalesOrderDate") or iso_now()
        order["IsCancelled"] = False
        wawi.sales_orders[new_id] = order
        wawi.line_items[new_id] = []
    return json_response(order, 201)


@routes.patch("/salesOrders/{order_id}")
def update_sales_order(order_id: int, state: StateDep, payload: JsonBody = None) -> Response:
    """PATCH merges into a copy and checks customer and on-hold reason references; answers 201."""
    wawi = state.data.wawi
    with state.data.lock:
        order = wawi.sales_orders.get(order_id)
        if order is None:
            raise not_found("SalesOrder", order_id)
        updated = json.loads(dumps(order))
        errors = merge("UpdateSalesOrder", updated, payload)
        customer_changed = updated.get("CustomerId") != order.get("CustomerId")
        if not errors and customer_changed and updated.get("CustomerId") not in wawi.customers:
            errors["CustomerId"] = f"Customer {updated.get('CustomerId')} does not exist."
        reason = (updated.get("SalesOrderShippingDetail") or {}).get("OnHoldReasonId")
        known_reasons = {r.get("Id") for r in wawi.on_hold_reasons}
        if reason and known_reasons and reason not in known_reasons:
            errors["SalesOrderShippingDetail.OnHoldReasonId"] = f"On hold reason {reason} does not exist."
        if errors:
            raise validation_error(errors)
        updated["Id"] = order_id
        wawi.sales_orders[order_id] = updated
    return json_response(updated, 201)


@routes.get("/salesOrders/{order_id}/customfields")
def list_sales_order_custom_field_values(order_id: int, state: StateDep) -> Response:
    """The order's ``CustomFieldValue`` rows (``{CustomFieldId, Value}``); 404 for an unknown order."""
    wawi = state.data.wawi
    if order_id not in wawi.sales_orders:
        raise not_found("SalesOrder", order_id)
    values = list(wawi.sales_order_custom_field_values.get(order_id, []))
    if not values and state.config.wawi_custom_fields_404_when_empty:
        raise WawiError(404, "NotFound", "No fields could be found.")
    return json_response(values)


@routes.get("/salesOrders/{order_id}/lineitems")
def list_line_items(order_id: int, state: StateDep) -> Response:
    """A plain array, not paged (as in the spec)."""
    wawi = state.data.wawi
    if order_id not in wawi.sales_orders:
        raise not_found("SalesOrder", order_id)
    return json_response(wawi.line_items.get(order_id, []))


@routes.post("/salesOrders/{order_id}/lineitems")
def add_line_items(order_id: int, state: StateDep, payload: JsonBody = None) -> Response:
    """Takes an ARRAY of CreateSalesOrderLineItem (a known quirk) and returns the created lines."""
    wawi = state.data.wawi
    with state.data.lock:
        order = wawi.sales_orders.get(order_id)
        if order is None:
            raise not_found("SalesOrder", order_id)
        if not isinstance(payload, list):
            raise validation_error({"body": "The request body must be an array of line items."})
        next_line = next_id(line["Id"] for lines in wawi.line_items.values() for line in lines)
        created: list[JsonObject] = []
        errors: dict[str, str] = {}
        for index, element in enumerate(payload):
            line = complete("SalesOrderLineItem")
            merge(
                "CreateSalesOrderLineItem",
                line,
                element,
                path=f"[{index}].",
                check_required=True,
                errors=errors,
            )
            if errors:
                continue
            _price_line(line, element, wawi.items, errors, index)
            line["Id"] = next_line + len(created)
            line["SalesOrderId"] = order_id
            created.append(line)
        if errors:
            raise validation_error(errors)
        lines = wawi.line_items.setdefault(order_id, [])
        lines.extend(created)
        _retotal(order, lines)
    return json_response(created, 201)


@routes.post("/salesOrders/{order_id}/cancel")
def cancel_sales_order(order_id: int, state: StateDep, payload: JsonBody = None) -> Response:
    """Needs a cancellation reason; cancelling twice is 406 with an empty body."""
    wawi = state.data.wawi
    with state.data.lock:
        order = wawi.sales_orders.get(order_id)
        if order is None:
            raise not_found("SalesOrder", order_id)
        details: JsonObject = {}
        errors = merge(
            "CreateSalesOrderCancellationDetails",
            details,
            payload if payload is not None else {},
            check_required=True,
        )
        if errors:
            raise validation_error(errors)
        if order.get("IsCancelled"):
            raise WawiError(406, "NotAcceptable", "The sales order cannot be cancelled.", empty_body=True)
        order["IsCancelled"] = True
        order["CancellationDetails"] = {
            "CancellationReasonId": details["CancellationReasonId"],
            "CancellationComment": details.get("CancellationComment", ""),
            "Date": iso_now(),
        }
    return Response(status_code=204)


def _next_address_id(wawi: WawiData) -> int:
    """Order addresses are rows of their own: one past the highest id any order address has."""
    ids = [
        address.get("Id", 0)
        for order in wawi.sales_orders.values()
        for address in (order.get("BillingAddress") or {}, order.get("Shipmentaddress") or {})
    ]
    return next_id(i for i in ids if isinstance(i, int))


_ORDER_INT_FILTERS: tuple[tuple[str, Callable[[JsonObject], Any]], ...] = (
    ("customerId", lambda o: o.get("CustomerId")),
    ("paymentStatus", lambda o: (o.get("SalesOrderPaymentDetails") or {}).get("PaymentStatus")),
    ("paymentMethodId", lambda o: (o.get("SalesOrderPaymentDetails") or {}).get("PaymentMethodId")),
    (
        "deliveryCompleteStatus",
        lambda o: (o.get("SalesOrderShippingDetail") or {}).get("DeliveryCompleteStatus"),
    ),
    ("shippingMethodId", lambda o: (o.get("SalesOrderShippingDetail") or {}).get("ShippingMethodId")),
    ("onHoldReasonId", lambda o: (o.get("SalesOrderShippingDetail") or {}).get("OnHoldReasonId")),
    ("createdUserId", lambda o: o.get("UserCreatedId")),
    ("companyId", lambda o: o.get("CompanyId")),
    ("colorId", lambda o: o.get("ColorcodeId")),
)
_ORDER_TEXT_FILTERS: tuple[tuple[str, str], ...] = (
    ("salesOrderNumber", "Number"),
    ("externalOrderNumber", "ExternalNumber"),
    ("billingNumber", "BillingNumber"),
    ("salesChannelId", "SalesChannelId"),
)


def _filter_orders(
    rows: Sequence[JsonObject], query: Query, line_items: dict[int, list[JsonObject]]
) -> Sequence[JsonObject]:
    for name, key in _ORDER_TEXT_FILTERS:
        text = query.text(name)
        if text is not None:
            rows = [o for o in rows if o.get(key) == text]
    for name, getter in _ORDER_INT_FILTERS:
        value = query.integer(name)
        if value is not None:
            rows = [o for o in rows if getter(o) == value]
    for name, key in (("isCancelled", "IsCancelled"), ("isExternalInvoice", "IsExternalInvoice")):
        flag = query.boolean(name)
        if flag is not None:
            rows = [o for o in rows if bool(o.get(key, False)) == flag]
    item_id = query.integer("itemId")
    if item_id is not None:
        rows = [o for o in rows if any(line.get("ItemId") == item_id for line in line_items.get(o["Id"], ()))]
    since = query.time("createdSince")
    until = query.time("createdUntil")
    if since is not None or until is not None:
        low = -math.inf if since is None else since
        high = math.inf if until is None else until
        rows = [o for o in rows if low <= (parse_time(o.get("SalesOrderDate") or "") or -math.inf) <= high]
    return rows


def _price_line(
    line: JsonObject, given: JsonObject, items: dict[int, JsonObject], errors: dict[str, str], index: int
) -> None:
    """Resolve the item and derive net/gross from each other (the API takes one of them)."""
    item_id = given.get("ItemId")
    item = items.get(item_id) if item_id else None
    if item_id and item is None:
        errors[f"[{index}].ItemId"] = f"Item {item_id} does not exist."
        return
    if item is not None:
        line["Type"] = 1
        line["Name"] = given.get("Name") or item.get("Name", "")
        line["SKU"] = given.get("SKU") or item.get("SKU", "")
        prices = item.get("ItemPriceData") or {}
        if given.get("PurchasePriceNet") is None:
            line["PurchasePriceNet"] = prices.get("PurchasePriceNet", 0)
        if given.get("SalesPriceNet") is None and given.get("SalesPriceGross") is None:
            line["SalesPriceNet"] = prices.get("SalesPriceNet", 0)
    else:
        line["Type"] = 0
        line["ItemId"] = 0
    if given.get("TaxRate") is None:
        line["TaxRate"] = 19
    factor = 1 + line["TaxRate"] / 100
    if given.get("SalesPriceGross") is not None and given.get("SalesPriceNet") is None:
        line["SalesPriceNet"] = round_quantity(line["SalesPriceGross"] / factor)
    else:
        line["SalesPriceGross"] = round_quantity(line["SalesPriceNet"] * factor)


def _retotal(order: JsonObject, lines: list[JsonObject]) -> None:
    total = sum(
        line.get("Quantity", 0) * line.get("SalesPriceGross", 0) * (1 - (line.get("Discount") or 0) / 100)
        for line in lines
    )
    payment = order.setdefault("SalesOrderPaymentDetails", complete("SalesOrderPaymentDetail"))
    payment["TotalGrossAmount"] = round(total, 2)
    status = payment.get("PaymentStatus", 0)
    if status == 0:
        payment["StillToPay"] = round(total, 2)
    elif status == 2:
        payment["StillToPay"] = 0
