"""JTL-Wawi REST API emulator, on-premise flavour (``/wawi/api/eazybusiness/v1/...``).

Faithful to the Wawi 1.0 OpenAPI (``specs/wawi_schemas.json``) and to what real clients report:
PascalCase objects (with the spec's own spellings such as ``Shipmentaddress`` and ``ItemWeigth``),
``Authorization: Wawi <key>`` plus the required ``X-AppID``/``X-AppVersion`` headers, 401/402 with empty
bodies, ``ErrorResponse`` for 400/404, 201 from PATCH, the ``PagedListOf*`` envelope whose
``NextPageNumber`` falls back to ``TotalPages`` and ``PreviousPageNumber`` to 1, and the app registration
handshake that hands out the API key exactly once.

Objects are kept exactly as served (see ``data.WawiData``); created objects are completed from the
spec's schemas so every required property is present. Date-time properties without a value are left
out rather than invented: the real API omits null keys too.

Incremental order import: the v1 ``SalesOrder`` has no modification timestamp, so ``GET /salesOrders``
filters only on ``createdSince``/``createdUntil`` (``SalesOrderDate``), as the real API does. Clients
that need changes to known orders must re-read them by id.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated, Any, overload

from fastapi import APIRouter, Body, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from jtl_automator.sandbox.data import JsonObject, iso_now

PREFIX = "/wawi/api/eazybusiness"
_REGISTRATIONS = "wawi_registrations"

JSON_MEDIA = "application/json; charset=utf-8"
JsonBody = Annotated[Any, Body()]


# --------------------------------------------------------------------------------------------------
# Responses and errors


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(obj: Any, status_code: int = 200) -> Response:
    """Serialise straight to bytes: pydantic response models would cost more than the lookup itself."""
    return Response(content=_dumps(obj), status_code=status_code, media_type=JSON_MEDIA)


class WawiError(Exception):
    """An error the handler turns into the v1 ``ErrorResponse`` (or the v2 camelCase variant)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        validation_errors: dict[str, str] | None = None,
        *,
        empty_body: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.validation_errors = validation_errors or {}
        self.empty_body = empty_body

    def response(self, *, v2: bool = False) -> Response:
        """Render the error the way the v1 (PascalCase) or v2 (camelCase) API writes it."""
        if self.empty_body:
            return Response(status_code=self.status_code)
        if v2:
            body: JsonObject = {
                "errorCode": self.code,
                "validationErrors": self.validation_errors,
                "errors": {},
                "errorMessage": self.message,
                "stacktrace": None,
            }
        else:
            body = {
                "ErrorCode": self.code,
                "ErrorMessage": self.message,
                "ValidationErrors": self.validation_errors,
                "Stacktrace": None,
            }
        return json_response(body, self.status_code)


def _not_found(entity: str, key: object) -> WawiError:
    return WawiError(404, "NotFound", f"{entity} with id {key} was not found.")


def _validation(errors: dict[str, str]) -> WawiError:
    return WawiError(400, "ValidationError", "One or more validation errors occurred.", errors)


# --------------------------------------------------------------------------------------------------
# Schemas: completion and typed merge of request bodies


@cache
def schemas() -> dict[str, JsonObject]:
    """The spec subset shipped with the package (components/schemas of the Wawi 1.0 OpenAPI)."""
    text = resources.files("jtl_automator.sandbox").joinpath("specs/wawi_schemas.json").read_text("utf-8")
    loaded: dict[str, JsonObject] = json.loads(text)["components"]["schemas"]
    return loaded


def _ref_name(prop: JsonObject) -> str | None:
    ref = prop.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _target_name(schema_name: str) -> str:
    """CreateAddress/UpdateAddress -> Address: request schemas mirror the response schemas' names."""
    for prefix in ("Create", "Update"):
        if schema_name.startswith(prefix) and schema_name[len(prefix) :] in schemas():
            return schema_name[len(prefix) :]
    return schema_name


def complete(schema_name: str, obj: JsonObject | None = None) -> JsonObject:
    """Fill every required property the object lacks with the type's neutral value (date-times excepted)."""
    schema = schemas()[schema_name]
    result: JsonObject = dict(obj or {})
    props: JsonObject = schema.get("properties", {})
    for key in schema.get("required", []):
        if key in result and result[key] is not None:
            continue
        prop = props.get(key, {})
        ref = _ref_name(prop)
        if ref is not None:
            result[key] = complete(ref)
            continue
        kind = prop.get("type")
        if kind == "string":
            if prop.get("format") == "date-time":
                result.pop(key, None)
                continue
            result[key] = ""
        elif kind == "integer":
            result[key] = prop["enum"][0] if "enum" in prop else 0
        elif kind == "number":
            result[key] = 0
        elif kind == "boolean":
            result[key] = False
        elif kind == "array":
            result[key] = []
        else:
            result[key] = {}
    return result


