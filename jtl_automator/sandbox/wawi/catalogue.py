"""The catalogue side of Wawi the product enrichment uses: category assignment, images, properties, makers.

- ``POST /categories/{id}/items``: a JSON array of item ids (int32) joins the category; 201 with the
  assigned ids. 404 for an unknown category, 400 (``ValidationErrors`` per array index) for a body that
  is not such an array or names an item that does not exist: nothing is assigned then. Whether Wawi takes
  an item that is already in the category is not documented: leniently it does (nothing changes, the id
  is answered as assigned); ``SandboxConfig.wawi_category_items_refuse_assigned`` refuses it with a 400
  naming the item, so a client that re-sends an assignment blindly finds out.
- ``GET /items/{id}/images``: the item's ``ItemImage`` rows (a plain array). ``GET /items/{id}/properties``
  (``ItemProperties``) is served by ``items`` and ``GET /manufacturers`` by ``master_data``.
- ``GET /properties``: a ``PagedListOfProperty`` (the spec gives it no paging parameters: one page of
  all); ``GET /properties/{id}/values``: a plain array of ``PropertyValue``.

An assignment moves the item's ``Changed``, as every change of an item does.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response

from jtl_automator.sandbox.data import iso_now
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import StateDep
from jtl_automator.sandbox.wawi.common import (
    JsonBody,
    json_response,
    not_found,
    paged_envelope,
    sorted_values,
    validation_error,
)

routes = RouteTable()
_INT32 = (-(2**31), 2**31 - 1)
_INT_LIST = "System.Collections.Generic.List`1[System.Int32]"


def _item_ids(payload: Any) -> tuple[list[int], dict[str, str]]:
    if not isinstance(payload, list):
        return [], {"items": f"The JSON value could not be converted to {_INT_LIST}."}
    ids: list[int] = []
    errors: dict[str, str] = {}
    for index, value in enumerate(payload):
        if isinstance(value, bool) or not isinstance(value, int) or not _INT32[0] <= value <= _INT32[1]:
            errors[f"items[{index}]"] = "The JSON value could not be converted to System.Int32."
        else:
            ids.append(value)
    return ids, errors


@routes.post("/categories/{category_id}/items")
def add_category_items(category_id: int, state: StateDep, payload: JsonBody = None) -> Response:
    """Assign items to a category (all or none); 201 with the assigned ids."""
    wawi = state.data.wawi
    with state.data.lock:
        category = wawi.categories.get(category_id)
        if category is None:
            raise not_found("Category", category_id)
        ids, errors = _item_ids(payload)
        refuse = state.config.wawi_category_items_refuse_assigned
        for index, item_id in enumerate(ids):
            item = wawi.items.get(item_id)
            if item is None:
                errors[f"items[{index}]"] = f"Item {item_id} does not exist."
            elif refuse and any(c.get("CategoryId") == category_id for c in item.get("Categories") or ()):
                errors[f"items[{index}]"] = f"Item {item_id} is already assigned to category {category_id}."
        if errors:
            raise validation_error(errors)
        now = iso_now()
        for item_id in dict.fromkeys(ids):
            item = wawi.items[item_id]
            refs = list(item.get("Categories") or [])
            if not any(c.get("CategoryId") == category_id for c in refs):
                refs.append({"CategoryId": category_id, "Name": category.get("Name", "")})
                wawi.items[item_id] = {**item, "Categories": refs, "Changed": now}
    return json_response(list(dict.fromkeys(ids)), 201)


@routes.get("/items/{item_id}/images")
def list_item_images(item_id: int, state: StateDep) -> Response:
    """The item's images (metadata), a plain array; 404 for an unknown item."""
    wawi = state.data.wawi
    if item_id not in wawi.items:
        raise not_found("Item", item_id)
    return json_response(list(wawi.item_images.get(item_id, [])))


@routes.get("/properties")
def list_properties(state: StateDep) -> Response:
    """Every property in one ``PagedListOfProperty`` page."""
    rows = list(sorted_values(state.data.wawi.properties))
    return json_response(paged_envelope(rows, 1, max(1, len(rows))))


@routes.get("/properties/{property_id}/values")
def list_property_values(property_id: int, state: StateDep) -> Response:
    """A property's values, a plain array; 404 for an unknown property."""
    wawi = state.data.wawi
    if property_id not in wawi.properties:
        raise not_found("Property", property_id)
    return json_response(list(wawi.property_values.get(property_id, [])))
