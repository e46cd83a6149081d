"""Inbounds (``/inbounds``): announced goods, received by the fulfiller hook :func:`receive_inbound`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.ffn.common import (
    FfnError,
    changed,
    get_or_404,
    index_add,
    json_response,
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
from jtl_automator.sandbox.ffn.listing import MODIFICATION_ORDER, NUM, STR, feed, paged
from jtl_automator.sandbox.ffn.stock import add_to_level, change_detail, change_level_details, stock_rows
from jtl_automator.sandbox.ffn.stock_log import clean_number, record
from jtl_automator.sandbox.ffn.validation import (
    Checker,
    check_attributes,
    check_items_known,
    check_warehouse,
)
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import SandboxState, StateDep

routes = RouteTable()

INBOUND_FIELDS = odata.FieldTable(
    types={
        **dict.fromkeys(
            [
                "inboundId",
                "merchantId",
                "status",
                "merchantInboundNumber",
                "warehouseId",
                "purchaseOrderNumber",
                "externalInboundNumber",
                "attributes/key",
                "attributes/value",
                "items/inboundItemId",
                "items/jfsku",
                "items/supplierSku",
            ],
            STR,
        ),
        "items/quantity": NUM,
    },
    arrays=frozenset({"attributes", "items"}),
    order_only=MODIFICATION_ORDER,
)


def create_inbound(state: SandboxState, body: Mapping[str, Any]) -> JsonObject:
    """POST /inbounds: status Preparation or Pending from the body, default Pending [I]; announces stock."""
    ffn, rt = state.data.ffn, runtime(state)
    check = Checker()
    number = check.string(body, "merchantInboundNumber", "", required=True)
    warehouse_id = check.string(body, "warehouseId", "", required=True)
    status = check.enum(body, "status", "", ("Preparation", "Pending")) or "Pending"
    given_id = check.string(body, "inboundId", "")
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
        jfsku = check.string(item, "jfsku", at, required=True)
        quantity = check.number(item, "quantity", at, required=True)
        if quantity is not None and quantity <= 0:
            check.fail(f"{at}quantity must be greater than 0.")
        item_id = check.string(item, "inboundItemId", at) or str(index + 1)
        items.append(
            {
                "inboundItemId": item_id,
                "jfsku": jfsku,
                "quantity": quantity,
                "quantityOpen": quantity,
                "supplierSku": check.string(item, "supplierSku", at),
                "supplierProductName": check.string(item, "supplierProductName", at),
                "note": check.string(item, "note", at, max_length=4096),
            }
        )
    if len({item["inboundItemId"] for item in items}) != len(items):
        check.fail("inboundItemId values must be unique within the inbound.")
    supplier = body.get("supplier")
    if supplier is not None and not (isinstance(supplier, dict) and supplier.get("merchantSupplierNumber")):
        check.fail("supplier.merchantSupplierNumber is required when a supplier is given.")
    attributes = check_attributes(check, body.get("attributes"), "attributes")
    check.raise_if_failed()
    assert number is not None and warehouse_id is not None
    with state.data.lock:
        check_warehouse(ffn, warehouse_id)
        check_items_known(ffn, [item["jfsku"] for item in items])
        numbers = unique_index(rt, "merchantInboundNumber", ffn.inbounds, "merchantInboundNumber")
        taken = state.config.ffn_unique_merchant_inbound_number and number in numbers
        if taken or (given_id is not None and given_id in ffn.inbounds):
            raise FfnError(
                400, "Shared_DuplicateKey", "The given key already exists", {"MerchantInboundNumber": number}
            )
        inbound_id = given_id or new_id(rt, ffn.merchant_id + "03", 6, ffn.inbounds)
        now = timestamp(rt)
        inbound = {
            "inboundId": inbound_id,
            "merchantId": ffn.merchant_id,
            "merchantInboundNumber": number,
            "warehouseId": warehouse_id,
            "status": status,
            "note": body.get("note"),
            "purchaseOrderNumber": body.get("purchaseOrderNumber"),
            "externalInboundNumber": body.get("externalInboundNumber"),
            "supplier": {
                "merchantSupplierNumber": supplier["merchantSupplierNumber"],
                "merchantSupplierName": supplier.get("merchantSupplierName"),
            }
            if supplier
            else None,
            "attributes": attributes,
            "items": items,
            "modificationInfo": new_modification_info(now),
        }
        ffn.inbounds[inbound_id] = inbound
        index_add(rt, "merchantInboundNumber", ffn.inbounds, number, inbound_id)
        for item in items:
            rows = stock_rows(ffn, item["jfsku"], warehouse_id)
            add_to_level(rows, "stockLevelAnnounced", item["quantity"])
            match = {"inboundId": inbound_id, "inboundItemId": item["inboundItemId"]}
            change_detail(rows, "stockAnnouncedDetails", match, "quantityAnnounced", item["quantity"])
            record(
                ffn,
                rt,
                rows[1],
                "Announcement",
                now,
                deltas={"quantityAnnounced": item["quantity"]},
                inbound_item=match,
            )
        changed(rt)
        return inbound


def receive_inbound(state: SandboxState, inbound_id: str, quantities: Mapping[str, float]) -> JsonObject:
    """Fulfiller hook (incoming goods): announced → available stock, quantityOpen down, status follows.

    Quantities are per jfsku and fill the inbound's items in order (zeros are skipped); receiving more
    than announced is allowed (the surplus only raises stock), as a warehouse books what arrived.
    """
    ffn, rt = state.data.ffn, runtime(state)
    with state.data.lock:
        inbound = get_or_404(ffn.inbounds, inbound_id, "Inbounds_InboundNotFound", "Inbound", "InboundId")
        if inbound["status"] in ("Closed", "Preparation"):
            raise FfnError(
                400,
                "Shared_OperationForbidden",
                f"Inbound '{inbound_id}' has status '{inbound['status']}' and cannot receive goods",
                {"InboundId": inbound_id, "Status": inbound["status"]},
            )
        unknown = sorted(j for j in quantities if not any(i["jfsku"] == j for i in inbound["items"]))
        if unknown:
            raise FfnError(
                400,
                "Products_ProductsNotFound",
                f"Products '{', '.join(unknown)}' are not part of inbound '{inbound_id}'",
                {"Jfskus": ", ".join(unknown), "InboundId": inbound_id},
            )
        bad = [
            j for j, q in quantities.items() if isinstance(q, bool) or not isinstance(q, int | float) or q < 0
        ]
        if bad:
            raise validation_error(
                f"Received quantity for '{bad[0]}' must not be negative", {"Jfsku": bad[0]}
            )
        warehouse_id = inbound["warehouseId"]
        now = timestamp(rt)
        for jfsku, quantity in quantities.items():
            if not quantity:
                continue
            rows = stock_rows(ffn, jfsku, warehouse_id)
            for row in rows:
                row["fulfillerTimestamp"] = now
            remaining = float(quantity)
            # One Inbound change per item booked (what FFN's incoming goods reference); a surplus
            # beyond every open item is a change of its own without an item.
            for item in inbound["items"]:
                if item["jfsku"] != jfsku or item["quantityOpen"] <= 0 or remaining <= 0:
                    continue
                booked = min(remaining, item["quantityOpen"])
                item["quantityOpen"] = clean_number(item["quantityOpen"] - booked)
                remaining -= booked
                add_to_level(rows, "stockLevelAnnounced", -booked)
                match = {"inboundId": inbound_id, "inboundItemId": item["inboundItemId"]}
                change_detail(rows, "stockAnnouncedDetails", match, "quantityAnnounced", -booked)
                add_to_level(rows, "stockLevel", booked)
                change_level_details(rows, booked)
                deltas = {"quantity": booked, "quantityAnnounced": -booked}
                record(ffn, rt, rows[1], "Inbound", now, deltas=deltas, inbound_item=match, by_fulfiller=True)
            if remaining > 0:
                add_to_level(rows, "stockLevel", remaining)
                change_level_details(rows, remaining)
                surplus = {"inboundId": inbound_id, "inboundItemId": None}
                record(
                    ffn,
                    rt,
                    rows[1],
                    "Inbound",
                    now,
                    deltas={"quantity": remaining},
                    inbound_item=surplus,
                    by_fulfiller=True,
                )
        open_left = any(item["quantityOpen"] > 0 for item in inbound["items"])
        inbound["status"] = "PartiallyReceipted" if open_left else "Receipted"
        touch(inbound, timestamp(rt))
        changed(rt)
        return inbound


# --------------------------------------------------------------------------------------------- routes
@routes.get("/inbounds")
def list_inbounds(request: Request, state: StateDep) -> Response:
    """Paged inbounds, filterable on the fields of ``INBOUND_FIELDS``."""
    inbounds = state.data.ffn.inbounds
    return paged(request, state, ("inbounds",), inbounds, lambda: list(inbounds.values()), INBOUND_FIELDS)


@routes.post("/inbounds")
def post_inbound(state: StateDep, body: bytes = Depends(raw_body)) -> Response:
    """201 with the stored inbound; its quantities are announced stock from now on."""
    return json_response(create_inbound(state, require_object(body)), 201)


@routes.get("/inbounds/updates")
def inbound_updates(request: Request, state: StateDep) -> Response:
    """Inbounds changed in ``[fromDate, toDate)`` (declared before ``/inbounds/{inbound_id}``)."""
    return feed(request, state, "inbounds", state.data.ffn.inbounds)


@routes.get("/inbounds/{inbound_id}")
def get_inbound(inbound_id: str, state: StateDep) -> Response:
    """One inbound; 404 ``Inbounds_InboundNotFound`` otherwise."""
    with state.data.lock:
        return json_response(
            get_or_404(
                state.data.ffn.inbounds, inbound_id, "Inbounds_InboundNotFound", "Inbound", "InboundId"
            )
        )
