"""JTL-Shop 5 REST API v1 models: the English attribute names on the wire, snake_case in Python.

The Shop serialises its DataModels with ``rawArray(true)``: keys are the models' attribute names
(``stockQty``, ``customerGroupID``, ``orderNO``), not the German columns. IDs end in ``ID`` on the wire,
so the alias generator here turns ``customer_group_id`` into ``customerGroupID``. Read models keep unknown
keys (``extra="allow"``): a plugin or a later Shop version may add attributes.

Value shapes the models absorb at the boundary (JTL-Shop 5.4.0):

- whole floats arrive as JSON ints (``17`` for ``17.0``): float fields accept ints as they are;
- ``yesno`` attributes are ``"Y"``/``"N"``: read as ``bool``;
- dates come in two shapes: a PHP ``DateTime`` object ``{"date": "2024-12-01 10:15:00.000000",
  "timezone_type": 3, "timezone": "Europe/Berlin"}`` (attributes with a getter, e.g. the order's
  ``created``) or a plain ``"Y-m-d[ H:i:s]"`` string (e.g. the product's ``created``). Both become aware
  datetimes; a plain string has no zone and is read in the shop's time zone (:data:`SHOP_TIMEZONE`, or
  ``shop_timezone`` in the validation context). MySQL's zero date is ``None``;
- the order state is one of the ``BESTELLUNG_STATUS_*`` strings (``"-1"``, ``"1"`` … ``"5"``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo
from pydantic.alias_generators import to_camel

#: ``SHOP_TIMEZONE``'s default in includes/defines.php: what dates without a zone are read in.
SHOP_TIMEZONE = "Europe/Berlin"
#: Key of the validation context that names another shop time zone (``model_validate(..., context=)``).
TIMEZONE_CONTEXT_KEY = "shop_timezone"

JsonObject = dict[str, Any]


def shop_alias(name: str) -> str:
    """``customer_group_id`` → ``customerGroupID``: the Shop's attribute spelling (``id`` stays ``id``)."""
    camel = to_camel(name)
    if camel.endswith("Id") and len(camel) > 2:
        return camel[:-2] + "ID"
    return camel


# -- value parsers ------------------------------------------------------------------------------------

_PLAIN_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
#: PHP's ``timezone_type`` 2 abbreviations a German shop can produce.
_ABBREVIATIONS = {"UTC": 0, "GMT": 0, "Z": 0, "CET": 60, "CEST": 120, "WET": 0, "WEST": 60}


def _zone(name: str) -> tzinfo:
    """A ``timezone`` of a PHP DateTime: an IANA name (type 3), an offset (type 1) or an abbreviation (2)."""
    offset = _OFFSET.match(name)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
    if name.upper() in _ABBREVIATIONS:
        return timezone(timedelta(minutes=_ABBREVIATIONS[name.upper()]))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def _context_zone(info: ValidationInfo | None) -> tzinfo:
    context = info.context if info is not None and isinstance(info.context, dict) else {}
    name = context.get(TIMEZONE_CONTEXT_KEY) or SHOP_TIMEZONE
    return name if isinstance(name, tzinfo) else _zone(str(name))


def _plain(text: str, zone: tzinfo) -> datetime | None:
    match = _PLAIN_DATE.match(text.strip())
    if not match:
        raise ValueError(f"not a Shop date: {text!r} (expected Y-m-d or Y-m-d H:i:s)")
    year, month, day, hour, minute, second, fraction = match.groups()
    if int(year) == 0 or int(month) == 0 or int(day) == 0:
        return None  # MySQL's zero date (0000-00-00): no date
    micro = int((fraction or "0").ljust(6, "0"))
    return datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, zone
    )


