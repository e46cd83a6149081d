"""JTL-Wawi REST API models: PascalCase on the wire for v1, camelCase for the v2 purchase orders.

The API's own spellings are kept as aliases (``SKU``, ``Shipmentaddress``, ``ItemWeigth``, ``VatID``)
so Python code reads normally while the JSON matches the server. Wawi omits keys freely, so read
models default almost everything to ``None`` and keep unknown fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_pascal


class WawiModel(BaseModel):
    """Base of everything read from Wawi v1."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="allow")

    def to_api(self) -> dict[str, Any]:
        """The JSON body Wawi expects (PascalCase, no unset optional fields)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class WawiWriteModel(WawiModel):
    """Base of Wawi v1 request bodies: unknown fields are an error on our side."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid")


class Address(WawiModel):
    """A Wawi address (billing, shipment, warehouse)."""

    id: int | None = None
    company: str | None = None
    company2: str | None = Field(default=None, alias="Company2")
    form_of_address: str | None = None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    street: str | None = None
    address2: str | None = Field(default=None, alias="Address2")
    postal_code: str | None = None
    city: str | None = None
    state: str | None = None
    country_iso: str | None = None
    vat_id: str | None = Field(default=None, alias="VatID")
    phone_number: str | None = None
    mobile_phone_number: str | None = None
    email_address: str | None = None
    fax: str | None = None


class ItemCategory(WawiModel):
    """Assignment of an item to a category."""

    category_id: int
    name: str | None = None


class ItemPrice(WawiModel):
    """Net prices of an item."""

    sales_price_net: float | None = None
    suggested_retail_price: float | None = None
    purchase_price_net: float | None = None
    ebay_price: float | None = None
    amazon_price: float | None = None


class ItemIdentifiers(WawiModel):
    """GTIN and other product codes of an item."""

    gtin: str | None = None
    manufacturer_number: str | None = None
    isbn: str | None = Field(default=None, alias="ISBN")
    upc: str | None = Field(default=None, alias="UPC")
    amazon_fnsku: str | None = None
    asins: list[str] | None = None
    own_identifier: str | None = None


class ItemWeights(WawiModel):
    """Item and shipping weight in kg."""

    item_weight: float | None = Field(default=None, alias="ItemWeigth")  # sic: the API's spelling
    shipping_weight: float | None = None


class ItemDimensions(WawiModel):
    """Length, width and height (Wawi's item dialog shows cm; the spec names no unit)."""

    length: float | None = None
    width: float | None = None
    height: float | None = None


class Item(WawiModel):
    """An article (``Artikel``) as Wawi returns it."""

    id: int
    sku: str | None = Field(default=None, alias="SKU")
    name: str | None = None
    is_active: bool | None = None
    categories: list[ItemCategory] = Field(default_factory=list)
    description: str | None = None
    short_description: str | None = None
    identifiers: ItemIdentifiers | None = None
    parent_item_id: int | None = None
    child_items: list[int] = Field(default_factory=list)
    item_price_data: ItemPrice | None = None
    manufacturer_id: int | None = None
    tax_class_id: int | None = None
    weights: ItemWeights | None = None
    dimensions: ItemDimensions | None = None
    storage_options: dict[str, Any] | None = None
    allow_negative_stock: bool | None = None
    added: datetime | None = None
    changed: datetime | None = None


class ItemUpdate(WawiWriteModel):
    """Body of ``PATCH /items/{id}``: only the fields that are set are sent."""

    name: str | None = Field(default=None, min_length=1)
    sku: str | None = Field(default=None, alias="SKU")
    categories: list[ItemCategory] | None = None
    description: str | None = None
    short_description: str | None = None
    identifiers: ItemIdentifiers | None = None
    item_price_data: ItemPrice | None = None
    manufacturer_id: int | None = None
    weights: ItemWeights | None = None
    dimensions: ItemDimensions | None = None
    allow_negative_stock: bool | None = None
    annotation: str | None = None
    storage_options: dict[str, Any] | None = None


class ItemSalesChannelPrice(WawiModel):
    """One sales-channel price of an item: per channel, customer group (0: all) and scale quantity.

    Absolute (``net_price``) or relative to the base price (``reduce_standard_price_by_percent``; the spec's
    objects carry both, the unused one 0). ``from_quantity`` 0 is the price itself, above 0 a scale price.
    """

    item_id: int
    sales_channel_id: str
    customer_group_id: int = 0
    from_quantity: int = 0
    net_price: float | None = None
    reduce_standard_price_by_percent: float | None = None

    @property
    def relative(self) -> bool:
        """Whether the price follows the base price (a reduction in percent) instead of being a value."""
        return bool(self.reduce_standard_price_by_percent)


