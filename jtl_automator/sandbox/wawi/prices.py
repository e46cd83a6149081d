"""Item prices: the sales-channel prices and the special price of an item (``/items/{id}/…``).

As the Wawi 1.0 spec has them:

- ``GET /items/{id}/salesChannelPrices``: a plain array of ``ItemSalesChannelPrice`` (channel, customer
  group, ``FromQuantity`` of a scale price, ``NetPrice`` or ``ReduceStandardPriceByPercent``).
- ``POST`` creates one (``CreateItemSalesChannelPrice``, ``SalesChannelId`` required) and answers 201
  with it; ``PATCH …/{salesChannelId}/{customerGroupId}/{fromQuantity}`` changes one
  (``UpdateItemSalesChannelPrice``) and answers 204; ``DELETE`` the same path, 204. An unknown price is
  404 "No data with the given ID exists". ``NetPrice`` and ``ReduceStandardPriceByPercent`` exclude each
  other ("Only one can be used"): both is a 400, and setting one clears the other.
- ``GET /items/{id}/specialprices``: the item's one ``ItemSpecialPrice`` (a start date, an optional end
  date or stock threshold, and a ``SpecialPrice`` per channel and customer group); ``PATCH`` with
  ``UpdateItemSpecialPrice`` (``IsActive`` required; the ``SpecialPrice`` array replaces the stored one)
  answers 204. ``EndDate`` is required when ``EndDateActive``, ``TillAmountInStockSmallerThan`` when
  ``TillAmountActive`` (documented).
- Only channels whose ``ItemCapabilities`` allow it take prices (``Prices``) or special prices
  (``SpecialPrices``); a customer group must exist (0 in a sales-channel price: every group).

Where the spec is silent, :class:`~jtl_automator.sandbox.config.SandboxConfig` decides (lenient by default,
strict in ``strictest()``): ``wawi_price_lists_404_when_empty``, ``wawi_unique_sales_channel_price``,
``wawi_refuse_negative_prices``, ``wawi_special_price_dates_checked``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response

from jtl_automator.sandbox.data import JsonObject, WawiData, iso_now
from jtl_automator.sandbox.routing import RouteTable
from jtl_automator.sandbox.state import SandboxState, StateDep
from jtl_automator.sandbox.wawi.common import (
    JsonBody,
    WawiError,
    dumps,
    json_response,
    not_found,
    parse_time,
    round_quantity,
    validation_error,
)
from jtl_automator.sandbox.wawi.schemas import complete, merge

routes = RouteTable()

_NO_FIELDS = "No fields could be found."
_NO_DATA = "No data with the given ID exists."
_ONE_OF = "If you use NetPrice, you can't use ReduceStandardPriceByPercent too. Only one can be used."


def _item(wawi: WawiData, item_id: int) -> JsonObject:
    item = wawi.items.get(item_id)
    if item is None:
        raise not_found("Item", item_id)
    return item


def _channel(wawi: WawiData, channel_id: Any) -> JsonObject | None:
    return next((c for c in wawi.sales_channels if c.get("Id") == channel_id), None)


def _check_channel(
    wawi: WawiData, channel_id: Any, capability: str, field: str, errors: dict[str, str]
) -> None:
    channel = _channel(wawi, channel_id)
    if channel is None:
        errors[field] = f"The sales channel {channel_id} does not exist."
    elif not (channel.get("ItemCapabilities") or {}).get(capability):
        what = "prices" if capability == "Prices" else "special prices"
        errors[field] = (
            f"The sales channel {channel_id} does not allow {what} to be changed via the REST API."
        )


def _check_group(
    wawi: WawiData, group_id: Any, field: str, errors: dict[str, str], *, all_groups: bool
) -> None:
    if all_groups and group_id == 0:
        return
    if group_id not in wawi.customer_groups:
        errors[field] = f"The customer group {group_id} does not exist."


def _check_not_negative(state: SandboxState, value: Any, field: str, errors: dict[str, str]) -> None:
    if state.config.wawi_refuse_negative_prices and isinstance(value, int | float) and value < 0:
        errors[field] = f"The field {field} must not be negative."


# --------------------------------------------------------------------------------------------------
# Sales-channel prices


@routes.get("/items/{item_id}/salesChannelPrices")
def list_sales_channel_prices(item_id: int, state: StateDep) -> Response:
    """The item's ItemSalesChannelPrice rows, a plain array (strict: 404 when it has none)."""
    wawi = state.data.wawi
    _item(wawi, item_id)
    rows = wawi.sales_channel_prices.get(item_id, [])
    if not rows and state.config.wawi_price_lists_404_when_empty:
        raise WawiError(404, "NotFound", _NO_FIELDS)
    return json_response(rows)


