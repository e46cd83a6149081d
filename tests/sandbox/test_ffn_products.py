"""FFN products as the product sync meets them: bodies checked against the spec, the strict knobs, grants."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.gtin import gtin_valid
from jtl_automator.sandbox.app import SandboxState

API = "/api/v1/merchant"
JFSKU = "MERC0000003"  # a "rich" product of the kit: mpn, taric, dimensions, a bundle


def body(**overrides: Any) -> dict[str, Any]:
    return {"merchantSku": "NEW-1", "name": "Neu", **overrides}


def messages(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["errorCode"]["code"] == "Shared_ModelValidation"
    return [m["message"] for m in payload["errorMessages"]]


@pytest.fixture
def strict(ffn_kit: Any) -> Iterator[tuple[TestClient, dict[str, str], SandboxState]]:
    from jtl_automator.sandbox.config import SandboxConfig

    state = ffn_kit.make_state()
    state.config = SandboxConfig.strictest()
    with TestClient(ffn_kit.make_app(state), base_url="http://sandbox.test") as client:
        yield client, ffn_kit.bearer(state), state


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        pytest.param("4006381333931", True, id="ean13"),
        pytest.param("4006381333932", False, id="ean13-bad-check-digit"),
        pytest.param("96385074", True, id="ean8"),
        pytest.param("036000291452", True, id="upc-a"),
        pytest.param("10012345678902", True, id="gtin14"),
        pytest.param("400638133393", False, id="twelve-digits-bad"),
        pytest.param("40063813339A", False, id="letter"),
        pytest.param("4001", False, id="too-short"),
    ],
)
def test_gtin_check_digit(code: str, valid: bool) -> None:
    assert gtin_valid(code) is valid


@pytest.mark.slow
def test_a_body_is_checked_against_the_spec_and_every_problem_named(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post(
        f"{API}/products",
        json=body(
            name="x" * 256,
            originCountry="Deutschland",
            dimensions={"width": 0.2},
            netRetailPrice={"amount": 9.5, "currency": "Euro"},
            bundles=[{"quantity": 12}, {"name": "Palette"}],
            specifications={
                "isBatch": "yes",
                "billOfMaterialsComponents": [{"jfsku": "SHORT", "quantity": 1}],
            },
        ),
        headers=auth,
    )
    found = " | ".join(messages(response))
    for expected in (
        "name must be at most 255 characters long",
        "originCountry must be an ISO 3166 alpha-2 code",
        "The dimensions.length field is required",
        "The dimensions.height field is required",
        "netRetailPrice.currency must be an ISO 4217 alpha code",
        "The bundles[0].name field is required",
        "The bundles[1].quantity field is required",
        "specifications.isBatch must be a boolean",
        "billOfMaterialsComponents[0].jfsku must be 11 characters long",
    ):
        assert expected in found


def test_value_checks_are_off_by_default_and_strict_refuses_absurd_values(
    client: TestClient, auth: dict[str, str], strict: tuple[TestClient, dict[str, str], SandboxState]
) -> None:
    absurd = body(
        weight=-1,
        netWeight=2.0,
        identifier={"ean": "4006381333932"},
        dimensions={"length": -0.1, "width": 0.2, "height": 0.3},
        netRetailPrice={"amount": -5, "currency": "EUR"},
        bundles=[{"name": "Karton", "quantity": 0, "ean": "123"}],
    )
    assert client.post(f"{API}/products", json=absurd, headers=auth).status_code == 201
    strict_client, strict_auth, _ = strict
    found = " | ".join(messages(strict_client.post(f"{API}/products", json=absurd, headers=strict_auth)))
    for expected in (
        "weight must not be negative",
        "netWeight must not be above weight",
        "identifier.ean '4006381333932' is not a GTIN",
        "dimensions.length must not be negative",
        "netRetailPrice.amount must not be negative",
        "bundles[0].quantity must be greater than 0",
        "bundles[0].ean '123' is not a GTIN",
    ):
        assert expected in found


def test_merchant_sku_is_unique_only_in_the_lenient_reading(
    client: TestClient, auth: dict[str, str], strict: tuple[TestClient, dict[str, str], SandboxState]
) -> None:
    assert client.post(f"{API}/products", json=body(), headers=auth).status_code == 201
    again = client.post(f"{API}/products", json=body(name="Nochmal"), headers=auth)
    assert again.status_code == 400 and again.json()["errorCode"]["code"] == "Shared_DuplicateKey"
    strict_client, strict_auth, state = strict
    for _ in range(2):
        assert strict_client.post(f"{API}/products", json=body(), headers=strict_auth).status_code == 201
    assert sum(p["merchantSku"] == "NEW-1" for p in state.data.ffn.products.values()) == 2


@pytest.mark.slow
def test_a_patch_merges_nested_objects_or_in_the_strict_reading_replaces_them(
    client: TestClient, auth: dict[str, str], strict: tuple[TestClient, dict[str, str], SandboxState]
) -> None:
    patch = {"identifier": {"ean": "4006381333931"}, "dimensions": {"length": 0.5, "height": 0.1}}
    assert client.patch(f"{API}/products/{JFSKU}", json=patch, headers=auth).status_code == 204
    merged = client.get(f"{API}/products/{JFSKU}", headers=auth).json()
    assert merged["identifier"]["mpn"] == {"manufacturer": "ACME", "partNumber": "P-3"}
    assert merged["dimensions"] == {"length": 0.5, "width": 0.2, "height": 0.1}
    strict_client, strict_auth, _ = strict
    assert strict_client.patch(f"{API}/products/{JFSKU}", json=patch, headers=strict_auth).status_code == 204
    replaced = strict_client.get(f"{API}/products/{JFSKU}", headers=strict_auth).json()
    assert replaced["identifier"]["mpn"] is None and replaced["identifier"]["ean"] == "4006381333931"
    assert replaced["dimensions"] == {"length": 0.5, "width": None, "height": 0.1}


def test_a_bad_patch_is_refused_whole_and_changes_nothing(
    client: TestClient, auth: dict[str, str], state: SandboxState
) -> None:
    before = dict(state.data.ffn.products[JFSKU])
    response = client.patch(
        f"{API}/products/{JFSKU}", json={"name": "Gut", "originCountry": "de"}, headers=auth
    )
    assert "originCountry must be an ISO 3166 alpha-2 code." in messages(response)
    assert state.data.ffn.products[JFSKU] == before


def test_authorising_a_product_for_a_fulfiller(
    client: TestClient, auth: dict[str, str], state: SandboxState
) -> None:
    granted = client.post(
        f"{API}/products/{JFSKU}/authorizations", json={"fulfillerId": "FULF"}, headers=auth
    )
    assert granted.status_code == 201 and granted.json() == {"jfsku": JFSKU, "fulfillerId": "FULF"}
    assert state.data.ffn.product_authorizations[JFSKU] == ["FULF"]
    again = client.post(f"{API}/products/{JFSKU}/authorizations", json={"fulfillerId": "FULF"}, headers=auth)
    assert again.status_code == 201 and state.data.ffn.product_authorizations[JFSKU] == ["FULF"]
    unknown = client.post(
        f"{API}/products/{JFSKU}/authorizations", json={"fulfillerId": "XXXX"}, headers=auth
    )
    assert "fulfillerId 'XXXX' is not a fulfiller of this merchant" in messages(unknown)
    missing = client.post(
        f"{API}/products/MERC9999999/authorizations", json={"fulfillerId": "FULF"}, headers=auth
    )
    assert missing.status_code == 404 and missing.json()["errorCode"]["code"] == "Products_ProductNotFound"
    assert client.delete(f"{API}/products/{JFSKU}/authorizations/FULF", headers=auth).status_code == 204
    assert client.delete(f"{API}/products/{JFSKU}/authorizations/FULF", headers=auth).status_code == 404
    every = client.post(f"{API}/products/authorizations", json={"fulfillerId": "FULF"}, headers=auth)
    assert every.status_code == 201 and len(every.json()["jfskus"]) == len(state.data.ffn.products)


def test_a_repeated_grant_is_refused_in_the_strict_reading(
    strict: tuple[TestClient, dict[str, str], SandboxState],
) -> None:
    client, auth, _ = strict
    url = f"{API}/products/{JFSKU}/authorizations"
    assert client.post(url, json={"fulfillerId": "FULF"}, headers=auth).status_code == 201
    again = client.post(url, json={"fulfillerId": "FULF"}, headers=auth)
    assert again.status_code == 400 and again.json()["errorCode"]["code"] == "Shared_DuplicateKey"


def test_granting_needs_the_write_scope(client: TestClient, read_only_auth: dict[str, str]) -> None:
    response = client.post(
        f"{API}/products/{JFSKU}/authorizations", json={"fulfillerId": "FULF"}, headers=read_only_auth
    )
    assert response.status_code == 403
