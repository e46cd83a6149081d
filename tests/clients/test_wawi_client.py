"""Wawi client and app registration against MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import AuthError, Conflict, LicenseError, RegistrationError
from jtl_automator.clients.wawi import AppRegistration, WawiClient, register_app
from jtl_automator.resilience import RetryPolicy
from tests.clients.conftest import FakeClock, Recorder, json_response

BASE = "http://127.0.0.1:5883/api/eazybusiness"
KEY = "6f1c2d3e-aaaa-4000-8000-secretwawikey"


def wawi_for(handler: Any, policy: RetryPolicy) -> WawiClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return WawiClient(http, BASE, SecretStr(KEY), "myco/app/v1", "1.2.3", retry=policy, page_size=2)


def paged_orders(n: int) -> Any:
    orders = [
        {"Id": i, "Number": f"AU{i}", "Shipmentaddress": {"City": "Berlin"}, "IsCancelled": False}
        for i in range(1, n + 1)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        number, size = int(request.url.params["pageNumber"]), int(request.url.params["pageSize"])
        pages = max(1, -(-n // size))
        return httpx.Response(
            200,
            json={
                "TotalItems": n,
                "PageNumber": number,
                "PageSize": size,
                "TotalPages": pages,
                "HasNextPage": number < pages,
                "NextPageNumber": number + 1 if number < pages else pages,
                "Items": orders[(number - 1) * size : number * size],
            },
        )

    return handler


def test_sales_orders_list_sends_auth_headers_filters_and_pages(policy: RetryPolicy) -> None:
    rec = Recorder(paged_orders(5))
    wawi = wawi_for(rec, policy)
    since = datetime(2025, 3, 1, tzinfo=UTC)
    orders = list(wawi.sales_orders.list(created_since=since, is_cancelled=False))
    assert [o.number for o in orders] == ["AU1", "AU2", "AU3", "AU4", "AU5"]
    assert orders[0].shipment_address is not None and orders[0].shipment_address.city == "Berlin"
    assert len(rec.requests) == 3
    req = rec.requests[0]
    assert req.url.path == "/api/eazybusiness/v1/salesOrders"
    assert req.url.params["createdSince"] == since.isoformat()
    assert req.url.params["isCancelled"] == "false"
    assert req.headers["Authorization"] == f"Wawi {KEY}"
    assert req.headers["X-AppID"] == "myco/app/v1" and req.headers["X-AppVersion"] == "1.2.3"


def test_wawi_401_is_not_retried(policy: RetryPolicy) -> None:
    rec = Recorder(json_response(401))
    with pytest.raises(AuthError):
        wawi_for(rec, policy).items.get(1)
    assert len(rec.requests) == 1


def test_wawi_402_is_a_license_error(policy: RetryPolicy) -> None:
    with pytest.raises(LicenseError, match="402"):
        wawi_for(Recorder(json_response(402)), policy).info()


def test_406_is_a_conflict(policy: RetryPolicy) -> None:
    body = {"ErrorCode": "NotAcceptable", "ErrorMessage": "The sales order cannot be changed"}
    rec = Recorder(json_response(406, body))
    with pytest.raises(Conflict, match="cannot be changed"):
        wawi_for(rec, policy).sales_orders.update(7, {"Comment": "x"})
    assert json.loads(rec.requests[0].content) == {"Comment": "x"}


def test_item_update_sends_pascal_case_and_api_spellings(policy: RetryPolicy) -> None:
    rec = Recorder(lambda r: httpx.Response(201, json={"Id": 3, **json.loads(r.content)}))
    item = wawi_for(rec, policy).items.update(3, {"sku": "00123", "weights": {"item_weight": 1.5}})
    assert json.loads(rec.requests[0].content) == {"SKU": "00123", "Weights": {"ItemWeigth": 1.5}}
    assert item is not None and item.sku == "00123" and item.weights and item.weights.item_weight == 1.5
    assert rec.requests[0].method == "PATCH"


def test_stock_adjust_and_suppliers_array(policy: RetryPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/suppliers"):
            return httpx.Response(200, json=[{"Id": 1, "Name": "ACME", "LanguageISO": "DE"}])
        return httpx.Response(201, json={**json.loads(request.content), "QuantityTotal": 9})

    wawi = wawi_for(handler, policy)
    stock = wawi.stocks.adjust({"warehouse_id": 1, "item_id": 2, "quantity": -3, "comment": "count"})
    assert stock is not None and stock.quantity_total == 9
    assert wawi.suppliers.list()[0].language_iso == "DE"


def test_purchase_orders_are_camel_case_v2(policy: RetryPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": 1, **json.loads(request.content)})
        return httpx.Response(
            200,
            json={
                "items": [{"id": 1, "supplierId": 4}],
                "pageNumber": 1,
                "hasNextPage": False,
                "nextPageNumber": None,
                "totalPages": 1,
            },
        )

    rec = Recorder(handler)
    wawi = wawi_for(rec, policy)
    po = wawi.purchase_orders.create({"supplier_id": 4, "line_items": [{"item_id": 9, "quantity": 10}]})
    assert json.loads(rec.requests[0].content) == {
        "supplierId": 4,
        "lineItems": [{"itemId": 9, "quantity": 10.0}],
    }
    assert po.line_items[0].item_id == 9
    assert [p.supplier_id for p in wawi.purchase_orders.list(supplier_id=4)] == [4]
    assert rec.requests[1].url.path == "/api/eazybusiness/v2/purchase-orders"
    assert rec.requests[1].url.params["supplierId"] == "4"


REGISTRATION = AppRegistration(
    app_id="myco/app/v1",
    display_name="jtl-automator",
    description="Pipelines",
    version="1.0.0",
    provider_name="Me",
    provider_website="https://example.com",
    mandatory_api_scopes=["all.read"],
    app_icon="iVBORw0KGgo=",
)


def registration_server(statuses: list[int | str]) -> Recorder:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-ChallengeCode"] == "challenge-1"
        if request.method == "POST":
            assert json.loads(request.content)["AppId"] == "myco/app/v1"
            return httpx.Response(
                201, json={"AppId": "myco/app/v1", "RegistrationRequestId": "REG-1", "Status": 0}
            )
        status = statuses.pop(0)
        if status == "gone":
            return httpx.Response(410)
        info = {"AppId": "myco/app/v1", "RegistrationRequestId": "REG-1", "Status": status}
        if status == 2:
            return httpx.Response(
                200, json={"RequestStatusInfo": info, "Token": {"ApiKey": KEY}, "GrantedScopes": ["all.read"]}
            )
        return httpx.Response(200, json={"RequestStatusInfo": info})

    return Recorder(handler)


def test_registration_polls_until_accepted(clock: FakeClock) -> None:
    rec = registration_server([0, 0, 2])
    result = register_app(rec.client(), BASE, REGISTRATION, "challenge-1", sleep=clock.sleep, clock=clock)
    assert result.api_key.get_secret_value() == KEY
    assert result.granted_scopes == ("all.read",)
    assert clock.sleeps == [5, 5]
    assert KEY not in repr(result)
    assert [r.url.path for r in rec.requests][-1] == "/api/eazybusiness/authentication/REG-1"


@pytest.mark.parametrize(
    ("statuses", "match"),
    [([0, 1], "rejected"), (["gone"], "only once"), ([0] * 500, "not approved within")],
)
def test_registration_failures(clock: FakeClock, statuses: list[int | str], match: str) -> None:
    rec = registration_server(statuses)
    with pytest.raises(RegistrationError, match=match):
        register_app(
            rec.client(), BASE, REGISTRATION, "challenge-1", timeout=60, sleep=clock.sleep, clock=clock
        )


def test_registration_without_open_listener_explains_what_to_do(clock: FakeClock) -> None:
    rec = Recorder(json_response(403))
    with pytest.raises(RegistrationError, match="App-Registrierung"):
        register_app(rec.client(), BASE, REGISTRATION, "challenge-1", sleep=clock.sleep, clock=clock)


def test_sales_order_patch_is_retried_only_when_the_caller_says_it_is_idempotent(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    from jtl_automator.clients.errors import TransientError

    answered = json_response(201, {"Id": 7, "Comment": "on hold: stock"})
    rec = Recorder(json_response(503), httpx.ReadTimeout("slow"), answered)
    order = wawi_for(rec, policy).sales_orders.update(7, {"comment": "on hold: stock"}, idempotent=True)
    assert order is not None and order.id == 7
    assert [r.method for r in rec.requests] == ["PATCH"] * 3
    assert clock.sleeps == [0.5, 1.0]

    plain = Recorder(json_response(503), answered)
    with pytest.raises(TransientError, match="503"):
        wawi_for(plain, policy).sales_orders.update(7, {"comment": "x"})
    assert len(plain.requests) == 1
