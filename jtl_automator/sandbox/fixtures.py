"""Load (and write) a sandbox world from a folder of JSON files, so a test or a demo can pin exact data.

Layout (every file optional; each holds a JSON **array of objects exactly as the API returns them**):

- ``ffn/products.json`` (key ``jfsku``), ``ffn/stocks.json`` (``jfsku``),
  ``ffn/inbounds.json`` (``inboundId``), ``ffn/outbounds.json`` (``outboundId``),
  ``ffn/warehouses.json`` (``warehouseId``),
  ``ffn/shippingmethods.json`` (``shippingMethodId``), ``ffn/shipping-notifications.json`` (merchant-view
  OutboundShippingNotification objects, grouped by their ``outboundId``).
- ``ffn/account.json``: the one non-array file, an object ``{"merchantId", "fulfillerId", "userId"}``.
- ``wawi/items.json``, ``wawi/salesOrders.json``, ``wawi/customers.json``, ``wawi/suppliers.json``,
  ``wawi/warehouses.json``, ``wawi/categories.json``, ``wawi/purchaseOrders.json``,
  ``wawi/onHoldReasons.json``, ``wawi/shippingMethods.json``, ``wawi/paymentMethods.json`` (key ``Id``),
  ``wawi/stocks.json`` (rows keyed by ``WarehouseId`` + ``ItemId``), ``wawi/itemSuppliers.json``
  (ItemSupplier rows keyed by ``ItemId`` + ``SupplierId``, served per item by ``/items/{id}/suppliers``),
  ``wawi/itemImages.json`` (ItemImage rows keyed by ``ItemId`` + ``ImageId``), ``wawi/itemProperties.json``
  (ItemProperties objects, key ``ItemId``), ``wawi/properties.json`` and ``wawi/manufacturers.json`` (key
  ``Id``), ``wawi/propertyValues.json`` (PropertyValue objects, each with its ``PropertyId``, which is
  removed on load because the API serves the values per property);
  what prices need: ``wawi/companies.json``, ``wawi/taxClasses.json``,
  ``wawi/customerGroups.json`` (key ``Id``), ``wawi/salesChannels.json`` (string ``Id``),
  ``wawi/taxRates.json`` (TaxRate objects, several per ``TaxClassId``), ``wawi/itemSalesChannelPrices.json``
  (ItemSalesChannelPrice rows, several per ``ItemId``) and ``wawi/itemSpecialPrices.json`` (one
  ItemSpecialPrice per ``ItemId``); returns: ``wawi/returns.json`` (key ``Id``, with ``ReturnDate``),
  ``wawi/returnLineItems.json`` (ReturnLineItem rows, each with its ``ReturnId``),
  ``wawi/returnReasons.json`` and ``wawi/returnStates.json`` (key ``Id``); custom fields:
  ``wawi/itemCustomFields.json`` and ``wawi/salesOrderCustomFields.json`` (CustomField, key
  ``CustomFieldId``), ``wawi/itemCustomFieldValues.json`` and ``wawi/salesOrderCustomFieldValues.json``
  (CustomFieldValue rows, each with its ``ItemId`` or ``SalesOrderId``, removed on load).
- Sales-order line items either in ``wawi/salesOrderLineItems.json`` (SalesOrderLineItem objects, each with
  its ``SalesOrderId``) or inline as a ``"LineItems"`` array inside each order of ``wawi/salesOrders.json``
  (handy for hand-written fixtures; the key is removed on load because the API serves lines separately).
- ``sheets/<spreadsheetId>.json``: ``{"title": "...", "sheets": [{"title": "...", "sheetId": 0,
  "values": [[...], ...], "rowCount": 1000, "columnCount": 26}]}`` (rowCount/columnCount optional).

Only key fields and their types are checked (plus a few fields every consumer relies on); anything else
passes through untouched, because fixtures are often trimmed real responses. Errors name the file, the
array index and the field. ``*.md`` files and dot-files are ignored so a fixture folder can carry notes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jtl_automator.sandbox.data import JsonObject, SandboxData, Spreadsheet, Worksheet


class FixtureError(ValueError):
    """A fixture file is unknown, unreadable or has an object without its key fields."""


_STR = (str,)
_INT = (int,)
_NUM = (int, float)
_LIST = (list,)
_OBJ = (dict,)


@dataclass(frozen=True)
class _Resource:
    path: str  # relative to the fixture folder
    key: tuple[str, ...]  # key fields (all required)
    key_types: tuple[type, ...]
    # further required fields and the types they must have
    fields: tuple[tuple[str, tuple[type, ...]], ...] = ()
    # optional fields whose type is still checked when present and not null
    optional: tuple[tuple[str, tuple[type, ...]], ...] = ()


_RESOURCES: dict[str, _Resource] = {
    r.path: r
    for r in (
        _Resource("ffn/products.json", ("jfsku",), _STR, (("merchantSku", _STR), ("name", _STR))),
        _Resource(
            "ffn/stocks.json",
            ("jfsku",),
            _STR,
            (("stockLevel", _NUM),),
            (("warehouses", _LIST), ("stockLevelReserved", _NUM), ("stockLevelAnnounced", _NUM)),
        ),
        _Resource(
            "ffn/inbounds.json",
            ("inboundId",),
            _STR,
            (("items", _LIST), ("status", _STR), ("warehouseId", _STR)),
        ),
        _Resource("ffn/outbounds.json", ("outboundId",), _STR, (("items", _LIST), ("status", _STR))),
        _Resource("ffn/warehouses.json", ("warehouseId",), _STR, (("name", _STR),)),
        _Resource("ffn/shippingmethods.json", ("shippingMethodId",), _STR, (("name", _STR),)),
        _Resource(
            "ffn/shipping-notifications.json",
            ("outboundShippingNotificationId",),
            _STR,
            (("outboundId", _STR), ("items", _LIST)),
        ),
        _Resource("wawi/items.json", ("Id",), _INT, (), (("SKU", _STR), ("Name", _STR))),
        _Resource("wawi/salesOrders.json", ("Id",), _INT, (), (("Number", _STR), ("LineItems", _LIST))),
        _Resource(
            "wawi/salesOrderLineItems.json", ("Id",), _INT, (("SalesOrderId", _INT),), (("Quantity", _NUM),)
        ),
        _Resource("wawi/stocks.json", ("WarehouseId", "ItemId"), _INT, (("QuantityTotal", _NUM),)),
        _Resource("wawi/customers.json", ("Id",), _INT),
        _Resource("wawi/suppliers.json", ("Id",), _INT),
        _Resource("wawi/itemSuppliers.json", ("ItemId", "SupplierId"), _INT),
        _Resource("wawi/manufacturers.json", ("Id",), _INT, (), (("Name", _STR),)),
        _Resource("wawi/itemProperties.json", ("ItemId",), _INT, (("Properties", _LIST),)),
        _Resource("wawi/warehouses.json", ("Id",), _INT),
        _Resource("wawi/categories.json", ("Id",), _INT),
        _Resource("wawi/purchaseOrders.json", ("Id",), _INT),
        _Resource("wawi/onHoldReasons.json", ("Id",), _INT),
        _Resource("wawi/shippingMethods.json", ("Id",), _INT),
        _Resource("wawi/paymentMethods.json", ("Id",), _INT),
        _Resource("wawi/itemImages.json", ("ItemId", "ImageId"), _INT),
        _Resource("wawi/properties.json", ("Id",), _INT),
        _Resource("wawi/propertyValues.json", ("PropertyId", "Id"), _INT),
        _Resource("wawi/companies.json", ("Id",), _INT),
        _Resource("wawi/taxClasses.json", ("Id",), _INT),
        _Resource(
            "wawi/taxRates.json",
            ("TaxClassId",),
            _INT,
            (("Rate", _NUM), ("DepartureCountryISO", _STR), ("ShipmentCountryISO", _STR)),
        ),
        _Resource("wawi/salesChannels.json", ("Id",), _STR, (("ItemCapabilities", _OBJ),)),
        _Resource("wawi/customerGroups.json", ("Id",), _INT),
        _Resource(
            "wawi/itemSalesChannelPrices.json",
            ("ItemId",),
            _INT,
            (("SalesChannelId", _STR), ("CustomerGroupId", _INT)),
            (("NetPrice", _NUM), ("FromQuantity", _INT)),
        ),
        _Resource("wawi/itemSpecialPrices.json", ("ItemId",), _INT, (("SpecialPrice", _LIST),)),
        _Resource("wawi/itemCustomFields.json", ("CustomFieldId",), _INT, (), (("Name", _STR),)),
        _Resource("wawi/itemCustomFieldValues.json", ("ItemId", "CustomFieldId"), _INT),
        _Resource("wawi/salesOrderCustomFields.json", ("CustomFieldId",), _INT, (), (("Name", _STR),)),
        _Resource("wawi/salesOrderCustomFieldValues.json", ("SalesOrderId", "CustomFieldId"), _INT),
        _Resource("wawi/returns.json", ("Id",), _INT, (("ReturnDate", _STR),), (("SalesOrderId", _INT),)),
        _Resource(
            "wawi/returnLineItems.json",
            ("Id",),
            _INT,
            (("ReturnId", _INT), ("SKU", _STR), ("Quantity", _NUM)),
            (("ReturnReasonId", _INT),),
        ),
        _Resource("wawi/returnReasons.json", ("Id",), _INT, (("Translations", _LIST),)),
        _Resource("wawi/returnStates.json", ("Id",), _INT, (("Translations", _LIST),)),
    )
}
#: Files with several objects per key: stock rows (per location and batch), an item's channel prices,
#: a tax class's rates (per country).
_MANY_PER_KEY = frozenset({"wawi/stocks.json", "wawi/itemSalesChannelPrices.json", "wawi/taxRates.json"})
_ACCOUNT_FILE = "ffn/account.json"


def _type_name(types: tuple[type, ...]) -> str:
    return {_STR: "a string", _INT: "an integer", _NUM: "a number", _LIST: "an array", _OBJ: "an object"}.get(
        types, "/".join(t.__name__ for t in types)
    )


def _is(value: Any, types: tuple[type, ...]) -> bool:
    # bool is an int subclass in Python, but true/false is never a valid id or quantity
    return isinstance(value, types) and not isinstance(value, bool)


def _read_json(path: Path, rel: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise FixtureError(f"{rel}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"{rel}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def _check_objects(rel: str, content: Any, resource: _Resource) -> list[JsonObject]:
    if not isinstance(content, list):
        raise FixtureError(f"{rel}: expected a JSON array of objects, got {type(content).__name__}")
    seen: dict[tuple[Any, ...], int] = {}
    for index, obj in enumerate(content):
        where = f"{rel}[{index}]"
        if not isinstance(obj, dict):
            raise FixtureError(f"{where}: expected an object, got {type(obj).__name__}")
        for field in resource.key:
            if field not in obj:
                raise FixtureError(f"{where}: missing key field '{field}'")
            if not _is(obj[field], resource.key_types):
                raise FixtureError(
                    f"{where}: field '{field}' must be {_type_name(resource.key_types)}, got {obj[field]!r}"
                )
        for field, types in resource.fields:
            if field not in obj:
                raise FixtureError(f"{where}: missing field '{field}'")
            if not _is(obj[field], types):
                raise FixtureError(
                    f"{where}: field '{field}' must be {_type_name(types)}, got {obj[field]!r}"
                )
        for field, types in resource.optional:
            if obj.get(field) is not None and not _is(obj[field], types):
                raise FixtureError(
                    f"{where}: field '{field}' must be {_type_name(types)}, got {obj[field]!r}"
                )
        key = tuple(obj[f] for f in resource.key)
        if key in seen and rel not in _MANY_PER_KEY:
            raise FixtureError(
                f"{where}: duplicate {'/'.join(resource.key)} {key[0]!r} (first at [{seen[key]}])"
            )
        seen.setdefault(key, index)
    return content


def _load_sheet(rel: str, content: Any, spreadsheet_id: str) -> Spreadsheet:
    if not isinstance(content, dict):
        raise FixtureError(f"{rel}: expected an object {{'title', 'sheets'}}, got {type(content).__name__}")
    if "spreadsheetId" in content and content["spreadsheetId"] != spreadsheet_id:
        raise FixtureError(
            f"{rel}: field 'spreadsheetId' {content['spreadsheetId']!r} differs from the file name"
        )
    title = content.get("title", spreadsheet_id)
    if not isinstance(title, str):
        raise FixtureError(f"{rel}: field 'title' must be a string, got {title!r}")
    sheets = content.get("sheets")
    if not isinstance(sheets, list):
        raise FixtureError(f"{rel}: field 'sheets' must be an array of tabs")
    worksheets: list[Worksheet] = []
    for index, tab in enumerate(sheets):
        where = f"{rel}: sheets[{index}]"
        if not isinstance(tab, dict):
            raise FixtureError(f"{where}: expected an object, got {type(tab).__name__}")
        if not isinstance(tab.get("title"), str):
            raise FixtureError(f"{where}: field 'title' must be a string")
        sheet_id = tab.get("sheetId", index)
        if not _is(sheet_id, _INT):
            raise FixtureError(f"{where}: field 'sheetId' must be an integer, got {sheet_id!r}")
        values = tab.get("values", [])
        if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
            raise FixtureError(f"{where}: field 'values' must be an array of rows (arrays)")
        for row_index, row in enumerate(values):
            for col_index, cell in enumerate(row):
                if cell is not None and not isinstance(cell, str | int | float | bool):
                    raise FixtureError(
                        f"{where}: values[{row_index}][{col_index}] must be a string, number, boolean or null"
                    )
        sizes = {}
        for field, default in (("rowCount", max(1000, len(values))), ("columnCount", 26)):
            size = tab.get(field, default)
            if not _is(size, _INT) or size < 1:
                raise FixtureError(f"{where}: field '{field}' must be a positive integer, got {size!r}")
            sizes[field] = size
        worksheets.append(
            Worksheet(
                title=tab["title"],
                sheet_id=sheet_id,
                values=values,
                row_count=sizes["rowCount"],
                column_count=sizes["columnCount"],
            )
        )
    return Spreadsheet(spreadsheet_id=spreadsheet_id, title=title, worksheets=worksheets)


def _keyed(objects: list[JsonObject], key: str) -> dict[Any, JsonObject]:
    return {obj[key]: obj for obj in objects}


def _group_item_suppliers(data: SandboxData, rows: list[JsonObject]) -> None:
    """ItemSupplier rows under their item, in file order (the API serves them per item)."""
    for row in rows:
        data.wawi.item_suppliers.setdefault(row["ItemId"], []).append(row)


def _group_item_images(data: SandboxData, rows: list[JsonObject]) -> None:
    """ItemImage rows under their item, in file order."""
    for row in rows:
        data.wawi.item_images.setdefault(row["ItemId"], []).append(row)


def _group_property_values(data: SandboxData, rows: list[JsonObject]) -> None:
    """PropertyValue objects under their property (their ``PropertyId`` is the fixture's, not the API's)."""
    for row in rows:
        value = dict(row)
        data.wawi.property_values.setdefault(value.pop("PropertyId"), []).append(value)


def _group_channel_prices(data: SandboxData, rows: list[JsonObject]) -> None:
    """ItemSalesChannelPrice rows under their item, in file order (served per item)."""
    for row in rows:
        data.wawi.sales_channel_prices.setdefault(row["ItemId"], []).append(row)


def _group_return_lines(data: SandboxData, rows: list[JsonObject]) -> None:
    """ReturnLineItem rows under their return, in file order (served per return)."""
    for row in rows:
        data.wawi.return_line_items.setdefault(row["ReturnId"], []).append(row)


def _group_custom_values(owner: str, target: dict[int, list[JsonObject]], rows: list[JsonObject]) -> None:
    """CustomFieldValue rows under their item or order (the owner key is the fixture's, not the API's)."""
    for row in rows:
        value = dict(row)
        target.setdefault(value.pop(owner), []).append(value)


_ASSIGN: dict[str, Callable[[SandboxData, list[JsonObject]], None]] = {
    "ffn/products.json": lambda d, xs: d.ffn.products.update(_keyed(xs, "jfsku")),
    "ffn/stocks.json": lambda d, xs: d.ffn.stocks.update(_keyed(xs, "jfsku")),
    "ffn/inbounds.json": lambda d, xs: d.ffn.inbounds.update(_keyed(xs, "inboundId")),
    "ffn/outbounds.json": lambda d, xs: d.ffn.outbounds.update(_keyed(xs, "outboundId")),
    "ffn/warehouses.json": lambda d, xs: d.ffn.warehouses.update(_keyed(xs, "warehouseId")),
    "ffn/shippingmethods.json": lambda d, xs: d.ffn.shipping_methods.update(_keyed(xs, "shippingMethodId")),
    "wawi/items.json": lambda d, xs: d.wawi.items.update(_keyed(xs, "Id")),
    "wawi/salesOrders.json": lambda d, xs: d.wawi.sales_orders.update(_keyed(xs, "Id")),
    "wawi/stocks.json": lambda d, xs: d.wawi.stocks.extend(xs),
    "wawi/customers.json": lambda d, xs: d.wawi.customers.update(_keyed(xs, "Id")),
    "wawi/suppliers.json": lambda d, xs: d.wawi.suppliers.update(_keyed(xs, "Id")),
    "wawi/itemSuppliers.json": lambda d, xs: _group_item_suppliers(d, xs),
    "wawi/manufacturers.json": lambda d, xs: d.wawi.manufacturers.update(_keyed(xs, "Id")),
    "wawi/itemProperties.json": lambda d, xs: d.wawi.item_properties.update(
        {x["ItemId"]: list(x["Properties"]) for x in xs}
    ),
    "wawi/warehouses.json": lambda d, xs: d.wawi.warehouses.update(_keyed(xs, "Id")),
    "wawi/categories.json": lambda d, xs: d.wawi.categories.update(_keyed(xs, "Id")),
    "wawi/purchaseOrders.json": lambda d, xs: d.wawi.purchase_orders.update(_keyed(xs, "Id")),
    "wawi/onHoldReasons.json": lambda d, xs: d.wawi.on_hold_reasons.extend(xs),
    "wawi/shippingMethods.json": lambda d, xs: d.wawi.shipping_methods.extend(xs),
    "wawi/paymentMethods.json": lambda d, xs: d.wawi.payment_methods.extend(xs),
    "wawi/itemImages.json": _group_item_images,
    "wawi/properties.json": lambda d, xs: d.wawi.properties.update(_keyed(xs, "Id")),
    "wawi/propertyValues.json": _group_property_values,
    "wawi/companies.json": lambda d, xs: d.wawi.companies.update(_keyed(xs, "Id")),
    "wawi/taxClasses.json": lambda d, xs: d.wawi.tax_classes.update(_keyed(xs, "Id")),
    "wawi/taxRates.json": lambda d, xs: d.wawi.tax_rates.extend(xs),
    "wawi/salesChannels.json": lambda d, xs: d.wawi.sales_channels.extend(xs),
    "wawi/customerGroups.json": lambda d, xs: d.wawi.customer_groups.update(_keyed(xs, "Id")),
    "wawi/itemSalesChannelPrices.json": lambda d, xs: _group_channel_prices(d, xs),
    "wawi/itemSpecialPrices.json": lambda d, xs: d.wawi.special_prices.update(_keyed(xs, "ItemId")),
    "wawi/returns.json": lambda d, xs: d.wawi.returns.update(_keyed(xs, "Id")),
    "wawi/itemCustomFields.json": lambda d, xs: d.wawi.item_custom_fields.update(_keyed(xs, "CustomFieldId")),
    "wawi/itemCustomFieldValues.json": lambda d, xs: _group_custom_values(
        "ItemId", d.wawi.item_custom_field_values, xs
    ),
    "wawi/salesOrderCustomFields.json": lambda d, xs: d.wawi.sales_order_custom_fields.update(
        _keyed(xs, "CustomFieldId")
    ),
    "wawi/salesOrderCustomFieldValues.json": lambda d, xs: _group_custom_values(
        "SalesOrderId", d.wawi.sales_order_custom_field_values, xs
    ),
    "wawi/returnLineItems.json": lambda d, xs: _group_return_lines(d, xs),
    "wawi/returnReasons.json": lambda d, xs: d.wawi.return_reasons.extend(xs),
    "wawi/returnStates.json": lambda d, xs: d.wawi.return_states.extend(xs),
}


def load_fixture_dir(path: str | Path) -> SandboxData:
    """Read a fixture folder (layout in the module docstring) into a fresh :class:`SandboxData`."""
    root = Path(path)
    if not root.is_dir():
        raise FixtureError(f"{root}: fixture folder does not exist")
    data = SandboxData()
    contents: dict[str, list[JsonObject]] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if any(part.startswith(".") for part in file.relative_to(root).parts) or rel.endswith(".md"):
            continue
        if rel.startswith("sheets/") and rel.endswith(".json") and rel.count("/") == 1:
            spreadsheet_id = rel.removeprefix("sheets/").removesuffix(".json")
            data.spreadsheets[spreadsheet_id] = _load_sheet(rel, _read_json(file, rel), spreadsheet_id)
        elif rel == _ACCOUNT_FILE:
            _load_account(data, rel, _read_json(file, rel))
        elif rel in _RESOURCES:
            contents[rel] = _check_objects(rel, _read_json(file, rel), _RESOURCES[rel])
        else:
            known = ", ".join([*sorted(_RESOURCES), _ACCOUNT_FILE, "sheets/<spreadsheetId>.json"])
            raise FixtureError(f"{rel}: unknown fixture file (known: {known})")
    for rel, objects in contents.items():
        if rel in _ASSIGN:
            _ASSIGN[rel](data, objects)
    _load_line_items(data, contents)
    for notification in contents.get("ffn/shipping-notifications.json", []):
        data.ffn.shipping_notifications.setdefault(notification["outboundId"], []).append(notification)
    return data


def _load_account(data: SandboxData, rel: str, content: Any) -> None:
    if not isinstance(content, dict):
        raise FixtureError(f"{rel}: expected an object {{merchantId, fulfillerId, userId}}")
    for field, attr in (
        ("merchantId", "merchant_id"),
        ("fulfillerId", "fulfiller_id"),
        ("userId", "user_id"),
    ):
        if field in content:
            if not isinstance(content[field], str):
                raise FixtureError(f"{rel}: field '{field}' must be a string, got {content[field]!r}")
            setattr(data.ffn, attr, content[field])


def _load_line_items(data: SandboxData, contents: dict[str, list[JsonObject]]) -> None:
    orders_rel, lines_rel = "wawi/salesOrders.json", "wawi/salesOrderLineItems.json"
    for index, order in enumerate(contents.get(orders_rel, [])):
        inline = order.pop("LineItems", None)
        if inline is None:
            continue
        for line_index, line in enumerate(inline):
            where = f"{orders_rel}[{index}].LineItems[{line_index}]"
            if not isinstance(line, dict):
                raise FixtureError(f"{where}: expected an object, got {type(line).__name__}")
            if not _is(line.get("Id"), _INT):
                raise FixtureError(f"{where}: field 'Id' must be an integer, got {line.get('Id')!r}")
            if "SalesOrderId" in line and line["SalesOrderId"] != order["Id"]:
                raise FixtureError(f"{where}: field 'SalesOrderId' {line['SalesOrderId']!r} != order Id")
            line.setdefault("SalesOrderId", order["Id"])
        data.wawi.line_items.setdefault(order["Id"], []).extend(inline)
    for index, line in enumerate(contents.get(lines_rel, [])):
        if line["SalesOrderId"] not in data.wawi.sales_orders:
            raise FixtureError(
                f"{lines_rel}[{index}]: field 'SalesOrderId' {line['SalesOrderId']!r} matches no sales order"
            )
        data.wawi.line_items.setdefault(line["SalesOrderId"], []).append(line)


def _write(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def dump_fixture_dir(data: SandboxData, path: str | Path) -> None:
    """Write ``data`` in the layout :func:`load_fixture_dir` reads (line items in their own file)."""
    root = Path(path)
    ffn, wawi = data.ffn, data.wawi
    with data.lock:
        _write(
            root / _ACCOUNT_FILE,
            {"merchantId": ffn.merchant_id, "fulfillerId": ffn.fulfiller_id, "userId": ffn.user_id},
        )
        files: dict[str, list[JsonObject]] = {
            "ffn/products.json": list(ffn.products.values()),
            "ffn/stocks.json": list(ffn.stocks.values()),
            "ffn/inbounds.json": list(ffn.inbounds.values()),
            "ffn/outbounds.json": list(ffn.outbounds.values()),
            "ffn/warehouses.json": list(ffn.warehouses.values()),
            "ffn/shippingmethods.json": list(ffn.shipping_methods.values()),
            "ffn/shipping-notifications.json": [n for ns in ffn.shipping_notifications.values() for n in ns],
            "wawi/items.json": list(wawi.items.values()),
            "wawi/salesOrders.json": list(wawi.sales_orders.values()),
            "wawi/salesOrderLineItems.json": [line for lines in wawi.line_items.values() for line in lines],
            "wawi/stocks.json": list(wawi.stocks),
            "wawi/customers.json": list(wawi.customers.values()),
            "wawi/suppliers.json": list(wawi.suppliers.values()),
            "wawi/itemSuppliers.json": [row for rows in wawi.item_suppliers.values() for row in rows],
            "wawi/manufacturers.json": list(wawi.manufacturers.values()),
            "wawi/itemProperties.json": [
                {"ItemId": item_id, "Properties": rows} for item_id, rows in wawi.item_properties.items()
            ],
            "wawi/warehouses.json": list(wawi.warehouses.values()),
            "wawi/categories.json": list(wawi.categories.values()),
            "wawi/purchaseOrders.json": list(wawi.purchase_orders.values()),
            "wawi/onHoldReasons.json": list(wawi.on_hold_reasons),
            "wawi/shippingMethods.json": list(wawi.shipping_methods),
            "wawi/paymentMethods.json": list(wawi.payment_methods),
            "wawi/itemImages.json": [row for rows in wawi.item_images.values() for row in rows],
            "wawi/properties.json": list(wawi.properties.values()),
            "wawi/propertyValues.json": [
                {"PropertyId": pid, **value}
                for pid, values in wawi.property_values.items()
                for value in values
            ],
            "wawi/companies.json": list(wawi.companies.values()),
            "wawi/taxClasses.json": list(wawi.tax_classes.values()),
            "wawi/taxRates.json": list(wawi.tax_rates),
            "wawi/salesChannels.json": list(wawi.sales_channels),
            "wawi/customerGroups.json": list(wawi.customer_groups.values()),
            "wawi/itemSalesChannelPrices.json": [
                r for rows in wawi.sales_channel_prices.values() for r in rows
            ],
            "wawi/itemSpecialPrices.json": list(wawi.special_prices.values()),
            "wawi/returns.json": list(wawi.returns.values()),
            "wawi/itemCustomFields.json": list(wawi.item_custom_fields.values()),
            "wawi/itemCustomFieldValues.json": [
                {"ItemId": item_id, **row}
                for item_id, rows in wawi.item_custom_field_values.items()
                for row in rows
            ],
            "wawi/salesOrderCustomFields.json": list(wawi.sales_order_custom_fields.values()),
            "wawi/salesOrderCustomFieldValues.json": [
                {"SalesOrderId": order_id, **row}
                for order_id, rows in wawi.sales_order_custom_field_values.items()
                for row in rows
            ],
            "wawi/returnLineItems.json": [r for rows in wawi.return_line_items.values() for r in rows],
            "wawi/returnReasons.json": list(wawi.return_reasons),
            "wawi/returnStates.json": list(wawi.return_states),
        }
        for rel, objects in files.items():
            _write(root / rel, objects)
        for spreadsheet in data.spreadsheets.values():
            _write(
                root / "sheets" / f"{spreadsheet.spreadsheet_id}.json",
                {
                    "title": spreadsheet.title,
                    "sheets": [
                        {
                            "title": ws.title,
                            "sheetId": ws.sheet_id,
                            "values": ws.values,
                            "rowCount": ws.row_count,
                            "columnCount": ws.column_count,
                        }
                        for ws in spreadsheet.worksheets
                    ],
                },
            )