class SalesChannelPriceCreate(WawiWriteModel):
    """Body of ``POST /items/{id}/salesChannelPrices`` (``NetPrice`` or a reduction, not both)."""

    sales_channel_id: str = Field(min_length=1)
    customer_group_id: int = 0
    from_quantity: int = Field(default=0, ge=0)
    net_price: float | None = None
    reduce_standard_price_by_percent: float | None = None


class SpecialPrice(WawiModel):
    """One channel's and customer group's net special price (every field required, as in the spec)."""

    is_active: bool
    customer_group_id: int
    net_price: float
    sales_channel_id: str


class ItemSpecialPrice(WawiModel):
    """An item's special price: one period (start, optional end or stock threshold), a price per channel."""

    item_id: int | None = None
    special_price: list[SpecialPrice] = Field(default_factory=list)
    is_active: bool = False
    start_date: datetime | None = None
    end_date_active: bool = False
    end_date: datetime | None = None
    till_amount_active: bool = False
    till_amount_in_stock_smaller_than: int | None = None


class SpecialPriceUpdate(WawiWriteModel):
    """Body of ``PATCH /items/{id}/specialprices`` (``IsActive`` required; the list replaces the old)."""

    is_active: bool
    special_price: list[SpecialPrice] | None = None
    start_date: datetime | None = None
    end_date_active: bool | None = None
    end_date: datetime | None = None
    till_amount_active: bool | None = None
    till_amount_in_stock_smaller_than: int | None = None


class Manufacturer(WawiModel):
    """A manufacturer (``Hersteller``)."""

    id: int
    name: str | None = None


class Company(WawiModel):
    """One of the merchant's companies (``Firma``)."""

    id: int
    name: str | None = None


class TaxClass(WawiModel):
    """A tax class (``Steuerklasse``): its rate depends on the countries, see :class:`TaxRate`."""

    id: int
    name: str | None = None
    is_default: bool | None = None
    type: int | None = None


class TaxRate(WawiModel):
    """The VAT rate (percent) of a tax class for a company shipping from one country to another."""

    rate: float
    tax_class_id: int | None = None
    departure_country_iso: str | None = Field(default=None, alias="DepartureCountryISO")
    shipment_country_iso: str | None = Field(default=None, alias="ShipmentCountryISO")


class ItemCapabilities(WawiModel):
    """What the REST API may change of an item on a sales channel."""

    descriptions: bool | None = None
    online_shop_activation: bool | None = None
    prices: bool | None = None
    special_prices: bool | None = None
    images: bool | None = None


class SalesChannel(WawiModel):
    """A sales channel (``1-1-1``): Wawi, an online shop, a marketplace."""

    id: str
    type: int | None = None
    name: str | None = None
    item_capabilities: ItemCapabilities | None = None


class CustomerGroup(WawiModel):
    """A customer group (``Kundengruppe``)."""

    id: int
    name: str | None = None
    is_default: bool | None = None
    discount: float | None = None
    is_net_price: bool | None = None


class Stock(WawiModel):
    """One row per warehouse, storage location and batch; available = total - locked - in pick lists."""

    warehouse_id: int
    item_id: int
    storage_location_id: int | None = None
    storage_location_name: str | None = None
    shelf_life_expiration_date: datetime | None = None
    batch_number: str | None = None
    quantity_total: float = 0
    quantity_locked_for_shipment: float = 0
    quantity_locked_for_availability: float = 0
    quantity_in_picking_lists: float = 0


class StockAdjustment(WawiWriteModel):
    """Body of ``POST /stocks``: ``quantity`` is the delta to add (negative removes)."""

    warehouse_id: int
    item_id: int
    quantity: float
    storage_location_id: int | None = None
    shelf_life_expiration_date: datetime | None = None
    batch_number: str | None = None
    purchase_price_net: float | None = None
    serial_numbers: list[str] | None = None
    comment: str | None = None


class SalesOrderPaymentDetails(WawiModel):
    """Payment state of a sales order (0 unpaid, 1 partially paid, 2 paid)."""

    payment_method_id: int | None = None
    payment_status: int | None = None
    total_gross_amount: float | None = None
    currency_iso: str | None = None
    date_of_payment: datetime | None = None
    still_to_pay: float | None = None


