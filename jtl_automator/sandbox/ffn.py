"""The JTL-FFN merchant API v1 (jtl-apis.md §1.3-1.8) over the in-memory ``SandboxData.ffn``.

Objects are stored in their API shape and returned as-is, so a list page is a slice of a cached,
filtered and sorted list of dicts serialised in one go: paging 100,000 stocks costs a few ms per page.
Any mutation bumps a version counter that invalidates those caches; code outside this module that
edits ``state.data.ffn`` directly must call ``mark_changed(state)``.

Business rules the merchant-side pipelines depend on are modelled, not faked: outbounds reserve stock
(and refuse to oversell unless ``?oversale=true``), inbounds announce stock, the fulfiller hooks
(``receive_inbound``, ``ship_outbound``, ``set_outbound_status``) move it, and every change shows up
in ``/outbounds/updates``. Choices the reference leaves open are marked [I] in the docstrings.
"""

from __future__ import annotations

import json
import math
import random
import string
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from jtl_automator.sandbox import odata
from jtl_automator.sandbox.data import FfnData, JsonObject
from jtl_automator.sandbox.oauth import BearerError, validate_bearer
from jtl_automator.sandbox.state import FfnRuntime, SandboxState

try:  # orjson ships with Prefect; the stdlib fallback keeps the sandbox importable without it.
    import orjson

    def dump_json(value: Any) -> bytes:
        """Serialise a response body (orjson: a 1000-item page in about a millisecond)."""
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - exercised only where orjson is missing

    def dump_json(value: Any) -> bytes:
        """Serialise a response body."""
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


OUTBOUND_STATUSES = (
    "Preparation",
    "Pending",
    "Acknowledged",
    "Pickprocess",
    "Locked",
    "PartiallyShipped",
    "Shipped",
    "PartiallyCanceled",
    "Canceled",
)
INBOUND_STATUSES = ("Preparation", "Pending", "PartiallyReceipted", "Receipted", "Closed")
SHIPPING_TYPES = ("Standard", "Expedited", "NextDay", "SecondDay", "SameDay", "ByShippingLabelProvider")
PREMIUM_TYPES = ("EbayPlus", "AmazonSellerFulfilledPrime")
ITEM_TYPES = ("Product", "Shipping", "Other", "BillOfMaterials")
CONDITIONS = ("Unknown", "Default", "Refurbished", "Used", "Damaged")
ATTRIBUTE_TYPES = ("String", "Integer", "Decimal", "Boolean", "Date")
DOCUMENT_TYPES = ("Invoice", "DeliveryNote", "ShippingLabel", "Custom")
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
_ERROR_DESCRIPTIONS = {
    "Products_ProductNotFound": "The product does not exist",
    "Products_ProductsNotFound": "One or more of the given products do not exist",
    "Inbounds_InboundNotFound": "The inbound does not exist",
    "Outbounds_OutboundNotFound": "The outbound does not exist",
    "Warehouses_WarehouseNotFound": "The warehouse does not exist",
    "ShippingMethods_ShippingMethodNotFound": "The shipping method does not exist",
    "Shared_ModelValidation": "General validation exception",
    "Shared_DuplicateKey": "The given key already exists",
    "Shared_OperationForbidden": "The operation is not allowed",
    "Shared_OutdatedObject": "The given version of this object is outdated.",
    "Outbounds_OutdatedOutbound": "The given version of this outbound is outdated",
    "Outbounds_OutboundShippingMethodAndShippingTypeSet": (
        "Either shippingType or shippingMethodId should be given, not both"
    ),
    "Outbounds_OutboundStatusChangeForbidden": "The outbound cannot be set to the status",
    "Outbounds_OutboundShippingNotificationStatusForbidden": (
        "The outbound shipping notification cannot be set to the status"
    ),
    "Outbounds_OutboundShippingNotificationNotEnoughQuantityOpen": (
        "There was not enough shippable quanity on an item of this outbound"
    ),
    "Stocks_NotEnoughStock": "Not enough stock available for this stock operation",
}


class FfnError(Exception):
    """An FFN business or validation error, rendered as JTL's envelope.

    The key is ``errorMetadata`` as in all 85 examples of the spec, not the schema's ``errorMetaData``.
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        messages: str | list[str],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__(f"{code}: {'; '.join(self.messages)}")
        self.status_code = status_code
        self.code = code
        self.metadata = dict(metadata or {})

    def body(self) -> JsonObject:
        """The JSON envelope."""
        return {
            "errorCode": {"code": self.code, "description": _ERROR_DESCRIPTIONS.get(self.code, self.code)},
            "errorMessages": [{"message": message} for message in self.messages],
            "errorMetadata": self.metadata,
        }

    def to_response(self) -> Response:
        """The HTTP response carrying the envelope."""
        return Response(dump_json(self.body()), status_code=self.status_code, media_type="application/json")


def _validation(messages: str | list[str], metadata: Mapping[str, Any] | None = None) -> FfnError:
    return FfnError(400, "Shared_ModelValidation", messages, metadata)


# --------------------------------------------------------------------------------------------- runtime
_LIST_CACHE_SIZE = 64


def runtime(state: SandboxState) -> FfnRuntime:
    """This app's FFN bookkeeping, created on first use (ids are seeded from ``config.seed``)."""
    current = state.runtime.ffn
    if current is None:
        current = state.runtime.ffn = FfnRuntime(rng=random.Random(state.config.seed))
    return current


def mark_changed(state: SandboxState) -> None:
    """Invalidate list/feed caches after ``state.data.ffn`` was edited outside this module."""
    rt = runtime(state)
    with state.data.lock:
        rt.version += 1
        rt.list_cache.clear()
        rt.unique_indexes.clear()


def _changed(rt: FfnRuntime) -> None:
    rt.version += 1
    rt.list_cache.clear()


def _now(rt: FfnRuntime) -> str:
    return rt.clock().astimezone(UTC).isoformat(timespec="milliseconds")


def _new_modification_info(now: str) -> JsonObject:
    return {"createdAt": now, "updatedAt": None, "state": "New"}


def _touch(obj: JsonObject, now: str) -> None:
    info = obj.get("modificationInfo")
    if not isinstance(info, dict):
        obj["modificationInfo"] = info = _new_modification_info(now)
    info["updatedAt"] = now
    info["state"] = "Modified"


_ALNUM = string.ascii_uppercase + string.digits


def _new_id(rt: FfnRuntime, prefix: str, length: int, taken: Mapping[str, Any]) -> str:
    while True:
        candidate = prefix + "".join(rt.rng.choice(_ALNUM) for _ in range(length))
        if candidate not in taken:
            return candidate


