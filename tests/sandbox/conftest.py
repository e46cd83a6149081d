"""Shared fixtures for sandbox tests: a small, hand-built FFN world and an app serving it.

Tests reach the helpers through the ``ffn_kit`` fixture rather than importing this module.
The app here mounts only the FFN and OAuth routers so these tests do not depend on the other
emulated APIs; the data is built by hand (not by the generator) so every nested shape the
conformance tests check is present on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jtl_automator.sandbox import ffn, oauth
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import FfnData, SandboxData

CREATED = "2024-10-01T08:00:00.000+00:00"
WAREHOUSE_A = "FULF04XX-12345-0001"
WAREHOUSE_B = "FULF04XX-12345-0002"
METHOD_STANDARD = "FULF0A0001"
METHOD_EXPRESS = "FULF0A0002"


def jfsku_for(index: int) -> str:
    """Deterministic 11-character jfskus: MERC + 7 digits."""
    return f"MERC{index:07d}"


def _address(company: str | None, lastname: str | None, city: str) -> dict[str, Any]:
    return {
        "salutation": None,
        "firstname": "Erika",
        "lastname": lastname,
        "company": company,
        "street": "Hauptstr. 1",
        "extraLine": None,
        "extraAddressLine": None,
        "zip": "10115",
        "city": city,
        "state": None,
        "country": "DE",
        "email": "ops@example.com",
        "phone": None,
        "mobile": None,
        "fax": None,
    }


def _product(index: int) -> dict[str, Any]:
    rich = index % 3 == 0
    return {
        "jfsku": jfsku_for(index),
        "merchantId": "MERC",
        "merchantSku": f"{index:05d}" if index % 10 == 0 else f"SKU-{index}",
        "name": f"Product {index}" + (" with 'quote'" if index == 3 else ""),
        "productGroup": "Headwear" if rich else None,
        "originCountry": "DE",
        "manufacturer": "ACME" if index % 2 == 0 else None,
        "weight": 0.5 + index % 7,
        "netWeight": 0.4,
        "note": None,
        "identifier": {
            "mpn": {"manufacturer": "ACME", "partNumber": f"P-{index}"} if rich else None,
            "ean": f"40{index:011d}",
            "isbn": None,
            "upc": None,
            "asin": None,
        },
        "specifications": {
            "unNumber": None,
            "hazardIdentifier": None,
            "taric": "61071100" if rich else None,
            "fnsku": None,
            "isBatch": index % 4 == 0,
            "isDivisible": False,
            "isBestBefore": index % 5 == 0,
            "isSerialNumber": False,
            "isBillOfMaterials": False,
            "billOfMaterialsComponents": [],
            "isPackaging": False,
        },
        "dimensions": {"length": 0.1, "width": 0.2, "height": 0.3} if rich else None,
        "attributes": [{"key": "color", "value": ["red", "blue"][index % 2], "attributeType": "String"}]
        if rich
        else [],
        "netRetailPrice": {"amount": 9.99 + index, "currency": "EUR"},
        "bundles": [{"name": "Karton", "quantity": 12, "ean": None, "upc": None}] if rich else [],
        "relatedProducts": [],
        "condition": "Default",
        "pictures": [
            {
                "number": 1,
                "url": f"https://ffn.example/api/v1/merchant/products/{jfsku_for(index)}/pictures/1",
                "publicUrl": "https://ffn.example/api/pictures/19ce8857",
                "hash": None,
                "size": 1234,
                "mimeType": "image/jpeg",
            }
        ]
        if rich
        else [],
        "modificationInfo": {"createdAt": CREATED, "updatedAt": None, "state": "New"},
    }


def _levels(level: int, with_details: bool) -> dict[str, Any]:
    details = []
    if with_details and level:
        details = [
            {"batch": None, "bestBefore": None, "stockLevel": level - 2, "stockLevelBlocked": 0},
            {
                "batch": "B-7",
                "bestBefore": {"year": 2026, "month": 4, "day": 9},
                "stockLevel": 2,
                "stockLevelBlocked": 1,
            },
        ]
    elif level:
        details = [{"batch": None, "bestBefore": None, "stockLevel": level, "stockLevelBlocked": 0}]
    return {
        "stockLevel": level,
        "stockLevelReserved": 0,
        "stockLevelBlocked": 1 if with_details and level else 0,
        "stockLevelAnnounced": 0,
        "stockLevelDetails": details,
        "stockReservedDetails": [],
        "stockAnnouncedDetails": [],
    }


def _stock(index: int, merchant_sku: str) -> dict[str, Any]:
    jfsku = jfsku_for(index)
    level_a = 10 + index % 20
    level_b = 5 if index % 2 == 0 else 0
    rich = index % 3 == 0
    rows = [
        {
            "warehouseId": WAREHOUSE_A,
            "jfsku": jfsku,
            "merchantSku": merchant_sku,
            **_levels(level_a, rich),
            "fulfillerTimestamp": CREATED,
        }
    ]
    if level_b:
        rows.append(
            {
                "warehouseId": WAREHOUSE_B,
                "jfsku": jfsku,
                "merchantSku": merchant_sku,
                **_levels(level_b, False),
                "fulfillerTimestamp": None,
            }
        )
    total = _levels(level_a + level_b, False)
    total["stockLevelDetails"] = [dict(d) for row in rows for d in row["stockLevelDetails"]]  # no aliasing
    total["stockLevelBlocked"] = sum(row["stockLevelBlocked"] for row in rows)
    return {
        "jfsku": jfsku,
        "merchantSku": merchant_sku,
        **total,
        "warehouses": rows,
        "fulfillerTimestamp": None,
    }


def build_ffn_data(products: int = 30) -> SandboxData:
    """A small but complete FFN account: warehouses, shipping methods, products with stock, one inbound."""
    data = SandboxData(ffn=FfnData())
    world = data.ffn
    for warehouse_id, name, city, methods in (
        (WAREHOUSE_A, "Lager Nord", "Hamburg", [METHOD_STANDARD, METHOD_EXPRESS]),
        (WAREHOUSE_B, "Lager Süd", "München", [METHOD_STANDARD]),
    ):
        world.warehouses[warehouse_id] = {
            "warehouseId": warehouse_id,
            "fulfillerId": "FULF",
            "name": name,
            "address": _address("Fulfiller GmbH", None, city),
            "shippingMethodIds": methods,
            "modificationInfo": {"createdAt": CREATED, "updatedAt": None, "state": "New"},
        }
    for method_id, name, shipping_type in (
        (METHOD_STANDARD, "DHL Paket", "Standard"),
        (METHOD_EXPRESS, "DHL Express", "NextDay"),
    ):
        world.shipping_methods[method_id] = {
            "shippingMethodId": method_id,
            "fulfillerId": "FULF",
            "name": name,
            "shippingType": shipping_type,
            "trackingUrlSchema": "https://track.example/?idc=#TrackingId#",
            "carrierCode": "DHL",
            "carrierName": "DHL",
            "cutoffTime": "14:00",
            "note": None,
            "fulfillerShippingMethodNumber": f"FSM-{method_id[-4:]}",
            "modificationInfo": {"createdAt": CREATED, "updatedAt": None, "state": "New"},
        }
    for index in range(1, products + 1):
        product = _product(index)
        world.products[product["jfsku"]] = product
        world.stocks[product["jfsku"]] = _stock(index, product["merchantSku"])
    return data


def make_state(data: SandboxData | None = None, **config: Any) -> SandboxState:
    """A SandboxState over ``data`` with config overrides (e.g. ``access_token_ttl_seconds=1``)."""
    return SandboxState(data=data or build_ffn_data(), config=SandboxConfig(**config))


def make_app(state: SandboxState) -> FastAPI:
    """Only the FFN + OAuth routers, so these tests stand alone from the other emulated APIs."""
    app = FastAPI()
    app.state.sandbox = state
    app.include_router(oauth.build_router(state))
    app.include_router(ffn.build_router(state))
    return app


@pytest.fixture
def state() -> SandboxState:
    return make_state()


@pytest.fixture
def client(state: SandboxState) -> Iterator[TestClient]:
    with TestClient(make_app(state), base_url="http://sandbox.test") as test_client:
        yield test_client


@pytest.fixture
def auth(state: SandboxState) -> dict[str, str]:
    """Bearer headers with both merchant scopes."""
    tokens = oauth.issue_token_pair(state)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def read_only_auth(state: SandboxState) -> dict[str, str]:
    tokens = oauth.issue_token_pair(state, scopes=("ffn.merchant.read",))
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def outbound_body(number: str = "SO-1001", **overrides: Any) -> dict[str, Any]:
    """A valid outbound create body for warehouse A (1 × product 1, 2 × product 2)."""
    body: dict[str, Any] = {
        "merchantOutboundNumber": number,
        "warehouseId": WAREHOUSE_A,
        "currency": "EUR",
        "shippingType": "Standard",
        "shippingAddress": _address(None, "Muster", "Berlin"),
        "orderValue": 29.9,
        "items": [
            {"outboundItemId": "1", "jfsku": jfsku_for(1), "quantity": 1, "price": 12.5, "vat": 19},
            {"outboundItemId": "2", "jfsku": jfsku_for(2), "quantity": 2, "price": 8.7, "vat": 19},
        ],
    }
    body.update(overrides)
    return body


def inbound_body(number: str = "PO-4711", **overrides: Any) -> dict[str, Any]:
    """A valid inbound create body for warehouse A (10 × product 4, 5 × product 5)."""
    body: dict[str, Any] = {
        "merchantInboundNumber": number,
        "warehouseId": WAREHOUSE_A,
        "purchaseOrderNumber": number,
        "supplier": {"merchantSupplierNumber": "S1", "merchantSupplierName": "ACME"},
        "items": [
            {"inboundItemId": "1", "jfsku": jfsku_for(4), "quantity": 10, "supplierSku": "00123"},
            {"inboundItemId": "2", "jfsku": jfsku_for(5), "quantity": 5},
        ],
    }
    body.update(overrides)
    return body


class FfnKit:
    """The helpers above, handed to tests as a fixture."""

    warehouse_a = WAREHOUSE_A
    warehouse_b = WAREHOUSE_B
    method_standard = METHOD_STANDARD
    method_express = METHOD_EXPRESS
    created = CREATED
    jfsku = staticmethod(jfsku_for)
    outbound_body = staticmethod(outbound_body)
    inbound_body = staticmethod(inbound_body)
    build_data = staticmethod(build_ffn_data)
    make_state = staticmethod(make_state)
    make_app = staticmethod(make_app)

    def bearer(self, state: SandboxState, scopes: tuple[str, ...] | None = None) -> dict[str, str]:
        tokens = oauth.issue_token_pair(state, scopes=scopes)
        return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def ffn_kit() -> FfnKit:
    return FfnKit()
