"""Items (``/v1/items``): list with filters, read, create and PATCH (which answers 201, like Wawi).

PATCH merges each group object (``Identifiers``, ``Weights``, ...) member by member; with
``SandboxConfig.wawi_item_patch_replaces_groups`` a group the body sends replaces the stored one whole.

Also ``GET /items/{id}/suppliers``, the item's suppliers with delivery time and order quantities, and
``GET /items/{id}/properties``, the item's property values; ``GET /items/customfields`` (the custom field
definitions, ``CustomField``) and ``GET /items/{id}/customfields`` (the item's ``CustomFieldValue`` rows,
a plain array, empty for an item without values, 404 for an unknown item).
"""

from __future__ import annotations

import json
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
    sorted_values,
    v1_page,
    validation_error,
)
from jtl_automator.sandbox.wawi.schemas import complete, merge, schemas

routes = RouteTable()


@routes.get("/items")
def list_items(request: Request, state: StateDep) -> Response:
    """Paged; ``searchKeyWord`` matches SKU, name, GTIN, MPN, own id and search terms, case-blind."""
    wawi = state.data.wawi
    query = Query(request)
    number, size = v1_page(state, query)
    keyword = query.text("searchKeyWord")
    category_id = query.integer("categoryId")
    manufacturer_id = query.integer("manufacturerId")
    parent_id = query.integer("parentItemId")
    changed_since = query.time("changedSince")
    rows = sorted_values(wawi.items)
    if keyword is not None:
        needle = keyword.lower()
        rows = [item for item in rows if needle in _item_search_text(item)]
    if category_id is not None:
        rows = [i for i in rows if any(c.get("CategoryId") == category_id for c in i.get("Categories") or ())]
    if manufacturer_id is not None:
        rows = [item for item in rows if item.get("ManufacturerId") == manufacturer_id]
    if parent_id is not None:
        rows = [item for item in rows if item.get("ParentItemId") == parent_id]
    if changed_since is not None:
        rows = [item for item in rows if (parse_time(item.get("Changed") or "") or 0.0) >= changed_since]
    return json_response(paged_envelope(rows, number, size, past_end=state.config.wawi_page_past_end))


@routes.get("/items/customfields")
def list_item_custom_fields(state: StateDep) -> Response:
    """Every item custom field definition, a plain array of ``CustomField``."""
    return json_response(list(sorted_values(state.data.wawi.item_custom_fields)))


@routes.get("/items/{item_id}/customfields")
def list_item_custom_field_values(item_id: int, state: StateDep) -> Response:
    """The item's ``CustomFieldValue`` rows (``{CustomFieldId, Value}``); 404 for an unknown item."""
    wawi = state.data.wawi
    if item_id not in wawi.items:
        raise not_found("Item", item_id)
    values = list(wawi.item_custom_field_values.get(item_id, []))
    if not values and state.config.wawi_custom_fields_404_when_empty:
        raise WawiError(404, "NotFound", "No fields could be found.")
    return json_response(values)


@routes.get("/items/{item_id}/suppliers")
def list_item_suppliers(item_id: int, state: StateDep) -> Response:
    """The item's ItemSupplier rows, a plain array as in the spec (empty for an item without any)."""
    wawi = state.data.wawi
    if item_id not in wawi.items:
        raise not_found("Item", item_id)
    return json_response(list(wawi.item_suppliers.get(item_id, [])))


@routes.get("/items/{item_id}/properties")
def list_item_properties(item_id: int, state: StateDep) -> Response:
    """``ItemProperties``: ``{ItemId, Properties: [{PropertyId, PropertyValueId}]}`` (empty list if none)."""
    wawi = state.data.wawi
    if item_id not in wawi.items:
        raise not_found("Item", item_id)
    return json_response({"ItemId": item_id, "Properties": list(wawi.item_properties.get(item_id, []))})