def _unique_index(rt: FfnRuntime, name: str, store: dict[str, JsonObject], key: str) -> dict[str, str]:
    """value-of-``key`` -> id, rebuilt only when the store was swapped or resized behind our back."""
    signature = (id(store), len(store))
    cached = rt.unique_indexes.get(name)
    if cached is not None and cached[0] == signature:
        return cached[1]
    index = {str(obj[key]): obj_id for obj_id, obj in store.items() if obj.get(key) is not None}
    rt.unique_indexes[name] = (signature, index)
    return index


def _index_add(rt: FfnRuntime, name: str, store: dict[str, JsonObject], value: str, obj_id: str) -> None:
    cached = rt.unique_indexes.get(name)
    if cached is not None:
        cached[1][value] = obj_id
        rt.unique_indexes[name] = ((id(store), len(store)), cached[1])


# --------------------------------------------------------------------------------------------- fields
_S: odata.FieldType = "string"
_N: odata.FieldType = "number"
_B: odata.FieldType = "boolean"
_D: odata.FieldType = "datetime"
_MODIFICATION_ORDER: dict[str, odata.FieldType] = {
    "modificationInfo/createdAt": _D,
    "modificationInfo/updatedAt": _D,
}

PRODUCT_FIELDS = odata.FieldTable(
    types={
        **dict.fromkeys(
            [
                "jfsku",
                "merchantId",
                "name",
                "merchantSku",
                "productGroup",
                "manufacturer",
                "condition",
                "identifier/ean",
                "identifier/isbn",
                "identifier/upc",
                "identifier/asin",
                "identifier/mpn/manufacturer",
                "identifier/mpn/partNumber",
                "specifications/unNumber",
                "specifications/hazardIdentifier",
                "specifications/taric",
                "specifications/fnsku",
                "attributes/key",
                "attributes/value",
                "bundles/ean",
                "bundles/upc",
                "relatedProducts/jfsku",
                "relatedProducts/condition",
            ],
            _S,
        ),
        **dict.fromkeys(
            [
                "specifications/isBatch",
                "specifications/isDivisible",
                "specifications/isBestBefore",
                "specifications/isSerialNumber",
                "specifications/isBillOfMaterials",
            ],
            _B,
        ),
        "pictures/number": _N,
    },
    arrays=frozenset({"attributes", "bundles", "pictures", "relatedProducts"}),
    order_only=_MODIFICATION_ORDER,
)
_STOCK_LEVELS = ["stockLevel", "stockLevelAnnounced", "stockLevelReserved", "stockLevelBlocked"]
STOCK_FIELDS = odata.FieldTable(
    types={
        **dict.fromkeys(_STOCK_LEVELS, _N),
        "stockReservedDetails/outboundId": _S,
        "stockAnnouncedDetails/inboundId": _S,
        "warehouses/warehouseId": _S,
        **{f"warehouses/{name}": _N for name in _STOCK_LEVELS},
        "warehouses/stockReservedDetails/outboundId": _S,
        "warehouses/stockAnnouncedDetails/inboundId": _S,
    },
    arrays=frozenset({"stockReservedDetails", "stockAnnouncedDetails", "warehouses"}),
    order_only={"jfsku": _S, "merchantSku": _S},
)
STOCK_IN_WAREHOUSE_FIELDS = odata.FieldTable(
    types={
        "warehouseId": _S,
        **dict.fromkeys(_STOCK_LEVELS, _N),
        "stockReservedDetails/outboundId": _S,
        "stockAnnouncedDetails/inboundId": _S,
    },
    arrays=frozenset({"stockReservedDetails", "stockAnnouncedDetails"}),
    order_only={"jfsku": _S, "merchantSku": _S},
)
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
            _S,
        ),
        "items/quantity": _N,
    },
    arrays=frozenset({"attributes", "items"}),
    order_only=_MODIFICATION_ORDER,
)
_ADDRESS_FILTER = ["lastname", "company", "city", "email"]
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
            _S,
        ),
        **{f"shippingAddress/{name}": _S for name in _ADDRESS_FILTER},
        **{f"senderAddress/{name}": _S for name in _ADDRESS_FILTER},
        "items/quantity": _N,
        **{f"statusTimestamp/{name}": _D for name in _STATUS_STAMPS},
    },
    arrays=frozenset({"items", "attributes"}),
    order_only=_MODIFICATION_ORDER,
)
WAREHOUSE_FIELDS = odata.FieldTable(
    types={
        "warehouseId": _S,
        "fulfillerId": _S,
        "name": _S,
        **{f"address/{name}": _S for name in _ADDRESS_FILTER},
    },
    order_only=_MODIFICATION_ORDER,
)
SHIPPING_METHOD_FIELDS = odata.FieldTable(
    types=dict.fromkeys(
        [
            "shippingMethodId",
            "name",
            "carrierCode",
            "carrierName",
            "shippingType",
            "fulfillerShippingMethodNumber",
        ],
        _S,
    ),
    order_only=_MODIFICATION_ORDER,
)


# --------------------------------------------------------------------------------------------- listing
@dataclass(frozen=True)
class _ListQuery:
    top: int
    skip: int
    filter: str | None
    order_by: str | None
    select: tuple[str, ...] | None


def _parse_list_query(request: Request, state: SandboxState) -> _ListQuery:
    params = {key.lower(): value for key, value in request.query_params.multi_items()}
    top = _int_param(params, "$top", state.config.ffn_default_top)
    skip = _int_param(params, "$skip", 0)
    if top < 0 or skip < 0:
        raise _validation("$top and $skip must not be negative", {"$top": top, "$skip": skip})
    if top > state.config.ffn_max_top:
        raise _validation(
            f"$top must not exceed {state.config.ffn_max_top}",
            {"$top": top, "MaxTop": state.config.ffn_max_top},
        )
    select = params.get("$select")
    return _ListQuery(
        top=top,
        skip=skip,
        filter=params.get("$filter") or None,
        order_by=params.get("$orderby") or None,
        select=tuple(name.strip() for name in select.split(",") if name.strip()) if select else None,
    )


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _validation(f"{name} must be an integer, got {raw!r}", {name: raw}) from None


def _select_names(table: odata.FieldTable, objects: list[JsonObject]) -> frozenset[str]:
    names = {name.split("/")[0] for name in (*table.types, *table.order_only)}
    if objects:
        names.update(objects[0])
    return frozenset(names)


