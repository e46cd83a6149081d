"""The Wawi emulator's catalogue routes: category assignment, images, properties, makers, PATCH groups."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox.app import SandboxState
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.settings import WAWI_APP_SCOPES
from tests.sandbox.test_wawi_api import V1, build_wawi_data, make_app
from tests.support.openapi import problems, validator

LIST_OF_INT = "System.Collections.Generic.List`1[System.Int32]."


def _client(state: SandboxState) -> Iterator[TestClient]:
    headers = {
        "Authorization": f"Wawi {state.config.wawi_api_key}",
        "X-AppID": state.config.wawi_app_id,
        "X-AppVersion": "1.0.0",
    }
    with TestClient(make_app(state), base_url="http://sandbox.test", headers=headers) as client:
        yield client


@pytest.fixture
def state() -> SandboxState:
    data = build_wawi_data(items=6, orders=1)
    wawi = data.wawi
    wawi.item_images[1] = [
        {
            "ItemId": 1,
            "ImageId": 7,
            "Filename": "a.jpg",
            "ImageDataType": "JPEG",
            "SalesChannelId": "1-1-1",
            "EbayUserName": "",
            "SortNumber": 1,
            "Size": 1000,
            "Width": 800,
            "Height": 600,
        }
    ]
    wawi.properties[4] = {"Id": 4, "Name": "Farbe", "Translations": [], "PropertyGroups": []}
    wawi.property_values[4] = [{"Id": 9, "Name": "rot", "Description": ""}]
    wawi.item_properties[2] = [{"PropertyId": 4, "PropertyValueId": 9}]
    wawi.manufacturers[3] = {
        "Id": 3,
        "Name": "Graef",
        "Description": "",
        "Homepage": "",
        "SortNumber": 1,
        "MetaTitle": "",
        "MetaKeywords": "",
        "MetaDescription": "",
    }
    return SandboxState(data=data, config=SandboxConfig())


@pytest.fixture
def api(state: SandboxState) -> Iterator[TestClient]:
    yield from _client(state)


def _categories(state: SandboxState, item_id: int) -> list[int]:
    return [c["CategoryId"] for c in state.data.wawi.items[item_id]["Categories"]]


@pytest.mark.slow
def test_items_join_a_category_and_keep_the_others(api: TestClient, state: SandboxState) -> None:
    target = next(c for c in state.data.wawi.categories if c not in _categories(state, 1))
    before = {i: _categories(state, i) for i in (1, 2)}
    changed = state.data.wawi.items[1].get("Changed")
    response = api.post(f"{V1}/categories/{target}/items", json=[1, 2, 1])
    assert response.status_code == 201 and response.json() == [1, 2]
    for item_id in (1, 2):
        assert _categories(state, item_id) == [*before[item_id], target] or target in before[item_id]
    assert state.data.wawi.items[1]["Changed"] != changed
    item = api.get(f"{V1}/items/1").json()
    assert {"CategoryId": target, "Name": state.data.wawi.categories[target]["Name"]} in item["Categories"]
    again = api.post(f"{V1}/categories/{target}/items", json=[1])
    assert again.status_code == 201 and _categories(state, 1).count(target) == 1  # lenient: a no-op


@pytest.mark.slow
def test_unknown_category_items_or_a_bad_body_assign_nothing(api: TestClient, state: SandboxState) -> None:
    before = {i: list(_categories(state, i)) for i in state.data.wawi.items}
    assert api.post(f"{V1}/categories/999/items", json=[1]).status_code == 404
    bad: list[tuple[Any, dict[str, str]]] = [
        ([1, 999], {"items[1]": "Item 999 does not exist."}),
        ([1, "2"], {"items[1]": "The JSON value could not be converted to System.Int32."}),
        (
            {"Items": [1]},
            {"items": "The JSON value could not be converted to " + LIST_OF_INT},
        ),
    ]
    category = next(iter(state.data.wawi.categories))
    for body, errors in bad:
        response = api.post(f"{V1}/categories/{category}/items", json=body)
        assert response.status_code == 400 and response.json()["ValidationErrors"] == errors
    assert {i: _categories(state, i) for i in state.data.wawi.items} == before


@pytest.mark.slow
def test_strict_refuses_an_item_already_in_the_category(state: SandboxState) -> None:
    state.config = SandboxConfig.strictest()
    for client in _client(state):
        member = _categories(state, 1)[0]
        response = client.post(f"{V1}/categories/{member}/items", json=[1])
        assert response.status_code == 400
        assert response.json()["ValidationErrors"] == {
            "items[0]": f"Item 1 is already assigned to category {member}."
        }
        assert "category.addcategoryitems" in WAWI_APP_SCOPES  # the strict app may assign at all


@pytest.mark.slow
def test_images_properties_and_manufacturers_in_the_spec_shapes(api: TestClient) -> None:
    images = api.get(f"{V1}/items/1/images").json()
    assert [i["Filename"] for i in images] == ["a.jpg"] and api.get(f"{V1}/items/2/images").json() == []
    assert problems(validator("wawi", "ItemImage"), images[0]) == []
    props = api.get(f"{V1}/items/2/properties").json()
    assert props == {"ItemId": 2, "Properties": [{"PropertyId": 4, "PropertyValueId": 9}]}
    assert problems(validator("wawi", "ItemProperties"), props) == []
    listed = api.get(f"{V1}/properties").json()
    assert problems(validator("wawi", "PagedListOfProperty"), listed) == []
    assert [p["Name"] for p in listed["Items"]] == ["Farbe"]
    assert api.get(f"{V1}/properties/4/values").json()[0]["Name"] == "rot"
    assert api.get(f"{V1}/properties/5/values").status_code == 404
    makers = api.get(f"{V1}/manufacturers").json()
    assert problems(validator("wawi", "Manufacturer"), makers[0]) == []
    for path in ("/items/99/images", "/items/99/properties"):
        assert api.get(f"{V1}{path}").status_code == 404


@pytest.mark.slow
def test_patch_groups_merge_leniently_and_replace_under_strict(state: SandboxState) -> None:
    item = state.data.wawi.items[3]
    item["Weights"] = {"ItemWeigth": 1.0, "ShippingWeight": 1.5}
    for client in _client(state):
        response = client.patch(f"{V1}/items/3", json={"Weights": {"ItemWeigth": 2.0}})
        assert response.status_code == 201
        assert response.json()["Weights"] == {"ItemWeigth": 2.0, "ShippingWeight": 1.5}
    state.config = SandboxConfig.strictest()
    for client in _client(state):
        response = client.patch(f"{V1}/items/3", json={"Weights": {"ItemWeigth": 3.0}})
        assert response.json()["Weights"] == {"ItemWeigth": 3.0, "ShippingWeight": 0}
        whole = client.patch(f"{V1}/items/3", json={"Weights": {"ItemWeigth": 3.0, "ShippingWeight": 3.2}})
        assert whole.json()["Weights"] == {"ItemWeigth": 3.0, "ShippingWeight": 3.2}
        assert whole.json()["Identifiers"] == state.data.wawi.items[3]["Identifiers"]  # groups not sent: kept