def parse_shop_datetime(value: Any, info: ValidationInfo | None = None) -> datetime | None:
    """A Shop date in either shape (PHP DateTime object or plain string) as an aware datetime, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_context_zone(info))
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=_context_zone(info))
    if isinstance(value, dict):
        text, zone_name = value.get("date"), value.get("timezone")
        if not isinstance(text, str) or not isinstance(zone_name, str):
            raise ValueError("a DateTime object needs the strings 'date' and 'timezone'")
        if text.startswith("-"):
            return None  # PHP's rendering of MySQL's zero date (-0001-11-30)
        return _plain(text, _zone(zone_name))
    if isinstance(value, str):
        return _plain(value, _context_zone(info))
    raise ValueError(f"not a Shop date: {type(value).__name__}")


def _yes_no(value: Any) -> bool | None:
    """``yesno`` attributes: ``"Y"``/``"N"`` (a bool passes, for models built in Python)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.upper() in ("Y", "N"):
        return value.upper() == "Y"
    raise ValueError(f"expected 'Y' or 'N', got {value!r}")


def _state(value: Any) -> Any:
    """The order state as the ``BESTELLUNG_STATUS_*`` string (an int is taken as its decimal string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _shop_datetime(value: Any, info: ValidationInfo) -> datetime | None:
    return parse_shop_datetime(value, info)


ShopDateTime = Annotated[datetime | None, BeforeValidator(_shop_datetime)]
YesNo = Annotated[bool | None, BeforeValidator(_yes_no)]


# -- base ---------------------------------------------------------------------------------------------


class ShopModel(BaseModel):
    """Base of everything read from the Shop: attribute-name aliases, unknown keys kept."""

    model_config = ConfigDict(alias_generator=shop_alias, populate_by_name=True, extra="allow")


# -- enums --------------------------------------------------------------------------------------------


class OrderState(StrEnum):
    """``BESTELLUNG_STATUS_*`` (includes/defines_inc.php), as the strings ``cStatus`` holds."""

    CANCELLED = "-1"  # storno
    OPEN = "1"  # offen
    IN_PROGRESS = "2"  # in Bearbeitung
    PAID = "3"  # bezahlt
    SHIPPED = "4"  # versandt
    PARTLY_SHIPPED = "5"  # teilversandt

    @property
    def is_cancelled(self) -> bool:
        """Cancelled in the shop."""
        return self is OrderState.CANCELLED


class CartPositionType(IntEnum):
    """``C_WARENKORBPOS_TYP_*``: the kinds of cart lines the reference names (others stay plain ints)."""

    PRODUCT = 1
    SHIPPING = 2
    COUPON = 3
    VOUCHER = 4
    PAYMENT_METHOD = 5


# -- stock and prices ---------------------------------------------------------------------------------


class ShopStock(ShopModel):
    """One row of ``tartikelwarenlager``: a product's stock in one shop warehouse (``/stock``)."""

    product_id: int
    warehouse_id: int
    stock: float
    procured: float | None = None
    procured_date: ShopDateTime = None


class ShopPriceDetail(ShopModel):
    """One quantity tier of a price (``tpreisdetail``): net from ``amount_from`` units on."""

    id: int | None = None
    price_id: int | None = None
    amount_from: int = 0
    net_price: float


class ShopPrice(ShopModel):
    """A product's price for one customer group (``tpreis``), or for one customer (``customer_id``)."""

    id: int
    product_id: int
    customer_group_id: int
    customer_id: int | None = None
    detail: list[ShopPriceDetail] = Field(default_factory=list)

    @property
    def base_net_price(self) -> float | None:
        """The net price from the first unit on: the lowest tier (``amountFrom`` 0), None without tiers."""
        if not self.detail:
            return None
        return min(self.detail, key=lambda tier: tier.amount_from).net_price

    @property
    def is_customer_price(self) -> bool:
        """A price for one customer (not a customer group's)."""
        return bool(self.customer_id)


# -- product ------------------------------------------------------------------------------------------


class ShopProductLocalization(ShopModel):
    """A product's name and texts in one language."""

    product_id: int | None = None
    language_id: int | None = None
    slug: str | None = None
    name: str | None = None