def _matching(
    rt: FfnRuntime,
    cache_key: tuple[Any, ...],
    store: Mapping[str, JsonObject],
    source: Callable[[], list[JsonObject]],
    table: odata.FieldTable,
    query: _ListQuery,
) -> list[JsonObject]:
    """The filtered and ordered objects for a query, cached until the data changes.

    The store's identity and size are part of the key: a cheap guard for edits that forgot ``mark_changed``.
    """
    key = (*cache_key, query.filter, query.order_by, rt.version, id(store), len(store))
    cached = rt.list_cache.get(key)
    if cached is not None:
        rt.list_cache.move_to_end(key)
        return cached
    try:
        predicate = odata.parse_filter(query.filter, table) if query.filter else None
        order = odata.parse_order_by(query.order_by, table) if query.order_by else None
    except odata.ODataError as exc:
        raise _validation(
            f"Invalid query: {exc}", {"$filter": query.filter, "$orderBy": query.order_by}
        ) from None
    objects = source()
    if predicate is not None:
        objects = [obj for obj in objects if predicate(obj)]
    if order:
        objects = odata.sort_objects(objects, order)
    rt.list_cache[key] = objects
    if len(rt.list_cache) > _LIST_CACHE_SIZE:
        rt.list_cache.popitem(last=False)
    return objects


def _link(request: Request, overrides: Mapping[str, Any]) -> str:
    params = {
        k: v
        for k, v in request.query_params.multi_items()
        if k.lower() not in {k2.lower() for k2 in overrides}
    }
    params.update({k: str(v) for k, v in overrides.items()})
    base = str(request.url.replace(query="", fragment=""))
    return base + "?" + urlencode(params, quote_via=quote, safe="/")


def _paged(
    request: Request,
    state: SandboxState,
    cache_key: tuple[Any, ...],
    store: Mapping[str, JsonObject],
    source: Callable[[], list[JsonObject]],
    table: odata.FieldTable,
) -> Response:
    """The Paged*Response envelope: ``count`` = matching items, ``_page.total`` = number of pages [I]."""
    query = _parse_list_query(request, state)
    rt = runtime(state)
    with state.data.lock:
        objects = _matching(rt, cache_key, store, source, table, query)
        page = objects[query.skip : query.skip + query.top]
        if query.select is not None:
            allowed = _select_names(table, objects)
            unknown = [name for name in query.select if name not in allowed]
            if unknown:
                raise _validation(
                    f"Invalid query: unknown field {unknown[0]!r} in $select", {"$select": unknown[0]}
                )
            page = [{name: obj[name] for name in query.select if name in obj} for obj in page]
        count = len(objects)
        next_link = (
            _link(request, {"$top": query.top, "$skip": query.skip + query.top})
            if query.top and query.skip + query.top < count
            else None
        )
        previous_link = (
            _link(request, {"$top": query.top, "$skip": max(query.skip - query.top, 0)})
            if query.skip > 0
            else None
        )
        body = dump_json(
            {
                "items": page,
                "_page": {
                    "total": math.ceil(count / query.top) if query.top else 0,
                    "limit": query.top,
                    "offset": query.skip,
                },
                "_links": {"previous": previous_link, "next": next_link},
                "nextPageLink": next_link,
                "count": count,
            }
        )
    return Response(body, media_type="application/json")


def _json(value: Any, status_code: int = 200) -> Response:
    return Response(dump_json(value), status_code=status_code, media_type="application/json")


