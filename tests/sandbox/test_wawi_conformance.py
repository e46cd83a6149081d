"""Every Wawi object the emulator serves validates against the same-named schema of the Wawi 1.0 spec.

In both flavours: the on-premise API under ``/v1`` and the Cloud API (no ``/v1``, Bearer and tenant).

Stored objects (the hand-built world of ``test_wawi_api``) must satisfy the schemas exactly. Objects the
emulator creates or changes are checked against the same schemas with one relaxation: date-time
properties that have no value are left out (the real API omits null keys), so they are not required.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_schema_validator import OAS30Validator

from jtl_automator.sandbox import wawi
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from tests.sandbox.test_wawi_api import BASE, V1, build_wawi_data, make_app
from tests.support import openapi

ENTITY_SCHEMAS = (
    "Item",
    "Stock",
    "SalesOrder",
    "SalesOrderLineItem",
    "Customer",
    "Supplier",
    "Warehouse",
    "Category",
)


def spec() -> dict[str, Any]:
    return openapi.spec("wawi")


def validator(name: str, *, relaxed: bool = False) -> OAS30Validator:
    return openapi.validator("wawi", name, relaxed_dates=relaxed)


def assert_conforms(name: str, obj: Any, *, relaxed: bool = False) -> None:
    found = openapi.problems(validator(name, relaxed=relaxed), obj)
    assert not found, f"{name} {obj.get('Id')}: " + "; ".join(found)


@pytest.fixture
def conformance_state() -> SandboxState:
    return SandboxState(data=build_wawi_data(items=120, orders=30), config=SandboxConfig())


CLOUD = "/wawi/cloud/erp"


@pytest.fixture(params=["onprem", "cloud"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def root(flavour: str) -> str:
    """Where the flavour's v1 resources live."""
    return V1 if flavour == "onprem" else CLOUD


@pytest.fixture
def api(conformance_state: SandboxState, flavour: str) -> Iterator[TestClient]:
    config = conformance_state.config
    headers = {"X-AppID": config.wawi_app_id, "X-AppVersion": "1"}
    if flavour == "onprem":
        headers["Authorization"] = f"Wawi {config.wawi_api_key}"
    else:
        token = wawi.issue_cloud_token(conformance_state)["access_token"]
        headers.update({"Authorization": f"Bearer {token}", "X-Tenant-ID": config.wawi_cloud_tenant_id})
    with TestClient(make_app(conformance_state), headers=headers) as client:
        yield client