_TYPE_MESSAGES = {
    "integer": "System.Int32",
    "number": "System.Decimal",
    "boolean": "System.Boolean",
    "string": "System.String",
    "array": "System.Collections.Generic.List",
    "object": "System.Object",
}


def _type_ok(prop: JsonObject, value: Any) -> bool:
    kind = prop.get("type")
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return ok and ("enum" not in prop or value in prop["enum"])
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        if not isinstance(value, str):
            return False
        if prop.get("format") == "date-time":
            return _parse_time(value) is not None
        return True
    if kind == "array":
        return isinstance(value, list)
    return True


def merge(
    schema_name: str,
    target: JsonObject,
    patch: Any,
    *,
    path: str = "",
    check_required: bool = False,
    errors: dict[str, str] | None = None,
) -> dict[str, str]:
    """Apply a request body to a stored object, typed by the request schema; returns the errors.

    Unknown keys are ignored (as ASP.NET's binder does) and nulls leave the value unchanged.
    """
    errors = {} if errors is None else errors
    schema = schemas()[schema_name]
    if not isinstance(patch, dict):
        errors[path or "body"] = f"The JSON value could not be converted to {schema_name}."
        return errors
    props: JsonObject = schema.get("properties", {})
    if check_required:
        for key in schema.get("required", []):
            if patch.get(key) is None:
                errors[f"{path}{key}"] = f"The {key} field is required."
    for key, value in patch.items():
        prop = props.get(key)
        if prop is None or value is None:
            continue
        here = f"{path}{key}"
        ref = _ref_name(prop)
        if ref is not None:
            sub = target.get(key)
            if not isinstance(sub, dict):
                sub = complete(_target_name(ref))
            merge(ref, sub, value, path=f"{here}.", check_required=check_required, errors=errors)
            target[key] = sub
            continue
        if not _type_ok(prop, value):
            type_name = _TYPE_MESSAGES.get(prop.get("type", ""), "the type")
            errors[here] = f"The JSON value could not be converted to {type_name}."
            continue
        item_ref = _ref_name(prop.get("items", {})) if prop.get("type") == "array" else None
        if item_ref is not None:
            converted = []
            for index, element in enumerate(value):
                obj = complete(_target_name(item_ref))
                merge(item_ref, obj, element, path=f"{here}[{index}].", check_required=True, errors=errors)
                converted.append(complete(_target_name(item_ref), obj))
            target[key] = converted
        else:
            min_length = prop.get("minLength")
            if min_length and isinstance(value, str) and len(value) < min_length:
                errors[here] = f"The {key} field is required."
                continue
            minimum = prop.get("minimum")
            if minimum is not None and value < minimum:
                errors[here] = f"The field {key} must be between {minimum} and {prop.get('maximum')}."
                continue
            target[key] = value
    return errors


# --------------------------------------------------------------------------------------------------
# Query parsing and paging


@lru_cache(maxsize=1 << 18)
def _parse_time(text: str) -> float | None:
    """Epoch seconds of an ISO-8601 string (naive means UTC); cached because filters scan 100k rows."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class Query:
    """Case-insensitive query parameters (ASP.NET binds them that way) with typed getters."""

    def __init__(self, request: Request) -> None:
        self._values = {key.lower(): value for key, value in request.query_params.items()}

    def text(self, name: str) -> str | None:
        """The raw value; empty strings count as absent."""
        value = self._values.get(name.lower())
        return value if value not in (None, "") else None

    def integer(self, name: str) -> int | None:
        """An int32 parameter; junk is a 400 like ASP.NET's model binding."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise _validation({name: f"The value '{value}' is not valid."}) from None

    def boolean(self, name: str) -> bool | None:
        """``true``/``false`` in any case."""
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _validation({name: f"The value '{value}' is not valid."})

    def time(self, name: str) -> float | None:
        """An ISO-8601 date-time as epoch seconds."""
        value = self.text(name)
        if value is None:
            return None
        parsed = _parse_time(value)
        if parsed is None:
            raise _validation({name: f"The value '{value}' is not valid."})
        return parsed


def page_params(query: Query, default_size: int, max_size: int) -> tuple[int, int]:
    """``pageNumber`` (1-based) and ``pageSize``; out-of-range values are a 400, not silently clamped."""
    number = query.integer("pageNumber")
    size = query.integer("pageSize")
    number = 1 if number is None else number
    size = default_size if size is None else size
    errors = {}
    if number < 1:
        errors["pageNumber"] = "The page number must be greater than or equal to 1."
    if size < 1 or size > max_size:
        errors["pageSize"] = f"The page size must be between 1 and {max_size}."
    if errors:
        raise _validation(errors)
    return number, size