class ShopProduct(ShopModel):
    """A product (``tartikel``) with the children the Shop embeds: stock per warehouse, prices, categories.

    ``categories`` holds the product's category links (``productID``, ``categoryID``) from
    ``GET /product[/{id}]`` and whole category objects from ``GET /product/{id}/full``: read them through
    :attr:`category_ids`, which understands both.
    """

    id: int
    parent_id: int | None = None
    sku: str | None = None
    name: str | None = None
    slug: str | None = None
    barcode: str | None = None
    stock_qty: float | None = None
    track_stock: YesNo = None
    stock_may_be_smaller_than_zero: YesNo = None
    track_stocks_of_variations: YesNo = None
    awaited_delivery: float | None = None
    date_of_awaited_delivery: ShopDateTime = None
    supplier_stocks: float | None = None
    is_parent: int | None = None
    tax_class_id: int | None = None
    tax_rate: float | None = None
    standard_price_net: float | None = None
    msrp: float | None = None
    weight: float | None = None
    created: ShopDateTime = None
    last_modified: ShopDateTime = None
    localization: list[ShopProductLocalization] = Field(default_factory=list)
    stock: list[ShopStock] = Field(default_factory=list)
    prices: list[ShopPrice] = Field(default_factory=list)
    categories: list[JsonObject] = Field(default_factory=list)
    visibility: list[JsonObject] = Field(default_factory=list)

    @property
    def stock_managed(self) -> bool:
        """Whether the shop tracks the product's stock (``trackStock`` Y): only then ``stockQty`` binds."""
        return bool(self.track_stock)

    @property
    def category_ids(self) -> list[int]:
        """IDs of the product's categories, from links (``categoryID``) or full objects (``id``)."""
        found: list[int] = []
        for entry in self.categories:
            value = entry.get("categoryID", entry.get("id"))
            if isinstance(value, int) and not isinstance(value, bool):
                found.append(value)
        return found

    def price_for_group(self, customer_group_id: int) -> ShopPrice | None:
        """The customer group's price (not a customer-specific one), if the shop has one."""
        for price in self.prices:
            if price.customer_group_id == customer_group_id and not price.is_customer_price:
                return price
        return None

    def stock_in(self, warehouse_ids: set[int] | frozenset[int] | None = None) -> float:
        """Sum of the per-warehouse rows, over ``warehouse_ids`` (None: every warehouse)."""
        return sum(
            row.stock for row in self.stock if warehouse_ids is None or row.warehouse_id in warehouse_ids
        )


# -- orders and carts ---------------------------------------------------------------------------------


class ShopOrderAttribute(ShopModel):
    """A free name/value attribute of an order (``tbestellattribut``)."""

    id: int | None = None
    order_id: int | None = None
    name: str | None = None
    value: str | None = None


class ShopOrder(ShopModel):
    """An order (``tbestellung``); its lines live in the cart ``cart_id`` (``GET /cart/{cartID}``).

    ``order_no`` (``cBestellNr``) is the number JTL-Wawi stores as the sales order's external number.
    """

    id: int
    cart_id: int | None = None
    customer_id: int | None = None
    order_no: str | None = Field(default=None, alias="orderNO")
    state: Annotated[OrderState | None, BeforeValidator(_state)] = None
    created: ShopDateTime = None
    payment_date: ShopDateTime = None
    shipping_date: ShopDateTime = None
    total: float | None = None
    currency_id: int | None = None
    language_id: int | None = None
    payment_method_id: int | None = None
    payment_method_name: str | None = None
    shipping_method_id: int | None = None
    shipping_method_name: str | None = None
    tracking_id: str | None = None
    fetched: YesNo = None
    attributes: list[ShopOrderAttribute] = Field(default_factory=list)

    @property
    def is_cancelled(self) -> bool:
        """Cancelled in the shop (state ``-1``)."""
        return self.state is OrderState.CANCELLED