def test_schema_subset_is_self_contained() -> None:
    schemas = spec()["components"]["schemas"]
    assert set(ENTITY_SCHEMAS) <= set(schemas)
    assert {"ErrorResponse", "RegistrationRequestStatusInfo", "RegistrationInformation"} <= set(schemas)
    refs = {ref.rsplit("/", 1)[-1] for ref in _refs(schemas)}
    assert refs <= set(schemas)
    assert "ItemWeigth" in schemas["ItemWeights"]["properties"]
    assert "Shipmentaddress" in schemas["SalesOrder"]["properties"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_validator_rejects_a_broken_object() -> None:
    broken = build_wawi_data(items=1, orders=1).wawi.items[1]
    broken["Weights"] = {"ItemWeight": 1.0, "ShippingWeight": 1.0}
    assert list(validator("Item").iter_errors(broken))


@pytest.mark.slow
def test_every_listed_object_conforms(api: TestClient, root: str) -> None:
    def pages(path: str, name: str) -> Iterator[dict[str, Any]]:
        page_number = 1
        while True:
            page = api.get(f"{root}/{path}", params={"pageNumber": page_number, "pageSize": 50}).json()
            assert_conforms(f"PagedListOf{name}", page)
            yield from page["Items"]
            if not page["HasNextPage"]:
                return
            page_number = page["NextPageNumber"]

    counts: dict[str, int] = {}
    for path, name in (
        ("items", "Item"),
        ("stocks", "Stock"),
        ("salesOrders", "SalesOrder"),
        ("customers", "Customer"),
        ("warehouses", "Warehouse"),
        ("categories", "Category"),
    ):
        objects = list(pages(path, name))
        for obj in objects:
            assert_conforms(name, obj)
        counts[name] = len(objects)
    assert counts == {
        "Item": 120,
        "Stock": 180,
        "SalesOrder": 30,
        "Customer": 5,
        "Warehouse": 3,
        "Category": 3,
    }
    for supplier in api.get(f"{root}/suppliers").json():
        assert_conforms("Supplier", supplier)
    for order_id in (1, 2, 10):
        assert_conforms("SalesOrder", api.get(f"{root}/salesOrders/{order_id}").json())
        lines = api.get(f"{root}/salesOrders/{order_id}/lineitems").json()
        assert lines
        for line in lines:
            assert_conforms("SalesOrderLineItem", line)
    assert_conforms("Item", api.get(f"{root}/items/7").json())
    assert_conforms("Customer", api.get(f"{root}/customers/3").json())
    for path, name in (
        ("onHoldReasons", "OnHoldReason"),
        ("shippingMethods", "ShippingMethod"),
        ("paymentMethods", "PaymentMethod"),
    ):
        for obj in api.get(f"{root}/{path}").json():
            assert_conforms(name, obj)


@pytest.mark.slow
def test_manufacturers_and_item_properties_conform(api: TestClient, root: str) -> None:
    manufacturers = api.get(f"{root}/manufacturers").json()
    assert manufacturers
    for manufacturer in manufacturers:
        assert_conforms("Manufacturer", manufacturer)
    for item_id in (2, 3):
        assert_conforms("ItemProperties", api.get(f"{root}/items/{item_id}/properties").json())


@pytest.mark.slow
def test_created_and_changed_objects_conform(api: TestClient, root: str) -> None:
    item = api.post(
        f"{root}/items",
        json={"Name": "New", "Categories": [{"CategoryId": 1}], "Identifiers": {"Gtin": "4006381333931"}},
    )
    assert_conforms("Item", item.json(), relaxed=True)
    assert_conforms(
        "Item", api.patch(f"{root}/items/3", json={"Name": "Renamed", "Dimensions": {"Height": 9}}).json()
    )

    stock = api.post(
        f"{root}/stocks", json={"ItemId": 3, "WarehouseId": 2, "Quantity": 4, "BatchNumber": "B-1"}
    ).json()
    assert_conforms("Stock", stock, relaxed=True)

    order = api.post(
        f"{root}/salesOrders",
        json={
            "CompanyId": 1,
            "CustomerId": 1,
            "Shipmentaddress": {"LastName": "Neu", "City": "Köln", "CountryIso": "DE"},
            "SalesOrderPaymentDetails": {"PaymentMethodId": 1},
        },
    ).json()
    assert_conforms("SalesOrder", order, relaxed=True)
    assert order["Shipmentaddress"]["City"] == "Köln"
    lines = api.post(
        f"{root}/salesOrders/{order['Id']}/lineitems",
        json=[{"ItemId": 3, "Quantity": 1}, {"Name": "Fee", "Quantity": 1, "SalesPriceNet": 2}],
    ).json()
    for line in lines:
        assert_conforms("SalesOrderLineItem", line)
    patched = api.patch(
        f"{root}/salesOrders/{order['Id']}", json={"SalesOrderShippingDetail": {"OnHoldReasonId": 1}}
    ).json()
    assert_conforms("SalesOrder", patched, relaxed=True)
    assert (
        api.post(f"{root}/salesOrders/{order['Id']}/cancel", json={"CancellationReasonId": 1}).status_code
        == 204
    )
    assert_conforms("SalesOrder", api.get(f"{root}/salesOrders/{order['Id']}").json(), relaxed=True)


@pytest.mark.slow
def test_error_and_registration_bodies_conform(api: TestClient, root: str, flavour: str) -> None:
    def conforms(body: dict[str, Any]) -> None:
        # Stacktrace is null in the emulator (the spec types it as a non-nullable string): check the rest.
        assert_conforms("ErrorResponse", {k: v for k, v in body.items() if k != "Stacktrace"})

    conforms(api.get(f"{root}/items/99999").json())
    if flavour == "cloud":
        conforms(api.get(f"{root}/items", headers={"X-Tenant-ID": ""}).json())  # 412, no tenant
        return
    challenge = {"X-ChallengeCode": "conformance"}
    body = {
        "AppId": "a/b/v1",
        "DisplayName": "A",
        "Description": "B",
        "Version": "1",
        "ProviderName": "C",
        "ProviderWebsite": "https://c.example",
        "MandatoryApiScopes": ["all.read"],
        "AppIcon": "iVBORw0KGgo=",
    }
    assert_conforms("CreateAppRegistrationRequest", body)
    created = api.post(f"{BASE}/authentication", json=body, headers=challenge).json()
    assert_conforms("RegistrationRequestStatusInfo", created)
    pending = api.get(f"{BASE}/authentication/{created['RegistrationRequestId']}", headers=challenge).json()
    assert_conforms("RegistrationInformation", pending)
    accepted = api.get(f"{BASE}/authentication/{created['RegistrationRequestId']}", headers=challenge).json()
    assert_conforms("RegistrationInformation", accepted)
    assert accepted["Token"]["ApiKey"]


@pytest.mark.slow
def test_completed_defaults_cover_every_required_property() -> None:
    for name in ENTITY_SCHEMAS:
        assert_conforms(name, wawi.complete(name, {"Id": 1}), relaxed=True)


@pytest.mark.slow
def test_generated_item_suppliers_conform_and_have_one_standard_each() -> None:
    """``GET /items/{id}/suppliers`` of the generated world: ItemSupplier rows, one standard per item."""
    from jtl_automator.sandbox.generator import generate

    state = SandboxState(data=generate(seed=7, skus=60, orders=5, customers=5), config=SandboxConfig())
    config = state.config
    headers = {
        "X-AppID": config.wawi_app_id,
        "X-AppVersion": "1",
        "Authorization": f"Wawi {config.wawi_api_key}",
    }
    with TestClient(make_app(state), headers=headers) as client:
        without = 0
        for item_id in sorted(state.data.wawi.items):
            response = client.get(f"{V1}/items/{item_id}/suppliers")
            assert response.status_code == 200, response.text
            rows = response.json()
            for row in rows:
                assert_conforms("ItemSupplier", row)
                assert row["ItemId"] == item_id and row["SupplierId"] in state.data.wawi.suppliers
            assert sum(row["IsStandard"] for row in rows) == (1 if rows else 0)
            without += not rows
        assert 0 < without < len(state.data.wawi.items) // 10
        assert client.get(f"{V1}/items/987654/suppliers").status_code == 404
