"""Behaviour of the JTL-Wawi emulator: auth headers, app registration, paging quirks, filters and mutations.

The Wawi world is built by hand here (``build_wawi_data``) with every property of the spec's schemas
filled, so the conformance tests can reuse it and nothing depends on the demo-data generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jtl_automator.sandbox import wawi
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData, WawiData

BASE = "/wawi/api/eazybusiness"
V1 = f"{BASE}/v1"
ITEM_COUNT = 1234
ORDER_COUNT = 30
WAREHOUSE_TYPE = "561FCDEA-261D-4593-A0E4-E9AE7892D046"


def address(address_id: int, last_name: str, city: str) -> dict[str, Any]:
    return {
        "Id": address_id,
        "Company": "Sportbedarf Sommer" if address_id % 2 else "",
        "Company2": "",
        "FormOfAddress": "Herr",
        "Title": "",
        "FirstName": "Max",
        "LastName": last_name,
        "Street": "Hauptstr. 1",
        "Address2": "",
        "PostalCode": "10115",
        "City": city,
        "State": "Berlin",
        "CountryIso": "DE",
        "VatID": "",
        "PhoneNumber": "030 123456",
        "MobilePhoneNumber": "",
        "EmailAddress": f"{last_name.lower()}@example.com",
        "Fax": "",
    }


def rich_item(item_id: int) -> dict[str, Any]:
    category = 1 + item_id % 3
    return {
        "Id": item_id,
        "SKU": f"ART{item_id:05d}",
        "ManufacturerId": 1 + item_id % 4,
        "ResponsiblePersonId": 1,
        "IsActive": item_id % 17 != 0,
        "Categories": [{"CategoryId": category, "Name": f"Category {category}"}],
        "Name": f"Goggles model {item_id}" if item_id % 10 else f"Binoculars {item_id}",
        "Description": "Interdimensional goggles.",
        "ShortDescription": "The best goggles.",
        "Identifiers": {
            "Gtin": f"4006381{item_id:06d}",
            "ManufacturerNumber": f"MPN-{item_id}",
            "ISBN": "",
            "UPC": "",
            "AmazonFnsku": "",
            "Asins": [f"B0{item_id:08d}"],
            "OwnIdentifier": f"P{item_id}",
        },
        "Components": [],
        "ChildItems": [],
        "ParentItemId": 0,
        "ItemPriceData": {
            "SalesPriceNet": 10.0 + item_id % 50,
            "SuggestedRetailPrice": 19.99,
            "PurchasePriceNet": 4.5,
            "EbayPrice": 0,
            "AmazonPrice": 0,
        },
        "ActiveSalesChannels": "1-1-1",
        "SortNumber": 0,
        "Annotation": "",
        "Added": "2024-01-01T08:00:00.0000000+00:00",
        "Changed": f"2024-{1 + item_id % 12:02d}-15T08:00:00.0000000+00:00",
        "ReleasedOnDate": "2024-01-01T00:00:00+00:00",
        "StorageOptions": {
            "InventoryManagementActive": True,
            "SplitQuantity": False,
            "GlobalMinimumStockLevel": 5,
            "Buffer": 0,
            "SerialNumberItem": False,
            "SerialNumberTracking": False,
            "SubjectToShelfLifeExpirationDate": item_id % 5 == 0,
            "SubjectToBatchItem": item_id % 4 == 0,
            "ProcurementTime": 7,
            "DetermineProcurementTimeAutomatically": False,
            "AdditionalHandlingTime": 0,
        },
        "CountryOfOrigin": "DE",
        "ConditionId": 1,
        "ShippingClassId": 1,
        "ProductGroupId": 1,
        "TaxClassId": 1,
        "Dimensions": {"Length": 10.5, "Width": 5.8, "Height": 3},
        "Weights": {"ItemWeigth": 0.5, "ShippingWeight": 0.6},
        "AllowNegativeStock": False,
        "Quantities": {
            "MinimumOrderQuantity": 1,
            "MinimumPurchaseQuantityForCustomerGroup": [
                {
                    "CustomerGroupId": 1,
                    "PermissibleOrderQuantity": 1,
                    "MinimumPurchaseQuantity": 1,
                    "IsActive": True,
                }
            ],
            "PermissibleOrderQuantity": 1,
        },
        "DangerousGoods": {"UnNumber": "", "HazardNo": ""},
        "Taric": "90049010",
        "SearchTerms": "goggles glasses",
        "PriceListActive": True,
        "IgnoreDiscounts": False,
        "AvailabilityId": 1,
    }


def rich_customer(customer_id: int) -> dict[str, Any]:
    name = ["Muster", "Schmidt", "Meyer", "Weber", "Wagner"][customer_id % 5]
    return {
        "Id": customer_id,
        "Number": f"K{10000 + customer_id}",
        "CustomerGroupId": 1,
        "BillingAddress": address(100 + customer_id, name, "Berlin"),
        "Shipmentaddress": address(200 + customer_id, name, "Potsdam"),
        "CustomAddress": address(300 + customer_id, name, "Berlin"),
        "OtherAddresses": {
            "OtherBillingAddresses": [],
            "OtherShippingAddresses": [],
            "OtherCustomerAddresses": [],
        },
        "PaymentSettings": {
            "PaymentMethodId": 1,
            "Discount": 0,
            "PaymentTarget": 14,
            "CreditLimit": 1000,
            "StopPaymentRequest": False,
        },
        "CustomerSince": "2023-02-01T13:30:00.0000000+00:00",
        "LanguageIso": "DE",
        "InternalCompanyId": 1,
        "CustomerCategoryId": 1 + customer_id % 2,
        "TaxIdentificationNumber": "",
        "AccountsReceivableNumber": 10000 + customer_id,
        "CommercialRegisterNumber": "",
        "Website": "https://example.com",
        "InitialContact": "Shop",
        "EbayUsername": "",
        "Birthday": "1985-01-01T00:00:00+00:00",
        "IsLocked": False,
        "IsCashRegisterBased": False,
    }


def rich_order(order_id: int) -> dict[str, Any]:
    customer = rich_customer(1 + order_id % 5)
    cancelled = order_id % 10 == 0
    paid = order_id % 3 == 0
    return {
        "Id": order_id,
        "Number": f"AU{20000 + order_id}",
        "ExternalNumber": f"SHOP-{order_id}",
        "BillingNumber": f"RE-{order_id}" if paid else "",
        "CompanyId": 1,
        "DepartureCountry": {
            "CountryISO": "DE",
            "State": "Berlin",
            "CurrencyIso": "EUR",
            "CurrencyFactor": 1,
        },
        "CustomerId": customer["Id"],
        "CustomerVatID": "",
        "MerchantVatID": "DE123456789",
        "BillingAddress": customer["BillingAddress"],
        "Shipmentaddress": customer["Shipmentaddress"],
        "SalesOrderDate": f"2024-10-{order_id:02d}T12:45:00.0000000+00:00",
        "SalesOrderPaymentDetails": {
            "PaymentMethodId": 1,
            "PaymentStatus": 2 if paid else 0,
            "TotalGrossAmount": 23.8,
            "CurrencyIso": "EUR",
            "CurrencyFactor": 1,
            "DateOfPayment": "2024-10-20T13:00:00.0000000+00:00",
            "StillToPay": 0 if paid else 23.8,
            "PaymentTarget": 14,
            "CashDiscount": 0,
            "CashDiscountDays": 0,
        },
        "SalesOrderShippingDetail": {
            "ShippingMethodId": 1,
            "DeliveryCompleteStatus": 0,
            "ShippingPriority": 5,
            "ShippingDate": "2024-10-21T13:00:00.0000000+00:00",
            "EstimatedDeliveryDate": "2024-10-22T13:00:00.0000000+00:00",
            "DeliveredDate": "2024-10-22T13:00:00.0000000+00:00",
            "OnHoldReasonId": 1 if order_id % 7 == 0 else 0,
            "ExtraWeight": 0,
        },
        "ColorcodeId": 0,
        "IsExternalInvoice": False,
        "Comment": "",
        "CustomerComment": "Bitte klingeln",
        "IsCancelled": cancelled,
        "LanguageIso": "DE",
        "CancellationDetails": {
            "CancellationReasonId": 2 if cancelled else 0,
            "CancellationComment": "Customer request" if cancelled else "",
            "Date": "2024-10-25T08:00:00.0000000+00:00",
        },
        "SalesChannelId": "1-1-1",
        "UserCreatedId": 1,
        "UserId": 1,
    }


def rich_line(line_id: int, order_id: int, item: dict[str, Any], quantity: int) -> dict[str, Any]:
    return {
        "Id": line_id,
        "SalesOrderId": order_id,
        "ItemId": item["Id"],
        "Name": item["Name"],
        "SKU": item["SKU"],
        "Type": 1,
        "Quantity": quantity,
        "QuantityDelivered": 0,
        "QuantityReturned": 0,
        "SalesUnit": "Stk",
        "SalesPriceNet": 10.0,
        "SalesPriceGross": 11.9,
        "Discount": 0,
        "PurchasePriceNet": 4.5,
        "TaxRate": 19,
        "Notice": "",
    }


def build_wawi_data(items: int = ITEM_COUNT, orders: int = ORDER_COUNT) -> SandboxData:
    world = WawiData()
    for category_id in (1, 2, 3):
        world.categories[category_id] = {
            "Id": category_id,
            "Name": f"Category {category_id}",
            "Description": "",
            "ParentCategoryId": 0 if category_id == 1 else 1,
            "Level": 1 if category_id == 1 else 2,
            "SortNumber": category_id,
            "ActiveSalesChannels": "1-1-1",
        }
    for warehouse_id, name, active in (
        (1, "Standardlager", True),
        (2, "FFN Lager Nord", True),
        (3, "Alt", False),
    ):
        world.warehouses[warehouse_id] = {
            "Id": warehouse_id,
            "Name": name,
            "Address": address(900 + warehouse_id, "Lager", "Hamburg"),
            "Code": f"W{warehouse_id}",
            "Type": {"Id": WAREHOUSE_TYPE, "Name": "Fulfillment", "Description": "", "Scope": ["stock"]},
            "Description": "",
            "Priority": warehouse_id,
            "CompanyId": 1,
            "LockForShipment": False,
            "LockForAvailability": False,
            "IsActive": active,
        }
    for item_id in range(1, items + 1):
        world.items[item_id] = rich_item(item_id)
        for warehouse_id in (1, 2) if item_id % 2 == 0 else (1,):
            world.stocks.append(
                {
                    "WarehouseId": warehouse_id,
                    "StorageLocationId": 0,
                    "StorageLocationName": "",
                    "ItemId": item_id,
                    "ShelfLifeExpirationDate": "2026-04-09T00:00:00+00:00",
                    "BatchNumber": "",
                    "QuantityTotal": 10 + item_id % 20,
                    "QuantityLockedForShipment": 0,
                    "QuantityLockedForAvailability": 0,
                    "QuantityInPickingLists": 1,
                }
            )
    for customer_id in range(1, 6):
        world.customers[customer_id] = rich_customer(customer_id)
    line_id = 1
    for order_id in range(1, orders + 1):
        world.sales_orders[order_id] = rich_order(order_id)
        lines = []
        for offset in range(1 + order_id % 2):
            lines.append(rich_line(line_id, order_id, world.items[1 + (order_id + offset) % items], 2))
            line_id += 1
        world.line_items[order_id] = lines
    for supplier_id in (1, 2):
        world.suppliers[supplier_id] = {
            "Id": supplier_id,
            "Name": f"Supplier {supplier_id}",
            "Type": "Default",
            "SupplierNo": f"SP{supplier_id}",
            "InternalCustomerId": "12",
            "LanguageISO": "DE",
            "FormOfAddress": "Firma",
            "FirstName": "John",
            "LastName": "Smith",
            "Company": "Tradewell",
            "Company2": "",
            "Contact": "John Smith",
            "Street": "Example St. 15",
            "Address2": "",
            "PostalCode": "10115",
            "City": "Berlin",
            "State": "Berlin",
            "CountryIso": "DE",
            "Phone": "040 12345",
            "PhoneExtension": "",
            "Fax": "",
            "Email": "info@tradewell.example",
            "Website": "https://tradewell.example",
            "Comment": "",
            "VatID": "DE123456789",
            "Status": "Active",
        }
    world.on_hold_reasons = [
        {"Id": 1, "Name": "Prüfung nötig", "IsMergeable": False, "ItemsNotUsedForPurchaseList": False},
        {"Id": 2, "Name": "Adresse unklar", "IsMergeable": False, "ItemsNotUsedForPurchaseList": False},
    ]
    world.shipping_methods = [
        {
            "Id": 1,
            "Name": "DHL Paket",
            "Priority": 1,
            "GrossPrice": 3.99,
            "ExtraWeight": 0.1,
            "IsAmazonPrime": False,
        }
    ]
    world.payment_methods = [{"Id": 1, "Name": "PayPal", "IsStandard": True, "IsActive": True}]
    for manufacturer_id in range(1, 5):
        world.manufacturers[manufacturer_id] = {
            "Id": manufacturer_id,
            "Name": f"Maker {manufacturer_id}",
            "Description": "",
            "Homepage": f"https://maker{manufacturer_id}.example",
            "SortNumber": manufacturer_id,
            "MetaTitle": "",
            "MetaKeywords": "",
            "MetaDescription": "",
        }
    world.item_properties[2] = [{"PropertyId": 7, "PropertyValueId": 71}]
    return SandboxData(wawi=world)


def make_app(state: SandboxState) -> FastAPI:
    app = FastAPI()
    app.state.sandbox = state
    app.include_router(wawi.build_router(state))
    return app


@pytest.fixture(scope="module")
def pristine() -> SandboxData:
    return build_wawi_data()


@pytest.fixture
def wawi_state() -> SandboxState:
    return SandboxState(data=build_wawi_data(), config=SandboxConfig())


@pytest.fixture
def api(wawi_state: SandboxState) -> Iterator[TestClient]:
    headers = {
        "Authorization": f"Wawi {wawi_state.config.wawi_api_key}",
        "X-AppID": wawi_state.config.wawi_app_id,
        "X-AppVersion": wawi_state.config.wawi_app_version,
    }
    with TestClient(make_app(wawi_state), base_url="http://sandbox.test", headers=headers) as client:
        yield client


@pytest.fixture
def anonymous(wawi_state: SandboxState) -> Iterator[TestClient]:
    with TestClient(make_app(wawi_state), base_url="http://sandbox.test") as client:
        yield client


# ---- auth


@pytest.mark.slow
def test_missing_or_wrong_key_is_401_with_empty_body(anonymous: TestClient, wawi_state: SandboxState) -> None:
    app_headers = {"X-AppID": "a/b/v1", "X-AppVersion": "1.0"}
    for authorization in (None, "Wawi wrong-key", f"Bearer {wawi_state.config.wawi_api_key}"):
        headers = (
            dict(app_headers) if authorization is None else {**app_headers, "Authorization": authorization}
        )
        response = anonymous.get(f"{V1}/items", headers=headers)
        assert response.status_code == 401
        assert response.content == b""


@pytest.mark.slow
def test_missing_licence_is_402_with_empty_body(api: TestClient, wawi_state: SandboxState) -> None:
    wawi_state.config.wawi_license_ok = False
    response = api.get(f"{V1}/salesOrders")
    assert (response.status_code, response.content) == (402, b"")
    assert api.get(f"{V1}/items", headers={"Authorization": "Wawi nope"}).status_code == 401


@pytest.mark.slow
def test_missing_app_headers_are_400_error_response(anonymous: TestClient, wawi_state: SandboxState) -> None:
    response = anonymous.get(
        f"{V1}/items",
        headers={"Authorization": f"Wawi {wawi_state.config.wawi_api_key}", "X-AppID": "x/y/v1"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["ErrorCode"] == "MissingHeader"
    assert body["ValidationErrors"] == {"X-AppVersion": "The X-AppVersion header is required."}
    assert body["Stacktrace"] is None


# ---- registration


def registration_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "AppId": "jtl-automator/prefect/v1",
        "DisplayName": "jtl-automator",
        "Description": "Prefect pipelines",
        "Version": "1.0.0",
        "ProviderName": "jtl-automator",
        "ProviderWebsite": "https://example.org",
        "MandatoryApiScopes": ["all.read", "salesorder.createsalesorder"],
        "OptionalApiScopes": ["stock.stockadjustment"],
        "AppIcon": "iVBORw0KGgo=",
        "RegistrationType": 0,
    }
    body.update(overrides)
    return body


@pytest.mark.slow
def test_registration_pending_then_key_once_then_gone(
    anonymous: TestClient, wawi_state: SandboxState
) -> None:
    challenge = {"X-ChallengeCode": "abc123"}
    created = anonymous.post(f"{BASE}/authentication", json=registration_body(), headers=challenge)
    assert created.status_code == 201
    info = created.json()
    assert info["AppId"] == "jtl-automator/prefect/v1" and info["Status"] == 0
    poll_url = f"{BASE}/authentication/{info['RegistrationRequestId']}"

    first = anonymous.get(poll_url, headers=challenge)
    assert first.status_code == 200
    assert first.json() == {"RequestStatusInfo": {**info, "Status": 0}}

    second = anonymous.get(poll_url, headers=challenge)
    assert second.status_code == 200
    body = second.json()
    assert body["RequestStatusInfo"]["Status"] == 2
    assert body["Token"] == {"ApiKey": wawi_state.config.wawi_api_key}
    assert body["GrantedScopes"] == ["all.read", "salesorder.createsalesorder", "stock.stockadjustment"]

    third = anonymous.get(poll_url, headers=challenge)
    assert (third.status_code, third.content) == (410, b"")
    again = anonymous.post(f"{BASE}/authentication", json=registration_body(), headers=challenge)
    assert again.status_code == 409


@pytest.mark.slow
def test_registration_waits_for_manual_acceptance(anonymous: TestClient, wawi_state: SandboxState) -> None:
    wawi_state.config.wawi_registration_auto_accept = False
    challenge = {"X-ChallengeCode": "manual"}
    created = anonymous.post(f"{V1}/authentication", json=registration_body(), headers=challenge).json()
    registration_id = created["RegistrationRequestId"]
    poll_url = f"{V1}/authentication/{registration_id}"
    for _ in range(3):
        assert anonymous.get(poll_url, headers=challenge).json()["RequestStatusInfo"]["Status"] == 0
    assert wawi.pending_registrations(wawi_state) == [registration_id]
    wawi.accept_registration(wawi_state, registration_id)
    assert (
        anonymous.get(poll_url, headers=challenge).json()["Token"]["ApiKey"] == wawi_state.config.wawi_api_key
    )
    assert anonymous.get(poll_url, headers=challenge).status_code == 410
    with pytest.raises(KeyError):
        wawi.accept_registration(wawi_state, "unknown")


@pytest.mark.slow
def test_registration_rejected_never_yields_a_key(anonymous: TestClient, wawi_state: SandboxState) -> None:
    wawi_state.config.wawi_registration_auto_accept = False
    challenge = {"X-ChallengeCode": "reject"}
    registration_id = anonymous.post(
        f"{BASE}/authentication", json=registration_body(), headers=challenge
    ).json()["RegistrationRequestId"]
    wawi.reject_registration(wawi_state, registration_id)
    body = anonymous.get(f"{BASE}/authentication/{registration_id}", headers=challenge).json()
    assert body == {
        "RequestStatusInfo": {
            "AppId": "jtl-automator/prefect/v1",
            "RegistrationRequestId": registration_id,
            "Status": 1,
        }
    }


@pytest.mark.slow
def test_registration_errors(anonymous: TestClient, wawi_state: SandboxState) -> None:
    url = f"{BASE}/authentication"
    assert anonymous.post(url, json=registration_body()).status_code == 400
    invalid = anonymous.post(
        url, json={"AppId": "x", "MandatoryApiScopes": "all.read"}, headers={"X-ChallengeCode": "c"}
    )
    assert invalid.status_code == 400
    errors = invalid.json()["ValidationErrors"]
    assert {"DisplayName", "Description", "Version", "ProviderName", "ProviderWebsite", "AppIcon"} <= set(
        errors
    )
    assert "MandatoryApiScopes" in errors
    created = anonymous.post(url, json=registration_body(), headers={"X-ChallengeCode": "right"}).json()
    wrong = anonymous.get(f"{url}/{created['RegistrationRequestId']}", headers={"X-ChallengeCode": "wrong"})
    assert wrong.status_code == 403
    assert wrong.json()["ErrorCode"] == "Forbidden"
    assert anonymous.get(f"{url}/NOPE", headers={"X-ChallengeCode": "right"}).status_code == 404
    wawi_state.config.wawi_license_ok = False
    assert anonymous.post(url, json=registration_body(), headers={"X-ChallengeCode": "c"}).status_code == 402


# ---- paging


@pytest.mark.slow
def test_paging_over_1234_items_with_the_quirk_fields(api: TestClient) -> None:
    first = api.get(f"{V1}/items", params={"pageSize": 100}).json()
    assert {k: v for k, v in first.items() if k != "Items"} == {
        "TotalItems": 1234,
        "PageNumber": 1,
        "PageSize": 100,
        "TotalPages": 13,
        "HasPreviousPage": False,
        "HasNextPage": True,
        "NextPageNumber": 2,
        "PreviousPageNumber": 1,
    }
    seen = [item["Id"] for item in first["Items"]]
    page = first
    while page["HasNextPage"]:
        page = api.get(f"{V1}/items", params={"pageSize": 100, "pageNumber": page["NextPageNumber"]}).json()
        seen.extend(item["Id"] for item in page["Items"])
    assert seen == list(range(1, 1235))
    assert {k: v for k, v in page.items() if k != "Items"} == {
        "TotalItems": 1234,
        "PageNumber": 13,
        "PageSize": 100,
        "TotalPages": 13,
        "HasPreviousPage": True,
        "HasNextPage": False,
        "NextPageNumber": 13,
        "PreviousPageNumber": 12,
    }
    assert len(page["Items"]) == 34
    beyond = api.get(f"{V1}/items", params={"pageSize": 100, "pageNumber": 20}).json()
    assert beyond["Items"] == [] and beyond["NextPageNumber"] == 13


@pytest.mark.slow
def test_default_and_invalid_page_parameters(api: TestClient, wawi_state: SandboxState) -> None:
    assert api.get(f"{V1}/items").json()["PageSize"] == wawi_state.config.wawi_default_page_size
    too_big = api.get(f"{V1}/items", params={"pageSize": wawi_state.config.wawi_max_page_size + 1})
    assert too_big.status_code == 400
    assert set(too_big.json()["ValidationErrors"]) == {"pageSize"}
    assert api.get(f"{V1}/items", params={"pageNumber": 0}).status_code == 400
    assert api.get(f"{V1}/items", params={"pageNumber": "one"}).json()["ValidationErrors"] == {
        "pageNumber": "The value 'one' is not valid."
    }
    empty = api.get(f"{V1}/salesOrders", params={"salesOrderNumber": "none"}).json()
    assert (empty["TotalItems"], empty["TotalPages"], empty["NextPageNumber"], empty["Items"]) == (
        0,
        0,
        0,
        [],
    )


@pytest.mark.slow
def test_deep_page_of_100k_items_is_the_right_slice(wawi_state: SandboxState) -> None:
    """Deep pages of a large table hold the right rows (speed is measured in benchmarks/, not here)."""
    wawi_state.data.wawi.items = {i: {"Id": i, "SKU": f"S{i}"} for i in range(1, 100_001)}
    with TestClient(make_app(wawi_state)) as client:
        headers = {
            "Authorization": f"Wawi {wawi_state.config.wawi_api_key}",
            "X-AppID": "a",
            "X-AppVersion": "1",
        }
        for page in (1, 500, 1000):
            body = client.get(
                f"{V1}/items", params={"pageNumber": page, "pageSize": 100}, headers=headers
            ).json()
            assert [item["Id"] for item in body["Items"]] == list(range((page - 1) * 100 + 1, page * 100 + 1))
    assert (body["TotalItems"], body["HasNextPage"]) == (100_000, False)


# ---- filters


@pytest.mark.slow
def test_item_filters(api: TestClient) -> None:
    by_keyword = api.get(f"{V1}/items", params={"searchKeyWord": "binoculars", "pageSize": 1000}).json()
    assert by_keyword["TotalItems"] == 123
    assert all("Binoculars" in item["Name"] for item in by_keyword["Items"])
    assert api.get(f"{V1}/items", params={"searchKeyWord": "ART00042"}).json()["Items"][0]["Id"] == 42
    by_category = api.get(f"{V1}/items", params={"categoryId": 2, "pageSize": 1000}).json()
    assert by_category["TotalItems"] == len([i for i in range(1, 1235) if 1 + i % 3 == 2])
    changed = api.get(f"{V1}/items", params={"changedSince": "2024-12-01T00:00:00Z", "pageSize": 1000}).json()
    assert {item["Changed"][:7] for item in changed["Items"]} == {"2024-12"}
    assert api.get(f"{V1}/items", params={"changedSince": "yesterday"}).status_code == 400


@pytest.mark.slow
def test_sales_order_filters(api: TestClient) -> None:
    def ids(**params: Any) -> list[int]:
        return [order["Id"] for order in api.get(f"{V1}/salesOrders", params=params).json()["Items"]]

    assert ids(salesOrderNumber="AU20007") == [7]
    assert ids(customerId=2) == [1, 6, 11, 16, 21, 26]
    assert ids(paymentStatus=2) == list(range(3, 31, 3))
    assert ids(isCancelled="true") == [10, 20, 30]
    assert ids(onHoldReasonId=1) == [7, 14, 21, 28]
    assert ids(createdSince="2024-10-05T00:00:00+00:00", createdUntil="2024-10-08T00:00:00+00:00") == [
        5,
        6,
        7,
    ]
    assert ids(createdSince="2024-10-29T12:45:00Z") == [29, 30]
    assert ids(itemId=5) == [3, 4]
    assert api.get(f"{V1}/salesOrders", params={"isCancelled": "maybe"}).status_code == 400


@pytest.mark.slow
def test_customer_stock_and_warehouse_filters(api: TestClient) -> None:
    assert [c["Id"] for c in api.get(f"{V1}/customers", params={"number": "K10003"}).json()["Items"]] == [3]
    assert [
        c["Id"] for c in api.get(f"{V1}/customers", params={"searchKeyWord": "schmidt"}).json()["Items"]
    ] == [1]
    assert api.get(f"{V1}/customers/4").json()["Number"] == "K10004"
    stocks = api.get(f"{V1}/stocks", params={"itemId": 8}).json()["Items"]
    assert [(s["WarehouseId"], s["QuantityTotal"]) for s in stocks] == [(1, 18), (2, 18)]
    assert api.get(f"{V1}/stocks", params={"warehouseId": 2, "pageSize": 1000}).json()["TotalItems"] == 617
    active = api.get(f"{V1}/warehouses", params={"isActive": "true"}).json()
    assert [w["Id"] for w in active["Items"]] == [1, 2]
    assert api.get(f"{V1}/categories").json()["TotalItems"] == 3


@pytest.mark.slow
def test_plain_array_endpoints(api: TestClient) -> None:
    for path, count in (
        ("suppliers", 2),
        ("onHoldReasons", 2),
        ("shippingMethods", 1),
        ("paymentMethods", 1),
        ("manufacturers", 4),
    ):
        body = api.get(f"{V1}/{path}").json()
        assert isinstance(body, list) and len(body) == count


@pytest.mark.slow
def test_item_properties_per_item(api: TestClient) -> None:
    assert api.get(f"{V1}/items/2/properties").json() == {
        "ItemId": 2,
        "Properties": [{"PropertyId": 7, "PropertyValueId": 71}],
    }
    assert api.get(f"{V1}/items/3/properties").json() == {"ItemId": 3, "Properties": []}
    missing = api.get(f"{V1}/items/99999/properties")
    assert missing.status_code == 404 and missing.json()["ErrorCode"] == "NotFound"


# ---- mutations


@pytest.mark.slow
def test_unknown_ids_are_404_error_response(api: TestClient) -> None:
    response = api.get(f"{V1}/salesOrders/999")
    assert response.status_code == 404
    assert response.json() == {
        "ErrorCode": "NotFound",
        "ErrorMessage": "SalesOrder with id 999 was not found.",
        "ValidationErrors": {},
        "Stacktrace": None,
    }
    for path in ("items/99999", "customers/99", "salesOrders/999/lineitems"):
        assert api.get(f"{V1}/{path}").status_code == 404
    assert api.patch(f"{V1}/items/99999", json={"Name": "x"}).status_code == 404
    assert api.post(f"{V1}/salesOrders/999/cancel", json={"CancellationReasonId": 1}).status_code == 404


@pytest.mark.slow
def test_create_and_patch_item(api: TestClient, wawi_state: SandboxState) -> None:
    created = api.post(f"{V1}/items", json={"Name": "Lens cloth", "Categories": [{"CategoryId": 3}]})
    assert created.status_code == 201
    item = created.json()
    assert item["Id"] == 1235 and item["SKU"] == "ART0001235" and item["IsActive"] is True
    assert item["Categories"] == [{"CategoryId": 3, "Name": "Category 3"}]
    assert item["Weights"] == {"ItemWeigth": 0, "ShippingWeight": 0}
    patched = api.patch(
        f"{V1}/items/1235", json={"Weights": {"ItemWeigth": 0.2}, "ItemPriceData": {"SalesPriceNet": 4.2}}
    )
    assert patched.status_code == 201
    assert patched.json()["Weights"] == {"ItemWeigth": 0.2, "ShippingWeight": 0}
    assert patched.json()["ItemPriceData"]["SalesPriceNet"] == 4.2
    assert patched.json()["Changed"] >= item["Changed"]
    assert wawi_state.data.wawi.items[1235]["Weights"]["ItemWeigth"] == 0.2
    duplicate = api.post(f"{V1}/items", json={"Name": "Dup", "SKU": "ART00001", "Categories": []})
    assert duplicate.status_code == 400 and "SKU" in duplicate.json()["ValidationErrors"]
    bad = api.post(f"{V1}/items", json={"Name": "", "Categories": [{"CategoryId": 99}], "IsActive": "yes"})
    assert bad.status_code == 400
    assert set(bad.json()["ValidationErrors"]) == {"Name"}
    unknown_category = api.post(f"{V1}/items", json={"Name": "X", "Categories": [{"CategoryId": 99}]})
    assert unknown_category.json()["ValidationErrors"] == {
        "Categories[0].CategoryId": "Category 99 does not exist."
    }
    not_json = api.post(f"{V1}/items", content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["ErrorCode"] == "ValidationError"


@pytest.mark.slow
def test_stock_adjustment_adds_the_delta(api: TestClient, wawi_state: SandboxState) -> None:
    adjusted = api.post(
        f"{V1}/stocks", json={"ItemId": 8, "WarehouseId": 2, "Quantity": 5, "Comment": "inbound"}
    )
    assert adjusted.status_code == 201
    assert adjusted.json()["QuantityTotal"] == 23
    new_row = api.post(f"{V1}/stocks", json={"ItemId": 7, "WarehouseId": 2, "Quantity": 3}).json()
    assert (new_row["WarehouseId"], new_row["QuantityTotal"], new_row["StorageLocationId"]) == (2, 3, 0)
    assert len(api.get(f"{V1}/stocks", params={"itemId": 7}).json()["Items"]) == 2
    negative = api.post(f"{V1}/stocks", json={"ItemId": 7, "WarehouseId": 2, "Quantity": -4})
    assert negative.status_code == 400
    assert api.post(f"{V1}/stocks", json={"ItemId": 7, "WarehouseId": 9, "Quantity": 1}).status_code == 404
    assert set(api.post(f"{V1}/stocks", json={"ItemId": 7}).json()["ValidationErrors"]) == {
        "WarehouseId",
        "Quantity",
    }


@pytest.mark.slow
def test_create_patch_and_read_sales_order(api: TestClient) -> None:
    created = api.post(f"{V1}/salesOrders", json={"CompanyId": 1, "CustomerId": 2, "Comment": "from API"})
    assert created.status_code == 201
    order = created.json()
    assert order["Id"] == 31 and order["Number"].startswith("AU") and order["IsCancelled"] is False
    assert order["BillingAddress"]["LastName"] == "Meyer"
    assert order["Shipmentaddress"]["City"] == "Potsdam"
    assert api.get(f"{V1}/salesOrders/31/lineitems").json() == []
    patched = api.patch(
        f"{V1}/salesOrders/31", json={"Comment": "checked", "SalesOrderShippingDetail": {"OnHoldReasonId": 2}}
    )
    assert patched.status_code == 201
    assert patched.json()["Comment"] == "checked"
    assert patched.json()["SalesOrderShippingDetail"]["OnHoldReasonId"] == 2
    assert (
        patched.json()["SalesOrderShippingDetail"]["ShippingMethodId"]
        == order["SalesOrderShippingDetail"]["ShippingMethodId"]
    )
    assert api.get(f"{V1}/salesOrders/31").json()["Comment"] == "checked"
    assert (
        api.patch(
            f"{V1}/salesOrders/31", json={"SalesOrderShippingDetail": {"OnHoldReasonId": 77}}
        ).status_code
        == 400
    )
    assert api.post(f"{V1}/salesOrders", json={"CompanyId": 1, "CustomerId": 99}).status_code == 400
    duplicate = api.post(f"{V1}/salesOrders", json={"CompanyId": 1, "CustomerId": 2, "Number": "AU20001"})
    assert duplicate.status_code == 400
    renamed = api.post(
        f"{V1}/salesOrders",
        params={"renameSalesOrderNumberWhenAlreadyExists": "true"},
        json={"CompanyId": 1, "CustomerId": 2, "Number": "AU20001"},
    )
    assert renamed.json()["Number"] == "AU20001-1"


@pytest.mark.slow
def test_line_items_post_takes_an_array(api: TestClient) -> None:
    created = api.post(
        f"{V1}/salesOrders/2/lineitems",
        json=[{"ItemId": 5, "Quantity": 3}, {"Name": "Gift wrap", "Quantity": 1, "SalesPriceGross": 2.38}],
    )
    assert created.status_code == 201
    first, second = created.json()
    assert (first["SalesOrderId"], first["Type"], first["SKU"], first["SalesPriceNet"]) == (
        2,
        1,
        "ART00005",
        15.0,
    )
    assert first["SalesPriceGross"] == 17.85
    assert (second["Type"], second["ItemId"], second["SalesPriceNet"]) == (0, 0, 2.0)
    assert second["Id"] == first["Id"] + 1
    lines = api.get(f"{V1}/salesOrders/2/lineitems").json()
    assert [line["Id"] for line in lines][-2:] == [first["Id"], second["Id"]]
    total = api.get(f"{V1}/salesOrders/2").json()["SalesOrderPaymentDetails"]["TotalGrossAmount"]
    assert total == round(sum(line["Quantity"] * line["SalesPriceGross"] for line in lines), 2)
    not_array = api.post(f"{V1}/salesOrders/2/lineitems", json={"ItemId": 5, "Quantity": 1})
    assert not_array.status_code == 400
    missing_quantity = api.post(f"{V1}/salesOrders/2/lineitems", json=[{"ItemId": 5}])
    assert missing_quantity.json()["ValidationErrors"] == {"[0].Quantity": "The Quantity field is required."}
    unknown_item = api.post(f"{V1}/salesOrders/2/lineitems", json=[{"ItemId": 99999, "Quantity": 1}])
    assert unknown_item.status_code == 400
    assert len(api.get(f"{V1}/salesOrders/2/lineitems").json()) == len(lines)


@pytest.mark.slow
def test_cancel_is_204_then_406(api: TestClient) -> None:
    response = api.post(
        f"{V1}/salesOrders/4/cancel", json={"CancellationReasonId": 3, "CancellationComment": "dup"}
    )
    assert (response.status_code, response.content) == (204, b"")
    order = api.get(f"{V1}/salesOrders/4").json()
    assert order["IsCancelled"] is True
    assert order["CancellationDetails"]["CancellationReasonId"] == 3
    assert order["CancellationDetails"]["CancellationComment"] == "dup"
    again = api.post(f"{V1}/salesOrders/4/cancel", json={"CancellationReasonId": 3})
    assert (again.status_code, again.content) == (406, b"")
    assert api.post(f"{V1}/salesOrders/5/cancel", json={}).status_code == 400


@pytest.mark.slow
def test_v2_purchase_orders(api: TestClient, wawi_state: SandboxState) -> None:
    created = api.post(
        f"{BASE}/v2/purchase-orders",
        json={"supplierId": 1, "warehouseId": 2, "lineItems": [{"itemId": 8, "quantity": 20}]},
    )
    assert created.status_code == 201
    po = created.json()
    assert (
        po["status"],
        po["supplierId"],
        po["lineItems"][0]["sku"],
        po["lineItems"][0]["purchasePriceNet"],
    ) == (
        "Open",
        1,
        "ART00008",
        4.5,
    )
    added = api.post(f"{BASE}/v2/purchase-orders/{po['id']}/line-items", json=[{"itemId": 9, "quantity": 5}])
    assert added.status_code == 201
    stored = api.get(f"{BASE}/v2/purchase-orders/{po['id']}").json()
    assert len(stored["lineItems"]) == 2 and stored["totalNet"] == 25 * 4.5
    assert wawi_state.data.wawi.purchase_orders[po["id"]]["LineItems"][1]["SKU"] == "ART00009"
    listing = api.get(f"{BASE}/v2/purchase-orders").json()
    assert (listing["totalItems"], listing["nextPageNumber"], listing["previousPageNumber"]) == (
        1,
        None,
        None,
    )
    draft = api.post(
        f"{BASE}/v2/purchase-orders", json={"supplierId": 2, "status": "Draft", "lineItems": []}
    ).json()
    refused = api.post(
        f"{BASE}/v2/purchase-orders/{draft['id']}/line-items", json={"itemId": 9, "quantity": 1}
    )
    assert refused.status_code == 400 and refused.json()["errorCode"] == "INVALID_STATE"
    invalid = api.post(
        f"{BASE}/v2/purchase-orders", json={"supplierId": 9, "lineItems": [{"itemId": 1, "quantity": 0}]}
    )
    assert invalid.status_code == 400
    assert set(invalid.json()["validationErrors"]) == {"supplierId", "lineItems[0].quantity"}
    assert api.get(f"{BASE}/v2/purchase-orders/999").status_code == 404


@pytest.mark.slow
def test_info_is_the_cheap_health_check(api: TestClient) -> None:
    body = api.get(f"{V1}/info").json()
    assert set(body) == {"Version", "Timestamp", "Tenant", "Type"}
