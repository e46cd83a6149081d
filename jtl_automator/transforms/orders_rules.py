"""Validation rules for sales orders: each rule has a stable code, a message naming the field, and a test.

Rules look at whole columns at once; only the (few) failing rows get a Python-formatted message. Each
rule yields at most one failure per order, so a 150-line order with ten unknown SKUs is one SKU_UNKNOWN
row that lists them (the first ``_MAX_LISTED``), which is what goes into the Wawi hold reason.

Codes beyond the issue's list: ORDER_ID_MISSING (no usable ``Id``: the order can be neither held nor
shipped), ORDER_NUMBER_MISSING (the Number is FFN's merchantOutboundNumber and the exactly-once key) and
ORDER_CANCELLED (``IsCancelled``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jtl_automator.limits import ORDER_NUMBER_MAX
from jtl_automator.transforms.orders import LINES_SCHEMA, ORDERS_SCHEMA


class FailureCode(StrEnum):
    """Stable codes: the flow, the state database and the Wawi hold reasons key on them."""

    ORDER_ID_MISSING = "ORDER_ID_MISSING"
    ORDER_NUMBER_MISSING = "ORDER_NUMBER_MISSING"
    ORDER_NUMBER_TOO_LONG = "ORDER_NUMBER_TOO_LONG"
    DUPLICATE_ORDER_NUMBER = "DUPLICATE_ORDER_NUMBER"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ADDRESS_INCOMPLETE = "ADDRESS_INCOMPLETE"
    COUNTRY_INVALID = "COUNTRY_INVALID"
    POSTCODE_INVALID = "POSTCODE_INVALID"
    NO_LINES = "NO_LINES"
    TOO_MANY_LINES = "TOO_MANY_LINES"
    SKU_UNKNOWN = "SKU_UNKNOWN"
    QUANTITY_INVALID = "QUANTITY_INVALID"
    PAYMENT_NOT_CLEARED = "PAYMENT_NOT_CLEARED"
    PARTIALLY_DELIVERED = "PARTIALLY_DELIVERED"


# ISO 3166-1 alpha-2, officially assigned codes.
ISO_COUNTRIES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW
    BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI
    FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN
    IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
    PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS
    YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 - a grid of codes is easier to check than a list literal
)

_GB_POSTCODE = (
    r"GIR ?0AA|(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]) ?[0-9][ABD-HJLNP-UW-Z]{2}"
)
# country -> (full-match regex on the upper-cased postcode, what the message says is expected)
POSTCODE_FORMATS: dict[str, tuple[str, str]] = {
    "DE": (r"\d{5}", "5 digits"),
    "AT": (r"\d{4}", "4 digits"),
    "CH": (r"\d{4}", "4 digits"),
    "NL": (r"\d{4} ?[A-Z]{2}", "4 digits and 2 letters, e.g. '1234 AB'"),
    "FR": (r"\d{5}", "5 digits"),
    "BE": (r"\d{4}", "4 digits"),
    "DK": (r"\d{4}", "4 digits"),
    "PL": (r"\d{2}-\d{3}", "'NN-NNN'"),
    "IT": (r"\d{5}", "5 digits"),
    "ES": (r"\d{5}", "5 digits"),
    "GB": (_GB_POSTCODE, "a UK postcode, e.g. 'SW1A 1AA'"),
    "US": (r"\d{5}(?:-\d{4})?", "a ZIP code, 5 digits or 5+4"),
}

PAYMENT_STATUS_NAMES = {0: "unpaid", 1: "partially paid", 2: "paid"}
_MAX_LISTED = 10

FAILURES_DTYPES: dict[str, str] = {
    "order_id": "Int64",
    "order_number": "string",
    "code": "string",
    "field": "string",
    "message": "string",
}
FAILURES_SCHEMA = pa.DataFrameSchema(
    {
        "order_id": pa.Column("Int64", nullable=True),
        "order_number": pa.Column("string", nullable=True),
        "code": pa.Column("string", pa.Check.isin([c.value for c in FailureCode])),
        "field": pa.Column("string"),
        "message": pa.Column("string"),
    },
    strict=True,
    name="order_failures",
)


class ValidationParams(BaseModel):
    """What the merchant decides: which payments release an order, how big an order may be.

    ``max_lines`` caps item lines per order. B2B and restock orders of 100-300 lines are normal and FFN
    takes them, so the default (500) only stops runaway data; ``None`` disables the cap.
    An order passes the payment rule when its PaymentStatus is in ``shippable_payment_statuses`` (default:
    paid only), or its PaymentMethodId is an invoice (Rechnung) or cash-on-delivery (Nachnahme) method:
    those are paid after delivery, so waiting for payment would never ship them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    shippable_payment_statuses: frozenset[int] = frozenset({2})
    invoice_payment_method_ids: frozenset[int] = frozenset()
    cash_on_delivery_payment_method_ids: frozenset[int] = frozenset()
    max_lines: int | None = Field(default=500, ge=1)
    allowed_countries: frozenset[str] | None = None
    postcode_optional_countries: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _known_values(self) -> ValidationParams:
        unknown_status = self.shippable_payment_statuses - set(PAYMENT_STATUS_NAMES)
        if unknown_status:
            raise ValueError(f"shippable_payment_statuses: unknown states {sorted(unknown_status)} (0, 1, 2)")
        for name in ("allowed_countries", "postcode_optional_countries"):
            bad = (getattr(self, name) or frozenset()) - ISO_COUNTRIES
            if bad:
                raise ValueError(f"{name}: not ISO 3166-1 alpha-2 codes: {sorted(bad)}")
        return self