def paged_envelope(rows: Sequence[Any], number: int, size: int, *, camel: bool = False) -> JsonObject:
    """The PagedListOf* envelope; v1 quirks: no next page -> NextPageNumber = TotalPages, no previous -> 1."""
    total = len(rows)
    pages = math.ceil(total / size) if total else 0
    has_next = number < pages
    has_prev = number > 1
    items = rows[(number - 1) * size : number * size]
    if camel:
        return {
            "totalItems": total,
            "pageNumber": number,
            "pageSize": size,
            "totalPages": pages,
            "hasPreviousPage": has_prev,
            "hasNextPage": has_next,
            "nextPageNumber": number + 1 if has_next else None,
            "previousPageNumber": number - 1 if has_prev else None,
            "items": items,
        }
    return {
        "TotalItems": total,
        "PageNumber": number,
        "PageSize": size,
        "TotalPages": pages,
        "HasPreviousPage": has_prev,
        "HasNextPage": has_next,
        "NextPageNumber": number + 1 if has_next else pages,
        "PreviousPageNumber": number - 1 if has_prev else 1,
        "Items": items,
    }


class _OrderedView(Sequence[JsonObject]):
    """Objects in id order without materialising them: an unfiltered page touches only its own rows."""

    def __init__(self, objects: dict[int, JsonObject]) -> None:
        self._objects = objects
        self._keys = sorted(objects)

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> JsonObject: ...

    @overload
    def __getitem__(self, index: slice) -> list[JsonObject]: ...

    def __getitem__(self, index: int | slice) -> JsonObject | list[JsonObject]:
        if isinstance(index, slice):
            return [self._objects[key] for key in self._keys[index]]
        return self._objects[self._keys[index]]

    def __iter__(self) -> Iterator[JsonObject]:
        objects = self._objects
        return (objects[key] for key in self._keys)


def _sorted_values(objects: dict[int, JsonObject]) -> Sequence[JsonObject]:
    return _OrderedView(objects)


def _next_id(keys: Iterable[int]) -> int:
    return max(keys, default=0) + 1


# --------------------------------------------------------------------------------------------------
# Registration (public hooks for the admin API and tests)


def _registrations(state: Any) -> dict[str, JsonObject]:
    regs: dict[str, JsonObject] = state.runtime.setdefault(_REGISTRATIONS, {})
    return regs


def accept_registration(state: Any, registration_id: str) -> None:
    """What the user does in Wawi's Admin -> App-Registrierung window: accept a pending request."""
    with state.data.lock:
        registration = _registrations(state).get(registration_id)
        if registration is None:
            raise KeyError(registration_id)
        if registration["Status"] == 0:
            registration["Status"] = 2


def reject_registration(state: Any, registration_id: str) -> None:
    """The user declines the request in Wawi; polling then reports Status 1 and never a key."""
    with state.data.lock:
        registration = _registrations(state).get(registration_id)
        if registration is None:
            raise KeyError(registration_id)
        if registration["Status"] == 0:
            registration["Status"] = 1


def pending_registrations(state: Any) -> list[str]:
    """Ids of requests waiting for a decision, oldest first (for the admin hook and the demo)."""
    return [rid for rid, reg in _registrations(state).items() if reg["Status"] == 0]


# --------------------------------------------------------------------------------------------------
# Router


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _auth_failure(state: Any, request: Request) -> Response | None:
    """401 (key), then 402 (licence), then 400 (app headers): the order a real Wawi answers in."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "wawi" or key.strip() != state.config.wawi_api_key:
        return Response(status_code=401)
    if not state.config.wawi_license_ok:
        return Response(status_code=402)
    missing = {
        name: f"The {name} header is required."
        for name in ("X-AppID", "X-AppVersion")
        if not request.headers.get(name)
    }
    if missing:
        return WawiError(400, "MissingHeader", "Required request headers are missing.", missing).response()
    return None


def _error_location(err: Any) -> str:
    """ASP.NET names the offending member, or ``$`` for the body as a whole."""
    names = [str(part) for part in err.get("loc", ())[1:] if isinstance(part, str)]
    return ".".join(names) or "$"


def _route_class(state: Any, *, registration: bool = False, v2: bool = False) -> type[APIRoute]:
    class WawiRoute(APIRoute):
        """Runs the auth checks before body parsing and maps errors to Wawi's bodies, not FastAPI's."""

        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                if registration:
                    if not state.config.wawi_license_ok:
                        return Response(status_code=402)
                else:
                    denied = _auth_failure(state, request)
                    if denied is not None:
                        return denied
                try:
                    return await handler(request)
                except WawiError as exc:
                    return exc.response(v2=v2)
                except RequestValidationError as exc:
                    errors = {_error_location(err): str(err.get("msg")) for err in exc.errors()}
                    return WawiError(
                        400, "ValidationError", "One or more validation errors occurred.", errors
                    ).response(v2=v2)

            return guarded

    return WawiRoute


def build_router(state: Any) -> APIRouter:
    """All Wawi routes under ``/wawi/api/eazybusiness``; ``state`` is the app's SandboxState."""
    router = APIRouter(prefix=PREFIX)
    router.include_router(_registration_router(state))
    router.include_router(_v1_router(state), prefix="/v1")
    router.include_router(_v2_router(state), prefix="/v2")
    return router


