"""The Wawi client's price methods: bodies and paths, and how the one retry policy treats them.

Price writes set absolute values (a base price, a channel price, a special price with its dates), so
a re-send after a lost answer cannot do harm: they are retried after 5xx and timeouts like reads. Creating
a channel price is a POST and is not. 429 is always waited out; an expired Cloud token is fetched anew once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jtl_automator.clients.errors import AuthError, NotFound, RateLimited, TransientError, ValidationFailed
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import FakeClock, Recorder, json_response
from tests.clients.test_wawi_client import CloudServer, cloud_client, wawi_for

CHANNEL_PRICES = [
    {
        "ItemId": 7,
        "SalesChannelId": "1-2-1",
        "CustomerGroupId": 0,
        "FromQuantity": 0,
        "NetPrice": 12.5,
        "ReduceStandardPriceByPercent": 0,
    },
    {
        "ItemId": 7,
        "SalesChannelId": "2-3-1",
        "CustomerGroupId": 1,
        "FromQuantity": 0,
        "NetPrice": 0,
        "ReduceStandardPriceByPercent": 3,
    },
]


GROUP = {"SalesPriceNet": 9.0, "PurchasePriceNet": 4.2, "SuggestedRetailPrice": 19.99, "AmazonPrice": 0}


def test_price_requests_paths_and_bodies(policy: RetryPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/salesChannelPrices"):
            return httpx.Response(200, json=CHANNEL_PRICES)
        if request.method == "GET" and path.endswith("/specialprices"):
            return httpx.Response(200, json={"ItemId": 7, "SpecialPrice": [], "IsActive": False})
        if request.method == "POST":
            return httpx.Response(201, json={"ItemId": 7, **json.loads(request.content)})
        if path.endswith("/items/7") and request.method == "GET":
            return httpx.Response(200, json={"Id": 7, "ItemPriceData": GROUP})
        if path.endswith("/items/7"):
            return httpx.Response(
                201, json={"Id": 7, "ItemPriceData": json.loads(request.content)["ItemPriceData"]}
            )
        return httpx.Response(204)

    rec = Recorder(handler)
    wawi = wawi_for(rec, policy)
    item = wawi.items.set_base_price(7, 10.123456)
    assert (
        item is not None
        and item.item_price_data is not None
        and item.item_price_data.sales_price_net == 10.1235
    )
    prices = wawi.items.sales_channel_prices(7)
    assert [(p.sales_channel_id, p.customer_group_id, p.net_price, p.relative) for p in prices] == [
        ("1-2-1", 0, 12.5, False),
        ("2-3-1", 1, 0, True),
    ]
    wawi.items.set_sales_channel_price(7, "1-2-1", 0, 11.99)
    created = wawi.items.create_sales_channel_price(7, {"sales_channel_id": "1-1-0", "net_price": 9.5})
    assert created.sales_channel_id == "1-1-0" and created.net_price == 9.5
    special = wawi.items.special_price(7)
    assert special is not None and special.is_active is False and special.special_price == []
    wawi.items.set_special_price(
        7,
        {
            "is_active": True,
            "start_date": datetime(2026, 11, 20, tzinfo=UTC),
            "end_date_active": True,
            "end_date": datetime(2026, 12, 4, tzinfo=UTC),
            "special_price": [
                {"is_active": True, "customer_group_id": 1, "net_price": 8.4, "sales_channel_id": "1-2-1"}
            ],
        },
    )
    sent = [(r.method, r.url.path, json.loads(r.content) if r.content else None) for r in rec.requests]
    assert sent == [
        # the price group is read and sent whole: a Wawi that replaces groups keeps purchase price and UVP
        ("GET", "/api/eazybusiness/v1/items/7", None),
        ("PATCH", "/api/eazybusiness/v1/items/7", {"ItemPriceData": {**GROUP, "SalesPriceNet": 10.1235}}),
        ("GET", "/api/eazybusiness/v1/items/7/salesChannelPrices", None),
        ("PATCH", "/api/eazybusiness/v1/items/7/salesChannelPrices/1-2-1/0/0", {"NetPrice": 11.99}),
        (
            "POST",
            "/api/eazybusiness/v1/items/7/salesChannelPrices",
            {"SalesChannelId": "1-1-0", "NetPrice": 9.5},
        ),
        ("GET", "/api/eazybusiness/v1/items/7/specialprices", None),
        (
            "PATCH",
            "/api/eazybusiness/v1/items/7/specialprices",
            {
                "IsActive": True,
                "StartDate": "2026-11-20T00:00:00Z",
                "EndDateActive": True,
                "EndDate": "2026-12-04T00:00:00Z",
                "SpecialPrice": [
                    {"IsActive": True, "CustomerGroupId": 1, "NetPrice": 8.4, "SalesChannelId": "1-2-1"}
                ],
            },
        ),
    ]


def test_master_data_lists_and_the_tax_rate(policy: RetryPolicy) -> None:
    answers = {
        "/manufacturers": [{"Id": 3, "Name": "Rösterei Hansen"}],
        "/companies": [{"Id": 1, "Name": "Beispielhandel GmbH"}],
        "/taxClasses": [{"Id": 1, "Name": "Normal", "IsDefault": True, "Type": 4}],
        "/salesChannels": [
            {"Id": "1-2-1", "Name": "Shop", "ItemCapabilities": {"Prices": True, "SpecialPrices": False}}
        ],
        "/customerGroups": [{"Id": 1, "Name": "Endkunden", "IsDefault": True}],
        "/tax/taxclass/1/1/DE/AT": {
            "Rate": 20,
            "TaxClassId": 1,
            "DepartureCountryISO": "DE",
            "ShipmentCountryISO": "AT",
        },
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[request.url.path.removeprefix("/api/eazybusiness/v1")])

    wawi = wawi_for(handler, policy)
    assert wawi.manufacturers()[0].name == "Rösterei Hansen"
    assert wawi.companies()[0].id == 1
    assert wawi.tax_classes()[0].is_default is True
    channel = wawi.sales_channels()[0]
    assert channel.item_capabilities is not None and channel.item_capabilities.special_prices is False
    assert wawi.customer_groups()[0].name == "Endkunden"
    rate = wawi.tax_rate(1, 1, "DE", "AT")
    assert (rate.rate, rate.shipment_country_iso) == (20, "AT")


def test_404_lists_are_empty_and_a_missing_special_price_is_none(policy: RetryPolicy) -> None:
    body = {"ErrorCode": "NotFound", "ErrorMessage": "No fields could be found."}
    wawi = wawi_for(Recorder(json_response(404, body)), policy)
    assert wawi.items.sales_channel_prices(7) == []
    assert wawi.items.special_price(7) is None
    assert wawi.manufacturers() == [] and wawi.tax_classes() == []
    with pytest.raises(NotFound, match="No data with the given ID exists"):
        wawi_for(
            Recorder(
                json_response(
                    404, {"ErrorCode": "NotFound", "ErrorMessage": "No data with the given ID exists."}
                )
            ),
            policy,
        ).items.set_sales_channel_price(7, "1-2-1", 0, 5)


def _BASE(w: Any) -> Any:
    return w.items.set_base_price(7, 9.99)


@pytest.mark.parametrize(
    "call",
    [
        _BASE,
        lambda w: w.items.set_sales_channel_price(7, "1-2-1", 0, 9.99),
        lambda w: w.items.set_special_price(7, {"is_active": False}),
    ],
    ids=["base", "channel", "special"],
)
def test_absolute_price_writes_are_retried_after_5xx_timeouts_and_429(
    policy: RetryPolicy, clock: FakeClock, call: Any
) -> None:
    done = json_response(201, {"Id": 7})
    group = [json_response(200, {"Id": 7, "ItemPriceData": GROUP})] if call is _BASE else []
    rec = Recorder(
        *group,
        json_response(503),
        httpx.ReadTimeout("slow"),
        json_response(429, {"ErrorCode": "TooManyRequests"}, {"Retry-After": "3"}),
        done,
    )
    call(wawi_for(rec, policy))
    assert [r.method for r in rec.requests] == ["GET"] * len(group) + ["PATCH"] * 4
    assert clock.sleeps == [0.5, 1.0, 3.0]


def test_creating_a_channel_price_is_not_re_sent_after_a_5xx_but_after_a_429(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    rec = Recorder(json_response(502))
    with pytest.raises(TransientError, match="502"):
        wawi_for(rec, policy).items.create_sales_channel_price(
            7, {"sales_channel_id": "1-2-1", "net_price": 1}
        )
    assert len(rec.requests) == 1
    created = {"ItemId": 7, "SalesChannelId": "1-2-1", "CustomerGroupId": 0, "FromQuantity": 0, "NetPrice": 1}
    throttled = Recorder(json_response(429, None, {"Retry-After": "1"}), json_response(201, created))
    price = wawi_for(throttled, policy).items.create_sales_channel_price(
        7, {"sales_channel_id": "1-2-1", "net_price": 1}
    )
    assert price.net_price == 1 and len(throttled.requests) == 2


def test_a_refused_price_is_an_item_level_error_with_wawi_s_reasons(policy: RetryPolicy) -> None:
    body = {
        "ErrorCode": "ValidationError",
        "ErrorMessage": "One or more validation errors occurred.",
        "ValidationErrors": {"NetPrice": "The field NetPrice must not be negative."},
    }
    rec = Recorder(json_response(400, body))
    with pytest.raises(ValidationFailed) as caught:
        wawi_for(rec, policy).items.set_sales_channel_price(7, "1-2-1", 0, -1)
    assert "NetPrice" in str(caught.value) or caught.value.metadata.get("validation_errors")
    assert len(rec.requests) == 1


def test_rate_limited_after_the_budget_and_an_expired_cloud_token(policy: RetryPolicy) -> None:
    always = Recorder(json_response(429, None, {"Retry-After": "5"}))
    with pytest.raises(RateLimited):
        wawi_for(always, policy).items.set_base_price(7, 1.0)
    assert len(always.requests) == policy.max_attempts

    expired = CloudServer(json_response(401), json_response(204))
    wawi = cloud_client(expired, policy)
    wawi.items.set_sales_channel_price(7, "1-2-1", 0, 4.5)
    assert [r.headers["Authorization"] for r in expired.api.requests] == ["Bearer jwt-1", "Bearer jwt-2"]
    assert expired.api.requests[0].url.path == "/erp/items/7/salesChannelPrices/1-2-1/0/0"

    revoked = CloudServer(json_response(401))
    with pytest.raises(AuthError):
        cloud_client(revoked, policy).items.set_base_price(7, 1.0)