@routes.get("/items/{item_id}")
def get_item(item_id: int, state: StateDep) -> Response:
    """One item by id; 404 ``NotFound`` otherwise."""
    wawi = state.data.wawi
    item = wawi.items.get(item_id)
    if item is None:
        raise not_found("Item", item_id)
    return json_response(item)


def _category_refs(wawi: WawiData, refs: list[JsonObject], errors: dict[str, str]) -> list[JsonObject]:
    """Resolve ``{CategoryId}`` references to ``{CategoryId, Name}``; unknown ids are validation errors."""
    result = []
    for index, ref in enumerate(refs):
        category_id: Any = ref.get("CategoryId")  # whatever JSON the client sent: only an int can match
        category = wawi.categories.get(category_id)
        if category is None:
            errors[f"Categories[{index}].CategoryId"] = f"Category {ref.get('CategoryId')} does not exist."
            continue
        result.append({"CategoryId": category["Id"], "Name": category.get("Name", "")})
    return result


@routes.post("/items")
def create_item(state: StateDep, payload: JsonBody = None) -> Response:
    """New item completed from the ``Item`` schema; SKU ``ART<id>`` unless given, unique either way."""
    wawi = state.data.wawi
    with state.data.lock:
        new_id = next_id(wawi.items)
        item = complete("Item", {"Id": new_id, "IsActive": True})
        errors = merge("CreateItem", item, payload, check_required=True)
        if not errors:
            item["Categories"] = _category_refs(wawi, item["Categories"], errors)
            sku = item.get("SKU") or f"ART{new_id:07d}"
            if any(other.get("SKU") == sku for other in wawi.items.values()):
                errors["SKU"] = f"An item with the SKU {sku} already exists."
            item["SKU"] = sku
        if errors:
            raise validation_error(errors)
        now = iso_now()
        item["Added"] = item["Changed"] = now
        wawi.items[new_id] = item
    return json_response(item, 201)


@routes.patch("/items/{item_id}")
def update_item(item_id: int, state: StateDep, payload: JsonBody = None) -> Response:
    """PATCH merges into a copy, so a failed validation leaves the item untouched; answers 201.

    ``ItemPriceData`` (``UpdateItemPrice``) sets the base prices; a negative one is refused only with
    ``wawi_refuse_negative_prices`` (the reference is silent).
    """
    wawi = state.data.wawi
    with state.data.lock:
        item = wawi.items.get(item_id)
        if item is None:
            raise not_found("Item", item_id)
        updated = json.loads(dumps(item))
        if state.config.wawi_item_patch_replaces_groups and isinstance(payload, dict):
            _clear_groups(updated, payload)
        errors = merge("UpdateItem", updated, payload)
        if not errors and isinstance(payload, dict) and payload.get("Categories") is not None:
            updated["Categories"] = _category_refs(wawi, updated["Categories"], errors)
        prices = payload.get("ItemPriceData") if isinstance(payload, dict) else None
        if state.config.wawi_refuse_negative_prices and isinstance(prices, dict):
            for name, value in prices.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                    errors[f"ItemPriceData.{name}"] = f"The field {name} must not be negative."
        sku = updated.get("SKU")
        if sku != item.get("SKU") and any(o.get("SKU") == sku for o in wawi.items.values() if o is not item):
            errors["SKU"] = f"An item with the SKU {sku} already exists."
        if errors:
            raise validation_error(errors)
        updated["Id"] = item_id
        updated["Changed"] = iso_now()
        wawi.items[item_id] = updated
    return json_response(updated, 201)


def _clear_groups(item: JsonObject, payload: JsonObject) -> None:
    """Strict reading of PATCH: every group object the body sends replaces the stored one whole."""
    props = schemas()["UpdateItem"].get("properties", {})
    for key, value in payload.items():
        ref = props.get(key, {}).get("$ref")
        if isinstance(value, dict) and isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            target = name.removeprefix("Update")
            item[key] = complete(target if target in schemas() else name)  # members left out: emptied


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
