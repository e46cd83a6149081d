"""What every FFN route shares: JSON bodies, ``FfnError``, the per-app runtime, ids and the route guard.

Any mutation bumps the runtime's version counter, which invalidates the list and feed caches; code outside
this package that edits ``state.data.ffn`` directly must call :func:`mark_changed`.
"""

from __future__ import annotations

import json
import math
import random
import string
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from jtl_automator.sandbox.data import JsonObject
from jtl_automator.sandbox.oauth import BearerError, validate_bearer
from jtl_automator.sandbox.ratelimit import take_slot
from jtl_automator.sandbox.state import FfnRuntime, RouteHandler, SandboxState, StateDep, bind

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
    # [I] No route-level codes appear in the reference; these two follow its Prefix_Name scheme.
    "Shared_RouteNotFound": "The requested resource does not exist",
    "Shared_MethodNotAllowed": "The requested resource does not support this method",
    "Shared_TooManyRequests": "Too many requests",
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


def validation_error(messages: str | list[str], metadata: Mapping[str, Any] | None = None) -> FfnError:
    """The 400 ``Shared_ModelValidation`` listing every message."""
    return FfnError(400, "Shared_ModelValidation", messages, metadata)


#: Every FFN path (merchant, fulfiller, users) starts here; no other sandbox API does.
API_ROOT = "/api/"


def unrouted(method: str, path: str, status_code: int, allow: str | None = None) -> Response:
    """What FFN answers where no route matches: 404, or 405 (with ``Allow``) for a known path.

    In FFN's envelope rather than the web framework's ``{"detail": ...}``, so clients parse it as any
    other FFN error; no token is needed to learn that a route does not exist.
    """
    meta = {"Method": method, "Path": path}
    if status_code == 405:
        error = FfnError(405, "Shared_MethodNotAllowed", f"{method} is not allowed on '{path}'", meta)
    else:
        error = FfnError(404, "Shared_RouteNotFound", f"No resource at '{path}'", meta)
    response = error.to_response()
    if allow:
        response.headers["Allow"] = allow
    return response


# --------------------------------------------------------------------------------------------- runtime
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


def changed(rt: FfnRuntime) -> None:
    """Invalidate the list caches after a change made through this package."""
    rt.version += 1
    rt.list_cache.clear()


def timestamp(rt: FfnRuntime) -> str:
    """Now, the way FFN writes it: ISO-8601 in UTC with milliseconds (from the replaceable clock)."""
    return rt.clock().astimezone(UTC).isoformat(timespec="milliseconds")


def new_modification_info(now: str) -> JsonObject:
    """The ``modificationInfo`` of a new object."""
    return {"createdAt": now, "updatedAt": None, "state": "New"}


def touch(obj: JsonObject, now: str) -> None:
    """Mark an object modified now (what the ``/updates`` feeds and ``objectVersion`` read)."""
    info = obj.get("modificationInfo")
    if not isinstance(info, dict):
        obj["modificationInfo"] = info = new_modification_info(now)
    info["updatedAt"] = now
    info["state"] = "Modified"


_ALNUM = string.ascii_uppercase + string.digits


def new_id(rt: FfnRuntime, prefix: str, length: int, taken: Mapping[str, Any]) -> str:
    """A fresh id from the seeded rng: ``prefix`` plus ``length`` upper-case letters and digits."""
    while True:
        candidate = prefix + "".join(rt.rng.choice(_ALNUM) for _ in range(length))
        if candidate not in taken:
            return candidate


def unique_index(rt: FfnRuntime, name: str, store: dict[str, JsonObject], key: str) -> dict[str, str]:
    """value-of-``key`` -> id, rebuilt only when the store was swapped or resized behind our back."""
    signature = (id(store), len(store))
    cached = rt.unique_indexes.get(name)
    if cached is not None and cached[0] == signature:
        return cached[1]
    index = {str(obj[key]): obj_id for obj_id, obj in store.items() if obj.get(key) is not None}
    rt.unique_indexes[name] = (signature, index)
    return index