# --------------------------------------------------------------------------------------------- change feed
def _parse_feed_date(raw: str | None, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    # An unencoded '+' in the offset arrives as a space; read it the way the client meant it.
    parsed = odata.parse_timestamp(raw.strip().replace(" ", "+"))
    if parsed is None:
        raise _validation(f"{name} is not a valid date-time: {raw!r}", {name: raw})
    return parsed


def _event_time(obj: JsonObject) -> datetime | None:
    info = obj.get("modificationInfo") or {}
    stamp = info.get("updatedAt") or info.get("createdAt")
    return odata.parse_timestamp(stamp) if isinstance(stamp, str) else None


def _feed(request: Request, state: SandboxState, name: str, store: dict[str, JsonObject]) -> Response:
    """``RecentXxxList``: objects whose last change (updatedAt, else createdAt) lies in [fromDate, toDate).

    Defaults [I]: toDate = now, fromDate = toDate − 24 h. ``nextChunkUrl`` always names the next page
    (the schema makes it a non-nullable URI); ``moreDataAvailable`` says whether to follow it.
    """
    rt = runtime(state)
    params = request.query_params
    to_date = _parse_feed_date(params.get("toDate"), "toDate") or rt.clock().astimezone(UTC)
    from_date = _parse_feed_date(params.get("fromDate"), "fromDate") or to_date - timedelta(days=1)
    page = _int_param(params, "page", 1)
    if page < 1:
        raise _validation("page must be 1 or greater", {"page": page})
    size = state.config.ffn_updates_page_size
    with state.data.lock:
        signature = (rt.version, id(store), len(store))
        cached = rt.feed_cache.get(name)
        if cached is None or cached[0] != signature:
            events = sorted(
                ((when, obj_id) for obj_id, obj in store.items() if (when := _event_time(obj)) is not None),
                key=lambda event: (event[0], event[1]),
            )
            cached = (signature, [when for when, _ in events], [obj_id for _, obj_id in events])
            rt.feed_cache[name] = cached
        _, times, ids = cached
        start, end = bisect_left(times, from_date), bisect_left(times, to_date)
        window = ids[start:end]
        first = (page - 1) * size
        data = [store[obj_id] for obj_id in window[first : first + size]]
        body = dump_json(
            {
                "from": from_date.isoformat(timespec="milliseconds"),
                "to": to_date.isoformat(timespec="milliseconds"),
                "data": data,
                "moreDataAvailable": first + size < len(window),
                "nextChunkUrl": _link(
                    request,
                    {
                        "fromDate": from_date.isoformat(timespec="milliseconds"),
                        "toDate": to_date.isoformat(timespec="milliseconds"),
                        "page": page + 1,
                    },
                ),
            }
        )
    return Response(body, media_type="application/json")


# --------------------------------------------------------------------------------------------- validation
class _Checker:
    """Collects every problem of a request body so one 400 lists them all, like ASP.NET model validation."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str) -> None:
        self.errors.append(message)

    def string(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: bool = False, max_length: int = 255
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(f"The {where}{key} field is required.")
            return None
        if not isinstance(value, str):
            self.fail(f"{where}{key} must be a string.")
            return None
        if required and not value.strip():
            self.fail(f"The {where}{key} field is required.")
        if len(value) > max_length:
            self.fail(f"{where}{key} must be at most {max_length} characters long.")
        return value

    def number(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: bool = False
    ) -> float | int | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(f"The {where}{key} field is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(f"{where}{key} must be a number.")
            return None
        return value

    def enum(
        self,
        obj: Mapping[str, Any],
        key: str,
        where: str,
        allowed: tuple[str, ...],
        *,
        required: bool = False,
    ) -> str | None:
        value = self.string(obj, key, where, required=required)
        if value is not None and value not in allowed:
            self.fail(f"{where}{key} must be one of {', '.join(allowed)}; got {value!r}.")
            return None
        return value

    def raise_if_failed(self) -> None:
        if self.errors:
            raise _validation(self.errors)


def _require_object(body: bytes) -> JsonObject:
    try:
        value = json.loads(body) if body else None
    except ValueError:
        raise _validation("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise _validation("The request body must be a JSON object.")
    return value


def _check_address(check: _Checker, address: Any, where: str, *, required: bool) -> JsonObject | None:
    if address is None:
        if required:
            check.fail(f"The {where} field is required.")
        return None
    if not isinstance(address, dict):
        check.fail(f"{where} must be an object.")
        return None
    prefix = f"{where}."
    for key in (
        "salutation",
        "firstname",
        "lastname",
        "company",
        "extraLine",
        "extraAddressLine",
        "zip",
        "state",
        "email",
        "phone",
        "mobile",
        "fax",
    ):
        check.string(address, key, prefix)
    check.string(address, "street", prefix, required=True)
    check.string(address, "city", prefix, required=True)
    country = check.string(address, "country", prefix, required=True)
    if country is not None and (len(country) != 2 or not country.isalpha()):
        check.fail(f"{prefix}country must be an ISO 3166 alpha-2 code.")
    if not (address.get("company") or "").strip() and not (address.get("lastname") or "").strip():
        check.fail(f"One of {prefix}company or {prefix}lastname must be given.")
    keys = (
        "salutation",
        "firstname",
        "lastname",
        "company",
        "street",
        "extraLine",
        "extraAddressLine",
        "zip",
        "city",
        "state",
        "country",
        "email",
        "phone",
        "mobile",
        "fax",
    )
    return {key: address.get(key) for key in keys}


def _check_attributes(check: _Checker, value: Any, where: str) -> list[JsonObject]:
    if value is None:
        return []
    if not isinstance(value, list):
        check.fail(f"{where} must be a list.")
        return []
    result = []
    for index, attribute in enumerate(value):
        at = f"{where}[{index}]."
        if not isinstance(attribute, dict):
            check.fail(f"{where}[{index}] must be an object.")
            continue
        key = check.string(attribute, "key", at, required=True)
        raw = attribute.get("value")
        text = raw if isinstance(raw, str) else (None if raw is None else json.dumps(raw))
        if text is None:
            check.fail(f"The {at}value field is required.")
        kind = check.enum(attribute, "attributeType", at, ATTRIBUTE_TYPES) or "String"
        result.append({"key": key, "value": text, "attributeType": kind})
    return result


# --------------------------------------------------------------------------------------------- stock
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


def _new_stock(jfsku: str, merchant_sku: str) -> JsonObject:
    return {
        "jfsku": jfsku,
        "merchantSku": merchant_sku,
        **_blank_levels(),
        "warehouses": [],
        "fulfillerTimestamp": None,
    }


def _stock_rows(ffn: FfnData, jfsku: str, warehouse_id: str) -> tuple[JsonObject, JsonObject]:
    """The product's Stock and its per-warehouse row, created empty when missing."""
    stock = ffn.stocks.get(jfsku)
    merchant_sku = (ffn.products.get(jfsku) or {}).get("merchantSku") or ""
    if stock is None:
        stock = ffn.stocks[jfsku] = _new_stock(jfsku, merchant_sku)
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


def _add(rows: tuple[JsonObject, ...], key: str, delta: float) -> None:
    for row in rows:
        row[key] = _clean_number((row.get(key) or 0) + delta)


def _clean_number(value: float) -> float | int:
    """Keep whole quantities as ints and cut float noise, so responses read like FFN's decimals."""
    rounded = round(value, 6)
    return int(rounded) if float(rounded).is_integer() else rounded


def _change_detail(
    rows: tuple[JsonObject, ...], key: str, match: Mapping[str, str], field_: str, delta: float
) -> None:
    """Add ``delta`` to the matching detail entry in every row, dropping entries that reach zero."""
    for row in rows:
        details = row.setdefault(key, [])
        for detail in details:
            if all(detail.get(k) == v for k, v in match.items()):
                detail[field_] = _clean_number(detail[field_] + delta)
                if detail[field_] <= 0:
                    details.remove(detail)
                break
        else:
            if delta > 0:
                details.append({**match, field_: _clean_number(delta)})


def _change_level_details(rows: tuple[JsonObject, ...], delta: float) -> None:
    """Physical stock without batch/best-before goes to the plain detail; removals drain details in order."""
    for row in rows:
        details = row.setdefault("stockLevelDetails", [])
        if delta >= 0:
            for detail in details:
                if detail.get("batch") is None and detail.get("bestBefore") is None:
                    detail["stockLevel"] = _clean_number(detail["stockLevel"] + delta)
                    break
            else:
                details.append(
                    {
                        "batch": None,
                        "bestBefore": None,
                        "stockLevel": _clean_number(delta),
                        "stockLevelBlocked": 0,
                    }
                )
            continue
        remaining = -delta
        for detail in list(details):
            taken = min(remaining, detail.get("stockLevel") or 0)
            detail["stockLevel"] = _clean_number(detail["stockLevel"] - taken)
            remaining -= taken
            if detail["stockLevel"] <= 0 and not detail.get("stockLevelBlocked"):
                details.remove(detail)
            if remaining <= 0:
                break


def _free_in_warehouse(ffn: FfnData, jfsku: str, warehouse_id: str) -> float:
    """Units that can still be promised: stockLevel − stockLevelReserved in that warehouse [I]."""
    stock = ffn.stocks.get(jfsku) or {}
    for row in stock.get("warehouses") or []:
        if row.get("warehouseId") == warehouse_id:
            return float((row.get("stockLevel") or 0) - (row.get("stockLevelReserved") or 0))
    return 0.0


def _reserve(ffn: FfnData, outbound: JsonObject) -> None:
    for item in outbound["items"]:
        if item.get("itemType", "Product") == "Product" and item.get("jfsku") and item["quantityOpen"] > 0:
            rows = _stock_rows(ffn, item["jfsku"], outbound["warehouseId"])
            _add(rows, "stockLevelReserved", item["quantityOpen"])
            match = {"outboundId": outbound["outboundId"], "outboundItemId": item["outboundItemId"]}
            _change_detail(rows, "stockReservedDetails", match, "quantityReserved", item["quantityOpen"])


def _release(ffn: FfnData, outbound: JsonObject) -> None:
    """Give back what the outbound still holds (cancel, or before its items are replaced)."""
    for item in outbound["items"]:
        if item.get("itemType", "Product") != "Product" or not item.get("jfsku"):
            continue
        stock = ffn.stocks.get(item["jfsku"])
        if stock is None:
            continue
        rows = _stock_rows(ffn, item["jfsku"], outbound["warehouseId"])
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
            _add(rows, "stockLevelReserved", -held)
            _change_detail(rows, "stockReservedDetails", match, "quantityReserved", -held)


# --------------------------------------------------------------------------------------------- products
_PRODUCT_STRINGS = ("productGroup", "manufacturer", "note")
_SPEC_FLAGS = ("isBatch", "isDivisible", "isBestBefore", "isSerialNumber", "isBillOfMaterials", "isPackaging")


def _normalise_product(check: _Checker, body: Mapping[str, Any]) -> JsonObject:
    product: JsonObject = {}
    product["name"] = check.string(body, "name", "", required=True) or ""
    product["merchantSku"] = check.string(body, "merchantSku", "", required=True) or ""
    for key in _PRODUCT_STRINGS:
        product[key] = check.string(body, key, "", max_length=4096 if key == "note" else 255)
    origin = check.string(body, "originCountry", "")
    if origin is not None and len(origin) != 2:
        check.fail("originCountry must be an ISO 3166 alpha-2 code.")
    product["originCountry"] = origin
    product["weight"] = check.number(body, "weight", "")
    product["netWeight"] = check.number(body, "netWeight", "")
    identifier = body.get("identifier") or {}
    if not isinstance(identifier, dict):
        check.fail("identifier must be an object.")
        identifier = {}
    mpn = identifier.get("mpn")
    if mpn is not None and not (isinstance(mpn, dict) and "manufacturer" in mpn and "partNumber" in mpn):
        check.fail("identifier.mpn needs manufacturer and partNumber.")
        mpn = None
    product["identifier"] = {
        "mpn": mpn,
        **{k: check.string(identifier, k, "identifier.") for k in ("ean", "isbn", "upc", "asin")},
    }
    specs = body.get("specifications") or {}
    if not isinstance(specs, dict):
        check.fail("specifications must be an object.")
        specs = {}
    components = specs.get("billOfMaterialsComponents") or []
    product["specifications"] = {
        **{
            k: check.string(specs, k, "specifications.")
            for k in ("unNumber", "hazardIdentifier", "taric", "fnsku")
        },
        **{k: bool(specs.get(k, False)) for k in _SPEC_FLAGS},
        "billOfMaterialsComponents": [
            {"jfsku": c.get("jfsku"), "quantity": c.get("quantity")}
            for c in components
            if isinstance(c, dict)
        ],
    }
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, dict):
            check.fail("dimensions must be an object.")
            dimensions = None
        else:
            dimensions = {
                k: check.number(dimensions, k, "dimensions.", required=k != "width")
                for k in ("length", "width", "height")
            }
    product["dimensions"] = dimensions
    product["attributes"] = _check_attributes(check, body.get("attributes"), "attributes")
    price = body.get("netRetailPrice")
    if price is not None:
        if not isinstance(price, dict):
            check.fail("netRetailPrice must be an object.")
            price = None
        else:
            price = {
                "amount": check.number(price, "amount", "netRetailPrice.", required=True),
                "currency": check.string(price, "currency", "netRetailPrice.", required=True),
            }
    product["netRetailPrice"] = price
    product["bundles"] = [
        {
            "name": b.get("name") or "",
            "quantity": b.get("quantity") or 0,
            "ean": b.get("ean"),
            "upc": b.get("upc"),
        }
        for b in body.get("bundles") or []
        if isinstance(b, dict)
    ]
    product["relatedProducts"] = [r for r in body.get("relatedProducts") or [] if isinstance(r, dict)]
    product["condition"] = check.enum(body, "condition", "", CONDITIONS) or "Default"
    return product


