"""The sandbox's in-memory world.

Objects are stored exactly as the APIs return them (JSON dicts with the APIs' own casing), so
fixtures, generated data and responses share one shape.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JsonObject = dict[str, Any]


def iso_now() -> str:
    """Timestamps the way FFN writes them: ISO-8601 with milliseconds and an offset."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class FfnData:
    """JTL-FFN merchant account: keyed by the FFN ids."""

    merchant_id: str = "MERC"
    fulfiller_id: str = "FULF"
    user_id: str = "46209"
    products: dict[str, JsonObject] = field(default_factory=dict)  # jfsku -> Product
    stocks: dict[str, JsonObject] = field(default_factory=dict)  # jfsku -> Stock
    inbounds: dict[str, JsonObject] = field(default_factory=dict)  # inboundId -> Inbound
    outbounds: dict[str, JsonObject] = field(default_factory=dict)  # outboundId -> Outbound
    warehouses: dict[str, JsonObject] = field(default_factory=dict)  # warehouseId -> Warehouse
    # shippingMethodId -> ShippingMethod
    shipping_methods: dict[str, JsonObject] = field(default_factory=dict)
    # outboundId -> OutboundShippingNotification[] (merchant view)
    shipping_notifications: dict[str, list[JsonObject]] = field(default_factory=dict)
    # zero-padded stockVersion -> StockChange, appended whenever a stock level moves (oldest first)
    stock_changes: dict[str, JsonObject] = field(default_factory=dict)
    # jfsku -> fulfillerIds the product is authorised for (POST /products/{jfsku}/authorizations)
    product_authorizations: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class WawiData:
    """JTL-Wawi tenant (v1, PascalCase objects), keyed by the int ids."""

    items: dict[int, JsonObject] = field(default_factory=dict)
    stocks: list[JsonObject] = field(default_factory=list)  # one row per warehouse/location/batch
    sales_orders: dict[int, JsonObject] = field(default_factory=dict)
    line_items: dict[int, list[JsonObject]] = field(default_factory=dict)  # SalesOrderId -> lines
    customers: dict[int, JsonObject] = field(default_factory=dict)
    suppliers: dict[int, JsonObject] = field(default_factory=dict)
    item_suppliers: dict[int, list[JsonObject]] = field(default_factory=dict)  # ItemId -> ItemSupplier
    item_images: dict[int, list[JsonObject]] = field(default_factory=dict)  # ItemId -> ItemImage
    # ItemId -> ItemPropertyValue ({PropertyId, PropertyValueId}); names in properties/property_values
    item_properties: dict[int, list[JsonObject]] = field(default_factory=dict)
    properties: dict[int, JsonObject] = field(default_factory=dict)  # Id -> Property
    property_values: dict[int, list[JsonObject]] = field(default_factory=dict)  # PropertyId -> PropertyValue
    manufacturers: dict[int, JsonObject] = field(default_factory=dict)  # Id -> Manufacturer
    warehouses: dict[int, JsonObject] = field(default_factory=dict)
    categories: dict[int, JsonObject] = field(default_factory=dict)
    purchase_orders: dict[int, JsonObject] = field(default_factory=dict)
    on_hold_reasons: list[JsonObject] = field(default_factory=list)
    shipping_methods: list[JsonObject] = field(default_factory=list)
    payment_methods: list[JsonObject] = field(default_factory=list)
    # Prices and what they need (pricing): manufacturers, companies, tax classes and their rates per
    # departure and shipment country (TaxRate objects), sales channels (string ids), customer groups,
    # each item's sales-channel prices (ItemSalesChannelPrice rows) and special price (ItemSpecialPrice).
    companies: dict[int, JsonObject] = field(default_factory=dict)
    tax_classes: dict[int, JsonObject] = field(default_factory=dict)
    tax_rates: list[JsonObject] = field(default_factory=list)
    sales_channels: list[JsonObject] = field(default_factory=list)
    customer_groups: dict[int, JsonObject] = field(default_factory=dict)
    sales_channel_prices: dict[int, list[JsonObject]] = field(default_factory=dict)  # ItemId -> rows
    special_prices: dict[int, JsonObject] = field(default_factory=dict)  # ItemId -> ItemSpecialPrice
    # Returns (Retouren): Return headers by Id, their ReturnLineItem rows, and the reason and state lists
    # (ReturnReason, ReturnState: Id plus Translations) the lines and headers point to.
    returns: dict[int, JsonObject] = field(default_factory=dict)
    return_line_items: dict[int, list[JsonObject]] = field(default_factory=dict)  # ReturnId -> lines
    return_reasons: list[JsonObject] = field(default_factory=list)
    return_states: list[JsonObject] = field(default_factory=list)
    # Custom fields (Eigene Felder): the definitions per owner (CustomField objects by CustomFieldId) and
    # each item's or sales order's CustomFieldValue rows ({CustomFieldId, Value}), served per object.
    item_custom_fields: dict[int, JsonObject] = field(default_factory=dict)
    item_custom_field_values: dict[int, list[JsonObject]] = field(default_factory=dict)  # ItemId -> rows
    sales_order_custom_fields: dict[int, JsonObject] = field(default_factory=dict)
    sales_order_custom_field_values: dict[int, list[JsonObject]] = field(default_factory=dict)