def index_add(rt: FfnRuntime, name: str, store: dict[str, JsonObject], value: str, obj_id: str) -> None:
    """Record a new object in a cached unique index instead of rebuilding it."""
    cached = rt.unique_indexes.get(name)
    if cached is not None:
        cached[1][value] = obj_id
        rt.unique_indexes[name] = ((id(store), len(store)), cached[1])


# --------------------------------------------------------------------------------------------- requests
def get_or_404(store: Mapping[str, JsonObject], key: str, code: str, label: str, meta: str) -> JsonObject:
    """The stored object, or FFN's 404 with the API's error code and metadata key."""
    obj = store.get(key)
    if obj is None:
        raise FfnError(404, code, f"{label} '{key}' not found", {meta: key})
    return obj


def merge_patch(old: JsonObject, patch: Mapping[str, Any], server_fields: frozenset[str]) -> JsonObject:
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


def json_response(value: Any, status_code: int = 200) -> Response:
    """A JSON response serialised with :func:`dump_json`."""
    return Response(dump_json(value), status_code=status_code, media_type="application/json")


def require_object(body: bytes) -> JsonObject:
    """The body as a JSON object, or the 400 FFN answers for anything else."""
    try:
        value = json.loads(body) if body else None
    except ValueError:
        raise validation_error("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise validation_error("The request body must be a JSON object.")
    return value


async def raw_body(request: Request) -> bytes:
    """The body as sent: the handlers parse and validate it themselves, listing every problem at once."""
    return await request.body()


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter (``true`` or ``1``, any case)."""
    return (request.query_params.get(name) or "").lower() in ("true", "1")


# --------------------------------------------------------------------------------------------- guard
async def authenticate(request: Request, state: StateDep) -> None:
    """Every FFN route needs a valid bearer token; anything but GET/HEAD needs the write scope."""
    validate_bearer(state, request.headers.get("authorization"), write=request.method not in ("GET", "HEAD"))


def _rate_limited(state: SandboxState, operation: str) -> tuple[Response | None, dict[str, str]]:
    """The 429 when ``operation``'s window is used up (else ``None``), and the X-RateLimit-* headers.

    FFN documents no limit (jtl-apis.md §1.6); the code and body of its 429 are a guess [I], the headers
    are the JTL platform's.
    """
    config = state.config
    limit, interval = config.ffn_rate_limit or 0, config.scaled(config.ffn_rate_interval_seconds)
    rt = runtime(state)
    with state.data.lock:
        now = rt.clock().timestamp()
        allowed, headers = take_slot(rt.rate_windows, operation, now, limit, interval)
        window_start = rt.rate_windows[operation][0]
        rt.rate_counts[operation] += 1
    if allowed:
        return None, headers
    response = FfnError(
        429,
        "Shared_TooManyRequests",
        f"Rate limit of {limit} requests per {headers['X-RateLimit-Interval-Length-Seconds']} s exceeded",
    ).to_response()
    if config.ffn_rate_limit_retry_after:
        response.headers["Retry-After"] = str(max(1, math.ceil(window_start + interval - now)))
    return response, headers


def route_class(state: SandboxState) -> type[APIRoute]:
    """The route class of the FFN router: binds ``state`` and renders errors in FFN's envelope.

    With ``ffn_rate_limit`` set, every answer carries the X-RateLimit-* headers of its endpoint's window,
    counted before authentication as a gateway would.
    """

    class FfnRoute(APIRoute):
        """Turns FfnError/BearerError into FFN's responses; a router cannot register exception handlers."""

        def get_route_handler(self) -> RouteHandler:
            handler = super().get_route_handler()
            operation = f"{next(iter(self.methods or {'GET'}))} {self.path_format}"

            async def answer(request: Request) -> Response:
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

            async def guarded(request: Request) -> Response:
                bind(request, state)
                if state.config.ffn_rate_limit is None:
                    return await answer(request)
                refused, headers = _rate_limited(state, operation)
                response = refused if refused is not None else await answer(request)
                response.headers.update(headers)
                return response

            return guarded

    return FfnRoute