def _registration_router(state: Any) -> APIRouter:
    router = APIRouter(route_class=_route_class(state, registration=True))
    config = state.config

    def register(request: Request, payload: JsonBody = None) -> Response:
        challenge = request.headers.get("x-challengecode")
        if not challenge:
            raise _validation({"X-ChallengeCode": "The X-ChallengeCode header is required."})
        if len(challenge) > 30:
            raise _validation(
                {"X-ChallengeCode": "The X-ChallengeCode must not be longer than 30 characters."}
            )
        errors = merge("CreateAppRegistrationRequest", {}, payload, check_required=True)
        if isinstance(payload, dict):
            for key in ("MandatoryApiScopes",):
                if isinstance(payload.get(key), list) and not payload[key]:
                    errors[key] = f"The {key} field is required."
        if errors:
            raise _validation(errors)
        with state.data.lock:
            regs = _registrations(state)
            for existing in regs.values():
                if (
                    existing["AppId"] == payload["AppId"]
                    and existing["Status"] == 2
                    and existing["Delivered"]
                ):
                    raise WawiError(409, "Conflict", f"The app {payload['AppId']} is already registered.")
            registration_id = str(uuid.uuid4()).upper()
            regs[registration_id] = {
                "AppId": payload["AppId"],
                "Challenge": challenge,
                "Status": 0,
                "Polls": 0,
                "Delivered": False,
                "Scopes": list(payload["MandatoryApiScopes"]) + list(payload.get("OptionalApiScopes") or []),
            }
        return json_response(
            {"AppId": payload["AppId"], "RegistrationRequestId": registration_id, "Status": 0}, 201
        )

    def poll(registration_id: str, request: Request) -> Response:
        challenge = request.headers.get("x-challengecode")
        with state.data.lock:
            registration = _registrations(state).get(registration_id)
            if registration is None:
                raise WawiError(404, "NotFound", f"No registration request {registration_id} was found.")
            if challenge != registration["Challenge"]:
                raise WawiError(
                    403, "Forbidden", "The X-ChallengeCode does not match the registration request."
                )
            if registration["Delivered"]:
                raise WawiError(410, "Gone", "", empty_body=True)
            info = {
                "AppId": registration["AppId"],
                "RegistrationRequestId": registration_id,
                "Status": registration["Status"],
            }
            registration["Polls"] += 1
            if registration["Status"] == 2:
                registration["Delivered"] = True
                body: JsonObject = {
                    "RequestStatusInfo": info,
                    "Token": {"ApiKey": config.wawi_api_key},
                    "GrantedScopes": registration["Scopes"],
                }
                return json_response(body)
            if registration["Status"] == 0 and config.wawi_registration_auto_accept:
                registration["Status"] = 2  # "the user clicks accept" right after the first poll
        return json_response({"RequestStatusInfo": info})

    for base in ("", "/v1"):
        router.add_api_route(f"{base}/authentication", register, methods=["POST"])
        router.add_api_route(f"{base}/authentication/{{registration_id}}", poll, methods=["GET"])
    return router