@dataclass
class ShopData:
    """JTL-Shop 5.4 tables (``jtl_automator.sandbox.shop``), rows in the REST API's own shape, keyed by pk.

    Rows are stored without their child collections (as the DB holds them); the API joins the children
    (stock rows, prices and their tiers, category links, cart lines) into every row it hands out, as the
    Shop's ``DataModel::fill()`` does. ``drift`` records what the world builder made differ from Wawi.
    """

    products: dict[int, JsonObject] = field(default_factory=dict)  # kArtikel -> ProductModel attributes
    stock: dict[tuple[int, int], JsonObject] = field(default_factory=dict)  # (productID, warehouseID) -> row
    prices: dict[int, JsonObject] = field(default_factory=dict)  # kPreis -> PriceModel (without detail)
    price_details: dict[int, list[JsonObject]] = field(default_factory=dict)  # kPreis -> PriceDetail tiers
    categories: dict[int, JsonObject] = field(default_factory=dict)  # kKategorie -> CategoryModel
    category_links: dict[int, JsonObject] = field(default_factory=dict)  # kKategorieArtikel -> link
    orders: dict[int, JsonObject] = field(default_factory=dict)  # kBestellung -> OrderModel
    order_attributes: dict[int, list[JsonObject]] = field(default_factory=dict)  # kBestellung -> attributes
    carts: dict[int, JsonObject] = field(default_factory=dict)  # kWarenkorb -> CartModel (without items)
    cart_items: dict[int, JsonObject] = field(default_factory=dict)  # kWarenkorbPos -> CartItemModel
    customers: dict[int, JsonObject] = field(default_factory=dict)  # kKunde -> CustomerModel (decrypted)
    customer_groups: dict[int, JsonObject] = field(default_factory=dict)  # kKundengruppe -> group
    #: The Wawi warehouses (kWarenlager) the shop is fed from.
    warehouse_ids: list[int] = field(default_factory=list)
    #: What differs from Wawi on purpose, per kind (``missing_orders``, ``cancelled_orders``,
    #: ``stock_over``, ``stock_under``, ``price_drift``): one dict per case.
    drift: dict[str, list[JsonObject]] = field(default_factory=dict)


@dataclass
class Worksheet:
    """One tab: a title, a numeric sheetId and a grid of cell values (rows of strings/numbers)."""

    title: str
    sheet_id: int
    values: list[list[Any]] = field(default_factory=list)
    row_count: int = 1000
    column_count: int = 26


@dataclass
class Spreadsheet:
    """A Google spreadsheet: its id, title and tabs in order."""

    spreadsheet_id: str
    title: str
    worksheets: list[Worksheet] = field(default_factory=list)


@dataclass
class SandboxData:
    """The whole emulated world; one lock serialises mutations from concurrent requests."""

    ffn: FfnData = field(default_factory=FfnData)
    wawi: WawiData = field(default_factory=WawiData)
    spreadsheets: dict[str, Spreadsheet] = field(default_factory=dict)
    #: JTL-Shop, mirrored from ``wawi`` on first use (``jtl_automator.sandbox.shop.world``) unless set.
    shop: ShopData | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
