"""The FFN merchant API: paging, OData queries, errors, domain rules and the fulfiller hooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox import ffn
from jtl_automator.sandbox.app import SandboxState

API = "/api/v1/merchant"


def items(client: TestClient, auth: dict[str, str], path: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{API}/{path}", params=params, headers=auth)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["items"]
    return result


def error_code(response: Any) -> str:
    code: str = response.json()["errorCode"]["code"]
    return code


def stock_row(stock: dict[str, Any], warehouse_id: str) -> dict[str, Any]:
    return next(row for row in stock["warehouses"] if row["warehouseId"] == warehouse_id)


# ------------------------------------------------------------------------------------------- paging
@pytest.fixture
def big(ffn_kit: Any) -> Iterator[tuple[TestClient, dict[str, str], SandboxState]]:
    state = ffn_kit.make_state(ffn_kit.build_data(products=2500))
    with TestClient(ffn_kit.make_app(state), base_url="http://sandbox.test") as client:
        yield client, ffn_kit.bearer(state), state


@pytest.mark.slow
def test_paging_through_2500_products_by_next_links(big: Any) -> None:
    client, auth, state = big
    url: str | None = f"{API}/products?$top=1000"
    seen: list[str] = []
    pages = []
    while url:
        body = client.get(url, headers=auth).json()
        pages.append(body)
        seen.extend(product["jfsku"] for product in body["items"])
        url = body["_links"]["next"]
        assert body["nextPageLink"] == url
    assert seen == list(state.data.ffn.products)
    assert [len(page["items"]) for page in pages] == [1000, 1000, 500]
    assert [page["_page"] for page in pages] == [
        {"total": 3, "limit": 1000, "offset": 0},
        {"total": 3, "limit": 1000, "offset": 1000},
        {"total": 3, "limit": 1000, "offset": 2000},
    ]
    assert {page["count"] for page in pages} == {2500}
    assert pages[0]["_links"]["previous"] is None
    previous = urlsplit(pages[2]["_links"]["previous"])
    assert parse_qs(previous.query) == {"$top": ["1000"], "$skip": ["1000"]}
    following = urlsplit(pages[0]["_links"]["next"])
    assert (following.scheme, following.netloc, following.path) == ("http", "sandbox.test", f"{API}/products")


@pytest.mark.slow
def test_default_page_size_and_explicit_skip(big: Any) -> None:
    client, auth, state = big
    body = client.get(f"{API}/products", headers=auth).json()
    assert len(body["items"]) == 50
    assert body["_page"] == {"total": 50, "limit": 50, "offset": 0}
    page = items(client, auth, "products", **{"$top": 3, "$skip": 2498})
    assert [p["jfsku"] for p in page] == list(state.data.ffn.products)[2498:]
    assert items(client, auth, "products", **{"$skip": 5000}) == []


@pytest.mark.slow
def test_next_links_keep_filter_and_order(big: Any) -> None:
    client, auth, _ = big
    params = {"$filter": "manufacturer eq 'ACME' and weight gt 0", "$orderBy": "name desc", "$top": 400}
    response = client.get(
        f"{API}/products", params={**params, "$filter": "manufacturer eq 'ACME'"}, headers=auth
    )
    body = response.json()
    assert body["count"] == 1250
    collected = list(body["items"])
    url = body["_links"]["next"]
    while url:
        query = parse_qs(urlsplit(url).query)
        assert query["$filter"] == ["manufacturer eq 'ACME'"]
        assert query["$orderBy"] == ["name desc"]
        body = client.get(url, headers=auth).json()
        collected.extend(body["items"])
        url = body["_links"]["next"]
    names = [product["name"] for product in collected]
    assert len(names) == 1250
    assert names == sorted(names, reverse=True)
    assert all(product["manufacturer"] == "ACME" for product in collected)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"$top": 1001}, "$top must not exceed 1000"),
        ({"$top": -1}, "must not be negative"),
        ({"$skip": "ten"}, "$skip must be an integer"),
        ({"$filter": "color eq 'red'"}, "unknown or not filterable field 'color'"),
        ({"$filter": "name eq 'x' and"}, "expected a field or value"),
        ({"$orderBy": "name sideways"}, "invalid sort direction"),
        ({"$select": "jfsku,nonsense"}, "unknown field 'nonsense' in $select"),
    ],
)
@pytest.mark.slow
def test_bad_list_queries_are_400_model_validation(
    client: TestClient, auth: dict[str, str], params: dict[str, Any], fragment: str
) -> None:
    response = client.get(f"{API}/products", params=params, headers=auth)
    assert response.status_code == 400
    assert error_code(response) == "Shared_ModelValidation"
    assert fragment in response.json()["errorMessages"][0]["message"]


def test_select_projects_top_level_fields(client: TestClient, auth: dict[str, str]) -> None:
    page = items(client, auth, "products", **{"$select": "jfsku,merchantSku", "$top": 2})
    assert page == [
        {"jfsku": "MERC0000001", "merchantSku": "SKU-1"},
        {"jfsku": "MERC0000002", "merchantSku": "SKU-2"},
    ]


# ------------------------------------------------------------------------------------------- filters
@pytest.mark.slow
def test_filter_operators_on_products(client: TestClient, auth: dict[str, str], state: SandboxState) -> None:
    products = list(state.data.ffn.products.values())

    def jfskus(text: str) -> list[str]:
        return [p["jfsku"] for p in items(client, auth, "products", **{"$filter": text, "$top": 1000})]

    assert jfskus("merchantSku eq '00010'") == ["MERC0000010"]  # leading zeros survive
    assert jfskus("merchantSku eq '10'") == []
    assert jfskus("name eq 'Product 3 with ''quote'''") == ["MERC0000003"]
    assert jfskus("jfsku ne 'MERC0000001'") == [p["jfsku"] for p in products[1:]]
    assert jfskus("identifier/mpn/partNumber eq 'P-9'") == ["MERC0000009"]
    assert jfskus("specifications/isBatch eq true and specifications/isBestBefore eq true") == ["MERC0000020"]
    assert jfskus("attributes/value eq 'blue'") == [
        "MERC0000003",
        "MERC0000009",
        "MERC0000015",
        "MERC0000021",
        "MERC0000027",
    ]
    assert jfskus("productGroup eq null and (jfsku eq 'MERC0000001' or jfsku eq 'MERC0000003')") == [
        "MERC0000001"
    ]
    assert jfskus("pictures/number ge 1 and jfsku le 'MERC0000006'") == ["MERC0000003", "MERC0000006"]
    assert jfskus("jfsku gt 'MERC0000028'") == ["MERC0000029", "MERC0000030"]
    assert jfskus("jfsku lt 'MERC0000003'") == ["MERC0000001", "MERC0000002"]


@pytest.mark.slow
def test_filter_and_order_on_stocks(client: TestClient, auth: dict[str, str], ffn_kit: Any) -> None:
    filtered = items(client, auth, "stocks", **{"$filter": "warehouses/warehouseId eq 'FULF04XX-12345-0002'"})
    assert len(filtered) == 15
    ordered = items(client, auth, "stocks", **{"$orderBy": "stockLevel desc, jfsku asc", "$top": 5})
    levels = [(s["stockLevel"], s["jfsku"]) for s in ordered]
    assert levels == sorted(levels, key=lambda pair: (-pair[0], pair[1]))
    # Stocks are not filterable by jfsku in the spec's allow-list: use /stocks/{jfsku} instead.
    response = client.get(f"{API}/stocks", params={"$filter": "jfsku eq 'MERC0000001'"}, headers=auth)
    assert response.status_code == 400


@pytest.mark.slow
def test_inbounds_filter_through_items(client: TestClient, auth: dict[str, str], ffn_kit: Any) -> None:
    client.post(f"{API}/inbounds", json=ffn_kit.inbound_body("PO-1"), headers=auth)
    client.post(
        f"{API}/inbounds",
        json=ffn_kit.inbound_body(
            "PO-2", items=[{"jfsku": ffn_kit.jfsku(7), "quantity": 3, "supplierSku": "123"}]
        ),
        headers=auth,
    )

    def numbers(text: str) -> list[str]:
        return [i["merchantInboundNumber"] for i in items(client, auth, "inbounds", **{"$filter": text})]

    assert numbers(f"items/jfsku eq '{ffn_kit.jfsku(5)}'") == ["PO-1"]
    assert numbers(f"items/jfsku eq '{ffn_kit.jfsku(7)}' or items/jfsku eq '{ffn_kit.jfsku(4)}'") == [
        "PO-1",
        "PO-2",
    ]
    assert numbers("items/supplierSku eq '00123'") == ["PO-1"]
    assert numbers("items/supplierSku eq '123'") == ["PO-2"]
    assert numbers("items/quantity gt 5") == ["PO-1"]
    assert numbers("status eq 'Pending' and merchantInboundNumber ne 'PO-1'") == ["PO-2"]


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("path", "code", "metadata"),
    [
        ("products/MERC9999999", "Products_ProductNotFound", {"Jfsku": "MERC9999999"}),
        ("stocks/MERC9999999", "Products_ProductNotFound", {"Jfsku": "MERC9999999"}),
        ("inbounds/MERC03NOPE", "Inbounds_InboundNotFound", {"InboundId": "MERC03NOPE"}),
        ("outbounds/MERC02NOPE", "Outbounds_OutboundNotFound", {"OutboundId": "MERC02NOPE"}),
        (
            "outbounds/MERC02NOPE/shipping-notifications",
            "Outbounds_OutboundNotFound",
            {"OutboundId": "MERC02NOPE"},
        ),
        (
            "stocks/warehouse/FULF04XX-00000-0009",
            "Warehouses_WarehouseNotFound",
            {"WarehouseId": "FULF04XX-00000-0009"},
        ),
        (
            "warehouses/FULF04XX-00000-0009",
            "Warehouses_WarehouseNotFound",
            {"WarehouseId": "FULF04XX-00000-0009"},
        ),
        (
            "shippingmethods/FULF0A9999",
            "ShippingMethods_ShippingMethodNotFound",
            {"ShippingMethodId": "FULF0A9999"},
        ),
    ],
)
@pytest.mark.slow
def test_unknown_ids_are_404_with_the_jtl_envelope(
    client: TestClient, auth: dict[str, str], path: str, code: str, metadata: dict[str, str]
) -> None:
    response = client.get(f"{API}/{path}", headers=auth)
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"errorCode", "errorMessages", "errorMetadata"}
    assert body["errorCode"]["code"] == code
    assert body["errorCode"]["description"]
    assert body["errorMetadata"] == metadata
    assert "not found" in body["errorMessages"][0]["message"]


# ------------------------------------------------------------------------------------------- products
@pytest.mark.slow
def test_create_get_and_patch_a_product(
    client: TestClient, auth: dict[str, str], state: SandboxState
) -> None:
    created = client.post(
        f"{API}/products",
        json={"merchantSku": "NEW-1", "name": "New", "identifier": {"ean": "4001"}},
        headers=auth,
    )
    assert created.status_code == 201
    product = created.json()
    jfsku = product["jfsku"]
    assert (
        len(jfsku) == 11
        and jfsku.startswith("MERC")
        and jfsku[4:].isalnum()
        and jfsku[4:].upper() == jfsku[4:]
    )
    assert product["identifier"]["ean"] == "4001"
    assert product["modificationInfo"]["state"] == "New"
    assert client.get(f"{API}/products/{jfsku}", headers=auth).json() == product
    assert client.get(f"{API}/stocks/{jfsku}", headers=auth).json()["stockLevel"] == 0
    found = items(client, auth, "products", **{"$filter": "merchantSku eq 'NEW-1'"})
    assert [p["jfsku"] for p in found] == [jfsku]

    patched = client.patch(
        f"{API}/products/{jfsku}", json={"name": "Renamed", "identifier": {"upc": "1"}}, headers=auth
    )
    assert patched.status_code == 204
    again = client.get(f"{API}/products/{jfsku}", headers=auth).json()
    assert again["name"] == "Renamed"
    assert again["identifier"] == {**product["identifier"], "upc": "1"}
    assert again["modificationInfo"]["state"] == "Modified"
    assert again["modificationInfo"]["updatedAt"]

    duplicate = client.post(f"{API}/products", json={"merchantSku": "NEW-1", "name": "Again"}, headers=auth)
    assert duplicate.status_code == 400
    assert error_code(duplicate) == "Shared_DuplicateKey"
    missing = client.post(f"{API}/products", json={"name": "No SKU"}, headers=auth)
    assert missing.status_code == 400
    assert error_code(missing) == "Shared_ModelValidation"
    assert "merchantSku" in missing.json()["errorMessages"][0]["message"]
    not_json = client.post(
        f"{API}/products", content=b"{nope", headers={**auth, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert client.patch(f"{API}/products/MERC9999999", json={}, headers=auth).status_code == 404


# ------------------------------------------------------------------------------------------- outbounds
@pytest.mark.slow
def test_outbound_creation_reserves_stock(client: TestClient, auth: dict[str, str], ffn_kit: Any) -> None:
    before = client.get(f"{API}/stocks/{ffn_kit.jfsku(2)}", headers=auth).json()
    response = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body(), headers=auth)
    assert response.status_code == 201
    outbound = response.json()
    assert outbound["status"] == "Pending"
    assert outbound["outboundId"].startswith("MERC02")
    assert outbound["statusTimestamp"]["pending"]
    assert [item["quantityOpen"] for item in outbound["items"]] == [1, 2]
    assert outbound["items"][1]["merchantSku"] == "SKU-2"
    assert outbound["shippingMethodId"] is None and outbound["shippingType"] == "Standard"

    after = client.get(f"{API}/stocks/{ffn_kit.jfsku(2)}", headers=auth).json()
    assert after["stockLevelReserved"] == before["stockLevelReserved"] + 2
    assert after["stockLevel"] == before["stockLevel"]
    detail = {"outboundId": outbound["outboundId"], "outboundItemId": "2", "quantityReserved": 2}
    assert detail in after["stockReservedDetails"]
    assert detail in stock_row(after, ffn_kit.warehouse_a)["stockReservedDetails"]
    assert stock_row(after, ffn_kit.warehouse_a)["stockLevelReserved"] == 2

    assert client.get(f"{API}/outbounds/{outbound['outboundId']}", headers=auth).json() == outbound
    filtered = items(
        client,
        auth,
        "stocks",
        **{"$filter": f"stockReservedDetails/outboundId eq '{outbound['outboundId']}'"},
    )
    assert {s["jfsku"] for s in filtered} == {ffn_kit.jfsku(1), ffn_kit.jfsku(2)}


def test_duplicate_merchant_outbound_number_is_rejected(
    client: TestClient, auth: dict[str, str], ffn_kit: Any
) -> None:
    assert (
        client.post(f"{API}/outbounds", json=ffn_kit.outbound_body("SO-7"), headers=auth).status_code == 201
    )
    again = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body("SO-7"), headers=auth)
    assert again.status_code == 400
    assert error_code(again) == "Shared_DuplicateKey"
    assert again.json()["errorMetadata"]["MerchantOutboundNumber"] == "SO-7"
    assert len(items(client, auth, "outbounds", **{"$filter": "merchantOutboundNumber eq 'SO-7'"})) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        (
            {"shippingMethodId": "FULF0A0001"},
            "Outbounds_OutboundShippingMethodAndShippingTypeSet",
            "not both",
        ),
        ({"shippingType": None}, "Shared_ModelValidation", "Either shippingType or shippingMethodId"),
        ({"shippingType": "Teleport"}, "Shared_ModelValidation", "shippingType must be one of"),
        ({"priority": 6}, "Shared_ModelValidation", "priority"),
        ({"priority": -6}, "Shared_ModelValidation", "priority"),
        ({"merchantOutboundNumber": ""}, "Shared_ModelValidation", "merchantOutboundNumber"),
        ({"currency": None}, "Shared_ModelValidation", "currency"),
        ({"items": []}, "Shared_ModelValidation", "items"),
        (
            {"items": [{"jfsku": "MERC0000001", "quantity": 0}]},
            "Shared_ModelValidation",
            "quantity must be greater",
        ),
        ({"items": [{"jfsku": "MERC0000001"}]}, "Shared_ModelValidation", "items[0].quantity"),
        ({"items": [{"quantity": 1}]}, "Shared_ModelValidation", "items[0].jfsku"),
        ({"items": [{"jfsku": "MERC9999999", "quantity": 1}]}, "Products_ProductsNotFound", "MERC9999999"),
        ({"warehouseId": "FULF04XX-00000-0009"}, "Warehouses_WarehouseNotFound", "FULF04XX-00000-0009"),
        (
            {"shippingType": None, "shippingMethodId": "FULF0A9999"},
            "ShippingMethods_ShippingMethodNotFound",
            "FULF0A9999",
        ),
    ],
)
def test_outbound_validation(
    client: TestClient,
    auth: dict[str, str],
    ffn_kit: Any,
    overrides: dict[str, Any],
    code: str,
    fragment: str,
) -> None:
    response = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body(**overrides), headers=auth)
    assert response.status_code == 400
    assert error_code(response) == code
    assert fragment in " ".join(m["message"] for m in response.json()["errorMessages"])


@pytest.mark.parametrize(
    ("address_change", "fragment"),
    [
        ({"street": None}, "shippingAddress.street"),
        ({"city": ""}, "shippingAddress.city"),
        ({"country": "DEU"}, "shippingAddress.country"),
        ({"lastname": None, "company": None}, "One of shippingAddress.company or shippingAddress.lastname"),
    ],
)
@pytest.mark.slow
def test_outbound_address_rules(
    client: TestClient, auth: dict[str, str], ffn_kit: Any, address_change: dict[str, Any], fragment: str
) -> None:
    body = ffn_kit.outbound_body()
    body["shippingAddress"] = {**body["shippingAddress"], **address_change}
    response = client.post(f"{API}/outbounds", json=body, headers=auth)
    assert response.status_code == 400
    assert error_code(response) == "Shared_ModelValidation"
    assert fragment in " ".join(m["message"] for m in response.json()["errorMessages"])


def test_company_alone_is_enough_and_shipping_method_alone_is_fine(
    client: TestClient, auth: dict[str, str], ffn_kit: Any
) -> None:
    body = ffn_kit.outbound_body(shippingType=None, shippingMethodId=ffn_kit.method_express)
    body["shippingAddress"] = {**body["shippingAddress"], "lastname": None, "company": "ACME GmbH"}
    response = client.post(f"{API}/outbounds", json=body, headers=auth)
    assert response.status_code == 201
    assert "shippingType" not in response.json()


def test_oversale_is_refused_unless_asked_for(
    client: TestClient, auth: dict[str, str], ffn_kit: Any, state: SandboxState
) -> None:
    jfsku = ffn_kit.jfsku(1)  # 11 units in warehouse A
    body = ffn_kit.outbound_body("SO-BIG", items=[{"jfsku": jfsku, "quantity": 12}])
    refused = client.post(f"{API}/outbounds", json=body, headers=auth)
    assert refused.status_code == 400
    assert error_code(refused) == "Stocks_NotEnoughStock"
    assert refused.json()["errorMetadata"] == {"Jfsku": jfsku, "WarehouseId": ffn_kit.warehouse_a}
    accepted = client.post(f"{API}/outbounds", params={"oversale": "true"}, json=body, headers=auth)
    assert accepted.status_code == 201
    assert state.data.ffn.stocks[jfsku]["stockLevelReserved"] == 12
    # What is reserved is no longer free: a second order for 1 unit is refused.
    small = ffn_kit.outbound_body("SO-SMALL", items=[{"jfsku": jfsku, "quantity": 1}])
    assert error_code(client.post(f"{API}/outbounds", json=small, headers=auth)) == "Stocks_NotEnoughStock"


def test_patch_outbound_changes_items_and_cancel_releases_stock(
    client: TestClient, auth: dict[str, str], ffn_kit: Any, state: SandboxState
) -> None:
    outbound = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body(), headers=auth).json()
    oid = outbound["outboundId"]
    stocks = state.data.ffn.stocks
    patched = client.patch(
        f"{API}/outbounds/{oid}", json={"items": [{"jfsku": ffn_kit.jfsku(2), "quantity": 5}]}, headers=auth
    )
    assert patched.status_code == 204
    assert stocks[ffn_kit.jfsku(1)]["stockLevelReserved"] == 0
    assert stocks[ffn_kit.jfsku(1)]["stockReservedDetails"] == []
    assert stocks[ffn_kit.jfsku(2)]["stockLevelReserved"] == 5

    stale = client.patch(
        f"{API}/outbounds/{oid}",
        params={"objectVersion": outbound["modificationInfo"]["createdAt"]},
        json={},
        headers=auth,
    )
    assert error_code(stale) == "Outbounds_OutdatedOutbound"

    canceled = client.patch(f"{API}/outbounds/{oid}", json={"status": "Canceled"}, headers=auth)
    assert canceled.status_code == 204
    current = client.get(f"{API}/outbounds/{oid}", headers=auth).json()
    assert current["status"] == "Canceled"
    assert current["statusTimestamp"]["canceled"]
    assert stocks[ffn_kit.jfsku(2)]["stockLevelReserved"] == 0
    assert stock_row(stocks[ffn_kit.jfsku(2)], ffn_kit.warehouse_a)["stockReservedDetails"] == []
    too_late = client.patch(f"{API}/outbounds/{oid}", json={"externalNote": "x"}, headers=auth)
    assert error_code(too_late) == "Shared_OperationForbidden"


# ------------------------------------------------------------------------------------------- hooks
@pytest.mark.slow
def test_ship_outbound_books_stock_and_writes_a_notification(
    client: TestClient, auth: dict[str, str], ffn_kit: Any, state: SandboxState
) -> None:
    outbound = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body(), headers=auth).json()
    oid = outbound["outboundId"]
    jfsku = ffn_kit.jfsku(2)
    level = state.data.ffn.stocks[jfsku]["stockLevel"]

    partial = ffn.ship_outbound(state, oid, tracking="00340434", items={jfsku: 1})
    assert partial["outboundStatus"] == "PartiallyShipped"
    assert state.data.ffn.stocks[jfsku]["stockLevel"] == level - 1
    assert state.data.ffn.stocks[jfsku]["stockLevelReserved"] == 1
    ffn.ship_outbound(state, oid, tracking="00340435")

    current = client.get(f"{API}/outbounds/{oid}", headers=auth).json()
    assert current["status"] == "Shipped"
    assert [item["quantityOpen"] for item in current["items"]] == [0, 0]
    assert current["statusTimestamp"]["shipped"] and current["statusTimestamp"]["partiallyShipped"]
    stock = client.get(f"{API}/stocks/{jfsku}", headers=auth).json()
    assert stock["stockLevel"] == level - 2
    assert stock["stockLevelReserved"] == 0 and stock["stockReservedDetails"] == []
    assert sum(d["stockLevel"] for d in stock["stockLevelDetails"]) == stock["stockLevel"]

    notifications = client.get(f"{API}/outbounds/{oid}/shipping-notifications", headers=auth).json()
    assert isinstance(notifications, list) and len(notifications) == 2
    last = notifications[1]
    assert last["fulfillerId"] == "FULF" and last["merchantOutboundNumber"] == "SO-1001"
    assert last["packages"][0]["identifier"] == [
        {"value": "00340435", "identifierType": "TrackingId", "name": None}
    ]
    assert last["packages"][0]["trackingUrl"] == "https://track.example/?idc=00340435"
    assert last["packages"][0]["shippingMethodId"] == ffn_kit.method_standard
    assert {(i["jfsku"], i["quantity"]) for i in last["items"]} == {(ffn_kit.jfsku(1), 1), (jfsku, 1)}

    with pytest.raises(ffn.FfnError) as shipped_again:
        ffn.ship_outbound(state, oid)
    assert shipped_again.value.code == "Outbounds_OutboundShippingNotificationStatusForbidden"


def test_set_outbound_status_follows_the_state_machine(
    client: TestClient, auth: dict[str, str], ffn_kit: Any, state: SandboxState
) -> None:
    oid = client.post(f"{API}/outbounds", json=ffn_kit.outbound_body(), headers=auth).json()["outboundId"]
    assert ffn.set_outbound_status(state, oid, "Acknowledged")["statusTimestamp"]["acknowledged"]
    ffn.set_outbound_status(state, oid, "Pickprocess")
    for bad in ("Pickprocess", "Preparation", "Shipped", "Nonsense"):
        with pytest.raises(ffn.FfnError) as refused:
            ffn.set_outbound_status(state, oid, bad)
        assert refused.value.code in ("Outbounds_OutboundStatusChangeForbidden", "Shared_ModelValidation")
    canceled = ffn.set_outbound_status(state, oid, "Canceled", cancel_reason_code="OOS", cancel_reason="Gone")
    assert canceled["cancelReason"] == "Gone"
    assert state.data.ffn.stocks[ffn_kit.jfsku(1)]["stockLevelReserved"] == 0
    with pytest.raises(ffn.FfnError):
        ffn.set_outbound_status(state, oid, "Pending")
    with pytest.raises(ffn.FfnError) as missing:
        ffn.set_outbound_status(state, "MERC02NOPE", "Acknowledged")
    assert missing.value.status_code == 404


def test_inbound_announces_and_receiving_moves_stock(
    client: TestClient, auth: dict[str, str], ffn_kit: Any, state: SandboxState
) -> None:
    jfsku = ffn_kit.jfsku(4)
    level = state.data.ffn.stocks[jfsku]["stockLevel"]
    created = client.post(f"{API}/inbounds", json=ffn_kit.inbound_body(), headers=auth)
    assert created.status_code == 201
    inbound = created.json()
    iid = inbound["inboundId"]
    assert inbound["status"] == "Pending"
    assert [(i["inboundItemId"], i["quantity"], i["quantityOpen"]) for i in inbound["items"]] == [
        ("1", 10, 10),
        ("2", 5, 5),
    ]
    stock = client.get(f"{API}/stocks/{jfsku}", headers=auth).json()
    assert stock["stockLevelAnnounced"] == 10
    assert stock["stockAnnouncedDetails"] == [
        {"inboundId": iid, "inboundItemId": "1", "quantityAnnounced": 10}
    ]
    assert stock_row(stock, ffn_kit.warehouse_a)["stockLevelAnnounced"] == 10

    partially = ffn.receive_inbound(state, iid, {jfsku: 4})
    assert partially["status"] == "PartiallyReceipted"
    assert partially["items"][0]["quantityOpen"] == 6
    stock = client.get(f"{API}/stocks/{jfsku}", headers=auth).json()
    assert (stock["stockLevel"], stock["stockLevelAnnounced"]) == (level + 4, 6)
    assert stock["stockAnnouncedDetails"][0]["quantityAnnounced"] == 6

    done = ffn.receive_inbound(state, iid, {jfsku: 6, ffn_kit.jfsku(5): 5})
    assert done["status"] == "Receipted"
    assert done["modificationInfo"]["state"] == "Modified"
    stock = client.get(f"{API}/stocks/{jfsku}", headers=auth).json()
    assert (stock["stockLevel"], stock["stockLevelAnnounced"], stock["stockAnnouncedDetails"]) == (
        level + 10,
        0,
        [],
    )
    fetched = client.get(f"{API}/inbounds/{iid}", headers=auth).json()
    assert [i["quantity"] - i["quantityOpen"] for i in fetched["items"]] == [10, 5]

    with pytest.raises(ffn.FfnError) as foreign:
        ffn.receive_inbound(state, iid, {ffn_kit.jfsku(9): 1})
    assert foreign.value.code == "Products_ProductsNotFound"
    duplicate = client.post(f"{API}/inbounds", json=ffn_kit.inbound_body(), headers=auth)
    assert error_code(duplicate) == "Shared_DuplicateKey"
    unknown = client.post(
        f"{API}/inbounds",
        json=ffn_kit.inbound_body("PO-X", items=[{"jfsku": "MERC9999999", "quantity": 1}]),
        headers=auth,
    )
    assert error_code(unknown) == "Products_ProductsNotFound"


# ------------------------------------------------------------------------------------------- feeds
def test_outbound_updates_feed_pages_by_modification_time(ffn_kit: Any) -> None:
    state = ffn_kit.make_state(ffn_updates_page_size=2)
    start = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
    clock = [start]
    ffn.runtime(state).clock = lambda: clock[0]
    with TestClient(ffn_kit.make_app(state), base_url="http://sandbox.test") as client:
        auth = ffn_kit.bearer(state)
        ids = []
        for minute in range(5):
            clock[0] = start + timedelta(minutes=minute)
            body = ffn_kit.outbound_body(f"SO-{minute}", items=[{"jfsku": ffn_kit.jfsku(1), "quantity": 1}])
            ids.append(client.post(f"{API}/outbounds", json=body, headers=auth).json()["outboundId"])
        clock[0] = start + timedelta(minutes=10)
        ffn.set_outbound_status(state, ids[0], "Acknowledged")  # moves SO-0 to the end of the log

        params = {"fromDate": "2024-10-01T12:01:00+00:00", "toDate": "2024-10-01T13:00:00+00:00"}
        first = client.get(f"{API}/outbounds/updates", params=params, headers=auth).json()
        assert [o["outboundId"] for o in first["data"]] == ids[1:3]
        assert first["moreDataAvailable"] is True
        assert first["from"] == "2024-10-01T12:01:00.000+00:00"
        assert "outboundId" in first["data"][0] and "items" in first["data"][0]  # full objects
        second = client.get(first["nextChunkUrl"], headers=auth).json()
        assert [o["outboundId"] for o in second["data"]] == [ids[3], ids[4]]
        third = client.get(second["nextChunkUrl"], headers=auth).json()
        assert [o["outboundId"] for o in third["data"]] == [ids[0]]
        assert third["data"][0]["status"] == "Acknowledged"
        assert third["moreDataAvailable"] is False
        # toDate is exclusive; an unencoded '+' (read as a space) still parses.
        narrow = client.get(
            f"{API}/outbounds/updates?fromDate=2024-10-01T12:00:00+00:00&toDate=2024-10-01T12:02:00+00:00",
            headers=auth,
        ).json()
        assert [o["outboundId"] for o in narrow["data"]] == [ids[1]]
        bad = client.get(f"{API}/outbounds/updates", params={"fromDate": "yesterday"}, headers=auth)
        assert error_code(bad) == "Shared_ModelValidation"


# ------------------------------------------------------------------------------------------- others
@pytest.mark.slow
def test_warehouses_shipping_methods_and_stock_per_warehouse(
    client: TestClient, auth: dict[str, str], ffn_kit: Any, state: SandboxState
) -> None:
    warehouses = items(client, auth, "warehouses")
    assert [w["warehouseId"] for w in warehouses] == [ffn_kit.warehouse_a, ffn_kit.warehouse_b]
    assert warehouses[0]["shippingMethodIds"] == [ffn_kit.method_standard, ffn_kit.method_express]
    methods = items(client, auth, "shippingmethods", **{"$filter": "shippingType eq 'NextDay'"})
    assert [m["shippingMethodId"] for m in methods] == [ffn_kit.method_express]

    response = client.get(f"{API}/stocks/warehouse/{ffn_kit.warehouse_b}", params={"$top": 10}, headers=auth)
    body = response.json()
    assert body["count"] == 15 and body["_page"]["total"] == 2
    assert {row["warehouseId"] for row in body["items"]} == {ffn_kit.warehouse_b}
    assert "warehouses" not in body["items"][0]
    rest = client.get(body["_links"]["next"], headers=auth).json()
    assert len(rest["items"]) == 5 and rest["_links"]["next"] is None
    low = items(client, auth, f"stocks/warehouse/{ffn_kit.warehouse_a}", **{"$filter": "stockLevel lt 12"})
    assert {row["jfsku"] for row in low} == {ffn_kit.jfsku(1), ffn_kit.jfsku(20), ffn_kit.jfsku(21)}


@pytest.mark.slow
def test_lists_reflect_changes_made_outside_the_api(
    client: TestClient, auth: dict[str, str], state: SandboxState
) -> None:
    assert client.get(f"{API}/products", headers=auth).json()["count"] == 30
    product = dict(state.data.ffn.products["MERC0000001"], jfsku="MERC0000099", merchantSku="EXT")
    state.data.ffn.products["MERC0000099"] = product
    assert client.get(f"{API}/products", headers=auth).json()["count"] == 31  # resize is noticed
    product["name"] = "Renamed outside"
    ffn.mark_changed(state)  # in-place edits need the explicit signal
    found = items(client, auth, "products", **{"$filter": "name eq 'Renamed outside'"})
    assert [p["jfsku"] for p in found] == ["MERC0000099"]


@pytest.mark.slow
def test_pages_of_100k_stocks_reuse_one_cached_list(ffn_kit: Any) -> None:
    data = ffn_kit.build_data(products=0)
    levels = {
        "stockLevelReserved": 0,
        "stockLevelBlocked": 0,
        "stockLevelAnnounced": 0,
        "stockLevelDetails": [],
        "stockReservedDetails": [],
        "stockAnnouncedDetails": [],
    }
    for index in range(100_000):
        jfsku = ffn_kit.jfsku(index)
        row = {
            "warehouseId": ffn_kit.warehouse_a,
            "jfsku": jfsku,
            "merchantSku": str(index),
            "stockLevel": index % 50,
            **levels,
            "fulfillerTimestamp": None,
        }
        data.ffn.stocks[jfsku] = {
            "jfsku": jfsku,
            "merchantSku": str(index),
            "stockLevel": index % 50,
            **levels,
            "warehouses": [row],
            "fulfillerTimestamp": None,
        }
    state = ffn_kit.make_state(data)
    with TestClient(ffn_kit.make_app(state)) as client:
        auth = ffn_kit.bearer(state)
        client.get(f"{API}/stocks", params={"$top": 1}, headers=auth)
        cached = next(iter(ffn.runtime(state).list_cache.values()))
        for skip in (0, 25_000, 50_000, 75_000, 99_000):
            body = client.get(f"{API}/stocks", params={"$top": 1000, "$skip": skip}, headers=auth).json()
            assert body["items"][0]["jfsku"] == ffn_kit.jfsku(skip)
        assert next(iter(ffn.runtime(state).list_cache.values())) is cached  # no rebuild per page
        filtered = client.get(
            f"{API}/stocks", params={"$filter": "stockLevel eq 7", "$top": 1000}, headers=auth
        )
        assert filtered.json()["count"] == 2000
