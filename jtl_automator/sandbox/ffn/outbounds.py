"""Outbounds (``/outbounds``): orders to ship, reserving stock; fulfiller hooks move and ship them.

Outbounds reserve stock (and refuse to oversell unless ``?oversale=true``); :func:`set_outbound_status`
and :func:`ship_outbound` play the fulfiller's part, and every change shows up in ``/outbounds/updates``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.data import FfnData, JsonObject
from jtl_automator.sandbox.ffn.common import (
    ITEM_TYPES,
    OUTBOUND_STATUSES,
    PREMIUM_TYPES,
    SHIPPING_TYPES,
    FfnError,
    changed,
    flag,
    get_or_404,
    index_add,
    json_response,
    merge_patch,
    new_id,
    new_modification_info,
    raw_body,
    require_object,
    runtime,
    timestamp,
    touch,
    unique_index,
    validation_error,
)
from jtl_automator.sandbox.ffn.listing import ADDRESS_FILTER, DATE, MODIFICATION_ORDER, NUM, STR, feed, paged
from jtl_automator.sandbox.ffn.stock import (
    add_to_level,
    change_detail,
    change_level_details,
    free_in_warehouse,
    held_by_items,
    log_reservations,
    release,
    reserve,
    stock_rows,
)
from jtl_automator.sandbox.ffn.stock_log import clean_number, record
from jtl_automator.sandbox.ffn.validation import (
    Checker,
    check_address,
    check_attributes,
    check_items_known,
    check_warehouse,
)
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import SandboxState, StateDep

routes = RouteTable()

_TERMINAL_OUTBOUND = frozenset({"Shipped", "Canceled", "PartiallyCanceled"})
# Fulfiller-side transitions (set_outbound_status); shipping states are reached only through ship_outbound.
_FULFILLER_TRANSITIONS: dict[str, frozenset[str]] = {
    "Preparation": frozenset({"Pending", "Canceled"}),
    "Pending": frozenset({"Preparation", "Acknowledged", "Pickprocess", "Locked", "Canceled"}),
    "Acknowledged": frozenset({"Pickprocess", "Locked", "Canceled"}),
    "Pickprocess": frozenset({"Acknowledged", "Locked", "Canceled"}),
    "Locked": frozenset({"Acknowledged", "Pickprocess", "Canceled"}),
    "PartiallyShipped": frozenset({"PartiallyCanceled"}),
}
# What the merchant may do through PATCH [I]: release a draft, pull it back, or cancel before picking.
_MERCHANT_TRANSITIONS: dict[str, frozenset[str]] = {
    "Preparation": frozenset({"Pending", "Canceled"}),
    "Pending": frozenset({"Preparation", "Canceled"}),
}
_STATUS_STAMPS = [
    "pending",
    "preparation",
    "acknowledged",
    "locked",
    "pickprocess",
    "shipped",
    "partiallyShipped",
    "canceled",
    "partiallyCanceled",
]
OUTBOUND_FIELDS = odata.FieldTable(
    types={
        **dict.fromkeys(
            [
                "outboundId",
                "merchantId",
                "merchantOutboundNumber",
                "warehouseId",
                "externalNumber",
                "premiumType",
                "status",
                "items/jfsku",
                "items/outboundItemId",
                "items/name",
                "items/merchantSku",
                "attributes/key",
                "attributes/value",
            ],
            STR,
        ),
        **{f"shippingAddress/{name}": STR for name in ADDRESS_FILTER},
        **{f"senderAddress/{name}": STR for name in ADDRESS_FILTER},
        "items/quantity": NUM,
        **{f"statusTimestamp/{name}": DATE for name in _STATUS_STAMPS},
    },
    arrays=frozenset({"items", "attributes"}),
    order_only=MODIFICATION_ORDER,
)


_OUTBOUND_SERVER_FIELDS = frozenset(
    {"outboundId", "merchantId", "modificationInfo", "statusTimestamp", "relatedReturns", "status"}
)


def _normalise_outbound(
    check: Checker, body: Mapping[str, Any], ffn: FfnData, *, keep_open: bool
) -> JsonObject:
    """A complete Outbound from a request; ``keep_open`` keeps stored quantityOpen (PATCH without items)."""
    out: JsonObject = {}
    out["merchantOutboundNumber"] = check.string(body, "merchantOutboundNumber", "", required=True)
    out["externalNumber"] = check.string(body, "externalNumber", "")
    out["warehouseId"] = check.string(body, "warehouseId", "", required=True)
    currency = check.string(body, "currency", "", required=True)
    if currency is not None and len(currency) != 3:
        check.fail("currency must be an ISO 4217 code.")
    out["currency"] = currency
    priority = body.get("priority", 0)
    if priority is None:
        priority = 0
    if isinstance(priority, bool) or not isinstance(priority, int) or not -5 <= priority <= 5:
        check.fail("priority must be an integer between -5 and 5.")
    out["priority"] = priority
    for key in ("internalNote", "externalNote"):
        out[key] = check.string(body, key, "", max_length=4096)
    out["premiumType"] = check.enum(body, "premiumType", "", PREMIUM_TYPES)
    out["salesChannel"] = check.string(body, "salesChannel", "")
    desired = check.string(body, "desiredDeliveryDate", "")
    if desired is not None and odata.parse_timestamp(desired) is None:
        check.fail("desiredDeliveryDate must be an ISO 8601 date-time.")
    out["desiredDeliveryDate"] = desired
    out["shippingMethodId"] = check.string(body, "shippingMethodId", "")
    shipping_type = check.enum(body, "shippingType", "", SHIPPING_TYPES)
    if shipping_type is not None:
        out["shippingType"] = (
            shipping_type  # absent, not null, with a shippingMethodId: the enum is not nullable
        )
    out["shippingAddress"] = check_address(
        check, body.get("shippingAddress"), "shippingAddress", required=True
    )
    out["senderAddress"] = check_address(check, body.get("senderAddress"), "senderAddress", required=False)
    out["cancelReasonCode"] = body.get("cancelReasonCode")
    out["cancelReason"] = body.get("cancelReason")
    out["shippingFee"] = check.number(body, "shippingFee", "")
    out["orderValue"] = check.number(body, "orderValue", "")
    items_in = body.get("items")
    items: list[JsonObject] = []
    if not isinstance(items_in, list) or not items_in:
        check.fail("The items field is required and must contain at least one item.")
        items_in = []
    for index, item in enumerate(items_in):
        at = f"items[{index}]."
        if not isinstance(item, dict):
            check.fail(f"items[{index}] must be an object.")
            continue
        item_type = check.enum(item, "itemType", at, ITEM_TYPES) or "Product"
        jfsku = check.string(item, "jfsku", at, required=item_type in ("Product", "BillOfMaterials"))
        quantity = check.number(item, "quantity", at, required=True)
        if quantity is not None and quantity <= 0:
            check.fail(f"{at}quantity must be greater than 0.")
        product = ffn.products.get(jfsku or "") or {}
        items.append(
            {
                "outboundItemId": check.string(item, "outboundItemId", at) or str(index + 1),
                "jfsku": jfsku,
                "itemType": item_type,
                "name": check.string(item, "name", at) or product.get("name"),
                "merchantSku": check.string(item, "merchantSku", at) or product.get("merchantSku"),
                "quantity": quantity,
                "quantityOpen": item["quantityOpen"] if keep_open and "quantityOpen" in item else quantity,
                "externalNumber": check.string(item, "externalNumber", at),
                "price": check.number(item, "price", at),
                "vat": check.number(item, "vat", at),
                "billOfMaterialsId": check.string(item, "billOfMaterialsId", at),
                "note": check.string(item, "note", at, max_length=4096),
            }
        )
    if len({item["outboundItemId"] for item in items}) != len(items):
        check.fail("outboundItemId values must be unique within the outbound.")
    out["items"] = items
    out["attributes"] = check_attributes(check, body.get("attributes"), "attributes")
    attachments = body.get("attachments") or []
    out["attachments"] = (
        [a for a in attachments if isinstance(a, dict)] if isinstance(attachments, list) else []
    )
    return out


def _check_outbound_references(ffn: FfnData, out: JsonObject) -> None:
    has_method, has_type = bool(out.get("shippingMethodId")), bool(out.get("shippingType"))
    if has_method and has_type:
        raise FfnError(
            400,
            "Outbounds_OutboundShippingMethodAndShippingTypeSet",
            "Only provide shippingType or shippingMethodId, not both",
        )
    if not has_method and not has_type:
        raise validation_error("Either shippingType or shippingMethodId must be given.")
    check_warehouse(ffn, out["warehouseId"])
    if has_method and out["shippingMethodId"] not in ffn.shipping_methods:
        raise FfnError(
            400,
            "ShippingMethods_ShippingMethodNotFound",
            f"Shipping method '{out['shippingMethodId']}' not found",
            {"ShippingMethodId": out["shippingMethodId"]},
        )
    check_items_known(ffn, [item["jfsku"] for item in out["items"] if item.get("jfsku")])


def _check_stock_available(ffn: FfnData, outbound: JsonObject) -> None:
    needed: dict[str, float] = {}
    for item in outbound["items"]:
        if item["itemType"] == "Product" and item.get("jfsku"):
            needed[item["jfsku"]] = needed.get(item["jfsku"], 0) + item["quantityOpen"]
    for jfsku, quantity in needed.items():
        free = free_in_warehouse(ffn, jfsku, outbound["warehouseId"])
        if quantity > free:
            raise FfnError(
                400,
                "Stocks_NotEnoughStock",
                f"Not enough stock available: Product '{jfsku}', Warehouse '{outbound['warehouseId']}', "
                f"requested {clean_number(quantity)}, available {clean_number(max(free, 0))}",
                {"Jfsku": jfsku, "WarehouseId": outbound["warehouseId"]},
            )


def _blank_status_timestamps() -> JsonObject:
    return dict.fromkeys(_STATUS_STAMPS)


def create_outbound(state: SandboxState, body: Mapping[str, Any], *, oversale: bool = False) -> JsonObject:
    """POST /outbounds: validates like FFN and reserves stock.

    A repeated merchantOutboundNumber is refused with Shared_DuplicateKey [I] unless
    ``ffn_unique_merchant_outbound_number`` is off (strict: FFN documents no such uniqueness, so the
    client must not lean on it), and without ``oversale`` an outbound that exceeds free stock is refused
    with Stocks_NotEnoughStock [I]. A repeated ``outboundId`` is always refused.
    """
    ffn, rt = state.data.ffn, runtime(state)
    check = Checker()
    status = check.enum(body, "status", "", ("Preparation", "Pending")) or "Pending"
    given_id = check.string(body, "outboundId", "")
    with state.data.lock:
        out = _normalise_outbound(check, body, ffn, keep_open=False)
        check.raise_if_failed()
        _check_outbound_references(ffn, out)
        numbers = unique_index(rt, "merchantOutboundNumber", ffn.outbounds, "merchantOutboundNumber")
        number = out["merchantOutboundNumber"]
        taken = state.config.ffn_unique_merchant_outbound_number and number in numbers
        if taken or (given_id is not None and given_id in ffn.outbounds):
            raise FfnError(
                400,
                "Shared_DuplicateKey",
                "The given key already exists",
                {"MerchantOutboundNumber": number, "OutboundId": numbers.get(number)},
            )
        if not oversale:
            _check_stock_available(ffn, out)
        now = timestamp(rt)
        outbound_id = given_id or new_id(rt, ffn.merchant_id + "02", 6, ffn.outbounds)
        stamps = _blank_status_timestamps()
        stamps[status.lower()] = now
        outbound = {
            "outboundId": outbound_id,
            "merchantId": ffn.merchant_id,
            "status": status,
            **out,
            "relatedReturns": [],
            "statusTimestamp": stamps,
            "modificationInfo": new_modification_info(now),
        }
        ffn.outbounds[outbound_id] = outbound
        index_add(rt, "merchantOutboundNumber", ffn.outbounds, number, outbound_id)
        reserve(ffn, outbound)
        log_reservations(ffn, rt, outbound, {}, now)
        changed(rt)
        return outbound


def _check_version(obj: JsonObject, object_version: str | None, code: str, meta: Mapping[str, str]) -> None:
    """Optimistic concurrency: ``?objectVersion=`` is the last known modification time (fulfiller style)."""
    if object_version is None:
        return
    info = obj.get("modificationInfo") or {}
    current = info.get("updatedAt") or info.get("createdAt")
    given = odata.parse_timestamp(object_version.replace(" ", "+"))
    if given is None or current is None or odata.parse_timestamp(current) != given:
        raise FfnError(
            400,
            code,
            "The given version of this object is outdated.",
            {**meta, "CurrentObjectVersion": current, "GivenObjectVersion": object_version},
        )


def _set_status(outbound: JsonObject, status: str, now: str) -> None:
    outbound["status"] = status
    stamps = outbound.get("statusTimestamp")
    if not isinstance(stamps, dict):
        outbound["statusTimestamp"] = stamps = _blank_status_timestamps()
    key = status[0].lower() + status[1:]
    stamps[key] = now


def patch_outbound(
    state: SandboxState,
    outbound_id: str,
    body: Mapping[str, Any],
    *,
    oversale: bool = False,
    object_version: str | None = None,
) -> JsonObject:
    """PATCH /outbounds/{id}: only while Preparation/Pending [I]; items changes re-reserve stock."""
    ffn, rt = state.data.ffn, runtime(state)
    with state.data.lock:
        old = get_or_404(ffn.outbounds, outbound_id, "Outbounds_OutboundNotFound", "Outbound", "OutboundId")
        _check_version(old, object_version, "Outbounds_OutdatedOutbound", {"OutboundId": outbound_id})
        current = old["status"]
        if current not in _MERCHANT_TRANSITIONS:
            raise FfnError(
                400,
                "Shared_OperationForbidden",
                f"Outbound '{outbound_id}' has status '{current}' and can no longer be changed",
                {"OutboundId": outbound_id, "Status": current},
            )
        new_status = body.get("status", current)
        if new_status != current and new_status not in _MERCHANT_TRANSITIONS[current]:
            raise FfnError(
                400,
                "Outbounds_OutboundStatusChangeForbidden",
                f"Outbound transition from status '{current}' to '{new_status}' is not allowed",
                {"From": current, "To": new_status},
            )
        merged = merge_patch(old, body, _OUTBOUND_SERVER_FIELDS)
        if "shippingMethodId" in body and body["shippingMethodId"] and "shippingType" not in body:
            merged.pop("shippingType", None)
        if "shippingType" in body and body["shippingType"] and "shippingMethodId" not in body:
            merged["shippingMethodId"] = None
        check = Checker()
        out = _normalise_outbound(check, merged, ffn, keep_open="items" not in body)
        check.raise_if_failed()
        _check_outbound_references(ffn, out)
        numbers = unique_index(rt, "merchantOutboundNumber", ffn.outbounds, "merchantOutboundNumber")
        owner = numbers.get(out["merchantOutboundNumber"])
        unique = state.config.ffn_unique_merchant_outbound_number
        if unique and owner is not None and owner != outbound_id:
            raise FfnError(
                400,
                "Shared_DuplicateKey",
                "The given key already exists",
                {"MerchantOutboundNumber": out["merchantOutboundNumber"]},
            )
        held_before = held_by_items(ffn, old)
        release(ffn, old)
        candidate = {**old, **out}
        if not (oversale or new_status == "Canceled"):
            try:
                _check_stock_available(ffn, candidate)
            except FfnError:
                reserve(ffn, old)
                raise
        old.pop("shippingType", None)
        old.update(out)
        now = timestamp(rt)
        if new_status != current:
            _set_status(old, new_status, now)
        if new_status != "Canceled":
            reserve(ffn, old)
        log_reservations(ffn, rt, old, held_before, now)
        touch(old, now)
        rt.unique_indexes.pop("merchantOutboundNumber", None)
        changed(rt)
        return old


def set_outbound_status(
    state: SandboxState,
    outbound_id: str,
    status: str,
    *,
    cancel_reason_code: str | None = None,
    cancel_reason: str | None = None,
) -> JsonObject:
    """Fulfiller hook (PUT …/status): Acknowledged, Pickprocess, Locked, Canceled, PartiallyCanceled, … .

    Shipped/PartiallyShipped come only from ``ship_outbound`` (they need a shipping notification);
    cancelling releases the stock the outbound still reserves.
    """
    ffn, rt = state.data.ffn, runtime(state)
    if status not in OUTBOUND_STATUSES:
        raise validation_error(f"Unknown outbound status '{status}'", {"Status": status})
    with state.data.lock:
        outbound = get_or_404(
            ffn.outbounds, outbound_id, "Outbounds_OutboundNotFound", "Outbound", "OutboundId"
        )
        current = outbound["status"]
        if status not in _FULFILLER_TRANSITIONS.get(current, frozenset()):
            raise FfnError(
                400,
                "Outbounds_OutboundStatusChangeForbidden",
                f"Outbound transition from status '{current}' to '{status}' is not allowed",
                {"From": current, "To": status},
            )
        now = timestamp(rt)
        if status in ("Canceled", "PartiallyCanceled"):
            held_before = held_by_items(ffn, outbound)
            release(ffn, outbound)
            log_reservations(ffn, rt, outbound, held_before, now)
            outbound["cancelReasonCode"] = cancel_reason_code
            outbound["cancelReason"] = cancel_reason
        _set_status(outbound, status, now)
        touch(outbound, now)
        changed(rt)
        return outbound


def _shipping_method_for(ffn: FfnData, outbound: JsonObject) -> JsonObject | None:
    if outbound.get("shippingMethodId") in ffn.shipping_methods:
        return ffn.shipping_methods[outbound["shippingMethodId"]]
    wanted = outbound.get("shippingType") or "Standard"
    methods = list(ffn.shipping_methods.values())
    return next((m for m in methods if m.get("shippingType") == wanted), methods[0] if methods else None)


def ship_outbound(
    state: SandboxState,
    outbound_id: str,
    tracking: str | None = None,
    *,
    items: Mapping[str, float] | None = None,
    weight: float | None = None,
) -> JsonObject:
    """Fulfiller hook: an OutboundShippingNotification for all open items (or ``items`` per jfsku).

    Shipping takes the units out of stock and out of the reservation; the outbound becomes Shipped,
    or PartiallyShipped while quantity stays open. Returns the notification (merchant view).
    """
    ffn, rt = state.data.ffn, runtime(state)
    with state.data.lock:
        outbound = get_or_404(
            ffn.outbounds, outbound_id, "Outbounds_OutboundNotFound", "Outbound", "OutboundId"
        )
        status = outbound["status"]
        if status in _TERMINAL_OUTBOUND or status == "Preparation":
            raise FfnError(
                400,
                "Outbounds_OutboundShippingNotificationStatusForbidden",
                f"Cannot create shipping notification when outbound '{outbound_id}' has status '{status}'",
                {"OutboundId": outbound_id, "Status": status},
            )
        plan: list[tuple[JsonObject, float]] = []
        wanted = dict(items) if items is not None else None
        for item in outbound["items"]:
            open_quantity = item["quantityOpen"]
            if open_quantity <= 0:
                continue
            if wanted is None:
                plan.append((item, open_quantity))
            elif item.get("jfsku") in wanted and wanted[item["jfsku"]] > 0:
                take = min(open_quantity, wanted[item["jfsku"]])
                wanted[item["jfsku"]] -= take
                plan.append((item, take))
        leftover = {jfsku: q for jfsku, q in (wanted or {}).items() if q > 0}
        if leftover:
            jfsku, quantity = next(iter(leftover.items()))
            raise FfnError(
                400,
                "Outbounds_OutboundShippingNotificationNotEnoughQuantityOpen",
                f"Product '{jfsku}' does not have enough shippable quantity on outbound '{outbound_id}'",
                {"OutboundId": outbound_id, "Jfsku": jfsku, "QuantityShippingNotification": str(quantity)},
            )
        if not plan:
            raise FfnError(
                400,
                "Outbounds_OutboundShippingNotificationNotEnoughQuantityOpen",
                f"Outbound '{outbound_id}' has nothing left to ship",
                {"OutboundId": outbound_id},
            )
        warehouse_id = outbound["warehouseId"]
        physical: dict[str, float] = {}
        for item, quantity in plan:
            if item["itemType"] == "Product" and item.get("jfsku"):
                physical[item["jfsku"]] = physical.get(item["jfsku"], 0) + quantity
        for jfsku, quantity in physical.items():
            _, row = stock_rows(ffn, jfsku, warehouse_id)
            if (row.get("stockLevel") or 0) < quantity:
                raise FfnError(
                    400,
                    "Stocks_NotEnoughStock",
                    f"Not enough stock available: Product '{jfsku}', Warehouse '{warehouse_id}'",
                    {"Jfsku": jfsku, "WarehouseId": warehouse_id},
                )
        now = timestamp(rt)
        notification_id = new_id(rt, ffn.fulfiller_id + "06", 10, {})
        notification_items: list[JsonObject] = []
        for number, (item, quantity) in enumerate(plan, start=1):
            item["quantityOpen"] = clean_number(item["quantityOpen"] - quantity)
            if item["itemType"] == "Product" and item.get("jfsku"):
                rows = stock_rows(ffn, item["jfsku"], warehouse_id)
                match = {"outboundId": outbound_id, "outboundItemId": item["outboundItemId"]}
                held = next(
                    (
                        d["quantityReserved"]
                        for d in rows[1].get("stockReservedDetails", [])
                        if all(d.get(k) == v for k, v in match.items())
                    ),
                    0,
                )
                released = min(held, quantity)
                if released:
                    add_to_level(rows, "stockLevelReserved", -released)
                    change_detail(rows, "stockReservedDetails", match, "quantityReserved", -released)
                add_to_level(rows, "stockLevel", -quantity)
                change_level_details(rows, -quantity)
                for row in rows:
                    row["fulfillerTimestamp"] = now
                record(
                    ffn,
                    rt,
                    rows[1],
                    "Delivery",
                    now,
                    deltas={"quantity": -quantity, "quantityReserved": -released},
                    outbound_item=match,
                    notification_item={
                        "outboundShippingNotificationId": notification_id,
                        "outboundShippingNotificationItemId": str(number),
                    },
                    by_fulfiller=True,
                )
            notification_items.append(
                {
                    "outboundShippingNotificationItemId": str(number),
                    "jfsku": item.get("jfsku"),
                    "quantity": quantity,
                    "note": None,
                    "bestBefore": None,
                    "batch": None,
                    "serialnumbers": [],
                }
            )
        method = _shipping_method_for(ffn, outbound)
        method_id = (method or {}).get("shippingMethodId") or f"{ffn.fulfiller_id}0A0001"
        schema = (method or {}).get("trackingUrlSchema")
        tracking_url = schema.replace("#TrackingId#", tracking) if schema and tracking else None
        shipped_all = all(item["quantityOpen"] <= 0 for item in outbound["items"])
        _set_status(outbound, "Shipped" if shipped_all else "PartiallyShipped", now)
        touch(outbound, now)
        notifications = ffn.shipping_notifications.setdefault(outbound_id, [])
        notification = {
            "outboundShippingNotificationId": notification_id,
            "outboundId": outbound_id,
            "merchantId": ffn.merchant_id,
            "fulfillerId": ffn.fulfiller_id,
            "merchantOutboundNumber": outbound["merchantOutboundNumber"],
            "fulfillerShippingNotificationNumber": f"SH-{outbound_id}-{len(notifications) + 1:03d}",
            "outboundStatus": outbound["status"],
            "note": None,
            "items": notification_items,
            "packages": [
                {
                    "freightOption": "Parcel",
                    "identifier": [{"value": tracking, "identifierType": "TrackingId", "name": None}]
                    if tracking
                    else [],
                    "shippingDate": now,
                    "shippingMethodId": method_id,
                    "trackingUrl": tracking_url,
                    "estimatedDeliveryDate": None,
                    "weight": weight,
                    "dimensions": None,
                    "note": None,
                }
            ],
            "modificationInfo": new_modification_info(now),
        }
        notifications.append(notification)
        changed(rt)
        return notification


# --------------------------------------------------------------------------------------------- routes
@routes.get("/outbounds")
def list_outbounds(request: Request, state: StateDep) -> Response:
    """Paged outbounds, filterable on the fields of ``OUTBOUND_FIELDS``."""
    outbounds = state.data.ffn.outbounds
    return paged(request, state, ("outbounds",), outbounds, lambda: list(outbounds.values()), OUTBOUND_FIELDS)


@routes.post("/outbounds")
def post_outbound(request: Request, state: StateDep, body: bytes = Depends(raw_body)) -> Response:
    """201 with the stored outbound; ``?oversale=true`` lets it exceed free stock."""
    outbound = create_outbound(state, require_object(body), oversale=flag(request, "oversale"))
    return json_response(outbound, 201)


@routes.get("/outbounds/updates")
def outbound_updates(request: Request, state: StateDep) -> Response:
    """Outbounds changed in ``[fromDate, toDate)`` (declared before ``/outbounds/{outbound_id}``)."""
    return feed(request, state, "outbounds", state.data.ffn.outbounds)


@routes.get("/outbounds/{outbound_id}")
def get_outbound(outbound_id: str, state: StateDep) -> Response:
    """One outbound; 404 ``Outbounds_OutboundNotFound`` otherwise."""
    with state.data.lock:
        return json_response(
            get_or_404(
                state.data.ffn.outbounds,
                outbound_id,
                "Outbounds_OutboundNotFound",
                "Outbound",
                "OutboundId",
            )
        )


@routes.patch("/outbounds/{outbound_id}")
def patch_outbound_route(
    request: Request,
    outbound_id: str,
    state: StateDep,
    body: bytes = Depends(raw_body),
) -> Response:
    """204 without a body; ``?objectVersion=`` guards against lost updates."""
    patch_outbound(
        state,
        outbound_id,
        require_object(body),
        oversale=flag(request, "oversale"),
        object_version=request.query_params.get("objectVersion"),
    )
    return Response(status_code=204)


@routes.get("/outbounds/{outbound_id}/shipping-notifications")
def outbound_notifications(outbound_id: str, state: StateDep) -> Response:
    """A bare array, as two merchant clients and their fixtures show (jtl-apis.md §1.7 #13)."""
    with state.data.lock:
        data = state.data.ffn
        get_or_404(data.outbounds, outbound_id, "Outbounds_OutboundNotFound", "Outbound", "OutboundId")
        return json_response(data.shipping_notifications.get(outbound_id, []))
