"""Literal Wawi payloads for the order transform tests: complete objects as the API documents them."""

from __future__ import annotations

from typing import Any

SKU_MAP = {f"SKU-{i}": f"MERC01PRD{i:02d}" for i in range(1, 10)}  # jfskus are 11 characters
WAREHOUSE_1 = "FULF04XX-12345-0001"
WAREHOUSE_2 = "FULF04XX-12345-0002"
WAREHOUSE_3 = "FULF04XX-12345-0003"


def address(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Id": 100,
        "Company": None,
        "Company2": None,
        "FormOfAddress": "Herr",
        "Title": None,
        "FirstName": "Max",
        "LastName": "Muster",
        "Street": "Hauptstr. 1",
        "Address2": None,
        "PostalCode": "10115",
        "City": "Berlin",
        "State": None,
        "CountryIso": "DE",
        "VatID": None,
        "PhoneNumber": "+49 30 123456",
        "MobilePhoneNumber": None,
        "EmailAddress": "max@example.org",
        "Fax": None,
    }
    base.update(overrides)
    return base


def sales_order(order_id: int, **overrides: Any) -> dict[str, Any]:
    """A paid order to Berlin; ``overrides`` replace top-level keys (use the API's own spellings)."""
    base: dict[str, Any] = {
        "Id": order_id,
        "Number": f"AU-{order_id}",
        "ExternalNumber": None,
        "BillingNumber": None,
        "CompanyId": 1,
        "DepartureCountry": {"CountryISO": "DE", "State": None, "CurrencyIso": "EUR", "CurrencyFactor": 1},
        "CustomerId": 1000 + order_id,
        "BillingAddress": address(Id=200),
        "Shipmentaddress": address(),
        "SalesOrderDate": f"2024-03-01T10:{order_id % 60:02d}:00.0000000+00:00",
        "SalesOrderPaymentDetails": {
            "PaymentMethodId": 1,
            "PaymentStatus": 2,
            "TotalGrossAmount": 40.6,
            "CurrencyIso": "EUR",
            "CurrencyFactor": 1,
            "DateOfPayment": None,
            "StillToPay": 0,
            "PaymentTarget": 0,
            "CashDiscount": 0,
            "CashDiscountDays": 0,
        },
        "SalesOrderShippingDetail": {
            "ShippingMethodId": 3,
            "DeliveryCompleteStatus": 0,
            "ShippingPriority": 0,
            "ShippingDate": None,
            "EstimatedDeliveryDate": None,
            "DeliveredDate": None,
            "OnHoldReasonId": None,
            "ExtraWeight": 0,
        },
        "IsCancelled": False,
        "LanguageIso": "de",
    }
    base.update(overrides)
    return base


def line_item(line_id: int, sku: str | None = "SKU-1", quantity: Any = 1, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Id": line_id,
        "SalesOrderId": 0,
        "ItemId": 5000 + line_id,
        "Name": f"Article {sku}",
        "SKU": sku,
        "Type": 1,
        "Quantity": quantity,
        "QuantityDelivered": 0,
        "QuantityReturned": 0,
        "SalesUnit": "Stk",
        "SalesPriceNet": 10.0,
        "SalesPriceGross": 11.9,
        "Discount": 0,
        "PurchasePriceNet": 5.0,
        "TaxRate": 19.0,
        "Notice": None,
    }
    base.update(overrides)
    return base


def shipping_line(line_id: int, gross: float = 4.9) -> dict[str, Any]:
    return line_item(
        line_id, sku=None, Type=2, Name="Versand", SalesPriceGross=gross, SalesPriceNet=round(gross / 1.19, 4)
    )