Rule = Callable[[pd.DataFrame, pd.DataFrame, ValidationParams, Mapping[str, str]], pd.DataFrame]


def _quote(value: Any) -> str:
    return "<missing>" if value is None or value is pd.NA else repr(str(value))


def _listing(parts: list[str]) -> str:
    shown = ", ".join(parts[:_MAX_LISTED])
    return shown if len(parts) <= _MAX_LISTED else f"{shown} and {len(parts) - _MAX_LISTED} more"


def _order_failures(
    orders: pd.DataFrame, mask: pd.Series, code: FailureCode, field: str, messages: str | list[str]
) -> pd.DataFrame:
    """Failures for the orders where ``mask`` holds; ``messages`` is a list aligned to those rows."""
    hit = orders.loc[mask.fillna(False).astype(bool)]
    return pd.DataFrame(
        {
            "order_id": hit["order_id"].array,
            "order_number": hit["order_number"].array,
            "code": code.value,
            "field": field,
            "message": messages,
        }
    ).astype(FAILURES_DTYPES)


def _rule_order_id(orders: pd.DataFrame, *_: Any) -> pd.DataFrame:
    msg = "order Id is missing or not an integer; the order can be neither held nor shipped"
    return _order_failures(orders, orders["order_id"].isna(), FailureCode.ORDER_ID_MISSING, "Id", msg)


def _rule_order_number(orders: pd.DataFrame, *_: Any) -> pd.DataFrame:
    msg = "order Number is missing; it is the outbound's merchantOutboundNumber"
    return _order_failures(
        orders, orders["order_number"].isna(), FailureCode.ORDER_NUMBER_MISSING, "Number", msg
    )


def _rule_number_length(orders: pd.DataFrame, *_: Any) -> pd.DataFrame:
    """FFN takes merchantOutboundNumbers of at most 255 characters; longer ones can never ship."""
    lengths = orders["order_number"].str.len()
    mask = (lengths > ORDER_NUMBER_MAX).fillna(False).astype(bool)
    messages = [
        f"order Number is {n} characters long; JTL-FFN takes at most {ORDER_NUMBER_MAX}"
        for n in lengths.loc[mask].tolist()
    ]
    return _order_failures(orders, mask, FailureCode.ORDER_NUMBER_TOO_LONG, "Number", messages)


