"""JTL-Wawi sales orders as frames, the FFN outbound body for one order, and the run's outcome summary.

Pure functions only: the flow fetches, these decide, the flow writes. Payloads from the real API omit keys
and sometimes carry the wrong types, so flattening never raises on content: a missing or unreadable value
becomes <NA> and the validation rules (``orders_rules``) turn it into a failure with a code.

Address rule: the order ships to ``Shipmentaddress`` when it carries any address content (street, city,
country, postcode, last name or company); otherwise to ``BillingAddress`` (Wawi itself copies the billing
address when an order has no separate delivery address). Fields are never mixed across the two addresses,
since a street from one and a city from the other is a parcel to nowhere. ``address_source`` records which
one was used ("shipment", "billing" or "none").

Delivery rule: Wawi's ``DeliveryCompleteStatus`` is 0 = not complete, 1 = complete, 2 = complete without a
delivery note; an order whose status is 0 may still have lines (partly) delivered, which ``QuantityDelivered``
says per line. :func:`open_lines` turns the lines into what is still to ship: ``Quantity − QuantityDelivered``
per item line, fully delivered lines left out, so no delivered unit is ever sent again.

Line rule: a line is an item line (stock, SKU and quantity matter) when its ``Type`` is 1 (Item) or 11
(GiftForFree), or when ``Type`` is missing or unreadable, so that a malformed line is checked rather than
silently left out of the parcel. Shipping lines (2, 6, 9) become the outbound's ``shippingFee``; all other
types (free text, coupons, payment fees …) count only towards the order value.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import ValidationError

from jtl_automator.clients.ffn.models import OutboundCreate, ShippingType

ITEM_LINE_TYPES: frozenset[int] = frozenset({1, 11})  # Item, GiftForFree
SHIPPING_FEE_LINE_TYPES: frozenset[int] = frozenset({2, 6, 9})  # Shipping, ShippingSurcharge(Item)

ADDRESS_COLUMNS: dict[str, str] = {  # frame column -> Wawi Address key
    "salutation": "FormOfAddress",
    "firstname": "FirstName",
    "lastname": "LastName",
    "company": "Company",
    "street": "Street",
    "address2": "Address2",
    "postcode": "PostalCode",
    "city": "City",
    "state": "State",
    "country": "CountryIso",
    "email": "EmailAddress",
    "phone": "PhoneNumber",
    "mobile": "MobilePhoneNumber",
}
_ADDRESS_CONTENT_KEYS = ("Street", "City", "CountryIso", "PostalCode", "LastName", "Company")

ORDERS_DTYPES: dict[str, str] = {
    "order_id": "Int64",
    "order_number": "string",
    "external_number": "string",
    "order_date": "datetime64[us, UTC]",
    "customer_id": "Int64",
    "payment_status": "Int64",
    "payment_method_id": "Int64",
    "shipping_method_id": "Int64",
    "total_gross": "Float64",
    "currency": "string",
    "is_cancelled": "boolean",
    "on_hold_reason_id": "Int64",
    "delivery_status": "Int64",
    "comment": "string",
    "contact_email": "string",
    "contact_name": "string",
    "address_source": "string",
    **dict.fromkeys(ADDRESS_COLUMNS, "string"),
}
LINES_DTYPES: dict[str, str] = {
    "order_id": "Int64",
    "position": "int64",
    "line_id": "Int64",
    "item_id": "Int64",
    "sku": "string",
    "name": "string",
    "type": "Int64",
    "is_item": "bool",
    "quantity": "Float64",
    "quantity_delivered": "Float64",
    "price_net": "Float64",
    "price_gross": "Float64",
    "discount": "Float64",
    "tax_rate": "Float64",
    "purchase_price_net": "Float64",
}


def _unique_when_present(series: pd.Series) -> bool:
    return bool(series.dropna().is_unique)


ORDERS_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(
            dtype,
            nullable=True,
            checks=[pa.Check(_unique_when_present, element_wise=False, error="order_id must be unique")]
            if name == "order_id"
            else [],
        )
        for name, dtype in ORDERS_DTYPES.items()
    },
    name="orders",
)
LINES_SCHEMA = pa.DataFrameSchema(
    {name: pa.Column(dtype, nullable=dtype not in ("bool", "int64")) for name, dtype in LINES_DTYPES.items()},
    name="order_lines",
)

_TRUE_STRINGS = frozenset({"true", "1", "yes"})
_FALSE_STRINGS = frozenset({"false", "0", "no"})


def _text(value: Any) -> str | None:
    """Strings stripped, numbers as their plain text (an int postcode), everything else unreadable."""
    if type(value) is str:
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else str(value)
    return None


def _number(value: Any) -> float | None:
    """JSON numbers and numeric strings; booleans, NaN and infinities are unreadable, not 1.0/0.0."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    if type(value) is int:
        return value
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE_STRINGS | _FALSE_STRINGS:
        return value.strip().lower() in _TRUE_STRINGS
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _dict(value: Any) -> Mapping[str, Any]:
    if type(value) is dict:
        return value
    return value if isinstance(value, Mapping) else {}