def create_product(state: SandboxState, body: Mapping[str, Any]) -> JsonObject:
    """POST /products: generated jfsku (merchantId + 7 chars) unless given; merchantSku unique [I]."""
    ffn, rt = state.data.ffn, runtime(state)
    check = _Checker()
    fields = _normalise_product(check, body)
    jfsku = check.string(body, "jfsku", "")
    if jfsku is not None and len(jfsku) != 11:
        check.fail("jfsku must be 11 characters long.")
    check.raise_if_failed()
    with state.data.lock:
        skus = _unique_index(rt, "merchantSku", ffn.products, "merchantSku")
        if fields["merchantSku"] in skus or (jfsku is not None and jfsku in ffn.products):
            raise FfnError(
                400,
                "Shared_DuplicateKey",
                "The given key already exists",
                {"MerchantSku": fields["merchantSku"], "Jfsku": jfsku},
            )
        jfsku = jfsku or _new_id(rt, ffn.merchant_id, 11 - len(ffn.merchant_id), ffn.products)
        product = {
            "jfsku": jfsku,
            "merchantId": ffn.merchant_id,
            **fields,
            "pictures": [],
            "modificationInfo": _new_modification_info(_now(rt)),
        }
        ffn.products[jfsku] = product
        _index_add(rt, "merchantSku", ffn.products, fields["merchantSku"], jfsku)
        if jfsku not in ffn.stocks:
            ffn.stocks[jfsku] = _new_stock(jfsku, fields["merchantSku"])
        _changed(rt)
        return product


def _merge(old: JsonObject, patch: Mapping[str, Any], server_fields: frozenset[str]) -> JsonObject:
    """PATCH semantics: given keys replace, nested objects merge one level deep."""
    merged = dict(old)
    for key, value in patch.items():
        if key in server_fields:
            continue
        if isinstance(value, dict) and isinstance(old.get(key), dict):
            merged[key] = {**old[key], **value}
        else:
            merged[key] = value
    return merged