def _rule_duplicate_number(orders: pd.DataFrame, *_: Any) -> pd.DataFrame:
    """The earliest order (by date, then Id) keeps its number; later ones with the same Number fail."""
    numbered = orders.loc[orders["order_number"].notna(), ["order_id", "order_number", "order_date"]]
    ranked = numbered.sort_values(["order_date", "order_id"], na_position="last", kind="stable")
    duplicate = ranked["order_number"].duplicated(keep="first")
    keepers = ranked.drop_duplicates("order_number", keep="first").set_index("order_number")["order_id"]
    mask = pd.Series(orders.index.isin(ranked.index[duplicate]), index=orders.index)
    messages = []
    for number in orders.loc[mask, "order_number"]:
        keeper = keepers.loc[number]
        kept = "the first (without an Id)" if keeper is pd.NA else f"the order with Id {keeper}"
        messages.append(f"order Number {number!r} occurs more than once in the batch; {kept} is kept")
    return _order_failures(orders, mask, FailureCode.DUPLICATE_ORDER_NUMBER, "Number", messages)


def _rule_cancelled(orders: pd.DataFrame, *_: Any) -> pd.DataFrame:
    msg = "order is cancelled (IsCancelled)"
    return _order_failures(
        orders,
        orders["is_cancelled"].fillna(False).astype(bool),
        FailureCode.ORDER_CANCELLED,
        "IsCancelled",
        msg,
    )


_ADDRESS_FIELDS = {"street": "Street", "city": "City", "country": "CountryIso"}


def _rule_address(orders: pd.DataFrame, *_: Any) -> pd.DataFrame:
    """FFN's Address contract: street, city, country, and a last name or a company."""
    missing = pd.DataFrame({name: orders[name].isna() for name in _ADDRESS_FIELDS})
    missing["lastname or company"] = orders["lastname"].isna() & orders["company"].isna()
    mask = missing.any(axis=1)
    labels = {**_ADDRESS_FIELDS, "lastname or company": "LastName or Company"}
    messages, fields = [], []
    for (_index, row), source in zip(
        missing.loc[mask].iterrows(), orders.loc[mask, "address_source"], strict=True
    ):
        names = [labels[name] for name in missing.columns if row[name]]
        fields.append(",".join(names))
        where = {"shipment": "Shipmentaddress", "billing": "BillingAddress"}.get(source, "no address given")
        messages.append(f"shipping address incomplete ({where}): {', '.join(names)} missing")
    frame = _order_failures(orders, mask, FailureCode.ADDRESS_INCOMPLETE, "", messages)
    frame["field"] = pd.array(fields, dtype="string")
    return frame


def _rule_country(
    orders: pd.DataFrame, _lines: pd.DataFrame, params: ValidationParams, *_: Any
) -> pd.DataFrame:
    country = orders["country"]
    unknown = country.notna() & ~country.isin(ISO_COUNTRIES)
    allowed = params.allowed_countries
    not_served = country.notna() & ~unknown & (~country.isin(allowed) if allowed is not None else False)
    mask = unknown | not_served
    shipped_to = ", ".join(sorted(allowed or ()))
    messages = [
        f"country code (CountryIso) {value!r} is not an ISO 3166-1 alpha-2 code"
        if value not in ISO_COUNTRIES
        else f"country (CountryIso) {value!r} is not among the countries shipped to ({shipped_to})"
        for value in country.loc[mask]
    ]
    return _order_failures(orders, mask, FailureCode.COUNTRY_INVALID, "CountryIso", messages)


def _rule_postcode(
    orders: pd.DataFrame, _lines: pd.DataFrame, params: ValidationParams, *_: Any
) -> pd.DataFrame:
    """Per-country formats for the markets FFN serves most; elsewhere a postcode just has to be there."""
    country = orders["country"]
    postcode = orders["postcode"].str.upper()
    checked = country.isin(ISO_COUNTRIES) & ~country.isin(params.postcode_optional_countries)
    bad = checked & postcode.isna()
    for code, (pattern, _expected) in POSTCODE_FORMATS.items():
        here = checked & (country == code) & postcode.notna()
        if here.any():
            bad |= here & ~postcode.where(here).str.fullmatch(pattern, flags=re.ASCII).fillna(True).astype(
                bool
            )
    messages = []
    for value, code in zip(orders.loc[bad, "postcode"], country.loc[bad], strict=True):
        expected = POSTCODE_FORMATS.get(code, (None, "a postcode"))[1]
        shown = "missing" if value is pd.NA else repr(value)
        messages.append(f"postcode (PostalCode) {shown} is not valid for {code} (expected {expected})")
    return _order_failures(orders, bad, FailureCode.POSTCODE_INVALID, "PostalCode", messages)


