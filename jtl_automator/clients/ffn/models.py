"""JTL-FFN merchant API models (camelCase on the wire, snake_case in Python).

Read models keep unknown fields (``extra="allow"``) so an API addition survives a round trip; write
models forbid them, so a typo in a payload fails here instead of being ignored by the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class FfnModel(BaseModel):
    """Base of everything read from FFN."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_api(self) -> dict[str, Any]:
        """The JSON body FFN expects (camelCase, no unset optional fields)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class FfnWriteModel(FfnModel):
    """Base of request bodies: unknown fields are an error on our side, not silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


_Text = Field(default=None, max_length=255)


class ModificationInfo(FfnModel):
    """When FFN created/changed the object and whether it is New, Modified or Deleted."""

    created_at: datetime | None = None
    updated_at: datetime | None = None
    state: str | None = None


class Money(FfnModel):
    """An amount with its ISO currency."""

    amount: float
    currency: str = "EUR"


class Mpn(FfnModel):
    """Manufacturer part number."""

    manufacturer: str | None = None
    part_number: str | None = None


class Identifier(FfnModel):
    """Product codes; EAN is what warehouses scan."""

    mpn: Mpn | None = None
    ean: str | None = None
    isbn: str | None = None
    upc: str | None = None
    asin: str | None = None


class Dimensions(FfnModel):
    """Outer size in metres."""

    length: float | None = None
    width: float | None = None
    height: float | None = None


class Attribute(FfnModel):
    """Free key/value pair on products, inbounds and outbounds."""

    key: str
    value: str | None = None
    attribute_type: str | None = None


class BillOfMaterialsComponent(FfnModel):
    """One part of a bill-of-materials product."""

    jfsku: str
    quantity: float


class Specifications(FfnModel):
    """Handling flags the fulfiller needs (batches, best-before, hazardous goods)."""

    un_number: str | None = None
    hazard_identifier: str | None = None
    taric: str | None = None
    fnsku: str | None = None
    is_batch: bool | None = None
    is_divisible: bool | None = None
    is_best_before: bool | None = None
    is_serial_number: bool | None = None
    is_bill_of_materials: bool | None = None
    bill_of_materials_components: list[BillOfMaterialsComponent] | None = None
    is_packaging: bool | None = None


class Bundle(FfnModel):
    """A packaging unit of the product (e.g. a carton of 12)."""

    name: str | None = None
    quantity: float | None = None
    ean: str | None = None
    upc: str | None = None


class Product(FfnModel):
    """A product as FFN returns it; ``jfsku`` is the FFN-wide key."""

    jfsku: str
    merchant_id: str | None = None
    merchant_sku: str | None = None
    name: str | None = None
    product_group: str | None = None
    origin_country: str | None = None
    manufacturer: str | None = None
    weight: float | None = None
    net_weight: float | None = None
    note: str | None = None
    identifier: Identifier | None = None
    specifications: Specifications | None = None
    dimensions: Dimensions | None = None
    attributes: list[Attribute] = Field(default_factory=list)
    net_retail_price: Money | None = None
    bundles: list[Bundle] = Field(default_factory=list)
    condition: str | None = None
    modification_info: ModificationInfo | None = None


class ProductCreate(FfnWriteModel):
    """Body of ``POST /merchant/products``; FFN generates the jfsku unless one is given.

    Lengths and formats as the spec's ``Product`` says (names and codes up to 255 characters, the note up
    to 4096, ``originCountry`` ISO 3166 alpha-2); weights in kg and dimensions in metres are never negative.
    """

    merchant_sku: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    jfsku: str | None = Field(default=None, min_length=11, max_length=11)
    product_group: str | None = _Text
    origin_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    manufacturer: str | None = _Text
    weight: float | None = Field(default=None, ge=0)
    net_weight: float | None = Field(default=None, ge=0)
    note: str | None = Field(default=None, max_length=4096)
    identifier: Identifier | None = None
    specifications: Specifications | None = None
    dimensions: Dimensions | None = None
    attributes: list[Attribute] | None = None
    net_retail_price: Money | None = None
    bundles: list[Bundle] | None = None
    condition: Literal["Unknown", "Default", "Refurbished", "Used", "Damaged"] | None = None