def _one_value(payload: Any, errors: dict[str, str], *, required: bool) -> None:
    """NetPrice and ReduceStandardPriceByPercent exclude each other; a new price needs one of them."""
    if not isinstance(payload, dict):
        return
    net, reduce_by = payload.get("NetPrice"), payload.get("ReduceStandardPriceByPercent")
    if net is not None and reduce_by is not None:
        errors["NetPrice"] = _ONE_OF
    elif required and net is None and reduce_by is None:
        errors["NetPrice"] = "Either NetPrice or ReduceStandardPriceByPercent is required."


def _take_value(row: JsonObject, payload: Any) -> None:
    """The value given wins; the other one is cleared (the spec's objects always carry both, 0 unused)."""
    if not isinstance(payload, dict):
        return
    if payload.get("NetPrice") is not None:
        row["NetPrice"] = round_quantity(float(row["NetPrice"]))
        row["ReduceStandardPriceByPercent"] = 0
    elif payload.get("ReduceStandardPriceByPercent") is not None:
        row["NetPrice"] = 0
        row["ReduceStandardPriceByPercent"] = round_quantity(float(row["ReduceStandardPriceByPercent"]))


def _price_key(row: JsonObject) -> tuple[Any, Any, Any]:
    return row.get("SalesChannelId"), row.get("CustomerGroupId"), row.get("FromQuantity")


@routes.post("/items/{item_id}/salesChannelPrices")
def create_sales_channel_price(item_id: int, state: StateDep, payload: JsonBody = None) -> Response:
    """A new channel price (201 with it); the same channel, group and FromQuantity again: see the module."""
    wawi = state.data.wawi
    with state.data.lock:
        _item(wawi, item_id)
        row = complete("ItemSalesChannelPrice", {"ItemId": item_id})
        errors = merge("CreateItemSalesChannelPrice", row, payload, check_required=True)
        _one_value(payload, errors, required=True)
        if not errors:
            _check_channel(wawi, row["SalesChannelId"], "Prices", "SalesChannelId", errors)
            _check_group(wawi, row["CustomerGroupId"], "CustomerGroupId", errors, all_groups=True)
            if row["FromQuantity"] < 0:
                errors["FromQuantity"] = "The field FromQuantity must be 0 or greater."
            _check_not_negative(state, row["NetPrice"], "NetPrice", errors)
        rows = wawi.sales_channel_prices.setdefault(item_id, [])
        same = [r for r in rows if _price_key(r) == _price_key(row)]
        if not errors and same and state.config.wawi_unique_sales_channel_price:
            errors["SalesChannelId"] = (
                f"A price for sales channel {row['SalesChannelId']}, customer group {row['CustomerGroupId']} "
                f"and quantity {row['FromQuantity']} already exists."
            )
        if errors:
            if not rows:
                wawi.sales_channel_prices.pop(item_id, None)
            raise validation_error(errors)
        _take_value(row, payload)
        for old in same:
            rows.remove(old)
        rows.append(row)
        _touch(wawi, item_id)
    return json_response(row, 201)


def _stored_price(
    wawi: WawiData, item_id: int, channel_id: str, group_id: int, from_quantity: int
) -> JsonObject:
    if item_id not in wawi.items:
        raise WawiError(404, "NotFound", _NO_DATA)
    for row in wawi.sales_channel_prices.get(item_id, []):
        if _price_key(row) == (channel_id, group_id, from_quantity):
            return row
    raise WawiError(404, "NotFound", _NO_DATA)


@routes.patch("/items/{item_id}/salesChannelPrices/{sales_channel_id}/{customer_group_id}/{from_quantity}")
def update_sales_channel_price(
    item_id: int,
    sales_channel_id: str,
    customer_group_id: int,
    from_quantity: int,
    state: StateDep,
    payload: JsonBody = None,
) -> Response:
    """Change one channel price (absolute ``NetPrice`` or a reduction); 204, the row untouched on a 400."""
    wawi = state.data.wawi
    with state.data.lock:
        stored = _stored_price(wawi, item_id, sales_channel_id, customer_group_id, from_quantity)
        updated: JsonObject = json.loads(dumps(stored))
        errors = merge("UpdateItemSalesChannelPrice", updated, payload)
        _one_value(payload, errors, required=False)
        if not errors:
            _check_channel(wawi, sales_channel_id, "Prices", "salesChannelId", errors)
            _check_not_negative(state, updated["NetPrice"], "NetPrice", errors)
        if errors:
            raise validation_error(errors)
        _take_value(updated, payload)
        stored.update(updated)
        _touch(wawi, item_id)
    return Response(status_code=204)