def _shipping_address(order: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    for source, key in (("shipment", "Shipmentaddress"), ("billing", "BillingAddress")):
        address = _dict(order.get(key))
        if any(_text(address.get(k)) for k in _ADDRESS_CONTENT_KEYS):
            return source, address
    return "none", {}


def _contact(order: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Who to e-mail: the first of shipment and billing address with an e-mail (text with an @), its name."""
    for key in ("Shipmentaddress", "BillingAddress"):
        address = _dict(order.get(key))
        value = address.get("EmailAddress")
        email = value.strip() if isinstance(value, str) else None
        if email and "@" in email:
            name = " ".join(filter(None, (_text(address.get("FirstName")), _text(address.get("LastName")))))
            return email, name or _text(address.get("Company"))
    return None, None


def _order_date(values: list[Any]) -> pd.Series:
    """ISO-8601 dates to UTC; naive timestamps are taken as UTC (they only order the batch)."""
    texts = pd.Series([v if isinstance(v, str) else None for v in values], dtype=object)
    parsed = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
    return parsed.astype("datetime64[us, UTC]")


_NONE = type(None)
_ORDER_FIELDS: dict[str, tuple[str, str]] = {  # column -> (part of the SalesOrder, key)
    "order_number": ("order", "Number"),
    "external_number": ("order", "ExternalNumber"),
    "customer_id": ("order", "CustomerId"),
    "payment_status": ("payment", "PaymentStatus"),
    "payment_method_id": ("payment", "PaymentMethodId"),
    "shipping_method_id": ("shipping", "ShippingMethodId"),
    "on_hold_reason_id": ("shipping", "OnHoldReasonId"),
    "delivery_status": ("shipping", "DeliveryCompleteStatus"),
    "total_gross": ("payment", "TotalGrossAmount"),
    **{column: ("address", key) for column, key in ADDRESS_COLUMNS.items()},
}
_LINE_FIELDS: dict[str, str] = {
    "line_id": "Id",
    "item_id": "ItemId",
    "sku": "SKU",
    "name": "Name",
    "type": "Type",
    "quantity": "Quantity",
    "quantity_delivered": "QuantityDelivered",
    "price_net": "SalesPriceNet",
    "price_gross": "SalesPriceGross",
    "discount": "Discount",
    "tax_rate": "TaxRate",
    "purchase_price_net": "PurchasePriceNet",
}


def _column(values: list[Any], dtype: str) -> Any:
    """Coerce one column: clean JSON (the normal case) goes vectorised, anything else value by value."""
    types = set(map(type, values))
    if dtype == "string":
        if types <= {str, _NONE}:
            series = pd.Series(values, dtype="string").str.strip()
            return series.mask(series.eq("").fillna(False)).array
        return pd.array([_text(v) for v in values], dtype="string")
    if dtype == "Int64":
        if types <= {int, _NONE}:
            return pd.array(values, dtype="Int64")
        return pd.array([_integer(v) for v in values], dtype="Int64")
    if dtype == "Float64":
        if types <= {int, float, _NONE}:
            array = pd.array(values, dtype="Float64")
            array[array.isna() | ~np.isfinite(array.fillna(0.0).to_numpy(dtype="float64"))] = pd.NA
            return array
        return pd.array([_number(v) for v in values], dtype="Float64")
    if dtype == "boolean":
        return pd.array([_flag(v) for v in values], dtype="boolean")
    raise ValueError(f"no coercion for dtype {dtype}")  # pragma: no cover - programming error


def sales_orders_frame(sales_orders: Iterable[Any]) -> pd.DataFrame:
    """Flatten Wawi v1 SalesOrder JSON into the orders frame: the only place an order's JSON is read.

    An ``Id`` seen twice (a page overlap while orders change) is one order: the first occurrence is kept.
    Anything that is not a dict counts as an empty object, so it shows up as an order without an id
    instead of vanishing. ``comment`` is kept exactly as written (people's text is rewritten around our
    line, never trimmed); ``contact_email``/``contact_name`` follow :func:`_contact`.
    """
    raw: dict[str, list[Any]] = {
        name: [] for name in (*_ORDER_FIELDS, "currency", "is_cancelled", "date", "comment")
    }
    order_ids: list[int | None] = []
    sources: list[str] = []
    contacts: list[tuple[str | None, str | None]] = []
    seen: set[int] = set()
    for item in sales_orders:
        order = _dict(item)
        order_id = _integer(order.get("Id"))
        if order_id is not None:
            if order_id in seen:
                continue
            seen.add(order_id)
        order_ids.append(order_id)
        source, address = _shipping_address(order)
        sources.append(source)
        contacts.append(_contact(order))
        parts = {
            "order": order,
            "payment": _dict(order.get("SalesOrderPaymentDetails")),
            "shipping": _dict(order.get("SalesOrderShippingDetail")),
            "address": address,
        }
        for column, (part, key) in _ORDER_FIELDS.items():
            raw[column].append(parts[part].get(key))
        currency = parts["payment"].get("CurrencyIso")
        if _text(currency) is None:
            currency = _dict(order.get("DepartureCountry")).get("CurrencyIso")
        raw["currency"].append(currency)
        raw["is_cancelled"].append(order.get("IsCancelled"))
        raw["date"].append(order.get("SalesOrderDate"))
        comment = order.get("Comment")
        raw["comment"].append(comment if isinstance(comment, str) else None)

    data: dict[str, Any] = {
        "order_id": pd.array(order_ids, dtype="Int64"),
        "order_date": _order_date(raw["date"]).array,
        "address_source": pd.array(sources, dtype="string"),
        "comment": pd.array(raw["comment"], dtype="string"),
        "contact_email": pd.array([email for email, _ in contacts], dtype="string"),
        "contact_name": pd.array([name for _, name in contacts], dtype="string"),
    }
    for column in (*_ORDER_FIELDS, "currency", "is_cancelled"):
        data[column] = _column(raw[column], ORDERS_DTYPES[column])
    orders = pd.DataFrame(data)[list(ORDERS_DTYPES)]
    orders["country"] = orders["country"].str.upper()
    orders["currency"] = orders["currency"].str.upper()
    return ORDERS_SCHEMA.validate(orders)


def line_items_frame(line_items: Mapping[int, Sequence[Any]], order_ids: Iterable[Any]) -> pd.DataFrame:
    """Flatten SalesOrderLineItem JSON (``/salesOrders/{id}/lineitems`` per order) into the lines frame.

    Lines of orders not in ``order_ids`` are left out; a line that is not a dict becomes a line of
    unknown values (checked, not dropped).
    """
    wanted = {i for i in order_ids if i is not None and i is not pd.NA}
    line_raw: dict[str, list[Any]] = {name: [] for name in ("order_id", "position", *_LINE_FIELDS)}
    for order_key, lines in line_items.items():
        order_id = _integer(order_key)
        if order_id is None or order_id not in wanted or isinstance(lines, str | bytes | Mapping):
            continue
        if not isinstance(lines, Iterable):
            continue
        for position, raw_line in enumerate(lines, start=1):
            line = _dict(raw_line)
            line_raw["order_id"].append(order_id)
            line_raw["position"].append(position)
            for column, key in _LINE_FIELDS.items():
                line_raw[column].append(line.get(key))
    line_data: dict[str, Any] = {
        "order_id": pd.array(line_raw["order_id"], dtype="Int64"),
        "position": np.array(line_raw["position"], dtype="int64"),
    }
    for column in _LINE_FIELDS:
        line_data[column] = _column(line_raw[column], LINES_DTYPES[column])
    lines_df = pd.DataFrame(line_data)
    lines_df["is_item"] = (lines_df["type"].isna() | lines_df["type"].isin(ITEM_LINE_TYPES)).astype(bool)
    lines_df = lines_df[list(LINES_DTYPES)].sort_values(["order_id", "position"], kind="stable")
    return LINES_SCHEMA.validate(lines_df.reset_index(drop=True))


#: The address fields an outbound is sent to; a change in any of them after the outbound is a re-address.
FINGERPRINT_COLUMNS = (
    "salutation",
    "firstname",
    "lastname",
    "company",
    "street",
    "address2",
    "postcode",
    "city",
    "state",
    "country",
)


def address_fingerprints(orders: pd.DataFrame) -> pd.Series:
    """A short hash of each order's shipping address as the outbound carries it (NA parts as empty).

    Stored when the outbound is made; a later listing with another fingerprint means the order was
    re-addressed in Wawi after its parcel was ordered.
    """
    parts = orders[list(FINGERPRINT_COLUMNS)].astype("string").fillna("")
    joined = parts.agg("\x1f".join, axis=1) if len(parts) else pd.Series([], dtype=object)
    return joined.map(lambda text: hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]).astype(object)


@dataclass(frozen=True)
class OpenLines:
    """The lines still to ship, and which orders were delivered in part or completely already."""

    lines: pd.DataFrame
    partial: frozenset[int]
    complete: frozenset[int]


def open_lines(lines: pd.DataFrame) -> OpenLines:
    """Item lines reduced to their open quantity (``Quantity − QuantityDelivered``); see the delivery rule.

    A line whose ``QuantityDelivered`` is negative, fractional or above its ``Quantity`` is kept as it is
    (the QUANTITY_INVALID rule holds its order); other lines leave with ``quantity_delivered`` 0, since
    of what is still open nothing is delivered. An order is ``complete`` when it has item lines and every
    one of them is fully delivered, ``partial`` when some units are delivered and some are not.
    """
    delivered = lines["quantity_delivered"].fillna(0.0)
    quantity = lines["quantity"]
    readable = (
        (delivered >= 0) & (delivered == delivered.round()) & (quantity.isna() | (delivered <= quantity))
    )
    counted = (lines["is_item"] & readable.fillna(False)).astype(bool)
    touched = counted & (delivered > 0).fillna(False).astype(bool)
    remaining = (quantity - delivered).where(counted, quantity)
    done = (touched & (remaining <= 0).fillna(False)).astype(bool)
    items = lines.loc[lines["is_item"], ["order_id"]].assign(done=done, touched=touched)
    per_order = items.groupby("order_id")[["done", "touched"]].agg(["all", "any"])
    complete = frozenset(int(i) for i in per_order.index[per_order[("done", "all")]])
    partial = frozenset(int(i) for i in per_order.index[per_order[("touched", "any")]]) - complete
    result = lines.assign(
        quantity=remaining.astype("Float64"),
        quantity_delivered=lines["quantity_delivered"].mask(counted, 0.0).astype("Float64"),
    ).loc[~done]
    return OpenLines(LINES_SCHEMA.validate(result.reset_index(drop=True)), partial, complete)


def orders_frame(
    sales_orders: Iterable[Any], line_items: Mapping[int, Sequence[Any]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames at once: :func:`sales_orders_frame` and the lines of those orders."""
    orders = sales_orders_frame(sales_orders)
    return orders, line_items_frame(line_items, orders["order_id"].dropna().tolist())


# --------------------------------------------------------------------------------------------------
# FFN outbound create body
# --------------------------------------------------------------------------------------------------


class OutboundPayloadError(ValueError):
    """A body FFN would reject; raised before any HTTP call. Names fields, never echoes customer data."""

    def __init__(self, order_number: str | None, problems: Sequence[str]) -> None:
        self.order_number = order_number
        self.problems = tuple(problems)
        super().__init__(f"order {order_number!r}: outbound payload invalid: " + "; ".join(self.problems))


def _present(value: Any) -> Any:
    """Pandas' missing markers (NA, NaN, NaT) as None, numpy scalars as Python ones."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, datetime) else value


def _unit_gross(line: Mapping[str, Any]) -> float | None:
    gross, net, tax = (
        _present(line.get("price_gross")),
        _present(line.get("price_net")),
        _present(line.get("tax_rate")),
    )
    if gross is None and net is not None:
        gross = net * (1 + (tax or 0) / 100)
    if gross is None:
        return None
    discount = _present(line.get("discount"))
    return float(gross) * (1 - float(discount) / 100) if discount else float(gross)


def outbound_address(order_row: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    """An order's shipping address as FFN's ``Address`` (camelCase; missing parts as None)."""
    order = {key: _present(value) for key, value in dict(order_row).items()}
    return {
        "salutation": order.get("salutation"),
        "firstname": order.get("firstname"),
        "lastname": order.get("lastname"),
        "company": order.get("company"),
        "street": order.get("street"),
        "extraAddressLine": order.get("address2"),
        "zip": order.get("postcode"),
        "city": order.get("city"),
        "state": order.get("state"),
        "country": order.get("country"),
        "email": order.get("email"),
        "phone": order.get("phone"),
        "mobile": order.get("mobile"),
    }


def outbound_payload(
    order_row: Mapping[str, Any] | pd.Series,
    lines: pd.DataFrame | Iterable[Mapping[str, Any]],
    jfsku_map: Mapping[str, str],
    warehouse_id: str,
    shipping_method_map: Mapping[int, str] | None = None,
    default_shipping_type: ShippingType = "Standard",
    *,
    default_currency: str = "EUR",
) -> dict[str, Any]:
    """The FFN outbound create body for one order (a row of ``orders_frame`` and its lines).

    merchantOutboundNumber is the Wawi order Number: it is the key the exactly-once lookup searches by.
    The Wawi ShippingMethodId goes out as the mapped FFN shippingMethodId when ``shipping_method_map`` has
    it, otherwise as ``default_shipping_type``. Item price is the gross unit price after the line discount.
    ``orderValue`` is the order's TotalGrossAmount, or the sum over all lines when Wawi left it out.
    Raises ``OutboundPayloadError`` for anything FFN would reject.
    """
    order = {key: _present(value) for key, value in dict(order_row).items()}
    records = cast(
        "list[dict[str, Any]]",
        lines.to_dict("records") if isinstance(lines, pd.DataFrame) else [dict(line) for line in lines],
    )
    records.sort(key=lambda line: _present(line.get("position")) or 0)
    order_number = order.get("order_number")
    problems: list[str] = []

    items_lines = [line for line in records if bool(_present(line.get("is_item")))]
    line_ids = [_present(line.get("line_id")) for line in items_lines]
    use_ids = None not in line_ids and len(set(line_ids)) == len(line_ids)
    items: list[dict[str, Any]] = []
    for line, line_id in zip(items_lines, line_ids, strict=True):
        sku = _present(line.get("sku"))
        jfsku = jfsku_map.get(sku) if sku is not None else None
        if jfsku is None:
            problems.append(f"items: line {_present(line.get('position'))} sku {sku!r} has no jfsku")
            continue
        quantity = _present(line.get("quantity"))
        price = _unit_gross(line)
        name = _present(line.get("name"))
        items.append(
            {
                "outboundItemId": str(line_id if use_ids else _present(line.get("position"))),
                "itemType": "Product",
                "jfsku": jfsku,
                "merchantSku": sku,
                "name": name[:255] if isinstance(name, str) else None,
                "quantity": int(quantity)
                if isinstance(quantity, float) and quantity.is_integer()
                else quantity,
                "price": round(price, 4) if price is not None else None,
                "vat": _present(line.get("tax_rate")),
            }
        )

    def line_total(line: Mapping[str, Any]) -> float:
        price, quantity = _unit_gross(line), _present(line.get("quantity"))
        return price * quantity if price is not None and quantity is not None else 0.0

    fee_lines = [line for line in records if _present(line.get("type")) in SHIPPING_FEE_LINE_TYPES]
    shipping_fee = round(sum(line_total(line) for line in fee_lines), 2) if fee_lines else None
    order_value = order.get("total_gross")
    if order_value is None and records:
        order_value = round(sum(line_total(line) for line in records), 2)

    wawi_method = order.get("shipping_method_id")
    ffn_method = (
        shipping_method_map.get(wawi_method) if shipping_method_map and wawi_method is not None else None
    )
    body = {
        "merchantOutboundNumber": order_number,
        "externalNumber": order.get("external_number"),
        "warehouseId": warehouse_id,
        "currency": order.get("currency") or default_currency,
        "shippingMethodId": ffn_method,
        "shippingType": None if ffn_method else default_shipping_type,
        "shippingAddress": outbound_address(order),
        "orderValue": order_value,
        "shippingFee": shipping_fee,
        "items": items,
    }
    try:
        model = OutboundCreate.model_validate(body)  # the client's write model: FFN's rules, once
    except ValidationError as exc:
        problems.extend(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
    if problems:
        raise OutboundPayloadError(order_number, problems)
    return model.to_api()


# --------------------------------------------------------------------------------------------------
# Outcomes and summary
# --------------------------------------------------------------------------------------------------

OUTCOMES_DTYPES: dict[str, str] = {
    "order_id": "Int64",
    "order_number": "string",
    "outcome": "string",
    "warehouse_id": "string",
    "reason": "string",
}


def summarise(outcomes_df: pd.DataFrame) -> dict[str, Any]:
    """Counts per outcome and every order that carries a reason (held, invalid, failed), for the artifact.

    ``outcomes_df`` has at least ``order_id, order_number, outcome, reason`` (see ``outcomes_frame``; the
    flow may add its own outcomes such as "created" or "failed"). Plain Python types only, so the result
    is JSON-ready; held orders are listed in order number order.
    """
    counts = outcomes_df["outcome"].astype("string").fillna("unknown").value_counts()
    held = outcomes_df.loc[outcomes_df["reason"].notna(), ["order_id", "order_number", "outcome", "reason"]]
    held = held.sort_values(["order_number", "order_id"], na_position="last", kind="stable")
    return {
        "total": len(outcomes_df),
        "counts": {str(k): int(v) for k, v in sorted(counts.items())},
        "held": [
            {key: _present(value) for key, value in record.items()} for record in held.to_dict("records")
        ],
    }