class ProductUpdate(FfnWriteModel):
    """Body of ``PATCH /merchant/products/{jfsku}``: only the fields given, an explicit null clears one.

    Nested objects (identifier, specifications, dimensions, netRetailPrice) are sent whole: whether FFN
    merges or replaces a nested object in a PATCH is not documented, and a whole object is right either way.
    """

    name: str | None = Field(default=None, min_length=1, max_length=255)
    product_group: str | None = _Text
    origin_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    manufacturer: str | None = _Text
    weight: float | None = Field(default=None, ge=0)
    net_weight: float | None = Field(default=None, ge=0)
    note: str | None = Field(default=None, max_length=4096)
    identifier: Identifier | None = None
    specifications: Specifications | None = None
    dimensions: Dimensions | None = None
    net_retail_price: Money | None = None
    bundles: list[Bundle] | None = None

    def to_api(self) -> dict[str, Any]:
        """The fields that were set, nulls included (a null clears the field in FFN)."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


class WarehouseStock(FfnModel):
    """Stock of one jfsku in one fulfiller warehouse."""

    warehouse_id: str
    jfsku: str | None = None
    merchant_sku: str | None = None
    stock_level: float = 0
    stock_level_reserved: float = 0
    stock_level_blocked: float = 0
    stock_level_announced: float = 0


class Stock(FfnModel):
    """One row per jfsku; ``stock_level`` is what can ship, the others are reserved/blocked/announced."""

    jfsku: str
    merchant_sku: str | None = None
    stock_level: float = 0
    stock_level_reserved: float = 0
    stock_level_blocked: float = 0
    stock_level_announced: float = 0
    warehouses: list[WarehouseStock] = Field(default_factory=list)
    fulfiller_timestamp: datetime | None = None


class InboundItem(FfnModel):
    """One announced product line of an inbound."""

    inbound_item_id: str | None = None
    jfsku: str
    merchant_sku: str | None = None
    quantity: float
    quantity_open: float | None = None
    supplier_sku: str | None = None
    supplier_product_name: str | None = None
    note: str | None = None


class InboundSupplier(FfnModel):
    """The merchant's supplier of an inbound."""

    merchant_supplier_number: str | None = None
    merchant_supplier_name: str | None = None


class Inbound(FfnModel):
    """Goods announced to a fulfiller warehouse."""

    inbound_id: str
    merchant_id: str | None = None
    merchant_inbound_number: str | None = None
    warehouse_id: str | None = None
    status: str | None = None
    note: str | None = None
    purchase_order_number: str | None = None
    external_inbound_number: str | None = None
    supplier: InboundSupplier | None = None
    items: list[InboundItem] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    modification_info: ModificationInfo | None = None


class InboundItemCreate(FfnWriteModel):
    """One line of a new inbound."""

    inbound_item_id: str | None = None
    jfsku: str
    merchant_sku: str | None = None
    quantity: float = Field(gt=0)
    supplier_sku: str | None = None
    supplier_product_name: str | None = None
    note: str | None = None


class InboundCreate(FfnWriteModel):
    """Body of ``POST /merchant/inbounds`` (announces goods to a fulfiller's warehouse)."""

    merchant_inbound_number: str = Field(min_length=1)
    warehouse_id: str = Field(min_length=1)
    items: list[InboundItemCreate] = Field(min_length=1)
    inbound_id: str | None = None
    note: str | None = None
    purchase_order_number: str | None = None
    external_inbound_number: str | None = None
    supplier: InboundSupplier | None = None
    attributes: list[Attribute] | None = None


class Address(FfnModel):
    """A postal address as FFN returns it."""

    salutation: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    company: str | None = None
    street: str | None = None
    extra_line: str | None = None
    extra_address_line: str | None = None
    zip: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    fax: str | None = None


class AddressCreate(FfnWriteModel):
    """FFN ``Address`` as sent: street, city and country (ISO alpha-2) required, lengths as the spec says.

    One of company or lastname is required too: the spec is silent, a parcel needs a name on it.
    """

    street: str = Field(min_length=1, max_length=255)
    city: str = Field(min_length=1, max_length=255)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    zip: str | None = Field(default=None, min_length=1, max_length=255)
    salutation: str | None = _Text
    firstname: str | None = _Text
    lastname: str | None = _Text
    company: str | None = _Text
    extra_line: str | None = _Text
    extra_address_line: str | None = _Text
    state: str | None = _Text
    email: str | None = _Text
    phone: str | None = _Text
    mobile: str | None = _Text
    fax: str | None = _Text

    @model_validator(mode="after")
    def _company_or_lastname(self) -> AddressCreate:
        if not (self.company or self.lastname):
            raise ValueError("one of lastname or company is required")
        return self


class OutboundItem(FfnModel):
    """One line of an outbound."""

    outbound_item_id: str | None = None
    jfsku: str | None = None
    merchant_sku: str | None = None
    item_type: str | None = None
    name: str | None = None
    quantity: float = 0
    quantity_open: float | None = None
    external_number: str | None = None
    price: float | None = None
    vat: float | None = None
    note: str | None = None