class ShopCartItem(ShopModel):
    """One cart line (``twarenkorbpos``): a product, shipping, a coupon … (``pos_type``)."""

    id: int
    cart_id: int | None = None
    product_id: int | None = None
    pos_type: int | None = None
    sku: str | None = None
    name: str | None = None
    qty: float = 0
    net_single_price: float | None = None
    price: float | None = None
    tax_percent: float | None = None
    unit: str | None = None
    config_item_id: int | None = None
    order_item_id: int | None = None
    attributes: list[JsonObject] = Field(default_factory=list)

    @property
    def is_product(self) -> bool:
        """A product line (not shipping, a coupon, a payment surcharge …)."""
        return self.pos_type == CartPositionType.PRODUCT


class ShopCart(ShopModel):
    """A cart (``twarenkorb``) with its lines: what an order consists of."""

    id: int
    customer_id: int | None = None
    delivery_address_id: int | None = None
    payment_info_id: int | None = None
    items: list[ShopCartItem] = Field(default_factory=list)

    @property
    def product_lines(self) -> list[ShopCartItem]:
        """The product lines only."""
        return [item for item in self.items if item.is_product]


# -- catalogue and customers --------------------------------------------------------------------------


class ShopCategory(ShopModel):
    """A category (``tkategorie``); ``categories`` lists every product link, which can be large."""

    id: int
    parent_id: int | None = None
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    sort: int | None = None
    level: int | None = None
    lft: int | None = None
    rght: int | None = None
    last_modified: ShopDateTime = None
    categories: list[JsonObject] = Field(default_factory=list)

    @property
    def product_ids(self) -> list[int]:
        """IDs of the products linked to this category."""
        ids = (link.get("productID") for link in self.categories)
        return [value for value in ids if isinstance(value, int) and not isinstance(value, bool)]


class ShopCustomerGroup(ShopModel):
    """A customer group (``tkundengruppe``); prices are per group."""

    id: int
    name: str | None = None
    discount: float | None = None
    default: YesNo = None
    shop_login: str | None = None
    net: int | None = None

    @property
    def net_prices(self) -> bool:
        """Whether the group sees net prices (``nNettoPreise`` 1)."""
        return bool(self.net)


class ShopCustomer(ShopModel):
    """A customer (``tkunde``); ``GET /customer`` decrypts the address fields, ``/customer/{id}`` does not."""

    id: int
    customer_group_id: int | None = None
    language_id: int | None = None
    customer_no: str | None = Field(default=None, alias="customerNO")
    firstname: str | None = None
    surname: str | None = None
    company: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    mail: str | None = None
    created: ShopDateTime = None
    modified: ShopDateTime = None


# -- what the client hands back -----------------------------------------------------------------------

M = TypeVar("M", bound=ShopModel)


class SkippedShopRow(BaseModel):
    """A row of a Shop answer that does not fit its model: left out, with where it was and why."""

    model_config = ConfigDict(frozen=True)

    where: str
    reason: str
    row_id: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class ShopPage(BaseModel, Generic[M]):
    """One page of a cursor-paged list: its typed rows, the rows left out, and the cursor after it.

    ``cursor`` is the primary key of the page's last row as the Shop reported it (``meta.cursor.next``),
    also when that row was malformed and skipped: a watermark saved from it never reads a bad row twice.
    """

    items: list[M] = Field(default_factory=list)
    skipped: list[SkippedShopRow] = Field(default_factory=list)
    cursor: int = 0


#: When the first page starts: after this primary key (0 = from the start, as the Shop reads ``cursor<=0``).
FIRST_CURSOR = 0

__all__ = [
    "FIRST_CURSOR",
    "SHOP_TIMEZONE",
    "TIMEZONE_CONTEXT_KEY",
    "CartPositionType",
    "OrderState",
    "ShopCart",
    "ShopCartItem",
    "ShopCategory",
    "ShopCustomer",
    "ShopCustomerGroup",
    "ShopDateTime",
    "ShopModel",
    "ShopOrder",
    "ShopOrderAttribute",
    "ShopPage",
    "ShopPrice",
    "ShopPriceDetail",
    "ShopProduct",
    "ShopProductLocalization",
    "ShopStock",
    "SkippedShopRow",
    "parse_shop_datetime",
    "shop_alias",
]
