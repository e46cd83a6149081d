"""The Wawi emulator's price endpoints and what prices need, against the Wawi 1.0 spec's schemas.

Item base prices (``PATCH /items/{id}`` with ``ItemPriceData``), sales-channel prices
(``GET/POST /items/{id}/salesChannelPrices``, ``PATCH/DELETE …/{channel}/{group}/{fromQuantity}``), the
special price (``GET/PATCH /items/{id}/specialprices``), and manufacturers, companies, tax classes, tax
rates, sales channels and customer groups; both flavours; the strict knobs where the reference is silent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox import wawi
from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import EBAY_CHANNEL, SHOP_CHANNEL, generate
from tests.sandbox.test_wawi_api import V1, make_app
from tests.support import openapi

CLOUD = "/wawi/cloud/erp"
AMAZON = "3-9-1"


def conforms(name: str, obj: Any, *, relaxed: bool = False) -> None:
    found = openapi.problems(openapi.validator("wawi", name, relaxed_dates=relaxed), obj)
    assert not found, f"{name}: " + "; ".join(found)


def client_for(state: SandboxState, flavour: str = "onprem") -> TestClient:
    config = state.config
    headers = {"X-AppID": config.wawi_app_id, "X-AppVersion": "1"}
    if flavour == "onprem":
        headers["Authorization"] = f"Wawi {config.wawi_api_key}"
    else:
        token = wawi.issue_cloud_token(state)["access_token"]
        headers.update({"Authorization": f"Bearer {token}", "X-Tenant-ID": config.wawi_cloud_tenant_id})
    return TestClient(make_app(state), headers=headers)


def world(config: SandboxConfig | None = None) -> SandboxState:
    return SandboxState(
        data=generate(seed=5, skus=40, orders=2, customers=2), config=config or SandboxConfig()
    )


@pytest.fixture
def state() -> SandboxState:
    return world()


@pytest.fixture
def api(state: SandboxState) -> Iterator[TestClient]:
    with client_for(state) as client:
        yield client


def _item_with(state: SandboxState, channel: str, group: int, from_quantity: int = 0) -> int:
    return next(
        item_id
        for item_id, rows in sorted(state.data.wawi.sales_channel_prices.items())
        if any(
            (r["SalesChannelId"], r["CustomerGroupId"], r["FromQuantity"], r["ReduceStandardPriceByPercent"])
            == (channel, group, from_quantity, 0)
            for r in rows
        )
    )


def _item_without_prices(state: SandboxState) -> int:
    return next(i for i in sorted(state.data.wawi.items) if i not in state.data.wawi.sales_channel_prices)


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["onprem", "cloud"])
def test_master_data_and_price_lists_conform_in_both_flavours(state: SandboxState, flavour: str) -> None:
    root = V1 if flavour == "onprem" else CLOUD
    with client_for(state, flavour) as api:
        for path, name in (
            ("manufacturers", "Manufacturer"),
            ("companies", "Company"),
            ("taxClasses", "TaxClass"),
            ("salesChannels", "SalesChannel"),
            ("customerGroups", "CustomerGroup"),
        ):
            listed = api.get(f"{root}/{path}").json()
            assert isinstance(listed, list) and listed, path
            for obj in listed:
                conforms(name, obj)
        conforms("TaxRate", api.get(f"{root}/tax/taxclass/2/1/DE/DE").json())
        assert api.get(f"{root}/tax/taxclass/2/1/DE/DE").json()["Rate"] == 7.0
        assert api.get(f"{root}/tax/taxclass/1/1/DE/AT").json()["Rate"] == 20.0
        item = state.data.wawi.items[3]
        rate = api.get(f"{root}/tax/item/3/1/DE/DE").json()
        conforms("TaxRate", rate)
        assert rate["TaxClassId"] == item["TaxClassId"]
        for item_id in sorted(state.data.wawi.sales_channel_prices)[:5]:
            rows = api.get(f"{root}/items/{item_id}/salesChannelPrices").json()
            assert rows
            for row in rows:
                conforms("ItemSalesChannelPrice", row)
        conforms("ItemSpecialPrice", api.get(f"{root}/items/1/specialprices").json(), relaxed=True)


def test_every_item_has_a_known_manufacturer_and_the_channel_prices_refer_to_known_channels(
    state: SandboxState,
) -> None:
    wawi_data = state.data.wawi
    assert {i["ManufacturerId"] for i in wawi_data.items.values()} <= set(wawi_data.manufacturers)
    names = [m["Name"] for m in wawi_data.manufacturers.values()]
    assert len(names) == len(set(names))
    channels = {c["Id"] for c in wawi_data.sales_channels}
    groups = set(wawi_data.customer_groups) | {0}
    rows = [r for rs in wawi_data.sales_channel_prices.values() for r in rs]
    assert {r["SalesChannelId"] for r in rows} == {SHOP_CHANNEL, EBAY_CHANNEL} <= channels
    assert {r["CustomerGroupId"] for r in rows} <= groups
    assert any(r["ReduceStandardPriceByPercent"] for r in rows) and any(r["FromQuantity"] for r in rows)


@pytest.mark.slow
def test_tax_lookups_refuse_unknown_classes_items_companies_and_countries(api: TestClient) -> None:
    missing = api.get(f"{V1}/tax/taxclass/99/1/DE/DE")
    assert missing.status_code == 404 and missing.json()["ErrorCode"] == "NotFound"
    assert api.get(f"{V1}/tax/item/99999/1/DE/DE").status_code == 404
    company = api.get(f"{V1}/tax/taxclass/1/7/DE/DE")
    assert company.status_code == 400 and "companyId" in company.json()["ValidationErrors"]
    country = api.get(f"{V1}/tax/taxclass/1/1/DE/US")
    assert country.status_code == 400 and "shipmentCountryISO" in country.json()["ValidationErrors"]


@pytest.mark.slow
def test_channel_price_patch_post_delete(state: SandboxState, api: TestClient) -> None:
    item_id = _item_with(state, SHOP_CHANNEL, 0)
    path = f"{V1}/items/{item_id}/salesChannelPrices/{SHOP_CHANNEL}/0/0"
    changed_before = state.data.wawi.items[item_id]["Changed"]
    patched = api.patch(path, json={"NetPrice": 12.34567})
    assert patched.status_code == 204 and not patched.content
    row = next(
        r
        for r in api.get(f"{V1}/items/{item_id}/salesChannelPrices").json()
        if r["SalesChannelId"] == SHOP_CHANNEL
    )
    assert row["NetPrice"] == 12.3457 and row["ReduceStandardPriceByPercent"] == 0
    assert state.data.wawi.items[item_id]["Changed"] != changed_before  # changedSince reports it
    relative = api.patch(path, json={"ReduceStandardPriceByPercent": 4})
    assert relative.status_code == 204
    assert state.data.wawi.sales_channel_prices[item_id][0]["NetPrice"] == 0

    created = api.post(
        f"{V1}/items/{item_id}/salesChannelPrices",
        json={"SalesChannelId": EBAY_CHANNEL, "CustomerGroupId": 2, "NetPrice": 20},
    )
    assert created.status_code == 201
    conforms("ItemSalesChannelPrice", created.json())
    assert created.json() == {
        "ItemId": item_id,
        "SalesChannelId": EBAY_CHANNEL,
        "CustomerGroupId": 2,
        "FromQuantity": 0,
        "NetPrice": 20,
        "ReduceStandardPriceByPercent": 0,
    }
    again = api.post(  # lenient: the same channel, group and quantity again replaces it
        f"{V1}/items/{item_id}/salesChannelPrices",
        json={"SalesChannelId": EBAY_CHANNEL, "CustomerGroupId": 2, "NetPrice": 21},
    )
    assert again.status_code == 201
    ebay = [r for r in state.data.wawi.sales_channel_prices[item_id] if r["SalesChannelId"] == EBAY_CHANNEL]
    assert [r["NetPrice"] for r in ebay if r["CustomerGroupId"] == 2] == [21]
    assert api.delete(f"{V1}/items/{item_id}/salesChannelPrices/{EBAY_CHANNEL}/2/0").status_code == 204
    gone = api.patch(f"{V1}/items/{item_id}/salesChannelPrices/{EBAY_CHANNEL}/2/0", json={"NetPrice": 1})
    assert gone.status_code == 404 and gone.json()["ErrorMessage"] == "No data with the given ID exists."


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"NetPrice": 5, "ReduceStandardPriceByPercent": 2}, "NetPrice"),
        ({"NetPrice": "cheap"}, "NetPrice"),
        ({}, "NetPrice"),
    ],
)
def test_channel_price_bodies_are_validated(
    state: SandboxState, api: TestClient, body: dict[str, Any], field: str
) -> None:
    item_id = _item_with(state, SHOP_CHANNEL, 0)
    created = api.post(
        f"{V1}/items/{item_id}/salesChannelPrices", json={"SalesChannelId": SHOP_CHANNEL, **body}
    )
    assert created.status_code == 400 and field in created.json()["ValidationErrors"]
    if body:
        patched = api.patch(f"{V1}/items/{item_id}/salesChannelPrices/{SHOP_CHANNEL}/0/0", json=body)
        assert patched.status_code == 400 and field in patched.json()["ValidationErrors"]
        conforms("ErrorResponse", {k: v for k, v in patched.json().items() if k != "Stacktrace"})


@pytest.mark.slow
def test_channels_and_groups_are_checked(state: SandboxState, api: TestClient) -> None:
    item_id = _item_without_prices(state)
    url = f"{V1}/items/{item_id}/salesChannelPrices"
    amazon = api.post(url, json={"SalesChannelId": AMAZON, "NetPrice": 9})
    assert (
        amazon.status_code == 400
        and "does not allow prices" in amazon.json()["ValidationErrors"]["SalesChannelId"]
    )
    unknown = api.post(url, json={"SalesChannelId": "9-9-9", "NetPrice": 9, "CustomerGroupId": 77})
    assert set(unknown.json()["ValidationErrors"]) == {"SalesChannelId", "CustomerGroupId"}
    assert state.data.wawi.sales_channel_prices.get(item_id) is None
    assert (
        api.post(f"{V1}/items/987654/salesChannelPrices", json={"SalesChannelId": SHOP_CHANNEL}).status_code
        == 404
    )


@pytest.mark.slow
def test_special_price_round_trip_and_documented_checks(state: SandboxState, api: TestClient) -> None:
    url = f"{V1}/items/2/specialprices"
    empty = api.get(url).json()
    assert empty["IsActive"] is False and empty["SpecialPrice"] == []
    body = {
        "IsActive": True,
        "StartDate": "2026-11-20T00:00:00+00:00",
        "EndDateActive": True,
        "EndDate": "2026-12-04T00:00:00+00:00",
        "SpecialPrice": [
            {"IsActive": True, "CustomerGroupId": 1, "NetPrice": 8.123456, "SalesChannelId": SHOP_CHANNEL},
            {"IsActive": True, "CustomerGroupId": 2, "NetPrice": 7.5, "SalesChannelId": "1-1-0"},
        ],
    }
    assert api.patch(url, json=body).status_code == 204
    stored = api.get(url).json()
    conforms("ItemSpecialPrice", stored)
    assert stored["SpecialPrice"][0]["NetPrice"] == 8.1235 and stored["EndDate"] == body["EndDate"]
    assert api.patch(url, json={"IsActive": False}).status_code == 204  # a PATCH keeps what it does not name
    assert api.get(url).json()["SpecialPrice"] == stored["SpecialPrice"]
    for bad, field in (
        ({"SpecialPrice": []}, "IsActive"),
        ({"IsActive": True, "EndDateActive": True, "EndDate": None}, None),
        ({"IsActive": True, "StartDate": "soon"}, "StartDate"),
        (
            {
                "IsActive": True,
                "SpecialPrice": [
                    {"IsActive": True, "CustomerGroupId": 1, "NetPrice": 1, "SalesChannelId": EBAY_CHANNEL}
                ],
            },
            "SpecialPrice[0].SalesChannelId",
        ),
        (
            {
                "IsActive": True,
                "SpecialPrice": [{"IsActive": True, "CustomerGroupId": 1, "SalesChannelId": SHOP_CHANNEL}],
            },
            "SpecialPrice[0].NetPrice",
        ),
        (
            {"IsActive": True, "SpecialPrice": [body["SpecialPrice"][0], body["SpecialPrice"][0]]},
            "SpecialPrice[1].SalesChannelId",
        ),
    ):
        answer = api.patch(url, json=bad)
        if field is None:  # EndDate null: the stored one stays, so EndDateActive is satisfied
            assert answer.status_code == 204
            continue
        assert answer.status_code == 400, bad
        assert field in answer.json()["ValidationErrors"], answer.json()
    state.data.wawi.special_prices.pop(3, None)
    no_end = api.patch(f"{V1}/items/3/specialprices", json={"IsActive": True, "EndDateActive": True})
    assert no_end.status_code == 400 and "EndDate" in no_end.json()["ValidationErrors"]


@pytest.mark.slow
def test_item_base_price_patch_validates_types_and_answers_201(api: TestClient) -> None:
    bad = api.patch(f"{V1}/items/4", json={"ItemPriceData": {"SalesPriceNet": "teuer"}})
    assert bad.status_code == 400 and "ItemPriceData.SalesPriceNet" in bad.json()["ValidationErrors"]
    good = api.patch(f"{V1}/items/4", json={"ItemPriceData": {"SalesPriceNet": 13.4369}})
    assert good.status_code == 201
    conforms(
        "ItemPrice", good.json()["ItemPriceData"]
    )  # (generated items carry nulls the spec does not allow)
    assert good.json()["ItemPriceData"]["SalesPriceNet"] == 13.4369
    lenient_negative = api.patch(f"{V1}/items/4", json={"ItemPriceData": {"SalesPriceNet": -1}})
    assert lenient_negative.status_code == 201  # the reference is silent: lenient stores it


@pytest.mark.slow
def test_strict_knobs(state: SandboxState) -> None:
    strict = world(SandboxConfig.strictest())
    with client_for(strict) as api:
        empty_item = _item_without_prices(strict)
        assert api.get(f"{V1}/items/{empty_item}/salesChannelPrices").status_code == 404
        assert (
            api.get(f"{V1}/items/{empty_item}/specialprices").json()["ErrorMessage"]
            == "No fields could be found."
        )
        item_id = _item_with(strict, SHOP_CHANNEL, 0)
        dup = api.post(
            f"{V1}/items/{item_id}/salesChannelPrices", json={"SalesChannelId": SHOP_CHANNEL, "NetPrice": 3}
        )
        assert dup.status_code == 400 and "already exists" in dup.json()["ValidationErrors"]["SalesChannelId"]
        negative = api.patch(
            f"{V1}/items/{item_id}/salesChannelPrices/{SHOP_CHANNEL}/0/0", json={"NetPrice": -0.01}
        )
        assert negative.status_code == 400
        base = api.patch(f"{V1}/items/{item_id}", json={"ItemPriceData": {"SalesPriceNet": -2}})
        assert base.status_code == 400 and "ItemPriceData.SalesPriceNet" in base.json()["ValidationErrors"]
        backwards = api.patch(
            f"{V1}/items/{item_id}/specialprices",
            json={
                "IsActive": True,
                "StartDate": "2026-12-01T00:00:00+00:00",
                "EndDateActive": True,
                "EndDate": "2026-11-01T00:00:00+00:00",
            },
        )
        assert backwards.status_code == 400 and "EndDate" in backwards.json()["ValidationErrors"]
    with client_for(state) as api:  # the same requests pass leniently
        assert api.get(f"{V1}/items/{_item_without_prices(state)}/salesChannelPrices").json() == []


@pytest.mark.slow
def test_price_writes_need_their_scopes() -> None:
    reader = world(SandboxConfig(wawi_app_scopes=("all.read", "item.updateitem")))
    with client_for(reader) as api:
        item_id = _item_with(reader, SHOP_CHANNEL, 0)
        assert api.get(f"{V1}/items/{item_id}/salesChannelPrices").status_code == 200
        patched = api.patch(
            f"{V1}/items/{item_id}/salesChannelPrices/{SHOP_CHANNEL}/0/0", json={"NetPrice": 1}
        )
        assert (
            patched.status_code == 403
            and "item.updateitemsaleschannelprice" in patched.json()["ErrorMessage"]
        )
        special = api.patch(f"{V1}/items/{item_id}/specialprices", json={"IsActive": False})
        assert special.status_code == 403
        assert (
            api.patch(f"{V1}/items/{item_id}", json={"ItemPriceData": {"SalesPriceNet": 9}}).status_code
            == 201
        )