@routes.delete("/items/{item_id}/salesChannelPrices/{sales_channel_id}/{customer_group_id}/{from_quantity}")
def delete_sales_channel_price(
    item_id: int, sales_channel_id: str, customer_group_id: int, from_quantity: int, state: StateDep
) -> Response:
    """Remove one channel price; 204."""
    wawi = state.data.wawi
    with state.data.lock:
        stored = _stored_price(wawi, item_id, sales_channel_id, customer_group_id, from_quantity)
        rows = wawi.sales_channel_prices[item_id]
        rows.remove(stored)
        if not rows:
            del wawi.sales_channel_prices[item_id]
        _touch(wawi, item_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------------------
# Special prices


def _no_special_price(item_id: int) -> JsonObject:
    """What an item without a special price shows (lenient): inactive, no prices, no dates."""
    return complete("ItemSpecialPrice", {"ItemId": item_id, "SpecialPrice": []})


@routes.get("/items/{item_id}/specialprices")
def get_special_price(item_id: int, state: StateDep) -> Response:
    """The item's ItemSpecialPrice (one object); strict: 404 when the item never had one."""
    wawi = state.data.wawi
    _item(wawi, item_id)
    stored = wawi.special_prices.get(item_id)
    if stored is None:
        if state.config.wawi_price_lists_404_when_empty:
            raise WawiError(404, "NotFound", _NO_FIELDS)
        return json_response(_no_special_price(item_id))
    return json_response(stored)


@routes.patch("/items/{item_id}/specialprices")
def update_special_price(item_id: int, state: StateDep, payload: JsonBody = None) -> Response:
    """Set the item's special price; 204, nothing changed on a 400 (every mistake named at once)."""
    wawi = state.data.wawi
    with state.data.lock:
        _item(wawi, item_id)
        stored = wawi.special_prices.get(item_id)
        updated: JsonObject = json.loads(dumps(stored)) if stored is not None else _no_special_price(item_id)
        errors = merge("UpdateItemSpecialPrice", updated, payload, check_required=True)
        if not errors:
            _check_special(state, updated, errors)
        if errors:
            raise validation_error(errors)
        for price in updated["SpecialPrice"]:
            price["NetPrice"] = round_quantity(float(price["NetPrice"]))
        updated["ItemId"] = item_id
        wawi.special_prices[item_id] = updated
        _touch(wawi, item_id)
    return Response(status_code=204)


def _check_special(state: SandboxState, special: JsonObject, errors: dict[str, str]) -> None:
    wawi = state.data.wawi
    if special.get("EndDateActive") and not special.get("EndDate"):
        errors["EndDate"] = "The EndDate field is required when EndDateActive is set."
    if special.get("TillAmountActive") and special.get("TillAmountInStockSmallerThan") is None:
        errors["TillAmountInStockSmallerThan"] = (
            "The TillAmountInStockSmallerThan field is required when TillAmountActive is set."
        )
    start, end = parse_time(special.get("StartDate") or ""), parse_time(special.get("EndDate") or "")
    if (
        state.config.wawi_special_price_dates_checked
        and special.get("EndDateActive")
        and start is not None
        and end is not None
        and end <= start
    ):
        errors["EndDate"] = "The EndDate must be after the StartDate."
    seen: set[tuple[Any, Any]] = set()
    for index, price in enumerate(special.get("SpecialPrice") or []):
        where = f"SpecialPrice[{index}]."
        _check_channel(wawi, price.get("SalesChannelId"), "SpecialPrices", where + "SalesChannelId", errors)
        _check_group(wawi, price.get("CustomerGroupId"), where + "CustomerGroupId", errors, all_groups=False)
        _check_not_negative(state, price.get("NetPrice"), where + "NetPrice", errors)
        key = (price.get("SalesChannelId"), price.get("CustomerGroupId"))
        if key in seen:
            errors[where + "SalesChannelId"] = (
                f"The sales channel {key[0]} and customer group {key[1]} have a special price twice."
            )
        seen.add(key)


def _touch(wawi: WawiData, item_id: int) -> None:
    """A price change is a change of the item (``Changed`` moves, so ``changedSince`` reports it)."""
    wawi.items[item_id]["Changed"] = iso_now()