class SalesOrderShippingDetail(WawiModel):
    """Shipping state of a sales order.

    ``DeliveryCompleteStatus``: 0 not complete, 1 complete, 2 complete without a delivery note; partial
    deliveries show per line, in ``QuantityDelivered``.
    """

    shipping_method_id: int | None = None
    delivery_complete_status: int | None = None
    shipping_priority: int | None = None
    shipping_date: datetime | None = None
    estimated_delivery_date: datetime | None = None
    delivered_date: datetime | None = None
    on_hold_reason_id: int | None = None


class SalesOrder(WawiModel):
    """A sales order (``Auftrag``) as Wawi returns it."""

    id: int
    number: str | None = None
    external_number: str | None = None
    billing_number: str | None = None
    company_id: int | None = None
    customer_id: int | None = None
    customer_vat_id: str | None = Field(default=None, alias="CustomerVatID")
    merchant_vat_id: str | None = Field(default=None, alias="MerchantVatID")
    billing_address: Address | None = None
    shipment_address: Address | None = Field(default=None, alias="Shipmentaddress")  # sic
    sales_order_date: datetime | None = None
    sales_order_payment_details: SalesOrderPaymentDetails | None = None
    sales_order_shipping_detail: SalesOrderShippingDetail | None = None
    colorcode_id: int | None = None
    comment: str | None = None
    customer_comment: str | None = None
    is_cancelled: bool | None = None
    language_iso: str | None = None
    sales_channel_id: str | None = None


class SalesOrderUpdate(WawiWriteModel):
    """Body of ``PATCH /salesOrders/{id}`` (Wawi answers 201 with the order)."""

    external_number: str | None = None
    billing_number: str | None = None
    customer_id: int | None = None
    billing_address: Address | None = None
    shipment_address: Address | None = Field(default=None, alias="Shipmentaddress")
    sales_order_payment_details: SalesOrderPaymentDetails | None = None
    sales_order_shipping_detail: SalesOrderShippingDetail | None = None
    colorcode_id: int | None = None
    comment: str | None = None
    customer_comment: str | None = None
    language_iso: str | None = None


class SalesOrderLineItem(WawiModel):
    """One position of a sales order."""

    id: int | None = None
    sales_order_id: int | None = None
    item_id: int | None = None
    name: str | None = None
    sku: str | None = Field(default=None, alias="SKU")
    type: int | None = None
    quantity: float = 0
    quantity_delivered: float | None = None
    quantity_returned: float | None = None
    sales_unit: str | None = None
    sales_price_net: float | None = None
    sales_price_gross: float | None = None
    discount: float | None = None
    purchase_price_net: float | None = None
    tax_rate: float | None = None
    notice: str | None = None


class Supplier(WawiModel):
    """A supplier (``Lieferant``)."""

    id: int
    name: str | None = None
    supplier_no: str | None = None
    company: str | None = None
    company2: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    contact: str | None = None
    street: str | None = None
    address2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    state: str | None = None
    phone: str | None = None
    email: str | None = None
    country_iso: str | None = None
    language_iso: str | None = Field(default=None, alias="LanguageISO")
    vat_id: str | None = Field(default=None, alias="VatID")
    status: str | None = None


class Warehouse(WawiModel):
    """A Wawi warehouse."""

    id: int
    name: str | None = None
    code: str | None = None
    address: Address | None = None
    type: dict[str, Any] | None = None
    description: str | None = None
    priority: int | None = None
    company_id: int | None = None
    lock_for_shipment: bool | None = None
    lock_for_availability: bool | None = None
    is_active: bool | None = None


class Category(WawiModel):
    """An item category."""

    id: int
    name: str | None = None
    description: str | None = None
    parent_category_id: int | None = None
    level: int | None = None
    sort_number: int | None = None


class ItemImage(WawiModel):
    """One image of an item (``GET /items/{id}/images``); the picture itself is ``/items/imagedata/{id}``."""

    item_id: int | None = None
    image_id: int | None = None
    filename: str | None = None
    image_data_type: str | None = None
    sales_channel_id: str | None = None
    sort_number: int | None = None


class ItemPropertyValue(WawiModel):
    """A property value assigned to an item: ids only (names come from ``/properties``)."""

    property_id: int
    property_value_id: int


class Property(WawiModel):
    """A property (``Merkmal``): its values are read per property."""

    id: int
    name: str | None = None


class PropertyValue(WawiModel):
    """One value of a property (``Merkmalwert``)."""

    id: int
    name: str | None = None


class CustomField(WawiModel):
    """A custom field definition (``Eigenes Feld``) of items or sales orders; values name it by id."""

    custom_field_id: int
    name: str
    group_name: str | None = None
    type: int | None = None  # 3 text, 4 checkbox, 5 list (PossibleValues), ... (the spec's enum)
    possible_values: list[str] = Field(default_factory=list)


