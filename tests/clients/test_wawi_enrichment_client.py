"""The Wawi client methods of the product enrichment: bodies as the spec has them, and every fault."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jtl_automator.clients.errors import AuthError, NotFound, RateLimited, TransientError, ValidationFailed
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import FakeClock, Recorder, json_response
from tests.clients.test_wawi_client import CloudServer, cloud_client, wawi_for
from tests.support.openapi import problems, validator

ITEM = {"Id": 3, "SKU": "A-1", "Identifiers": {"Gtin": "4006381333931"}, "Dimensions": {"Length": 30.5}}


def test_item_patch_sends_whole_groups_in_the_spec_shape(policy: RetryPolicy) -> None:
    rec = Recorder(lambda r: httpx.Response(201, json={**ITEM, **json.loads(r.content)}))
    body = {
        "identifiers": {"gtin": "4006381333931", "manufacturer_number": "GR-1"},
        "weights": {"item_weight": 1.5, "shipping_weight": 1.7},
        "dimensions": {"length": 30.5, "width": 10.0, "height": 5.0},
        "item_price_data": {"purchase_price_net": 12.5},
        "short_description": "Mühle",
    }
    item = wawi_for(rec, policy).items.update(3, body, idempotent=True)
    sent = json.loads(rec.requests[0].content)
    assert sent == {
        "Identifiers": {"Gtin": "4006381333931", "ManufacturerNumber": "GR-1"},
        "Weights": {"ItemWeigth": 1.5, "ShippingWeight": 1.7},
        "Dimensions": {"Length": 30.5, "Width": 10.0, "Height": 5.0},
        "ItemPriceData": {"PurchasePriceNet": 12.5},
        "ShortDescription": "Mühle",
    }
    assert problems(validator("wawi", "UpdateItem", create_body=True), sent) == []
    assert item is not None and item.dimensions is not None and item.dimensions.length == 30.5
    assert rec.requests[0].url.path.endswith("/v1/items/3")


def test_item_patch_of_absolute_values_is_retried_after_5xx_and_timeouts(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    answered = json_response(201, ITEM)
    rec = Recorder(json_response(502), httpx.ReadTimeout("slow"), answered)
    assert wawi_for(rec, policy).items.update(3, {"short_description": "x"}, idempotent=True) is not None
    assert [r.method for r in rec.requests] == ["PATCH"] * 3 and len(clock.sleeps) == 2
    once = Recorder(json_response(503), answered)
    with pytest.raises(TransientError):
        wawi_for(once, policy).items.update(3, {"short_description": "x"})
    assert len(once.requests) == 1


def test_item_patch_rejected_or_unknown_is_a_client_error(policy: RetryPolicy) -> None:
    refused = {"ErrorCode": "ValidationError", "ValidationErrors": {"Identifiers.Gtin": "too long"}}
    with pytest.raises(ValidationFailed, match=r"Identifiers\.Gtin"):
        wawi_for(Recorder(json_response(400, refused)), policy).items.update(3, {"short_description": "x"})
    with pytest.raises(NotFound):
        wawi_for(Recorder(json_response(404, {"ErrorCode": "NotFound"})), policy).items.raw(99)


def test_category_items_post_an_array_and_are_never_resent_blindly(policy: RetryPolicy) -> None:
    rec = Recorder(lambda r: httpx.Response(201, json=json.loads(r.content)))
    wawi = wawi_for(rec, policy)
    assert wawi.categories.add_items(5, [10, 11]) == [10, 11]
    request = rec.requests[0]
    assert request.method == "POST" and request.url.path.endswith("/v1/categories/5/items")
    assert json.loads(request.content) == [10, 11]
    for fault in (json_response(500), httpx.ReadTimeout("lost")):
        lost = Recorder(fault, json_response(201, [10]))
        with pytest.raises(TransientError):
            wawi_for(lost, policy).categories.add_items(5, [10])
        assert len(lost.requests) == 1
    with pytest.raises(NotFound):
        wawi_for(Recorder(json_response(404, {"ErrorCode": "NotFound"})), policy).categories.add_items(9, [1])


def test_429_is_waited_out_for_reads_and_writes(policy: RetryPolicy, clock: FakeClock) -> None:
    limited = json_response(429, {"ErrorCode": "TooManyRequests"}, {"Retry-After": "3"})
    images = [{"ItemId": 3, "ImageId": 1, "Filename": "a.jpg", "SortNumber": 1}]
    rec = Recorder(limited, json_response(200, images))
    assert [i.filename for i in wawi_for(rec, policy).items.images(3)] == ["a.jpg"]
    post = Recorder(limited, json_response(201, [10]))
    assert wawi_for(post, policy).categories.add_items(5, [10]) == [10]  # 429: the server did nothing
    assert clock.sleeps == [3.0, 3.0]
    always = Recorder(limited)
    with pytest.raises(RateLimited):
        wawi_for(always, policy).items.properties(3)


def test_reads_of_the_enrichment(policy: RetryPolicy) -> None:
    answers: dict[str, Any] = {
        "/v1/items/3/properties": {"ItemId": 3, "Properties": [{"PropertyId": 4, "PropertyValueId": 9}]},
        "/v1/properties": {
            "TotalItems": 1,
            "PageNumber": 1,
            "PageSize": 1,
            "Items": [{"Id": 4, "Name": "Farbe"}],
        },
        "/v1/properties/4/values": [{"Id": 9, "Name": "rot", "Description": ""}],
        "/v1/manufacturers": [{"Id": 2, "Name": "Graef"}],
        "/v1/items/3/images": [],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/eazybusiness")
        return httpx.Response(200, json=answers[path])

    wawi = wawi_for(handler, policy)
    assert [(p.property_id, p.property_value_id) for p in wawi.items.properties(3)] == [(4, 9)]
    assert [p.name for p in wawi.properties.list()] == ["Farbe"]
    assert [v.name for v in wawi.properties.values(4)] == ["rot"]
    assert [m.name for m in wawi.manufacturers()] == ["Graef"]
    assert wawi.items.images(3) == []


def test_5xx_and_timeouts_on_reads_are_retried(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(503), httpx.ConnectTimeout("slow"), json_response(200, []))
    assert wawi_for(rec, policy).items.images(3) == []
    assert len(rec.requests) == 3


def test_an_expired_cloud_token_is_replaced_once(policy: RetryPolicy) -> None:
    server = CloudServer(json_response(401), json_response(201, [10]))
    assert cloud_client(server, policy).categories.add_items(5, [10]) == [10]
    assert [r.headers["Authorization"] for r in server.api.requests] == ["Bearer jwt-1", "Bearer jwt-2"]
    assert server.api.requests[0].url.path == "/erp/categories/5/items"
    refused = CloudServer(json_response(401))
    with pytest.raises(AuthError):
        cloud_client(refused, policy).items.update(3, {"short_description": "x"}, idempotent=True)
    assert len(refused.api.requests) == 7  # six fresh tokens refused as well, then it stops