def patch_product(state: SandboxState, jfsku: str, body: Mapping[str, Any]) -> JsonObject:
    """PATCH /products/{jfsku}: merge, re-validate, keep merchantSku unique (the route answers 204)."""
    ffn, rt = state.data.ffn, runtime(state)
    with state.data.lock:
        old = _get(ffn.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
        merged = _merge(old, body, frozenset({"jfsku", "merchantId", "modificationInfo", "pictures"}))
        check = _Checker()
        fields = _normalise_product(check, merged)
        check.raise_if_failed()
        skus = _unique_index(rt, "merchantSku", ffn.products, "merchantSku")
        owner = skus.get(fields["merchantSku"])
        if owner is not None and owner != jfsku:
            raise FfnError(
                400,
                "Shared_DuplicateKey",
                "The given key already exists",
                {"MerchantSku": fields["merchantSku"]},
            )
        old.update(fields)
        _touch(old, _now(rt))
        rt.unique_indexes.pop("merchantSku", None)
        _changed(rt)
        return old


def _get(store: Mapping[str, JsonObject], key: str, code: str, label: str, meta: str) -> JsonObject:
    obj = store.get(key)
    if obj is None:
        raise FfnError(404, code, f"{label} '{key}' not found", {meta: key})
    return obj


# --------------------------------------------------------------------------------------------- inbounds
def _check_items_known(ffn: FfnData, jfskus: list[str]) -> None:
    missing = sorted({jfsku for jfsku in jfskus if jfsku not in ffn.products})
    if missing:
        raise FfnError(
            400,
            "Products_ProductsNotFound",
            f"Products '{', '.join(missing)}' not found",
            {"Jfskus": ", ".join(missing)},
        )


def _check_warehouse(ffn: FfnData, warehouse_id: str) -> None:
    if warehouse_id not in ffn.warehouses:
        raise FfnError(
            400,
            "Warehouses_WarehouseNotFound",
            f"Warehouse '{warehouse_id}' not found",
            {"WarehouseId": warehouse_id},
        )


def create_inbound(state: SandboxState, body: Mapping[str, Any]) -> JsonObject:
    """POST /inbounds: status Preparation or Pending from the body, default Pending [I]; announces stock."""
    ffn, rt = state.data.ffn, runtime(state)
    check = _Checker()
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
    attributes = _check_attributes(check, body.get("attributes"), "attributes")
    check.raise_if_failed()
    assert number is not None and warehouse_id is not None
    with state.data.lock:
        _check_warehouse(ffn, warehouse_id)
        _check_items_known(ffn, [item["jfsku"] for item in items])
        numbers = _unique_index(rt, "merchantInboundNumber", ffn.inbounds, "merchantInboundNumber")
        if number in numbers or (given_id is not None and given_id in ffn.inbounds):
            raise FfnError(
                400, "Shared_DuplicateKey", "The given key already exists", {"MerchantInboundNumber": number}
            )
        inbound_id = given_id or _new_id(rt, ffn.merchant_id + "03", 6, ffn.inbounds)
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
            "modificationInfo": _new_modification_info(_now(rt)),
        }
        ffn.inbounds[inbound_id] = inbound
        _index_add(rt, "merchantInboundNumber", ffn.inbounds, number, inbound_id)
        for item in items:
            rows = _stock_rows(ffn, item["jfsku"], warehouse_id)
            _add(rows, "stockLevelAnnounced", item["quantity"])
            match = {"inboundId": inbound_id, "inboundItemId": item["inboundItemId"]}
            _change_detail(rows, "stockAnnouncedDetails", match, "quantityAnnounced", item["quantity"])
        _changed(rt)
        return inbound


def receive_inbound(state: SandboxState, inbound_id: str, quantities: Mapping[str, float]) -> JsonObject:
    """Fulfiller hook (incoming goods): announced → available stock, quantityOpen down, status follows.

    Quantities are per jfsku and fill the inbound's items in order (zeros are skipped); receiving more
    than announced is allowed (the surplus only raises stock), as a warehouse books what arrived.
    """
    ffn, rt = state.data.ffn, runtime(state)
    with state.data.lock:
        inbound = _get(ffn.inbounds, inbound_id, "Inbounds_InboundNotFound", "Inbound", "InboundId")
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
            raise _validation(f"Received quantity for '{bad[0]}' must not be negative", {"Jfsku": bad[0]})
        warehouse_id = inbound["warehouseId"]
        for jfsku, quantity in quantities.items():
            if not quantity:
                continue
            rows = _stock_rows(ffn, jfsku, warehouse_id)
            remaining = float(quantity)
            for item in inbound["items"]:
                if item["jfsku"] != jfsku or item["quantityOpen"] <= 0 or remaining <= 0:
                    continue
                booked = min(remaining, item["quantityOpen"])
                item["quantityOpen"] = _clean_number(item["quantityOpen"] - booked)
                remaining -= booked
                _add(rows, "stockLevelAnnounced", -booked)
                match = {"inboundId": inbound_id, "inboundItemId": item["inboundItemId"]}
                _change_detail(rows, "stockAnnouncedDetails", match, "quantityAnnounced", -booked)
            _add(rows, "stockLevel", quantity)
            _change_level_details(rows, quantity)
            for row in rows:
                row["fulfillerTimestamp"] = _now(rt)
        open_left = any(item["quantityOpen"] > 0 for item in inbound["items"])
        inbound["status"] = "PartiallyReceipted" if open_left else "Receipted"
        _touch(inbound, _now(rt))
        _changed(rt)
        return inbound


# --------------------------------------------------------------------------------------------- outbounds
_OUTBOUND_SERVER_FIELDS = frozenset(
    {"outboundId", "merchantId", "modificationInfo", "statusTimestamp", "relatedReturns", "status"}
)