class Outbound(FfnModel):
    """A shipment order to a fulfiller, as FFN returns it."""

    outbound_id: str
    merchant_id: str | None = None
    merchant_outbound_number: str | None = None
    external_number: str | None = None
    status: str | None = None
    priority: int | None = None
    warehouse_id: str | None = None
    currency: str | None = None
    internal_note: str | None = None
    external_note: str | None = None
    sales_channel: str | None = None
    desired_delivery_date: datetime | None = None
    shipping_method_id: str | None = None
    shipping_type: str | None = None
    shipping_address: Address | None = None
    sender_address: Address | None = None
    cancel_reason_code: str | None = None
    cancel_reason: str | None = None
    shipping_fee: float | None = None
    order_value: float | None = None
    items: list[OutboundItem] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    status_timestamp: dict[str, datetime | None] | None = None
    modification_info: ModificationInfo | None = None


ShippingType = Literal["Standard", "Expedited", "NextDay", "SecondDay", "SameDay", "ByShippingLabelProvider"]


class OutboundItemCreate(FfnWriteModel):
    """One line of a new outbound (lengths from the spec; prices and VAT cannot be negative)."""

    outbound_item_id: str = Field(min_length=1, max_length=255)
    item_type: Literal["Product", "Shipping", "Other", "BillOfMaterials"] = "Product"
    jfsku: str | None = Field(default=None, min_length=11, max_length=11)
    merchant_sku: str | None = _Text
    name: str | None = _Text
    quantity: float = Field(gt=0)
    price: float | None = Field(default=None, ge=0)
    vat: float | None = Field(default=None, ge=0, le=100)
    external_number: str | None = _Text
    note: str | None = Field(default=None, max_length=4096)


class OutboundCreate(FfnWriteModel):
    """Body of ``POST /merchant/outbounds``; ``merchant_outbound_number`` is the idempotency key.

    Exactly one of shipping type and shipping method id: FFN refuses both, and a parcel without
    either has no carrier (the spec is silent on the second half; this is the strict reading).
    """

    merchant_outbound_number: str = Field(min_length=1, max_length=255)
    warehouse_id: str = Field(min_length=14, max_length=255)
    shipping_address: AddressCreate
    items: list[OutboundItemCreate] = Field(min_length=1)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    shipping_type: ShippingType | None = None
    shipping_method_id: str | None = Field(default=None, min_length=4, max_length=255)
    external_number: str | None = _Text
    priority: int | None = Field(default=None, ge=-5, le=5)
    internal_note: str | None = Field(default=None, max_length=4096)
    external_note: str | None = Field(default=None, max_length=4096)
    sales_channel: str | None = _Text
    desired_delivery_date: datetime | None = None
    sender_address: AddressCreate | None = None
    shipping_fee: float | None = Field(default=None, ge=0)
    order_value: float | None = Field(default=None, ge=0)
    attributes: list[Attribute] | None = None

    @model_validator(mode="after")
    def _one_shipping_choice(self) -> OutboundCreate:
        if (self.shipping_type is None) == (self.shipping_method_id is None):
            raise ValueError("exactly one of shippingType and shippingMethodId must be given")
        ids = [item.outbound_item_id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("outboundItemId values must be unique")
        return self


class ShippingNotificationPackage(FfnModel):
    """A parcel of a shipping notification, with tracking identifiers."""

    freight_option: str | None = None
    identifier: list[dict[str, Any]] = Field(default_factory=list)
    shipping_date: datetime | None = None
    shipping_method_id: str | None = None
    tracking_url: str | None = None
    estimated_delivery_date: datetime | None = None
    weight: float | None = None


class ShippingNotificationItem(FfnModel):
    """What one shipping notification shipped of one product."""

    outbound_shipping_notification_item_id: str | None = None
    jfsku: str | None = None
    quantity: float = 0
    batch: str | None = None
    serialnumbers: list[str] = Field(default_factory=list)


class OutboundShippingNotification(FfnModel):
    """The fulfiller's report that (part of) an outbound shipped."""

    outbound_shipping_notification_id: str
    outbound_id: str | None = None
    fulfiller_id: str | None = None
    merchant_outbound_number: str | None = None
    fulfiller_shipping_notification_number: str | None = None
    outbound_status: str | None = None
    note: str | None = None
    items: list[ShippingNotificationItem] = Field(default_factory=list)
    packages: list[ShippingNotificationPackage] = Field(default_factory=list)
    modification_info: ModificationInfo | None = None


class Warehouse(FfnModel):
    """A fulfiller warehouse the merchant may use."""

    warehouse_id: str
    fulfiller_id: str | None = None
    name: str | None = None
    address: Address | None = None
    shipping_method_ids: list[str] = Field(default_factory=list)
    modification_info: ModificationInfo | None = None


class User(FfnModel):
    """The account behind the token (``GET /users/current``)."""

    user_id: str