def _v1_router(state: Any) -> APIRouter:
    router = APIRouter(route_class=_route_class(state))
    wawi = state.data.wawi
    config = state.config
    lock = state.data.lock

    def paging(query: Query) -> tuple[int, int]:
        return page_params(query, config.wawi_default_page_size, config.wawi_max_page_size)

    # ---- items
    @router.get("/items")
    def list_items(request: Request) -> Response:
        query = Query(request)
        number, size = paging(query)
        keyword = query.text("searchKeyWord")
        category_id = query.integer("categoryId")
        manufacturer_id = query.integer("manufacturerId")
        parent_id = query.integer("parentItemId")
        changed_since = query.time("changedSince")
        rows = _sorted_values(wawi.items)
        if keyword is not None:
            needle = keyword.lower()
            rows = [item for item in rows if needle in _item_search_text(item)]
        if category_id is not None:
            rows = [
                i for i in rows if any(c.get("CategoryId") == category_id for c in i.get("Categories") or ())
            ]
        if manufacturer_id is not None:
            rows = [item for item in rows if item.get("ManufacturerId") == manufacturer_id]
        if parent_id is not None:
            rows = [item for item in rows if item.get("ParentItemId") == parent_id]
        if changed_since is not None:
            rows = [item for item in rows if (_parse_time(item.get("Changed") or "") or 0.0) >= changed_since]
        return json_response(paged_envelope(rows, number, size))

    @router.get("/items/{item_id}")
    def get_item(item_id: int) -> Response:
        item = wawi.items.get(item_id)
        if item is None:
            raise _not_found("Item", item_id)
        return json_response(item)

    def _category_refs(refs: list[JsonObject], errors: dict[str, str]) -> list[JsonObject]:
        result = []
        for index, ref in enumerate(refs):
            category = wawi.categories.get(ref.get("CategoryId"))
            if category is None:
                errors[f"Categories[{index}].CategoryId"] = (
                    f"Category {ref.get('CategoryId')} does not exist."
                )
                continue
            result.append({"CategoryId": category["Id"], "Name": category.get("Name", "")})
        return result

    @router.post("/items")
    def create_item(payload: JsonBody = None) -> Response:
        with lock:
            new_id = _next_id(wawi.items)
            item = complete("Item", {"Id": new_id, "IsActive": True})
            errors = merge("CreateItem", item, payload, check_required=True)
            if not errors:
                item["Categories"] = _category_refs(item["Categories"], errors)
                sku = item.get("SKU") or f"ART{new_id:07d}"
                if any(other.get("SKU") == sku for other in wawi.items.values()):
                    errors["SKU"] = f"An item with the SKU {sku} already exists."
                item["SKU"] = sku
            if errors:
                raise _validation(errors)
            now = iso_now()
            item["Added"] = item["Changed"] = now
            wawi.items[new_id] = item
        return json_response(item, 201)

    @router.patch("/items/{item_id}")
    def update_item(item_id: int, payload: JsonBody = None) -> Response:
        with lock:
            item = wawi.items.get(item_id)
            if item is None:
                raise _not_found("Item", item_id)
            updated = json.loads(_dumps(item))
            errors = merge("UpdateItem", updated, payload)
            if not errors and isinstance(payload, dict) and payload.get("Categories") is not None:
                updated["Categories"] = _category_refs(updated["Categories"], errors)
            sku = updated.get("SKU")
            if sku != item.get("SKU") and any(
                o.get("SKU") == sku for o in wawi.items.values() if o is not item
            ):
                errors["SKU"] = f"An item with the SKU {sku} already exists."
            if errors:
                raise _validation(errors)
            updated["Id"] = item_id
            updated["Changed"] = iso_now()
            wawi.items[item_id] = updated
        return json_response(updated, 201)

    # ---- stocks
    @router.get("/stocks")
    def list_stocks(request: Request) -> Response:
        query = Query(request)
        number, size = paging(query)
        item_id = query.integer("itemId")
        warehouse_id = query.integer("warehouseId")
        location_id = query.integer("storageLocationId")
        rows: Sequence[JsonObject] = wawi.stocks
        if item_id is not None:
            rows = [row for row in rows if row.get("ItemId") == item_id]
        if warehouse_id is not None:
            rows = [row for row in rows if row.get("WarehouseId") == warehouse_id]
        if location_id is not None:
            rows = [row for row in rows if row.get("StorageLocationId") == location_id]
        return json_response(paged_envelope(rows, number, size))

    @router.post("/stocks")
    def adjust_stock(payload: JsonBody = None) -> Response:
        """A stock adjustment: ``Quantity`` is the delta booked onto the matching location/batch row."""
        with lock:
            change: JsonObject = {}
            errors = merge("CreateStock", change, payload, check_required=True)
            if errors:
                raise _validation(errors)
            item = wawi.items.get(change["ItemId"])
            if item is None:
                raise _not_found("Item", change["ItemId"])
            if change["WarehouseId"] not in wawi.warehouses:
                raise _not_found("Warehouse", change["WarehouseId"])
            # Book onto the first row of that item/warehouse matching whatever location/batch/expiry is given.
            given = {
                k: change[k]
                for k in ("StorageLocationId", "BatchNumber", "ShelfLifeExpirationDate")
                if k in change
            }
            row = next(
                (
                    r
                    for r in wawi.stocks
                    if r.get("ItemId") == change["ItemId"]
                    and r.get("WarehouseId") == change["WarehouseId"]
                    and all(r.get(k) == v for k, v in given.items())
                ),
                None,
            )
            current = row.get("QuantityTotal", 0) if row else 0
            total = current + change["Quantity"]
            if total < 0 and not item.get("AllowNegativeStock", False):
                raise _validation(
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
            row["QuantityTotal"] = _round(total)
        return json_response(row, 201)

    # ---- sales orders
    @router.get("/salesOrders")
    def list_sales_orders(request: Request) -> Response:
        query = Query(request)
        number, size = paging(query)
        rows = _sorted_values(wawi.sales_orders)
        rows = _filter_orders(rows, query, wawi.line_items)
        return json_response(paged_envelope(rows, number, size))

    @router.get("/salesOrders/{order_id}")
    def get_sales_order(order_id: int) -> Response:
        order = wawi.sales_orders.get(order_id)
        if order is None:
            raise _not_found("SalesOrder", order_id)
        return json_response(order)

    @router.post("/salesOrders")
    def create_sales_order(request: Request, payload: JsonBody = None) -> Response:
        query = Query(request)
        rename = query.boolean("renameSalesOrderNumberWhenAlreadyExists") or False
        with lock:
            new_id = _next_id(wawi.sales_orders)
            order = complete("SalesOrder", {"Id": new_id})
            errors = merge("CreateSalesOrder", order, payload, check_required=True)
            if errors:
                raise _validation(errors)
            customer = wawi.customers.get(order["CustomerId"])
            if customer is None:
                raise _validation({"CustomerId": f"Customer {order['CustomerId']} does not exist."})
            given = payload if isinstance(payload, dict) else {}
            numbers = {o.get("Number") for o in wawi.sales_orders.values()}
            if given.get("Number"):
                if order["Number"] in numbers:
                    if not rename:
                        raise _validation(
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

    @router.patch("/salesOrders/{order_id}")
    def update_sales_order(order_id: int, payload: JsonBody = None) -> Response:
        with lock:
            order = wawi.sales_orders.get(order_id)
            if order is None:
                raise _not_found("SalesOrder", order_id)
            updated = json.loads(_dumps(order))
            errors = merge("UpdateSalesOrder", updated, payload)
            customer_changed = updated.get("CustomerId") != order.get("CustomerId")
            if not errors and customer_changed and updated.get("CustomerId") not in wawi.customers:
                errors["CustomerId"] = f"Customer {updated.get('CustomerId')} does not exist."
            reason = (updated.get("SalesOrderShippingDetail") or {}).get("OnHoldReasonId")
            known_reasons = {r.get("Id") for r in wawi.on_hold_reasons}
            if reason and known_reasons and reason not in known_reasons:
                errors["SalesOrderShippingDetail.OnHoldReasonId"] = f"On hold reason {reason} does not exist."
            if errors:
                raise _validation(errors)
            updated["Id"] = order_id
            wawi.sales_orders[order_id] = updated
        return json_response(updated, 201)

    @router.get("/salesOrders/{order_id}/lineitems")
    def list_line_items(order_id: int) -> Response:
        if order_id not in wawi.sales_orders:
            raise _not_found("SalesOrder", order_id)
        return json_response(wawi.line_items.get(order_id, []))

    @router.post("/salesOrders/{order_id}/lineitems")
    def add_line_items(order_id: int, payload: JsonBody = None) -> Response:
        """Takes an ARRAY of CreateSalesOrderLineItem (a known quirk) and returns the created lines."""
        with lock:
            order = wawi.sales_orders.get(order_id)
            if order is None:
                raise _not_found("SalesOrder", order_id)
            if not isinstance(payload, list):
                raise _validation({"body": "The request body must be an array of line items."})
            next_line = _next_id(line["Id"] for lines in wawi.line_items.values() for line in lines)
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
                raise _validation(errors)
            lines = wawi.line_items.setdefault(order_id, [])
            lines.extend(created)
            _retotal(order, lines)
        return json_response(created, 201)

    @router.post("/salesOrders/{order_id}/cancel")
    def cancel_sales_order(order_id: int, payload: JsonBody = None) -> Response:
        with lock:
            order = wawi.sales_orders.get(order_id)
            if order is None:
                raise _not_found("SalesOrder", order_id)
            details: JsonObject = {}
            errors = merge(
                "CreateSalesOrderCancellationDetails",
                details,
                payload if payload is not None else {},
                check_required=True,
            )
            if errors:
                raise _validation(errors)
            if order.get("IsCancelled"):
                raise WawiError(406, "NotAcceptable", "The sales order cannot be cancelled.", empty_body=True)
            order["IsCancelled"] = True
            order["CancellationDetails"] = {
                "CancellationReasonId": details["CancellationReasonId"],
                "CancellationComment": details.get("CancellationComment", ""),
                "Date": iso_now(),
            }
        return Response(status_code=204)

    # ---- master data
    @router.get("/customers")
    def list_customers(request: Request) -> Response:
        query = Query(request)
        number, size = paging(query)
        customer_number = query.text("number")
        keyword = query.text("searchKeyWord")
        group_id = query.integer("groupId")
        category_id = query.integer("categoryId")
        rows = _sorted_values(wawi.customers)
        if customer_number is not None:
            rows = [c for c in rows if c.get("Number") == customer_number]
        if keyword is not None:
            needle = keyword.lower()
            rows = [c for c in rows if needle in _customer_search_text(c)]
        if group_id is not None:
            rows = [c for c in rows if c.get("CustomerGroupId") == group_id]
        if category_id is not None:
            rows = [c for c in rows if c.get("CustomerCategoryId") == category_id]
        return json_response(paged_envelope(rows, number, size))

    @router.get("/customers/{customer_id}")
    def get_customer(customer_id: int) -> Response:
        customer = wawi.customers.get(customer_id)
        if customer is None:
            raise _not_found("Customer", customer_id)
        return json_response(customer)

    @router.get("/suppliers")
    def list_suppliers() -> Response:
        return json_response(list(_sorted_values(wawi.suppliers)))

    @router.get("/info")
    def info() -> Response:
        """``GET /info``: the cheap health check (version, time, tenant, type)."""
        return json_response(
            {"Version": "1.10.12.0", "Timestamp": iso_now(), "Tenant": "eazybusiness", "Type": "OnPremise"}
        )

    @router.get("/warehouses")
    def list_warehouses(request: Request) -> Response:
        query = Query(request)
        number, size = paging(query)
        is_active = query.boolean("isActive")
        rows = _sorted_values(wawi.warehouses)
        if is_active is not None:
            rows = [w for w in rows if w.get("IsActive") == is_active]
        return json_response(paged_envelope(rows, number, size))

    @router.get("/categories")
    def list_categories(request: Request) -> Response:
        query = Query(request)
        number, size = paging(query)
        return json_response(paged_envelope(_sorted_values(wawi.categories), number, size))

    @router.get("/onHoldReasons")
    def list_on_hold_reasons() -> Response:
        return json_response(wawi.on_hold_reasons)

    @router.get("/shippingMethods")
    def list_shipping_methods() -> Response:
        return json_response(wawi.shipping_methods)

    @router.get("/paymentMethods")
    def list_payment_methods() -> Response:
        return json_response(wawi.payment_methods)

    return router


def camel_case(obj: Any) -> Any:
    """v2 writes JSON in camelCase; purchase orders are stored PascalCase like the rest of ``WawiData``."""
    if isinstance(obj, dict):
        return {(k.lower() if k.isupper() else k[:1].lower() + k[1:]): camel_case(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [camel_case(v) for v in obj]
    return obj


def _v2_router(state: Any) -> APIRouter:
    """Purchase orders: the 1.0 API has none, only 2.x (kebab-case paths, camelCase JSON).

    [I] inferred: the v2 guide documents the paths and the rule that line items can only be added
    while the order is Open or Released; the field names (``WawiData.purchase_orders`` holds them in
    PascalCase, the responses camelCase them) follow the v1 naming style and are not verified against a
    v2 spec. Statuses: Draft, Open, Released, PartiallyDelivered, Delivered, Completed. Supplier-article
    assignments are not modelled.
    """
    router = APIRouter(route_class=_route_class(state, v2=True))
    wawi = state.data.wawi
    config = state.config
    lock = state.data.lock

    def v2_error(errors: dict[str, str]) -> WawiError:
        return WawiError(400, "VALIDATION_ERROR", "One or more validation errors occurred.", errors)

    def not_found(po_id: int) -> WawiError:
        return WawiError(404, "NOT_FOUND", f"Purchase order {po_id} was not found.")

    @router.get("/purchase-orders")
    def list_purchase_orders(request: Request) -> Response:
        query = Query(request)
        number, size = page_params(query, 100, config.wawi_max_page_size)
        supplier_id = query.integer("supplierId")
        status = query.text("status")
        rows = _sorted_values(wawi.purchase_orders)
        if supplier_id is not None:
            rows = [po for po in rows if po.get("SupplierId") == supplier_id]
        if status is not None:
            rows = [po for po in rows if str(po.get("Status", "")).lower() == status.lower()]
        return json_response(camel_case(paged_envelope(rows, number, size, camel=True)))

    @router.get("/purchase-orders/{po_id}")
    def get_purchase_order(po_id: int) -> Response:
        po = wawi.purchase_orders.get(po_id)
        if po is None:
            raise not_found(po_id)
        return json_response(camel_case(po))

    def build_lines(raw: Any, po_id: int, start_id: int, errors: dict[str, str]) -> list[JsonObject]:
        if not isinstance(raw, list):
            errors["lineItems"] = "The lineItems field must be an array."
            return []
        lines: list[JsonObject] = []
        for index, element in enumerate(raw):
            here = f"lineItems[{index}]"
            if not isinstance(element, dict):
                errors[here] = "A line item must be an object."
                continue
            item = wawi.items.get(element.get("itemId"))
            quantity = element.get("quantity")
            if item is None:
                errors[f"{here}.itemId"] = f"Item {element.get('itemId')} does not exist."
                continue
            if not isinstance(quantity, int | float) or isinstance(quantity, bool) or quantity <= 0:
                errors[f"{here}.quantity"] = "The quantity must be greater than 0."
                continue
            price = element.get(
                "purchasePriceNet", (item.get("ItemPriceData") or {}).get("PurchasePriceNet", 0)
            )
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

    def next_line_id() -> int:
        return _next_id(
            line["Id"] for po in wawi.purchase_orders.values() for line in po.get("LineItems", ())
        )

    def total_net(lines: list[JsonObject]) -> float:
        return round(float(sum(line["Quantity"] * line["PurchasePriceNet"] for line in lines)), 2)

    @router.post("/purchase-orders")
    def create_purchase_order(payload: JsonBody = None) -> Response:
        if not isinstance(payload, dict):
            raise v2_error({"body": "The request body must be a purchase order object."})
        with lock:
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
            new_id = _next_id(wawi.purchase_orders)
            lines = build_lines(payload.get("lineItems", []), new_id, next_line_id(), errors)
            if errors:
                raise v2_error(errors)
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
                "TotalNet": total_net(lines),
                "Comment": payload.get("comment", ""),
                "CreatedAt": now,
                "UpdatedAt": now,
                "LineItems": lines,
            }
            wawi.purchase_orders[new_id] = po
        return json_response(camel_case(po), 201)

    @router.post("/purchase-orders/{po_id}/line-items")
    def add_purchase_order_lines(po_id: int, payload: JsonBody = None) -> Response:
        with lock:
            po = wawi.purchase_orders.get(po_id)
            if po is None:
                raise not_found(po_id)
            if po.get("Status") not in ("Open", "Released"):
                raise WawiError(
                    400, "INVALID_STATE", "Line items can only be added to Open or Released purchase orders."
                )
            raw = payload if isinstance(payload, list) else [payload]
            errors: dict[str, str] = {}
            lines = build_lines(raw, po_id, next_line_id(), errors)
            if errors:
                raise v2_error(errors)
            all_lines = po.setdefault("LineItems", [])
            all_lines.extend(lines)
            po["TotalNet"] = total_net(all_lines)
            po["UpdatedAt"] = iso_now()
        return json_response(camel_case(lines), 201)

    return router


# --------------------------------------------------------------------------------------------------
# Helpers for the handlers


def _round(value: float) -> float | int:
    rounded = round(value, 4)
    return int(rounded) if float(rounded).is_integer() else rounded


def _item_search_text(item: JsonObject) -> str:
    identifiers = item.get("Identifiers") or {}
    parts = (
        item.get("SKU"),
        item.get("Name"),
        identifiers.get("Gtin"),
        identifiers.get("ManufacturerNumber"),
        identifiers.get("OwnIdentifier"),
        item.get("SearchTerms"),
    )
    return "\n".join(p for p in parts if isinstance(p, str)).lower()


def _customer_search_text(customer: JsonObject) -> str:
    address = customer.get("BillingAddress") or {}
    parts = (
        customer.get("Number"),
        address.get("FirstName"),
        address.get("LastName"),
        address.get("Company"),
        address.get("EmailAddress"),
        address.get("City"),
    )
    return "\n".join(p for p in parts if isinstance(p, str)).lower()


def _next_address_id(wawi: Any) -> int:
    ids = [
        address.get("Id", 0)
        for order in wawi.sales_orders.values()
        for address in (order.get("BillingAddress") or {}, order.get("Shipmentaddress") or {})
    ]
    return _next_id(i for i in ids if isinstance(i, int))


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
        rows = [o for o in rows if low <= (_parse_time(o.get("SalesOrderDate") or "") or -math.inf) <= high]
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
        line["SalesPriceNet"] = _round(line["SalesPriceGross"] / factor)
    else:
        line["SalesPriceGross"] = _round(line["SalesPriceNet"] * factor)


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