class CustomFieldValue(WawiModel):
    """One custom field's value on an item or sales order; its type follows the field's ``Type``."""

    custom_field_id: int
    value: Any

    def text(self) -> str:
        """The value as tag text: checkboxes ``true``/``false`` (as YAML reads yes), ``10.0`` as ``10``."""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if isinstance(self.value, float) and self.value.is_integer():
            return str(int(self.value))
        return "" if self.value is None else str(self.value)


class Return(WawiModel):
    """A return (``Retoure``): who sent what back when; the quantities are on its line items."""

    id: int
    number: str | None = None
    return_date: datetime
    customer_id: int | None = None
    external_number: str | None = None
    origin: int | None = None
    company_id: int | None = None
    sales_order_id: int | None = None
    state_id: int | None = None
    warehouse_id: int | None = None


class ReturnLineItem(WawiModel):
    """One returned position: the SKU, how many units came back and why (``ReturnReasonId``)."""

    id: int
    return_id: int | None = None
    state_id: int | None = None
    item_id: int | None = None
    name: str | None = None
    sku: str = Field(alias="SKU", min_length=1)
    quantity: float = Field(gt=0, allow_inf_nan=False)
    return_reason_id: int | None = None
    return_reason_comment: str | None = None
    condition_id: int | None = None
    sales_order_id: int | None = None
    sales_order_line_item_id: int | None = None


class Translation(WawiModel):
    """A name in one language."""

    language_iso: str | None = None
    name: str | None = None


class ReturnReason(WawiModel):
    """A return reason (``Retourengrund``): its names per language."""

    id: int
    translations: list[Translation] = Field(default_factory=list)

    def label(self, language: str = "DE") -> str:
        """The name in ``language``, else the first one there is, else the id."""
        names = [t for t in self.translations if t.name]
        chosen = next((t for t in names if (t.language_iso or "").upper() == language.upper()), None)
        chosen = chosen or (names[0] if names else None)
        return chosen.name if chosen is not None and chosen.name else f"reason {self.id}"


class WawiV2Model(BaseModel):
    """Wawi API 2.x objects are camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_api(self) -> dict[str, Any]:
        """The JSON body Wawi 2.x expects (camelCase, no unset optional fields)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class PurchaseOrderLineItem(WawiV2Model):
    """One position of a purchase order (v2)."""

    id: int | None = None
    item_id: int | None = None
    sku: str | None = None
    name: str | None = None
    supplier_sku: str | None = None
    quantity: float = 0
    quantity_delivered: float | None = None
    purchase_price_net: float | None = None
    tax_rate: float | None = None


class PurchaseOrder(WawiV2Model):
    """A purchase order (``Bestellung``), API 2.x."""

    id: int
    number: str | None = None
    external_number: str | None = None
    supplier_id: int | None = None
    warehouse_id: int | None = None
    company_id: int | None = None
    status: str | None = None
    currency_iso: str | None = None
    order_date: datetime | None = None
    expected_delivery_date: datetime | None = None
    comment: str | None = None
    line_items: list[PurchaseOrderLineItem] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PurchaseOrderLineItemCreate(WawiV2Model):
    """One position of a new purchase order."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    item_id: int
    quantity: float = Field(gt=0)
    purchase_price_net: float | None = None
    name: str | None = None
    supplier_sku: str | None = None
    tax_rate: float | None = None


class PurchaseOrderCreate(WawiV2Model):
    """Body of ``POST /v2/purchase-orders`` (items must already be assigned to the supplier)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    supplier_id: int
    line_items: list[PurchaseOrderLineItemCreate] = Field(min_length=1)
    warehouse_id: int | None = None
    company_id: int | None = None
    status: Literal["Draft", "Open", "Released"] | None = None
    number: str | None = None
    external_number: str | None = None
    currency_iso: str | None = None
    order_date: datetime | None = None
    expected_delivery_date: datetime | None = None
    comment: str | None = None


class AppRegistration(WawiWriteModel):
    """``CreateAppRegistrationRequest``: what the Wawi user sees and approves in Admin > App-Registrierung."""

    app_id: str = Field(min_length=1)
    display_name: str = Field(min_length=1)
    description: str
    version: str
    provider_name: str
    provider_website: str
    mandatory_api_scopes: list[str] = Field(min_length=1)
    optional_api_scopes: list[str] = Field(default_factory=list)
    app_icon: str = Field(description="Base64 PNG shown in the Wawi registration dialog.")
    registration_type: int = 0