def _item_lines(orders: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    return lines.loc[lines["is_item"] & lines["order_id"].isin(orders["order_id"].dropna())]


def _rule_no_lines(orders: pd.DataFrame, lines: pd.DataFrame, *_: Any) -> pd.DataFrame:
    counts = _item_lines(orders, lines)["order_id"].value_counts()
    mask = orders["order_id"].notna() & ~orders["order_id"].isin(counts.index)
    msg = "order has no item lines (LineItems of Type 1/Item)"
    return _order_failures(orders, mask, FailureCode.NO_LINES, "LineItems", msg)


def _rule_too_many_lines(
    orders: pd.DataFrame, lines: pd.DataFrame, params: ValidationParams, *_: Any
) -> pd.DataFrame:
    if params.max_lines is None:
        return _empty()
    counts = _item_lines(orders, lines)["order_id"].value_counts()
    per_order = orders["order_id"].map(counts).fillna(0).astype("int64")
    mask = per_order > params.max_lines
    messages = [
        f"order has {n} item lines (LineItems), more than the limit of {params.max_lines}"
        for n in per_order.loc[mask]
    ]
    return _order_failures(orders, mask, FailureCode.TOO_MANY_LINES, "LineItems", messages)


def _line_failures(
    orders: pd.DataFrame,
    bad_lines: pd.DataFrame,
    code: FailureCode,
    field: str,
    describe: Callable[[Any], str],
) -> pd.DataFrame:
    """One failure per order listing its offending lines (position and SKU)."""
    if bad_lines.empty:
        return _empty()
    bad_lines = bad_lines.sort_values(["order_id", "position"], kind="stable")
    per_order: dict[int, list[str]] = {}
    for order_id, record in zip(
        bad_lines["order_id"].tolist(), bad_lines.itertuples(index=False), strict=True
    ):
        per_order.setdefault(order_id, []).append(describe(record))
    mask = orders["order_id"].isin(per_order)
    messages = [_listing(per_order[oid]) for oid in orders.loc[mask.fillna(False), "order_id"]]
    return _order_failures(orders, mask, code, field, messages)


def _rule_sku(
    orders: pd.DataFrame, lines: pd.DataFrame, _params: ValidationParams, sku_map: Mapping[str, str]
) -> pd.DataFrame:
    items = _item_lines(orders, lines)
    known = items["sku"].map(lambda sku: sku in sku_map, na_action="ignore").fillna(False).astype(bool)
    return _line_failures(
        orders,
        items.loc[~known],
        FailureCode.SKU_UNKNOWN,
        "SKU",
        lambda r: f"line {r.position}: SKU {_quote(r.sku)} has no jfsku (unknown to JTL-FFN)",
    )


def _rule_quantity(orders: pd.DataFrame, lines: pd.DataFrame, *_: Any) -> pd.DataFrame:
    """Whole positive quantities, and a QuantityDelivered between 0 and the quantity (when given)."""
    items = _item_lines(orders, lines)
    quantity, delivered = items["quantity"], items["quantity_delivered"]
    ok = (quantity > 0) & (quantity == quantity.round())
    delivery_ok = delivered.isna() | (
        (delivered >= 0) & (delivered == delivered.round()) & (delivered <= quantity)
    )
    bad = items.loc[~(ok & delivery_ok).fillna(False).astype(bool)]

    def describe(r: Any) -> str:
        where = f"line {r.position} (SKU {_quote(r.sku)}): "
        if r.quantity is pd.NA or not (r.quantity > 0 and r.quantity == round(r.quantity)):
            shown = "missing or not a number" if r.quantity is pd.NA else f"{r.quantity:g}"
            return f"{where}Quantity {shown} is not a positive whole number"
        upto = f"{r.quantity:g}"
        return f"{where}QuantityDelivered {r.quantity_delivered:g} is not a whole number from 0 to {upto}"

    return _line_failures(orders, bad, FailureCode.QUANTITY_INVALID, "Quantity", describe)


def _rule_payment(
    orders: pd.DataFrame, _lines: pd.DataFrame, params: ValidationParams, *_: Any
) -> pd.DataFrame:
    after_delivery = params.invoice_payment_method_ids | params.cash_on_delivery_payment_method_ids
    cleared = orders["payment_status"].isin(params.shippable_payment_statuses) | orders[
        "payment_method_id"
    ].isin(after_delivery)
    mask = ~cleared.fillna(False).astype(bool)
    allowed = ", ".join(PAYMENT_STATUS_NAMES[s] for s in sorted(params.shippable_payment_statuses)) or "none"
    messages = []
    for status, method in zip(
        orders.loc[mask, "payment_status"], orders.loc[mask, "payment_method_id"], strict=True
    ):
        state = "missing" if status is pd.NA else f"{status} ({PAYMENT_STATUS_NAMES.get(status, 'unknown')})"
        method_text = "missing" if method is pd.NA else str(method)
        messages.append(
            f"PaymentStatus {state} with PaymentMethodId {method_text} does not allow shipping "
            f"(allowed states: {allowed}; invoice methods: {sorted(params.invoice_payment_method_ids)}; "
            f"cash on delivery methods: {sorted(params.cash_on_delivery_payment_method_ids)})"
        )
    return _order_failures(orders, mask, FailureCode.PAYMENT_NOT_CLEARED, "PaymentStatus", messages)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in FAILURES_DTYPES.items()})