def _normalise_outbound(
    check: _Checker, body: Mapping[str, Any], ffn: FfnData, *, keep_open: bool
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
    out["shippingAddress"] = _check_address(
        check, body.get("shippingAddress"), "shippingAddress", required=True
    )
    out["senderAddress"] = _check_address(check, body.get("senderAddress"), "senderAddress", required=False)
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
    out["attributes"] = _check_attributes(check, body.get("attributes"), "attributes")
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
        raise _validation("Either shippingType or shippingMethodId must be given.")
    _check_warehouse(ffn, out["warehouseId"])
    if has_method and out["shippingMethodId"] not in ffn.shipping_methods:
        raise FfnError(
            400,
            "ShippingMethods_ShippingMethodNotFound",
            f"Shipping method '{out['shippingMethodId']}' not found",
            {"ShippingMethodId": out["shippingMethodId"]},
        )
    _check_items_known(ffn, [item["jfsku"] for item in out["items"] if item.get("jfsku")])


def _check_stock_available(ffn: FfnData, outbound: JsonObject) -> None:
    needed: dict[str, float] = {}
    for item in outbound["items"]:
        if item["itemType"] == "Product" and item.get("jfsku"):
            needed[item["jfsku"]] = needed.get(item["jfsku"], 0) + item["quantityOpen"]
    for jfsku, quantity in needed.items():
        free = _free_in_warehouse(ffn, jfsku, outbound["warehouseId"])
        if quantity > free:
            raise FfnError(
                400,
                "Stocks_NotEnoughStock",
                f"Not enough stock available: Product '{jfsku}', Warehouse '{outbound['warehouseId']}', "
                f"requested {_clean_number(quantity)}, available {_clean_number(max(free, 0))}",
                {"Jfsku": jfsku, "WarehouseId": outbound["warehouseId"]},
            )


def _blank_status_timestamps() -> JsonObject:
    return dict.fromkeys(_STATUS_STAMPS)


def create_outbound(state: SandboxState, body: Mapping[str, Any], *, oversale: bool = False) -> JsonObject:
    """POST /outbounds: validates like FFN and reserves stock.

    A repeated merchantOutboundNumber is refused with Shared_DuplicateKey [I], and without ``oversale``
    an outbound that exceeds free stock is refused with Stocks_NotEnoughStock [I].
    """
    ffn, rt = state.data.ffn, runtime(state)
    check = _Checker()
    status = check.enum(body, "status", "", ("Preparation", "Pending")) or "Pending"
    given_id = check.string(body, "outboundId", "")
    with state.data.lock:
        out = _normalise_outbound(check, body, ffn, keep_open=False)
        check.raise_if_failed()
        _check_outbound_references(ffn, out)
        numbers = _unique_index(rt, "merchantOutboundNumber", ffn.outbounds, "merchantOutboundNumber")
        number = out["merchantOutboundNumber"]
        if number in numbers or (given_id is not None and given_id in ffn.outbounds):
            raise FfnError(
                400,
                "Shared_DuplicateKey",
                "The given key already exists",
                {"MerchantOutboundNumber": number, "OutboundId": numbers.get(number)},
            )
        if not oversale:
            _check_stock_available(ffn, out)
        now = _now(rt)
        outbound_id = given_id or _new_id(rt, ffn.merchant_id + "02", 6, ffn.outbounds)
        stamps = _blank_status_timestamps()
        stamps[status.lower()] = now
        outbound = {
            "outboundId": outbound_id,
            "merchantId": ffn.merchant_id,
            "status": status,
            **out,
            "relatedReturns": [],
            "statusTimestamp": stamps,
            "modificationInfo": _new_modification_info(now),
        }
        ffn.outbounds[outbound_id] = outbound
        _index_add(rt, "merchantOutboundNumber", ffn.outbounds, number, outbound_id)
        _reserve(ffn, outbound)
        _changed(rt)
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
        old = _get(ffn.outbounds, outbound_id, "Outbounds_OutboundNotFound", "Outbound", "OutboundId")
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
        merged = _merge(old, body, _OUTBOUND_SERVER_FIELDS)
        if "shippingMethodId" in body and body["shippingMethodId"] and "shippingType" not in body:
            merged.pop("shippingType", None)
        if "shippingType" in body and body["shippingType"] and "shippingMethodId" not in body:
            merged["shippingMethodId"] = None
        check = _Checker()
        out = _normalise_outbound(check, merged, ffn, keep_open="items" not in body)
        check.raise_if_failed()
        _check_outbound_references(ffn, out)
        numbers = _unique_index(rt, "merchantOutboundNumber", ffn.outbounds, "merchantOutboundNumber")
        owner = numbers.get(out["merchantOutboundNumber"])
        if owner is not None and owner != outbound_id:
            raise FfnError(
                400,
                "Shared_DuplicateKey",
                "The given key already exists",
                {"MerchantOutboundNumber": out["merchantOutboundNumber"]},
            )
        _release(ffn, old)
        candidate = {**old, **out}
        if not (oversale or new_status == "Canceled"):
            try:
                _check_stock_available(ffn, candidate)
            except FfnError:
                _reserve(ffn, old)
                raise
        old.pop("shippingType", None)
        old.update(out)
        now = _now(rt)
        if new_status != current:
            _set_status(old, new_status, now)
        if new_status != "Canceled":
            _reserve(ffn, old)
        _touch(old, now)
        rt.unique_indexes.pop("merchantOutboundNumber", None)
        _changed(rt)
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
        raise _validation(f"Unknown outbound status '{status}'", {"Status": status})
    with state.data.lock:
        outbound = _get(ffn.outbounds, outbound_id, "Outbounds_OutboundNotFound", "Outbound", "OutboundId")
        current = outbound["status"]
        if status not in _FULFILLER_TRANSITIONS.get(current, frozenset()):
            raise FfnError(
                400,
                "Outbounds_OutboundStatusChangeForbidden",
                f"Outbound transition from status '{current}' to '{status}' is not allowed",
                {"From": current, "To": status},
            )
        now = _now(rt)
        if status in ("Canceled", "PartiallyCanceled"):
            _release(ffn, outbound)
            outbound["cancelReasonCode"] = cancel_reason_code
            outbound["cancelReason"] = cancel_reason
        _set_status(outbound, status, now)
        _touch(outbound, now)
        _changed(rt)
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
        outbound = _get(ffn.outbounds, outbound_id, "Outbounds_OutboundNotFound", "Outbound", "OutboundId")
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
            _, row = _stock_rows(ffn, jfsku, warehouse_id)
            if (row.get("stockLevel") or 0) < quantity:
                raise FfnError(
                    400,
                    "Stocks_NotEnoughStock",
                    f"Not enough stock available: Product '{jfsku}', Warehouse '{warehouse_id}'",
                    {"Jfsku": jfsku, "WarehouseId": warehouse_id},
                )
        now = _now(rt)
        notification_items: list[JsonObject] = []
        for number, (item, quantity) in enumerate(plan, start=1):
            item["quantityOpen"] = _clean_number(item["quantityOpen"] - quantity)
            if item["itemType"] == "Product" and item.get("jfsku"):
                rows = _stock_rows(ffn, item["jfsku"], warehouse_id)
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
                    _add(rows, "stockLevelReserved", -released)
                    _change_detail(rows, "stockReservedDetails", match, "quantityReserved", -released)
                _add(rows, "stockLevel", -quantity)
                _change_level_details(rows, -quantity)
                for row in rows:
                    row["fulfillerTimestamp"] = now
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
        _touch(outbound, now)
        notifications = ffn.shipping_notifications.setdefault(outbound_id, [])
        notification = {
            "outboundShippingNotificationId": _new_id(rt, ffn.fulfiller_id + "06", 10, {}),
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
            "modificationInfo": _new_modification_info(now),
        }
        notifications.append(notification)
        _changed(rt)
        return notification


# --------------------------------------------------------------------------------------------- router
class _FfnRoute(APIRoute):
    """Turns FfnError/BearerError into FFN's responses; a router cannot register exception handlers."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except FfnError as exc:
                return exc.to_response()
            except BearerError as exc:
                if exc.status_code == 403 and exc.missing_scope:
                    return FfnError(
                        403,
                        "Shared_OperationForbidden",
                        f"The access token lacks the scope '{exc.missing_scope}'",
                        {"Scope": exc.missing_scope},
                    ).to_response()
                return Response(status_code=exc.status_code)
            return response

        return guarded


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _flag(request: Request, name: str) -> bool:
    return (request.query_params.get(name) or "").lower() in ("true", "1")


def build_router(state: SandboxState) -> APIRouter:
    """``/api/v1/merchant/...`` and ``/api/v1/users/current``, all behind the FFN bearer token."""

    async def authenticate(request: Request) -> None:
        validate_bearer(
            state, request.headers.get("authorization"), write=request.method not in ("GET", "HEAD")
        )

    router = APIRouter(route_class=_FfnRoute, dependencies=[Depends(authenticate)])
    base = "/api/v1/merchant"

    def values(store_name: str) -> Callable[[], list[JsonObject]]:
        return lambda: list(getattr(state.data.ffn, store_name).values())

    @router.get("/api/v1/users/current")
    def current_user() -> Response:
        return _json({"userId": state.data.ffn.merchant_id})

    # products ------------------------------------------------------------------------------
    @router.get(f"{base}/products")
    def list_products(request: Request) -> Response:
        return _paged(
            request, state, ("products",), state.data.ffn.products, values("products"), PRODUCT_FIELDS
        )

    @router.post(f"{base}/products")
    def post_product(body: bytes = Depends(_raw_body)) -> Response:
        return _json(create_product(state, _require_object(body)), 201)

    @router.get(f"{base}/products/updates")
    def product_updates(request: Request) -> Response:
        return _feed(request, state, "products", state.data.ffn.products)

    @router.get(f"{base}/products/{{jfsku}}")
    def get_product(jfsku: str) -> Response:
        with state.data.lock:
            return _json(_get(state.data.ffn.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku"))

    @router.patch(f"{base}/products/{{jfsku}}")
    def patch_product_route(jfsku: str, body: bytes = Depends(_raw_body)) -> Response:
        patch_product(state, jfsku, _require_object(body))
        return Response(status_code=204)

    # stocks --------------------------------------------------------------------------------
    @router.get(f"{base}/stocks")
    def list_stocks(request: Request) -> Response:
        return _paged(request, state, ("stocks",), state.data.ffn.stocks, values("stocks"), STOCK_FIELDS)

    @router.get(f"{base}/stocks/warehouse/{{warehouse_id}}")
    def list_stocks_in_warehouse(request: Request, warehouse_id: str) -> Response:
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

        return _paged(
            request,
            state,
            ("stocks/warehouse", warehouse_id),
            state.data.ffn.stocks,
            rows,
            STOCK_IN_WAREHOUSE_FIELDS,
        )

    @router.get(f"{base}/stocks/{{jfsku}}")
    def get_stock(jfsku: str) -> Response:
        with state.data.lock:
            data = state.data.ffn
            stock = data.stocks.get(jfsku)
            if stock is None:
                product = _get(data.products, jfsku, "Products_ProductNotFound", "Product", "Jfsku")
                stock = _new_stock(jfsku, product.get("merchantSku") or "")
            return _json(stock)

    # inbounds ------------------------------------------------------------------------------
    @router.get(f"{base}/inbounds")
    def list_inbounds(request: Request) -> Response:
        return _paged(
            request, state, ("inbounds",), state.data.ffn.inbounds, values("inbounds"), INBOUND_FIELDS
        )

    @router.post(f"{base}/inbounds")
    def post_inbound(body: bytes = Depends(_raw_body)) -> Response:
        return _json(create_inbound(state, _require_object(body)), 201)

    @router.get(f"{base}/inbounds/updates")
    def inbound_updates(request: Request) -> Response:
        return _feed(request, state, "inbounds", state.data.ffn.inbounds)

    @router.get(f"{base}/inbounds/{{inbound_id}}")
    def get_inbound(inbound_id: str) -> Response:
        with state.data.lock:
            return _json(
                _get(state.data.ffn.inbounds, inbound_id, "Inbounds_InboundNotFound", "Inbound", "InboundId")
            )

    # outbounds -----------------------------------------------------------------------------
    @router.get(f"{base}/outbounds")
    def list_outbounds(request: Request) -> Response:
        return _paged(
            request, state, ("outbounds",), state.data.ffn.outbounds, values("outbounds"), OUTBOUND_FIELDS
        )

    @router.post(f"{base}/outbounds")
    def post_outbound(request: Request, body: bytes = Depends(_raw_body)) -> Response:
        outbound = create_outbound(state, _require_object(body), oversale=_flag(request, "oversale"))
        return _json(outbound, 201)

    @router.get(f"{base}/outbounds/updates")
    def outbound_updates(request: Request) -> Response:
        return _feed(request, state, "outbounds", state.data.ffn.outbounds)

    @router.get(f"{base}/outbounds/{{outbound_id}}")
    def get_outbound(outbound_id: str) -> Response:
        with state.data.lock:
            return _json(
                _get(
                    state.data.ffn.outbounds,
                    outbound_id,
                    "Outbounds_OutboundNotFound",
                    "Outbound",
                    "OutboundId",
                )
            )

    @router.patch(f"{base}/outbounds/{{outbound_id}}")
    def patch_outbound_route(
        request: Request, outbound_id: str, body: bytes = Depends(_raw_body)
    ) -> Response:
        patch_outbound(
            state,
            outbound_id,
            _require_object(body),
            oversale=_flag(request, "oversale"),
            object_version=request.query_params.get("objectVersion"),
        )
        return Response(status_code=204)

    @router.get(f"{base}/outbounds/{{outbound_id}}/shipping-notifications")
    def outbound_notifications(outbound_id: str) -> Response:
        """A bare array, as two merchant clients and their fixtures show (jtl-apis.md §1.7 #13)."""
        with state.data.lock:
            data = state.data.ffn
            _get(data.outbounds, outbound_id, "Outbounds_OutboundNotFound", "Outbound", "OutboundId")
            return _json(data.shipping_notifications.get(outbound_id, []))

    # warehouses and shipping methods -------------------------------------------------------
    @router.get(f"{base}/warehouses")
    def list_warehouses(request: Request) -> Response:
        return _paged(
            request, state, ("warehouses",), state.data.ffn.warehouses, values("warehouses"), WAREHOUSE_FIELDS
        )

    @router.get(f"{base}/warehouses/{{warehouse_id}}")
    def get_warehouse(warehouse_id: str) -> Response:
        with state.data.lock:
            return _json(
                _get(
                    state.data.ffn.warehouses,
                    warehouse_id,
                    "Warehouses_WarehouseNotFound",
                    "Warehouse",
                    "WarehouseId",
                )
            )

    @router.get(f"{base}/shippingmethods")
    def list_shipping_methods(request: Request) -> Response:
        return _paged(
            request,
            state,
            ("shippingmethods",),
            state.data.ffn.shipping_methods,
            values("shipping_methods"),
            SHIPPING_METHOD_FIELDS,
        )

    @router.get(f"{base}/shippingmethods/{{shipping_method_id}}")
    def get_shipping_method(shipping_method_id: str) -> Response:
        with state.data.lock:
            return _json(
                _get(
                    state.data.ffn.shipping_methods,
                    shipping_method_id,
                    "ShippingMethods_ShippingMethodNotFound",
                    "Shipping method",
                    "ShippingMethodId",
                )
            )

    return router