RULES: tuple[tuple[FailureCode, Rule], ...] = (
    (FailureCode.ORDER_ID_MISSING, _rule_order_id),
    (FailureCode.ORDER_NUMBER_MISSING, _rule_order_number),
    (FailureCode.ORDER_NUMBER_TOO_LONG, _rule_number_length),
    (FailureCode.DUPLICATE_ORDER_NUMBER, _rule_duplicate_number),
    (FailureCode.ORDER_CANCELLED, _rule_cancelled),
    (FailureCode.ADDRESS_INCOMPLETE, _rule_address),
    (FailureCode.COUNTRY_INVALID, _rule_country),
    (FailureCode.POSTCODE_INVALID, _rule_postcode),
    (FailureCode.NO_LINES, _rule_no_lines),
    (FailureCode.TOO_MANY_LINES, _rule_too_many_lines),
    (FailureCode.SKU_UNKNOWN, _rule_sku),
    (FailureCode.QUANTITY_INVALID, _rule_quantity),
    (FailureCode.PAYMENT_NOT_CLEARED, _rule_payment),
)
_RANK = {code.value: rank for rank, (code, _) in enumerate(RULES)}


def validate_orders(
    orders_df: pd.DataFrame, lines_df: pd.DataFrame, params: ValidationParams, sku_map: Mapping[str, str]
) -> pd.DataFrame:
    """Every rule over the batch: one row (order_id, order_number, code, field, message) per failure.

    An order is valid when it has no row here. Rows come sorted by order_id (missing ids last), then in
    rule order, so the same batch always gives the same frame.
    """
    orders = ORDERS_SCHEMA.validate(orders_df).reset_index(drop=True)
    lines = LINES_SCHEMA.validate(lines_df)
    parts = [frame for _, rule in RULES if not (frame := rule(orders, lines, params, sku_map)).empty]
    if not parts:
        return FAILURES_SCHEMA.validate(_empty())
    failures = pd.concat(parts, ignore_index=True)
    failures["_rank"] = failures["code"].map(_RANK)
    failures = failures.sort_values(["order_id", "_rank"], na_position="last", kind="stable")
    return FAILURES_SCHEMA.validate(failures.drop(columns="_rank").reset_index(drop=True))


def valid_orders(orders_df: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """The orders without any failure (orders without an Id are never valid)."""
    bad = failures["order_id"].dropna()
    return orders_df.loc[orders_df["order_id"].notna() & ~orders_df["order_id"].isin(bad)]
